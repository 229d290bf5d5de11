"""Stopping signals (Ctrl-C, ``kill``, a closed terminal) as one exception, and the places
where they must wait.

* :func:`signals_as_interrupts` makes SIGTERM and SIGHUP raise :class:`Interrupted` (a
  ``KeyboardInterrupt``) the way SIGINT does, so every ``except KeyboardInterrupt`` and
  ``finally`` that keeps a partial result or removes a temporary runs for all three.
* :func:`deferred_signals` holds such a signal back while a frame is encoded or a file is
  completed: a signal that lands inside an encoder call would otherwise drop the packets the
  call returned (a gap in the stream, later frames decoded wrong) or leave half a PNG.  The
  signal is raised as soon as the block ends.

The exit status of a process stopped by signal ``n`` is ``128 + n`` (130 for Ctrl-C).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

#: The signals that stop a run: Ctrl-C, ``kill`` and a hang-up (terminal closed).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """A stop signal other than SIGINT, raised like Ctrl-C.

    Attributes
    ----------
    signum : int
        The signal's number; the process should exit with ``128 + signum``.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopReport(KeyboardInterrupt):
    """A stop signal that ended a run which kept something: its text says what."""


class BatchInterrupted(StopReport):
    """A stop signal during a batch: no file was started after it, the animations being made
    stopped as valid files marked interrupted (other files were finished), and the same
    command does the rest."""

    def __init__(self, written: int, partial: int, not_started: int, folder: Path) -> None:
        super().__init__(f"interrupted: {written} written into {folder}, {partial} stopped partway (valid, "
                         f"marked interrupted), {not_started} not started; the same command does the rest")
        self.written, self.partial, self.not_started = written, partial, not_started


class RenderInterrupted(StopReport):
    """A stop signal while an animation was written (``art``, ``video``, ``smooth --every``):
    ``path`` holds a valid file with ``frames`` frames, or does not exist (an existing file
    there is left as it was) when ``frames`` is 0; ``signum`` is the signal."""

    def __init__(self, path: Path, frames: int, signum: int = 2) -> None:
        what = f"wrote {frames} frames to {path}" if frames else f"before the first frame; {path} was not written"
        super().__init__(f"interrupted: {what}")
        self.path, self.frames, self.signum = path, frames, signum


def stop_report(exc: BaseException | None) -> StopReport | None:
    """The :class:`StopReport` (an interrupted render or batch) that ``exc`` is or was caused
    by, if any."""
    while exc is not None and not isinstance(exc, StopReport):
        exc = exc.__cause__ or exc.__context__
    return exc


def signal_number(exc: BaseException | None) -> int:
    """The signal behind ``exc`` or its causes: :class:`Interrupted`'s, else SIGINT (2)."""
    while exc is not None:
        if isinstance(exc, Interrupted):
            return exc.signum
        exc = exc.__cause__ or exc.__context__
    return int(signal.SIGINT)


#: The stop signal the main thread passed on to the threads making files (a batch on the
#: thread pool): Python delivers signals to the main thread only.
_passed_on: list[int] = []


@contextmanager
def stops_passed_on() -> Iterator[Callable[[int], None]]:
    """Within the block, the callback it yields passes a stop signal on to the other threads:
    their frame loops stop at the next frame (:func:`raise_if_stopped`) as the main thread's
    would.  Forgotten when the block ends."""
    try:
        yield _passed_on.append
    finally:
        _passed_on.clear()


def raise_if_stopped() -> None:
    """In a thread other than the main one, :class:`Interrupted` once the main thread passed a
    stop signal on (:func:`stops_passed_on`); nothing otherwise."""
    if _passed_on and threading.current_thread() is not threading.main_thread():
        raise Interrupted(_passed_on[0])


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread.

    Handlers set to ignore the signal (``nohup``) are left alone.  Outside the main thread
    this does nothing (Python delivers signals to the main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in STOP_SIGNALS:
        if signum != signal.SIGINT and signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, _raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold back the stop signals that have a Python handler until the block ends.

    A signal that arrives inside is recorded and, once the block is left (normally or by
    an exception), handed to the handler that was in place, which raises as usual.  Signals
    whose handler is the default action or "ignore" are not touched.  Outside the main
    thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    saved: dict[int, Callable[[int, FrameType | None], object]] = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):
            saved[signum] = handler
            signal.signal(signum, lambda number, _frame: pending.append(number))
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        if pending:
            saved[pending[0]](pending[0], None)
