"""Issue 14: ``--config OUTPUT.json`` renders again from any working folder (the sidecar
records its input relative to itself; the SHA-256 check stays)."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from peronamalik.art.source import sample_array
from tests.cli.test_art import FAST, gif_frames, run_cli


def test_sidecar_finds_its_input_from_another_folder(tmp_path) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    photo = tmp_path / "pics" / "cat.png"
    Image.fromarray(sample_array()[::4, ::4]).save(photo)
    first = run_cli("pics/cat.png", "-o", "out/cat.gif", *FAST, "--seed", "3", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    sidecar = tmp_path / "out" / "cat.gif.json"
    assert json.loads(sidecar.read_text())["input"]["path"] == "../pics/cat.png"

    again = run_cli("--config", sidecar, "-o", "again.gif", cwd=tmp_path / "elsewhere")
    assert again.returncode == 0, again.stderr
    before, after = gif_frames(tmp_path / "out" / "cat.gif"), gif_frames(tmp_path / "elsewhere" / "again.gif")
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))

    Image.fromarray(255 - sample_array()[::4, ::4]).save(photo)  # the input changed: refused
    changed = run_cli("--config", sidecar, "-o", "third.gif", cwd=tmp_path / "elsewhere")
    assert changed.returncode == 2 and "SHA-256" in changed.stderr
    assert not (tmp_path / "elsewhere" / "third.gif").exists()
