r"""The noise level of an image, read from the data alone: its variance as a function of
the intensity (Gaussian or Poisson-like), robust to edges, texture and clipping.

Method
------
**Noise level** (:func:`estimate_noise_model`): a high-pass that cancels smooth content,
Immerkær's (1996) second-difference mask made separable for N-D,
:math:`r = \prod_i \delta^2_i I / \sqrt{6^d}` (``[1, -2, 1]`` along every spatial axis),
read robustly (1.4826·median absolute deviation, Donoho & Johnstone 1994) in small
blocks of one channel each (channels differ in intensity, so in Poisson variance); the
low quantile of the blocks in each intensity bin (edges and texture read
high) gives a variance curve :math:`v(m) = a\,m + b`, so Poisson-like noise, whose
variance grows with the intensity :math:`m`, is measured as well as Gaussian noise (a
slope within two standard errors of 0 is read as Gaussian noise; a bright feature in a dark
block, whose robust level reads the dark ground, is read again with each sample standardised
by the line, :func:`standardised_reread`).  Noise clipped to the
picture's range (ties at its extreme value) keeps only its part inside the range; the
blocks at the clip value are read as censored Gaussian samples instead (Tobin 1958;
:func:`censored_sigmas`).
Texture that is white at the pixel scale reads as noise there; the same fit one octave
down (after 2× averaging), where white noise reads the same and texture higher, takes
part of it back out (:func:`estimate_noise_model`), unless edges cross most blocks
(:func:`outlier_share`), which read higher one octave down too; and no more of it than
the finest scale's tails allow (:func:`tail_excess`: texture is heavier-tailed than
noise, content smooth at the pixel scale, like blurred spots, leaves them Gaussian).
With several channels
(colour), noise independent between them is all in their differences
(:func:`channel_contrasts`), texture mostly not: where what the channels read beyond
their differences is texture (higher one octave down) and not most of the reading,
the differences' fit is the noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from peronamalik.core.kappa import MAD_TO_SIGMA

#: Samples per block of the noise estimate, intensity bins, and the quantile of the block
#: levels in a bin that is read as the noise (textured blocks read high).
BLOCK_SAMPLES = 64
NOISE_BINS = 8
LEVEL_QUANTILE = 0.25
#: A Poisson-like slope of the variance line is kept only when it exceeds this many of its
#: standard errors (see noise_model_at_finest_scale).
SLOPE_ERRORS = 2.0
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
#: A bright feature in a dark block (see standardised_reread): the high-pass samples kept in
#: a block are those within CLIP_LEVELS robust levels of its median once each is divided by
#: its own standard deviation under the first line, and the reread replaces that line only
#: where its slope is at least SLOPE_GAIN times as steep (benchmarks/auto_quality.py: Bumps
#: and spots at 1 % read it 0.42x and 0.43x, reread 1.56x and 1.99x as steep; photos 0.9-1.3x,
#: where the clipped variance's own reading of edges and grain, a little above the robust
#: level's, is all the change).
CLIP_LEVELS = 2.0
SLOPE_GAIN = 1.3
#: Colour: the largest share of the channels' finest reading that their differences may lack
#: for those to be read as the noise (see estimate_noise_model): texture took at most 0.41 of
#: it (coffee's cloth under noise of 0.02), noise half shared by the channels 0.48-0.67.
SHARED_GATE = 0.45


def second_difference(u: torch.Tensor, dim: int) -> torch.Tensor:
    """``[1, -2, 1]`` along ``dim``, valid part only."""
    n = u.shape[dim]
    return u.narrow(dim, 0, n - 2) - 2 * u.narrow(dim, 1, n - 2) + u.narrow(dim, 2, n - 2)


def block_side(spatial_ndim: int) -> int:
    """Side of the cubic blocks of about :data:`BLOCK_SAMPLES` samples the noise is read in."""
    return round(BLOCK_SAMPLES ** (1.0 / spatial_ndim))


def blocks(u: torch.Tensor, spatial_ndim: int, side: int) -> torch.Tensor:
    """``(number of blocks, samples)``: ``u`` cut into cubes of ``side`` along every spatial
    axis (the remainder dropped), each block pooling its batch and channel samples."""
    lead = u.ndim - spatial_ndim
    for axis in range(spatial_ndim):
        n = u.shape[lead + axis]
        u = u.narrow(lead + axis, 0, n - n % side)
    shape = list(u.shape[:lead])
    for axis in range(spatial_ndim):
        shape += [u.shape[lead + axis] // side, side]
    index = [lead + 2 * axis for axis in range(spatial_ndim)]
    within = list(range(lead)) + [lead + 2 * axis + 1 for axis in range(spatial_ndim)]
    return u.reshape(shape).permute(index + within).reshape(math.prod(shape[i] for i in index), -1)


def block_deviations(r: torch.Tensor, spatial_ndim: int, side: int) -> torch.Tensor:
    r"""``(number of blocks, samples)``: each sample's distance :math:`|r - \mathrm{median}\,r|`
    from its block's median (:func:`blocks`)."""
    r_blocks = blocks(r, spatial_ndim, side)
    return (r_blocks - r_blocks.median(dim=1, keepdim=True).values).abs()


def block_levels(r: torch.Tensor, spatial_ndim: int, side: int) -> torch.Tensor:
    r"""Robust noise level :math:`1.4826\,\mathrm{median}|r - \mathrm{median}\,r|` of each block."""
    return MAD_TO_SIGMA * block_deviations(r, spatial_ndim, side).median(dim=1).values


@functools.lru_cache(maxsize=16)
def pure_noise_quantile(spatial_ndim: int, side: int) -> float:
    """:data:`LEVEL_QUANTILE` of the squared block levels of unit white noise (fixed seed):
    the factor by which that quantile under-reads the variance of pure noise."""
    levels = block_levels(unit_noise_high_pass(spatial_ndim, side, 4096), spatial_ndim, side)
    return float(levels.square().quantile(LEVEL_QUANTILE))


def unit_noise_high_pass(spatial_ndim: int, side: int, samples: int) -> torch.Tensor:
    """:func:`high_pass` of unit white noise (seed 0) whose sides hold whole blocks of ``side``,
    at least three, and about ``samples`` samples in all: the reference the noise readings are
    calibrated on."""
    shape = (1, 1) + (side * max(3, math.ceil(samples ** (1.0 / spatial_ndim) / side)) + 2,) * spatial_ndim
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return high_pass(noise, spatial_ndim)


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


def estimate_noise_model(u: torch.Tensor, spatial_ndim: int) -> NoiseModel:
    r"""Fit :class:`NoiseModel` to a ``(B, C, *spatial)`` tensor (see the module notes).

    The fit of :func:`noise_model_at_finest_scale` reads the noise variance plus the energy
    :math:`T` of any texture that is white at the pixel scale (grass, coins, star fields).
    It is checked one octave down: on ``u`` averaged over :math:`2^d` blocks (white noise's
    variance divided by :math:`2^d`, so that fit times :math:`2^d` reads the same
    :math:`v_1` on pure noise) the same fit reads :math:`v_2 = \sigma^2 + \rho T`, where
    texture has :math:`\rho > 1` (natural images have power spectra near :math:`1/f^2`,
    Field 1987, which gives :math:`\rho = 2^d`).  Assuming :math:`\rho = \beta =`
    :data:`TEXTURE_RATIO` :math:`\cdot 2^{d-2}` (1.5 times the :math:`1/f^2` value in every
    dimension) the noise variance is
    :math:`(\beta v_1 - v_2) / (\beta - 1)`, kept between :data:`TEXTURE_FLOOR` ·
    :math:`v_1` and :math:`v_1` at the mean intensity (edges and smooth structure have
    :math:`\rho \gg \beta` and would drive it to 0).  It is applied only where
    :func:`octave_ratio` exceeds :data:`TEXTURE_GATE` and :func:`outlier_share` is at most
    :data:`EDGE_GATE`: texture covers the picture and is dense within a block, edges are
    sparse lines (in busy binary pictures they cross most blocks, and the octave ratio
    reads them), and SURE's choice on nearly flat images is sensitive to a noise level read
    a few % low.  The coarse scale is read only when every spatial axis holds
    :data:`COARSE_BLOCKS` blocks of it.  What the correction takes out as texture must show
    in the finest scale's tails: it keeps at least :math:`1 - (x + m) / c` of :math:`v_1`,
    with :math:`x` the tail's excess over pure noise's (:func:`tail_excess`), :math:`m =`
    :data:`TAIL_MARGIN` and :math:`c =` :data:`TAIL_PER_SHARE`.  Content smooth at the pixel
    scale and sharp one octave down (dense blurred spots, star fields) otherwise read as
    texture: the noise of fluorescence-like spots read 0.52-0.82x, of star.jpg's centre
    0.65x; now 0.83-1.00x and 0.91-0.95x (benchmarks/auto_quality.py --set spots).

    With ``C >= 2`` channels, noise independent between them reads the same in their
    differences (:func:`channel_contrasts`), while texture and edges, shared by the channels,
    mostly cancel there.  The excess :math:`e_1` of the channels' finest fit over the
    differences' (both at the mean intensity) is texture or noise that the channels share;
    read one octave down (:math:`e_2`, times :math:`2^d`), shared noise is white
    (:math:`e_2 \approx e_1`) and texture is not.  Where :math:`e_2 >` :data:`TEXTURE_GATE`
    :math:`e_1` and :math:`e_1` is at most :data:`SHARED_GATE` of the channels' reading, the
    differences' model (texture-corrected the same way) replaces the assumed-ratio
    correction, kept between :data:`TEXTURE_FLOOR` and 1 times the channels' finest
    reading.  On 128² colour crops under Gaussian noise of 0.02 this reads the noise
    0.98-1.07x where the channels read 0.75-1.48x (benchmarks/auto_quality.py); a grey
    picture stored as RGB, whose differences are 0, reads as grey; noise three quarters
    shared by the channels still reads 0.80x or more (0.60x without the share's bound).
    """
    u, spatial_ndim = short_axes_as_batch(u.detach(), spatial_ndim)
    fine, coarse = octave_fits(u, u, spatial_ndim)
    model = corrected_for_texture(u, fine, coarse, spatial_ndim)
    if coarse is None or u.ndim - spatial_ndim != 2 or u.shape[1] < 2:
        return model
    contrasts, intensity = channel_contrasts(u)
    differences_fine, differences_coarse = octave_fits(contrasts, intensity, spatial_ndim)
    if differences_coarse is None:
        return model  # the channels are equal: a grey picture
    m, gain = float(u.mean()), 2.0**spatial_ndim
    excess_fine = fine.at(m) - differences_fine.at(m)
    excess_coarse = gain * (coarse.at(m) - differences_coarse.at(m))
    if excess_fine <= 0 or excess_fine > SHARED_GATE * fine.at(m) or excess_coarse <= TEXTURE_GATE * excess_fine:
        return model  # what only the channels read is white, or too much of it: shared noise
    differences = corrected_for_texture(contrasts, differences_fine, differences_coarse, spatial_ndim, m, intensity)
    share = differences.at(m) / fine.at(m)
    if share >= 1:
        return model
    if share <= TEXTURE_FLOOR:
        return fine.scaled(TEXTURE_FLOOR)
    return differences


def short_axes_as_batch(u: torch.Tensor, spatial_ndim: int) -> tuple[torch.Tensor, int]:
    """``(u, spatial_ndim)`` with every spatial axis too short to hold one block of the
    high-pass (fewer than :func:`block_side` + 2 samples; the shortest first) folded into the
    batch axis: the noise is then read in the images across it (a stack of 3 slices as 3
    images, whose second difference along z kept one sample and read no noise at all).  At
    least one spatial axis stays."""
    while spatial_ndim > 1:
        lead = u.ndim - spatial_ndim
        shortest = min(range(lead, u.ndim), key=lambda dim: u.shape[dim])
        if u.shape[shortest] >= block_side(spatial_ndim) + 2:
            break
        u, spatial_ndim = u.movedim(shortest, 0).flatten(0, 1), spatial_ndim - 1
    return u, spatial_ndim


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


def sample_quantile(values: torch.Tensor, q: float) -> float:
    """The ``q`` quantile of a 1-D tensor as its ``ceil(q n)``-th smallest value (unlike
    ``torch.quantile``, for any number of samples: a batch of many images pools them all)."""
    return float(values.kthvalue(max(1, math.ceil(q * values.numel()))).values)


def robust_scores(r: torch.Tensor, spatial_ndim: int, side: int) -> torch.Tensor:
    """``(number of blocks, samples)``: each sample's distance from its block's median in units
    of the block's robust level (:func:`block_deviations`, :func:`block_levels`)."""
    deviations = block_deviations(r, spatial_ndim, side)
    level = MAD_TO_SIGMA * deviations.median(dim=1, keepdim=True).values
    return deviations / level.clamp_min(torch.finfo(r.dtype).tiny)


def local_noise_variance(intensity: torch.Tensor, model: NoiseModel, spatial_ndim: int) -> torch.Tensor:
    r"""The variance of :func:`high_pass` of noise of variance ``model.variance(intensity)``:
    that variance averaged with the high-pass mask's squared weights, ``[1, 4, 1] / 6`` along
    every spatial axis (valid part), kept above the smallest positive number."""
    v = under_squared_mask(model.variance(intensity), range(intensity.ndim - spatial_ndim, intensity.ndim))
    return v.clamp_min(torch.finfo(v.dtype).tiny)


def under_squared_mask(u: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    """``u`` averaged with the high-pass mask's squared weights, ``[1, 4, 1] / 6`` along each
    of ``dims`` (valid part): a per-sample variance becomes the high-pass's."""
    for dim in dims:
        n = u.shape[dim]
        u = (u.narrow(dim, 0, n - 2) + 4 * u.narrow(dim, 1, n - 2) + u.narrow(dim, 2, n - 2)) / 6
    return u


@functools.lru_cache(maxsize=16)
def pure_noise_tail(spatial_ndim: int, side: int) -> float:
    """:data:`TAIL_QUANTILE` of :func:`tail_excess`'s :math:`|z|` on unit white noise (fixed
    seed), the reference the tail is read against."""
    scores = robust_scores(unit_noise_high_pass(spatial_ndim, side, 65536), spatial_ndim, side)
    return sample_quantile(scores.flatten(), TAIL_QUANTILE)


def channel_contrasts(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(contrasts, intensity)`` of a ``(B, C, *spatial)`` tensor with ``C >= 2`` channels:
    its projections :math:`w_k^\top u` on the Helmert basis of the channel differences
    (:math:`w_k = (1, \dots, 1, -k, 0, \dots, 0) / \sqrt{k(k + 1)}`, ``k = 1 .. C-1``:
    orthonormal and orthogonal to the channels' mean), and :math:`(w_k \odot w_k)^\top u`.

    Noise independent between channels, of variance :math:`v_c = a\,m_c + b` in channel
    :math:`c`, gives contrast :math:`k` the variance :math:`\sum_c w_{kc}^2 v_c = a\,(w_k
    \odot w_k)^\top m + b` (the weights' squares sum to 1): the same noise model, read at that
    intensity.  Texture and edges are mostly shared by the colour channels and cancel there:
    on 128² crops of colour photos under Gaussian noise of 0.02 the contrasts read the noise
    0.98-1.07x, the channels themselves 0.75-1.48x (coffee's crop three quarters in, whose
    clean channels read 0.61 of the noise level, the contrasts 0.20).
    """
    channels = u.shape[1]
    weights = torch.zeros(channels - 1, channels, dtype=u.dtype, device=u.device)
    for k in range(1, channels):
        weights[k - 1, :k] = 1.0
        weights[k - 1, k] = -float(k)
        weights[k - 1] /= math.sqrt(k * (k + 1))
    project = lambda w: torch.einsum("kc,bc...->bk...", w, u)  # noqa: E731
    return project(weights), project(weights.square())


def high_pass(u: torch.Tensor, spatial_ndim: int) -> torch.Tensor:
    r""":math:`\prod_i \delta^2_i u / \sqrt{6^d}` over the spatial axes (valid part): unit white
    noise stays unit."""
    for dim in range(u.ndim - spatial_ndim, u.ndim):
        u = second_difference(u, dim)
    return u / math.sqrt(6.0**spatial_ndim)


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


def variance_line(points: Sequence[tuple[float, float]]) -> NoiseModel:
    """The line :math:`v = a m + b` through ``(intensity, variance)`` points (see
    :func:`noise_model_at_finest_scale`).  A floor below 0 is refitted through the origin
    unless it is an offset: told from 0 by :data:`SLOPE_ERRORS` of its standard errors, with
    the zero crossing below every intensity and farther from 0 than their spread (photon
    counts over a camera's offset, :math:`v = a (m - m_0)`; read through the origin, counts
    5-35 over an offset of 1000 read the dark and bright variance nearly equal: 24.7 dB
    against a grid's 36.2).  Texture in the bright bins tilts photos' lines too, with
    crossings among their intensities (coins: 0.06-0.15 of intensities 0.13-0.71)."""
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
            offset = floor < -SLOPE_ERRORS * floor_error and float(m.max() - m.min()) <= crossing <= float(m.min())
        if slope > 0 and floor < 0 and not offset:
            slope, floor = float((m * v).sum() / m.square().sum()), 0.0
        if slope > 0:
            return NoiseModel(slope, floor)
    return NoiseModel(0.0, float(v.mean()))


def estimate_noise(u: torch.Tensor, spatial_ndim: int) -> float:
    """Root-mean-square noise level of a ``(B, C, *spatial)`` tensor under
    :func:`estimate_noise_model`."""
    model = estimate_noise_model(u, spatial_ndim)
    return math.sqrt(float(model.variance(u.detach()).mean()))
