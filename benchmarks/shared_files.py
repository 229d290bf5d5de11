"""The files the benchmarks read from ``shared/`` (the seed's pictures, the look statistics):
``shared/`` beside the repository (as in CI), or ``$PERONAMALIK_SHARED``; and matplotlib's
sample pictures, the pictures from outside scikit-image and the seed."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

SHARED = Path(os.environ.get("PERONAMALIK_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
#: matplotlib's sample pictures, by name: a portrait photo and a piece of clip art.
MATPLOTLIB_SAMPLES = {"grace_hopper": "grace_hopper.jpg", "present": "Minduka_Present_Blue_Pack.png"}


def look_stats() -> ModuleType:
    """``shared/look/look_stats.py`` as a module."""
    spec = importlib.util.spec_from_file_location("look_stats", SHARED / "look" / "look_stats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def matplotlib_sample(name: str) -> np.ndarray:
    """One of :data:`MATPLOTLIB_SAMPLES` as uint8 RGB."""
    from matplotlib import cbook

    return np.asarray(Image.open(cbook.get_sample_data(MATPLOTLIB_SAMPLES[name])).convert("RGB"))
