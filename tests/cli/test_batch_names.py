"""INPUT names with glob characters, and the checks a batch makes before it writes anything.

An existing file is one input whatever its name (``photo[1].png``, ``b*.png``); a pattern
that matches nothing, a ``-o`` that names a file and a ``--scheduler`` that is no address
end in one line, exit status 2, and nothing made.  Real files, real subprocesses.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from peronamalik.io.images import read_image

from tests.cli.runs import FAST_ART, lines, photos, run_peronamalik


def tree(folder: Path) -> list[str]:
    """Every path under ``folder``, relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_refused(done, message: str, folder: Path, before: list[str]) -> None:
    """Exit status 2, one line naming the problem, no traceback, nothing made under ``folder``."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(lines(done.stderr)) == 1 and message in done.stderr, done.stderr
    assert tree(folder) == before


def test_an_existing_file_named_like_a_pattern_is_one_input(tmp_path: Path) -> None:
    """Defect 1: ``photo[1].png`` was taken for a pattern ('names many files', 'matches no
    image files'), for smooth and art alike."""
    (plain,) = photos(tmp_path / "in", 1)
    shutil.copy(plain, tmp_path / "photo[1].png")
    default = run_peronamalik("smooth", "photo[1].png", "--iterations", "3", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    named = run_peronamalik("smooth", "photo[1].png", "-o", "o[1].png", "--iterations", "3", cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    reference = run_peronamalik("smooth", plain, "-o", "plain.png", "--iterations", "3", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    expected = read_image(tmp_path / "plain.png").array
    for name in ("photo[1]-smooth.png", "o[1].png"):
        np.testing.assert_array_equal(read_image(tmp_path / name).array, expected)
    art = run_peronamalik("art", "photo[1].png", *FAST_ART, "--seed", "1", "-q", cwd=tmp_path)
    assert art.returncode == 0, art.stderr
    with Image.open(tmp_path / "photo[1]-art.gif") as gif:
        assert gif.n_frames == 2


def test_a_batch_processes_files_whose_names_hold_glob_characters(tmp_path: Path) -> None:
    """Defect 2: the task of ``one/b*.png`` ran the batch again, outside any click context
    ('RuntimeError: There is no active click context'); ``star*.png -o s.png`` made a
    folder ``s.png``."""
    (plain,) = photos(tmp_path / "one", 1)
    (tmp_path / "one" / "broken.png").unlink()
    shutil.copy(plain, tmp_path / "one" / "b*.png")
    done = run_peronamalik("smooth", "one/*.png", "-o", "oneout/", "--iterations", "3", cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "2 written, 0 already done, 0 failed" in lines(done.stderr)[-1]
    outputs = tmp_path / "oneout"
    assert tree(outputs) == ["b*.png", "b*.png.json", "photo0.png", "photo0.png.json"]
    np.testing.assert_array_equal(read_image(outputs / "b*.png").array, read_image(outputs / "photo0.png").array)
    shutil.copy(plain, tmp_path / "star*.png")
    single = run_peronamalik("smooth", "star*.png", "-o", "s.png", "--iterations", "3", cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    assert (tmp_path / "s.png").is_file()
    np.testing.assert_array_equal(read_image(tmp_path / "s.png").array, read_image(outputs / "photo0.png").array)


@pytest.mark.parametrize("pattern", ["nomatch/*.png", "x[ab"])
def test_a_pattern_that_matches_nothing_says_so(tmp_path: Path, pattern: str) -> None:
    """Defect 3: without -o, a pattern that matches nothing said 'names many files: give -o'."""
    photos(tmp_path / "in", 1)
    before = tree(tmp_path)
    assert_refused(run_peronamalik("smooth", pattern, cwd=tmp_path), f"INPUT {pattern} matches no image files", tmp_path, before)


def test_a_malformed_scheduler_address_is_one_line(tmp_path: Path) -> None:
    """Defect 4: ``--scheduler garbage`` ended in distributed's 71-line traceback (ValueError:
    missing port number), for a zarr volume and for a batch."""
    pytest.importorskip("distributed")
    import dask.array as da

    from peronamalik.io.zarr import write_zarr

    write_zarr(tmp_path / "v.zarr", da.from_array(np.random.default_rng(0).random((6, 8, 8), dtype=np.float32)))
    photos(tmp_path / "batch", 1)
    before = tree(tmp_path)
    for args in (["v.zarr", "-o", "v6.zarr"], ["batch/*.png", "-o", "bout/"]):
        done = run_peronamalik("smooth", *args, "--scheduler", "garbage", cwd=tmp_path)
        assert_refused(done, "--scheduler 'garbage' is not a scheduler address", tmp_path, before)


def test_a_scheduler_that_does_not_answer_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A well-formed address where no scheduler listens: one line that names the option and
    where the wait comes from (dask's connect timeout, here set to 1 s), nothing written."""
    pytest.importorskip("distributed")
    import socket

    import dask.array as da

    from peronamalik.io.zarr import write_zarr

    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "1s")
    write_zarr(tmp_path / "v.zarr", da.from_array(np.random.default_rng(0).random((6, 8, 8), dtype=np.float32)))
    before = tree(tmp_path)
    done = run_peronamalik("smooth", "v.zarr", "-o", "v6.zarr", "--scheduler", f"tcp://127.0.0.1:{port}", cwd=tmp_path)
    assert_refused(done, f"--scheduler tcp://127.0.0.1:{port}: Timed out trying to connect", tmp_path, before)
    assert "distributed.comm.timeouts.connect" in done.stderr


@pytest.mark.parametrize(
    ("args", "output"),
    [(["smooth", "in/*.png", "--iterations", "3"], "bout/x.png"), (["art", "in", *FAST_ART], "x.gif")],
)
def test_a_batch_refuses_an_output_that_names_a_file(tmp_path: Path, args: list[str], output: str) -> None:
    """Defect 5: ``-o bout/x.png`` made a folder named ``x.png``."""
    photos(tmp_path / "in", 1)
    before = tree(tmp_path)
    done = run_peronamalik(*args, "-o", output, cwd=tmp_path)
    assert_refused(done, f"-o {output} names a {Path(output).suffix} file; a batch writes into a folder", tmp_path, before)
