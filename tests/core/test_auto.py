"""``'auto'`` parameters: how the choices scale with the modes, and how close they come to the
best grid parameters against the clean image (the oracle)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from skimage import data

from peronamalik import diffuse, estimate_kappa, estimate_parameters, quality
from peronamalik.core import auto, noise_level, sure
from peronamalik.core.noise_level.finest import noise_model_at_finest_scale
from peronamalik.core.diffuse import run_diffusion
from tests.core.helpers import blocks, dense_spots, disk, gaussian, poisson, sample_photo


def psnr(clean: np.ndarray, result: np.ndarray) -> float:
    return -10 * math.log10(float(np.mean((np.asarray(result, np.float64) - clean) ** 2)))


# ---------------------------------------------------------------- noise level and texture, against the oracle


@pytest.mark.parametrize("noise", [gaussian, poisson])
def test_texture_under_low_noise_is_smoothed_near_the_oracle(noise) -> None:
    """Grass under noise of 0.02 (its finest scale reads 2.5 times that): with half the
    finest variance as the floor the noise read 1.78 times too high, kappa twice the best
    one, 2.7 dB short of the grid oracle."""
    clean = sample_photo("grass").astype(np.float64)
    noisy = noise(clean, 0.02)
    chosen = estimate_parameters(noisy)
    assert chosen.noise < 1.6 * 0.02
    assert oracle_psnr(clean, noisy, 0.02) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 1.5


@pytest.mark.parametrize(("blobs_seed", "s"), [(0, 0.02), (2, 0.05)])
def test_busy_binary_picture_is_smoothed_near_the_oracle(blobs_seed: int, s: float) -> None:
    """A binary picture with an edge through most noise blocks, under Poisson noise: its
    octave ratio (6–43) passed the texture check, the noise read 15–20 % low and the search
    stopped after 3–7 iterations, 13–20 dB short of the grid oracle."""
    clean = data.binary_blobs(length=128, rng=blobs_seed).astype(np.float64)
    noisy = poisson(clean, s)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, s) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 1.5


@pytest.mark.parametrize("noise", [gaussian, poisson])
def test_dense_blurred_spots_are_not_read_as_texture(noise) -> None:
    """Spots blurred over 1.2 px are smooth at the pixel scale and sharp one octave down: the
    octave correction read them as texture (the noise 0.53-0.66x, 1.85 dB short of the grid
    oracle under Gaussian noise of 0.05).  Their finest scale has Gaussian tails, which bound
    what the correction takes out."""
    clean, s = dense_spots(), 0.05
    noisy = noise(clean, s)
    chosen = estimate_parameters(noisy)
    true_noise = float(np.sqrt(np.mean((noisy - clean) ** 2)))
    assert chosen.noise > 0.8 * true_noise
    assert oracle_psnr(clean, noisy, s) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 0.5


def test_poisson_slope_is_read_right_beside_a_black_border() -> None:
    """128² of retina's border, 84 % black (noise-free under Poisson noise): the brightest
    intensity bin spans 0.04-0.6, its quietest blocks are its darkest, and the bins' quantiles
    read the slope 0.73x (2.4 dB short of the oracle); read against the line per block,
    within 15 %, and auto within 0.5 dB of the oracle."""
    clean = np.ascontiguousarray(data.retina()[212:340, 1240:1368].astype(np.float64) / 255)
    s = 0.1
    noisy = poisson(clean, s, seed=7)
    y = torch.from_numpy(noisy).permute(2, 0, 1)[None]
    assert noise_level.estimate_noise_model(y, 2).slope == pytest.approx(2 * s**2, rel=0.15)
    result = diffuse(noisy, kappa="auto", iterations="auto", channel_axis=-1, coupled=True)
    assert oracle_psnr(clean, noisy, s, colour=True) - psnr(clean, result) < 0.5


def coffee_three_quarters_in() -> np.ndarray:
    """128² of coffee three quarters in: cloth and saucer whose clean channels read 0.61 of
    Gaussian noise of 0.02 (benchmarks/auto_quality.py --set unseen)."""
    image = data.coffee().astype(np.float64) / 255
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[3 * h // 4 - 64 : 3 * h // 4 + 64, 3 * w // 4 - 64 : 3 * w // 4 + 64])


def test_texture_shared_by_the_colour_channels_is_not_read_as_noise() -> None:
    """Noise independent between the channels is all in their differences, texture mostly
    not: the channels alone read the noise 1.4x on the cloth, their contrasts right, and auto
    comes within 0.5 dB of the oracle (0.78 dB short before)."""
    clean = coffee_three_quarters_in()
    noisy = gaussian(clean, 0.02)
    y = torch.from_numpy(noisy).permute(2, 0, 1)[None]
    assert math.sqrt(noise_model_at_finest_scale(y, 2).floor) > 1.25 * 0.02
    assert noise_level.estimate_noise(y, 2) == pytest.approx(0.02, rel=0.1)
    result = diffuse(noisy, kappa="auto", iterations="auto", channel_axis=-1, coupled=True)
    assert oracle_psnr(clean, noisy, 0.02, colour=True) - psnr(clean, result) < 0.5


def test_noise_free_image_is_left_alone() -> None:
    clean = blocks((64, 64))
    chosen = estimate_parameters(clean)
    assert chosen.noise == 0 and chosen.iterations == 0
    assert chosen.kappa == pytest.approx(estimate_kappa(clean))


@pytest.mark.parametrize("shape", [(3, 3, 3), (3, 3)])
def test_three_pixel_wide_image_has_no_measurable_noise(shape: tuple[int, ...]) -> None:
    """The high-pass of a 3-wide axis is one sample wide, and every axis is that short: no
    block has a spread to measure, so the image counts as noise-free (it raised
    ZeroDivisionError).  A longer axis is read across the short ones (see
    test_auto_on_a_short_stack_reads_its_noise_in_the_slices)."""
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    chosen = estimate_parameters(image)
    assert chosen.noise == 0 and chosen.iterations == 0
    np.testing.assert_array_equal(diffuse(image, iterations="auto", kappa="auto"), image)


# ---------------------------------------------------------------- scaling of kappa


def test_kappa_scales_with_spacing_and_keeps_the_stopping_time() -> None:
    noisy = gaussian(sample_photo("camera", 64).astype(np.float64), 0.05)
    unit = estimate_parameters(noisy)
    for h in (0.5, 2.0):
        scaled = estimate_parameters(noisy, spacing=h)
        assert scaled.kappa == pytest.approx(unit.kappa / h, rel=1e-6)
        assert scaled.iterations == unit.iterations


def kappas_tried(
    image: np.ndarray, coupled: bool, spacing: tuple[float, ...] = (1.0, 1.0)
) -> tuple[np.ndarray, float]:
    """The kappa candidates the search diffuses with (per unit of the estimated noise)."""
    u = torch.from_numpy(np.moveaxis(image, -1, 0) if image.ndim == 3 else image[None])[None]
    tried = set()

    def run(v: torch.Tensor, *, iterations: int, kappa: float, sigma: float) -> torch.Tensor:
        tried.add(kappa)
        return run_diffusion(v, iterations=iterations, kappa=kappa, sigma=sigma, coupled=coupled, spacing=spacing)

    chosen = auto.choose(u, run, kappa="auto", iterations=3, sigma=0.0, spacing=spacing, coupled=coupled)
    return np.array(sorted(tried)) / chosen.noise, chosen.noise


def test_coupled_kappa_candidates_are_sqrt_c_larger() -> None:
    grey = gaussian(sample_photo("camera", 48).astype(np.float64), 0.05)
    single, noise = kappas_tried(grey, coupled=False)
    assert len(single) == len(auto.KAPPA_FACTORS)
    for channels in (2, 3):
        stacked = np.repeat(grey[..., None], channels, axis=-1)
        joint, joint_noise = kappas_tried(stacked, coupled=True)
        assert joint_noise == pytest.approx(noise, rel=0.1)  # equal channels are not independent samples
        np.testing.assert_allclose(joint, math.sqrt(channels) * single, rtol=1e-9)
        np.testing.assert_allclose(kappas_tried(stacked, coupled=False)[0], single, rtol=1e-9)


def test_anisotropic_spacing_also_tries_the_wider_axis_noise_scale() -> None:
    noisy = gaussian(sample_photo("camera", 48).astype(np.float64), 0.05)
    isotropic, _ = kappas_tried(noisy, coupled=False, spacing=(2.0, 2.0))
    assert len(isotropic) == len(auto.KAPPA_FACTORS)
    tried, _ = kappas_tried(noisy, coupled=False, spacing=(1.0, 2.0))
    rms = auto.noise_gradient_scale(1.0, (1.0, 2.0), 1)
    per_axis = auto.noise_gradient_scales(1.0, (1.0, 2.0), 1)
    np.testing.assert_allclose(tried, sorted([min(per_axis), *(f * rms for f in auto.KAPPA_FACTORS)]), rtol=1e-9)


def test_anisotropic_spacing_keeps_a_phantoms_edges() -> None:
    """Spacing (1, 2): kappa at the noise's scale over both axes (its root mean square) blurs
    the phantom's faint edges along the wider axis; with those candidates alone auto stopped
    early, 10 dB short of the oracle (kappa 0.7x at t = 861, which the wider axis's own scale
    gives)."""
    clean = data.shepp_logan_phantom()[36:164, 36:164].astype(np.float64)
    noisy = gaussian(clean, 0.02)
    spacing = (1.0, 2.0)
    best = quality.oracle_pm(clean, noisy, 0.02, colour=False, sigmas=(0.0,), spacing=spacing)
    chosen = estimate_parameters(noisy, spacing=spacing)
    gap = psnr(clean, diffuse(noisy, **best, spacing=spacing)) - psnr(clean, diffuse(noisy, **chosen.as_options(), spacing=spacing))
    assert gap < 1.5


def test_black_kappa_of_coupled_channels_is_the_joint_magnitude() -> None:
    grey = sample_photo("coins", 64)
    for channels in (2, 3):
        stacked = np.repeat(grey[..., None], channels, axis=-1)
        joint = estimate_kappa(stacked, channel_axis=-1, coupled=True)
        assert joint == pytest.approx(math.sqrt(channels) * estimate_kappa(grey), rel=1e-4)
        assert estimate_kappa(stacked, channel_axis=-1) == pytest.approx(estimate_kappa(grey), rel=1e-6)


def test_noise_gradient_scale_matches_measured_noise_differences() -> None:
    noise = torch.randn(1, 3, 64, 64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    spacing = (1.0, 2.0, 0.5)
    faces = [torch.diff(noise, dim=2 + a) / h for a, h in enumerate(spacing)]
    per_axis = [math.sqrt(float(f.square().sum(dim=1).mean())) for f in faces]  # joint over 3 channels
    np.testing.assert_allclose(auto.noise_gradient_scales(1.0, spacing, 3), per_axis, rtol=0.02)
    rms = math.sqrt(sum(value**2 for value in per_axis) / 3)
    assert auto.noise_gradient_scale(1.0, spacing, 3) == pytest.approx(rms, rel=0.02)


# ---------------------------------------------------------------- against the oracle


def oracle_psnr(clean: np.ndarray, noisy: np.ndarray, s: float, colour: bool = False) -> float:
    """PSNR of the best kappa and stopping time (sigma 0) against the clean image."""
    chosen = quality.oracle_pm(clean, noisy, s, colour=colour, sigmas=(0.0,))
    return psnr(clean, diffuse(noisy, **chosen, channel_axis=-1 if colour else None, coupled=colour))


CASES = [
    ("blocks", gaussian, 0.05),
    ("camera", gaussian, 0.02),
    ("camera", poisson, 0.1),
    ("astronaut", gaussian, 0.05),
    ("coffee", poisson, 0.05),
]


def test_auto_is_near_the_oracle() -> None:
    gaps = []
    for name, noise, s in CASES:
        clean = blocks((96, 96)) if name == "blocks" else sample_photo(name, 96).astype(np.float64)
        noisy = noise(clean, s)
        colour = clean.ndim == 3
        result = diffuse(noisy, kappa="auto", iterations="auto", channel_axis=-1 if colour else None, coupled=colour)
        gap = oracle_psnr(clean, noisy, s, colour) - psnr(clean, result)
        assert gap < 1.5, (name, s, gap)
        assert psnr(clean, result) > psnr(clean, noisy) + 2.0
        gaps.append(gap)
    assert np.median(gaps) < 0.5, gaps


def test_nearly_flat_image_is_smoothed_long() -> None:
    """A binary disk under Poisson noise (black has none): the noise variance read 6 % high,
    so the risk estimates of long stopping times are negative, and a give-up tolerance
    proportional to the (negative) least risk stopped the right kappa early: 16
    iterations, 27 dB short."""
    clean = disk()
    noisy = poisson(clean, 0.05)
    chosen = estimate_parameters(noisy)
    best = quality.oracle_pm(clean, noisy, 0.05, colour=False, sigmas=(0.0,))
    assert chosen.iterations >= best["iterations"] / 2
    assert oracle_psnr(clean, noisy, 0.05) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 1.5


@pytest.mark.parametrize("blobs_seed", [0, 2])
def test_binary_picture_is_not_stopped_at_the_noise_gradient_scale(blobs_seed: int) -> None:
    """A binary picture under Poisson noise: kappa at the noise's own gradient scale (a nearly
    discontinuous map) read too low a risk with the small probe alone and stopped 2.2 and
    9.6 dB short of the grid oracle; the wide probe brings the choice within 0.5 dB."""
    clean = data.binary_blobs(length=96, rng=blobs_seed).astype(np.float64)
    noisy = poisson(clean, 0.02)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, 0.02) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 0.5


@pytest.mark.parametrize(("blobs_seed", "s"), [(3, 0.1), (4, 0.1)])
def test_binary_picture_under_poisson_noise_is_smoothed_near_the_oracle(blobs_seed: int, s: float) -> None:
    """With the variance read at a smoothed intensity these stopped 4.1 and 4.4 dB short."""
    clean = data.binary_blobs(length=128, rng=blobs_seed).astype(np.float64)
    noisy = poisson(clean, s)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, s) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 1.5


@pytest.mark.parametrize(("blobs_seed", "s"), [(0, 0.05), (5, 0.02)])
def test_busy_binary_picture_risk_is_read_with_several_probes(blobs_seed: int, s: float) -> None:
    """Busy binary pictures under Poisson noise, whose long stopping times read risks within
    a few 10⁻³ of the noise variance of each other: with one probe kappa 1× read lowest and
    these stopped 7.4 and 8.1 dB short of the grid oracle; read with the mean of several
    probes they come within 0.01 dB."""
    clean = data.binary_blobs(length=128, rng=blobs_seed).astype(np.float64)
    noisy = poisson(clean, s)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, s) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 0.5


def test_busy_binary_picture_risk_is_read_with_eight_probes() -> None:
    """A whole 96² binary_blobs under Poisson noise of 0.05 (benchmarks/auto_quality.py --set
    busy, its draw): its edges cross most blocks and its risks at long stopping times lie
    within one Monte-Carlo error of each other; with four probes the choice went 3.63 dB
    short of the grid oracle, with eight it comes within 0.5 dB."""
    clean = data.binary_blobs(length=96, rng=4).astype(np.float64)
    noisy = poisson(clean, 0.05, seed=64)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, 0.05) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 0.5


def test_phantom_under_poisson_noise_is_smoothed_long() -> None:
    """Shepp-Logan's phantom under Poisson noise of 0.02 (its black has none): with the
    variance read at a smoothed intensity kappa 1.5x stopped at t = 431, 8.5 dB short."""
    image = data.shepp_logan_phantom()
    top, left = (image.shape[0] - 128) // 2, (image.shape[1] - 128) // 2
    clean = np.ascontiguousarray(image[top : top + 128, left : left + 128]).astype(np.float64)
    noisy = poisson(clean, 0.02, seed=3)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, 0.02) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 1.5


def test_one_spike_does_not_end_the_search() -> None:
    """A binary photo (128² of horse) under Poisson noise of 0.1: the risk of kappa 2× jumps
    33 % at one stopping time (t = 27) and falls back at the next.  Given up there, the choice
    was kappa 3×, 2.4 dB short of the grid oracle; the patient search runs that kappa on to
    the oracle's stopping time, while kappa 1× and 1.5× still stop at their first rise."""
    clean = data.horse()[100:228, 136:264].astype(np.float64)
    noisy = poisson(clean, 0.1, seed=173)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, 0.1) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 0.5


def test_colour_picture_risk_is_read_with_four_probes() -> None:
    """The benchmark's colorwheel (quarter crop, coupled RGB) under Poisson noise of 0.1, its
    own draw: with two probes (seeds 0 and 1) kappa 1× read about 10⁻² of the noise variance
    low and won, 2.2 dB short of the grid oracle (other pairs of seeds: 0.06–0.3 dB); the mean
    of four probes (and of eight) comes within 0.5 dB."""
    image = data.colorwheel()[..., :3].astype(np.float64) / 255
    top, left = image.shape[0] // 4 - 64, image.shape[1] // 4 - 64
    clean = np.ascontiguousarray(image[top : top + 128, left : left + 128])
    noisy = poisson(clean, 0.1, seed=53)
    chosen = estimate_parameters(noisy, channel_axis=-1, coupled=True)
    result = diffuse(noisy, **chosen.as_options(), channel_axis=-1, coupled=True)
    assert oracle_psnr(clean, noisy, 0.1, colour=True) - psnr(clean, result) < 0.5


def test_patient_search_rises_only_beyond_the_monte_carlo_error() -> None:
    """A binary photo (128² of horse) under Poisson noise of 0.1, whose best risks are about
    10⁻³ of the noise variance: a rise of 25 % of that is below one probe's error, and given
    up at one probe's rise kappa 2× stopped at t = 27; the choice was kappa 3×, 5.6 dB short
    of the grid oracle.  Followed by the mean of the probes, up to its Monte-Carlo error, kappa 2×
    runs on to the oracle's stopping time."""
    clean = data.horse()[100:228, 136:264].astype(np.float64)
    noisy = poisson(clean, 0.1, seed=7)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, 0.1) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 0.5


@pytest.mark.parametrize(("s", "seed"), [(0.1, 0), (0.1, 18), (0.05, 5)])
def test_kept_noise_spikes_widen_the_standard_error(s: float, seed: int) -> None:
    """A binary photo (128² of horse) under Poisson noise: kappa 2× keeps some samples of large
    noise at t = 76–362 that later stopping times smooth away, and Stein's estimate charges a
    kept sample only about its variance.  With the standard error of step 4 read from the
    variance alone, these draws stopped there, 17.0, 9.2 and 13.9 dB short of the grid oracle
    (draw 5 at 0.05 also reads the noise 13 % low); read from the later candidate's
    residual, the rule runs on to t = 861."""
    clean = data.horse()[100:228, 136:264].astype(np.float64)
    noisy = poisson(clean, s, seed=seed)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, s) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 1.5


def test_risk_difference_error_reads_the_residual_within_bounds() -> None:
    """For a candidate that stops later the squared residual stands for the noise's square,
    kept between the variance and RESIDUAL_CAP times it; otherwise the variance."""
    variance = torch.full((1, 1, 2, 2), 0.01, dtype=torch.float64)
    y = torch.zeros_like(variance)
    smoother = torch.tensor([[[[0.0, 0.05], [0.3, 0.0]]]], dtype=torch.float64)  # residuals 0, 0.5σ, 3σ, 0
    target = torch.zeros_like(variance)
    target[..., 0, 0] = target[..., 0, 1] = target[..., 1, 0] = 1.0
    weights = [0.01, 0.01, sure.RESIDUAL_CAP * 0.01]  # the last sample's difference is 0
    expected = 2 * math.sqrt(sum(w * d**2 for w, d in zip(weights, [1.0, 0.95, 0.7]))) / 4
    assert sure.risk_difference_error(y, variance, smoother, target, later=True) == pytest.approx(expected)
    plain = 2 * math.sqrt(sum(0.01 * d**2 for d in [1.0, 0.95, 0.7])) / 4
    assert sure.risk_difference_error(y, variance, smoother, target, later=False) == pytest.approx(plain)


def test_one_standard_error_rule() -> None:
    """On a nearly flat image, least SURE stops at 181 iterations by chance (the risks of
    long stopping times differ by less than SURE's own error).  The choice smooths at least
    as much, its risk is within one standard error (recomputed here from the two results) of
    the least, and it is truly better.  The noise model is the true one, so that the rule is
    tested apart from the noise reading."""
    clean = np.repeat((np.arange(64) > 30)[None].astype(np.float64), 64, axis=0)
    y = torch.from_numpy(poisson(clean, 0.02, seed=3))[None, None]
    variance = noise_level.NoiseModel(2 * 0.02**2, 0.0).variance(y)

    def run(v: torch.Tensor, *, iterations: int, kappa: float, sigma: float) -> torch.Tensor:
        return run_diffusion(v, iterations=iterations, kappa=kappa, sigma=sigma)

    scale = auto.noise_gradient_scale(math.sqrt(float(variance.mean())), (1.0, 1.0), 1)
    times = auto.checkpoints(auto.MAX_ITERATIONS)
    candidates = [c for f in auto.KAPPA_FACTORS for c in sure.risk_trajectory(run, y, variance, times, kappa=f * scale, sigma=0.0)]
    best = min(candidates, key=lambda c: c.risk)
    chosen = sure.one_standard_error(run, y, variance, candidates)
    assert chosen.kappa >= best.kappa and chosen.iterations > best.iterations and chosen.residual > best.residual
    results = [run(y, iterations=c.iterations, kappa=c.kappa, sigma=0.0) for c in (chosen, best)]
    assert chosen.risk <= best.risk + sure.risk_difference_error(
        y, variance, results[0], results[1], later=chosen.iterations > best.iterations
    )
    x = torch.from_numpy(clean)[None, None]
    assert float((results[0] - x).square().mean()) < float((results[1] - x).square().mean())


def test_auto_on_a_3d_volume() -> None:
    clean = blocks((32, 32, 32), tile=8)
    noisy = gaussian(clean, 0.08)
    chosen = estimate_parameters(noisy)
    assert chosen.iterations > 0
    gap = oracle_psnr(clean, noisy, 0.08) - psnr(clean, diffuse(noisy, **chosen.as_options()))
    assert gap < 1.0


@pytest.mark.parametrize("slices", [3, 4, 5])
def test_auto_on_a_short_stack_reads_its_noise_in_the_slices(slices: int) -> None:
    """A z-stack of 3 slices kept one sample of the second difference along z: its noise read
    0 and auto did nothing (26 dB left at 26 dB); its slices are read as images now."""
    clean = np.stack([sample_photo("camera")[k : k + 96, k : k + 96] for k in range(slices)])
    noisy = gaussian(clean, 0.05)
    chosen = estimate_parameters(noisy)
    assert chosen.noise == pytest.approx(0.05, rel=0.1)
    gap = oracle_psnr(clean, noisy, 0.05) - psnr(clean, diffuse(noisy, **chosen.as_options()))
    assert gap < 1.0


@pytest.mark.parametrize("shape", [(128, 128), (4, 64, 64)])
def test_counts_over_a_camera_baseline_are_smoothed_as_without_it(shape: tuple[int, ...]) -> None:
    """Poisson counts over a camera's offset (sCMOS ~100, CCD ~1000) have a variance line
    v = a (m - offset), whose floor is negative: it was refitted through the origin, which
    read the dark and bright variance nearly equal (blobs: 24.7 dB against a grid's 36.2;
    a 4-slice stack 21.8 against 39.5).  A floor told from 0 whose zero crossing lies below
    every intensity, farther from 0 than their spread, with the intensities within their spread
    of it, is an offset."""
    blobs = data.binary_blobs(shape[-1], n_dim=len(shape), volume_fraction=0.3, rng=1).astype(float)
    rate = blobs[: shape[0]] * 30 + 5  # 5-35 photons
    counts = np.random.default_rng(0).poisson(rate)
    results = []
    for offset in (0, 100, 1000):
        noisy, clean = (counts + offset).astype(np.uint16), (rate + offset) / 65535.0
        quality = 10 * np.log10((30 / 65535.0) ** 2 / np.mean((diffuse(noisy, kappa="auto", iterations="auto") - clean) ** 2))
        results.append(quality)
    assert abs(results[1] - results[2]) < 0.05  # the offset is read, whatever its size
    grid = max(
        10 * np.log10((30 / 65535.0) ** 2 / np.mean((diffuse(counts.astype(np.uint16), kappa=k / 65535.0, iterations=n)
                                                      - rate / 65535.0) ** 2))
        for k in (7, 10, 14) for n in (8, 40, 135)
    )
    assert min(results) > grid - 1.5


def test_texture_ratio_follows_the_dimension() -> None:
    """3-D binary blobs under Poisson noise of 0.1: their edges read one octave down as
    texture; with the 2-D texture ratio (6, below 3-D's 1/f² value 8) the noise read 0.82x low
    and auto stopped at t = 3, 30 dB short of the oracle (t = 861, 57 dB); read with 12 it
    smooths as long (52.7 dB; at these levels kappa 2x against the oracle's 3x costs 4 dB)."""
    clean = data.binary_blobs(length=64, n_dim=3, blob_size_fraction=0.1, rng=0).astype(np.float64)
    noisy = poisson(clean, 0.1)
    chosen = estimate_parameters(noisy)
    assert chosen.iterations >= 500
    assert psnr(clean, diffuse(noisy, **chosen.as_options())) > psnr(clean, noisy) + 25


# ---------------------------------------------------------------- the API


def test_auto_values_reproduce_the_auto_result() -> None:
    noisy = gaussian(sample_photo("astronaut", 48).astype(np.float64), 0.05)
    options = dict(channel_axis=-1, coupled=True)
    chosen = estimate_parameters(noisy, sigma="auto", **options)
    assert chosen.sigma in auto.SIGMA_CANDIDATES
    np.testing.assert_array_equal(
        diffuse(noisy, kappa="auto", iterations="auto", sigma="auto", **options), diffuse(noisy, **chosen.as_options(), **options)
    )
    fixed = estimate_parameters(noisy, kappa=0.2, **options)
    assert fixed.kappa == 0.2 and fixed.sigma == 0.0
    line = chosen.describe()
    assert "\n" not in line and f"iterations={chosen.iterations}" in line


def test_the_estimated_psnr_is_relative_to_the_image_peak() -> None:
    """An image in [0, 1] reads its PSNR for a peak of 1; the same noisy picture stored as
    12-bit counts (x 4095) for its own value range, named on the line: the same estimate
    moved by exactly 20 log10(range / 4095) dB (a peak of 1 read it 72 dB higher), and near
    the true PSNR for that peak."""
    clean = sample_photo("camera", 64).astype(np.float64)
    noisy = gaussian(clean, 0.05)
    unit, counts = estimate_parameters(noisy), estimate_parameters(noisy * 4095.0)
    assert unit.peak == 1.0 and "peak" not in unit.describe()
    assert counts.peak == pytest.approx(4095.0 * float(noisy.max() - noisy.min()))

    def estimated(chosen: auto.AutoParameters) -> float:
        return float(re.search(r"estimated PSNR ([\d.]+) dB", chosen.describe()).group(1))

    assert f"for a peak of {counts.peak:.6g}" in counts.describe()
    assert estimated(counts) == pytest.approx(estimated(unit) + 20 * np.log10(counts.peak / 4095.0), abs=0.11)
    error = np.mean((diffuse(noisy * 4095.0, **counts.as_options()) - clean * 4095.0) ** 2)
    assert estimated(counts) == pytest.approx(10 * np.log10(counts.peak**2 / error), abs=3.0)


@pytest.mark.parametrize(
    ("options", "error", "fragment"),
    [
        (dict(iterations="many"), TypeError, "iterations"),
        (dict(kappa="big"), ValueError, "kappa"),
        (dict(sigma="wide"), ValueError, "sigma"),
        (dict(iterations=-1), ValueError, "iterations"),
    ],
)
def test_bad_values_beside_auto(options: dict, error: type, fragment: str) -> None:
    image = np.random.default_rng(0).random((16, 16))
    with pytest.raises(error, match=fragment):
        estimate_parameters(image, **{"kappa": "auto", "iterations": "auto", **options})


@pytest.mark.parametrize("s", [0.05, 0.1])
def test_piecewise_constant_signal_is_smoothed_near_the_oracle(s: float) -> None:
    """Donoho & Johnstone's Blocks (1-D, 4096 samples) under Gaussian noise: kappa at the
    noise's own gradient scale, given up at the first rise one probe read, stopped at t = 76
    and 54 where its true error goes on falling (6.9 and 3.0 dB short of the grid oracle);
    followed by its mean risk, as every 1-D candidate now is, it goes on to t = 861 and 215
    (0.0 dB short)."""
    t = (np.arange(4096) + 0.5) / 4096
    places = np.array([0.1, 0.13, 0.15, 0.23, 0.25, 0.40, 0.44, 0.65, 0.76, 0.78, 0.81])
    heights = np.array([4, -5, 3, -4, 5, -4.2, 2.1, 4.3, -3.1, 2.1, -4.2])
    f = (heights * (1 + np.sign(t[:, None] - places)) / 2).sum(axis=1)
    clean = 0.1 + 0.8 * (f - f.min()) / (f.max() - f.min())
    noisy = gaussian(clean, s)
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, s) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 0.5


# ---------------------------------------------------------------- clipped noise


def test_clipped_binary_picture_reads_its_noise_and_nears_the_oracle() -> None:
    """A binary picture under Gaussian noise clipped to [0, 1] (as skimage's random_noise
    makes it) keeps only the noise's half above 0 and below 1: the high-pass read it 0.53x
    and auto stopped 2.4-3.6 dB short of the grid oracle.  Read as censored noise, it reads
    within 15 % and comes within 0.5 dB."""
    clean = data.binary_blobs(length=128, rng=0).astype(np.float64)
    for s in (0.02, 0.05):
        noisy = np.clip(gaussian(clean, s), 0.0, 1.0)
        assert noise_level.estimate_noise(torch.from_numpy(noisy)[None, None], 2) == pytest.approx(s, rel=0.15)
        chosen = estimate_parameters(noisy)
        assert oracle_psnr(clean, noisy, s) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 0.5, s


@pytest.mark.parametrize("blobs_seed", [2, 5])
def test_busy_clipped_binary_picture_is_not_read_across_its_edges(blobs_seed: int) -> None:
    """A small binary picture under clipped noise of 0.1, an edge through most blocks: a block
    holding both levels has the other level among its samples above the clip, and read as
    censored noise it took the noise 6-7x too high (13-16 dB short).  Such blocks, with
    samples at both the smallest and the largest value, are left to the high-pass."""
    clean = data.binary_blobs(length=64, rng=blobs_seed).astype(np.float64)
    noisy = np.clip(gaussian(clean, 0.1), 0.0, 1.0)
    assert noise_level.estimate_noise(torch.from_numpy(noisy)[None, None], 2) < 0.15
    chosen = estimate_parameters(noisy)
    assert oracle_psnr(clean, noisy, 0.1) - psnr(clean, diffuse(noisy, **chosen.as_options())) < 1.0




@pytest.mark.parametrize("scale", [2.0**40, 2.0**-30])
def test_auto_follows_the_image_scale_exactly(scale: float) -> None:
    """Perona-Malik reads |grad u| / kappa, so an image times a power of two (exact in floats)
    diffuses the same with kappa times it: auto picks that kappa and the same stopping time,
    and its noise level scales with it (values near 1e12 made the noise estimate's squares
    overflow float32 into NaN before the search was scaled)."""
    noisy = gaussian(sample_photo("camera"), 0.05).astype(np.float32)
    base = estimate_parameters(noisy, kappa="auto", iterations="auto")
    scaled = estimate_parameters(noisy * np.float32(scale), kappa="auto", iterations="auto")
    assert scaled.iterations == base.iterations
    assert scaled.kappa == pytest.approx(base.kappa * scale, rel=1e-6)
    assert scaled.noise == pytest.approx(base.noise * scale, rel=1e-6)
    result = diffuse(noisy * np.float32(scale), kappa="auto", iterations="auto")
    np.testing.assert_allclose(result / scale, diffuse(noisy, kappa="auto", iterations="auto"), rtol=0, atol=1e-6)


def test_auto_on_values_beyond_kappas_range_names_the_image() -> None:
    tiny = (gaussian(sample_photo("camera"), 0.05) * 1e-35).astype(np.float32)
    with pytest.raises(ValueError, match=r"kappa='auto' needs a kappa near .* values in \["):
        estimate_parameters(tiny, kappa="auto")


@pytest.mark.parametrize("shape", [(1, 512), (512, 1), (1, 1, 512)])
def test_an_axis_of_length_one_is_searched_without(shape: tuple[int, ...]) -> None:
    """A noisy row stored as (1, N) (or a single slice) reads its noise as the 1-D signal does;
    the second difference along an axis of length 1 has no samples, and the noise read 0: the
    row was left unsmoothed (iterations 0)."""
    rng = np.random.default_rng(0)
    clean = np.repeat(rng.random(16), 32)
    noisy = gaussian(clean, 0.05)
    flat = estimate_parameters(noisy)
    chosen = estimate_parameters(noisy.reshape(shape))
    assert chosen.noise == pytest.approx(flat.noise, rel=1e-9) and chosen.iterations > 0
    result = diffuse(noisy.reshape(shape), kappa="auto", iterations="auto").ravel()
    assert psnr(clean, result) > psnr(clean, noisy) + 3


# ---------------------------------------------------------------- a known noise level


def test_a_given_noise_level_is_what_the_choice_is_made_for() -> None:
    """``noise=``: the level the estimate reads, given back, makes the same choice (Gaussian
    noise: a flat variance line); another level moves it, and is reported as given."""
    clean = sample_photo("astronaut", 96).astype(np.float64)[..., 0]
    noisy = gaussian(clean, 0.05)
    read = estimate_parameters(noisy)
    given = estimate_parameters(noisy, noise=read.noise)
    assert (given.kappa, given.iterations, given.noise) == pytest.approx((read.kappa, read.iterations, read.noise))
    lower = estimate_parameters(noisy, noise=read.noise / 2)
    assert lower.noise == pytest.approx(read.noise / 2) and lower.kappa == pytest.approx(read.kappa / 2)
    assert estimate_parameters(noisy, noise=0.0).iterations == 0  # nothing to denoise


def test_a_given_noise_level_spares_the_grain_the_estimate_reads_as_noise() -> None:
    """camera's corner three quarters in carries grain as strong as noise of 0.02: read from
    the image, the noise is 1.6-1.7x too high and the choice smooths the grain away, below
    the noisy input itself (0.9-3.2 dB short of the grid oracle over three noise draws;
    README, "Where auto still falls more than 1.5 dB short"); given the true level it makes
    the oracle's choice (0.00 dB short on each).  Scaled to other units, the same choice in
    those units."""
    clean = util_float(data.camera())[320:448, 320:448]
    noisy = gaussian(clean, 0.02)
    read, given = estimate_parameters(noisy), estimate_parameters(noisy, noise=0.02)
    assert read.noise > 1.4 * 0.02
    smoothed = psnr(clean, diffuse(noisy, kappa="auto", iterations="auto", noise=0.02))
    assert smoothed > psnr(clean, diffuse(noisy, **read.as_options())) + 0.5
    assert oracle_psnr(clean, noisy, 0.02) - smoothed < 0.5
    scaled = estimate_parameters(noisy * 4096.0, noise=0.02 * 4096.0)  # searched scaled back by a power of two
    assert (scaled.kappa / 4096.0, scaled.iterations) == pytest.approx((given.kappa, given.iterations))


def test_a_given_poisson_gaussian_line_is_what_the_choice_is_made_for() -> None:
    """``noise=(a, b)``: the variance line a·m + b at clean intensity m.  (0, σ²) is the flat
    level σ; the level reported is the line's RMS over the image; and camera's grainy corner
    under Poisson noise of 0.02 (counts scaled by a = 2·0.02², b = 0) is spared as the
    Gaussian level spares it: read from the image, 2.75-2.89 dB short of the grid oracle
    over three noise draws, given its line 0.00.  In other units, the line in those units
    (a times the scale, b times its square) makes the same choice."""
    clean = util_float(data.camera())[320:448, 320:448]
    noisy = poisson(clean, 0.02)
    a, b = 2 * 0.02**2, 0.0
    flat = estimate_parameters(noisy, noise=(0.0, 0.03**2))
    level = estimate_parameters(noisy, noise=0.03)
    assert (flat.kappa, flat.iterations, flat.noise) == pytest.approx((level.kappa, level.iterations, level.noise))
    read, given = estimate_parameters(noisy), estimate_parameters(noisy, noise=(a, b))
    assert given.noise == pytest.approx(math.sqrt(np.mean(a * noisy + b)), rel=1e-5)
    smoothed = psnr(clean, diffuse(noisy, kappa="auto", iterations="auto", noise=(a, b)))
    assert smoothed > psnr(clean, diffuse(noisy, **read.as_options())) + 0.5
    assert oracle_psnr(clean, noisy, 0.02) - smoothed < 0.5
    scaled = estimate_parameters(noisy * 4096.0, noise=np.array([a * 4096.0, b * 4096.0**2]))
    assert (scaled.kappa / 4096.0, scaled.iterations) == pytest.approx((given.kappa, given.iterations))


@pytest.mark.parametrize("offset", [0, 1000])
def test_the_noise_line_read_given_back_makes_the_same_choice(offset: int) -> None:
    """``AutoParameters.noise_line``: the variance line (a, b) the choice was made for, in
    the image's units ([0, 1] for uint16).  Poisson counts of 5-35 photons read a sloped
    line, and over a camera's offset of 1000 a floor below 0 (a (m - m0)); given back as
    ``noise=``, either makes the same choice, and is reported as given."""
    blobs = data.binary_blobs(128, volume_fraction=0.3, rng=1).astype(float)
    noisy = (np.random.default_rng(0).poisson(blobs * 30 + 5) + offset).astype(np.uint16)
    read = estimate_parameters(noisy)
    a, b = read.noise_line
    assert a > 0 and (b < 0 if offset else b >= 0) and read.iterations > 0
    again = estimate_parameters(noisy, noise=read.noise_line)
    assert (again.kappa, again.iterations, again.noise) == pytest.approx((read.kappa, read.iterations, read.noise))
    assert again.noise_line == pytest.approx(read.noise_line)


@pytest.mark.parametrize("noise", [gaussian, poisson])
def test_the_noise_line_read_on_a_smooth_part_spares_a_grainy_part(noise) -> None:
    """The user's way past grain: read the noise where the picture is smooth (camera's sky),
    give that line for its grainy part (the corner three quarters in, which reads its grain
    as noise, 1.7-1.9x, and ends 2.7-3.3 dB short of the grid oracle over two draws of
    noise of 0.02 each): 0.00-0.01 dB short under Gaussian noise, 0.11-0.13 under Poisson
    noise (the bright sky's flat line over-states the corner's darker variance a little)."""
    noisy = noise(util_float(data.camera()), 0.02)
    sky = estimate_parameters(noisy[20:148, 300:428])
    clean, corner = util_float(data.camera())[320:448, 320:448], noisy[320:448, 320:448]
    read = psnr(clean, diffuse(corner, kappa="auto", iterations="auto"))
    given = psnr(clean, diffuse(corner, kappa="auto", iterations="auto", noise=sky.noise_line))
    assert given > read + 1.5 and oracle_psnr(clean, corner, 0.02) - given < 0.5


@pytest.mark.parametrize(("noise", "message"), [
    (-0.1, "noise must be"), (math.nan, "noise must be"), ("high", "noise"), (b"ab", "noise must be"),
    ((0.001,), "2 numbers, got 1"), ([0.001, 0.0, 0.0], "2 numbers, got 3"),
    ((0.0, -1e-6), r"noise's b \(with a = 0\) must be in \[0, inf\)"), ((-0.001, 0.0), "noise's a must be in"),
    ((0.001, math.inf), "noise's b must be"), ((0.001, "0"), "noise's b must be"),
])
def test_a_bad_noise_level_is_refused(noise, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        diffuse(np.zeros((8, 8)), kappa="auto", noise=noise)


def util_float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) / 255.0
