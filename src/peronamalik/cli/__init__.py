"""Command-line interface: ``peronamalik smooth | art | video | bench``.

Errors the user can fix (bad parameters, missing or corrupt files) end in one line on
stderr and exit code 2, with no traceback; set ``PERONAMALIK_DEBUG=1`` to see one.
"""

from __future__ import annotations

import os
import sys

from peronamalik._extras import require

click = require("click", "cli")  # first: a missing [cli] extra says so before any command loads
require("tqdm", "cli")

from peronamalik.cli import art, bench, smooth, video  # noqa: E402, F401  (register the commands)
from peronamalik.cli.app import app  # noqa: E402

USER_ERRORS = (ValueError, TypeError, OSError)


def fail(message: str) -> int:
    """Print one line on stderr; return the exit code for bad input."""
    first_line = " ".join(str(message).split())
    print(f"peronamalik: error: {first_line}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process's exit code."""
    try:
        result = app.main(args=argv, prog_name="peronamalik", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        return fail(exc.format_message())
    except click.exceptions.Abort:
        return fail("aborted")
    except USER_ERRORS as exc:
        if os.environ.get("PERONAMALIK_DEBUG"):
            raise
        return fail(str(exc))
    return result if isinstance(result, int) else 0


def entry_point() -> None:
    sys.exit(main())
