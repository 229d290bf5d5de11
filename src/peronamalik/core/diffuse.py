"""The public entry point of classic Perona-Malik diffusion: :func:`diffuse`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from peronamalik._validate import InputError
from peronamalik.backends import policy
from peronamalik.core import auto
from peronamalik.core.arrays import ArrayLike, all_finite, restore, to_float_tensor, value_range
from peronamalik.core.diffusivity import Diffusivity
from peronamalik.core.layout import check_coupled, from_internal_layout, normalize_spacing, to_internal_layout
from peronamalik.core.params import DiffusionParams, NoiseLevel
from peronamalik.core.progress import Progress, check_progress


def resolve_auto(u: torch.Tensor, params: DiffusionParams) -> auto.AutoParameters:
    """Choose what is ``'auto'`` among ``params``' kappa, iterations and sigma for
    :func:`run_diffusion` of ``u`` (:func:`peronamalik.core.auto.choose`)."""
    spacing = normalize_spacing(params.spacing, u.ndim - 2)
    sigma = 0.0 if params.sigma == "auto" and params.scheme == "seed" else params.sigma
    kappa = params.kappa if isinstance(params.kappa, str) else float(params.kappa)

    def run(v: torch.Tensor, *, iterations: int, kappa: float, sigma: float) -> torch.Tensor:
        with torch.no_grad():
            return run_diffusion(v, params, iterations=iterations, kappa=kappa, sigma=sigma)

    return auto.choose(
        u, run, kappa=kappa, iterations=params.iterations, sigma=sigma, spacing=spacing, coupled=params.coupled,
        noise=params.noise,
    )


def run_diffusion(
    u: torch.Tensor, params: DiffusionParams | None = None, *, progress: Progress | None = None, **changes: Any
) -> torch.Tensor:
    """Diffuse a float tensor laid out as ``(batch, channels, *spatial)``; see :func:`diffuse`.

    ``params`` (default: :class:`DiffusionParams`'s defaults) with ``changes`` applied;
    ``channel_axis`` and ``device`` are not used here.
    """
    params = DiffusionParams(**changes) if params is None else params.replace(**changes) if changes else params
    if any(isinstance(value, str) and value == "auto" for value in (params.kappa, params.iterations, params.sigma)):
        chosen = resolve_auto(u, params)
        kappa = chosen.kappa if isinstance(params.kappa, str) else params.kappa
        params = params.replace(kappa=kappa, iterations=chosen.iterations, sigma=chosen.sigma)
    job = params.resolve(u, check_progress(progress))
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
    noise: NoiseLevel = "auto",
    device: str | torch.device | None = None,
    progress: Progress | None = None,
) -> ArrayLike:
    r"""Perona-Malik anisotropic diffusion of an N-D image.

    Solves :math:`\partial_t I = \operatorname{div}\big(g(|\nabla I|)\,\nabla I\big)` with
    explicit steps of size ``dt`` (Perona & Malik 1990).

    Parameters
    ----------
    image : numpy.ndarray or torch.Tensor
        2-D, 3-D or N-D image, any real dtype; never modified.  uint8 and uint16 are
        mapped to [0, 1] (divided by 255, 65535: scikit-image's ``img_as_float``); other
        integers keep their values (``img_as_float`` would map signed ones to [-1, 1] and
        squeeze wide ones below float32's resolution); floats are used as they are.
    iterations : int or 'auto'
        Number of explicit steps, in [0, 1e9], and iterations × voxels <= 1e15.  ``'auto'``:
        the stopping time of least estimated error for denoising (see Notes).
    kappa : float, 'auto' or 0-d tensor
        Contrast parameter in [1e-30, 1e30], in image units per unit of ``spacing``.
        ``'auto'``: chosen for denoising from the estimated noise level (see Notes); a tensor
        makes the result differentiable in kappa.
    dt : float, optional
        Time step; ``None`` takes the largest stable one (:func:`stable_dt`: ``1/(2·ndim)``
        for "flux" with unit spacing).  A larger dt raises ``ValueError``.
    diffusivity : {'exp', 'rational', 'tukey'} or callable
        ``exp``: :math:`e^{-(d/\kappa)^2}`; ``rational``: :math:`1/(1+(d/\kappa)^2)`;
        ``tukey``: :math:`\tfrac12(1-(d/\kappa\sqrt2)^2)^2` inside the cut-off (medpy's
        convention); or ``g(d, kappa) -> tensor``.  ``'inv'`` (the seed's Scharr
        conductance) goes with ``scheme='seed'``.
    scheme : {'flux', 'flux8', 'gradient', 'seed'}
        ``flux``: one shared flux per pair of axis neighbours, zero flux through the border;
        equals medpy's ``anisotropic_diffusion`` with unit spacing.  ``flux8``: 2-D, with
        diagonal neighbours at distance √2.  ``gradient``: the same pairs, each with the
        conductance of the whole gradient at its half-way point (the cross derivatives too);
        equals ITK's ``GradientAnisotropicDiffusionImageFilter`` with unit spacing and
        ``kappa`` from :func:`~peronamalik.itk_kappa`.  ``seed``: the 2017 seed's Laplacian-driven step
        (reflection padding, conductance of the operator response, clamp to [0, 1]).
    spacing : float or sequence of float, optional
        Physical spacing per spatial axis, each in [1e-9, 1e9].  Differences are divided by it both inside the
        conductance and in the divergence (medpy's ``voxelspacing`` and ITK divide once).
    channel_axis : int, optional
        Axis holding channels (scikit-image's name).  ``None``: one scalar N-D image.
    coupled : bool
        With channels: one conductance from the joint gradient magnitude for all channels,
        so colour edges stay aligned.  Default: each channel diffuses alone.
    sigma : float or 'auto'
        ``> 0``: compute the conductance from a Gaussian-smoothed image (Catté et al. 1992),
        in units of ``spacing``; at most the image's smallest extent (size × spacing).
        ``'auto'``: 0 or 1, whichever denoises better (see Notes).
    noise : float, (float, float) or 'auto'
        For the ``'auto'`` parameters only: the noise when it is known (white), in the units
        the image is diffused in ([0, 1] for uint8 and uint16); the choice is then made for
        it instead of for the noise read from the image.  A float: its standard deviation,
        ``>= 0``, the same at every intensity (Gaussian).  A pair ``(a, b)``, ``a >= 0``:
        the variance :math:`a\,m + b` at clean intensity :math:`m` (Foi et al. 2008's
        Poisson-Gaussian model: photon counts scaled by :math:`a`, plus read noise of
        variance :math:`b`; a camera of gain :math:`g` ADU per electron and read noise
        :math:`r` ADU has :math:`a = g`, :math:`b = r^2` in ADU, :math:`a = g/65535`,
        :math:`b = (r/65535)^2` for a uint16 file; over an offset :math:`m_0` not
        subtracted, :math:`b = r^2 - g\,m_0`, below 0 for a large offset).  Give it where
        the clean picture has grain or texture at the pixel scale as strong as the noise
        (film grain, a GIF's dither, grass): read from the image, that content counts as
        noise, and the choice smooths it away.  The pair read on one picture,
        :attr:`~peronamalik.core.auto.AutoParameters.noise_line`, serves another of the
        same camera and settings.  Not for nearly flat or binary pictures with
        unclipped noise (float data): the search there relies on the level it reads, a few
        per cent high on them, and given the exact level it stopped some of them 1.6-4.7 dB
        short (clipped to [0, 1], as 8- and 16-bit files are, they did not fail;
        benchmarks/README.md, "A known noise level").
        ``0``: nothing to denoise (0 iterations for ``'auto'``).
        ``'auto'`` (default): read from the image (see Notes).
    device : str or torch.device, optional
        ``None``: where the input lives (numpy: CUDA if available, else CPU).
    progress : callable, optional
        ``progress(done, total)`` as the iterations go (the CLI draws a bar with it);
        see :mod:`peronamalik.core.progress`.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Same kind and shape as ``image`` (a tensor on the input's device); float64 for
        float64, int32, int64, uint32 and uint64 input, else float32.

    Raises
    ------
    peronamalik.InputError
        A parameter or the image is out of range (a ``ValueError``); a parameter of the
        wrong type raises one that is also a ``TypeError``.  The parameters are checked by
        :class:`~peronamalik.core.params.DiffusionParams`.

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
    params = DiffusionParams(
        iterations=iterations, kappa=kappa, dt=dt, diffusivity=diffusivity, scheme=scheme, spacing=spacing,
        channel_axis=channel_axis, coupled=coupled, sigma=sigma, noise=noise, device=device,
    )
    check_coupled(params.coupled, params.channel_axis)
    tensor, origin = to_float_tensor(image, device=params.device)
    u = to_internal_layout(tensor, params.channel_axis)
    result = run_diffusion(u, params, progress=progress)
    check_finite(result, u)
    if result.data_ptr() == u.data_ptr():  # iterations=0: never hand back the input's own buffer
        result = result.clone()
    return restore(from_internal_layout(result, params.channel_axis, tensor.ndim), origin)


def check_finite(result: torch.Tensor, u: torch.Tensor) -> None:
    """An :class:`InputError` where the diffusion of the finite ``u`` overflowed its dtype
    (values near float32's 3.4e38 or float64's 1.8e308 make infinite differences, then NaN)."""
    if not all_finite(result):
        low, high = value_range(u)
        raise InputError(
            f"the diffusion overflowed {str(u.dtype).removeprefix('torch.')}: the image's values lie in "
            f"[{low:.3g}, {high:.3g}]; scale the image to a smaller range (e.g. [0, 1])"
        )
