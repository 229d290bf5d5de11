"""Perona-Malik diffusion of arrays bigger than memory, exact, on Dask: :func:`diffuse`.

The iterations run in *passes*; each pass is one :func:`dask.array.map_overlap` whose halo
covers the pixels the steps of that pass can reach, with ``boundary="none"`` so the zero-flux
condition holds only at the array's true border.  Every block runs the in-memory
:func:`peronamalik.diffuse` (the fused C kernel where it applies) with the kappa and dt of
the whole array, so the result equals the in-memory one.

This module is ``peronamalik.dask``; ``import dask`` below is the real package (absolute
imports).
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from peronamalik._extras import require

require("dask.array", "dask")  # first: a missing [dask] extra says which one to install
require("zarr", "dask")

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import dask.system  # noqa: E402
import zarr  # noqa: E402
from dask.array.overlap import ensure_minimum_chunksize  # noqa: E402

from peronamalik._validate import InputError, integer  # noqa: E402
from peronamalik.core import diffuse as diffuse_in_memory  # noqa: E402
from peronamalik.core import estimate_parameters, stable_dt  # noqa: E402
from peronamalik.core.arrays import float_dtype  # noqa: E402
from peronamalik.core.layout import check_coupled, normalize_channel_axis, normalize_spacing, to_internal_layout  # noqa: E402
from peronamalik.core.params import DiffusionOptions, DiffusionParams  # noqa: E402

if TYPE_CHECKING:  # annotations only: typing.Unpack is Python 3.11+, the package runs on 3.10
    from typing import Unpack

#: Fixed cost of one task of a pass (dispatch, one halo piece sliced and moved), in
#: voxel-steps of the kernel (one thread); see :func:`pass_time`.
BLOCK_COST = 1e6
#: Cost per voxel of one pass (the block concatenated with its halo, the kernel's fresh
#: output and scratch buffers), in steps of the kernel; see :func:`pass_time`.  Fresh memory
#: is what costs: a first-touched page takes ~10 µs on the VM measured, so copying a 295 MB
#: block costs as much as 9 steps.  Measured on 512³ in 2 slabs, threaded scheduler and a
#: 2-worker LocalCluster, idle machine (benchmarks/README.md): 8 to 19.
COPY_COST = 8.0


def as_dask_array(array: Any) -> da.Array:
    """A dask array from a dask array, a zarr array, a path to a zarr array, or a numpy array."""
    if isinstance(array, da.Array):
        return array
    if isinstance(array, (str, os.PathLike)):
        return da.from_zarr(os.fspath(array))
    if type(array).__module__.startswith("zarr"):
        return da.from_zarr(array)
    if isinstance(array, np.ndarray):
        return da.from_array(array)
    raise TypeError(
        f"array must be a dask array, a zarr array, a path to a zarr array or a numpy array, got {type(array).__name__}"
    )


def step_reach(scheme: str, spacing: Sequence[float], sigma: float) -> tuple[int, ...]:
    """Pixels per spatial axis that one step can carry information (and border errors) over.

    One for the 3×3 (or 2·ndim, or 3^ndim) stencils of "flux", "flux8", "seed" and
    "gradient"; with ``sigma > 0`` the Gaussian guide adds its radius ``ceil(4·sigma/h)`` (at
    least 1), as
    :func:`peronamalik.core.smoothing.gaussian_kernel1d` cuts it.
    """
    if sigma <= 0:
        return (1,) * len(spacing)
    return tuple(1 + max(1, math.ceil(4.0 * sigma / h)) for h in spacing)


def pass_time(iterations: int, steps: int, reach: Sequence[int], chunks: Sequence[Sequence[int]],
              blocks: int, workers: int) -> float:
    r"""Modelled time of ``iterations`` steps in passes of ``steps``, in voxel-steps of one worker.

    .. math:: T = \frac{\lceil B/W \rceil}{B} \Big(\lceil I/L \rceil (3^m B\,c_b + V c_v)
              + I\,V \prod_i \Big(1 + \frac{2 L d_i (k_i - 1)}{n_i}\Big)\Big)

    with ``I`` iterations, ``L`` steps per pass, ``B`` blocks of ``V`` voxels in all run by
    ``W`` workers in ``⌈B/W⌉`` rounds, ``c_b`` = :data:`BLOCK_COST` per task and pass (a
    block split along ``m`` spatial axes gathers ``3^m`` pieces: itself and its neighbours),
    ``c_v`` = :data:`COPY_COST` per voxel and pass, ``d_i`` the reach of one step and ``k_i``
    chunks summing to ``n_i`` pixels along spatial axis ``i`` (``chunks[i]``); the product is
    the recomputed halo's share (each of the ``k_i - 1`` inner chunk borders is computed twice
    over ``L·d_i`` pixels on each side).
    """
    volume = math.prod(sum(c) for c in chunks)
    halo = math.prod(1 + 2 * steps * d * (len(c) - 1) / sum(c) for d, c in zip(reach, chunks))
    tasks = blocks * 3 ** sum(len(c) > 1 for c in chunks)
    work = math.ceil(iterations / steps) * (tasks * BLOCK_COST + volume * COPY_COST) + iterations * volume * halo
    return work * math.ceil(blocks / workers) / blocks


def pass_length(iterations: int, reach: Sequence[int], chunks: Sequence[Sequence[int]],
                blocks: int | None = None, workers: int = 1) -> int:
    """Steps per pass: the ``L`` that minimises :func:`pass_time`, then balanced
    (``L = ceil(I / passes)``).  ``L·d_i`` never exceeds the largest chunk of a split axis (a
    halo comes from the neighbouring chunk only; :func:`diffuse` merges thinner chunks into
    their neighbours).  ``blocks``: default the product of the chunk counts."""
    if iterations == 0:
        return 0
    blocks = blocks or math.prod(len(c) for c in chunks)
    longest = min([iterations] + [max(c) // d for d, c in zip(reach, chunks) if len(c) > 1])
    best = min(range(1, max(1, longest) + 1),
               key=lambda steps: pass_time(iterations, steps, reach, chunks, blocks, workers))  # fmt: skip
    return math.ceil(iterations / math.ceil(iterations / best))


def parallel_tasks() -> int:
    """Tasks that will run at once: the threads of the workers of the current
    ``distributed`` client if there is one, else dask's ``num_workers`` setting, else the
    threaded scheduler's pool (one thread per core)."""
    if "distributed" in sys.modules:
        import distributed

        try:
            return max(1, sum(distributed.get_client().nthreads().values()))
        except ValueError:  # no client
            pass
    return int(dask.config.get("num_workers", None) or dask.system.CPU_COUNT)


def slab_chunks(shape: Sequence[int], chunks: Sequence[Sequence[int]], axis: int, workers: int) -> tuple[tuple[int, ...], ...] | None:
    """Slabs along ``axis``, every other axis whole: ``workers`` slabs, or more (a multiple of
    ``workers``) so that none holds more voxels than the largest block of ``chunks``; None when
    even a one-pixel slab would."""
    budget = math.prod(max(c) for c in chunks)
    plane = math.prod(n for i, n in enumerate(shape) if i != axis)
    if plane > budget:
        return None
    fewest = math.ceil(shape[axis] / (budget // plane))
    count = min(shape[axis], max(workers, math.ceil(fewest / workers) * workers))
    size, extra = divmod(shape[axis], count)
    slabs = tuple(size + (i < extra) for i in range(count))
    return tuple(slabs if i == axis else (n,) for i, n in enumerate(shape))


def _merge_thin(shape: Sequence[int], chunks: Sequence[Sequence[int]], reach: dict[int, int], steps: int) -> tuple[tuple[int, ...], ...]:
    """``chunks`` with those thinner than a pass's halo (``steps·d_i``) merged into their
    neighbours: a halo comes from the neighbouring chunk only."""
    merged = []
    for i, c in enumerate(chunks):
        halo = steps * reach.get(i, 0)
        if len(c) > 1 and min(c) < halo:
            c = (shape[i],) if halo >= shape[i] else ensure_minimum_chunksize(halo, c)
        merged.append(tuple(c))
    return tuple(merged)


def pass_plan(shape: Sequence[int], chunks: Sequence[Sequence[int]], reach: dict[int, int], iterations: int,
              steps_per_pass: int | None = None, workers: int = 1) -> tuple[tuple[tuple[int, ...], ...], int]:
    """The chunks the passes run on and the steps per pass, for ``iterations`` >= 1 steps.

    Two layouts are weighed by :func:`pass_time` at their :func:`pass_length` (or at
    ``steps_per_pass``): ``chunks`` as given, and :func:`slab_chunks` along the first spatial
    axis (the halo then crosses ``workers - 1`` borders of whole planes only, not every face
    of every block), plus one copy of the volume for rechunking slabs back to ``chunks``.
    ``reach``: one step's reach per spatial axis (:func:`step_reach`).  Chunks thinner than
    a pass's halo are merged into their neighbours.
    """
    spatial = sorted(reach)
    candidates = [tuple(tuple(c) for c in chunks)]
    slabs = slab_chunks(shape, chunks, spatial[0], workers)
    if slabs is not None and slabs != candidates[0]:
        candidates.append(slabs)
    plans = []
    for layout in candidates:
        blocks = math.prod(len(c) for c in layout)
        reaches, spans = [reach[i] for i in spatial], [layout[i] for i in spatial]
        steps = steps_per_pass or pass_length(iterations, reaches, spans, blocks, workers)
        layout = _merge_thin(shape, layout, reach, min(steps, iterations))
        blocks, spans = math.prod(len(c) for c in layout), [layout[i] for i in spatial]
        cost = pass_time(iterations, steps, reaches, spans, blocks, workers)
        if layout != candidates[0]:  # the rechunk back
            cost += math.prod(shape) * COPY_COST * math.ceil(blocks / workers) / blocks
        plans.append((cost, len(plans), layout, steps))
    _, _, layout, steps = min(plans)
    return layout, steps


def _block(block: np.ndarray, *, steps: int, options: dict[str, Any]) -> np.ndarray:
    """``steps`` in-memory steps of one block (with its halo)."""
    return np.asarray(diffuse_in_memory(block, iterations=steps, device="cpu", **options))


def _read_chunkwise(array: Any, start: Sequence[int], stop: Sequence[int]) -> np.ndarray:
    """``array[start:stop]`` of a zarr array, read one stored chunk at a time (one slice
    read decodes every chunk it touches at once: 8 chunks for a halo corner)."""
    out = np.empty([b - a for a, b in zip(start, stop)], array.dtype)
    edges = [range(a - a % c, b, c) for a, b, c in zip(start, stop, array.chunks)]
    for corner in itertools.product(*edges):
        lo = [max(a, k) for a, k in zip(start, corner)]
        hi = [min(b, k + c) for b, k, c in zip(stop, corner, array.chunks)]
        out[tuple(slice(l - a, h - a) for l, h, a in zip(lo, hi, start))] = array[tuple(map(slice, lo, hi))]
    return out


def _read_block(store: str, depth: tuple[int, ...], steps: int, options: dict[str, Any],
                block_info: dict[Any, Any] | None = None) -> np.ndarray:
    """One block of a pass over the zarr array at ``store``: the block and ``depth`` pixels
    around it (fewer at the array's border) read straight from the store, ``steps`` steps,
    the block cut out again."""
    array = zarr.open_array(store, mode="r")
    location = block_info[None]["array-location"]  # type: ignore[index]
    start = [max(0, a - d) for (a, _), d in zip(location, depth)]
    stop = [min(n, b + d) for (_, b), d, n in zip(location, depth, array.shape)]
    result = _block(_read_chunkwise(array, start, stop), steps=steps, options=options)
    return result[tuple(slice(a - s, b - s) for (a, b), s in zip(location, start))]


def _passes_on_disk(given: da.Array, folder: str, reach: dict[int, int], iterations: int, steps_per_pass: int,
                    options: dict[str, Any], meta: np.ndarray) -> da.Array:
    """The passes of :func:`diffuse` with ``checkpoint=folder``: the input and every pass but
    the last are stored in ``folder`` (zarr, regular chunks); each block of a pass reads itself
    and its halo straight from the previous store (:func:`_read_block`), so blocks share no
    tasks and a run holds only the blocks being computed, whatever the halo."""
    regular = given.rechunk(tuple(max(c) for c in given.chunks))
    store = os.path.join(folder, "pass-0.zarr")
    regular.to_zarr(store, overwrite=True, zarr_format=3)
    done = 0
    while True:
        steps = min(steps_per_pass, iterations - done)
        depth = tuple(steps * reach.get(i, 0) for i in range(given.ndim))
        u = da.map_blocks(_read_block, chunks=regular.chunks, dtype=meta.dtype, meta=meta, store=store, depth=depth,
                          steps=steps, options=options)  # fmt: skip
        done += steps
        if done == iterations:
            return u.rechunk(given.chunks)
        store = os.path.join(folder, f"pass-{done}.zarr")
        u.to_zarr(store, overwrite=True, zarr_format=3)


def diffuse(
    array: Any,
    *,
    steps_per_pass: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    **keywords: Unpack[DiffusionOptions],
) -> da.Array:
    r"""Lazy Perona-Malik diffusion of a dask (or zarr) array, equal to in-memory :func:`peronamalik.diffuse`.

    Solves :math:`\partial_t I = \operatorname{div}(g(|\nabla I|)\nabla I)` with explicit
    steps, as :func:`peronamalik.diffuse` does with the same keywords; the result agrees with
    it to float rounding (the same kernel runs on every block).

    Parameters
    ----------
    array : dask.array.Array, zarr array, path to a zarr array, or numpy array
        The image.  The result has its chunks, except that the channel axis is one chunk;
        the passes may run on other chunks (see Notes), rechunked back at the end.
    steps_per_pass : int, optional
        Steps per ``map_overlap`` pass; default: chosen with the chunks of the passes by
        :func:`pass_plan` (see Notes).  One longer than a chunk merges that chunk into its
        neighbours for the passes.
    checkpoint : path-like, optional
        An existing folder: the input (in regular chunks) and every pass but the last are
        computed now and stored there (zarr); each block of a pass reads itself and its halo
        straight from the previous store, so blocks share no tasks, the halo may be wider
        than a chunk, and a run holds only the blocks being computed: memory follows the
        chunk size, not the volume (in one lazy graph, a block's halo keeps its neighbours'
        blocks in memory, and the scheduler may hold a whole pass).  The passes run on the
        input's chunks.  The caller removes the folder after computing the result.  Default:
        one lazy graph.
    **keywords
        The keywords of :func:`peronamalik.diffuse` but ``device`` and ``progress``
        (:class:`~peronamalik.core.params.DiffusionOptions`), with its defaults
        (``iterations=20``, ``kappa=0.1``, ``dt=None``, ``diffusivity='exp'``,
        ``scheme='flux'``, ``spacing=None``, ``channel_axis=None``, ``coupled=False``,
        ``sigma=0``, ``noise='auto'``).  ``dt=None`` takes the stable dt of the whole problem, and every block
        uses that dt and kappa.  ``'auto'`` kappa, iterations or sigma: chosen as the
        in-memory diffuse chooses them (:func:`peronamalik.estimate_parameters`), over the
        whole array, computed once now; this needs the array in memory, so pass numbers for
        volumes bigger than memory.

    Returns
    -------
    dask.array.Array
        Lazy, same shape, in the dtype the in-memory diffuse returns
        (:func:`~peronamalik.core.arrays.float_dtype`: float64 for float64, int32, int64,
        uint32 and uint64, else float32; uint8 and uint16 map to [0, 1]).

    Notes
    -----
    A pass of ``L`` steps has halo depth ``L·d_i`` on axis ``i``, where ``d_i`` is one step's
    reach (:func:`step_reach`: 1 pixel, plus the Gaussian radius when ``sigma > 0``).  A
    block's own border is a zero-flux border, so after ``L`` steps its outer ``L·d_i`` pixels
    are wrong and its inner part exact; ``map_overlap`` keeps the inner part.

    The pass rule (:func:`pass_plan`): the passes run either on the input's chunks or on
    slabs along the first spatial axis, every other axis whole, as many slabs as tasks run
    at once (:func:`parallel_tasks`: the workers' threads of the current ``distributed``
    client, else the threaded pool), or a multiple of that so that no slab has more voxels
    than the input's largest chunk (memory still follows the chunk size).  For each, the pass
    length ``L`` minimises the modelled time (:func:`pass_time`)

    .. math:: \frac{\lceil B/W \rceil}{B}\Big(\lceil I/L \rceil (3^m B c_b + V c_v)
              + I V \prod_i \big(1 + 2 L d_i (k_i - 1)/n_i\big)\Big)

    (``B`` blocks split along ``m`` spatial axes, ``W`` tasks at once, ``V`` voxels,
    ``c_b`` = :data:`BLOCK_COST`,
    ``c_v`` = :data:`COPY_COST`, ``k_i`` chunks over ``n_i`` pixels), with ``L·d_i`` at most
    one chunk; the cheaper layout wins (slabs pay one more copy, the rechunk back).  On an
    in-memory-sized volume this gives a few slabs and passes of tens of steps: few tasks, and
    a halo of two faces per slab.  The layout changes only the speed, never the result.

    The kernel's threads: each block runs with the calling worker's torch thread count
    (:func:`peronamalik.set_num_threads`, set in each worker); keep
    ``workers × threads × torch threads ≤ cores``.

    Examples
    --------
    >>> import dask.array as da, numpy as np, peronamalik, peronamalik.dask
    >>> image = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    >>> lazy = peronamalik.dask.diffuse(da.from_array(image, chunks=16), iterations=10, kappa=0.2)
    >>> bool(np.allclose(lazy.compute(), peronamalik.diffuse(image, iterations=10, kappa=0.2), atol=1e-6))
    True
    """
    for name in ("device", "progress"):
        if name in keywords:
            raise InputError(f"peronamalik.dask.diffuse takes no {name} (its blocks run on the CPU, on Dask's workers)")
    given = DiffusionParams(**keywords, device="cpu")  # diffuse's defaults and checks; blocks run on the CPU
    iterations, kappa, dt, diffusivity = given.iterations, given.kappa, given.dt, given.diffusivity
    scheme, spacing, coupled, sigma, noise = given.scheme, given.spacing, given.coupled, given.sigma, given.noise
    check_coupled(coupled, given.channel_axis)
    source = as_dask_array(array)
    if source.size == 0:
        raise InputError(f"image is empty (shape {tuple(source.shape)})")
    axis = normalize_channel_axis(given.channel_axis, source.ndim)
    spatial = [i for i in range(source.ndim) if i != axis]
    spacing_tuple = normalize_spacing(spacing, len(spatial))
    chosen = dict(kappa=kappa, iterations=iterations, sigma=sigma)
    if any(isinstance(value, str) and value == "auto" for value in chosen.values()):
        # the in-memory diffuse's choice (peronamalik.core.auto), over the whole array
        chosen = estimate_parameters(
            source.compute(), **chosen, dt=dt, diffusivity=diffusivity, scheme=scheme,
            spacing=spacing_tuple, channel_axis=axis, coupled=coupled, noise=noise, device="cpu",
        ).as_options()  # fmt: skip
    kappa, iterations, sigma = chosen["kappa"], chosen["iterations"], chosen["sigma"]
    options: dict[str, Any] = dict(
        kappa=kappa, dt=dt, diffusivity=diffusivity, scheme=scheme, spacing=spacing_tuple,
        channel_axis=axis, coupled=coupled, sigma=sigma,
    )  # fmt: skip
    # the checks that depend on the image's size (sigma against its extent), on its real
    # shape: a zero-strided tensor of that shape, never allocated (one iteration: the
    # in-memory limit on iterations × voxels is for one machine's days, not a cluster's)
    extent = to_internal_layout(torch.zeros(()).expand(tuple(map(int, source.shape))), axis)
    DiffusionParams(**options, iterations=1, device="cpu").resolve(extent)
    # every other check of the in-memory diffuse (one step runs), on a small image of the
    # same layout; sigma was checked above, against the real extent, not this image's
    probe_shape = [source.shape[axis] if i == axis else 3 for i in range(source.ndim)]
    diffuse_in_memory(np.zeros(probe_shape, np.float32), iterations=1, device="cpu", **{**options, "sigma": 0.0})
    if dt is None:
        channels = source.shape[axis] if axis is not None else 1
        options["dt"] = stable_dt(
            scheme, spatial_ndim=len(spatial), spacing=spacing_tuple, diffusivity=diffusivity,
            kappa=float(kappa), mixed_channels=channels if coupled else 1,
        )  # fmt: skip
    options["kappa"] = float(kappa)
    reach = dict(zip(spatial, step_reach(scheme, spacing_tuple, sigma)))
    meta = np.empty((0,) * source.ndim, float_dtype(source.dtype))  # no trial call on an empty block
    if steps_per_pass is not None:
        steps_per_pass = integer("steps_per_pass", steps_per_pass, low=1)
    whole = source.rechunk({axis: -1}) if axis is not None else source  # channels never split
    if iterations == 0:
        return whole.map_blocks(_block, steps=0, options=options, meta=meta)
    if checkpoint is not None:
        spans, reaches = [whole.chunks[i] for i in spatial], [reach[i] for i in spatial]
        steps_per_pass = steps_per_pass or pass_length(iterations, reaches, spans, whole.npartitions, parallel_tasks())
        return _passes_on_disk(whole, os.fspath(checkpoint), reach, iterations, steps_per_pass, options, meta)
    layout, steps_per_pass = pass_plan(whole.shape, whole.chunks, reach, iterations, steps_per_pass, parallel_tasks())
    u = whole.rechunk(layout)
    done = 0
    while done < iterations:
        steps = min(steps_per_pass, iterations - done)
        depth = {i: (steps * reach[i] if len(u.chunks[i]) > 1 else 0) if i in reach else 0 for i in range(u.ndim)}
        u = u.map_overlap(_block, depth=depth, boundary="none", steps=steps, options=options, meta=meta)
        done += steps
    return u.rechunk(whole.chunks)


__all__ = [
    "BLOCK_COST",
    "COPY_COST",
    "as_dask_array",
    "diffuse",
    "parallel_tasks",
    "pass_length",
    "pass_plan",
    "pass_time",
    "slab_chunks",
    "step_reach",
]
