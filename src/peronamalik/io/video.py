"""Reading videos and animations one frame at a time: MP4, MOV, WebM, MKV, AVI, GIF (PyAV)
and animated WebP (Pillow, as FFmpeg's WebP decoder does not read animations).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from peronamalik._extras import require

av = require("av", "video")
Image = require("PIL.Image", "io")

_WEBP_MAGIC = (b"RIFF", b"WEBP")
_DEFAULT_FPS = 25.0


class VideoInfo(NamedTuple):
    """What :func:`probe` learns from a container without decoding it.

    ``frame_count`` is the container's count, estimated from its duration where it keeps
    none (WebM, MKV), and ``None`` where it knows neither.  ``fps`` falls back to 25 for
    containers without a frame rate.
    """

    frame_count: int | None
    fps: float
    width: int
    height: int
    has_audio: bool


def _existing_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"input {path} does not exist")
    if path.is_dir():
        raise ValueError(f"input {path} is a folder, not a video file")
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
        raise ValueError(f"cannot read {path}: not a video or animation FFmpeg can decode ({exc})") from exc
    name = container.format.name
    if not container.streams.video:
        container.close()
        raise ValueError(f"cannot read {path}: it holds no video stream (a truncated MP4 whose index is missing?)")
    if name == "image2" or name.endswith("_pipe"):
        container.close()
        raise ValueError(f"{path} is a still image, not a video or an animation")
    return container


def _open_webp(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ValueError(f"cannot read {path}: corrupt or truncated WebP ({exc})") from exc


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
                raise ValueError(f"cannot read {path}: corrupt or truncated WebP ({exc})") from exc
            duration_ms = image.info.get("duration") or 0
            fps = 1000.0 / duration_ms if duration_ms else _DEFAULT_FPS
            return VideoInfo(getattr(image, "n_frames", 1), fps, image.width, image.height, False)
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
        return VideoInfo(count, fps, context.width, context.height, bool(container.streams.audio))


def read_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Decode a video or an animated GIF/WebP one frame at a time, as uint8 RGB ``H×W×3``.

    Memory does not grow with the length of the file.  A truncated or partly corrupt file
    yields the frames it holds and then emits a ``UserWarning`` instead of failing.

    Raises
    ------
    ValueError
        At the call, not at the first frame: see :func:`probe`.
    """
    path = _existing_file(path)
    info = probe(path)
    return _webp_frames(path) if _is_webp(path) else _av_frames(path, info.frame_count)


def _webp_frames(path: Path) -> Iterator[np.ndarray]:
    with _open_webp(path) as image:
        for index in range(getattr(image, "n_frames", 1)):
            try:
                image.seek(index)
                frame = np.asarray(image.convert("RGB"))
            except (OSError, ValueError, EOFError) as exc:
                _warn_truncated(path, index, exc)
                return
            yield frame


def _av_frames(path: Path, expected: int | None) -> Iterator[np.ndarray]:
    with _open_container(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        packets = container.demux(stream)
        count, error = 0, None
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
                yield frame.to_ndarray(format="rgb24")
    if error is not None or (expected is not None and count < expected - 1):
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
