"""TIFF layouts microscopy software writes, read as the file names its axes (QA round 5):
pages written one by one, ImageJ hyperstack channels and time, extra samples that are data
or alpha, min-is-white, and compressions tifffile needs another package for."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import tifffile

from peronamalik.cli import main
from peronamalik.io.images import read_image

RAMP = (np.arange(24 * 32).reshape(24, 32) * 80).astype(np.uint16)


def test_pages_written_one_by_one_are_a_volume(tmp_path: Path) -> None:
    """``imwrite(..., append=True)`` per slice gives one series per page: the first alone was
    read, five of six slices dropped without a word."""
    for index in range(6):
        tifffile.imwrite(tmp_path / "stack.tif", RAMP + index, append=True)
    loaded = read_image(tmp_path / "stack.tif")
    np.testing.assert_array_equal(loaded.array, np.stack([RAMP + index for index in range(6)]))
    assert loaded.channel_axis is None


def test_images_of_different_kinds_read_the_first_with_a_warning(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "two.tif", RAMP, append=True)
    tifffile.imwrite(tmp_path / "two.tif", RAMP[:8, :8], append=True)
    with pytest.warns(UserWarning, match="holds 2 images of different kinds; only the first is read"):
        loaded = read_image(tmp_path / "two.tif")
    np.testing.assert_array_equal(loaded.array, RAMP)


def test_imagej_channels_are_channels_not_space(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ZCYX hyperstack's channels were diffused as a fourth spatial axis: a zero channel
    reached 2009 counts.  Now C is the channel axis, and a zero channel stays zero."""
    stack = np.stack([np.stack([RAMP, np.zeros_like(RAMP)])] * 4)  # Z, C, Y, X
    tifffile.imwrite(tmp_path / "zcyx.tif", stack, imagej=True, metadata={"axes": "ZCYX"})
    loaded = read_image(tmp_path / "zcyx.tif")
    assert loaded.array.shape == (4, 24, 32, 2) and loaded.channel_axis == -1
    assert main(["smooth", str(tmp_path / "zcyx.tif"), "-o", str(tmp_path / "out.tif"), "--iterations", "5"]) == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:  # a hyperstack again, as Fiji wrote it
        assert tif.is_imagej and tif.series[0].axes == "ZCYX"
        out = tif.asarray()
    assert out.shape == (4, 2, 24, 32) and out.dtype == np.uint16
    assert out[:, 1].max() == 0 and out[:, 0].max() > 0


def test_a_time_axis_comes_first(tmp_path: Path) -> None:
    """A time series was refused; its time points are now axis 0 (``time_axis``), whatever
    their place in the file, and its channels last."""
    series = np.stack([np.stack([RAMP + t, RAMP * 0 + t]) for t in range(3)])  # T, C, Y, X
    tifffile.imwrite(tmp_path / "tcyx.tif", series, imagej=True, metadata={"axes": "TCYX"})
    tifffile.imwrite(tmp_path / "ctyx.ome.tif", series.swapaxes(0, 1), ome=True, metadata={"axes": "CTYX"})
    for name in ("tcyx.tif", "ctyx.ome.tif"):
        loaded = read_image(tmp_path / name)
        assert (loaded.time_axis, loaded.channel_axis) == (0, -1)
        np.testing.assert_array_equal(loaded.array, np.moveaxis(series, 1, -1))
    assert not (tmp_path / "out.tif").exists()


def test_extra_samples_are_data_unless_tagged_alpha(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three grey samples per pixel (extra samples 'unspecified': data) kept only the first;
    grey plus alpha in float32, which Pillow cannot open, dropped the alpha without the
    warning the help promises."""
    samples = np.stack([RAMP, RAMP // 2, RAMP // 3], axis=-1)
    tifffile.imwrite(tmp_path / "ms.tif", samples, photometric="minisblack", planarconfig="contig")
    loaded = read_image(tmp_path / "ms.tif")
    np.testing.assert_array_equal(loaded.array, samples)
    assert loaded.channel_axis == -1 and not loaded.alpha
    grey_alpha = np.stack([RAMP, RAMP], axis=-1).astype(np.float32) / 65535
    tifffile.imwrite(tmp_path / "ga.tif", grey_alpha, photometric="minisblack", extrasamples=["unassalpha"])
    loaded = read_image(tmp_path / "ga.tif")
    np.testing.assert_array_equal(loaded.array, grey_alpha[..., 0])
    assert loaded.alpha and loaded.channel_axis is None
    assert main(["smooth", str(tmp_path / "ga.tif"), "-o", str(tmp_path / "out.tif"), "--iterations", "2"]) == 0
    assert "ga.tif has an alpha channel; it is dropped" in capsys.readouterr().err


def test_sixteen_bit_min_is_white_reads_as_shown(tmp_path: Path) -> None:
    """Min-is-white stores the negative: 16-bit came out inverted (the 8-bit Pillow path did not)."""
    tifffile.imwrite(tmp_path / "mw16.tif", RAMP, photometric="miniswhite")
    np.testing.assert_array_equal(read_image(tmp_path / "mw16.tif").array, 65535 - RAMP)
    eight = (RAMP >> 8).astype(np.uint8)
    tifffile.imwrite(tmp_path / "mw8.tif", eight, photometric="miniswhite")
    np.testing.assert_array_equal(read_image(tmp_path / "mw8.tif").array, 255 - eight)


@pytest.mark.skipif(importlib.util.find_spec("imagecodecs") is not None, reason="imagecodecs reads LZW")
def test_lzw_without_imagecodecs_names_the_package(tmp_path: Path) -> None:
    """An LZW TIFF was called 'corrupt or truncated'; it needs the imagecodecs package."""
    from PIL import Image

    Image.fromarray(RAMP).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    with pytest.raises(ValueError, match=r"its compression needs the 'imagecodecs' package \(pip install imagecodecs\)"):
        read_image(tmp_path / "lzw.tif")
