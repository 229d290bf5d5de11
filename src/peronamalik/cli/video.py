"""``peronamalik video``: the "on drugs" mode over a video file, or live over a webcam."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from peronamalik.art.config import ArtConfig, load_config_file, split_sidecar
from peronamalik.art.presets import PRESETS
from peronamalik.cli.app import app
from peronamalik.cli.art import announce, reporting_interrupts, resolve_input, resolve_settings
from peronamalik.cli.progress import progress_bar

VIDEO_PRESET = "video"  #: peronamalik.art.video.VIDEO_PRESET, named here so --help does not import torch


def video_settings(
    config_file: Path | None, preset: str | None, assignments: tuple[str, ...], size: int | None
) -> tuple[ArtConfig, dict[str, Any]]:
    """:func:`~peronamalik.cli.art.resolve_settings` with "video" as the default preset and
    the frame size kept (``size=null`` before the ``--set``s) unless a config file sets it."""
    data = {} if config_file is None else split_sidecar(load_config_file(config_file))[0]
    keep_size = () if "size" in data else ("size=null",)
    return resolve_settings(config_file, preset or VIDEO_PRESET, (*keep_size, *assignments), {"size": size})


@app.command()
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", type=click.Path(), help="Output: .mp4 .webm .mkv .gif .webp or a directory/. Default: INPUT-art.mp4 here.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None, help=f"Look (default {VIDEO_PRESET}: the seed's live video).")
@click.option("--seed", type=int, help="Random seed (recorded in OUTPUT.json).")
@click.option("--device", help="cpu, cuda, mps (default: CUDA if available).")
@click.option("--size", type=int, help="Resize the longer side to this many pixels (default: keep).")
@click.option("--fps", type=float, help="Frame rate of the output (default: the input's).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Any config field, e.g. --set frame_blend=0.9.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), help="Config file (JSON/TOML), or an earlier OUTPUT.json to render it again.")
@click.option("--webcam", type=int, is_flag=False, flag_value=0, default=None, metavar="[N]", help="Live from camera N (default 0) in a window; -o also records it.")
@click.option("--no-audio", is_flag=True, help="Drop the input's audio track.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUTPUT.")
def video(
    input_path: Path | None, output: str | None, preset: str | None, seed: int | None, device: str | None,
    size: int | None, fps: float | None, assignments: tuple[str, ...], config_file: Path | None,
    webcam: int | None, no_audio: bool, overwrite: bool,
) -> None:
    """Stylise every frame of a video (MP4, MOV, WebM, MKV, AVI, GIF, WebP) with a learned
    diffusion operator, keeping frame count, rate, size and audio; or run it live (--webcam)."""
    if input_path is not None and webcam is not None:
        raise click.UsageError("give either INPUT or --webcam [N]")
    from peronamalik.art.video_file import render_video
    from peronamalik.art.webcam import run_webcam

    config, recorded = video_settings(config_file, preset, assignments, size)
    if input_path is None and webcam is None:
        if not (recorded.get("input") or {}).get("path"):
            raise click.UsageError("give either INPUT or --webcam [N] (or --config with an earlier OUTPUT.json)")
        input_path = Path(resolve_input(None, recorded, config_file))
    settings = dict(
        config=config, preset=preset or recorded.get("preset") or VIDEO_PRESET,
        seed=seed if seed is not None else recorded.get("seed"), device=device, fps=fps, overwrite=overwrite,
    )
    with reporting_interrupts():
        if webcam is not None:
            written = run_webcam(webcam, output, **settings)
        else:
            target = output if output is not None else f"{input_path.stem}-art.mp4"
            with progress_bar("on drugs", "frame") as progress:
                written = render_video(input_path, target, audio=not no_audio, progress=progress, **settings)
    if written is not None:
        announce(written)
