"""Report the parameters ``diffuse`` would choose for ``'auto'``: :func:`estimate_parameters`."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from peronamalik.core.arrays import ArrayLike, to_float_tensor
from peronamalik.core.auto import AutoParameters
from peronamalik.core.diffuse import resolve_auto
from peronamalik.core.diffusivity import Diffusivity
from peronamalik.core.layout import to_internal_layout
from peronamalik.core.params import DiffusionParams


def estimate_parameters(
    image: ArrayLike,
    *,
    kappa: float | str = "auto",
    iterations: int | str = "auto",
    sigma: float | str = 0.0,
    dt: float | None = None,
    diffusivity: str | Diffusivity = "exp",
    scheme: str = "flux",
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    coupled: bool = False,
    device: str | torch.device | None = None,
) -> AutoParameters:
    r"""The kappa, iterations and sigma that :func:`~peronamalik.diffuse` uses for ``'auto'``.

    Same arguments as ``diffuse``; values that are not ``'auto'`` are kept.  The method
    (noise level by a robust high-pass, then least Monte-Carlo SURE over kappa candidates and
    stopping times) is in :mod:`peronamalik.core.auto`.  ``diffuse(image, **chosen)`` with
    the returned values gives the same result as ``diffuse`` with the ``'auto'`` values.

    Returns
    -------
    AutoParameters
        ``kappa``, ``iterations``, ``sigma``, the estimated ``noise`` level (RMS, image units)
        and ``risk``, the estimated mean squared error against the clean image.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = np.kron(rng.random((8, 8)), np.ones((16, 16)))
    >>> chosen = estimate_parameters(clean + rng.normal(0, 0.05, clean.shape))
    >>> 0.04 < chosen.noise < 0.06, chosen.iterations > 0
    (True, True)
    """
    params = DiffusionParams(
        iterations=iterations, kappa=kappa, dt=dt, diffusivity=diffusivity, scheme=scheme, spacing=spacing,
        channel_axis=channel_axis, coupled=coupled, sigma=sigma, device=device,
    )
    tensor, _ = to_float_tensor(image, device=params.device)
    return resolve_auto(to_internal_layout(tensor, params.channel_axis), params)
