"""The native backend's diffusion: the "flux" and "flux8" schemes in one C kernel (``kernels/flux.c``).

The policy (:mod:`peronamalik.backends.policy`) hands a :class:`~peronamalik.backends.job.Diffusion`
here when :func:`why_not` finds nothing against it.  The result is the reference's
(:func:`peronamalik.core.schemes.flux_step` in a loop): the kernel does the reference's
float operations in the reference's order (rational and tukey agree bit for bit; exp
differs only in the last bit of ``exp`` itself, see ``kernels/flux.c``).

The kernel streams the image once per pass and applies several steps per pass (temporal
blocking, the intermediate steps live in the L2 cache); each face's flux is computed once
and shared by its two pixels; blocks run in parallel (``kernels/pm_pool.h``).  It covers "flux" on 1-3
spatial axes (per channel or coupled) and "flux8" in 2-D (per channel), float32/64 on the
CPU; everything else -- autograd, callable diffusivities, ``sigma > 0``, other devices, 4+
axes, coupled "flux8", "seed" -- is for the other backends.  :mod:`.build` builds, caches
and loads it (synchronously, once per machine).
"""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from peronamalik.backends.job import Diffusion
from peronamalik.backends.native import build
from peronamalik.core import threads as thread_policy
from peronamalik.core.progress import Progress
from peronamalik.core.schemes import offset_length

KINDS = {"exp": 0, "rational": 1, "tukey": 2}
_ARGS = (
    ("src", ctypes.c_void_p), ("dst", ctypes.c_void_p), ("tmp", ctypes.c_void_p),
    ("shape", ctypes.POINTER(ctypes.c_int64)), ("param", ctypes.POINTER(ctypes.c_double)),
    ("kind", ctypes.c_int), ("eight", ctypes.c_int), ("iterations", ctypes.c_int), ("depth", ctypes.c_int),
    ("band0", ctypes.c_int64), ("tile1", ctypes.c_int64), ("nthreads", ctypes.c_int),
)  # fmt: skip
#: The kernel as the loader checks it: ABI, kinds, argument order, array slots.  The
#: extra flag: no contraction into FMAs, so the kernel rounds as the reference does.
KERNEL = build.Kernel(
    source="flux.c",
    abi=5,
    constants={"G_EXP": KINDS["exp"], "G_RATIONAL": KINDS["rational"], "G_TUKEY": KINDS["tukey"]},
    functions={"pm_flux_f32": (ctypes.c_int, _ARGS), "pm_flux_f64": (ctypes.c_int, _ARGS)},
    texts={"shape": "groups nc n0 n1 n2", "param": "kd dt h0 h1 h2 hd"},
    extra_flags=("-ffp-contract=off",),
)
#: Below this many pixel-iterations one thread does the job (waking the pool's threads costs
#: more than it gives, and on a loaded machine a descheduled worker stalls the barrier).
SERIAL_WORK = 4_000_000


def covers(job: Diffusion) -> str | None:
    """What in ``job`` the kernel does not cover (None: it covers it).  CPU, float32/64, a
    built-in diffusivity name, no Gaussian guide, no autograd graph to build, and "flux" on
    1-3 spatial axes or "flux8" in 2-D (channels per channel, not coupled)."""
    u = job.u
    if job.iterations == 0:
        return "no iterations"
    if not isinstance(job.diffusivity, str) or job.diffusivity not in KINDS:
        return f"diffusivity {job.diffusivity!r}"
    if job.scheme == "flux8":
        if u.ndim != 4 or (job.coupled and u.shape[1] > 1):
            return "flux8 beyond 2-D per channel"
    elif job.scheme != "flux":
        return f"scheme {job.scheme!r}"
    if job.sigma > 0:
        return "sigma > 0"
    if u.device.type != "cpu" or u.dtype not in (torch.float32, torch.float64):
        return f"{u.dtype} on {u.device}"
    if not 1 <= u.ndim - 2 <= 3 or u.numel() == 0:
        return f"{u.ndim - 2} spatial axes" if u.numel() else "an empty image"
    if job.needs_graph:
        return "autograd"
    return None


def why_not(job: Diffusion) -> str | None:
    """Why this backend cannot run ``job`` here (None: it can).  Builds the kernel on first
    need (blocking, once per machine)."""
    reason = covers(job)
    if reason is None and load() is None:
        reason = f"the C kernel is unavailable: {build.failure(KERNEL)}"
    return reason


def load() -> ctypes.CDLL | None:
    """The kernel, loaded (built now if not cached); None when it cannot be built here."""
    return build.load(KERNEL)


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


def run(job: Diffusion) -> torch.Tensor:
    """Run ``job`` (see :func:`why_not`) with the kernel."""
    return run_flux(
        job.u, iterations=job.iterations, kappa=job.kappa, dt=job.dt, diffusivity=job.diffusivity,
        spacing=job.spacing, coupled=job.coupled, scheme=job.scheme, progress=job.progress,
    )  # fmt: skip


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
    Raises RuntimeError if the kernel cannot be loaded here (check :func:`why_not` first).
    """
    lib = load()
    if lib is None:
        raise RuntimeError(f"the C kernel is unavailable: {build.failure(KERNEL)}")
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


__all__ = ["KERNEL", "KINDS", "Plan", "covers", "load", "plan", "run", "run_flux", "why_not"]
