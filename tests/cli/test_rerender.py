"""Issue 14: ``--config OUTPUT.json`` renders again from any working folder (the sidecar
records its input relative to itself; the SHA-256 check stays)."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from peronamalik.art.source import sample_array
from tests.cli.runs import FAST, gif_frames, run_cli


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


def test_a_sidecars_unknown_preset_is_refused(tmp_path, capsys) -> None:
    """A sidecar's ``"preset"`` is checked like ``--preset``: one line naming the presets,
    exit 2, nothing written (it was copied into the new sidecar)."""
    from peronamalik.cli import main

    Image.fromarray(sample_array()[::8, ::8]).save(tmp_path / "cat.png")
    sidecar = tmp_path / "old.gif.json"
    sidecar.write_text(json.dumps({"config": {"iterations": 4, "every": 2, "size": 32}, "preset": "nope", "seed": 1}))
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in ("art", "video"):
        code = main([command, str(tmp_path / "cat.png"), "--config", str(sidecar), "-o", str(tmp_path / "new.gif")])
        err = capsys.readouterr().err
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "'nope'" in lines[0] and "'ember'" in lines[0] and "'kitty'" in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_sidecars_frame_rate_does_not_count_as_fps_given_for_a_png(tmp_path, monkeypatch, capsys) -> None:
    """``--fps`` on a .png is refused (no frame rate); a sidecar's recorded fps is not an
    option given, so rendering a GIF's run again as its last frame works."""
    from peronamalik.cli import main
    from peronamalik.core.threads import torch_threads

    monkeypatch.chdir(tmp_path)
    with torch_threads(1):
        assert main(["art", *FAST, "--fps", "5", "--seed", "2", "-o", "run.gif", "-q"]) == 0
        assert main(["art", "--config", "run.gif.json", "-o", "last.png"]) == 0
    assert "wrote last.png (the last of 4 frames, " in capsys.readouterr().err
    assert json.loads((tmp_path / "last.png.json").read_text())["config"]["fps"] == 5
    assert main(["art", "--config", "run.gif.json", "-o", "again.png", "--fps", "5"]) == 2
    assert "--fps does not apply to a .png" in capsys.readouterr().err
    assert not (tmp_path / "again.png").exists()


def test_a_rerender_on_another_platform_says_its_frames_round_differently(tmp_path) -> None:
    """The sidecar records torch's version and the CPU's instruction set (what the rounding
    depends on besides the config); rendered again where they differ, one note line names
    both and the run goes on; where they are the same, no note."""
    from peronamalik.art.animate import platform_record

    first = run_cli(*FAST, "--seed", "3", "-o", "first.gif", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    sidecar = tmp_path / "first.gif.json"
    record = json.loads(sidecar.read_text())
    assert record["platform"] == platform_record() and record["platform"]["cpu"]

    same = run_cli("--config", sidecar, "-o", "same.gif", cwd=tmp_path)
    assert same.returncode == 0 and "note" not in same.stderr, same.stderr
    assert all(np.array_equal(a, b) for a, b in zip(gif_frames(tmp_path / "first.gif"), gif_frames(tmp_path / "same.gif")))

    elsewhere = tmp_path / "elsewhere.gif.json"
    elsewhere.write_text(json.dumps({**record, "platform": {"torch": "0.0.1", "cpu": "NO_AVX"}}))
    other = run_cli("--config", elsewhere, "-o", "other.gif", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    notes = [line for line in other.stderr.splitlines() if "note" in line]
    assert len(notes) == 1 and "torch 0.0.1, cpu NO_AVX" in notes[0], other.stderr
    assert f"torch {record['platform']['torch']}, cpu {record['platform']['cpu']}" in notes[0]
    assert (tmp_path / "other.gif").exists()


def test_a_sidecars_platform_must_be_a_table_of_names(tmp_path, capsys) -> None:
    from peronamalik.cli import main

    Image.fromarray(sample_array()[::8, ::8]).save(tmp_path / "cat.png")
    sidecar = tmp_path / "old.gif.json"
    sidecar.write_text(json.dumps({"config": {"iterations": 4, "every": 2, "size": 32}, "platform": {"cpu": 3}}))
    code = main(["art", str(tmp_path / "cat.png"), "--config", str(sidecar), "-o", str(tmp_path / "new.gif")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and '"platform"' in err, err
    assert not (tmp_path / "new.gif").exists()
