"""The classic mode: the session's input (a clip: its first frame) before and after
:func:`peronamalik.diffuse`, as JPEGs small enough to update while a slider moves."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from peronamalik._validate import InputError
from peronamalik.art.source import load_source
from peronamalik.core import diffuse, estimate_parameters
from peronamalik.core.diffusivity import DIFFUSIVITIES
from peronamalik.core.noise_level.blocks import least_part_side
from peronamalik.core.parameters import noise_line_in
from peronamalik.core.params import DiffusionParams
from peronamalik.io.images import read_image
from peronamalik.studio.guard import error, hide_path
from peronamalik.studio.session import encode_jpeg, still

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
    if loaded.array.ndim not in (2, 3):
        raise InputError(f"{path} is not a 2-D grey or colour image (shape {loaded.array.shape})")
    height, width = loaded.array.shape[:2]
    if min(height, width) < 2:
        raise InputError(f"{path} is too small: {width}×{height} pixels; the studio needs at least 2 on each side")
    return loaded.array.shape


def preview_input(entry: Any, source: str | Path, video: bool) -> np.ndarray:
    """``source`` (the session's input; ``video``: a clip, its first frame) as ``H×W×3``
    float32 in [0, 1], longer side ≤ PREVIEW_SIZE; cached on ``entry`` for that input."""
    cached = entry.preview
    if cached is not None and cached[0] == source:
        return cached[1]
    image = still(source, video)
    loaded = load_source(image, size=None, device=torch.device("cpu"))
    height, width = loaded.tensor.shape[-2:]
    if max(height, width) > PREVIEW_SIZE:
        loaded = load_source(image, size=PREVIEW_SIZE, device=torch.device("cpu"))
    image = loaded.tensor[0]
    array = (image.expand(3, -1, -1) if image.shape[0] == 1 else image).permute(1, 2, 0).contiguous().numpy()
    entry.preview = (source, array)
    return array


def smoothed(image: np.ndarray, params: DiffusionParams) -> bytes:
    """JPEG of ``image`` after ``params.iterations`` Perona-Malik steps (flux scheme, stable dt)."""
    result = diffuse(image, iterations=params.iterations, kappa=params.kappa, diffusivity=params.diffusivity,
                     channel_axis=-1, device="cpu")
    return encode_jpeg((np.clip(result, 0, 1) * 255 + 0.5).astype(np.uint8))


def chosen_for(image: np.ndarray, diffusivity: str, part: tuple[int, int, int, int] | None = None) -> dict[str, Any]:
    """The ``'auto'`` kappa and iterations that denoise ``image`` (the preview) as
    :func:`smoothed` diffuses it, and :meth:`~peronamalik.core.auto.AutoParameters.describe`'s
    line; a stopping time past :data:`MAX_ITERATIONS` (the slider's end) is held there, and
    kappa chosen again for it.  ``part``: ``(top, left, bottom, right)`` in the preview's
    pixels, where the noise is read (a smooth part, as ``smooth --noise-region``); an
    :class:`InputError` where it does not fit the preview or reads no noise."""
    options = dict(diffusivity=diffusivity, channel_axis=-1, device="cpu")
    noise, said = "auto", ""
    if part is not None:
        top, left, bottom, right = part
        height, width = image.shape[:2]
        if not (0 <= top and bottom <= height and 0 <= left and right <= width):
            raise InputError(f"part {top},{left},{bottom},{right} lies outside the picture ({width}×{height} pixels)")
        if min(bottom - top, right - left) < least_part_side(2):
            raise InputError(f"part {top},{left},{bottom},{right} is {max(right - left, 0)}×{max(bottom - top, 0)} "
                             f"pixels; the noise is read on {least_part_side(2)} or more each way")
        noise = noise_line_in(image[top:bottom, left:right], name="the part picked", **options)
        said = ", noise read in the part picked"
    chosen = estimate_parameters(image, noise=noise, **options)
    if chosen.iterations > MAX_ITERATIONS:
        chosen = estimate_parameters(image, iterations=MAX_ITERATIONS, noise=noise, **options)
    return {"kappa": chosen.kappa, "iterations": chosen.iterations, "description": chosen.describe() + said}


#: The query keys of ``/api/smooth`` (the page sends all four; any other is refused) and of
#: ``/api/auto``.
SMOOTH_KEYS = ("session", "kappa", "iterations", "diffusivity")
AUTO_KEYS = ("session", "diffusivity", "part")


def parse(request: Request) -> DiffusionParams:
    """The smoothing asked for, checked by :class:`DiffusionParams` (kappa in its
    :data:`~peronamalik.core.params.KAPPA_RANGE`), with iterations in [0, MAX_ITERATIONS]
    and diffusivity exp, rational or tukey.

    Raises
    ------
    ValueError
        A value that is not a number, or out of its range, named.
    """
    query = request.query_params
    kappa, iterations = number(query, "kappa", "0.1", float), number(query, "iterations", "20", int)
    diffusivity = diffusivity_of(request)
    if not 0 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be in [0, {MAX_ITERATIONS}], got {iterations}")
    return DiffusionParams(iterations=iterations, kappa=kappa, diffusivity=diffusivity, channel_axis=-1, device="cpu")


def diffusivity_of(request: Request) -> str:
    """The query's diffusivity (default exp): exp, rational or tukey, else ValueError."""
    diffusivity = request.query_params.get("diffusivity", "exp")
    if diffusivity not in DIFFUSIVITIES:  # not 'inv' nor a callable, which DiffusionParams also takes
        raise ValueError(f"diffusivity must be one of {sorted(DIFFUSIVITIES)}, got {diffusivity!r:.40}")
    return diffusivity


def part_of(request: Request) -> tuple[int, int, int, int] | None:
    """The query's ``part=top,left,bottom,right`` (pixels of the preview), or None."""
    raw = request.query_params.get("part")
    if raw is None:
        return None
    try:
        top, left, bottom, right = (int(value) for value in raw.split(","))
    except ValueError:
        raise ValueError(f"part must be top,left,bottom,right in pixels, got {raw[:40]!r}") from None
    return top, left, bottom, right


def number(query: Any, key: str, default: str, kind: type) -> Any:
    """The query's ``key`` read as ``kind`` (float or int); ValueError naming it otherwise."""
    raw = query.get(key, default)
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{key} must be {'a number' if kind is float else 'an integer'}, got {raw[:40]!r}") from None


async def input_preview(studio: Any, request: Request) -> Response:
    """``GET /api/input?session=ID``: the input as the classic mode shows it."""
    return await _jpeg(studio, request, lambda image: encode_jpeg((image * 255 + 0.5).astype(np.uint8)))


async def smooth_preview(studio: Any, request: Request) -> Response:
    """``GET /api/smooth?session=ID&kappa=&iterations=&diffusivity=``: the smoothed input."""
    try:
        params = parse(request)
    except ValueError as exc:
        return error(str(exc), 400)
    return await _jpeg(studio, request, lambda image: smoothed(image, params))


async def auto_choice(studio: Any, request: Request) -> Response:
    """``GET /api/auto?session=ID&diffusivity=[&part=top,left,bottom,right]``: JSON
    ``{kappa, iterations, description}``, the parameters that denoise the input as the classic
    mode shows it, for the noise read there or in ``part`` of it (:func:`chosen_for`)."""
    from starlette.responses import JSONResponse

    try:
        diffusivity, part = diffusivity_of(request), part_of(request)
    except ValueError as exc:
        return error(str(exc), 400)
    chosen = await _on_preview(studio, request, lambda image: chosen_for(image, diffusivity, part))
    if isinstance(chosen, JSONResponse):  # refused
        return chosen
    return JSONResponse(chosen, headers={"Cache-Control": "no-store"})


async def _jpeg(studio: Any, request: Request, make: Any) -> Response:
    """``make(input)``'s JPEG (see :func:`_on_preview`)."""
    from starlette.responses import Response

    jpeg = await _on_preview(studio, request, make)
    if isinstance(jpeg, Response):  # refused
        return jpeg
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


async def _on_preview(studio: Any, request: Request, make: Any) -> Any:
    """``make(input)`` on the session's input as the classic mode shows it, in a worker
    thread, or the error response: 404 for a session that is not open, 400 naming an
    :class:`InputError` (the input, or what ``make`` does with it, refused)."""
    entry = studio.entry(request)
    if entry is None:
        return error("unknown or closed session: reload the page", 404)
    with entry.hold() as source:  # an upload meanwhile leaves this input on disk until done
        video = entry.session.video  # the kind of this input (read with it: an upload may follow)
        try:
            return await asyncio.to_thread(lambda: make(preview_input(entry, source, video)))
        except InputError as exc:
            return error(hide_path(exc, source), 400)
