"""Zarr (v3) and OME-Zarr (NGFF 0.5 multiscales) volumes, read and written chunk by chunk.

An OME-Zarr input is read at level 0 with its spacing (the ``scale`` transform of the
``space`` axes) and channel axis; the output keeps that metadata, writes the result as
level 0 and regenerates the pyramid below it (2× mean per spatial axis per level, as many
levels as the input had).  Outputs are written into a hidden folder beside the target and
renamed into place (:mod:`peronamalik.io.atomic`).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from peronamalik._extras import require

da = require("dask.array", "dask")  # a missing [dask] extra says which one to install
zarr = require("zarr", "dask")

from peronamalik._validate import InputError  # noqa: E402
from peronamalik.io.atomic import atomic_output, check_target  # noqa: E402


@dataclass(frozen=True)
class ZarrImage:
    """Level 0 of a zarr array or OME-Zarr image, lazily, and what is known about its axes."""

    array: da.Array
    spacing: tuple[float, ...] | None  #: per spatial axis (OME ``scale``); None: unknown
    channel_axis: int | None  #: the OME ``channel`` axis
    multiscales: dict[str, Any] | None  #: the input's OME ``multiscales[0]``, None for a plain array


def is_zarr_path(path: str | os.PathLike[str]) -> bool:
    """A ``.zarr`` name (a folder in zarr's layout)."""
    return Path(path).suffix.lower() == ".zarr"


def _ome(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """``multiscales[0]`` of NGFF 0.5 (under ``ome``) or 0.4 (top level)."""
    scales = attrs.get("ome", {}).get("multiscales") or attrs.get("multiscales")
    return scales[0] if scales else None


def _scale(transforms: list[dict[str, Any]] | None, ndim: int) -> list[float]:
    scale = [1.0] * ndim
    for transform in transforms or []:
        if transform.get("type") == "scale":
            scale = [s * float(t) for s, t in zip(scale, transform["scale"])]
    return scale


def read_zarr(path: str | os.PathLike[str], chunks: int | None = None) -> ZarrImage:
    """Open a zarr array or an OME-Zarr image (level 0) at ``path`` without reading it.

    ``chunks`` (voxels per axis; the channel axis stays whole) rechunks the lazy array.
    Raises ValueError for a group that is not OME-Zarr, or OME axes other than space and
    channel (time is not diffused).
    """
    try:
        node = zarr.open(os.fspath(path), mode="r")
    except (FileNotFoundError, ValueError, zarr.errors.NodeTypeValidationError) as error:  # type: ignore[attr-defined]
        raise InputError(f"cannot read {path} as zarr: {error}") from None
    if isinstance(node, zarr.Array):
        array, spacing, axis, meta = da.from_zarr(node), None, None, None
    else:
        meta = _ome(dict(node.attrs))
        if meta is None:
            raise InputError(f"{path} is a zarr group without OME-Zarr multiscales metadata")
        array = da.from_zarr(node[meta["datasets"][0]["path"]])
        kinds = [axis_info.get("type", "space") for axis_info in meta.get("axes", [])] or ["space"] * array.ndim
        if len(kinds) != array.ndim or any(kind not in ("space", "channel") for kind in kinds):
            raise InputError(f"{path}: only space and channel axes can be smoothed, the image has {kinds}")
        scale = _scale(meta.get("coordinateTransformations"), array.ndim)
        level0 = _scale(meta["datasets"][0].get("coordinateTransformations"), array.ndim)
        spacing = tuple(a * b for a, b, kind in zip(scale, level0, kinds) if kind == "space")
        axis = kinds.index("channel") if "channel" in kinds else None
    if chunks is not None:
        array = array.rechunk(tuple(-1 if i == axis else chunks for i in range(array.ndim)))
    return ZarrImage(array, spacing, axis, copy.deepcopy(meta))


def _pyramid(level0: da.Array, meta: dict[str, Any], channel_axis: int | None) -> list[da.Array]:
    """Level 0 and 2×-mean reductions of it, one per dataset of ``meta``, in level 0's dtype
    (integer means rounded to the nearest)."""
    factors = {i: (1 if i == channel_axis else 2) for i in range(level0.ndim)}
    levels = [level0]
    for _ in meta["datasets"][1:]:
        previous = levels[-1]
        if any(n < 2 for i, n in enumerate(previous.shape) if factors[i] == 2):
            break
        mean = da.coarsen(np.mean, previous, factors, trim_excess=True)
        if level0.dtype.kind in "iu":  # an integer level: its means rounded, not truncated
            mean = da.rint(mean)
        levels.append(mean.astype(level0.dtype))
    return levels


def write_zarr(
    path: str | os.PathLike[str],
    array: da.Array,
    *,
    like: ZarrImage | None = None,
    overwrite: bool = False,
) -> None:
    """Write ``array`` to ``path`` (zarr v3), chunk by chunk, atomically.

    With ``like`` from an OME-Zarr input: an OME-Zarr image with ``like``'s axes and
    transforms, ``array`` as level 0 and the pyramid regenerated from it.  Otherwise a plain
    zarr array with ``array``'s chunks.  The computation runs on dask's current scheduler.
    """
    check_target(path, overwrite=overwrite, directory=True)
    with atomic_output(path, overwrite=overwrite, directory=True) as temp:
        if like is None or like.multiscales is None:
            array.to_zarr(os.fspath(temp), overwrite=True, zarr_format=3)
            return
        meta = copy.deepcopy(like.multiscales)
        levels = _pyramid(array, meta, like.channel_axis)
        meta["datasets"] = meta["datasets"][: len(levels)]
        group = zarr.open_group(os.fspath(temp), mode="w", zarr_format=3)
        targets = []
        scale = _scale(like.multiscales["datasets"][0].get("coordinateTransformations"), array.ndim)
        for k, (level, dataset) in enumerate(zip(levels, meta["datasets"])):
            # level k: level 0's scale times 2^k on the spatial axes
            shrink = [1 if i == like.channel_axis else 2**k for i in range(array.ndim)]
            dataset["coordinateTransformations"] = [
                {"type": "scale", "scale": [s * f for s, f in zip(scale, shrink)]}
            ]
            # regular chunks, one dask block per zarr chunk: no two writers share a chunk
            # (irregular blocks, e.g. merged for a halo, raced and lost a chunk's rows)
            chunks = tuple(max(c) for c in level.chunks)
            levels[k] = level.rechunk(chunks)
            targets.append(group.create_array(dataset["path"], shape=level.shape, chunks=chunks, dtype=level.dtype))
        group.attrs["ome"] = {"version": "0.5", "multiscales": [meta]}
        da.store(levels, targets, lock=False)


def write_ome_zarr(
    path: str | os.PathLike[str],
    array: np.ndarray | da.Array,
    *,
    spacing: tuple[float, ...] | None = None,
    channel_axis: int | None = None,
    levels: int = 3,
    chunks: int = 64,
    overwrite: bool = False,
) -> None:
    """Write a new OME-Zarr image (NGFF 0.5) of ``array`` with ``levels`` pyramid levels."""
    data = da.asarray(array)
    data = data.rechunk(tuple(-1 if i == channel_axis else chunks for i in range(data.ndim)))
    names = iter("zyx"[-(data.ndim - (channel_axis is not None)) :])
    axes = [
        {"name": "c", "type": "channel"} if i == channel_axis else {"name": next(names), "type": "space", "unit": "micrometer"}
        for i in range(data.ndim)
    ]
    spatial = iter(spacing or [1.0] * data.ndim)
    scale = [1.0 if i == channel_axis else float(next(spatial)) for i in range(data.ndim)]
    meta = {
        "axes": axes,
        "datasets": [{"path": str(k), "coordinateTransformations": [{"type": "scale", "scale": scale}]} for k in range(levels)],
        "name": Path(path).stem,
    }
    write_zarr(path, data, like=ZarrImage(data, tuple(scale), channel_axis, meta), overwrite=overwrite)


__all__ = ["ZarrImage", "is_zarr_path", "read_zarr", "write_ome_zarr", "write_zarr"]
