"""Still images and volumes: every format read back as written, bad files refused clearly."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import tifffile
from PIL import Image

from peronamalik.cli import main
from peronamalik.io.images import (
    check_image_output,
    from_unit,
    output_dtype,
    read_image,
    side_by_side,
    write_image,
)

RNG = np.random.default_rng(7)


def _unit(array: np.ndarray) -> np.ndarray:
    """The float image the core would make of ``array`` (uint8/uint16 to [0, 1], other
    integers as they are)."""
    if array.dtype.kind == "f":
        return array
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(array.dtype, 1.0)
    return array.astype(np.float64) / scale


ROUND_TRIPS = {
    "grey8.png": (RNG.integers(0, 256, (30, 41), dtype=np.uint8), None, "PNG"),
    "rgb8.png": (skimage.data.astronaut()[::8, ::8], -1, "PNG"),
    "grey16.png": (RNG.integers(0, 65536, (30, 41), dtype=np.uint16), None, "PNG"),
    "rgb16.png": (RNG.integers(0, 65536, (30, 41, 3), dtype=np.uint16), -1, "PNG"),
    "grey16.tif": (RNG.integers(0, 65536, (30, 41), dtype=np.uint16), None, "TIFF"),
    "rgb16.tiff": (RNG.integers(0, 65536, (30, 41, 3), dtype=np.uint16), -1, "TIFF"),
    "volume16.tif": (RNG.integers(0, 65536, (5, 30, 41), dtype=np.uint16), None, "TIFF"),
    "float32.tif": (RNG.random((30, 41), dtype=np.float32) * 7 - 2, None, "TIFF"),
    "float64.npy": (RNG.random((4, 30, 41)), None, "NPY"),
    "int16.npy": (RNG.integers(-32768, 32768, (30, 41), dtype=np.int16), None, "NPY"),
}


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_round_trip_keeps_dtype_and_values(tmp_path: Path, name: str) -> None:
    array, channel_axis, fmt = ROUND_TRIPS[name]
    path = tmp_path / name
    write_image(path, _unit(array), like_dtype=array.dtype, channel_axis=channel_axis)
    loaded = read_image(path)
    assert loaded.format == fmt
    assert loaded.channel_axis == channel_axis
    assert loaded.array.dtype == array.dtype
    np.testing.assert_array_equal(loaded.array, array)


def test_jpeg_round_trip(tmp_path: Path) -> None:
    photo = skimage.data.astronaut()[::4, ::4]
    write_image(tmp_path / "a.jpg", _unit(photo), like_dtype=np.uint8, channel_axis=-1)
    loaded = read_image(tmp_path / "a.jpg")
    assert (loaded.format, loaded.channel_axis, loaded.array.dtype) == ("JPEG", -1, np.uint8)
    assert np.abs(loaded.array.astype(int) - photo).mean() < 3


def test_multi_page_tiff_is_a_volume(tmp_path: Path) -> None:
    volume = RNG.integers(0, 65536, (4, 16, 20), dtype=np.uint16)
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:  # plain pages, no shape metadata
        for page in volume:
            tif.write(page, metadata=None)
    pages = [Image.fromarray(page) for page in volume[:, :, :16].astype(np.uint8)]
    pages[0].save(tmp_path / "pillow.tif", save_all=True, append_images=pages[1:])
    for name, expected in [("pages.tif", volume), ("pillow.tif", volume[:, :, :16].astype(np.uint8))]:
        loaded = read_image(tmp_path / name)
        assert loaded.channel_axis is None
        np.testing.assert_array_equal(loaded.array, expected)


def test_content_decides_not_extension(tmp_path: Path) -> None:
    array = RNG.integers(0, 65536, (8, 9), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "really_a_tiff.png", array)
    assert read_image(tmp_path / "really_a_tiff.png").format == "TIFF"


@pytest.mark.parametrize(
    ("mode", "shape", "expected_shape"),
    [("RGBA", (6, 7, 4), (6, 7, 3)), ("LA", (6, 7, 2), (6, 7)), ("P", (6, 7, 3), (6, 7, 3))],
)
def test_alpha_and_palette_are_dropped(tmp_path: Path, mode: str, shape: tuple[int, ...], expected_shape) -> None:
    data = RNG.integers(0, 256, shape, dtype=np.uint8)
    image = Image.fromarray(data).quantize(8) if mode == "P" else Image.fromarray(data, mode=mode)
    image.save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    assert loaded.array.shape == expected_shape and loaded.array.dtype == np.uint8
    if mode == "RGBA":
        np.testing.assert_array_equal(loaded.array, data[..., :3])


def test_one_bit_becomes_uint8(tmp_path: Path) -> None:
    Image.fromarray(np.eye(5, dtype=bool)).save(tmp_path / "bits.png")
    np.testing.assert_array_equal(read_image(tmp_path / "bits.png").array, np.eye(5, dtype=np.uint8) * 255)


def _corrupt_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")  # ~50 kB on disk, 4e8 pixels
    Image.new("1", (10000, 10000)).save(tmp_path / "bomb_warning.png")  # above MAX_IMAGE_PIXELS
    tifffile.imwrite(tmp_path / "bomb.tif", shape=(20000, 20000), dtype=np.uint8)  # sparse file
    np.lib.format.open_memmap(tmp_path / "bomb.npy", mode="w+", dtype=np.uint8, shape=(20000, 20000)).flush()
    Image.fromarray(skimage.data.camera()).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_text("not an image\n")
    np.save(tmp_path / "complex.npy", np.ones(3, complex))
    return {
        "missing": (tmp_path / "nope.png", "does not exist"),
        "folder": (tmp_path, "is a folder"),
        "text": (tmp_path / "text.png", "not an image"),
        "truncated": (tmp_path / "truncated.png", "truncated"),
        "bomb": (tmp_path / "bomb.png", "decompression bomb"),
        "bomb_warning": (tmp_path / "bomb_warning.png", "decompression bomb"),
        "bomb_tiff": (tmp_path / "bomb.tif", "decompression bomb"),
        "bomb_npy": (tmp_path / "bomb.npy", "decompression bomb"),
        "complex_npy": (tmp_path / "complex.npy", "complex"),
    }


def test_bad_files_raise_value_error_naming_the_file(tmp_path: Path) -> None:
    for label, (path, message) in _corrupt_files(tmp_path).items():
        with pytest.raises(ValueError, match=message) as caught:
            read_image(path)
        assert str(path) in str(caught.value), label


def test_output_dtype_rules() -> None:
    assert output_dtype("a.png", np.uint16) == np.uint16
    assert output_dtype("a.png", np.float32) == np.uint16
    assert output_dtype("a.png", np.int8) == np.uint8
    assert output_dtype("a.jpg", np.uint16) == np.uint8
    assert output_dtype("a.tif", np.float32) == np.float32
    assert output_dtype("a.npy", np.int16) == np.int16


def test_from_unit_clips_and_rounds() -> None:
    np.testing.assert_array_equal(from_unit(np.array([-0.1, 0.5, 0.501, 1.2]), np.uint8), [0, 128, 128, 255])
    # other integers keep their values: rounded and clipped to the dtype's range
    np.testing.assert_array_equal(from_unit(np.array([-4e4, 0.0, 7.6, 4e4]), np.int16), [-32768, 0, 8, 32767])
    big = from_unit(np.array([-1e30, 2.0**62, 1e30]), np.int64)
    np.testing.assert_array_equal(big, [np.iinfo(np.int64).min, 2**62, np.iinfo(np.int64).max - 1023])
    assert from_unit(np.array([3.5]), np.float32).tolist() == [3.5]


def test_write_refuses_unknown_extension_and_volumes_in_flat_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown image extension"):
        check_image_output(tmp_path / "a.xyz")
    with pytest.raises(ValueError, match=r"2-D grey or RGB"):
        write_image(tmp_path / "a.png", np.zeros((3, 4, 5)), like_dtype=np.uint8)
    assert list(tmp_path.iterdir()) == []


def test_side_by_side() -> None:
    before = skimage.data.astronaut()[::16, ::16]
    after = _unit(before)
    picture = side_by_side(before, after, channel_axis=-1)
    height, width = before.shape[:2]
    assert picture.dtype == np.float32 and picture.shape[0] == height and picture.shape[2] == 3
    np.testing.assert_allclose(picture[:, :width], after)
    np.testing.assert_allclose(picture[:, -width:], after)
    volume = np.arange(5 * 6 * 7, dtype=np.float64).reshape(5, 6, 7)
    flat = side_by_side(volume, volume)
    assert flat.ndim == 2 and flat.shape[0] == 6
    assert 0.0 < flat.min() and flat.max() <= 1.0  # float outside [0, 1]: rescaled for display


def write_png(path: Path, samples: np.ndarray, colour_type: int) -> None:
    """A 16-bit PNG written byte by byte (zlib + struct), independent of Pillow and FFmpeg.

    ``samples`` is ``H×W×C`` uint16, C = 1 (grey, type 0), 2 (grey+alpha, 4), 3 (RGB, 2)
    or 4 (RGBA, 6).
    """
    height, width = samples.shape[:2]
    rows = b"".join(b"\0" + samples[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(
    "colour_type, channels, kept",
    [(0, 1, 1), (4, 2, 1), (2, 3, 3), (6, 4, 3)],  # alpha is dropped, depth and colour kept
)
def test_every_16_bit_png_keeps_its_depth_and_colour(tmp_path: Path, colour_type, channels, kept) -> None:
    samples = RNG.integers(0, 65536, (9, 13, channels), dtype=np.uint16)
    samples[0, 0, 0] = 6144  # between two 8-bit levels: cut to 8 bits it would change
    write_png(tmp_path / "in.png", samples, colour_type)
    loaded = read_image(tmp_path / "in.png")
    expected = samples[..., :kept] if kept == 3 else samples[..., 0]
    assert loaded.array.dtype == np.uint16 and loaded.channel_axis == (-1 if kept == 3 else None)
    np.testing.assert_array_equal(loaded.array, expected)
    write_image(tmp_path / "out.png", _unit(loaded.array), like_dtype=loaded.array.dtype, channel_axis=loaded.channel_axis)
    again = read_image(tmp_path / "out.png")
    assert again.array.dtype == np.uint16 and again.array.shape == expected.shape
    np.testing.assert_array_equal(again.array, expected)


@pytest.mark.parametrize("name", ["out.png", "out.jpg"])
def test_values_outside_the_unit_range_are_clipped_with_one_warning(tmp_path: Path, name: str) -> None:
    image = np.linspace(-0.5, 1.5, 30 * 41, dtype=np.float32).reshape(30, 41)
    with pytest.warns(UserWarning, match=r"clipped to \[0, 1\]") as caught:
        write_image(tmp_path / name, image, like_dtype=np.float32)
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / ("in_range_" + name), image.clip(0, 1), like_dtype=np.float32)
        write_image(tmp_path / "kept.tif", image, like_dtype=np.float32)  # floats stored as they are


@pytest.mark.parametrize("name", ["anim.gif", "anim.png"])  # a GIF and an APNG of 3 frames
def test_an_animation_says_only_its_first_frame_is_smoothed(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA: a 3-frame GIF or APNG lost frames 2 and 3 with rc 0 and no word."""
    frames = [np.full((20, 24, 3), level, np.uint8) for level in (30, 140, 250)]
    frames[0][5:15, 6:18] = 200
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(tmp_path / name, save_all=True, append_images=images[1:], duration=100, loop=0)
    Image.fromarray(frames[0]).save(tmp_path / "still.png")

    loaded = read_image(tmp_path / "still.png")
    assert loaded.frames == 1
    with pytest.warns(UserWarning, match=r"has 3 frames; only the first is read") as caught:
        loaded = read_image(tmp_path / name)
    assert len(caught) == 1 and loaded.frames == 3
    np.testing.assert_array_equal(loaded.array, frames[0])  # the first frame, not a later one

    out = tmp_path / f"m-{name}"
    assert main(["smooth", str(tmp_path / name), "-o", str(out), "--iterations", "1"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warned == [f"peronamalik: warning: {tmp_path / name} has 3 frames; only the first is read "
                      "(the other 2 are dropped)"]
    with Image.open(out) as written:
        assert written.n_frames == 1 and written.size == (24, 20)
    assert main(["smooth", str(tmp_path / "still.png"), "-o", str(tmp_path / "m.png"), "--iterations", "1"]) == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize("dtype, top", [(np.int8, 255), (np.int16, 65535)])
def test_integers_stored_unscaled_warn_in_their_own_values(tmp_path: Path, dtype: type, top: int) -> None:
    """QA: int8 -49..49 written as PNG holds 0..49, but the warning said
    ``values in [-0.1922, 0.1922] clipped to [0, 1]`` (the range over 255)."""
    values = np.arange(-49, 50, dtype=dtype).reshape(9, 11)
    np.save(tmp_path / "in.npy", values)
    loaded = read_image(tmp_path / "in.npy")
    with pytest.warns(UserWarning) as caught:
        write_image(tmp_path / "out.png", loaded.array.astype(np.float32), like_dtype=loaded.array.dtype)
    assert len(caught) == 1
    assert str(caught[0].message).startswith(f"values in [-49, 49] clipped to [0, {top}] to write .png as ")
    stored = read_image(tmp_path / "out.png").array
    np.testing.assert_array_equal(stored, values.clip(0, None))  # what the warning says
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the values the PNG holds: no warning
        write_image(tmp_path / "kept.png", values.clip(0, None).astype(np.float32), like_dtype=dtype)
