"""The page's controls, generated from :class:`~peronamalik.art.config.ArtConfig`'s fields.

Every field becomes one control (a dict the page turns into a widget); which group it sits
in and whether a change can apply to a running animation come from the tables below, by
field name.  A field the tables do not know (a new or renamed one) still gets a control,
in the group "other", and restarts the run when changed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from peronamalik.art import config as config_module
from peronamalik.art.config import ArtConfig, unknown_fields_message
from peronamalik.art.losses import LOSS_TERMS
from peronamalik.art.presets import DEFAULT_PRESET, PRESETS, preset_config

GROUPS: dict[str, tuple[str, ...]] = {
    "diffusion": ("diffusivity", "kappa", "dt", "kernel_size", "mixing", "channels", "chroma", "kernel_noise", "pre_step"),
    "optimizer": ("optimizer", "lr", "momentum", "weight_decay", "reduction", "learned_taps"),
    "source-relative": ("kappa_relative", "kappa_texture", "kappa_texture_min", "kappa_texture_max", "energy_relative", "grey_tint"),
    "loss weights": ("loss_weights",),
    "refresh": ("refresh_period", "refresh_offset", "blend", "lr_decay", "sink_depth", "sink_range", "sink_structure", "blend_structure"),
    "output": ("iterations", "every", "size", "work_side", "fps", "chroma_gain", "change_sigma", "glint"),
    "video": ("frame_blend", "frame_blend_skip"),
}

#: Fields a running engine picks up from its next iteration (the engine reads them from its
#: config at every step or refresh); a change to any other field restarts the run.
LIVE_FIELDS = frozenset(
    {"kappa", "dt", "lr", "momentum", "weight_decay", "reduction", "loss_weights", "blend", "lr_decay",
     "refresh_period", "refresh_offset", "fps", "frame_blend", "frame_blend_skip", "chroma_gain", "change_sigma", "glint"}
)

#: Slider ranges (low, high, log scale) for float fields; others get a number box.
RANGES: dict[str, tuple[float, float, bool]] = {
    "kappa": (0.01, 2.0, True), "dt": (0.01, 0.5, False), "lr": (1e-7, 10.0, True),
    "momentum": (0.0, 0.99, False), "weight_decay": (0.0, 0.01, False), "kernel_noise": (0.0, 0.5, False),
    "blend": (0.0, 1.0, False), "lr_decay": (0.9, 1.0, False), "fps": (1.0, 60.0, False),
    "frame_blend": (0.0, 1.0, False), "loss_weights": (0.0, 10.0, False),
    "sink_depth": (0.0, 1.0, False), "sink_range": (1.0, 64.0, True), "sink_structure": (0.0, 1.0, False),
    "blend_structure": (0.0, 1.0, False), "kappa_texture_min": (0.0, 4.0, False), "kappa_texture_max": (0.0, 4.0, False),
    "grey_tint": (0.0, 0.5, False), "chroma_gain": (0.0, 4.0, False), "change_sigma": (0.0, 4.0, False), "glint": (0.0, 4.0, False),
}

#: Choices of the string fields, from the config module's tuples.
CHOICES: dict[str, tuple] = {
    "diffusivity": config_module.DIFFUSIVITIES,
    "optimizer": config_module.OPTIMIZERS, "mixing": config_module.MIXINGS,
    "reduction": config_module.REDUCTIONS, "kernel_size": (3, 5), "learned_taps": config_module.LEARNED_TAPS,
    "channels": config_module.CHANNELS, "chroma": config_module.CHROMAS,
}


def group_of(name: str) -> str:
    return next((group for group, names in GROUPS.items() if name in names), "other")


def control(name: str, default: Any) -> dict[str, Any]:
    """One field's control: ``name``, ``group``, ``kind`` (select, checkbox, range, int,
    weights), ``live`` and the kind's bounds."""
    spec: dict[str, Any] = {"name": name, "group": group_of(name), "live": name in LIVE_FIELDS}
    if name in CHOICES:
        spec.update(kind="select", choices=list(CHOICES[name]))
    elif isinstance(default, bool):
        spec.update(kind="checkbox")
    elif isinstance(default, dict):
        low, high, _ = RANGES["loss_weights"]
        spec.update(kind="weights", terms=sorted(LOSS_TERMS), min=low, max=high)
    elif isinstance(default, float) and name in RANGES:
        low, high, log = RANGES[name]
        spec.update(kind="range", min=low, max=high, log=log)
    elif isinstance(default, float):
        spec.update(kind="float", min=0.0)
    else:  # int, or int | None (size: 0 keeps the input's size)
        spec.update(kind="int", min=0 if name in ("size", "refresh_period", "refresh_offset", "frame_blend_skip") else 1)
    return spec


def schema() -> dict[str, Any]:
    """What the page needs to build itself: controls in group order, presets and their configs."""
    defaults = ArtConfig()
    controls = [control(f.name, getattr(defaults, f.name)) for f in dataclasses.fields(ArtConfig)]
    order = list(GROUPS) + ["other"]
    controls.sort(key=lambda spec: order.index(spec["group"]))
    presets = {name: json_config(preset_config(name)) for name in PRESETS}
    return {"controls": controls, "groups": order, "presets": presets}


def json_config(config: ArtConfig) -> dict[str, Any]:
    """``config.to_dict()`` with ``size=None`` written as 0 (as in TOML files)."""
    return {key: 0 if value is None else value for key, value in config.to_dict().items()}


def build_config(preset: str, overrides: dict[str, Any]) -> ArtConfig:
    """The preset's config with ``overrides`` (``{"lr": 0.5, "loss_weights.edge": 2}``) applied
    through :meth:`ArtConfig.with_setting`, the CLI's ``--set``; ValueError names a bad one
    in the page's words (settings, not ``--set``)."""
    if not isinstance(overrides, dict):
        raise ValueError("overrides must be a mapping of field name to value")
    for key in overrides:
        if not isinstance(key, str):
            raise ValueError(f"override names must be strings, got {key!r}")
    known = {f.name for f in dataclasses.fields(ArtConfig)} | set(config_module.ALIASES)
    unknown = sorted(key for key in overrides if key not in known and not key.startswith("loss_weights."))
    if unknown:
        raise ValueError(unknown_settings(unknown, known))
    config = preset_config(preset)
    for key, value in overrides.items():
        try:
            config = config.with_setting(f"{key}={json.dumps(value)}")
        except ValueError as exc:  # the CLI's "--set: ..." prefix means nothing on the page
            if not str(exc).startswith("--set: "):
                raise
            raise ValueError(str(exc).removeprefix("--set: ")) from None
    return config


def unknown_settings(unknown: list[str], known: set[str]) -> str:
    """The art config's one line on unknown fields, in the page's words: "unknown setting(s)
    'kapa'; did you mean kappa?"."""
    return unknown_fields_message(unknown, known).replace("unknown config field(s)", "unknown setting(s)", 1)


#: The largest ``size`` a page may ask for: a server-side frame of 2048² is already ~50 MB of
#: engine state per session (``peronamalik art`` renders larger).
MAX_SIZE = 2048


def requested(preset: Any, overrides: Any, seed: Any = None) -> tuple[str, ArtConfig, int | None]:
    """A run the page asks for, checked: the preset's name, its config with ``overrides``
    (:func:`build_config`) and the seed (None: keep or draw one).

    Raises
    ------
    ValueError
        An unknown preset, a seed outside ``[0, 2**63)``, a size above :data:`MAX_SIZE` or a
        bad override, named.
    """
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    config = build_config(preset, overrides or {})
    if config.size is not None and config.size > MAX_SIZE:
        raise ValueError(f"size must be at most {MAX_SIZE} in the studio (0: the input's own), got {config.size}")
    return preset, config, seed


def from_link(query: Mapping[str, str]) -> tuple[str, ArtConfig, int | None]:
    """The run a shared link asks for, ``?preset=ink&seed=7&kappa=0.3`` (the page writes
    its address this way): each value read as JSON where it parses (numbers, true/false),
    else as a string; no preset: the default one.  ValueError as :func:`requested`."""
    values: dict[str, Any] = {}
    for key, raw in query.items():
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return requested(values.pop("preset", DEFAULT_PRESET), values, values.pop("seed", None))


def needs_restart(old: ArtConfig, new: ArtConfig) -> bool:
    """Does going from ``old`` to ``new`` change a field a running engine cannot pick up?"""
    return any(
        getattr(old, f.name) != getattr(new, f.name) and f.name not in LIVE_FIELDS for f in dataclasses.fields(ArtConfig)
    )
