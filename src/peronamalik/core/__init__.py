"""The functional torch core: diffusivities, step functions and :func:`diffuse`."""

from peronamalik.core.diffuse import diffuse, stable_dt
from peronamalik.core.kappa import estimate_kappa
from peronamalik.core.module import PeronaMalik

__all__ = ["PeronaMalik", "diffuse", "estimate_kappa", "stable_dt"]
