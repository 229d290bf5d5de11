"""The functional torch core: diffusivities, step functions and :func:`diffuse`."""

from peronamalik.core import threads  # noqa: F401 - first: the thread policy, applied once on load

from peronamalik.core.diffuse import diffuse
from peronamalik.core.kappa import estimate_kappa, itk_kappa
from peronamalik.core.module import PeronaMalik
from peronamalik.core.parameters import estimate_parameters
from peronamalik.core.params import DiffusionOptions, DiffusionParams, stable_dt

__all__ = [
    "DiffusionOptions", "DiffusionParams", "PeronaMalik", "diffuse", "estimate_kappa", "estimate_parameters", "itk_kappa",
    "stable_dt",
]
