r"""Parameters chosen from the data: noise level, kappa, stopping time and Catté's sigma.

Method
------
1. **Noise level**: a variance curve :math:`v(m) = a\,m + b` read from a robust high-pass
   in small blocks, corrected for texture, clipping and colour (:mod:`peronamalik.core.noise_level`);
   or the noise the caller gives (``noise=``): a flat line :math:`v = \sigma^2`, or the
   line :math:`v(m) = a\,m + b` of a pair (a, b) (see :func:`given_noise_model`).
2. **Risk estimate**: Monte-Carlo SURE of each candidate at each stopping time, against
   that per-sample variance (:mod:`peronamalik.core.sure`).
3. **Search**: nine diffusions (of ``y`` and ``y + εb`` for eight probes; seventeen for
   kappa at 1×) per candidate ``(kappa, sigma)``, scored at stopping times spaced by
   :math:`2^{1/4}` until the risk has risen well past its minimum (below kappa 2× the risk
   read with any one of the first four probes, at its first rise; from 2× on, and for every
   kappa in 1-D, the mean over the probes, at two checkpoints in a row and by more than
   twice its Monte-Carlo error: one probe's spike does not end the search); kappa
   candidates are multiples of the noise's own gradient scale (see
   :func:`noise_gradient_scale`; with anisotropic spacing also the widest-spaced axis's own,
   see :data:`ANISOTROPY`), so the choice scales with spacing (``1/h``), coupled
   channels (``√C``) and the number of axes exactly as the diffusion does.  Large images are
   searched on a central crop of :data:`SEARCH_PIXELS` pixels per channel.
4. **Choice**: the one-standard-error rule among the candidates (:func:`peronamalik.core.sure.one_standard_error`).

A noise-free image (:math:`\hat\sigma = 0`) has nothing to denoise: kappa falls back to
Black et al.'s robust gradient scale (:func:`peronamalik.core.kappa.estimate_kappa`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from peronamalik._validate import InputError
from peronamalik.core.arrays import value_range
from peronamalik.core.kappa import robust_gradient_scale
from peronamalik.core.noise_level import NoiseModel, estimate_noise_model
from peronamalik.core.params import KAPPA_RANGE, NoiseLevel
from peronamalik.core.smoothing import gaussian_kernel1d
from peronamalik.core.sure import Runner, one_standard_error, risk_trajectory
from peronamalik.core.threads import torch_threads

#: The search looks at a central crop with at most this many pixels per channel.
SEARCH_PIXELS = 256 * 256
#: Kappa candidates, as multiples of the noise's gradient scale (see noise_gradient_scale).
KAPPA_FACTORS = (1.0, 1.5, 2.0, 3.0, 4.5)
SMOOTHED_KAPPA_FACTORS = (1.5, 2.5, 4.0, 6.0, 9.0)
#: With anisotropic spacing, kappa at the noise's gradient scale along the widest-spaced axis
#: is tried too when it is below this fraction of the scale over all axes: with spacing (1, 2),
#: kappa 1x (the root mean square over the axes) smoothed the edges of nearly flat pictures
#: that 0.63x (the wider axis's scale) keeps (shepp_logan_phantom under Gaussian noise of
#: 0.02: 3.6 and 8.0 dB short; benchmarks/auto_quality.py --spacing 1,2).
ANISOTROPY = 0.95
#: Catté sigma candidates (units of spacing) when sigma='auto'.
SIGMA_CANDIDATES = (0.0, 1.0)
#: Longest stopping time searched, and the checkpoint ratio between stopping times.
MAX_ITERATIONS = 1000
CHECKPOINT_RATIO = 2.0 ** 0.25
#: The range of values the search works in: an image whose values spread wider or narrower
#: is searched scaled by a power of two (see range_scale).
SAFE_RANGE = (2.0**-10, 2.0**10)
#: Values of an image taken to be in [0, 1] with its noise: its PSNR's peak is 1 (else its range).
UNIT_VALUES = (-0.5, 1.5)
#: From this kappa factor on, a candidate is given up only when its risk is past the
#: tolerance at two checkpoints in a row (see risk_trajectory); in 1-D every candidate is.
PATIENT_FACTOR = 2.0


@dataclass(frozen=True)
class AutoParameters:
    """The chosen parameters and the evidence: noise level and estimated risk (MSE)."""

    kappa: float
    iterations: int
    sigma: float
    noise: float
    risk: float
    #: the peak value of the estimated PSNR (:meth:`describe`): 1 for an image in [0, 1]
    #: (values within :data:`UNIT_VALUES`, noise included), else the image's value range
    peak: float = 1.0
    #: the noise's variance line :math:`v(m) = a\,m + b` as ``(a, b)``, in the image's units,
    #: that the choice was made for (read, or as given): ``noise=noise_line`` makes the same
    #: choice again, and gives another picture of the same camera the noise read on this one
    noise_line: tuple[float, float] = (0.0, 0.0)

    def as_options(self) -> dict[str, float | int]:
        """``kappa``, ``iterations`` and ``sigma``, as keyword arguments of ``diffuse``."""
        return dict(kappa=self.kappa, iterations=self.iterations, sigma=self.sigma)

    def describe(self) -> str:
        """One line: the chosen values, the noise level (with Poisson-like noise also its
        line, as ``smooth --noise A,B`` takes it) and the estimated PSNR (for a peak other
        than 1, named).  The estimate is :attr:`risk`, SURE at the choice: rough, as the
        noise level it subtracts is read from the data (on benchmarks/auto_quality.py's tune
        photos under noise of 0.02 it read the true PSNR -1.4 to +1.7 dB, p10-p90, at worst
        +2.8 dB)."""
        peak = "" if self.peak == 1 else f" for a peak of {self.peak:.6g}"
        estimate = f", estimated PSNR {psnr_of(self.risk / self.peak**2):.1f} dB{peak}" if self.risk > 0 else ""
        slope, floor = self.noise_line
        line = f", as --noise {slope:.4g},{floor:.4g}" if slope > 0 else ""  # Poisson-like: the line to give again
        return (
            f"kappa={self.kappa:.6g} iterations={self.iterations} sigma={self.sigma:g} "
            f"(noise level {self.noise:.3g}{line}{estimate})"
        )


def psnr_of(mse: float) -> float:
    """PSNR in dB of a mean squared error on a [0, 1] range."""
    return 10.0 * math.log10(1.0 / mse) if mse > 0 else math.inf


def noise_gradient_scale(noise: float, spacing: Sequence[float], channels: int, sigma: float = 0.0) -> float:
    """Typical magnitude the conductance sees from white noise of level ``noise`` alone: the
    root mean square over the axes of :func:`noise_gradient_scales`."""
    return root_mean_square(noise_gradient_scales(noise, spacing, channels, sigma))


def root_mean_square(values: Sequence[float]) -> float:
    r""":math:`\sqrt{\tfrac1n \sum_i v_i^2}`."""
    return math.sqrt(sum(value**2 for value in values) / len(values))


def noise_gradient_scales(noise: float, spacing: Sequence[float], channels: int, sigma: float = 0.0) -> list[float]:
    r"""Per axis, the root mean square of a face difference of white noise of level ``noise``.

    Along axis :math:`i` a face difference of the noise, after Catté's Gaussian of ``sigma``
    (:math:`g_j`, 1-D kernels in samples), has variance
    :math:`\hat\sigma^2 \sum_k (g_i(k+1) - g_i(k))^2 \prod_{j \ne i} \sum_k g_j(k)^2`
    (:math:`2\hat\sigma^2` without smoothing), divided by :math:`h_i^2`; the joint magnitude of
    ``C`` coupled channels is :math:`\sqrt C` larger.
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
    return [noise * math.sqrt(channels * term) for term in per_axis]


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


def search(
    run: Runner,
    y: torch.Tensor,
    *,
    variance: torch.Tensor,
    scales: Callable[[float], Sequence[float]],
    kappa: float | None,
    sigmas: Sequence[float],
    iterations: int | None,
) -> tuple[float, int, float, float]:
    """``(kappa, iterations, sigma, risk)`` that :func:`one_standard_error` picks among the
    candidates.  ``scales(sigma)``: the noise's gradient scale under sigma along each axis
    (:func:`noise_gradient_scales`).  ``kappa`` None tries :data:`KAPPA_FACTORS` times their
    root mean square, and the smallest axis's own where that is below :data:`ANISOTROPY`
    times it (anisotropic spacing); ``iterations`` None tries stopping times up to
    :data:`MAX_ITERATIONS`.

    In 1-D (``y`` of shape ``(B, C, N)``) every kappa tried is ``patient`` in
    :func:`risk_trajectory`, kappa 1× included: given up at the first rise one probe read,
    kappa 1× stopped piecewise-constant signals at t = 38-91 where their true error goes on
    falling to t = 91-861 (steps under Gaussian noise of 0.05 and Poisson noise of 0.02:
    2.1 and 3.9 dB short of the grid oracle, Donoho & Johnstone's Blocks 3.0-6.9 dB);
    followed by its mean risk, the choice comes within 0.72 and 0.02 dB of it, and within
    0.00-1.34 dB on Blocks (benchmarks/auto_quality.py --set signals, --set testsignals).
    In 2-D and 3-D kappa 1× stays impatient: there the mean runs it on into stopping times
    Stein's estimate reads too low (see :func:`risk_trajectory`)."""
    times = checkpoints(MAX_ITERATIONS) if iterations is None else [iterations]
    searched_in_1d = y.ndim - 2 == 1 and kappa is None  # every kappa tried is patient
    candidates = []
    for sigma in sigmas:
        factors = KAPPA_FACTORS if sigma == 0 else SMOOTHED_KAPPA_FACTORS
        per_axis = scales(sigma)
        scale, smallest = root_mean_square(per_axis), min(per_axis)
        tried = [(f * scale, f) for f in factors]
        if smallest < ANISOTROPY * scale:
            tried.insert(0, (smallest, 1.0))  # probed as the noise's own scale
        # a given kappa has no factor (NaN): it is neither wide nor patient (nor in 1-D)
        for k, factor in [(kappa, math.nan)] if kappa is not None else tried:
            patient = factor >= PATIENT_FACTOR or searched_in_1d
            candidates += risk_trajectory(run, y, variance, times, kappa=k, sigma=sigma, wide=factor <= 1, patient=patient)
    chosen = one_standard_error(run, y, variance, candidates)
    return chosen.kappa, chosen.iterations, chosen.sigma, chosen.risk


def choose(
    u: torch.Tensor,
    run: Runner,
    *,
    kappa: float | str,
    iterations: int | str,
    sigma: float | str,
    spacing: Sequence[float],
    coupled: bool,
    noise: NoiseLevel = "auto",
) -> AutoParameters:
    r"""Resolve the ``'auto'`` among ``kappa``, ``iterations`` and ``sigma`` for diffusing ``u``
    (``(B, C, *spatial)``) with ``run(u, iterations=, kappa=, sigma=)`` (see the module notes).

    ``noise``: the noise when known, a standard deviation or a pair (a, b) of the variance
    :math:`a\,m + b` (:func:`given_noise_model`), else ``'auto'``: read from the image
    (:func:`estimate_noise_model`).
    A noise-free image keeps Black et al.'s kappa, 0 iterations and sigma 0 for what is auto.
    The search runs on one thread (torch's and the C kernels'): its diffusions are of at most
    :data:`SEARCH_PIXELS` per channel, hundreds of short calls, and waking the other workers
    for each costs more than they save (camera's 256² crop under noise of 0.05, two cores:
    sigma 0 0.82 → 0.42 s, sigma ``'auto'`` 9.97 → 5.66 s; its 128² corner 66.8 → 48.1 s;
    the same choice).
    A spatial axis of length 1 (a row stored as ``(1, N)``, a single slice) has no neighbours
    to read the noise or diffuse along: the search runs without it, as on the squeezed array
    (the diffusion of the squeezed array is the same).
    """
    crop = central_crop(u.detach(), len(spacing), SEARCH_PIXELS)
    kept = [axis for axis, n in enumerate(crop.shape[2:]) if n > 1] or [0]
    y = crop.reshape(*crop.shape[:2], *(crop.shape[2 + axis] for axis in kept))
    if y.shape != crop.shape:
        run = functools.partial(on_shape, run, crop.shape)
    squeezed, spatial_ndim = [spacing[axis] for axis in kept], len(kept)
    scale = range_scale(y)
    y = y / scale
    model = estimate_noise_model(y, spatial_ndim) if noise == "auto" else given_noise_model(noise, scale)
    line = dataclasses.astuple(model.of_values_times(scale))  # in the image's units
    variance = model.variance(y)
    noise = math.sqrt(float(variance.mean()))
    if noise == 0:
        return AutoParameters(
            kappa=in_kappa_range(robust_gradient_scale(u, spacing, coupled), u) if kappa == "auto" else float(kappa),
            iterations=0 if iterations == "auto" else int(iterations),
            sigma=0.0 if sigma == "auto" else float(sigma),
            noise=0.0,
            risk=0.0,
            noise_line=line,
        )
    channels = u.shape[1] if coupled else 1
    if kappa == "auto":  # every candidate must be a kappa the kernels take
        per_axis = noise_gradient_scales(noise, squeezed, channels)
        in_kappa_range(min(per_axis) * scale, u)
        in_kappa_range(max(*KAPPA_FACTORS, *SMOOTHED_KAPPA_FACTORS) * root_mean_square(per_axis) * scale, u)
    with torch_threads(1):  # small diffusions, many of them: waking workers costs more than they save
        chosen_kappa, chosen_iterations, chosen_sigma, risk = search(
            run if scale == 1 else lambda v, *, kappa, **options: run(v * scale, kappa=kappa * scale, **options) / scale,
            y,
            variance=variance,
            scales=lambda s: noise_gradient_scales(noise, squeezed, channels, s),
            kappa=None if kappa == "auto" else float(kappa) / scale,
            sigmas=SIGMA_CANDIDATES if sigma == "auto" else [float(sigma)],
            iterations=None if iterations == "auto" else int(iterations),
        )
    chosen_kappa = in_kappa_range(chosen_kappa * scale, u) if kappa == "auto" else float(kappa)
    return AutoParameters(
        chosen_kappa, chosen_iterations, chosen_sigma, noise * scale, risk * scale**2, psnr_peak(u), noise_line=line
    )


def given_noise_model(noise: float | tuple[float, float], scale: float) -> NoiseModel:
    r"""The noise a caller gives, as the :class:`NoiseModel` of the image divided by ``scale``.

    A standard deviation :math:`\sigma` is the flat line :math:`v = \sigma^2`; a pair
    :math:`(a, b)` the line :math:`v(m) = a\,m + b` at clean intensity :math:`m` (Foi et al.
    2008's Poisson-Gaussian model: Poisson counts scaled by :math:`a`, plus Gaussian noise of
    variance :math:`b`; :math:`b < 0` for counts over an offset :math:`m_0`,
    :math:`a\,(m - m_0)`, the variance 0 below it), both in the image's units.  Dividing the
    values by :math:`s` divides :math:`a` by :math:`s` and :math:`b` by :math:`s^2`.

    >>> given_noise_model(0.5, 2.0), given_noise_model((0.5, 4.0), 2.0)
    (NoiseModel(slope=0.0, floor=0.0625), NoiseModel(slope=0.25, floor=1.0))
    """
    slope, floor = (0.0, float(noise) ** 2) if isinstance(noise, (int, float)) else noise
    return NoiseModel(slope, floor).of_values_times(1.0 / scale)


def psnr_peak(u: torch.Tensor) -> float:
    """:attr:`AutoParameters.peak` of ``u``: 1 when its values lie within :data:`UNIT_VALUES`,
    else the spread of its values."""
    low, high = value_range(u)
    return 1.0 if UNIT_VALUES[0] <= low and high <= UNIT_VALUES[1] else high - low


def on_shape(run: Runner, shape: torch.Size, v: torch.Tensor, **options: float) -> torch.Tensor:
    """``run`` of ``v`` laid out as ``shape`` (the same samples), in ``v``'s own shape."""
    return run(v.reshape(shape), **options).reshape(v.shape)


def range_scale(u: torch.Tensor) -> float:
    r"""A power of two :math:`s` that brings the range of ``u``'s values within
    :data:`SAFE_RANGE` (1 where it is already, as for images in [0, 1]): the search runs on
    :math:`u / s` with kappa :math:`/ s`, which diffuses exactly as :math:`u` does (the
    conductance reads :math:`|\nabla u| / \kappa`, and a power of two scales floats exactly),
    and its kappa, noise level and risk are scaled back.  The noise estimate squares the values:
    in float32 an image of values near :math:`10^{30}` read a noise level of NaN there."""
    low, high = value_range(u)
    spread = high - low
    if spread == 0 or SAFE_RANGE[0] <= spread <= SAFE_RANGE[1]:
        return 1.0
    return 2.0 ** round(math.log2(spread))


def in_kappa_range(kappa: float, u: torch.Tensor) -> float:
    """``kappa`` chosen for ``u``, or an :class:`InputError` naming the image's values where it
    falls outside :data:`~peronamalik.core.params.KAPPA_RANGE` (the kernels' float32 limits)."""
    if KAPPA_RANGE[0] <= kappa <= KAPPA_RANGE[1]:
        return kappa
    low, high = value_range(u)
    raise InputError(
        f"kappa='auto' needs a kappa near {kappa:.3g} for an image with values in [{low:.3g}, {high:.3g}], outside "
        f"kappa's range [{KAPPA_RANGE[0]:g}, {KAPPA_RANGE[1]:g}]: scale the image (e.g. to [0, 1])"
    )
