"""Independent numpy references and input helpers for the core tests (no library code)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, settings
from scipy import ndimage
from skimage import data, util

#: Hypothesis settings for this suite: modest example counts, no per-example deadline
#: (the first call of a torch op can be slow), so the whole suite stays fast on 2 cores;
#: the ``backend`` fixture holds for every example of a test, so it may be function-scoped.
FAST = settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])


def centre_crop(image: np.ndarray, size: int = 128) -> np.ndarray:
    """The central ``size``×``size`` window of a 2-D (or H×W×C) image."""
    h, w = image.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return image[top : top + size, left : left + size]


def sample_photo(name: str, size: int = 128) -> np.ndarray:
    """A scikit-image bundled photo as float32 in [0, 1], centre-cropped to ``size``²."""
    return np.ascontiguousarray(centre_crop(util.img_as_float32(getattr(data, name)()), size))


def neumann_laplacian(u: np.ndarray, spacing=None) -> np.ndarray:
    """Σ_i (u(x+e_i) - 2u(x) + u(x-e_i)) / h_i² with a mirrored ghost cell at the border.

    Replicating the border value (``np.pad(mode="edge")``) makes the difference across the
    border zero, i.e. zero flux (homogeneous Neumann condition).
    """
    spacing = (1.0,) * u.ndim if spacing is None else spacing
    out = np.zeros_like(u)
    for axis, h in enumerate(spacing):
        pad = [(0, 0)] * u.ndim
        pad[axis] = (1, 1)
        p = np.pad(u, pad, mode="edge")
        ahead = np.take(p, np.arange(2, u.shape[axis] + 2), axis=axis)
        behind = np.take(p, np.arange(0, u.shape[axis]), axis=axis)
        out += (ahead - 2.0 * u + behind) / h**2
    return out


def linear_heat(u: np.ndarray, dt: float, steps: int, spacing=None) -> np.ndarray:
    """Explicit Euler steps of the linear heat equation u_t = Δu with Neumann borders."""
    for _ in range(steps):
        u = u + dt * neumann_laplacian(u, spacing)
    return u


def blocks(shape: tuple[int, ...], seed: int = 0, tile: int = 16) -> np.ndarray:
    """Piecewise-constant test image: random levels on tiles of ``tile`` samples."""
    coarse = np.random.default_rng(seed).random(tuple(math.ceil(n / tile) for n in shape))
    for axis in range(len(shape)):
        coarse = np.repeat(coarse, tile, axis=axis)
    return coarse[tuple(slice(0, n) for n in shape)]


def gaussian(clean: np.ndarray, s: float, seed: int = 1) -> np.ndarray:
    return clean + np.random.default_rng(seed).normal(0.0, s, clean.shape)


def poisson(clean: np.ndarray, s: float, seed: int = 1) -> np.ndarray:
    """Poisson counts scaled so that the noise's standard deviation is ``s`` at intensity 0.5."""
    photons = 0.5 / s**2
    return np.random.default_rng(seed).poisson(clean * photons) / photons


def dense_spots(side: int = 128, density: float = 0.03) -> np.ndarray:
    """Fluorescence-like: random points blurred by a Gaussian of 1.2 px, between 0.05 and 0.85
    (as benchmarks/auto_quality.py --set spots)."""
    rng = np.random.default_rng(0)
    points = np.where(rng.random((side, side)) < density, rng.uniform(0.5, 1.0, (side, side)), 0.0)
    return 0.05 + 0.8 * np.clip(8 * ndimage.gaussian_filter(points, 1.2), 0.0, 1.0)


def disk() -> np.ndarray:
    """A binary disk: nearly flat, so its best stopping time is the longest searched."""
    yy, xx = np.mgrid[:96, :96]
    return ((yy - 40) ** 2 + (xx - 52) ** 2 < 30**2).astype(np.float64)
