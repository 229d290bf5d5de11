"""Turning a path, array or PIL image into the [0, 1] tensor the learned mode starts from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from peronamalik._validate import InputError, InputTypeError
from peronamalik.core.arrays import to_float_tensor

#: The bundled sample: scikit-image's ``chelsea`` (a cat, like the seed's kitty.gif; CC0 by
#: its photographer, Stefan van der Walt), shipped in ``peronamalik/data/chelsea.npz``.
SAMPLE_NAME = "chelsea"
SAMPLE_REF = f"sample:{SAMPLE_NAME}"
#: A three-channel source is grey when its channels' spread (largest minus smallest) averages
#: at most this fraction of its mean intensity (:func:`tinted_if_grey`): a grey picture stored
#: as RGB, with rounding or chroma noise (camera with ±4, ±10 and ±20 levels of it per
#: channel, resized to 320 px, reads 0.014, 0.033 and 0.064; without a cast ember kept the
#: ±10 one grey: random noise does not break the symmetry).  The colour photos of
#: sweep_look.py's four sets read 0.17-1.44 (the near-black hubble_deep_field 0.27: 5.2/255
#: over a mean of 0.075).
GREY_SPREAD = 0.1


@dataclass(frozen=True)
class Source:
    """A loaded input: ``tensor`` (1, C, H, W) in [0, 1], where it came from and its SHA-256."""

    tensor: torch.Tensor
    reference: str
    sha256: str
    stem: str


def sample_array() -> np.ndarray:
    """The bundled sample photo: 300×451×3 uint8 RGB, package data read with numpy alone."""
    with resources.files("peronamalik.data").joinpath(f"{SAMPLE_NAME}.npz").open("rb") as handle, np.load(handle) as archive:
        return archive[SAMPLE_NAME]


def resize_longer(image: torch.Tensor, size: int | None, *, even: bool = False) -> torch.Tensor:
    """Bilinear (antialiased) resize of ``(1, C, H, W)`` so the longer side is ``size`` (None:
    kept); with ``even``, each side rounded to the nearest even number instead (for formats
    that store only even sizes, whose writer would otherwise pad a row or column)."""
    height, width = image.shape[-2:]
    if size is None and not even:
        return image
    scale = 1.0 if size is None else size / max(height, width)
    step = 2 if even else 1
    shape = tuple(max(2, step * round(side * scale / step)) for side in (height, width))
    if shape == (height, width):
        return image
    return F.interpolate(image, size=shape, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def shrink_longer(image: torch.Tensor, size: int) -> torch.Tensor:
    """``image`` (``(1, C, H, W)``) resized (:func:`resize_longer`) to a longer side of
    ``size`` when it is longer, else ``image`` itself (never enlarged)."""
    return resize_longer(image, size) if max(image.shape[-2:]) > size else image


def tinted_if_grey(image: torch.Tensor, tint: float) -> torch.Tensor:
    """``image`` ``(1, C, H, W)`` given a warm cast where it is grey (``ArtConfig.grey_tint``).

    With ``tint`` t > 0, a grey image (one channel, or three whose spread averages at most
    :data:`GREY_SPREAD` of its mean) becomes :math:`\\bar I \\cdot (1, 1 - t, 1 - 2t)` in R, G, B,
    :math:`\\bar I` its channels' mean; any other image is returned as it is.

    Examples
    --------
    >>> tinted_if_grey(torch.full((1, 1, 2, 2), 0.5), 0.05)[0, :, 0, 0]
    tensor([0.5000, 0.4750, 0.4500])
    """
    if not tint or image.shape[1] not in (1, 3):
        return image
    if image.shape[1] == 3 and float((image.amax(dim=1) - image.amin(dim=1)).mean()) > GREY_SPREAD * float(image.mean()):
        return image
    cast = torch.tensor([1.0, 1.0 - tint, 1.0 - 2.0 * tint], dtype=image.dtype, device=image.device)
    return image.mean(dim=1, keepdim=True) * cast.view(1, 3, 1, 1)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 of an array's pixels (C order)."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def reference_sha256(reference: str | Path) -> str:
    """SHA-256 of an input named by path, or of the bundled sample's pixels (``sample:...``)."""
    return array_sha256(sample_array()) if str(reference) == SAMPLE_REF else file_sha256(Path(reference))


def load_source(image: Any, *, size: int | None, device: torch.device, even: bool = False) -> Source:
    """Load ``image`` (path, numpy array, PIL image or None for the sample), in sRGB (an 8-bit
    photo with another ICC profile converted: :func:`peronamalik.io.metadata.as_srgb`), min-max
    normalise it to [0, 1] as the seed did, drop an alpha channel, and resize its longer side to ``size``
    (:func:`resize_longer`; ``even``: to even sides, for an output that stores only those)."""
    if image is None or (isinstance(image, str) and image == SAMPLE_REF):
        array, reference, stem = sample_array(), SAMPLE_REF, SAMPLE_NAME
        digest = array_sha256(array)
    elif isinstance(image, (str, Path)):
        from peronamalik.io.images import read_image
        from peronamalik.io.metadata import as_srgb

        path = Path(image)
        loaded = read_image(path)
        array, reference, stem = as_srgb(loaded.array, loaded.metadata.icc_profile, str(path)), str(path), path.stem
        # a .npy says nothing of its axes: H×W×{1,3,4} is a picture, as an array given directly is
        as_array = loaded.format == "NPY" and loaded.array.shape[-1:] in ((1,), (3,), (4,))
        if loaded.array.ndim not in (2, 3) or (loaded.array.ndim == 3 and loaded.channel_axis is None and not as_array):
            raise InputError(f"{path} is not a 2-D grey or colour image (shape {loaded.array.shape}; "
                             "a .npy must be H×W or H×W×{1,3,4})")
        digest = file_sha256(path)
    else:
        if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image, its bit depth kept
            from peronamalik.io.images import pillow_array
            from peronamalik.io.metadata import as_srgb

            image = as_srgb(pillow_array(image), image.info.get("icc_profile"), "the PIL image")
        if not isinstance(image, np.ndarray):
            raise InputTypeError(f"image must be a path, a numpy array or a PIL image, got {type(image).__name__}")
        array, reference, stem = image, "array", "array"
        digest = array_sha256(image)
    if array.ndim == 3 and array.shape[-1] not in (1, 3, 4):
        raise InputError(f"image must be H×W or H×W×{{1,3,4}}, got shape {array.shape}")
    if array.ndim not in (2, 3):
        raise InputError(f"image must be H×W or H×W×{{1,3,4}}, got shape {array.shape}")
    if array.ndim == 3 and array.shape[-1] == 4:
        array = array[..., :3]
    tensor, _ = to_float_tensor(array, device=device, name=reference if reference != "array" else "image")
    tensor = tensor.float()
    u = (tensor.unsqueeze(-1) if tensor.ndim == 2 else tensor).permute(2, 0, 1).unsqueeze(0)
    low, high = u.min(), u.max()
    u = (u - low) / (high - low) if float(high - low) > 0 else torch.zeros_like(u)
    u = resize_longer(u, size, even=even)
    if min(u.shape[-2:]) < 2:
        raise InputError(f"image is too small to diffuse: {tuple(u.shape[-2:])}")
    return Source(u.contiguous(), reference, digest, stem)
