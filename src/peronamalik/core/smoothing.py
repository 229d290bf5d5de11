"""Separable Gaussian smoothing of N-D tensors (Catté et al. regularisation)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def gaussian_kernel1d(sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Normalised 1-D Gaussian of standard deviation ``sigma`` samples, radius ceil(4 sigma)."""
    radius = max(1, math.ceil(4.0 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    kernel = torch.exp(-0.5 * (x / sigma).square())
    return kernel / kernel.sum()


def gaussian_smooth(u: torch.Tensor, sigmas: Sequence[float]) -> torch.Tensor:
    """Smooth the trailing ``len(sigmas)`` axes of ``u`` with a Gaussian, one axis at a time.

    ``sigmas[i]`` is the standard deviation along spatial axis ``i`` in samples; a zero skips
    the axis.  Borders are replicated, which keeps a constant image constant.
    """
    first_spatial = u.ndim - len(sigmas)
    for axis, sigma in enumerate(sigmas):
        dim = first_spatial + axis
        if sigma <= 0 or u.shape[dim] == 1:  # a single sample along the axis is its own mean
            continue
        kernel = gaussian_kernel1d(sigma, u.dtype, u.device)
        radius = kernel.numel() // 2
        moved = u.movedim(dim, -1)
        lines = moved.reshape(-1, 1, moved.shape[-1])
        padded = F.pad(lines, (radius, radius), mode="replicate")
        smoothed = F.conv1d(padded, kernel.view(1, 1, -1))
        u = smoothed.reshape(moved.shape).movedim(-1, dim)
    return u
