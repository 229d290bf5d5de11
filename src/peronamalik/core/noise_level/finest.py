"""The noise's variance line read at the finest scale: the high-pass's block levels fitted by
intensity (:func:`noise_model_at_finest_scale`), clipped blocks read as censored, and bright
features in dark blocks read again sample by sample (:func:`standardised_reread`)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch

from peronamalik.core.kappa import MAD_TO_SIGMA
from peronamalik.core.noise_level.blocks import (
    LEVEL_QUANTILE,
    block_deviations,
    block_levels,
    block_side,
    blocks,
    pure_noise_quantile,
    second_difference,
    under_squared_mask,
    unit_noise_high_pass,
)
from peronamalik.core.noise_level.censored import CENSORED_SPREAD, censored_quantile, censored_sigmas
from peronamalik.core.noise_level.line import NoiseModel, fit_block_levels

#: A bright feature in a dark block (see standardised_reread): the high-pass samples kept in
#: a block are those within CLIP_LEVELS robust levels of its median once each is divided by
#: its own standard deviation under the first line, and the reread replaces that line only
#: where its slope is at least SLOPE_GAIN times as steep (benchmarks/auto_quality.py: Bumps
#: and spots at 1 % read it 0.42x and 0.43x, reread 1.56x and 1.99x as steep; photos 0.9-1.3x,
#: where the clipped variance's own reading of edges and grain, a little above the robust
#: level's, is all the change).
CLIP_LEVELS = 2.0
SLOPE_GAIN = 1.3


def noise_model_at_finest_scale(u: torch.Tensor, spatial_ndim: int, intensity: torch.Tensor | None = None) -> NoiseModel:
    r"""Fit :class:`NoiseModel` to the finest scale of a ``(B, C, *spatial)`` tensor, its
    variance read at ``intensity`` (default: ``u`` itself; see :func:`channel_contrasts`).

    The high-pass :math:`r = \prod_i \delta^2_i u / \sqrt{6^d}` (Immerkær 1996, made
    separable for N-D) has the noise's variance wherever the image is locally smooth.  It is
    cut into blocks of :data:`BLOCK_SAMPLES` samples of one channel; each block gives a robust level
    (:func:`block_levels`, Donoho & Johnstone 1994) and its mean intensity.  Blocks are sorted
    by intensity into up to :data:`NOISE_BINS` bins; the :data:`LEVEL_QUANTILE` of each bin's
    squared levels (textured blocks read high, so the low ones are the noise), divided by
    what it reads on pure unit noise (:func:`pure_noise_quantile`), gives one point of the
    variance curve, and a least-squares
    line :math:`v = a m + b` with :math:`a, b \ge 0` goes through the points.  Its slope is
    kept only when it exceeds :data:`SLOPE_ERRORS` of its standard errors (the t-test of a
    regression slope, from the points' scatter about the line); otherwise the noise is read
    as Gaussian, at the points' mean.  Over a narrow range of intensities the bins' scatter
    alone tilts the line, and a spurious slope misplaces the variance between dark and
    bright regions, which biases the risk estimate (Gaussian noise on a crop of ``cell``
    whose blocks lie between 0.24 and 0.30 read a slope of 0.028: 2 dB short).

    Where the line has a slope, a bin's quietest blocks are its darkest, and its quantile
    under-reads the variance at the bin's mean intensity: a crop of retina's border, 84 %
    black, whose brightest bin spans 0.04-0.6, read the slope 0.73x (2.5 dB short under
    Poisson noise of 0.1).  So each block's squared level is read again as a ratio to the
    line's variance at its own intensity; the bin's quantile of the ratios, times the line at
    the bin's mean intensity, gives its point, and the line through those points replaces
    the first one if it keeps a slope (1.05x there).  A bright feature in a dark block is
    read again with each sample standardised by that line (:func:`standardised_reread`).
    """
    lead = u.ndim - spatial_ndim
    axes = [dim for dim in range(lead, u.ndim) if u.shape[dim] >= 3]
    if not axes or u.numel() == 0:
        return NoiseModel(0.0, 0.0)
    source = (u if intensity is None else intensity).detach()  # where the variance is read
    r, mean = u.detach(), source
    for dim in axes:
        r = second_difference(r, dim)
        mean = mean.narrow(dim, 1, u.shape[dim] - 2)
    r = r / math.sqrt(6.0 ** len(axes))
    side = min(block_side(spatial_ndim), *r.shape[lead:])
    if side == 1:  # a 3-pixel-wide image: one-sample blocks have no spread to measure
        return NoiseModel(0.0, 0.0)
    # blocks of one channel each: channels differ in intensity, so in Poisson variance
    planes = [(r_c[None, None], m_c[None, None]) for r_c, m_c in zip(r.flatten(0, lead - 1), mean.flatten(0, lead - 1))]
    level = torch.cat([block_levels(r_c, spatial_ndim, side) for r_c, _ in planes])
    where = torch.cat([blocks(m_c, spatial_ndim, side).mean(dim=1) for _, m_c in planes])  # each block's intensity
    bias = pure_noise_quantile(spatial_ndim, side)
    model = fit_block_levels(level, where, bias)
    if intensity is None or intensity is u:  # the samples themselves, not channel contrasts
        # `mean` is then u's samples under the high-pass's blocks
        censored = censored_sigmas(mean, spatial_ndim, side, both_ends=model.slope == 0)
        if censored is not None:
            # a block whose censored reading is far above its high-pass's spans two levels
            read = ~censored.isnan() & (censored <= CENSORED_SPREAD * level)
            # read as the robust levels are: pure noise's quantile reads `bias`
            censored = censored * math.sqrt(bias / censored_quantile(spatial_ndim, side))
            return fit_block_levels(torch.where(read, censored, level), where, bias)
    if model.slope > 0:
        model = standardised_reread(r, source, model, spatial_ndim, axes, side)
    return model


def standardised_reread(
    r: torch.Tensor, intensity: torch.Tensor, model: NoiseModel, spatial_ndim: int, axes: Sequence[int], side: int
) -> NoiseModel:
    r""":func:`noise_model_at_finest_scale`'s line read again where Poisson-like noise makes a
    block's samples unequal: a bright feature (a spot, a peak) in a dark block.

    The block's robust level reads its majority's noise, the dark ground's, while its mean
    intensity counts the feature: the bright bins read low and the slope is under-read (spots
    at 1 % under Poisson noise of 0.1 read it 0.43x, Bumps at 0.05 0.42x: 1.9 dB short of the
    grid).  Here each high-pass sample :math:`r_i` is divided by its standard deviation
    :math:`s_i` under the first line (its variance under the high-pass's squared weights, as
    in :func:`local_noise_variance`); a block keeps the samples within :data:`CLIP_LEVELS`
    robust levels of the median of :math:`r_i / s_i` (edges and the feature's own curvature
    are far out, the feature's noise is not), and reads their variance and mean intensity
    (under the high-pass's squared weights), consistent with each other however the block is
    mixed.  Pure noise's :data:`LEVEL_QUANTILE` of those variances
    (:func:`clipped_noise_quantile`) calibrates them as :func:`pure_noise_quantile` does the
    robust levels, and the line through them (:func:`fit_block_levels`) replaces ``model``
    where its slope is at least :data:`SLOPE_GAIN` times as steep: spots 1.99x and Bumps
    1.56x (0.87x and 0.66x the truth's slope; 0.65 and 0.13 dB short), photos 0.9-1.3x,
    where the change is the clipped variance reading edges and grain a little higher than
    the robust level; kitty.gif's dither, read as Gaussian noise with a spurious slope, 1.40x
    (0.95 -> 2.29 dB short; benchmarks/auto_quality.py, 2026-12-03).
    """
    lead = r.ndim - spatial_ndim
    deviation = under_squared_mask(model.variance(intensity), axes).clamp_min(torch.finfo(r.dtype).tiny).sqrt()
    weighted = under_squared_mask(intensity, axes)
    read = [
        clipped_levels(r_c[None, None], s_c[None, None], m_c[None, None], spatial_ndim, side)
        for r_c, s_c, m_c in zip(r.flatten(0, lead - 1), deviation.flatten(0, lead - 1), weighted.flatten(0, lead - 1))
    ]
    level, where = torch.cat([lv for lv, _ in read]), torch.cat([m for _, m in read])
    reread = fit_block_levels(level, where, clipped_noise_quantile(spatial_ndim, side))
    return reread if reread.slope > SLOPE_GAIN * model.slope else model


def clipped_levels(
    r: torch.Tensor, deviation: torch.Tensor, intensity: torch.Tensor, spatial_ndim: int, side: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(levels, intensities)`` per block (:func:`blocks`) of :func:`standardised_reread`: the
    standard deviation of the high-pass samples ``r`` kept (within :data:`CLIP_LEVELS` robust
    levels of the block's median of ``r / deviation``; all of them where that level is 0), and
    the mean ``intensity`` over them."""
    r_blocks, m_blocks = blocks(r, spatial_ndim, side), blocks(intensity, spatial_ndim, side)
    distance = block_deviations(r / deviation, spatial_ndim, side)
    level = MAD_TO_SIGMA * distance.median(dim=1, keepdim=True).values
    kept = ((distance <= CLIP_LEVELS * level) | (level == 0)).to(r.dtype)
    count = kept.sum(dim=1)
    centre = (r_blocks * kept).sum(dim=1) / count
    variance = ((r_blocks - centre[:, None]).square() * kept).sum(dim=1) / (count - 1).clamp_min(1.0)
    return variance.sqrt(), (m_blocks * kept).sum(dim=1) / count


@functools.lru_cache(maxsize=16)
def clipped_noise_quantile(spatial_ndim: int, side: int) -> float:
    """:data:`LEVEL_QUANTILE` of the squared levels :func:`clipped_levels` reads on unit white
    noise (fixed seed): its counterpart of :func:`pure_noise_quantile`."""
    unit = unit_noise_high_pass(spatial_ndim, side, 4096)
    levels, _ = clipped_levels(unit, torch.ones_like(unit), unit, spatial_ndim, side)
    return float(levels.square().quantile(LEVEL_QUANTILE))
