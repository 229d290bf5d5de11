"""Sweep: ``'auto'`` Perona-Malik parameters against the best grid parameters (the oracle).

Issue 9's target: on noisy photos (grey and colour; Gaussian and Poisson-like noise of level
0.02, 0.05, 0.1) auto comes within 0.5 dB PSNR (median) of the best (kappa, iterations) on a
grid for the same diffusivity, and never more than 1.5 dB below it.

Cases: 128² crops of scikit-image photos at two positions (centre, and a quarter in from the
top-left corner), colour photos also as grey; Gaussian noise of standard deviation ``s``, or
Poisson counts scaled so the standard deviation is ``s`` at intensity 0.5.  The photos are
split into a TUNE set (looked at while choosing the method) and a HOLDOUT set (run once, at the
end); FLAT, nearly flat synthetic pictures whose best stopping time is late (binary_blobs with
a fixed seed), is a second tune set; BUSY, whole binary pictures with an edge through most
blocks of the noise estimate, a third; EXTRA, two photos used nowhere else, a check (the
left image of a stereo pair); UNSEEN, pictures and crops never run before the method was
chosen (the seed's star.jpg and kitty.gif, one crop each three quarters in), a second check;
VOLUMES, 64³ volumes (one with anisotropic spacing, which the oracle uses too), the 3-D check;
SIGNALS, three 1-D signals, the 1-D check; TEST_SIGNALS, Donoho and Johnstone's four test
signals and a binary one, a second 1-D check; RANDOM, ten colour photos cropped at two seeded
random places each (black borders and backgrounds included), a check of the colour and
Poisson noise readings; SPOTS, fluorescence-like blurred points at three densities; WHOLE,
eighteen photos whole, as a user passes them (the noise estimate reads their central crop);
SAMPLE, matplotlib's two sample pictures whole (a portrait photo and clip art), never run
before the method was chosen; VARIANTS, that portrait saved as JPEG of quality 50, upsampled
2x, downsampled 2x and darkened to a quarter (what users' photos go through); MOTION,
scikit-image's clock_motion.png, never run before 2026-12-03, at every place above and whole.
``--only REGEX`` runs the cases whose key matches; ``--per-channel`` diffuses colour photos per
channel (``coupled=False``) instead of coupled; ``--spacing 1,2`` gives the 2-D pictures that
spacing (the oracle uses it too); ``--clip`` clips the noisy pictures to [0, 1], as
``skimage.util.random_noise`` and any file of a fixed range do (the oracle sees the same).
Sigma is 0 for both (the CLI's default); the oracle is
:func:`peronamalik.quality.oracle_pm` with the true ``s``.  Oracle results are cached in
``--cache`` (they do not depend on the auto method).

Run (one thread; a few minutes per set on a loaded 2-core machine)::

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/auto_quality.py --set tune
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
from itertools import chain
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from skimage import color, data

from peronamalik import diffuse, estimate_parameters, quality
from peronamalik.core import auto
from shared_files import MATPLOTLIB_SAMPLES, SHARED, matplotlib_sample

TUNE = ("camera", "astronaut", "coins", "page", "brick", "grass", "coffee", "moon")
HOLDOUT = ("chelsea", "gravel", "text", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "cell", "clock", "horse")
#: Nearly flat synthetic pictures (their best stopping time is late): a second tune set.
FLAT = ("shepp_logan_phantom", "binary_blobs", "checkerboard", "colorwheel", "logo")
#: Busy binary pictures (an edge through most noise blocks): whole ``binary_blobs`` images of
#: side 64, 96 and 128, six seeds each (added after the octave check misread them).
BUSY = tuple(f"binary_blobs_{length}_{seed}" for length in (64, 96, 128) for seed in range(6))
#: Two photos used nowhere else (added with the slope test and the per-sample variance, run
#: before and after them only): a check, not to tune on.
EXTRA = ("stereo_motorcycle", "microaneurysms")
#: Pictures and crops the method was never run on (added after it was chosen, run once): the
#: seed's star.jpg and kitty.gif's first frame, stereo_motorcycle's right image, and four tune
#: or held-out photos cropped three quarters in (position "t") instead of at the centre and a
#: quarter in.
UNSEEN = ("star", "kitty", "stereo_motorcycle_right", "astronaut", "coffee", "chelsea", "camera")
#: 3-D volumes (64³, the stack's slices 64²): 3-D binary blobs; soft-edged blobs between 0.2
#: and 0.8; a stack of camera crops shifted by one pixel per slice (smooth along the slices);
#: that stack's every other slice with spacing (2, 1, 1) (anisotropic sampling).
VOLUMES = ("blobs3d", "cells3d", "stack3d", "stack3d_z2")
#: 1-D signals of 4096 samples: 32 constant steps, a smooth product of sines, and a row of
#: camera resampled to 4096 (the 1-D check).
SIGNALS = ("steps1d", "smooth1d", "camera_row1d")
#: Donoho & Johnstone's (1994) test signals Blocks, Bumps, HeaviSine and Doppler, and a binary
#: signal (0 and 1 in runs of random length), 4096 samples scaled to [0.1, 0.9] (the binary
#: one [0, 1]): a second 1-D check (added 2026-12-01 with the patient search in 1-D).
TEST_SIGNALS = ("blocks", "bumps", "heavisine", "doppler", "binary1d")
#: Colour photos cropped at two seeded random places each (added after the colour noise
#: reading, to check it and the per-block Poisson reading on crops chosen by no one): the
#: retina's and hubble_deep_field's crops include their black borders and backgrounds.
RANDOM = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina", "hubble_deep_field",
          "stereo_motorcycle", "kitty", "star")
RANDOM_SEED = 2026
#: Fluorescence-like pictures (added with the texture correction's tail bound, after dense
#: spots read the noise 0.52-0.82x): random points at density 0.002, 0.01 and 0.03 with
#: values 0.5-1, blurred by a Gaussian of 1.2 px, x8, clipped and scaled to 0.05-0.85; 128²
#: and, at 0.03, 256².
SPOTS = ("spots_0.002_128", "spots_0.01_128", "spots_0.03_128", "spots_0.03_256")
#: Photos whole, uncropped (added 2026-12-01, after every method change: what a user passes
#: to ``smooth``; the tune, held-out and unseen photos with a natural scene).
WHOLE = ("camera", "astronaut", "coins", "page", "brick", "grass", "coffee", "moon", "chelsea", "gravel", "text",
         "rocket", "clock", "immunohistochemistry", "hubble_deep_field", "stereo_motorcycle", "star", "kitty")
#: matplotlib's sample pictures (run once, 2026-12-01, after the last method change): a
#: portrait photo and a piece of clip art, from outside scikit-image and the seed.
SAMPLE = tuple(MATPLOTLIB_SAMPLES)
#: grace_hopper.jpg as a user's photo may come (run once, 2026-12-01, with SAMPLE).
VARIANTS = ("grace_hopper_jpeg50", "grace_hopper_up2", "grace_hopper_down2", "grace_hopper_dark")
#: scikit-image's bundled clock_motion.png, the held-out clock's scene blurred by motion (run
#: once, 2026-12-03, with no method change): grey, at the centre, a quarter in, three quarters
#: in and whole.
MOTION = ("clock_motion",)
VOLUME_SPACING = {"stack3d_z2": (2.0, 1.0, 1.0)}
LEVELS = (0.02, 0.05, 0.1)
SIZE = 128


def picture(name: str) -> np.ndarray:
    """A named picture: scikit-image's (a stereo pair's left image, or its right one with
    ``_right``; binary_blobs with a fixed seed), the seed's star.jpg or kitty.gif, or one of
    matplotlib's :data:`SAMPLE`."""
    if name in ("star", "kitty"):
        return np.asarray(Image.open(SHARED / "seed" / f"{name}.{'jpg' if name == 'star' else 'gif'}").convert("RGB"))
    if name == "binary_blobs":
        return data.binary_blobs(rng=0)
    if name in SAMPLE:
        return matplotlib_sample(name)
    if name in MOTION:  # bundled with scikit-image but not in skimage.data
        return np.asarray(Image.open(Path(data.__file__).parent / f"{name}.png"))
    if name in VARIANTS:
        return variant(Image.fromarray(picture("grace_hopper")), name.rsplit("_", 1)[1])
    image = getattr(data, name.removesuffix("_right"))()
    return image[1 if name.endswith("_right") else 0] if isinstance(image, tuple) else image


def variant(photo: Image.Image, how: str) -> np.ndarray:
    """``photo`` (RGB) saved as JPEG of quality 50 (``jpeg50``), resized 2x up (bicubic,
    ``up2``) or down (Lanczos, ``down2``), or scaled to a quarter of its intensity (``dark``)."""
    width, height = photo.size
    if how == "jpeg50":
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=50)
        return np.asarray(Image.open(buffer).convert("RGB"))
    if how in ("up2", "down2"):
        size = (width * 2, height * 2) if how == "up2" else (width // 2, height // 2)
        return np.asarray(photo.resize(size, Image.BICUBIC if how == "up2" else Image.LANCZOS))
    return (np.asarray(photo, np.float64) * 0.25).astype(np.uint8)


def signal(name: str) -> np.ndarray:
    """One of :data:`SIGNALS` or :data:`TEST_SIGNALS`, float64 in [0, 1]."""
    n = 4096
    if name in TEST_SIGNALS:
        return test_signal(name, n)
    if name == "steps1d":
        return np.repeat(np.random.default_rng(0).uniform(0.1, 0.9, 32), n // 32)
    if name == "smooth1d":
        x = np.linspace(0, 8 * np.pi, n)
        return 0.5 + 0.3 * np.sin(x) * np.cos(0.37 * x)
    row = data.camera()[256].astype(np.float64) / 255.0
    return np.interp(np.linspace(0, row.size - 1, n), np.arange(row.size), row)


def test_signal(name: str, n: int) -> np.ndarray:
    """One of :data:`TEST_SIGNALS` at ``n`` samples (Donoho & Johnstone 1994, Table 1)."""
    t = (np.arange(n) + 0.5) / n
    if name == "binary1d":
        runs = np.random.default_rng(1).integers(16, 256, n // 16)
        return (np.repeat(np.arange(runs.size) % 2, runs)[:n]).astype(np.float64)
    places = np.array([0.1, 0.13, 0.15, 0.23, 0.25, 0.40, 0.44, 0.65, 0.76, 0.78, 0.81])
    if name == "blocks":
        heights = np.array([4, -5, 3, -4, 5, -4.2, 2.1, 4.3, -3.1, 2.1, -4.2])
        f = (heights * (1 + np.sign(t[:, None] - places)) / 2).sum(axis=1)
    elif name == "bumps":
        heights = np.array([4, 5, 3, 4, 5, 4.2, 2.1, 4.3, 3.1, 5.1, 4.2])
        widths = np.array([0.005, 0.005, 0.006, 0.01, 0.01, 0.03, 0.01, 0.01, 0.005, 0.008, 0.005])
        f = (heights * (1 + np.abs((t[:, None] - places) / widths)) ** -4).sum(axis=1)
    elif name == "heavisine":
        f = 4 * np.sin(4 * np.pi * t) - np.sign(t - 0.3) - np.sign(0.72 - t)
    else:
        f = np.sqrt(t * (1 - t)) * np.sin(2 * np.pi * 1.05 / (t + 0.05))
    return 0.1 + 0.8 * (f - f.min()) / (f.max() - f.min())


def spots(name: str) -> np.ndarray:
    """One of :data:`SPOTS` (``spots_DENSITY_SIDE``), float64 in [0.05, 0.85]."""
    density, side = float(name.split("_")[1]), int(name.split("_")[2])
    rng = np.random.default_rng(0)
    points = np.where(rng.random((side, side)) < density, rng.uniform(0.5, 1.0, (side, side)), 0.0)
    return 0.05 + 0.8 * np.clip(8 * ndimage.gaussian_filter(points, 1.2), 0.0, 1.0)


def volume(name: str) -> np.ndarray:
    """One of :data:`VOLUMES`, float64 in [0, 1]."""
    if name == "blobs3d":
        return data.binary_blobs(length=64, n_dim=3, blob_size_fraction=0.1, rng=0).astype(np.float64)
    if name == "cells3d":
        blobs = data.binary_blobs(length=64, n_dim=3, volume_fraction=0.3, rng=1).astype(np.float64)
        return 0.2 + 0.6 * ndimage.gaussian_filter(blobs, 1.0)
    camera = data.camera().astype(np.float64) / 255.0
    stack = np.stack([camera[200 + k : 264 + k, 200 + k : 264 + k] for k in range(64)])
    return np.ascontiguousarray(stack[::2] if name == "stack3d_z2" else stack)


def crops(
    name: str, unseen: bool = False, rng: np.random.Generator | None = None, whole: bool = False
) -> list[tuple[str, np.ndarray]]:
    """``(label, clean crop)``: centre and off-centre 128² crops, colour ones also as grey;
    ``unseen``: one crop three quarters in instead; ``rng``: two crops at random places
    instead; ``whole``: the whole picture instead; a volume whole."""
    if name in VOLUMES:
        return [(name, volume(name))]
    if name in SIGNALS or name in TEST_SIGNALS:
        return [(name, signal(name))]
    if name in SPOTS:
        return [(name, spots(name))]
    if name.startswith("binary_blobs_"):
        length, seed = (int(part) for part in name.split("_")[2:])
        return [(name, data.binary_blobs(length=length, rng=seed).astype(np.float64))]
    image = picture(name)
    image = image[..., :3] if image.ndim == 3 else image
    image = image.astype(np.float64) / (65535.0 if image.dtype == np.uint16 else 255.0 if image.max() > 1 else 1.0)
    h, w = image.shape[:2]
    out = []
    places = {"c": ((h - SIZE) // 2, (w - SIZE) // 2), "q": (h // 4 - SIZE // 2, w // 4 - SIZE // 2)}
    size = (h, w) if whole else (SIZE, SIZE)
    if whole:
        places = {"whole": (0, 0)}
    elif unseen:
        places = {"t": (3 * h // 4 - SIZE // 2, 3 * w // 4 - SIZE // 2)}
    elif rng is not None:
        drawn = [(int(rng.integers(0, h - SIZE)), int(rng.integers(0, w - SIZE))) for _ in range(2)]
        places = {f"{top},{left}": (top, left) for top, left in drawn}
    for where, (top, left) in places.items():
        top, left = max(0, min(top, h - size[0])), max(0, min(left, w - size[1]))
        crop = np.ascontiguousarray(image[top : top + size[0], left : left + size[1]])
        if crop.ndim == 3:
            out.append((f"{name}/{where}/rgb", crop))
            out.append((f"{name}/{where}/grey", color.rgb2gray(crop)))
        else:
            out.append((f"{name}/{where}", crop))
    return out


def noisy_of(clean: np.ndarray, kind: str, s: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        return clean + rng.normal(0.0, s, clean.shape)
    photons = 0.5 / s**2
    return rng.poisson(clean * photons) / photons


def psnr(clean: np.ndarray, result: np.ndarray) -> float:
    return -10 * math.log10(float(np.mean((np.asarray(result, np.float64) - clean) ** 2)))


def cases(
    names: tuple[str, ...], thin: int, only: str | None = None, unseen: bool = False, random: bool = False, whole: bool = False
):
    """Every ``thin``-th case (deterministic), to bound the run time; with ``only``, just the
    cases whose key (``image/where[/rgb|grey]/kind/s``) matches that regular expression;
    ``unseen``: the crops of :func:`crops` ``(unseen=True)``; ``random``: its crops at places
    drawn with :data:`RANDOM_SEED`; ``whole``: the pictures uncropped."""
    index = 0
    rng = np.random.default_rng(RANDOM_SEED) if random else None
    for name in names:
        for label, clean in crops(name, unseen, rng, whole):
            for kind in ("gauss", "poisson"):
                for s in LEVELS:
                    key = f"{label}/{kind}/{s}"
                    if index % thin == 0 and (only is None or re.search(only, key)):
                        yield key, clean, noisy_of(clean, kind, s, index), s
                    index += 1


def summary(label: str, gaps: np.ndarray) -> None:
    if not len(gaps):  # e.g. --only picked no case whose clean crop reads < s/2
        print(f"{label}: no cases")
        return
    print(f"{label}: {len(gaps)} cases, median gap {np.median(gaps):.2f} dB, mean {gaps.mean():.2f}, worst {gaps.max():.2f}, "
          f"> 0.5 dB: {(gaps > 0.5).sum()}, > 1.0 dB: {(gaps > 1.0).sum()}, > 1.5 dB: {(gaps > 1.5).sum()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", choices=("tune", "flat", "holdout", "busy", "extra", "unseen", "volumes", "signals", "testsignals", "random", "spots",
                                          "whole", "sample", "variants", "motion"),
                        default="tune")
    parser.add_argument("--thin", type=int, default=1)
    parser.add_argument("--only", help="regular expression: run only the cases whose key matches")
    parser.add_argument("--cache", default="/tmp/auto_quality_oracle.json")
    parser.add_argument("--noise-only", action="store_true", help="report the noise estimate only")
    parser.add_argument("--per-channel", action="store_true", help="colour photos per channel (coupled=False), not coupled")
    parser.add_argument("--spacing", help="spacing of the 2-D photos' axes, e.g. 1,2 (default: unit)")
    parser.add_argument("--clip", action="store_true", help="clip the noisy pictures to [0, 1]")
    parser.add_argument("--given-noise", action="store_true",
                        help="auto given the true noise (noise=s, or (2s², 0) for Poisson; with --clip, the noise before clipping), not reading it")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cache = json.load(open(args.cache)) if os.path.exists(args.cache) else {}
    gaps, rows, rough = [], [], []
    sets = {"tune": TUNE, "flat": FLAT, "holdout": HOLDOUT, "busy": BUSY, "extra": EXTRA, "unseen": UNSEEN, "volumes": VOLUMES, "signals": SIGNALS, "testsignals": TEST_SIGNALS,
            "random": RANDOM, "spots": SPOTS, "whole": WHOLE, "sample": SAMPLE, "variants": VARIANTS, "motion": MOTION}
    if args.set == "motion":  # every place: the two crops, the one three quarters in, the whole picture
        run = chain(*(cases(MOTION, args.thin, args.only, unseen=unseen, whole=whole) for unseen, whole in ((False, False), (True, False), (False, True))))
    else:
        run = cases(sets[args.set], args.thin, args.only, unseen=args.set == "unseen", random=args.set == "random",
                    whole=args.set in ("whole", "sample", "variants"))
    for key, clean, noisy, s in run:
        spacing = VOLUME_SPACING.get(key.split("/")[0])
        if args.spacing and args.set not in ("volumes", "signals", "testsignals"):
            spacing = tuple(float(h) for h in args.spacing.split(","))
            key += f"/spacing {args.spacing}"
        if args.clip:
            noisy, key = np.clip(noisy, 0.0, 1.0), key + "/clipped"
        colour = clean.ndim == 3 and args.set != "volumes"
        coupled = colour and not args.per_channel
        options = dict(channel_axis=-1 if colour else None, coupled=coupled, spacing=spacing)
        key += "/per-channel" if colour and args.per_channel else ""
        # on the central crop that auto reads (the whole image up to auto.SEARCH_PIXELS)
        error = quality.as_tensor(noisy - clean, colour)
        true_noise = float(auto.central_crop(error, error.ndim - 2, auto.SEARCH_PIXELS).square().mean().sqrt())
        given = {"noise": s if "/gauss/" in key else (2 * s**2, 0.0)} if args.given_noise else {}  # see noisy_of
        chosen = estimate_parameters(noisy, **options, **given)
        if args.noise_only:
            rows.append((key, chosen.noise / true_noise))
            print(f"{key:<40} noise ratio {chosen.noise / true_noise:5.2f}", flush=True)
            continue
        if key not in cache:
            best = quality.oracle_pm(clean, noisy, s, colour=colour, sigmas=(0.0,), spacing=spacing, coupled=coupled)
            cache[key] = psnr(clean, diffuse(noisy, **best, **options))
            json.dump(cache, open(args.cache, "w"))
        got = psnr(clean, diffuse(noisy, **chosen.as_options(), **options))
        gap = cache[key] - got
        # the clean crop's own white-noise-like content, as the noise estimate reads it
        own = estimate_parameters(clean, iterations=0, **options).noise
        gaps.append(gap)
        rough.append(own > s / 2)
        print(f"{key:<40} oracle {cache[key]:6.2f} auto {got:6.2f} gap {gap:5.2f} noise ratio {chosen.noise / true_noise:5.2f} "
              f"clean reads {own / s:4.2f}s k={chosen.kappa:.3g} t={chosen.iterations}", flush=True)
    if gaps:
        summary("all", np.array(gaps))
        summary("clean crop reads < s/2", np.array(gaps)[~np.array(rough)])
    else:
        ratios = np.array([r for _, r in rows])
        print(f"\nnoise ratio median {np.median(ratios):.2f}, max {ratios.max():.2f}, min {ratios.min():.2f}")


if __name__ == "__main__":
    main()
