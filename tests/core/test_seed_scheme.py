"""Issue 2, test 6: the "seed" scheme is ALGORITHM.md's step, checked by hand.

    P  = reflection_pad(I, 1)
    L  = conv2d(P, K)        K = 5-point Laplacian on every (out, in) channel pair
    c  = exp(-L^2 / k^2)     or 1 / (|grad|_Scharr / k^2 + 1) for 'inv'
    I' = clamp(I + dt * L * c, 0, 1)

Everything below is computed with numpy from that description, not with library code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from peronamalik import PeronaMalik, diffuse
from peronamalik.core.schemes import laplacian_kernel, operator_response, seed_step

#: The C kernels do not cover the seed scheme: its backends are the reference and compiled.
SEED_BACKENDS = ("reference", "compiled")


def reflect_pad(channel: np.ndarray) -> np.ndarray:
    """Reflection padding by one pixel: the ghost row above row 0 is row 1 (edge excluded)."""
    h, w = channel.shape
    rows = np.array([1, *range(h), h - 2])
    cols = np.array([1, *range(w), w - 2])
    return channel[np.ix_(rows, cols)]


def laplacian(channel: np.ndarray) -> np.ndarray:
    """5-point Laplacian of one channel on its reflection-padded copy, written out."""
    p = reflect_pad(channel)
    h, w = channel.shape
    out = np.empty((h, w))
    for y in range(h):
        for x in range(w):
            py, px = y + 1, x + 1
            out[y, x] = p[py - 1, px] + p[py + 1, px] + p[py, px - 1] + p[py, px + 1] - 4 * p[py, px]
    return out


def scharr_magnitude(channel: np.ndarray) -> np.ndarray:
    kx = np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], dtype=float)
    ky = kx.T
    p = reflect_pad(channel)
    h, w = channel.shape
    gx, gy = np.empty((h, w)), np.empty((h, w))
    for y in range(h):
        for x in range(w):
            window = p[y : y + 3, x : x + 3]
            gx[y, x], gy[y, x] = (window * kx).sum(), (window * ky).sum()
    return np.hypot(gx, gy)


def test_reflect_pad_is_reflection_not_replication() -> None:
    # the reference helper itself, against numpy's definition
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(reflect_pad(a), np.pad(a, 1, mode="reflect"))


@pytest.mark.parametrize("backend", SEED_BACKENDS, indirect=True)
def test_single_bright_pixel_by_hand(backend) -> None:
    """A 4×4 image, 1 at (1, 1), 0 elsewhere; k = 4, dt = 0.2.  Worked out by hand:

    (1,1): L = 0+0+0+0 - 4·1 = -4,  c = exp(-16/16) = e^-1,   I' = 1 - 0.8/e
    (0,1): the ghost above row 0 is row 1, so up = down = I(1,1) = 1:
           L = 1 + 1 + 0 + 0 - 0 = 2, c = exp(-4/16),          I' = 0.4·e^-1/4
    (2,1): L = 1 (only up),         c = exp(-1/16),            I' = 0.2·e^-1/16
    (1,0): the ghost left of column 0 is column 1: L = 2,      I' = 0.4·e^-1/4
    (0,0), (3,3): no bright neighbour (diagonals do not count): I' = 0
    """
    image = np.zeros((4, 4))
    image[1, 1] = 1.0
    result = diffuse(image, scheme="seed", iterations=1, kappa=4.0, dt=0.2)
    assert result[1, 1] == pytest.approx(1 - 0.8 / math.e, abs=1e-15)
    assert result[0, 1] == pytest.approx(0.4 * math.exp(-0.25), abs=1e-15)
    assert result[1, 0] == pytest.approx(0.4 * math.exp(-0.25), abs=1e-15)
    assert result[2, 1] == pytest.approx(0.2 * math.exp(-1 / 16), abs=1e-15)
    assert result[0, 0] == 0.0 and result[3, 3] == 0.0 and result[2, 2] == 0.0


@pytest.mark.parametrize("kappa", [0.2, 1.0])
@pytest.mark.parametrize("dt", [0.01, 0.2])
def test_seed_step_on_a_small_random_image(kappa: float, dt: float) -> None:
    rng = np.random.default_rng(0)
    image = rng.random((4, 5))
    L = laplacian(image)
    expected = np.clip(image + dt * L * np.exp(-(L**2) / kappa**2), 0.0, 1.0)
    result = diffuse(image, scheme="seed", iterations=1, kappa=kappa, dt=dt)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-14)
    # a 1×1×4×5 batch through the layer goes the same way (a layer holds kappa in the
    # default dtype, float32, so its kappa is 0.2 rounded to float32)
    layer = PeronaMalik(scheme="seed", iterations=1, kappa=kappa, dt=dt).double()
    k32 = float(np.float32(kappa))
    expected32 = np.clip(image + dt * L * np.exp(-(L**2) / k32**2), 0.0, 1.0)
    tensor = layer(torch.from_numpy(image)[None, None])
    np.testing.assert_allclose(tensor[0, 0].numpy(), expected32, rtol=0, atol=1e-14)


def test_several_seed_steps() -> None:
    image = np.random.default_rng(1).random((6, 5))
    expected = image
    for _ in range(5):
        L = laplacian(expected)
        expected = np.clip(expected + 0.2 * L * np.exp(-(L**2) / 0.2**2), 0.0, 1.0)
    result = diffuse(image, scheme="seed", iterations=5, kappa=0.2, dt=0.2)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-13)


def test_seed_clamps_to_unit_range() -> None:
    image = np.full((4, 4), 1.5)
    image[0, 0] = -0.5
    result = diffuse(image, scheme="seed", iterations=1, kappa=0.2, dt=0.01)
    assert result.min() >= 0.0 and result.max() <= 1.0
    assert result[3, 3] == 1.0 and result[0, 0] == 0.0


def test_inv_conductance_uses_the_scharr_magnitude() -> None:
    image = np.random.default_rng(2).random((5, 6))
    kappa, dt = 0.5, 0.2
    L = laplacian(image)
    c = 1.0 / (scharr_magnitude(image) / kappa**2 + 1.0)
    expected = np.clip(image + dt * L * c, 0.0, 1.0)
    result = diffuse(image, scheme="seed", diffusivity="inv", iterations=1, kappa=kappa, dt=dt)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-13)


def test_full_mixing_puts_the_sum_of_laplacians_on_every_output_channel() -> None:
    rgb = np.random.default_rng(3).random((3, 5, 4))
    total = sum(laplacian(rgb[c]) for c in range(3))
    kernel = laplacian_kernel(3, dtype=torch.float64)
    assert kernel.shape == (3, 3, 3, 3)
    response = operator_response(torch.from_numpy(rgb)[None], kernel)[0].numpy()
    for c in range(3):
        np.testing.assert_allclose(response[c], total, rtol=0, atol=1e-13)

    # per-channel mixing gives each channel its own Laplacian
    own = operator_response(torch.from_numpy(rgb)[None], laplacian_kernel(3, mixing="per-channel",
                                                                          dtype=torch.float64))[0].numpy()
    for c in range(3):
        np.testing.assert_allclose(own[c], laplacian(rgb[c]), rtol=0, atol=1e-13)


@pytest.mark.parametrize("dt", [1 / 12, 0.05])
def test_coupled_seed_step_mixes_all_channels(dt: float) -> None:
    rgb = np.random.default_rng(4).random((3, 5, 4))
    kappa = 0.7
    total = sum(laplacian(rgb[c]) for c in range(3))
    c = np.exp(-(total**2) / kappa**2)
    expected = np.clip(rgb + dt * total * c, 0.0, 1.0)  # the same L·c added to every channel
    result = diffuse(rgb, scheme="seed", coupled=True, channel_axis=0, iterations=1, kappa=kappa, dt=dt)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-13)
    per_channel = diffuse(rgb, scheme="seed", channel_axis=0, iterations=1, kappa=kappa, dt=dt)
    assert np.abs(per_channel - result).max() > 1e-3  # mixing really changes the result


def test_seed_step_with_the_original_dt_clamps_when_channels_mix() -> None:
    """The original ran dt = 0.2 with the 3-channel mixing operator; seed_step allows it and
    the clamp keeps the result in [0, 1] (diffuse itself refuses dt > 1/12 here)."""
    rgb = np.zeros((3, 4, 4))
    rgb[0, 1, 1] = 1.0  # a red dot: the summed Laplacian there is -4 for all three channels
    kernel = laplacian_kernel(3, dtype=torch.float64)
    new, response = seed_step(torch.from_numpy(rgb)[None], kernel, kappa=4.0, dt=0.2,
                              conductance=lambda d, k: torch.exp(-(d / k) ** 2))
    new = new[0].numpy()
    assert response[0, 1, 1, 1] == -4.0
    assert new[0, 1, 1] == pytest.approx(1 - 0.8 / math.e, abs=1e-15)
    assert new[1, 1, 1] == 0.0 and new[2, 1, 1] == 0.0  # 0 - 0.8/e, clamped
    assert new[1, 0, 1] == pytest.approx(0.4 * math.exp(-0.25), abs=1e-15)  # green gains from red
    with pytest.raises(ValueError, match=r"stable limit 0\.08333"):
        diffuse(rgb, scheme="seed", coupled=True, channel_axis=0, dt=0.2)
