"""Reading and writing still images and volumes: PNG, JPEG, TIFF, .npy and Pillow's formats.

Readers keep the file's dtype (8-bit, 16-bit, float); writers convert a float result back
to the input's dtype where the output format can hold it.  Every failure to read is a
``ValueError`` that names the file.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from peronamalik._validate import InputError
from peronamalik._extras import require
from peronamalik.core.arrays import from_float, to_float_tensor, unit_scale
from peronamalik.core.layout import normalize_channel_axis

tifffile = require("tifffile", "io")
Image = require("PIL.Image", "io")
ImageOps = require("PIL.ImageOps", "io")

from peronamalik.io.metadata import (  # noqa: E402
    PixelMetadata, add_png_icc_profile, fitting_profile, hyperstack, tiff_metadata, tiff_write_options,
)

#: Most samples (pixels × channels, or voxels) a TIFF or .npy may hold: 2**28, i.e. 1 GiB
#: as float32.  Pillow's formats use Pillow's own limit, ``Image.MAX_IMAGE_PIXELS``.
MAX_SAMPLES = 1 << 28

_NPY_MAGIC = b"\x93NUMPY"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Pillow modes read as they are; the others become L (below) or RGB.
_KEPT_MODES = {"L", "RGB", "F", "I", "I;16", "I;16B", "I;16L"}
_TO_GREY_MODES = {"1", "LA", "La"}
_WITH_ALPHA_OR_PALETTE = {"P", "PA", "RGBA", "RGBa"}
# Pillow modes with an alpha channel (a palette image may have a transparent colour instead).
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
#: Pillow's formats that carry an ICC profile.
_ICC_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF", "JPEG2000", "AVIF"}
# Pillow formats whose "I" mode holds unsigned 16-bit samples.
_SIXTEEN_BIT_FORMATS = {"PNG", "PPM"}
# Pillow formats whose frames are an animation (APNG is "PNG"), of which only the first is
# read.  Not MPO (a photo plus its preview) nor PSD (the composite plus its layers).
_ANIMATED_FORMATS = {"GIF", "PNG", "WEBP", "FLI"}
_PILLOW_READ_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


@dataclass(frozen=True)
class LoadedImage:
    """An image or volume read from disk.

    Attributes
    ----------
    array : numpy.ndarray
        The samples in the file's dtype (uint8, uint16, float32, ...).
    channel_axis : int or None
        ``-1`` for colour images (RGB, last axis), ``None`` for grey images and volumes.
    format : str
        ``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"NPY"`` or another Pillow format name.
    frames : int
        Frames in the file (an animated GIF, PNG or WebP: more than 1), of which ``array``
        holds the first.
    alpha : bool
        The file had an alpha channel (or a transparent colour), which ``array`` leaves out.
    metadata : PixelMetadata
        The pixel size (ImageJ and OME TIFFs) and colour profile (ICC) the file holds;
        :func:`write_image` writes them back.
    time_axis : int or None
        ``0`` for a time series (an ImageJ or OME TIFF with a T axis): ``array[t]`` is the
        image or volume at time point t.  ``None`` otherwise.
    """

    array: np.ndarray
    channel_axis: int | None
    format: str
    frames: int = 1
    alpha: bool = False
    metadata: PixelMetadata = PixelMetadata()
    time_axis: int | None = None


def read_image(path: str | os.PathLike[str]) -> LoadedImage:
    """Read a 2-D image or an N-D volume, keeping its bit depth.

    The format is taken from the file's content, not its name.

    * TIFF (tifffile): 8/16/32-bit and float, grey or RGB, multi-page files as 3-D
      volumes (the first series).  Alpha and other extra samples are dropped.  ImageJ and
      OME channels go last (``channel_axis=-1``), a time axis first (``time_axis=0``).
    * ``.npy`` (``allow_pickle=False``): returned as is, ``channel_axis=None``.
    * PNG, JPEG and every other format Pillow reads: grey stays grey (uint8, or uint16
      for 16-bit PNG, grey+alpha included), colour becomes RGB (uint16 for 16-bit PNG).  Palette images become RGB; alpha is dropped
      (LA → L, RGBA/PA → RGB; pixels are not composited onto a background); 1-bit
      images become uint8 0/255.  EXIF orientation is applied.  Only the first frame of
      an animation (GIF, APNG, WebP) is read, with a warning.

    Parameters
    ----------
    path : path-like
        File to read.

    Returns
    -------
    LoadedImage

    Raises
    ------
    ValueError
        The file is missing, a folder, not an image, truncated or corrupt, or so large
        that it looks like a decompression bomb (see :data:`MAX_SAMPLES` and
        ``PIL.Image.MAX_IMAGE_PIXELS``).

    Warns
    -----
    UserWarning
        The file is an animation: it has N frames and only the first is read.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"input {path} does not exist")
    if path.is_dir():
        raise InputError(f"input {path} is a folder, not an image file")
    with open(path, "rb") as handle:
        magic = handle.read(32)
    if magic.startswith(_NPY_MAGIC):
        loaded = _read_npy(path)
    elif magic.startswith(_TIFF_MAGICS):
        loaded = _read_tiff(path)
    else:
        loaded = _read_pillow(path, magic)
    array = loaded.array
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * np.uint8(255)
    elif not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if loaded.frames > 1:
        warnings.warn(
            f"{path} has {loaded.frames} frames; only the first is read (the other {loaded.frames - 1} are dropped)",
            UserWarning,
            stacklevel=2,
        )
    channels = 1 if loaded.channel_axis is None else array.shape[loaded.channel_axis]
    profile = fitting_profile(loaded.metadata.icc_profile, channels)  # a CMYK photo's is not the RGB's
    return dataclasses.replace(loaded, array=array, metadata=dataclasses.replace(loaded.metadata, icc_profile=profile))


def _check_samples(path: Path, shape: tuple[int, ...]) -> None:
    samples = int(np.prod(shape, dtype=np.float64))
    if samples > MAX_SAMPLES:
        raise InputError(
            f"{path} holds {samples} samples (shape {shape}), more than the limit of {MAX_SAMPLES}: "
            "refusing to load it (a decompression bomb?)"
        )
    if samples == 0:
        raise InputError(f"{path} holds an empty image (shape {shape})")


def _read_npy(path: Path) -> LoadedImage:
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"cannot read {path} as .npy: {exc}") from exc
    if not isinstance(mapped, np.ndarray):
        raise InputError(f"{path} holds no single array")
    kind = mapped.dtype
    if not (np.issubdtype(kind, np.integer) or np.issubdtype(kind, np.floating) or kind == np.bool_):
        raise InputError(f"{path} holds dtype {kind}, not a real-valued image")
    _check_samples(path, mapped.shape)
    array = np.array(mapped)
    del mapped
    return LoadedImage(array, None, "NPY")


def _tiff_error(path: Path, exc: Exception) -> InputError:
    if "requires the 'imagecodecs' package" in str(exc):  # LZW, JPEG, ... compression
        return InputError(f"cannot read {path}: its compression needs the 'imagecodecs' package (pip install imagecodecs)")
    if isinstance(exc, tifffile.TiffFileError):
        return InputError(f"cannot read {path} as TIFF: {exc}")
    return InputError(f"cannot read {path}: corrupt or truncated TIFF ({exc})")


_TIFF_ERRORS = (tifffile.TiffFileError, OSError, ValueError, EOFError, struct.error, zlib.error, IndexError, KeyError)


def _read_tiff(path: Path) -> LoadedImage:
    """A TIFF through tifffile, its axes as the file names them: samples (S) and channels (C)
    last as colour or channels (alpha samples dropped), pages written one by one (one series
    each, of one shape) stacked as a volume; a time axis (T) first.  Palette, CMYK,
    YCbCr and float or signed min-is-white images go to Pillow."""
    photometric = tifffile.PHOTOMETRIC
    try:
        tif = tifffile.TiffFile(path)
    except _TIFF_ERRORS as exc:
        raise _tiff_error(path, exc) from exc
    with tif:
        try:
            every = tif.series
            series = every[0]
            kind, axes, keyframe = series.keyframe.photometric, series.axes, series.keyframe
            extras = tuple(keyframe.extrasamples)
        except _TIFF_ERRORS as exc:
            raise _tiff_error(path, exc) from exc
        inverted = kind == photometric.MINISWHITE and np.issubdtype(series.dtype, np.unsignedinteger)
        if kind not in (photometric.MINISBLACK, photometric.RGB) and not inverted:
            # Palette, min-is-white (float, signed), CMYK, YCbCr...: Pillow turns these into RGB or L.
            return _read_pillow(path, b"")
        pages = [one for one in every if (one.shape, one.dtype, one.axes) == (series.shape, series.dtype, axes)]
        # written page by page, one series each; an OME or ImageJ file's images are its own
        # (stage positions, say), not the slices of one volume
        if len(pages) > 1 and len(pages) == len(every) and not (tif.is_ome or tif.is_imagej):
            axes = "Q" + axes
        elif len(every) > 1:
            kinds = "images" if len(pages) == len(every) else "images of different kinds"
            warnings.warn(f"{path} holds {len(every)} {kinds}; only the first is read", UserWarning, stacklevel=3)
            pages = [series]
        _check_samples(path, (len(pages), *series.shape))
        try:
            array = np.stack([one.asarray() for one in pages]) if len(pages) > 1 else series.asarray()
        except _TIFF_ERRORS as exc:
            raise _tiff_error(path, exc) from exc
        time_axis = None
        if "T" in axes:  # first, as ImageJ and OME order it; the samples and channels go last
            array, axes, time_axis = np.moveaxis(array, axes.index("T"), 0), "T" + axes.replace("T", ""), 0
        metadata = tiff_metadata(tif, keyframe, axes)
    if inverted:
        array = np.iinfo(array.dtype).max - array  # min-is-white: stored as a negative
    channel_axis, alpha = None, False
    if "S" in axes:
        array = np.moveaxis(array, axes.index("S"), -1)
        # the samples past the colours (RGB) or the grey: data unless tagged alpha (1, 2)
        colours = 3 if kind == photometric.RGB else 1
        keep = [index for index in range(array.shape[-1])
                if index < colours or index - colours >= len(extras) or extras[index - colours] not in (1, 2)]
        alpha = len(keep) < array.shape[-1]
        array = array[..., keep]
        if array.shape[-1] == 1:
            array = array[..., 0]
        else:
            channel_axis = -1
    elif "C" in axes:  # an ImageJ or OME hyperstack's channels
        array, channel_axis = np.moveaxis(array, axes.index("C"), -1), -1
    return LoadedImage(np.ascontiguousarray(array), channel_axis, "TIFF", alpha=alpha, metadata=metadata, time_axis=time_axis)


#: 16-bit PNG colour types Pillow cuts to 8 bits (it reads grey+alpha as RGBA), and the
#: FFmpeg format that keeps their depth and drops the alpha: RGB, RGBA → RGB; grey+alpha → grey.
_PNG16_VIA_FFMPEG = {2: "rgb48le", 6: "rgb48le", 4: "gray16le"}


def _png16_format(magic: bytes) -> str | None:
    """The FFmpeg pixel format to read a 16-bit PNG of a kind Pillow cuts to 8 bits, else None
    (bit depth and colour type from the IHDR chunk)."""
    if magic.startswith(_PNG_MAGIC) and len(magic) >= 26 and magic[24] == 16:
        return _PNG16_VIA_FFMPEG.get(magic[25])
    return None


def _read_pillow(path: Path, magic: bytes) -> LoadedImage:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as opened:
                fmt = opened.format or "unknown"
                frames = _frame_count(opened)
                metadata = PixelMetadata(icc_profile=opened.info.get("icc_profile") or None)
                sixteen_bit = _png16_format(magic)
                if sixteen_bit is not None:
                    array = _read_png16(path, sixteen_bit)
                    return LoadedImage(array, -1 if array.ndim == 3 else None, fmt, frames, magic[25] in (4, 6), metadata)
                image = ImageOps.exif_transpose(opened)
                image.load()
        except Image.UnidentifiedImageError as exc:
            raise InputError(f"cannot read {path}: not an image file (or a format Pillow does not know)") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
        except _PILLOW_READ_ERRORS as exc:
            raise InputError(f"cannot read {path}: corrupt or truncated image ({exc})") from exc
    alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    array = pillow_array(image, fmt)
    return LoadedImage(array, -1 if array.ndim == 3 else None, fmt, frames, alpha, metadata)


def pillow_array(image: Image.Image, fmt: str | None = None) -> np.ndarray:
    """The samples of a Pillow image, their bit depth kept: modes L, RGB, F, I and I;16 as
    they are (the "I" of a PNG or PPM, ``fmt`` or the image's own format, as uint16); alpha
    and palette images as RGB, 1 and LA as L (``Image.convert("RGB")`` would cut a 16-bit or
    float image to 8 bits)."""
    mode = image.mode
    if mode not in _KEPT_MODES:
        if mode in _WITH_ALPHA_OR_PALETTE:
            image = image.convert("RGBA")
        image = image.convert("L" if mode in _TO_GREY_MODES else "RGB")
    array = np.asarray(image)
    if image.mode == "I" and (fmt or image.format) in _SIXTEEN_BIT_FORMATS:
        array = np.clip(array, 0, 65535).astype(np.uint16)
    return array


def _frame_count(opened: Image.Image) -> int:
    """Frames of an animation Pillow opened (1 for a still image): its ``n_frames``, or 1
    where counting them fails on a damaged later frame (the first still reads)."""
    if opened.format not in _ANIMATED_FORMATS:
        return 1
    try:
        return max(1, int(getattr(opened, "n_frames", 1)))
    except _PILLOW_READ_ERRORS:
        return 1


def _read_png16(path: Path, pixel_format: str) -> np.ndarray:
    """A 16-bit PNG that Pillow would cut to 8 bits, decoded by FFmpeg (PyAV) as ``pixel_format``."""
    av = require("av", "video")
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return np.ascontiguousarray(frame.to_ndarray(format=pixel_format))
    except (av.FFmpegError, StopIteration, ValueError) as exc:
        raise InputError(f"cannot read {path}: corrupt or truncated 16-bit PNG ({exc})") from exc


# --- writing -------------------------------------------------------------------------------

_TIFF_SUFFIXES = {".tif", ".tiff"}
_PNG_SUFFIXES = {".png"}
_ANY_DTYPE_SUFFIXES = _TIFF_SUFFIXES | {".npy"}


def _pillow_save_format(suffix: str) -> str | None:
    Image.init()
    fmt = Image.registered_extensions().get(suffix)
    return fmt if fmt in Image.SAVE else None


def check_image_output(
    path: str | os.PathLike[str], shape: tuple[int, ...] | None = None, channel_axis: int | None = None
) -> None:
    """Raise ``ValueError`` now if :func:`write_image` could not write ``path``.

    Parameters
    ----------
    path : path-like
        Output file; its extension picks the format (.png, .jpg/.jpeg, .tif/.tiff, .npy,
        or another extension Pillow can save, such as .bmp or .webp).
    shape, channel_axis : optional
        The array that will be written: PNG, JPEG and Pillow's formats hold only 2-D grey
        or RGB images, TIFF and .npy hold anything.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _ANY_DTYPE_SUFFIXES:
        return
    if _pillow_save_format(suffix) is None:
        known = ".png, .jpg, .tif, .npy"
        raise InputError(f"cannot write {path}: unknown image extension {suffix or '(none)'!r}; use {known}")
    if shape is not None:
        _flat_image_shape(path, shape, channel_axis)


def _flat_image_shape(path: Path, shape: tuple[int, ...], channel_axis: int | None) -> tuple[int, ...]:
    """The (H, W) or (H, W, 3) shape a flat image format can hold, else ``ValueError``."""
    if channel_axis is not None:
        axis = normalize_channel_axis(channel_axis, len(shape))
        shape = tuple(s for i, s in enumerate(shape) if i != axis) + (shape[axis],)
    if len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3)):
        return shape
    raise InputError(
        f"cannot write {path}: {path.suffix} holds a 2-D grey or RGB image, not an array of shape {shape}; "
        "write .tif or .npy instead"
    )


def output_dtype(path: str | os.PathLike[str], like_dtype: np.dtype | type) -> np.dtype:
    """The dtype :func:`write_image` stores for an input of ``like_dtype``.

    TIFF and .npy keep every dtype; PNG keeps uint8 and uint16 (other types go to 16 bits,
    8-bit types to 8 bits); JPEG and other Pillow formats store uint8.
    """
    like = np.dtype(like_dtype)
    suffix = Path(path).suffix.lower()
    if like == np.bool_:
        like = np.dtype(np.uint8)
    if suffix in _ANY_DTYPE_SUFFIXES:
        return like
    if suffix in _PNG_SUFFIXES and not (like.kind in "iu" and like.itemsize == 1):
        return np.dtype(np.uint16)
    return np.dtype(np.uint8)


def from_unit(array: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Map a float image back to ``dtype``: the inverse of the core's integer rule
    (:func:`peronamalik.core.arrays.from_float`: uint8/uint16 from [0, 1], other integers
    rounded and clipped, floats cast)."""
    return from_float(array, dtype)

def write_image(
    path: str | os.PathLike[str],
    array: np.ndarray,
    *,
    like_dtype: np.dtype | type,
    channel_axis: int | None = None,
    metadata: PixelMetadata | None = None,
    time_axis: int | None = None,
) -> None:
    """Write a float result as an image, in the input's dtype where the format allows.

    Parameters
    ----------
    path : path-like
        Destination; the extension picks the format (see :func:`check_image_output`).
        Written directly: wrap in :func:`peronamalik.io.atomic.atomic_output` for safety.
    array : numpy.ndarray
        Float image in the units the core gave it for an input of ``like_dtype``: [0, 1]
        for uint8/uint16 and unit floats, the values themselves for other integers (which
        a PNG or JPEG then stores unscaled, clipped to its 8 or 16 bits).
    like_dtype : dtype
        The input's dtype; the stored dtype is :func:`output_dtype` of it.
    channel_axis : int, optional
        Axis of the colour channels.  PNG/JPEG store them last; TIFF marks 3 channels
        (first or last axis) as RGB.
    metadata : PixelMetadata, optional
        The input's (:attr:`LoadedImage.metadata`): its colour profile goes into every
        format that holds one (TIFF, PNG, JPEG, WebP), its pixel size into a TIFF, as ImageJ
        or OME metadata as the input had it (ImageJ hyperstacks and OME-TIFFs store channels
        before the plane, RGB uint8 as samples), where the result's axes still fit it.
    time_axis : int, optional
        ``0`` for a time series (:attr:`LoadedImage.time_axis`): a TIFF with metadata stores
        it as its T axis.

    Raises
    ------
    ValueError
        Unknown extension, or a shape the format cannot hold.

    Warns
    -----
    UserWarning
        Once per call, when an integer format gets values it cannot hold (they are clipped):
        outside [0, 1], or for an integer input stored unscaled (int8, int16...) outside the
        stored dtype's range ([0, 255] or [0, 65535]), in the input's own values.
    """
    path = Path(path)
    check_image_output(path, np.shape(array), channel_axis)
    dtype = output_dtype(path, like_dtype)
    like = np.dtype(like_dtype)
    counts = like.kind in "iu" and unit_scale(like) is None and unit_scale(dtype) is not None
    _warn_if_clipped(path, array, dtype, like if counts else None)
    if counts:
        array = np.asarray(array, dtype=np.float64) / unit_scale(dtype)  # counts stay counts
    data = from_unit(array, dtype)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with open(path, "wb") as handle:
            np.save(handle, data, allow_pickle=False)
    elif suffix in _TIFF_SUFFIXES:
        _write_tiff(path, data, channel_axis, metadata, time_axis)
    else:
        _write_flat(path, data, channel_axis, None if metadata is None else metadata.icc_profile)


def _warn_if_clipped(path: Path, array: np.ndarray, dtype: np.dtype, counts_of: np.dtype | None) -> None:
    """Warn when ``dtype`` cannot hold ``array``: [0, 1], or with ``counts_of`` (an integer
    input whose values are stored unscaled) [0, 255] or [0, 65535], in the input's values."""
    scale = unit_scale(dtype)
    if scale is None:  # floats, and integers that keep their values
        return
    top = 1.0 if counts_of is None else scale
    values = np.asarray(array)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    if low < 0.0 or high > top:
        unscaled = "" if counts_of is None else f" ({counts_of} values are stored unscaled)"
        warnings.warn(
            f"values in [{low:.4g}, {high:.4g}] clipped to [0, {top:g}] to write {path.suffix} as {dtype}"
            f"{unscaled}; write .tif or .npy to keep them",
            UserWarning,
            stacklevel=3,
        )


def _write_tiff(
    path: Path, data: np.ndarray, channel_axis: int | None, metadata: PixelMetadata | None, time_axis: int | None
) -> None:
    profile = {} if metadata is None or metadata.icc_profile is None else {"iccprofile": metadata.icc_profile}
    calibrated = tiff_write_options(metadata, data, channel_axis, time_axis)
    if calibrated is not None:
        laid_out, options = calibrated
        tifffile.imwrite(path, laid_out, compression="zlib", **options, **profile)
        return
    if time_axis is not None and data.ndim - (channel_axis is not None) <= 4:
        # a series without ImageJ or OME metadata: tifffile's own axes keep its T axis
        laid_out, axes, photometric = hyperstack(data, channel_axis, time_axis, metadata is None or metadata.samples)
        tifffile.imwrite(path, laid_out, compression="zlib", photometric=photometric, metadata={"axes": axes}, **profile)
        return
    options: dict[str, object] = {"photometric": "minisblack"}
    if channel_axis is not None and data.ndim >= 3 and data.shape[channel_axis] == 3:
        axis = channel_axis % data.ndim
        if axis == data.ndim - 1:
            options = {"photometric": "rgb", "planarconfig": "contig"}
        elif axis == data.ndim - 3:
            options = {"photometric": "rgb", "planarconfig": "separate"}
    tifffile.imwrite(path, data, compression="zlib", **options, **profile)


def _write_flat(path: Path, data: np.ndarray, channel_axis: int | None, icc_profile: bytes | None) -> None:
    if channel_axis is not None:
        data = np.moveaxis(data, channel_axis, -1)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    data = np.ascontiguousarray(data)
    fmt = _pillow_save_format(path.suffix.lower())
    if data.dtype == np.uint16 and data.ndim == 3:
        _write_png_rgb48(path, data)
        if icc_profile:
            add_png_icc_profile(path, icc_profile)
        return
    options: dict[str, object] = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}  # 4:4:4 keeps colour edges
    if icc_profile and fmt in _ICC_FORMATS:
        options["icc_profile"] = icc_profile
    Image.fromarray(data).save(path, format=fmt, **options)


def _write_png_rgb48(path: Path, data: np.ndarray) -> None:
    """16-bit colour PNG (Pillow cannot write one), encoded by FFmpeg's PNG encoder (PyAV)."""
    av = require("av", "video")
    height, width = data.shape[:2]
    with av.open(str(path), "w", format="image2", options={"update": "1"}) as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb48be"
        frame = av.VideoFrame.from_ndarray(data, format="rgb48le")
        for packet in (*stream.encode(frame), *stream.encode(None)):
            container.mux(packet)


def side_by_side(before: np.ndarray, after: np.ndarray, *, channel_axis: int | None = None) -> np.ndarray:
    """A before/after picture for ``--compare``: input left, result right, a white gap between.

    Parameters
    ----------
    before : numpy.ndarray
        The input, in its own dtype (uint8/uint16 are mapped to [0, 1] like the core does).
    after : numpy.ndarray
        The float result, same shape.
    channel_axis : int, optional
        Colour axis of both; it ends up last.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], ``(H, 2W + gap)`` or ``(H, 2W + gap, C)``, to write with
        ``write_image(..., like_dtype=before.dtype)`` (uint16 for integers other than
        uint8 and uint16).  Volumes show their middle slice (the middle index of every
        leading spatial axis).  An input (float, or integer keeping its values) whose values
        leave [0, 1] is rescaled, together with the result, by the input's min and max.
    """
    if np.shape(before) != np.shape(after):
        raise InputError(f"before and after differ in shape: {np.shape(before)} vs {np.shape(after)}")
    left = to_float_tensor(before, device="cpu", name="before")[0].numpy().astype(np.float32)
    right = np.asarray(after, dtype=np.float32)
    if unit_scale(before.dtype) is None:  # floats and the integers that keep their values
        low, high = float(left.min()), float(left.max())
        if low < 0.0 or high > 1.0:
            scale = (high - low) or 1.0
            left, right = (left - low) / scale, (right - low) / scale
    if channel_axis is not None:
        left, right = np.moveaxis(left, channel_axis, -1), np.moveaxis(right, channel_axis, -1)
    spatial = left.ndim - (channel_axis is not None)
    while spatial > 2:
        left, right = left[left.shape[0] // 2], right[right.shape[0] // 2]
        spatial -= 1
    if spatial < 2:
        raise InputError(f"--compare needs an image with 2 or more spatial axes, got shape {np.shape(before)}")
    gap_shape = (left.shape[0], max(2, left.shape[1] // 100), *left.shape[2:])
    return np.concatenate([left, np.ones(gap_shape, np.float32), right], axis=1)
