"""The command line's progress reports behind the library's ``progress(done, total)`` callback:
a tqdm bar on a terminal, a plain line now and then in a log (stderr a file or a pipe), or
nothing with ``--quiet``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

if TYPE_CHECKING:  # the core (and torch) load with the command, not with --help
    from peronamalik.core.progress import Progress

LOG_SECONDS = 10.0  #: in a log, a line at least this often ...
LOG_STEPS = 10  #: ... and at every tenth of the work


def human_size(path: Path) -> str:
    """The size on disk of a written file, or of a folder's files (frames), as ``1.2 MB``,
    ``340 kB`` or ``12 B`` (powers of 1000)."""
    count = sum(f.stat().st_size for f in (sorted(path.iterdir()) if path.is_dir() else [path]))
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.{1 if count < 100 * scale else 0}f} {unit}"
    return f"{count} B"


class _LogLines:
    """``desc: done/total [elapsed]`` lines, no ``\\r`` redraws: one per tenth of the work and one
    after every :data:`LOG_SECONDS` without one (none in the first ``delay`` seconds)."""

    def __init__(self, desc: str, delay: float) -> None:
        self.desc, self.delay, self.start, self.last, self.step, self.done = desc, delay, time.monotonic(), 0.0, -1, 0

    def update(self, done: int, total: int | None) -> None:
        now, self.done, self.total = time.monotonic(), done, total
        step = done * LOG_STEPS // total if total else -1
        if now - self.start >= self.delay and (step != self.step or now - self.last >= LOG_SECONDS):
            self.step, self.last = step, now
            self.line()

    def line(self) -> None:
        of = f"/{self.total}" if self.total else ""
        print(f"{self.desc}: {self.done}{of} [{time.monotonic() - self.start:.0f} s]", file=sys.stderr, flush=True)


@contextmanager
def progress_bar(desc: str, unit: str, *, delay: float = 0.0, quiet: bool = False) -> Iterator[Progress | None]:
    """A tqdm bar on stderr when it is a terminal (else :class:`_LogLines`; ``quiet``: none),
    drawn from the first report on (a call that fails its input checks prints none) and
    closed with the block; yields the callback that moves it.

    ``delay``: seconds before the bar appears (short runs print nothing).
    """
    if quiet:
        yield None
        return
    if not sys.stderr.isatty():
        log = _LogLines(desc, delay)
        yield log.update
        return
    bars: list[tqdm] = []

    def update(done: int, total: int | None) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc=desc, unit=unit, delay=delay, dynamic_ncols=True, file=sys.stderr))
        bar = bars[0]
        if total != bar.total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


def write_above(text: str) -> None:
    """Print a line on stderr above a running bar."""
    tqdm.write(text, file=sys.stderr)
