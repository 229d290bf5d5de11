"""Issue 15.3, 15.11-13: the same command and seed give the same animation whether or not the
learned-step kernel was in the disk cache; a damaged cached kernel is rebuilt; a re-render
takes the backend its sidecar records, or says in one line that it cannot.

Each render runs in a fresh process (a process keeps a loaded kernel; truncating a library
a process has mapped would crash that process, which is the point of the checksum).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from peronamalik.backends.native import build

ART = ["--preset", "seed", "--size", "32", "--iterations", "12", "--every", "4", "--seed", "3"]


def render(tmp_path: Path, name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("PERONAMALIK_CACHE_DIR", "PERONAMALIK_BACKEND", "PERONAMALIK_FUSED")}
    return subprocess.run(
        [sys.executable, "-m", "peronamalik", "art", *args, "-o", f"{name}/"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**environment, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(tmp_path / "xdg"), **env},
    )  # fmt: skip


def frames(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(path)) for path in sorted(folder.glob("*.png"))]


def test_cold_and_warm_cache_give_the_same_frames_and_a_damaged_kernel_is_rebuilt(tmp_path):
    cache = tmp_path / "xdg" / "peronamalik"
    cold = render(tmp_path, "cold", *ART)
    assert cold.returncode == 0, cold.stderr
    record = json.loads((tmp_path / "cold.json").read_text())
    expected = frames(tmp_path / "cold")
    assert len(expected) == 3
    if build.compiler() is None:
        assert record["backend"] == "reference"
        pytest.skip("no C compiler: the native kernel's cache cannot be exercised here")
    assert record["backend"] == "native", "the kernel was built synchronously on first need"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    (library,) = cache.glob("learned-*.so")
    assert build.verified(library) and not list(cache.glob(".build-*"))

    warm = render(tmp_path, "warm", *ART)
    assert warm.returncode == 0, warm.stderr
    assert json.loads((tmp_path / "warm.json").read_text())["backend"] == "native"
    assert all(np.array_equal(a, b) for a, b in zip(frames(tmp_path / "warm"), expected, strict=True))

    with open(library, "r+b") as f:  # a damaged library in the cache: rebuilt, not loaded
        f.truncate(library.stat().st_size // 2)
    repaired = render(tmp_path, "repaired", *ART)
    assert repaired.returncode == 0, repaired.stderr
    assert build.verified(library)
    assert all(np.array_equal(a, b) for a, b in zip(frames(tmp_path / "repaired"), expected, strict=True))


def test_a_rerender_says_when_the_recorded_backend_cannot_run_here(tmp_path):
    """A sidecar recording the native backend, re-rendered where no kernel can be built: the
    reference runs, one warning line says so, and the new sidecar records it."""
    first = render(tmp_path, "first", *ART, PERONAMALIK_BACKEND="reference")
    assert first.returncode == 0, first.stderr
    sidecar = json.loads((tmp_path / "first.json").read_text())
    assert sidecar["backend"] == "reference"
    sidecar["backend"] = "native"
    (tmp_path / "native.json").write_text(json.dumps(sidecar))
    again = render(tmp_path, "again", "--config", "native.json", CC="false", PATH=str(tmp_path / "no-bin"))
    assert again.returncode == 0, again.stderr
    lines = [line for line in again.stderr.splitlines() if "backend 'native' cannot run" in line]
    assert len(lines) == 1, again.stderr
    assert json.loads((tmp_path / "again.json").read_text())["backend"] == "reference"
    assert all(np.array_equal(a, b) for a, b in zip(frames(tmp_path / "again"), frames(tmp_path / "first"), strict=True))
