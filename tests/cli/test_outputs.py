"""What the commands write besides their result, and what they say: sidecars and reports
never replaced without ``--overwrite``, modes kept, names near the file-system limit,
write errors naming the file, warnings in one line."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from peronamalik.cli import main

FAST = ["--iterations", "10", "--every", "5", "--size", "24", "--seed", "0"]


def run_cli(*args: object, cwd: Path, file_size_limit: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:  # in the child: a file may not grow past the limit (as on a full disk)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if file_size_limit is not None:  # no kernel build under the limit, and none into the shared cache
        env.update(PERONAMALIK_FUSED="0", PERONAMALIK_CACHE_DIR=str(cwd.parent / "kernel-cache"))
    return subprocess.run(
        [sys.executable, "-m", "peronamalik", *map(str, args)], cwd=cwd, capture_output=True, text=True,
        env=env, timeout=300, preexec_fn=None if file_size_limit is None else limit,
    )


def _name(length: int, suffix: str) -> str:
    return "n" * (length - len(suffix)) + suffix


@pytest.mark.parametrize("command, output", [("art", "out.gif"), ("art", "frames/"), ("video", "out.mp4")])
def test_an_unrelated_sidecar_is_not_replaced_without_overwrite(tmp_path, command, output, capsys):
    sidecar = tmp_path / (output.rstrip("/") + ".json")
    sidecar.write_text("my notes")
    args = [command, *([str(tmp_path / "in.gif")] if command == "video" else []), "-o", f"{tmp_path}/{output}"]
    if command == "video":
        frames = [Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)) for i in range(3)]
        frames[0].save(tmp_path / "in.gif", save_all=True, append_images=frames[1:], duration=100)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main([*args, *(FAST if command == "art" else ["--seed", "0"])]) == 2
    assert sidecar.name in capsys.readouterr().err
    assert sidecar.read_text() == "my notes" and sorted(p.name for p in tmp_path.iterdir()) == before
    assert main([*args, *(FAST if command == "art" else ["--seed", "0"]), "--overwrite"]) == 0
    assert json.loads(sidecar.read_text())["seed"] == 0


def test_overwrite_keeps_the_modes_of_output_and_sidecar(tmp_path):
    assert main(["art", *FAST, "-o", str(tmp_path / "a.gif")]) == 0
    for path in (tmp_path / "a.gif", tmp_path / "a.gif.json"):
        path.chmod(0o600)
    assert main(["art", *FAST, "-o", str(tmp_path / "a.gif"), "--overwrite"]) == 0
    assert {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()} == {0o600}


@pytest.mark.parametrize("length", [232, 245, 250])
def test_art_outputs_whose_sidecar_fits_are_written(tmp_path, length):
    name = _name(length, ".gif")
    assert main(["art", *FAST, "-o", str(tmp_path / name)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [name, name + ".json"]


@pytest.mark.parametrize("length", [251, 255])
def test_art_refuses_an_output_whose_sidecar_name_is_too_long_before_writing(tmp_path, length, capsys):
    assert main(["art", *FAST, "-o", str(tmp_path / _name(length, ".gif"))]) == 2
    assert "bytes" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("length", [238, 255])
def test_smooth_writes_names_up_to_the_limit(tmp_path, length):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "in.png")
    name = _name(length, ".png")
    assert main(["smooth", str(tmp_path / "in.png"), "-o", str(tmp_path / name), "--iterations", "1"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.png", name])


@pytest.mark.parametrize(
    "args",
    [
        ["smooth", "in.png", "-o", "out.png", "--iterations", "1"],
        ["smooth", "in.png", "-o", "out.tif", "--iterations", "1"],
        ["art", "--iterations", "12", "--every", "1", "--size", "320", "--seed", "0", "-o", "out.mp4"],
        ["art", "--iterations", "12", "--every", "1", "--size", "320", "--seed", "0", "-o", "frames/"],
    ],
)
def test_a_full_disk_is_one_line_naming_the_file(tmp_path, args):
    """Writes that fail part way (here: a file-size limit, errno EFBIG, standing in for
    ENOSPC) end in one line that names the output, exit 2, and leave nothing behind."""
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 300, 3), np.uint8)).save(tmp_path / "in.png")
    result = run_cli(*args, cwd=tmp_path, file_size_limit=16_000)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    output = args[args.index("-o") + 1].rstrip("/")
    assert len(lines) == 1 and output in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_warnings_are_one_line_without_file_or_source(tmp_path):
    np.save(tmp_path / "in.npy", np.linspace(-1, 2, 64 * 64, dtype=np.float32).reshape(64, 64))
    result = run_cli("smooth", "in.npy", "-o", "out.png", "--iterations", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "warning" in line.lower()]
    assert len(warned) == 1 and warned[0].startswith("peronamalik: warning: ") and "clipped" in warned[0]
    assert ".py:" not in result.stderr and "warnings.warn" not in result.stderr


def test_bench_json_is_checked_before_the_run_and_kept_without_overwrite(tmp_path, capsys):
    report = tmp_path / "report.json"
    report.write_text("earlier results")
    assert main(["bench", "--quick", "--only", "nothing-matches", "--json", str(report)]) == 2
    captured = capsys.readouterr()
    assert "--overwrite" in captured.err and captured.out == ""  # refused before any case ran
    assert report.read_text() == "earlier results"
    assert main(["bench", "--quick", "--json", str(tmp_path / "missing" / "r.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    report.chmod(0o600)
    assert main(["bench", "--quick", "--size", "8", "--only", "fused (C", "--no-memory", "--json", str(report), "--overwrite"]) == 0
    assert isinstance(json.loads(report.read_text()), dict) and stat.S_IMODE(report.stat().st_mode) == 0o600
