"""GIF size against colour error and look, for ``--quality`` and the alternatives tried.

Renders the default ``peronamalik art`` job (bundled sample, default preset, seed 1, CPU) or
``--preset NAME``'s, keeps the undithered frames, and writes them as GIF in each way below.
Each row: the file's size (and its share of ``high``'s), the mean absolute colour error of
the decoded frames against the undithered ones (mean over frames, and the worst frame; in
0..255), the encoding time, and the p50 look figures of ``shared/look/look_stats.py`` (first
decoded frame as the source, as the script does by default).

    OMP_NUM_THREADS=1 python benchmarks/gif_size.py [--preset glow] [--sheet sheet.png]

``--sheet`` writes a contact sheet (three frames of each row, a 2× crop of the eyes) to
look at.  What the rows are:

* ``high`` / ``medium`` / ``low``: the shipped levels (:data:`GIF_QUALITIES`).
* ``Nc own``: N colours, every frame on a palette of its own (no reuse; pixels whose colour
  is unchanged are still transparent).
* ``medium dither``, ``low dither``: with Floyd-Steinberg dithering (``--dither``).
* ``shared``: one palette, the first frame's, for the whole GIF (reuse without limit); the
  first frame of an ``art`` run is the photo, so later frames drift from it.
* ``FFmpeg 256c``: the writer before this one, FFmpeg's GIF encoder through PyAV with a
  256-colour palette per frame.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageSequence

from peronamalik.art.animate import animate
from peronamalik.art.presets import DEFAULT_PRESET
from peronamalik.io.gif import GIF_QUALITIES, GifQuality, GifSink
from shared_files import look_stats

LOOK = ("luminance", "sparkles", "colour", "structure", "change")
ROWS: dict[str, tuple[GifQuality, bool]] = {
    **{name: (quality, False) for name, quality in GIF_QUALITIES.items()},
    **{f"{colours}c own": (GifQuality(colours, -math.inf), False) for colours in (255, 63, 47, 31, 15)},
    "medium dither": (GIF_QUALITIES["medium"], True),
    "low dither": (GIF_QUALITIES["low"], True),
    "shared": (GifQuality(255, math.inf), False),
}


def write_gif(frames: list[np.ndarray], path: Path, fps: Fraction, quality: GifQuality, dither: bool) -> None:
    sink = GifSink(path, dither, quality)
    for index, frame in enumerate(frames):
        sink.write(frame, index / fps, (index + 1) / fps)
    sink.finish()


def write_ffmpeg(frames: list[np.ndarray], path: Path, fps: Fraction) -> None:
    """The former writer: a 256-colour fast-octree palette per frame, FFmpeg's GIF encoder."""
    with av.open(str(path), "w", options={"loop": "0"}) as container:
        stream = container.add_stream("gif", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "pal8"
        for index, frame in enumerate(frames):
            quantized = Image.fromarray(frame).quantize(256, method=Image.Quantize.FASTOCTREE)
            palette = np.zeros((256, 4), np.uint8)
            palette[:, 0] = 255
            rgb = np.asarray(quantized.getpalette(), np.uint8).reshape(-1, 3)[:256]
            palette[: len(rgb), 1:] = rgb
            video_frame = av.VideoFrame.from_ndarray((np.asarray(quantized), palette), format="pal8")
            video_frame.pts, video_frame.time_base = index, 1 / fps
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))


def decode(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


def sheet(rows: dict[str, list[np.ndarray]], path: Path) -> None:
    picks, (x0, y0, x1, y1) = (1, len(next(iter(rows.values()))) // 2, -1), (60, 40, 220, 150)
    width, height = 2 * (x1 - x0), 2 * (y1 - y0)
    out = Image.new("RGB", (width * len(picks), (height + 14) * len(rows)), "white")
    draw = ImageDraw.Draw(out)
    for r, (name, frames) in enumerate(rows.items()):
        draw.text((2, r * (height + 14) + 1), name, fill="black")
        for c, pick in enumerate(picks):
            crop = Image.fromarray(frames[pick]).crop((x0, y0, x1, y1)).resize((width, height), Image.NEAREST)
            out.paste(crop, (c * width, r * (height + 14) + 14))
    out.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sheet", type=Path, help="write a contact sheet PNG here")
    args = parser.parse_args()
    stats = look_stats()
    frames = list(animate(None, preset=args.preset, seed=args.seed, device="cpu"))
    fps = Fraction(20)  # the presets' rate; the sizes do not depend on it
    height, width = frames[0].shape[:2]
    print(f"{args.preset}, seed {args.seed}: {len(frames)} frames, {width}×{height}; "
          f"undithered look p50: " + " ".join(f"{k} {v[1]:.3f}" for k, v in _look(stats, frames).items() if k in LOOK))
    print(f"\n| {'row':13} | {'kB':>6} | {'% high':>6} | {'error':>5} | {'worst':>5} | {'s':>4} | "
          + " | ".join(f"{k:>9}" for k in LOOK) + " |")
    print("| --- " + "| ---: " * (6 + len(LOOK)) + "|")
    decoded: dict[str, list[np.ndarray]] = {"undithered": frames}
    high_bytes = None
    with tempfile.TemporaryDirectory() as folder:
        for name in [*ROWS, "FFmpeg 256c"]:
            path = Path(folder) / "out.gif"
            start = time.perf_counter()
            if name in ROWS:
                write_gif(frames, path, fps, *ROWS[name])
            else:
                write_ffmpeg(frames, path, fps)
            seconds = time.perf_counter() - start
            size = path.stat().st_size
            high_bytes = high_bytes or size
            decoded[name] = decode(path)
            assert len(decoded[name]) == len(frames), name
            errors = [np.abs(d.astype(np.int16) - f).mean() for d, f in zip(decoded[name], frames)]
            figures = _look(stats, decoded[name])
            print(f"| {name:13} | {size / 1e3:6.0f} | {100 * size / high_bytes:6.0f} | {np.mean(errors):5.2f} | "
                  f"{max(errors):5.2f} | {seconds:4.1f} | " + " | ".join(f"{figures[k][1]:9.3f}" for k in LOOK) + " |",
                  flush=True)
    if args.sheet:
        sheet({k: v for k, v in decoded.items() if k in ("undithered", *GIF_QUALITIES, "low dither", "shared")},
              args.sheet)
        print(f"\nwrote {args.sheet}", file=sys.stderr)


def _look(stats, frames: list[np.ndarray]) -> dict[str, tuple[float, float, float]]:
    return stats.look([f.astype(np.float32) / 255 for f in frames])


if __name__ == "__main__":
    main()
