"""Named loss terms of the learned operator; the total loss is their weighted sum.

A term maps the step's :class:`LossInputs` to a per-element tensor; the engine reduces it
(sum or mean) and weights it.  Other modes register their own terms in ``LOSS_TERMS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LossInputs:
    """What one step produced: ``image`` I_t, ``target`` I_0 (or the incoming video frame),
    ``response`` L = K * I_{t-1}."""

    image: torch.Tensor
    target: torch.Tensor
    response: torch.Tensor


LossTerm = Callable[[LossInputs], torch.Tensor]

LOSS_TERMS: dict[str, LossTerm] = {
    "fidelity": lambda s: (s.image - s.target).square(),
    "edge": lambda s: s.response.abs(),
    "energy": lambda s: s.image.square(),
    # The seed's live video (ALGORITHM.md): sum((L (I_t - F))^2 + L + 10 (I_t L)^2), F the frame.
    "video_fidelity": lambda s: (s.response * (s.image - s.target)).square(),
    "response": lambda s: s.response,
    "modulated_energy": lambda s: (s.image * s.response).square(),
}


def total_loss(inputs: LossInputs, weights: Mapping[str, float], reduction: str) -> torch.Tensor:
    """:math:`\\sum_j w_j\\,\\mathrm{reduce}(\\mathrm{term}_j(inputs))`, skipping zero weights."""
    reduce = torch.sum if reduction == "sum" else torch.mean
    parts = [weight * reduce(LOSS_TERMS[name](inputs)) for name, weight in weights.items() if weight]
    return torch.stack(parts).sum() if parts else inputs.image.sum() * 0.0
