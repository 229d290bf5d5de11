"""The files the benchmarks read from ``shared/`` (the seed's pictures, the look statistics):
``shared/`` beside the repository (as in CI), or ``$PERONAMALIK_SHARED``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

SHARED = Path(os.environ.get("PERONAMALIK_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def look_stats() -> ModuleType:
    """``shared/look/look_stats.py`` as a module."""
    spec = importlib.util.spec_from_file_location("look_stats", SHARED / "look" / "look_stats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
