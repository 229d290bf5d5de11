"""Dask scaling of peronamalik.dask.diffuse against the in-memory fused kernel.

    PYTHONPATH=src python benchmarks/dask_scaling.py [--size 256] [--iterations 20]

Prints a markdown table: in-memory time, dask on 1 and 2 workers (LocalCluster, one task and
``cores // workers`` kernel threads per worker, so workers × threads ≤ cores), the same
result checked, and the halo overhead (recomputed voxel-steps / useful voxel-steps) for
several chunk sizes and pass lengths, measured and modelled.
"""

from __future__ import annotations

import argparse
import math
import time

import dask.array as da
import numpy as np

import peronamalik
import peronamalik.dask as pmdask


def _threads(count: int) -> int:
    peronamalik.set_num_threads(count)
    return peronamalik.get_num_threads()


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def halo_factor(size: int, chunk: int, steps: int, ndim: int = 3) -> float:
    """Voxel-steps computed per useful voxel-step in a pass: ``k - 1`` inner chunk borders
    per axis, each recomputed over ``steps`` voxels on both sides (pass_length's model)."""
    return (1 + 2 * steps * (math.ceil(size / chunk) - 1) / size) ** ndim


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=128)
    args = parser.parse_args()
    import distributed

    cores = peronamalik.core.threads.usable_cores()
    volume = np.random.default_rng(0).random((args.size,) * 3, dtype=np.float32)
    options = dict(iterations=args.iterations, kappa=0.1)
    peronamalik.diffuse(volume[:32, :32, :32], device="cpu", **options)  # load the kernel
    t_mem, expected = timed(lambda: peronamalik.diffuse(volume, device="cpu", **options))
    rows = [("in-memory fused", cores, t_mem, 0.0, "-")]
    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None,
                                      silence_logs=50) as cluster, distributed.Client(cluster) as client:  # fmt: skip
            client.run(_threads, max(1, cores // workers))
            lazy = pmdask.diffuse(da.from_array(volume, chunks=args.chunk), **options)
            steps = pmdask.pass_length(args.iterations, (1, 1, 1), lazy.chunks)
            client.compute(pmdask.diffuse(da.from_array(volume[:64, :64, :64], chunks=32), **options)).result()
            t, result = timed(lambda: lazy.compute())
            error = float(np.abs(result - expected).max())
            rows.append((f"dask, {workers} worker(s), chunk {args.chunk}, {steps} steps/pass", workers, t, error, f"{t / t_mem:.2f}"))
    print(f"{args.size}^3 float32, {args.iterations} iterations, {cores} cores\n")
    print("| run | workers | seconds | max abs diff | x in-memory |\n|---|---|---|---|---|")
    for name, workers, t, error, ratio in rows:
        print(f"| {name} | {workers} | {t:.2f} | {error:.1e} | {ratio} |")
    print("\n| chunk | steps/pass | passes | halo factor | modelled cost (step-equivalents) |\n|---|---|---|---|---|")
    for chunk in (32, 64, 128, 256):
        for steps in (1, 2, 5, 10, 20):
            if steps > chunk:
                continue
            passes = math.ceil(args.iterations / steps)
            factor = halo_factor(args.size, chunk, steps)
            cost = passes * pmdask.PASS_COST + args.iterations * factor
            print(f"| {chunk} | {steps} | {passes} | {factor:.2f} | {cost:.1f} |")


if __name__ == "__main__":
    main()
