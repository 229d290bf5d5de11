"""Issue 2, test 5 (library side): bad input raises ValueError/TypeError naming the parameter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from peronamalik import DiffusionParams, InputError, PeronaMalik, diffuse, estimate_kappa
from peronamalik._validate import InputTypeError

GOOD = np.random.default_rng(0).random((8, 9)).astype(np.float32)
VOLUME = np.random.default_rng(1).random((5, 6, 7)).astype(np.float32)


def nan_image() -> np.ndarray:
    a = GOOD.copy()
    a[3, 4] = np.nan
    return a


def inf_image() -> np.ndarray:
    a = GOOD.copy()
    a[0, 0] = -np.inf
    return a


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        pytest.param(nan_image(), ValueError, r"image contains NaN or infinite", id="nan"),
        pytest.param(inf_image(), ValueError, r"image contains NaN or infinite", id="inf"),
        pytest.param(torch.from_numpy(nan_image()), ValueError, r"image contains NaN", id="torch-nan"),
        pytest.param(np.zeros((0, 5), np.float32), ValueError, r"image is empty", id="empty-2d"),
        pytest.param(np.zeros((4, 0, 3)), ValueError, r"image is empty", id="empty-3d"),
        pytest.param(torch.zeros(0), ValueError, r"image is empty", id="torch-empty"),
        pytest.param(np.array(0.5), ValueError, r"image", id="0-d"),
        pytest.param(torch.tensor(0.5), ValueError, r"image", id="torch-0-d"),
        pytest.param(GOOD.astype(np.complex64), TypeError, r"image has dtype complex", id="complex"),
        pytest.param(
            torch.zeros(4, 4, dtype=torch.complex64), TypeError, r"image has dtype", id="torch-complex"
        ),
        pytest.param(GOOD > 0.5, TypeError, r"image has dtype bool", id="bool"),
        pytest.param(torch.zeros(4, 4, dtype=torch.bool), TypeError, r"image has dtype", id="torch-bool"),
        pytest.param(np.array([["a", "b"]]), TypeError, r"image has dtype", id="str-dtype"),
        pytest.param(np.array([[1, None]], dtype=object), TypeError, r"image has dtype", id="object-dtype"),
        pytest.param(GOOD.tolist(), TypeError, r"image must be a numpy array or a torch tensor", id="list"),
        pytest.param(None, TypeError, r"image must be", id="none"),
        pytest.param(0.5, TypeError, r"image must be", id="float"),
        pytest.param("cat.png", TypeError, r"image must be", id="path"),
    ],
)
def test_bad_image(image, error, match) -> None:
    with pytest.raises(error, match=match):
        diffuse(image)
    with pytest.raises(error, match=match):
        estimate_kappa(image)


@pytest.mark.parametrize(
    ("image", "channel_axis", "error", "match"),
    [
        (GOOD, 2, ValueError, r"channel_axis must be in \[-2, 1\]"),
        (GOOD, -3, ValueError, r"channel_axis"),
        (VOLUME, 3, ValueError, r"channel_axis"),
        (np.zeros(5), 0, ValueError, r"channel_axis"),  # nothing left to be spatial
        (GOOD, 1.0, TypeError, r"channel_axis must be an int"),
        (GOOD, "0", TypeError, r"channel_axis"),
        (GOOD, True, TypeError, r"channel_axis"),
        (GOOD, [0], TypeError, r"channel_axis"),
    ],
)
def test_bad_channel_axis(image, channel_axis, error, match) -> None:
    with pytest.raises(error, match=match):
        diffuse(image, channel_axis=channel_axis)
    with pytest.raises(error, match=match):
        estimate_kappa(image, channel_axis=channel_axis)


@pytest.mark.parametrize(
    ("kappa", "error"),
    [
        (0, ValueError),
        (0.0, ValueError),
        (-0.1, ValueError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (torch.tensor(-1.0), ValueError),
        (torch.tensor(math.nan), ValueError),
        (torch.tensor([0.1, 0.2]), ValueError),
        (1e-300, ValueError),  # 0 in float32: the fused kernel used to reject it with a RuntimeError
        (1e300, ValueError),
        (pytest.param(10**400, ValueError, id='10**400')),  # too large for a float: out of range, not an OverflowError
        ("fast", ValueError),
        (None, TypeError),
        ([0.1], TypeError),
        (True, TypeError),
        (1 + 2j, TypeError),
    ],
)
def test_bad_kappa(kappa, error) -> None:
    with pytest.raises(error, match=r"kappa"):
        diffuse(GOOD, kappa=kappa)


@pytest.mark.parametrize(("iterations", "error"), [(-1, ValueError), (2.5, TypeError), (2.0, TypeError),
                                                   ("3", TypeError), (True, TypeError), (None, TypeError),
                                                   (10**20, ValueError), pytest.param(10**4000, ValueError, id='10**4000')])
def test_bad_iterations(iterations, error) -> None:
    with pytest.raises(error, match=r"iterations"):
        diffuse(GOOD, iterations=iterations)


def test_numpy_integer_iterations_are_fine() -> None:
    np.testing.assert_array_equal(diffuse(GOOD, iterations=np.int64(3)), diffuse(GOOD, iterations=3))


@pytest.mark.parametrize("dt", [0, 0.0, 1e-320, -0.1, math.nan, math.inf, -math.inf, "0.1", True, pytest.param(10**400, id="10**400")])
def test_bad_dt(dt) -> None:
    with pytest.raises(InputError, match=r"dt must be (in \[1e-30, inf\)|a finite number|a number)"):
        diffuse(GOOD, dt=dt)


@pytest.mark.parametrize(
    ("image", "kwargs", "limit"),
    [
        (GOOD, {}, 0.25),
        (VOLUME, {}, 1 / 6),
        (VOLUME, {"dt": 0.2}, 1 / 6),  # medpy's 2-D advice, in 3-D
        (GOOD, {"scheme": "flux8"}, 1 / 6),
        (GOOD, {"diffusivity": "tukey"}, 0.5),
        (GOOD, {"spacing": 0.5}, 0.0625),
        (GOOD, {"scheme": "seed"}, 0.25),
    ],
)
def test_unstable_dt_names_the_limit(image, kwargs, limit) -> None:
    dt = kwargs.pop("dt", limit * 1.05)
    with pytest.raises(ValueError, match=r"dt=\S+ is above the stable limit") as info:
        diffuse(image, dt=dt, **kwargs)
    stated = float(str(info.value).split("stable limit ")[1].split()[0])
    assert stated == pytest.approx(limit, rel=1e-5)


@pytest.mark.parametrize("scheme", ["bogus", "FLUX", None, 4])
def test_unknown_scheme(scheme) -> None:
    with pytest.raises(ValueError, match=r"scheme must be one of"):
        diffuse(GOOD, scheme=scheme)


@pytest.mark.parametrize("diffusivity", ["bogus", "Exp", None, 5])
def test_unknown_diffusivity(diffusivity) -> None:
    with pytest.raises(ValueError, match=r"diffusivity must be one of"):
        diffuse(GOOD, diffusivity=diffusivity)


@pytest.mark.parametrize(
    "g",
    [
        pytest.param(lambda d, k: -torch.exp(-(d / k) ** 2), id="negative"),
        pytest.param(lambda d, k: 1.0 - d / k, id="negative-for-large-d"),
        pytest.param(lambda d, k: torch.zeros_like(d), id="zero-everywhere"),
        pytest.param(lambda d, k: torch.full_like(d, math.nan), id="nan"),
    ],
)
def test_bad_diffusivity_callable(g) -> None:
    with pytest.raises(ValueError, match=r"diffusivity"):
        diffuse(GOOD, diffusivity=g)


def test_good_diffusivity_callable_equals_builtin() -> None:
    mine = diffuse(GOOD, kappa=0.2, diffusivity=lambda d, k: 1.0 / (1.0 + (d / k) ** 2))
    np.testing.assert_allclose(mine, diffuse(GOOD, kappa=0.2, diffusivity="rational"), rtol=0, atol=1e-7)


def test_inv_conductance_needs_the_seed_scheme() -> None:
    with pytest.raises(ValueError, match=r"diffusivity='inv'.*scheme='seed'"):
        diffuse(GOOD, diffusivity="inv")


@pytest.mark.parametrize("scheme", ["flux8", "seed"])
@pytest.mark.parametrize("image", [VOLUME, np.random.default_rng(2).random(7)], ids=["3-D", "1-D"])
def test_2d_only_schemes_refuse_other_dimensions(scheme, image) -> None:
    with pytest.raises(ValueError, match=rf"scheme='{scheme}' is 2-D only"):
        diffuse(image, scheme=scheme)


def test_seed_takes_neither_sigma_nor_spacing() -> None:
    with pytest.raises(ValueError, match=r"seed.*sigma"):
        diffuse(GOOD, scheme="seed", sigma=1.0)
    with pytest.raises(ValueError, match=r"seed.*spacing"):
        diffuse(GOOD, scheme="seed", spacing=2.0)


@pytest.mark.parametrize(
    ("image", "spacing", "match"),
    [
        (GOOD, (1.0,), r"spacing needs 2 values"),
        (GOOD, (1.0, 1.0, 1.0), r"spacing needs 2 values"),
        (VOLUME, (1.0, 1.0), r"spacing needs 3 values"),
        (GOOD, 0.0, r"spacing values must be in \[1e-09, 1e\+09\]"),
        (GOOD, -1.0, r"spacing values must be in \[1e-09, 1e\+09\]"),
        (GOOD, (1.0, 0.0), r"spacing values must be in \[1e-09, 1e\+09\]"),
        (GOOD, 1e-200, r"spacing values must be in"),  # 1/h² overflows
        (GOOD, (1.0, 1e300), r"spacing values must be in"),
        (GOOD, "1,1", r"spacing must be a number or a sequence"),
        (GOOD, (1.0, -2.0), r"spacing values"),
        (GOOD, (1.0, math.nan), r"spacing values"),
        (GOOD, (math.inf, 1.0), r"spacing values"),
        (GOOD, (1.0, "a"), r"spacing values"),
        (GOOD, (1.0, True), r"spacing values"),
    ],
)
def test_bad_spacing(image, spacing, match) -> None:
    with pytest.raises(ValueError, match=match):
        diffuse(image, spacing=spacing)
    with pytest.raises(ValueError, match=match):
        estimate_kappa(image, spacing=spacing)


def test_spacing_excludes_the_channel_axis() -> None:
    rgb = np.random.default_rng(3).random((6, 7, 3))
    with pytest.raises(ValueError, match=r"spacing needs 2 values"):
        diffuse(rgb, channel_axis=-1, spacing=(1.0, 1.0, 1.0))
    diffuse(rgb, channel_axis=-1, spacing=(1.0, 2.0))


@pytest.mark.parametrize("sigma", [-0.5, math.nan, math.inf, "1", None, 1e6, 8.5])
def test_bad_sigma(sigma) -> None:
    with pytest.raises(InputError, match=r"sigma must be|sigma=\S+ is wider than the image"):
        diffuse(GOOD, sigma=sigma)


@pytest.mark.parametrize("device", ["tpu", "gpu0", 3.5, "meta", "cuda:99", "cpu:x"])
def test_bad_device(device) -> None:
    with pytest.raises(ValueError, match=r"device"):
        diffuse(GOOD, device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_names_the_device() -> None:
    with pytest.raises(ValueError, match=r"device='cuda'.*no CUDA"):
        diffuse(GOOD, device="cuda")


def test_module_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(N, C, \*spatial\)"):
        PeronaMalik()(torch.rand(8, 8))
    with pytest.raises(ValueError, match=r"kappa"):
        PeronaMalik(kappa=-1.0)(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"scheme"):
        PeronaMalik(scheme="bogus")(torch.rand(1, 1, 8, 8))


def test_errors_leave_the_input_untouched() -> None:
    image = GOOD.copy()
    with pytest.raises(ValueError):
        diffuse(image, kappa=-1)
    np.testing.assert_array_equal(image, GOOD)


def test_every_bad_value_is_an_input_error_and_wrong_types_are_type_errors_too() -> None:
    """One exception type for bad input: InputError (a ValueError); wrong types also TypeError."""
    assert issubclass(InputError, ValueError) and issubclass(InputTypeError, TypeError)
    for kwargs in ({"kappa": -1}, {"scheme": "nope"}, {"diffusivity": "nope"}, {"sigma": -1}, {"dt": 0},
                   {"spacing": 0}, {"iterations": -1}, {"device": "meta"}, {"channel_axis": 5}):
        with pytest.raises(InputError):
            diffuse(GOOD, **kwargs)
    for kwargs in ({"kappa": None}, {"iterations": 2.0}, {"channel_axis": 1.0}, {"coupled": "yes"}):
        with pytest.raises(InputTypeError):
            diffuse(GOOD, **kwargs)


def test_too_much_work_is_refused_before_starting() -> None:
    with pytest.raises(InputError, match=r"iterations=1000000000 on 1001000 values .* the limit is 1e\+15"):
        diffuse(np.zeros((1000, 1001), np.float32), iterations=10**9)
    with pytest.raises(InputError, match=r"iterations must be an integer in \[0, 1000000000\]"):
        DiffusionParams(iterations=10**9 + 1)


def test_sigma_up_to_the_smallest_extent_is_fine() -> None:
    smooth = diffuse(GOOD, iterations=1, sigma=8.0)  # 8 rows of unit spacing
    assert np.isfinite(smooth).all()
    with pytest.raises(InputError, match=r"sigma must be <= 4 "):
        diffuse(GOOD, iterations=1, sigma=5.0, spacing=(0.5, 1.0))
    line = np.random.default_rng(5).random((1, 9))  # a length-1 axis does not limit sigma
    np.testing.assert_allclose(diffuse(line, sigma=9.0, dt=0.2, iterations=2),
                               diffuse(line[0], sigma=9.0, dt=0.2, iterations=2)[None], rtol=0, atol=1e-12)


def test_params_are_checked_once_on_construction_and_shared() -> None:
    params = DiffusionParams(iterations=3, kappa=0.2, spacing=[1, 2.0], channel_axis=np.int64(-1))
    assert params.spacing == (1.0, 2.0) and params.channel_axis == -1 and isinstance(params.channel_axis, int)
    with pytest.raises(InputError, match=r"kappa"):
        params.replace(kappa=0)
    rgb = np.random.default_rng(4).random((6, 7, 3)).astype(np.float32)
    direct = diffuse(rgb, iterations=3, kappa=0.2, spacing=(1, 2.0), channel_axis=-1)
    layer = PeronaMalik(params.replace(channel_axis=None))
    batch = torch.from_numpy(np.moveaxis(rgb, -1, 0)[None].copy())
    np.testing.assert_allclose(np.moveaxis(layer(batch)[0].detach().numpy(), 0, -1), direct, rtol=0, atol=1e-6)
    with pytest.raises(InputError, match=r"seed.*sigma"):
        DiffusionParams(scheme="seed", sigma=1.0)
