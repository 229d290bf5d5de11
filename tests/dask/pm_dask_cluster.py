"""(Not a conftest: tests/dask has no __init__.py, so it may not shadow the real dask.)
A two-process ``distributed.LocalCluster`` (1 thread each) shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

distributed = pytest.importorskip("distributed")


def _one_thread() -> int:
    torch.set_num_threads(1)  # the worker sets its own kernel threads: 2 workers x 1 <= 2 cores
    return torch.get_num_threads()


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        assert set(client.run(_one_thread).values()) == {1}
        yield client
