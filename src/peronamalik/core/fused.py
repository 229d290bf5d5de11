"""Fused CPU fast path of the "flux" and "flux8" schemes: a small C kernel, compiled on first use.

:func:`peronamalik.core.diffuse.run_diffusion` hands its loop to :func:`run_flux` when
:func:`eligible` says the job can run here and :func:`ready` says the kernel is (or should now
be) built; otherwise the reference torch loop (:func:`peronamalik.core.schemes.flux_step`)
runs.  Both give the same result: the kernel does the reference's float operations in the
reference's order (rational and tukey agree bit for bit; exp differs only in the last bit of
``exp`` itself, see ``kernels/flux.c``).

The kernel (``kernels/flux.c``) streams the image once per pass and applies several steps
per pass (temporal blocking, the intermediate steps live in the L2 cache); each face's flux
is computed once and shared by its two pixels; blocks run in parallel (kernels/pm_pool.h).  It
covers "flux" on 1-3 spatial axes (per channel or coupled) and "flux8" in 2-D (per
channel); everything else -- autograd, callable diffusivities, ``sigma > 0``, other
devices, 4+ axes, coupled "flux8", "seed" -- takes the reference path.

Build and cache
---------------
:mod:`peronamalik.core.native` builds, caches and loads it (this module only decides when):
``gcc`` (or ``$CC``) compiles it with ``-O3 -march=native -fopenmp-simd -ffp-contract=off`` into
``$PERONAMALIK_CACHE_DIR`` (default ``$XDG_CACHE_HOME/peronamalik`` or
``~/.cache/peronamalik``), under a name keyed by a hash of the source, the flags and the
CPU, so later processes only load it (a few milliseconds).  Compiling takes a few seconds,
once per machine: a job big enough to pay for it compiles right away (blocking); a smaller
job runs the reference path and starts the compile in a background thread for the next one.
No compiler, or a failed build: a warning, once, and the reference path from then on.

``PERONAMALIK_FUSED``: ``auto`` (default, as above), ``0``/``off`` (never use the kernel),
``1``/``on`` (use it for every eligible job, compiling synchronously if needed), ``compile``
(``torch.compile`` instead, see :mod:`peronamalik.core.compiled`).
"""

from __future__ import annotations

import ctypes
import functools
import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from peronamalik.core import native, threads as thread_policy
from peronamalik.core.native import BuildInfo, mode
from peronamalik.core.progress import Progress
from peronamalik.core.schemes import offset_length

KINDS = {"exp": 0, "rational": 1, "tukey": 2}
SOURCE_NAME = "flux.c"
ABI_VERSION = 5

#: Flags flux.c needs on top of :data:`peronamalik.core.native.BASE_FLAGS` (``-O3 -fPIC
#: -shared -pthread -fno-math-errno -fno-trapping-math``, then ``-march=native``, OpenMP SIMD ... with
#: fallbacks, see :func:`peronamalik.core.native.flag_sets`): no contraction into FMAs, so
#: the kernel rounds as the reference does.
EXTRA_FLAGS = ("-ffp-contract=off",)

#: Reference-path cost model (measured on the 2-core CI machine, generous to the reference):
#: seconds per pixel-iteration and per iteration.  Used only to decide whether building the
#: kernel now pays off.
REF_SECONDS_PER_PIXEL_IT = 1.0 / 40e6
REF_SECONDS_PER_IT = 150e-6
#: A build costs about this much (3-5 s measured with gcc 12); a job whose reference run
#: would take longer compiles first.
BUILD_SECONDS_ESTIMATE = native.BUILD_SECONDS_ESTIMATE
#: Below this many pixel-iterations one thread does the job (waking the pool's threads costs
#: more than it gives, and on a loaded machine a descheduled worker stalls the barrier).
SERIAL_WORK = 4_000_000


class FusedKernelWarning(native.NativeKernelWarning):
    """The fused kernel could not be built or loaded; the reference path runs instead."""


_lib: ctypes.CDLL | None = None
_failed = False
_pending_warning: str | None = None  #: a background build failed; warn on the caller's thread
_background: threading.Thread | None = None
#: How the kernel was last built or loaded in this process (or why not).
build_info = BuildInfo()


# ----------------------------------------------------------------------------- build ----
# Compiling, caching and loading are core/native.py's; this module decides when.


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    if not hasattr(lib, "_pm_bound"):
        for name in ("pm_flux_f32", "pm_flux_f64"):
            fn = getattr(lib, name)
            fn.restype = ctypes.c_int
            fn.argtypes = [
                ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_double),
                ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64,
                ctypes.c_int,
            ]  # fmt: skip
        lib._pm_bound = True
    return lib


def _load_or_build(build: bool, warn: bool = True) -> ctypes.CDLL | None:
    """The loaded library; from the disk cache, or (``build``) compiled now.  Thread-safe.

    A failed build warns (``warn``) or leaves the warning for the next foreground call
    (``warnings`` filters are process-wide state that a background thread must not touch).
    Without ``build`` this never waits: while another thread is building, it returns None.
    """
    global _lib, _failed, _pending_warning, build_info
    if _lib is not None or _failed:
        return _lib
    lib = native.load_library(SOURCE_NAME, ABI_VERSION, build=build, extra_flags=EXTRA_FLAGS, wait=build, warn=False)
    if lib is not None:
        _lib = _bind(lib)
        build_info = native.build_info.get(SOURCE_NAME, build_info)
        return _lib
    reason = native.failure(SOURCE_NAME, ABI_VERSION, extra_flags=EXTRA_FLAGS)
    if reason is None:  # not cached (and not `build`), or another thread is building
        return None
    if not _failed:
        _failed = True
        build_info = BuildInfo(error=reason)
        _pending_warning = (
            "peronamalik: the fused CPU kernel is unavailable, using the reference path "
            f"(slower, same results): {reason.splitlines()[0]}"
        )
    if warn:
        _warn_pending()
    return None


def _warn_pending() -> None:
    global _pending_warning
    message, _pending_warning = _pending_warning, None
    if message:
        warnings.warn(message, FusedKernelWarning, stacklevel=4)


def load(*, build: bool = True) -> ctypes.CDLL | None:
    """Make the kernel available now (building it if ``build``); None when it cannot be."""
    return _load_or_build(build)


def _start_background_build() -> None:
    """Load (or build) the kernel in a daemon thread, once; the caller goes on at once."""
    global _background
    if _background is not None or _failed or _lib is not None:
        return

    def work() -> None:
        try:
            _load_or_build(True, warn=False)
        except Exception:  # noqa: BLE001, S110 - a background build must never raise
            pass  # nothing loaded: the reference path goes on

    _background = threading.Thread(target=work, name="peronamalik-build", daemon=True)
    _background.start()


def wait_for_background_build(timeout: float | None = None) -> None:
    if _background is not None:
        _background.join(timeout)


# ------------------------------------------------------------------------ dispatch ----


def eligible(
    u: torch.Tensor,
    *,
    scheme: str,
    diffusivity: object,
    kappa: float | torch.Tensor,
    sigma: float,
    coupled: bool = False,
) -> bool:
    """Can the kernel run this job?  CPU, float32/64, a built-in diffusivity name, no
    Gaussian guide, no autograd graph to build, and "flux" on 1-3 spatial axes or "flux8"
    in 2-D (channels per channel, not coupled)."""
    if not isinstance(diffusivity, str) or diffusivity not in KINDS:
        return False
    if scheme == "flux8":
        if u.ndim != 4 or (coupled and u.shape[1] > 1):
            return False
    elif scheme != "flux":
        return False
    if sigma > 0 or u.device.type != "cpu" or u.dtype not in (torch.float32, torch.float64):
        return False
    if not 1 <= u.ndim - 2 <= 3 or u.numel() == 0:
        return False
    needs_grad = u.requires_grad or (isinstance(kappa, torch.Tensor) and kappa.requires_grad)
    if needs_grad and torch.is_grad_enabled():
        return False
    return mode() not in ("off", "compile")


def reference_seconds(numel: int, iterations: int) -> float:
    """Rough wall time of the reference path; see the cost-model constants."""
    return iterations * (numel * REF_SECONDS_PER_PIXEL_IT + REF_SECONDS_PER_IT)


def ready(numel: int, iterations: int) -> bool:
    """Is the kernel loaded, or worth loading/building for a job of this size now?"""
    if _lib is not None:
        return True
    if _failed or iterations < 1:
        _warn_pending()
        return False
    if mode() == "on":
        return _load_or_build(True) is not None
    estimate = reference_seconds(numel, iterations)
    if estimate < 2e-3:  # not even a load from disk (~1 ms) pays off now: do it off-thread
        _start_background_build()
        return False
    if _load_or_build(False) is not None:
        return True
    if estimate > BUILD_SECONDS_ESTIMATE:
        return _load_or_build(True) is not None
    _start_background_build()
    return False


# --------------------------------------------------------------------------- plan -------


@functools.lru_cache(maxsize=1)
def l2_cache_bytes() -> int:
    """Per-core L2 size (Linux sysfs), 1 MiB when unknown."""
    try:
        for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
            if (index / "level").read_text().strip() == "2":
                text = (index / "size").read_text().strip().upper()
                scale = {"K": 1024, "M": 1024**2}.get(text[-1], 1)
                return int(text.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return 1024**2


@dataclass(frozen=True)
class Plan:
    depth: int  #: steps per pass
    band0: int  #: slabs (axis 0) per block
    tile1: int  #: rows (axis 1) per block
    threads: int


def plan(shape: Sequence[int], itemsize: int, iterations: int, threads: int, eight: bool = False) -> Plan:
    """Choose steps per pass and block sizes so a thread's rings fit 3/4 of its L2.

    ``shape`` is the kernel's ``(groups, nc, n0, n1, n2)``.  A stage holds about four slabs
    (three ring slots and one of z-fluxes; "flux8" adds four rows of diagonal fluxes); a
    slab is ``nc * rows * n2`` values.
    """
    groups, nc, n0, n1, n2 = shape
    budget = 3 * l2_cache_bytes() // 4
    row = nc * n2 * itemsize
    if n1 == 1:  # 1-D / 2-D: a slab is one row
        # one pass for 20 steps of a 4096-wide float32 image on a 2 MiB L2 (measured: 20
        # steps in one pass beat two passes of 10 by 6-9 %, and need no second buffer)
        depth = max(1, min(32, budget // ((8 if eight else 4) * row)))
        tile1 = 1
    else:  # 3-D: a slab is a tile of rows, with a halo of `depth` rows on each side
        # measured on 256^3: depth 2-4 with tiles of 64-128 rows all within 3 %, deeper
        # passes with thinner tiles lose to the recomputed halo ((depth-1)/tile1 extra)
        for depth in (4, 3, 2, 1):
            tile1 = budget // (4 * depth * row) - 2 * depth
            if tile1 >= 32 or tile1 >= n1:
                break
        tile1 = max(1, min(tile1, n1))
        tile1 = math.ceil(n1 / math.ceil(n1 / tile1))  # even tiles, no thin last one
    depth = max(1, min(depth, iterations))
    passes = math.ceil(iterations / depth)
    depth = math.ceil(iterations / passes)  # balanced passes, same count
    if iterations * groups * nc * n0 * n1 * n2 < SERIAL_WORK:
        threads = 1
    units = groups * math.ceil(n1 / tile1)
    bands = 1
    if threads > 1 and units < 2 * threads:
        # bands along axis 0 so there are ~2 blocks per thread (a dynamic schedule evens
        # out a descheduled thread), none thinner than 8 passes' halo (each band edge
        # recomputes ~depth^2/2 slab-steps)
        bands = max(1, min(math.ceil(2 * threads / units), n0 // (8 * depth)))
    band0 = math.ceil(n0 / bands)
    return Plan(depth=depth, band0=band0, tile1=tile1, threads=max(1, threads))


# ---------------------------------------------------------------------------- run -------


def kernel_shape(u: torch.Tensor, coupled: bool) -> tuple[int, int, int, int, int]:
    """``(groups, nc, n0, n1, n2)`` of a ``(B, C, *spatial)`` tensor."""
    b, c, *spatial = u.shape
    if len(spatial) == 1:
        n0, n1, n2 = 1, 1, spatial[0]
    elif len(spatial) == 2:
        n0, n1, n2 = spatial[0], 1, spatial[1]
    else:
        n0, n1, n2 = spatial
    nc = c if coupled and c > 1 else 1
    return (b * c // nc, nc, n0, n1, n2)


def kernel_spacing(spacing: Sequence[float]) -> tuple[float, float, float, float]:
    """Pair lengths of the kernel's three axes and of a 2-D diagonal, as the reference's
    ``offset_length`` computes them."""
    h = [offset_length(tuple(int(i == axis) for i in range(len(spacing))), spacing) for axis in range(len(spacing))]
    diagonal = offset_length((1, 1), spacing) if len(spacing) == 2 else 1.0
    if len(h) == 1:
        return (1.0, 1.0, h[0], diagonal)
    if len(h) == 2:
        return (h[0], 1.0, h[1], diagonal)
    return (h[0], h[1], h[2], diagonal)


def kappa_divisor(kappa: float | torch.Tensor, diffusivity: str, dtype: torch.dtype) -> float:
    """The number the reference divides |diff| by, rounded as torch rounds it for ``dtype``."""
    divisor = kappa * math.sqrt(2.0) if diffusivity == "tukey" else kappa  # as diffusivity.py
    if isinstance(divisor, torch.Tensor):
        return float(divisor.detach().to("cpu", dtype))
    return float(divisor)


def run_flux(
    u: torch.Tensor,
    *,
    iterations: int,
    kappa: float | torch.Tensor,
    dt: float,
    diffusivity: str,
    spacing: Sequence[float],
    coupled: bool,
    scheme: str = "flux",
    progress: Progress | None = None,
    threads: int | None = None,
) -> torch.Tensor:
    """``iterations`` steps of ``scheme`` ("flux", or "flux8" in 2-D) of ``u`` (B, C, *spatial)
    on the CPU with the kernel.

    Same contract as the reference loop: returns a new tensor (``u`` is never written).
    Raises RuntimeError if the kernel is not loaded (check :func:`ready` first).
    """
    lib = _lib
    if lib is None:
        raise RuntimeError("the fused kernel is not loaded; call fused.load() or fused.ready() first")
    if iterations == 0:
        return u
    src = u.detach().contiguous()
    shape = kernel_shape(src, coupled)
    job = plan(shape, src.element_size(), iterations, threads or thread_policy.get_num_threads(), scheme == "flux8")
    fn = lib.pm_flux_f32 if src.dtype == torch.float32 else lib.pm_flux_f64
    c_shape = (ctypes.c_int64 * 5)(*shape)
    params = (ctypes.c_double * 6)(kappa_divisor(kappa, diffusivity, src.dtype), float(dt), *kernel_spacing(spacing))
    eight = int(scheme == "flux8")
    out = torch.empty_like(src, memory_format=torch.contiguous_format)
    passes = math.ceil(iterations / job.depth)
    tmp = torch.empty_like(out) if passes > 1 else None
    # one C call per pass: progress can tick and Ctrl-C is seen between passes
    current, done = src, 0
    for p in range(passes):
        target = out if (passes - 1 - p) % 2 == 0 else tmp
        steps = min(job.depth, iterations - done)
        status = fn(
            current.data_ptr(), target.data_ptr(), None, c_shape, params, KINDS[diffusivity],
            eight, steps, job.depth, job.band0, job.tile1, job.threads,
        )  # fmt: skip
        if status != 0:
            raise (
                MemoryError("fused kernel: out of memory")
                if status == -2
                else RuntimeError(f"fused kernel rejected its arguments (status {status}, shape {shape}, {job})")
            )
        current, done = target, done + steps
        if progress is not None:
            progress(done, iterations)
    return out


__all__ = [
    "BuildInfo",
    "FusedKernelWarning",
    "Plan",
    "build_info",
    "eligible",
    "load",
    "plan",
    "ready",
    "run_flux",
]
