"""peronamalik.dask.diffuse equals the in-memory diffuse, block by block, on a LocalCluster."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import peronamalik
import peronamalik.dask as pmdask
from pm_dask_cluster import client  # noqa: F401  (the module's cluster)

SETTINGS = settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])


def reference(image: np.ndarray, **options: object) -> np.ndarray:
    return peronamalik.diffuse(image, device="cpu", **options)


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...], dict]:
    """An image (2-D, 3-D or colour), a chunking (down to 1 pixel) and diffuse's options."""
    kind = draw(st.sampled_from(["2d", "3d", "colour"]))
    if kind == "3d":
        shape = tuple(draw(st.integers(3, 14)) for _ in range(3))
    else:
        shape = tuple(draw(st.integers(3, 24)) for _ in range(2)) + ((3,) if kind == "colour" else ())
    spatial = 3 if kind == "3d" else 2
    image = np.random.default_rng(draw(st.integers(0, 2**16))).random(shape, dtype=np.float32)
    chunks = tuple(draw(st.integers(max(1, n // 2), n)) for n in shape)  # thinner than a halo too
    options: dict = dict(
        iterations=draw(st.integers(0, 9)),
        kappa=draw(st.sampled_from([0.05, 0.3])),  # 'auto' (SURE, slow): test_auto_parameters
        diffusivity=draw(st.sampled_from(["exp", "rational", "tukey"])),
        sigma=draw(st.sampled_from([0.0, 0.0, 0.6, 1.5])),
    )
    if draw(st.booleans()):
        options["spacing"] = tuple(draw(st.sampled_from([0.5, 1.0, 2.0])) for _ in range(spatial))
    if kind == "colour":
        options["channel_axis"] = -1
        options["coupled"] = draw(st.booleans())
    elif kind == "2d" and draw(st.booleans()):
        options["scheme"] = draw(st.sampled_from(["flux8", "gradient"]))
    elif draw(st.booleans()):
        options["scheme"] = "gradient"
    return image, chunks, options


@SETTINGS
@given(problems())
def test_equals_in_memory_on_every_chunking(client, problem) -> None:
    image, chunks, options = problem
    lazy = pmdask.diffuse(da.from_array(image, chunks=chunks), **options)
    assert isinstance(lazy, da.Array)
    result = lazy.compute()
    expected = reference(image, **options)
    assert result.shape == expected.shape and result.dtype == expected.dtype
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [
        dict(scheme="seed", kappa=0.2),
        dict(scheme="seed", diffusivity="inv", kappa=0.5),
        dict(scheme="seed", kappa=0.2, channel_axis=0, coupled=True),
    ],
)
def test_seed_scheme_equals_in_memory(client, options) -> None:
    shape = (3, 40, 33) if "channel_axis" in options else (40, 33)
    image = np.random.default_rng(1).random(shape, dtype=np.float32)
    result = pmdask.diffuse(da.from_array(image, chunks=(3, 20, 17)[-len(shape) :]), iterations=11, **options)
    np.testing.assert_allclose(result.compute(), reference(image, iterations=11, **options), rtol=0, atol=1e-6)


@pytest.mark.parametrize("noise", ["auto", 0.05, (0.002, 0.0001)])
def test_auto_parameters_are_the_in_memory_choice(client, noise) -> None:
    image = np.random.default_rng(4).random((24, 20), dtype=np.float32)
    options = dict(kappa="auto", iterations=5, sigma="auto", noise=noise)  # iterations="auto" may choose hundreds
    result = pmdask.diffuse(da.from_array(image, chunks=(8, 10)), **options).compute()
    np.testing.assert_allclose(result, reference(image, **options), rtol=0, atol=1e-6)


def test_integers_float64_and_passes(client) -> None:
    """uint16 maps to [0, 1] as in memory; float64 stays float64; any pass length is exact."""
    rng = np.random.default_rng(2)
    volume = (rng.random((12, 14, 16)) * 65535).astype(np.uint16)
    for steps in (1, 5):
        lazy = pmdask.diffuse(da.from_array(volume, chunks=(12, 7, 8)), iterations=9, kappa=0.1, steps_per_pass=steps)
        np.testing.assert_allclose(lazy.compute(), reference(volume, iterations=9, kappa=0.1), rtol=0, atol=1e-6)
    double = rng.random((30, 30))
    lazy = pmdask.diffuse(da.from_array(double, chunks=15), iterations=15, kappa=0.2, dt=0.1)
    assert lazy.dtype == np.float64
    np.testing.assert_allclose(lazy.compute(), reference(double, iterations=15, kappa=0.2, dt=0.1), rtol=0, atol=1e-12)


def test_int32_is_float64_as_in_memory() -> None:
    """int32 keeps its values, beyond float32's resolution (2**24): float64 in both paths,
    and the lazy array says so before computing."""
    image = (2**26 + np.random.default_rng(5).integers(0, 64, (20, 24))).astype(np.int32)
    expected = reference(image, iterations=6, kappa=8.0)
    lazy = pmdask.diffuse(da.from_array(image, chunks=(10, 12)), iterations=6, kappa=8.0, steps_per_pass=3)
    result = lazy.compute()
    assert expected.dtype == lazy.dtype == result.dtype == np.float64
    assert np.ptp(result) > 0  # the steps of 1 that float32 would have lost near 2**26
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)


def test_sigma_is_checked_against_the_whole_volume(client, tmp_path: Path) -> None:
    """A sigma wider than a chunk (and than a small probe image) but within the volume runs
    and equals in memory, in one graph and checkpointed (a halo of 21 pixels a step, more
    than two chunks); one wider than the volume is refused as in memory, naming its shape."""
    volume = np.random.default_rng(7).random((20, 37, 29), dtype=np.float32)
    options = dict(iterations=3, kappa=0.2, sigma=5.0)
    expected = reference(volume, **options)
    for checkpoint in (None, tmp_path):
        lazy = pmdask.diffuse(da.from_array(volume, chunks=10), checkpoint=checkpoint, **options)
        np.testing.assert_allclose(lazy.compute(), expected, rtol=0, atol=1e-6)
    spacing = (1.0, 0.5, 2.0)  # the smallest extent: 37 x 0.5
    lazy = pmdask.diffuse(da.from_array(volume, chunks=(7, 13, 9)), iterations=3, kappa=0.2, sigma=18.0, spacing=spacing)
    np.testing.assert_allclose(lazy.compute(), reference(volume, iterations=3, kappa=0.2, sigma=18.0, spacing=spacing),
                               rtol=0, atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError) as in_memory:
        reference(volume, iterations=3, kappa=0.2, sigma=18.6, spacing=spacing)
    with pytest.raises(ValueError, match=r"sigma must be <= 18\.5 .*\(20, 37, 29\)") as lazily:
        pmdask.diffuse(da.from_array(volume, chunks=10), iterations=3, kappa=0.2, sigma=18.6, spacing=spacing)
    assert str(lazily.value) == str(in_memory.value)


@pytest.mark.parametrize(
    ("shape", "chunks", "options"),
    [
        ((20, 30, 17), (4, 7, 17), dict(iterations=9, kappa=0.2)),
        ((20, 30, 17), (4, 7, 6), dict(iterations=7, kappa=0.2, sigma=1.5, steps_per_pass=3)),  # halo > chunk
        ((26, 19, 3), (5, 8, 3), dict(iterations=6, kappa=0.3, channel_axis=-1, coupled=True, steps_per_pass=4)),
    ],
)
def test_checkpointed_passes_read_their_halo_from_disk(client, tmp_path: Path, shape, chunks, options) -> None:
    """checkpoint=: the input and each pass stored as zarr, blocks read their halo from the store."""
    image = np.random.default_rng(5).random(shape, dtype=np.float32)
    lazy = pmdask.diffuse(da.from_array(image, chunks=chunks), checkpoint=tmp_path, **options)
    assert lazy.chunks == da.from_array(image, chunks=chunks).rechunk({2: -1} if "channel_axis" in options else {}).chunks
    expected = reference(image, **{k: v for k, v in options.items() if k != "steps_per_pass"})
    np.testing.assert_allclose(lazy.compute(), expected, rtol=0, atol=1e-6)
    assert (tmp_path / "pass-0.zarr").is_dir()


def test_passes_and_halo() -> None:
    """Each pass is one map_overlap whose halo covers its steps; the channel axis is one chunk;
    the result has the input's chunks whatever the passes ran on."""
    image = da.zeros((64, 64, 3), chunks=(16, 16, 1), dtype=np.float32)
    lazy = pmdask.diffuse(image, iterations=20, kappa=0.1, channel_axis=2, steps_per_pass=4)
    assert lazy.chunks == ((16,) * 4, (16,) * 4, (3,))
    layers = [name for name in lazy.dask.layers if name.startswith("_block")]
    assert len(layers) == 5
    assert pmdask.step_reach("flux", (1.0, 2.0), 1.0) == (5, 3)
    assert pmdask.pass_length(20, (1, 1), ((16,) * 4, (16,) * 4)) <= 16
    assert pmdask.pass_length(20, (1, 1), ((64,), (64,))) == 20  # one chunk: no halo, one pass
    # smaller chunks: more tasks per pass, so longer passes; a wider reach: more halo, shorter
    many, few = pmdask.pass_length(200, (1,) * 3, ((32,) * 8,) * 3), pmdask.pass_length(200, (1,) * 3, ((128,) * 2,) * 3)
    assert many > few > pmdask.pass_length(200, (3,) * 3, ((128,) * 2,) * 3)
    merged = pmdask.diffuse(da.zeros((40, 40), chunks=(4, 40)), iterations=10, kappa=0.1, steps_per_pass=5)
    assert merged.chunks == ((4,) * 10, (40,))


def test_pass_plan_slabs_or_the_given_chunks() -> None:
    """One big chunk runs as one slab per worker; small cubes of a big volume stay cubes (a
    slab holds no more voxels than the largest chunk); chunks thinner than the halo merge."""
    reach = {0: 1, 1: 1, 2: 1}
    layout, steps = pmdask.pass_plan((512,) * 3, ((512,),) * 3, reach, 50, workers=2)
    assert layout == ((256, 256), (512,), (512,)) and 1 <= steps <= 50
    cubes = ((256,) * 4,) * 3
    assert pmdask.pass_plan((1024,) * 3, cubes, reach, 5, workers=2)[0] == cubes
    layout, steps = pmdask.pass_plan((40, 40), ((4,) * 10, (40,)), {0: 1, 1: 1}, 10, steps_per_pass=5)
    assert steps == 5 and min(layout[0]) >= 5 and sum(layout[0]) == 40


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(kappa=-1.0), ValueError, "kappa"),
        (dict(scheme="nope"), ValueError, "scheme"),
        (dict(iterations=-1), ValueError, "iterations"),
        (dict(dt=10.0), ValueError, "dt"),
        (dict(channel_axis=5), ValueError, "channel_axis"),
        (dict(spacing=(1.0,)), ValueError, "spacing"),
        (dict(steps_per_pass=0), ValueError, "steps_per_pass"),
        (dict(scheme="flux8", channel_axis=None), None, None),
    ],
)
def test_bad_arguments_raise_now(kwargs, error, words) -> None:
    image = da.zeros((16, 16), chunks=4, dtype=np.float32)
    options = dict(iterations=9) | kwargs
    if error is None:
        pmdask.diffuse(image, **options)
        return
    with pytest.raises(error, match=words):
        pmdask.diffuse(image, **options)


def test_not_an_array_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="array must be"):
        pmdask.diffuse([[1.0, 2.0]])


def _die_once(block: np.ndarray, marker: str) -> np.ndarray:
    """Identity, except that the first call anywhere kills its own worker process."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return block
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def test_killed_worker_mid_run_is_retried_and_exact(client, tmp_path: Path) -> None:
    """A worker dies (SIGKILL) while the run is under way; distributed recomputes what it held."""
    image = np.random.default_rng(3).random((16, 40, 40), dtype=np.float32)
    before = client.run(os.getpid)
    marker = str(tmp_path / "killed")
    lazy = pmdask.diffuse(da.from_array(image, chunks=(8, 20, 20)), iterations=12, kappa=0.2, steps_per_pass=3)
    # the kill comes after the passes of one block, while the other blocks are still running
    result = lazy.map_blocks(_die_once, marker=marker, meta=lazy._meta).compute()
    assert os.path.exists(marker)
    client.wait_for_workers(2)
    assert set(client.run(os.getpid).values()) != set(before.values())  # one process was replaced
    np.testing.assert_allclose(result, reference(image, iterations=12, kappa=0.2), rtol=0, atol=1e-6)
