r"""The parameters of classic Perona-Malik diffusion, checked once: :class:`DiffusionParams`.

:func:`~peronamalik.core.diffuse.diffuse`, :class:`~peronamalik.core.module.PeronaMalik`,
the ``smooth`` command and the art mode's :class:`~peronamalik.art.config.ArtConfig` all
build one of these; its constructor checks every value that can be checked without the
image, and :meth:`DiffusionParams.resolve` the rest once the image's shape is known
(spacing per axis, the stable time step, sigma against the image's extent, the amount of
work).  Bad values raise :class:`~peronamalik._validate.InputError` naming the parameter
and its allowed range.

Ranges, and why:

* ``kappa`` in [1e-30, 1e30]: the kernels compute in float32, where a smaller kappa is 0.
* ``dt`` ≥ 1e-30, for the same reason (a smaller step is 0 in float32: a silent no-op);
  its upper bound is the scheme's stability limit, checked where the grid is known.
* ``spacing`` in [1e-9, 1e9]: :math:`1/h^2` and :math:`dt \sim h^2` stay normal float32.
* ``iterations`` ≤ 1e9, and iterations × voxels ≤ 1e15 (about four days at the fused
  kernel's 2.6 Gvoxel·it/s): a longer job is a typo, not a plan.
* ``sigma`` ≤ the image's smallest physical extent :math:`\min_i \max(n_i, 4)\,h_i` over
  the axes longer than one sample: a wider Gaussian only averages the whole axis, and its
  kernel (radius 4σ) would outgrow the image (``--sigma 1e7`` asked for ~90 GB).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import torch

from peronamalik._validate import InputError, InputTypeError, choice, flag, integer, real
from peronamalik.backends.job import Diffusion
from peronamalik.core.arrays import resolve_device
from peronamalik.core.diffusivity import Diffusivity, max_conductance, resolve_diffusivity
from peronamalik.core.layout import check_spacing, normalize_spacing
from peronamalik.core.progress import Progress
from peronamalik.core.schemes import flux_stability_sum, neighbour_offsets

SCHEMES = ("flux", "flux8", "gradient", "seed")
KAPPA_RANGE = (1e-30, 1e30)
MIN_DT = 1e-30  # smaller is 0 in float32
MAX_ITERATIONS = 10**9
MAX_WORK = 10**15  # voxels × iterations
MIN_SIGMA_PIXELS = 4  # sigma up to 4 pixels is fine on any axis


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
    for "flux" and "gradient" with unit spacing and ``1/6`` for "flux8".  "seed": :math:`1/(4 g_{max} C_{mix})`
    with ``C_mix`` the number of channels the operator mixes.
    """
    spacing = normalize_spacing(spacing, spatial_ndim)
    g_max = 1.0 if diffusivity == "inv" else max_conductance(diffusivity, float(kappa))
    if scheme == "seed":
        return 1.0 / (4.0 * g_max * mixed_channels)
    return 1.0 / (g_max * flux_stability_sum(neighbour_offsets(scheme, spatial_ndim), spacing))


def auto_or(check: Any, name: str, value: Any, **bounds: Any) -> Any:
    """``'auto'`` (chosen from the data by :func:`~peronamalik.core.diffuse.run_diffusion`), or
    ``check(name, value, **bounds)``."""
    if isinstance(value, str) and value != "auto":
        raise InputTypeError(f"{name} must be a number or 'auto', got {value!r:.40}")
    return value if isinstance(value, str) else check(name, value, **bounds)


#: ``noise=``: a standard deviation, Foi et al.'s pair (a, b) of the variance a·m + b, or 'auto'.
NoiseLevel = float | tuple[float, float] | str


def check_noise(noise: Any) -> NoiseLevel:
    """``'auto'``, a standard deviation >= 0, or a pair (a, b) (a tuple of two floats): a >= 0,
    and b >= 0 where a is 0 (a negative b is a line over an offset, which needs a slope)."""
    values = noise.tolist() if hasattr(noise, "tolist") else noise  # numpy and torch too
    if isinstance(values, (str, numbers.Real)):
        return auto_or(real, "noise", values, low=0.0)
    if not isinstance(values, Sequence) or isinstance(values, bytes):
        raise InputTypeError(f"noise must be a number, a pair (a, b) or 'auto', got {type(noise).__name__}")
    pair = list(values)
    if len(pair) != 2:
        raise InputError(f"noise as a pair is (a, b) of the variance a*m + b: 2 numbers, got {len(pair)}")
    slope = real("noise's a", pair[0], low=0.0)
    return slope, real("noise's b" + (" (with a = 0)" if slope == 0 else ""), pair[1], low=None if slope > 0 else 0.0)


def check_kappa(kappa: Any) -> float | str | torch.Tensor:
    """A number in :data:`KAPPA_RANGE`, a one-element tensor holding one, or ``'auto'``."""
    if isinstance(kappa, str):
        return auto_or(real, "kappa", kappa)
    if isinstance(kappa, torch.Tensor):
        if kappa.numel() != 1 or kappa.is_complex():
            raise InputError(f"kappa must be a real scalar, got a tensor of shape {tuple(kappa.shape)}")
        real("kappa", float(kappa.detach()), low=KAPPA_RANGE[0], high=KAPPA_RANGE[1])
        return kappa
    return real("kappa", kappa, low=KAPPA_RANGE[0], high=KAPPA_RANGE[1])


class DiffusionOptions(TypedDict, total=False):
    """The keywords of :func:`~peronamalik.core.diffuse.diffuse` that say how to diffuse and
    where the channels are (all but ``device`` and ``progress``), for the functions that take
    the same ones (``**options: Unpack[DiffusionOptions]``): ``iterations``, ``kappa``,
    ``dt``, ``diffusivity``, ``scheme``, ``spacing``, ``channel_axis``, ``coupled``,
    ``sigma`` and ``noise``, each optional, with :class:`DiffusionParams`'s defaults and ``diffuse``'s
    meaning."""

    iterations: int | str
    kappa: float | str | torch.Tensor
    dt: float | None
    diffusivity: str | Diffusivity
    scheme: str
    spacing: float | Sequence[float] | None
    channel_axis: int | None
    coupled: bool
    sigma: float | str
    noise: NoiseLevel


@dataclass(frozen=True)
class DiffusionParams:
    """Every parameter of classic diffusion, checked on construction.

    The fields are :func:`~peronamalik.core.diffuse.diffuse`'s keywords (see there for the
    meaning of each); ``channel_axis`` and ``device`` say where the image's channels are and
    where to compute, the rest how to diffuse.

    Examples
    --------
    >>> params = DiffusionParams(iterations=10, kappa=0.2, channel_axis=-1, coupled=True)
    >>> params.replace(kappa=0.3).kappa
    0.3
    >>> DiffusionParams(kappa=-1)
    Traceback (most recent call last):
    ...
    peronamalik._validate.InputError: kappa must be in [1e-30, 1e+30], got -1
    """

    iterations: int | str = 20
    kappa: float | str | torch.Tensor = 0.1
    dt: float | None = None
    diffusivity: str | Diffusivity = "exp"
    scheme: str = "flux"
    spacing: float | tuple[float, ...] | None = None
    channel_axis: int | None = None
    coupled: bool = False
    sigma: float | str = 0.0
    noise: NoiseLevel = "auto"
    device: str | torch.device | None = None

    def __post_init__(self) -> None:
        checked = {
            "iterations": auto_or(integer, "iterations", self.iterations, low=0, high=MAX_ITERATIONS),
            "kappa": check_kappa(self.kappa),
            "dt": None if self.dt is None else real("dt", self.dt, low=MIN_DT),
            "scheme": choice("scheme", self.scheme, SCHEMES),
            "coupled": flag("coupled", self.coupled),
            "sigma": auto_or(real, "sigma", self.sigma, low=0.0),
            "noise": check_noise(self.noise),
            "device": None if self.device is None else resolve_device(self.device, None),
        }
        if self.diffusivity != "inv":
            resolve_diffusivity(self.diffusivity)
        elif checked["scheme"] != "seed":
            raise InputError("diffusivity='inv' (the seed's Scharr conductance) needs scheme='seed'")
        checked["spacing"] = check_spacing(self.spacing)
        if self.channel_axis is not None:
            checked["channel_axis"] = integer("channel_axis", self.channel_axis)
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        spacings = (self.spacing,) if isinstance(self.spacing, float) else self.spacing or ()
        if self.scheme == "seed" and (self.sigma not in (0.0, "auto") or any(h != 1.0 for h in spacings)):
            raise InputError("scheme='seed' takes neither sigma nor spacing (the seed had neither)")

    def conductance(self) -> str | Diffusivity:
        """The edge-stopping function g(d, kappa), or ``'inv'`` (the seed step's own)."""
        return "inv" if self.diffusivity == "inv" else resolve_diffusivity(self.diffusivity)

    def replace(self, **changes: Any) -> DiffusionParams:
        """A copy with ``changes`` applied (checked again)."""
        return dataclasses.replace(self, **changes)

    def resolve(self, u: torch.Tensor, progress: Progress | None = None) -> Diffusion:
        """The checks that need the image: the job for ``u``, laid out as ``(batch, channels,
        *spatial)``, that a backend runs."""
        if any(isinstance(value, str) for value in (self.kappa, self.iterations, self.sigma)):
            raise InputError("'auto' parameters are chosen by run_diffusion before resolve()")
        spatial = u.shape[2:]
        ndim = len(spatial)
        if self.scheme in ("flux8", "seed") and ndim != 2:
            raise InputError(f"scheme={self.scheme!r} is 2-D only, got {ndim} spatial axes")
        spacing = normalize_spacing(self.spacing, ndim)
        # the widest Gaussian that still fits each axis (a length-1 axis is constant: skipped)
        widest = min((max(n, MIN_SIGMA_PIXELS) * h for n, h in zip(spatial, spacing) if n > 1), default=math.inf)
        if self.sigma > widest:
            raise InputError(f"sigma={self.sigma:g} is wider than the image: sigma must be <= {widest:g} "
                             f"(the smallest extent, size x spacing, of its axes {tuple(spatial)})")
        work = self.iterations * u.numel()
        if work > MAX_WORK:
            raise InputError(f"iterations={self.iterations} on {u.numel()} values is {work:.4g} voxel-steps; "
                             f"the limit is {MAX_WORK:.0e} (days of computing): use fewer iterations or a larger dt")
        kappa = self.kappa
        if isinstance(kappa, torch.Tensor):
            kappa = kappa.to(u.device).reshape(())
        limit = stable_dt(
            self.scheme,
            spatial_ndim=ndim,
            spacing=spacing,
            diffusivity=self.diffusivity,
            kappa=float(kappa.detach()) if isinstance(kappa, torch.Tensor) else kappa,
            mixed_channels=u.shape[1] if self.coupled else 1,
        )
        if self.dt is not None and self.dt > limit * (1 + 1e-9):
            raise InputError(f"dt={self.dt} is above the stable limit {limit:.6g} of scheme={self.scheme!r} here")
        dt = limit if self.dt is None else self.dt
        return Diffusion(u, self.iterations, kappa, dt, self.diffusivity, self.scheme, spacing, self.coupled,
                         self.sigma, progress)

