"""The compiled backend: the reference step functions themselves, through ``torch.compile``.

On CUDA, :func:`peronamalik.core.diffuse.run_diffusion` and the learned step of
:class:`peronamalik.art.engine.LearnedDiffusion` hand the readable torch code of
:mod:`peronamalik.core.schemes` to ``torch.compile`` (TorchInductor; Triton kernels on a
GPU, C++/OpenMP on a CPU).  No second copy of the math exists: the compiled graph is traced
from the same ``flux_step``/``seed_step``/loss functions, so it covers every scheme,
built-in diffusivity, ``sigma``, spacing, channel coupling and autograd; a callable
diffusivity is compiled too when Dynamo can trace it in one graph (plain tensor code),
else its configuration runs eagerly.  A call runs :data:`STEPS_PER_CALL` steps unrolled in
one graph (one guard check and one Python round trip per 8 steps instead of per step); the
steps left over run through a 1-step graph, so a configuration has at most two graphs.
``kappa`` and ``dt`` go in as 0-d tensors, so a new value does not recompile; a new shape,
dtype, scheme or grad mode does (``dynamic=False``: kernels specialised to the image's size).

When it runs: the policy (:mod:`peronamalik.backends.policy`) picks it for a job on CUDA
whose estimated eager time (:func:`eager_gpu_seconds`) exceeds
:data:`COMPILE_SECONDS_ESTIMATE` (a decision on the job alone, never on what ran before),
and for every job under ``backend("compiled")`` on any device, the CPU included (for
autograd on the CPU, and how the tests exercise this path without a GPU).

Compile cost, measured on the 2-core CPU: the first call of a process with a cold cache
13 s (2-D, 24 steps: the 8-step graph; inductor's import included), a new configuration
after that 3-16 s; inductor caches the compiled code on disk (``$TORCHINDUCTOR_CACHE_DIR``,
default ``/tmp/torchinductor_$USER``), so the same first call in a later process takes
3.5 s (Dynamo's tracing and the cache's load).  On a GPU Triton's compile is of the same
order (not measured: no GPU was lent to this project yet).

Failures: without Triton (CUDA) or a C++ compiler (CPU) nothing is compiled, with one
:class:`CompileWarning`.  A configuration whose compile fails (an untraceable callable, a
compiler bug) warns once and runs eagerly from then on; the others are not affected.
Where Dynamo's limit on graphs per function is reached, the call runs eagerly, silently.
Under autograd the backward is compiled at the first ``backward()``: the learned step falls
back to eager if that fails; a ``diffuse`` result's backward is the caller's
(``backend("reference")`` turns the path off).
"""

from __future__ import annotations

import functools
import os
import shutil
import warnings
from collections.abc import Callable, Hashable
from typing import Any

import torch

from peronamalik.backends.job import Diffusion
from peronamalik.backends.native.build import NativeKernelWarning
from peronamalik.backends.reference import Step, job_step
from peronamalik.core.schemes import neighbour_offsets
from peronamalik.core.progress import Progress

#: Steps unrolled into one compiled call.
STEPS_PER_CALL = 8
#: Rough cost of compiling one graph (seconds); the policy compiles a CUDA job whose eager
#: run is estimated to take longer than this.
COMPILE_SECONDS_ESTIMATE = 10.0
#: Eager cost model on a GPU: launch-bound small steps, bandwidth-bound large ones.  A
#: "flux" step is ~10 elementwise kernels per axis, each reading and writing the image.
#: Estimates from kernel counts and an H100's ~3 TB/s, not measurements (see module doc).
EAGER_GPU_SECONDS_PER_KERNEL = 10e-6
EAGER_GPU_BYTES_PER_SECOND = 2.0e12

#: Graphs kept per compiled function (Dynamo's default, 8, counts every shape, scheme and
#: steps-per-call of :func:`_repeat` together).
RECOMPILE_LIMIT = 64


class CompileWarning(NativeKernelWarning):
    """``torch.compile`` failed; the eager reference path runs instead."""


#: Why nothing can be compiled on a device type (checked once per type).
_unavailable: dict[str, str | None] = {}
#: Configurations whose compile failed, and why.
_failed: dict[Hashable, str] = {}
#: Configurations this process has compiled a graph for.
_compiled_keys: set[Hashable] = set()


def _repeat(step: Step, u: torch.Tensor, steps: int) -> torch.Tensor:
    for _ in range(steps):
        u = step(u)
    return u


@functools.cache
def _compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    return torch.compile(fn, fullgraph=True, dynamic=False)


def unavailable(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot run on this device type here (None: it can)."""
    if device.type not in _unavailable:
        reason = None
        if device.type == "cuda":
            from torch.utils._triton import has_triton

            reason = None if has_triton() else "Triton is not installed"
        elif device.type == "cpu":
            import torch._inductor.config as inductor

            compilers = [os.environ.get("CXX"), *inductor.cpp.cxx]
            if not any(c and shutil.which(c) for c in compilers):
                reason = "no C++ compiler (g++) for TorchInductor"
        _unavailable[device.type] = reason
        if reason:
            warnings.warn(
                f"peronamalik: torch.compile unavailable on {device.type}, using the eager path: {reason}",
                CompileWarning,
                stacklevel=4,
            )
    return _unavailable[device.type]


def eager_gpu_seconds(numel: int, element_size: int, kernels_per_step: int, iterations: int) -> float:
    """Estimated eager time of ``iterations`` steps of ``kernels_per_step`` elementwise
    kernels over ``numel`` elements on a GPU (each kernel reads and writes them once)."""
    per_kernel = max(EAGER_GPU_SECONDS_PER_KERNEL, 2 * numel * element_size / EAGER_GPU_BYTES_PER_SECOND)
    return iterations * kernels_per_step * per_kernel


def call(key: Hashable, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` through ``torch.compile``; eagerly where ``key``'s compile has
    failed (see the module's docstring).  ``fn`` must be a module-level function (its compiled
    wrapper is cached) whose result depends on nothing but its arguments."""
    if key in _failed:
        return fn(*args, **kwargs)
    try:
        with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
            result = _compiled(fn)(*args, **kwargs)
    except torch.OutOfMemoryError:
        raise
    except torch._dynamo.exc.FailOnRecompileLimitHit:
        return fn(*args, **kwargs)  # too many graphs of fn in this process: this call eagerly
    except Exception as error:  # noqa: BLE001 - a compiler failure, or the code's own error
        result = fn(*args, **kwargs)  # the code's own error raises here, as it would eagerly
        record_failure(key, error)
        return result
    _compiled_keys.add(key)
    return result


def record_failure(key: Hashable, error: BaseException) -> None:
    """Run ``key``'s configuration eagerly from now on, with a warning naming the error."""
    text = str(error).strip()
    _failed[key] = f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
    warnings.warn(
        f"peronamalik: torch.compile failed for one configuration, which now runs eagerly "
        f"(slower, same results): {_failed[key]}",
        CompileWarning,
        stacklevel=4,
    )


def key(job: Diffusion) -> tuple:
    """What a compiled graph of ``job`` is specialised to (a new key: a new graph)."""
    u = job.u
    return (
        job.scheme, tuple(u.shape), u.dtype, str(u.device), job.needs_graph, job.diffusivity,
        job.spacing, job.coupled, job.sigma,
    )  # fmt: skip


def kernels_per_step(job: Diffusion) -> int:
    """Elementwise kernels of one eager step (the estimate of :func:`eager_gpu_seconds`)."""
    return 8 if job.scheme == "seed" else 12 * len(neighbour_offsets(job.scheme, job.spatial_ndim)) + 2


def covers(job: Diffusion) -> str | None:
    """What makes ``job`` not one to compile (None: nothing): no steps, or its
    configuration's compile failed earlier (warned then; it runs eagerly from then on)."""
    if job.iterations == 0:
        return "no iterations"
    return f"its compile failed: {_failed[key(job)]}" if key(job) in _failed else None


def why_not(job: Diffusion) -> str | None:
    """Why ``job`` cannot be compiled here (None: it can)."""
    return covers(job) or unavailable(job.u.device)


def run(job: Diffusion) -> torch.Tensor:
    """``job`` through ``torch.compile``; ``kappa`` and ``dt`` as tensors (no recompiles;
    made with torch.full, not from host memory: no wait for the GPU's queue)."""
    u = job.u
    scalar = functools.partial(torch.full, (), dtype=u.dtype, device=u.device)
    kappa = job.kappa if isinstance(job.kappa, torch.Tensor) else scalar(job.kappa)
    return run_steps(key(job), job_step(job, kappa, scalar(float(job.dt))), u, job.iterations, job.progress)


def run_steps(
    key: Hashable, step: Step, u: torch.Tensor, iterations: int, progress: Progress | None = None
) -> torch.Tensor:
    """``iterations`` applications of ``step`` to ``u``, :data:`STEPS_PER_CALL` per compiled call.

    ``step`` must take ``kappa``/``dt`` as tensors (bound by
    :func:`peronamalik.backends.reference.make_step`), so new values reuse the graph.
    """
    done = 0
    while done < iterations:
        steps = STEPS_PER_CALL if iterations - done >= STEPS_PER_CALL else 1
        u = call(key, _repeat, step, u, steps)
        done += steps
        if progress is not None:
            progress(done, iterations)
    return u


__all__ = [
    "COMPILE_SECONDS_ESTIMATE",
    "STEPS_PER_CALL",
    "CompileWarning",
    "call",
    "covers",
    "eager_gpu_seconds",
    "key",
    "kernels_per_step",
    "record_failure",
    "run",
    "run_steps",
    "unavailable",
    "why_not",
]
