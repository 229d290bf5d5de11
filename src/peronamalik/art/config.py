"""Every knob of the learned-operator ("on drugs") mode, in one config object."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from peronamalik._extras import require

CONDUCTANCES = ("exp", "rational", "tukey", "inv")
OPTIMIZERS = ("sgd", "adam")
MIXINGS = ("full", "per-channel")
REDUCTIONS = ("sum", "mean")


@dataclass(frozen=True)
class ArtConfig:
    """The learned-operator diffusion and its animation.

    Each iteration does one seed step :math:`I_t = \\mathrm{clamp}(I_{t-1} + dt\\,L\\,c(L), 0, 1)`
    with :math:`L = K * I_{t-1}`, then one optimizer step on K for the weighted loss
    :math:`\\sum_j w_j\\,\\mathrm{reduce}(\\mathrm{term}_j)` (terms in :mod:`peronamalik.art.losses`).

    Attributes
    ----------
    iterations : int
        Diffusion + optimizer steps.
    every : int
        A frame is taken after every ``every``-th iteration (iteration 0 included).
    size : int or None
        Longer side the input is resized to (None, or 0 in files, keeps the input's size).
    fps : float
        Frame rate of the written animation.
    conductance : str
        ``exp`` :math:`e^{-(L/k)^2}` (the seed), ``rational``, ``tukey``, or ``inv`` (the seed's
        :math:`1/(|\\nabla I|_{Scharr}/k^2 + 1)`).
    k : float
        Diffusion rate (kappa of the conductance), > 0.
    dt : float
        Time step, > 0.
    optimizer : str
        ``sgd`` (the seed) or ``adam``.
    lr, momentum, weight_decay : float
        Optimizer settings (momentum is SGD's; Adam uses its defaults for betas).
    reduction : str
        ``sum`` over pixels (the seed: the look depends on image size) or ``mean`` per pixel
        (resolution-invariant presets).
    loss_weights : dict
        Weight of each named loss term (``fidelity`` (I_t − I_0)², ``edge`` |L|, ``energy`` I_t²,
        and any term registered in :mod:`peronamalik.art.losses`).
    kernel_size : int
        3 (the seed) or 5.
    mixing : str
        ``full``: the operator mixes the colours (the seed); ``per-channel``: one per channel.
    kernel_noise : float
        Standard deviation of Gaussian noise added to the Laplacian at every (re)start; draws
        from the run's seed (0 for the seed preset, which is then seed-independent).
    refresh_period, refresh_offset : int
        K is reset, the image blended and lr decayed at iterations ``i`` with
        ``i % refresh_period == refresh_offset`` (the seed: 375, 300).  0 disables.
    blend : float
        At a refresh, ``I = blend * I + (1 - blend) * I_0`` (the seed: 0.6).
    lr_decay : float
        At a refresh, ``lr *= lr_decay`` and the optimizer is recreated (momentum lost).
    pre_step : bool
        Image mode only: one diffusion step from I_0 with the initial K before the first
        iteration, without learning (the seed's, so its frame 0 shows two steps; off for
        the other presets).
    frame_blend : float
        Video mode only (:mod:`peronamalik.art.video`): before the learning step of incoming
        frame ``n``, the state is pulled toward the frame F, ``I = frame_blend * I +
        (1 - frame_blend) * F`` (the seed's live video: 0.8).  The image mode ignores it.
    frame_blend_skip : int
        Video mode only: frames whose counter ``n`` is a multiple of ``frame_blend_skip``
        are not blended (the seed: 8).  0 blends every frame.
    """

    iterations: int = 3000
    every: int = 30
    size: int | None = 320
    fps: float = 20.0
    conductance: str = "exp"
    k: float = 0.2
    dt: float = 0.2
    optimizer: str = "sgd"
    lr: float = 0.46
    momentum: float = 0.9
    weight_decay: float = 0.0
    reduction: str = "mean"
    loss_weights: dict[str, float] = field(default_factory=lambda: {"fidelity": 1.0, "edge": 1.0, "energy": 1.0})
    kernel_size: int = 3
    mixing: str = "full"
    kernel_noise: float = 0.0
    refresh_period: int = 375
    refresh_offset: int = 300
    blend: float = 0.6
    lr_decay: float = 0.995
    pre_step: bool = False
    frame_blend: float = 0.8
    frame_blend_skip: int = 8

    def __post_init__(self) -> None:
        _check_int("iterations", self.iterations, minimum=0)
        _check_int("every", self.every, minimum=1)
        if self.size == 0 and not isinstance(self.size, bool):
            object.__setattr__(self, "size", None)  # TOML has no null: 0 stands for None
        if self.size is not None:
            _check_int("size", self.size, minimum=8)
        _check_real("fps", self.fps, positive=True)
        _check_choice("conductance", self.conductance, CONDUCTANCES)
        _check_real("k", self.k, positive=True)
        _check_real("dt", self.dt, positive=True)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("lr", "momentum", "weight_decay", "kernel_noise"):
            _check_real(name, getattr(self, name), positive=False)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        _check_choice("reduction", self.reduction, REDUCTIONS)
        if not isinstance(self.loss_weights, dict) or not self.loss_weights:
            raise ValueError("loss_weights must be a non-empty mapping of term name to weight")
        from peronamalik.art.losses import LOSS_TERMS

        for term, weight in self.loss_weights.items():
            if term not in LOSS_TERMS:
                raise ValueError(f"loss_weights has unknown term {term!r}; known: {sorted(LOSS_TERMS)}")
            _check_real(f"loss_weights.{term}", weight, positive=False)
        _check_choice("kernel_size", self.kernel_size, (3, 5))
        _check_choice("mixing", self.mixing, MIXINGS)
        _check_int("refresh_period", self.refresh_period, minimum=0)
        _check_int("refresh_offset", self.refresh_offset, minimum=0)
        if not 0.0 <= self.blend <= 1.0:
            raise ValueError(f"blend must be in [0, 1], got {self.blend}")
        _check_real("lr_decay", self.lr_decay, positive=True)
        if not isinstance(self.pre_step, bool):
            raise ValueError(f"pre_step must be true or false, got {self.pre_step!r}")
        _check_real("frame_blend", self.frame_blend, positive=False)
        if self.frame_blend > 1.0:
            raise ValueError(f"frame_blend must be in [0, 1], got {self.frame_blend}")
        _check_int("frame_blend_skip", self.frame_blend_skip, minimum=0)

    def replace(self, **overrides: Any) -> ArtConfig:
        """A copy with ``overrides`` applied (unknown names raise ValueError)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_setting(self, assignment: str) -> ArtConfig:
        """Apply one ``key=value`` string (``--set``); ``loss_weights.NAME=w`` sets one weight.

        The value is parsed as JSON when it can be (numbers, true/false, null), else kept as
        a string, then coerced to the field's type.
        """
        if "=" not in assignment:
            raise ValueError(f"--set needs key=value, got {assignment!r}")
        key, raw = (part.strip() for part in assignment.split("=", 1))
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if key.startswith("loss_weights."):
            return self.replace(loss_weights={**self.loss_weights, key.split(".", 1)[1]: _as_float(key, value)})
        defaults = {f.name: f for f in fields(self)}
        if key not in defaults:
            raise ValueError(f"--set: unknown config field {key!r}; known: {sorted(defaults)}")
        current = getattr(self, key)
        if isinstance(current, bool):
            if isinstance(value, str) or value not in (True, False):
                raise ValueError(f"{key} must be true or false, got {raw!r}")
            value = bool(value)
        elif isinstance(current, int) and not isinstance(value, str) and value is not None:
            value = int(value) if float(value) == int(value) else value
        elif isinstance(current, float):
            value = _as_float(key, value)
        return self.replace(**{key: value})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtConfig:
        return cls().replace(**data)

    def save(self, path: Path) -> None:
        """Write the config as JSON or TOML, by the file's extension."""
        path = Path(path)
        if path.suffix.lower() == ".toml":
            path.write_text(require("tomli_w", "io").dumps({k: 0 if v is None else v for k, v in self.to_dict().items()}))
        else:
            path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a JSON or TOML file into a dict (a sidecar's ``config`` table is returned whole)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file not found: {path}")
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot parse config file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a table/object at the top level")
    return data


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _check_real(name: str, value: Any, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (positive and value <= 0) or value < 0:
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value}")


def _check_choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
