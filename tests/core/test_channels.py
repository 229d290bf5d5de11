"""Issue 2, test 4: colour images.

Per-channel diffusion (the default with ``channel_axis``) equals diffusing each channel on
its own; ``coupled=True`` shares one conductance from the joint gradient, so an edge that is
strong in one channel protects the same edge in the others and edges stay aligned.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from peronamalik import diffuse

from .helpers import FAST, sample_photo


@FAST
@given(
    st.sampled_from([(2, -1), (2, 0), (3, -1), (3, 0), (2, 1)]),
    st.integers(1, 4),
    st.sampled_from(["exp", "rational", "tukey"]),
    st.sampled_from(["flux", "flux8"]),
    st.data(),
)
def test_per_channel_equals_each_channel_alone(backend, dims_axis, channels, diffusivity, scheme, data) -> None:
    ndim, axis = dims_axis
    if ndim == 3:
        scheme = "flux"
    spatial = data.draw(st.tuples(*[st.integers(2, 7)] * ndim))
    shape = list(spatial)
    shape.insert(axis % (ndim + 1) if axis >= 0 else ndim, channels)
    image = data.draw(arrays(np.float64, tuple(shape), elements=st.floats(0, 1)))
    kwargs = {"iterations": 3, "kappa": 0.2, "diffusivity": diffusivity, "scheme": scheme}
    together = diffuse(image, channel_axis=axis, **kwargs)
    assert together.shape == image.shape
    for c in range(channels):
        alone = diffuse(np.take(image, c, axis=axis), **kwargs)
        np.testing.assert_allclose(np.take(together, c, axis=axis), alone, rtol=0, atol=1e-14)


def test_per_channel_on_a_photo_matches_channel_by_channel(backend) -> None:
    rgb = sample_photo("astronaut", 64)
    together = diffuse(rgb, iterations=20, kappa=0.1, channel_axis=-1)
    planar = diffuse(np.moveaxis(rgb, -1, 0).copy(), iterations=20, kappa=0.1, channel_axis=0)
    for c in range(3):
        alone = diffuse(np.ascontiguousarray(rgb[..., c]), iterations=20, kappa=0.1)
        np.testing.assert_array_equal(together[..., c], alone)
        np.testing.assert_array_equal(planar[c], alone)


def colour_edge(size: int = 32, position: int = 16, weak: float = 0.04) -> np.ndarray:
    """Vertical edge at ``position``: channel 0 jumps 0.2→0.8 (≫ κ), channel 1 only by
    ``weak`` (< κ), channel 2 is flat.  An RGB image, channels last."""
    image = np.empty((size, size, 3))
    left = np.arange(size) < position
    image[..., 0] = np.where(left, 0.2, 0.8)
    image[..., 1] = np.where(left, 0.5, 0.5 + weak)
    image[..., 2] = 0.3
    return image


def jump(image: np.ndarray, channel: int, position: int) -> float:
    row = image[image.shape[0] // 2, :, channel]
    return float(row[position] - row[position - 1])


@pytest.mark.parametrize("diffusivity", ["exp", "rational", "tukey"])
def test_coupled_keeps_a_colour_edge_in_place(backend, diffusivity: str) -> None:
    kappa, position, weak = 0.1, 16, 0.04
    image = colour_edge(position=position, weak=weak)
    kwargs = {"iterations": 100, "kappa": kappa, "diffusivity": diffusivity, "channel_axis": -1}
    alone = diffuse(image, **kwargs)
    coupled = diffuse(image, coupled=True, **kwargs)

    # channel 1's weak edge alone is below kappa: per-channel diffusion smears it out ...
    assert jump(alone, 1, position) < 0.5 * weak
    # ... while the coupled conductance is set by the strong edge of channel 0, so it stays
    assert jump(coupled, 1, position) > 3 * jump(alone, 1, position)
    if diffusivity != "rational":  # g(6) = 1/37 still leaks a little; exp and tukey stop it
        assert jump(coupled, 1, position) > 0.9 * weak
        assert jump(coupled, 0, position) > 0.9 * 0.6
    # every channel that has an edge has it at the same place
    for c in (0, 1):
        assert np.argmax(np.abs(np.diff(coupled[16, :, c]))) + 1 == position
    # the flat channel stays flat
    np.testing.assert_allclose(coupled[..., 2], 0.3, rtol=0, atol=1e-12)


def test_coupled_edge_in_one_channel_does_not_leak_into_the_others(backend) -> None:
    image = colour_edge(weak=0.0)
    coupled = diffuse(image, iterations=50, kappa=0.1, channel_axis=-1, coupled=True)
    np.testing.assert_allclose(coupled[..., 1], 0.5, rtol=0, atol=1e-12)
    np.testing.assert_allclose(coupled[..., 2], 0.3, rtol=0, atol=1e-12)


def test_coupled_uses_the_joint_gradient_magnitude(backend) -> None:
    """One flux step by hand: g from sqrt(Σ_c d_c²) shared by all channels."""
    rng = np.random.default_rng(1)
    image = rng.random((2, 5, 6))  # channels first
    kappa, dt = 0.3, 0.1
    update = np.zeros_like(image)
    for axis in (1, 2):
        d = np.diff(image, axis=axis)
        g = np.exp(-(np.sqrt((d**2).sum(axis=0, keepdims=True)) / kappa) ** 2)
        flux = g * d
        pad_after = [(0, 0)] * 3
        pad_after[axis] = (0, 1)
        pad_before = [(0, 0)] * 3
        pad_before[axis] = (1, 0)
        update += np.pad(flux, pad_after) - np.pad(flux, pad_before)
    expected = image + dt * update
    result = diffuse(image, iterations=1, kappa=kappa, dt=dt, channel_axis=0, coupled=True)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-14)


def test_coupled_with_one_channel_equals_scalar(backend) -> None:
    image = np.random.default_rng(2).random((9, 8, 1))
    coupled = diffuse(image, iterations=5, kappa=0.2, channel_axis=-1, coupled=True)
    scalar = diffuse(image[..., 0], iterations=5, kappa=0.2)
    np.testing.assert_allclose(coupled[..., 0], scalar, rtol=0, atol=1e-14)


def test_torch_channels_first_batch_layout_matches_numpy(backend) -> None:
    image = np.random.default_rng(3).random((3, 10, 12)).astype(np.float32)
    as_numpy = diffuse(image, iterations=5, kappa=0.2, channel_axis=0, coupled=True)
    as_torch = diffuse(torch.from_numpy(image), iterations=5, kappa=0.2, channel_axis=0, coupled=True)
    assert isinstance(as_torch, torch.Tensor)
    np.testing.assert_array_equal(as_torch.numpy(), as_numpy)
