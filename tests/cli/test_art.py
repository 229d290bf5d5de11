"""``peronamalik art`` end to end, and render()'s outputs read back."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from peronamalik.art import RenderInterrupted, render
from peronamalik.art.source import sample_array
from peronamalik.io.video import read_frames

FAST = ["--iterations", "40", "--every", "10", "--size", "48"]


def run_cli(*args, cwd, timeout=180):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "peronamalik", "art", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
    )


def gif_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


def test_no_input_renders_the_bundled_sample_and_rerenders_from_its_sidecar(tmp_path):
    first = run_cli(*FAST, "--seed", "5", "--set", "kernel_noise=0.05", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    output, sidecar = tmp_path / "chelsea-art.gif", tmp_path / "chelsea-art.gif.json"
    record = json.loads(sidecar.read_text())
    frames = gif_frames(output)
    assert len(frames) == record["frames"] == 4
    assert frames[0].shape == (32, 48, 3)
    assert record["seed"] == 5 and record["config"]["kernel_noise"] == 0.05
    assert record["input"]["path"] == "sample:chelsea" and len(record["input"]["sha256"]) == 64

    again = run_cli("--config", sidecar, "-o", "again.gif", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert all(np.array_equal(a, b) for a, b in zip(frames, gif_frames(tmp_path / "again.gif")))
    assert json.loads((tmp_path / "again.gif.json").read_text())["config"] == record["config"]


@pytest.mark.parametrize("name, count", [("out.mp4", 4), ("out.webm", 4), ("out.webp", 4), ("frames/", 4), ("last.png", 1)])
def test_render_output_kinds_read_back(tmp_path, name, count):
    target = f"{tmp_path}/{name}"  # a str: a trailing '/' names a folder of frames
    written = render(sample_array(), target, iterations=40, every=10, size=48, seed=0, device="cpu")
    if name.endswith("/"):
        files = sorted(written.iterdir())
        assert len(files) == count and all(f.suffix == ".png" for f in files)
    elif name.endswith(".png"):
        assert np.asarray(Image.open(written)).shape[:2] == (32, 48)
    else:
        assert sum(1 for _ in read_frames(written)) == count
    assert json.loads(Path(str(written).rstrip("/") + ".json").read_text())["frames"] == 4  # frames made


def test_interrupt_keeps_a_valid_file_with_the_frames_made(tmp_path):
    def stop(iteration, engine, refreshed):
        if iteration == 25:
            raise KeyboardInterrupt

    target = tmp_path / "partial.gif"
    with pytest.raises(RenderInterrupted) as caught:
        render(sample_array(), target, iterations=400, every=10, size=48, seed=0, device="cpu", callback=stop)
    assert caught.value.frames == 3
    assert len(gif_frames(target)) == 3
    assert json.loads((tmp_path / "partial.gif.json").read_text())["interrupted"] is True


def test_ctrl_c_on_the_cli_writes_the_frames_so_far(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "peronamalik", "art", "--iterations", "1000000", "--every", "1", "--size", "32", "-o", "live.gif"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True, env=env,
    )
    seen, deadline = "", time.monotonic() + 120
    while "on drugs" not in seen and time.monotonic() < deadline and process.poll() is None:
        seen += process.stderr.read(16)
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    stderr = seen + process.communicate(timeout=60)[1]
    assert process.returncode == 130, stderr
    assert "interrupted: wrote" in stderr and "Traceback" not in stderr
    assert len(gif_frames(tmp_path / "live.gif")) >= 1


def write_bomb(path: Path) -> None:
    Image.new("1", (20000, 20000)).save(path)


@pytest.mark.parametrize(
    "make_input, extra, message",
    [
        (None, ["missing.jpg"], "not found|does not exist|No such"),
        (lambda p: p.write_bytes(b"this is not an image"), ["input.png"], "input.png"),
        (lambda p: p.write_bytes(Image.new("RGB", (64, 64)).tobytes()[:10]), ["input.png"], "input.png"),
        (write_bomb, ["input.png"], "too large|bomb|pixels"),
        (None, ["-o", "out.xyz"], "xyz"),
        (None, ["--set", "lr=fast"], "lr"),
        (None, ["--set", "nope=1"], "nope"),
        (None, ["--iterations", "-5"], "iterations"),
        (None, ["--preset", "nope"], "preset"),
        (None, ["--config", "missing.toml"], "missing.toml"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, make_input, extra, message):
    if make_input is not None:
        make_input(tmp_path / "input.png")
    before = set(tmp_path.iterdir())
    result = run_cli(*FAST, *extra, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert __import__("re").search(message, lines[0]), lines[0]
    assert set(tmp_path.iterdir()) == before


def test_existing_output_is_kept_without_overwrite(tmp_path):
    target = tmp_path / "chelsea-art.gif"
    target.write_bytes(b"precious")
    result = run_cli(*FAST, cwd=tmp_path)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert target.read_bytes() == b"precious"
    assert run_cli(*FAST, "--overwrite", "--dither", cwd=tmp_path).returncode == 0
    assert len(gif_frames(target)) == 4
