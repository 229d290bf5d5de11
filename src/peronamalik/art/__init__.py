"""The "on drugs" mode: a learned diffusion operator, animated (names load on first use, so
the command line can read the presets without importing torch)."""

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
