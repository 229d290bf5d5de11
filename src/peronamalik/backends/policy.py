"""The one module that picks a backend for a job, and the ``backend(...)`` switch.

The rule, for reproducibility: **a call's path is a function of the job, the requested
backend and what this machine can build** -- never of timing, of whether the kernel was
already in the disk cache, or of what ran before in the process.  (The native kernel is
built synchronously on first need; with no C compiler the reference runs, with one
warning, and the choice is reported: :func:`choose` returns it, the art sidecar records it.)

Requested backend, first found: the innermost ``with backend(name):``, else
``$PERONAMALIK_BACKEND``, else the older ``$PERONAMALIK_FUSED`` (``off`` = reference,
``on`` = native, ``compile`` = compiled, ``auto``), else ``auto``:

``auto``
    CPU: native where the C kernels cover the job, else reference.  CUDA: compiled when
    the job's estimated eager time exceeds
    :data:`peronamalik.backends.compiled.COMPILE_SECONDS_ESTIMATE` (a compile costs
    seconds per configuration and process), else reference.  Other devices: reference.
``native``, ``compiled``
    That backend wherever it can run the job; where it cannot run here (no compiler, no
    Triton), the reference, with one :class:`BackendWarning` per reason.  A job the
    backend does not cover (``sigma > 0`` for the kernels, a configuration whose compile
    failed) takes the reference silently.
``reference``
    The readable torch steps, always.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import Any

import torch

from peronamalik.backends import compiled, reference
from peronamalik.backends.job import Diffusion
from peronamalik.backends.native import flux, learned

#: Backend names ``backend()`` and ``$PERONAMALIK_BACKEND`` take.
NAMES = ("auto", "reference", "native", "compiled")
#: ``$PERONAMALIK_FUSED`` values (the variable of earlier versions) and what they mean now.
LEGACY = {
    **dict.fromkeys(("0", "off", "false", "no", "never"), "reference"),
    **dict.fromkeys(("1", "on", "true", "yes", "always", "force"), "native"),
    "compile": "compiled",
    "auto": "auto",
}
#: The readable torch path: the closest to any other, and always available.
FALLBACK = "reference"


class BackendWarning(RuntimeWarning):
    """The requested backend cannot run a job here; the reference runs it instead."""


_requested: ContextVar[str | None] = ContextVar("peronamalik_backend", default=None)
_warned: set[tuple[str, str]] = set()


def _check(name: object, where: str) -> str:
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(f"{where} must be one of {list(NAMES)}, got {name!r}")
    return name


@contextmanager
def backend(name: str) -> Iterator[None]:
    """Run the block with backend ``name`` (one of :data:`NAMES`) requested.

    Scoped to the block (and to its thread or task: a ``contextvars`` variable); it
    overrides ``$PERONAMALIK_BACKEND``.

    Examples
    --------
    >>> import numpy as np, peronamalik
    >>> image = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    >>> with peronamalik.backend("reference"):
    ...     smooth = peronamalik.diffuse(image, iterations=5)
    """
    token = _requested.set(_check(name, "backend"))
    try:
        yield
    finally:
        _requested.reset(token)


def requested() -> str:
    """The backend requested here (see the module's docstring)."""
    scoped = _requested.get()
    if scoped is not None:
        return scoped
    if os.environ.get("PERONAMALIK_BACKEND"):
        return _check(os.environ["PERONAMALIK_BACKEND"].strip().lower(), "$PERONAMALIK_BACKEND")
    legacy = os.environ.get("PERONAMALIK_FUSED", "auto").strip().lower()
    return LEGACY.get(legacy, "auto")


#: The diffusion backends by name, each with ``covers(job)`` (what in the job is not for it:
#: a reason, or None), ``why_not(job)`` (that, or why it cannot run here) and ``run(job)``.
DIFFUSION: dict[str, ModuleType] = {"reference": reference, "native": flux, "compiled": compiled}


def _fallback(name: str, reason: str) -> str:
    """The reference, with one :class:`BackendWarning` per reason."""
    if (name, reason) not in _warned:
        _warned.add((name, reason))
        warnings.warn(
            f"peronamalik: backend {name!r} cannot run this here ({reason}); using {FALLBACK!r}",
            BackendWarning,
            stacklevel=4,
        )
    return FALLBACK


def choose(job: Diffusion) -> str:
    """The backend that runs ``job``: ``"reference"``, ``"native"`` or ``"compiled"``."""
    wanted = requested()
    device = job.u.device
    if wanted == "auto":
        if device.type == "cpu":
            return "native" if flux.why_not(job) is None else FALLBACK
        if device.type == "cuda":
            eager = compiled.eager_gpu_seconds(
                job.u.numel(), job.u.element_size(), compiled.kernels_per_step(job), job.iterations
            )
            if eager > compiled.COMPILE_SECONDS_ESTIMATE and compiled.why_not(job) is None:
                return "compiled"
        return FALLBACK
    if DIFFUSION[wanted].covers(job) is not None:
        return FALLBACK  # not a job for this backend (sigma for the kernels ...): no warning
    reason = DIFFUSION[wanted].why_not(job)
    return wanted if reason is None else _fallback(wanted, reason)


def run(job: Diffusion) -> torch.Tensor:
    """Run ``job`` on the backend :func:`choose` picks."""
    return DIFFUSION[choose(job)].run(job)


def choose_learned(engine: Any) -> str:
    """The backend that runs the steps of a learned-diffusion ``engine``
    (:class:`peronamalik.art.engine.LearnedDiffusion`), decided at its first step."""
    wanted = requested()
    image = engine.image
    if wanted == "auto":
        if image.device.type == "cpu":
            return "native" if learned.why_not(engine) is None else FALLBACK
        if image.device.type == "cuda" and engine.overridden() is None:
            # forward, loss and backward: ~40 elementwise kernels on the image per step
            eager = compiled.eager_gpu_seconds(image.numel(), image.element_size(), 40, engine.config.iterations)
            if eager > compiled.COMPILE_SECONDS_ESTIMATE and compiled.unavailable(image.device) is None:
                return "compiled"
        return FALLBACK
    if wanted == "native":
        if learned.covers(engine) is not None:
            return FALLBACK
        reason = learned.why_not(engine)
    elif wanted == "compiled":
        if engine.overridden() is not None:
            return FALLBACK  # the fast paths run only the engine's own methods: no warning
        reason = compiled.unavailable(image.device)
    else:
        reason = None
    return wanted if reason is None else _fallback(wanted, reason)


__all__ = ["DIFFUSION", "FALLBACK", "NAMES", "BackendWarning", "backend", "choose", "choose_learned", "requested", "run"]
