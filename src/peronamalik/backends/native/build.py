"""Build, cache, verify and load the package's small C kernels (``native/kernels/*.c``) with ctypes.

:func:`load` returns a kernel's loaded ``ctypes.CDLL``: from this process's memory, else
from the disk cache, else compiled now with the system's C compiler (``$CC``, else
``gcc``/``cc``/``clang``) -- synchronously, a few seconds once per machine, so whether the
cache was warm never changes which path a call takes.  With no compiler, or a failed
build, it returns None with one :class:`NativeKernelWarning` per kernel, and the caller
runs the reference path (the policy records that).

Layout check: every kernel exports ``int pm_layout(char *buf, int size)`` (see
``kernels/pm_layout.h``): its ABI version, enum values and each function's argument names,
as ``NAME=VALUE`` lines.  The Python side declares the same in one :class:`Kernel` table,
from which the ctypes signatures are set; a difference is a :class:`KernelLayoutError` at
load, never a silent wrong result.

Flags: ``-O3 -march=native -pthread -fopenmp-simd -fno-math-errno -fno-trapping-math`` (plus
``-mprefer-vector-width=512`` on x86-64), with fallbacks that drop ``-fopenmp-simd`` and then
``-march=native``; the kernels' threads are their own (``kernels/pm_pool.h``: idle threads
sleep), as many as :func:`peronamalik.core.threads.get_num_threads` says; a kernel adds its own (``flux.c``:
``-ffp-contract=off``).  Never ``-ffast-math``: it reorders the arithmetic, and GCC links
``crtfastmath.o`` into shared objects, which turns on flush-to-zero for the whole process.

Cache: ``$PERONAMALIK_CACHE_DIR``, else ``$XDG_CACHE_HOME/peronamalik``, else
``~/.cache/peronamalik``; used only if it is a private folder (created 0700, owned by this
user, not a symlink; an own folder with wider permissions is narrowed to 0700).  Without
one, the kernel is built in a private temporary folder and not cached.  One file per kernel
named by a hash of the source, the headers, the flags, the ABI version and the CPU (what
``-march=native`` depends on), with ``NAME.so.sha256`` beside it (checksum and size): a
library whose checksum or size does not match (truncated, replaced) is rebuilt, never
loaded.  Builds hold a file lock (``NAME.lock``), so parallel processes build once; the
library is compiled and loaded in a private temporary folder, then renamed into the cache,
so no process ever sees half a file.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory lock, renames stay atomic
    fcntl = None

#: Flags of every build; the flag sets below add to them.
BASE_FLAGS = ("-O3", "-fPIC", "-shared", "-pthread", "-fno-math-errno", "-fno-trapping-math")
OPENMP_FLAGS = ("-fopenmp-simd",)  # the simd pragmas; no OpenMP runtime
NATIVE_FLAGS = ("-march=native",)
X86_FLAGS = ("-mprefer-vector-width=512",)  # AVX-512 machines: 16 floats per op, not 8
#: Room for the layout text a kernel exports.
LAYOUT_BYTES = 1 << 14

#: A ctypes signature: result type and ``(argument name, ctypes type)`` pairs in C's order.
Signature = tuple[object, tuple[tuple[str, object], ...]]


class NativeKernelWarning(RuntimeWarning):
    """A C kernel could not be built or loaded; the reference path runs instead."""


class KernelLayoutError(RuntimeError):
    """A kernel's exported layout differs from the Python side's table."""


@dataclass(frozen=True)
class Kernel:
    """One C kernel as the Python side sees it: the one table its ctypes signatures and the
    load-time layout check both come from."""

    source: str  #: file name in ``native/kernels/``
    abi: int  #: ``PM_ABI_VERSION``
    constants: Mapping[str, int] = field(hash=False)  #: enum values Python relies on
    functions: Mapping[str, Signature] = field(hash=False)  #: exported functions
    texts: Mapping[str, str] = field(default_factory=dict, hash=False)  #: other text entries
    extra_flags: tuple[str, ...] = ()

    def expected_layout(self) -> dict[str, str]:
        """What ``pm_layout`` must report, as ``{name: text}``."""
        layout = {"PM_ABI_VERSION": str(self.abi)} | {k: str(v) for k, v in self.constants.items()}
        for name, (_, args) in self.functions.items():
            layout[f"args.{name}"] = " ".join(arg for arg, _ in args)
        return layout | dict(self.texts)


@dataclass
class BuildInfo:
    """How a kernel was made available in this process (or why not)."""

    path: Path | None = None
    compiled: bool = False  #: compiled in this process (False: loaded from the disk cache)
    cached: bool = False  #: the library is in the disk cache
    seconds: float = 0.0  #: wall time of the compile, or of the load
    flags: tuple[str, ...] = ()
    error: str | None = None


_lock = threading.Lock()
_locks: dict[Kernel, threading.Lock] = {}
_loaded: dict[Kernel, ctypes.CDLL] = {}
_failed: dict[Kernel, str] = {}
#: Per kernel source name: how the library was last built or loaded (or why not).
build_info: dict[str, BuildInfo] = {}


# --------------------------------------------------------------------------- cache ----


def _private(folder: Path) -> bool:
    """Is ``folder`` a real directory (not a symlink) owned by us, mode 0700 (narrowed if wider)?"""
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        return False
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)  # ours: narrow it (a cache made by an older version)
        return stat.S_IMODE(os.lstat(folder).st_mode) & 0o077 == 0
    return True


def cache_dir() -> Path | None:
    """The private cache folder (see the module's docstring), or None when none is safe."""
    if os.environ.get("PERONAMALIK_CACHE_DIR"):
        folder = Path(os.environ["PERONAMALIK_CACHE_DIR"])
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = Path(base) / "peronamalik"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        return folder if _private(folder) else None
    except OSError:
        return None


@functools.cache
def source_text(source_name: str) -> bytes:
    """The bytes of ``native/kernels/<source_name>`` (shipped as package data)."""
    return resources.files(__package__).joinpath("kernels", source_name).read_bytes()


@functools.cache
def headers() -> tuple[tuple[str, bytes], ...]:
    """Name and bytes of each shared header ``native/kernels/*.h``, by name."""
    folder = resources.files(__package__).joinpath("kernels")
    return tuple(sorted((f.name, f.read_bytes()) for f in folder.iterdir() if f.name.endswith(".h")))


@functools.lru_cache(maxsize=1)
def cpu_identity() -> str:
    """What ``-march=native`` depends on: the CPU model and feature flags."""
    text = platform.machine() + platform.system()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features", "CPU part")):
                    text += line
                if line.strip() == "":  # the first processor is enough
                    break
    except OSError:
        text += platform.processor()
    return text


def compiler() -> str | None:
    """``$CC`` if it exists, else the first of gcc, cc, clang on the PATH."""
    cc = os.environ.get("CC")
    if cc and shutil.which(cc.split()[0]):
        return cc
    for name in ("gcc", "cc", "clang"):
        if shutil.which(name):
            return name
    return None


def flag_sets(extra: Sequence[str] = ()) -> list[tuple[str, ...]]:
    """Flags of the build attempts, best first; ``extra`` goes into every one."""
    base = BASE_FLAGS + tuple(extra)
    x86 = X86_FLAGS if platform.machine() in ("x86_64", "AMD64") else ()
    return [
        base + NATIVE_FLAGS + x86 + OPENMP_FLAGS,
        base + NATIVE_FLAGS + OPENMP_FLAGS,
        base + NATIVE_FLAGS,  # a compiler without -fopenmp-simd
        base,
    ]


def library_name(kernel: Kernel, flags: Sequence[str]) -> str:
    """The cache file name of ``kernel`` built with ``flags``."""
    digest = hashlib.sha256(source_text(kernel.source))
    for name, text in headers():
        digest.update(name.encode() + b"\0" + text)
    digest.update(repr(tuple(flags)).encode() + cpu_identity().encode() + str(kernel.abi).encode())
    return f"{Path(kernel.source).stem}-{digest.hexdigest()[:16]}.so"


def _checksum_path(library: Path) -> Path:
    return library.with_name(library.name + ".sha256")


def _fingerprint(path: Path) -> str:
    data = path.read_bytes()
    return f"{hashlib.sha256(data).hexdigest()} {len(data)}\n"


def verified(library: Path) -> bool:
    """Is ``library`` a regular file of ours whose size and SHA-256 match the record beside it?"""
    try:
        info = os.lstat(library)
        if not stat.S_ISREG(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
            return False
        return _checksum_path(library).read_text() == _fingerprint(library)
    except (OSError, UnicodeDecodeError):
        return False


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (other processes building the same kernel wait)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# --------------------------------------------------------------------- build, load ----


def compile_library(source_name: str, cc: str, flags: Sequence[str], target: Path) -> None:
    """Compile ``native/kernels/<source_name>`` (headers beside it) into ``target``.

    Raises RuntimeError with the compiler's message when it fails.
    """
    with tempfile.TemporaryDirectory(prefix="peronamalik-build-") as tmp:
        src = Path(tmp) / source_name
        src.write_bytes(source_text(source_name))
        for name, text in headers():  # found by the source's #include "name"
            (Path(tmp) / name).write_bytes(text)
        cmd = [*cc.split(), *flags, str(src), "-o", str(target)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.strip()[-2000:]}")


def exported_layout(lib: ctypes.CDLL) -> dict[str, str]:
    """The ``NAME=VALUE`` entries a loaded kernel reports through ``pm_layout``."""
    fn = lib.pm_layout
    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_char_p, ctypes.c_int]
    buf = ctypes.create_string_buffer(LAYOUT_BYTES)
    if fn(buf, LAYOUT_BYTES) >= LAYOUT_BYTES:
        raise KernelLayoutError("the kernel's layout does not fit the loader's buffer")
    return dict(line.split("=", 1) for line in buf.value.decode().splitlines() if "=" in line)


def bind(path: Path, kernel: Kernel) -> ctypes.CDLL:
    """Load ``path``, check its layout against ``kernel``'s table and set the signatures.

    Raises OSError when it does not load and :class:`KernelLayoutError` when it differs.
    """
    lib = ctypes.CDLL(str(path))
    try:
        found = exported_layout(lib)
    except AttributeError as exc:
        raise KernelLayoutError(f"{path.name} exports no layout (pm_layout)") from exc
    wrong = {
        name: (value, found.get(name, "<missing>"))
        for name, value in kernel.expected_layout().items()
        if found.get(name) != value
    }
    if wrong:
        details = "; ".join(f"{name}: Python {py!r}, C {c!r}" for name, (py, c) in sorted(wrong.items()))
        raise KernelLayoutError(f"{kernel.source} does not match the Python side's layout: {details}")
    for name, (restype, args) in kernel.functions.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, [ctype for _, ctype in args]
    return lib


def _build(kernel: Kernel, folder: Path | None) -> tuple[ctypes.CDLL, BuildInfo]:
    """Compile (flag sets best first) and load in a private temporary folder; then, with a
    cache ``folder``, rename the library and its checksum into it."""
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set $CC, or install gcc)")
    errors = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".build-", dir=folder) as tmp:
        for flags in flag_sets(kernel.extra_flags):
            built = Path(tmp) / library_name(kernel, flags)
            try:
                compile_library(kernel.source, cc, flags, built)
                lib = bind(built, kernel)  # loaded from here: a fresh name, never a stale mapping
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                if isinstance(exc, KernelLayoutError):
                    raise
                errors.append(str(exc))
                continue
            info = BuildInfo(built, True, False, time.perf_counter() - start, flags)
            if folder is not None:
                target = folder / built.name
                checksum = Path(tmp) / "checksum"
                checksum.write_text(_fingerprint(built))
                os.replace(built, target)
                os.replace(checksum, _checksum_path(target))
                info.path, info.cached = target, True
            return lib, info
    raise RuntimeError(errors[-1] if errors else "no flag set compiled")


def _load_or_build(kernel: Kernel) -> ctypes.CDLL:
    """The kernel from the verified cache, else built now (see the module's docstring)."""
    folder = cache_dir()
    if folder is None:
        lib, build_info[kernel.source] = _build(kernel, None)
        return lib
    with _file_lock(folder / f"{Path(kernel.source).stem}.lock"):
        start = time.perf_counter()
        for flags in flag_sets(kernel.extra_flags):
            path = folder / library_name(kernel, flags)
            if verified(path):
                try:
                    lib = bind(path, kernel)
                except (OSError, KernelLayoutError):
                    break  # stale or foreign: rebuilt once below; a fresh mismatch raises
                build_info[kernel.source] = BuildInfo(path, False, True, time.perf_counter() - start, flags)
                return lib
        for stale in folder.glob(".build-*"):  # left by a process killed mid-build
            if time.time() - stale.lstat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
        lib, build_info[kernel.source] = _build(kernel, folder)
        return lib


def load(kernel: Kernel) -> ctypes.CDLL | None:
    """``kernel`` as a loaded, checked library, or None when it cannot be built here.

    Blocks while it builds (once per machine).  A failed build warns once
    (:class:`NativeKernelWarning`) and is not retried in this process; a layout mismatch
    raises :class:`KernelLayoutError`.  Thread-safe.
    """
    lib = _loaded.get(kernel)
    if lib is not None or kernel in _failed:
        return lib
    with _lock:
        lock = _locks.setdefault(kernel, threading.Lock())
    with lock:
        if kernel in _loaded or kernel in _failed:
            return _loaded.get(kernel)
        try:
            _loaded[kernel] = _load_or_build(kernel)
            return _loaded[kernel]
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            if isinstance(exc, KernelLayoutError):
                raise
            reason = _failed[kernel] = str(exc) or type(exc).__name__
            build_info[kernel.source] = BuildInfo(error=reason)
    warnings.warn(
        f"peronamalik: the C kernel {kernel.source} is unavailable, using the reference path: "
        f"{reason.splitlines()[0]}",
        NativeKernelWarning,
        stacklevel=3,
    )
    return None


def failure(kernel: Kernel) -> str | None:
    """Why ``kernel`` is unavailable in this process (it is not retried), or None."""
    return _failed.get(kernel)


__all__ = [
    "BuildInfo",
    "Kernel",
    "KernelLayoutError",
    "NativeKernelWarning",
    "bind",
    "build_info",
    "cache_dir",
    "compile_library",
    "compiler",
    "failure",
    "flag_sets",
    "library_name",
    "load",
    "verified",
]
