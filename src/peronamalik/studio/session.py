"""One studio session: the learned diffusion running in its own thread, handing frames over.

The worker thread runs :func:`peronamalik.art.animate.frames_from`, the generator
``peronamalik art`` renders from, so with no live edits the preview shows exactly the
frames of the downloaded file.  Back-pressure: the worker holds at most one finished frame
(JPEG-encoded) and waits until the sender has taken it, so the engine never computes frames
nobody is receiving and nothing queues up.

Between the file's frames (one per ``every`` iterations) the worker also offers *preview*
frames of the current state, at most ``preview_fps`` a second and only when the slot is
empty (the page has taken the last one): the animation on screen is smooth while the
engine's computation, and so the file, stays exactly that of ``render``.  A file frame
replaces an untaken preview frame.

A video clip as the input runs the live-video recurrence over its frames instead
(:func:`peronamalik.art.video.stylized`, one output frame per input frame, the clip looping
with the recurrence going on), at :data:`VIDEO_SIZE` pixels unless the config sets a size;
every output frame is shown (no previews).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import threading
import time
from collections.abc import Iterator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from peronamalik.art.animate import RunSpec, frames_from, resolve_run
from peronamalik.art.config import ArtConfig
from peronamalik.art.engine import LearnedDiffusion
from peronamalik.art.presets import DEFAULT_PRESET, preset_config
from peronamalik.art.source import SAMPLE_REF, Source, load_source
from peronamalik.art.video import stylized
from peronamalik.io.video import read_frames
from peronamalik.io.images import Image
from peronamalik.studio.controls import needs_restart

JPEG_QUALITY = 85
PREVIEW_FPS = 30.0
#: The longer side of a clip's frames when the config keeps the input's size (``size=None``).
VIDEO_SIZE = 320


def encode_jpeg(frame: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """``H×W×3`` uint8 → JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@dataclass(frozen=True)
class Frame:
    """A finished frame: its run (counting restarts), its index in the run (a preview
    frame: the index of the file frame before it), the engine iteration after which it was
    taken, the raw pixels, their JPEG and whether it is a preview frame (not in the file)."""

    run: int
    index: int
    iteration: int
    pixels: np.ndarray
    jpeg: bytes
    preview: bool = False


class _Restart(Exception):
    """Raised inside the generator's callback to abandon the current run."""


class Session:
    """The state of one page: input, preset, seed, config and the worker running them.

    Parameters
    ----------
    notify : callable
        Called (from the worker thread) whenever a new frame is ready to :meth:`take`.
    source : str or Path
        ``"sample:chelsea"`` or the path of an uploaded image.
    config : ArtConfig or None
        The run's config; None: the preset's.
    preview_fps : float or None
        The most preview frames a second between file frames; None: file frames only.
    """

    def __init__(self, notify: Callable[[], None], source: str | Path = SAMPLE_REF, *,
                 preset: str = DEFAULT_PRESET, config: ArtConfig | None = None, seed: int = 0, device: str | None = None,
                 preview_fps: float | None = PREVIEW_FPS) -> None:
        self.notify = notify
        self._preview_gap = None if preview_fps is None else 1.0 / preview_fps
        self._shown = 0.0  # time.monotonic() of the last frame put in the slot
        self._index = 0  # the index of the last file frame
        self.source, self.preset, self.seed, self.device = source, preset, seed, device
        self.video = False  # the source is a clip (set_source)
        self._streaming = False  # the current run is a clip's: no previews
        self.config: ArtConfig = preset_config(preset) if config is None else config
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._paused = False
        self._steps = 0
        self._restart = True
        self.run = 0
        self._live: ArtConfig | None = None
        self._stopped = False
        self.error: str | None = None
        self.frames_made = 0
        self._thread = threading.Thread(target=self._run, name="peronamalik-studio-session", daemon=True)
        self._thread.start()

    # ---- called from the event loop -------------------------------------------------------

    def spec(self) -> RunSpec:
        """The run as ``peronamalik art`` (a clip: ``peronamalik video``) would render it now
        (current config and seed)."""
        config = self.config
        if self.video and config.size is None:
            config = config.replace(size=VIDEO_SIZE)
        return resolve_run(preset=self.preset, config=config, seed=self.seed, device=self.device)

    def configure(self, preset: str, config: ArtConfig, seed: int | None = None) -> bool:
        """Switch to ``config``: live from the next iteration where every changed field allows
        it, else a restart; a new ``seed`` or preset name always restarts.  Returns whether
        it restarts."""
        with self._cond:
            restart = needs_restart(self.config, config) or (seed is not None and seed != self.seed)
            self.preset, self.config = preset, config
            if seed is not None:
                self.seed = seed
            if restart:
                self._begin_again()
            else:
                self._live = config
            self._cond.notify_all()
        return restart

    def set_source(self, source: str | Path, *, video: bool = False) -> None:
        """A new input (``video``: a clip): restart on it."""
        with self._cond:
            self.source, self.video = source, video
            self._begin_again()

    def restart(self, seed: int | None = None) -> None:
        """Start the run again from iteration 0 (with ``seed`` if given)."""
        with self._cond:
            if seed is not None:
                self.seed = seed
            self._begin_again()

    def _begin_again(self) -> None:
        """(Holding the lock.) Abandon the run and its unsent frame.  A run makes its first
        frame even while paused, so a restart always shows."""
        self._restart, self._slot = True, None
        self.run += 1
        self._cond.notify_all()

    def pause(self, paused: bool) -> None:
        with self._cond:
            self._paused, self._steps = paused, 0
            self._cond.notify_all()

    def step(self) -> None:
        """While paused: make one more frame."""
        with self._cond:
            self._steps += 1
            self._cond.notify_all()

    def take(self) -> Frame | None:
        """The finished frame, if any; the worker then makes the next one."""
        with self._cond:
            frame, self._slot = self._slot, None
            self._cond.notify_all()
        return frame

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=10)

    @property
    def paused(self) -> bool:
        return self._paused

    # ---- the worker thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopped or self._slot is None)
                    if self._stopped:
                        return
                    self._restart, self._live = False, None
                    spec, source, run, self._streaming = self.spec(), self.source, self.run, self.video
                try:
                    self._play(spec, source, run)
                except _Restart:
                    continue
                except Exception:
                    with self._cond:  # a run abandoned meanwhile (its upload replaced and deleted): not an error
                        abandoned = self._restart or self._stopped
                    if abandoned:
                        continue
                    raise
                with self._cond:  # the run ended: play it again from the start
                    self._begin_again()
        except Exception as error:  # noqa: BLE001 - shown on the page; the session stays open
            self.error = f"{type(error).__name__}: {error}"
            self.notify()

    def _await_turn(self) -> bool:
        """Wait until the last frame was taken and the run may go on (while paused: a step
        was asked for); False when the run is to end (restart or close)."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopped or self._restart or (
                self._slot is None and (not self._paused or self._steps > 0)))
            if self._stopped or self._restart:
                return False
            if self._paused:
                self._steps -= 1
            return True

    def _play(self, spec: RunSpec, reference: str | Path, run: int) -> None:
        if self._streaming:
            frames, every = stylized(looped(reference), spec, self._between_iterations), 1
        else:
            loaded = sample(spec.config.size, spec.device) if reference == SAMPLE_REF else load_source(
                reference, size=spec.config.size, device=spec.device)
            frames, every = frames_from(loaded, spec, self._between_iterations), spec.config.every
        for index, pixels in enumerate(frames):
            iteration = index * every
            frame = Frame(run, index, iteration, pixels, encode_jpeg(pixels))
            with self._cond:
                if self._restart:
                    raise _Restart
                self._slot, self._shown, self._index = frame, time.monotonic(), index
                self.frames_made += 1
            self.notify()
            if not self._await_turn():
                raise _Restart

    def _between_iterations(self, iteration: int, engine: LearnedDiffusion, refreshed: bool) -> None:
        """The generator's callback: a restart abandons the run; a live config is swapped
        in; a preview frame is offered when one is due."""
        if self._restart or self._stopped:
            raise _Restart
        live = self._live
        if live is not None:
            with self._cond:
                self._live = None
            apply_live(engine, live)
        if (self._preview_gap is not None and not self._streaming and iteration % engine.config.every and not self._paused
                and self._slot is None and time.monotonic() - self._shown >= self._preview_gap):
            self._offer_preview(iteration, engine)

    def _offer_preview(self, iteration: int, engine: LearnedDiffusion) -> None:
        pixels = engine.frame()
        frame = Frame(self.run, self._index, iteration, pixels, encode_jpeg(pixels), preview=True)
        with self._cond:
            if self._restart or self._slot is not None or self._paused:
                return
            self._slot, self._shown = frame, time.monotonic()
        self.notify()


def sample(size: int | None, device: torch.device) -> Source:
    """The bundled sample loaded at ``size`` (:func:`load_source`), decoded and resized once
    per process (a new session's first frame does not wait for it); each call gets its own
    copy of the tensor."""
    loaded = _sample(size, device)
    return dataclasses.replace(loaded, tensor=loaded.tensor.clone())


@functools.lru_cache(maxsize=4)
def _sample(size: int | None, device: torch.device) -> Source:
    return load_source(SAMPLE_REF, size=size, device=device)


def looped(path: str | Path) -> Iterator[np.ndarray]:
    """The clip's frames, decoded one at a time, over and over.

    Raises
    ------
    ValueError
        The clip holds no frame.
    """
    while True:
        count = 0
        for count, frame in enumerate(read_frames(path), 1):
            yield frame
        if count == 0:
            raise ValueError("the clip holds no frame")


def still(source: str | Path, video: bool) -> str | Path | np.ndarray:
    """What a still of the input (thumbnails, the classic mode) is made from: a clip's first
    frame, read as the live run reads it (:func:`looped`), else the input itself."""
    return next(looped(source)) if video else source


def warm_up(device: str | None = None) -> None:
    """Pay the one-time costs of a process's first run before a page asks for one: the
    native step loads its library (compiles it, on a machine without it cached) and the
    sample is read.  One iteration of the default preset on a 16-pixel image, and the sample
    loaded at the default preset's size."""
    spec = resolve_run(preset=DEFAULT_PRESET, config=preset_config(DEFAULT_PRESET).replace(iterations=1, size=16),
                       seed=0, device=device)
    ramp = np.linspace(0, 255, 16 * 16 * 3).astype(np.uint8).reshape(16, 16, 3)
    next(frames_from(load_source(ramp, size=16, device=spec.device), spec))
    sample(preset_config(DEFAULT_PRESET).size, spec.device)


def apply_live(engine: LearnedDiffusion, config: ArtConfig) -> None:
    """Give a running engine a config that differs only in live fields (see
    :data:`peronamalik.studio.controls.LIVE_FIELDS`): the step reads kappa, dt, the weights
    and the refresh settings from ``engine.config``; the optimizer's settings are set on it,
    keeping the refreshes' lr decay so far."""
    old = engine.config
    if config.lr != old.lr:
        engine.lr = config.lr * (engine.lr / old.lr) if old.lr else config.lr
    engine.use_config(config)
    for group in engine.optimizer.param_groups:
        group["lr"] = engine.lr
        group["weight_decay"] = config.weight_decay
        if "momentum" in group:
            group["momentum"] = config.momentum
