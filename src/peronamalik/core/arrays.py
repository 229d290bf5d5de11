"""Conversion between user arrays (numpy or torch, any real dtype) and float tensors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

ArrayLike = Any  # np.ndarray | torch.Tensor


@dataclass(frozen=True)
class Origin:
    """Where an image came from, so the result can be handed back in the same kind."""

    was_numpy: bool
    device: torch.device


def _reject_dtype(name: str, kind: str) -> None:
    raise TypeError(f"{name} has dtype {kind}; expected a real integer or floating dtype")


def resolve_device(device: str | torch.device | None, fallback: torch.device | None) -> torch.device:
    """``None`` means the input's device (numpy: CUDA when available, else CPU)."""
    if device is not None:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}") from exc
        if resolved.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for but torch sees no CUDA device")
        if resolved.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("device='mps' was asked for but torch sees no MPS device")
        return resolved
    if fallback is not None:
        return fallback
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_float_tensor(
    image: ArrayLike, *, device: str | torch.device | None = None, name: str = "image"
) -> tuple[torch.Tensor, Origin]:
    """Validate ``image`` and return it as a float tensor (float64 kept, else float32).

    Integers are mapped to [0, 1] by their dtype's range; floats are used as they are.
    The result may share memory with the input: callers never write to it in place, and
    copy before handing back a result that is still the input's buffer.
    """
    if isinstance(image, np.ndarray):
        if image.ndim == 0:  # checked first: np.ascontiguousarray would make it 1-d
            raise ValueError(f"{name} must have at least one axis, got a 0-d scalar")
        if image.dtype == np.bool_ or np.issubdtype(image.dtype, np.complexfloating):
            _reject_dtype(name, str(image.dtype))
        if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
            _reject_dtype(name, str(image.dtype))
        origin = Origin(True, resolve_device(device, None))
        if np.issubdtype(image.dtype, np.integer):
            info = np.iinfo(image.dtype)
            array = (image.astype(np.float64) - info.min) / (float(info.max) - info.min)
            tensor = torch.from_numpy(array.astype(np.float32))
        else:
            # float64 stays float64 in either byte order (torch only reads native order)
            target = np.float64 if image.dtype.newbyteorder("=") == np.float64 else np.float32
            array = image if image.dtype == np.dtype(target) else image.astype(target)
            tensor = torch.from_numpy(np.ascontiguousarray(array))
    elif isinstance(image, torch.Tensor):
        if image.dtype == torch.bool or image.is_complex():
            _reject_dtype(name, str(image.dtype))
        origin = Origin(False, image.device)
        tensor = image
        if not tensor.is_floating_point():
            info = torch.iinfo(tensor.dtype)
            tensor = (tensor.double() - info.min) / (float(info.max) - info.min)
            tensor = tensor.float()
        elif tensor.dtype not in (torch.float32, torch.float64):
            tensor = tensor.float()
        origin = Origin(False, image.device)
    else:
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(image).__name__}")
    if tensor.ndim == 0:
        raise ValueError(f"{name} must have at least one axis, got a 0-d scalar")
    if tensor.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)})")
    low, high = torch.aminmax(tensor.detach())  # one pass, no temporaries; NaN propagates
    if not (math.isfinite(float(low)) and math.isfinite(float(high))):
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor.to(resolve_device(device, origin.device)), origin


def restore(result: torch.Tensor, origin: Origin) -> ArrayLike:
    """Hand ``result`` back as the kind the input was: numpy on the host, or a tensor on its device."""
    if origin.was_numpy:
        return result.detach().cpu().numpy()
    return result.to(origin.device)
