"""``peronamalik video``: the "on drugs" mode over a video file, or live over a webcam."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from peronamalik.art.config import ArtConfig, load_config_file, split_sidecar
from peronamalik.art.presets import PRESETS
from peronamalik._validate import InputError
from peronamalik.cli.app import DEVICE_HELP, DITHER_OPTION, QUALITY_OPTION, SEED_HELP, app
from peronamalik.cli.art import OUTPUT_OPTION_NAMES, announce, reporting_interrupts, resolve_input, resolve_settings
from peronamalik.cli.checks import check_input_exists, check_not_input, given
from peronamalik.cli.progress import progress_bar

VIDEO_PRESET = "video"  #: peronamalik.art.video.VIDEO_PRESET, named here so --help does not import torch


VIDEO_SIZE = 320  #: frames larger than this (longer side) are shrunk to it unless --size says otherwise


def video_settings(
    config_file: Path | None, preset: str | None, assignments: tuple[str, ...], size: int | None
) -> tuple[ArtConfig, dict[str, Any]]:
    """:func:`~peronamalik.cli.art.resolve_settings` with "video" as the default preset and
    the frame size kept (``size=null`` before the ``--set``s) unless a config file sets it;
    ``size`` 0 keeps it too."""
    data = {} if config_file is None else split_sidecar(load_config_file(config_file))[0]
    keep_size = () if "size" in data else ("size=null",)
    extra = ("size=null",) if size == 0 else ()
    return resolve_settings(
        config_file, preset or VIDEO_PRESET, (*keep_size, *assignments, *extra), {"size": size or None}
    )


def shrunk(config: ArtConfig, input_path: Path, size: int | None) -> ArtConfig:
    """Without --size (and no size from --config or --set), frames larger than
    :data:`VIDEO_SIZE` are shrunk to it: the presets' look depends on the frame size, and
    matches ``art`` at this size."""
    from peronamalik.io.video import probe

    if size is not None or config.size is not None:
        return config
    info = probe(input_path)
    return config.replace(size=VIDEO_SIZE) if max(info.width, info.height) > VIDEO_SIZE else config


VIDEO_HELP = f"""Stylise every frame of a video with a learned diffusion operator, or run it live.

Reads MP4, MOV, WebM, MKV, AVI, GIF and WebP; keeps frame count, rate and audio.  Frames
larger than {VIDEO_SIZE} pixels (longer side) are shrunk to {VIDEO_SIZE}, where the presets look as in
``art``; --size 0 keeps the input's size.

\b
Examples:
  peronamalik video trip.mp4                   # trip-art.mp4 here, "video" preset
  peronamalik video trip.mp4 --preset glow --size 480 -o glow.webm
  peronamalik video --webcam -o live.mp4       # camera 0 in a window, recorded
"""


@app.command(help=VIDEO_HELP, short_help="Stylise every frame of a video, or a webcam live.")
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", type=click.Path(), show_default="INPUT-art.mp4 here",
              help="Output: .mp4 .webm .mkv .gif .webp or DIR/ (PNG frames).")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None, show_default=VIDEO_PRESET,
              help="Look (peronamalik art --list-presets); video: the 2017 live-video mode.")
@click.option("--seed", type=int, show_default="a fresh one, recorded in OUTPUT.json", help=SEED_HELP)
@click.option("--device", help=DEVICE_HELP)
@click.option("--size", type=click.IntRange(min=0), show_default=f"{VIDEO_SIZE} for larger frames",
              help="Resize the longer side to this many pixels (8 or more); 0 keeps the input's size.")
@click.option("--fps", type=float, show_default="the input's", help="Frame rate of the output.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Any config field, e.g. --set frame_blend=0.9.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), help="Config file (JSON/TOML), or an earlier OUTPUT.json to render it again (its INPUT too).")
@click.option("--webcam", type=int, is_flag=False, flag_value=0, default=None, metavar="[N]", help="Live from camera N (default 0) in a window; -o also records it.")
@click.option("--no-audio", is_flag=True, help="Drop the input's audio track.")
@QUALITY_OPTION
@DITHER_OPTION
@click.option("--overwrite", is_flag=True, help="Replace an existing OUTPUT.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no \"wrote\" line (errors and warnings still print).")
def video(
    input_path: Path | None, output: str | None, preset: str | None, seed: int | None, device: str | None,
    size: int | None, fps: float | None, assignments: tuple[str, ...], config_file: Path | None,
    webcam: int | None, no_audio: bool, quality: str, dither: bool, overwrite: bool, quiet: bool,
) -> None:
    if input_path is not None and webcam is not None:
        raise click.UsageError("give either INPUT or --webcam [N]")
    check_input_exists(input_path)
    from peronamalik.art.animate import check_output_options
    from peronamalik.art.video_file import render_video
    from peronamalik.art.webcam import run_webcam

    gif_quality = given("quality", quality)  # None: the default ("high"), which suits any format
    if webcam is not None:  # the live recording is written with the GIF defaults
        for option, value in (("--quality", gif_quality), ("--dither", dither or None)):
            if value is not None:
                raise InputError(f"{option} applies to a video file's GIF output, not --webcam: drop {option}")

    config, recorded = video_settings(config_file, preset, assignments, size)
    if input_path is None and webcam is None:
        if not (recorded.get("input") or {}).get("path"):
            raise click.UsageError("give either INPUT or --webcam [N] (or --config with an earlier OUTPUT.json)")
        input_path = Path(resolve_input(None, recorded, config_file))
    if input_path is not None:
        target = output if output is not None else f"{input_path.stem}-art.mp4"
        # before any work: an option the format does not take, refused, not ignored
        check_output_options(target, dither=dither, gif_quality=gif_quality, names=OUTPUT_OPTION_NAMES)
        check_not_input(input_path, target, "-o", "the video")
        config = shrunk(config, input_path, size)
    settings = dict(
        config=config, preset=preset or recorded.get("preset") or VIDEO_PRESET,
        seed=seed if seed is not None else recorded.get("seed"), device=device, fps=fps, overwrite=overwrite,
    )
    with reporting_interrupts():
        if webcam is not None:
            written = run_webcam(webcam, output, **settings)
        else:
            with progress_bar("on drugs", "frame", quiet=quiet) as progress:
                written = render_video(
                    input_path, target, audio=not no_audio, progress=progress, gif_quality=gif_quality, dither=dither,
                    **settings,
                )
    if written is not None and not quiet:
        announce(written)
