"""Issue 14: help with defaults and examples, --quiet, log-friendly progress, default names,
the sizes in "wrote" lines, and the surprises refused or warned about."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from peronamalik.cli import main


@pytest.mark.parametrize("command", ["smooth", "art", "video", "bench"])
def test_every_command_has_examples_defaults_and_quiet(command, capsys) -> None:
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "[default:" in text
    if command != "bench":
        assert "cpu, cuda, cuda:N or mps. [default: cuda when available, else cpu]" in " ".join(text.split())
    assert "Examples:" in text and f"peronamalik {command} " in text
    assert "--quiet" in text


def test_art_help_shows_the_presets_defaults_and_outputs(capsys) -> None:
    assert main(["art", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for expected in ("[default: (3000", "[default: (320)", "[default: (ember)]", ".png (last frame)", ".mkv"):
        assert expected in text
    assert main(["art", "--list-presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["ember", "glow", "ink", "kitty", "seed", "vanilla", "video"]
    assert all(len(line.split()) > 3 for line in lines)


def test_one_frame_animation_is_refused(tmp_path, capsys) -> None:
    os.chdir(tmp_path)
    assert main(["art", "--iterations", "10", "--every", "30"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "makes 1 frame" in err and "--every at most 5" in err
    assert list(tmp_path.iterdir()) == []


def noisy_rgba(path: Path) -> Path:
    pixels = np.random.default_rng(0).integers(0, 256, (24, 32, 4), dtype=np.uint8)
    Image.fromarray(pixels, "RGBA").save(path)
    return path


def test_smooth_default_name_wrote_line_and_alpha_warning(tmp_path, capsys) -> None:
    os.chdir(tmp_path)
    noisy_rgba(tmp_path / "leaf.png")
    assert main(["smooth", "leaf.png", "--iterations", "3"]) == 0
    err = capsys.readouterr().err
    written = tmp_path / "leaf-smooth.png"
    assert Image.open(written).mode == "RGB"
    assert "alpha channel" in err and "dropped" in err
    assert f"wrote leaf-smooth.png ({written.stat().st_size / 1e3:.1f} kB)" in err
    assert main(["smooth", "leaf.png", "-o", "quiet.png", "--quiet"]) == 0
    assert "wrote" not in capsys.readouterr().err


def test_human_size_of_a_file_and_of_a_frame_folder(tmp_path) -> None:
    from peronamalik.cli.progress import human_size

    (tmp_path / "small.bin").write_bytes(b"x" * 12)
    with open(tmp_path / "big.bin", "wb") as big:
        big.truncate(123_456_789)  # sparse: the size without the writing
    frames = tmp_path / "frames"
    frames.mkdir()
    for name in ("0.png", "1.png"):
        (frames / name).write_bytes(b"x" * 700)
    assert human_size(tmp_path / "small.bin") == "12 B"
    assert human_size(tmp_path / "big.bin") == "123 MB"
    assert human_size(frames) == "1.4 kB"  # the folder's files together


def test_progress_in_a_log_is_plain_lines(tmp_path) -> None:
    """stderr a pipe: ``done/total`` lines now and then, never a ``\\r`` redraw."""
    noisy_rgba(tmp_path / "leaf.png")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "peronamalik", "art", "leaf.png", "--iterations", "40", "--every", "10", "--size", "32"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr
    progress = [line for line in run.stderr.splitlines() if line.startswith("on drugs: ")]
    assert 2 <= len(progress) <= 12 and progress[-1].startswith("on drugs: 40/40")
    assert "wrote leaf-art.gif (4 frames, " in run.stderr


def test_gif_quality_trades_size_for_colours(tmp_path) -> None:
    """--quality medium/low: 63 and 31 colours per frame instead of 255: smaller files, the
    same frames and timings, still close to the high-quality ones."""
    from PIL import ImageSequence

    from peronamalik.art.presets import DEFAULT_PRESET, preset_config

    os.chdir(tmp_path)
    sizes, frames, colours, delays = {}, {}, {}, {}
    for quality in ("high", "medium", "low"):
        name = f"{quality}.gif"
        assert main(["art", "--iterations", "60", "--every", "10", "--size", "64", "--seed", "1", "-q",
                     "--quality", quality, "-o", name]) == 0
        sizes[quality] = (tmp_path / name).stat().st_size
        with Image.open(name) as image:
            frames[quality] = np.stack([np.asarray(f.convert("RGB"), float) for f in ImageSequence.Iterator(image)])
            delays[quality] = [f.info["duration"] for f in ImageSequence.Iterator(image)]
        colours[quality] = max(len(np.unique(f.reshape(-1, 3), axis=0)) for f in frames[quality])
    assert colours["low"] <= 31 and colours["medium"] <= 63 < colours["high"] <= 255
    assert sizes["low"] < sizes["medium"] < sizes["high"]
    fps = preset_config(DEFAULT_PRESET, photo=True).fps
    assert delays["low"] == delays["medium"] == delays["high"] and sum(delays["high"]) == round(6000 / fps, -1)
    for quality in ("medium", "low"):
        assert np.abs(frames[quality] - frames["high"]).mean() < 8