"""Issue 4: the native flux kernel equals the reference torch path, and falls back cleanly.

The reference is the readable step, :func:`peronamalik.core.schemes.flux_step`, in a loop.
The kernel does the same float operations in the same order, so rational and tukey agree
bit for bit and exp to the last bit of ``exp``; the tolerance here is the issue's 1e-5
(float32) on parameters where the explicit scheme is well conditioned.  No timings here:
speed lives in ``peronamalik.bench``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from peronamalik import backend, diffuse
from peronamalik.backends.job import Diffusion
from peronamalik.backends.native import flux as fused
from peronamalik.core.diffusivity import DIFFUSIVITIES
from peronamalik.core.schemes import flux_step, neighbour_offsets

DIFFUSIVITY_NAMES = sorted(fused.KINDS)
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


@pytest.fixture(scope="module")
def lib(native_kernel):
    """The kernel, built (or loaded from the cache) once for this module."""
    return native_kernel(fused.KERNEL)


def reference(u, *, iterations, kappa, dt, diffusivity, spacing=None, coupled=False, scheme="flux"):
    """The reference loop (what run_diffusion runs without the kernel)."""
    spacing = spacing or (1.0,) * (u.ndim - 2)
    offsets = neighbour_offsets(scheme, len(spacing))
    for _ in range(iterations):
        u = flux_step(
            u, kappa=kappa, dt=dt, g=DIFFUSIVITIES[diffusivity], spacing=spacing, offsets=offsets, coupled=coupled
        )
    return u


def random_state(shape, dtype=torch.float32, seed=0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def stable(diffusivity: str, ndim: int, spacing=None, scheme="flux") -> float:
    h = spacing or (1.0,) * ndim
    g_max = 0.5 if diffusivity == "tukey" else 1.0
    total = sum(2.0 / s**2 for s in h)
    if scheme == "flux8":
        total += 4.0 / (h[0] ** 2 + h[1] ** 2)
    return 1.0 / (g_max * total)


def fast(u, **kw):
    return fused.run_flux(u, **kw)


def assert_close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    err = (a - b).abs().max().item()
    assert err <= TOL[a.dtype], f"max |fused - reference| = {err:.3g}"


SHAPES = [
    pytest.param((1, 1, 37, 53), id="2d"),
    pytest.param((2, 3, 29, 40), id="2d-batch-channels"),
    pytest.param((1, 1, 13, 17, 19), id="3d"),
    pytest.param((1, 2, 9, 20, 35), id="3d-channels"),
    pytest.param((1, 1, 70), id="1d"),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("diffusivity", DIFFUSIVITY_NAMES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("coupled", [False, True], ids=["per-channel", "coupled"])
def test_matches_reference(lib, shape, diffusivity, dtype, coupled) -> None:
    u = random_state(shape, dtype)
    kw = {"iterations": 12, "kappa": 0.25, "dt": stable(diffusivity, len(shape) - 2), "diffusivity": diffusivity}
    spacing = (1.0,) * (len(shape) - 2)
    expected = reference(u, coupled=coupled, **kw)
    result = fast(u, spacing=spacing, coupled=coupled, **kw)
    assert_close(result, expected)


@pytest.mark.parametrize("diffusivity", DIFFUSIVITY_NAMES)
@pytest.mark.parametrize(
    ("shape", "spacing"),
    [((1, 1, 31, 23), (0.7, 1.6)), ((1, 3, 11, 12, 13), (2.0, 0.8, 1.3)), ((1, 1, 40), (0.5,))],
)
@pytest.mark.parametrize("coupled", [False, True], ids=["per-channel", "coupled"])
def test_matches_reference_with_spacing(lib, shape, spacing, diffusivity, coupled) -> None:
    u = random_state(shape, seed=1)
    dt = 0.9 * stable(diffusivity, len(spacing), spacing)
    kw = {"iterations": 8, "kappa": 0.3, "dt": dt, "diffusivity": diffusivity}
    expected = reference(u, spacing=spacing, coupled=coupled, **kw)
    assert_close(fast(u, spacing=spacing, coupled=coupled, **kw), expected)


@pytest.mark.parametrize(
    "job",
    [
        fused.Plan(depth=3, band0=5, tile1=1, threads=2),  # many bands, halos, 4 passes
        fused.Plan(depth=1, band0=4, tile1=3, threads=2),
        fused.Plan(depth=5, band0=7, tile1=4, threads=3),
        fused.Plan(depth=11, band0=100, tile1=100, threads=1),  # one block, one pass
    ],
    ids=str,
)
@pytest.mark.parametrize("shape", [(1, 1, 23, 31), (2, 1, 12, 10, 15), (1, 3, 9, 11, 17)], ids=str)
@pytest.mark.parametrize("coupled", [False, True], ids=["per-channel", "coupled"])
def test_block_decomposition_is_exact(lib, monkeypatch, job, shape, coupled) -> None:
    """Blocks, their recomputed halos and pass boundaries do not change a single value."""
    monkeypatch.setattr(fused, "plan", lambda *a, **k: job)
    u = random_state(shape, seed=2)
    kw = {"iterations": 11, "kappa": 0.2, "dt": stable("rational", len(shape) - 2), "diffusivity": "rational"}
    expected = reference(u, coupled=coupled, **kw)
    result = fast(u, spacing=(1.0,) * (len(shape) - 2), coupled=coupled, **kw)
    if not coupled:  # rational, per channel: the same operations in the same order
        assert torch.equal(result, expected)
    assert_close(result, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("diffusivity", DIFFUSIVITY_NAMES)
@pytest.mark.parametrize(
    ("shape", "spacing"),
    [
        ((1, 1, 37, 53), (1.0, 1.0)),
        ((2, 3, 20, 31), (1.0, 1.0)),
        ((1, 1, 23, 19), (0.6, 1.4)),
        ((1, 1, 1, 30), (1.0, 1.0)),
    ],
    ids=["2d", "batch-channels", "spacing", "one-row"],
)
def test_flux8_matches_reference(lib, shape, spacing, diffusivity, dtype) -> None:
    u = random_state(shape, dtype, seed=6)
    kw = {"iterations": 9, "kappa": 0.25, "dt": stable(diffusivity, 2, spacing, "flux8"), "diffusivity": diffusivity}
    expected = reference(u, spacing=spacing, scheme="flux8", **kw)
    assert_close(fast(u, spacing=spacing, coupled=False, scheme="flux8", **kw), expected)


@pytest.mark.parametrize(
    "job", [fused.Plan(depth=3, band0=5, tile1=1, threads=2), fused.Plan(depth=7, band0=4, tile1=1, threads=3)], ids=str
)
def test_flux8_block_decomposition_is_exact(lib, monkeypatch, job) -> None:
    monkeypatch.setattr(fused, "plan", lambda *a, **k: job)
    u = random_state((1, 2, 26, 17), seed=7)
    kw = {"iterations": 10, "kappa": 0.2, "dt": stable("tukey", 2, scheme="flux8"), "diffusivity": "tukey"}
    expected = reference(u, scheme="flux8", **kw)
    result = fast(u, spacing=(1.0, 1.0), coupled=False, scheme="flux8", **kw)
    assert torch.equal(result, expected)


def test_long_run_on_a_photo_stays_with_the_reference(lib) -> None:
    """100 steps of exp on a real picture (the medpy-agreement setting) stay within 1e-5."""
    from skimage import data, util

    photo = torch.from_numpy(np.ascontiguousarray(util.img_as_float32(data.camera())[192:320, 192:320]))
    u = photo[None, None]
    for kappa in (0.05, 0.1):
        kw = {"iterations": 100, "kappa": kappa, "dt": 0.25, "diffusivity": "exp"}
        assert_close(fast(u, spacing=(1.0, 1.0), coupled=False, **kw), reference(u, **kw))


@pytest.mark.parametrize("channel_axis", [None, 0, -1])
def test_diffuse_dispatches_to_the_kernel(lib, monkeypatch, channel_axis) -> None:
    """Through the public API: the kernel runs, the input is untouched, the result is the
    reference's (numpy in, numpy out, any channel layout)."""
    shape = {None: (30, 40), 0: (3, 30, 40), -1: (30, 40, 3)}[channel_axis]
    image = np.random.default_rng(3).random(shape, dtype=np.float32)
    before = image.copy()
    with backend("reference"):
        expected = diffuse(image, iterations=7, kappa=0.2, channel_axis=channel_axis, diffusivity="tukey")
    calls = []
    real = fused.run_flux
    monkeypatch.setattr(fused, "run_flux", lambda *a, **k: calls.append(1) or real(*a, **k))
    result = diffuse(image, iterations=7, kappa=0.2, channel_axis=channel_axis, diffusivity="tukey")  # auto
    assert calls, "the fused kernel was not used"
    assert isinstance(result, np.ndarray) and result.dtype == np.float32 and result.shape == shape
    np.testing.assert_array_equal(image, before)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5)


def test_tensor_kappa_without_grad_and_progress(lib) -> None:
    u = random_state((25, 26), torch.float64)
    k = torch.tensor(0.2, dtype=torch.float32)  # a float32 kappa on a float64 image, as torch rounds it
    reports: list[tuple[int, int | None]] = []
    with backend("native"):
        result = diffuse(u, iterations=5, kappa=k, diffusivity="tukey", progress=lambda *done: reports.append(done))
    with backend("reference"):
        expected = diffuse(u, iterations=5, kappa=k, diffusivity="tukey")
    assert result.dtype == torch.float64
    assert_close(result, expected)
    assert reports and reports[-1] == (5, 5)  # one report per C pass, the last one at the end


# --------------------------------------------------------------------------- fallback ---


def _forbid_kernel(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the native kernel must not run here")

    monkeypatch.setattr(fused, "run_flux", refuse)


def test_autograd_falls_back_and_stays_differentiable(lib, monkeypatch) -> None:
    x = random_state((12, 13), torch.float64).requires_grad_()
    k = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    with backend("reference"):
        expected = diffuse(x.detach(), iterations=4, kappa=0.3)
    _forbid_kernel(monkeypatch)
    for kappa in (0.3, k):
        result = diffuse(x, iterations=4, kappa=kappa)
        assert result.requires_grad and result.grad_fn is not None
        result.sum().backward()
        assert_close(result.detach(), expected)
    x2 = random_state((12, 13), torch.float64)
    result = diffuse(x2, iterations=4, kappa=k)  # only kappa needs a gradient
    assert result.requires_grad
    result.sum().backward()
    assert k.grad is not None


def test_no_grad_uses_the_kernel(lib, monkeypatch) -> None:
    x = random_state((12, 13)).requires_grad_()
    calls = []
    real = fused.run_flux
    monkeypatch.setattr(fused, "run_flux", lambda *a, **k: calls.append(1) or real(*a, **k))
    with torch.no_grad():
        result = diffuse(x, iterations=3)
    assert calls and not result.requires_grad


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"diffusivity": lambda d, k: 1.0 / (1.0 + (d / k) ** 2)}, id="callable"),
        pytest.param({"sigma": 1.0}, id="sigma"),
        pytest.param({"scheme": "flux8", "channel_axis": -1, "coupled": True}, id="flux8-coupled"),
        pytest.param({"scheme": "seed", "diffusivity": "exp"}, id="seed"),
    ],
)
def test_ineligible_jobs_take_the_reference_path(lib, monkeypatch, options) -> None:
    image = np.random.default_rng(4).random((20, 21, 3), dtype=np.float32)
    if "channel_axis" not in options:
        image = image[..., 0].copy()
    with backend("reference"):
        expected = diffuse(image, iterations=4, kappa=0.2, **options)
        rational = diffuse(image, iterations=4, kappa=0.2, diffusivity="rational")
    _forbid_kernel(monkeypatch)
    with backend("native"):
        result = diffuse(image, iterations=4, kappa=0.2, **options)
    np.testing.assert_array_equal(result, expected)
    if callable(options.get("diffusivity")):
        # the callable is the rational function: the same numbers as the built-in
        np.testing.assert_allclose(result, rational, rtol=0, atol=1e-6)


def job(u, **options) -> Diffusion:
    kw = {"iterations": 3, "kappa": 0.1, "dt": 0.1, "diffusivity": "exp", "scheme": "flux", "coupled": False, "sigma": 0.0}
    return Diffusion(u, spacing=(1.0,) * (u.ndim - 2), **(kw | options))


def test_four_spatial_axes_fall_back(lib) -> None:
    assert fused.covers(job(random_state((1, 1, 4, 5, 6, 7)))) == "4 spatial axes"


def test_reference_backend_is_respected(lib, monkeypatch) -> None:
    _forbid_kernel(monkeypatch)
    with backend("reference"):
        diffuse(random_state((10, 10)), iterations=3)
    monkeypatch.setenv("PERONAMALIK_FUSED", "off")  # the older variable still works
    diffuse(random_state((10, 10)), iterations=3)


def test_no_subnormal_flush_after_loading(lib) -> None:
    """The kernel is built without -ffast-math, whose crtfastmath.o would set FTZ/DAZ for the
    whole process when the library loads."""
    tiny = np.float32(1e-40)  # subnormal
    assert tiny * np.float32(1.0) != 0
    assert torch.tensor(1e-40, dtype=torch.float32).item() != 0
    assert (torch.tensor([1e-39], dtype=torch.float32) / 2).item() != 0


def test_plan_fits_cache_and_bounds() -> None:
    for shape in [(1, 1, 2048, 1, 2048), (1, 1, 160, 160, 160), (4, 3, 7, 1, 5), (1, 1, 1, 1, 9)]:
        for iterations in (1, 7, 20, 100):
            job = fused.plan(shape, 4, iterations, 2)
            assert 1 <= job.depth <= min(iterations, 64)
            assert math.ceil(iterations / job.depth) * job.depth - iterations < math.ceil(iterations / job.depth)
            assert 1 <= job.band0 <= shape[2] and 1 <= job.tile1 <= shape[3]
            assert job.threads >= 1
