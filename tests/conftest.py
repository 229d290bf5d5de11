"""Fixtures shared by the whole suite: ``backend``, to run a test on each backend explicitly."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator

import pytest
import torch

import peronamalik
from peronamalik.backends import compiled
from peronamalik.backends.native import build, flux, learned

#: The backends an oracle or property test runs on by default; ``compiled`` (a compile per
#: configuration, seconds each) is added on a few small cases with
#: ``@pytest.mark.parametrize("backend", ["reference", "native", "compiled"], indirect=True)``.
DEFAULT_BACKENDS = ("reference", "native")


def _require(name: str) -> None:
    """Skip (no compiler here) or fail (a compiler, but no kernel) when ``name`` cannot run."""
    if name == "native":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", build.NativeKernelWarning)
            missing = [kernel.source for kernel in (flux.KERNEL, learned.KERNEL) if build.load(kernel) is None]
        if missing and (shutil.which("gcc") or shutil.which("cc")):
            pytest.fail(f"a C compiler is present but {missing} did not build: {build.build_info}")
        if missing:
            pytest.skip("no C compiler: the native backend cannot run here")
    elif name == "compiled" and compiled.unavailable(torch.device("cpu")) is not None:
        pytest.skip(f"torch.compile cannot run here: {compiled.unavailable(torch.device('cpu'))}")


@pytest.fixture(params=DEFAULT_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test runs with this backend requested (``with peronamalik.backend(name)``); jobs
    it does not cover take the reference, as in use."""
    _require(request.param)
    with peronamalik.backend(request.param):
        yield request.param
