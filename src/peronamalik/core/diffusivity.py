"""Edge-stopping functions g(|∇I|) of Perona-Malik diffusion.

Each diffusivity maps a non-negative gradient magnitude ``d`` and a contrast
parameter ``kappa`` to a conductance in ``[0, g_max]``.  They are plain torch
functions, so they run on any device and are differentiable in ``d`` and
``kappa``.
"""

from __future__ import annotations

import math
from typing import Callable, Union

import torch

from peronamalik._validate import InputError, InputTypeError

Diffusivity = Callable[[torch.Tensor, Union[float, torch.Tensor]], torch.Tensor]


def exponential(d: torch.Tensor, kappa: float | torch.Tensor) -> torch.Tensor:
    r"""Perona-Malik's first function, :math:`g(d) = \exp(-(d/\kappa)^2)` (medpy ``option=1``)."""
    return torch.exp(-(d / kappa).square())


def rational(d: torch.Tensor, kappa: float | torch.Tensor) -> torch.Tensor:
    r"""Perona-Malik's second function, :math:`g(d) = 1 / (1 + (d/\kappa)^2)` (medpy ``option=2``)."""
    return 1.0 / (1.0 + (d / kappa).square())


def tukey(d: torch.Tensor, kappa: float | torch.Tensor) -> torch.Tensor:
    r"""Tukey's biweight (Black et al. 1998) with medpy's ``option=3`` convention.

    :math:`g(d) = \tfrac12 (1 - (d/\kappa_s)^2)^2` for :math:`|d| \le \kappa_s`, else 0,
    with the cut-off :math:`\kappa_s = \kappa\sqrt2`.
    """
    r2 = (d / (kappa * math.sqrt(2.0))).square()
    return torch.where(r2 <= 1.0, 0.5 * (1.0 - r2).square(), torch.zeros_like(r2))


DIFFUSIVITIES: dict[str, Diffusivity] = {
    "exp": exponential,
    "rational": rational,
    "tukey": tukey,
}

#: Largest value each built-in diffusivity takes (at d = 0); bounds the stable dt.
MAX_CONDUCTANCE: dict[str, float] = {"exp": 1.0, "rational": 1.0, "tukey": 0.5}


def resolve_diffusivity(diffusivity: str | Diffusivity) -> Diffusivity:
    """Return the diffusivity function named by ``diffusivity`` (or the callable itself)."""
    if callable(diffusivity):
        return diffusivity
    if diffusivity not in DIFFUSIVITIES:
        raise InputError(
            f"diffusivity must be one of {sorted(DIFFUSIVITIES)} or a callable g(d, kappa), "
            f"got {diffusivity!r}"
        )
    return DIFFUSIVITIES[diffusivity]


def max_conductance(diffusivity: str | Diffusivity, kappa: float) -> float:
    """Upper bound of g over d >= 0; for a callable, sampled on [0, 10 kappa]."""
    if isinstance(diffusivity, str):
        return MAX_CONDUCTANCE[diffusivity]
    samples = torch.linspace(0.0, 10.0 * kappa, 2001, dtype=torch.float64)
    with torch.no_grad():
        values = diffusivity(samples, kappa)
    try:
        values = torch.as_tensor(values, dtype=torch.float64).broadcast_to(samples.shape)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputTypeError(
            f"a diffusivity callable g(d, kappa) must return numbers shaped like d (a tensor), got "
            f"{type(values).__name__} {getattr(values, 'shape', '')}".rstrip()
        ) from exc
    peak, low = float(values.max()), float(values.min())
    if not (math.isfinite(peak) and math.isfinite(low)) or low < 0:
        raise InputError(
            f"diffusivity callable returned values in [{low}, {peak}] on [0, 10*kappa]; "
            "it must be finite and >= 0"
        )
    if peak == 0:
        # nothing would diffuse, and the stable dt bound 1/g_max would be infinite (dt=inf -> NaN)
        raise InputError("diffusivity callable is 0 everywhere on [0, 10*kappa]; it must be > 0 somewhere")
    return peak
