"""Synthetic clips for the video tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def moving_shapes(count: int, *, width: int = 640, height: int = 360) -> Iterator[np.ndarray]:
    """A deterministic synthetic clip: a colour gradient with a disc and a square moving
    across it, ``count`` uint8 ``height×width×3`` frames."""
    rows, cols = np.mgrid[0:height, 0:width]
    background = np.stack(
        [cols * 200 // max(width - 1, 1), rows * 200 // max(height - 1, 1), np.full_like(rows, 90)], axis=-1
    ).astype(np.uint8)
    radius, side = max(2, min(width, height) // 6), max(2, min(width, height) // 5)
    for index in range(count):
        frame = background.copy()
        cx, cy = (index * 7) % width, height // 2 + round(height / 4 * np.sin(index / 5))
        frame[(cols - cx) ** 2 + (rows - cy) ** 2 <= radius**2] = (250, 240, 40)
        left, top = (width - 1 - index * 5) % width, (index * 3) % height
        frame[top : top + side, left : left + side] = (30, 60, 230)
        yield frame
