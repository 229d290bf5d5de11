"""GIF writing, frame by frame: a palette per frame (or the previous frame's), transparent
unchanged pixels and a box around the changed ones; Pillow's octree quantiser and LZW coder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np

from peronamalik._extras import require

Image = require("PIL.Image", "io")
GifImagePlugin = require("PIL.GifImagePlugin", "io")
ImageChops = require("PIL.ImageChops", "io")
ImageStat = require("PIL.ImageStat", "io")


@dataclass(frozen=True)
class GifQuality:
    """How a GIF's frames are turned into palette images.

    Attributes
    ----------
    colours : int
        Colours of a frame's palette (Pillow's fast octree), at most 255: one more index
        marks the pixels a frame leaves as they were.
    reuse : float
        A frame takes the previous frame's palette when its error with it (the mean of
        :math:`|q - f|` over pixels and channels, q the palette's colours and f the frame's,
        in 0..255) is at most ``reuse`` above its error with a palette of its own.  Under a
        shared palette a pixel that changes a little keeps its index, and every pixel whose
        colour is unchanged is written as transparent: long runs for the LZW coder.
    """

    colours: int
    reuse: float


#: ``--quality`` -> :class:`GifQuality` (``benchmarks/gif_size.py``).  The default ``art`` run
#: (ember, 40 frames, 320×213, seed 1): 1.44, 1.28, 0.62 MB (FFmpeg's 256-colour GIF before:
#: 1.92 MB); mean colour error against the undithered frames 2.1, 3.2, 6.9 / 255 (worst frame
#: 3.0, 4.6, 9.1).  glow (100 frames, smooth): 2.18, 1.22, 0.70 MB (FFmpeg's: 5.73 MB).  Fewer
#: colours cost little on textured looks (ember, kitty); on smooth, photo-like ones a small
#: patch of a distinct hue (a green iris) is merged into its surroundings at 63 colours, and
#: gradients show bands at 31.  A palette shared by all frames (the first's) was 23 / 255 off
#: on ember, whose first frame is the photo: a frame keeps an earlier palette only while it fits.
GIF_QUALITIES = {"high": GifQuality(255, 0.25), "medium": GifQuality(63, 0.5), "low": GifQuality(31, 1.0)}


class GifSink:
    """A looping GIF written frame by frame with Pillow's GIF encoder (``getheader``,
    ``getdata``).  Each frame is quantised to a palette of its own or the previous frame's
    (:class:`GifQuality`); pixels whose colour equals what is already shown are transparent,
    and a frame covers only the box of the pixels it changes (disposal 1: the rest stays).
    A frame's delay is its length in GIF's 1/100 s, :func:`ticks` of its end less those of
    its start.  Memory: the shown picture and the last palette image, whatever the number
    of frames."""

    def __init__(self, path: Path, dither: bool, quality: GifQuality) -> None:
        self.path, self.quality = path, quality
        self.dither = Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE
        self.file: BinaryIO | None = None
        self.palette: Image.Image | None = None  # the last frame's palette image
        self.shown: np.ndarray | None = None  # the picture after the last frame

    def _quantized(self, frame: np.ndarray) -> Image.Image:
        """The frame as a palette image, on a palette of its own or the previous frame's (each
        pixel takes the nearest colour, or Floyd-Steinberg's choice)."""
        image = Image.fromarray(frame)
        own = image.quantize(self.quality.colours, method=Image.Quantize.FASTOCTREE)
        best = image.quantize(palette=own, dither=self.dither)
        if self.palette is not None:
            reused = image.quantize(palette=self.palette, dither=self.dither)
            if frame_error(reused, image) <= frame_error(best, image) + self.quality.reuse:
                best = reused
        return best

    def write(self, frame: np.ndarray, start: Fraction, end: Fraction) -> None:
        """Add ``frame``, shown from ``start`` to ``end`` seconds."""
        quantized = self.palette = self._quantized(frame)
        colours = np.asarray(quantized.convert("RGBX")).view(np.uint32)[..., 0]  # one number per colour
        if self.shown is None:
            changed = np.ones(colours.shape, bool)
            self.shown = colours.copy()
        else:
            changed = colours != self.shown
            np.copyto(self.shown, colours, where=changed)
        rows, columns = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        top, left = (int(rows[0]), int(columns[0])) if rows.size else (0, 0)
        bottom, right = (int(rows[-1]) + 1, int(columns[-1]) + 1) if rows.size else (1, 1)
        indices, changed = np.asarray(quantized)[top:bottom, left:right], changed[top:bottom, left:right]
        clear = int(indices[changed].max()) + 1 if changed.any() else 0  # after the colours used: transparent
        part = Image.fromarray(np.where(changed, indices, np.uint8(clear)))
        part.putpalette(quantized.getpalette("RGB")[: 3 * clear] + [0, 0, 0])
        timing = {"duration": 10 * (ticks(end) - ticks(start)), "disposal": 1}
        if self.file is None:
            self.file = open(self.path, "wb")
            header, _ = GifImagePlugin.getheader(part, info={"loop": 0})
            self.file.write(b"".join([*header, *GifImagePlugin.getdata(part, (0, 0), **timing)]))
        else:
            self.file.write(b"".join(
                GifImagePlugin.getdata(part, (left, top), transparency=clear, include_color_table=True, **timing)
            ))

    def finish(self) -> None:
        self.file.write(b";")
        self.file.close()

    def abort(self) -> None:
        if self.file is not None:
            self.file.close()


def frame_error(quantized: Image.Image, image: Image.Image) -> float:
    """Mean absolute difference of a palette image's colours from ``image``'s, over pixels and
    channels, in 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(quantized.convert("RGB"), image)).mean) / 3


def ticks(seconds: Fraction) -> int:
    """A time in GIF's 1/100 s, rounded half up.  Delays taken as differences of these add
    up to the exact length (30 fps: 3, 3, 4, 3, 3, 4, ... hundredths)."""
    return math.floor(100 * seconds + Fraction(1, 2))
