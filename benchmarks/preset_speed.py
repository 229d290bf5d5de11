"""Per-iteration speed of each art preset against ``glow`` (issue 13: none > 1.5x slower).

One engine per preset on the same random RGB image, ``LearnedDiffusion.step`` timed with
the package's default path choice (``PERONAMALIK_FUSED=auto``, the kernel compiled if
needed); the presets are timed in turns, ``--rounds`` times, and each keeps its best round.
On one thread (default) the process's CPU time is measured, which other processes on a
shared machine disturb little; with more threads, wall time.  Prints ms per iteration, the
ratio to glow and whether the step ran on the fused path.

    python benchmarks/preset_speed.py [--size 240 320] [--rounds 5] [--steps 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

import peronamalik
from peronamalik.art import LearnedDiffusion, preset_config
from peronamalik.backends.native import learned as fused_step
from peronamalik.art.engine import luminance
from peronamalik.art.presets import PRESETS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    peronamalik.set_num_threads(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    fused_step.load()
    image = torch.rand(1, 3, *args.size, generator=torch.Generator().manual_seed(0))
    engines = {}
    for name in PRESETS:
        config = preset_config(name).replace(iterations=100_000)  # a long job: auto takes the kernel
        start = luminance(image) if config.channels == "luminance" else image  # as animate runs it
        engines[name] = LearnedDiffusion(start, config, torch.Generator().manual_seed(0))
        engines[name].step()  # warm-up: the path is decided here
    best = dict.fromkeys(engines, float("inf"))
    for _ in range(args.rounds):
        for name, engine in engines.items():
            start = clock()
            for _ in range(args.steps):
                engine.step()
            best[name] = min(best[name], (clock() - start) / args.steps)
    what = "CPU" if clock is time.process_time else "wall"
    print(f"{args.size[0]}x{args.size[1]} RGB, {args.threads} thread(s), {what} time, best of {args.rounds} x {args.steps} steps")
    print("| preset | conductance | ms / iteration | × glow | fused |")
    print("| --- | --- | ---: | ---: | --- |")
    for name, engine in engines.items():
        fused = bool(getattr(engine, "_fused", False))
        print(f"| {name} | {engine.config.diffusivity} | {1e3 * best[name]:.2f} | {best[name] / best['glow']:.2f} | "
              f"{'yes' if fused else 'no: ' + (fused_step.covers(engine) or 'switched off')} |")


if __name__ == "__main__":
    main()
