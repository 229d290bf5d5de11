"""Texture that is white at the pixel scale reads as noise there: the same fit one octave down
takes part of it back out (:func:`corrected_for_texture`), unless edges cross most blocks
(:func:`outlier_share`), and no more than the finest scale's tails allow (:func:`tail_excess`)."""

from __future__ import annotations

import functools
import math

import torch

from peronamalik.core.noise_level.blocks import (
    block_levels,
    block_side,
    high_pass,
    robust_scores,
    sample_quantile,
    under_squared_mask,
    unit_noise_high_pass,
)
from peronamalik.core.noise_level.finest import noise_model_at_finest_scale
from peronamalik.core.noise_level.line import NoiseModel

#: Texture: the assumed ratio of its energy one octave down to that at the pixel scale, in
#: 2-D (chosen on the tune set; 4, the 1/f² value in 2-D, over-corrects; in d dimensions it
#: is scaled by 2^(d-2), as the 1/f² value 2^d is: a fixed 6 lies below 3-D's 8, and the
#: noise of 64³ volumes read 0.65-0.82x low, 32 dB short on binary blobs under Poisson noise
#: of 0.1; benchmarks/auto_quality.py --set volumes), how much higher the octave must read
#: than the finest scale in the median block to count as texture (white noise: about 1;
#: grass, coins and star fields under noise of 0.02: 2–4.7; edges: 0–1.1), the least share
#: of the finest scale's variance kept as noise, and the fewest blocks one octave down along
#: every axis for the octave to be read.
TEXTURE_RATIO = 6.0
TEXTURE_GATE = 1.5
TEXTURE_FLOOR = 0.35
#: Edges: a high-pass sample beyond OUTLIER_LEVELS robust levels of its block is an outlier;
#: the octave is not read where the median block's share of outliers exceeds EDGE_GATE (2
#: of 64 samples; Gaussian noise: 0.27 %, photos under noise: 0–1.6 %, busy binary
#: pictures: 5–25 %; see outlier_share).
OUTLIER_LEVELS = 3.0
EDGE_GATE = 1.0 / 32
COARSE_BLOCKS = 3
#: Texture's tails: texture in the finest reading makes its high-pass, normalised by the noise
#: model and by each block's robust level, heavier-tailed than Gaussian noise: the
#: :data:`TAIL_QUANTILE` of its magnitude reads at least :data:`TAIL_PER_SHARE` higher (as a
#: fraction of pure noise's) per unit of the finest reading that is texture (on 128² crops
#: under noise of 0.02-0.1: grass, gravel, page, coins, stereo_motorcycle 0.14-0.32; camera's
#: film grain 0.04), plus :data:`TAIL_MARGIN` for the quantile's sampling error (its standard
#: deviation over noise draws: 0.013 at 128², 0.006 at 256², the largest crop searched).  So a
#: Gaussian-tailed finest scale bounds how much texture the octave correction may take out of
#: it: dense blurred spots (fluorescence-like) and star fields, smooth at the pixel scale and
#: sharp one octave down, read 1.00-1.04 of pure noise's tail where the correction took 56-72 %
#: of the finest reading out (see corrected_for_texture).
TAIL_QUANTILE = 0.95
TAIL_PER_SHARE = 0.12
TAIL_MARGIN = 0.01


def octave_fits(u: torch.Tensor, intensity: torch.Tensor, spatial_ndim: int) -> tuple[NoiseModel, NoiseModel | None]:
    """:func:`noise_model_at_finest_scale` of ``u`` (its noise read at ``intensity``) and of
    ``u`` one octave down (:func:`decimate`), or None there where an axis holds fewer than
    :data:`COARSE_BLOCKS` blocks of the coarse scale or the finest fit reads no noise."""
    fine = noise_model_at_finest_scale(u, spatial_ndim, intensity)
    side = block_side(spatial_ndim)
    if fine.floor == fine.slope == 0 or min(u.shape[u.ndim - spatial_ndim :]) < 2 * (COARSE_BLOCKS * side + 2):
        return fine, None
    return fine, noise_model_at_finest_scale(decimate(u, spatial_ndim), spatial_ndim, decimate(intensity, spatial_ndim))


def corrected_for_texture(
    u: torch.Tensor,
    fine: NoiseModel,
    coarse: NoiseModel | None,
    spatial_ndim: int,
    m: float | None = None,
    intensity: torch.Tensor | None = None,
) -> NoiseModel:
    """:func:`estimate_noise_model`'s texture correction of ``u``'s finest fit with the assumed
    octave ratio, from the fits of :func:`octave_fits`, read at the mean intensity ``m``
    (default: ``u``'s mean); the finest fit itself where the gates say there is no texture."""
    if coarse is None:
        return fine
    passed = high_pass(u.detach(), spatial_ndim)  # the finest scale, read by the three checks below
    if octave_ratio(u, spatial_ndim, passed) <= TEXTURE_GATE or outlier_share(u, spatial_ndim, passed) > EDGE_GATE:
        return fine
    gain, beta = 2.0**spatial_ndim, TEXTURE_RATIO * 2.0 ** (spatial_ndim - 2)
    slope = (beta * fine.slope - gain * coarse.slope) / (beta - 1)
    floor = (beta * fine.floor - gain * coarse.floor) / (beta - 1)
    m = float(u.mean()) if m is None else m
    v1 = fine.at(m)
    share = (slope * m + floor) / v1 if v1 > 0 else 1.0
    if share >= 1:
        return fine
    least = 1.0 - (tail_excess(u, fine, spatial_ndim, intensity, passed) + TAIL_MARGIN) / TAIL_PER_SHARE
    if share <= max(TEXTURE_FLOOR, least) or slope < 0 or floor < 0:
        return fine.scaled(min(1.0, max(share, TEXTURE_FLOOR, least)))  # the finest fit's shape kept
    return NoiseModel(slope, floor)


def tail_excess(
    u: torch.Tensor,
    model: NoiseModel,
    spatial_ndim: int,
    intensity: torch.Tensor | None = None,
    passed: torch.Tensor | None = None,
) -> float:
    r"""How much heavier than Gaussian noise's the tail of ``u``'s finest scale is: the
    :data:`TAIL_QUANTILE` of :math:`|z|` over that of unit white noise (:func:`pure_noise_tail`),
    minus 1, where :math:`z` is the high-pass (:func:`high_pass`) divided by the square root of
    its noise variance under ``model`` (:func:`local_noise_variance`, read at ``intensity``,
    default ``u``: Poisson noise's variance changes across a spot) and then centred and scaled
    by its block's median and robust level (:func:`block_deviations`).  White noise reads
    about 0; texture, whose high-pass is heavier-tailed, more (see :data:`TAIL_PER_SHARE`).
    ``passed``: ``high_pass(u)`` when the caller has it."""
    intensity = u if intensity is None else intensity
    r = finest_pass(u, spatial_ndim, passed) / local_noise_variance(intensity.detach(), model, spatial_ndim).sqrt()
    side = block_side(spatial_ndim)
    z = torch.cat([robust_scores(plane[None, None], spatial_ndim, side).flatten() for plane in r.flatten(0, r.ndim - spatial_ndim - 1)])
    return sample_quantile(z, TAIL_QUANTILE) / pure_noise_tail(spatial_ndim, side) - 1.0


def local_noise_variance(intensity: torch.Tensor, model: NoiseModel, spatial_ndim: int) -> torch.Tensor:
    r"""The variance of :func:`high_pass` of noise of variance ``model.variance(intensity)``:
    that variance averaged with the high-pass mask's squared weights, ``[1, 4, 1] / 6`` along
    every spatial axis (valid part), kept above the smallest positive number."""
    v = under_squared_mask(model.variance(intensity), range(intensity.ndim - spatial_ndim, intensity.ndim))
    return v.clamp_min(torch.finfo(v.dtype).tiny)


@functools.lru_cache(maxsize=16)
def pure_noise_tail(spatial_ndim: int, side: int) -> float:
    """:data:`TAIL_QUANTILE` of :func:`tail_excess`'s :math:`|z|` on unit white noise (fixed
    seed), the reference the tail is read against."""
    scores = robust_scores(unit_noise_high_pass(spatial_ndim, side, 65536), spatial_ndim, side)
    return sample_quantile(scores.flatten(), TAIL_QUANTILE)


def finest_pass(u: torch.Tensor, spatial_ndim: int, passed: torch.Tensor | None) -> torch.Tensor:
    """``passed`` (the caller's :func:`high_pass` of ``u``), else that high-pass computed."""
    return high_pass(u.detach(), spatial_ndim) if passed is None else passed


def octave_ratio(u: torch.Tensor, spatial_ndim: int, passed: torch.Tensor | None = None) -> float:
    """Median over blocks (one channel each) of the high-pass variance one octave down, times
    :math:`2^d`, over that at the finest scale, on the same region: about 1 for white noise,
    higher for texture.  Texture covers the picture, edges are sparse, so the median tells
    them apart where a fit over intensity bins does not.  ``passed``: ``high_pass(u)`` when
    the caller has it."""
    side, lead = block_side(spatial_ndim), u.ndim - spatial_ndim - 1
    coarse_pass = high_pass(decimate(u.detach(), spatial_ndim), spatial_ndim) * math.sqrt(2.0**spatial_ndim)
    ratios = []
    for fine, coarse in zip(finest_pass(u, spatial_ndim, passed).flatten(0, lead), coarse_pass.flatten(0, lead)):
        fine, coarse = fine[None, None], coarse[None, None]
        for axis, (n_fine, n_coarse) in enumerate(zip(fine.shape[2:], coarse.shape[2:])):
            count = min(n_fine // (2 * side), n_coarse // side)
            fine, coarse = fine.narrow(2 + axis, 0, 2 * side * count), coarse.narrow(2 + axis, 0, side * count)
        e_fine = block_levels(fine, spatial_ndim, 2 * side).square()
        e_coarse = block_levels(coarse, spatial_ndim, side).square()
        ratios.append(e_coarse / e_fine.clamp_min(torch.finfo(e_fine.dtype).tiny))
    return float(torch.cat(ratios).median())


def outlier_share(u: torch.Tensor, spatial_ndim: int, passed: torch.Tensor | None = None) -> float:
    r"""Median over blocks (one channel each) of the share of high-pass samples more than
    :data:`OUTLIER_LEVELS` robust levels (:func:`block_levels`) from the block's median.

    Noise and texture are dense: Gaussian samples lie that far out with probability 0.27 %,
    and photos read 0–1.6 % under noise of 0.02.  An edge crossing a block leaves a line of
    samples far out (5–25 % in busy binary pictures, whose octave ratio reads up to 43): one
    octave down such blocks read the edges, not texture.  ``passed``: ``high_pass(u)`` when
    the caller has it."""
    side = block_side(spatial_ndim)
    shares = [
        (robust_scores(plane[None, None], spatial_ndim, side) > OUTLIER_LEVELS).to(u.dtype).mean(dim=1)
        for plane in finest_pass(u, spatial_ndim, passed).flatten(0, u.ndim - spatial_ndim - 1)
    ]
    return float(torch.cat(shares).median())


def decimate(u: torch.Tensor, spatial_ndim: int) -> torch.Tensor:
    """Means of ``2 x ... x 2`` blocks along every spatial axis (an odd last sample dropped)."""
    lead = u.ndim - spatial_ndim
    for dim in range(lead, u.ndim):
        n = u.shape[dim] - u.shape[dim] % 2
        u = u.narrow(dim, 0, n).unflatten(dim, (n // 2, 2)).mean(dim + 1)
    return u
