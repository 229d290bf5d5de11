"""``diffuse(scheme="flux8")`` against an 8-neighbour scheme written out in numpy.

The oracle uses no library code.  Each pixel exchanges with its 8 neighbours ``n`` at
physical distance ``d_n`` (h_y, h_x along the axes, sqrt(h_y² + h_x²) on the diagonals) the
flux ``g(|I_n − I| / d_n) (I_n − I) / d_n²``; a neighbour outside the image does not exist
(zero flux through the border).  One explicit step is ``I + dt Σ_n flux_n``.  Written per
pixel over the 8 directions (not per pair, as the library's step is).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from peronamalik import backend, diffuse

from .helpers import sample_photo

DIRECTIONS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]

G = {
    "exp": lambda d, k: np.exp(-((d / k) ** 2)),
    "rational": lambda d, k: 1.0 / (1.0 + (d / k) ** 2),
    "tukey": lambda d, k: np.where(d <= k * math.sqrt(2), 0.5 * (1.0 - (d / (k * math.sqrt(2))) ** 2) ** 2, 0.0),
}
G_MAX = {"exp": 1.0, "rational": 1.0, "tukey": 0.5}


def flux8_oracle(image: np.ndarray, *, iterations: int, kappa: float, dt: float, diffusivity: str,
                 spacing: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """``iterations`` explicit 8-neighbour Perona-Malik steps of a 2-D image, in float64."""
    g = G[diffusivity]
    u = image.astype(np.float64)
    height, width = u.shape
    for _ in range(iterations):
        padded = np.pad(u, 1, constant_values=np.nan)  # NaN marks "no neighbour"
        change = np.zeros_like(u)
        for dy, dx in DIRECTIONS:
            neighbour = padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
            distance = math.hypot(dy * spacing[0], dx * spacing[1])
            difference = np.where(np.isnan(neighbour), 0.0, neighbour - u) / distance
            change += g(np.abs(difference), kappa) * difference / distance
        u = u + dt * change
    return u


def stable_dt(diffusivity: str, spacing: tuple[float, float]) -> float:
    """README: 1 / (g_max Σ_n 1/d_n²) over the 8 neighbours."""
    hy, hx = spacing
    return 1.0 / (G_MAX[diffusivity] * (2 / hy**2 + 2 / hx**2 + 4 / (hy**2 + hx**2)))


def noisy(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A smooth ramp with a step edge and noise: structure along both diagonals."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    edge = ((x + y) > (shape[0] + shape[1]) / 2).astype(float)
    return 0.2 + 0.5 * edge + 0.05 * rng.standard_normal(shape)


@pytest.fixture(params=["reference", "native"])
def path(request):
    """Both CPU paths, named explicitly (never whichever happens to be loaded)."""
    with backend(request.param):
        yield request.param


@pytest.mark.parametrize("diffusivity", sorted(G))
@pytest.mark.parametrize(
    ("shape", "spacing"),
    [((24, 31), (1.0, 1.0)), ((1, 12), (1.0, 1.0)), ((12, 1), (1.0, 1.0)), ((2, 2), (1.0, 1.0)),
     ((17, 20), (2.0, 0.5)), ((20, 17), (0.7, 1.3))],
    ids=["24x31", "1x12", "12x1", "2x2", "spacing-2-0.5", "spacing-0.7-1.3"],
)
def test_flux8_matches_the_numpy_oracle(path, shape, spacing, diffusivity):
    image = noisy(shape)
    kw = dict(iterations=12, kappa=0.15, dt=0.9 * stable_dt(diffusivity, spacing), diffusivity=diffusivity)
    expected = flux8_oracle(image, spacing=spacing, **kw)
    np.testing.assert_allclose(diffuse(image, scheme="flux8", spacing=spacing, **kw), expected, rtol=0, atol=1e-12)
    single = diffuse(image.astype(np.float32), scheme="flux8", spacing=spacing, **kw)
    np.testing.assert_allclose(single, expected, rtol=0, atol=2e-5)
    if min(shape) > 2:  # the diagonals matter: the 4-neighbour scheme gives another result
        axes_only = diffuse(image, scheme="flux", spacing=spacing, **kw)
        assert np.abs(axes_only - expected).max() > 1e-3


@pytest.mark.parametrize("diffusivity", sorted(G))
def test_flux8_photo_with_the_default_dt(path, diffusivity):
    photo = sample_photo("camera", 64)
    expected = flux8_oracle(photo, iterations=20, kappa=0.1, dt=stable_dt(diffusivity, (1.0, 1.0)), diffusivity=diffusivity)
    result = diffuse(photo, iterations=20, kappa=0.1, diffusivity=diffusivity, scheme="flux8")
    np.testing.assert_allclose(result, expected, rtol=0, atol=2e-5)
    assert np.abs(result - photo).max() > 0.05


def test_flux8_conserves_the_sum_and_keeps_a_constant(path):
    image = noisy((15, 18), seed=3)
    result = flux8_oracle(image, iterations=30, kappa=0.2, dt=stable_dt("exp", (1.0, 1.0)), diffusivity="exp")
    assert result.sum() == pytest.approx(image.sum(), rel=1e-12)  # the oracle itself: zero border flux
    assert diffuse(image, scheme="flux8", iterations=30, kappa=0.2).sum() == pytest.approx(image.sum(), rel=1e-12)
    constant = np.full((6, 7), 0.3)
    np.testing.assert_array_equal(diffuse(constant, scheme="flux8", iterations=5, kappa=0.2), constant)
