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
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from peronamalik.art.animate import RunSpec, resolve_run, write_stream
from peronamalik.art.config import ArtConfig
from peronamalik.art.engine import Callback, LearnedDiffusion, to_frame
from peronamalik.art.presets import preset_config
from peronamalik.art.source import Source, file_sha256, resize_longer
from peronamalik.core.arrays import to_float_tensor
from peronamalik.core.progress import Progress, check_progress, counted

VIDEO_PRESET = "video"
WINDOW_TITLE = "peronamalik video (q or Esc to stop)"
_HASH_CHUNK = 1 << 20


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
    to ``size`` (None keeps it).

    Raises
    ------
    TypeError
        ``frame`` is not a numpy array of a real dtype.
    ValueError
        Not ``H×W`` or ``H×W×{1,3,4}``, empty or not finite.
    """
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frames must be numpy arrays, got {type(frame).__name__}")
    if frame.ndim == 2:
        frame = frame[..., None]
    if frame.ndim != 3 or frame.shape[-1] not in (1, 3, 4):
        raise ValueError(f"frames must be H×W or H×W×{{1,3,4}} arrays, got shape {frame.shape}")
    frame = frame[..., :3]
    if frame.dtype == np.uint8:  # the common case, made cheap: bytes travel, then scale
        tensor = torch.from_numpy(np.ascontiguousarray(frame)).to(device).float().div_(255.0)
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
    the number of frames.  ``callback(index, engine, refreshed)`` after each frame.
    """
    config, engine = spec.config, None
    for index, frame in enumerate(frames):
        incoming = frame_tensor(frame, size=config.size, device=spec.device)
        if engine is None:
            engine = LearnedDiffusion(incoming, config, torch.Generator().manual_seed(spec.seed))
        elif incoming.shape != engine.image.shape:
            raise ValueError(
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
    preset: str = VIDEO_PRESET,
    seed: int | None = None,
    device: str | torch.device | None = None,
    config: ArtConfig | None = None,
    fps: float | None = None,
    audio: bool = True,
    callback: Callback | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    **overrides: Any,
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
        Every input frame is written, in order, at the input's size (unless ``size``).
    fps : float, optional
        Frame rate of the output; None keeps the input's.  (The config's ``fps`` field is
        for the image mode; the sidecar records the rate written.)
    audio : bool
        Carry the input's audio track into .mp4/.mkv/.webm outputs.
    preset, seed, device, config, callback, **overrides
        As in :func:`stylize_frames`.
    overwrite : bool
        Replace an existing output.
    progress : callable, optional
        ``progress(done, total)`` after every frame; ``total`` is the container's frame
        count (None when it does not say).

    Returns
    -------
    pathlib.Path
        ``output``; the sidecar lies beside it (``out.mp4.json``) and records the config,
        seed, version and the input's SHA-256.

    Raises
    ------
    ValueError, TypeError
        Unreadable input, bad settings, unknown output kind, an existing output without
        ``overwrite`` (all before anything is written).
    RenderInterrupted
        Ctrl-C: ``output`` holds a valid file with the frames made so far.
    """
    from peronamalik.io.animation import check_output
    from peronamalik.io.video import probe, read_frames

    source = Path(input)
    check_output(output, overwrite=overwrite)
    progress = check_progress(progress)
    info = probe(source)
    spec = resolve_video_run(preset=preset, config=config, seed=seed, device=device, **overrides)
    spec = with_fps(spec, info.fps if fps is None else fps)
    record = input_record(str(source), file_sha256(source))
    frames = stylized(read_frames(source), spec, callback)
    if progress is not None:
        frames = counted(frames, progress, info.frame_count)
    return write_stream(frames, output, spec, record, audio_from=source if audio else None, overwrite=overwrite)


# --- webcam: a thin shell over the same stream --------------------------------------------


def _opencv() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise ValueError("--webcam needs OpenCV: pip install opencv-python") from exc
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:  # no "[ WARN ] can't open camera" lines on stderr
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    return cv2


def open_window(title: str = WINDOW_TITLE) -> str:
    """Open the OpenCV window the live result is shown in; returns its name.

    Raises
    ------
    ValueError
        "no display/GUI available": OpenCV without highgui (the ``-headless`` wheels), no
        ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux, or a window that cannot be opened.
    """
    cv2 = _opencv()
    gui = [line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    if gui and gui[0].upper() == "NONE":
        raise ValueError("no display/GUI available: this OpenCV is a headless build; pip install opencv-python")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ValueError("no display/GUI available: neither DISPLAY nor WAYLAND_DISPLAY is set")
    try:
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
    except cv2.error as exc:
        raise ValueError(f"no display/GUI available: {str(exc).strip().splitlines()[-1]}") from exc
    return title


def open_camera(index: int = 0) -> Any:
    """``cv2.VideoCapture(index)``, opened.

    Raises
    ------
    ValueError
        ``index`` is not a non-negative integer, or no camera answers at it.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"webcam must be a camera index >= 0, got {index!r}")
    cv2 = _opencv()
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"no camera available at index {index}")
    return capture


def camera_frames(capture: Any) -> Iterator[np.ndarray]:
    """RGB frames from an opened capture until it stops delivering."""
    cv2 = _opencv()
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def shown(frames: Iterable[np.ndarray], window: str) -> Iterator[np.ndarray]:
    """Show each frame in ``window`` and pass it on; stop at q, Esc or a closed window."""
    cv2 = _opencv()
    for frame in frames:
        cv2.imshow(window, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27) or cv2.getWindowProperty(window, cv2.WND_PROP_VISIBLE) < 1:
            return
        yield frame


def run_webcam(
    index: int = 0,
    output: str | os.PathLike[str] | None = None,
    *,
    preset: str = VIDEO_PRESET,
    seed: int | None = None,
    device: str | torch.device | None = None,
    config: ArtConfig | None = None,
    fps: float | None = None,
    overwrite: bool = False,
    **overrides: Any,
) -> Path | None:
    """Show :func:`stylize_frames` of camera ``index`` live, optionally recording ``output``.

    The same stream as :func:`render_video`, with an OpenCV camera as the source and a
    window as an extra sink; q, Esc or Ctrl-C stops (Ctrl-C while recording raises
    :class:`~peronamalik.art.animate.RenderInterrupted` with a valid partial file).  Every
    result is shown (the seed showed every second one).  ``fps`` defaults to the camera's (25 when
    it does not say).  Returns ``output`` (None when nothing is recorded).

    Raises
    ------
    ValueError
        No display/GUI, no camera, bad settings or output (checked before the camera opens).
    """
    from peronamalik.io.animation import check_output

    if output is not None:
        check_output(output, overwrite=overwrite)
    spec = resolve_video_run(preset=preset, config=config, seed=seed, device=device, **overrides)
    window, capture, cv2 = open_window(), None, _opencv()
    try:
        capture = open_camera(index)
        spec = with_fps(spec, fps or capture.get(cv2.CAP_PROP_FPS) or 25.0)
        frames = shown(stylized(camera_frames(capture), spec), window)
        if output is not None:
            return write_stream(frames, output, spec, input_record(f"webcam:{index}", None), total=None, overwrite=overwrite)
        try:
            for _ in frames:
                pass
        except KeyboardInterrupt:  # nothing to save: Ctrl-C is just another way to stop
            pass
        return None
    finally:
        if capture is not None:
            capture.release()
        cv2.destroyAllWindows()


# --- synthetic clips and the speed measurement ------------------------------------------


def moving_shapes(count: int, *, width: int = 640, height: int = 360) -> Iterator[np.ndarray]:
    """A deterministic synthetic clip: a colour gradient with a disc and a square moving
    across it, ``count`` uint8 ``height×width×3`` frames (for tests and benchmarks)."""
    rows, cols = np.mgrid[0:height, 0:width]
    background = np.stack(
        [cols * 200 // max(width - 1, 1), rows * 200 // max(height - 1, 1), np.full_like(rows, 90)], axis=-1
    ).astype(np.uint8)
    radius, side = max(2, min(width, height) // 6), max(2, min(width, height) // 5)
    for index in range(count):
        frame = background.copy()
        cx, cy = (index * 7) % width, height // 2 + round(height / 4 * np.sin(index / 5))
        frame[(cols - cx) ** 2 + (rows - cy) ** 2 <= radius**2] = (250, 240, 40)
        left, top = (width - 1 - index * 5) % width, (index * 3) % height
        frame[top : top + side, left : left + side] = (30, 60, 230)
        yield frame
