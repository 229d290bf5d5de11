"""The benchmark's vocabulary: settings, the shared inputs, cases, their registry, result rows."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

Job = Callable[[], Any]


# ------------------------------------------------------------------------ inputs -----


@dataclass
class Settings:
    size: int = 2048  #: side of the 2-D images
    iterations: int = 20
    repeat: int = 3
    kappa: float = 0.1
    seed: int = 0
    quick: bool = False
    memory: bool = True
    time_budget: float = 20.0  #: stop repeating a case after this many seconds of runs

    @property
    def volume_side(self) -> int:
        """Side of the 3-D volume with about as many voxels as the 2-D image has pixels."""
        return cube_side(self.size)


def cube_side(side: int) -> int:
    """Side of a cube with about as many voxels as a ``side``² image has pixels."""
    return max(4, round(side ** (2 / 3)))


class Inputs:
    """The shared inputs, made on first use (one set per table, a fresh one per memory run)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: dict[str, np.ndarray] = {}

    def _get(self, name: str, make: Callable[[np.random.Generator], np.ndarray]) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = make(np.random.default_rng(self.settings.seed))
        return self._cache[name]

    @property
    def gray(self) -> np.ndarray:
        """size² float32 in [0, 1]: smooth shapes, edges and noise (content does not change
        any path's cost, but the result should look like a picture being filtered)."""
        return self.picture(self.settings.size)

    def picture(self, n: int) -> np.ndarray:
        """The :attr:`gray` picture at n²."""

        def make(rng: np.random.Generator) -> np.ndarray:
            y, x = np.mgrid[0:n, 0:n].astype(np.float32) / n
            image = 0.5 + 0.25 * np.sin(12 * x) * np.cos(9 * y) + 0.2 * ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1)
            image += 0.05 * rng.standard_normal((n, n), dtype=np.float32)
            return np.clip(image, 0, 1).astype(np.float32)

        return self._get(f"gray {n}", make)

    @property
    def gray64(self) -> np.ndarray:
        """The :attr:`gray` picture in float64 (what ``img_as_float`` and most numpy code give)."""
        return self._get("gray64", lambda rng: self.gray.astype(np.float64))

    @property
    def volume(self) -> np.ndarray:
        n = self.settings.volume_side
        return self._get("volume", lambda rng: rng.random((n, n, n), dtype=np.float32))

    @property
    def rgb_u8(self) -> np.ndarray:
        n = self.settings.size
        return self._get("rgb_u8", lambda rng: rng.integers(0, 256, (n, n, 3), dtype=np.uint8))

    @property
    def rgb(self) -> np.ndarray:
        """The same picture as :attr:`rgb_u8`, as float32 in [0, 1]."""
        n = self.settings.size
        return self._get("rgb", lambda rng: rng.integers(0, 256, (n, n, 3), dtype=np.uint8).astype(np.float32) / 255)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._cache.values())


# ------------------------------------------------------------------------- cases -----


@dataclass
class Case:
    """One benchmark row: ``make(inputs)`` prepares and returns the job to time.

    ``pixels(settings)`` is the number of spatial pixels (voxels) one iteration covers and
    ``iterations(settings)`` the iterations one job runs (their product is the "Mpix·it" of
    a job); peak memory is divided by the bytes of the inputs ``make`` used.  ``peer`` is
    the name of the outside implementation (None for the project's own paths, and
    ``"reference"`` for the project's reference path, which other rows are compared with).
    ``requires``: modules that must import, else the row is skipped with a note.
    """

    name: str
    group: str
    make: Callable[[Inputs], Job]
    pixels: Callable[[Settings], int]
    peer: str | None = None
    note: str = ""
    requires: tuple[str, ...] = ()
    iterations: Callable[[Settings], int] = field(default=lambda s: s.iterations)
    quick: bool = True  #: also run in --quick mode
    device: str = "cpu"  #: "cuda": skipped without a GPU; peak memory is the GPU's


REGISTRY: dict[str, Case] = {}


def register(case: Case) -> Case:
    """Add (or replace) a case; rows print in registration order."""
    REGISTRY[case.name] = case
    return case


@contextlib.contextmanager
def fused_mode(value: str) -> Iterator[None]:
    """Run with a backend (``off``: reference, ``on``: native, ``compile``: compiled, ``auto``)."""
    from peronamalik.backends import backend
    from peronamalik.backends.policy import LEGACY

    with backend(LEGACY[value]):
        yield


def synchronized(out: Any) -> Any:
    """``out``, once the GPU has finished the work queued for it (a no-op on the CPU)."""
    if isinstance(out, torch.Tensor) and out.is_cuda:
        torch.cuda.synchronize(out.device)
    return out


@dataclass
class Result:
    name: str
    group: str
    peer: str | None
    note: str
    rate: float | None = None  #: Mpix·it/s (best run)
    seconds: float | None = None  #: best run
    runs: int = 0
    peak_bytes: int | None = None
    image_bytes: int | None = None
    skipped: str | None = None
    split: dict[str, float] | None = None
    ratios: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    first_seconds: float | None = None  #: the warm-up call (imports, kernel load or compile)
