"""Regenerate the README's pictures: ``python docs/make_figures.py`` (a few minutes of CPU).

* ``classic.jpg``: a noisy photo before/after coupled colour diffusion;
* ``preset-NAME.webp``: each photo preset animated on the bundled sample (240 px, lossy
  WebP, under 300 KB);
* ``strip-PHOTO.jpg``: one frame of every preset on two more photos (scikit-image's coffee
  and astronaut), the source first, then the looks, then the 2017 reproductions.
"""

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from peronamalik import diffuse
from peronamalik.art import PHOTO_PRESETS, animate, preset_config
from peronamalik.art.presets import LOOK_PRESETS
from peronamalik.io.images import side_by_side

HERE = Path(__file__).parent
SIZE = 240
#: The looks first, then the 2017 reproductions (the README's two groups).
ORDER = LOOK_PRESETS + tuple(name for name in PHOTO_PRESETS if name not in LOOK_PRESETS)
#: WebP quality of the gallery (lower: smaller files; sparkles are costly to encode).
QUALITY = 60
MAX_BYTES = 300_000


def classic() -> None:
    """Before/after: a noisy photo, coupled colour diffusion with kappa from the data."""
    photo = data.astronaut()[:256, 128:384].astype(np.float32) / 255
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 0.08, photo.shape), 0, 1).astype(np.float32)
    smooth = diffuse(noisy, iterations=30, kappa=0.05, channel_axis=-1, coupled=True, sigma=1.0)
    pair = side_by_side(noisy, smooth, channel_axis=-1)
    Image.fromarray((np.clip(pair, 0, 1) * 255 + 0.5).astype(np.uint8)).save(HERE / "classic.jpg", quality=90)


def frames_of(name: str, photo: np.ndarray | None) -> list[np.ndarray]:
    """The preset's frames at the gallery size, its own iterations and frame rate (seed 0)."""
    return list(animate(photo, preset=name, seed=0, device="cpu", size=SIZE))


def gallery(name: str) -> None:
    """``preset-NAME.webp``: the preset on the bundled sample, lowering the quality until it fits."""
    frames = [Image.fromarray(frame) for frame in frames_of(name, None)]
    duration = round(1000 / preset_config(name).fps)
    target = HERE / f"preset-{name}.webp"
    for quality in range(QUALITY, 5, -10):
        frames[0].save(target, save_all=True, append_images=frames[1:], duration=duration, loop=0, quality=quality, method=6)
        if target.stat().st_size <= MAX_BYTES:
            return
    raise RuntimeError(f"{target} stays above {MAX_BYTES} bytes")


def strip(photo_name: str, frame_at: float = 0.55) -> None:
    """``strip-PHOTO.jpg``: the source, then each preset's frame at ``frame_at`` of its run."""
    photo = getattr(data, photo_name)()
    tiles = []
    for name in ORDER:
        frames = frames_of(name, photo)
        tiles.append(frames[int(frame_at * (len(frames) - 1))])
    source = np.asarray(Image.fromarray(photo).resize(tiles[0].shape[1::-1], Image.BICUBIC))
    Image.fromarray(np.concatenate([source, *tiles], axis=1)).save(HERE / f"strip-{photo_name}.jpg", quality=88)


if __name__ == "__main__":
    classic()
    for preset in PHOTO_PRESETS:
        gallery(preset)
    for photo_name in ("coffee", "astronaut"):
        strip(photo_name)
