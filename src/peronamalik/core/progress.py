"""Progress reports: long loops call ``progress(done, total)``; the caller draws (the CLI's bar).

The library never prints: :func:`peronamalik.diffuse`, :func:`peronamalik.render` and
:func:`peronamalik.render_video` take ``progress``, a callable or None, and call it with
the work done so far and the total (None where the total is unknown, e.g. a video whose
container does not say its frame count).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from peronamalik._validate import InputTypeError

#: ``progress(done, total)``: ``done`` steps (or frames) finished out of ``total``.
Progress = Callable[[int, int | None], None]
T = TypeVar("T")


def check_progress(progress: object) -> Progress | None:
    """``progress`` if it is callable or None, else a TypeError naming the parameter."""
    if progress is not None and not callable(progress):
        raise InputTypeError(f"progress must be None or a callable progress(done, total), got {type(progress).__name__}")
    return progress


def counted(items: Iterable[T], progress: Progress, total: int | None) -> Iterator[T]:
    """``items`` one by one, calling ``progress(n, total)`` once the n-th has been used."""
    for done, item in enumerate(items, 1):
        yield item
        progress(done, total)
