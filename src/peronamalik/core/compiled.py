"""Fused path for GPUs: the reference step functions themselves, compiled with ``torch.compile``.

On CUDA, :func:`peronamalik.core.diffuse.run_diffusion` and the learned step of
:class:`peronamalik.art.engine.LearnedDiffusion` hand the readable torch code of
:mod:`peronamalik.core.schemes` to ``torch.compile`` (TorchInductor; Triton kernels on a
GPU, C++/OpenMP on a CPU).  No second copy of the math exists: the compiled graph is traced
from the same ``flux_step``/``seed_step``/loss functions, so it covers every scheme,
diffusivity (callables too), ``sigma``, spacing, channel coupling and autograd.  A call
runs :data:`STEPS_PER_CALL` steps unrolled in one graph (one guard check and one Python
round trip per 8 steps instead of per step).  ``kappa`` and ``dt`` go in as 0-d tensors so
a new value does not recompile; a new shape, dtype or scheme does (``dynamic=False``: the
kernels are specialised to the image's size).

When it runs (``$PERONAMALIK_FUSED``, :func:`peronamalik.core.native.mode`):

``auto`` (default)
    On CUDA, once the estimated eager time of this job plus the earlier jobs of the same
    configuration in this process exceeds :data:`COMPILE_SECONDS_ESTIMATE` (the ski-rental
    rule: a one-off small job never waits for a compile, a big job or a training loop
    compiles and never spends more than about twice the best choice's time); and for a
    configuration this process has already compiled (then it is free).  Never on the CPU,
    where the C kernels (:mod:`peronamalik.core.fused`) are faster.
``on``
    Every CUDA job.
``compile``
    Every job on every device, the CPU included (instead of the C kernels): for autograd on
    the CPU, and how the tests exercise this path without a GPU.
``off``
    Never.

Compile cost: about 5 s for the first 8-step graph on a 2-core CPU, measured; on a GPU
Triton's compile is of the same order (not measured: no GPU was lent to this project yet).
Inductor caches compiled kernels on disk (``$TORCHINDUCTOR_CACHE_DIR``, default
``/tmp/torchinductor_$USER``), so later processes skip most of it; Dynamo's tracing (about
a second) is paid once per process.  If compiling fails (no Triton, no C++ compiler), a
:class:`CompileWarning` is issued once and the eager path runs from then on.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Hashable
from typing import Any

import torch
from tqdm.auto import tqdm

from peronamalik.core import native

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


_failed: str | None = None
#: Configurations this process has compiled a graph for (compiling them again is free).
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


def wanted(device: torch.device, key: Hashable, eager_seconds: float) -> bool:
    """Should a job run compiled?  ``key`` names its configuration (shape, dtype, scheme ...);
    ``eager_seconds`` is its estimated eager run time.  See the module's docstring."""
    how = native.mode()
    if _failed is not None or how == "off":
        return False
    if how == "compile":
        return True
    if not device_supported(device):
        return False
    spent = _eager_spent.get(key, 0.0) + eager_seconds
    if how == "on" or key in _compiled_keys or spent > COMPILE_SECONDS_ESTIMATE:
        return True
    _eager_spent[key] = spent  # the caller runs it eagerly
    return False


def eager_gpu_seconds(numel: int, element_size: int, kernels_per_step: int, iterations: int) -> float:
    """Estimated eager time of ``iterations`` steps of ``kernels_per_step`` elementwise
    kernels over ``numel`` elements on a GPU (each kernel reads and writes them once)."""
    per_kernel = max(EAGER_GPU_SECONDS_PER_KERNEL, 2 * numel * element_size / EAGER_GPU_BYTES_PER_SECOND)
    return iterations * kernels_per_step * per_kernel


def call(key: Hashable, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` through ``torch.compile``; eager (with one warning per process)
    if compiling fails.  ``fn`` must be a module-level function (its compiled wrapper is
    cached) whose result does not depend on Python state other than its arguments."""
    global _failed
    if _failed is None:
        try:
            with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
                result = _compiled(fn)(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - a compiler failure, or the code's own error
            result = fn(*args, **kwargs)  # the code's own error raises here, as it would eagerly
            text = str(error).strip()
            _failed = f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
            warnings.warn(
                f"peronamalik: torch.compile failed, using the eager path (slower, same results): {_failed}",
                CompileWarning,
                stacklevel=3,
            )
            return result
        _compiled_keys.add(key)
        return result
    return fn(*args, **kwargs)


def run_steps(key: Hashable, step: Step, u: torch.Tensor, iterations: int, progress: bool = False) -> torch.Tensor:
    """``iterations`` applications of ``step`` to ``u``, :data:`STEPS_PER_CALL` per compiled call.

    ``step`` must take ``kappa``/``dt`` as tensors (bound by
    :func:`peronamalik.core.diffuse.make_step`), so new values reuse the graph.
    """
    with tqdm(total=iterations, delay=1.0, unit="it", desc="diffusing", disable=not progress) as bar:
        done = 0
        while done < iterations:
            steps = min(STEPS_PER_CALL, iterations - done)
            u = call(key, _repeat, step, u, steps)
            done += steps
            bar.update(steps)
    return u


def failure() -> str | None:
    """Why compiling failed in this process (None: it has not)."""
    return _failed


__all__ = [
    "COMPILE_SECONDS_ESTIMATE",
    "STEPS_PER_CALL",
    "CompileWarning",
    "call",
    "device_supported",
    "eager_gpu_seconds",
    "failure",
    "run_steps",
    "wanted",
]
