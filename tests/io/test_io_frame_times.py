"""Variable frame rates: frame_times reads when each frame is shown, FrameWriter keeps it."""

from __future__ import annotations

import hashlib
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from peronamalik.io.animation import open_frame_writer
from peronamalik.io.video import FrameTimes, frame_times, probe, read_frames

from conftest import moving_frames

#: 4 frames of 0.5 s, then 10 of 20 ms: the average rate (~6 fps) is no frame's rate.  (The
#: last frame's length is the MP4 muxer's guess: the encoder gives none.)
SLOW, FAST = 4, 10
STARTS_MS = [500 * i for i in range(SLOW)] + [2000 + 20 * i for i in range(FAST)]
END_MS = 2200  # the audio's length


def vfr_clip(path: Path, *, beep_at: float | None = None) -> Path:
    """An H.264 clip with the frame times above (time base 1/1000), and, with ``beep_at``,
    AAC audio silent until then and a tone after."""
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=None)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        if beep_at is not None:
            audio = container.add_stream("aac", rate=48000)
            audio.layout = "stereo"
        for start, frame in zip(STARTS_MS, moving_frames(len(STARTS_MS))):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts, video_frame.time_base = start, Fraction(1, 1000)
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))
        if beep_at is not None:
            t = np.arange(int(48000 * END_MS / 1000)) / 48000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t) * (t >= beep_at)).astype(np.float32)
            for offset in range(0, tone.size, 1024):
                chunk = np.ascontiguousarray(np.stack([tone[offset : offset + 1024]] * 2))
                audio_frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                audio_frame.sample_rate, audio_frame.pts = 48000, offset
                container.mux(audio.encode(audio_frame))
            container.mux(audio.encode(None))
    return path


def animation(path: Path, delays_ms: list[int]) -> Path:
    """A GIF or WebP of distinct frames shown for ``delays_ms``, written by Pillow."""
    images = [Image.fromarray(frame) for frame in moving_frames(len(delays_ms), 24, 32)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=delays_ms, loop=0)
    return path


def seconds(times: FrameTimes) -> tuple[list[float], float]:
    return [float(start * times.time_base) for start in times.starts], float(times.end * times.time_base)


def copy(source: Path, output: Path, **options) -> Path:
    """``source``'s frames written to ``output`` at their times (and with its audio)."""
    times, fps = frame_times(source), probe(source).fps
    with open_frame_writer(output, fps=fps, overwrite=True, times=times, **options) as writer:
        for frame in read_frames(source):
            writer.write(frame)
    return output


def test_frame_times_reads_each_frames_time(tmp_path: Path) -> None:
    times = frame_times(vfr_clip(tmp_path / "vfr.mp4"))
    starts, end = seconds(times)
    assert starts == [start / 1000 for start in STARTS_MS] and end > starts[-1]
    assert not times.steady(Fraction(probe(tmp_path / "vfr.mp4").fps).limit_denominator(1001))
    webp, gif = animation(tmp_path / "a.webp", [100, 200, 300]), animation(tmp_path / "a.gif", [100, 200, 300])
    assert frame_times(webp) == FrameTimes((0, 100, 300), 600, Fraction(1, 1000))
    assert frame_times(gif) == FrameTimes((0, 10, 30), 60, Fraction(1, 100))


@pytest.mark.parametrize(
    ("name", "resolution"), [("a.mp4", 0), ("a.mkv", 1), ("a.webm", 1), ("a.gif", 10), ("a.webp", 1)]
)
def test_a_variable_rate_is_kept(tmp_path: Path, name: str, resolution: int) -> None:
    """Every frame starts when it did in the input (to the format's resolution, in ms) and
    the last ends when it did; with the input's audio, the video and audio end together."""
    source = vfr_clip(tmp_path / "vfr.mp4", beep_at=2.0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "the aac audio is re-encoded", UserWarning)  # WebM takes no AAC
        output = copy(source, tmp_path / name, audio_from=source)
    starts, end = seconds(frame_times(output))
    source_starts, source_end = seconds(frame_times(source))
    np.testing.assert_allclose(starts, source_starts, atol=resolution / 1000 + 1e-9)
    assert end == pytest.approx(source_end, abs=resolution / 1000 + 1e-9)
    if name in ("a.mp4", "a.mkv", "a.webm"):
        with av.open(str(output)) as container:
            audio = np.concatenate([frame.to_ndarray()[0] for frame in container.decode(audio=0)])
            rate = container.streams.audio[0].rate
        onset = np.flatnonzero(np.abs(audio) > 0.05)[0] / rate
        assert onset == pytest.approx(2.0, abs=0.01)  # the beep still starts with the first fast frame
        assert audio.size / rate == pytest.approx(source_end, abs=0.03)


@pytest.mark.parametrize("source_name", ["in.gif", "in.webp"])
@pytest.mark.parametrize("name", ["a.gif", "a.webp", "a.mp4"])
def test_animation_delays_are_kept(tmp_path: Path, source_name: str, name: str) -> None:
    delays = [100, 1000, 100, 1000, 100] if source_name == "in.gif" else [100, 200, 100, 300, 100]
    output = copy(animation(tmp_path / source_name, delays), tmp_path / name)
    starts, end = seconds(frame_times(output))
    assert np.round(np.diff([*starts, end]) * 1000).tolist() == delays


@pytest.mark.parametrize("name", ["a.mp4", "a.mkv", "a.webm", "a.gif", "a.webp"])
def test_constant_rate_times_change_nothing(tmp_path: Path, make_clip, name: str) -> None:
    """The times of a constant rate (Matroska's rounded to ms) give the bytes of no times."""
    for source in (make_clip("cfr.mp4", count=12, fps=12), make_clip("cfr.webm", count=12, fps=12)):
        assert frame_times(source).steady(Fraction(12))
        hashes = set()
        for times in (None, frame_times(source)):
            with open_frame_writer(tmp_path / name, fps=12, overwrite=True, times=times) as writer:
                for frame in read_frames(source):
                    writer.write(frame)
            hashes.add(hashlib.md5((tmp_path / name).read_bytes()).hexdigest())
        assert len(hashes) == 1


def test_times_that_do_not_increase_are_dropped_with_a_warning(tmp_path: Path) -> None:
    times = FrameTimes((0, 100, 100), 300, Fraction(1, 1000))
    with pytest.warns(UserWarning, match=r"times do not increase \(frame 2 starts at 0.1 s"):
        writer = open_frame_writer(tmp_path / "a.gif", fps=10, overwrite=False, times=times)
    with writer:
        for frame in moving_frames(3):
            writer.write(frame)
    assert seconds(frame_times(writer.path)) == ([0.0, 0.1, 0.2], 0.3)


def test_more_frames_than_times_is_an_error(tmp_path: Path) -> None:
    times = FrameTimes((0, 500), 600, Fraction(1, 1000))
    with pytest.raises(ValueError, match="2 frame times were given: frame 2 has none"):
        with open_frame_writer(tmp_path / "a.mp4", fps=10, overwrite=False, times=times) as writer:
            for frame in moving_frames(3):
                writer.write(frame)
    assert not (tmp_path / "a.mp4").exists()


def test_a_truncated_file_gives_the_times_it_holds_without_a_warning(tmp_path: Path) -> None:
    """The warning is read_frames' to give, once."""
    data = vfr_clip(tmp_path / "vfr.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 9 // 10])  # the index is at the front: the last frames go
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        times = frame_times(cut)
    assert 0 < len(times.starts) < len(STARTS_MS)
    assert seconds(times)[0] == [start / 1000 for start in STARTS_MS[: len(times.starts)]]
    with pytest.warns(UserWarning, match="looks truncated"):
        assert len(list(read_frames(cut))) == len(times.starts)


@pytest.mark.parametrize("name", ["a.mp4", "a.gif"])
def test_peronamalik_video_keeps_a_variable_rate(tmp_path: Path, name: str) -> None:
    """``peronamalik video`` on a variable-rate clip (QA: every frame was written at the mean
    rate, the frame at 2 s came at 0.5 s, the video outlasted its audio): each stylised frame
    is shown when the input showed it; with ``--fps`` the clip is resampled as before."""
    from peronamalik.cli import main
    from peronamalik.core.threads import torch_threads

    source = vfr_clip(tmp_path / "vfr.mp4", beep_at=2.0)
    with torch_threads(1):
        assert main(["video", str(source), "-o", str(tmp_path / name), "--seed", "0", "-q"]) == 0
        assert main(["video", str(source), "-o", str(tmp_path / f"r{name}"), "--fps", "10", "-q"]) == 0
    starts, end = seconds(frame_times(tmp_path / name))
    source_starts, source_end = seconds(frame_times(source))
    resolution = 0.01 if name.endswith(".gif") else 1e-9
    np.testing.assert_allclose(starts, source_starts, atol=resolution)
    assert end == pytest.approx(source_end, abs=resolution)
    assert frame_times(tmp_path / f"r{name}").steady(Fraction(10))
