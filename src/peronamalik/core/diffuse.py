"""The public entry point of classic Perona-Malik diffusion: :func:`diffuse`."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

from peronamalik.backends import policy
from peronamalik.backends.job import Diffusion
from peronamalik.core import auto
from peronamalik.core.arrays import ArrayLike, restore, to_float_tensor
from peronamalik.core.diffusivity import Diffusivity, max_conductance, resolve_diffusivity
from peronamalik.core.layout import from_internal_layout, normalize_spacing, to_internal_layout
from peronamalik.core.progress import Progress, check_progress
from peronamalik.core.schemes import flux_stability_sum, neighbour_offsets

SCHEMES = ("flux", "flux8", "seed")


def check_iterations(iterations: int) -> int:
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral):
        raise TypeError(f"iterations must be an int, got {type(iterations).__name__}")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    return int(iterations)


def check_kappa(kappa: float | str | torch.Tensor, u: torch.Tensor, spacing: Sequence[float]) -> float | torch.Tensor:
    """A positive finite number or 0-d tensor (``'auto'`` is resolved before, by :func:`resolve_auto`)."""
    if isinstance(kappa, str):
        raise ValueError(f"kappa must be a number > 0 or 'auto', got {kappa!r}")
    if isinstance(kappa, torch.Tensor):
        if kappa.numel() != 1:
            raise ValueError(f"kappa must be a scalar, got a tensor of shape {tuple(kappa.shape)}")
        value = float(kappa.detach())
    elif isinstance(kappa, numbers.Real) and not isinstance(kappa, bool):
        value = float(kappa)
    else:
        raise TypeError(f"kappa must be a number, a scalar tensor or 'auto', got {type(kappa).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"kappa must be finite and > 0, got {value}")
    return kappa.to(u.device).reshape(()) if isinstance(kappa, torch.Tensor) else value


def check_sigma(sigma: float) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    return float(sigma)


def stable_dt(
    scheme: str,
    *,
    spatial_ndim: int,
    spacing: Sequence[float] | None = None,
    diffusivity: str | Diffusivity = "exp",
    kappa: float = 1.0,
    mixed_channels: int = 1,
) -> float:
    r"""Largest dt for which the explicit step obeys the min-max principle.

    Flux schemes: :math:`dt \le 1 / (g_{max} \sum_{neighbours} 1/h^2)`, i.e. ``1/(2·ndim)``
    for "flux" with unit spacing and ``1/6`` for "flux8".  "seed": :math:`1/(4 g_{max} C_{mix})`
    with ``C_mix`` the number of channels the operator mixes.
    """
    spacing = normalize_spacing(spacing, spatial_ndim)
    g_max = 1.0 if diffusivity == "inv" else max_conductance(diffusivity, float(kappa))
    if scheme == "seed":
        return 1.0 / (4.0 * g_max * mixed_channels)
    return 1.0 / (g_max * flux_stability_sum(neighbour_offsets(scheme, spatial_ndim), spacing))


def resolve_auto(
    u: torch.Tensor,
    *,
    kappa: float | str | torch.Tensor,
    iterations: int | str,
    sigma: float | str,
    **options: object,
) -> auto.AutoParameters:
    """Choose what is ``'auto'`` among kappa, iterations and sigma for :func:`run_diffusion`
    of ``u`` with ``options`` (:func:`peronamalik.core.auto.choose`); the rest is checked."""
    spacing = normalize_spacing(options.pop("spacing", None), u.ndim - 2)
    if iterations != "auto":
        iterations = check_iterations(iterations)
    if sigma == "auto" and options.get("scheme") == "seed":
        sigma = 0.0
    elif sigma != "auto":
        sigma = check_sigma(sigma)
    if not (isinstance(kappa, str) and kappa == "auto"):
        kappa = float(check_kappa(kappa, u, spacing))

    def run(v: torch.Tensor, *, iterations: int, kappa: float, sigma: float) -> torch.Tensor:
        with torch.no_grad():
            return run_diffusion(v, iterations=iterations, kappa=kappa, sigma=sigma, spacing=spacing, **options)

    coupled = bool(options.get("coupled", False))
    return auto.choose(u, run, kappa=kappa, iterations=iterations, sigma=sigma, spacing=spacing, coupled=coupled)


def run_diffusion(
    u: torch.Tensor,
    *,
    iterations: int | str = 20,
    kappa: float | str | torch.Tensor = 0.1,
    dt: float | None = None,
    diffusivity: str | Diffusivity = "exp",
    scheme: str = "flux",
    spacing: float | Sequence[float] | None = None,
    coupled: bool = False,
    sigma: float | str = 0.0,
    progress: Progress | None = None,
) -> torch.Tensor:
    """Diffuse a float tensor laid out as ``(batch, channels, *spatial)``; see :func:`diffuse`."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {list(SCHEMES)}, got {scheme!r}")
    if diffusivity != "inv":
        resolve_diffusivity(diffusivity)
    spatial_ndim = u.ndim - 2
    spacing = normalize_spacing(spacing, spatial_ndim)
    if any(isinstance(value, str) and value == "auto" for value in (kappa, iterations, sigma)):
        options = dict(dt=dt, diffusivity=diffusivity, scheme=scheme, spacing=spacing, coupled=coupled)
        chosen = resolve_auto(u, kappa=kappa, iterations=iterations, sigma=sigma, **options)
        kappa = chosen.kappa if isinstance(kappa, str) else kappa
        iterations, sigma = chosen.iterations, chosen.sigma
    iterations = check_iterations(iterations)
    kappa = check_kappa(kappa, u, spacing)
    sigma = check_sigma(sigma)
    progress = check_progress(progress)
    limit = stable_dt(
        scheme,
        spatial_ndim=spatial_ndim,
        spacing=spacing,
        diffusivity=diffusivity,
        kappa=float(kappa.detach()) if isinstance(kappa, torch.Tensor) else kappa,
        mixed_channels=u.shape[1] if coupled else 1,
    )
    if dt is None:
        dt = limit
    elif isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a finite number > 0, got {dt!r}")
    elif dt > limit * (1 + 1e-9):
        raise ValueError(f"dt={dt} is above the stable limit {limit:.6g} of scheme={scheme!r} here")
    job = Diffusion(
        u, int(iterations), kappa, float(dt), diffusivity, scheme, spacing, bool(coupled), sigma, progress
    )
    return policy.run(job)  # the backend the policy picks: backends/policy.py


def diffuse(
    image: ArrayLike,
    *,
    iterations: int | str = 20,
    kappa: float | str | torch.Tensor = 0.1,
    dt: float | None = None,
    diffusivity: str | Diffusivity = "exp",
    scheme: str = "flux",
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    coupled: bool = False,
    sigma: float | str = 0.0,
    device: str | torch.device | None = None,
    progress: Progress | None = None,
) -> ArrayLike:
    r"""Perona-Malik anisotropic diffusion of an N-D image.

    Solves :math:`\partial_t I = \operatorname{div}\big(g(|\nabla I|)\,\nabla I\big)` with
    explicit steps of size ``dt`` (Perona & Malik 1990).

    Parameters
    ----------
    image : numpy.ndarray or torch.Tensor
        2-D, 3-D or N-D image, any real dtype.  Integers are mapped to [0, 1] by their
        dtype's range; floats are used as they are.  Never modified.
    iterations : int or 'auto'
        Number of explicit steps (>= 0).  ``'auto'``: the stopping time of least estimated
        error for denoising (see Notes).
    kappa : float, 'auto' or 0-d tensor
        Contrast parameter (> 0), in image units per unit of ``spacing``.  ``'auto'``: chosen
        for denoising from the estimated noise level (see Notes); a tensor makes the result
        differentiable in kappa.
    dt : float, optional
        Time step; ``None`` takes the largest stable one (:func:`stable_dt`: ``1/(2·ndim)``
        for "flux" with unit spacing).  A larger dt raises ``ValueError``.
    diffusivity : {'exp', 'rational', 'tukey'} or callable
        ``exp``: :math:`e^{-(d/\kappa)^2}`; ``rational``: :math:`1/(1+(d/\kappa)^2)`;
        ``tukey``: :math:`\tfrac12(1-(d/\kappa\sqrt2)^2)^2` inside the cut-off (medpy's
        convention); or ``g(d, kappa) -> tensor``.  ``'inv'`` (the seed's Scharr
        conductance) goes with ``scheme='seed'``.
    scheme : {'flux', 'flux8', 'seed'}
        ``flux``: one shared flux per pair of axis neighbours, zero flux through the border;
        equals medpy's ``anisotropic_diffusion`` with unit spacing.  ``flux8``: 2-D, with
        diagonal neighbours at distance √2.  ``seed``: the 2017 seed's Laplacian-driven step
        (reflection padding, conductance of the operator response, clamp to [0, 1]).
    spacing : float or sequence of float, optional
        Physical spacing per spatial axis.  Differences are divided by it both inside the
        conductance and in the divergence (medpy's ``voxelspacing`` and ITK divide once).
    channel_axis : int, optional
        Axis holding channels (scikit-image's name).  ``None``: one scalar N-D image.
    coupled : bool
        With channels: one conductance from the joint gradient magnitude for all channels,
        so colour edges stay aligned.  Default: each channel diffuses alone.
    sigma : float or 'auto'
        ``> 0``: compute the conductance from a Gaussian-smoothed image (Catté et al. 1992),
        in units of ``spacing``.  ``'auto'``: 0 or 1, whichever denoises better (see Notes).
    device : str or torch.device, optional
        ``None``: where the input lives (numpy: CUDA if available, else CPU).
    progress : callable, optional
        ``progress(done, total)`` as the iterations go (the CLI draws a bar with it);
        see :mod:`peronamalik.core.progress`.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Same kind and shape as ``image`` (a tensor on the input's device); float32, or
        float64 for float64 input.

    Notes
    -----
    The readable torch steps of :mod:`peronamalik.core.schemes` define the result.  Faster
    backends run the same steps: on the CPU a C kernel (:mod:`peronamalik.backends.native`),
    on CUDA ``torch.compile`` of the steps themselves (:mod:`peronamalik.backends.compiled`);
    :mod:`peronamalik.backends.policy` picks, ``with peronamalik.backend(name):`` or
    ``$PERONAMALIK_BACKEND`` (``auto``, ``reference``, ``native``, ``compiled``) chooses.

    ``'auto'`` parameters (:mod:`peronamalik.core.auto`, :func:`estimate_parameters` reports
    them): the noise level is estimated from a robust high-pass (Immerkær 1996; Donoho &
    Johnstone 1994), with a variance that may grow with intensity (Poisson-like); kappa
    candidates are multiples of the gradient scale that noise alone gives the conductance
    (so they scale as :math:`1/h` with spacing and :math:`\sqrt C` when coupled), and the
    candidate and stopping time of least Stein unbiased risk estimate win (Monte-Carlo SURE,
    Ramani, Blu & Unser 2008): no clean image needed.

    Examples
    --------
    >>> import numpy as np
    >>> from peronamalik import diffuse
    >>> image = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    >>> smooth = diffuse(image, iterations=10, kappa=0.2)
    >>> smooth.shape, smooth.dtype, bool(abs(smooth.mean() - image.mean()) < 1e-5)
    ((64, 64), dtype('float32'), True)
    """
    tensor, origin = to_float_tensor(image, device=device)
    u, spacing_tuple = to_internal_layout(tensor, channel_axis, spacing)
    result = run_diffusion(
        u,
        iterations=iterations,
        kappa=kappa,
        dt=dt,
        diffusivity=diffusivity,
        scheme=scheme,
        spacing=spacing_tuple,
        coupled=coupled,
        sigma=sigma,
        progress=progress,
    )
    if result.data_ptr() == u.data_ptr():  # iterations=0: never hand back the input's own buffer
        result = result.clone()
    return restore(from_internal_layout(result, channel_axis, tensor.ndim), origin)
