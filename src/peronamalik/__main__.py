"""``python -m peronamalik`` and the ``peronamalik`` script: load the command line, then run it.

A Ctrl-C while the command line is still loading (click, numpy: a fraction of a second)
ends like one during a command that had not started: one line, exit 130, nothing written.
"""

import sys


def main() -> None:
    try:
        from peronamalik.cli import entry_point
    except KeyboardInterrupt:
        print("peronamalik: interrupted; nothing was written", file=sys.stderr)
        raise SystemExit(130) from None
    entry_point()


if __name__ == "__main__":
    main()
