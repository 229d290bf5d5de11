"""Fixtures shared by the whole suite: ``backend``, to run a test on each backend explicitly,
``native_kernel``, a C kernel's library for the tests that call it directly, and ``reap``,
for the tests that start the CLI as a child process."""

from __future__ import annotations

import ctypes
import subprocess
import warnings
from collections.abc import Callable, Iterator

import pytest
import torch

import peronamalik
from peronamalik.backends import compiled
from peronamalik.backends.native import build, flux, learned

#: The backends an oracle or property test runs on by default; ``compiled`` (a compile per
#: configuration, seconds each) is added on a few small cases with
#: ``@pytest.mark.parametrize("backend", ["reference", "native", "compiled"], indirect=True)``.
DEFAULT_BACKENDS = ("reference", "native")


def load_kernels(*kernels: build.Kernel) -> list[ctypes.CDLL]:
    """The kernels' libraries, built (or loaded from the cache); skip the test when there is
    no C compiler here, fail it when there is one but a kernel did not build."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", build.NativeKernelWarning)
        libraries = [build.load(kernel) for kernel in kernels]
    missing = {kernel.source: build.failure(kernel) for kernel, lib in zip(kernels, libraries) if lib is None}
    if missing and build.compiler() is not None:
        pytest.fail(f"a C compiler is present but these kernels did not build: {missing}")
    if missing:
        pytest.skip(f"no C compiler: {sorted(missing)} cannot be built here")
    return libraries


@pytest.fixture(scope="session")
def native_kernel() -> Callable[[build.Kernel], ctypes.CDLL]:
    """``native_kernel(kernel)``: its library (see :func:`load_kernels`), for a module-scoped
    ``lib`` fixture."""
    return lambda kernel: load_kernels(kernel)[0]


def _require(name: str) -> None:
    """Skip (no compiler here) or fail (a compiler, but no kernel) when ``name`` cannot run."""
    if name == "native":
        load_kernels(flux.KERNEL, learned.KERNEL)
    elif name == "compiled" and compiled.unavailable(torch.device("cpu")) is not None:
        pytest.skip(f"torch.compile cannot run here: {compiled.unavailable(torch.device('cpu'))}")


@pytest.fixture(params=DEFAULT_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test runs with this backend requested (``with peronamalik.backend(name)``); jobs
    it does not cover take the reference, as in use."""
    _require(request.param)
    with peronamalik.backend(request.param):
        yield request.param


@pytest.fixture
def reap() -> Iterator[Callable[[subprocess.Popen], subprocess.Popen]]:
    """``reap(process)`` returns ``process``, killed at the end of the test if it is still
    running, its pipes or terminal closed: a test that fails before its child exits (most run
    millions of iterations, to be stopped by a signal) would otherwise leave it diffusing on
    a core for the rest of the run."""
    started: list[subprocess.Popen] = []
    yield lambda process: started.append(process) or process
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
