"""Shared material for the I/O tests: synthetic frames and short clips encoded with PyAV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest


def moving_frames(count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    """Smooth colour gradients with a white bar that moves one step per frame."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), np.full_like(x, 96)], axis=-1)
    frames = []
    for index in range(count):
        frame = base.astype(np.uint8)
        frame[:, (index * 3) % width] = 255
        frames.append(frame)
    return frames


@pytest.fixture
def frames() -> list[np.ndarray]:
    """Six frames of an odd size (31×45), which H.264 cannot take as they are."""
    return moving_frames(6, 31, 45)


@pytest.fixture
def frame_maker() -> Callable[..., list[np.ndarray]]:
    """``frame_maker(count, height, width)``: see :func:`moving_frames`."""
    return moving_frames


def _write_audio(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    rate = stream.rate
    samples = np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate).astype(np.float32) * 0.3
    for start in range(0, samples.size, 960):
        chunk = np.stack([samples[start : start + 960]] * 2)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


@pytest.fixture
def make_clip(tmp_path: Path) -> Callable[..., Path]:
    """``make_clip(name, count=20, fps=10, audio=None|"aac"|"libopus")`` → path of a new clip."""

    def make(name: str, count: int = 20, fps: int = 10, audio: str | None = None) -> Path:
        path = tmp_path / name
        codec = "libvpx-vp9" if path.suffix == ".webm" else "libx264"
        options = {"movflags": "+faststart"} if path.suffix == ".mp4" else {}
        with av.open(str(path), "w", options=options) as container:
            stream = container.add_stream(codec, rate=fps)
            stream.height, stream.width, stream.pix_fmt = 48, 64, "yuv420p"
            if audio is not None:
                audio_stream = container.add_stream(audio, rate=48000)
                audio_stream.layout = "stereo"
            for index, frame in enumerate(moving_frames(count)):
                video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
                video_frame.pts = index
                container.mux(stream.encode(video_frame))
            container.mux(stream.encode(None))
            if audio is not None:
                _write_audio(container, audio_stream, count / fps)
        return path

    return make
