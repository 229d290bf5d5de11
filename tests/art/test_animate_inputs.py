"""``animate`` and ``render`` with the wrong kind of ``config`` or ``seed``, and output options
the format does not take: refused naming the parameter (QA), not an AttributeError, not ignored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import pytest
from PIL import Image

from peronamalik._validate import InputError, InputTypeError
from peronamalik.art import ArtConfig, animate, render
from peronamalik.core.threads import torch_threads

TINY = dict(iterations=20, every=10, size=32)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.random.default_rng(0).random((32, 32))


@pytest.mark.parametrize(
    "config, hint",
    [
        ({"kappa": 0.5}, "ArtConfig.from_dict"),
        ("ink", "preset='ink'"),
        (3, "got int"),
    ],
)
def test_config_that_is_not_an_art_config_is_refused_naming_the_way(photo, config, hint) -> None:
    with pytest.raises(InputTypeError, match=r"config must be an ArtConfig") as caught:
        list(animate(photo, config=config, **TINY))
    assert hint in str(caught.value)
    assert isinstance(caught.value, TypeError)


def test_a_dict_through_from_dict_or_keywords_is_the_way(photo) -> None:
    with torch_threads(1):
        from_dict = list(animate(photo, config=ArtConfig.from_dict({"kappa": 0.5, **TINY}), seed=1))
        keywords = list(animate(photo, kappa=0.5, seed=1, **TINY))
    assert len(from_dict) == len(keywords) == 2


@pytest.mark.parametrize("seed", [np.int64(7), np.uint8(7), np.int32(7)])
def test_numpy_integer_seeds_are_integers(photo, seed) -> None:
    """``np.int64(7)`` was refused as "not an integer in [0, 2**63)"; it gives seed 7's frames."""
    with torch_threads(1):
        numpy_seeded = list(animate(photo, seed=seed, **TINY))
        plain = list(animate(photo, seed=7, **TINY))
    assert len(numpy_seeded) == 2 and all(np.array_equal(a, b) for a, b in zip(numpy_seeded, plain))


@pytest.mark.parametrize(
    "seed, error, message",
    [
        (True, InputTypeError, "got bool True"),
        ("7", InputTypeError, "got str '7'"),
        (7.0, InputTypeError, "got float 7.0"),
        (-1, InputError, "got -1"),
        (np.uint64(2**63), InputError, f"got {2**63}"),
    ],
)
def test_seeds_that_are_not_integers_in_range_are_refused(photo, seed, error, message) -> None:
    with pytest.raises(error, match=r"seed must be an integer in \[0, 2\*\*63\)") as caught:
        list(animate(photo, seed=seed, **TINY))
    assert message in str(caught.value)


def test_render_records_a_numpy_seed_as_a_json_number(photo, tmp_path) -> None:
    with torch_threads(1):
        written = render(photo, tmp_path / "s.gif", seed=np.int64(7), **TINY)
    assert json.loads(Path(f"{written}.json").read_text())["seed"] == 7


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("x.mp4", dict(dither=True), "dither applies to GIF output (.gif) only, not a .mp4"),
        ("x.mp4", dict(gif_quality="high"), "gif_quality applies to GIF output (.gif) only, not a .mp4"),
        ("x.webm", dict(dither=True, gif_quality="low"), "gif_quality and dither apply to GIF output (.gif) only"),
        ("x.webp", dict(gif_quality="low"), "gif_quality applies to GIF output (.gif) only, not a .webp"),
        ("x.png", dict(dither=True), "dither applies to GIF output (.gif) only, not a .png"),
        ("frames/", dict(gif_quality="medium"), "not a folder of PNG frames"),
        ("x.png", dict(fps=3), "fps does not apply to a .png"),
        ("x.gif", dict(gif_quality="best"), "gif_quality must be one of high, medium, low"),
        ("x.gif", dict(dither="yes"), "dither must be True or False"),
    ],
)
def test_render_refuses_options_the_format_does_not_take_before_any_work(photo, tmp_path, name, options, message):
    """``render(..., "x.mp4", dither=True)`` used to write the .mp4 and drop the option."""
    ticks: list[int] = []
    with pytest.raises(InputError) as caught:
        render(photo, f"{tmp_path}/{name}", progress=lambda done, total: ticks.append(done), **TINY, **options)
    assert message in str(caught.value)
    assert ticks == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, options", [("x.gif", dict(dither=True, gif_quality="low", fps=5)), ("x.png", {}),
                                           ("frames/", dict(fps=5)), ("x.mp4", dict(gif_quality=None))])
def test_render_takes_the_options_that_apply(photo, tmp_path, name, options) -> None:
    with torch_threads(1):
        written = render(photo, f"{tmp_path}/{name}", seed=0, **TINY, **options)
    assert written.exists()
    if name.endswith(".gif"):
        with Image.open(written) as image:
            assert image.n_frames == 2 and image.info["duration"] == 200


@pytest.mark.parametrize(
    "samples, name",
    [
        (np.linspace(0, 65535, 48 * 40).reshape(40, 48).astype(np.uint16), "ramp16.png"),
        (np.linspace(0, 1, 48 * 40).reshape(40, 48).astype(np.float32), "rampf.tif"),
        (np.linspace(-5e4, 5e4, 48 * 40).reshape(40, 48).astype(np.int32), "ramp32.tif"),
    ],
)
def test_a_pil_image_keeps_its_bit_depth(tmp_path: Path, samples: np.ndarray, name: str) -> None:
    """QA: a 16-bit, float or 32-bit PIL image went through ``convert("RGB")``, which clips:
    a 16-bit ramp came out 99.6 % white.  Opened with Pillow it now loads as its file does."""
    from peronamalik.art.source import load_source

    Image.fromarray(samples).save(tmp_path / name)
    with Image.open(tmp_path / name) as opened:
        from_pil = load_source(opened, size=None, device="cpu").tensor
    from_path = load_source(tmp_path / name, size=None, device="cpu").tensor
    expected = (samples - samples.min()) / (samples.max() - samples.min())
    np.testing.assert_allclose(from_pil[0, 0].numpy(), expected, atol=1e-6)
    assert torch.equal(from_pil, from_path)


@pytest.mark.parametrize("preset", ["ember", "kitty"])
def test_the_seed_matters_only_with_kernel_noise(photo, preset) -> None:
    """As ``ArtConfig.kernel_noise`` and ``--seed --help`` say: no preset draws random
    numbers, so seeds 0 and 1 give the same frames; with kernel noise they differ (QA took the
    studio's "New seed" for broken)."""
    with torch_threads(1):
        plain = [list(animate(photo, preset=preset, seed=seed, **TINY)) for seed in (0, 1)]
        noisy = [list(animate(photo, preset=preset, seed=seed, kernel_noise=0.05, **TINY)) for seed in (0, 1)]
    assert all(np.array_equal(a, b) for a, b in zip(*plain))
    assert not all(np.array_equal(a, b) for a, b in zip(*noisy))
