"""Issue 4: the benchmark runs end to end (tiny quick mode); no timing thresholds here."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch

from peronamalik import bench
from peronamalik.bench.report import _shown_name
from peronamalik.cli import main


@pytest.fixture(scope="module")
def report() -> dict:
    lines: list[str] = []
    result = bench.main(quick=True, memory=True, echo=lines.append)
    result["table"] = "\n".join(lines)
    return result


def test_every_registered_case_has_a_row(report) -> None:
    names = [r["name"] for r in report["results"]]
    quick_cases = [c.name for c in bench.REGISTRY.values() if c.quick]
    assert names == quick_cases
    for row in report["results"]:
        if row["skipped"] != "no CUDA device":  # those collapse into one line
            assert f"  {_shown_name(row['name'], row['group'])}  " in report["table"]
    for expected in ("reference", "fused", "medpy", "SimpleITK", "OpenCV"):
        assert any(expected in n for n in names)


def test_numbers_are_positive(report) -> None:
    for row in report["results"]:
        if row["skipped"]:  # a peer not installed here, or a GPU row without a GPU: says why
            if row["device"] == "cuda" and not torch.cuda.is_available():
                assert row["skipped"] == "no CUDA device"
            elif row["peer"] == "OpenCV":  # a cv2 without the contrib modules says which function it lacks
                assert "not importable" in row["skipped"] or "has no" in row["skipped"]
            else:
                assert row["peer"] and row["skipped"]
            continue
        assert row["rate"] > 0 and row["seconds"] > 0 and row["runs"] >= 1
        assert row["peak_bytes"] is not None and row["peak_bytes"] >= 0
        assert row["image_bytes"] > 0
        for ratio in row["ratios"].values():
            assert ratio > 0
    ours = next(r for r in report["results"] if r["name"] == "peronamalik fused (C kernel)")
    assert "reference" in ours["ratios"]
    if not any(r["skipped"] for r in report["results"] if r["peer"] == "medpy"):
        assert "medpy" in ours["ratios"]


def test_gpu_rows_compare_with_copy_bandwidth_and_eager(report) -> None:
    """The GPU group: the card's copy, the eager path and the compiled path side by side (run
    where a GPU is present, listed as skipped elsewhere)."""
    gpu = [r for r in report["results"] if r["device"] == "cuda"]
    for label in ("2-D", "3-D"):
        peers = {r["peer"] for r in gpu if r["group"] == f"CUDA {label}"}
        assert peers == {"copy", "CUDA eager", None}
    assert any(r["group"].startswith("CUDA learned step 1024") for r in gpu)
    if torch.cuda.is_available():
        compiled = next(r for r in gpu if r["name"] == "peronamalik CUDA compiled 2-D")
        assert compiled["ratios"]["copy"] > 0 and compiled["first_seconds"] > 0


def test_table_lists_rates_ratios_and_memory(report) -> None:
    table = report["table"]
    header = next(line for line in table.splitlines() if line.strip().startswith("case"))
    for column in ("Mpix·it/s", "peak MiB", "×img", "vs"):
        assert column in header
    row = next(line for line in table.splitlines() if line.strip().startswith("peronamalik fused (C kernel)"))
    numbers = [float(x) for x in re.findall(r"(?<![\w.])\d+\.\d+", row)]
    assert numbers and all(n > 0 for n in numbers)
    assert "ref " in row  # the ratio to the reference path
    assert "fused kernel:" in table


def test_table_fits_100_columns_and_collapses_missing_cuda(report) -> None:
    """Issue 14: a terminal-wide table; without a GPU its CUDA cases are one line."""
    table = report["table"]
    assert max(len(line) for line in table.splitlines()) <= 100
    if not torch.cuda.is_available():
        assert table.count("CUDA") == 1 and "CUDA: no device, skipped" in table


def test_quick_sizes_let_the_kernel_beat_per_call_overhead(report) -> None:
    """--quick times 512² images: large enough that the comparison with medpy means something."""
    assert report["settings"]["size"] == 512 and report["settings"]["iterations"] == 5


def test_startup_is_measured(report) -> None:
    """Issue 14: the wall time of ``peronamalik --help`` and ``import peronamalik``."""
    assert set(report["startup"]) == {"peronamalik --help", "import peronamalik"}
    assert all(seconds > 0 for seconds in report["startup"].values())
    assert "start-up: peronamalik --help" in report["table"]


def test_registry_hook_and_split() -> None:
    """A case added later (e.g. the learned step, the art job) shows up with its split."""
    case = bench.Case(
        "test hook",
        group="extra",
        make=lambda inputs: lambda: {"diffusion": 0.001, "encoding": 0.002},
        pixels=lambda s: 10,
        iterations=lambda s: 1,
    )
    bench.register(case)
    try:
        lines: list[str] = []
        report = bench.main(quick=True, only=["test hook"], memory=False, echo=lines.append)
    finally:
        bench.REGISTRY.pop("test hook")
    (row,) = report["results"]
    assert row["rate"] > 0 and row["split"] == {"diffusion": 0.001, "encoding": 0.002}
    assert "split of test hook: diffusion 0.001 s (33%), encoding 0.002 s (67%)" in "\n".join(lines)


def test_art_row_names_and_runs_the_real_default_preset() -> None:
    """The "art default job" row is the default preset's job, and its note says which."""
    from peronamalik.art.presets import DEFAULT_PRESET, preset_config
    from peronamalik.bench.registry import Settings

    case = bench.REGISTRY["art default job"]
    assert f"bundled sample, {DEFAULT_PRESET};" in case.note
    assert case.iterations(Settings(quick=False)) == preset_config(DEFAULT_PRESET).iterations


def test_missing_peer_is_skipped_with_a_note() -> None:
    case = bench.Case(
        "absent peer",
        group="extra",
        peer="nothing",
        requires=("no_such_module_xyz",),
        make=lambda inputs: lambda: None,
        pixels=lambda s: 1,
    )
    bench.register(case)
    try:
        lines: list[str] = []
        report = bench.main(quick=True, only=["absent peer"], echo=lines.append)
    finally:
        bench.REGISTRY.pop("absent peer")
    (row,) = report["results"]
    assert row["skipped"] and "no_such_module_xyz" in row["skipped"]
    assert "skipped" in "\n".join(lines)


def test_cli_command(capsys, tmp_path) -> None:
    out = tmp_path / "report.json"
    code = main(["bench", "--quick", "--only", "fused (C", "--no-memory", "--json", str(out)])
    assert code == 0
    assert "peronamalik fused (C kernel)" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["results"][0]["rate"] > 0


def test_cli_rejects_bad_options(capsys) -> None:
    assert main(["bench", "--iterations", "0"]) == 2
    assert "iterations" in capsys.readouterr().err


def test_bench_package_does_not_import_the_cli() -> None:
    """Issue 12: the benchmark is a library the CLI calls, not the reverse (no import cycle)."""
    code = "import sys, peronamalik.bench; print(sorted(m for m in sys.modules if m.startswith('peronamalik.cli')))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
