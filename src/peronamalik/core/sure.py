r"""Stein's unbiased risk estimate of a diffusion, and the one-standard-error choice.

Method
------
1. **Risk estimate** (Stein 1981; Monte-Carlo SURE, Ramani, Blu & Unser 2008): for a
   denoiser :math:`f` and independent noise of variance :math:`v_i` at sample :math:`i`,

   .. math:: \mathrm{SURE}(f) = \tfrac1N\|y - f(y)\|^2 - \tfrac1N\textstyle\sum_i v_i
             + \tfrac{2}{N\varepsilon}\, (v \odot b)^\top\big(f(y + \varepsilon b) - f(y)\big)

   estimates the mean squared error :math:`\tfrac1N\|f(y) - x\|^2` against the unknown clean
   image :math:`x` without bias for Gaussian noise, and to first order for mixed
   Poisson-Gaussian noise with :math:`v_i = v(y_i)` read at the observation itself
   (PG-URE, Le Montagner et al. 2014; see :meth:`peronamalik.core.noise_level.NoiseModel.variance`) (:math:`b` a
   fixed-seed Rademacher probe, the divergence term averaged over :data:`PROBES` of them,
   :math:`\varepsilon` a tenth of the noise level; the candidate of kappa at the noise's own
   gradient scale, where Perona-Malik is nearly discontinuous, is also probed at three
   tenths and that reading kept when 10 % higher, see :func:`risk_trajectory`).  Unlike the
   residual-variance (discrepancy) rule or the signal/residual decorrelation rule of Mrázek &
   Navara (2003) it needs no tuning constant, and it ranks kappa and sigma as well as the
   stopping time.
2. **Choice** (:func:`one_standard_error`): not the least SURE itself but, among the
   candidates that smooth at least as much (kappa and stopping time no smaller) and whose
   SURE is within one standard error of the least, the one that smooths the most: the
   one-standard-error rule (Breiman et al. 1984; Hastie, Tibshirani & Friedman 2009,
   sec. 7.10).  On nearly flat images the true error of long stopping times is far below
   the noise variance, the differences between their risks are below SURE's own error,
   and the least one is chance (it stopped 16 dB short on a binary photo).  The standard
   error of a candidate that stops later reads the noise's square at each sample from its
   residual (:func:`risk_difference_error`): Perona-Malik keeps the samples whose noise is
   large, where the noise's mean square under-reads it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

#: Probe size ε as a fraction of the noise level; the wider probe of the candidates at (or
#: below) the noise's own gradient scale, and by how much (a fraction of the first reading)
#: its divergence must exceed the first one's to replace it (see risk_trajectory).
PROBE_SCALE = 0.1
#: Independent Rademacher probes (fixed seeds 0, 1, ...) whose divergences are averaged, and
#: how many of its Monte-Carlo standard errors a patient candidate's mean risk must rise past
#: its minimum to count as a rise (see risk_trajectory).
PROBES = 8
MONTE_CARLO_ERRORS = 2.0
#: The probes (the first ones) whose single rise ends the search of an impatient candidate
#: (see risk_trajectory): the rule was set with four, and each probe more is one more chance
#: of an early spike (with all eight, counts over a camera offset stopped at t = 54 rather
#: than 152, 2.2 rather than 1.3 dB short of a grid).
IMPATIENT_PROBES = 4
WIDE_PROBE_SCALE = 0.3
WIDE_PROBE_GATE = 0.1
#: The search for one candidate stops once the risk exceeds its minimum by this fraction of
#: the minimum's magnitude (the estimate can be negative: it is offset by the error of the
#: noise variance).
GIVE_UP = 0.25
#: Step 2's standard error reads the noise's square at a sample as the squared residual of
#: a candidate that stops later, kept between the variance and this many times it (see
#: risk_difference_error).
RESIDUAL_CAP = 4.0

Runner = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Candidate:
    r"""One point of the search: parameters, estimated risk (MSE) and the mean squared
    residual :math:`\tfrac1N\|y - f(y)\|^2` (how much the candidate smooths)."""

    kappa: float
    sigma: float
    iterations: int
    risk: float
    residual: float

    def smooths_at_least_as_much_as(self, other: Candidate) -> bool:
        """Same sigma, a kappa and a stopping time no smaller than ``other``'s."""
        return self.sigma == other.sigma and self.kappa >= other.kappa and self.iterations >= other.iterations


def risk_trajectory(
    run: Runner,
    y: torch.Tensor,
    variance: torch.Tensor,
    times: Sequence[int],
    *,
    kappa: float,
    sigma: float,
    wide: bool = False,
    patient: bool = False,
) -> list[Candidate]:
    r"""Monte-Carlo SURE (heteroscedastic: ``variance`` per sample) of diffusing ``y`` for each
    of ``times``; stops once the risk read with any one of the first :data:`IMPATIENT_PROBES`
    probes has risen :data:`GIVE_UP` past that probe's minimum, or with ``patient`` once the
    mean risk has risen past its minimum by more than :data:`GIVE_UP` and
    :data:`MONTE_CARLO_ERRORS` Monte-Carlo errors at two checkpoints in a row.

    The divergence is the finite difference
    :math:`D_\varepsilon = (v \odot b)^\top (f(y + \varepsilon b) - f(y)) / \varepsilon` with
    :math:`\varepsilon_1 =` :data:`PROBE_SCALE` times the noise level (Ramani, Blu & Unser
    2008).  With ``wide`` (the candidate of kappa at the noise's own gradient scale) the same
    probe is also taken at :math:`\varepsilon_2 =` :data:`WIDE_PROBE_SCALE` times the noise
    level, and :math:`D_{\varepsilon_2}` is used when it exceeds :math:`D_{\varepsilon_1}` by
    more than :data:`WIDE_PROBE_GATE` :math:`|D_{\varepsilon_1}|`.  There Perona-Malik is
    nearly discontinuous (noise spikes above kappa are kept, those below flattened): its
    steep transitions are rarely met by a small probe, so :math:`D_{\varepsilon_1}` reads the
    divergence low and the risk of that candidate too low (it stopped 6–11 dB short on
    phantoms and binary pictures); a smooth map reads nearly the same at both sizes.  The
    gate and the restriction to that candidate keep the larger reading from raising every
    risk (the larger of two slightly different readings is biased up): applied to all
    candidates the wide probe cost 0.02–0.05 dB in the median.  Costs one more diffusion per
    stopping time and probe of that candidate.

    Each of :data:`PROBES` independent probes gives its own :math:`D` (the Monte-Carlo
    estimate of the trace of the Jacobian, Hutchinson 1989, whose variance falls as
    1/probes), and the candidate's risk uses their mean.  On nearly flat images the risks of
    long stopping times lie within 10⁻³ of the noise variance of each other, about one
    probe's error, so which probes were drawn decided the choice: over the five benchmark
    sets, two probes missed the oracle by more than 1.5 dB in 2, 6 or 4 cases with seeds
    (0, 1), (1, 2) or (2, 3); four probes (with the patient give-up below) in 1, 2, 1, 2, 2
    with seeds 0–3, 4–7, ..., 16–19.  Eight probes halve the Monte-Carlo variance: over the
    1176 cases of benchmarks/auto_quality.py's 14 sets, 75 rather than 78 cases over 0.5 dB
    and a mean shortfall of 0.130 rather than 0.137 dB (a whole 96² binary_blobs under
    Poisson noise of 0.05, whose choice had turned on a 2 % change of the noise reading,
    3.63 → 0.00 dB), for a search 1.2–1.4× as long with sigma 0 and 1.75–1.9× with sigma
    ``'auto'`` (camera's 256² crop: 0.25 → 0.35 s and 2.6 → 5.0 s).  Below
    :data:`peronamalik.core.auto.PATIENT_FACTOR` the search ends at the first rise seen by any
    one probe (of the first :data:`IMPATIENT_PROBES`): a mean that hides one probe's rise runs kappa 1× on into the stopping times Stein's estimate
    reads too low (a binary photo under Poisson noise of 0.02: 17 dB short); there Stein's
    estimate is biased low on nearly discontinuous maps, and a search run on meets stopping
    times read below the truth.

    ``patient`` (kappa at :data:`peronamalik.core.auto.PATIENT_FACTOR` times the noise's gradient scale or more)
    follows the mean risk instead, and ignores a single checkpoint above the tolerance: one
    probe can meet a steep transition and read a spike (a binary photo's kappa 2× jumped
    33 % at one stopping time).  A rise counts only beyond :data:`MONTE_CARLO_ERRORS`
    Monte-Carlo standard errors of the difference between the two readings, taken from the
    probes' per-sample terms :math:`d = v \odot b \odot (f(y + \varepsilon b) - f(y)) /
    \varepsilon` at the two stopping times as :math:`\tfrac{2}{NP}\sqrt{\sum_p \|d_p -
    d_p^{\min}\|^2}` (Hutchinson's variance, :math:`\sum_{ij} A_{ij}^2`, read from one
    product :math:`Ab` per probe): where the least risk is about 10⁻³ of the noise variance,
    25 % of it is far below one probe's error.  Given up on one probe's rise, kappa 2× on a
    binary photo under Poisson noise of 0.1 (horse) stopped at t = 23–27 and the choice went
    5.6–7.9 dB short (the held-out set's centre crop with probe seeds 1 and 2; the tests'
    noise draw with seeds 0 and 1).
    """
    mean_variance = float(variance.mean())
    steps = [scale * math.sqrt(mean_variance) for scale in (PROBE_SCALE, WIDE_PROBE_SCALE)[: 2 if wide else 1]]
    probes = [
        (torch.randint(0, 2, y.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1).to(y.dtype).to(y.device)
        for seed in range(PROBES)
    ]
    u, probed = y, [[y + eps * b for eps in steps] for b in probes]
    n, done, best, was_over = y.numel(), 0, [math.inf] * IMPATIENT_PROBES, False
    least: tuple[float, list[torch.Tensor]] = (math.inf, [])  # patient: the mean's minimum and its terms

    def tolerance(least_risk: float) -> float:
        return GIVE_UP * max(abs(least_risk), mean_variance * 1e-3)

    out = []
    for t in times:
        u = run(u, iterations=t - done, kappa=kappa, sigma=sigma)
        probed = [[run(v, iterations=t - done, kappa=kappa, sigma=sigma) for v in vs] for vs in probed]
        done = t
        residual = float((y - u).square().sum(dtype=torch.float64)) / n
        terms = [divergence_terms(variance * b, u, vs, steps) for b, vs in zip(probes, probed)]
        risks = [residual - mean_variance + 2 * float(d.sum(dtype=torch.float64)) / n for d in terms]
        risk = sum(risks) / PROBES
        out.append(Candidate(kappa, sigma, t, risk, residual))
        if patient:
            least = min(least, (risk, terms), key=lambda pair: pair[0])
            spread = sum(float((d - e).square().sum(dtype=torch.float64)) for d, e in zip(terms, least[1]))
            over = risk > least[0] + max(tolerance(least[0]), MONTE_CARLO_ERRORS * 2 * math.sqrt(spread) / n / PROBES)
            if over and was_over:
                break
            was_over = over
        else:
            best = [min(m, r) for m, r in zip(best, risks)]
            if any(r > m + tolerance(m) for r, m in zip(risks, best)):
                break
    return out


def divergence_terms(
    weights: torch.Tensor, u: torch.Tensor, probed: Sequence[torch.Tensor], steps: Sequence[float]
) -> torch.Tensor:
    r"""One probe's per-sample divergence terms :math:`v \odot b \odot (f(y + \varepsilon b) - f(y))
    / \varepsilon` (``weights`` :math:`= v \odot b`; their sum is the probe's divergence), read at
    the first of ``steps`` or, when given and the sum more than :data:`WIDE_PROBE_GATE` higher,
    at the second (see :func:`risk_trajectory`)."""
    terms, *wider = (weights * (v - u) / eps for v, eps in zip(probed, steps))
    divergence = float(terms.sum(dtype=torch.float64))
    if wider and float(wider[0].sum(dtype=torch.float64)) - divergence > WIDE_PROBE_GATE * abs(divergence):
        return wider[0]
    return terms


def risk_difference_error(
    y: torch.Tensor, variance: torch.Tensor, smoother: torch.Tensor, target: torch.Tensor, *, later: bool
) -> float:
    r"""Standard error of :math:`\mathrm{SURE}(c) - \mathrm{SURE}(c^*)` for the result ``smoother``
    of a candidate :math:`c` that smooths more than :math:`c^*` (result ``target``); ``later``:
    :math:`c` stops later than :math:`c^*`.

    The two estimates share the noise :math:`n`; their difference is dominated by
    :math:`-\tfrac2N\langle n, f_c - f_{c^*}\rangle`, of standard deviation
    :math:`\tfrac2N\sqrt{\textstyle\sum_i n_i^2\,(f_c - f_{c^*})_i^2}`.  With :math:`n_i^2`
    read as its mean :math:`v_i` that assumes the difference :math:`f_c - f_{c^*}` independent of
    the noise at :math:`i`; Perona-Malik is nearly discontinuous, and where :math:`c^*` keeps a
    sample that :math:`c` smooths away the noise there is large because it was kept (spikes
    above kappa, smoothed away only later).  So for a candidate that stops later
    :math:`n_i^2` is read as the squared residual :math:`(y - f_c)_i^2` of that candidate (the
    sandwich variance of White 1980), kept between :math:`v_i` and :data:`RESIDUAL_CAP`
    :math:`v_i`: the residual also holds the signal that :math:`c` smooths away, which a
    larger cap counts as noise.  Candidates that stop at the same time as :math:`c^*` (a larger
    kappa) keep :math:`v_i`: at t = 861 kappa 2× and 3× read within 3 × 10⁻⁴ of the noise
    variance of each other on a binary photo, a tie that the wider error resolved towards 3×
    (2.3 dB short).

    A binary photo (128² of horse, Poisson noise of 0.1, the tests' noise draw 0) read
    kappa 2× at t = 76 4.2 × 10⁻³ of the noise variance below t = 861 (true: 7.4 × 10⁻³
    above), 1.6 times the error read with :math:`v_i`: 17 dB short of the grid oracle.
    Over 10 draws (true noise model, kappa 0.22) that difference read 1.2 of those errors
    high on average (spread 1.6).  On draws 0 and 1 the realized :math:`\langle n, f_c - f_{c^*}\rangle`
    lay 6–7 such errors from its mean (read exactly with Chen's identity for Poisson noise,
    :math:`E[(y_i - x_i) g(y)] = E[y_i (g(y) - g(y - a e_i))]`), while the first-order divergence
    read that mean within 0.6 of them: the noise draw's error, not the divergence's.
    """
    weight = variance
    if later:
        weight = torch.maximum(variance, torch.minimum((y - smoother).square(), RESIDUAL_CAP * variance))
    return 2 * math.sqrt(float((weight * (smoother - target).square()).sum(dtype=torch.float64))) / y.numel()


def one_standard_error(run: Runner, y: torch.Tensor, variance: torch.Tensor, candidates: Sequence[Candidate]) -> Candidate:
    r"""The candidate that smooths the most (largest residual) among those that smooth at
    least as much as the least-risk one :math:`c^*` (kappa and stopping time no smaller) and
    whose risk is within one standard error (:func:`risk_difference_error`) of the least: the
    one-standard-error rule of Breiman et al. (1984) (Hastie, Tibshirani & Friedman 2009,
    sec. 7.10).

    Where the true error is far below the noise variance (nearly flat images), the risks of
    long stopping times differ by less than that error and the least one is chance; the rule
    then takes the longest.  Costs one more diffusion of ``y`` per kappa that smooths at
    least as much.
    """
    best = min(candidates, key=lambda c: c.risk)
    target = run(y, iterations=best.iterations, kappa=best.kappa, sigma=best.sigma)
    chosen = best
    smoother = [c for c in candidates if c.residual > best.residual and c.smooths_at_least_as_much_as(best)]
    for kappa in dict.fromkeys(c.kappa for c in smoother):
        u, done = y, 0
        for c in sorted((c for c in smoother if c.kappa == kappa), key=lambda c: c.iterations):
            u = run(u, iterations=c.iterations - done, kappa=kappa, sigma=best.sigma)
            done = c.iterations
            error = risk_difference_error(y, variance, u, target, later=c.iterations > best.iterations)
            if c.risk <= best.risk + error and c.residual > chosen.residual:
                chosen = c
    return chosen
