r"""The noise's variance line :math:`v(m) = a\,m + b` (:class:`NoiseModel`) and its fit through
the blocks' levels, bin by intensity bin."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from peronamalik.core.noise_level.blocks import LEVEL_QUANTILE

#: Intensity bins of the fit (see fit_block_levels).
NOISE_BINS = 8
#: A Poisson-like slope of the variance line is kept only when it exceeds this many of its
#: standard errors (see noise_model_at_finest_scale).
SLOPE_ERRORS = 2.0


@dataclass(frozen=True)
class NoiseModel:
    r"""Noise variance as a function of the clean intensity: :math:`v(m) = a\,m + b`
    (Gaussian: :math:`a = 0`; Poisson-like: :math:`b \approx 0`; Foi et al. 2008)."""

    slope: float
    floor: float

    def scaled(self, factor: float) -> NoiseModel:
        """The variance curve times ``factor`` (its shape kept)."""
        return NoiseModel(self.slope * factor, self.floor * factor)

    def of_values_times(self, factor: float) -> NoiseModel:
        """The curve of the values multiplied by ``factor``: :math:`a` times it (a scaled
        count's variance grows with its mean), :math:`b` times its square."""
        return NoiseModel(self.slope * factor, self.floor * factor**2)

    def at(self, intensity: float) -> float:
        """The variance :math:`a\\,m + b` at intensity ``m``."""
        return self.slope * intensity + self.floor

    def variance(self, u: torch.Tensor) -> torch.Tensor:
        r"""Per-sample variance :math:`a\,u_i + b` of the observation ``u`` itself.

        Its mean is the noise variance (:math:`E\,u_i = x_i`; up to the clamp at 0), and as the
        weights of the divergence it is the first-order unbiased risk estimate for mixed
        Poisson-Gaussian noise (PG-URE, Le Montagner, Angelini & Olivo-Marin 2014; PURE,
        Luisier, Blu & Unser 2011): for Poisson counts scaled by :math:`a`,
        :math:`E[(y_i - x_i) f_i(y)] = E[y_i (f_i(y) - f_i(y - a e_i))] \approx
        E[a\,y_i\,\partial_i f_i(y)]`.  A smoothed copy of ``u`` spread the bright side's
        variance across edges into the dark side, where Perona-Malik's divergence lives on
        binary pictures (a phantom under Poisson noise of 0.02 stopped 8.5 dB short).
        """
        if self.slope == 0:
            return torch.full_like(u, self.floor)
        return (self.slope * u + self.floor).clamp_min(0.0)


def fit_block_levels(level: torch.Tensor, where: torch.Tensor, bias: float) -> NoiseModel:
    """:func:`noise_model_at_finest_scale`'s variance line through the blocks' robust levels
    ``level`` at their intensities ``where`` (``bias``: :func:`pure_noise_quantile`)."""
    order = where.argsort()
    bins = max(1, min(NOISE_BINS, len(order) // 8))
    parts = order.tensor_split(bins)
    at = [float(where[p].mean()) for p in parts]  # each bin's mean intensity
    energy = level.square()
    model = variance_line([(m, float(energy[p].quantile(LEVEL_QUANTILE)) / bias) for p, m in zip(parts, at)])
    if model.slope > 0:  # the quiet blocks of a bin are its dark ones: read each against the line
        ratio = energy / (model.slope * where + model.floor).clamp_min(torch.finfo(energy.dtype).tiny)
        reread = variance_line([(m, float(ratio[p].quantile(LEVEL_QUANTILE)) / bias * model.at(m)) for p, m in zip(parts, at)])
        model = reread if reread.slope > 0 else model
    return model


def variance_line(points: Sequence[tuple[float, float]]) -> NoiseModel:
    """The line :math:`v = a m + b` through ``(intensity, variance)`` points (see
    :func:`noise_model_at_finest_scale`).  A floor below 0 is refitted through the origin
    unless it is an offset: told from 0 by :data:`SLOPE_ERRORS` of its standard errors, with
    the zero crossing below every intensity and farther from 0 than their spread (photon
    counts over a camera's offset, :math:`v = a (m - m_0)`; read through the origin, counts
    5-35 over an offset of 1000 read the dark and bright variance nearly equal: 24.7 dB
    against a grid's 36.2), and the intensities reaching within their spread of it (those
    counts lie 0.1-0.8 spreads above it; white noise on a picture of one intensity, whose
    bins span a few thousandths, read a spurious slope crossing 1.8-4.5 spreads below them
    in 3 of 40 draws, and with it no variance at all in the darker eighth of its pixels).
    Texture in the bright bins tilts photos' lines too, with crossings among their
    intensities (coins: 0.06-0.15 of intensities 0.13-0.71)."""
    m = torch.tensor([p[0] for p in points], dtype=torch.float64)
    v = torch.tensor([p[1] for p in points], dtype=torch.float64)
    if len(points) > 1 and float(m.var()) > 0:
        spread = float((m - m.mean()).square().sum())
        slope = float(((m - m.mean()) * (v - v.mean())).sum()) / spread
        floor = float(v.mean()) - slope * float(m.mean())
        offset = False  # a floor below 0 that the points tell from 0: counts over a camera's offset
        if len(points) > 2:  # a slope within SLOPE_ERRORS standard errors of 0 is not told from it
            scatter = float((v - floor - slope * m).square().sum()) / (len(points) - 2)
            error = math.sqrt(scatter / spread)
            slope = slope if slope > SLOPE_ERRORS * error else 0.0
            floor_error = math.sqrt(scatter * (1.0 / len(points) + float(m.mean()) ** 2 / spread))
            crossing = -floor / slope if slope > 0 else 0.0
            reach = float(m.max() - m.min())  # the intensities' spread
            offset = floor < -SLOPE_ERRORS * floor_error and reach <= crossing <= float(m.min()) <= crossing + reach
        if slope > 0 and floor < 0 and not offset:
            slope, floor = float((m * v).sum() / m.square().sum()), 0.0
        if slope > 0:
            return NoiseModel(slope, floor)
    return NoiseModel(0.0, float(v.mean()))
