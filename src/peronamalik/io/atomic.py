"""Atomic outputs: write to a hidden temporary beside the target, then rename it in place.

A reader never sees half a file: the target either keeps its old content or gets the
complete new one.  Errors leave nothing behind, and an existing target is only replaced
when the caller says so (the CLI's ``--overwrite``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def check_target(target: str | os.PathLike[str], *, overwrite: bool, directory: bool = False) -> Path:
    """Fail early, before any long computation, if ``target`` cannot be written.

    Parameters
    ----------
    target : path-like
        The output the caller will write.
    overwrite : bool
        Whether an existing target may be replaced.
    directory : bool
        The output is a folder (e.g. numbered frames).  An existing *empty* folder counts as
        free; a non-empty one needs ``overwrite``.

    Returns
    -------
    pathlib.Path
        ``target`` as a path.

    Raises
    ------
    ValueError
        The folder holding ``target`` does not exist, ``target`` is of the other kind
        (a folder where a file is wanted or the reverse), or it exists and ``overwrite``
        is false.
    """
    path = Path(target)
    parent = path.absolute().parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {parent} does not exist")
    if directory:
        if path.exists() and not path.is_dir():
            raise ValueError(f"{path} exists and is not a folder")
        occupied = path.is_dir() and any(path.iterdir())
    else:
        if path.is_dir():
            raise ValueError(f"{path} is a folder; give a file name")
        occupied = path.exists() or path.is_symlink()
    if occupied and not overwrite:
        raise ValueError(f"{path} exists; pass --overwrite to replace it")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicTarget:
    """A temporary file or folder beside ``target`` that becomes ``target`` on :meth:`commit`.

    The temporary lives in the same folder (so the final rename is atomic on one file
    system), has a hidden name and keeps the target's suffix (so writers that detect the
    format from the extension pick the right one).  Use :func:`atomic_output` unless the
    commit must happen on a path other than a clean exit (the animation writers keep
    partial results on Ctrl-C).
    """

    def __init__(self, target: str | os.PathLike[str], *, overwrite: bool, directory: bool = False) -> None:
        self.target = check_target(target, overwrite=overwrite, directory=directory)
        self.overwrite = overwrite
        self.directory = directory
        parent = self.target.absolute().parent
        prefix = f".{self.target.name}."
        if directory:
            self.temp = Path(tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=".tmp"))
        else:
            handle, name = tempfile.mkstemp(dir=parent, prefix=prefix + "tmp-", suffix=self.target.suffix)
            os.close(handle)
            self.temp = Path(name)
        self.done = False

    def commit(self) -> Path:
        """Move the temporary onto the target (replacing it if allowed) and return the target."""
        if self.done:
            raise RuntimeError(f"{self.target} was already committed or discarded")
        try:
            # Someone may have created the target while we worked: check again.
            check_target(self.target, overwrite=self.overwrite, directory=self.directory)
            mode = (0o777 if self.directory else 0o666) & ~_umask()
            os.chmod(self.temp, mode)
            if self.directory:
                self._replace_folder()
            else:
                os.replace(self.temp, self.target)
        except BaseException:
            self.discard()
            raise
        self.done = True
        return self.target

    def _replace_folder(self) -> None:
        if not self.target.exists():
            os.rename(self.temp, self.target)
            return
        trash = Path(tempfile.mkdtemp(dir=self.temp.parent, prefix=f".{self.target.name}.", suffix=".old"))
        os.rename(self.target, trash / "old")
        try:
            os.rename(self.temp, self.target)
        except BaseException:
            os.rename(trash / "old", self.target)
            raise
        finally:
            shutil.rmtree(trash, ignore_errors=True)

    def discard(self) -> None:
        """Remove the temporary; the target is left as it was."""
        self.done = True
        if self.directory:
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            self.temp.unlink(missing_ok=True)


@contextmanager
def atomic_output(target: str | os.PathLike[str], *, overwrite: bool, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target``.

    Parameters
    ----------
    target : path-like
        Final output path (a file, or a folder with ``directory=True``).
    overwrite : bool
        Replace an existing ``target``; otherwise a ``ValueError`` is raised up front.
    directory : bool
        Yield a temporary *folder* instead of a file.

    Yields
    ------
    pathlib.Path
        Hidden temporary beside ``target`` with the same suffix; it already exists
        (an empty file or folder), so writers must overwrite it.

    Raises
    ------
    ValueError
        See :func:`check_target`.

    Notes
    -----
    Any exception in the ``with`` block (``KeyboardInterrupt`` included) removes the
    temporary and propagates; ``target`` is then untouched.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
    >>> with atomic_output(out, overwrite=False) as tmp:
    ...     np.save(tmp, np.zeros(3))
    >>> np.load(out).tolist()
    [0.0, 0.0, 0.0]
    """
    pending = AtomicTarget(target, overwrite=overwrite, directory=directory)
    try:
        yield pending.temp
    except BaseException:
        pending.discard()
        raise
    pending.commit()
