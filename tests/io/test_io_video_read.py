"""Reading videos and animations frame by frame; truncated files give what they hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from peronamalik.io.animation import probe, read_frames


@pytest.mark.parametrize("name", ["clip.mp4", "clip.webm"])
def test_clip_frames_and_probe(make_clip, name: str) -> None:
    path = make_clip(name, count=12, fps=8)
    info = probe(path)
    assert (info.frame_count, info.fps, info.width, info.height, info.has_audio) == (12, 8.0, 64, 48, False)
    frames = list(read_frames(path))
    assert len(frames) == 12
    assert all(frame.shape == (48, 64, 3) and frame.dtype == np.uint8 for frame in frames)
    assert frames[1][:, 3].mean() > 200  # the moving white bar is in column 3 at frame 1


def test_probe_sees_audio(make_clip) -> None:
    assert probe(make_clip("talk.mp4", audio="aac")).has_audio


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animated_gif_and_webp(tmp_path: Path, frame_maker, suffix: str) -> None:
    frames = [Image.fromarray(frame) for frame in frame_maker(5, 20, 30)]
    path = tmp_path / f"anim{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    info = probe(path)
    assert (info.frame_count, info.fps, info.width, info.height) == (5, 20.0, 30, 20)
    decoded = list(read_frames(path))
    assert len(decoded) == 5 and decoded[0].shape == (20, 30, 3)


def test_truncated_video_gives_its_frames_and_warns(make_clip, tmp_path: Path) -> None:
    data = make_clip("whole.mp4", count=60).read_bytes()
    cut = tmp_path / "half.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.warns(UserWarning, match="truncated"):
        frames = list(read_frames(cut))
    assert 0 < len(frames) < 60


def test_truncated_gif_gives_its_frames_and_warns(tmp_path: Path, frame_maker) -> None:
    frames = [Image.fromarray(frame) for frame in frame_maker(12)]
    whole = tmp_path / "whole.gif"
    frames[0].save(whole, save_all=True, append_images=frames[1:], duration=100)
    data = whole.read_bytes()
    (tmp_path / "half.gif").write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="truncated"):
        decoded = list(read_frames(tmp_path / "half.gif"))
    assert 0 < len(decoded) < 12


def test_not_a_video(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("hello\n")
    Image.new("RGB", (8, 8)).save(tmp_path / "still.png")
    cases = {
        tmp_path / "notes.mp4": "not a video",
        tmp_path / "still.png": "still image",
        tmp_path / "missing.mp4": "does not exist",
        tmp_path: "is a folder",
    }
    for path, message in cases.items():
        with pytest.raises(ValueError, match=message):
            read_frames(path)  # raises at the call, before the first frame
        with pytest.raises(ValueError, match=message):
            probe(path)
