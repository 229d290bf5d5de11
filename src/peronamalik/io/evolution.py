"""The classic diffusion as it evolves: a frame every N iterations, written as an animation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from peronamalik._validate import InputError, integer
from peronamalik.core import diffuse
from peronamalik.core.arrays import to_float_tensor
from peronamalik.core.progress import Progress
from peronamalik.io.interrupts import RenderInterrupted, deferred_signals, signal_number

#: Frame rate of the written evolution.
FPS = 10.0


def evolution_frames(
    image: np.ndarray, *, iterations: int, every: int, channel_axis: int | None = None,
    progress: Progress | None = None, **options: Any,
) -> Iterator[np.ndarray]:
    r"""Frames of :func:`~peronamalik.core.diffuse` as it runs: the input, then the image after
    every ``every``-th iteration and after the last.

    The frame after :math:`n` iterations is ``diffuse(image, iterations=n, ...)``: the run is
    continued in chunks of ``every`` steps (a step depends only on the current image).

    Parameters
    ----------
    image : numpy.ndarray
        A 2-D grey or colour image, any real dtype (integers map to [0, 1] by their range;
        floats outside [0, 1] are shown scaled by the input's min and max).
    iterations : int
        Steps in all (>= 0).
    every : int
        Steps between frames (>= 1).
    channel_axis : int, optional
        Colour axis (1, 3 or 4 channels; alpha is dropped), None for grey.
    progress : callable, optional
        ``progress(done, total)`` over the iterations (:mod:`peronamalik.core.progress`).
    **options
        Any other :func:`~peronamalik.core.diffuse` argument (``kappa``, ``dt``, ...), as
        numbers: resolve ``'auto'`` first (:func:`~peronamalik.core.estimate_parameters`).

    Yields
    ------
    numpy.ndarray
        ``H×W×3`` uint8 frames, ``1 + ceil(iterations / every)`` of them.
    """
    every = integer("every", every, low=1)
    iterations = integer("iterations", iterations, low=0)
    spatial = np.ndim(image) - (channel_axis is not None)
    channels = 1 if channel_axis is None else np.shape(image)[channel_axis]
    if spatial != 2 or channels not in (1, 3, 4):
        raise InputError(
            f"an evolution animates a 2-D grey or colour image, got shape {np.shape(image)} "
            f"with channel_axis={channel_axis}"
        )
    state = to_float_tensor(image, device="cpu", name="image")[0].numpy().astype(np.float32)
    low, high = (0.0, 1.0) if state.min() >= 0 and state.max() <= 1 else (float(state.min()), float(state.max()))
    show = lambda array: _frame(array, channel_axis, low, high)  # noqa: E731
    yield show(state)
    for done in range(0, iterations, every):
        steps = min(every, iterations - done)
        state = diffuse(state, iterations=steps, channel_axis=channel_axis, **options)
        if progress is not None:
            progress(done + steps, iterations)
        yield show(state)


def _frame(array: np.ndarray, channel_axis: int | None, low: float, high: float) -> np.ndarray:
    """A float image → ``H×W×3`` uint8, ``low``..``high`` mapped to 0..255."""
    array = array[..., None] if channel_axis is None else np.moveaxis(array, channel_axis, -1)[..., :3]
    unit = np.clip((array - low) / ((high - low) or 1.0), 0.0, 1.0)
    return np.ascontiguousarray(np.broadcast_to(np.rint(unit * 255).astype(np.uint8), (*unit.shape[:2], 3)))


def check_evolution_output(output: str | os.PathLike[str], compare: object, overwrite: bool) -> None:
    """``smooth --every``'s checks before any work: an animation kind, no ``--compare``."""
    from peronamalik.io.animation import check_output

    if compare is not None:
        raise InputError("--compare does not go with --every (the animation's first frame is the input)")
    check_output(output, overwrite=overwrite)


def write_evolution(
    image: np.ndarray,
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    icc_profile: bytes | None = None,
    **options: Any,
) -> Path:
    """Write :func:`evolution_frames` (``options``) to ``output`` (.gif, .webp, .mp4, .webm or a
    folder of PNG frames; :func:`~peronamalik.io.animation.open_frame_writer`), atomically;
    returns the written path.  ``icc_profile``: the image's, whose frames are shown converted
    to sRGB (:func:`~peronamalik.io.metadata.as_srgb`: animations carry no profile).  A stop signal (Ctrl-C, SIGTERM, SIGHUP) keeps the frames made
    so far as a valid file and raises :class:`~peronamalik.io.interrupts.RenderInterrupted`
    saying how many (none: ``output`` is left as it was)."""
    from peronamalik.io.animation import open_frame_writer
    from peronamalik.io.metadata import as_srgb

    writer = None
    try:
        with deferred_signals():  # a stop while the temporary is made must not leave it behind
            writer = open_frame_writer(output, fps=FPS, overwrite=overwrite)
        with writer:
            for frame in evolution_frames(image, **options):
                writer.write(as_srgb(frame, icc_profile, str(output)))
    except KeyboardInterrupt as exc:
        written = 0 if writer is None else writer.frames_written
        raise RenderInterrupted(Path(output) if writer is None else writer.path, written, signal_number(exc)) from exc
    return writer.path
