"""Reading videos and animations one frame at a time: MP4, MOV, WebM, MKV, AVI, GIF (PyAV)
and animated WebP (Pillow, as FFmpeg's WebP decoder does not read animations).

Frames come out as players show them: the container's display matrix (a phone clip's
"rotate -90") is applied, as EXIF orientation is for photos, and YUV is turned into RGB with
the file's own matrix and range (:class:`Colour`).  ``read_frames(path, fps=...)`` resamples
to another frame rate by the frames' time stamps; :func:`frame_times` says when each frame
is shown, for a writer that keeps a variable frame rate.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np

from peronamalik._extras import require

av = require("av", "video")
Image = require("PIL.Image", "io")

from av.sidedata.sidedata import Type as SideDataType  # noqa: E402
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc  # noqa: E402

from peronamalik._validate import InputError

_WEBP_MAGIC = (b"RIFF", b"WEBP")
_WEBP_TIME_BASE = Fraction(1, 1000)  # WebP frame durations are whole milliseconds
_DEFAULT_FPS = 25.0
#: Untagged YUV at least this tall is taken as BT.709 (HD), smaller as BT.601, as players do.
_HD_HEIGHT = 720


class Colour(NamedTuple):
    """Colour properties of YUV video: FFmpeg's enum values (``AVColorSpace``, ...).

    ``space`` is the RGB↔YUV matrix, ``range`` limited (``ColorRange.MPEG``, 16-235) or full
    (``ColorRange.JPEG``); ``primaries`` and ``trc`` (transfer) are tags the pixels are not
    converted for.  :data:`BT709` is what the writers use for new videos.
    """

    space: int
    range: int
    primaries: int
    trc: int


BT709 = Colour(int(Colorspace.ITU709), int(ColorRange.MPEG), int(ColorPrimaries.BT709), int(ColorTrc.BT709))
BT601 = Colour(int(Colorspace.SMPTE170M), int(ColorRange.MPEG), int(ColorPrimaries.SMPTE170M), int(ColorTrc.SMPTE170M))
_UNSPECIFIED = 2  # AVCOL_SPC/PRI/TRC_UNSPECIFIED


def frame_colour(frame: av.VideoFrame) -> Colour:
    """The colour properties a decoded frame carries, untagged ones filled in as players do:
    BT.709 from 720 lines up, else BT.601; limited range unless the format is ``yuvj``."""
    default = BT709 if frame.height >= _HD_HEIGHT else BT601
    full = frame.format.name.startswith("yuvj")
    return Colour(
        frame.colorspace if frame.colorspace != _UNSPECIFIED else default.space,
        frame.color_range or (int(ColorRange.JPEG) if full else default.range),
        frame.color_primaries if frame.color_primaries != _UNSPECIFIED else default.primaries,
        frame.color_trc if frame.color_trc != _UNSPECIFIED else default.trc,
    )


def _rgb(frame: av.VideoFrame, colour: Colour) -> np.ndarray:
    """The frame as uint8 RGB, converted with its own matrix and range."""
    if frame.format.name.startswith(("yuv", "nv")):
        return frame.to_ndarray(format="rgb24", src_colorspace=colour.space, src_color_range=colour.range)
    return frame.to_ndarray(format="rgb24")


def display_matrix(frame: av.VideoFrame) -> tuple[int, int, int, int] | None:
    r"""The frame's display matrix ``(a, b, c, d)`` rounded to a multiple of 90°, or None.

    FFmpeg's convention: a decoded pixel at ``(x, y)`` is shown at
    :math:`(a x + c y,\ b x + d y)` (plus a shift), so rotations and mirrors are the
    matrices with entries in {-1, 0, 1}.
    """
    for data in frame.side_data:
        if data.type == SideDataType.DISPLAYMATRIX:
            m = np.frombuffer(bytes(data), dtype="<i4")
            a, b, c, d = (int(round(value / 65536)) for value in m[[0, 1, 3, 4]])
            if (a, b, c, d) != (1, 0, 0, 1) and abs(a * d - b * c) == 1:
                return a, b, c, d
    return None


def oriented(array: np.ndarray, matrix: tuple[int, int, int, int] | None) -> np.ndarray:
    """``array`` (``H×W×...``) as shown under :func:`display_matrix` ``matrix``.

    Diagonal matrices mirror (``a < 0`` left-right, ``d < 0`` top-bottom); anti-diagonal
    ones transpose, then mirror by the signs of ``c`` (columns) and ``b`` (rows): e.g.
    ``(0, 1, -1, 0)``, a rotation by -90° ("rotate 90 clockwise"), gives ``rot90(array, -1)``.
    """
    if matrix is None:
        return array
    a, b, c, d = matrix
    if a == 0:
        array, rows, cols = array.swapaxes(0, 1), b, c
    else:
        rows, cols = d, a
    return np.ascontiguousarray(array[:: 1 if rows > 0 else -1, :: 1 if cols > 0 else -1])


class VideoInfo(NamedTuple):
    """What :func:`probe` learns from a container without decoding it.

    ``frame_count`` is the container's count, estimated from its duration where it keeps
    none (WebM, MKV), and ``None`` where it knows neither.  ``fps`` falls back to 25 for
    containers without a frame rate.  ``width`` and ``height`` are those of the frames as
    shown (after the display rotation).  ``colour``: the first frame's :class:`Colour`
    (:data:`BT709` for RGB formats: GIF, WebP).  ``time_base``: the unit of the frames'
    time stamps, in seconds (WebP: a millisecond).
    """

    frame_count: int | None
    fps: float
    width: int
    height: int
    has_audio: bool
    colour: Colour = BT709
    time_base: Fraction = _WEBP_TIME_BASE


class FrameTimes(NamedTuple):
    """When the frames of a video are shown: frame ``i`` from ``starts[i] * time_base``
    seconds after the first frame's start, the last one until ``end * time_base``.

    Made by :func:`frame_times`; :class:`~peronamalik.io.animation.FrameWriter` writes frames
    at these times.
    """

    starts: tuple[int, ...]
    end: int
    time_base: Fraction

    def steady(self, fps: Fraction) -> bool:
        """Whether these are the times of a constant ``fps``: frame ``i`` starts at ``i / fps``
        and the last ends at ``len(starts) / fps``, each as closely as the time base holds
        them (within one of its units: Matroska's millisecond starts and durations are each
        rounded, so the end can be off by one)."""
        ticks = (*self.starts, self.end)
        return all(abs(tick * self.time_base - index / fps) <= self.time_base for index, tick in enumerate(ticks))


def _existing_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"input {path} does not exist")
    if path.is_dir():
        raise InputError(f"input {path} is a folder, not a video file")
    return path


def _is_webp(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(12)
    return head[:4] == _WEBP_MAGIC[0] and head[8:12] == _WEBP_MAGIC[1]


def _open_container(path: Path) -> av.container.InputContainer:
    """Open ``path`` with PyAV, insisting on a video stream that is not a still image."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot read {path}: not a video or animation FFmpeg can decode ({exc})") from exc
    name = container.format.name
    if not container.streams.video:
        container.close()
        raise InputError(f"cannot read {path}: it holds no video stream (a truncated MP4 whose index is missing?)")
    if container.streams.video[0].codec_context is None:
        container.close()
        raise InputError(f"cannot read {path}: FFmpeg knows no codec for its video stream (a truncated file?)")
    if name == "image2" or name.endswith("_pipe"):
        container.close()
        raise InputError(f"{path} is a still image, not a video or an animation")
    return container


def _open_webp(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise InputError(f"cannot read {path}: corrupt or truncated WebP ({exc})") from exc


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, frame rate, size and audio of a video or an animated GIF/WebP.

    Raises
    ------
    ValueError
        ``path`` is missing, a folder, a still image or not something FFmpeg decodes.
    """
    path = _existing_file(path)
    if _is_webp(path):
        with _open_webp(path) as image:
            try:
                image.load()  # the first frame's duration is known once it is decoded
            except (OSError, ValueError, EOFError) as exc:
                raise InputError(f"cannot read {path}: corrupt or truncated WebP ({exc})") from exc
            duration_ms = image.info.get("duration") or 0
            fps = 1000.0 / duration_ms if duration_ms else _DEFAULT_FPS
            count = getattr(image, "n_frames", 1)
            return VideoInfo(count, fps, image.width, image.height, False, BT709, _WEBP_TIME_BASE)
    with _open_container(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else _DEFAULT_FPS
        count: int | None = stream.frames or None
        if count is None:
            if stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = container.duration / av.time_base if container.duration else 0.0
            count = round(seconds * fps) or None
        context = stream.codec_context
        width, height, colour = context.width, context.height, BT709
        first = _first_frame(container, stream)
        if first is not None:
            matrix = display_matrix(first)
            if matrix is not None and matrix[0] == 0:
                width, height = height, width
            if first.format.name.startswith(("yuv", "nv")):
                colour = frame_colour(first)
        time_base = stream.time_base or Fraction(1, av.time_base)
        return VideoInfo(count, fps, width, height, bool(container.streams.audio), colour, time_base)


def _first_frame(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> av.VideoFrame | None:
    try:
        return next(container.decode(stream))
    except (av.FFmpegError, StopIteration):
        return None


def read_frames(path: str | os.PathLike[str], *, fps: float | None = None) -> Iterator[np.ndarray]:
    r"""Decode a video or an animated GIF/WebP one frame at a time, as writable uint8 RGB ``H×W×3``.

    Frames are shown upright (the display matrix applied) and in the file's colours (its
    YUV matrix and range).  Memory does not grow with the length of the file.  A truncated
    or partly corrupt file yields the frames it holds and then emits a ``UserWarning``
    instead of failing.

    Parameters
    ----------
    path : path-like
        The video or animation.
    fps : float, optional
        Resample to this rate: output frame :math:`i` is the input frame on screen at
        :math:`t_i = i / \text{fps}` (the last one starting at or before it), for
        :math:`i < \lceil T \cdot \text{fps} \rceil` with :math:`T` the input's duration,
        so the length in seconds (and the sync with the audio) is kept.  None: every frame.

    Raises
    ------
    ValueError
        At the call, not at the first frame: see :func:`probe`; ``fps`` not positive.
    """
    path = _existing_file(path)
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, got {fps!r}")
    timed = _timed(path, probe(path))
    if fps is None:
        return (frame for _, _, frame in timed)
    return resample(timed, fps)


def frame_times(path: str | os.PathLike[str]) -> FrameTimes:
    """When each frame of a video or animation is shown, from its time stamps (an animated
    WebP: its frame durations), as :func:`read_frames` reads them.

    The file is decoded once more, without turning the frames into RGB; a truncated file
    gives the times of the frames it holds (the warning is :func:`read_frames`' to give).

    Raises
    ------
    ValueError
        See :func:`probe`.
    """
    path = _existing_file(path)
    info = probe(path)
    starts, end = [], _End()
    for start, duration, _ in _from_first(_timed(path, info, pixels=False)):
        starts.append(round(start / info.time_base))
        end.add(start, duration)
    return FrameTimes(tuple(starts), round(end.seconds / info.time_base), info.time_base)


#: ``(start, duration, frame)`` in seconds; the frame None where only the times are read.
_Timed = tuple[Fraction, Fraction, "np.ndarray | None"]


def _timed(path: Path, info: VideoInfo, *, pixels: bool = True) -> Iterator[_Timed]:
    """``(start, duration, frame)`` of every frame of ``path`` in seconds; the frames are
    None without ``pixels`` (and a truncated file is not warned about)."""
    if _is_webp(path):
        return _webp_frames(path, pixels)
    return _av_frames(path, info.fps, pixels)


class _End:
    """The end of a video: that of its frame shown last (the latest start; in a file with
    B-frames the durations of the others may be those of other frames)."""

    def __init__(self) -> None:
        self.start, self.seconds = Fraction(0), Fraction(0)

    def add(self, start: Fraction, duration: Fraction) -> None:
        if start >= self.start:
            self.start, self.seconds = start, start + duration


def _from_first(timed: Iterable[_Timed]) -> Iterator[_Timed]:
    """``timed`` with every start measured from the first frame's."""
    origin = None
    for start, duration, frame in timed:
        origin = start if origin is None else origin
        yield start - origin, duration, frame


def resample(timed: Iterable[_Timed], fps: float) -> Iterator[np.ndarray]:
    r"""Frames at ``fps`` from ``(start, duration, frame)`` triples in time order (seconds).

    Output frame :math:`i` is the last input frame with start :math:`\le i / \text{fps}`
    (times measured from the first frame's start); frames go on while
    :math:`i / \text{fps}` is before the end of the input frame that starts last.
    """
    index, current, end = 0, None, _End()
    for start, duration, frame in _from_first(timed):
        while current is not None and index / fps < start - 1e-9:
            yield current
            index += 1
        current = frame
        end.add(start, duration)
    while current is not None and index / fps < end.seconds - 1e-9:
        yield current
        index += 1


def _webp_frames(path: Path, pixels: bool) -> Iterator[_Timed]:
    start = Fraction(0)
    with _open_webp(path) as image:
        for index in range(getattr(image, "n_frames", 1)):
            try:
                image.seek(index)
                image.load()  # the frame's duration is known once it is decoded
                # writable, as PyAV's frames (asarray's is not)
                frame = np.array(image.convert("RGB")) if pixels else None
            except (OSError, ValueError, EOFError) as exc:
                if pixels:
                    _warn_truncated(path, index, exc)
                return
            duration = (image.info.get("duration") or round(1000 / _DEFAULT_FPS)) * _WEBP_TIME_BASE
            yield start, duration, frame
            start += duration


def _av_frames(path: Path, fps: float, pixels: bool) -> Iterator[_Timed]:
    """``(start, duration, frame)`` of every decoded frame, in seconds: its time stamp and
    duration, or one frame at ``fps`` where it has none.  A decoding error, or fewer frames
    than the container's own count (MP4's; Matroska and WebM hold none, and duration × rate
    is no count for a variable rate: a screen recording read 8 of "95"), is warned about."""
    step = 1 / Fraction(fps)
    with _open_container(path) as container:
        stream = container.streams.video[0]
        expected = stream.frames or None
        stream.thread_type = "AUTO"
        packets = container.demux(stream)
        count, error, start = 0, None, Fraction(0)
        while error is None:
            try:
                frames = stream.decode(next(packets))
            except StopIteration:
                break
            except av.FFmpegError as exc:
                error = exc
                frames = _flush(stream)
            for frame in frames:
                count += 1
                timed = frame.pts is not None and frame.time_base
                start = frame.pts * frame.time_base if timed else start + step
                duration = frame.duration * frame.time_base if frame.duration and frame.time_base else step
                rgb = oriented(_rgb(frame, frame_colour(frame)), display_matrix(frame)) if pixels else None
                yield start, duration, rgb
    if pixels and count == 0:  # nothing to show: an error of the input, not a warning and then another
        raise InputError(f"{path} holds no frame that decodes" + (f" ({error})" if error is not None else ""))
    if pixels and (error is not None or (expected is not None and count < expected - 1)):
        _warn_truncated(path, count, error)


def _flush(stream: av.video.stream.VideoStream) -> list[av.VideoFrame]:
    """The frames a decoder still holds after an error, if it gives them."""
    try:
        return stream.decode(None)
    except av.FFmpegError:
        return []


def _warn_truncated(path: Path, count: int, error: Exception | None) -> None:
    reason = f": {error}" if error is not None else ""
    warnings.warn(
        f"{path} looks truncated or corrupt; read the {count} frames it holds{reason}",
        UserWarning,
        stacklevel=3,
    )
