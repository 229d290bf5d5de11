"""Conversion between user arrays (numpy or torch, any real dtype) and float tensors."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from peronamalik._validate import InputError, InputTypeError

ArrayLike = Any  # np.ndarray | torch.Tensor


@dataclass(frozen=True)
class Origin:
    """Where an image came from, so the result can be handed back in the same kind."""

    was_numpy: bool
    device: torch.device


#: Integer dtypes read as fractions of their range (scikit-image's ``img_as_float`` rule):
#: the value divided by 255 or 65535.  Every other integer dtype keeps its values.
UNIT_SCALES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
_TORCH_UNIT_SCALES = {torch.uint8: 255.0, getattr(torch, "uint16", torch.uint8): 65535.0}
DEVICE_TYPES = ("cpu", "cuda", "mps")


def unit_scale(dtype: np.dtype | type) -> float | None:
    """255 for uint8, 65535 for uint16 (mapped to [0, 1]); None for a dtype whose values are kept."""
    return UNIT_SCALES.get(np.dtype(dtype).newbyteorder("="))


def float_dtype(dtype: np.dtype | type) -> np.dtype:
    """The float dtype :func:`to_float_tensor` gives a numpy array of ``dtype`` (and so the
    dtype :func:`~peronamalik.core.diffuse.diffuse` returns): float64 for float64, int32,
    int64, uint32 and uint64 (float64 holds their values exactly up to 2**53), float32 for
    every other real dtype."""
    native = np.dtype(dtype).newbyteorder("=")
    wide = native == np.float64 or (native.kind in "iu" and native.itemsize > 2)
    return np.dtype(np.float64 if wide else np.float32)


def _reject_dtype(name: str, kind: str) -> None:
    raise InputTypeError(f"{name} has dtype {kind}; expected a real integer or floating dtype")


def resolve_device(device: str | torch.device | None, fallback: torch.device | None) -> torch.device:
    """``None`` means the input's device (numpy: CUDA when available, else CPU)."""
    if device is not None:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise InputError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r:.60}") from exc
        if resolved.type not in DEVICE_TYPES:
            raise InputError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r:.60}")
        if resolved.type == "cuda" and not torch.cuda.is_available():
            raise InputError("device='cuda' was asked for but torch sees no CUDA device")
        if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
            raise InputError(f"device={device!r} does not exist: torch sees {torch.cuda.device_count()} CUDA device(s)")
        if resolved.type == "mps" and not torch.backends.mps.is_available():
            raise InputError("device='mps' was asked for but torch sees no MPS device")
        return resolved
    if fallback is not None:
        return fallback
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_float_tensor(
    image: ArrayLike, *, device: str | torch.device | None = None, name: str = "image"
) -> tuple[torch.Tensor, Origin]:
    """Validate ``image`` and return it as a float tensor.

    * uint8 and uint16 are mapped to [0, 1] (divided by 255 and 65535), as scikit-image's
      ``img_as_float`` does, in float32;
    * every other integer dtype keeps its values (no rescaling; ``img_as_float`` would map
      signed integers to [-1, 1] and wide ones to tiny fractions, which float32 cannot
      tell apart): int8 and int16 in float32, int32, int64, uint32 and uint64 in float64,
      which holds their values exactly up to 2**53;
    * floats are used as they are (float64 stays float64, other floats become float32).

    The result may share memory with the input: callers never write to it in place, and
    copy before handing back a result that is still the input's buffer.
    """
    if isinstance(image, np.ndarray):
        if image.ndim == 0:  # checked first: np.ascontiguousarray would make it 1-d
            raise InputError(f"{name} must have at least one axis, got a 0-d scalar")
        if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
            _reject_dtype(name, str(image.dtype))
        origin = Origin(True, resolve_device(device, None))
        target, scale = float_dtype(image.dtype), unit_scale(image.dtype)
        if scale is not None:
            array = image.astype(target) / target.type(scale)
        else:  # in native byte order: torch reads no other
            array = image if image.dtype == target else image.astype(target)
        tensor = shared_tensor(array)
    elif isinstance(image, torch.Tensor):
        if image.dtype == torch.bool or image.is_complex():
            _reject_dtype(name, str(image.dtype))
        origin = Origin(False, image.device)
        tensor = image
        if not tensor.is_floating_point():
            scale = _TORCH_UNIT_SCALES.get(tensor.dtype)
            if scale is not None:
                tensor = tensor.float() / scale
            else:
                tensor = tensor.float() if tensor.element_size() <= 2 else tensor.double()
        elif tensor.dtype not in (torch.float32, torch.float64):
            tensor = tensor.float()
    else:
        raise InputTypeError(f"{name} must be a numpy array or a torch tensor, got {type(image).__name__}")
    if tensor.ndim == 0:
        raise InputError(f"{name} must have at least one axis, got a 0-d scalar")
    if tensor.numel() == 0:
        raise InputError(f"{name} is empty (shape {tuple(tensor.shape)})")
    if not all_finite(tensor):
        raise InputError(f"{name} contains NaN or infinite values")
    return tensor.to(resolve_device(device, origin.device)), origin


def shared_tensor(array: np.ndarray) -> torch.Tensor:
    """``torch.from_numpy`` of ``array`` made C-contiguous (copied only where it is not): its
    buffer is shared, a read-only one (a memory-mapped .npy, a PIL image's) too, without
    torch's "not writable" warning, as the callers never write to what it backs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(np.ascontiguousarray(array))


def value_range(tensor: torch.Tensor) -> tuple[float, float]:
    """``(min, max)`` of ``tensor``'s values (not empty), in one pass without temporaries
    (``torch.aminmax``); a NaN propagates into both."""
    low, high = torch.aminmax(tensor.detach())
    return float(low), float(high)


def all_finite(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` holds no NaN and no infinity (:func:`value_range`'s one pass)."""
    return tensor.numel() == 0 or all(math.isfinite(value) for value in value_range(tensor))


def from_float(array: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """The inverse of :func:`to_float_tensor`'s rule, for writing a result in the input's dtype.

    uint8/uint16: [0, 1] is clipped, scaled by 255/65535 and rounded.  Other integers:
    rounded and clipped to the dtype's range.  Floats: cast.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.asarray(array, dtype=dtype)
    values = np.asarray(array, dtype=np.float64)
    scale = unit_scale(dtype)
    if scale is not None:
        values = np.clip(values, 0.0, 1.0) * scale
    info = np.iinfo(dtype)
    # the largest float64 below the dtype's maximum (2**63 - 1 rounds up to 2**63, out of range)
    high = float(info.max) if float(info.max) <= info.max else np.nextafter(float(info.max), 0.0)
    return np.clip(np.rint(values), float(info.min), high).astype(dtype)


def restore(result: torch.Tensor, origin: Origin) -> ArrayLike:
    """Hand ``result`` back as the kind the input was: numpy on the host, or a tensor on its device."""
    if origin.was_numpy:
        return result.detach().cpu().numpy()
    return result.to(origin.device)
