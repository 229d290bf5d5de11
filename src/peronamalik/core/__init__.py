"""The functional torch core: diffusivities, step functions and :func:`diffuse`."""

from peronamalik.core.diffuse import diffuse, stable_dt
from peronamalik.core.kappa import estimate_kappa
from peronamalik.core.module import PeronaMalik
from peronamalik.core.parameters import estimate_parameters

__all__ = ["PeronaMalik", "diffuse", "estimate_kappa", "estimate_parameters", "stable_dt"]
