"""``peronamalik video``: real clips in, real files out, one-line errors with exit 2."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import av
from av.video.reformatter import ColorPrimaries, Colorspace, ColorTrc
import numpy as np
import pytest
from PIL import Image

from peronamalik.cli import main
from peronamalik.core.threads import torch_threads
from peronamalik.io.video import probe, read_frames

from clips import moving_shapes
from tests.cli.runs import wait_for_progress


@pytest.fixture(autouse=True, scope="module")
def _single_torch_thread() -> Iterator[None]:
    """Tiny frames: one intra-op thread avoids OpenMP stalls on a loaded 2-core machine."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def talking_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 frames of 64×48 at 8 frames/s, H.264 with a 2-second AAC tone, written by PyAV."""
    path = tmp_path_factory.mktemp("clips") / "talk.mp4"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=8)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=44100)
        for index, frame in enumerate(moving_shapes(16, width=64, height=48)):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = index
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        tone = (0.2 * np.sin(np.arange(2 * 44100) * 2 * np.pi * 330 / 44100)).astype(np.float32)[None]
        sound = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        sound.sample_rate, sound.pts = 44100, 0
        container.mux(audio.encode(sound))
        container.mux(audio.encode(None))
    return path


def frames_in(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(path)) for path in sorted(folder.glob("frame_*.png"))]


def test_video_keeps_frames_rate_size_and_audio(talking_clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["video", str(talking_clip), "-o", str(out), "--seed", "1"]) == 0
    info = probe(out)
    assert (info.frame_count, info.fps, info.width, info.height, info.has_audio) == (16, 8.0, 64, 48, True)
    assert len(list(read_frames(out))) == 16
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    record = json.loads((tmp_path / "out.mp4.json").read_text())
    assert (record["preset"], record["seed"], record["frames"]) == ("video", 1, 16)
    err = capsys.readouterr().err
    assert f"wrote {out}" in err
    assert "16/16" in err and "frame" in err  # the bar knew the container's frame count


@pytest.mark.parametrize("name", ["in.mov", "in.mkv", "in.avi", "in.webp"])
def test_other_containers_and_animated_webp(name, tmp_path):
    frames = list(moving_shapes(6, width=32, height=24))
    source = tmp_path / name
    if source.suffix == ".webp":
        images = [Image.fromarray(frame) for frame in frames]
        images[0].save(source, save_all=True, append_images=images[1:], duration=100, loop=0, lossless=True)
    else:
        with av.open(str(source), "w") as container:
            stream = container.add_stream("mpeg4" if source.suffix == ".avi" else "libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
            for index, frame in enumerate(frames):
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                picture.pts = index
                container.mux(stream.encode(picture))
            container.mux(stream.encode(None))
    assert main(["video", str(source), "-o", str(tmp_path / "out.webp")]) == 0
    info = probe(tmp_path / "out.webp")
    assert (info.frame_count, info.width, info.height) == (6, 32, 24)
    assert info.fps == pytest.approx(10.0)


def test_size_fps_preset_and_set_flags(talking_clip, tmp_path):
    out = tmp_path / "small.gif"
    argv = [str(talking_clip), "-o", str(out), "--size", "32", "--fps", "5", "--preset", "glow", "--set", "frame_blend=0.5"]
    assert main(["video", *argv]) == 0
    info = probe(out)
    assert (info.frame_count, info.width, info.height) == (10, 32, 24)  # 2 s at 5 fps
    assert info.fps == pytest.approx(5.0)
    config = json.loads((tmp_path / "small.gif.json").read_text())["config"]
    assert (config["size"], config["frame_blend"], config["fps"]) == (32, 0.5, 5.0)


def test_gif_quality_and_dither_reach_the_video_writer(talking_clip, tmp_path):
    """--quality low: at most 31 colours in every decoded frame, a smaller file than high;
    --dither is taken too (same frame count)."""
    from PIL import ImageSequence

    colours, sizes = {}, {}
    for quality, extra in (("high", []), ("low", []), ("low", ["--dither"])):
        out = tmp_path / f"{quality}{len(extra)}.gif"
        assert main(["video", str(talking_clip), "-o", str(out), "--seed", "1", "-q", "--quality", quality, *extra]) == 0
        with Image.open(out) as image:
            frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(image)]
        assert len(frames) == 16
        colours[out.name] = max(len(np.unique(f.reshape(-1, 3), axis=0)) for f in frames)
        sizes[out.name] = out.stat().st_size
    assert colours["low0.gif"] <= 31 < colours["high0.gif"] and colours["low1.gif"] <= 31
    assert sizes["low0.gif"] < sizes["high0.gif"]


def test_photo_presets_keep_the_frame_size(talking_clip, tmp_path):
    assert main(["video", str(talking_clip), "-o", f"{tmp_path}/frames/", "--preset", "ember", "--no-audio"]) == 0
    assert frames_in(tmp_path / "frames")[0].shape == (48, 64, 3)


def test_sidecar_renders_the_same_frames_again(talking_clip, tmp_path):
    first, again = f"{tmp_path}/first/", f"{tmp_path}/again/"
    assert main(["video", str(talking_clip), "-o", first, "--preset", "ember", "--seed", "9"]) == 0
    assert main(["video", str(talking_clip), "-o", again, "--config", f"{tmp_path}/first.json"]) == 0
    record = json.loads((tmp_path / "again.json").read_text())
    assert (record["preset"], record["seed"]) == ("ember", 9)
    one, two = frames_in(tmp_path / "first"), frames_in(tmp_path / "again")
    assert len(one) == 16 and all(np.array_equal(a, b) for a, b in zip(one, two))


def test_truncated_input_warns_in_one_line_and_keeps_its_frames(tmp_path, capsys):
    source = tmp_path / "full.mp4"
    rng = np.random.default_rng(1)
    with av.open(str(source), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for index in range(30):
            picture = av.VideoFrame.from_ndarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8), format="rgb24")
            picture.pts = index
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
    half = tmp_path / "half.mp4"
    half.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    assert main(["video", str(half), "-o", f"{tmp_path}/frames/"]) == 0
    warning = [line for line in re.split(r"[\r\n]", capsys.readouterr().err) if "warning" in line]
    count = len(frames_in(tmp_path / "frames"))
    assert 0 < count < 30
    assert warning == [f"peronamalik: warning: {half} looks truncated or corrupt; read the {count} frames it holds"]


def test_webcam_without_display_or_camera_fails_in_one_line(tmp_path, capsys):
    pytest.importorskip("cv2")
    code = main(["video", "--webcam", "-o", str(tmp_path / "live.mp4")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no display/GUI available" in err or "no camera available" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "-o", "{out}"], "does not exist"),
        (["{junk}", "-o", "{out}"], "cannot read"),
        (["{clip}", "-o", "{tmp}/out.avi"], "unknown extension"),
        (["{clip}", "-o", "{out}", "--set", "k=-1"], "kappa must be in [1e-30, 1e+30]"),
        (["{clip}", "-o", "{out}", "--set", "nope=1"], "unknown config field"),
        (["{clip}", "-o", "{out}", "--size", "3"], "size must be an integer in [8, 65535]"),
        (["{clip}", "-o", "{out}", "--fps", "0"], "fps must be"),
        (["{clip}", "-o", "{out}", "--fps", "nan"], "fps must be a finite number"),
        (["{clip}", "-o", "{out}", "--fps=-inf"], "fps must be a finite number"),
        (["{clip}", "-o", "{out}", "--device", "cuda:7"], "device"),
        (["-o", "{out}"], "give either INPUT or --webcam"),
        (["{clip}", "--webcam", "1"], "give either INPUT or --webcam"),
        (["{tmp}", "-o", "{out}"], "is a directory"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(talking_clip, tmp_path, capsys, args, message):
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"moov" * 50)
    names = dict(missing=tmp_path / "missing.mp4", junk=junk, clip=talking_clip, out=tmp_path / "out.mp4", tmp=tmp_path)
    code = main(["video", *(arg.format(**names) for arg in args)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mov"]


def test_existing_output_is_kept_without_overwrite(talking_clip, tmp_path, capsys):
    out = tmp_path / "out.webm"
    out.write_bytes(b"precious")
    assert main(["video", str(talking_clip), "-o", str(out)]) == 2
    assert out.read_bytes() == b"precious" and "exists" in capsys.readouterr().err
    assert main(["video", str(talking_clip), "-o", str(out), "--overwrite"]) == 0
    assert probe(out).frame_count == 16 and probe(out).has_audio


def clip_with_tone(path: Path, count: int, fps: int, *, rotation: int = 0, space: str | None = None) -> Path:
    """``count`` frames of moving shapes at ``fps`` with an AAC tone as long as the video;
    optionally a display rotation and a colour matrix (converted with and tagged as it)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        if space is not None:
            video.codec_context.colorspace = Colorspace[space]
            video.codec_context.color_primaries = ColorPrimaries[space if space != "ITU709" else "BT709"]
            video.codec_context.color_trc = ColorTrc[space if space != "ITU709" else "BT709"]
        audio = container.add_stream("aac", rate=44100)
        for index, frame in enumerate(moving_shapes(count, width=64, height=48)):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            if space is not None:
                picture = picture.reformat(format="yuv420p", dst_colorspace=space, dst_color_range="MPEG")
            picture.pts = index
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        samples = round(count / fps * 44100)
        tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 330 / 44100)).astype(np.float32)[None]
        sound = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        sound.sample_rate, sound.pts = 44100, 0
        container.mux(audio.encode(sound))
        container.mux(audio.encode(None))
    return path


def durations(path: Path) -> tuple[float, float]:
    """Seconds of decoded video (frames × frame duration) and of decoded audio."""
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        sample_rate = container.streams.audio[0].rate
    return frames / float(rate), samples / sample_rate


@pytest.mark.parametrize("fps, frames", [(10, 20), (50, 100)])
def test_another_frame_rate_resamples_and_keeps_audio_in_sync(tmp_path, fps, frames):
    """50 frames at 25 fps with 2 s of audio: at 10 fps 20 frames, at 50 fps 100, still 2 s."""
    source = clip_with_tone(tmp_path / "in.mp4", 50, 25)
    out = tmp_path / "out.mp4"
    assert main(["video", str(source), "-o", str(out), "--fps", str(fps), "--seed", "0"]) == 0
    info = probe(out)
    assert (info.frame_count, info.fps) == (frames, pytest.approx(fps))
    video_seconds, audio_seconds = durations(out)
    assert video_seconds == pytest.approx(2.0) and abs(audio_seconds - video_seconds) < 0.05
    assert json.loads((tmp_path / "out.mp4.json").read_text())["config"]["fps"] == fps


@pytest.mark.parametrize("name, fps", [("out.gif", 60), ("out.webp", 100)])
def test_a_rate_above_the_format_ceiling_resamples_to_it(tmp_path, capsys, name, fps):
    """GIF/WebP play at most 50 fps: ``--fps 60`` (or a 60 fps input) is resampled to 50,
    not written at 50 with 60 fps worth of frames (2.4 s instead of 2)."""
    source = clip_with_tone(tmp_path / "in.mp4", 10, 5)
    out = tmp_path / name
    assert main(["video", str(source), "-o", str(out), "--fps", str(fps), "--seed", "0"]) == 0
    assert capsys.readouterr().err.count("plays at most 50 fps") == 1
    info = probe(out)
    assert (info.frame_count, info.fps) == (100, pytest.approx(50.0))  # still 2 s
    assert json.loads((tmp_path / f"{name}.json").read_text())["config"]["fps"] == 50


def test_copied_aac_keeps_its_first_samples(talking_clip, tmp_path):
    out = tmp_path / "out.mp4"
    assert main(["video", str(talking_clip), "-o", str(out)]) == 0

    def samples(path: Path) -> np.ndarray:
        with av.open(str(path)) as container:
            return np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], axis=1)

    np.testing.assert_array_equal(samples(out)[:, :1024], samples(talking_clip)[:, :1024])


@pytest.mark.parametrize("space", ["ITU709", "SMPTE170M"])
def test_the_inputs_colour_properties_are_kept(tmp_path, space):
    source = clip_with_tone(tmp_path / "in.mp4", 6, 10, space=space)
    out = tmp_path / "out.mkv"
    assert main(["video", str(source), "-o", str(out), "--seed", "0"]) == 0
    tags = []
    for path in (source, out):
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            tags.append((frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc))
    assert tags[0] == tags[1] and tags[0][0] == int(Colorspace[space])


def test_a_rotated_phone_clip_comes_out_upright(tmp_path):
    source = clip_with_tone(tmp_path / "phone.mp4", 6, 10, rotation=-90)
    out = tmp_path / "out.mp4"
    assert main(["video", str(source), "-o", str(out), "--seed", "0"]) == 0
    info = probe(out)
    assert (info.width, info.height) == (48, 64)  # shown as players show the input
    with av.open(str(out)) as container:
        assert next(container.decode(video=0)).rotation == 0  # no rotation left to apply twice


def test_webcam_recording_writes_the_frames_shown(tmp_path):
    """The recording half of ``--webcam -o``, fed synthetic frames instead of a camera."""
    from peronamalik.art.video import resolve_video_run, stylized
    from peronamalik.art.video_file import with_fps
    from peronamalik.art.webcam import record_live

    spec = with_fps(resolve_video_run(seed=0, device="cpu"), 12)

    written = record_live(stylized(moving_shapes(5, width=32, height=24), spec), tmp_path / "live.mp4", spec, "webcam:0")
    assert written == tmp_path / "live.mp4" and probe(written).frame_count == 5
    record = json.loads((tmp_path / "live.mp4.json").read_text())
    assert (record["frames"], record["input"]["path"], record["interrupted"]) == (5, "webcam:0", False)


def test_a_stop_signal_during_video_keeps_a_clean_partial_file(tmp_path, reap):
    clip_with_tone(tmp_path / "long.mp4", 3000, 25)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    process = reap(subprocess.Popen(
        [sys.executable, "-m", "peronamalik", "video", "long.mp4", "-o", "out.webm", "--seed", "0"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True, env=env,
    ))
    seen = wait_for_progress(process, 10)
    process.send_signal(signal.SIGTERM)
    stderr = seen + process.communicate(timeout=120)[1]
    assert process.returncode == 128 + signal.SIGTERM, stderr
    record = json.loads((tmp_path / "out.webm.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a truncated or corrupt file would warn
        assert sum(1 for _ in read_frames(tmp_path / "out.webm")) == record["frames"] >= 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4", "out.webm", "out.webm.json"]


def test_output_naming_the_input_clip_is_refused(talking_clip, tmp_path, capsys):
    """``video clip.mp4 -o clip.mp4 --overwrite``: one line, exit 2, the clip untouched."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(talking_clip.read_bytes())  # a copy: the module's clip stays safe
    (tmp_path / "link.mp4").symlink_to(clip)
    for target in (clip, tmp_path / "link.mp4"):
        assert main(["video", str(clip), "-o", str(target), "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "-o names the input" in err and "Traceback" not in err
    assert clip.read_bytes() == talking_clip.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "link.mp4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{clip}", "--quality", "low"], "--quality applies to GIF output (.gif) only, not a .mp4 (talk-art.mp4)"),
        (["{clip}", "-o", "{tmp}/o.mp4", "--quality", "high"], "--quality applies to GIF output (.gif) only, not a .mp4"),
        (["{clip}", "-o", "{tmp}/o.webm", "--dither"], "--dither applies to GIF output (.gif) only, not a .webm"),
        (["{clip}", "-o", "{tmp}/o.webp", "--quality", "low", "--dither"], "--quality and --dither apply to GIF output"),
        (["{clip}", "-o", "{tmp}/frames/", "--dither"], "--dither applies to GIF output (.gif) only, not a folder"),
        (["--webcam", "--quality", "low"], "--quality applies to a video file's GIF output, not --webcam"),
        (["--webcam", "-o", "{tmp}/live.gif", "--dither"], "--dither applies to a video file's GIF output, not --webcam"),
    ],
)
def test_gif_options_on_another_format_are_refused(talking_clip, tmp_path, monkeypatch, capsys, args, message):
    """QA: ``video clip.mp4 --quality low`` wrote the .mp4 and dropped the option (the
    default output is an .mp4; an explicit --quality high counts as given too)."""
    monkeypatch.chdir(tmp_path)
    names = dict(clip=talking_clip, tmp=tmp_path)
    code = main(["video", *(arg.format(**names) for arg in args)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message.format(**names) in lines[0] and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_clip_with_no_frame_that_decodes_is_one_line(tmp_path):
    """An MP4 cut just after its index: a warning "read the 0 frames it holds", then "no frames
    were written; o.mp4 was not created", naming the output, not the input (QA)."""
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(30):
            frame = av.VideoFrame.from_ndarray((rng.random((64, 96, 3)) * 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    path.write_bytes(data[: data.find(b"mdat") + 100])
    done = subprocess.run([sys.executable, "-m", "peronamalik", "video", "clip.mp4", "-o", "o.mp4", "-q"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("peronamalik: error: clip.mp4 holds no frame that decodes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
