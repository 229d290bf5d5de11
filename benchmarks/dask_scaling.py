"""Dask scaling of peronamalik.dask.diffuse against the in-memory fused kernel.

    PYTHONPATH=src python benchmarks/dask_scaling.py [--size 512] [--iterations 50] [--chunks 512 256,512,512 256]
    PYTHONPATH=src nice -n 19 python benchmarks/dask_scaling.py --halo-table [--size 256]

The volume (``size``³ float32, uniform noise, numpy seed 0) is written to a zarr store in a
temporary folder (once per ``--chunks``: ``c`` for ``c``³ chunks, or one size per axis) and read from there by everyone: the
in-memory baseline loads it into one numpy array, the threaded scheduler wraps that array, and
each LocalCluster's workers read the store themselves and keep the input in their memory
(``persist``) before the clock starts.  Timed: from the lazy result to every block of it
computed and held in memory (``persist`` + ``wait``), against ``peronamalik.diffuse`` on the
numpy array (default flux scheme, exp diffusivity, kappa 0.1) timed right before each dask run
(the load of a shared machine drifts within minutes); ``--repeat`` pairs, interleaved, the
fastest of each reported.  Untimed: the check that the
result equals the in-memory one.

Runs: the in-memory fused kernel on all cores against dask's threaded scheduler (one task per core,
one kernel thread each, as ``peronamalik smooth`` does); a LocalCluster of 1 worker (1 task,
``cores`` kernel threads) and of 2 workers (1 task and ``cores // 2`` kernel threads each, so
workers × threads ≤ cores; each worker sets its own count with
``peronamalik.set_num_threads``).  The pass plan (``peronamalik.dask.pass_plan``: the chunks the
passes run on, steps per pass) is printed for each.

``--halo-table``: the threaded scheduler on slabs and cubes of several sizes at fixed pass
lengths: measured time over the in-memory time, and the modelled halo factor (voxel-steps
computed per useful voxel-step).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import dask
import dask.array as da
import numpy as np

import peronamalik
import peronamalik.dask as pmdask
from peronamalik.core.threads import torch_threads, usable_cores


def _threads(count: int) -> int:
    """Run in each worker: its own kernel thread count."""
    peronamalik.set_num_threads(count)
    return peronamalik.get_num_threads()


def _warm() -> None:
    """Run in each worker: load the kernel before the clock starts."""
    peronamalik.diffuse(np.zeros((16, 16, 16), np.float32), iterations=1, device="cpu")


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def interleaved(repeat: int, baseline, run) -> tuple[float, float, object]:
    """``repeat`` times the baseline then the run; the fastest of each (the least disturbed
    by other jobs on a shared machine) and the run's last value."""
    t_base, t_run, value = math.inf, math.inf, None
    for _ in range(repeat):
        value = None  # released (a cluster forgets the keys) before the same graph runs again
        t_base = min(t_base, baseline())
        t, value = timed(run)
        t_run = min(t_run, t)
    return t_base, t_run, value


def held(lazy: da.Array) -> da.Array:
    """``lazy`` computed on the cluster, every block held in the workers' memory."""
    import distributed

    result = lazy.persist()
    distributed.wait(result)
    return result


def halo_factor(shape: tuple[int, ...], chunks: tuple[tuple[int, ...], ...], steps: int) -> float:
    """Voxel-steps computed per useful voxel-step in a pass of ``steps`` (reach 1): each inner
    chunk border recomputed over ``steps`` voxels on both sides (pass_time's model)."""
    return math.prod(1 + 2 * steps * (len(c) - 1) / n for n, c in zip(shape, chunks))


def plan_name(shape: tuple[int, ...], chunks: tuple[tuple[int, ...], ...], iterations: int, workers: int) -> str:
    layout, steps = pmdask.pass_plan(shape, chunks, {i: 1 for i in range(len(shape))}, iterations, None, workers)
    blocks = "×".join(str(len(c)) for c in layout)
    return f"{blocks} blocks, {steps} steps/pass, {math.ceil(iterations / steps)} passes"


def scaling(args: argparse.Namespace, folder: str) -> None:
    import distributed

    cores = usable_cores()
    shape = (args.size,) * 3
    voxel_steps = math.prod(shape) * args.iterations
    options = dict(iterations=args.iterations, kappa=0.1)
    volume = np.random.default_rng(0).random(shape, dtype=np.float32)
    _warm()
    expected = peronamalik.diffuse(volume, device="cpu", **options)

    def in_memory() -> float:
        """The baseline on every core, timed right before each dask run (the machine's load
        drifts); also inside the threaded rows' one-thread setting."""
        with torch_threads(cores):
            return timed(lambda: peronamalik.diffuse(volume, device="cpu", **options))[0]

    rows = []
    load = os.getloadavg()[0]
    for spec in args.chunks:
        chunk = spec[0] if len(spec) == 1 else spec
        label = f"{spec[0]}³" if len(spec) == 1 else "×".join(map(str, spec))
        store = os.path.join(folder, f"volume-{label}.zarr")
        with dask.config.set(scheduler="threads"):
            da.from_array(volume, chunks=chunk).to_zarr(store)
        chunks = da.from_zarr(store).chunks
        with torch_threads(1), dask.config.set(scheduler="threads"):
            plan = plan_name(shape, chunks, args.iterations, cores)
            t_mem, t, result = interleaved(args.repeat, in_memory,
                                           lambda: dask.persist(pmdask.diffuse(da.from_array(volume, chunks=chunk), **options))[0])  # fmt: skip
            error = float(np.abs(np.asarray(result) - expected).max())
        rows.append((f"dask threaded, chunks {label}", f"{cores} tasks × 1 thread", plan, t_mem, t, error))
        del result
        for workers in (1, 2):
            with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0",
                                          silence_logs=50) as cluster, distributed.Client(cluster) as client:  # fmt: skip
                threads = max(1, cores // workers)
                client.run(_threads, threads)
                client.run(_warm)
                source = da.from_zarr(store).persist()
                distributed.wait(source)
                lazy = pmdask.diffuse(source, **options)
                plan = plan_name(shape, chunks, args.iterations, workers)
                t_mem, t, result = interleaved(args.repeat, in_memory, lambda: held(lazy))
                error = float(np.abs(result.compute() - expected).max())
                rows.append((f"LocalCluster, chunks {label}", f"{workers} × {threads} threads", plan, t_mem, t, error))
                del source, lazy, result
    print(f"{args.size}³ float32, {args.iterations} iterations, kappa 0.1, {cores} cores, "
          f"load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end\n")  # fmt: skip
    print(f"fastest of {args.repeat} interleaved runs each\n")
    print("| run | workers × kernel threads | pass plan | in-memory s (just before) | dask s | "
          "Mvoxel-steps/s per worker | max abs diff | × in-memory |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, workers, plan, t_mem, t, error in rows:
        count = int(workers.split()[0]) if name.startswith("LocalCluster") else 1
        print(f"| {name} | {workers} | {plan} | {t_mem:.2f} | {t:.2f} | {voxel_steps / t / count / 1e6:.0f} | "
              f"{error:.1e} | {t / t_mem:.2f} |")  # fmt: skip


def halo_table(args: argparse.Namespace) -> None:
    """Threaded scheduler, fixed pass lengths, slabs and cubes: measured and modelled overhead."""
    cores = usable_cores()
    n = args.size
    volume = np.random.default_rng(0).random((n,) * 3, dtype=np.float32)
    options = dict(iterations=args.iterations, kappa=0.1)
    _warm()
    t_mem, expected = timed(lambda: peronamalik.diffuse(volume, device="cpu", **options))
    print(f"{n}³ float32, {args.iterations} iterations, in-memory fused {t_mem:.2f} s on {cores} threads; "
          f"dask threaded, {cores} tasks × 1 kernel thread; load average {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    print("| chunks | blocks | steps/pass | passes | halo factor (model) | seconds | × in-memory | max abs diff |")
    print("|---|---|---|---|---|---|---|---|")
    layouts = {f"slabs of {n // k}": (n // k, n, n) for k in (2, 4, 8)} | {f"cubes of {n // k}": n // k for k in (2, 4)}
    with torch_threads(1), dask.config.set(scheduler="threads"):
        for name, chunk in layouts.items():
            source = da.from_array(volume, chunks=chunk)
            for steps in args.steps:
                lazy = pmdask.diffuse(source, steps_per_pass=steps, **options)
                t, result = timed(lambda: dask.persist(lazy)[0])
                error = float(np.abs(np.asarray(result) - expected).max())
                factor = halo_factor(volume.shape, source.chunks, steps)
                print(f"| {name} | {source.npartitions} | {steps} | {math.ceil(args.iterations / steps)} | "
                      f"{factor:.2f} | {t:.2f} | {t / t_mem:.2f} | {error:.0e} |")  # fmt: skip


def chunk_spec(text: str) -> tuple[int, ...]:
    """``256`` or ``256,512,512``."""
    return tuple(int(part) for part in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--chunks", type=chunk_spec, nargs="+", default=[(512,), (256, 512, 512), (256,)],
                        help="input chunks, one size or one per axis: 512 256,512,512 256")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=2, help="interleaved runs per row; the fastest is reported")
    parser.add_argument("--halo-table", action="store_true")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 5, 10, 20])
    args = parser.parse_args()
    if args.halo_table:
        halo_table(args)
        return
    with tempfile.TemporaryDirectory(prefix="dask-scaling-") as folder:
        scaling(args, folder)


if __name__ == "__main__":
    main()
