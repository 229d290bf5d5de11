"""GIF: quality levels on a real render, kept pixels, cropped frames, exact delays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from peronamalik.io.animation import GIF_QUALITIES, open_frame_writer, read_frames

#: The worst frame's mean absolute colour error against the undithered frame (0..255) that
#: each level keeps; measured on the default ``art`` run: 3.0, 4.6, 9.1.
WORST_ERROR = {"high": 4.5, "medium": 9.0, "low": 12.0}


def _write(path: Path, frames: list[np.ndarray], fps: float = 20, **options) -> Path:
    with open_frame_writer(path, fps=fps, overwrite=False, **options) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path


def _decoded(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


def _delays(path: Path) -> list[int]:
    with Image.open(path) as image:
        return [frame.info["duration"] for frame in ImageSequence.Iterator(image)]


def _errors(decoded: list[np.ndarray], frames: list[np.ndarray]) -> list[float]:
    return [float(np.abs(d.astype(int) - f).mean()) for d, f in zip(decoded, frames)]


@pytest.fixture(scope="module")
def render() -> list[np.ndarray]:
    """A real ``art`` run: the bundled sample, the default preset, 96 px, 20 frames."""
    from peronamalik.art.animate import animate

    return list(animate(None, size=96, iterations=300, every=15, seed=0, device="cpu"))


def test_quality_levels_on_a_real_render(tmp_path: Path, render: list[np.ndarray]) -> None:
    sizes = {}
    for quality in GIF_QUALITIES:
        path = _write(tmp_path / f"{quality}.gif", render, gif_quality=quality)
        sizes[quality] = path.stat().st_size
        decoded = _decoded(path)
        assert len(decoded) == len(render)
        assert _delays(path) == [50] * len(render)
        assert max(_errors(decoded, render)) <= WORST_ERROR[quality], quality
        # FFmpeg (video's reader) composes the kept pixels as Pillow does
        by_ffmpeg = list(read_frames(path))
        assert len(by_ffmpeg) == len(render)
        assert all(np.array_equal(a, b) for a, b in zip(by_ffmpeg, decoded))
    assert sizes["low"] < sizes["medium"] < sizes["high"]
    assert sizes["low"] < 0.65 * sizes["high"]


def test_gif_delays_add_up_to_the_exact_length(tmp_path: Path, frame_maker) -> None:
    frames = frame_maker(7, 8, 8)
    assert _delays(_write(tmp_path / "30.gif", frames, fps=30)) == [30, 40, 30, 30, 40, 30, 30]
    delays = _delays(_write(tmp_path / "ntsc.gif", frame_maker(100, 8, 8), fps=30000 / 1001))
    assert sum(delays) == 3340 and set(delays) == {30, 40}  # 100 frames at 29.97 fps: 3.34 s


def test_unchanged_pixels_are_kept_and_frames_cover_what_changes(tmp_path: Path) -> None:
    """A still background with a moving square: later frames are only the square's box, and
    the picture reads back exactly (fewer than 255 colours)."""
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    background = colours[rng.integers(0, 40, (48, 64))]
    frames = []
    for step in range(6):
        frame = background.copy()
        frame[10:18, 5 + 6 * step:13 + 6 * step] = (255, 255, 255)
        frames.append(frame)
    path = _write(tmp_path / "square.gif", frames)
    assert all(np.array_equal(d, f) for d, f in zip(_decoded(path), frames))
    with Image.open(path) as image:
        image.seek(3)
        left, top, right, bottom = image.dispose_extent
    # the square leaves columns 17..24 and covers 23..30: the box spans both, rows 10..17
    assert (left, top, right, bottom) == (17, 10, 31, 18)
    single = _write(tmp_path / "one.gif", frames[:1]).stat().st_size
    assert path.stat().st_size < single + 5 * 400  # each later frame: its box and its palette (64 colours)


def test_a_still_sequence_keeps_every_frame(tmp_path: Path, frame_maker) -> None:
    frame = frame_maker(1, 32, 32)[0]
    path = _write(tmp_path / "still.gif", [frame] * 5, gif_quality="low")
    decoded = _decoded(path)
    assert len(decoded) == 5 and all(np.array_equal(d, decoded[0]) for d in decoded)
    assert _delays(path) == [50] * 5
    with Image.open(path) as image:
        image.seek(4)
        assert image.dispose_extent == (0, 0, 1, 1)  # a frame that changes nothing


@pytest.mark.parametrize("quality", list(GIF_QUALITIES))
def test_a_new_palette_when_the_colours_change(tmp_path: Path, frame_maker, quality: str) -> None:
    """A colourful first frame, then red noise (as an ``art`` run starts on the photo): the
    red frames are not forced onto the first frame's palette (a shared one was 23/255 off)."""
    rng = np.random.default_rng(1)
    red = [np.stack([rng.integers(150, 256, (48, 64)), rng.integers(0, 90, (48, 64)), rng.integers(0, 30, (48, 64))],
                    axis=-1).astype(np.uint8) for _ in range(4)]
    frames = [frame_maker(1, 48, 64)[0], *red]
    errors = _errors(_decoded(_write(tmp_path / "shift.gif", frames, gif_quality=quality)), frames)
    assert max(errors[1:]) < 6


@pytest.mark.parametrize("dither", [False, True])
def test_every_frame_shows_at_most_its_levels_colours(tmp_path: Path, dither: bool) -> None:
    """A kept pixel has the colour the frame's palette gives it, so each decoded frame holds
    at most the level's number of colours, whatever was kept from earlier frames."""
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (24, 40, 3), dtype=np.uint8) for _ in range(3)]
    frames.append(frames[-1] // 2 + 64)
    for quality, level in GIF_QUALITIES.items():
        decoded = _decoded(_write(tmp_path / f"{quality}-{dither}.gif", frames, gif_quality=quality, dither=dither))
        assert len(decoded) == len(frames)
        assert max(len(np.unique(d.reshape(-1, 3), axis=0)) for d in decoded) <= level.colours


def test_unknown_quality_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="gif_quality must be one of high, medium, low, not 'best'"):
        open_frame_writer(tmp_path / "a.gif", fps=10, overwrite=False, gif_quality="best")
    assert list(tmp_path.iterdir()) == []
