"""Peak memory of ``peronamalik smooth vol.zarr -o out.zarr`` on a volume bigger than the budget.

    PYTHONPATH=src nice -n 19 python benchmarks/dask_memory.py [--size 1024] [--iterations 5] [--chunks 256]

Writes a ``size``³ float32 zarr volume (1024³: 4 GiB; uniform noise, written chunk by chunk
by dask) into a temporary folder under ``--folder`` (default the system's temp folder),
runs ``python -m peronamalik smooth vol.zarr -o out.zarr --iterations N --kappa 0.1 --chunks C``
in a subprocess (threaded scheduler, the CLI's default) and measures its peak memory two ways:
the largest resident set size of the process and all its children (psutil, polled every
50 ms) and the kernel's high-water mark (``getrusage(RUSAGE_CHILDREN).ru_maxrss``).  Checks
that the output has the volume's shape, then deletes the folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

import dask
import dask.array as da
import numpy as np
import psutil

GiB = 2**30


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of ``process`` and its children now (0 for those already gone)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--folder", default=None)
    args = parser.parse_args()
    shape = (args.size,) * 3
    folder = tempfile.mkdtemp(prefix="dask-memory-", dir=args.folder)
    try:
        source, target = os.path.join(folder, "vol.zarr"), os.path.join(folder, "out.zarr")
        start = time.perf_counter()
        with dask.config.set(scheduler="threads", num_workers=2):
            da.random.default_rng(0).random(shape, chunks=args.chunks, dtype=np.float32).to_zarr(source, zarr_format=3)
        written = time.perf_counter() - start
        command = [sys.executable, "-m", "peronamalik", "smooth", source, "-o", target, "--iterations",
                   str(args.iterations), "--kappa", "0.1", "--chunks", str(args.chunks)]  # fmt: skip
        start = time.perf_counter()
        child = psutil.Popen(command)
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_rss(child))
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            raise SystemExit(f"smooth failed with exit {child.returncode}")
        maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        out = da.from_zarr(target)
        assert out.shape == shape and out.dtype == np.float32, (out.shape, out.dtype)
        volume = np.prod(shape) * 4
        print(f"volume {args.size}³ float32 = {volume / GiB:.2f} GiB (written in {written:.0f} s), "
              f"chunks {args.chunks}³ = {args.chunks**3 * 4 / 2**20:.0f} MiB, {args.iterations} iterations: "
              f"smoothed in {seconds:.0f} s")  # fmt: skip
        print(f"peak RSS, process tree (psutil, 50 ms polls): {peak / 2**20:.0f} MiB")
        print(f"peak RSS, largest child (ru_maxrss): {maxrss / 2**20:.0f} MiB")
        print(f"<= 1 GiB: {max(peak, maxrss) <= GiB}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
