"""Curated looks of the learned mode.  Each preset is a set of :class:`ArtConfig` fields.

All presets but "seed" are resolution-invariant: their loss is a per-pixel mean
(``reduction="mean"``), so the gradient on K, and hence the look, does not scale with the
number of pixels.  The seed's summed loss with lr 2e-6 at 320×240×3 corresponds to a mean
loss with lr ≈ 2e-6 · 230,400 ≈ 0.46 and weight decay 5e-4 / 230,400 ≈ 2e-9 (≈ 0).
"""

from __future__ import annotations

from typing import Any

from peronamalik.art.config import ArtConfig

SEED_PIXELS = 320 * 240 * 3

PRESETS: dict[str, dict[str, Any]] = {
    # The 2017 original, exactly as ALGORITHM.md describes it (summed loss: size-dependent).
    "seed": dict(
        iterations=3000, every=75, conductance="exp", k=0.2, dt=0.2, optimizer="sgd", lr=2e-6,
        momentum=0.9, weight_decay=5e-4, reduction="sum",
        loss_weights={"fidelity": 1.0, "edge": 1.0, "energy": 1.0}, kernel_size=3, mixing="full",
        kernel_noise=0.0, refresh_period=375, refresh_offset=300, blend=0.6, lr_decay=0.995,
    ),
    # kitty.gif's look: the seed's dynamics with the loss normalised per pixel.
    "glow": dict(
        every=30, lr=2e-6 * SEED_PIXELS, weight_decay=5e-4 / SEED_PIXELS, reduction="mean",
    ),
    # Four times the glow's learning rate: K learns a sharpening operator; dark inked edges.
    "ink": dict(
        every=30, lr=4 * 2e-6 * SEED_PIXELS, weight_decay=0.0, reduction="mean",
    ),
    # The seed's Scharr conductance: colours flood between edges, green/magenta, high contrast.
    "trip": dict(
        every=30, conductance="inv", lr=2e-6 * SEED_PIXELS, weight_decay=0.0, reduction="mean",
    ),
    # Slow, soft: half the step, a rational conductance, per-channel operators, gentle blends.
    "melt": dict(
        every=30, conductance="rational", dt=0.1, lr=0.25, weight_decay=0.0, reduction="mean",
        mixing="per-channel", kernel_noise=0.05, blend=0.8,
        loss_weights={"fidelity": 0.5, "edge": 1.0, "energy": 0.5},
    ),
}

DEFAULT_PRESET = "glow"


def preset_config(name: str) -> ArtConfig:
    """The :class:`ArtConfig` of preset ``name``."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return ArtConfig().replace(**PRESETS[name])
