"""Without the ``[dask]`` extra (``pip install 'peronamalik[cli]'``): a batch runs on the
local pool of threads, which needs no Dask.

The missing extra is real for the subprocess: a ``sitecustomize`` on its ``PYTHONPATH`` makes
``import dask``, ``distributed`` and ``zarr`` fail as they do where they are not installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from peronamalik.io.images import read_image

from tests.cli.runs import FAST_ART, lines, photos, run_peronamalik

BLOCK_DASK = '''
import importlib.abc
import sys


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("dask", "distributed", "zarr"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
'''


@pytest.fixture
def no_dask(tmp_path: Path) -> dict[str, str]:
    """The environment of a subprocess that cannot import dask, distributed or zarr."""
    folder = tmp_path / "no-dask"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCK_DASK)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))}


def test_the_blocker_hides_dask(tmp_path: Path, no_dask: dict[str, str]) -> None:
    """The fixture does what it says (else the tests below would prove nothing)."""
    photo = photos(tmp_path / "in", 1)[0]  # a zarr result needs dask and zarr
    done = run_peronamalik("smooth", photo, "-o", "out.zarr", cwd=tmp_path, env=no_dask)
    assert "dask" in done.stderr or "zarr" in done.stderr, done.stderr
    assert done.returncode != 0


def test_smooth_batch_on_the_thread_pool_needs_no_dask(tmp_path: Path, no_dask: dict[str, str]) -> None:
    good = photos(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.png").unlink()
    done = run_peronamalik("smooth", "in/*.png", "-o", "out", "--iterations", "4", cwd=tmp_path, env=no_dask)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "2 written, 0 already done, 0 failed" in lines(done.stderr)[-1]
    single = run_peronamalik("smooth", good[0], "-o", "single.png", "--iterations", "4", cwd=tmp_path, env=no_dask)
    assert single.returncode == 0, single.stderr
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "photo0.png").array, read_image(tmp_path / "single.png").array)


def test_art_batch_on_the_thread_pool_needs_no_dask(tmp_path: Path, no_dask: dict[str, str]) -> None:
    photos(tmp_path / "in", 1, ".jpg")
    (tmp_path / "in" / "broken.jpg").unlink()
    done = run_peronamalik("art", "in", "-o", "anim", *FAST_ART, "--seed", "1", "-q", cwd=tmp_path, env=no_dask)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert (tmp_path / "anim" / "photo0.gif").is_file()


@pytest.mark.parametrize(
    "args",
    [
        ("smooth", "vol.zarr", "-o", "out.zarr"),
        ("smooth", "in/*.png", "-o", "out", "--workers", "2"),
        ("smooth", "in/*.png", "-o", "out", "--scheduler", "tcp://127.0.0.1:8786"),
        ("art", "in", "-o", "anim", "--workers", "2"),
    ],
)
def test_what_needs_dask_says_which_extra_to_install(tmp_path: Path, no_dask: dict[str, str], args: tuple[str, ...]) -> None:
    """A zarr volume and a Dask cluster need the [dask] extra: one line naming it, exit 2,
    nothing written (it was distributed's or dask's ModuleNotFoundError traceback, exit 1)."""
    photos(tmp_path / "in", 1)
    (tmp_path / "vol.zarr").mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    done = run_peronamalik(*args, cwd=tmp_path, env=no_dask)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    (line,) = lines(done.stderr)
    assert line.startswith("peronamalik: error: zarr volumes and Dask clusters needs '"), line
    assert line.endswith("(pip install 'peronamalik[dask]')"), line
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
