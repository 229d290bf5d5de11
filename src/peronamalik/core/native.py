"""Build, cache and load the package's small C kernels (``core/kernels/*.c``) with ctypes.

:func:`load_library` compiles a kernel with the system's C compiler (``$CC``, else
``gcc``/``cc``/``clang``) on first use, into a disk cache shared by all later processes
(which only load it, a few milliseconds), and returns the loaded ``ctypes.CDLL`` -- or
None when no compiler is present or the build fails (a :class:`NativeKernelWarning`, once
per kernel, and the caller runs its reference path).

Flags: ``-O3 -march=native -pthread -fopenmp-simd -fno-math-errno -fno-trapping-math`` (plus
``-mprefer-vector-width=512`` on x86-64, so AVX-512 machines vectorise 16 floats per op),
with fallbacks that drop ``-fopenmp-simd`` and then ``-march=native``.  The kernels use
OpenMP's ``simd`` pragmas only; their threads are their own (``kernels/pm_pool.h``: idle
threads sleep, and a call never waits for a thread that did not start), as many as
:func:`peronamalik.core.threads.get_num_threads` says.
Never ``-ffast-math``: it would reorder the arithmetic, and GCC links ``crtfastmath.o`` into
shared objects, which turns on flush-to-zero for the whole process when the library loads.

A kernel may ``#include`` the shared headers of ``core/kernels/*.h`` (``pm_math.h``): they
are copied beside the source for the build.  A caller adds its own required flags with
``extra_flags`` (``fused.py`` adds ``-ffp-contract=off``).

Cache: ``$PERONAMALIK_CACHE_DIR``, else ``$XDG_CACHE_HOME/peronamalik``, else
``~/.cache/peronamalik`` (a per-user temporary folder if that is not writable); one file per
kernel named by a hash of the source, the headers, the flags, the ABI version and the CPU
(what ``-march=native`` depends on).  The library is written to a
temporary name and renamed, so concurrent processes never load half a file.  Every kernel
exports ``int pm_abi_version(void)``; a library whose version differs from the caller's is
rebuilt.

``$PERONAMALIK_FUSED`` (see :func:`mode`) is the user's switch for all fused paths:
``0``/``off`` never uses them, ``1``/``on`` always (compiling synchronously), ``auto`` (the
default) lets each path decide whether compiling pays off; ``compile`` uses ``torch.compile``
(:mod:`peronamalik.core.compiled`) instead, on every device.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

#: Flags of every build; the flag sets below add to them.
BASE_FLAGS = ("-O3", "-fPIC", "-shared", "-pthread", "-fno-math-errno", "-fno-trapping-math")
OPENMP_FLAGS = ("-fopenmp-simd",)  # the simd pragmas; no OpenMP runtime
NATIVE_FLAGS = ("-march=native",)
X86_FLAGS = ("-mprefer-vector-width=512",)  # AVX-512 machines: 16 floats per op, not 8
#: A build of one kernel takes about this long (1-5 s measured with gcc 12).
BUILD_SECONDS_ESTIMATE = 5.0


class NativeKernelWarning(RuntimeWarning):
    """A C kernel could not be built or loaded; the reference path runs instead."""


@dataclass
class BuildInfo:
    """What happened the last time a kernel was made available in this process."""

    path: Path | None = None
    compiled: bool = False  #: compiled in this process (False: loaded from the disk cache)
    seconds: float = 0.0  #: wall time of the compile, or of the load
    flags: tuple[str, ...] = ()
    error: str | None = None


_lock = threading.Lock()
_locks: dict[tuple, threading.Lock] = {}
_loaded: dict[tuple, ctypes.CDLL] = {}
_failed: dict[tuple, str] = {}
#: Per kernel source name: how the library was last built or loaded (or why not).
build_info: dict[str, BuildInfo] = {}


def mode() -> str:
    """``"auto"``, ``"off"``, ``"on"`` or ``"compile"`` (torch.compile on every device, see
    :mod:`peronamalik.core.compiled`), from ``$PERONAMALIK_FUSED``."""
    value = os.environ.get("PERONAMALIK_FUSED", "auto").strip().lower()
    if value == "compile":
        return "compile"
    if value in ("0", "off", "false", "no", "never"):
        return "off"
    if value in ("1", "on", "true", "yes", "always", "force"):
        return "on"
    return "auto"


def cache_dir() -> Path:
    """Where compiled kernels are kept (see the module's docstring)."""
    if os.environ.get("PERONAMALIK_CACHE_DIR"):
        preferred = Path(os.environ["PERONAMALIK_CACHE_DIR"])
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        preferred = Path(base) / "peronamalik"
    with contextlib.suppress(OSError):
        preferred.mkdir(parents=True, exist_ok=True)
        if os.access(preferred, os.W_OK):
            return preferred
    user = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"peronamalik-{user}"


@functools.cache
def source_text(source_name: str) -> bytes:
    """The bytes of ``core/kernels/<source_name>`` (shipped as package data)."""
    return resources.files("peronamalik.core").joinpath("kernels", source_name).read_bytes()


@functools.cache
def headers() -> tuple[tuple[str, bytes], ...]:
    """Name and bytes of each shared header ``core/kernels/*.h``, by name."""
    folder = resources.files("peronamalik.core").joinpath("kernels")
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


def library_path(source_name: str, abi_version: int, flags: Sequence[str]) -> Path:
    """The cache file of ``source_name`` built with ``flags``."""
    digest = hashlib.sha256(source_text(source_name))
    for name, text in headers():
        digest.update(name.encode() + b"\0" + text)
    digest.update(repr(tuple(flags)).encode() + cpu_identity().encode() + str(abi_version).encode())
    key = digest.hexdigest()[:16]
    return cache_dir() / f"{Path(source_name).stem}-{key}.so"


def _bind(path: Path, abi_version: int) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.pm_abi_version.restype = ctypes.c_int
    lib.pm_abi_version.argtypes = []
    found = lib.pm_abi_version()
    if found != abi_version:
        raise OSError(f"{path} has ABI {found}, expected {abi_version}")
    return lib


def compile_library(source_name: str, cc: str, flags: Sequence[str], target: Path) -> None:
    """Compile into a temporary folder beside ``target``, then rename (atomic, race-free)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(".build-*"):  # left by a process that exited mid-build
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        src = Path(tmp) / source_name
        src.write_bytes(source_text(source_name))
        for name, text in headers():  # found by the source's #include "name"
            (Path(tmp) / name).write_bytes(text)
        out = Path(tmp) / target.name
        cmd = [*cc.split(), *flags, str(src), "-o", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.strip()[-2000:]}")
        os.replace(out, target)


def is_cached(source_name: str, abi_version: int, *, extra_flags: Sequence[str] = ()) -> bool:
    """Is the kernel loaded in this process, or built in the disk cache?"""
    key = (source_name, abi_version, tuple(extra_flags))
    if key in _loaded:
        return True
    return any(library_path(source_name, abi_version, f).exists() for f in flag_sets(extra_flags))


def failure(source_name: str, abi_version: int, *, extra_flags: Sequence[str] = ()) -> str | None:
    """Why the kernel failed to build in this process (it is not retried), or None."""
    return _failed.get((source_name, abi_version, tuple(extra_flags)))


def load_library(
    source_name: str,
    abi_version: int,
    *,
    build: bool = True,
    extra_flags: Sequence[str] = (),
    wait: bool = True,
    warn: bool = True,
) -> ctypes.CDLL | None:
    """The kernel ``core/kernels/<source_name>`` as a loaded library, or None.

    From this process's memory, else from the disk cache, else (``build``) compiled now --
    blocking, a few seconds.  A failed build warns once (:class:`NativeKernelWarning`;
    with ``warn=False`` it does not, and the caller reads :func:`failure`) and is not
    retried in this process.  Without ``build`` this never compiles.  Without ``wait`` it
    returns None at once while another thread is loading or building the kernel.
    Thread-safe.
    """
    key = (source_name, abi_version, tuple(extra_flags))
    lib = _loaded.get(key)
    if lib is not None or key in _failed:
        return lib
    with _lock:
        lock = _locks.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=wait):
        return _loaded.get(key)
    try:
        return _load_or_build_locked(key, build, warn)
    finally:
        lock.release()


def _load_or_build_locked(key: tuple, build: bool, warn: bool = True) -> ctypes.CDLL | None:
    source_name, abi_version, extra = key
    if key in _loaded or key in _failed:
        return _loaded.get(key)
    start = time.perf_counter()
    for flags in flag_sets(extra):
        path = library_path(source_name, abi_version, flags)
        if path.exists():
            try:
                _loaded[key] = _bind(path, abi_version)
                build_info[source_name] = BuildInfo(path, False, time.perf_counter() - start, flags)
                return _loaded[key]
            except OSError:
                pass  # stale or foreign: rebuild below
    if not build:
        return None
    cc = compiler()
    errors = []
    for flags in flag_sets(extra) if cc else []:
        path = library_path(source_name, abi_version, flags)
        try:
            compile_library(source_name, cc, flags, path)
            _loaded[key] = _bind(path, abi_version)
            build_info[source_name] = BuildInfo(path, True, time.perf_counter() - start, flags)
            return _loaded[key]
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            errors.append(str(exc))
    reason = errors[-1] if errors else "no C compiler found (set $CC, or install gcc)"
    _failed[key] = reason
    build_info[source_name] = BuildInfo(error=reason)
    if not warn:
        return None
    warnings.warn(
        f"peronamalik: the C kernel {source_name} is unavailable, using the reference path "
        f"(slower, same results): {reason.splitlines()[0]}",
        NativeKernelWarning,
        stacklevel=4,
    )
    return None


__all__ = [
    "BuildInfo",
    "NativeKernelWarning",
    "build_info",
    "cache_dir",
    "compiler",
    "failure",
    "flag_sets",
    "headers",
    "is_cached",
    "library_path",
    "load_library",
    "mode",
]
