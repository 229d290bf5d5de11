"""The "on drugs" mode: a learned diffusion operator, animated."""

from peronamalik.art.animate import RenderInterrupted, animate, render
from peronamalik.art.config import ArtConfig
from peronamalik.art.engine import LearnedDiffusion
from peronamalik.art.presets import PHOTO_PRESETS, PRESETS, preset_config

__all__ = ["PHOTO_PRESETS", "PRESETS", "ArtConfig", "LearnedDiffusion", "RenderInterrupted", "animate", "preset_config", "render"]

from peronamalik.art.video import stylize_frames  # noqa: E402
from peronamalik.art.video_file import render_video  # noqa: E402

__all__ += ["render_video", "stylize_frames"]
