"""scheme="gradient" against ITK's GradientAnisotropicDiffusionImageFilter (SimpleITK), the
reference implementation of the conductance of the whole gradient at half-way points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage import data

from peronamalik import diffuse
from peronamalik import itk_kappa

sitk = pytest.importorskip("SimpleITK")


def itk(image: np.ndarray, *, iterations: int, conductance: float, dt: float, interval: int) -> np.ndarray:
    f = sitk.GradientAnisotropicDiffusionImageFilter()
    f.SetTimeStep(dt)
    f.SetConductanceParameter(conductance)
    f.SetNumberOfIterations(iterations)
    f.SetConductanceScalingUpdateInterval(interval)
    f.SetNumberOfThreads(1)
    return sitk.GetArrayFromImage(f.Execute(sitk.GetImageFromArray(image)))


def photo_crop(ndim: int) -> np.ndarray:
    camera = data.camera().astype(np.float64) / 255.0
    if ndim == 2:
        return camera[150:214, 200:290]
    return np.stack([camera[150 + 3 * k : 182 + 3 * k, 200:236] for k in range(10)])


@settings(max_examples=12, deadline=None)
@given(
    ndim=st.sampled_from([2, 3]),
    conductance=st.sampled_from([0.5, 1.0, 3.0]),
    iterations=st.integers(1, 8),
    dt_fraction=st.sampled_from([0.25, 1.0]),
)
def test_gradient_scheme_equals_itk(ndim: int, conductance: float, iterations: int, dt_fraction: float) -> None:
    """ITK's kappa read once (its update interval past the last iteration): the same result
    to float64 rounding, in 2-D and 3-D, at ITK's largest stable step and below it."""
    image = photo_crop(ndim)
    dt = dt_fraction / 2 ** (ndim + 1)
    expected = itk(image, iterations=iterations, conductance=conductance, dt=dt, interval=iterations + 1)
    kappa = itk_kappa(image, conductance)
    result = diffuse(image, iterations=iterations, kappa=kappa, dt=dt, scheme="gradient")
    assert np.abs(expected - image).max() > 1e-3  # ITK changed the image
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)


def test_itks_kappa_read_every_iteration() -> None:
    """ITK's default reads the mean gradient again at every iteration: one step at a time
    with itk_kappa of each state is the same filter."""
    image = photo_crop(2)
    expected = itk(image, iterations=6, conductance=1.0, dt=0.125, interval=1)
    u = image
    for _ in range(6):
        u = diffuse(u, iterations=1, kappa=itk_kappa(u, 1.0), dt=0.125, scheme="gradient")
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-12)


def test_float32_agrees_with_itk_to_float32_rounding() -> None:
    image = photo_crop(3).astype(np.float32)
    expected = itk(image, iterations=10, conductance=1.0, dt=0.0625, interval=11)
    result = diffuse(image, iterations=10, kappa=itk_kappa(image, 1.0), dt=0.0625,
                     scheme="gradient")
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=0, atol=2e-6)


def test_the_gradient_conductance_sees_an_edge_along_the_pair() -> None:
    """What tells the schemes apart: across a vertical edge, the pairs running along it (up
    and down) get the flux scheme's full conductance (their own difference is 0) but the
    gradient scheme's low one, so the edge's neighbourhood stays sharper."""
    image = np.zeros((16, 16))
    image[:, 8:] = 1.0
    image += 0.05 * np.random.default_rng(0).standard_normal(image.shape)
    flux = diffuse(image, iterations=20, kappa=0.2, scheme="flux")
    gradient = diffuse(image, iterations=20, kappa=0.2, scheme="gradient")
    columns = slice(7, 9)  # the two columns beside the edge

    def vertical_spread(result: np.ndarray) -> float:
        return float(np.abs(np.diff(result[:, columns], axis=0)).mean())

    assert vertical_spread(gradient) > 1.5 * vertical_spread(flux)


def test_coupled_grey_channels_equal_grey_with_a_smaller_kappa() -> None:
    """Coupled, three equal channels sum three equal squared gradients: g(√3 s, κ) = g(s, κ/√3)."""
    grey = photo_crop(2)
    colour = diffuse(np.stack([grey] * 3, axis=-1), iterations=5, kappa=0.3, scheme="gradient", channel_axis=-1, coupled=True)
    alone = diffuse(grey, iterations=5, kappa=0.3 / np.sqrt(3), scheme="gradient")
    for channel in range(3):
        np.testing.assert_allclose(colour[..., channel], alone, rtol=0, atol=1e-12)


def test_uniform_spacing_is_a_rescaled_kappa_and_dt() -> None:
    """Spacing h with (κ, dt) equals unit spacing with (hκ, dt/h²), as for "flux"."""
    image = photo_crop(3)
    h = 1.7
    spaced = diffuse(image, iterations=4, kappa=0.2, dt=0.05, spacing=h, scheme="gradient")
    unit = diffuse(image, iterations=4, kappa=0.2 * h, dt=0.05 / h**2, scheme="gradient")
    np.testing.assert_allclose(spaced, unit, rtol=0, atol=1e-12)


def test_itk_kappa_reads_the_image_as_diffuse_does() -> None:
    """uint16 is read in [0, 1] by diffuse: itk_kappa measured raw counts, 65535x too large."""
    image = photo_crop(2)
    counts = np.round(image * 65535).astype(np.uint16)
    expected = itk(counts.astype(np.float64) / 65535, iterations=5, conductance=1.0, dt=0.125, interval=6)
    result = diffuse(counts, iterations=5, kappa=itk_kappa(counts, 1.0), dt=0.125, scheme="gradient")
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)


def test_a_flat_image_and_conductance_0_are_left_as_itk_leaves_them() -> None:
    image = photo_crop(2)
    flat = np.full((8, 9), 0.4)
    for picture, conductance in ((flat, 1.0), (image, 0.0)):
        kappa = itk_kappa(picture, conductance)
        expected = itk(picture, iterations=3, conductance=conductance, dt=0.125, interval=4)
        np.testing.assert_array_equal(expected, picture)
        np.testing.assert_allclose(diffuse(picture, iterations=3, kappa=kappa, dt=0.125, scheme="gradient"), picture, atol=1e-15)


@pytest.mark.parametrize(
    ("image", "conductance", "error", "words"),
    [
        (np.full((4, 4), np.nan), 1.0, ValueError, "NaN"),
        (np.ones((4, 4), complex), 1.0, TypeError, "complex"),
        (np.zeros((0, 4)), 1.0, ValueError, "empty"),
        (np.ones((4, 4)), -1.0, ValueError, "conductance"),
        (np.ones((4, 4)), np.inf, ValueError, "conductance"),
    ],
)
def test_itk_kappa_refuses_bad_input(image, conductance, error, words) -> None:
    with pytest.raises(error, match=words):
        itk_kappa(image, conductance)


def test_the_vector_kappa_sums_the_channels() -> None:
    """ITK's VectorGradientAnisotropicDiffusion scales by the mean of the channels' summed
    squared gradients: sqrt of the sum of the channels' own kappas squared."""
    rgb = data.astronaut()[100:160, 200:280].astype(np.float64) / 255
    joint = itk_kappa(rgb, 1.5, channel_axis=-1)
    assert joint == pytest.approx(np.sqrt(sum(itk_kappa(rgb[..., c], 1.5) ** 2 for c in range(3))), rel=1e-12)


def test_gradient_scheme_runs_in_four_dimensions() -> None:
    """torch's replicate padding stops at 3 axes; the scheme and itk_kappa use their own."""
    volume = np.random.default_rng(0).random((3, 4, 5, 6))
    result = diffuse(volume, iterations=3, kappa=itk_kappa(volume, 1.0), scheme="gradient")
    np.testing.assert_allclose(result.mean(), volume.mean(), atol=1e-12)
    assert result.std() < volume.std()


def test_coupled_gradient_scheme_equals_itks_vector_filter() -> None:
    """coupled=True with itk_kappa(..., channel_axis=-1) is ITK's
    VectorGradientAnisotropicDiffusionImageFilter (float32: the ITK wheel wraps only float
    vectors).  SimpleITK lacks that filter, and ITK's own wheel (itk-filtering, 1.2 GB) is not
    among the test extras: this runs where it is installed (1.8e-7 when QA ran it)."""
    itk_module = pytest.importorskip("itk", reason="needs ITK's Python wheel (pip install itk-filtering)")
    rgb = data.astronaut()[100:140, 150:200].astype(np.float32) / 255
    vector = itk_module.Image[itk_module.Vector[itk_module.F, 3], 2]
    f = itk_module.VectorGradientAnisotropicDiffusionImageFilter[vector, vector].New(
        itk_module.image_from_array(np.ascontiguousarray(rgb), ttype=vector))
    f.SetTimeStep(0.125)
    f.SetConductanceParameter(1.0)
    f.SetNumberOfIterations(5)
    f.SetConductanceScalingUpdateInterval(6)
    f.Update()
    expected = itk_module.array_from_image(f.GetOutput())
    result = diffuse(rgb, iterations=5, kappa=itk_kappa(rgb, 1.0, channel_axis=-1), dt=0.125, scheme="gradient",
                     channel_axis=-1, coupled=True)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)
