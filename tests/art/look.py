"""The look figures of ``shared/look/look_stats.py`` (the project's yardstick), reimplemented
for the tests so they need no file outside the repository; ``test_presets_look`` checks them
against kitty.gif's published figures where ``shared/`` is beside the repository; and
:func:`source_tensor` / :func:`source_image`, the source an animation of a photo at a size
starts from; :func:`look_over_runs`, the look of a chaotic preset as the distribution it is."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from scipy import ndimage as ndi

from peronamalik.art import animate, preset_config
from peronamalik.art.presets import DEFAULT_PRESET
from peronamalik.art.source import load_source

FIGURES = ("luminance", "sparkles", "colour", "structure", "change")
REC709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def source_tensor(photo: np.ndarray, size: int | None) -> torch.Tensor:
    """``(1, 3, H, W)`` float in [0, 1] on the CPU: the source ``animate(photo, size=size)`` starts from."""
    return load_source(photo, size=size, device=torch.device("cpu")).tensor


def source_image(photo: np.ndarray, size: int | None) -> np.ndarray:
    """``H×W×3``: :func:`source_tensor` as an image (what the frames are measured against)."""
    return source_tensor(photo, size)[0].permute(1, 2, 0).numpy()


def luminance(frame: np.ndarray) -> np.ndarray:
    return frame @ REC709


def sparkles(frame: np.ndarray) -> float:
    """Bright isolated points per 1000 px: 3×3 maxima with luminance > 0.35 and > 2× their 9×9 mean."""
    y = luminance(frame)
    peak = (y == ndi.maximum_filter(y, 3)) & (y > 0.35) & (y > 2.0 * ndi.uniform_filter(y, 9))
    return float(peak.sum() / y.size * 1000)


def colourfulness(frame: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness of a [0, 1] RGB frame (0: grey; vivid photos 50-100)."""
    r, g, b = (frame[..., i] * 255 for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def edges(frame: np.ndarray) -> np.ndarray:
    y = luminance(frame)
    return np.hypot(ndi.sobel(y, 0), ndi.sobel(y, 1)).ravel()


def look(frames: list[np.ndarray], source: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Name -> (p10, p50, p90) over ``frames`` (uint8 or [0, 1] float, the source's size) of
    luminance (mean, relative to the source's), sparkles, colour (colourfulness relative to the
    source's; NaN for a grey source), structure (correlation of the Sobel edge magnitude with the source's) and
    change (mean |frame - source|)."""
    unit = lambda f: f.astype(np.float32) / 255 if f.dtype == np.uint8 else f.astype(np.float32)  # noqa: E731
    source = unit(source)
    m0, c0, e0 = luminance(source).mean(), colourfulness(source), edges(source)
    rows = []
    for frame in map(unit, frames):
        e = edges(frame)
        structure = np.corrcoef(e, e0)[0, 1] if e.std() > 0 else 0.0
        rows.append((
            luminance(frame).mean() / m0, sparkles(frame), colourfulness(frame) / c0 if c0 else np.nan, structure,
            np.abs(frame - source).mean(),
        ))
    table = np.array(rows)
    return {n: tuple(float(v) for v in np.percentile(table[:, i], [10, 50, 90])) for i, n in enumerate(FIGURES)}


def nudged_runs(photo: np.ndarray, runs: int, **options) -> Iterator[list[np.ndarray]]:
    """The frames of ``runs`` animations of ``photo`` (uint8), each plus seeded Gaussian noise
    of 1e-6 (far below a uint8 step: the same picture to the eye); ``options``: :func:`animate`'s.

    A chaotic preset (glow: momentum 0.9) amplifies such a difference, or the rounding of
    another CPU, to another run within a few hundred iterations, so its look is a
    distribution: one run's figures are one draw of it."""
    for run in range(1, runs + 1):
        noise = np.random.default_rng(run).normal(0.0, 1e-6, photo.shape).astype(np.float32)
        yield list(animate(np.clip(photo.astype(np.float32) / 255 + noise, 0.0, 1.0), seed=0, device="cpu", **options))


def look_size(**options) -> int | None:
    """The size the frames of ``animate(**options)`` are measured at (its ``size`` or the preset's)."""
    return options.get("size") or (options.get("config") or preset_config(options.get("preset", DEFAULT_PRESET))).size


def look_over_runs(photo: np.ndarray, runs: int, **options) -> dict[str, np.ndarray]:
    """Name -> the p50 figure of each of :func:`nudged_runs`, measured against the source of
    ``photo``."""
    source = source_image(photo, look_size(**options))
    table = np.array([[look(frames, source)[name][1] for name in FIGURES] for frames in nudged_runs(photo, runs, **options)])
    return {name: table[:, i] for i, name in enumerate(FIGURES)}


def pooled_look(photo: np.ndarray, runs: int, **options) -> dict[str, tuple[float, float, float]]:
    """:func:`look` of the frames of all :func:`nudged_runs` together: the look of a chaotic
    preset as a distribution over its runs."""
    frames = [frame for run in nudged_runs(photo, runs, **options) for frame in run]
    return look(frames, source_image(photo, look_size(**options)))
