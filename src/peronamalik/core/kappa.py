"""Robust estimate of the contrast parameter kappa from the gradient distribution."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from peronamalik._validate import real
from peronamalik.core.arrays import ArrayLike, to_float_tensor
from peronamalik.core.layout import check_coupled, normalize_spacing, to_internal_layout
from peronamalik.core.params import KAPPA_RANGE
from peronamalik.core.schemes import central_difference, gradient_magnitude

#: Scale of the median absolute deviation that makes it consistent with a Gaussian's σ.
MAD_TO_SIGMA = 1.4826


def median(x: torch.Tensor) -> torch.Tensor:
    """The usual median of a 1-D tensor: the mean of the two middle values when the count is
    even (numpy's convention).  ``torch.median`` returns the lower middle value, and
    ``-median(-x)`` the upper one; for an odd count both are the middle value."""
    return (x.median() - (-x).median()) / 2


def robust_gradient_scale(u: torch.Tensor, spacing: Sequence[float], coupled: bool = False) -> float:
    """1.4826·MAD of the face differences |I(x + e_i) − I(x)| / h_i of a (B, C, *spatial)
    tensor; ``coupled``: of their joint magnitude over the channels, as the conductance sees it."""
    lead = u.ndim - len(spacing)
    magnitudes = torch.cat(
        [gradient_magnitude(torch.diff(u, dim=lead + axis) / h, coupled).flatten() for axis, h in enumerate(spacing)]
    ).detach()
    if magnitudes.numel() == 0:
        return 1.0
    for sample in (magnitudes, magnitudes[magnitudes > 0]):
        if sample.numel() == 0:
            break
        mad = median((sample - median(sample)).abs())
        if float(mad) > 0:
            return MAD_TO_SIGMA * float(mad)
    return 1.0


def estimate_kappa(
    image: ArrayLike,
    *,
    channel_axis: int | None = None,
    spacing: float | Sequence[float] | None = None,
    coupled: bool = False,
) -> float:
    r"""Estimate kappa as Black et al.'s robust scale of the image's gradients.

    .. math:: \kappa = 1.4826 \cdot \operatorname{median}\big(\,\big||\delta| -
              \operatorname{median}(|\delta|)\big|\,\big)

    over all forward differences :math:`\delta = (I(x + e_i) - I(x)) / h_i` of all axes and
    channels (Black, Sapiro, Marimont & Heeger 1998, "Robust anisotropic diffusion"); with
    ``coupled``, over the joint magnitudes :math:`|\delta| = (\sum_c \delta_c^2)^{1/2}` that the
    coupled conductance sees (about :math:`\sqrt C` larger).  This is the scale of the
    image's gradients, not of its noise: ``diffuse(kappa='auto')`` chooses kappa for
    denoising instead (:mod:`peronamalik.core.auto`) and uses this only on noise-free input.  When
    more than half the differences are zero (flat synthetic images) the same rule is applied
    to the non-zero ones; a constant image gives 1.0, where any kappa leaves it unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> kappa = estimate_kappa(np.random.default_rng(0).random((64, 64)))
    >>> 0.1 < kappa < 1.0
    True
    """
    check_coupled(coupled, channel_axis)
    tensor, _ = to_float_tensor(image, device="cpu")
    u = to_internal_layout(tensor, channel_axis)
    return robust_gradient_scale(u, normalize_spacing(spacing, u.ndim - 2), coupled)


def itk_kappa(image: ArrayLike, conductance: float, *, channel_axis: int | None = None) -> float:
    r"""The ``kappa`` for ``scheme="gradient"`` that is ITK's ``GradientAnisotropicDiffusion``
    with ``conductance`` C on ``image`` (unit spacing; values as :func:`~peronamalik.diffuse`
    reads them: uint8 and uint16 in [0, 1]).

    ITK's exponential conductance is :math:`\exp(-|\nabla I|^2 / (2 C^2
    \overline{|\nabla I|^2}))`, with the mean over the pixels of the central-difference
    gradient (border pixels replicated), so :math:`\kappa = C \sqrt{2\,\overline{|\nabla
    I|^2}}`.  With ``channel_axis``, :math:`|\nabla I|^2` sums the channels': the kappa of
    ITK's ``VectorGradientAnisotropicDiffusion``, for ``coupled=True`` (1.8e-7 in float32
    against ITK 5.4's Python wheel, tested where ``itk`` is installed).  ITK reads the
    mean again every ``ConductanceScalingUpdateInterval`` iterations (1 by default); this is
    its first reading, the whole run's where the interval is past the last iteration.  A flat
    image or C = 0, which ITK leaves as it is, gives the smallest kappa, which does too.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.arange(8.0), (8, 1))  # central differences 1, and 1/2 at the borders
    >>> round(itk_kappa(ramp, 1.0), 4)  # sqrt(2 * (6 * 1 + 2 * 0.25) / 8)
    1.2748
    """
    conductance = real("conductance", conductance, low=0.0, high=KAPPA_RANGE[1])
    tensor, _ = to_float_tensor(image, device="cpu")
    u = to_internal_layout(tensor.to(torch.float64), channel_axis)
    square = sum(central_difference(u, dim).square() for dim in range(2, u.ndim)) / 4.0
    mean = float(square.sum(dim=1).mean())  # over the pixels of the channels' sum
    return max(conductance * (2.0 * mean) ** 0.5, KAPPA_RANGE[0])
