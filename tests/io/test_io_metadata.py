"""Pixel size and colour profile, read from real files and written back
(:mod:`peronamalik.io.metadata`): ImageJ and OME TIFFs as tifffile writes them (Fiji's and
Bio-Formats' layouts), ICC profiles as Pillow writes them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from peronamalik.io.images import read_image, write_image
from peronamalik.io.metadata import PixelMetadata

SIZES = {"X": 0.2, "Y": 0.25, "Z": 1.5}


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def stack(shape: tuple[int, ...], dtype: type = np.uint16) -> np.ndarray:
    values = np.random.default_rng(0).random(shape)
    return (values * (255 if dtype == np.uint8 else 60000)).astype(dtype) if dtype != np.float32 else values.astype(dtype)


def write_imagej(path: Path, data: np.ndarray, axes: str, **options: object) -> Path:
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / SIZES["X"], 1 / SIZES["Y"]),
                     metadata={"spacing": SIZES["Z"], "unit": "micron", "axes": axes}, **options)
    return path


def write_ome(path: Path, data: np.ndarray, axes: str) -> Path:
    physical = {f"PhysicalSize{axis}": size for axis, size in SIZES.items() if axis in axes}
    tifffile.imwrite(path, data, ome=True, metadata={"axes": axes, **physical})
    return path


def rewrite(loaded, path: Path) -> None:
    """The loaded image written back through a float result, as ``smooth`` writes one."""
    array = loaded.array
    unit = array.astype(np.float64) / (np.iinfo(array.dtype).max if array.dtype.kind == "u" else 1.0)
    write_image(path, unit, like_dtype=array.dtype, channel_axis=loaded.channel_axis, metadata=loaded.metadata,
                time_axis=loaded.time_axis)


@pytest.mark.parametrize(
    ("writer", "data", "axes", "expected"),
    [
        (write_imagej, stack((4, 2, 24, 32)), "ZCYX", (1.5, 0.25, 0.2)),
        (write_imagej, stack((5, 24, 32), np.float32), "ZYX", (1.5, 0.25, 0.2)),
        (write_ome, stack((4, 3, 24, 32)), "ZCYX", (1.5, 0.25, 0.2)),
        (write_ome, stack((24, 32), np.float32), "YX", (0.25, 0.2)),
    ],
)
def test_microscopy_tiff_pixel_size_is_read_and_written_back(tmp_path: Path, writer, data, axes: str, expected) -> None:
    loaded = read_image(writer(tmp_path / "in.tif", data, axes))
    assert loaded.metadata.pixel_size == pytest.approx(expected)
    assert loaded.metadata.unit == "µm"
    rewrite(loaded, tmp_path / "out.tif")
    back = read_image(tmp_path / "out.tif")
    assert back.metadata == loaded.metadata
    np.testing.assert_array_equal(back.array, loaded.array)
    assert back.channel_axis == loaded.channel_axis
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:  # what Fiji and Bio-Formats read
        assert tif.series[0].axes == axes
        assert (tif.is_imagej, tif.is_ome) == (writer is write_imagej, writer is write_ome)


def test_imagej_rgb_keeps_its_samples_and_unit(tmp_path: Path) -> None:
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, stack((24, 32, 3), np.uint8), imagej=True, photometric="rgb", resolution=(4.0, 4.0),
                     metadata={"unit": "mm"})
    loaded = read_image(path)
    assert loaded.metadata.spacing() == (0.25, 0.25) and loaded.metadata.unit == "mm"
    rewrite(loaded, tmp_path / "out.tif")
    back = read_image(tmp_path / "out.tif")
    assert back.metadata == loaded.metadata and back.channel_axis == -1
    np.testing.assert_array_equal(back.array, loaded.array)


def test_a_stack_without_z_spacing_has_no_spacing_but_keeps_xy(tmp_path: Path) -> None:
    path = tmp_path / "noz.tif"
    tifffile.imwrite(path, stack((3, 24, 32)), imagej=True, resolution=(5.0, 5.0), metadata={"axes": "ZYX", "unit": "um"})
    metadata = read_image(path).metadata
    assert metadata.pixel_size == (None, 0.2, 0.2) and metadata.spacing() is None
    assert metadata.describe() == "? × 0.2 × 0.2 µm"


def test_plain_files_have_no_pixel_size(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "plain.tif", stack((3, 24, 32)), photometric="minisblack")
    np.save(tmp_path / "plain.npy", stack((3, 24, 32)))
    for name in ("plain.tif", "plain.npy"):
        assert read_image(tmp_path / name).metadata == PixelMetadata()


def test_unreadable_imagej_spacing_leaves_the_pixels_readable(tmp_path: Path) -> None:
    path = tmp_path / "odd.tif"
    description = "ImageJ=1.54f\nimages=3\nslices=3\nspacing=abc\nunit=micron\n"
    tifffile.imwrite(path, stack((3, 24, 32)), description=description, resolution=(5.0, 5.0), photometric="minisblack")
    loaded = read_image(path)
    assert loaded.array.shape == (3, 24, 32)
    assert loaded.metadata.spacing() is None


def test_a_layout_that_no_longer_fits_is_written_plain(tmp_path: Path) -> None:
    """Channels diffused as space (``--channel-axis none``) leave 4 spatial axes: the 3 pixel
    sizes no longer describe them, so the TIFF is written without them."""
    loaded = read_image(write_imagej(tmp_path / "in.tif", stack((4, 2, 24, 32)), "ZCYX"))
    write_image(tmp_path / "out.tif", loaded.array / 60000.0, like_dtype=np.uint16, channel_axis=None, metadata=loaded.metadata)
    back = read_image(tmp_path / "out.tif")
    assert back.array.shape == loaded.array.shape and back.metadata.pixel_size is None


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_icc_profile_is_kept(tmp_path: Path, suffix: str) -> None:
    profile = srgb_profile()
    Image.fromarray(stack((24, 32, 3), np.uint8)).save(tmp_path / f"in{suffix}", icc_profile=profile)
    loaded = read_image(tmp_path / f"in{suffix}")
    assert loaded.metadata.icc_profile == profile
    rewrite(loaded, tmp_path / f"out{suffix}")
    with Image.open(tmp_path / f"out{suffix}") as written:
        assert written.info.get("icc_profile") == profile


def test_icc_profile_of_a_16_bit_colour_png_is_a_valid_chunk(tmp_path: Path) -> None:
    """FFmpeg writes 16-bit colour PNGs, without a profile: an iCCP chunk is added, which
    Pillow reads and littleCMS parses, and the samples are untouched."""
    profile = srgb_profile()
    data = stack((24, 32, 3))
    write_image(tmp_path / "out.png", data / 60000.0, like_dtype=np.uint16, channel_axis=-1,
                metadata=PixelMetadata(icc_profile=profile))
    back = read_image(tmp_path / "out.png")
    assert back.metadata.icc_profile == profile and back.array.dtype == np.uint16
    np.testing.assert_array_equal(back.array, np.round(data / 60000.0 * 65535).astype(np.uint16))
    assert ImageCms.getProfileName(ImageCms.ImageCmsProfile(io.BytesIO(back.metadata.icc_profile))).strip()


def test_a_time_series_keeps_its_interval(tmp_path: Path) -> None:
    series = stack((4, 3, 24, 32))
    tifffile.imwrite(tmp_path / "in.ome.tif", series, ome=True, metadata={
        "axes": "TZYX", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 2.0,
        "TimeIncrement": 3.0, "TimeIncrementUnit": "min"})
    loaded = read_image(tmp_path / "in.ome.tif")
    assert loaded.time_axis == 0 and (loaded.metadata.time_interval, loaded.metadata.time_unit) == (3.0, "min")
    write_image(tmp_path / "out.tif", series / 60000.0, like_dtype=np.uint16, metadata=loaded.metadata, time_axis=0)
    back = read_image(tmp_path / "out.tif")
    assert back.metadata == loaded.metadata and back.time_axis == 0
    np.testing.assert_array_equal(back.array, np.round(series / 60000.0 * 65535).astype(np.uint16))


def test_ome_sizes_in_mixed_units_are_read_in_one(tmp_path: Path) -> None:
    """nm across, µm along z (QA): all three were dropped; now in X's unit."""
    tifffile.imwrite(tmp_path / "in.ome.tif", stack((3, 24, 32)), ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeX": 200.0, "PhysicalSizeXUnit": "nm", "PhysicalSizeY": 200.0,
        "PhysicalSizeYUnit": "nm", "PhysicalSizeZ": 1.5, "PhysicalSizeZUnit": "µm"})
    loaded = read_image(tmp_path / "in.ome.tif")
    assert loaded.metadata.spacing() == (1500.0, 200.0, 200.0) and loaded.metadata.unit == "nm"
    rewrite(loaded, tmp_path / "out.tif")
    assert read_image(tmp_path / "out.tif").metadata == loaded.metadata


def test_imagej_z_unit_of_its_own_is_converted(tmp_path: Path) -> None:
    description = "ImageJ=1.54f\nimages=3\nslices=3\nunit=micron\nzunit=nm\nspacing=300\n"
    tifffile.imwrite(tmp_path / "z.tif", stack((3, 24, 32)), description=description, resolution=(5.0, 5.0),
                     photometric="minisblack")
    assert read_image(tmp_path / "z.tif").metadata.spacing() == (0.3, 0.2, 0.2)


def test_three_8_bit_channels_stay_channels(tmp_path: Path) -> None:
    """A 3-channel uint8 composite (ZCYX) was written back as RGB samples (ZYXS)."""
    loaded = read_image(write_imagej(tmp_path / "in.tif", stack((4, 3, 24, 32), np.uint8), "ZCYX"))
    rewrite(loaded, tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.series[0].axes == "ZCYX" and tif.imagej_metadata["channels"] == 3
    np.testing.assert_array_equal(read_image(tmp_path / "out.tif").array, loaded.array)


def test_a_signed_16_bit_imagej_stack_keeps_its_calibration(tmp_path: Path) -> None:
    data = (stack((3, 24, 32)).astype(np.int32) - 30000).astype(np.int16)
    loaded = read_image(write_imagej(tmp_path / "in.tif", data, "ZYX"))
    write_image(tmp_path / "out.tif", loaded.array.astype(np.float64), like_dtype=np.int16, metadata=loaded.metadata)
    back = read_image(tmp_path / "out.tif")
    assert back.array.dtype == np.int16 and back.metadata == loaded.metadata
    np.testing.assert_array_equal(back.array, data)


def test_an_ome_files_images_are_not_stacked_into_a_volume(tmp_path: Path) -> None:
    """Two stage positions of the same shape were read as one 4-D volume and diffused
    across each other; the first is read, with a warning."""
    with tifffile.TiffWriter(tmp_path / "positions.ome.tif", ome=True) as writer:
        for position in range(2):
            writer.write(stack((3, 24, 32)) + position, metadata={"axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2})
    with pytest.warns(UserWarning, match="holds 2 images; only the first is read"):
        loaded = read_image(tmp_path / "positions.ome.tif")
    np.testing.assert_array_equal(loaded.array, stack((3, 24, 32)))


def test_a_profile_of_another_colour_space_is_not_kept(tmp_path: Path) -> None:
    """A CMYK JPEG is read as RGB: its CMYK profile would mislead a viewer of the result."""
    cmyk_profile = srgb_profile()[:16] + b"CMYK" + srgb_profile()[20:]
    Image.fromarray(stack((24, 32, 3), np.uint8)).convert("CMYK").save(tmp_path / "cmyk.jpg", icc_profile=cmyk_profile)
    with Image.open(tmp_path / "cmyk.jpg") as opened:
        assert opened.mode == "CMYK" and opened.info["icc_profile"] == cmyk_profile
    loaded = read_image(tmp_path / "cmyk.jpg")
    assert loaded.array.shape == (24, 32, 3) and loaded.metadata.icc_profile is None


@pytest.mark.parametrize(("written", "read"), [("sec", "s"), ("seconds", "s"), ("second", "s"), ("msec", "ms"), ("min", "min")])
def test_imagej_time_units_are_read_whole(tmp_path: Path, written: str, read: str) -> None:
    """"seconds" came back as "sonds" (a substring replace)."""
    tifffile.imwrite(tmp_path / "t.tif", stack((3, 24, 32)), imagej=True, metadata={"axes": "TYX", "finterval": 2.0, "tunit": written})
    assert read_image(tmp_path / "t.tif").metadata.time_unit == read


def test_a_series_without_imagej_or_ome_metadata_keeps_its_time_axis(tmp_path: Path) -> None:
    """tifffile's own axes (a "shaped" TIFF): the T axis was lost on writing, so smoothing the
    result again would have diffused across time (QA)."""
    series = stack((3, 24, 32, 2))
    tifffile.imwrite(tmp_path / "in.tif", np.moveaxis(series, -1, 1), metadata={"axes": "TCYX"})
    loaded = read_image(tmp_path / "in.tif")
    assert (loaded.time_axis, loaded.channel_axis) == (0, -1)
    rewrite(loaded, tmp_path / "out.tif")
    back = read_image(tmp_path / "out.tif")
    assert (back.time_axis, back.channel_axis) == (0, -1)
    np.testing.assert_array_equal(back.array, series)
