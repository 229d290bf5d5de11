"""``peronamalik smooth scan.zarr -o smooth.zarr`` on Dask: exact, OME metadata kept, memory bounded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import zarr
from pm_dask_cluster import client  # noqa: F401  (the module's cluster)

import peronamalik
from peronamalik.cli import main
from peronamalik.io.zarr import read_zarr, write_ome_zarr, write_zarr

PEAK_RSS = """
import resource, sys
from peronamalik.cli import main
assert main(sys.argv[1:]) == 0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


@pytest.fixture
def scan(tmp_path: Path) -> tuple[Path, np.ndarray]:
    volume = np.random.default_rng(0).random((20, 26, 24), dtype=np.float32)
    write_ome_zarr(tmp_path / "scan.zarr", volume, spacing=(2.0, 1.0, 1.0), levels=2, chunks=16)
    return tmp_path / "scan.zarr", volume


def test_smooth_ome_zarr_threaded_uses_the_ome_spacing(scan, tmp_path: Path) -> None:
    path, volume = scan
    args = ["smooth", str(path), "-o", str(tmp_path / "out.zarr"), "--iterations", "9", "--kappa", "auto", "--chunks", "8"]
    assert main(args) == 0
    out = read_zarr(tmp_path / "out.zarr")
    expected = peronamalik.diffuse(volume, iterations=9, kappa="auto", spacing=(2.0, 1.0, 1.0), device="cpu")
    np.testing.assert_allclose(out.array.compute(), expected, rtol=0, atol=1e-6)
    assert out.spacing == (2.0, 1.0, 1.0) and len(out.multiscales["datasets"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr", "scan.zarr"]  # no pass store left


def test_auto_parameters_are_chosen_over_the_volume_and_printed(scan, tmp_path: Path, capsys) -> None:
    """``--kappa auto --iterations auto`` on a zarr volume prints its choice on one line, as
    for an image: the in-memory choice over the whole volume (its OME spacing, the noise
    given), which the result is diffused with; ``-q`` prints nothing."""
    path, volume = scan
    args = ["smooth", str(path), "--kappa", "auto", "--iterations", "auto", "--noise", "0.2"]
    assert main([*args, "-o", str(tmp_path / "out.zarr")]) == 0
    options = dict(spacing=(2.0, 1.0, 1.0), device="cpu")
    chosen = peronamalik.estimate_parameters(volume, noise=0.2, **options)
    assert chosen.iterations > 0 and capsys.readouterr().out.strip().splitlines() == [chosen.describe()]
    expected = peronamalik.diffuse(volume, **chosen.as_options(), **options)
    np.testing.assert_allclose(read_zarr(tmp_path / "out.zarr").array.compute(), expected, rtol=0, atol=1e-6)
    assert main([*args, "-o", str(tmp_path / "quiet.zarr"), "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_the_noise_read_in_a_region_of_the_volume_is_what_auto_chooses_for(scan, tmp_path: Path, capsys) -> None:
    """``--noise-region`` on a zarr volume: the noise line read in that part, as in memory."""
    path, volume = scan
    args = ["smooth", str(path), "-o", str(tmp_path / "out.zarr"), "--kappa", "auto", "--iterations", "auto",
            "--noise-region", "0:10,:12,-12:"]  # fmt: skip
    assert main(args) == 0
    options = dict(spacing=(2.0, 1.0, 1.0), device="cpu")
    line = peronamalik.estimate_parameters(volume[0:10, :12, -12:], iterations=0, **options).noise_line
    chosen = peronamalik.estimate_parameters(volume, noise=line, **options)
    assert capsys.readouterr().out.strip().splitlines() == [chosen.describe() + ", noise read in 0:10,:12,-12:"]
    expected = peronamalik.diffuse(volume, **chosen.as_options(), **options)
    np.testing.assert_allclose(read_zarr(tmp_path / "out.zarr").array.compute(), expected, rtol=0, atol=1e-6)


def test_smooth_on_an_existing_cluster(client, scan, tmp_path: Path) -> None:
    path, volume = scan
    address = client.scheduler.address
    args = ["smooth", str(path), "-o", str(tmp_path / "out.zarr"), "--iterations", "7", "--kappa", "0.2",
            "--spacing", "1", "--scheduler", address]  # fmt: skip
    assert main(args) == 0
    expected = peronamalik.diffuse(volume, iterations=7, kappa=0.2, device="cpu")
    np.testing.assert_allclose(read_zarr(tmp_path / "out.zarr").array.compute(), expected, rtol=0, atol=1e-6)


def test_bad_zarr_arguments_are_one_line(scan, tmp_path: Path, capsys) -> None:
    path, _ = scan
    for extra, words in [(["-o", str(tmp_path / "x.png")], "zarr input and output"),
                         (["-o", str(tmp_path / "y.zarr"), "--chunks", "0"], "--chunks"),
                         (["-o", str(tmp_path / "y.zarr"), "--workers", "2", "--scheduler", "tcp://a:1"], "exclude")]:
        assert main(["smooth", str(path), *extra]) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "y.zarr").exists()


def test_spacing_file_is_the_ome_scale_and_needs_one(scan, tmp_path: Path, capsys) -> None:
    path, _ = scan
    args = ["--iterations", "3", "--kappa", "0.2", "-q"]
    assert main(["smooth", str(path), "-o", str(tmp_path / "file.zarr"), "--spacing", "file", *args]) == 0
    assert main(["smooth", str(path), "-o", str(tmp_path / "given.zarr"), "--spacing", "2,1,1", *args]) == 0
    np.testing.assert_array_equal(read_zarr(tmp_path / "file.zarr").array.compute(), read_zarr(tmp_path / "given.zarr").array.compute())
    write_zarr(tmp_path / "plain.zarr", da.from_array(np.zeros((8, 8, 8), np.float32), chunks=4))
    capsys.readouterr()
    assert main(["smooth", str(tmp_path / "plain.zarr"), "-o", str(tmp_path / "p.zarr"), "--spacing", "file"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--spacing file" in line and "has no OME-Zarr scale" in line
    assert not (tmp_path / "p.zarr").exists()


def test_sigma_wider_than_a_chunk_but_within_the_volume(tmp_path: Path, capsys) -> None:
    """--sigma is checked against the volume (20 x 37 x 29 x 0.1), not a few-pixel probe: the
    .zarr run writes what the .npy run writes; a sigma wider than the volume is one line
    naming its shape, exit 2, nothing written."""
    volume = np.random.default_rng(4).random((20, 37, 29), dtype=np.float32)
    np.save(tmp_path / "v.npy", volume)
    write_zarr(tmp_path / "v.zarr", da.from_array(volume, chunks=10))
    args = ["--sigma", "0.5", "--spacing", "0.1", "--iterations", "3", "-q"]
    assert main(["smooth", str(tmp_path / "v.npy"), "-o", str(tmp_path / "a.npy"), *args]) == 0
    assert main(["smooth", str(tmp_path / "v.zarr"), "-o", str(tmp_path / "a.zarr"), *args]) == 0, capsys.readouterr().err
    np.testing.assert_allclose(read_zarr(tmp_path / "a.zarr").array.compute(), np.load(tmp_path / "a.npy"), rtol=0, atol=1e-6)
    wider = ["--sigma", "2.1", "--spacing", "0.1", "--iterations", "3"]
    assert main(["smooth", str(tmp_path / "v.zarr"), "-o", str(tmp_path / "b.zarr"), *wider]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "sigma must be <= 2 " in err and "(20, 37, 29)" in err, err
    assert not (tmp_path / "b.zarr").exists()


@pytest.mark.parametrize("dtype", [np.uint16, np.int8])
def test_integer_zarr_is_written_in_its_dtype_as_npy_is(client, tmp_path: Path, dtype, capsys) -> None:
    """A uint16 (read as [0, 1]) or int8 (its own values) volume comes back in its dtype and
    units, equal to the .npy path's result: a plain array on the threaded scheduler, an
    OME-Zarr image (its pyramid too) on a cluster."""
    info = np.iinfo(dtype)
    volume = np.random.default_rng(6).integers(info.min, info.max, (20, 26, 24), endpoint=True).astype(dtype)
    kappa = "0.1" if dtype == np.uint16 else "25"
    np.save(tmp_path / "v.npy", volume)
    assert main(["smooth", str(tmp_path / "v.npy"), "-o", str(tmp_path / "s.npy"), "--iterations", "20",
                 "--kappa", kappa, "-q"]) == 0  # fmt: skip
    expected = np.load(tmp_path / "s.npy")
    assert expected.dtype == dtype and not np.array_equal(expected, volume)  # smoothed, in the dtype
    write_zarr(tmp_path / "plain.zarr", da.from_array(volume, chunks=8))
    write_ome_zarr(tmp_path / "ome.zarr", volume, levels=2, chunks=8)
    for name, cluster in (("plain", []), ("ome", ["--scheduler", client.scheduler.address])):
        target = tmp_path / f"s-{name}.zarr"
        args = ["smooth", str(tmp_path / f"{name}.zarr"), "-o", str(target), "--iterations", "20", "--kappa", kappa]
        assert main([*args, *cluster]) == 0
        assert capsys.readouterr().err.strip().splitlines() == [f"wrote {target} (20×26×24 {np.dtype(dtype)})"]
        result = read_zarr(target).array
        assert result.dtype == dtype
        np.testing.assert_array_equal(result.compute(), expected)
    level1 = zarr.open_group(tmp_path / "s-ome.zarr", mode="r")["1"][:]
    means = expected.reshape(10, 2, 13, 2, 12, 2).mean(axis=(1, 3, 5))
    assert level1.dtype == dtype
    np.testing.assert_array_equal(level1, np.rint(means).astype(dtype))  # rounded, not truncated


def peak_rss(source: Path, target: Path) -> int:
    args = ["smooth", str(source), "-o", str(target), "--iterations", "12", "--kappa", "0.1", "--chunks", "64"]
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *args], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_peak_memory_follows_the_chunks_not_the_volume(tmp_path: Path) -> None:
    """Twelve times the volume (44 MiB more, two passes) costs less than the volume
    more memory; the in-memory path needs at least input + output (2x the volume)."""
    rng = da.random.default_rng(0)
    write_zarr(tmp_path / "short.zarr", rng.random((64, 128, 128), chunks=64, dtype=np.float32))
    write_zarr(tmp_path / "long.zarr", rng.random((768, 128, 128), chunks=64, dtype=np.float32))
    small = peak_rss(tmp_path / "short.zarr", tmp_path / "s.zarr")
    large = peak_rss(tmp_path / "long.zarr", tmp_path / "l.zarr")
    volume = 768 * 128 * 128 * 4
    assert large - small < volume, (small, large)  # measured: 23-39 MB more for 48 MiB
    assert read_zarr(tmp_path / "l.zarr").array.shape == (768, 128, 128)


def test_every_and_compare_are_refused_and_a_run_says_what_it_wrote(scan, tmp_path: Path, capsys) -> None:
    """zarr writes no animation and no comparison, and runs on Dask's CPU workers: --every /
    --compare / --device are one line, exit 2,
    nothing written; a run prints its ``wrote`` line (none with --quiet)."""
    path, _ = scan
    for extra in (["--every", "5"], ["--compare", str(tmp_path / "cmp.png")], ["--device", "cpu"]):
        assert main(["smooth", str(path), "-o", str(tmp_path / "out.zarr"), "--iterations", "3", *extra]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and extra[0] in err and "zarr" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.zarr"]
    assert main(["smooth", str(path), "-o", str(tmp_path / "out.zarr"), "--iterations", "3"]) == 0
    assert capsys.readouterr().err.strip().splitlines() == [f"wrote {tmp_path / 'out.zarr'} (20×26×24 float32)"]
    assert main(["smooth", str(path), "-o", str(tmp_path / "q.zarr"), "--iterations", "3", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_output_naming_the_input_store_is_refused(scan, tmp_path: Path, capsys) -> None:
    path, _ = scan
    files = sorted(p.relative_to(path) for p in path.rglob("*"))
    assert main(["smooth", str(path), "-o", str(path), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "-o names the input" in err, err
    assert sorted(p.relative_to(path) for p in path.rglob("*")) == files
