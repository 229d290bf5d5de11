"""Command-line interface: ``peronamalik smooth | art | video | bench``.

Errors the user can fix (bad parameters, missing or corrupt files: :class:`InputError`,
``OSError`` from the file system, an extra not installed) end in one line on stderr and exit code 2, with no
traceback; set ``PERONAMALIK_DEBUG=1`` to see one.  Any other exception is a bug in this
program and shows its traceback.
Warnings are one ``peronamalik: warning:`` line each.  Ctrl-C, SIGTERM and SIGHUP stop a
command the same way (partial results kept where the command promises it, temporaries
removed) and exit with 128 + the signal's number (130 for Ctrl-C).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from peronamalik._extras import MissingExtra, require

click = require("click", "cli")  # first: a missing [cli] extra says so before any command loads
require("tqdm", "cli")

from peronamalik._validate import InputError  # noqa: E402
from peronamalik.cli import art, bench, smooth, studio, video  # noqa: E402, F401  (register the commands)
from peronamalik.cli.app import app  # noqa: E402
from peronamalik.cli.progress import write_above  # noqa: E402
from peronamalik.io.interrupts import signal_number, signals_as_interrupts, stop_report  # noqa: E402

USER_ERRORS = (InputError, OSError, MissingExtra)


def fail(message: str) -> int:
    """Print one line on stderr; return the exit code for bad input."""
    first_line = " ".join(str(message).split())[:1000]
    print(f"peronamalik: error: {first_line}", file=sys.stderr)
    return 2


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show each warning (ours, torch's, a missing compiler) as one ``peronamalik: warning:``
    line above the progress bar: no file, line or source."""

    def show(message: Warning | str, *_args: object, **_kwargs: object) -> None:
        write_above(f"peronamalik: warning: {' '.join(str(message).split())}")

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


def interrupted(exc: BaseException) -> int:
    """A stop signal: one line saying what was kept (an animation's frames so far, else
    nothing); the exit code is 128 + the signal."""
    stop = stop_report(exc)
    print(f"peronamalik: {stop}" if stop else "peronamalik: interrupted; nothing was written", file=sys.stderr)
    return 128 + signal_number(exc)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process's exit code."""
    with signals_as_interrupts(), one_line_warnings():
        try:
            result = app.main(args=argv, prog_name="peronamalik", standalone_mode=False)
        except click.exceptions.UsageError as exc:
            return fail(exc.format_message())
        except (click.exceptions.Abort, KeyboardInterrupt) as exc:  # click raises Abort from Ctrl-C
            return interrupted(exc)
        except USER_ERRORS as exc:
            if os.environ.get("PERONAMALIK_DEBUG"):
                raise
            return fail(exc.need if isinstance(exc, MissingExtra) else str(exc))
    return result if isinstance(result, int) else 0


def entry_point() -> None:
    sys.exit(main())
