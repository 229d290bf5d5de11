"""Fixtures for the core tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _single_torch_thread() -> Iterator[None]:
    """Run the core tests on one intra-op thread.

    The arrays here are tiny; with OpenMP's 2 threads on a loaded 2-core CI machine, a
    descheduled worker stalls every parallel ``exp`` (measured: 100 steps on 24³ took 1.8 s
    instead of 0.02 s).  Results do not depend on the thread count.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
