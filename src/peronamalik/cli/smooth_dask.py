"""``peronamalik smooth scan.zarr -o smooth.zarr``: zarr / OME-Zarr volumes, chunk by chunk, on Dask.

Peak memory follows the chunk size, not the volume: the volume is read, diffused
(:func:`peronamalik.dask.diffuse`) and written one chunk (plus halo) at a time.

Dask, distributed and zarr (the ``[dask]`` extra) are imported only where a zarr volume or
a cluster is used: a batch on the local pool of threads (:mod:`peronamalik.cli.batch`)
imports this module without them.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from peronamalik._extras import require
from peronamalik._validate import InputError
from peronamalik.core.threads import get_num_threads, set_num_threads, torch_threads, usable_cores
from peronamalik.io.atomic import check_target

if TYPE_CHECKING:
    from peronamalik.cli.smooth import Region


def _set_kernel_threads(count: int) -> int:
    """Run on each worker: its own torch / C-kernel thread count."""
    set_num_threads(count)
    return get_num_threads()


def _share_cores(tasks: int) -> int:
    """Run on each worker of an existing cluster: its cores shared among its ``tasks``."""
    return _set_kernel_threads(max(1, usable_cores() // tasks))


def check_cluster_options(workers: int | None, scheduler: str | None) -> None:
    """Refuse, before anything is started or written, what :func:`dask_client` cannot use:
    both options, ``--workers`` below 1, or a ``--scheduler`` that is no address (one that
    does not answer is found only by connecting)."""
    if workers is not None and scheduler is not None:
        raise InputError("--workers and --scheduler exclude each other")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    if workers is not None or scheduler is not None:
        require("distributed", "dask")  # a missing [dask] extra: one line, before any work
    if scheduler is not None:
        from distributed.comm import get_address_host_port

        try:
            get_address_host_port(scheduler)  # the scheme's own parser: host and port, or ValueError
        except ValueError as exc:
            raise InputError(f"--scheduler {scheduler!r} is not a scheduler address ({exc}); give tcp://HOST:PORT") from None


@contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``workers`` (a LocalCluster of that many processes, 1 task
    and ``cores // workers`` kernel threads each, so workers × threads ≤ cores) or
    ``scheduler`` (an existing cluster at that address; each worker runs
    ``its cores // its tasks`` kernel threads); None for neither."""
    check_cluster_options(workers, scheduler)
    if workers is None and scheduler is None:
        yield None
        return
    import distributed

    if workers is not None:
        # CRITICAL, not ERROR: at shutdown a worker's heartbeat can race the scheduler's close
        # and log a traceback; task failures reach the user through their futures anyway
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.CRITICAL
        )
        with cluster, distributed.Client(cluster) as client:
            client.run(_set_kernel_threads, max(1, usable_cores() // workers))
            yield client
        return
    try:
        client = distributed.Client(scheduler)
    except OSError as exc:  # nothing answered within dask's connect timeout
        raise InputError(
            f"--scheduler {scheduler}: {exc} (no Dask scheduler answered; the wait is dask's "
            "distributed.comm.timeouts.connect)"
        ) from None
    with client:
        for address, tasks in client.nthreads().items():
            client.run(_share_cores, tasks, workers=[address])
        yield client


@contextmanager
def dask_scheduler(workers: int | None, scheduler: str | None) -> Iterator[None]:
    """Compute dask arrays on :func:`dask_client`'s cluster; without one, on dask's threaded
    scheduler, one kernel thread per task."""
    import dask

    with dask_client(workers, scheduler) as client:
        if client is not None:
            yield
            return
        with torch_threads(1), dask.config.set(scheduler="threads"):  # the pool runs one task per core
            yield


def smooth_zarr(
    input_path: Path,
    output: Path,
    *,
    chunks: int | None,
    workers: int | None,
    scheduler: str | None,
    overwrite: bool,
    options: dict[str, Any],
    noise_region: Region | None = None,
    quiet: bool = False,
) -> None:
    """Smooth a zarr / OME-Zarr ``input_path`` into ``output`` (same kind); ``options`` as
    :func:`peronamalik.dask.diffuse` (``spacing`` / ``channel_axis`` None: the OME metadata's).
    ``'auto'`` parameters are chosen over the whole volume, in memory, as ``peronamalik.dask``
    chooses them (the noise read in ``noise_region`` if given, as ``smooth --noise-region``),
    and printed on one line on stdout unless ``quiet``.

    The result is written in the input's dtype and units, chunk by chunk, as the in-memory
    ``smooth`` writes an image (:func:`peronamalik.core.arrays.from_float`: uint8/uint16
    back from [0, 1], other integers rounded and clipped, floats as they are).
    """
    import peronamalik.dask as pmdask
    from peronamalik.core.arrays import from_float
    from peronamalik.io.zarr import is_zarr_path, read_zarr, write_zarr

    if not (is_zarr_path(input_path) and is_zarr_path(output)):
        raise InputError("zarr input and output go together: name both INPUT and -o as .zarr")
    if chunks is not None and chunks < 1:
        raise InputError(f"--chunks must be >= 1, got {chunks}")
    check_cluster_options(workers, scheduler)
    check_target(output, overwrite=overwrite, directory=True)
    image = read_zarr(input_path, chunks=chunks)
    options = dict(options)
    spacing = options["spacing"]
    options["spacing"] = image.spacing if spacing is None else spacing[0] if len(spacing) == 1 else spacing
    if options["channel_axis"] is None:
        options["channel_axis"] = image.channel_axis
    elif options["channel_axis"] == "none":
        options["channel_axis"] = None
    with dask_scheduler(workers, scheduler), tempfile.TemporaryDirectory(
        dir=output.absolute().parent, prefix=f".{output.name}.", suffix=".passes"
    ) as passes:
        if "auto" in (options["kappa"], options["iterations"], options["sigma"]):
            from peronamalik.cli.smooth import with_auto_chosen
            from peronamalik.core import DiffusionParams

            params = DiffusionParams(**options, device="cpu")  # as peronamalik.dask chooses
            chosen = with_auto_chosen(params, image.array.compute(), said=None if quiet else "", noise_region=noise_region)
            options.update(kappa=chosen.kappa, iterations=chosen.iterations, sigma=chosen.sigma)
        result = pmdask.diffuse(image.array, checkpoint=passes, **options)
        dtype = image.array.dtype
        result = result.map_blocks(from_float, dtype, dtype=dtype, meta=np.empty((0,) * result.ndim, dtype))
        write_zarr(output, result, like=image, overwrite=overwrite)
