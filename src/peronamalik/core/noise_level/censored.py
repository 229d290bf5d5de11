"""Noise clipped to the picture's range: the blocks at the clip value read as censored Gaussian
samples (Tobin 1958)."""

from __future__ import annotations

import functools
import math

import torch

from peronamalik.core.noise_level.blocks import LEVEL_QUANTILE, blocks

#: Clipping (see censored_sigmas): the least share of the samples at the extreme value for
#: clipping to be read (binary pictures under clipped noise: 15-43 %; a crop 30 % black:
#: 27-31 %; photos whose highlights or stars clip: 0.4-8 %, where the high-pass's reading
#: stands: read as censored at 1 %, those few blocks, stars and highlights with their wings,
#: read 1.5-6x the noise, and 28 rather than 15 of 240 random crops fell 0.5 dB short); the
#: least share of a block's samples at it (and of those above it) for the block to be read
#: as censored noise; by what factor the noise levels read from the spread and from the mean
#: distance of the samples above it may differ; and how many times its high-pass's robust
#: level the block's censored reading may be (the high-pass reads censored noise 0.15-1.1x,
#: clipped 0.5 sigma above to 0.5 below its mean; a block across the two levels of a clipped
#: binary picture, whose other level sits among the samples above the clip, 20-70x).
CLIP_TIES = 0.1
CENSORED_SHARE = 0.05
CENSORED_AGREEMENT = 1.5
CENSORED_SPREAD = 8.0


def censored_sigmas(raw: torch.Tensor, spatial_ndim: int, side: int, *, both_ends: bool) -> torch.Tensor | None:
    r"""Noise levels of the blocks of ``raw`` (``(B, C, *spatial)``, the samples under
    :func:`noise_model_at_finest_scale`'s high-pass blocks) whose samples were clipped, or
    None where nothing was: per block, the standard deviation of Gaussian noise censored at
    the clip value c (NaN for other blocks).

    A noisy picture clipped to its range (``skimage.util.random_noise`` clips to [0, 1], and
    so does every file of a fixed range) keeps of the noise at a level c only its half above
    c: the high-pass reads 0.58x the noise there, and binary pictures, wholly at their two
    levels, read it 0.53x (horse, binary_blobs and checkerboard 1.7-4.3 dB short;
    benchmarks/auto_quality.py --clip).  Clipping shows as ties at the extreme value: it is
    read where at least :data:`CLIP_TIES` of the samples equal the largest (``both_ends``:
    or the smallest; a Poisson picture's zeros are counts, not clipping).  In a block whose
    share p of samples at c lies in [:data:`CENSORED_SHARE`, 1 - :data:`CENSORED_SHARE`],
    the others, at distances :math:`d > 0` from c, are a normal sample cut at
    :math:`z = \Phi^{-1}(p)` standard deviations (Tobin 1958): with
    :math:`\lambda = \varphi(z) / (1 - \Phi(z))`, :math:`\mathrm{var}(d) = \sigma^2 (1 + z
    \lambda - \lambda^2)` and :math:`\mathrm{mean}(d) = \sigma (\lambda - z)`.  The block's
    :math:`\sigma` is read from the variance where the two agree within a factor
    :data:`CENSORED_AGREEMENT` (a block of black border and picture does not: its mean
    distance is the picture's level, not its spread), where it reads at most
    :data:`CENSORED_SPREAD` times the block's high-pass level (see
    :func:`noise_model_at_finest_scale`), and where the block does not hold samples at both
    the smallest and the largest value: there an edge of a binary picture crosses it, and the
    other level sits among the samples above the clip (read as censored, such blocks took
    the noise of busy binary pictures under clipped noise of 0.1 4-7x too high: 13-16 dB
    short).
    """
    flat = raw.flatten()
    low, high = flat.min(), flat.max()
    ends = [(high, -1.0)] + ([(low, 1.0)] if both_ends else [])
    ends = [(c, sign) for c, sign in ends if int((flat == c).sum()) >= CLIP_TIES * flat.numel()]
    if not ends:
        return None
    planes = raw.flatten(0, raw.ndim - spatial_ndim - 1)
    samples = torch.cat([blocks(plane[None, None], spatial_ndim, side) for plane in planes])
    levels = torch.full(samples.shape[:1], math.nan, dtype=samples.dtype, device=samples.device)
    spans = (samples == low).any(dim=1) & (samples == high).any(dim=1)  # the whole range: an edge
    for c, sign in ends:
        at_c = samples == c
        share = at_c.to(samples.dtype).mean(dim=1)
        free = (~at_c).to(samples.dtype)
        count = free.sum(dim=1).clamp_min(2.0)
        d = (samples - c) * sign * free
        mean = d.sum(dim=1) / count
        variance = ((d - mean[:, None]).square() * free).sum(dim=1) / (count - 1)
        z = torch.special.ndtri(share.clamp(CENSORED_SHARE, 1 - CENSORED_SHARE))
        mills = torch.exp(-0.5 * z.square()) / math.sqrt(2 * math.pi) / torch.special.ndtr(-z)
        sigma = (variance / (1 + z * mills - mills.square())).sqrt()
        agree = (mean / (sigma * (mills - z))).clamp_min(1e-12).log().abs() <= math.log(CENSORED_AGREEMENT)
        use = (share >= CENSORED_SHARE) & (share <= 1 - CENSORED_SHARE) & agree & ~spans & levels.isnan()
        levels = torch.where(use, sigma, levels)
    return levels


@functools.lru_cache(maxsize=16)
def censored_quantile(spatial_ndim: int, side: int) -> float:
    """:data:`LEVEL_QUANTILE` of the squared levels :func:`censored_sigmas` reads on unit
    white noise clipped at its mean (fixed seed): its counterpart of :func:`pure_noise_quantile`."""
    shape = (1, 1) + (side * max(3, math.ceil(4096 ** (1.0 / spatial_ndim) / side)),) * spatial_ndim
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64).clamp_min(0.0)
    levels = censored_sigmas(noise, spatial_ndim, side, both_ends=True)
    return float(levels[~levels.isnan()].square().quantile(LEVEL_QUANTILE))
