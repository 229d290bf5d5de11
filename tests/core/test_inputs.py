"""Input kinds and the remaining library options: dtypes, devices, no aliasing, kappa='auto',
spacing, sigma (Catté regularisation) and the ``PeronaMalik`` layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage as ndi
from skimage import data

from peronamalik import PeronaMalik, diffuse, estimate_kappa, stable_dt

from .helpers import FAST, sample_photo

# ---------------------------------------------------------------- integer and float dtypes


@pytest.mark.parametrize(("dtype", "scale"), [(np.uint8, 255), (np.uint16, 65535), (">u2", 65535)])
def test_uint8_and_uint16_map_to_unit_range(dtype, scale) -> None:
    """scikit-image's img_as_float rule for the unsigned image types: value / 255 or / 65535."""
    info = np.iinfo(dtype)
    image = np.array([[0, info.max], [1, info.max // 2]], dtype=dtype)
    result = diffuse(image, iterations=0)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, image.astype(np.float64) / scale, rtol=1e-7, atol=0)
    assert result[0, 0] == 0.0 and result[0, 1] == 1.0


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(np.int8, np.float32), (np.int16, np.float32), (np.int32, np.float64), (np.int64, np.float64),
     (np.uint32, np.float64), (np.uint64, np.float64), (">i4", np.float64)],
)
@pytest.mark.parametrize("shift", ["zero", "negative", "large"])
def test_other_integers_keep_their_values(dtype, expected, shift) -> None:
    """Signed and wide integers are not rescaled (img_as_float would squeeze 0..255 in an int32
    into 255 steps of 2e-10 around 0.5, below float32's resolution: 2 levels were left)."""
    info = np.iinfo(dtype)
    offset = {"zero": 0, "negative": max(int(info.min), -100), "large": min(int(info.max) - 127, 2**40)}[shift]
    base = data.camera()[100:132, 100:132].astype(np.int64) // 2  # 0..127: fits every dtype
    image = (base + offset).astype(dtype)
    kept = diffuse(image, iterations=0)
    assert kept.dtype == expected
    np.testing.assert_array_equal(kept, image.astype(np.float64))
    assert len(np.unique(kept)) == len(np.unique(base))  # every level survives
    # diffusing kept values is diffusing the same values as floats (kappa in image units)
    as_float = image.astype(expected)
    np.testing.assert_array_equal(diffuse(image, kappa=20.0, iterations=5), diffuse(as_float, kappa=20.0, iterations=5))


@pytest.mark.parametrize("dtype", [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8])
def test_torch_integers_follow_the_numpy_rule(dtype) -> None:
    values = np.arange(-8, 8).reshape(4, 4) + (8 if dtype == torch.uint8 else 0)
    tensor = torch.tensor(values, dtype=dtype)
    from_numpy = diffuse(tensor.numpy(), iterations=3, kappa=2.0)
    from_torch = diffuse(tensor, iterations=3, kappa=2.0)
    assert from_torch.numpy().dtype == from_numpy.dtype
    np.testing.assert_allclose(from_torch.numpy(), from_numpy, rtol=0, atol=1e-6)


def test_uint8_255_is_one_and_diffuses_like_its_float() -> None:
    camera = data.camera()[200:264, 200:264]
    as_float = camera.astype(np.float32) / 255
    assert diffuse(np.array([[255]], np.uint8), iterations=0)[0, 0] == 1.0
    np.testing.assert_allclose(diffuse(camera, kappa=0.1), diffuse(as_float, kappa=0.1), rtol=0, atol=1e-6)


def test_big_endian_input() -> None:
    native = np.random.default_rng(0).random((6, 7))
    big = native.astype(">f8")
    result = diffuse(big, kappa=0.2)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, diffuse(native, kappa=0.2))
    words = (native * 65535).astype(">u2")
    native_words = words.astype(np.uint16)
    np.testing.assert_array_equal(diffuse(words, iterations=0), diffuse(native_words, iterations=0))


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(np.float64, np.float64), (np.float32, np.float32), (np.float16, np.float32)],
)
def test_numpy_float_dtypes(dtype, expected) -> None:
    image = np.random.default_rng(1).random((5, 6)).astype(dtype)
    result = diffuse(image, kappa=0.2)
    assert isinstance(result, np.ndarray) and result.dtype == expected and result.shape == image.shape
    # float16 is used as it is (no rescaling), only computed in float32
    reference = diffuse(image.astype(expected), kappa=0.2)
    np.testing.assert_array_equal(result, reference)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (torch.float64, torch.float64),
        (torch.float32, torch.float32),
        (torch.float16, torch.float32),
        (torch.bfloat16, torch.float32),
        (torch.uint8, torch.float32),
        (torch.int16, torch.float32),
        (torch.int32, torch.float64),
    ],
)
def test_torch_in_torch_out(dtype, expected) -> None:
    source = torch.rand(5, 6, dtype=torch.float64)
    image = (source * 255).to(dtype) if not dtype.is_floating_point else source.to(dtype)
    result = diffuse(image, iterations=2, kappa=0.2)
    assert isinstance(result, torch.Tensor)
    assert result.dtype == expected and result.device == image.device and result.shape == image.shape


def test_torch_uint8_maps_like_numpy_uint8() -> None:
    camera = data.camera()[:32, :32]
    as_tensor = diffuse(torch.from_numpy(camera), kappa=0.1)
    np.testing.assert_array_equal(as_tensor.numpy(), diffuse(camera, kappa=0.1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensor_comes_back_on_cuda_and_matches_cpu() -> None:
    image = torch.rand(3, 20, 24, dtype=torch.float64)
    on_gpu = diffuse(image.cuda(), iterations=10, kappa=0.1, channel_axis=0, coupled=True)
    assert on_gpu.is_cuda
    on_cpu = diffuse(image, iterations=10, kappa=0.1, channel_axis=0, coupled=True)
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=0, atol=1e-12)
    as_numpy = diffuse(image.numpy(), iterations=10, kappa=0.1, channel_axis=0, coupled=True, device="cuda")
    assert isinstance(as_numpy, np.ndarray)
    np.testing.assert_allclose(as_numpy, on_cpu.numpy(), rtol=0, atol=1e-12)


def test_explicit_cpu_device_with_numpy() -> None:
    image = np.random.default_rng(2).random((5, 5)).astype(np.float32)
    np.testing.assert_array_equal(diffuse(image, device="cpu"), diffuse(image))


def test_non_contiguous_views_work() -> None:
    base = np.random.default_rng(3).random((9, 8, 3))
    view = base[::-1, ::2].transpose(1, 0, 2)  # negative and non-unit strides
    np.testing.assert_array_equal(
        diffuse(view, channel_axis=-1, kappa=0.2), diffuse(view.copy(), channel_axis=-1, kappa=0.2)
    )


# ---------------------------------------------------------------- the input is never modified


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("iterations", [0, 3])
def test_numpy_input_is_not_modified_nor_aliased(dtype, iterations) -> None:
    image = (np.random.default_rng(4).random((6, 7, 3)) * (255 if dtype == np.uint8 else 1)).astype(dtype)
    before = image.copy()
    result = diffuse(image, iterations=iterations, kappa=0.2, channel_axis=-1, coupled=True)
    np.testing.assert_array_equal(image, before)
    assert not np.shares_memory(result, image)
    result[...] = 7  # writing to the result must not reach the input either
    np.testing.assert_array_equal(image, before)


def test_torch_input_is_not_modified() -> None:
    image = torch.rand(3, 6, 7)
    before = image.clone()
    diffuse(image, iterations=3, kappa=0.2, channel_axis=0)
    diffuse(image, iterations=3, kappa=0.2, channel_axis=0, sigma=1.0)
    torch.testing.assert_close(image, before, rtol=0, atol=0)


# ---------------------------------------------------------------- kappa = "auto"


def mad_scale(image: np.ndarray, spatial_axes, spacing=None) -> float:
    """1.4826 · median(| |δ| - median(|δ|) |) over all forward differences δ / h, in numpy."""
    spacing = spacing or [1.0] * len(spatial_axes)
    deltas = np.concatenate(
        [np.abs(np.diff(image.astype(np.float64), axis=a) / h).ravel() for a, h in zip(spatial_axes, spacing)]
    )
    return 1.4826 * float(np.median(np.abs(deltas - np.median(deltas))))


def test_estimate_kappa_is_the_robust_scale_of_the_gradients() -> None:
    camera = data.camera().astype(np.float64) / 255
    expected = mad_scale(camera, (0, 1))
    assert 0.0 < expected < 1.0
    assert estimate_kappa(data.camera()) == pytest.approx(expected, rel=1e-5)
    assert estimate_kappa(camera) == pytest.approx(expected, rel=1e-5)


def test_estimate_kappa_colour_and_spacing() -> None:
    rgb = sample_photo("astronaut", 128)
    expected = mad_scale(rgb, (0, 1))  # differences along the channel axis do not count
    assert estimate_kappa(rgb, channel_axis=-1) == pytest.approx(expected, rel=1e-4)
    expected = mad_scale(rgb, (0, 1), spacing=(2.0, 0.5))
    assert estimate_kappa(rgb, channel_axis=-1, spacing=(2.0, 0.5)) == pytest.approx(expected, rel=1e-4)


def test_estimate_kappa_on_flat_images() -> None:
    assert estimate_kappa(np.full((8, 8), 0.3)) == 1.0
    # mostly flat: more than half of the differences are 0, so the non-zero ones are used
    image = np.zeros((16, 16))
    image[4:8, 4:8] = np.random.default_rng(10).random((4, 4))
    deltas = np.concatenate([np.abs(np.diff(image, axis=a)).ravel() for a in (0, 1)])
    nonzero = deltas[deltas > 0]
    assert nonzero.size < deltas.size / 2
    expected = 1.4826 * np.median(np.abs(nonzero - np.median(nonzero)))
    assert expected > 0
    assert estimate_kappa(image) == pytest.approx(expected, rel=1e-6)


def test_kappa_number_kinds_agree() -> None:
    image = np.random.default_rng(5).random((7, 7))
    reference = diffuse(image, kappa=0.25)
    for kappa in (np.float32(0.25), np.float64(0.25), torch.tensor(0.25, dtype=torch.float64), 1 / 4):
        np.testing.assert_array_equal(diffuse(image, kappa=kappa), reference)


# ---------------------------------------------------------------- spacing


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("diffusivity", ["exp", "rational", "tukey"])
def test_spacing_two_equals_unit_spacing_with_rescaled_kappa_and_dt(ndim, diffusivity) -> None:
    """With spacing h, every difference is divided by h inside g and again in the divergence:

        u' = u + dt · Σ_n g(|Δ_n u| / (h κ)) · Δ_n u / h²

    so (spacing h, κ, dt) is the unit-spacing step with (κ·h, dt/h²).  Put the other way,
    unit spacing with (κ, dt) equals spacing 2 with (κ/2, 4·dt).  (medpy's ``voxelspacing``
    divides only once, which is why it is not used as the reference here.)
    """
    image = np.random.default_rng(6).random((9,) * ndim)
    kappa, dt = 0.2, 0.1
    unit = diffuse(image, iterations=10, kappa=kappa, dt=dt, diffusivity=diffusivity)
    spaced = diffuse(image, iterations=10, kappa=kappa / 2, dt=4 * dt, spacing=2.0, diffusivity=diffusivity)
    np.testing.assert_allclose(spaced, unit, rtol=0, atol=1e-14)
    # and the stable step grows by the same h² = 4
    assert stable_dt("flux", spatial_ndim=ndim, spacing=[2.0] * ndim) == pytest.approx(
        4 * stable_dt("flux", spatial_ndim=ndim)
    )


def test_unit_spacing_equals_no_spacing() -> None:
    image = np.random.default_rng(7).random((6, 7, 5))
    np.testing.assert_array_equal(diffuse(image, spacing=(1, 1, 1)), diffuse(image))
    np.testing.assert_array_equal(diffuse(image, spacing=1.0), diffuse(image))


def test_anisotropic_spacing_by_hand() -> None:
    """One step with spacing (2, 0.5), written out in numpy."""
    image = np.random.default_rng(8).random((5, 6))
    spacing, kappa, dt = (2.0, 0.5), 0.3, 0.05
    update = np.zeros_like(image)
    for axis, h in enumerate(spacing):
        d = np.diff(image, axis=axis) / h
        flux = np.exp(-((d / kappa) ** 2)) * d / h
        after, before = [(0, 0)] * 2, [(0, 0)] * 2
        after[axis], before[axis] = (0, 1), (1, 0)
        update += np.pad(flux, after) - np.pad(flux, before)
    expected = image + dt * update
    result = diffuse(image, iterations=1, kappa=kappa, dt=dt, spacing=spacing)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-14)


# ---------------------------------------------------------------- sigma (Catté et al.)


@FAST
@given(arrays(np.float64, st.tuples(st.integers(3, 12), st.integers(3, 12)), elements=st.floats(0, 1)),
       st.floats(0.5, 2.0))
def test_sigma_conserves_the_mean(image, sigma) -> None:
    result = diffuse(image, iterations=5, kappa=0.1, sigma=sigma)
    np.testing.assert_allclose(result.mean(), image.mean(), rtol=0, atol=1e-12)


def test_sigma_changes_the_result_and_vanishes_continuously() -> None:
    image = sample_photo("camera", 48).astype(np.float64)
    plain = diffuse(image, iterations=10, kappa=0.05)
    smoothed = diffuse(image, iterations=10, kappa=0.05, sigma=1.0)
    assert np.abs(smoothed - plain).max() > 1e-3
    tiny = diffuse(image, iterations=10, kappa=0.05, sigma=1e-3)
    np.testing.assert_allclose(tiny, plain, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("sigma", "spacing"), [(1.0, None), (1.5, None), (2.0, (2.0, 1.0))])
def test_sigma_conductance_comes_from_the_gaussian_smoothed_image(sigma, spacing) -> None:
    """One step by hand: g from differences of scipy's Gaussian (nearest = replicated border,
    sigma in units of spacing), the flux from differences of the image itself."""
    image = np.random.default_rng(9).random((12, 10))
    kappa, dt = 0.2, 0.1
    h = spacing or (1.0, 1.0)
    guide = ndi.gaussian_filter(image, sigma=[sigma / s for s in h], mode="nearest", truncate=4.0)
    update = np.zeros_like(image)
    for axis in (0, 1):
        g = np.exp(-((np.diff(guide, axis=axis) / h[axis] / kappa) ** 2))
        flux = g * np.diff(image, axis=axis) / h[axis] ** 2
        after, before = [(0, 0)] * 2, [(0, 0)] * 2
        after[axis], before[axis] = (0, 1), (1, 0)
        update += np.pad(flux, after) - np.pad(flux, before)
    expected = image + dt * update
    result = diffuse(image, iterations=1, kappa=kappa, dt=dt, sigma=sigma, spacing=spacing)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- the nn.Module


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((3, 2, 10, 12), {}),
        ((2, 3, 10, 12), {"coupled": True, "diffusivity": "rational"}),
        ((2, 3, 10, 12), {"scheme": "flux8", "sigma": 0.8}),
        ((2, 1, 10, 12), {"scheme": "seed", "dt": 0.1}),
        ((2, 2, 5, 6, 7), {"spacing": (1.0, 2.0, 1.5)}),
    ],
)
def test_module_on_a_batch_equals_diffuse_per_sample(shape, kwargs) -> None:
    batch = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    layer = PeronaMalik(iterations=5, kappa=0.25, **kwargs)
    out = layer(batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    # flux schemes are elementwise: bit-identical; the seed's conv2d may pick another
    # algorithm for another batch size, so it agrees to float32 rounding
    tol = 1e-6 if kwargs.get("scheme") == "seed" else 0.0
    for i in range(shape[0]):
        alone = diffuse(batch[i], iterations=5, kappa=0.25, channel_axis=0, **kwargs)
        torch.testing.assert_close(out[i], alone, rtol=0, atol=tol)


def test_module_moves_with_dtype() -> None:
    layer = PeronaMalik(iterations=2, kappa=0.25, learn_kappa=True).double()
    assert layer.kappa.dtype == torch.float64
    out = layer(torch.rand(1, 1, 6, 6, dtype=torch.float64))
    assert out.dtype == torch.float64 and out.requires_grad


def test_module_kappa_follows_the_default_dtype() -> None:
    """kappa was always float32: a float64 layer built under a float64 default was 1.4e-8 off
    diffuse (and ITK); it now takes torch's default dtype, as any layer's parameters do."""
    image = torch.rand(1, 1, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        layer = PeronaMalik(iterations=4, kappa=0.1, scheme="gradient")
    finally:
        torch.set_default_dtype(previous)
    assert layer.kappa.dtype == torch.float64
    expected = diffuse(image[0, 0], iterations=4, kappa=0.1, scheme="gradient")
    torch.testing.assert_close(layer(image)[0, 0], expected, rtol=0, atol=1e-15)
    assert PeronaMalik(kappa=0.1).kappa.dtype == torch.float32


def test_a_read_only_array_is_diffused_without_torch_warning(tmp_path) -> None:
    """A memory-mapped .npy (``mmap_mode="r"``) or a PIL image's buffer is read-only: it is
    shared, not copied, and torch's "NumPy array is not writable" warning (once per process,
    so checked in a fresh one with warnings as errors) is not the user's concern."""
    import subprocess
    import sys

    np.save(tmp_path / "v.npy", np.random.default_rng(0).random((24, 24), dtype=np.float32))
    code = (
        "import numpy as np, peronamalik\n"
        f"v = np.load({str(tmp_path / 'v.npy')!r}, mmap_mode='r')\n"
        "assert not v.flags.writeable\n"
        "out = peronamalik.diffuse(v, iterations=3, kappa=0.1)\n"
        "assert np.array_equal(out, peronamalik.diffuse(np.array(v), iterations=3, kappa=0.1))\n"
        "assert np.array_equal(v, np.load(" + repr(str(tmp_path / "v.npy")) + "))\n"
    )
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
