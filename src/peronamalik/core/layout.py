"""Moving between the user's axis order and the core's (batch, channels, *spatial) layout."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch


def normalize_channel_axis(channel_axis: int | None, ndim: int) -> int | None:
    """Validate ``channel_axis`` (scikit-image's convention) and make it non-negative."""
    if channel_axis is None:
        return None
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral):
        raise TypeError(f"channel_axis must be an int or None, got {type(channel_axis).__name__}")
    if not -ndim <= channel_axis < ndim:
        raise ValueError(f"channel_axis must be in [{-ndim}, {ndim - 1}] for a {ndim}-D image, got {channel_axis}")
    if ndim < 2:
        raise ValueError("channel_axis needs an image with at least one spatial axis besides the channels")
    return int(channel_axis) % ndim


def normalize_spacing(spacing: float | Sequence[float] | None, spatial_ndim: int) -> tuple[float, ...]:
    """One positive, finite physical spacing per spatial axis (a scalar applies to all)."""
    if spacing is None:
        return (1.0,) * spatial_ndim
    values = [spacing] * spatial_ndim if isinstance(spacing, numbers.Real) else list(spacing)
    if len(values) != spatial_ndim:
        raise ValueError(f"spacing needs {spatial_ndim} values (one per spatial axis), got {len(values)}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"spacing values must be finite and > 0, got {value!r}")
    return tuple(float(v) for v in values)


def to_internal_layout(
    tensor: torch.Tensor, channel_axis: int | None, spacing: float | Sequence[float] | None
) -> tuple[torch.Tensor, tuple[float, ...]]:
    """Return a ``(1, C, *spatial)`` view of ``tensor`` and the per-axis spacing."""
    axis = normalize_channel_axis(channel_axis, tensor.ndim)
    u = tensor.unsqueeze(0) if axis is None else tensor.movedim(axis, 0)
    return u.unsqueeze(0), normalize_spacing(spacing, u.ndim - 1)


def from_internal_layout(u: torch.Tensor, channel_axis: int | None, ndim: int) -> torch.Tensor:
    """Inverse of :func:`to_internal_layout`."""
    axis = normalize_channel_axis(channel_axis, ndim)
    u = u.squeeze(0)
    return u.squeeze(0) if axis is None else u.movedim(0, axis)
