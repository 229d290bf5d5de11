"""Atomic outputs: write to a hidden temporary beside the target, then rename it in place.

A reader never sees half a file: the target either keeps its old content or gets the
complete new one.  Errors leave nothing behind, and an existing target is only replaced
when the caller says so (the CLI's ``--overwrite``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from peronamalik._validate import InputError
from peronamalik.io.interrupts import deferred_signals

#: Longest file name (bytes) assumed where the file system does not say (POSIX's usual).
_NAME_MAX = 255
#: Temporary names: ``.{name}.{random}.tmp{suffix}`` while that fits, else a digest of the name.
_RANDOM_PART = 8
_SHORT_SUFFIX = 16


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
        The folder holding ``target`` does not exist, its name is longer than the file
        system takes (:func:`name_max`), ``target`` is of the other kind
        (a folder where a file is wanted or the reverse), or it exists and ``overwrite``
        is false.
    """
    path = Path(target)
    parent = path.absolute().parent
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: folder {parent} does not exist")
    limit = name_max(parent)
    if len(os.fsencode(path.name)) > limit:
        raise InputError(
            f"cannot write {path}: its name is {len(os.fsencode(path.name))} bytes, "
            f"more than the {limit} the file system allows"
        )
    if directory:
        if path.exists() and not path.is_dir():
            raise InputError(f"{path} exists and is not a folder")
        occupied = path.is_dir() and any(path.iterdir())
    else:
        if path.is_dir():
            raise InputError(f"{path} is a folder; give a file name")
        occupied = path.exists() or path.is_symlink()
    if occupied and not overwrite:
        raise InputError(f"{path} exists; pass --overwrite to replace it")
    return path


def name_max(folder: str | os.PathLike[str]) -> int:
    """The longest file name, in bytes, that ``folder``'s file system takes."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return _NAME_MAX


def temp_affixes(target: Path) -> tuple[str, str]:
    """``(prefix, suffix)`` of a hidden temporary beside ``target`` whose name fits.

    The prefix is ``.{name}.`` when the whole temporary name (with ``tempfile``'s random
    part) fits in :func:`name_max`, else ``.{digest}.`` with a 12-hex-digit SHA-1 of the
    name; the suffix ends in the target's extension (writers pick the format from it) when
    that is short.
    """
    extension = target.suffix if len(os.fsencode(target.suffix)) <= _SHORT_SUFFIX else ""
    suffix = f".tmp{extension}"
    prefix = f".{target.name}."
    fits = len(os.fsencode(prefix + suffix)) + _RANDOM_PART <= name_max(target.absolute().parent)
    if not fits:
        prefix = f".{hashlib.sha1(os.fsencode(target.name)).hexdigest()[:12]}."
    return prefix, suffix


def _kept_mode(target: Path, directory: bool) -> int:
    """The mode of the file being replaced (a 0600 file stays 0600), else the umask's."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return (0o777 if directory else 0o666) & ~_umask()


def naming_the_file(exc: OSError, target: Path, temp: Path | None) -> OSError:
    """``exc``, raised while writing ``temp``, as an ``OSError`` that names ``target``.

    Encoders and image writers report a failed write (a full disk, a size limit) without a
    file name, or with their temporary's.  The result keeps the ``errno``; ``exc`` is
    returned as it is when it names another file (an input that could not be read).
    ``temp=None``: ``exc`` came from making the temporary (a read-only folder), whose
    random name it gives.
    """
    if temp is not None and exc.filename is not None and Path(exc.filename) != temp:
        return exc
    code = exc.errno if exc.errno is not None else errno.EIO
    reason = exc.strerror or str(exc) or os.strerror(code)
    return OSError(code, f"cannot write {target}: {reason}")


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
        prefix, suffix = temp_affixes(self.target)
        try:
            if directory:
                self.temp = Path(tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=".tmp"))
            else:
                handle, name = tempfile.mkstemp(dir=parent, prefix=prefix, suffix=suffix)
                os.close(handle)
                self.temp = Path(name)
        except OSError as exc:  # a read-only folder: name the target, not the temporary
            raise naming_the_file(exc, self.target, None) from exc
        self.done = False

    def commit(self) -> Path:
        """Move the temporary onto the target (replacing it if allowed) and return the target."""
        if self.done:
            raise RuntimeError(f"{self.target} was already committed or discarded")
        try:
            # Someone may have created the target while we worked: check again.
            check_target(self.target, overwrite=self.overwrite, directory=self.directory)
            os.chmod(self.temp, _kept_mode(self.target, self.directory))
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
        prefix, _ = temp_affixes(self.target)
        trash = Path(tempfile.mkdtemp(dir=self.temp.parent, prefix=prefix, suffix=".old"))
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
    temporary and propagates; ``target`` is then untouched.  An ``OSError`` (a full disk)
    comes out naming ``target`` (:func:`naming_the_file`).  Replacing keeps the old file's
    permission bits.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
    >>> with atomic_output(out, overwrite=False) as tmp:
    ...     np.save(tmp, np.zeros(3))
    >>> np.load(out).tolist()
    [0.0, 0.0, 0.0]
    """
    pending = None
    try:
        with deferred_signals():  # a stop while the temporary is made must not leave it behind
            pending = AtomicTarget(target, overwrite=overwrite, directory=directory)
        yield pending.temp
        with deferred_signals():
            pending.commit()
    except OSError as exc:
        if pending is None:
            raise
        pending.discard()
        raise naming_the_file(exc, pending.target, pending.temp) from exc
    except BaseException:
        if pending is not None:
            pending.discard()
        raise
