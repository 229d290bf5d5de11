"""Fused path for GPUs: the reference step functions themselves, compiled with ``torch.compile``.

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

When it runs (``$PERONAMALIK_FUSED``, :func:`peronamalik.core.native.mode`):

``auto`` (default)
    On CUDA, once the estimated eager time of this job plus the earlier jobs of the same
    configuration in this process exceeds :data:`COMPILE_SECONDS_ESTIMATE` (the ski-rental
    rule: a one-off small job never waits for a compile, a big job or a training loop
    compiles and never spends more than about twice the best choice's time); and for a
    configuration this process has already compiled.  Never on the CPU, where the C
    kernels (:mod:`peronamalik.core.fused`) are faster.
``on``
    Every CUDA job.
``compile``
    Every job on every device, the CPU included (instead of the C kernels): for autograd on
    the CPU, and how the tests exercise this path without a GPU.
``off``
    Never.

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
(``PERONAMALIK_FUSED=off`` turns the path off).
"""

from __future__ import annotations

import functools
import os
import shutil
import warnings
from collections.abc import Callable, Hashable
from typing import Any

import torch

from peronamalik.core import native
from peronamalik.core.progress import Progress

#: Steps unrolled into one compiled call.
STEPS_PER_CALL = 8
#: Rough cost of compiling one graph (seconds); ``auto`` compiles a job whose eager run is
#: estimated to take longer than this.
COMPILE_SECONDS_ESTIMATE = 10.0
#: Eager cost model on a GPU: launch-bound small steps, bandwidth-bound large ones.  A
#: "flux" step is ~10 elementwise kernels per axis, each reading and writing the image.
#: Estimates from kernel counts and an H100's ~3 TB/s, not measurements (see module doc).
EAGER_GPU_SECONDS_PER_KERNEL = 10e-6
EAGER_GPU_BYTES_PER_SECOND = 2.0e12

#: Graphs kept per compiled function (Dynamo's default, 8, counts every shape, scheme and
#: steps-per-call of :func:`_repeat` together).
RECOMPILE_LIMIT = 64

Step = Callable[[torch.Tensor], torch.Tensor]


class CompileWarning(native.NativeKernelWarning):
    """``torch.compile`` failed; the eager reference path runs instead."""


#: Why nothing can be compiled on a device type (checked once per type).
_unavailable: dict[str, str | None] = {}
#: Configurations whose compile failed, and why.
_failed: dict[Hashable, str] = {}
#: Configurations this process has compiled a graph for.
_compiled_keys: set[Hashable] = set()
#: Estimated eager seconds spent so far per configuration not compiled yet.
_eager_spent: dict[Hashable, float] = {}


def _repeat(step: Step, u: torch.Tensor, steps: int) -> torch.Tensor:
    for _ in range(steps):
        u = step(u)
    return u


@functools.cache
def _compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    return torch.compile(fn, fullgraph=True, dynamic=False)


def device_supported(device: torch.device) -> bool:
    """Does ``auto``/``on`` mode compile for this device type?"""
    return device.type == "cuda"


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


def pays_off(device: torch.device, key: Hashable, eager_seconds: float) -> bool:
    """The policy: should a job of configuration ``key`` (shape, dtype, scheme, grad mode ...)
    whose eager run would take about ``eager_seconds`` be compiled, given the mode and what
    this process has run so far?  See the module's docstring.  Counts the job as run eagerly
    when the answer is no."""
    how = native.mode()
    if how == "off" or key in _failed or not (how == "compile" or device_supported(device)):
        return False
    if how in ("compile", "on") or key in _compiled_keys:
        return True
    spent = _eager_spent.get(key, 0.0) + eager_seconds
    if spent > COMPILE_SECONDS_ESTIMATE:
        return True
    _eager_spent[key] = spent
    return False


def wanted(device: torch.device, key: Hashable, eager_seconds: float) -> bool:
    """:func:`pays_off`, and ``torch.compile`` can run on ``device`` here."""
    return pays_off(device, key, eager_seconds) and unavailable(device) is None


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


def run_steps(
    key: Hashable, step: Step, u: torch.Tensor, iterations: int, progress: Progress | None = None
) -> torch.Tensor:
    """``iterations`` applications of ``step`` to ``u``, :data:`STEPS_PER_CALL` per compiled call.

    ``step`` must take ``kappa``/``dt`` as tensors (bound by
    :func:`peronamalik.core.diffuse.make_step`), so new values reuse the graph.
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
    "device_supported",
    "eager_gpu_seconds",
    "pays_off",
    "record_failure",
    "run_steps",
    "unavailable",
    "wanted",
]
