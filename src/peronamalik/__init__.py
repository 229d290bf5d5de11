"""peronamalik: Perona-Malik diffusion on one torch core, classic and "on drugs"."""

from importlib.metadata import PackageNotFoundError, version

from peronamalik.core import PeronaMalik, diffuse, estimate_kappa, stable_dt

try:
    __version__ = version("peronamalik")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["PeronaMalik", "__version__", "diffuse", "estimate_kappa", "stable_dt"]

from peronamalik.art.video import render_video, stylize_frames  # noqa: E402

__all__ += ["render_video", "stylize_frames"]
