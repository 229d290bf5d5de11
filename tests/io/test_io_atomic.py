"""Atomic outputs: all or nothing, never over an existing file unless asked."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from peronamalik.io.atomic import AtomicTarget, atomic_output, check_target


def test_success_replaces_target_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    with atomic_output(target, overwrite=False) as temp:
        assert temp.parent == tmp_path
        assert temp.name.startswith(".") and temp.suffix == ".png"
        assert temp.exists() and not target.exists()
        temp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_new_file_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "a.txt", overwrite=False) as temp:
            temp.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_existing_target_needs_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="exists; pass --overwrite"):
        with atomic_output(target, overwrite=False):
            pytest.fail("the body must not run")
    assert target.read_bytes() == b"old"
    with atomic_output(target, overwrite=True) as temp:
        temp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_exception_keeps_old_target_and_removes_temporary(tmp_path: Path, error: type[BaseException]) -> None:
    target = tmp_path / "out.npy"
    target.write_bytes(b"old")
    with pytest.raises(error):
        with atomic_output(target, overwrite=True) as temp:
            temp.write_bytes(b"half")
            raise error
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]


def test_target_created_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(ValueError, match="exists"):
        with atomic_output(target, overwrite=False) as temp:
            temp.write_text("mine")
            target.write_text("someone else's")
    assert target.read_text() == "someone else's"
    assert len(list(tmp_path.iterdir())) == 1


def test_check_target_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        check_target(tmp_path / "missing" / "out.png", overwrite=True)
    with pytest.raises(ValueError, match="is a folder"):
        check_target(tmp_path, overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        check_target(tmp_path / "file", overwrite=True, directory=True)


def test_folder_target(tmp_path: Path) -> None:
    target = tmp_path / "frames"
    target.mkdir()  # an empty folder is free
    with atomic_output(target, overwrite=False, directory=True) as temp:
        assert temp.is_dir() and temp.parent == tmp_path and temp.name.startswith(".")
        (temp / "a").write_text("1")
    assert [p.name for p in target.iterdir()] == ["a"]
    with pytest.raises(ValueError, match="exists"):
        check_target(target, overwrite=False, directory=True)
    with atomic_output(target, overwrite=True, directory=True) as temp:
        (temp / "b").write_text("2")
    assert [p.name for p in target.iterdir()] == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_commit_twice_is_an_error(tmp_path: Path) -> None:
    pending = AtomicTarget(tmp_path / "x.txt", overwrite=False)
    pending.commit()
    with pytest.raises(RuntimeError):
        pending.commit()
