"""One explicit time step of each diffusion scheme, as pure torch functions.

All steps take a tensor ``u`` of shape ``(batch, channels, *spatial)`` and return the next
state.  They contain no Python loop over pixels, run on any device, and are differentiable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from peronamalik.core.diffusivity import Diffusivity

Offset = tuple[int, ...]

#: The 5-point Laplacian the seed initialises its operator with.
LAPLACIAN_3X3 = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))

#: The Scharr derivative along an axis, separable: the central difference along it, summed
#: across it with these weights ((3, 10, 3)ᵀ ⊗ (1, 0, −1) for x).
SCHARR_WEIGHTS = (3.0, 10.0, 3.0)


def neighbour_offsets(scheme: str, ndim: int) -> list[Offset]:
    """Offsets of the neighbour pairs a flux scheme couples, one per undirected pair.

    ``"flux"`` and ``"gradient"``: the 2·ndim axis neighbours.  ``"flux8"`` (2-D): also the
    two diagonals.
    """
    axes = [tuple(int(i == axis) for i in range(ndim)) for axis in range(ndim)]
    if scheme in ("flux", "gradient"):
        return axes
    if scheme == "flux8":
        return axes + [(1, 1), (1, -1)]
    raise ValueError(f"scheme {scheme!r} has no neighbour offsets")


def _pair_slices(offset: Offset, lead: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Index of the first and the second pixel of every pair ``(x, x + offset)``."""
    first, second = [slice(None)] * lead, [slice(None)] * lead
    for o in offset:
        first.append(slice(None, -1) if o == 1 else slice(1, None) if o == -1 else slice(None))
        second.append(slice(1, None) if o == 1 else slice(None, -1) if o == -1 else slice(None))
    return tuple(first), tuple(second)


def _pads(offset: Offset) -> tuple[list[int], list[int]]:
    """F.pad specs that scatter a per-pair array back onto the first / second pixels."""
    onto_first: list[int] = []
    onto_second: list[int] = []
    for o in reversed(offset):
        onto_first += [0, 1] if o == 1 else [1, 0] if o == -1 else [0, 0]
        onto_second += [1, 0] if o == 1 else [0, 1] if o == -1 else [0, 0]
    return onto_first, onto_second


def offset_length(offset: Offset, spacing: Sequence[float]) -> float:
    """Physical distance between the two pixels of a pair."""
    return math.sqrt(sum((o * h) ** 2 for o, h in zip(offset, spacing)))


def gradient_magnitude(diff: torch.Tensor, coupled: bool) -> torch.Tensor:
    """|d| per channel, or the joint magnitude over the channel axis (dim 1) when coupled."""
    if not coupled:
        return diff.abs()
    tiny = torch.finfo(diff.dtype).tiny
    return (diff.square().sum(dim=1, keepdim=True) + tiny).sqrt()


def flux_step(
    u: torch.Tensor,
    *,
    kappa: float | torch.Tensor,
    dt: float,
    g: Diffusivity,
    spacing: Sequence[float],
    offsets: Sequence[Offset],
    coupled: bool = False,
    guide: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""One explicit step of :math:`\partial_t I = \operatorname{div}(g(|\nabla I|)\nabla I)`.

    For every neighbour pair ``(x, y = x + offset)`` at distance ``h`` one flux
    :math:`f = g(|I_y - I_x| / h)\,(I_y - I_x) / h^2` is computed and shared: ``x`` gains
    ``dt·f`` and ``y`` loses it.  Pairs that would cross the border do not exist (zero flux,
    Neumann), so the sum of the image is conserved.  With unit spacing and axis offsets this
    is exactly medpy's ``anisotropic_diffusion`` step.

    ``guide`` (same shape as ``u``), when given, is the image the conductance is computed
    from (e.g. a Gaussian-smoothed copy, Catté et al.); the flux still uses ``u``.
    """
    lead = u.ndim - len(spacing)
    guide = u if guide is None else guide
    update = torch.zeros_like(u)
    for offset in offsets:
        first, second = _pair_slices(offset, lead)
        onto_first, onto_second = _pads(offset)
        h = offset_length(offset, spacing)
        diff = (u[second] - u[first]) / h
        guide_diff = diff if guide is u else (guide[second] - guide[first]) / h
        flux = g(gradient_magnitude(guide_diff, coupled), kappa) * diff / h
        update = update + F.pad(flux, onto_first) - F.pad(flux, onto_second)
    return u + dt * update


def gradient_step(
    u: torch.Tensor,
    *,
    kappa: float | torch.Tensor,
    dt: float,
    g: Diffusivity,
    spacing: Sequence[float],
    coupled: bool = False,
    guide: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""One explicit step of :math:`\partial_t I = \operatorname{div}(g(|\nabla I|)\nabla I)`
    with the conductance of the *whole* gradient at each half-way point, as ITK's
    ``GradientAnisotropicDiffusionImageFilter`` (its ``GradientNDAnisotropicDiffusionFunction``).

    Between ``x`` and ``y = x + e_i`` the flux is
    :math:`f = g(|\nabla I|_{x+e_i/2})\,(I_y - I_x) / h_i^2`, where
    :math:`|\nabla I|^2_{x+e_i/2} = ((I_y - I_x)/h_i)^2 + \sum_{j \ne i}
    ((c_j(x) + c_j(y)) / (2 h_j))^2` and :math:`c_j` is the central difference along axis j
    (:func:`central_difference`; :func:`flux_step` reads only :math:`(I_y - I_x)/h_i`, so its
    conductance is blind to an edge along the pair).  The border replicates its pixels (ITK's
    zero-flux Neumann condition): no flux crosses it, and the sum of the image is conserved.
    With unit spacing and ``kappa`` from :func:`peronamalik.itk_kappa` it is ITK's step
    (with ``coupled``, ITK's ``VectorGradientAnisotropicDiffusionImageFilter``'s).

    ``guide`` (same shape as ``u``), when given, is the image the conductance is computed
    from (Catté et al.); the flux still uses ``u``.  ``coupled``: one conductance from the
    gradient summed over the channels (dim 1).
    """
    lead = u.ndim - len(spacing)
    guide = u if guide is None else guide
    centrals = [central_difference(guide, lead + j) / (2.0 * h) for j, h in enumerate(spacing)]
    update = torch.zeros_like(u)
    for i, h in enumerate(spacing):
        dim = lead + i
        n = u.shape[dim]
        diff = (u.narrow(dim, 1, n - 1) - u.narrow(dim, 0, n - 1)) / h
        guide_diff = diff if guide is u else (guide.narrow(dim, 1, n - 1) - guide.narrow(dim, 0, n - 1)) / h
        square = guide_diff.square()
        for j, central in enumerate(centrals):
            if j != i:  # c_j at x and x + e_i, averaged: the cross derivative at the half-way point
                square = square + (0.5 * (central.narrow(dim, 0, n - 1) + central.narrow(dim, 1, n - 1))).square()
        if coupled:
            square = square.sum(dim=1, keepdim=True)
        # + tiny: the derivative of the magnitude stays finite where the gradient is 0 (autograd)
        flux = g((square + torch.finfo(square.dtype).tiny).sqrt(), kappa) * diff / h
        onto_first, onto_second = _pads(tuple(int(axis == i) for axis in range(len(spacing))))
        update = update + F.pad(flux, onto_first) - F.pad(flux, onto_second)
    return u + dt * update


def central_difference(u: torch.Tensor, dim: int) -> torch.Tensor:
    """:math:`u(x + e) - u(x - e)` along ``dim``, the border pixels replicated (so 0 along an
    axis of length 1); same shape as ``u``, any number of axes."""
    n = u.shape[dim]
    if n == 1:
        return torch.zeros_like(u)
    ahead = torch.cat([u.narrow(dim, 1, n - 1), u.narrow(dim, n - 1, 1)], dim)
    behind = torch.cat([u.narrow(dim, 0, 1), u.narrow(dim, 0, n - 1)], dim)
    return ahead - behind


def flux_stability_sum(offsets: Sequence[Offset], spacing: Sequence[float]) -> float:
    """Sum over a pixel's neighbours of 1/h²: dt·g_max·this ≤ 1 keeps the min-max principle."""
    return sum(2.0 / offset_length(offset, spacing) ** 2 for offset in offsets)


def laplacian_kernel(
    channels: int,
    *,
    mixing: str = "full",
    size: int = 3,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The seed's initial operator: the 5-point Laplacian, as a conv2d weight.

    ``mixing="full"`` puts it on every (out, in) channel pair, as the seed did (shape
    ``(C, C, size, size)``, use ``groups=1``); ``"per-channel"`` gives each channel its own
    (shape ``(C, 1, size, size)``, use ``groups=C``).  ``size`` 5 embeds it in a 5×5 kernel.
    """
    if size not in (3, 5):
        raise ValueError(f"kernel size must be 3 or 5, got {size}")
    if mixing not in ("full", "per-channel"):
        raise ValueError(f"mixing must be 'full' or 'per-channel', got {mixing!r}")
    base = torch.zeros(size, size, dtype=dtype, device=device)
    start = (size - 3) // 2
    base[start : start + 3, start : start + 3] = torch.tensor(LAPLACIAN_3X3, dtype=dtype)
    inputs = channels if mixing == "full" else 1
    return base.expand(channels, inputs, size, size).clone()


def scharr_magnitude(u: torch.Tensor) -> torch.Tensor:
    r"""Per-channel Scharr gradient magnitude of a (B, C, H, W) tensor, reflection padded.

    Each derivative is taken as the central differences first, then their sum across with
    :data:`SCHARR_WEIGHTS` (:math:`(3, 10, 3)^T \otimes (1, 0, -1)` for x), in
    elementwise float operations.  Their rounding is then relative to the gradient, and the
    same on every CPU: as one 3×3 ``conv2d``, the sum of six products of the values cancels
    where the image is flat, to an error of the values' rounding (about 1e-6 for values
    near 1) that a backend's order of summation decides, and the seed's "inv" conductance
    multiplies it by 1 / kappa² (25 at its 0.2): torch's step was 2e-7 from the float64 step
    on one AMD EPYC (AVX2) and 8e-6 on another, the fused kernel's (another order) 1.4-2.5e-5;
    taken this way, both are within 6e-7 of it.
    """
    p = F.pad(u, (1, 1, 1, 1), mode="reflect")
    across = p[..., :, :-2] - p[..., :, 2:]  # I(x - 1) - I(x + 1), rows -1 .. H
    down = p[..., :-2, :] - p[..., 2:, :]  # I(y - 1) - I(y + 1), columns -1 .. W
    before, centre, after = SCHARR_WEIGHTS
    gx = before * across[..., :-2, :] + centre * across[..., 1:-1, :] + after * across[..., 2:, :]
    gy = before * down[..., :, :-2] + centre * down[..., :, 1:-1] + after * down[..., :, 2:]
    return (gx.square() + gy.square()).sqrt()


def operator_response(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """L = conv2d(reflection_pad(u), kernel), with groups inferred from the kernel's shape."""
    pad = kernel.shape[-1] // 2
    groups = u.shape[1] // kernel.shape[1]
    return F.conv2d(F.pad(u, (pad, pad, pad, pad), mode="reflect"), kernel, groups=groups)


def seed_step(
    u: torch.Tensor,
    kernel: torch.Tensor,
    *,
    kappa: float | torch.Tensor,
    dt: float | torch.Tensor,
    conductance: Diffusivity | str,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The seed's step (ALGORITHM.md): :math:`I' = \mathrm{clamp}(I + dt\,L\,c, 0, 1)`.

    :math:`L = K * \mathrm{pad}_\mathrm{reflect}(I)` is the operator response and
    :math:`c = g(|L|, \kappa)` its conductance, or with ``conductance="inv"`` the seed's
    :math:`c = 1 / (|\nabla I|_\mathrm{Scharr} / \kappa^2 + 1)`.  Returns ``(I', L)``; the
    learned ("on drugs") mode backpropagates through both.
    """
    response = operator_response(u, kernel)
    if conductance == "inv":
        c = 1.0 / (scharr_magnitude(u) / kappa**2 + 1.0)
    else:
        c = conductance(response.abs(), kappa)
    return (u + dt * response * c).clamp(0.0, 1.0), response


__all__ = [
    "LAPLACIAN_3X3",
    "central_difference",
    "flux_step",
    "flux_stability_sum",
    "gradient_magnitude",
    "gradient_step",
    "laplacian_kernel",
    "neighbour_offsets",
    "operator_response",
    "scharr_magnitude",
    "seed_step",
]
