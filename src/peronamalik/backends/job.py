"""What a backend is handed: one validated diffusion job in the core's layout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from peronamalik.core.diffusivity import Diffusivity
    from peronamalik.core.progress import Progress


@dataclass(frozen=True)
class Diffusion:
    """``iterations`` explicit steps of ``scheme`` on ``u``, laid out ``(batch, channels,
    *spatial)``; every parameter already checked by :func:`peronamalik.core.diffuse.run_diffusion`."""

    u: torch.Tensor
    iterations: int
    kappa: float | torch.Tensor
    dt: float
    diffusivity: str | Diffusivity
    scheme: str
    spacing: tuple[float, ...]
    coupled: bool
    sigma: float
    progress: Progress | None = None  #: ``progress(done, total)`` as the iterations go

    @property
    def needs_graph(self) -> bool:
        """Does the result need an autograd graph (to ``u`` or a tensor ``kappa``)?"""
        kappa_grad = isinstance(self.kappa, torch.Tensor) and self.kappa.requires_grad
        return torch.is_grad_enabled() and (self.u.requires_grad or kappa_grad)

    @property
    def spatial_ndim(self) -> int:
        return self.u.ndim - 2
