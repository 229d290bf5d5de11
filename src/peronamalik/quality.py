"""``peronamalik bench --quality`` (needs the ``[bench]`` extra, for scikit-image): denoising quality of Perona-Malik with ``'auto'`` parameters
against the best grid parameters and scikit-image's denoisers, on noisy photos.

Inputs: central crops of scikit-image's sample photos (grey and colour), or of the user's own
photos (``--image``, :func:`user_photo`), with white Gaussian noise of standard deviation
``s`` for each level in :data:`NOISE_LEVELS` (fixed seed, not clipped).  Methods, each
scored by PSNR and SSIM against the clean crop and timed (one run with its parameters,
after a warm-up):

- ``PM auto``: ``diffuse(kappa='auto', iterations='auto', sigma='auto')``, coupled on colour;
  the time includes the search.
- ``PM oracle``: the same diffusion with the (kappa, iterations, sigma) of least true error on
  a grid (:data:`ORACLE_KAPPA_FACTORS` × stopping times × sigma 0 or 1): the best this
  diffusivity can do; its time is one run with those parameters.
- ``TV Chambolle``, ``bilateral``: scikit-image, the weight of least true error on a small
  grid (also an oracle).
- ``NL means``: scikit-image's documented recipe, ``h = 0.8 σ̂``, 5×5 patches, search
  distance 6, fast mode, with ``σ̂`` from :func:`peronamalik.core.noise_level.estimate_noise` (the
  recipe's ``estimate_sigma`` needs PyWavelets).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from peronamalik._extras import require
from peronamalik._validate import InputError
from peronamalik.core import auto, noise_level
from peronamalik.core.arrays import unit_scale
from peronamalik.core.diffuse import diffuse, run_diffusion
from peronamalik.core.threads import torch_threads

NOISE_LEVELS = (0.02, 0.05, 0.1)
PHOTOS = ("camera", "astronaut", "coffee", "brick")
#: Grid of the oracle: kappa as multiples of the true noise's gradient scale.
ORACLE_KAPPA_FACTORS = (0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 11.0)
ORACLE_SIGMAS = (0.0, 1.0)
TV_WEIGHTS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)  # × s
BILATERAL_COLOURS = (0.5, 1.0, 2.0, 4.0)  # × s
#: Side of the central crop of a user's photo (``--image``): that of the crop the auto search
#: reads on a large image (:data:`peronamalik.core.auto.SEARCH_PIXELS`).
IMAGE_CROP = 256
#: The smallest side of a user's photo: the noise estimate reads it one octave down too.
IMAGE_MIN_SIDE = 32


@dataclass
class Score:
    psnr: float
    ssim: float
    seconds: float


def photo(name: str, size: int) -> np.ndarray:
    """Central ``size``² crop of a scikit-image sample photo, float64 in [0, 1]."""
    data = require("skimage.data", "bench")
    return central_crop(getattr(data, name)().astype(np.float64) / 255.0, size)


def central_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size``² window of an ``H×W`` or ``H×W×C`` image (a shorter side whole)."""
    top, left = max(image.shape[0] - size, 0) // 2, max(image.shape[1] - size, 0) // 2
    return np.ascontiguousarray(image[top : top + size, left : left + size])


def user_photo(path: str | os.PathLike[str], size: int = IMAGE_CROP) -> np.ndarray:
    """Central ``size``² crop (the whole of a smaller side) of a 2-D grey or colour image file,
    float64 in [0, 1]: uint8 and uint16 as fractions of their range, other dtypes min-max
    scaled (the noise levels are fractions of the range); an ``H×W×3`` ``.npy`` is colour.

    Raises
    ------
    ValueError
        The file is missing or not an image (:func:`peronamalik.io.images.read_image`), not
        2-D, has NaN or infinite samples, or a side under :data:`IMAGE_MIN_SIDE`.
    """
    from peronamalik.io.images import read_image

    loaded = read_image(path)
    image = loaded.array
    if not (image.ndim == 2 or (image.ndim == 3 and (loaded.channel_axis is not None or image.shape[-1] == 3))):
        raise InputError(f"--image {path}: bench --quality takes a 2-D grey or colour image, got shape {image.shape}")
    if min(image.shape[:2]) < IMAGE_MIN_SIDE:
        raise InputError(f"--image {path}: sides of at least {IMAGE_MIN_SIDE} pixels needed, got {image.shape[:2]}")
    scale = unit_scale(image.dtype)
    image = image.astype(np.float64)
    if not np.isfinite(image).all():
        raise InputError(f"--image {path} has NaN or infinite samples")
    if scale is None:
        low, high = image.min(), image.max()
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    else:
        image = image / scale
    return central_crop(image, size)


def score(clean: np.ndarray, result: np.ndarray, seconds: float) -> Score:
    metrics = require("skimage.metrics", "bench")
    axis = -1 if clean.ndim == 3 else None
    result = np.asarray(result, dtype=np.float64)
    return Score(
        metrics.peak_signal_noise_ratio(clean, result, data_range=1.0),
        metrics.structural_similarity(clean, result, data_range=1.0, channel_axis=axis),
        seconds,
    )


def timed(call: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    call()  # warm-up: kernel build and caches out of the timing
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def as_tensor(image: np.ndarray, colour: bool) -> torch.Tensor:
    """``(1, C, *spatial)`` float32 tensor of an N-D grey image or a colour one (channels last)."""
    tensor = torch.from_numpy(image.astype(np.float32))
    return (tensor.movedim(-1, 0) if colour else tensor[None])[None].contiguous()


def oracle_pm(
    clean: np.ndarray,
    noisy: np.ndarray,
    s: float,
    *,
    colour: bool,
    sigmas: tuple[float, ...] = ORACLE_SIGMAS,
    spacing: tuple[float, ...] | None = None,
    coupled: bool | None = None,
) -> dict:
    """The (kappa, iterations, sigma) of least true MSE on the grid, for ``diffuse`` (with
    ``spacing``, unit by default; ``coupled``, by default on colour): kappa =
    :data:`ORACLE_KAPPA_FACTORS` × the noise's gradient scale, every stopping time of
    :func:`peronamalik.core.auto.checkpoints` until the error has risen 30 %."""
    y, x = as_tensor(noisy, colour), as_tensor(clean, colour)
    coupled = colour if coupled is None else coupled
    spacing, channels = spacing or (1.0,) * (y.ndim - 2), y.shape[1] if coupled else 1
    best = (math.inf, {})
    with torch_threads(1):  # many short diffusions of a crop, as auto's search (see auto.choose)
        for sigma in sigmas:
            for factor in ORACLE_KAPPA_FACTORS:
                kappa = factor * auto.noise_gradient_scale(s, spacing, channels, sigma)
                u, done, lowest = y, 0, math.inf
                for t in auto.checkpoints(auto.MAX_ITERATIONS):
                    u = run_diffusion(u, iterations=t - done, kappa=kappa, sigma=sigma, coupled=coupled, spacing=spacing)
                    done, mse = t, float((u - x).square().mean())
                    if mse < best[0]:
                        best = (mse, dict(kappa=kappa, iterations=t, sigma=sigma))
                    lowest = min(lowest, mse)
                    if mse > 1.3 * lowest:
                        break
    return best[1]


def best_of(clean: np.ndarray, candidates: list[Callable[[], np.ndarray]]) -> Score:
    """Score of the candidate with the least true MSE (timed again, alone)."""
    errors = [float(np.mean((np.asarray(c(), dtype=np.float64) - clean) ** 2)) for c in candidates]
    result, seconds = timed(candidates[int(np.argmin(errors))])
    return score(clean, result, seconds)


def evaluate(clean: np.ndarray, noisy: np.ndarray, s: float) -> dict[str, Score]:
    restoration = require("skimage.restoration", "bench")
    colour = clean.ndim == 3
    axis = -1 if colour else None
    pm = dict(channel_axis=axis, coupled=colour)
    scores = {}
    result, seconds = timed(lambda: diffuse(noisy, kappa="auto", iterations="auto", sigma="auto", **pm))
    scores["PM auto"] = score(clean, result, seconds)
    chosen = oracle_pm(clean, noisy, s, colour=colour)
    result, seconds = timed(lambda: diffuse(noisy, **chosen, **pm))
    scores["PM oracle"] = score(clean, result, seconds)
    scores["TV Chambolle"] = best_of(
        clean, [lambda w=w: restoration.denoise_tv_chambolle(noisy, weight=w * s, channel_axis=axis) for w in TV_WEIGHTS]
    )
    scores["bilateral"] = best_of(
        clean,
        [
            lambda c=c: restoration.denoise_bilateral(np.clip(noisy, 0, 1), sigma_color=c * s, sigma_spatial=1.5, channel_axis=axis)
            for c in BILATERAL_COLOURS
        ],
    )
    sigma_hat = noise_level.estimate_noise(as_tensor(noisy, colour), 2)
    result, seconds = timed(
        lambda: restoration.denoise_nl_means(
            noisy, h=0.8 * sigma_hat, sigma=sigma_hat, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=axis
        )
    )
    scores["NL means"] = score(clean, result, seconds)
    return scores


def main(
    *, size: int = 128, quick: bool = False, images: Sequence[str | os.PathLike[str]] = (), echo: Callable[[str], None] = print
) -> dict:
    """Print one table per noise level (means over the photos), then auto's shortfall from
    the oracle on each photo; return the raw scores.  ``images``: the user's photo files
    (central :data:`IMAGE_CROP`² crops, :func:`user_photo`) instead of :data:`PHOTOS`."""
    levels = NOISE_LEVELS[1:2] if quick else NOISE_LEVELS
    if images:
        names = [Path(path).name for path in images]
        names = names if len(set(names)) == len(names) else [str(path) for path in images]
        photos = {name: user_photo(path) for name, path in zip(names, images)}
        where = f"central crops of up to {IMAGE_CROP}²"
    else:
        size = 64 if quick else size
        photos = {name: photo(name, size) for name in (PHOTOS[:2] if quick else PHOTOS)}
        where = f"{size}² crops"
    report: dict = {}
    for s in levels:
        rows: dict[str, list[Score]] = {}
        for index, clean in enumerate(photos.values()):
            noisy = clean + np.random.default_rng(index).normal(0.0, s, clean.shape)
            for method, result in evaluate(clean, noisy, s).items():
                rows.setdefault(method, []).append(result)
        report[s] = rows
        echo(f"\nGaussian noise s = {s} ({', '.join(photos)}; {where}; means)")
        echo(f"{'method':<14} {'PSNR dB':>8} {'SSIM':>6} {'seconds':>8}")
        for method, results in rows.items():
            echo(
                f"{method:<14} {np.mean([r.psnr for r in results]):8.2f} "
                f"{np.mean([r.ssim for r in results]):6.3f} {np.mean([r.seconds for r in results]):8.3f}"
            )
        gaps = (o.psnr - a.psnr for a, o in zip(rows["PM auto"], rows["PM oracle"]))
        echo("PM auto below the oracle: " + ", ".join(f"{name} {gap:.2f} dB" for name, gap in zip(photos, gaps)))
    return report
