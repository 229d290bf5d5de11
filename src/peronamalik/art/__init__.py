"""The "on drugs" mode: a learned diffusion operator, animated (names load on first use, so
the command line can read the presets without importing torch)."""

import sys
import types

from peronamalik._extras import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "animate": ("RenderInterrupted", "animate", "render"),
        "config": ("ArtConfig",),
        "engine": ("LearnedDiffusion",),
        "presets": ("PHOTO_PRESETS", "PRESETS", "preset_config"),
        "video": ("stylize_frames",),
        "video_file": ("render_video",),
    },
)


class _Package(types.ModuleType):
    """``peronamalik.art.animate`` is the function, as when this package imported it eagerly:
    importing the submodule of that name does not replace it."""

    def __setattr__(self, name: str, value: object) -> None:
        if not (name == "animate" and isinstance(value, types.ModuleType)):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
