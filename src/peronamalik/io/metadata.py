"""What an image file says about its pixels besides their values, read and written back.

* **Pixel size** (microscopy TIFFs): ImageJ's (the resolution tags and the description's
  ``spacing``, ``unit``, ``yunit`` and ``zunit``) and OME-TIFF's (``PhysicalSizeX/Y/Z`` and
  their units), in one unit; a time series' interval too.  A result written as TIFF keeps
  them, in the input's own kind (ImageJ or OME) and layout (channels or RGB samples), so
  Fiji, napari or QuPath show it calibrated as they showed the input.  ``smooth --spacing
  file`` diffuses with them (:meth:`PixelMetadata.spacing`).
* **Colour profile** (ICC; TIFF, PNG, JPEG, WebP): written back to every format that holds
  one, so a Display P3 or Adobe RGB photo keeps its colours in a colour-managed viewer.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from peronamalik._extras import require

tifffile = require("tifffile", "io")

#: How ImageJ and OME files spell a micrometre, and the spelling used here.
MICROMETRE = "µm"
_MICROMETRE_SPELLINGS = {"micron", "microns", "um", "\\u00B5m", "\\u00b5m", "μm", MICROMETRE}
#: Lengths in metres, by the names ImageJ and OME give their units: sizes along different
#: axes in different units (OME's nm across, µm along z; ImageJ's zunit) are read in one.
METRES = {"pm": 1e-12, "Å": 1e-10, "nm": 1e-9, MICROMETRE: 1e-6, "mm": 1e-3, "cm": 1e-2, "m": 1.0,
          "in": 0.0254, "inch": 0.0254}
#: ImageJ's spellings of time units (its ``tunit``), as OME and SI write them.
_SECONDS = {"sec": "s", "second": "s", "seconds": "s", "msec": "ms", "usec": "µs", "min": "min", "hr": "h"}
#: The sample types ImageJ's TIFFs hold (tifffile writes and Fiji reads them).
IMAGEJ_DTYPES = (np.uint8, np.uint16, np.int16, np.float32)
#: ICC colour spaces (header bytes 16-20) that fit an image of 1 and of 3 channels.
_ICC_SPACES = {1: b"GRAY", 3: b"RGB "}
#: The TIFF tag of an ICC profile (InterColorProfile).
ICC_TAG = 34675


@dataclass(frozen=True)
class PixelMetadata:
    """Pixel size, time interval, colour profile and colour layout of an image, as its file
    gave them.

    Attributes
    ----------
    pixel_size : tuple of (float or None), or None
        Physical size of a pixel along each spatial axis of the array, in ``unit`` (None
        where the file does not say); None when the file gives no calibration.
    unit : str or None
        The unit of ``pixel_size`` (``"µm"`` for ImageJ's "micron" and OME's default).
    kind : str or None
        ``"imagej"`` or ``"ome"``: the metadata a TIFF result is written with.
    icc_profile : bytes or None
        The ICC colour profile.
    time_interval, time_unit : float or None, str or None
        A time series' interval between time points (ImageJ's ``finterval``, OME's
        ``TimeIncrement``) and its unit (``"s"`` unless the file says otherwise).
    samples : bool
        The file stored its colour as samples of a pixel (RGB, ``S``), not as channels
        (``C``): a TIFF result is written the same way.

    Examples
    --------
    >>> PixelMetadata(pixel_size=(1.5, 0.25, 0.25), unit="µm", kind="imagej").spacing()
    (1.5, 0.25, 0.25)
    """

    pixel_size: tuple[float | None, ...] | None = None
    unit: str | None = None
    kind: str | None = None
    icc_profile: bytes | None = None
    time_interval: float | None = None
    time_unit: str | None = None
    samples: bool = True

    def spacing(self) -> tuple[float, ...] | None:
        """The pixel size along every spatial axis, or None if the file lacks one of them."""
        sizes = self.pixel_size
        if sizes is None or any(size is None for size in sizes):
            return None
        return tuple(float(size) for size in sizes)  # type: ignore[arg-type]

    def anisotropic(self) -> bool:
        """Whether :meth:`spacing` is known and differs between axes (by more than 1 %)."""
        spacing = self.spacing()
        return spacing is not None and max(spacing) > 1.01 * min(spacing)

    def describe(self) -> str:
        """The pixel size as people write it: ``"1.5 × 0.25 × 0.25 µm"`` ("?" where unknown)."""
        sizes = " × ".join("?" if size is None else f"{size:g}" for size in self.pixel_size or ())
        return f"{sizes} {self.unit}" if self.unit else sizes


def _unit(name: object) -> str | None:
    if name is None or str(name).strip() in ("", "pixel", "pixels"):
        return None
    text = str(name).strip()
    return MICROMETRE if text in _MICROMETRE_SPELLINGS else text


def _positive(value: object) -> float | None:
    try:
        size = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return size if np.isfinite(size) and size > 0 else None


def fitting_profile(profile: bytes | None, channels: int) -> bytes | None:
    """``profile`` where its colour space fits an image of ``channels`` channels (RGB: 3, grey:
    1), else None: a CMYK photo is read as RGB, and its CMYK profile would mislead a viewer."""
    if not profile or _ICC_SPACES.get(channels) != profile[16:20]:
        return None
    return profile


def tiff_metadata(tif: tifffile.TiffFile, page: tifffile.TiffPage, axes: str) -> PixelMetadata:
    """The :class:`PixelMetadata` of an open TIFF whose array has ``axes`` (tifffile's letters,
    e.g. ``"TZCYX"``, in the array's order), ``page`` its first page."""
    icc = page.tags.get(ICC_TAG)
    plain = PixelMetadata(icc_profile=bytes(icc.value) if icc is not None else None, samples="C" not in axes)
    spatial_axes = "".join(axis for axis in axes if axis not in "SCT")
    try:
        if tif.is_ome:
            kind, (sizes, unit, interval, time_unit) = "ome", _ome(tif.ome_metadata)
        elif tif.is_imagej:
            kind, (sizes, unit, interval, time_unit) = "imagej", _imagej(tif.imagej_metadata or {}, page)
        else:
            return plain
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ZeroDivisionError):
        return plain  # unreadable metadata: the pixels still read
    unnamed = [axis for axis in spatial_axes if axis in "QI"]
    if kind == "imagej" and len(unnamed) == 1 and "Z" not in spatial_axes:  # a stack tifffile cannot name: slices
        spatial_axes = spatial_axes.replace(unnamed[0], "Z")
    pixel_size = tuple(sizes.get(axis) for axis in spatial_axes)
    return dataclasses.replace(plain, pixel_size=pixel_size, unit=unit, kind=kind, time_interval=interval,
                               time_unit=time_unit if interval else None)


Calibration = tuple[dict[str, float | None], str | None, float | None, str]


def _imagej(description: dict[str, Any], page: tifffile.TiffPage) -> Calibration:
    x_resolution, y_resolution = page.resolution
    unit = _unit(description.get("unit"))
    sizes = {"X": _positive(1.0 / x_resolution), "Y": _positive(1.0 / y_resolution)}
    units = {"X": unit, "Y": _unit(description.get("yunit")) or unit, "Z": _unit(description.get("zunit")) or unit}
    sizes["Z"] = _positive(description.get("spacing"))
    time_unit = str(description.get("tunit") or "s")
    time_unit = _SECONDS.get(time_unit, time_unit)
    return (*in_one_unit(sizes, units), _positive(description.get("finterval")), time_unit)


def _ome(xml: str | None) -> Calibration:
    image = tifffile.xml2dict(xml or "")["OME"]["Image"]
    pixels = (image[0] if isinstance(image, list) else image)["Pixels"]
    sizes = {axis: _positive(pixels.get(f"PhysicalSize{axis}")) for axis in "XYZ"}
    units = {axis: _unit(pixels.get(f"PhysicalSize{axis}Unit", MICROMETRE)) for axis in "XYZ"}
    interval, time_unit = _positive(pixels.get("TimeIncrement")), str(pixels.get("TimeIncrementUnit", "s"))
    return (*in_one_unit(sizes, units), interval, time_unit)


def in_one_unit(
    sizes: dict[str, float | None], units: dict[str, str | None]
) -> tuple[dict[str, float | None], str | None]:
    """``(sizes, unit)``: the axes' sizes in one unit, X's (lengths of :data:`METRES` converted,
    e.g. OME's nm across and µm along z); None for an axis whose unit cannot be converted."""
    known = [axis for axis in "XYZ" if sizes[axis] is not None]
    unit = units[known[0]] if known else None
    if unit not in METRES:  # no length known to convert into: the axes in that same unit only
        return {axis: sizes[axis] if units[axis] == unit else None for axis in "XYZ"}, unit

    def converted(axis: str) -> float | None:
        size, own = sizes[axis], units[axis]
        return None if size is None or own not in METRES else float(f"{size * METRES[own] / METRES[unit]:.12g}")

    return {axis: converted(axis) for axis in "XYZ"}, unit


def hyperstack(
    data: np.ndarray, channel_axis: int | None, time_axis: int | None = None, samples: bool = True
) -> tuple[np.ndarray, str, str]:
    """``(data, axes, photometric)`` laid out as ImageJ and OME store it: RGB uint8 as samples
    (``YXS``) where the input had them (``samples``), other channels before the plane (``CYX``,
    ``ZCYX``), a volume's slices first, time points (``time_axis`` 0) before all."""
    spatial = data.ndim - (channel_axis is not None) - (time_axis is not None)
    axes = ("T" if time_axis is not None else "") + "ZYX"[3 - spatial :]
    if channel_axis is None:
        return data, axes, "minisblack"
    data = np.moveaxis(data, channel_axis, -1)
    if samples and data.shape[-1] == 3 and data.dtype == np.uint8:
        return data, axes + "S", "rgb"
    return np.moveaxis(data, -1, -3), axes[:-2] + "CYX", "minisblack"


def tiff_write_options(
    metadata: PixelMetadata | None, data: np.ndarray, channel_axis: int | None, time_axis: int | None = None
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """``(data, tifffile.imwrite options)`` that write ``metadata``'s pixel size as the input
    file held it (ImageJ or OME; a time series with its T axis), or None when it has none or
    ``data``'s layout no longer fits it (its spatial axes, or a dtype ImageJ cannot hold)."""
    if metadata is None or metadata.kind is None or metadata.pixel_size is None:
        return None
    spatial = data.ndim - (channel_axis is not None) - (time_axis is not None)
    if spatial != len(metadata.pixel_size) or spatial not in (2, 3):
        return None
    if metadata.kind == "imagej" and data.dtype not in IMAGEJ_DTYPES:
        return None
    laid_out, axes, photometric = hyperstack(data, channel_axis, time_axis, metadata.samples)
    sizes = dict(zip("ZYX"[3 - spatial :], metadata.pixel_size))
    options: dict[str, Any] = {"photometric": photometric}
    if metadata.kind == "imagej":
        described: dict[str, Any] = {"axes": axes}
        if sizes.get("Z") is not None:
            described["spacing"] = sizes["Z"]
        if metadata.unit:
            described["unit"] = "micron" if metadata.unit == MICROMETRE else metadata.unit
        if sizes["X"] is not None and sizes["Y"] is not None:
            options["resolution"] = (1.0 / sizes["X"], 1.0 / sizes["Y"])
        if time_axis is not None and metadata.time_interval:
            described.update(finterval=metadata.time_interval, tunit=metadata.time_unit)
        options.update(imagej=True, metadata=described)
    else:
        described = {"axes": axes}
        for axis, size in sizes.items():
            if size is not None:
                described[f"PhysicalSize{axis}"] = size
                described[f"PhysicalSize{axis}Unit"] = metadata.unit or MICROMETRE
        if time_axis is not None and metadata.time_interval:
            described.update(TimeIncrement=metadata.time_interval, TimeIncrementUnit=metadata.time_unit)
        options.update(ome=True, metadata=described)
    return laid_out, options


def as_srgb(array: np.ndarray, profile: bytes | None, name: str = "the image") -> np.ndarray:
    """An 8-bit RGB ``array`` converted from its ICC ``profile`` to sRGB (littleCMS, through
    Pillow's ImageCms), for outputs that carry no profile and are shown as sRGB (GIF, MP4,
    WebM): a Display P3 or Adobe RGB photo keeps its colours there.  Every profile is
    converted (an sRGB one comes back unchanged: Pillow's own and a 1024-point-curve sRGB,
    QA; by its name, "Linear sRGB" was taken for sRGB and left 73 levels off).  Unchanged
    without a profile, with one that is not RGB, or for other layouts (grey, 16-bit: Pillow's
    ImageCms converts 8-bit images only); an unreadable profile is warned about (``name``) and
    the values are taken as sRGB.  The transform is built once per profile (an animation's
    frames share it: :func:`_to_srgb`)."""
    rgb = array.dtype == np.uint8 and array.ndim == 3 and array.shape[-1] == 3
    if not profile or not rgb or profile[16:20] != _ICC_SPACES[3]:
        return array
    from PIL import Image, ImageCms

    try:
        transform = _to_srgb(profile)
    except (OSError, ImageCms.PyCMSError) as exc:
        warnings.warn(f"{name}'s colour profile cannot be read ({exc}); its colours are taken as sRGB", UserWarning, stacklevel=2)
        return array
    return np.asarray(ImageCms.applyTransform(Image.fromarray(array), transform))


@functools.lru_cache(maxsize=8)
def _to_srgb(profile: bytes) -> Any:
    """littleCMS's transform of 8-bit RGB from ``profile`` to sRGB (perceptual intent, as
    ``ImageCms.profileToProfile``'s default)."""
    from PIL import ImageCms

    return ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), "RGB", "RGB")


def add_png_icc_profile(path: Path, profile: bytes) -> None:
    """Insert an ``iCCP`` chunk holding ``profile`` after the IHDR of the PNG at ``path``
    (for the 16-bit colour PNGs FFmpeg writes, which cannot carry one themselves)."""
    data = path.read_bytes()
    end_of_header = 8 + 8 + 13 + 4  # signature, IHDR's length and type, its 13 bytes, its CRC
    body = b"ICC profile\x00\x00" + zlib.compress(profile)
    chunk = struct.pack(">I", len(body)) + b"iCCP" + body + struct.pack(">I", zlib.crc32(b"iCCP" + body))
    path.write_bytes(data[:end_of_header] + chunk + data[end_of_header:])
