"""Do the presets give the same look at 320×240 and 2048×1536?  (Too slow for CI.)

Prints, per preset, the mean intensity of the frames at both sizes and the largest relative
difference of the two trajectories (the CI test checks 160 vs 320 px within 10 %).

    python benchmarks/resolution_invariance.py [--iterations 600] [--presets glow,ink]
"""

import argparse

import numpy as np
from PIL import Image

from peronamalik.art import PRESETS, animate
from peronamalik.art.source import sample_array


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--every", type=int, default=75)
    parser.add_argument("--presets", default=",".join(p for p in PRESETS if p != "video"))
    args = parser.parse_args()
    photo = np.asarray(Image.fromarray(sample_array()).resize((2048, 1536), Image.LANCZOS))
    for preset in args.presets.split(","):
        trajectories = []
        for size in (320, 2048):
            frames = animate(photo, preset=preset, iterations=args.iterations, every=args.every, seed=0, size=size)
            trajectories.append(np.array([frame.mean() for frame in frames]))
        small, large = trajectories
        worst = float(np.max(np.abs(small - large) / large))
        print(f"{preset:6s} max relative difference {worst:6.1%}  320: {np.round(small).astype(int)}  2048: {np.round(large).astype(int)}")


if __name__ == "__main__":
    main()
