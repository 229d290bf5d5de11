"""Moving between the user's axis order and the core's (batch, channels, *spatial) layout."""

from __future__ import annotations

import numbers
from collections.abc import Sequence, Sized

import torch

from peronamalik._validate import InputError, axis, integer, real, reals


#: Allowed physical spacing: 1/h² and dt ~ h² stay normal float32 numbers.
SPACING_RANGE = (1e-9, 1e9)


def normalize_channel_axis(channel_axis: int | None, ndim: int) -> int | None:
    """Validate ``channel_axis`` (scikit-image's convention) and make it non-negative."""
    if channel_axis is None:
        return None
    if ndim < 2:
        integer("channel_axis", channel_axis)
        raise InputError("channel_axis needs an image with at least one spatial axis besides the channels")
    return axis("channel_axis", channel_axis, ndim)


def check_coupled(coupled: bool, channel_axis: int | None) -> None:
    """``coupled=True`` joins the channels' gradients: without a ``channel_axis`` there are none
    to join, and it would do nothing."""
    if coupled and channel_axis is None:
        raise InputError("coupled=True joins the colour channels' gradients and needs channel_axis (the image has none)")


def check_spacing(spacing: float | Sequence[float] | None) -> float | tuple[float, ...] | None:
    """``spacing`` as given (a number, a sequence of numbers, or None), each in :data:`SPACING_RANGE`."""
    if spacing is None:
        return None
    if isinstance(spacing, numbers.Real) and not isinstance(spacing, bool):
        return real("spacing values", spacing, low=SPACING_RANGE[0], high=SPACING_RANGE[1])
    count = len(spacing) if isinstance(spacing, Sized) and not isinstance(spacing, (str, bytes)) else -1
    return reals("spacing", spacing, count, low=SPACING_RANGE[0], high=SPACING_RANGE[1])


def normalize_spacing(spacing: float | Sequence[float] | None, spatial_ndim: int) -> tuple[float, ...]:
    """One physical spacing per spatial axis, each in :data:`SPACING_RANGE` (a scalar applies to all)."""
    if spacing is None:
        return (1.0,) * spatial_ndim
    return reals("spacing", spacing, spatial_ndim, low=SPACING_RANGE[0], high=SPACING_RANGE[1])


def to_internal_layout(tensor: torch.Tensor, channel_axis: int | None) -> torch.Tensor:
    """Return a ``(1, C, *spatial)`` view of ``tensor``."""
    axis = normalize_channel_axis(channel_axis, tensor.ndim)
    u = tensor.unsqueeze(0) if axis is None else tensor.movedim(axis, 0)
    return u.unsqueeze(0)


def from_internal_layout(u: torch.Tensor, channel_axis: int | None, ndim: int) -> torch.Tensor:
    """Inverse of :func:`to_internal_layout`."""
    axis = normalize_channel_axis(channel_axis, ndim)
    u = u.squeeze(0)
    return u.squeeze(0) if axis is None else u.movedim(0, axis)
