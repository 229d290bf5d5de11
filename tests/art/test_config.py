"""ArtConfig: validation, --set parsing and JSON/TOML round trips."""

import pytest

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
    config = config.with_setting("loss_weights.edge=2").with_setting("k=1")
    assert (config.lr, config.iterations, config.mixing, config.k) == (1e-3, 10, "per-channel", 1.0)
    assert config.loss_weights["edge"] == 2.0 and config.loss_weights["fidelity"] == 1.0
    assert isinstance(config.k, float)
    assert ArtConfig().with_setting("pre_step=true").pre_step is True


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("lr", "key=value"),
        ("nope=1", "unknown config field"),
        ("lr=fast", "lr must be a number"),
        ("dt=-1", "dt must be > 0"),
        ("momentum=1.5", "momentum"),
        ("kernel_size=4", "kernel_size"),
        ("optimizer=rmsprop", "optimizer"),
        ("loss_weights.bogus=1", "unknown term"),
        ("blend=2", "blend"),
        ("iterations=2.5", "iterations must be an integer"),
        ("k=nan", "k must be a number"),
        ("pre_step=no", "pre_step must be true or false"),
        ("pre_step=2", "pre_step must be true or false"),
    ],
)
def test_bad_settings_raise_naming_the_field(assignment, message):
    with pytest.raises(ValueError, match=message):
        ArtConfig().with_setting(assignment)


def test_config_file_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_config_file(tmp_path / "missing.json")
    broken = tmp_path / "broken.toml"
    broken.write_text("lr = = 1")
    with pytest.raises(ValueError, match="cannot parse"):
        load_config_file(broken)
