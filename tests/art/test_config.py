"""ArtConfig: validation, --set parsing, old names, and JSON/TOML round trips."""

import json
import warnings

import numpy as np
import pytest

from peronamalik import InputError

from peronamalik.art import PRESETS, ArtConfig, preset_config
from peronamalik.art.config import load_config_file


@pytest.mark.parametrize("suffix", [".json", ".toml"])
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_round_trip(tmp_path, suffix, preset):
    config = preset_config(preset)
    path = tmp_path / f"config{suffix}"
    config.save(path)
    assert ArtConfig.from_dict(load_config_file(path)) == config


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_round_trip_keeps_size_none(tmp_path, suffix):
    config = preset_config("glow").replace(size=None)
    config.save(tmp_path / f"c{suffix}")
    assert ArtConfig.from_dict(load_config_file(tmp_path / f"c{suffix}")).size is None


def test_with_setting_coerces_types():
    config = ArtConfig().with_setting("lr=1e-3").with_setting("iterations=10").with_setting("mixing=per-channel")
    config = config.with_setting("loss_weights.edge=2").with_setting("kappa=1").with_setting("every=1e2")
    assert (config.lr, config.iterations, config.mixing, config.kappa) == (1e-3, 10, "per-channel", 1.0)
    assert config.loss_weights["edge"] == 2.0 and config.loss_weights["fidelity"] == 1.0
    assert isinstance(config.kappa, float) and config.every == 100 and isinstance(config.every, int)
    assert ArtConfig().with_setting("pre_step=true").pre_step is True


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("lr", "key=value"),
        ("nope=1", "unknown config field"),
        ("lr=fast", "lr must be a number"),
        ("dt=-1", r"dt must be in \[1e-30, inf\)"),
        ("momentum=1.5", "momentum"),
        ("kernel_size=4", "kernel_size"),
        ("optimizer=rmsprop", "optimizer"),
        ("loss_weights.bogus=1", "loss_weights term must be one of"),
        ("blend=2", "blend"),
        ("iterations=2.5", "iterations must be an integer"),
        ("kappa=nan", "kappa must be a number"),
        ("kappa=NaN", "kappa must be a finite number"),
        ("kappa=1e-300", r"kappa must be in \[1e-30, 1e\+30\]"),
        ("lr=1e300", r"lr must be in \[0, 1e\+06\]"),  # overflowed torch's float32 update
        ("weight_decay=1e300", r"weight_decay must be in"),
        ("iterations=1e400", r"iterations must be an integer, got float inf"),
        ("iterations=" + "9" * 4000, r"iterations must be an integer in \[0, 1000000000\], got an integer of 4000 digits"),
        ("iterations=" + "9" * 5000, r"iterations must be an integer, got str"),  # beyond int()'s digit limit
        ("lr=" + "9" * 4000, r"lr must be a finite number"),
        ("fps=1e-9", r"fps must be in \[0.01, 999\]"),
        ("size=100000", r"size must be an integer in \[8, 65535\]"),
        ("diffusivity=inverse", "diffusivity must be one of"),
        ("loss_weights.edge=-1", "loss_weights.edge must be in"),
        ("momentum=-0.1", "momentum must be in"),
        ("every=0", r"every must be an integer in \[1,"),
        ("pre_step=no", "pre_step must be true or false"),
        ("pre_step=2", "pre_step must be true or false"),
        ("learned_taps=edges", r"learned_taps must be one of \['all', 'centre'\]"),
        ("chroma=photo", r"chroma must be one of \['run', 'source'\]"),
        ("work_side=4", r"work_side must be 0 \(off\) or in \[8, 65535\], got 4"),
        ("work_side=true", "work_side must be an integer, got bool"),
        ("sink_depth=1.5", r"sink_depth must be in \[0, 1\]"),
        ("sink_structure=-0.1", r"sink_structure must be in \[0, 1\]"),
        ("blend_structure=2", r"blend_structure must be in \[0, 1\]"),
        ("change_sigma=9", r"change_sigma must be in \[0, 8\]"),
        ("glint=-0.5", r"glint must be in \[0, 4\]"),
        ("sink_range=0.5", r"sink_range must be in \[1, 1024\]"),
        ("chroma_gain=5", r"chroma_gain must be in \[0, 4\]"),
    ],
)
def test_bad_settings_raise_naming_the_field(assignment, message):
    with pytest.raises(ValueError, match=message):
        ArtConfig().with_setting(assignment)


def test_config_file_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_config_file(tmp_path / "missing.json")
    with pytest.raises(InputError, match="is not a file"):
        load_config_file(tmp_path)
    broken = tmp_path / "broken.toml"
    broken.write_text("lr = = 1")
    with pytest.raises(ValueError, match="cannot parse"):
        load_config_file(broken)


@pytest.mark.parametrize(("old", "new", "value"), [("k", "kappa", 0.3), ("conductance", "diffusivity", "rational")])
def test_old_names_still_load_with_a_deprecation_warning(tmp_path, old, new, value):
    with pytest.warns(DeprecationWarning, match=f"{old!r} is now called {new!r}"):
        assert getattr(ArtConfig().with_setting(f"{old}={json.dumps(value)}"), new) == value
    sidecar = tmp_path / "old.gif.json"
    sidecar.write_text(json.dumps({"seed": 3, "config": {old: value, "iterations": 5}}))
    with pytest.warns(DeprecationWarning):
        config = ArtConfig.from_dict(load_config_file(sidecar)["config"])
    assert getattr(config, new) == value and config.iterations == 5
    assert old not in config.to_dict()  # written back in the new words
    with pytest.raises(InputError, match="both"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ArtConfig.from_dict({old: value, new: value})


def test_the_art_config_speaks_the_cores_words():
    config = preset_config("glow").replace(diffusivity="rational")
    assert config.diffusion.diffusivity == config.diffusivity == "rational"
    assert config.diffusion.kappa == config.kappa and config.diffusion.scheme == "seed"
    assert not {"k", "conductance"} & set(config.to_dict())


def test_a_size_this_machine_cannot_hold_is_refused_before_allocating():
    from peronamalik._validate import machine_memory

    side = int((machine_memory() / 256) ** 0.5) + 100
    if side > 65535:
        pytest.skip("this machine holds the largest size")
    with pytest.raises(InputError, match=r"size=\d+ .* needs about .* GiB, more than this machine's"):
        ArtConfig(size=side)


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("[" * 100000 + "]" * 100000, ".json", "nested too deeply"),
        ("a = " + "[" * 100000 + "]" * 100000, ".toml", "cannot parse|nested too deeply"),
        ('{"iterations": ' + "9" * 5000 + "}", ".json", "cannot parse"),
        ("[1, 2]", ".json", "must hold a table"),
        (b"\xff\xfe\x00lr = 1", ".toml", "cannot parse"),
    ],
)
def test_hostile_config_files(tmp_path, text, suffix, message):
    path = tmp_path / f"c{suffix}"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError, match=message):
        load_config_file(path)


def test_source_relative_kappa_and_energy_follow_the_source():
    """kappa_texture: kappa scales with the RMS of the source's Laplacian response (scipy's
    convolution, mirror padding, as oracle); energy_relative: the energy weight with 1/mean(I0²).
    Twice the contrast: twice kappa, a quarter of the weight."""
    import torch
    from scipy import ndimage

    from peronamalik.art.config import REFERENCE_MEAN_SQUARE, REFERENCE_TEXTURE

    config = ArtConfig(kappa=0.3, kappa_texture=True, energy_relative=True,
                       loss_weights={"fidelity": 1.0, "energy": 8.0})
    image = torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 0.5
    stencil = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)
    response = ndimage.convolve(image[0].sum(0).numpy(), stencil, mode="mirror")  # full mixing: every channel
    texture = np.sqrt(np.mean(response**2))
    run = config.relative_to(image.float())
    assert not (run.kappa_texture or run.energy_relative)
    assert run.kappa == pytest.approx(0.3 * texture / REFERENCE_TEXTURE, rel=1e-5)
    mean_square = float(image.square().mean())
    assert run.loss_weights == pytest.approx({"fidelity": 1.0, "energy": 8.0 * REFERENCE_MEAN_SQUARE / mean_square}, rel=1e-5)
    brighter = config.relative_to((2 * image).float())
    assert brighter.kappa == pytest.approx(2 * run.kappa, rel=1e-5)
    assert brighter.loss_weights["energy"] == pytest.approx(run.loss_weights["energy"] / 4, rel=1e-5)
    plain = ArtConfig(kappa=0.3)
    assert plain.relative_to(image.float()) is plain


def test_energy_exponent_and_fragility_scale_the_energy_weight():
    """energy_exponent p and energy_fragility q: the energy weight × (0.25 / mean(I0²))^p ×
    (r / 0.92)^q, r the correlation of the Scharr gradient magnitudes of the luminance and
    of its 1 px Gaussian blur (scipy.ndimage as oracle: nearest-padded Gaussian, mirrored
    Scharr).  Fine texture persists less under a blur than a smooth ramp; the defaults (p 1,
    q 0) leave energy_relative as it was."""
    import torch
    from scipy import ndimage

    from peronamalik.art.config import REFERENCE_MEAN_SQUARE, REFERENCE_PERSISTENCE, edge_persistence

    image = torch.rand(1, 3, 24, 30, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    image = image * 0.3 + torch.linspace(0, 0.6, 30, dtype=torch.float64)  # noise on a ramp
    grey = (image[0] * torch.tensor([0.2126, 0.7152, 0.0722], dtype=torch.float64).view(3, 1, 1)).sum(0).numpy()
    scharr = np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], dtype=float)

    def magnitude(y):
        return np.hypot(ndimage.correlate(y, scharr, mode="mirror"), ndimage.correlate(y, scharr.T, mode="mirror"))

    blurred = ndimage.gaussian_filter(grey, 1.0, mode="nearest", truncate=4.0)
    persistence = np.corrcoef(magnitude(grey).ravel(), magnitude(blurred).ravel())[0, 1]
    assert edge_persistence(image) == pytest.approx(persistence, rel=1e-6)
    ramp = torch.linspace(0, 1, 30, dtype=torch.float64).square().expand(1, 3, 24, 30)
    assert edge_persistence(image) < 0.6 < 0.9 < edge_persistence(ramp)
    config = ArtConfig(energy_relative=True, energy_exponent=0.5, energy_fragility=4.0,
                       loss_weights={"fidelity": 1.0, "energy": 8.0})
    mean_square = float(image.square().mean())
    expected = 8.0 * (REFERENCE_MEAN_SQUARE / mean_square) ** 0.5 * (persistence / REFERENCE_PERSISTENCE) ** 4
    assert config.relative_to(image.float()).loss_weights["energy"] == pytest.approx(expected, rel=1e-5)
    plain = ArtConfig(energy_relative=True, loss_weights={"energy": 8.0}).relative_to(image.float())
    assert plain.loss_weights["energy"] == pytest.approx(8.0 * REFERENCE_MEAN_SQUARE / mean_square, rel=1e-6)
    assert edge_persistence(torch.zeros(1, 3, 8, 8)) == 1.0  # flat: nothing to lose
    for name in ("energy_exponent", "energy_fragility"):
        with pytest.raises(InputError, match=name):
            ArtConfig(**{name: 17.0})


def test_source_relative_settings_are_checked_and_a_flat_source_is_floored():
    import torch

    with pytest.raises(TypeError, match="kappa_texture must be true or false"):
        ArtConfig().with_setting("kappa_texture=1")
    with pytest.raises(TypeError, match="energy_relative must be true or false"):
        ArtConfig(energy_relative="yes")
    run = ArtConfig(kappa=0.35, kappa_texture=True, energy_relative=True).relative_to(torch.zeros(1, 3, 8, 8))
    assert run.kappa == pytest.approx(0.35 / 255 / 0.35) and run.loss_weights["energy"] == pytest.approx(0.25 * 255)


def test_kappa_texture_min_and_max_bound_the_texture_factor():
    """The factor rms(Laplacian response) / REFERENCE_TEXTURE on kappa, kept in [min, max]
    (ember's [1, 1.5]: kappa only grows, and not past the cap); max 0: no bound."""
    import torch

    from peronamalik.art.config import REFERENCE_TEXTURE

    generator = torch.Generator().manual_seed(6)
    smooth = torch.linspace(0, 1, 24, dtype=torch.float64).square().expand(1, 3, 20, 24).float()
    busy = torch.rand(1, 3, 20, 24, generator=generator, dtype=torch.float64).float()

    def factor(image, **bounds) -> float:
        return ArtConfig(kappa=0.3, kappa_texture=True, **bounds).relative_to(image).kappa / 0.3

    free_smooth, free_busy = factor(smooth), factor(busy)
    assert free_smooth < 0.5 and free_busy > 2.0  # the unbounded factor, either side of 1
    assert factor(smooth, kappa_texture_min=1.0) == pytest.approx(1.0)
    assert factor(busy, kappa_texture_min=1.0) == pytest.approx(free_busy)
    assert factor(busy, kappa_texture_min=1.0, kappa_texture_max=1.5) == pytest.approx(1.5)
    assert factor(smooth, kappa_texture_max=1.5) == pytest.approx(free_smooth)
    assert free_busy == pytest.approx(factor(busy, kappa_texture_max=0.0))
    assert REFERENCE_TEXTURE * free_smooth < REFERENCE_TEXTURE < REFERENCE_TEXTURE * free_busy
    with pytest.raises(InputError, match=r"kappa_texture_max \(1.2\) must be 0 \(no bound\) or at least kappa_texture_min \(1.5\)"):
        ArtConfig(kappa_texture_min=1.5, kappa_texture_max=1.2)
    for name in ("kappa_texture_min", "kappa_texture_max"):
        with pytest.raises(InputError, match=name):
            ArtConfig(**{name: -1.0})
        with pytest.raises(InputError, match=name):
            ArtConfig(**{name: 17.0})


def test_texture_is_read_at_the_same_scale_whatever_the_run_size():
    """kappa_texture reads the source at most TEXTURE_SIDE pixels long: a 2048 px photo run at
    its own size gets the kappa it gets run at 320 px (read at full size, a pixel-scale
    response weakens as a photo grows: kappa fell 10x at 2048 px), and photos of one scene at
    451 (the bundled sample), 1280 and 2048 px get kappas within 15 %."""
    import torch
    from PIL import Image

    from peronamalik.art.config import TEXTURE_SIDE
    from peronamalik.art.source import load_source, sample_array

    def kappa(photo: np.ndarray, size: int | None) -> float:
        source = load_source(photo, size=size, device=torch.device("cpu")).tensor
        return ArtConfig(kappa=0.4, kappa_texture=True).relative_to(source).kappa

    sample = sample_array()
    at_side = kappa(sample, TEXTURE_SIDE)
    for width in (1280, 2048):
        photo = np.asarray(Image.fromarray(sample).resize((width, width * 2 // 3), Image.LANCZOS))
        assert kappa(photo, None) == pytest.approx(kappa(photo, TEXTURE_SIDE), rel=1e-3)
        assert kappa(photo, None) == pytest.approx(at_side, rel=0.15)
    assert kappa(sample, None) == pytest.approx(at_side, rel=1e-3)
    assert kappa(sample, 160) > 1.2 * at_side  # below the side a source is read as it is
