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

import math
import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np
from dask.array.overlap import ensure_minimum_chunksize

from peronamalik._validate import InputError
from peronamalik.core import diffuse as diffuse_in_memory
from peronamalik.core import estimate_parameters, stable_dt
from peronamalik.core.arrays import float_dtype
from peronamalik.core.layout import normalize_channel_axis, normalize_spacing
from peronamalik.core.params import DiffusionOptions, DiffusionParams

if TYPE_CHECKING:  # annotations only: typing.Unpack is Python 3.11+, the package runs on 3.10
    from typing import Unpack

#: Cost of one pass (scheduling, halo slicing and exchange, one read and write of every
#: block), in units of one step of the kernel over the same pixels; see :func:`pass_length`.
#: Measured on 128³ float32 in 64³ chunks (benchmarks/dask_scaling.py): about 15 on the
#: threaded scheduler, 50 to 80 on a 2-process LocalCluster.
PASS_COST = 32.0


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

    One for the 3×3 (or 2·ndim) stencils of "flux", "flux8" and "seed"; with ``sigma > 0``
    the Gaussian guide adds its radius ``ceil(4·sigma/h)`` (at least 1), as
    :func:`peronamalik.core.smoothing.gaussian_kernel1d` cuts it.
    """
    if sigma <= 0:
        return (1,) * len(spacing)
    return tuple(1 + max(1, math.ceil(4.0 * sigma / h)) for h in spacing)


def pass_length(iterations: int, reach: Sequence[int], chunks: Sequence[Sequence[int]]) -> int:
    r"""Steps per pass: the ``L`` that minimises the modelled cost of the whole run.

    .. math:: \mathrm{cost}(L) = \lceil I/L \rceil \cdot P
              + I \prod_i \Big(1 + \frac{2 L d_i (k_i - 1)}{n_i}\Big)

    with ``I`` iterations, ``P`` = :data:`PASS_COST` step-equivalents per pass, ``d_i`` the
    reach of one step, and ``k_i`` chunks summing to ``n_i`` pixels along spatial axis ``i``
    (``chunks[i]``); the product is the recomputed halo's share (each of the ``k_i - 1``
    inner chunk borders is computed twice over ``L·d_i`` pixels on each side).  ``L·d_i``
    never exceeds the largest chunk of a split axis (a halo comes from the neighbouring
    chunk only; :func:`diffuse` merges thinner chunks into their neighbours).  Passes are
    then balanced: ``L = ceil(I / passes)``.
    """
    if iterations == 0:
        return 0
    split = [(d, len(c), sum(c)) for d, c in zip(reach, chunks) if len(c) > 1]
    longest = min([iterations] + [max(c) // d for d, c in zip(reach, chunks) if len(c) > 1])

    def cost(steps: int) -> float:
        halo = math.prod(1 + 2 * steps * d * (k - 1) / n for d, k, n in split)
        return math.ceil(iterations / steps) * PASS_COST + iterations * halo

    best = min(range(1, max(1, longest) + 1), key=cost)
    return math.ceil(iterations / math.ceil(iterations / best))


def _block(block: np.ndarray, *, steps: int, options: dict[str, Any]) -> np.ndarray:
    """``steps`` in-memory steps of one block (with its halo)."""
    return np.asarray(diffuse_in_memory(block, iterations=steps, device="cpu", **options))


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
        The image; its chunks are kept, except that the channel axis is merged into one
        chunk and chunks thinner than a pass's halo are merged with their neighbours
        (:func:`dask.array.overlap.ensure_minimum_chunksize`).
    steps_per_pass : int, optional
        Steps per ``map_overlap`` pass; default :func:`pass_length`'s rule: minimise
        ``passes·P + I·∏(1 + 2·L·d_i·(k_i - 1)/n_i)`` (``P`` = :data:`PASS_COST`, ``k_i``
        chunks over ``n_i`` pixels), halo ``L·d_i`` at most one chunk.  A longer one given here merges chunks thinner than its halo.
    checkpoint : path-like, optional
        An existing folder: every pass but the last is computed now and stored there (zarr)
        and the next pass reads it back, so a run holds one pass's blocks at a time and
        memory follows the chunk size, not the volume (one lazy graph of many passes lets
        the scheduler keep a whole pass in memory).  The caller removes the folder after
        computing the result.  Default: one lazy graph.
    **keywords
        The keywords of :func:`peronamalik.diffuse` but ``device`` and ``progress``
        (:class:`~peronamalik.core.params.DiffusionOptions`), with its defaults
        (``iterations=20``, ``kappa=0.1``, ``dt=None``, ``diffusivity='exp'``,
        ``scheme='flux'``, ``spacing=None``, ``channel_axis=None``, ``coupled=False``,
        ``sigma=0``).  ``dt=None`` takes the stable dt of the whole problem, and every block
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
    are wrong and its inner part exact; ``map_overlap`` keeps the inner part.  The kernel's
    threads: each block runs with the calling worker's torch thread count; keep
    ``workers × threads × torch threads ≤ cores``.

    Examples
    --------
    >>> import dask.array as da, numpy as np, peronamalik, peronamalik.dask
    >>> image = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    >>> lazy = peronamalik.dask.diffuse(da.from_array(image, chunks=16), iterations=10, kappa=0.2)
    >>> bool(np.allclose(lazy.compute(), peronamalik.diffuse(image, iterations=10, kappa=0.2), atol=1e-6))
    True
    """
    given = DiffusionParams(**keywords, device="cpu")  # diffuse's defaults and checks; blocks run on the CPU
    iterations, kappa, dt, diffusivity = given.iterations, given.kappa, given.dt, given.diffusivity
    scheme, spacing, coupled, sigma = given.scheme, given.spacing, given.coupled, given.sigma
    source = as_dask_array(array)
    axis = normalize_channel_axis(given.channel_axis, source.ndim)
    spatial = [i for i in range(source.ndim) if i != axis]
    spacing_tuple = normalize_spacing(spacing, len(spatial))
    chosen = dict(kappa=kappa, iterations=iterations, sigma=sigma)
    if any(isinstance(value, str) and value == "auto" for value in chosen.values()):
        # the in-memory diffuse's choice (peronamalik.core.auto), over the whole array
        chosen = estimate_parameters(
            source.compute(), **chosen, dt=dt, diffusivity=diffusivity, scheme=scheme,
            spacing=spacing_tuple, channel_axis=axis, coupled=coupled, device="cpu",
        ).as_options()  # fmt: skip
    kappa, iterations, sigma = chosen["kappa"], chosen["iterations"], chosen["sigma"]
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 0:
        raise InputError(f"iterations must be an int >= 0 or 'auto', got {iterations!r}")
    options: dict[str, Any] = dict(
        kappa=kappa, dt=dt, diffusivity=diffusivity, scheme=scheme, spacing=spacing_tuple,
        channel_axis=axis, coupled=coupled, sigma=sigma,
    )  # fmt: skip
    # every check of the in-memory diffuse, now, on a small image of the same layout
    probe_shape = [source.shape[axis] if i == axis else 3 for i in range(source.ndim)]
    diffuse_in_memory(np.zeros(probe_shape, np.float32), iterations=1, device="cpu", **options)
    if dt is None:
        channels = source.shape[axis] if axis is not None else 1
        options["dt"] = stable_dt(
            scheme, spatial_ndim=len(spatial), spacing=spacing_tuple, diffusivity=diffusivity,
            kappa=float(kappa), mixed_channels=channels if coupled else 1,
        )  # fmt: skip
    options["kappa"] = float(kappa)
    reach = dict(zip(spatial, step_reach(scheme, spacing_tuple, sigma)))
    meta = np.empty((0,) * source.ndim, float_dtype(source.dtype))  # no trial call on an empty block
    if steps_per_pass is None:
        steps_per_pass = pass_length(iterations, list(reach.values()), [source.chunks[i] for i in spatial])
    elif isinstance(steps_per_pass, bool) or not isinstance(steps_per_pass, numbers.Integral) or steps_per_pass < 1:
        raise InputError(f"steps_per_pass must be an int >= 1, got {steps_per_pass!r}")
    # a halo comes from the neighbouring chunk only: chunks thinner than it are merged
    chunks: dict[int, Any] = {axis: -1} if axis is not None else {}
    for i, d in reach.items():
        halo = max(1, min(steps_per_pass, iterations)) * d
        if len(source.chunks[i]) > 1 and min(source.chunks[i]) < halo:
            chunks[i] = -1 if halo >= source.shape[i] else ensure_minimum_chunksize(halo, source.chunks[i])
    u = source.rechunk(chunks) if chunks else source
    if iterations == 0:
        return u.map_blocks(_block, steps=0, options=options, meta=meta)
    done = 0
    while done < iterations:
        if done and checkpoint is not None:  # the previous pass, stored and read back
            store = os.path.join(os.fspath(checkpoint), f"pass-{done}.zarr")
            u.to_zarr(store, overwrite=True, zarr_format=3)
            u = da.from_zarr(store)
        steps = min(steps_per_pass, iterations - done)
        depth = {i: (steps * reach[i] if len(u.chunks[i]) > 1 else 0) for i in range(u.ndim) if i in reach}
        if axis is not None:
            depth[axis] = 0
        u = u.map_overlap(_block, depth=depth, boundary="none", steps=steps, options=options, meta=meta)
        done += steps
    return u


__all__ = ["PASS_COST", "as_dask_array", "diffuse", "pass_length", "step_reach"]
