"""``peronamalik smooth`` end to end.

A few runs go through a subprocess, exactly as a user runs the command (exit code, stderr,
no traceback); the rest call the same ``main()`` in-process, which is faster.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import tifffile
from PIL import Image

from peronamalik.cli import main
from peronamalik.io.images import read_image
from tests.cli.runs import assert_one_line, run, run_here


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, *fragments)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(skimage.data.astronaut()[::8, ::8]).save(path)
    return path


def test_smooth_png_with_compare(tmp_path: Path, photo: Path) -> None:
    result = run(photo, "-o", tmp_path / "out.png", "--iterations", "5", "--kappa", "auto", "--coupled",
                 "--compare", tmp_path / "cmp.png")
    assert result.returncode == 0, result.stderr
    out, original = read_image(tmp_path / "out.png"), read_image(photo)
    assert out.array.dtype == np.uint8 and out.array.shape == original.array.shape
    assert not np.array_equal(out.array, original.array)
    compare = read_image(tmp_path / "cmp.png").array
    assert compare.shape[0] == 64 and compare.shape[1] > 128 and compare.shape[2] == 3
    np.testing.assert_array_equal(compare[:, :64], original.array)
    assert names(tmp_path) == ["cmp.png", "out.png", "photo.png"]


def test_smooth_16bit_volume_keeps_dtype(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    volume = (np.random.default_rng(0).random((4, 20, 24)) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "vol.tif", volume, photometric="minisblack")
    code, stderr = run_here(capsys, tmp_path / "vol.tif", "-o", tmp_path / "out.tif", "--iterations", "3",
                            "--spacing", "2,1,1", "--compare", tmp_path / "slice.png")
    assert code == 0, stderr
    out = read_image(tmp_path / "out.tif").array
    assert out.dtype == np.uint16 and out.shape == volume.shape
    assert out.std() < volume.std()
    compare = read_image(tmp_path / "slice.png").array
    assert compare.dtype == np.uint16 and compare.shape[0] == 20  # the middle slice, 16-bit


def test_existing_output_is_kept_without_overwrite(tmp_path: Path, photo: Path, capsys) -> None:
    (tmp_path / "out.png").write_bytes(b"precious")
    assert_user_error(run(photo, "-o", tmp_path / "out.png"), "exists", "--overwrite")
    assert (tmp_path / "out.png").read_bytes() == b"precious"
    code, stderr = run_here(capsys, photo, "-o", tmp_path / "out.png", "--iterations", "1", "--overwrite")
    assert code == 0, stderr
    assert read_image(tmp_path / "out.png").array.shape == (64, 64, 3)


def test_missing_and_corrupt_inputs(tmp_path: Path, photo: Path) -> None:
    data = photo.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    assert_user_error(run(tmp_path / "missing.png", "-o", tmp_path / "out.png"), "missing.png", "does not exist")
    assert_user_error(run(tmp_path / "cut.png", "-o", tmp_path / "out.png"), "cut.png", "truncated")
    assert names(tmp_path) == ["cut.png", "photo.png"]


def test_bad_kappa(tmp_path: Path, photo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_user_error(run(photo, "-o", tmp_path / "out.png", "--kappa", "wide"), "--kappa", "'wide'")
    code, stderr = run_here(capsys, photo, "-o", tmp_path / "out.png", "--kappa", "-1")
    assert code == 2
    assert_one_line(stderr, "kappa")
    assert names(tmp_path) == ["photo.png"]


@pytest.mark.parametrize(
    ("make", "args", "fragments"),
    [
        (lambda d: (d / "text.png").write_text("not an image"), ["text.png", "-o", "out.png"], ["not an image"]),
        (None, ["photo.png", "-o", "out.gif2"], ["unknown image extension"]),
        (None, ["photo.png", "-o", "out.png", "--compare", "out.png"], ["same file"]),
        (None, ["photo.png", "-o", "no/such/dir/out.png"], ["does not exist"]),
        (None, ["photo.png", "-o", "out.png", "--scheme", "nope"], ["--scheme"]),
        (None, ["photo.png", "-o", "out.png", "--channel-axis", "7"], ["channel_axis"]),
        (None, ["photo.png", "-o", "out.png", "--dt", "9"], ["stable limit"]),
        (
            lambda d: np.save(d / "vol.npy", np.zeros((3, 8, 8), np.float32)),
            ["vol.npy", "-o", "out.png"],
            ["2-D grey or RGB"],
        ),
    ],
)
def test_more_user_errors(tmp_path: Path, photo: Path, capsys, monkeypatch, make, args, fragments) -> None:
    monkeypatch.chdir(tmp_path)
    if make is not None:
        make(tmp_path)
    before = names(tmp_path)
    code, stderr = run_here(capsys, *args)
    assert code == 2
    assert_one_line(stderr, *fragments)
    assert names(tmp_path) == before


def test_decompression_bomb_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")  # a real file: ~50 kB on disk, 4e8 pixels
    code, stderr = run_here(capsys, tmp_path / "bomb.png", "-o", tmp_path / "out.png")
    assert code == 2
    assert_one_line(stderr, "bomb.png", "decompression bomb")
    assert names(tmp_path) == ["bomb.png"]


@pytest.mark.parametrize("target", ["photo.png", "./sub/../photo.png", "link.png"])
def test_output_naming_the_input_is_refused(tmp_path: Path, photo: Path, capsys, monkeypatch, target: str) -> None:
    """-o the input itself (another spelling of it, a symlink to it), even with --overwrite:
    one line, exit 2, the input's bytes unchanged."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.png").symlink_to("photo.png")
    before = photo.read_bytes()
    code, stderr = run_here(capsys, "photo.png", "-o", target, "--overwrite", "--iterations", "2")
    assert code == 2
    assert_one_line(stderr, "-o names the input photo.png", "would replace it")
    assert photo.read_bytes() == before
    assert names(tmp_path) == ["link.png", "photo.png", "sub"]


@pytest.mark.parametrize("option, value", [("--chunks", "8"), ("--workers", "2"), ("--scheduler", "tcp://127.0.0.1:8786")])
def test_dask_options_on_one_image_are_refused_not_ignored(tmp_path, capsys, option, value):
    """--chunks, --workers and --scheduler run zarr volumes and batches on Dask; given for one
    image, where they would do nothing, they are one line and exit 2, nothing written."""
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "in.png")
    assert main(["smooth", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), option, value]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and option in err and "not one input" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_nan_in_a_file_is_said_with_its_name(tmp_path: Path) -> None:
    """"image contains NaN or infinite values" did not say which file (QA)."""
    values = np.random.default_rng(0).random((12, 12)).astype(np.float32)
    values[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", values)
    result = run(tmp_path / "nan.npy", "-o", tmp_path / "out.npy")
    assert result.returncode == 2
    assert_one_line(result.stderr, f"{tmp_path / 'nan.npy'} contains NaN or infinite values")
    assert not (tmp_path / "out.npy").exists()
