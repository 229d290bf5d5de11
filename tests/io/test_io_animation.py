"""Animation writers: every kind reads back, partial output on Ctrl-C, nothing on errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageSequence

from peronamalik.io.animation import check_output, check_output_kind, needs_even_size, open_frame_writer, read_frames


def _write(path: Path | str, frames: list[np.ndarray], **options) -> Path:
    with open_frame_writer(path, fps=options.pop("fps", 10), overwrite=options.pop("overwrite", False), **options) as w:
        for frame in frames:
            w.write(frame)
    return w.path


def _av_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("name", ["a.gif", "a.webp"])
def test_looping_animations_read_back_with_pillow(tmp_path: Path, frames: list[np.ndarray], name: str) -> None:
    path = _write(tmp_path / name, frames)
    with Image.open(path) as image:
        assert image.n_frames == len(frames)
        assert image.info["loop"] == 0
        assert image.size == (45, 31)
        image.seek(3)
        error = np.abs(np.asarray(image.convert("RGB")).astype(int) - frames[3]).mean()
    assert error < 6
    assert _entries(tmp_path) == [name]


def test_gif_dither_option(tmp_path: Path, frames: list[np.ndarray]) -> None:
    with Image.open(_write(tmp_path / "d.gif", frames, dither=True)) as image:
        assert image.n_frames == len(frames)


@pytest.mark.parametrize(("name", "size"), [("a.mp4", (32, 46)), ("a.mkv", (32, 46)), ("a.webm", (31, 45))])
def test_videos_read_back_and_h264_gets_even_size(tmp_path: Path, frames, name: str, size) -> None:
    path = _write(tmp_path / name, frames, fps=12)
    decoded = list(read_frames(path))
    assert len(decoded) == _av_count(path) == len(frames)
    assert decoded[0].shape == (*size, 3)
    # the padding replicates the edge, so the picture itself is unchanged
    assert np.abs(decoded[2][:31, :45].astype(int) - frames[2]).mean() < 6
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == 12


def test_only_h264_needs_even_sizes() -> None:
    assert [needs_even_size(f"a.{kind}") for kind in ("mp4", "MKV", "webm", "webp", "gif", "png")] == [
        True, True, False, False, False, False]


def test_png_keeps_last_frame_and_folder_keeps_all(tmp_path: Path, frames: list[np.ndarray]) -> None:
    np.testing.assert_array_equal(np.asarray(Image.open(_write(tmp_path / "last.png", frames))), frames[-1])
    folder = _write(f"{tmp_path / 'frames'}/", frames)
    assert _entries(folder) == [f"frame_{i:05d}.png" for i in range(len(frames))]
    np.testing.assert_array_equal(np.asarray(Image.open(folder / "frame_00004.png")), frames[4])


@pytest.mark.parametrize("name", ["a.gif", "a.webp", "a.mp4", "a.webm", "a.png", "frames/"])
def test_ctrl_c_keeps_the_frames_written_so_far(tmp_path: Path, frames: list[np.ndarray], name: str) -> None:
    target = Path(f"{tmp_path}/{name}")
    with pytest.raises(KeyboardInterrupt):
        with open_frame_writer(f"{tmp_path}/{name}", fps=10, overwrite=False) as writer:
            for index, frame in enumerate(frames):
                if index == 3:
                    raise KeyboardInterrupt
                writer.write(frame)
    assert writer.frames_written == 3
    assert _entries(tmp_path) == [target.name]
    if name == "frames/":
        assert len(_entries(target)) == 3
    elif name == "a.png":
        np.testing.assert_array_equal(np.asarray(Image.open(target)), frames[2])
    elif name in ("a.gif", "a.webp"):
        with Image.open(target) as image:
            assert image.n_frames == 3
    else:
        assert _av_count(target) == 3


@pytest.mark.parametrize("name", ["a.gif", "a.mp4", "frames/"])
def test_other_errors_leave_nothing_and_keep_the_old_output(tmp_path: Path, frames, name: str) -> None:
    with pytest.raises(RuntimeError):
        with open_frame_writer(f"{tmp_path}/{name}", fps=10, overwrite=False) as writer:
            writer.write(frames[0])
            raise RuntimeError("boom")
    assert _entries(tmp_path) == []
    old = _write(f"{tmp_path}/{name}", frames[:2])
    with pytest.raises(RuntimeError):
        with open_frame_writer(f"{tmp_path}/{name}", fps=10, overwrite=True) as writer:
            writer.write(frames[0])
            raise RuntimeError("boom")
    assert _entries(tmp_path) == [old.name]
    count = len(_entries(old)) if old.is_dir() else _av_count(old)
    assert count == 2


def test_ctrl_c_before_any_frame_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with open_frame_writer(tmp_path / "a.gif", fps=10, overwrite=False):
            raise KeyboardInterrupt
    assert _entries(tmp_path) == []


def test_no_frames_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        with open_frame_writer(tmp_path / "a.mp4", fps=10, overwrite=False):
            pass
    assert _entries(tmp_path) == []


def test_output_kinds(tmp_path: Path) -> None:
    assert check_output_kind("x.GIF") == "gif"
    assert check_output_kind("x.webm") == "webm"
    assert check_output_kind("frames/") == "folder"
    assert check_output_kind(tmp_path) == "folder"
    for bad in ("x.avi", "x.jpg", "noextension"):
        with pytest.raises(ValueError, match="extension"):
            check_output_kind(bad)


def test_writer_refuses_before_any_work(tmp_path: Path, frames: list[np.ndarray]) -> None:
    with pytest.raises(ValueError, match="unknown extension"):
        open_frame_writer(tmp_path / "a.xyz", fps=10, overwrite=True)
    with pytest.raises(ValueError, match="fps"):
        open_frame_writer(tmp_path / "a.gif", fps=0, overwrite=True)
    (tmp_path / "old.gif").write_bytes(b"keep")
    with pytest.raises(ValueError, match="exists; pass --overwrite"):
        open_frame_writer(tmp_path / "old.gif", fps=10, overwrite=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(ValueError, match="other than numbered frames"):
        check_output(photos, overwrite=True)
    assert _entries(tmp_path) == ["old.gif", "photos"]
    assert (tmp_path / "old.gif").read_bytes() == b"keep"


def test_a_folder_of_frames_is_replaced_with_overwrite(tmp_path: Path, frames: list[np.ndarray]) -> None:
    folder = _write(f"{tmp_path}/f/", frames)
    _write(folder, frames[:2], overwrite=True)
    assert _entries(folder) == ["frame_00000.png", "frame_00001.png"]
    assert _entries(tmp_path) == ["f"]


def test_bad_frames(tmp_path: Path, frames: list[np.ndarray]) -> None:
    with pytest.raises(TypeError, match="uint8"):
        _write(tmp_path / "a.gif", [frames[0].astype(np.float32)])
    with pytest.raises(ValueError, match=r"\(height, width, 3\)"):
        _write(tmp_path / "a.gif", [frames[0][..., 0]])
    with pytest.raises(ValueError, match="one shape"):
        _write(tmp_path / "a.gif", [frames[0], frames[1][:-1]])
    assert _entries(tmp_path) == []


def _audio_codec(path: Path) -> str | None:
    with av.open(str(path)) as container:
        streams = container.streams.audio
        return streams[0].codec_context.name if streams else None


@pytest.mark.parametrize(
    ("source_audio", "name", "expected"),
    [("aac", "a.mp4", "aac"), ("aac", "a.webm", "opus"), ("libopus", "a.mkv", "opus"), (None, "a.mp4", None)],
)
def test_audio_is_copied_where_the_container_allows(tmp_path, make_clip, source_audio, name, expected) -> None:
    source = make_clip("source.mp4" if source_audio != "libopus" else "source.webm", audio=source_audio)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "the aac audio is re-encoded", UserWarning)  # WebM takes no AAC
        output = _write(tmp_path / name, list(read_frames(source)), audio_from=source)
    assert _audio_codec(output) == expected
    assert _av_count(output) == 20
    if expected:
        with av.open(str(output)) as container:
            audio_seconds = sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))
        assert 1.8 < audio_seconds < 2.2  # 20 frames at 10 fps


def test_audio_is_ignored_for_gif(tmp_path: Path, make_clip) -> None:
    source = make_clip("source.mp4", audio="aac")
    output = _write(tmp_path / "a.gif", list(read_frames(source))[:3], audio_from=source)
    with Image.open(output) as image:
        assert image.n_frames == 3


def _decoded_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], axis=1)


@pytest.mark.parametrize(
    ("source_name", "codec", "name", "copied"),
    [
        ("source.mp4", "aac", "a.mp4", True),  # MP4's edit list cuts the priming
        ("source.mp4", "aac", "a.mkv", True),  # Matroska's CodecDelay cuts it
        ("source.mkv", "aac", "a.mkv", True),
        ("source.webm", "libopus", "a.mkv", True),
        ("source.mp4", "aac", "a.webm", False),  # WebM takes no AAC: Opus
        ("source.webm", "libopus", "a.mp4", False),  # millisecond time stamps: re-encoded
        ("source.mkv", "aac", "a.mp4", False),
    ],
)
def test_audio_starts_where_the_source_starts(tmp_path, make_clip, source_name, codec, name, copied) -> None:
    """The encoder's priming samples (the first AAC packet, time stamp -1024 samples; Opus's
    pre-skip) are kept and cut by the decoder: the first 2048 decoded samples are the
    source's, bit for bit when the packets are copied, and in step (cross-correlation at
    lag 0, within the codec's loss) when re-encoded, which is said with a warning."""
    source = make_clip(source_name, audio=codec)
    if copied:
        output = _write(tmp_path / name, list(read_frames(source)), audio_from=source)
    else:
        with pytest.warns(UserWarning, match="re-encoded"):
            output = _write(tmp_path / name, list(read_frames(source)), audio_from=source)
    original, written = _decoded_audio(source)[0, :2048], _decoded_audio(output)[0, :2048]
    if copied:
        np.testing.assert_array_equal(written, original)
    else:
        correlation = np.correlate(written, original, "full")
        assert correlation.argmax() == original.size - 1  # lag 0
        assert np.abs(written - original).max() < 0.05


def _luma_plane(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane as stored (no conversion)."""
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]


def _bt709_luma(rgb: tuple[int, int, int], full: bool) -> float:
    """Y' of an 8-bit RGB colour by BT.709's formula (Kr 0.2126, Kb 0.0722)."""
    y = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255
    return 255 * y if full else 16 + 219 * y


@pytest.mark.parametrize("name", ["a.mp4", "a.mkv", "a.webm"])
def test_videos_are_converted_and_tagged_as_bt709(tmp_path: Path, name: str) -> None:
    rgb = (200, 40, 90)  # Y' is 84 under BT.709, 92 under BT.601
    output = _write(tmp_path / name, [np.full((32, 32, 3), rgb, np.uint8)] * 3)
    with av.open(str(output)) as container:
        frame = next(container.decode(video=0))
        tags = (frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc)
        luma = _luma_plane(frame).mean()
    assert tags == (1, 1, 1, 1)  # BT.709 matrix, limited range, BT.709 primaries and transfer
    assert abs(luma - _bt709_luma(rgb, full=False)) < 1.5


def test_videos_take_the_colour_they_are_given(tmp_path: Path) -> None:
    from peronamalik.io.video import Colour

    wanted = Colour(space=1, range=2, primaries=1, trc=13)  # BT.709 full range, sRGB transfer
    rgb = (200, 40, 90)
    output = _write(tmp_path / "a.mp4", [np.full((32, 32, 3), rgb, np.uint8)] * 3, colour=wanted)
    with av.open(str(output)) as container:
        frame = next(container.decode(video=0))
        assert (frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc) == wanted
        assert abs(_luma_plane(frame).mean() - _bt709_luma(rgb, full=True)) < 1.5
    assert np.abs(next(read_frames(output)).astype(int) - rgb).max() <= 3


@pytest.mark.parametrize("name", ["a.gif", "a.webp"])
@pytest.mark.parametrize("fps", [60, 100, 999])
def test_browser_animations_above_50_fps_are_capped_with_a_warning(tmp_path: Path, frames, name: str, fps: int) -> None:
    with pytest.warns(UserWarning, match="50 fps"):
        output = _write(tmp_path / name, frames, fps=fps)
    assert len(_delays(output)) == len(frames) and min(_delays(output)) >= 20


def test_browser_animations_at_50_fps_or_less_keep_their_rate_silently(tmp_path: Path, frames) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output = _write(tmp_path / "a.gif", frames, fps=50)
    assert _delays(output) == [20] * len(frames)


def _delays(path: Path) -> list[int]:
    """Each frame's delay in ms, as Pillow reads it."""
    delays = []
    with Image.open(path) as image:
        for frame in ImageSequence.Iterator(image):
            frame.load()
            delays.append(frame.info["duration"])
    return delays
