"""``python -m peronamalik.bench``: the same command as ``peronamalik bench``."""

import sys

from peronamalik.cli import main

raise SystemExit(main(["bench", *sys.argv[1:]]))
