"""Each photo preset's look, measured as ``shared/look/look_stats.py`` does, within its bands.

A small photo (scikit-image's coffee, 128 px) and a short run keep each test fast; the bands
hold there and at 320 px (benchmarks/sweep_look.py measures the kitty at its own size).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import skimage.data

from peronamalik.art import PHOTO_PRESETS, animate
from peronamalik.art.presets import LOOK_PRESETS, REPRODUCTIONS, preset_config

from .look import look, pooled_look, source_image

INF = float("inf")
#: Per preset: iterations of the test run, then (statistic, percentile) -> (low, high).
#: Percentile 0, 1, 2 = p10, p50, p90 over the frames.  The looks (LOOK_PRESETS) keep the
#: subject (structure p50 >= 0.45) and change this photo by change p50 >= 0.08; of the 2017
#: reproductions, vanilla changes it by 0.04 only (a gentle blur, by ALGORITHM.md's k and dt).
BANDS: dict[str, tuple[int, dict[tuple[str, int], tuple[float, float]]]] = {
    # kitty.gif's look, its own bands on this brighter photo too (luminance p50 0.25-0.50, p10
    # <= 0.30, sparkles >= 3, structure >= 0.5, change >= 0.12; test_kitty_holds_kitty_gifs_bands):
    # sinks toward black, sparkles, comes back at refreshes; as it sinks it keeps the photo's
    # colours (chroma="source"; kitty.gif keeps 0.80 of its source's, "run" gave 0.44 here);
    # its own 3000 iterations: the sink feedback takes cycles to settle (p10 0.32 at 1500)
    "kitty": (3000, {
        ("luminance", 1): (0.25, 0.50), ("luminance", 0): (0.0, 0.30), ("luminance", 2): (0.40, INF),
        ("sparkles", 1): (3.0, INF), ("colour", 1): (0.6, 1.0), ("structure", 1): (0.6, 1.0), ("change", 1): (0.12, INF),
    }),
    # glowing embers: saturated far beyond the photo, steady brightness
    "ember": (1500, {
        ("colour", 1): (1.3, INF), ("luminance", 1): (0.3, 0.7), ("sparkles", 1): (10.0, INF),
        ("structure", 1): (0.45, 1.0), ("change", 1): (0.12, INF),
    }),
    # colour washes over the whole photo (green, pink, magenta), brighter, the edges kept, no sparkles
    "glow": (1500, {
        ("luminance", 1): (1.05, 1.6), ("sparkles", 1): (0.0, 2.0), ("colour", 2): (1.2, INF),
        ("structure", 1): (0.75, 1.0), ("change", 1): (0.08, INF),
    }),
    # ember's dynamics on the luminance only: as dark and sparkling as ember, but the photo's
    # own colours (colourfulness within 0.8-1.1 of the photo's: only clipping moves it)
    "ink": (1500, {
        ("luminance", 1): (0.45, 0.75), ("sparkles", 1): (10.0, INF), ("colour", 1): (0.75, 1.15),
        ("structure", 1): (0.6, 1.0), ("change", 1): (0.12, INF),
    }),
    # the 2017 original: darker and duller, edges kept
    "seed": (1500, {
        ("luminance", 1): (0.6, 0.95), ("colour", 1): (0.5, 0.9), ("structure", 1): (0.7, 1.0),
        ("change", 1): (0.08, INF),
    }),
    # the fixed Laplacian: a gentle blur, nothing else (the seed's vanilla mode; small change)
    "vanilla": (5001, {
        ("luminance", 1): (0.95, 1.1), ("colour", 1): (0.95, 1.05), ("structure", 1): (0.9, 1.0),
        ("change", 1): (0.02, 0.08),
    }),
}


#: Chaotic presets, measured over the frames of this many nudged runs together
#: (:func:`pooled_look`): one run is one draw of their look (glow's luminance p50 on coffee
#: ranged 1.01-1.51 over 24 runs; over 8 runs' frames 1.23-1.27).
CHAOTIC_RUNS = {"glow": 8}


@functools.cache
def figures(preset: str, iterations: int, size: int = 128) -> dict:
    photo = skimage.data.coffee()
    if preset in CHAOTIC_RUNS:
        return pooled_look(photo, CHAOTIC_RUNS[preset], preset=preset, iterations=iterations, size=size)
    frames = list(animate(photo, preset=preset, iterations=iterations, seed=0, device="cpu", size=size))
    source = source_image(photo, size)
    return look(frames, source)


def test_every_photo_preset_has_bands():
    assert sorted(BANDS) == sorted(PHOTO_PRESETS)


def test_every_look_is_held_to_the_issues_bars():
    """The looks' bands ask structure p50 >= 0.45 and change p50 >= 0.08 at least (issue 13);
    the 2017 reproductions are the only presets that need not."""
    for preset in LOOK_PRESETS:
        bands = BANDS[preset][1]
        assert bands[("structure", 1)][0] >= 0.45 and bands[("change", 1)][0] >= 0.08, preset
    assert sorted(set(PHOTO_PRESETS) - set(LOOK_PRESETS)) == sorted(set(REPRODUCTIONS) & set(PHOTO_PRESETS))


@pytest.mark.parametrize("preset", sorted(BANDS))
def test_preset_look_is_within_its_bands(preset):
    iterations, bands = BANDS[preset]
    measured = figures(preset, iterations)
    outside = {
        f"{name} p{(10, 50, 90)[index]}": round(measured[name][index], 3)
        for (name, index), (low, high) in bands.items()
        if not low <= measured[name][index] <= high
    }
    assert not outside, (preset, outside)


def test_looks_are_distinct():
    """No two presets' bands are all satisfied by one run: each look is its own."""
    for preset, (iterations, _) in BANDS.items():
        measured = figures(preset, iterations)
        fits = [
            other for other, (_, bands) in BANDS.items()
            if all(low <= measured[name][index] <= high for (name, index), (low, high) in bands.items())
        ]
        assert fits == [preset], (preset, fits)


def test_a_photo_larger_than_work_side_diffuses_at_it_and_keeps_its_own_detail():
    """kitty runs at ``work_side`` (320; 64 here to keep the test fast): a 256 px run's frames,
    downsampled, are the 64 px run's (mean |difference| 0.012 measured) with the same mean
    brightness, so the look does not change with the size (at 2048 px its trajectory was 33 %
    lighter than at 320, now 0 %), and they keep the 256 px photo's own fine detail
    (high-pass correlation with the source 0.94-0.96; diffused at 256 px: 0.68-0.74)."""
    from PIL import Image
    from scipy import ndimage

    photo = skimage.data.coffee()
    config = preset_config("kitty").replace(iterations=300, every=75, work_side=64)
    small, large = (list(animate(photo, config=config, size=size, seed=0, device="cpu")) for size in (64, 256))
    source = source_image(photo, 256)

    def detail(image: np.ndarray) -> np.ndarray:
        grey = image.astype(np.float64).mean(axis=-1)
        return (grey - ndimage.gaussian_filter(grey, 2)).ravel()

    assert large[0].shape == (171, 256, 3) and small[0].shape == (43, 64, 3)
    for little, big in zip(small[1:], large[1:]):
        down = np.asarray(Image.fromarray(big).resize(little.shape[1::-1], Image.BILINEAR), np.float64)
        assert np.abs(down - little).mean() / 255 < 0.03
        assert big.mean() == pytest.approx(little.mean(), rel=0.03)
        assert np.corrcoef(detail(big), detail(source))[0, 1] > 0.85
    assert large[-1].mean() < 0.6 * large[0].mean()  # it did sink (to 0.52: the clipped channels keep some light)


def test_ember_keeps_a_smooth_photos_edges_at_any_size():
    """scikit-image's clock (grey, a smooth background): without ``blend_structure`` ember filled
    the background with embers cycle after cycle at 320 px (structure p50 0.42; 0.54 at 160 px,
    0.71 at 96: the look depended on the size).  Once a cycle lost the photo's edges, later
    refreshes start closer to the photo: 0.53-0.54 from 160 to 320 px."""
    photo = np.stack([skimage.data.clock()] * 3, axis=-1)

    def structure(size: int, **overrides) -> float:
        frames = list(animate(photo, config=preset_config("ember").replace(**overrides), seed=0, device="cpu", size=size))
        source = source_image(photo, size)
        return look(frames, source)["structure"][1]

    kept, small, lost = structure(320), structure(160), structure(320, blend_structure=0.0)
    assert kept >= 0.5 and abs(kept - small) < 0.05 and lost < kept - 0.05, (kept, small, lost)


def test_ember_changes_busy_photos_and_keeps_their_subject():
    """scikit-image's grass and gravel (busier than kitty.gif's first frame): at ember's fixed
    kappa 0.3 the texture stayed edges and barely changed (change p50 0.06); kappa_texture in
    [1, 1.5] raises kappa with the texture, so both pass issue 13's bars at 320 px (0.125 /
    0.11).  Small text (page at 160 px) lost its letters under the raised kappa (structure
    0.28) until a cycle that loses the edges lowers kappa back (0.58)."""

    def figures(photo: np.ndarray, size: int, **overrides) -> dict:
        frames = list(animate(photo, config=preset_config("ember").replace(**overrides), seed=0, device="cpu", size=size))
        return look(frames, source_image(photo, size))

    grey = {name: np.stack([getattr(skimage.data, name)()] * 3, axis=-1) for name in ("grass", "gravel", "page")}
    for photo, size in ((grey["grass"], 320), (grey["gravel"], 320), (grey["page"], 160)):
        measured = figures(photo, size)
        assert measured["change"][1] >= 0.08 and measured["structure"][1] >= 0.45, measured
    # kappa's share, without the grey picture's warm cast (which alone changes it by 0.24)
    assert figures(grey["grass"], 320, grey_tint=0.0)["change"][1] >= 0.08
    assert figures(grey["grass"], 320, grey_tint=0.0, kappa_texture=False)["change"][1] < 0.08


def test_ember_glows_on_a_grey_photo():
    """A grey photo stored as RGB: ember's colour mixing starts symmetric and kept the channels
    equal, so its glow was a contrast change only (scikit-image's text: change 0.07, under the
    looks' 0.08).  grey_tint's warm cast breaks the symmetry: red-orange embers, change 0.24."""
    photo = np.stack([skimage.data.text()] * 3, axis=-1)

    def run(**overrides) -> tuple[dict, np.ndarray]:
        frames = list(animate(photo, config=preset_config("ember").replace(**overrides), seed=0, device="cpu", size=320))
        return look(frames, source_image(photo, 320)), np.stack(frames).astype(float)

    (cast, frames), (plain, grey_frames) = run(), run(grey_tint=0.0)
    assert cast["change"][1] >= 0.08 and cast["structure"][1] >= 0.45, cast
    assert (frames[..., 0] - frames[..., 2]).mean() > 64  # red over blue: the ember's glow
    assert plain["change"][1] < 0.08 and np.array_equal(grey_frames[..., 0], grey_frames[..., 2]), plain


def test_kitty_sinks_a_pure_texture_and_keeps_it():
    """scikit-image's grass, busier than kitty.gif's first frame: its texture raises kitty's
    kappa 1.7x (kappa_texture), and the run blurs the blades away.  Shown as the run is, the
    frames stay light (luminance p50 0.98: the feedback's structure guard stops the sinking)
    and blurred (structure 0.20, no sparkles; a cap of 1.25x on kappa kept 0.48 until the
    change was low-passed).  With the change low-passed (``change_sigma``) the frames keep the
    photo's texture as they sink, and ``glint`` lights its bright blades: p50 0.45, structure
    0.73, 7.5 sparkles per 1000 px, kitty.gif's bands."""
    grass = np.stack([skimage.data.grass()] * 3, axis=-1)

    def figures(**overrides) -> dict:
        frames = list(animate(grass, config=preset_config("kitty").replace(**overrides), seed=0, device="cpu", size=320))
        return look(frames, source_image(grass, 320))

    shown, plain = figures(), figures(change_sigma=0.0, glint=0.0)
    assert shown["luminance"][1] <= 0.5 and shown["structure"][1] >= 0.55 and shown["sparkles"][1] >= 3, shown
    assert plain["luminance"][1] > 0.7 and plain["structure"][1] < 0.45 and plain["sparkles"][1] < 1, plain


def test_kitty_moves_a_smooth_picture():
    """scikit-image's cell, nearly flat: its texture would set kitty's kappa to 0.04x
    (kappa_texture), and then nothing moves (change p50 0.03 at 320 px).  With the factor
    floored at 0.2 (``kappa_texture_min``) it sinks and comes back (change 0.23, structure 0.70,
    the any-photo bars: change >= 0.08, structure >= 0.45)."""
    cell = np.stack([skimage.data.cell()] * 3, axis=-1)

    def figures(**overrides) -> dict:
        frames = list(animate(cell, config=preset_config("kitty").replace(**overrides), seed=0, device="cpu", size=320))
        return look(frames, source_image(cell, 320))

    moving, still = figures(), figures(kappa_texture_min=0.0)
    assert moving["change"][1] >= 0.08 and moving["structure"][1] >= 0.45, moving
    assert still["change"][1] < 0.08, still


SHARED = Path(os.environ.get("PERONAMALIK_SHARED", Path(__file__).resolve().parents[3] / "shared"))


NEEDS_SHARED = pytest.mark.skipif(
    not (SHARED / "look" / "look_stats.py").is_file(), reason="needs ../shared beside the repository (or $PERONAMALIK_SHARED)"
)


@NEEDS_SHARED
def test_kitty_holds_kitty_gifs_bands_on_its_first_frame():
    """Issue 13's setting: kitty.gif's first frame at 320×240, 3000 iterations, a frame every 75:
    luminance p50 in [0.25, 0.50], p10 <= 0.30 and p90 >= 0.40 (it sinks and comes back; 0.54
    measured, 0.44 at the learning rate 0.01, 0.50 before the energy_fragility retune),
    sparkles p50 >= 3, structure p50 >= 0.5, change p50 >= 0.12 (kitty.gif: 0.35, 0.18, 0.60,
    5.3, 0.63, 0.15)."""
    from PIL import Image

    first = np.asarray(Image.open(SHARED / "seed" / "kitty.gif").convert("RGB"))
    frames = list(animate(first, preset="kitty", seed=0, device="cpu", size=320))
    assert len(frames) == 40
    measured = look(frames, first.astype(np.float32) / 255)
    luminance = measured["luminance"]
    assert 0.25 <= luminance[1] <= 0.50 and luminance[0] <= 0.30 and luminance[2] >= 0.40, luminance
    assert measured["sparkles"][1] >= 3 and measured["structure"][1] >= 0.5 and measured["change"][1] >= 0.12, measured


@NEEDS_SHARED
def test_helper_measures_as_look_stats_does():
    spec = importlib.util.spec_from_file_location("look_stats", SHARED / "look" / "look_stats.py")
    look_stats = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(look_stats)
    frames = look_stats.read_frames(SHARED / "seed" / "kitty.gif")[:12]
    theirs, ours = look_stats.look(frames[1:], frames[0]), look(frames[1:], frames[0])
    for name in ("luminance", "sparkles", "structure", "change"):
        assert np.allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-6), name
    colour = [c / theirs["source"]["colour"] for c in theirs["colour"]]
    assert np.allclose(ours["colour"], colour, rtol=1e-3)
