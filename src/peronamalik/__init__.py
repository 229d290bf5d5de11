"""peronamalik: Perona-Malik diffusion on one torch core, classic and "on drugs".

Every name loads on first use, so ``import peronamalik`` (and ``peronamalik --help``) does
not wait for torch: the classic filter (:func:`diffuse`, :class:`PeronaMalik`,
:class:`DiffusionParams`, :func:`estimate_kappa`, :func:`itk_kappa`, :func:`stable_dt`, and :class:`InputError`
for bad input) and the learned mode (:func:`animate`,
:func:`render`, :func:`render_video`, :func:`stylize_frames`, :class:`LearnedDiffusion`,
:class:`ArtConfig`, :data:`PRESETS`) on first use.  ``pip install peronamalik`` needs only
torch and numpy; files need the ``[io]``/``[video]`` extras, the command line ``[cli]``.
"""

from importlib.metadata import PackageNotFoundError, version

from peronamalik import _omp  # noqa: F401 - first: sets OpenMP's wait policy before torch loads
from peronamalik._extras import lazy_exports

try:
    __version__ = version("peronamalik")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

_exports, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "_validate": ("InputError",),
        "core": (
            "DiffusionOptions", "DiffusionParams", "PeronaMalik", "diffuse", "estimate_kappa", "estimate_parameters",
            "itk_kappa", "stable_dt",
        ),
        "core.threads": ("get_num_threads", "set_num_threads"),
        "backends": ("backend",),
        "art": (
            "PRESETS",
            "ArtConfig",
            "LearnedDiffusion",
            "RenderInterrupted",
            "animate",
            "preset_config",
            "render",
            "render_video",
            "stylize_frames",
        )
    },
)


__all__ = sorted(["__version__", *_exports])
