"""The classic mode: the session's input before and after :func:`peronamalik.diffuse`,
as JPEGs small enough to update while a slider moves."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from peronamalik._validate import InputError
from peronamalik.art.source import load_source
from peronamalik.core import diffuse
from peronamalik.core.diffusivity import DIFFUSIVITIES
from peronamalik.io.images import read_image
from peronamalik.studio.guard import error
from peronamalik.studio.session import encode_jpeg

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

#: Longer side of the classic preview, pixels.
PREVIEW_SIZE = 512
MAX_ITERATIONS = 200


def check_input(path: Path) -> tuple[int, ...]:
    """Read an upload with the CLI's reader (its decompression-bomb guard included) and
    check it is a 2-D grey or colour image; returns its shape.  :class:`InputError` (a
    ValueError) otherwise."""
    loaded = read_image(path)
    if loaded.array.ndim == 3 and loaded.channel_axis is None:
        raise InputError(f"{path} is a volume, not a 2-D image")
    if loaded.array.ndim not in (2, 3) or min(loaded.array.shape[:2]) < 2:
        raise InputError(f"{path} is not a 2-D grey or colour image (shape {loaded.array.shape})")
    return loaded.array.shape


def preview_input(entry: Any) -> np.ndarray:
    """The session's input as ``H×W×3`` float32 in [0, 1], longer side ≤ PREVIEW_SIZE (cached)."""
    if entry.preview is None:
        source = load_source(entry.session.source, size=None, device=torch.device("cpu"))
        height, width = source.tensor.shape[-2:]
        if max(height, width) > PREVIEW_SIZE:
            source = load_source(entry.session.source, size=PREVIEW_SIZE, device=torch.device("cpu"))
        image = source.tensor[0]
        entry.preview = (image.expand(3, -1, -1) if image.shape[0] == 1 else image).permute(1, 2, 0).contiguous().numpy()
    return entry.preview


def forget(entry: Any) -> None:
    entry.preview = None


def smoothed(entry: Any, kappa: float, iterations: int, diffusivity: str) -> bytes:
    """JPEG of the input after ``iterations`` Perona-Malik steps (flux scheme, stable dt)."""
    result = diffuse(preview_input(entry), iterations=iterations, kappa=kappa, diffusivity=diffusivity,
                     channel_axis=-1, device="cpu")
    return encode_jpeg((np.clip(result, 0, 1) * 255 + 0.5).astype(np.uint8))


def parse(request: Request) -> tuple[float, int, str]:
    """kappa in (0, 10], iterations in [0, MAX_ITERATIONS], diffusivity exp/rational/tukey."""
    query = request.query_params
    try:
        kappa, iterations = float(query.get("kappa", "0.1")), int(query.get("iterations", "20"))
    except ValueError as exc:
        raise ValueError("kappa must be a number and iterations an integer") from exc
    diffusivity = query.get("diffusivity", "exp")
    if not 0 < kappa <= 10:
        raise ValueError(f"kappa must be in (0, 10], got {kappa}")
    if not 0 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be in [0, {MAX_ITERATIONS}], got {iterations}")
    if diffusivity not in DIFFUSIVITIES:
        raise ValueError(f"diffusivity must be one of {sorted(DIFFUSIVITIES)}, got {diffusivity!r}")
    return kappa, iterations, diffusivity


async def input_preview(studio: Any, request: Request) -> Response:
    """``GET /api/input?session=ID``: the input as the classic mode shows it."""
    return await _jpeg(studio, request, lambda entry: encode_jpeg((preview_input(entry) * 255 + 0.5).astype(np.uint8)))


async def smooth_preview(studio: Any, request: Request) -> Response:
    """``GET /api/smooth?session=ID&kappa=&iterations=&diffusivity=``: the smoothed input."""
    try:
        kappa, iterations, diffusivity = parse(request)
    except ValueError as exc:
        return error(str(exc), 400)
    return await _jpeg(studio, request, lambda entry: smoothed(entry, kappa, iterations, diffusivity))


async def _jpeg(studio: Any, request: Request, make: Any) -> Response:
    from starlette.responses import Response

    entry = studio.entry(request)
    if entry is None:
        return error("unknown or closed session: reload the page", 404)
    return Response(await asyncio.to_thread(make, entry), media_type="image/jpeg", headers={"Cache-Control": "no-store"})
