"""Batches: ``peronamalik smooth 'in/*.png' -o out/`` and ``peronamalik art in/ -o out/``.

Real files, real subprocesses (exit status, stderr); the threaded scheduler, except one art
batch on a LocalCluster of 2 processes.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from peronamalik.io.images import read_image
from tests.cli.runs import FAST_ART, lines, photos, run_peronamalik


def test_smooth_batch_writes_the_good_files_and_reports_the_bad_one(tmp_path: Path) -> None:
    good = photos(tmp_path / "in", 3)
    done = run_peronamalik("smooth", "in/*.png", "-o", "out", "--iterations", "5", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = [line for line in lines(done.stderr) if "broken.png" in line]
    assert len(errors) == 1 and "cannot read" in errors[0]
    assert "3 written, 0 already done, 1 failed" in lines(done.stderr)[-1]
    assert not (tmp_path / "out" / "broken.png").exists()
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporaries left
    # each output is what the single-file command writes
    single = run_peronamalik("smooth", good[1], "-o", "single.png", "--iterations", "5", cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "photo1.png").array, read_image(tmp_path / "single.png").array)
    record = json.loads((tmp_path / "out" / "photo1.png.json").read_text())
    assert record["options"]["iterations"] == 5 and len(record["input"]["sha256"]) == 64


def test_smooth_batch_resumes_and_redoes_what_changed(tmp_path: Path) -> None:
    good = photos(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.png").unlink()
    assert run_peronamalik("smooth", "in", "-o", "out", "--iterations", "3", cwd=tmp_path).returncode == 0
    outputs = sorted((tmp_path / "out").glob("*.png"))
    stamps = [p.stat().st_mtime_ns for p in outputs]
    again = run_peronamalik("smooth", "in", "-o", "out", "--iterations", "3", cwd=tmp_path)
    assert again.returncode == 0 and "0 written, 2 already done, 0 failed" in again.stderr
    assert [p.stat().st_mtime_ns for p in outputs] == stamps
    # another input under the same name: done again (with --overwrite), the other one skipped
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(good[0])
    changed = run_peronamalik("smooth", "in", "-o", "out", "--iterations", "3", "--overwrite", cwd=tmp_path)
    assert changed.returncode == 0 and "1 written, 1 already done, 0 failed" in changed.stderr
    assert not read_image(tmp_path / "out" / "photo0.png").array.any()
    # other settings: every file again; without --overwrite each one says why, none is replaced
    other = run_peronamalik("smooth", "in", "-o", "out", "--iterations", "4", cwd=tmp_path)
    assert other.returncode == 1 and "0 written, 0 already done, 2 failed" in other.stderr
    assert sum("exists; pass --overwrite" in line for line in lines(other.stderr)) == 2


def test_art_batch_on_a_local_cluster_of_two_processes_then_resume(tmp_path: Path) -> None:
    photos(tmp_path / "in", 2, ".jpg")
    done = run_peronamalik("art", "in/*.jpg", "-o", "out", *FAST_ART, "--seed", "3", "--workers", "2", cwd=tmp_path, timeout=600)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len([line for line in lines(done.stderr) if "broken.jpg" in line]) == 1
    assert "2 written, 0 already done, 1 failed" in lines(done.stderr)[-1]
    for i in range(2):
        gif = tmp_path / "out" / f"photo{i}.gif"
        with Image.open(gif) as image:
            assert image.n_frames == 2
        assert json.loads((tmp_path / "out" / f"photo{i}.gif.json").read_text())["preset"] == "ink"
    again = run_peronamalik("art", "in/*.jpg", "-o", "out", *FAST_ART, "--seed", "3", cwd=tmp_path)
    assert "0 written, 2 already done, 1 failed" in again.stderr


def _distributed_handler_levels() -> list[int]:
    return [handler.level for handler in logging.getLogger("distributed").handlers]


def test_local_cluster_workers_log_nothing_below_critical() -> None:
    """A worker whose heartbeat races the scheduler's close at shutdown logs the failure with
    a traceback at ERROR (CI saw one on stderr): the CLI's workers print only CRITICAL."""
    from peronamalik.cli.smooth_dask import dask_client

    with dask_client(1, None) as client:
        levels = client.run(_distributed_handler_levels)
    assert levels and all(level == [logging.CRITICAL] for level in levels.values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["art", "in/*.png"], "give -o"),
        (["smooth", "in/*.tif", "-o", "out"], "matches no image files"),
        (["smooth", "in", "-o", "out", "--compare", "c.png"], "--compare takes one INPUT"),
        (["smooth", "in", "-o", "out", "--chunks", "8"], "--chunks applies to zarr volumes"),
        # the results would be inputs of the next run, which then refused the folder (QA)
        (["art", "in/", "-o", "in/"], "-o in holds the inputs"),
        (["smooth", "in/*.png", "-o", "./in"], "holds the inputs"),
    ],
)
def test_bad_batch_one_line_exit_2_nothing_written(tmp_path: Path, args: list[str], message: str) -> None:
    photos(tmp_path / "in", 1)
    done = run_peronamalik(*args, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(lines(done.stderr)) == 1 and message in done.stderr
    assert not (tmp_path / "out").exists()


def test_quiet_batch_prints_only_what_failed(tmp_path: Path) -> None:
    """-q printed the progress bar and the summary all the same (QA)."""
    photos(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.png").unlink()
    done = run_peronamalik("smooth", "in", "-o", "out", "-q", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    (tmp_path / "in" / "broken.png").write_bytes(b"not an image")
    failed = run_peronamalik("smooth", "in", "-o", "out2", "-q", cwd=tmp_path)
    assert failed.returncode == 1
    assert [line.split(":")[0] for line in lines(failed.stderr)] == ["peronamalik", "smooth"]


def test_ctrl_c_stops_a_batch_and_the_same_command_does_the_rest(tmp_path: Path, reap) -> None:
    """Ctrl-C reached the main thread only: every file, started or not, was still rendered to
    its end, then the batch said "nothing was written" (QA).  Now no file starts after it, the
    animations being made stop at their next frame as valid files marked interrupted, the line
    says so, and running the command again makes what is missing."""
    import signal
    import time

    photos(tmp_path / "in", 4)
    (tmp_path / "in" / "broken.png").unlink()
    args = ["art", "in", "-o", "anim", "--preset", "ink", "--iterations", "20000", "--every", "100", "--size", "64",
            "--seed", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = reap(subprocess.Popen([sys.executable, "-m", "peronamalik", *args], cwd=tmp_path, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until an animation holds a few frames
        if any(p.stat().st_size > 4000 for p in (tmp_path / "anim").glob(".*.tmp.gif")):
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr
    summary = lines(stderr)[-1]
    assert summary.startswith("peronamalik: interrupted: 0 written into anim, ") and "not started" in summary
    partial = sorted((tmp_path / "anim").glob("*.gif"))
    assert 1 <= len(partial) <= 2 and f"{len(partial)} stopped partway" in summary, stderr  # one per worker thread
    for path in partial:
        record = json.loads(Path(f"{path}.json").read_text())
        with Image.open(path) as animation:
            assert record["interrupted"] and 0 < record["frames"] == len(ImageSequence.all_frames(animation))
    assert not [p for p in (tmp_path / "anim").iterdir() if p.name.startswith(".")]  # no temporary left
    again = run_peronamalik(*args, cwd=tmp_path)
    assert again.returncode == 0 and "4 written, 0 already done, 0 failed" in lines(again.stderr)[-1]
    for path in sorted((tmp_path / "anim").glob("*.gif")):
        assert not json.loads(Path(f"{path}.json").read_text())["interrupted"]


def test_a_failure_names_its_file_once(tmp_path: Path) -> None:
    """"peronamalik: in/broken.png: cannot read in/broken.png: ..." named the file twice (QA)."""
    photos(tmp_path / "in", 1)
    done = run_peronamalik("smooth", "in", "-o", "out", "-q", cwd=tmp_path)
    (failure,) = [line for line in lines(done.stderr) if "broken.png" in line]
    assert failure.count("broken.png") == 1 and failure.startswith("peronamalik: ")
