"""The audio of a source video carried into a new one: copied as it is where the container
takes its codec (priming samples kept), re-encoded otherwise."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

from peronamalik._extras import require
from peronamalik._validate import InputError

av = require("av", "video")


AAC_PADDING = 1024  # the priming FFmpeg's AAC encoder declares (initial_padding)


def skipped_samples(packet: av.Packet) -> int:
    """Samples the decoder skips at the start of ``packet`` (its skip-samples side data)."""
    if not packet.has_sidedata("skip_samples"):
        return 0
    return int.from_bytes(bytes(packet.get_sidedata("skip_samples"))[:4], "little")


def primed_aac_stream(
    output: av.container.OutputContainer, template: av.audio.stream.AudioStream
) -> av.audio.stream.AudioStream:
    """An output stream for the packets of ``template`` that carries an initial padding of
    :data:`AAC_PADDING` samples: an opened AAC encoder of the same rate and layout, whose
    AudioSpecificConfig is replaced by the source's.  Its packets are muxed, never encoded."""
    stream = output.add_stream("aac", rate=template.rate)
    stream.layout = template.layout.name
    stream.codec_context.open()
    stream.codec_context.extradata = template.codec_context.extradata
    return stream


class AudioCopy:
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
        priming = skipped_samples(first) if first is not None else 0
        self.resampler = None
        try:
            aac, matroska = self.input.codec_context.name == "aac", "matroska" in output.format.name
            if not matroska and self.input.time_base > Fraction(1, self.input.rate or 1):
                raise ValueError(f"its time stamps are rounded to {self.input.time_base} s")
            if not (aac and priming and matroska):
                self.output = output.add_stream_from_template(self.input)
            elif self.input.profile == "LC" and priming == AAC_PADDING:
                self.output = primed_aac_stream(output, self.input)
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
    def open(cls, source_path: Path, output: av.container.OutputContainer, encoder: str) -> AudioCopy | None:
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
