"""``peronamalik smooth`` with calibrated microscopy stacks and colour-managed photos:
``--spacing file``, the warning for anisotropic voxels, and the metadata kept in the result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from peronamalik.cli import main
from peronamalik.io.images import read_image
from tests.cli.runs import assert_one_line, run, run_here


@pytest.fixture
def calibrated(tmp_path: Path) -> Path:
    """An ImageJ z-stack of 0.25 × 0.25 µm pixels, slices 1.5 µm apart, with a bright cube."""
    volume = np.full((6, 32, 32), 1000, np.uint16)
    volume[2:4, 8:24, 8:24] = 30000
    volume += np.random.default_rng(0).integers(0, 2000, volume.shape, dtype=np.uint16)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, volume, imagej=True, resolution=(4.0, 4.0), metadata={"spacing": 1.5, "unit": "micron", "axes": "ZYX"})
    return path


def test_spacing_file_is_the_files_pixel_size(calibrated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_here(capsys, calibrated, "-o", tmp_path / "file.tif", "--spacing", "file", "--kappa", "0.5")
    assert code == 0 and "spacing 1.5 × 0.25 × 0.25 µm (from" in err
    assert main(["smooth", str(calibrated), "-o", str(tmp_path / "given.tif"), "--spacing", "1.5,0.25,0.25", "--kappa", "0.5", "-q"]) == 0
    assert main(["smooth", str(calibrated), "-o", str(tmp_path / "unit.tif"), "--kappa", "0.5", "-q"]) == 0
    from_file, given, unit = (read_image(tmp_path / name).array for name in ("file.tif", "given.tif", "unit.tif"))
    np.testing.assert_array_equal(from_file, given)
    assert np.abs(from_file.astype(int) - unit).max() > 100  # the spacing changed the result


def test_anisotropic_voxels_without_spacing_are_warned_about(calibrated: Path, tmp_path: Path) -> None:
    result = run(calibrated, "-o", tmp_path / "out.tif")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    warning = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "1.5 × 0.25 × 0.25 µm" in warning[0] and "--spacing file" in warning[0]
    assert "warning" not in run(calibrated, "-o", tmp_path / "quiet.tif", "--spacing", "1").stderr


def test_result_keeps_the_calibration(calibrated: Path, tmp_path: Path) -> None:
    assert main(["smooth", str(calibrated), "-o", str(tmp_path / "out.tif"), "-q", "--spacing", "file"]) == 0
    assert read_image(tmp_path / "out.tif").metadata == read_image(calibrated).metadata
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.is_imagej and tif.imagej_metadata["spacing"] == 1.5 and tif.pages[0].resolution == (4.0, 4.0)


def test_spacing_file_without_pixel_size_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "photo.png")
    result = run(tmp_path / "photo.png", "-o", tmp_path / "out.png", "--spacing", "file")
    assert result.returncode == 2
    assert_one_line(result.stderr, "--spacing file", "photo.png", "no pixel size")
    assert not (tmp_path / "out.png").exists()


def test_a_bad_spacing_names_both_forms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_here(capsys, tmp_path / "x.png", "--spacing", "fil")
    assert code == 2 and "'fil' is neither a comma-separated list of numbers nor 'file'" in err


def test_batch_reads_each_files_own_spacing(tmp_path: Path) -> None:
    """Two stacks of different voxel sizes in one batch: each result equals that file's own run."""
    volume = np.random.default_rng(1).integers(0, 60000, (6, 24, 24), dtype=np.uint16)
    (tmp_path / "in").mkdir()
    for name, z in (("a", 1.0), ("b", 4.0)):
        tifffile.imwrite(tmp_path / "in" / f"{name}.tif", volume, imagej=True, metadata={"spacing": z, "axes": "ZYX"})
    assert main(["smooth", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--spacing", "file", "-q"]) == 0
    for name, z in (("a", "1"), ("b", "4")):
        single = tmp_path / f"{name}-single.tif"
        assert main(["smooth", str(tmp_path / "in" / f"{name}.tif"), "-o", str(single), "--spacing", f"{z},1,1", "-q"]) == 0
        np.testing.assert_array_equal(read_image(tmp_path / "out" / f"{name}.tif").array, read_image(single).array)


def test_photo_keeps_its_colour_profile(tmp_path: Path) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = np.random.default_rng(2).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", icc_profile=profile, quality=95)
    for output in ("out.jpg", "out.png", "compare.png"):
        args = ["-o", str(tmp_path / output)]
        if output == "compare.png":
            args = ["--compare", str(tmp_path / output), "-o", str(tmp_path / "x.jpg")]
        assert main(["smooth", str(tmp_path / "photo.jpg"), *args, "-q", "--overwrite"]) == 0
        with Image.open(tmp_path / output) as written:
            assert written.info.get("icc_profile") == profile


@pytest.fixture
def time_series(tmp_path: Path) -> Path:
    """An ImageJ time series (TZCYX): 4 time points of 3 slices, 2 channels, 0.5 s apart."""
    rng = np.random.default_rng(3)
    clean = np.zeros((4, 3, 2, 32, 32))
    for t in range(4):
        clean[t, :, 0, 8 + t : 20 + t, 8:24] = 0.6  # a square that moves, in channel 0
    clean[:, :, 1] = np.linspace(0.2, 0.5, 32)
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
    path = tmp_path / "series.tif"
    tifffile.imwrite(path, (noisy * 65535).astype(np.uint16), imagej=True, resolution=(4.0, 4.0),
                     metadata={"axes": "TZCYX", "spacing": 1.0, "unit": "micron", "finterval": 0.5})
    return path


def test_each_time_point_is_smoothed_on_its_own(time_series: Path, tmp_path: Path) -> None:
    from peronamalik import diffuse
    from peronamalik.core.arrays import from_float

    assert main(["smooth", str(time_series), "-o", str(tmp_path / "out.tif"), "--kappa", "0.2", "-q"]) == 0
    loaded, result = read_image(time_series), read_image(tmp_path / "out.tif")
    assert result.array.shape == loaded.array.shape and result.time_axis == 0
    for t in range(4):
        alone = diffuse(loaded.array[t], kappa=0.2, iterations=20, channel_axis=-1)
        np.testing.assert_array_equal(result.array[t], from_float(alone, np.uint16))
    assert result.metadata == loaded.metadata and result.metadata.time_interval == 0.5
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.series[0].axes == "TZCYX" and tif.imagej_metadata["finterval"] == 0.5


def test_auto_parameters_of_a_series_come_from_its_middle_time_point(time_series: Path, tmp_path: Path) -> None:
    from peronamalik import estimate_parameters

    result = run(time_series, "-o", tmp_path / "out.tif", "--kappa", "auto", "--iterations", "auto")
    assert result.returncode == 0
    chosen = estimate_parameters(read_image(time_series).array[2], kappa="auto", iterations="auto", channel_axis=-1)
    assert result.stdout.strip() == f"{chosen.describe()} (on time point 3 of 4)"


@pytest.mark.parametrize("option", [["--every", "5"], ["--channel-axis", "0"]])
def test_options_of_one_image_are_refused_for_a_series(time_series: Path, tmp_path: Path, option: list[str]) -> None:
    result = run(time_series, "-o", tmp_path / "out.gif", *option)
    assert result.returncode == 2
    assert_one_line(result.stderr, f"{option[0]} is not available for a time series")
    assert not (tmp_path / "out.gif").exists()


def test_a_compare_picture_the_format_cannot_hold_is_refused_before_the_work(time_series: Path, tmp_path: Path) -> None:
    """Two channels side by side do not fit a PNG: said at once, naming the file asked for
    (it was said after the diffusion, naming the hidden temporary)."""
    result = run(time_series, "-o", tmp_path / "out.tif", "--compare", tmp_path / "compare.png")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "warning" not in line]
    assert len(lines) == 1 and f"cannot write {tmp_path / 'compare.png'}: .png holds a 2-D grey or RGB image" in lines[0]
    assert not (tmp_path / "out.tif").exists() and not list(tmp_path.glob(".*"))


def test_an_evolution_of_a_p3_photo_is_shown_in_srgb(tmp_path: Path) -> None:
    """--every writes an animation, which carries no profile: its frames are converted to sRGB
    as art's are (the first frame is the photo itself)."""
    import io

    from tests.icc_profiles import rgb_profile

    p3 = rgb_profile()
    photo = np.random.default_rng(4).integers(30, 220, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "p3.png", icc_profile=p3)
    assert main(["smooth", str(tmp_path / "p3.png"), "-o", f"{tmp_path / 'frames'}/", "--every", "5", "--iterations", "10", "-q"]) == 0
    first = np.asarray(Image.open(sorted((tmp_path / "frames").glob("*.png"))[0]).convert("RGB"))
    with Image.open(tmp_path / "p3.png") as opened:
        converted = ImageCms.profileToProfile(opened, ImageCms.ImageCmsProfile(io.BytesIO(p3)), ImageCms.createProfile("sRGB"))
    np.testing.assert_array_equal(first, np.asarray(converted))
