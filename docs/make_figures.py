"""Regenerate the README's pictures: ``python docs/make_figures.py`` (about a minute)."""

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from peronamalik import diffuse
from peronamalik.art import PRESETS, animate
from peronamalik.io.images import side_by_side

HERE = Path(__file__).parent


def classic() -> None:
    """Before/after: a noisy photo, coupled colour diffusion with kappa from the data."""
    photo = data.astronaut()[:256, 128:384].astype(np.float32) / 255
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 0.08, photo.shape), 0, 1).astype(np.float32)
    smooth = diffuse(noisy, iterations=30, kappa=0.05, channel_axis=-1, coupled=True, sigma=1.0)
    pair = side_by_side(noisy, smooth, channel_axis=-1)
    Image.fromarray((np.clip(pair, 0, 1) * 255 + 0.5).astype(np.uint8)).save(HERE / "classic.jpg", quality=90)


def presets(frames_shown: int = 6) -> None:
    """A strip of frames of each preset, from the bundled sample at 160 px."""
    for name in PRESETS:
        if name == "video":
            continue
        frames = list(animate(None, preset=name, seed=0, device="cpu", size=160, iterations=1800))
        pick = frames[:: max(1, len(frames) // frames_shown)][:frames_shown]
        Image.fromarray(np.concatenate(pick, axis=1)).save(HERE / f"preset-{name}.jpg", quality=88)


if __name__ == "__main__":
    classic()
    presets()
