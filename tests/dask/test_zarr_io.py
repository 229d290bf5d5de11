"""Zarr v3 and OME-Zarr round trips: data, chunks, metadata, spacing from the OME scale."""

from __future__ import annotations

import json
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import zarr

import peronamalik
import peronamalik.dask as pmdask
from peronamalik.io.zarr import read_zarr, write_ome_zarr, write_zarr


def test_plain_zarr_round_trip(tmp_path: Path) -> None:
    volume = np.random.default_rng(0).random((20, 24, 18), dtype=np.float32)
    write_zarr(tmp_path / "v.zarr", da.from_array(volume, chunks=8))
    image = read_zarr(tmp_path / "v.zarr")
    assert image.spacing is None and image.channel_axis is None and image.multiscales is None
    assert image.array.chunks[0] == (8, 8, 4)
    np.testing.assert_array_equal(image.array.compute(), volume)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.zarr"]  # no temporary left
    with pytest.raises(ValueError, match="exists"):
        write_zarr(tmp_path / "v.zarr", da.from_array(volume))


def test_ome_zarr_keeps_metadata_spacing_and_regenerates_the_pyramid(tmp_path: Path) -> None:
    colour = np.random.default_rng(1).random((2, 16, 20, 22), dtype=np.float32)
    write_ome_zarr(tmp_path / "in.zarr", colour, spacing=(3.0, 0.5, 0.5), channel_axis=0, levels=3, chunks=8)
    image = read_zarr(tmp_path / "in.zarr", chunks=10)
    assert image.spacing == (3.0, 0.5, 0.5) and image.channel_axis == 0
    assert image.array.chunks[0] == (2,) and image.array.chunks[1] == (10, 6)
    options = dict(iterations=5, kappa=0.2, spacing=image.spacing, channel_axis=image.channel_axis)
    smoothed = pmdask.diffuse(image.array, **options)
    write_zarr(tmp_path / "out.zarr", smoothed, like=image)

    out = read_zarr(tmp_path / "out.zarr")
    expected = peronamalik.diffuse(colour, device="cpu", **options)
    np.testing.assert_allclose(out.array.compute(), expected, rtol=0, atol=1e-6)
    assert out.spacing == image.spacing and out.channel_axis == 0
    group = zarr.open_group(tmp_path / "out.zarr", mode="r")
    meta = json.loads(json.dumps(dict(group.attrs)))["ome"]["multiscales"][0]
    assert meta["axes"] == image.multiscales["axes"]
    scales = [d["coordinateTransformations"][0]["scale"] for d in meta["datasets"]]
    assert scales == [[1.0, 3.0, 0.5, 0.5], [1.0, 6.0, 1.0, 1.0], [1.0, 12.0, 2.0, 2.0]]
    level1 = group[meta["datasets"][1]["path"]][...]
    assert level1.shape == (2, 8, 10, 11)
    np.testing.assert_allclose(level1, expected.reshape(2, 8, 2, 10, 2, 11, 2).mean(axis=(2, 4, 6)), atol=1e-6)


def test_unreadable_inputs_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        read_zarr(tmp_path / "missing.zarr")
    zarr.open_group(tmp_path / "g.zarr", mode="w")
    with pytest.raises(ValueError, match="without OME-Zarr"):
        read_zarr(tmp_path / "g.zarr")
    group = zarr.open_group(tmp_path / "t.zarr", mode="w")
    group.create_array("0", shape=(2, 4, 4), dtype="f4")
    group.attrs["ome"] = {"multiscales": [{"axes": [{"name": "t", "type": "time"}, {"name": "y", "type": "space"},
                                                     {"name": "x", "type": "space"}], "datasets": [{"path": "0"}]}]}
    with pytest.raises(ValueError, match="time"):
        read_zarr(tmp_path / "t.zarr")
