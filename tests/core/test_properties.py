"""Issue 2, test 2: PDE properties of the flux schemes on random inputs (hypothesis)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from peronamalik import diffuse, stable_dt

from .helpers import FAST, linear_heat

DIFFUSIVITIES = st.sampled_from(["exp", "rational", "tukey"])
KAPPAS = st.floats(0.01, 5.0)
UNIT = st.floats(0.0, 1.0, allow_nan=False, width=64)


def images(ndim: int, *, min_side: int = 1, max_side: int = 8, channels: bool = False):
    """float64 images with values in [0, 1] (hypothesis picks edge cases: constants, 0/1)."""
    shape = st.tuples(*[st.integers(min_side, max_side)] * ndim)
    if channels:
        shape = st.tuples(shape, st.integers(1, 3)).map(lambda s: (*s[0], s[1]))
    return shape.flatmap(lambda s: arrays(np.float64, s, elements=UNIT))


@st.composite
def flux_cases(draw, *, with_flux8: bool = True):
    """(image, keyword arguments) for a flux-type run: 2-D or 3-D, maybe colour/spacing/sigma."""
    ndim = draw(st.sampled_from([2, 3]))
    schemes = ["flux", "gradient", "flux8"] if with_flux8 and ndim == 2 else ["flux", "gradient"]
    scheme = draw(st.sampled_from(schemes))
    channels = draw(st.booleans())
    image = draw(images(ndim, max_side=7 if ndim == 3 else 10, channels=channels))
    kwargs = {
        "scheme": scheme,
        "diffusivity": draw(DIFFUSIVITIES),
        "kappa": draw(KAPPAS),
        "iterations": draw(st.integers(1, 6)),
    }
    if channels:
        kwargs.update(channel_axis=-1, coupled=draw(st.booleans()))
    if draw(st.booleans()):
        kwargs["spacing"] = tuple(draw(st.floats(0.5, 2.0)) for _ in range(ndim))
    if draw(st.booleans()):
        kwargs["sigma"] = draw(st.floats(0.3, 1.5))
    return image, kwargs


@FAST
@given(flux_cases())
def test_mean_is_conserved(backend, case) -> None:
    image, kwargs = case
    result = diffuse(image, **kwargs)
    if "channel_axis" in kwargs:  # each channel's own mean, also when coupled
        spatial = tuple(range(image.ndim - 1))
        np.testing.assert_allclose(result.mean(axis=spatial), image.mean(axis=spatial), rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.mean(), image.mean(), rtol=0, atol=1e-12)


@FAST
@given(flux_cases())
def test_stays_within_input_range_at_default_dt(backend, case) -> None:
    image, kwargs = case
    result = diffuse(image, **kwargs)  # dt=None: the stable limit
    axes = tuple(range(image.ndim - 1)) if "channel_axis" in kwargs else None
    lo, hi = image.min(axis=axes), image.max(axis=axes)  # per channel when there are channels
    assert np.all(result.min(axis=axes) >= lo - 1e-12)
    assert np.all(result.max(axis=axes) <= hi + 1e-12)


@FAST
@given(
    st.sampled_from([(2, "flux"), (2, "flux8"), (3, "flux"), (4, "flux"), (2, "seed"), (2, "gradient"), (3, "gradient")]),
    st.floats(0.0, 1.0),
    DIFFUSIVITIES,
    KAPPAS,
    st.floats(0.0, 1.0),
)
def test_constant_images_are_fixed_points(backend, dims_scheme, value, diffusivity, kappa, sigma) -> None:
    ndim, scheme = dims_scheme
    image = np.full((5,) * ndim, value)
    if scheme == "seed":
        sigma = 0.0  # the seed takes no sigma
    result = diffuse(image, iterations=5, kappa=kappa, diffusivity=diffusivity, scheme=scheme, sigma=sigma)
    np.testing.assert_array_equal(result, image)


def spacing_after(ops, spacing):
    """How a per-axis spacing moves under the same axis operations as the image."""
    spacing = list(spacing)
    for kind, axes in ops:
        if kind == "rot":
            i, j = axes
            spacing[i], spacing[j] = spacing[j], spacing[i]
    return tuple(spacing)


@st.composite
def symmetry_cases(draw):
    ndim = draw(st.sampled_from([2, 3]))
    image = draw(images(ndim, min_side=2, max_side=7 if ndim == 3 else 9))
    scheme = draw(st.sampled_from(["flux", "flux8", "gradient"] if ndim == 2 else ["flux", "gradient"]))
    pairs = [(0, 1)] if ndim == 2 else [(0, 1), (1, 2), (0, 2)]
    op = st.one_of(
        st.tuples(st.just("rot"), st.sampled_from(pairs)),
        st.tuples(st.just("flip"), st.integers(0, ndim - 1)),
    )
    ops = draw(st.lists(op, min_size=1, max_size=3))
    spacing = tuple(draw(st.sampled_from([1.0, 0.5, 2.0, 1.7])) for _ in range(ndim))
    kwargs = {"scheme": scheme, "diffusivity": draw(DIFFUSIVITIES), "kappa": draw(KAPPAS), "iterations": 4}
    return image, ops, spacing, kwargs


def apply(ops, image):
    for kind, axes in ops:
        image = np.rot90(image, 1, axes=axes) if kind == "rot" else np.flip(image, axis=axes)
    return np.ascontiguousarray(image)


@FAST
@given(symmetry_cases())
def test_rotations_and_flips_commute_with_the_filter(backend, case) -> None:
    """filter(T image) == T filter(image) for 90° rotations and flips (2-D, 3-D, flux8);
    a rotation also swaps the spacing of the two axes it exchanges."""
    image, ops, spacing, kwargs = case
    filtered_then_moved = apply(ops, diffuse(image, spacing=spacing, **kwargs))
    moved_then_filtered = diffuse(apply(ops, image), spacing=spacing_after(ops, spacing), **kwargs)
    np.testing.assert_allclose(moved_then_filtered, filtered_then_moved, rtol=0, atol=1e-12)


@FAST
@given(st.sampled_from([2, 3]), st.data())
def test_huge_kappa_rational_approaches_the_linear_heat_step(backend, ndim, data) -> None:
    """g = 1/(1 + (d/κ)²) → 1 as κ → ∞, so the step becomes u + dt·Δu (Neumann borders)."""
    image = data.draw(images(ndim, min_side=2, max_side=6 if ndim == 3 else 10))
    spacing = tuple(data.draw(st.sampled_from([1.0, 0.5, 2.0])) for _ in range(ndim))
    steps = 3
    dt = stable_dt("flux", spatial_ndim=ndim, spacing=spacing, diffusivity="rational")
    expected = linear_heat(image, dt, steps, spacing)
    errors = []
    for kappa in (1e-1, 1e1, 1e7):
        result = diffuse(image, iterations=steps, kappa=kappa, diffusivity="rational", spacing=spacing)
        errors.append(float(np.abs(result - expected).max()))
    assert errors[-1] <= 1e-10
    # and it *approaches* it: larger kappa, closer to the linear step
    assert errors[0] >= errors[1] - 1e-12 >= errors[2] - 2e-12


@FAST
@given(
    axis=st.integers(0, 1),
    position=st.integers(20, 44),
    contrast=st.floats(0.4, 0.9),
    kappa=st.floats(0.02, 0.05),
    diffusivity=st.sampled_from(["exp", "tukey"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_strong_edge_stays_sharp_while_weak_noise_drops(backend, axis, position, contrast, kappa, diffusivity, seed):
    """A step of contrast ≥ 8κ survives 100 steps; Gaussian noise of σ = κ/10 drops ≥ 3×."""
    size = 64
    sigma = kappa / 10
    coords = np.arange(size)[:, None] if axis == 0 else np.arange(size)[None, :]
    clean = np.broadcast_to(np.where(coords < position, 0.1, 0.1 + contrast), (size, size))
    noisy = clean + np.random.default_rng(seed).normal(0.0, sigma, (size, size))
    result = diffuse(noisy, iterations=100, kappa=kappa, diffusivity=diffusivity)

    # flat regions: at least 6 pixels from the edge (the image border is fine: zero flux)
    distance = np.abs(coords + 0.5 - position) * np.ones((size, size))
    flat = distance >= 6
    noise_before = (noisy - clean)[flat].std()
    noise_after = (result - clean)[flat].std()
    assert noise_after * 3 <= noise_before

    # the edge: the jump between the two rows/columns either side of it keeps its height
    profile = result.mean(axis=1 - axis)
    jump = profile[position] - profile[position - 1]
    assert jump >= 0.9 * contrast
    # and it is still a single jump: the next rows/columns barely differ
    assert abs(profile[position + 1] - profile[position]) < 0.05 * contrast
    assert abs(profile[position - 1] - profile[position - 2]) < 0.05 * contrast

    # the test has teeth: linear smoothing of the same duration would blur the edge
    linear = diffuse(noisy, iterations=100, kappa=1e6, diffusivity="rational")
    linear_profile = linear.mean(axis=1 - axis)
    assert linear_profile[position] - linear_profile[position - 1] < 0.5 * contrast


@pytest.mark.parametrize("ndim", [2, 3])
def test_dt_above_the_stable_limit_is_refused_naming_the_limit(ndim: int) -> None:
    image = np.random.default_rng(0).random((6,) * ndim)
    limit = 1.0 / (2 * ndim)
    assert stable_dt("flux", spatial_ndim=ndim) == pytest.approx(limit)
    with pytest.raises(ValueError, match=r"dt=.* above the stable limit") as info:
        diffuse(image, dt=limit * 1.01)
    named = re.search(r"stable limit ([0-9.e+-]+)", str(info.value)).group(1)
    assert float(named) == pytest.approx(limit, rel=1e-5)
    diffuse(image, dt=limit)  # the limit itself is allowed


def test_3d_refuses_medpy_advised_dt() -> None:
    volume = np.random.default_rng(0).random((6, 6, 6))
    with pytest.raises(ValueError, match=r"dt=0\.2 is above the stable limit 0\.16666"):
        diffuse(volume, dt=0.2)


@pytest.mark.parametrize(
    ("scheme", "ndim", "diffusivity", "expected"),
    [
        ("flux", 2, "exp", 1 / 4),
        ("flux", 3, "exp", 1 / 6),
        ("flux", 4, "exp", 1 / 8),
        ("flux", 2, "tukey", 1 / 2),  # g_max = 1/2
        ("flux8", 2, "exp", 1 / 6),  # 4 axis neighbours + 4 diagonals at weight 1/2
        ("gradient", 3, "exp", 1 / 6),  # the axis neighbours, as "flux"
    ],
)
def test_stable_dt_values(scheme, ndim, diffusivity, expected) -> None:
    assert stable_dt(scheme, spatial_ndim=ndim, diffusivity=diffusivity) == pytest.approx(expected)


def test_stable_dt_with_spacing() -> None:
    # dt · g_max · Σ_neighbours 1/h² ≤ 1 with h = (1, 2): 2/1 + 2/4 = 2.5
    assert stable_dt("flux", spatial_ndim=2, spacing=(1.0, 2.0)) == pytest.approx(1 / 2.5)
