"""``peronamalik art`` end to end, and render()'s outputs read back."""

import json
import re
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from peronamalik.art import RenderInterrupted, render
from peronamalik.art.source import sample_array
from peronamalik.core.threads import torch_threads
from peronamalik.io.animation import open_frame_writer
from peronamalik.io.video import read_frames
from tests.cli.runs import FAST, finish, gif_frames, hidden_leftovers, run_cli, start_cli, wait_for_progress


def test_no_input_renders_the_bundled_sample_and_rerenders_from_its_sidecar(tmp_path):
    first = run_cli(*FAST, "--seed", "5", "--set", "kernel_noise=0.05", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    output, sidecar = tmp_path / "chelsea-art.gif", tmp_path / "chelsea-art.gif.json"
    record = json.loads(sidecar.read_text())
    frames = gif_frames(output)
    assert len(frames) == record["frames"] == 4
    assert frames[0].shape == (32, 48, 3)
    assert record["seed"] == 5 and record["config"]["kernel_noise"] == 0.05
    assert record["input"]["path"] == "sample:chelsea" and len(record["input"]["sha256"]) == 64

    again = run_cli("--config", sidecar, "-o", "again.gif", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert all(np.array_equal(a, b) for a, b in zip(frames, gif_frames(tmp_path / "again.gif")))
    assert json.loads((tmp_path / "again.gif.json").read_text())["config"] == record["config"]


@pytest.mark.parametrize("name, count", [("out.mp4", 4), ("out.webm", 4), ("out.webp", 4), ("frames/", 4), ("last.png", 1)])
def test_render_output_kinds_read_back(tmp_path, name, count):
    target = f"{tmp_path}/{name}"  # a str: a trailing '/' names a folder of frames
    written = render(sample_array(), target, iterations=40, every=10, size=48, seed=0, device="cpu")
    if name.endswith("/"):
        files = sorted(written.iterdir())
        assert len(files) == count and all(f.suffix == ".png" for f in files)
    elif name.endswith(".png"):
        assert np.asarray(Image.open(written)).shape[:2] == (32, 48)
    else:
        assert sum(1 for _ in read_frames(written)) == count
    assert json.loads(Path(str(written).rstrip("/") + ".json").read_text())["frames"] == 4  # frames made


def test_interrupt_keeps_a_valid_file_with_the_frames_made(tmp_path):
    def stop(iteration, engine, refreshed):
        if iteration == 25:
            raise KeyboardInterrupt

    target = tmp_path / "partial.gif"
    with pytest.raises(RenderInterrupted) as caught:
        render(sample_array(), target, iterations=400, every=10, size=48, seed=0, device="cpu", callback=stop)
    assert caught.value.frames == 3
    assert len(gif_frames(target)) == 3
    assert json.loads((tmp_path / "partial.gif.json").read_text())["interrupted"] is True


EVERY, SIZE, SEED = 20, 48, 3


def uninterrupted_frames(count: int) -> list[np.ndarray]:
    """The first ``count`` frames of the same command, run to the end in this process."""
    from peronamalik import backend
    from peronamalik.art import animate

    with torch_threads(1), backend("reference"):  # as the subprocess's PERONAMALIK_FUSED=0
        return list(animate(None, iterations=count * EVERY, every=EVERY, size=SIZE, seed=SEED))


def decoded(path: Path) -> list[np.ndarray]:
    if path.is_dir():
        files = sorted(path.iterdir())
        assert all(f.name.startswith("frame_") and f.suffix == ".png" for f in files), files
        return [np.asarray(Image.open(f).convert("RGB")) for f in files]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our reader warns on a truncated or corrupt file
        return list(read_frames(path))


@pytest.mark.parametrize(
    "name, stop",
    [
        ("r.webm", signal.SIGINT),
        ("r.mp4", signal.SIGINT),
        ("r.mkv", signal.SIGINT),
        ("frames/", signal.SIGINT),
        ("r.gif", signal.SIGTERM),
        ("r.webm", signal.SIGHUP),
    ],
)
def test_a_stop_signal_keeps_exactly_the_frames_made(tmp_path, reap, name, stop):
    """A real signal mid-run: the file holds as many whole frames as the sidecar says, each
    the same frame as in an uninterrupted run (within the codec's loss); nothing hidden is
    left behind; the exit code is 128 + the signal."""
    process = reap(start_cli(
        "art", "--iterations", "1000000", "--every", EVERY, "--size", SIZE, "--seed", SEED, "-o", name, cwd=tmp_path
    ))
    seen = wait_for_progress(process, 6 * EVERY)
    process.send_signal(stop)
    stderr = seen + finish(process)
    assert process.returncode == 128 + stop, stderr
    assert "interrupted: wrote" in stderr and "Traceback" not in stderr
    output = tmp_path / name.rstrip("/")
    record = json.loads((tmp_path / (name.rstrip("/") + ".json")).read_text())
    assert record["interrupted"] is True and record["frames"] >= 6
    frames = decoded(output)
    assert len(frames) == record["frames"]
    assert hidden_leftovers(tmp_path) == []
    expected = uninterrupted_frames(len(frames))
    if name.endswith("/"):
        assert all(np.array_equal(got, want) for got, want in zip(frames, expected))
        return
    # The codec's own loss: the same frames through the same writer, without a signal.
    reference = tmp_path / "reference" / name
    reference.parent.mkdir()
    with open_frame_writer(reference, fps=10, overwrite=False) as writer:
        for frame in expected:
            writer.write(frame)
    own_loss = [mean_error(got, want) for got, want in zip(decoded(reference), expected)]
    for index, (got, want) in enumerate(zip(frames, expected)):
        error = mean_error(got, want)
        assert error <= 1.5 * own_loss[index] + 1, (index, error, own_loss[index])
        apart = index + 1 < len(expected) and mean_error(want, expected[index + 1]) > 2 * own_loss[index] + 1
        if apart:  # its own frame, not the next one
            assert error < mean_error(got, expected[index + 1]), index


def test_under_nohup_a_hang_up_does_not_stop_the_run(tmp_path, reap):
    """A run started with SIGHUP ignored (``nohup``) keeps that: a hang-up leaves it running,
    and a later Ctrl-C still stops it with its frames kept (exit 130)."""
    process = reap(start_cli(
        "art", "--iterations", "1000000", "--every", EVERY, "--size", SIZE, "--seed", SEED, "-o", "r.gif", cwd=tmp_path,
        ignore_hangup=True,
    ))
    seen = wait_for_progress(process, 2 * EVERY)
    process.send_signal(signal.SIGHUP)
    seen += wait_for_progress(process, 6 * EVERY)  # still diffusing after the hang-up
    process.send_signal(signal.SIGINT)
    stderr = seen + finish(process)
    assert process.returncode == 128 + signal.SIGINT, stderr
    assert "interrupted: wrote" in stderr and "Traceback" not in stderr
    record = json.loads((tmp_path / "r.gif.json").read_text())
    assert record["interrupted"] is True and record["frames"] >= 6
    assert len(decoded(tmp_path / "r.gif")) == record["frames"]


def mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_ctrl_c_before_the_first_frame_claims_no_file(tmp_path):
    from peronamalik.art.animate import RenderInterrupted as Stopped, resolve_run, write_stream
    from peronamalik.art.video_file import input_record

    def stopped_at_once():
        raise KeyboardInterrupt
        yield  # a generator that stops before its first frame

    spec = resolve_run(seed=0, device="cpu")
    with pytest.raises(Stopped) as caught:
        write_stream(stopped_at_once(), tmp_path / "never.mp4", spec, input_record("x", None))
    assert caught.value.frames == 0
    assert "not written" in str(caught.value) and "wrote" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_in_smooth_exits_130_and_writes_nothing(tmp_path, reap):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256), np.uint8)).save(tmp_path / "in.png")
    process = reap(start_cli("smooth", "in.png", "-o", "out.png", "--iterations", "10000000", cwd=tmp_path))
    seen = wait_for_progress(process, 5)
    process.send_signal(signal.SIGINT)
    stderr = seen + finish(process)
    assert process.returncode == 130, stderr
    assert "error" not in stderr and "Traceback" not in stderr and "interrupted" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def write_bomb(path: Path) -> None:
    Image.new("1", (20000, 20000)).save(path)


@pytest.mark.parametrize(
    "make_input, extra, message",
    [
        (None, ["missing.jpg"], "not found|does not exist|No such"),
        (lambda p: p.write_bytes(b"this is not an image"), ["input.png"], "input.png"),
        (lambda p: p.write_bytes(Image.new("RGB", (64, 64)).tobytes()[:10]), ["input.png"], "input.png"),
        (write_bomb, ["input.png"], "too large|bomb|pixels"),
        (None, ["-o", "out.xyz"], "xyz"),
        (None, ["--set", "lr=fast"], "lr"),
        (None, ["--set", "nope=1"], "nope"),
        (None, ["--iterations", "-5"], "iterations"),
        (None, ["--preset", "nope"], "preset"),
        (None, ["--config", "missing.toml"], "missing.toml"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, make_input, extra, message):
    if make_input is not None:
        make_input(tmp_path / "input.png")
    before = set(tmp_path.iterdir())
    result = run_cli(*FAST, *extra, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert __import__("re").search(message, lines[0]), lines[0]
    assert set(tmp_path.iterdir()) == before


def test_existing_output_is_kept_without_overwrite(tmp_path):
    target = tmp_path / "chelsea-art.gif"
    target.write_bytes(b"precious")
    result = run_cli(*FAST, cwd=tmp_path)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert target.read_bytes() == b"precious"
    assert run_cli(*FAST, "--overwrite", "--dither", cwd=tmp_path).returncode == 0
    assert len(gif_frames(target)) == 4


def test_output_naming_the_input_photo_is_refused(tmp_path):
    """``art src.png -o src.png --overwrite`` (or through a symlink) would replace the photo
    and orphan its sidecar: one line, exit 2, the photo's bytes unchanged, no sidecar."""
    Image.fromarray(sample_array()[::8, ::8]).save(tmp_path / "src.png")
    (tmp_path / "link.png").symlink_to("src.png")
    before = (tmp_path / "src.png").read_bytes()
    for target in ("src.png", "link.png"):
        result = run_cli("src.png", "-o", target, "--overwrite", *FAST, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "-o names the input src.png" in lines[0], result.stderr
    assert (tmp_path / "src.png").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.png", "src.png"]


@pytest.mark.parametrize("option, value", [("--workers", "2"), ("--scheduler", "tcp://127.0.0.1:8786")])
def test_batch_options_on_one_photo_are_refused_not_ignored(tmp_path, option, value):
    Image.fromarray(sample_array()[::8, ::8]).save(tmp_path / "src.png")
    result = run_cli("src.png", "-o", "out.gif", option, value, *FAST, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "not one input" in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.png"]


@pytest.mark.parametrize(
    "output, extra, message",
    [
        ("c1.mp4", ["--quality", "low", "--dither"], "--quality and --dither apply to GIF output (.gif) only, not a .mp4 (c1.mp4): drop them"),
        ("c1.mp4", ["--quality", "high"], "--quality applies to GIF output (.gif) only, not a .mp4 (c1.mp4): drop it"),
        ("q.webp", ["--quality", "low"], "--quality applies to GIF output (.gif) only, not a .webp (q.webp)"),
        ("c.webm", ["--dither"], "--dither applies to GIF output (.gif) only, not a .webm (c.webm)"),
        ("frames/", ["--dither"], "--dither applies to GIF output (.gif) only, not a folder of PNG frames"),
        ("f1.png", ["--fps", "3"], "--fps does not apply to a .png (f1.png): a .png holds the last frame only"),
        ("f2.png", ["--set", "fps=3"], "--set fps does not apply to a .png (f2.png): a .png holds the last frame only"),
    ],
)
def test_options_the_output_format_does_not_take_are_refused(tmp_path, monkeypatch, capsys, output, extra, message):
    """QA: GIF-only options on an .mp4/.webp and --fps (or --set fps=) on a .png were silently
    ignored (exit 0); an explicit ``--quality high`` counts as given, the default does not."""
    from peronamalik.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["art", "-o", output, "--iterations", "150", "--size", "96", *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"peronamalik: error: {message}"), lines
    assert list(tmp_path.iterdir()) == []


def test_a_png_is_announced_as_the_last_of_the_frames(tmp_path, monkeypatch, capsys):
    """QA: "wrote c1.png (4 frames, ...)" although a .png holds one: as ``smooth --every``
    says it, "(the last of 4 frames, ...)"; the default --quality is no GIF option given."""
    from peronamalik.cli import main

    monkeypatch.chdir(tmp_path)
    with torch_threads(1):
        assert main(["art", *FAST, "-o", "c1.png", "--seed", "0"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"wrote c1\.png \(the last of 4 frames, [\d.]+ kB\) and c1\.png\.json", err), err
    assert json.loads((tmp_path / "c1.png.json").read_text())["frames"] == 4


@pytest.mark.parametrize("extra, named", [(["-o", "x.gif"], "-o/--output"), (["photo.png", "--seed", "3"], "INPUT, --seed")])
def test_list_presets_with_other_options_is_refused(tmp_path, monkeypatch, capsys, extra, named):
    """QA: ``art --list-presets -o x.gif`` listed and ignored -o; alone it still lists."""
    from peronamalik.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["art", "--list-presets", *extra]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [f"peronamalik: error: --list-presets takes no other option: drop {named}"]
    assert captured.out == "" and list(tmp_path.iterdir()) == []
    assert main(["art", "--list-presets"]) == 0
    assert capsys.readouterr().out.split()[0] == "ember"


@pytest.mark.parametrize("output", [".", "./", ".."])
def test_the_current_folder_is_no_frames_folder(tmp_path, output):
    """-o . crashed with a traceback (an empty file name), and in an empty folder renamed '.'
    away (QA)."""
    (tmp_path / "work").mkdir()
    done = run_cli(*FAST, "-o", output, cwd=tmp_path / "work")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"peronamalik: error: -o {output} is the current folder or holds it: "
                                                "name a new folder for the frames (-o frames/)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"] and not list((tmp_path / "work").iterdir())


def test_a_plain_config_file_applies_on_top_of_the_preset(tmp_path):
    """A plain config's fields applied to the bare defaults (no preset at all), while the
    sidecar recorded the default preset (QA); now as --set does."""
    (tmp_path / "mine.json").write_text('{"lr": 0.5}')
    assert run_cli(*FAST, "--config", "mine.json", "-o", "file.gif", "--seed", "1", cwd=tmp_path).returncode == 0
    assert run_cli(*FAST, "--set", "lr=0.5", "-o", "set.gif", "--seed", "1", cwd=tmp_path).returncode == 0
    from_file, from_set = (json.loads((tmp_path / f"{name}.gif.json").read_text()) for name in ("file", "set"))
    assert from_file["config"] == from_set["config"] and from_file["preset"] == from_set["preset"]
    assert all(np.array_equal(a, b) for a, b in zip(gif_frames(tmp_path / "file.gif"), gif_frames(tmp_path / "set.gif")))


def test_a_colour_npy_is_a_colour_picture(tmp_path):
    """An H×W×3 .npy was refused as "not a 2-D grey or colour image", which the library takes."""
    pixels = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    np.save(tmp_path / "rgb.npy", pixels)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    for name in ("rgb.npy", "rgb.png"):
        assert run_cli(name, *FAST, "-o", f"{name}.gif", "--seed", "1", cwd=tmp_path).returncode == 0
    assert all(np.array_equal(a, b) for a, b in zip(gif_frames(tmp_path / "rgb.npy.gif"), gif_frames(tmp_path / "rgb.png.gif")))
