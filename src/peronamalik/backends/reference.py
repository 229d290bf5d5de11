"""The reference backend: the readable torch steps of :mod:`peronamalik.core.schemes`, in a loop.

It defines the result every other backend must reproduce, runs every job on every device
(autograd, callable diffusivities, ``sigma``, the seed scheme, N-D), and never declines one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from peronamalik.backends.job import Diffusion
from peronamalik.core.diffusivity import Diffusivity, resolve_diffusivity
from peronamalik.core.schemes import flux_step, gradient_step, laplacian_kernel, neighbour_offsets, seed_step
from peronamalik.core.smoothing import gaussian_smooth

Step = Callable[[torch.Tensor], torch.Tensor]


def make_step(
    scheme: str,
    *,
    channels: int,
    spatial_ndim: int,
    kappa: float | torch.Tensor,
    dt: float | torch.Tensor,
    diffusivity: str | Diffusivity,
    spacing: Sequence[float],
    coupled: bool,
    sigma: float,
    dtype: torch.dtype,
    device: torch.device,
) -> Step:
    """Bind the scheme's step function to its parameters: ``u -> u'``.

    The parameters are taken as checked: :class:`~peronamalik.core.params.DiffusionParams`
    (and its ``resolve``) is where a scheme's dimensions, sigma, spacing and diffusivity are
    checked against each other.
    """
    if scheme == "seed":
        kernel = laplacian_kernel(
            channels, mixing="full" if coupled else "per-channel", dtype=dtype, device=device
        )
        conductance = diffusivity if diffusivity == "inv" else resolve_diffusivity(diffusivity)
        return lambda u: seed_step(u, kernel, kappa=kappa, dt=dt, conductance=conductance)[0]
    g = resolve_diffusivity(diffusivity)
    offsets = neighbour_offsets(scheme, spatial_ndim)
    pixel_sigmas = [sigma / h for h in spacing]

    def step(u: torch.Tensor) -> torch.Tensor:
        guide = gaussian_smooth(u, pixel_sigmas) if sigma > 0 else None
        if scheme == "gradient":
            return gradient_step(u, kappa=kappa, dt=dt, g=g, spacing=spacing, coupled=coupled, guide=guide)
        return flux_step(
            u, kappa=kappa, dt=dt, g=g, spacing=spacing, offsets=offsets, coupled=coupled, guide=guide
        )

    return step


def job_step(job: Diffusion, kappa: float | torch.Tensor, dt: float | torch.Tensor) -> Step:
    """:func:`make_step` for ``job`` with ``kappa`` and ``dt`` as given (numbers or 0-d tensors)."""
    u = job.u
    return make_step(
        job.scheme, channels=u.shape[1], spatial_ndim=job.spatial_ndim, kappa=kappa, dt=dt,
        diffusivity=job.diffusivity, spacing=job.spacing, coupled=job.coupled, sigma=job.sigma,
        dtype=u.dtype, device=u.device,
    )  # fmt: skip


def covers(job: object) -> str | None:
    """Nothing is outside the reference: None."""
    return None


why_not = covers  # and it runs everywhere


def run(job: Diffusion) -> torch.Tensor:
    """``job.iterations`` reference steps (``job.u`` itself when there are none)."""
    step = job_step(job, job.kappa, job.dt)
    u = job.u
    for done in range(1, job.iterations + 1):
        u = step(u)
        if job.progress is not None:
            job.progress(done, job.iterations)
    return u


__all__ = ["Step", "covers", "job_step", "make_step", "run", "why_not"]
