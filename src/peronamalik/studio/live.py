"""The page's webcam: frames the browser sends (JPEG) run through the live-video recurrence.

:class:`LiveVideo` feeds :func:`peronamalik.art.video.stylized` one decoded frame at a
time, so the studio's webcam output is exactly ``stylize_frames`` over the same frames
(preset "video", the session's seed).  Back-pressure lives in the server: one frame is
stylised at a time and, while it runs, only the newest frame that arrives is kept
(the others are dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from peronamalik.art.video import VIDEO_PRESET, resolve_video_run, stylized
from peronamalik.studio.session import encode_jpeg

#: The largest frame side the studio stylises (the page sends 320×240).
MAX_SIDE = 640


def decode_frame(data: bytes) -> np.ndarray:
    """A JPEG/PNG frame from the page as ``H×W×3`` uint8.

    Raises
    ------
    ValueError
        Not an image, or a side longer than :data:`MAX_SIDE`.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) > MAX_SIDE:
                raise ValueError(f"webcam frames must be at most {MAX_SIDE} px on a side, got {image.size[0]}×{image.size[1]}")
            return np.array(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"a webcam frame is not a readable JPEG or PNG: {exc}") from exc


class _Feed:
    """The endless iterator :func:`stylized` pulls from: always the frame just set."""

    def __init__(self) -> None:
        self.frame: np.ndarray | None = None

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> np.ndarray:
        assert self.frame is not None
        return self.frame


class LiveVideo:
    """The running recurrence of one page's webcam (not thread-safe: one :meth:`step` at a time).

    A frame of another size (the camera changed) starts the recurrence again.
    """

    def __init__(self, seed: int, device: str | None = None) -> None:
        self.spec = resolve_video_run(preset=VIDEO_PRESET, seed=seed, device=device)
        self._feed = _Feed()
        self._frames: Iterator[np.ndarray] | None = None
        self._shape: tuple[int, ...] | None = None
        self.index = -1

    def step(self, data: bytes) -> bytes:
        """Stylise one encoded frame: the JPEG of the recurrence's next output frame."""
        frame = decode_frame(data)
        if self._frames is None or frame.shape != self._shape:
            self._frames, self._shape, self.index = stylized(self._feed, self.spec), frame.shape, -1
        self._feed.frame = frame
        out = next(self._frames)
        self.index += 1
        return encode_jpeg(out)


Sender = Callable[[bytes | None, dict[str, Any]], Awaitable[None]]


class Webcam:
    """A page's webcam stream: frames in (:meth:`push`, from the event loop), stylised
    frames out through ``send(jpeg, meta)``; one frame is stylised at a time in a worker
    thread and a frame arriving meanwhile replaces the one waiting (counted in ``dropped``).

    ``meta`` is ``{"type": "webcam", "index": n, "dropped": d}``, with ``jpeg`` None and an
    ``"error"`` instead of an index for a frame that could not be read.
    """

    def __init__(self, seed: Callable[[], int], send: Sender, device: str | None = None) -> None:
        self.seed, self.send, self.device = seed, send, device
        self.live: LiveVideo | None = None
        self.dropped = 0
        self._waiting: bytes | None = None
        self._task: asyncio.Task[None] | None = None

    def push(self, data: bytes) -> None:
        if self._waiting is not None:
            self.dropped += 1
        self._waiting = data
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    def stop(self) -> None:
        """The page turned its camera off: the next frame starts a new recurrence."""
        self.live, self._waiting = None, None

    async def _drain(self) -> None:
        while self._waiting is not None:
            data, self._waiting = self._waiting, None
            if self.live is None:
                self.live = LiveVideo(self.seed(), self.device)
            live = self.live
            try:
                jpeg: bytes | None = await asyncio.to_thread(live.step, data)
                meta: dict[str, Any] = {"type": "webcam", "index": live.index, "dropped": self.dropped}
            except ValueError as exc:
                jpeg, meta = None, {"type": "webcam", "index": None, "dropped": self.dropped, "error": str(exc)}
            await self.send(jpeg, meta)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
