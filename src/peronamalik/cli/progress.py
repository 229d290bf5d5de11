"""The command line's progress bar (tqdm) behind the library's ``progress(done, total)`` callback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

if TYPE_CHECKING:  # the core (and torch) load with the command, not with --help
    from peronamalik.core.progress import Progress


@contextmanager
def progress_bar(desc: str, unit: str, *, delay: float = 0.0) -> Iterator[Progress]:
    """A tqdm bar on stderr, drawn from the first report on (a call that fails its input
    checks prints none) and closed with the block; yields the callback that moves it.

    ``delay``: seconds before the bar appears (short runs print nothing).
    """
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
