"""The noise level read from the data alone (:mod:`peronamalik.core.noise_level`): white,
Poisson-like, clipped and colour noise, told from texture, edges and smooth content."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data

from peronamalik.core.noise_level.blocks import block_side, high_pass, sample_quantile
from peronamalik.core.noise_level.censored import CLIP_TIES, censored_sigmas
from peronamalik.core.noise_level.estimate import channel_contrasts, estimate_noise, estimate_noise_model
from peronamalik.core.noise_level.finest import noise_model_at_finest_scale, standardised_reread
from peronamalik.core.noise_level.line import NoiseModel
from peronamalik.core.noise_level.texture import (
    EDGE_GATE,
    TAIL_MARGIN,
    TAIL_PER_SHARE,
    TEXTURE_FLOOR,
    TEXTURE_GATE,
    octave_ratio,
    outlier_share,
    tail_excess,
)
from tests.core.helpers import blocks, dense_spots, disk, gaussian, poisson, sample_photo


@pytest.mark.parametrize("s", [0.02, 0.1])
def test_noise_level_of_white_noise_in_2d_and_3d(s: float) -> None:
    for shape in [(96, 96), (24, 24, 24)]:
        noisy = torch.from_numpy(gaussian(blocks(shape), s))[None, None]
        assert estimate_noise(noisy, len(shape)) == pytest.approx(s, rel=0.1)


@pytest.mark.parametrize("shape", [(3, 48, 48), (5, 48, 48), (48, 4, 48)])
def test_axes_too_short_for_a_block_are_read_across(shape: tuple[int, ...]) -> None:
    noisy = torch.from_numpy(gaussian(blocks(shape, tile=8), 0.05))[None, None]
    assert estimate_noise(noisy, len(shape)) == pytest.approx(0.05, rel=0.1)


def test_texture_read_at_the_next_octave_is_not_all_noise() -> None:
    """Grass is white-noise-like at the pixel scale: under noise of 0.02 the finest scale
    alone reads about 2.5 times that.  One octave down the texture reads higher while the
    noise does not, so part of the finest reading is taken as texture (not below the floor)."""
    clean = sample_photo("grass").astype(np.float64)
    s = 0.02
    y = torch.from_numpy(gaussian(clean, s))[None, None]
    finest = math.sqrt(noise_model_at_finest_scale(y, 2).floor)
    estimate = math.sqrt(estimate_noise_model(y, 2).floor)
    assert finest > 2 * s
    assert s < estimate < 0.75 * finest
    assert estimate >= math.sqrt(TEXTURE_FLOOR) * finest * (1 - 1e-9)


def test_outlier_share_tells_edges_from_texture_and_noise() -> None:
    """Median block: noise and texture are dense (few samples beyond three robust levels),
    a busy binary picture has an edge through most blocks."""
    rng = np.random.default_rng(3)
    noise = torch.from_numpy(rng.normal(0.0, 0.05, (128, 128)))[None, None]
    grass = torch.from_numpy(gaussian(sample_photo("grass").astype(np.float64), 0.02))[None, None]
    blobs = data.binary_blobs(length=128, rng=0).astype(np.float64)
    for clean_noise in (gaussian, poisson):
        busy = torch.from_numpy(clean_noise(blobs, 0.05))[None, None]
        assert octave_ratio(busy, 2) > TEXTURE_GATE
        assert outlier_share(busy, 2) > 2 * EDGE_GATE
        assert estimate_noise_model(busy, 2) == noise_model_at_finest_scale(busy, 2)
    assert outlier_share(noise, 2) < EDGE_GATE / 2
    assert outlier_share(grass, 2) < EDGE_GATE / 2


def test_octave_ratio_tells_texture_from_noise_and_edges() -> None:
    """Median block: white noise reads about the same one octave down, grass under noise
    reads several times more, and a binary disk (sparse edges) stays at or below noise's."""
    rng = np.random.default_rng(3)
    noise = torch.from_numpy(rng.normal(0.0, 0.05, (128, 128)))[None, None]
    grass = torch.from_numpy(gaussian(sample_photo("grass").astype(np.float64), 0.02))[None, None]
    edges = torch.from_numpy(poisson(disk(), 0.05))[None, None]
    assert 0.8 < octave_ratio(noise, 2) < 1.25
    assert octave_ratio(grass, 2) > 2 * TEXTURE_GATE
    assert octave_ratio(edges, 2) <= TEXTURE_GATE
    assert estimate_noise_model(edges, 2) == noise_model_at_finest_scale(edges, 2)


@pytest.mark.parametrize("q", [0.0, 0.25, 0.95, 1.0])
def test_sample_quantile_is_the_inverted_empirical_distribution(q: float) -> None:
    values = torch.from_numpy(np.random.default_rng(0).normal(size=1001))
    assert sample_quantile(values, q) == np.quantile(values.numpy(), q, method="inverted_cdf")


@pytest.mark.parametrize("shape", [(256, 256), (48, 48, 48)])
def test_white_noise_has_a_gaussian_tail(shape: tuple[int, ...]) -> None:
    """Read against pure noise's tail (pure_noise_tail) with the dimension's block side: about 0
    (standard deviation over noise draws 0.006 at 256², 0.007 at 48³)."""
    y = torch.from_numpy(gaussian(np.full(shape, 0.5), 0.05, seed=7))[None, None]
    model = noise_model_at_finest_scale(y, len(shape))
    assert abs(tail_excess(y, model, len(shape))) < 3 * TAIL_MARGIN


def test_poisson_noise_on_bright_spots_has_a_gaussian_tail_once_read_at_each_sample() -> None:
    """Poisson noise is stronger on a spot than on the dark ground beside it in the same block:
    read against one level per block it is heavy-tailed (a scale mixture), against its
    variance at each sample (local_noise_variance) it is not."""
    y = torch.from_numpy(poisson(dense_spots(), 0.05))[None, None]
    model = noise_model_at_finest_scale(y, 2)
    assert model.slope > 0
    assert tail_excess(y, model, 2) < 3 * TAIL_MARGIN
    assert tail_excess(y, NoiseModel(0.0, model.at(float(y.mean()))), 2) > 0.2


def test_texture_has_a_heavier_tail_than_noise() -> None:
    """Grass under noise of 0.02 (its finest scale reads 2.5 times that): the tail bound lets
    the octave correction take out what it takes."""
    y = torch.from_numpy(gaussian(sample_photo("grass").astype(np.float64), 0.02))[None, None]
    model = noise_model_at_finest_scale(y, 2)
    excess = tail_excess(y, model, 2)
    assert 1 - (excess + TAIL_MARGIN) / TAIL_PER_SHARE < TEXTURE_FLOOR


@pytest.mark.parametrize("shape", [(4096,), (128, 128), (64, 64, 64)])
def test_pure_noise_passes_the_octave_check(shape: tuple[int, ...]) -> None:
    """White noise reads the same at both scales: the finest fit is kept, and it is right."""
    s = 0.05
    y = torch.from_numpy(gaussian(np.full(shape, 0.5), s))[None, None]
    assert estimate_noise_model(y, len(shape)) == noise_model_at_finest_scale(y, len(shape))
    assert estimate_noise(y, len(shape)) == pytest.approx(s, rel=0.08)


def test_noise_model_follows_poisson_variance() -> None:
    clean = blocks((128, 128)) * 0.9 + 0.05
    s = 0.05
    model = estimate_noise_model(torch.from_numpy(poisson(clean, s))[None, None], 2)
    # variance = intensity / photons = 2 s² · intensity
    assert model.slope == pytest.approx(2 * s**2, rel=0.25)
    assert model.floor < 0.2 * s**2


@pytest.mark.parametrize("seed", range(4))
def test_gaussian_noise_over_a_narrow_intensity_range_has_no_slope(seed: int) -> None:
    """Most blocks of this crop of ``cell`` lie between intensities 0.24 and 0.30: there the
    spread of the bins' levels gives the variance line a slope, which is not told from 0, so
    Gaussian noise is read as Gaussian (a slope of 0.028 read it as Poisson-like, brightened
    the variance of the bright cells and cost 2 dB at σ = 0.1)."""
    cell = data.cell().astype(np.float64) / 255
    h, w = cell.shape
    top, left = h // 4 - 64, w // 4 - 64
    crop = cell[top : top + 128, left : left + 128]
    model = estimate_noise_model(torch.from_numpy(gaussian(crop, 0.1, seed=seed))[None, None], 2)
    assert model.slope == 0
    assert math.sqrt(model.floor) == pytest.approx(0.1, rel=0.1)


def test_noise_model_of_colour_channels_with_different_intensities() -> None:
    """Poisson noise on a bright and two dark channels: blocks of one channel each measure
    the mean variance (blocks pooling the channels read the dark channels' level)."""
    base = blocks((128, 128))
    clean = np.stack([0.6 + 0.3 * base, 0.05 + 0.25 * base, 0.05 + 0.1 * base])
    s = 0.1
    noisy = torch.from_numpy(poisson(clean, s))[None]
    true_variance = 2 * s**2 * clean.mean()
    assert estimate_noise(noisy, 2) ** 2 == pytest.approx(true_variance, rel=0.15)


@pytest.mark.parametrize("channels", [2, 3, 5])
def test_channel_contrasts_are_orthonormal_channel_differences(channels: int) -> None:
    """The contrasts are orthonormal and blind to what every channel shares: a grey picture
    has none, independent noise of variance v keeps variance v in each, and the intensity
    they read their noise at is the channels' own where those are equal."""
    grey = torch.from_numpy(blocks((64, 64)))[None, None].expand(1, channels, 64, 64)
    contrasts, intensity = channel_contrasts(grey)
    assert contrasts.shape == (1, channels - 1, 64, 64)
    assert float(contrasts.abs().max()) < 1e-12
    torch.testing.assert_close(intensity, grey[:, : channels - 1])
    noise = torch.randn(1, channels, 256, 256, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    contrasts, _ = channel_contrasts(0.05 * noise)
    covariance = torch.atleast_2d(torch.cov(contrasts.flatten(2)[0]))
    torch.testing.assert_close(covariance, 0.05**2 * torch.eye(channels - 1, dtype=torch.float64), atol=2e-4, rtol=0)


def test_noise_shared_by_the_colour_channels_is_read_in_full() -> None:
    """Noise three quarters shared by the channels (demosaicing, a grey picture stored as
    RGB) is missing from their differences; it is most of what the channels read beyond
    them (more than SHARED_GATE), so the channels' own reading is kept (gated on the octave
    alone, texture and shared noise together read 0.63x here)."""
    clean = sample_photo("astronaut", 128).astype(np.float64)
    rng = np.random.default_rng(1)
    shared, own = rng.normal(0.0, 1.0, clean.shape[:2] + (1,)), rng.normal(0.0, 1.0, clean.shape)
    noisy = clean + 0.05 * (math.sqrt(0.75) * shared + 0.5 * own)
    y = torch.from_numpy(noisy).permute(2, 0, 1)[None]
    assert estimate_noise(y, 2) == pytest.approx(0.05, rel=0.1)
    grey = gaussian(sample_photo("camera", 128).astype(np.float64), 0.05)
    as_rgb = torch.from_numpy(np.stack([grey] * 3))[None]
    assert estimate_noise(as_rgb, 2) == pytest.approx(estimate_noise(torch.from_numpy(grey)[None, None], 2), rel=0.01)


def test_poisson_variance_is_read_at_each_sample() -> None:
    """The divergence's weights follow each sample's own intensity: black beside an edge has
    no Poisson noise and gets no variance (a smoothed intensity gave it a third of the
    white side's), and their mean is the noise variance."""
    s = 0.05
    clean = np.zeros((64, 64))
    clean[:, 32:] = 1.0
    y = torch.from_numpy(poisson(clean, s))[None, None]
    variance = NoiseModel(2 * s**2, 0.0).variance(y)
    assert float(variance[..., 31].abs().max()) == 0
    assert float(variance.mean()) == pytest.approx(float((y - torch.from_numpy(clean)).square().mean()), rel=0.1)


def test_clipped_highlights_read_the_noise() -> None:
    """A photo whose highlights are clipped (astronaut's white suit: 40 % of the crop at 1.0
    under noise of 0.1): the clipped blocks no longer read low."""
    clean = np.asarray(data.astronaut(), np.float64)[100:228, 300:428].mean(axis=-1) / 255
    clean = np.clip(clean * 1.6, 0.0, 1.0)
    noisy = np.clip(gaussian(clean, 0.1), 0.0, 1.0)
    assert (noisy == 1.0).mean() > 0.2
    assert estimate_noise(torch.from_numpy(noisy)[None, None], 2) == pytest.approx(0.1, rel=0.15)


@pytest.mark.parametrize("mean", [-0.5, 0.0, 0.5])
def test_censored_noise_is_read_without_bias(mean: float) -> None:
    """Unit white noise clipped at ``-mean`` standard deviations from its mean (30-70 % of the
    samples at the clip value): the blocks' censored readings have a median near 1."""
    noise = torch.randn((1, 1, 128, 128), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    levels = censored_sigmas((noise + mean).clamp_min(0.0), 2, 8, both_ends=True)
    read = levels[~levels.isnan()]
    assert read.numel() > 200 and float(read.median()) == pytest.approx(1.0, abs=0.08)


def test_no_ties_at_the_extremes_is_no_clipping() -> None:
    """Unclipped noise, and a Poisson picture's zeros (counts, not clipping), are not read as
    clipped: the estimate is the high-pass's as before."""
    noisy = torch.from_numpy(gaussian(blocks((96, 96)), 0.05))[None, None]
    assert censored_sigmas(noisy, 2, 8, both_ends=True) is None
    dark = torch.from_numpy(poisson(0.01 + 0.05 * blocks((96, 96)), 0.1))[None, None]
    assert float((dark == 0).double().mean()) > 2 * CLIP_TIES
    assert censored_sigmas(dark, 2, 8, both_ends=False) is None
    model = estimate_noise_model(dark, 2)
    assert model.slope > 0 and model.slope == pytest.approx(2 * 0.1**2, rel=0.3)  # Poisson: its zeros are counts


def test_a_clean_picture_with_a_black_border_reads_no_noise() -> None:
    """Exact zeros that are a black border, not clipped noise: a block holding border and
    picture has samples above 0 whose mean distance is the picture's level, not the spread
    of a cut normal, and is not read as censored."""
    clean = np.zeros((128, 128))
    clean[:, 40:] = ndimage.gaussian_filter(blocks((128, 88), tile=32), 4.0) * 0.6 + 0.2
    assert estimate_noise(torch.from_numpy(clean)[None, None], 2) < 0.003


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("s", [0.05, 0.1])
def test_poisson_slope_is_read_where_bright_spots_lie_in_dark_blocks(s: float, seed: int) -> None:
    """Sparse blurred spots (1 %) under Poisson noise: a block's robust level reads its dark
    ground, its mean intensity counts the spot, and the line read that way had 0.39-0.70x the
    truth's slope and 0.75-0.84x its variance at the mean intensity.  Read again with each
    sample standardised by the line: 0.77-1.09x and 0.96-1.09x."""
    y = torch.from_numpy(poisson(dense_spots(density=0.01), s, seed))[None, None]
    model = noise_model_at_finest_scale(y, 2)
    truth = NoiseModel(2 * s**2, 0.0)
    assert model.slope == pytest.approx(truth.slope, rel=0.25)
    assert model.at(float(y.mean())) == pytest.approx(truth.at(float(y.mean())), rel=0.12)


def test_the_standardised_reread_leaves_an_even_poisson_picture_alone() -> None:
    """Large flat blocks under Poisson noise: every block is even, the first line is right, and
    the reread does not replace it (its slope is not SLOPE_GAIN times as steep)."""
    clean = blocks((128, 128)) * 0.9 + 0.05
    y = torch.from_numpy(poisson(clean, 0.05))[None, None]
    model = noise_model_at_finest_scale(y, 2)
    r = high_pass(y, 2)
    side = block_side(2)
    reread = standardised_reread(r, y, model, 2, [2, 3], side)
    assert reread == model


def test_white_noise_on_one_intensity_reads_no_camera_offset() -> None:
    """A picture of one intensity under white noise spans a few thousandths of intensity, where
    the bins' scatter can pass for a slope: such a line must not be read as counts over an
    offset far below the picture (3 of these 40 draws were, with no variance at all in the
    darker eighth of the pixels); the level stays the noise's."""
    for seed in range(40):
        y = torch.from_numpy(np.random.default_rng(seed).normal(0.3, 0.02, (128, 128)))[None, None]
        model = estimate_noise_model(y, 2)
        assert model.floor >= 0, (seed, model)
        assert math.sqrt(model.at(0.3)) == pytest.approx(0.02, rel=0.1)
