"""``nn.Module`` wrapper around :func:`peronamalik.core.diffuse.run_diffusion`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from peronamalik.core.diffuse import run_diffusion
from peronamalik.core.diffusivity import Diffusivity


class PeronaMalik(nn.Module):
    """Perona-Malik diffusion as a layer on ``(N, C, *spatial)`` tensors.

    The same math as :func:`peronamalik.diffuse` (it calls the same core).  With
    ``learn_kappa=True``, kappa is an ``nn.Parameter`` trained with the rest of a model.

    Examples
    --------
    >>> import torch
    >>> layer = PeronaMalik(iterations=5, kappa=0.2)
    >>> layer(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(
        self,
        *,
        iterations: int = 20,
        kappa: float = 0.1,
        dt: float | None = None,
        diffusivity: str | Diffusivity = "exp",
        scheme: str = "flux",
        spacing: float | Sequence[float] | None = None,
        coupled: bool = False,
        sigma: float = 0.0,
        learn_kappa: bool = False,
    ) -> None:
        super().__init__()
        self.iterations, self.dt, self.diffusivity, self.scheme = iterations, dt, diffusivity, scheme
        self.spacing, self.coupled, self.sigma = spacing, coupled, sigma
        kappa_tensor = torch.tensor(float(kappa))
        if learn_kappa:
            self.kappa = nn.Parameter(kappa_tensor)
        else:
            self.register_buffer("kappa", kappa_tensor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 3:
            raise ValueError(f"PeronaMalik expects (N, C, *spatial), got shape {tuple(x.shape)}")
        return run_diffusion(
            x,
            iterations=self.iterations,
            kappa=self.kappa,
            dt=self.dt,
            diffusivity=self.diffusivity,
            scheme=self.scheme,
            spacing=self.spacing,
            coupled=self.coupled,
            sigma=self.sigma,
        )
