"""Do the presets give the same look at 320×240 and 2048×1536?  (Too slow for CI.)

Prints, per preset, the mean intensity of the frames at both sizes and the largest relative
difference of the two trajectories (the CI test checks 160 vs 320 px within 10 %).

``--perturb N`` also runs the preset N times at 320 px with K started a hair off the
Laplacian (``kernel_noise`` 1e-3, seeds 0..N-1) and prints the largest relative spread
(standard deviation / mean over the runs, per frame): a chaotic preset's trajectory moves
that much from a perturbation alone, so a size difference below it is chaos, not a
resolution dependence.

    python benchmarks/resolution_invariance.py [--iterations 600] [--presets glow,ink] [--perturb 8]
"""

import argparse

import numpy as np
from PIL import Image

from peronamalik.art import PRESETS, animate
from peronamalik.art.source import sample_array


def trajectory(photo: np.ndarray, preset: str, args: argparse.Namespace, size: int, **overrides) -> np.ndarray:
    """The mean intensity of each frame of ``preset`` on ``photo`` at ``size``."""
    frames = animate(photo, preset=preset, iterations=args.iterations, every=args.every, size=size, **{"seed": 0, **overrides})
    return np.array([frame.mean() for frame in frames])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--every", type=int, default=75)
    parser.add_argument("--presets", default=",".join(p for p in PRESETS if p != "video"))
    parser.add_argument("--perturb", type=int, default=0, metavar="N", help="runs with K perturbed by 1e-3 at 320 px")
    args = parser.parse_args()
    photo = np.asarray(Image.fromarray(sample_array()).resize((2048, 1536), Image.LANCZOS))
    for preset in args.presets.split(","):
        small, large = (trajectory(photo, preset, args, size) for size in (320, 2048))
        worst = float(np.max(np.abs(small - large) / large))
        line = f"{preset:8s} max relative difference {worst:6.1%}  320: {np.round(small).astype(int)}  2048: {np.round(large).astype(int)}"
        if args.perturb:
            runs = np.array([trajectory(photo, preset, args, 320, kernel_noise=1e-3, seed=s) for s in range(args.perturb)])
            line += f"  spread of {args.perturb} perturbed runs {float(np.max(runs.std(axis=0) / runs.mean(axis=0))):.1%}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
