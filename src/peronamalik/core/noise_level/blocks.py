"""The noise reading's units: the high-pass that cancels smooth content (Immerkær 1996, made
separable for N-D), its small blocks of one channel each, their robust levels (Donoho &
Johnstone 1994), and what those read on pure unit noise, which calibrates every reading."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch

from peronamalik.core.kappa import MAD_TO_SIGMA

#: Samples per block of the noise reading, and the quantile of the block levels in an
#: intensity bin that is read as the noise (textured blocks read high).
BLOCK_SAMPLES = 64
LEVEL_QUANTILE = 0.25


def second_difference(u: torch.Tensor, dim: int) -> torch.Tensor:
    """``[1, -2, 1]`` along ``dim``, valid part only."""
    n = u.shape[dim]
    return u.narrow(dim, 0, n - 2) - 2 * u.narrow(dim, 1, n - 2) + u.narrow(dim, 2, n - 2)


def high_pass(u: torch.Tensor, spatial_ndim: int) -> torch.Tensor:
    r""":math:`\prod_i \delta^2_i u / \sqrt{6^d}` over the spatial axes (valid part): unit white
    noise stays unit."""
    for dim in range(u.ndim - spatial_ndim, u.ndim):
        u = second_difference(u, dim)
    return u / math.sqrt(6.0**spatial_ndim)


def block_side(spatial_ndim: int) -> int:
    """Side of the cubic blocks of about :data:`BLOCK_SAMPLES` samples the noise is read in."""
    return round(BLOCK_SAMPLES ** (1.0 / spatial_ndim))


def least_part_side(spatial_ndim: int) -> int:
    """The fewest samples along each axis of a part of a picture that its noise is read in
    (``smooth --noise-region``, the studio's part): two blocks of the high-pass."""
    return 2 * block_side(spatial_ndim) + 2


def blocks(u: torch.Tensor, spatial_ndim: int, side: int) -> torch.Tensor:
    """``(number of blocks, samples)``: ``u`` cut into cubes of ``side`` along every spatial
    axis (the remainder dropped), each block pooling its batch and channel samples."""
    lead = u.ndim - spatial_ndim
    for axis in range(spatial_ndim):
        n = u.shape[lead + axis]
        u = u.narrow(lead + axis, 0, n - n % side)
    shape = list(u.shape[:lead])
    for axis in range(spatial_ndim):
        shape += [u.shape[lead + axis] // side, side]
    index = [lead + 2 * axis for axis in range(spatial_ndim)]
    within = list(range(lead)) + [lead + 2 * axis + 1 for axis in range(spatial_ndim)]
    return u.reshape(shape).permute(index + within).reshape(math.prod(shape[i] for i in index), -1)


def block_deviations(r: torch.Tensor, spatial_ndim: int, side: int) -> torch.Tensor:
    r"""``(number of blocks, samples)``: each sample's distance :math:`|r - \mathrm{median}\,r|`
    from its block's median (:func:`blocks`)."""
    r_blocks = blocks(r, spatial_ndim, side)
    return (r_blocks - r_blocks.median(dim=1, keepdim=True).values).abs()


def block_levels(r: torch.Tensor, spatial_ndim: int, side: int) -> torch.Tensor:
    r"""Robust noise level :math:`1.4826\,\mathrm{median}|r - \mathrm{median}\,r|` of each block."""
    return MAD_TO_SIGMA * block_deviations(r, spatial_ndim, side).median(dim=1).values


def robust_scores(r: torch.Tensor, spatial_ndim: int, side: int) -> torch.Tensor:
    """``(number of blocks, samples)``: each sample's distance from its block's median in units
    of the block's robust level (:func:`block_deviations`, :func:`block_levels`)."""
    deviations = block_deviations(r, spatial_ndim, side)
    level = MAD_TO_SIGMA * deviations.median(dim=1, keepdim=True).values
    return deviations / level.clamp_min(torch.finfo(r.dtype).tiny)


def sample_quantile(values: torch.Tensor, q: float) -> float:
    """The ``q`` quantile of a 1-D tensor as its ``ceil(q n)``-th smallest value (unlike
    ``torch.quantile``, for any number of samples: a batch of many images pools them all)."""
    return float(values.kthvalue(max(1, math.ceil(q * values.numel()))).values)


def under_squared_mask(u: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    """``u`` averaged with the high-pass mask's squared weights, ``[1, 4, 1] / 6`` along each
    of ``dims`` (valid part): a per-sample variance becomes the high-pass's."""
    for dim in dims:
        n = u.shape[dim]
        u = (u.narrow(dim, 0, n - 2) + 4 * u.narrow(dim, 1, n - 2) + u.narrow(dim, 2, n - 2)) / 6
    return u


def unit_noise_high_pass(spatial_ndim: int, side: int, samples: int) -> torch.Tensor:
    """:func:`high_pass` of unit white noise (seed 0) whose sides hold whole blocks of ``side``,
    at least three, and about ``samples`` samples in all: the reference the noise readings are
    calibrated on."""
    shape = (1, 1) + (side * max(3, math.ceil(samples ** (1.0 / spatial_ndim) / side)) + 2,) * spatial_ndim
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return high_pass(noise, spatial_ndim)


@functools.lru_cache(maxsize=16)
def pure_noise_quantile(spatial_ndim: int, side: int) -> float:
    """:data:`LEVEL_QUANTILE` of the squared block levels of unit white noise (fixed seed):
    the factor by which that quantile under-reads the variance of pure noise."""
    levels = block_levels(unit_noise_high_pass(spatial_ndim, side, 4096), spatial_ndim, side)
    return float(levels.square().quantile(LEVEL_QUANTILE))
