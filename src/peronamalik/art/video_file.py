"""Rendering a video file in the "on drugs" mode: decode, :func:`~peronamalik.art.video.stylized`,
encode, one frame at a time, with the input's audio, colour properties and orientation."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

from peronamalik.art.animate import RunSpec, check_render_output, write_stream
from peronamalik.art.engine import Callback
from peronamalik.art.source import Source, file_sha256
from peronamalik.art.video import resolve_video_run, stylized
from peronamalik.core.progress import Progress, check_progress, counted


def input_record(reference: str, sha256: str | None) -> Source:
    """What the sidecar records about an input that is a stream, not one image."""
    return Source(torch.empty(0), reference, sha256, Path(reference).stem)


def with_fps(spec: RunSpec, fps: float) -> RunSpec:
    """``spec`` with the frame rate actually written (validated by the config)."""
    return dataclasses.replace(spec, config=spec.config.replace(fps=float(fps)))


def render_video(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    fps: float | None = None,
    audio: bool = True,
    callback: Callback | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    dither: bool = False,
    gif_quality: str | None = None,
    **options: Any,
) -> Path:
    """Stylise a video file with :func:`stylize_frames`, decoding, processing and encoding
    one frame at a time, and write its sidecar ``OUTPUT.json``.

    Parameters
    ----------
    input : path-like
        Anything FFmpeg decodes (MP4, MOV, WebM, MKV, AVI), or an animated GIF/WebP.  A
        truncated file gives the frames it holds, with a ``UserWarning``.
    output : path-like
        .mp4, .mkv, .webm, .gif, .webp, .png (last frame) or a folder (numbered PNGs).
        Every input frame is written, in order, at the input's size (unless ``size``; .mp4
        and .mkv, whose H.264 takes only even sides, add a copy of the last row or column
        to an odd height or width: 63×47 is written as 64×48), upright (the input's display
        rotation applied); videos keep the input's colour matrix, range, primaries and
        transfer (:class:`~peronamalik.io.video.Colour`).
    fps : float, optional
        Frame rate of the output; None keeps the input's: every frame, each shown when and for
        as long as the input shows it (a variable frame rate kept: time stamps in .mp4, .mkv
        and .webm, frame delays in .gif and .webp; :func:`~peronamalik.io.video.frame_times`;
        the sidecar records the mean rate).  Another rate
        resamples the input by time stamps before the recurrence runs
        (:func:`~peronamalik.io.video.read_frames`), so the duration and the sync with the
        audio are kept.  The sidecar records the rate written.
    audio : bool
        Carry the input's audio track into .mp4/.mkv/.webm outputs.
    callback, **options
        As in :func:`stylize_frames`, with its defaults: ``preset``, ``seed``, ``device``,
        ``config`` and any :class:`~peronamalik.art.config.ArtConfig` field.
    overwrite : bool
        Replace an existing output.
    progress : callable, optional
        ``progress(done, total)`` after every frame; ``total`` is the number of frames to
        write (None when the container does not say).
    dither, gif_quality
        GIF output: Floyd-Steinberg dithering; "high", "medium" or "low" (255, 63 or 31
        colours per frame; None: "high"), as in :func:`~peronamalik.art.animate.render`.
        For another format they are refused, before any work, not ignored.

    Returns
    -------
    pathlib.Path
        ``output``; the sidecar lies beside it (``out.mp4.json``) and records the config,
        seed, version and the input's SHA-256.

    Raises
    ------
    ValueError, TypeError
        Unreadable input, bad settings, unknown output kind, ``dither`` or ``gif_quality``
        for an output that is not a .gif, an existing output without ``overwrite`` (all
        before anything is written).
    RenderInterrupted
        Ctrl-C: ``output`` holds a valid file with the frames made so far.
    """
    from peronamalik.io.animation import playable_fps
    from peronamalik.io.video import frame_times, probe, read_frames

    source = Path(input)
    check_render_output(output, overwrite=overwrite, dither=dither, gif_quality=gif_quality)
    progress = check_progress(progress)
    info = probe(source)
    spec = resolve_video_run(**options)
    wanted = info.fps if fps is None else fps
    spec = with_fps(spec, wanted)  # the config checks the rate before anything reads it
    if (playable := playable_fps(output, wanted)) != wanted:
        fps = playable  # resampled to what the format plays, so the length is kept
        spec = with_fps(spec, fps)
    total = info.frame_count if fps is None or info.frame_count is None else round(info.frame_count * fps / info.fps)
    record = input_record(str(source), file_sha256(source))
    frames = stylized(read_frames(source, fps=fps), spec, callback)
    if progress is not None:
        frames = counted(frames, progress, total)
    audio_from = source if audio else None
    return write_stream(
        frames, output, spec, record, audio_from=audio_from, overwrite=overwrite, colour=info.colour, dither=dither,
        gif_quality=gif_quality, times=None if fps is not None else frame_times(source),
    )
