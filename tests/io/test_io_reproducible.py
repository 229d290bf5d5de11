"""Same frames, same bytes: every writer's output is a function of its frames alone."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest

from peronamalik.io.animation import open_frame_writer


def textured_frames(count: int = 48, height: int = 64, width: int = 400) -> list[np.ndarray]:
    """Seeded noise over a moving gradient: costly enough to code that the encoders' rate
    control, look-ahead and threads all have work to do.  400 pixels are 25 macroblocks
    across, not a multiple of 16: the width at which libx264's AVX-512 code showed its
    dependence on uninitialised memory most often (4 or 5 failures in 5 before the fix)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for index in range(count):
        base = np.stack([(x * 3 + index * 5) % 256, (y * 4 + index * 2) % 256, (x + y + index * 7) % 256], axis=-1)
        frames.append(np.clip(base + rng.integers(-24, 25, base.shape), 0, 255).astype(np.uint8))
    return frames


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["a.mp4", "a.mkv", "a.webm", "a.webp", "a.gif"])
def test_the_same_frames_give_the_same_bytes(tmp_path: Path, name: str) -> None:
    """Four encodes in one process: libx264's threads and its AVX-512 macroblock-tree code
    (which reads memory it never wrote), and Matroska's random track UIDs, each made
    these differ before."""
    frames = textured_frames()
    hashes = set()
    for run in range(4):
        path = tmp_path / f"{run}_{name}"
        with open_frame_writer(path, fps=24, overwrite=False) as writer:
            for frame in frames:
                writer.write(frame)
        hashes.add(_md5(path))
    assert len(hashes) == 1


@pytest.mark.parametrize("name", ["a.mp4", "a.mkv", "a.webm"])
def test_the_same_frames_and_audio_give_the_same_bytes(tmp_path: Path, make_clip, name: str) -> None:
    """With the source's audio copied (MP4, MKV) or re-encoded as Opus (WebM)."""
    source = make_clip("source.mp4", count=24, fps=24, audio="aac")
    frames = textured_frames(24)
    hashes = set()
    for run in range(3):
        path = tmp_path / f"{run}_{name}"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "the aac audio is re-encoded", UserWarning)  # WebM takes no AAC
            with open_frame_writer(path, fps=24, overwrite=False, audio_from=source) as writer:
                for frame in frames:
                    writer.write(frame)
        hashes.add(_md5(path))
    assert len(hashes) == 1
