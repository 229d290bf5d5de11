"""Report the parameters ``diffuse`` would choose for ``'auto'``: :func:`estimate_parameters`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from peronamalik._validate import InputError
from peronamalik.core.arrays import ArrayLike, to_float_tensor
from peronamalik.core.auto import AutoParameters
from peronamalik.core.diffuse import resolve_auto
from peronamalik.core.layout import check_coupled, to_internal_layout
from peronamalik.core.params import DiffusionOptions, DiffusionParams

if TYPE_CHECKING:  # annotations only: typing.Unpack is Python 3.11+, the package runs on 3.10
    from typing import Unpack


def estimate_parameters(
    image: ArrayLike, *, device: str | torch.device | None = None, **options: Unpack[DiffusionOptions]
) -> AutoParameters:
    r"""The kappa, iterations and sigma that :func:`~peronamalik.diffuse` uses for ``'auto'``.

    Same keywords as ``diffuse`` (:class:`~peronamalik.core.params.DiffusionOptions` and
    ``device``) with the same defaults, except ``kappa='auto'`` and ``iterations='auto'``;
    values that are not ``'auto'`` are kept.  The method
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
    params = DiffusionParams(**{"kappa": "auto", "iterations": "auto", **options}, device=device)
    check_coupled(params.coupled, params.channel_axis)
    tensor, _ = to_float_tensor(image, device=params.device)
    return resolve_auto(to_internal_layout(tensor, params.channel_axis), params)


def noise_line_in(part: ArrayLike, *, name: str, **options: Unpack[DiffusionOptions]) -> tuple[float, float]:
    """The noise's variance line ``(a, b)`` read in ``part`` of a picture (a smooth part: sky,
    background), in its units: :attr:`~peronamalik.core.auto.AutoParameters.noise_line` of
    :func:`estimate_parameters` with nothing diffused, to give the whole picture as ``noise=``
    where grain elsewhere would read as noise.  ``options``: the picture's channel axis and
    the like.  :class:`~peronamalik.InputError` naming ``name`` where the part reads no
    noise."""
    line = estimate_parameters(part, **{**options, "iterations": 0, "sigma": 0.0}).noise_line
    if line == (0.0, 0.0):
        raise InputError(f"{name} reads no noise (a constant part?): pick a part with the noise in it")
    return line
