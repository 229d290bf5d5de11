r"""Parameters chosen from the data: noise level, kappa, stopping time and Catté's sigma.

Method
------
1. **Noise level** (:func:`estimate_noise_model`): a high-pass that cancels smooth content,
   Immerkær's (1996) second-difference mask made separable for N-D,
   :math:`r = \prod_i \delta^2_i I / \sqrt{6^d}` (``[1, -2, 1]`` along every spatial axis),
   read as the root mean square of :math:`r` in small blocks of one channel each (channels
   differ in intensity, so in Poisson variance), cut at two offsets half a block apart.
   Edges and texture only ever read high, so in each intensity bin the low
   (:data:`LEVEL_QUANTILE`) quantile of the blocks, calibrated on pure noise, is the noise
   variance there (local mean/variance statistics as in Lee & Hoppel 1989; weak-texture
   blocks as selected by Liu, Tanaka & Okutomi 2013), and the line :math:`v(m) = a\,m + b`
   *under* the bins' points (a low-quantile regression, Koenker & Bassett 1978: bins where
   every block is textured read high) is the variance curve, so Poisson-like noise, whose
   variance grows with the intensity :math:`m`, is measured as well as Gaussian noise.
2. **Risk estimate** (Stein 1981; Monte-Carlo SURE, Ramani, Blu & Unser 2008): for a
   denoiser :math:`f` and independent noise of variance :math:`v_i` at sample :math:`i`,

   .. math:: \mathrm{SURE}(f) = \tfrac1N\|y - f(y)\|^2 - \tfrac1N\textstyle\sum_i v_i
             + \tfrac{2}{N\varepsilon}\, (v \odot b)^\top\big(f(y + \varepsilon b) - f(y)\big)

   estimates the mean squared error :math:`\tfrac1N\|f(y) - x\|^2` against the unknown clean
   image :math:`x` without bias for Gaussian noise (:math:`b` a fixed-seed Rademacher probe,
   :math:`\varepsilon` a tenth of the noise level).  Unlike the residual-variance
   (discrepancy) rule or the signal/residual decorrelation rule of Mrázek & Navara (2003) it
   needs no tuning constant, and it ranks kappa and sigma as well as the stopping time.
3. **Search**: two diffusions (of ``y`` and ``y + εb``) per candidate ``(kappa, sigma)``,
   scored at stopping times spaced by :math:`2^{1/4}` until the risk has risen well past its
   minimum; kappa candidates are multiples of the noise's own gradient scale (see
   :func:`noise_gradient_scale`), so the choice scales with spacing (``1/h``), coupled
   channels (``√C``) and the number of axes exactly as the diffusion does.  Large images are
   searched on a central crop of :data:`SEARCH_PIXELS` pixels per channel.
4. **Noise level checked by the risk** (:meth:`Terms.scale_bound`): the expected SURE is
   the error, which is not negative, so every candidate bounds the true variance scale,
   :math:`c \le \tfrac1N\|y - f(y)\|^2 / (\bar v - 2d)` (:math:`d` the variance-weighted
   divergence).  Where the error is far below the noise (nearly flat images) the bound is
   tight, and a percent of error in the measured level would otherwise outweigh the error
   SURE is ranking.  The variances are scaled by the least bound, starting from
   :data:`INFLATE` (a slightly high level costs little; a low one stops flat images early).

Limits: white-noise-like texture of the picture itself (grass, sand) is indistinguishable
from added noise by any of these statistics and is smoothed as noise; where the best error is
over 20 dB below the noise, Monte-Carlo SURE cannot resolve it and the stopping time is early.

A noise-free image (:math:`\hat\sigma = 0`) has nothing to denoise: kappa falls back to
Black et al.'s robust gradient scale (:func:`peronamalik.core.kappa.estimate_kappa`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from peronamalik.core.kappa import robust_gradient_scale
from peronamalik.core.smoothing import gaussian_kernel1d, gaussian_smooth

#: Samples per block of the noise estimate, intensity bins, and the quantile of the block
#: variances in a bin that is read as the noise (edges and texture read high).
BLOCK_SAMPLES = 64
NOISE_BINS = 8
LEVEL_QUANTILE = 0.1
#: The noise curve is the line under this fraction of the bins' points (see variance_line).
ENVELOPE_QUANTILE = 0.3
#: The search looks at a central crop with at most this many pixels per channel.
SEARCH_PIXELS = 256 * 256
#: Kappa candidates, as multiples of the noise's gradient scale (see noise_gradient_scale).
KAPPA_FACTORS = (1.0, 1.5, 2.0, 3.0, 4.5)
SMOOTHED_KAPPA_FACTORS = (1.5, 2.5, 4.0, 6.0, 9.0)
#: Catté sigma candidates (units of spacing) when sigma='auto'.
SIGMA_CANDIDATES = (0.0, 1.0)
#: Longest stopping time searched, and the checkpoint ratio between stopping times.
MAX_ITERATIONS = 1000
CHECKPOINT_RATIO = 2.0 ** 0.25
#: Probe size ε as a fraction of the noise level.
PROBE_SCALE = 0.1
#: The search for one candidate stops once the risk exceeds its minimum by GIVE_UP times
#: the larger of that minimum and GIVE_UP_FLOOR times the noise variance.
GIVE_UP = 0.25
GIVE_UP_FLOOR = 0.02
#: The measured noise variance is multiplied by this before the candidates' bounds lower it.
INFLATE = 1.05
#: A candidate bounds the noise variance only where :math:`\bar v - 2d` is at least this
#: fraction of :math:`\bar v` (see Terms.scale_bound).
BOUND_MARGIN = 0.25

Runner = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class AutoParameters:
    """The chosen parameters and the evidence: the noise level (RMS, after the risk's check,
    module notes step 4) and the estimated risk (MSE; 0 or below where it is below what the
    estimate resolves)."""

    kappa: float
    iterations: int
    sigma: float
    noise: float
    risk: float

    def as_options(self) -> dict[str, float | int]:
        """``kappa``, ``iterations`` and ``sigma``, as keyword arguments of ``diffuse``."""
        return dict(kappa=self.kappa, iterations=self.iterations, sigma=self.sigma)

    def describe(self) -> str:
        """One line: the chosen values, the noise level and the estimated PSNR."""
        estimate = f", estimated PSNR {psnr_of(self.risk):.1f} dB" if self.risk > 0 else ""
        return (
            f"kappa={self.kappa:.6g} iterations={self.iterations} sigma={self.sigma:g} "
            f"(noise level {self.noise:.3g}{estimate})"
        )


def psnr_of(mse: float) -> float:
    """PSNR in dB of a mean squared error on a [0, 1] range."""
    return 10.0 * math.log10(1.0 / mse) if mse > 0 else math.inf


def second_difference(u: torch.Tensor, dim: int) -> torch.Tensor:
    """``[1, -2, 1]`` along ``dim``, valid part only."""
    n = u.shape[dim]
    return u.narrow(dim, 0, n - 2) - 2 * u.narrow(dim, 1, n - 2) + u.narrow(dim, 2, n - 2)


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


def shifted(u: torch.Tensor, spatial_ndim: int, shift: int) -> torch.Tensor:
    """``u`` without its first ``shift`` samples along every spatial axis."""
    for axis in range(u.ndim - spatial_ndim, u.ndim):
        u = u.narrow(axis, shift, u.shape[axis] - shift)
    return u


def block_levels(r: torch.Tensor, spatial_ndim: int, side: int) -> torch.Tensor:
    r"""Root mean square of ``r`` in each block (an edge or texture in a block reads high)."""
    return blocks(r, spatial_ndim, side).square().mean(dim=1).sqrt()


@functools.lru_cache(maxsize=16)
def pure_noise_quantile(spatial_ndim: int, side: int) -> float:
    """:data:`LEVEL_QUANTILE` of the squared block levels of unit white noise (fixed seed):
    the factor by which that quantile under-reads the variance of pure noise."""
    shape = (1, 1) + (side * max(3, math.ceil(65536 ** (1.0 / spatial_ndim) / side)) + 2,) * spatial_ndim
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r = noise
    for dim in range(2, noise.ndim):
        r = second_difference(r, dim)
    levels = block_levels(r / math.sqrt(6.0**spatial_ndim), spatial_ndim, side)
    return float(levels.square().quantile(LEVEL_QUANTILE))


@dataclass(frozen=True)
class NoiseModel:
    r"""Noise variance as a function of the clean intensity: :math:`v(m) = a\,m + b`
    (Gaussian: :math:`a = 0`; Poisson-like: :math:`b \approx 0`; Foi et al. 2008)."""

    slope: float
    floor: float

    def variance(self, u: torch.Tensor, spatial_ndim: int) -> torch.Tensor:
        """Per-sample variance, from a smoothed copy of ``u`` (so the noise does not bias it)."""
        if self.slope == 0:
            return torch.full_like(u, self.floor)
        return (self.slope * gaussian_smooth(u, [1.0] * spatial_ndim) + self.floor).clamp_min(0.0)


def estimate_noise_model(u: torch.Tensor, spatial_ndim: int) -> NoiseModel:
    r"""Fit :class:`NoiseModel` to a ``(B, C, *spatial)`` tensor (see the module notes).

    The high-pass :math:`r = \prod_i \delta^2_i u / \sqrt{6^d}` (Immerkær 1996, made
    separable for N-D) has the noise's variance wherever the image is locally smooth.  It is
    cut into blocks of :data:`BLOCK_SAMPLES` samples of one channel, at two offsets half a
    block apart; each block gives a level (:func:`block_levels`) and its mean intensity.
    Blocks are sorted by intensity into up to :data:`NOISE_BINS` bins; the
    :data:`LEVEL_QUANTILE` of each bin's squared levels (textured blocks read high, so the low
    ones are the noise), divided by what it reads on pure unit noise
    (:func:`pure_noise_quantile`), gives one point of the variance curve
    (:func:`bin_point`), and :func:`variance_line` puts the line :math:`v = a m + b`,
    :math:`a, b \ge 0`, under the points.
    """
    lead = u.ndim - spatial_ndim
    axes = [dim for dim in range(lead, u.ndim) if u.shape[dim] >= 3]
    if not axes or u.numel() == 0:
        return NoiseModel(0.0, 0.0)
    r, mean = u.detach(), u.detach()
    for dim in axes:
        r = second_difference(r, dim)
        mean = mean.narrow(dim, 1, u.shape[dim] - 2)
    r = r / math.sqrt(6.0 ** len(axes))
    side = min(round(BLOCK_SAMPLES ** (1.0 / spatial_ndim)), *r.shape[lead:])
    if side == 1:  # a 3-pixel-wide image: one-sample blocks have no spread to measure
        return NoiseModel(0.0, 0.0)
    # blocks of one channel each: channels differ in intensity, so in Poisson variance
    planes = [
        (shifted(r_c[None, None], spatial_ndim, shift), shifted(m_c[None, None], spatial_ndim, shift))
        for r_c, m_c in zip(r.flatten(0, lead - 1), mean.flatten(0, lead - 1))
        for shift in (0, side // 2)
    ]
    level = torch.cat([block_levels(r_c, spatial_ndim, side) for r_c, _ in planes])
    intensity = torch.cat([blocks(m_c, spatial_ndim, side).mean(dim=1) for _, m_c in planes])
    bias = pure_noise_quantile(spatial_ndim, side)
    order = intensity.argsort()
    bins = max(1, min(NOISE_BINS, len(order) // 8))
    points = [bin_point(intensity[part], level[part].square(), bias) for part in order.tensor_split(bins)]
    m = torch.tensor([p[0] for p in points], dtype=torch.float64)
    v = torch.tensor([p[1] for p in points], dtype=torch.float64)
    return NoiseModel(*variance_line(m, v))


def bin_point(intensity: torch.Tensor, variance: torch.Tensor, bias: float) -> tuple[float, float]:
    """``(m, v)`` of one intensity bin: the :data:`LEVEL_QUANTILE` of its blocks' variances over
    ``bias``, at the mean intensity of the blocks at or below that quantile (under
    Poisson-like noise the low blocks of a bin are its darker ones)."""
    low = variance.quantile(LEVEL_QUANTILE)
    return float(intensity[variance <= low].mean()), float(low) / bias


def variance_line(m: torch.Tensor, v: torch.Tensor) -> tuple[float, float]:
    r"""``(a, b)``, :math:`a, b \ge 0`, of the line :math:`v = a m + b` under the points
    ``(m_k, v_k)``: the :data:`ENVELOPE_QUANTILE` regression line (Koenker & Bassett 1978),
    least :math:`\sum_k \rho_\tau\big((v_k - a m_k - b) / v_k\big)` with
    :math:`\rho_\tau(e) = e\,(\tau - [e < 0])` (relative errors, so that a few bright bins
    that read high do not tilt it).  Intensity bins where every block is textured read high,
    never low, so the line follows the lower points; a least-squares line would tilt towards
    the textured bins.  The optimum is a vertex: a line through two points,
    or through one with :math:`a = 0` or :math:`b = 0`, so those are all tried."""
    candidates = [(0.0, float(vk)) for vk in v] + [(float(vk / mk), 0.0) for mk, vk in zip(m, v) if mk > 0]
    for k in range(len(m)):
        for l in range(k + 1, len(m)):
            if m[l] != m[k]:
                slope = float((v[l] - v[k]) / (m[l] - m[k]))
                candidates.append((slope, float(v[k]) - slope * float(m[k])))

    def loss(line: tuple[float, float]) -> float:
        e = (v - line[0] * m - line[1]) / v.clamp_min(torch.finfo(v.dtype).tiny)
        return float((e * (ENVELOPE_QUANTILE - (e < 0).to(e.dtype))).sum())

    return min((c for c in candidates if c[0] >= 0 and c[1] >= 0), key=loss, default=(0.0, 0.0))


def estimate_noise(u: torch.Tensor, spatial_ndim: int) -> float:
    """Root-mean-square noise level of a ``(B, C, *spatial)`` tensor under
    :func:`estimate_noise_model`."""
    model = estimate_noise_model(u, spatial_ndim)
    return math.sqrt(float(model.variance(u.detach(), spatial_ndim).mean()))


def noise_gradient_scale(noise: float, spacing: Sequence[float], channels: int, sigma: float = 0.0) -> float:
    r"""Typical magnitude the conductance sees from white noise of level ``noise`` alone.

    Along axis :math:`i` a face difference of the noise, after Catté's Gaussian of ``sigma``
    (:math:`g_j`, 1-D kernels in samples), has variance
    :math:`\hat\sigma^2 \sum_k (g_i(k+1) - g_i(k))^2 \prod_{j \ne i} \sum_k g_j(k)^2`
    (:math:`2\hat\sigma^2` without smoothing), divided by :math:`h_i^2`; the joint magnitude of
    ``C`` coupled channels is :math:`\sqrt C` larger.  Returns the root mean square over axes.
    """
    kernels = [
        gaussian_kernel1d(sigma / h, torch.float64, torch.device("cpu")) if sigma > 0 else torch.ones(1, dtype=torch.float64)
        for h in spacing
    ]
    energy = [float(k.square().sum()) for k in kernels]
    rough = [float(torch.diff(torch.nn.functional.pad(k, (1, 1))).square().sum()) for k in kernels]
    per_axis = [
        rough[i] * math.prod(energy[j] for j in range(len(spacing)) if j != i) / h**2 for i, h in enumerate(spacing)
    ]
    return noise * math.sqrt(channels * sum(per_axis) / len(per_axis))


def central_crop(u: torch.Tensor, spatial_ndim: int, pixels: int) -> torch.Tensor:
    """The central part of ``u`` with at most about ``pixels`` samples per channel, same aspect."""
    shape = u.shape[u.ndim - spatial_ndim :]
    total = math.prod(shape)
    if total <= pixels:
        return u
    shrink = (pixels / total) ** (1.0 / spatial_ndim)
    for axis, n in enumerate(shape):
        keep = max(3, min(n, round(n * shrink)))
        u = u.narrow(u.ndim - spatial_ndim + axis, (n - keep) // 2, keep)
    return u


def checkpoints(limit: int) -> list[int]:
    """Stopping times 1, 2, 3, ... spaced by :data:`CHECKPOINT_RATIO`, up to ``limit``."""
    times, t = [], 1.0
    while round(t) <= limit:
        if not times or round(t) > times[-1]:
            times.append(round(t))
        t *= CHECKPOINT_RATIO
    return times


@dataclass(frozen=True)
class Terms:
    r"""The parts of SURE for one candidate: ``residual`` :math:`\tfrac1N\|y - f(y)\|^2` and
    ``divergence`` :math:`\tfrac1N\sum_i v_i\,\partial f_i/\partial y_i` (Monte-Carlo), so
    that ``risk(c)`` is SURE when the true variances are :math:`c\,v_i`."""

    iterations: int
    residual: float
    divergence: float
    mean_variance: float

    def risk(self, scale: float = 1.0) -> float:
        """SURE when the true variances are ``scale`` times the measured ones."""
        return self.residual - scale * (self.mean_variance - 2 * self.divergence)

    def scale_bound(self) -> float:
        r"""The largest variance scale :math:`c` this candidate allows: :math:`E\,\mathrm{SURE}`
        is the error, which is :math:`\ge 0`, so :math:`c \le r / (\bar v - 2 d)` where
        :math:`\bar v - 2d` is at least :data:`BOUND_MARGIN` of :math:`\bar v` (inf elsewhere)."""
        room = self.mean_variance - 2 * self.divergence
        return self.residual / room if room >= BOUND_MARGIN * self.mean_variance else math.inf


def risk_trajectory(
    run: Runner,
    y: torch.Tensor,
    variance: torch.Tensor,
    times: Sequence[int],
    *,
    kappa: float,
    sigma: float,
) -> list[Terms]:
    """Monte-Carlo SURE terms (heteroscedastic: ``variance`` per sample) of diffusing ``y`` for
    each of ``times``; stops once the risk has risen :data:`GIVE_UP` past its minimum."""
    generator = torch.Generator().manual_seed(0)
    probe = (torch.randint(0, 2, y.shape, generator=generator) * 2 - 1).to(y.dtype).to(y.device)
    mean_variance = float(variance.mean())
    eps = PROBE_SCALE * math.sqrt(mean_variance)
    weights = variance * probe
    u, v = y, y + eps * probe
    n, done, best = y.numel(), 0, math.inf
    out = []
    for t in times:
        u = run(u, iterations=t - done, kappa=kappa, sigma=sigma)
        v = run(v, iterations=t - done, kappa=kappa, sigma=sigma)
        done = t
        divergence = float((weights * (v - u)).sum(dtype=torch.float64)) / (eps * n)
        terms = Terms(t, float((y - u).square().sum(dtype=torch.float64)) / n, divergence, mean_variance)
        out.append(terms)
        best = min(best, terms.risk())
        if terms.risk() > best + GIVE_UP * max(best, mean_variance * GIVE_UP_FLOOR):
            break
    return out


def search(
    run: Runner,
    y: torch.Tensor,
    *,
    variance: torch.Tensor,
    scale: Callable[[float], float],
    kappa: float | None,
    sigmas: Sequence[float],
    iterations: int | None,
) -> tuple[float, int, float, float, float]:
    """``(kappa, iterations, sigma, risk, variance scale)`` of least SURE.  ``kappa`` None tries
    :data:`KAPPA_FACTORS` times ``scale(sigma)``, the noise's gradient scale under sigma;
    ``iterations`` None tries stopping times up to :data:`MAX_ITERATIONS`.  The risk is SURE
    with the variances scaled by :data:`INFLATE` or by the least :meth:`Terms.scale_bound` of
    the candidates where that is lower (module notes, step 4)."""
    times = checkpoints(MAX_ITERATIONS) if iterations is None else [iterations]
    tried = []
    for sigma in sigmas:
        factors = KAPPA_FACTORS if sigma == 0 else SMOOTHED_KAPPA_FACTORS
        for k in [kappa] if kappa is not None else [f * scale(sigma) for f in factors]:
            tried += [(terms, k, sigma) for terms in risk_trajectory(run, y, variance, times, kappa=k, sigma=sigma)]
    c = min([INFLATE] + [terms.scale_bound() for terms, _, _ in tried])
    terms, k, sigma = min(tried, key=lambda item: item[0].risk(c))
    return k, terms.iterations, sigma, terms.risk(c), c


def choose(
    u: torch.Tensor,
    run: Runner,
    *,
    kappa: float | str,
    iterations: int | str,
    sigma: float | str,
    spacing: Sequence[float],
    coupled: bool,
) -> AutoParameters:
    """Resolve the ``'auto'`` among ``kappa``, ``iterations`` and ``sigma`` for diffusing ``u``
    (``(B, C, *spatial)``) with ``run(u, iterations=, kappa=, sigma=)`` (see the module notes).

    A noise-free image keeps Black et al.'s kappa, 0 iterations and sigma 0 for what is auto.
    """
    spatial_ndim = len(spacing)
    y = central_crop(u.detach(), spatial_ndim, SEARCH_PIXELS)
    model = estimate_noise_model(y, spatial_ndim)
    variance = model.variance(y, spatial_ndim)
    noise = math.sqrt(float(variance.mean()))
    if noise == 0:
        return AutoParameters(
            kappa=robust_gradient_scale(u, spacing, coupled) if kappa == "auto" else float(kappa),
            iterations=0 if iterations == "auto" else int(iterations),
            sigma=0.0 if sigma == "auto" else float(sigma),
            noise=0.0,
            risk=0.0,
        )
    channels = u.shape[1] if coupled else 1
    chosen_kappa, chosen_iterations, chosen_sigma, risk, c = search(
        run,
        y,
        variance=variance,
        scale=lambda s: noise_gradient_scale(noise, spacing, channels, s),
        kappa=None if kappa == "auto" else float(kappa),
        sigmas=SIGMA_CANDIDATES if sigma == "auto" else [float(sigma)],
        iterations=None if iterations == "auto" else int(iterations),
    )
    return AutoParameters(chosen_kappa, chosen_iterations, chosen_sigma, noise * math.sqrt(c), risk)
