"""``nn.Module`` wrapper around :func:`peronamalik.core.diffuse.run_diffusion`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from peronamalik._validate import InputError, InputTypeError, flag
from peronamalik.core.arrays import all_finite
from peronamalik.core.diffuse import run_diffusion
from peronamalik.core.params import DiffusionParams


class PeronaMalik(nn.Module):
    """Perona-Malik diffusion as a layer on ``(N, C, *spatial)`` tensors.

    The same math as :func:`peronamalik.diffuse` (it calls the same core).  With
    ``learn_kappa=True``, kappa is an ``nn.Parameter`` trained with the rest of a model.

    Parameters
    ----------
    params : DiffusionParams, optional
        The diffusion's parameters (default: its defaults); ``kappa`` must be a number.
        ``channel_axis`` and ``device`` do not apply: the layer's input is ``(N, C, *spatial)``
        and it computes where its input lives.
    learn_kappa : bool
        Make kappa a trainable parameter.
    **changes
        Fields of :class:`DiffusionParams` to change, e.g. ``iterations=10, kappa=0.2``.

    Examples
    --------
    >>> import torch
    >>> layer = PeronaMalik(iterations=5, kappa=0.2)
    >>> layer(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(self, params: DiffusionParams | None = None, *, learn_kappa: bool = False, **changes: Any) -> None:
        super().__init__()
        params = DiffusionParams(**changes) if params is None else params.replace(**changes)
        if isinstance(params.kappa, str):
            raise InputError("PeronaMalik needs a number for kappa, not 'auto'")
        if isinstance(params.kappa, torch.Tensor) and params.kappa.requires_grad and not learn_kappa:
            raise InputError(
                "kappa is a tensor that requires grad, and the layer keeps a copy of it: "
                "PeronaMalik(learn_kappa=True) trains its own kappa; to differentiate through yours, "
                "call peronamalik.diffuse(x, kappa=your_tensor)"
            )
        # torch's default dtype, as any layer's parameters: .double() makes it float64 with the rest
        kappa_tensor = torch.as_tensor(params.kappa, dtype=torch.get_default_dtype()).detach().clone().reshape(())
        self.params = params.replace(kappa=1.0)  # the live kappa is the tensor below
        if flag("learn_kappa", learn_kappa):
            self.kappa = nn.Parameter(kappa_tensor)
        else:
            self.register_buffer("kappa", kappa_tensor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise InputTypeError(
                f"PeronaMalik takes a torch tensor, got {type(x).__module__}.{type(x).__name__} "
                "(peronamalik.diffuse takes numpy arrays)"
            )
        if x.ndim < 3:
            raise InputError(f"PeronaMalik expects (N, C, *spatial), got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise InputTypeError(f"PeronaMalik takes a floating-point tensor, got {x.dtype}")
        if not all_finite(x):
            raise InputError("PeronaMalik's input contains NaN or infinite values")
        return run_diffusion(x, self.params, kappa=self.kappa)
