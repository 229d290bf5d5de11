"""Learned ("on drugs") step: the naive eager torch step against the fused C step.

Both run ``LearnedDiffusion.step`` of the "seed" preset (forward, loss, backward to K, SGD)
on the same random RGB image in one process: the naive eager rendition with
``backend("reference")`` (torch ops + autograd + torch.optim), the fused one with
``backend("native")``.  Prints it/s (best of ``--repeat`` timed runs,
after a warm-up) and the ratio, and the kernel's compile and load times.

    python benchmarks/learned_step.py [--threads N] [--repeat 5] [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from peronamalik.art import LearnedDiffusion, preset_config
from peronamalik.backends.native import build as native
from peronamalik.backends.native import learned as fused_step
from peronamalik.bench.registry import fused_mode

SIZES = ((240, 320), (512, 512), (1024, 1024))


def rate(image: torch.Tensor, mode: str, seconds: float, repeat: int) -> float:
    """Steps per second of one engine, best of ``repeat`` runs of about ``seconds`` each."""
    with fused_mode(mode):
        engine = LearnedDiffusion(image, preset_config("seed"), torch.Generator().manual_seed(0))
        start = time.perf_counter()
        warm = 0
        while warm < 3 or time.perf_counter() - start < min(seconds, 0.5):
            engine.step()
            warm += 1
        per_step = (time.perf_counter() - start) / warm
        steps = max(3, int(seconds / per_step))
        best = 0.0
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(steps):
                engine.step()
            best = max(best, steps / (time.perf_counter() - start))
        if mode != "0":
            assert engine._fused, "the fused path did not run"
    return best


def compile_seconds() -> float:
    """A fresh build of the kernel into a scratch folder (the first-use cost on a new machine)."""
    with tempfile.TemporaryDirectory(prefix="pm-bench-build-") as scratch:
        flags = native.flag_sets()[0]
        start = time.perf_counter()
        native.compile_library(fused_step.KERNEL.source, native.compiler(), flags, Path(scratch) / "learned.so")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one timed run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {args.threads} thread(s)")
    if native.compiler() is None:
        print("no C compiler: the fused step cannot be built")
        return
    print(f"compile (fresh, gcc -O3 -march=native -fopenmp): {compile_seconds():.2f} s")
    start = time.perf_counter()
    if fused_step.load() is None:
        print("the fused step did not build:", native.build_info.get(fused_step.KERNEL.source))
        return
    info = native.build_info[fused_step.KERNEL.source]
    print(f"load ({'compiled now' if info.compiled else 'from the disk cache'}): "
          f"{(time.perf_counter() - start) * 1e3:.1f} ms")

    print(f"\n{'seed preset, RGB':>18} {'naive eager it/s':>17} {'fused it/s':>11} {'ratio':>7}")
    generator = torch.Generator().manual_seed(0)
    for height, width in SIZES:
        image = torch.rand(1, 3, height, width, generator=generator)
        eager = rate(image, "0", args.seconds, args.repeat)
        fused = rate(image, "1", args.seconds, args.repeat)
        print(f"{f'{width}×{height}':>18} {eager:17.1f} {fused:11.1f} {fused / eager:6.1f}×")


if __name__ == "__main__":
    main()
