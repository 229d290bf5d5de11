"""``peronamalik bench``: options that would do nothing are refused in one line (exit 2), before
anything runs or is written -- speed-only options with --quality, an --only WORD that matches
no case, --overwrite without --json, run options with --list."""

from __future__ import annotations

import pytest
import skimage.data
from PIL import Image

from peronamalik import bench, quality
from peronamalik.bench import runner
from peronamalik.cli import main


@pytest.fixture
def nothing_runs(monkeypatch):
    """Any benchmark work (a speed case, the quality table) fails the test."""

    def ran(*args, **kwargs):
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(runner, "run_case", ran)
    monkeypatch.setattr(quality, "main", ran)


def refused(argv, capsys, tmp_path, monkeypatch) -> str:
    """Run ``argv`` in an empty folder; check exit 2, one error line, no output, no file."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("peronamalik: error: "), captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []
    return lines[0]


@pytest.mark.parametrize(
    "options, named",
    [
        (["--size", "8", "--iterations", "1", "--only", "zzz"], ["--size", "--iterations", "--only"]),
        (["--repeat", "1", "--no-memory"], ["--repeat", "--no-memory"]),
        (["--memory"], ["--memory"]),
        (["--size", "2048"], ["--size"]),  # the default's value, given: still refused
        (["--json", "q.json", "--overwrite"], ["--json", "--overwrite"]),
    ],
)
def test_quality_refuses_the_speed_options(options, named, capsys, tmp_path, monkeypatch, nothing_runs) -> None:
    line = refused(["bench", "--quality", "-q", *options], capsys, tmp_path, monkeypatch)
    assert "speed benchmark" in line and "--quality" in line
    for option in named:
        assert option in line
    assert "--quick" not in line and "-q," not in line


def test_quality_keeps_quick_image_and_quiet(capsys, tmp_path) -> None:
    """Only options given count: defaults (--size 2048, --memory unset) do not trip the check,
    and --quick, -q and --image reach the real quality table (one noise level, the photo)."""
    photo = tmp_path / "a.png"
    Image.fromarray(skimage.data.camera()[::4, ::4]).save(photo)
    assert main(["bench", "--quality", "--quick", "-q", "--image", str(photo)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.count("Gaussian noise s = ") == 1 and "PM auto below the oracle: a.png" in captured.out


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--only", "zzznomatch"], "no case matches --only 'zzznomatch'"),
        (["--only", "fused", "--only", "zzznomatch"], "no case matches --only 'zzznomatch'"),  # one word of two
        (["--quick", "--only", "rational"], "matches only cases that --quick leaves out"),
    ],
)
def test_only_matching_nothing_is_refused_before_running(options, expected, capsys, tmp_path, monkeypatch, nothing_runs) -> None:
    argv = ["bench", "--size", "8", "--iterations", "1", "--repeat", "1", "--no-memory", *options, "--json", "r.json"]
    line = refused(argv, capsys, tmp_path, monkeypatch)
    assert expected in line
    if "no case" in line:
        assert "peronamalik bench --list" in line


def test_list_prints_the_names_only_matches(capsys) -> None:
    assert main(["bench", "--list"]) == 0
    assert capsys.readouterr().out.splitlines() == list(bench.REGISTRY)
    assert main(["bench", "--list", "--quick", "--only", "medpy"]) == 0
    assert capsys.readouterr().out.splitlines() == [c.name for c in bench.select(["medpy"], quick=True)] == ["medpy", "medpy 3-D"]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--list", "--size", "8", "--no-memory"], "--list only prints the speed benchmark's case names: drop --size, --no-memory"),
        (["--list", "--quality"], "drop --quality"),
        (["--list", "--only", "zzznomatch"], "no case matches --only 'zzznomatch'"),
        (["--size", "8", "--overwrite"], "--overwrite needs --json"),
    ],
)
def test_list_and_overwrite_refuse_what_they_ignore(argv, expected, capsys, tmp_path, monkeypatch, nothing_runs) -> None:
    assert expected in refused(["bench", *argv], capsys, tmp_path, monkeypatch)
