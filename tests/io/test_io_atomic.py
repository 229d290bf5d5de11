"""Atomic outputs: all or nothing, never over an existing file unless asked."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from peronamalik.cli import main
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


def _name(length: int, suffix: str) -> str:
    """A file name of exactly ``length`` bytes ending in ``suffix``."""
    return "n" * (length - len(suffix)) + suffix


@pytest.mark.parametrize("length", [200, 238, 245, 255])
@pytest.mark.parametrize("directory", [False, True])
def test_names_up_to_the_file_system_limit_work(tmp_path: Path, length: int, directory: bool) -> None:
    """The temporary beside the target must fit too, whatever the target's length."""
    target = tmp_path / _name(length, "" if directory else ".png")
    for overwrite in (False, True):  # a first write, then a replacement
        with atomic_output(target, overwrite=overwrite, directory=directory) as temp:
            assert temp.parent == tmp_path and temp.name.startswith(".")
            assert temp.suffix == (".tmp" if directory else ".png")
            (temp / "f").write_text("x") if directory else temp.write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_a_name_longer_than_the_file_system_takes_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="256 bytes"):
        check_target(tmp_path / _name(256, ".png"), overwrite=False)
    with pytest.raises(ValueError, match="bytes"):
        with atomic_output(tmp_path / _name(300, ".png"), overwrite=False):
            pytest.fail("the body must not run")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_overwrite_keeps_the_replaced_files_mode(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "secret.txt"
    target.write_text("old")
    target.chmod(mode)
    with atomic_output(target, overwrite=True) as temp:
        temp.write_text("new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == mode


def test_a_failed_write_names_the_target_not_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    with pytest.raises(OSError, match="out.png") as caught:
        with atomic_output(target, overwrite=False) as temp:
            raise OSError(errno.ENOSPC, "No space left on device", str(temp))
    assert caught.value.errno == errno.ENOSPC and ".tmp" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def _can_create_in(folder: Path) -> bool:
    try:
        handle, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(handle)
    os.unlink(name)
    return True


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A real folder no file can be made in: mode 0555, or (as root, whom the mode does not
    stop) a read-only tmpfs mounted on it; skipped where neither can be had."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    mounted = False
    try:
        if _can_create_in(folder) and shutil.which("mount"):
            options = ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)]
            mounted = subprocess.run(["mount", *options], capture_output=True).returncode == 0
        if _can_create_in(folder):
            pytest.skip("no read-only folder here (root without the right to mount)")
        yield folder
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.mark.parametrize("directory", [False, True])
def test_a_read_only_folder_names_the_target_not_the_temporary(
    read_only_folder: Path, tmp_path: Path, directory: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA: ``-o /ro/x.png`` said ``[Errno 30] Read-only file system: '/ro/.x.png.6erurauj.tmp.png'``."""
    target = read_only_folder / ("frames" if directory else "x.png")
    with pytest.raises(OSError) as caught:
        with atomic_output(target, overwrite=False, directory=directory):
            pytest.fail("the body must not run")
    assert caught.value.errno in (errno.EROFS, errno.EACCES)
    assert f"cannot write {target}:" in str(caught.value) and ".tmp" not in str(caught.value)
    if not directory:  # the CLI: one line naming what the user gave, exit 2
        Image.fromarray(np.full((16, 16), 90, np.uint8)).save(tmp_path / "in.png")
        assert main(["smooth", str(tmp_path / "in.png"), "-o", str(target), "--iterations", "1"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("peronamalik: error: ") and str(target) in lines[0], lines
        assert ".tmp" not in lines[0]
    assert list(read_only_folder.iterdir()) == []
