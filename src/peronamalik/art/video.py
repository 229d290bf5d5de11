r"""The "on drugs" mode over a video: the seed's live-video recurrence, one frame at a time.

For every incoming frame :math:`F_n` (normalised to [0, 1]) the running state :math:`S`
is diffused once with the learned operator K, pulled toward the frame, diffused again and
K takes one optimizer step (ALGORITHM.md, "live video"):

.. math::

    S' &= D_K(S) \\
    S'' &= \begin{cases} S' & n \bmod p = 0 \\ b\,S' + (1 - b)\,F_n & \text{otherwise} \end{cases} \\
    I_n, L &= D_K(S''), \qquad K \leftarrow K - \mathrm{opt}\bigl(\nabla_K\,\mathcal{L}(I_n, F_n, L)\bigr)

with :math:`D_K(I) = \mathrm{clamp}(I + dt\,L\,c(L), 0, 1)`, :math:`L = K * I`,
:math:`b` = ``frame_blend``, :math:`p` = ``frame_blend_skip`` and :math:`\mathcal{L}` the
weighted sum of named loss terms of :class:`~peronamalik.art.config.ArtConfig` with the
frame in the place of :math:`I_0`.  The "video" preset is the seed's:
:math:`\mathcal{L} = \sum (L (I_n - F_n))^2 + L + 10 (I_n L)^2`, b = 0.8, p = 8.
:math:`I_n` is the output frame and the next state.  The first step carries no gradient
and the second starts from the detached :math:`S''`, so K learns from one step per frame,
as in the image mode.  The state starts as :math:`F_0`.  Image presets work too; their
refresh schedule (K reset, blend toward the current frame, lr decay) counts frames.

Files are rendered by :mod:`peronamalik.art.video_file`, the webcam by
:mod:`peronamalik.art.webcam`; both feed this recurrence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from peronamalik._validate import InputError, InputTypeError
from peronamalik.art.animate import RunSpec, resolve_run
from peronamalik.art.config import ArtConfig
from peronamalik.art.engine import Callback, LearnedDiffusion, to_frame
from peronamalik.art.presets import preset_config
from peronamalik.art.source import resize_longer, tinted_if_grey
from peronamalik.core.arrays import shared_tensor, to_float_tensor

VIDEO_PRESET = "video"


def video_config(preset: str) -> ArtConfig:
    """Preset ``preset`` for a video: the frame size is kept (``size=None``); the photo
    presets' 320-pixel default is for photos."""
    return preset_config(preset).replace(size=None)


def resolve_video_run(
    *, preset: str = VIDEO_PRESET, config: ArtConfig | None = None, seed: int | None = None,
    device: str | torch.device | None = None, **overrides: Any,
) -> RunSpec:
    """:func:`~peronamalik.art.animate.resolve_run` with :func:`video_config` as the base."""
    base = config if config is not None else video_config(preset)
    return resolve_run(preset=preset, config=base, seed=seed, device=device, **overrides)


def frame_tensor(frame: np.ndarray, *, size: int | None, device: torch.device) -> torch.Tensor:
    """An incoming frame as the ``(1, 3, h, w)`` float32 tensor F in [0, 1].

    Integer frames are divided by their dtype's range (uint8: :math:`F = f / 255`), float
    frames are clipped to [0, 1]; no per-frame min-max stretch, which would flicker.  Grey
    frames are repeated to RGB, an alpha channel is dropped, and the longer side is resized
    to ``size`` (None keeps it).  The frame is never written to (a read-only one is shared).

    Raises
    ------
    TypeError
        ``frame`` is not a numpy array of a real dtype.
    ValueError
        Not ``H×W`` or ``H×W×{1,3,4}``, empty or not finite.
    """
    if not isinstance(frame, np.ndarray):
        raise InputTypeError(f"frames must be numpy arrays, got {type(frame).__name__}")
    if frame.ndim == 2:
        frame = frame[..., None]
    if frame.ndim != 3 or frame.shape[-1] not in (1, 3, 4):
        raise InputError(f"frames must be H×W or H×W×{{1,3,4}} arrays, got shape {frame.shape}")
    frame = frame[..., :3]
    if frame.dtype == np.uint8:  # the common case, made cheap: bytes travel, then scale
        tensor = shared_tensor(frame).to(device).float().div_(255.0)
    else:
        tensor = to_float_tensor(frame, device=device, name="frames")[0].float().clamp(0.0, 1.0)
    image = tensor.permute(2, 0, 1).unsqueeze(0).expand(1, 3, -1, -1)
    return resize_longer(image.contiguous(), size)


def video_step(engine: LearnedDiffusion, incoming: torch.Tensor, index: int) -> torch.Tensor:
    r"""Advance ``engine`` by incoming frame number ``index`` (the module's recurrence).

    :math:`S' = D_K(S)` (no gradient); unless ``index`` is a multiple of
    ``frame_blend_skip``, :math:`S' \leftarrow b\,S' + (1 - b)\,F`; then
    :meth:`~peronamalik.art.engine.LearnedDiffusion.step` diffuses :math:`S'` and trains K
    with F as the target.  F also becomes the engine's anchor for a refresh.  Returns the
    new state :math:`I_n`.
    """
    config = engine.config
    engine.original = incoming
    state = engine.advance(engine.image)
    skip = config.frame_blend_skip
    if skip == 0 or index % skip:
        state = config.frame_blend * state + (1.0 - config.frame_blend) * incoming
    engine.image = state
    return engine.step()


def stylized(frames: Iterable[np.ndarray], spec: RunSpec, callback: Callback | None = None) -> Iterator[np.ndarray]:
    """Run :func:`video_step` over ``frames`` lazily, yielding one uint8 frame per input
    frame; refreshes follow the config's schedule with the frame counter as the iteration.

    Only the current frame and the engine's state are held: memory does not grow with
    the number of frames.  ``callback(index, engine, refreshed)`` after each frame.  With
    ``config.grey_tint`` each grey frame gets its warm cast (:func:`tinted_if_grey`).
    """
    config, engine = spec.config, None
    for index, frame in enumerate(frames):
        incoming = tinted_if_grey(frame_tensor(frame, size=config.size, device=spec.device), config.grey_tint)
        if engine is None:
            engine = LearnedDiffusion(incoming, config, torch.Generator().manual_seed(spec.seed))
        elif incoming.shape != engine.image.shape:
            raise InputError(
                f"frames must all have one size: frame 0 gave {tuple(engine.image.shape[-2:])}, "
                f"frame {index} gives {tuple(incoming.shape[-2:])}"
            )
        video_step(engine, incoming, index)
        yield to_frame(engine.image)
        refreshed = engine.refresh_if_due(index)
        if callback is not None:
            callback(index, engine, refreshed)


def stylize_frames(
    frames: Iterable[np.ndarray],
    *,
    preset: str = VIDEO_PRESET,
    seed: int | None = None,
    device: str | torch.device | None = None,
    config: ArtConfig | None = None,
    callback: Callback | None = None,
    **overrides: Any,
) -> Iterator[np.ndarray]:
    r"""The "on drugs" video: one stylised frame per incoming frame, as they arrive.

    Each frame F is normalised to [0, 1] and advances the running state by the seed's
    live-video recurrence (see :mod:`peronamalik.art.video`): :math:`S' = D_K(S)`, blend
    :math:`b S' + (1 - b) F` except every ``frame_blend_skip``-th frame,
    :math:`I_n = D_K(S')` and one optimizer step on K for the weighted loss with F in the
    place of :math:`I_0`.  Frames are pulled from ``frames`` one at a time.

    Parameters
    ----------
    frames : iterable of numpy.ndarray
        ``H×W`` or ``H×W×{1,3,4}`` frames of one size (uint8, other integers, or floats
        in [0, 1]); a generator is consumed lazily.
    preset : str
        A name from :data:`~peronamalik.art.presets.PRESETS`; "video" is the seed's.
        Its ``size`` is dropped (frames keep their size) unless ``size`` is given.
    seed : int, optional
        Seeds the kernel noise; same seed, config, frames and device give identical
        frames on the CPU.  None draws one.
    device : str or torch.device, optional
        None: CUDA if available, else CPU.
    config : ArtConfig, optional
        Replaces the preset's config (used as it is, ``size`` included).
    callback : callable, optional
        ``callback(index, engine, refreshed)`` after each frame.
    **overrides
        Any :class:`~peronamalik.art.config.ArtConfig` field (``size``: longer side).

    Yields
    ------
    numpy.ndarray
        ``h×w×3`` uint8 frames, one per input frame, in order.

    Raises
    ------
    ValueError, TypeError
        Bad settings at the call; a bad frame when it is reached.

    Examples
    --------
    >>> import numpy as np
    >>> clip = (np.full((24, 32, 3), 40 * i, np.uint8) for i in range(3))
    >>> out = list(stylize_frames(clip, seed=0))
    >>> len(out), out[0].shape, out[0].dtype
    (3, (24, 32, 3), dtype('uint8'))
    """
    spec = resolve_video_run(preset=preset, config=config, seed=seed, device=device, **overrides)
    return stylized(frames, spec, callback)
