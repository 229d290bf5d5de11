"""Preset thumbnails: every photo preset rendered small from the current input.

A thumbnail is the frame after :data:`ITERATIONS` iterations of preset ``name`` (seed
:data:`SEED`) on the input (a clip: its first frame) resized to :data:`SIZE` pixels (longer side), the same
:func:`~peronamalik.art.animate.frames_from` run as ``peronamalik art`` with
``size``, ``iterations`` and ``every`` replaced, on the fused native step where it is
built.  They are made by one background thread, so a page never waits for them, and kept
in a bounded in-memory LRU cache keyed by the input's identity (path, size, mtime) and the
preset: each input is rendered once.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from threading import Lock

from peronamalik.art.animate import frames_from, resolve_run
from peronamalik.art.presets import PHOTO_PRESETS, preset_config
from peronamalik.art.source import SAMPLE_REF, load_source
from peronamalik.studio.session import encode_jpeg, still

SIZE = 96
ITERATIONS = 900
SEED = 0
CACHE_ENTRIES = 256

Key = tuple[str, int, int, str]


def thumbnail(source: str | Path, preset: str, device: str | None = None, *, video: bool = False) -> bytes:
    """The JPEG thumbnail of ``preset`` on ``source`` (``video``: a clip; see the module).

    Raises
    ------
    ValueError
        ``preset`` is not one of :data:`~peronamalik.art.presets.PHOTO_PRESETS`.
    """
    config = preset_config(preset, photo=True).replace(size=SIZE, iterations=ITERATIONS, every=ITERATIONS - 1)
    spec = resolve_run(preset=preset, config=config, seed=SEED, device=device)
    loaded = load_source(still(source, video), size=SIZE, device=spec.device)
    *_, last = frames_from(loaded, spec)
    return encode_jpeg(last)


def source_key(source: str | Path, preset: str) -> Key:
    """The cache key: the input's path, byte size and mtime (the sample: its reference)."""
    if str(source) == SAMPLE_REF:
        return (SAMPLE_REF, 0, 0, preset)
    stat = os.stat(source)
    return (str(source), stat.st_size, stat.st_mtime_ns, preset)


class Thumbnails:
    """One worker thread and a bounded cache of thumbnail futures (LRU, ``entries``)."""

    def __init__(self, device: str | None = None, entries: int = CACHE_ENTRIES) -> None:
        self.device, self.entries = device, entries
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="peronamalik-studio-thumbs")
        self._cache: OrderedDict[Key, Future[bytes]] = OrderedDict()
        self._lock = Lock()

    def request(self, source: str | Path, preset: str, *, video: bool = False) -> Future[bytes]:
        """The (possibly still running) thumbnail of ``preset`` on ``source`` (``video``: a clip)."""
        if preset not in PHOTO_PRESETS:
            raise ValueError(f"preset must be one of {sorted(PHOTO_PRESETS)}, got {preset!r}")
        key = source_key(source, preset)
        with self._lock:
            future = self._cache.get(key)
            if future is None or future.cancelled() or (future.done() and future.exception() is not None):
                future = self._pool.submit(thumbnail, source, preset, self.device, video=video)
                self._cache[key] = future
            self._cache.move_to_end(key)
            while len(self._cache) > self.entries:
                self._cache.popitem(last=False)
        return future
