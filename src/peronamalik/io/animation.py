"""Streaming, atomic writers for animations and videos, and the matching readers.

:func:`open_frame_writer` picks the output kind from the path:

======================  ===========================================================
``.gif``                looping GIF, an adaptive palette per frame (:data:`GIF_QUALITIES`);
                        at most 50 fps (browsers play shorter delays at 10 fps)
``.webp``               looping animated WebP (lossy, quality 85); at most 50 fps
``.mp4`` / ``.mkv``     H.264 (yuv420p, CRF 18); odd sizes are padded to even (a photo
                        ``render`` animates is resized to even sides instead:
                        :func:`needs_even_size`)
``.webm``               VP9 (CRF 32)
``.png``                the last frame only
a folder                numbered PNG frames ``frame_00000.png`` ...: an existing folder,
                        or a path that ends in ``/``
======================  ===========================================================

Frames last ``1 / fps`` each, or keep the times they are given (:class:`FrameWriter`'s
``times``: a variable frame rate): as time stamps in .mp4, .mkv and .webm, as frame delays
in .gif and .webp.

Every kind streams: frames are encoded as they arrive, so memory does not grow with their
number (``.png`` keeps one frame).  GIF is encoded by Pillow (palettes from its fast octree
quantiser, LZW by its GIF encoder), everything else in-process by FFmpeg's libraries
through PyAV.  H.264 and VP9 are converted with, and tagged as, BT.709 limited range unless
a :class:`~peronamalik.io.video.Colour` is given (``video`` passes its input's).  The same
frames give the same bytes, on any run and whatever the number of cores (:data:`_H264`).

Stop signals (Ctrl-C, SIGTERM, SIGHUP) are held back while a frame is encoded and while the
file is completed (:func:`~peronamalik.io.interrupts.deferred_signals`), so an interrupted
output holds exactly :attr:`FrameWriter.frames_written` whole frames.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from peronamalik._validate import InputError, InputTypeError
from peronamalik._extras import require
from peronamalik.io.atomic import AtomicTarget, check_target, naming_the_file
from peronamalik.io.audio import AudioCopy
from peronamalik.io.gif import GIF_QUALITIES, GifQuality, GifSink
from peronamalik.io.interrupts import deferred_signals
from peronamalik.io.video import BT709, Colour, FrameTimes, VideoInfo, probe, read_frames

av = require("av", "video")
Image = require("PIL.Image", "io")

__all__ = [
    "FrameWriter",
    "GIF_QUALITIES",
    "GifQuality",
    "VideoInfo",
    "check_output",
    "check_output_kind",
    "open_frame_writer",
    "probe",
    "read_frames",
]

FOLDER = "folder"
FRAME_NAME = "frame_{:05d}.png"
_FRAME_FILE = re.compile(r"frame_\d{5,}\.png")


@dataclass(frozen=True)
class _VideoFormat:
    """How one extension is encoded with PyAV."""

    codec: str
    pix_fmt: str
    options: Mapping[str, str] = field(default_factory=dict)
    container_options: Mapping[str, str] = field(default_factory=dict)
    even: bool = False  # yuv420p H.264 needs even width and height
    audio_encoder: str | None = None  # None: the container takes no audio
    max_fps: Fraction | None = None  # browsers play shorter frame delays slowly
    tagged: bool = False  # the stream carries colour properties (matrix, range, primaries, transfer)
    threads: int = 0  # frame threads of the encoder; 0: the codec's choice (its output does not depend on it)
    single_packet: bool = False  # the encoder gives one packet for the whole animation, at the end (WebP)
    decoding_order: bool = False  # the container times frames in decoding order (MP4: a duration per sample)


#: H.264 at CRF 18.  Its bytes depend only on the frames: libx264's output changes with its
#: thread count (PyAV's default asks for one slice per core, so it followed the machine), and
#: its AVX-512 macroblock-tree code reads memory it never wrote (the bytes changed between runs
#: on AVX-512 CPUs, with glibc's MALLOC_PERTURB_, and not with mbtree off or AVX-512 masked).
#: So: a fixed number of frame threads, and no macroblock tree (a 320×240 clip of 60 stylised
#: frames: 7 % larger, PSNR 0.03 dB higher; encoding as fast as before).
_H264 = {"crf": "18", "preset": "medium", "mbtree": "0"}
_H264_THREADS = 4
#: Matroska (.mkv, .webm) writes random track and segment UIDs unless asked to be bit-exact.
_MATROSKA = {"fflags": "+bitexact"}
_BROWSER_MAX_FPS = Fraction(50)  # delays under 20 ms are played as 100 ms
_VIDEO_FORMATS: dict[str, _VideoFormat] = {
    ".webp": _VideoFormat(
        "libwebp_anim", "yuv420p", {"quality": "85"}, {"loop": "0"}, max_fps=_BROWSER_MAX_FPS, single_packet=True
    ),
    ".mp4": _VideoFormat(
        "libx264", "yuv420p", _H264, {"movflags": "+faststart"}, True, "aac", tagged=True, threads=_H264_THREADS,
        decoding_order=True,
    ),
    ".mkv": _VideoFormat(
        "libx264", "yuv420p", _H264, {**_MATROSKA, "avoid_negative_ts": "disabled"}, True, "aac", tagged=True,
        threads=_H264_THREADS,
    ),
    ".webm": _VideoFormat(
        "libvpx-vp9", "yuv420p", {"crf": "32", "b": "0", "cpu-used": "5", "row-mt": "1"}, _MATROSKA, False,
        "libopus", tagged=True,
    ),
}
KINDS = ("gif", *(suffix[1:] for suffix in _VIDEO_FORMATS), "png", FOLDER)


def check_output_kind(path: str | os.PathLike[str]) -> str:
    """The kind of output ``path`` names: one of :data:`KINDS`.

    A path that ends in ``/`` (or the OS separator), or an existing folder, is a folder of
    numbered PNG frames; otherwise the extension decides (case-insensitive).

    Raises
    ------
    ValueError
        Unknown or missing extension.
    """
    text = os.fspath(path)
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        return FOLDER
    suffix = Path(text).suffix.lower()
    if suffix in _VIDEO_FORMATS or suffix in (".gif", ".png"):
        return suffix[1:]
    allowed = ", ".join(f".{kind}" for kind in KINDS if kind != FOLDER)
    what = f"unknown extension {suffix!r}" if suffix else "no extension"
    raise InputError(f"cannot write {text}: {what}; use {allowed}, or a folder name ending in '/'")


def needs_even_size(path: str | os.PathLike[str]) -> bool:
    """Whether ``path``'s format stores only even widths and heights (H.264 in yuv420p:
    .mp4, .mkv); the writer pads other frames with a copy of their last row or column."""
    spec = _VIDEO_FORMATS.get(Path(os.fspath(path)).suffix.lower())
    return spec is not None and spec.even


def check_output(path: str | os.PathLike[str], *, overwrite: bool) -> str:
    """:func:`check_output_kind` plus the checks of an atomic write, done before any work.

    A folder that already holds files is replaced only with ``overwrite``, and only when
    it holds nothing but ``frame_NNNNN.png`` files (so a mistyped ``-o ~/Pictures/``
    cannot wipe a photo collection).

    Raises
    ------
    ValueError
        Unknown kind, missing parent folder, or an existing output without ``overwrite``.
    """
    kind = check_output_kind(path)
    if kind == FOLDER and Path.cwd().resolve().is_relative_to(Path(path).resolve()):
        # a folder is replaced by renaming a new one onto it: not the one a process works in
        raise InputError(f"-o {path} is the current folder or holds it: name a new folder for the frames (-o frames/)")
    target = check_target(path, overwrite=overwrite, directory=kind == FOLDER)
    if kind == FOLDER and target.is_dir():
        foreign = [entry.name for entry in target.iterdir() if not _FRAME_FILE.fullmatch(entry.name)]
        if foreign:
            raise InputError(
                f"{target} holds files other than numbered frames (e.g. {foreign[0]!r}); "
                "refusing to replace it: pick another folder"
            )
    return kind


def _check_fps(fps: float | Fraction) -> Fraction:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)) or not 0.001 <= fps < 1000:
        raise InputError(f"fps must be a number in [0.001, 1000), got {fps!r}")  # 1/1001 rounds to 0
    return Fraction(fps).limit_denominator(1001)


def _max_fps(path: Path) -> Fraction | None:
    """The highest rate browsers play ``path``'s format at (None: no ceiling)."""
    suffix = path.suffix.lower()
    spec = _VIDEO_FORMATS.get(suffix)
    return _BROWSER_MAX_FPS if suffix == ".gif" else None if spec is None else spec.max_fps


def _playable_fps(fps: Fraction, path: Path) -> Fraction:
    """``fps``, or the format's ceiling with a warning when browsers would play it slower."""
    ceiling = _max_fps(path)
    if ceiling is None or fps <= ceiling:
        return fps
    warnings.warn(
        f"{path.suffix} plays at most {ceiling} fps in browsers (frame delays of at least "
        f"{1000 / float(ceiling):.0f} ms); writing {path} at {ceiling} fps instead of {float(fps):g}",
        UserWarning,
        stacklevel=3,
    )
    return ceiling


def playable_fps(path: str | os.PathLike[str], fps: float) -> float:
    """The frame rate ``path``'s format plays as written: ``fps``, or the format's ceiling
    (GIF and WebP: 50 fps, browsers play shorter delays slowly) with a warning.  A caller
    whose frames are samples in time (``video``) resamples to it, so the length is kept."""
    _check_fps(fps)  # NaN, infinity or out of range: one InputError, before Fraction() raises
    return float(_playable_fps(Fraction(fps), Path(path)))


def _check_frame(frame: np.ndarray, shape: tuple[int, ...] | None) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        kind = getattr(frame, "dtype", type(frame).__name__)
        raise InputTypeError(f"frames must be uint8 numpy arrays, got {kind}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(f"frames must have shape (height, width, 3), got {frame.shape}")
    if shape is not None and frame.shape != shape:
        raise InputError(f"all frames must have one shape: first {shape}, now {frame.shape}")
    return np.ascontiguousarray(frame)


class _Sink:
    """One way of storing frames in a temporary path: the part that differs per kind (GIF's is
    :class:`~peronamalik.io.gif.GifSink`, of the same three methods)."""

    def write(self, frame: np.ndarray, start: Fraction, end: Fraction) -> None:
        """Add ``frame``, shown from ``start`` to ``end`` seconds."""
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the file; called once, after at least one frame."""

    def abort(self) -> None:
        """Release resources without completing the file."""


class _FolderSink(_Sink):
    def __init__(self, folder: Path) -> None:
        self.folder, self.index = folder, 0

    def write(self, frame: np.ndarray, start: Fraction, end: Fraction) -> None:
        Image.fromarray(frame).save(self.folder / FRAME_NAME.format(self.index))
        self.index += 1


class _LastFrameSink(_Sink):
    def __init__(self, path: Path) -> None:
        self.path, self.last = path, None

    def write(self, frame: np.ndarray, start: Fraction, end: Fraction) -> None:
        self.last = frame.copy()

    def finish(self) -> None:
        Image.fromarray(self.last).save(self.path, format="PNG")


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Replicate the last row/column where the height/width is odd."""
    pad = ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0))
    return np.pad(frame, pad, mode="edge") if any(p[1] for p in pad) else frame


def _tagged_frame(frame: np.ndarray, pix_fmt: str, colour: Colour) -> av.VideoFrame:
    """RGB converted to ``pix_fmt`` with ``colour``'s matrix and range, and tagged with it."""
    return av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
        format=pix_fmt,
        dst_colorspace=colour.space,
        dst_color_range=colour.range,
        dst_color_primaries=colour.primaries,
        dst_color_trc=colour.trc,
    )


class _PyAVSink(_Sink):
    """WebP, MP4, MKV and WebM through PyAV, opened on the first frame (to know its size).

    Frames are stamped in ``time_base`` (``1 / fps`` at a constant rate), and each packet
    gets its frame's duration, which the encoders leave at 0 (the muxer then takes the
    nominal rate's for the last frame).  ``kept_times``: the frames keep times they were
    given; MP4, which ends where its last frame in decoding order does (with B-frames not
    the last one shown, whose length is then another's), is written without B-frames, and
    an animated WebP's last frame gets its own length (FFmpeg does not tell libwebp when it
    ends, and libwebp gives it the mean of the others').
    """

    def __init__(
        self, path: Path, spec: _VideoFormat, fps: Fraction, time_base: Fraction, kept_times: bool,
        audio_from: Path | None, colour: Colour,
    ) -> None:
        self.path, self.spec, self.fps, self.time_base, self.colour = path, spec, fps, time_base, colour
        self.kept_times = kept_times
        self.audio_from = audio_from if spec.audio_encoder else None
        self.container: av.container.OutputContainer | None = None
        self.stream: av.video.stream.VideoStream | None = None
        self.audio: AudioCopy | None = None
        self.end = Fraction(0)  # when the last frame written ends
        self.durations: dict[int, int] = {}  # of the frames in the encoder, by time stamp

    def _open(self, height: int, width: int) -> None:
        self.container = av.open(str(self.path), "w", options=dict(self.spec.container_options))
        options = dict(self.spec.options)
        if self.kept_times and self.spec.decoding_order:
            options["bf"] = "0"  # no B-frames
        stream = self.container.add_stream(self.spec.codec, rate=self.fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, self.spec.pix_fmt
        context = stream.codec_context
        context.time_base = self.time_base
        if self.spec.threads:
            context.thread_type, context.thread_count = "FRAME", self.spec.threads
        if self.spec.tagged:
            context.colorspace, context.color_range = self.colour.space, self.colour.range
            context.color_primaries, context.color_trc = self.colour.primaries, self.colour.trc
        self.stream = stream
        if self.audio_from is not None:
            self.audio = AudioCopy.open(self.audio_from, self.container, self.spec.audio_encoder)

    def write(self, frame: np.ndarray, start: Fraction, end: Fraction) -> None:
        if self.spec.even:
            frame = _pad_to_even(frame)
        if self.container is None:
            self._open(*frame.shape[:2])
        if self.spec.tagged:
            video_frame = _tagged_frame(frame, self.spec.pix_fmt, self.colour)
        else:
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        video_frame.pts, video_frame.time_base = int(start / self.time_base), self.time_base
        video_frame.duration = int((end - start) / self.time_base)
        if not self.spec.single_packet:
            self.durations[video_frame.pts] = video_frame.duration
        self._mux(self.stream.encode(video_frame))
        self.end = end
        if self.audio is not None:
            self.audio.copy_until(end)

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            packet.duration = self.durations.pop(packet.pts, packet.duration)
        self.container.mux(packets)

    def finish(self) -> None:
        self._mux(self.stream.encode(None))
        if self.audio is not None:
            self.audio.finish(self.end)
        self.container.close()
        if self.kept_times and self.spec.single_packet:
            _end_webp_at(self.path, math.floor(1000 * self.end))

    def abort(self) -> None:
        if self.audio is not None:
            self.audio.close()
        if self.container is not None:
            try:
                self.container.close()
            except av.FFmpegError:
                pass


def _end_webp_at(path: Path, milliseconds: int) -> None:
    """Make the last frame of the animated WebP ``path`` end ``milliseconds`` after the first
    starts: its duration (the 24-bit field after the frame's position and size in its ANMF
    chunk) is what the others leave."""
    data = bytearray(path.read_bytes())
    offset, field, elapsed = 12, None, 0  # chunks follow "RIFF", the size and "WEBP"
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        if data[offset : offset + 4] == b"ANMF":
            if field is not None:
                elapsed += int.from_bytes(data[field : field + 3], "little")
            field = offset + 8 + 12
        offset += 8 + size + size % 2
    if field is None:  # one frame: a still image, which has no duration
        return
    data[field : field + 3] = max(milliseconds - elapsed, 1).to_bytes(3, "little")
    path.write_bytes(data)


def _kept_times(times: FrameTimes | None, fps: Fraction) -> FrameTimes | None:
    """The ``times`` a writer at ``fps`` keeps: None where there are none, where they are
    those of ``fps`` (the constant-rate encoding is kept as it is), and, with a warning,
    where they do not increase (a broken file's time stamps)."""
    if times is None or times.steady(fps):
        return None
    ticks = (*times.starts, times.end)
    repeated = next((index for index in range(1, len(ticks)) if ticks[index] <= ticks[index - 1]), None)
    if repeated is not None:
        what = "the last frame ends" if repeated == len(times.starts) else f"frame {repeated} starts"
        warnings.warn(
            f"the frames' times do not increase ({what} at {float(ticks[repeated] * times.time_base):g} s, "
            f"not after the frame before it); every frame is written at {float(fps):g} fps",
            UserWarning,
            stacklevel=4,
        )
        return None
    return times


class FrameWriter:
    """A streaming, atomic writer of an animation or video (also :func:`open_frame_writer`).

    Frames go to a temporary beside the target, which is renamed into place when done.  Use
    it in a ``with`` block and call ``.write(frame)`` for each uint8 ``H×W×3`` frame.  On a
    clean exit, and on ``KeyboardInterrupt`` once at least one frame is written, the file is
    completed with the frames written so far and moved into place (the interrupt then
    propagates).  Any other exception removes the temporary and leaves the target untouched.
    A stop signal waits while a frame is written and while the file is completed, so the
    file holds exactly :attr:`frames_written` frames; an ``OSError`` (a full disk) names the
    target.

    Parameters
    ----------
    path : path-like
        Output; its kind follows :func:`check_output_kind` (table in the module doc).
        Checked at once: an unknown kind or an existing output without ``overwrite``
        raise before any frame is made.
    fps : float or fractions.Fraction
        Frames per second (a float is turned into the nearest fraction with a denominator
        up to 1001, so 29.97... becomes 30000/1001).  GIF stores delays in 1/100 s (rounded
        so that they add up to the exact length).  GIF and WebP above 50 fps are written at
        50 fps with a ``UserWarning`` (browsers play frame delays under 20 ms at 10 fps).
    times : FrameTimes, optional
        When each frame is shown (:func:`~peronamalik.io.video.frame_times` of a video with a
        variable frame rate): frame ``i`` from ``times.starts[i]`` (in ``times.time_base``)
        until the next one starts, the last until ``times.end``.  Kept as time stamps in
        that time base by .mp4, .mkv and .webm, as delays by .gif (in 1/100 s, rounded as
        for ``fps``) and .webp (in ms), so a frame shown for 0.5 s in the input lasts 0.5 s
        here and the audio stays in step; ``fps`` is then only the nominal rate (none is
        capped).  Times that are those of ``fps`` change nothing; times that do not increase
        are dropped with a ``UserWarning``.  More frames than times raise ``ValueError``.
    overwrite : bool
        Replace an existing output.
    audio_from : path-like, optional
        A video whose audio track is copied into .mp4/.mkv/.webm outputs (re-encoded when
        the container does not take its codec).  Ignored for other kinds and when the
        source has no audio.
    dither : bool
        GIF only: Floyd-Steinberg dithering against each frame's palette (smoother
        gradients, some shimmer between frames, larger files).
    colour : Colour
        Matrix, range and tags of .mp4/.mkv/.webm (default BT.709 limited range).
    gif_quality : {"high", "medium", "low"}
        GIF only: palettes of 255, 63 or 31 colours (:data:`GIF_QUALITIES`, with the sizes
        and errors measured on the default ``art`` run).

    Attributes
    ----------
    path : pathlib.Path
        The final output.
    kind : str
        One of :data:`KINDS`.
    frames_written : int
        Frames accepted so far.
    fps : fractions.Fraction
        The frame rate written (capped as said under ``fps``).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "spin.gif"
    >>> with open_frame_writer(out, fps=10, overwrite=False) as writer:
    ...     for i in range(3):
    ...         writer.write(np.full((16, 16, 3), 80 * i, np.uint8))
    >>> probe(out).frame_count
    3
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float | Fraction,
        overwrite: bool,
        audio_from: str | os.PathLike[str] | None = None,
        dither: bool = False,
        colour: Colour = BT709,
        gif_quality: str = "high",
        times: FrameTimes | None = None,
    ) -> None:
        if gif_quality not in GIF_QUALITIES:
            raise InputError(f"gif_quality must be one of {', '.join(GIF_QUALITIES)}, not {gif_quality!r}")
        self.kind = check_output(path, overwrite=overwrite)
        rate = _check_fps(fps)
        if audio_from is not None and not Path(audio_from).is_file():
            raise InputError(f"cannot copy audio from {audio_from}: no such file")
        self._pending = AtomicTarget(path, overwrite=overwrite, directory=self.kind == FOLDER)
        self.path = self._pending.target
        temp = self._pending.temp
        self._times = None if self.kind in (FOLDER, "png") else _kept_times(times, rate)
        if self.kind == FOLDER:
            self._sink: _Sink = _FolderSink(temp)
        elif self.kind == "png":
            self._sink = _LastFrameSink(temp)
        else:
            if self._times is None:
                rate = _playable_fps(rate, self.path)
            if self.kind == "gif":
                self._sink = GifSink(temp, dither, GIF_QUALITIES[gif_quality])
            else:
                source = None if audio_from is None else Path(audio_from)
                time_base = 1 / rate if self._times is None else self._times.time_base
                spec = _VIDEO_FORMATS[f".{self.kind}"]
                self._sink = _PyAVSink(temp, spec, rate, time_base, self._times is not None, source, colour)
        self.fps = rate
        self.frames_written = 0
        self._shape: tuple[int, ...] | None = None
        self._open = True

    def write(self, frame: np.ndarray) -> None:
        """Encode one uint8 ``H×W×3`` RGB frame; every frame must have the first one's shape."""
        if not self._open:
            raise RuntimeError(f"the writer of {self.path} is closed")
        frame = _check_frame(frame, self._shape)
        start, end = self._span(self.frames_written)
        self._shape = frame.shape
        with deferred_signals():
            try:
                self._sink.write(frame, start, end)
            except OSError as exc:
                self.abort()
                raise naming_the_file(exc, self.path, self._pending.temp) from exc
            self.frames_written += 1

    def _span(self, index: int) -> tuple[Fraction, Fraction]:
        """When frame ``index`` starts and ends, in seconds."""
        if self._times is None:
            return index / self.fps, (index + 1) / self.fps
        starts, time_base = self._times.starts, self._times.time_base
        if index >= len(starts):
            raise InputError(f"{len(starts)} frame times were given: frame {index} has none")
        end = starts[index + 1] if index + 1 < len(starts) else self._times.end
        return starts[index] * time_base, end * time_base

    def close(self) -> Path:
        """Complete the output and move it into place; returns its path.

        Raises
        ------
        ValueError
            No frame was written (nothing is left on disk then).
        """
        if not self._open:
            return self.path
        self._open = False
        if self.frames_written == 0:
            self._discard()
            raise InputError(f"no frames were written; {self.path} was not created")
        with deferred_signals():
            try:
                self._sink.finish()
                return self._pending.commit()
            except OSError as exc:
                self._discard()
                raise naming_the_file(exc, self.path, self._pending.temp) from exc
            except BaseException:
                self._discard()
                raise

    def abort(self) -> None:
        """Drop everything written; the target is left as it was."""
        if self._open:
            self._open = False
            self._discard()

    def _discard(self) -> None:
        try:
            self._sink.abort()
        finally:
            self._pending.discard()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, KeyboardInterrupt) and self.frames_written:
            self.close()
        else:
            self.abort()


#: Open a :class:`FrameWriter` (the name reads well in a ``with`` statement).
open_frame_writer = FrameWriter
