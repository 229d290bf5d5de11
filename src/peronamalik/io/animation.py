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

Every kind streams: frames are encoded as they arrive, so memory does not grow with their
number (``.png`` keeps one frame).  GIF is encoded by Pillow (palettes from its fast octree
quantiser, LZW by its GIF encoder), everything else in-process by FFmpeg's libraries
through PyAV.  H.264 and VP9 are converted with, and tagged as, BT.709 limited range unless
a :class:`~peronamalik.io.video.Colour` is given (``video`` passes its input's).

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
from typing import BinaryIO

import numpy as np

from peronamalik._validate import InputError, InputTypeError
from peronamalik._extras import require
from peronamalik.io.atomic import AtomicTarget, check_target, naming_the_file
from peronamalik.io.interrupts import deferred_signals
from peronamalik.io.video import BT709, Colour, VideoInfo, probe, read_frames

av = require("av", "video")
Image = require("PIL.Image", "io")
GifImagePlugin = require("PIL.GifImagePlugin", "io")
ImageChops = require("PIL.ImageChops", "io")
ImageStat = require("PIL.ImageStat", "io")

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


_H264 = {"crf": "18", "preset": "medium"}
_BROWSER_MAX_FPS = Fraction(50)  # delays under 20 ms are played as 100 ms
_VIDEO_FORMATS: dict[str, _VideoFormat] = {
    ".webp": _VideoFormat("libwebp_anim", "yuv420p", {"quality": "85"}, {"loop": "0"}, max_fps=_BROWSER_MAX_FPS),
    ".mp4": _VideoFormat("libx264", "yuv420p", _H264, {"movflags": "+faststart"}, True, "aac", tagged=True),
    ".mkv": _VideoFormat("libx264", "yuv420p", _H264, {"avoid_negative_ts": "disabled"}, True, "aac", tagged=True),
    ".webm": _VideoFormat(
        "libvpx-vp9", "yuv420p", {"crf": "32", "b": "0", "cpu-used": "5", "row-mt": "1"}, {}, False, "libopus",
        tagged=True,
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
    """One way of storing frames in a temporary path: the part that differs per kind."""

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the file; called once, after at least one frame."""

    def abort(self) -> None:
        """Release resources without completing the file."""


class _FolderSink(_Sink):
    def __init__(self, folder: Path) -> None:
        self.folder, self.index = folder, 0

    def write(self, frame: np.ndarray) -> None:
        Image.fromarray(frame).save(self.folder / FRAME_NAME.format(self.index))
        self.index += 1


class _LastFrameSink(_Sink):
    def __init__(self, path: Path) -> None:
        self.path, self.last = path, None

    def write(self, frame: np.ndarray) -> None:
        self.last = frame.copy()

    def finish(self) -> None:
        Image.fromarray(self.last).save(self.path, format="PNG")


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Replicate the last row/column where the height/width is odd."""
    pad = ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0))
    return np.pad(frame, pad, mode="edge") if any(p[1] for p in pad) else frame


@dataclass(frozen=True)
class GifQuality:
    """How a GIF's frames are turned into palette images.

    Attributes
    ----------
    colours : int
        Colours of a frame's palette (Pillow's fast octree), at most 255: one more index
        marks the pixels a frame leaves as they were.
    reuse : float
        A frame takes the previous frame's palette when its error with it (the mean of
        :math:`|q - f|` over pixels and channels, q the palette's colours and f the frame's,
        in 0..255) is at most ``reuse`` above its error with a palette of its own.  Under a
        shared palette a pixel that changes a little keeps its index, and every pixel whose
        colour is unchanged is written as transparent: long runs for the LZW coder.
    """

    colours: int
    reuse: float


#: ``--quality`` -> :class:`GifQuality` (``benchmarks/gif_size.py``).  The default ``art`` run
#: (ember, 40 frames, 320×213, seed 1): 1.44, 1.28, 0.62 MB (FFmpeg's 256-colour GIF before:
#: 1.92 MB); mean colour error against the undithered frames 2.1, 3.2, 6.9 / 255 (worst frame
#: 3.0, 4.6, 9.1).  glow (100 frames, smooth): 2.18, 1.22, 0.70 MB (FFmpeg's: 5.73 MB).  Fewer
#: colours cost little on textured looks (ember, kitty); on smooth, photo-like ones a small
#: patch of a distinct hue (a green iris) is merged into its surroundings at 63 colours, and
#: gradients show bands at 31.  A palette shared by all frames (the first's) was 23 / 255 off
#: on ember, whose first frame is the photo: a frame keeps an earlier palette only while it fits.
GIF_QUALITIES = {"high": GifQuality(255, 0.25), "medium": GifQuality(63, 0.5), "low": GifQuality(31, 1.0)}


class _GifSink(_Sink):
    """A looping GIF written frame by frame with Pillow's GIF encoder (``getheader``,
    ``getdata``).  Each frame is quantised to a palette of its own or the previous frame's
    (:class:`GifQuality`); pixels whose colour equals what is already shown are transparent,
    and a frame covers only the box of the pixels it changes (disposal 1: the rest stays).
    Memory: the shown picture and the last palette image, whatever the number of frames."""

    def __init__(self, path: Path, fps: Fraction, dither: bool, quality: GifQuality) -> None:
        self.path, self.fps, self.quality = path, fps, quality
        self.dither = Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE
        self.file: BinaryIO | None = None
        self.palette: Image.Image | None = None  # the last frame's palette image
        self.shown: np.ndarray | None = None  # the picture after the last frame
        self.index = 0

    def _quantized(self, frame: np.ndarray) -> Image.Image:
        """The frame as a palette image, on a palette of its own or the previous frame's (each
        pixel takes the nearest colour, or Floyd-Steinberg's choice)."""
        image = Image.fromarray(frame)
        own = image.quantize(self.quality.colours, method=Image.Quantize.FASTOCTREE)
        best = image.quantize(palette=own, dither=self.dither)
        if self.palette is not None:
            reused = image.quantize(palette=self.palette, dither=self.dither)
            if _error(reused, image) <= _error(best, image) + self.quality.reuse:
                best = reused
        return best

    def write(self, frame: np.ndarray) -> None:
        quantized = self.palette = self._quantized(frame)
        colours = np.asarray(quantized.convert("RGBX")).view(np.uint32)[..., 0]  # one number per colour
        if self.shown is None:
            changed = np.ones(colours.shape, bool)
            self.shown = colours.copy()
        else:
            changed = colours != self.shown
            np.copyto(self.shown, colours, where=changed)
        rows, columns = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        top, left = (int(rows[0]), int(columns[0])) if rows.size else (0, 0)
        bottom, right = (int(rows[-1]) + 1, int(columns[-1]) + 1) if rows.size else (1, 1)
        indices, changed = np.asarray(quantized)[top:bottom, left:right], changed[top:bottom, left:right]
        clear = int(indices[changed].max()) + 1 if changed.any() else 0  # after the colours used: transparent
        part = Image.fromarray(np.where(changed, indices, np.uint8(clear)))
        part.putpalette(quantized.getpalette("RGB")[: 3 * clear] + [0, 0, 0])
        timing = {"duration": 10 * (_ticks(self.index + 1, self.fps) - _ticks(self.index, self.fps)), "disposal": 1}
        if self.file is None:
            self.file = open(self.path, "wb")
            header, _ = GifImagePlugin.getheader(part, info={"loop": 0})
            self.file.write(b"".join([*header, *GifImagePlugin.getdata(part, (0, 0), **timing)]))
        else:
            self.file.write(b"".join(
                GifImagePlugin.getdata(part, (left, top), transparency=clear, include_color_table=True, **timing)
            ))
        self.index += 1

    def finish(self) -> None:
        self.file.write(b";")
        self.file.close()

    def abort(self) -> None:
        if self.file is not None:
            self.file.close()


def _error(quantized: Image.Image, image: Image.Image) -> float:
    """Mean absolute difference of a palette image's colours from ``image``'s, over pixels and
    channels, in 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(quantized.convert("RGB"), image)).mean) / 3


def _ticks(index: int, fps: Fraction) -> int:
    """When frame ``index`` starts, in GIF's 1/100 s, rounded half up: the delays add up to
    the exact length (30 fps: 3, 3, 4, 3, 3, 4, ... hundredths)."""
    return math.floor(100 * index / fps + Fraction(1, 2))


def _tagged_frame(frame: np.ndarray, pix_fmt: str, colour: Colour) -> av.VideoFrame:
    """RGB converted to ``pix_fmt`` with ``colour``'s matrix and range, and tagged with it."""
    return av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
        format=pix_fmt,
        dst_colorspace=colour.space,
        dst_color_range=colour.range,
        dst_color_primaries=colour.primaries,
        dst_color_trc=colour.trc,
    )


_AAC_PADDING = 1024  # the priming FFmpeg's AAC encoder declares (initial_padding)


def _priming(packet: av.Packet) -> int:
    """Samples the decoder skips at the start of ``packet`` (its skip-samples side data)."""
    if not packet.has_sidedata("skip_samples"):
        return 0
    return int.from_bytes(bytes(packet.get_sidedata("skip_samples"))[:4], "little")


def _primed_aac_stream(
    output: av.container.OutputContainer, template: av.audio.stream.AudioStream
) -> av.audio.stream.AudioStream:
    """An output stream for the packets of ``template`` that carries an initial padding of
    :data:`_AAC_PADDING` samples: an opened AAC encoder of the same rate and layout, whose
    AudioSpecificConfig is replaced by the source's.  Its packets are muxed, never encoded."""
    stream = output.add_stream("aac", rate=template.rate)
    stream.layout = template.layout.name
    stream.codec_context.open()
    stream.codec_context.extradata = template.codec_context.extradata
    return stream


class _AudioCopy:
    """Carries the audio of a source file into the output, interleaved with the video.

    The stream is copied as it is when the container takes its codec, and re-encoded
    (AAC for MP4/MKV, Opus for WebM) when not, with a warning.  Audio past the end of the
    video is cut.  Packets before time 0 are kept: an AAC stream's first packet holds the
    encoder's priming samples (negative time stamps), without which the first 1024 samples
    decode wrong.  The decoder drops the priming where the container says how much it is:
    MP4's edit list (written from the negative time stamps), Matroska's CodecDelay.  FFmpeg
    writes CodecDelay from the stream's ``initial_padding``, which PyAV sets only on an
    opened encoder; so a primed AAC stream is copied into Matroska through an AAC encoder's
    stream (padding 1024, the source's AudioSpecificConfig), or re-encoded when its
    priming is not the encoder's.  Matroska's millisecond time stamps do not place samples
    exactly, so its audio is re-encoded into MP4 (whose edit list would cut a rounded priming).
    """

    def __init__(self, source: av.container.InputContainer, output: av.container.OutputContainer, encoder: str) -> None:
        self.source = source
        self.input = source.streams.audio[0]
        start = source.start_time or 0
        self.offset = Fraction(start, av.time_base)
        self.container = output
        self.packets = source.demux(self.input)
        self.pending: av.Packet | None = None
        first = self._next_packet()
        priming = _priming(first) if first is not None else 0
        self.resampler = None
        try:
            aac, matroska = self.input.codec_context.name == "aac", "matroska" in output.format.name
            if not matroska and self.input.time_base > Fraction(1, self.input.rate or 1):
                raise ValueError(f"its time stamps are rounded to {self.input.time_base} s")
            if not (aac and priming and matroska):
                self.output = output.add_stream_from_template(self.input)
            elif self.input.profile == "LC" and priming == _AAC_PADDING:
                self.output = _primed_aac_stream(output, self.input)
            else:
                raise ValueError(f"Matroska cannot state an AAC {self.input.profile} priming of {priming} samples")
        except ValueError as exc:  # the container cannot take this stream as it is: re-encode it
            self._reencode(output, encoder, exc)

    def _reencode(self, output: av.container.OutputContainer, encoder: str, why: ValueError) -> None:
        rate = 48000 if encoder == "libopus" else (self.input.rate or 48000)
        self.output = output.add_stream(encoder, rate=rate)
        self.output.layout = "stereo" if self.input.layout.nb_channels >= 2 else "mono"
        self.resampler = av.AudioResampler(format=self.output.format.name, layout=self.output.layout.name, rate=rate)
        self.encoded = 0  # samples given to the encoder
        warnings.warn(
            f"the {self.input.codec_context.name} audio is re-encoded as {self.output.codec_context.name} ({why})",
            UserWarning,
            stacklevel=5,
        )

    @classmethod
    def open(cls, source_path: Path, output: av.container.OutputContainer, encoder: str) -> _AudioCopy | None:
        """The copier, or ``None`` when the source has no audio."""
        try:
            source = av.open(str(source_path))
        except (av.FFmpegError, OSError) as exc:
            raise InputError(f"cannot read the audio of {source_path}: {exc}") from exc
        if not source.streams.audio:
            source.close()
            return None
        return cls(source, output, encoder)

    def _next_packet(self) -> av.Packet | None:
        if self.pending is None:
            for packet in self.packets:
                if packet.pts is not None and packet.size:
                    self.pending = packet
                    break
        return self.pending

    def copy_until(self, seconds: Fraction) -> None:
        """Mux every source packet that starts before ``seconds`` of output time."""
        while (packet := self._next_packet()) is not None:
            start = packet.pts * packet.time_base - self.offset
            if start >= seconds:
                return
            self.pending = None
            if self.resampler is None:
                shift = int(self.offset / packet.time_base)
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = self.output
                self.container.mux(packet)
            else:
                for frame in packet.decode():
                    self._encode(self.resampler.resample(frame))

    def _encode(self, frames: list[av.AudioFrame] | None) -> None:
        """Encode ``frames`` (``None``: flush), stamped in samples from 0: the encoder then
        stamps its priming before 0, where the muxer's edit list or CodecDelay cuts it."""
        for frame in frames if frames is not None else [None]:
            if frame is not None:
                frame.pts, frame.time_base = self.encoded, Fraction(1, frame.sample_rate)
                self.encoded += frame.samples
            self.container.mux(self.output.encode(frame))

    def finish(self, seconds: Fraction) -> None:
        self.copy_until(seconds)
        if self.resampler is not None:
            self._encode(self.resampler.resample(None))
            self._encode(None)
        self.close()

    def close(self) -> None:
        self.source.close()


class _PyAVSink(_Sink):
    """WebP, MP4, MKV and WebM through PyAV, opened on the first frame (to know its size)."""

    def __init__(self, path: Path, spec: _VideoFormat, fps: Fraction, audio_from: Path | None, colour: Colour) -> None:
        self.path, self.spec, self.fps, self.colour = path, spec, fps, colour
        self.audio_from = audio_from if spec.audio_encoder else None
        self.container: av.container.OutputContainer | None = None
        self.stream: av.video.stream.VideoStream | None = None
        self.audio: _AudioCopy | None = None
        self.index = 0

    def _open(self, height: int, width: int) -> None:
        self.container = av.open(str(self.path), "w", options=dict(self.spec.container_options))
        stream = self.container.add_stream(self.spec.codec, rate=self.fps, options=dict(self.spec.options))
        stream.width, stream.height, stream.pix_fmt = width, height, self.spec.pix_fmt
        context = stream.codec_context
        context.time_base = 1 / self.fps
        if self.spec.tagged:
            context.colorspace, context.color_range = self.colour.space, self.colour.range
            context.color_primaries, context.color_trc = self.colour.primaries, self.colour.trc
        self.stream = stream
        if self.audio_from is not None:
            self.audio = _AudioCopy.open(self.audio_from, self.container, self.spec.audio_encoder)

    def write(self, frame: np.ndarray) -> None:
        if self.spec.even:
            frame = _pad_to_even(frame)
        if self.container is None:
            self._open(*frame.shape[:2])
        if self.spec.tagged:
            video_frame = _tagged_frame(frame, self.spec.pix_fmt, self.colour)
        else:
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        video_frame.pts, video_frame.time_base = self.index, 1 / self.fps
        self.container.mux(self.stream.encode(video_frame))
        self.index += 1
        if self.audio is not None:
            self.audio.copy_until(self.index / self.fps)

    def finish(self) -> None:
        self.container.mux(self.stream.encode(None))
        if self.audio is not None:
            self.audio.finish(self.index / self.fps)
        self.container.close()

    def abort(self) -> None:
        if self.audio is not None:
            self.audio.close()
        if self.container is not None:
            try:
                self.container.close()
            except av.FFmpegError:
                pass


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
        if self.kind == FOLDER:
            self._sink: _Sink = _FolderSink(temp)
        elif self.kind == "png":
            self._sink = _LastFrameSink(temp)
        else:
            rate = _playable_fps(rate, self.path)
            if self.kind == "gif":
                self._sink = _GifSink(temp, rate, dither, GIF_QUALITIES[gif_quality])
            else:
                source = None if audio_from is None else Path(audio_from)
                self._sink = _PyAVSink(temp, _VIDEO_FORMATS[f".{self.kind}"], rate, source, colour)
        self.fps = rate
        self.frames_written = 0
        self._shape: tuple[int, ...] | None = None
        self._open = True

    def write(self, frame: np.ndarray) -> None:
        """Encode one uint8 ``H×W×3`` RGB frame; every frame must have the first one's shape."""
        if not self._open:
            raise RuntimeError(f"the writer of {self.path} is closed")
        frame = _check_frame(frame, self._shape)
        self._shape = frame.shape
        with deferred_signals():
            try:
                self._sink.write(frame)
            except OSError as exc:
                self.abort()
                raise naming_the_file(exc, self.path, self._pending.temp) from exc
            self.frames_written += 1

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
