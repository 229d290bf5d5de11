"""``smooth --every N``: the classic diffusion as it evolves, written as an animation."""

from __future__ import annotations

import re
import signal

import numpy as np
import pytest
import skimage.data
from PIL import Image

from peronamalik.cli import main
from peronamalik.core import diffuse
from peronamalik.io.animation import probe, read_frames
from peronamalik.io.evolution import evolution_frames
from tests.cli.runs import finish, hidden_leftovers, start_cli, wait_for_progress


def test_frames_are_the_diffusion_after_each_chunk():
    photo = skimage.data.astronaut()[::8, ::8]
    frames = list(evolution_frames(photo, iterations=25, every=10, channel_axis=-1, kappa=0.1))
    assert len(frames) == 4  # the input, then after 10, 20 and 25 iterations
    assert np.array_equal(frames[0], photo)
    for frame, steps in zip(frames[1:], (10, 20, 25)):
        whole = diffuse(photo, iterations=steps, kappa=0.1, channel_axis=-1)
        assert np.abs(frame.astype(int) - np.rint(whole * 255)).max() <= 1
    assert np.abs(frames[-1].astype(int) - photo).mean() > 1  # it does smooth


def test_grey_float_input_outside_unit_range_is_scaled_by_its_range():
    image = np.linspace(-5.0, 5.0, 24 * 30).reshape(24, 30)
    first = next(evolution_frames(image, iterations=4, every=2, kappa=0.5))
    assert first.shape == (24, 30, 3) and first.min() == 0 and first.max() == 255
    assert np.array_equal(first[..., 0], first[..., 2])


@pytest.mark.parametrize("shape, axis", [((4, 5, 6), None), ((8, 8, 2), -1)])
def test_volumes_and_odd_channels_are_refused(shape, axis):
    with pytest.raises(ValueError, match="2-D grey or colour"):
        next(evolution_frames(np.zeros(shape), iterations=2, every=1, channel_axis=axis))


def test_cli_writes_the_evolution(tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(skimage.data.camera()[::8, ::8]).save(source)
    out = tmp_path / "evolution.mp4"
    assert main(["smooth", str(source), "-o", str(out), "--iterations", "30", "--every", "10", "--kappa", "auto"]) == 0
    assert probe(out).frame_count == 4
    frames = list(read_frames(out))
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 1


def test_cli_refuses_bad_combinations_and_writes_nothing(tmp_path, capsys):
    source = tmp_path / "in.png"
    Image.fromarray(skimage.data.camera()[::8, ::8]).save(source)
    for argv, fragment in (
        (["-o", str(tmp_path / "e.txt"), "--every", "5"], "extension"),
        (["-o", str(tmp_path / "e.gif"), "--every", "0"], "--every"),
        (["-o", str(tmp_path / "e.gif"), "--every", "5", "--compare", str(tmp_path / "c.png")], "--compare"),
    ):
        assert main(["smooth", str(source), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert fragment in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_cli_makes_a_frame_folder_and_says_a_png_holds_the_last_frame(tmp_path, capsys):
    """``-o frames/`` is a folder of PNG frames even before it exists (the trailing '/' is
    kept); ``-o last.png`` keeps the last frame and says so."""
    source = tmp_path / "in.png"
    Image.fromarray(skimage.data.camera()[::8, ::8]).save(source)
    assert main(["smooth", str(source), "-o", f"{tmp_path / 'frames'}/", "--iterations", "10", "--every", "5"]) == 0
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [f"frame_0000{i}.png" for i in range(3)]
    assert main(["smooth", str(source), "-o", str(tmp_path / "last.png"), "--iterations", "10", "--every", "5"]) == 0
    assert "(the last of 3 frames" in capsys.readouterr().err
    last = np.asarray(Image.open(tmp_path / "frames" / "frame_00002.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "last.png")), last)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_keeps_the_frames_made_and_says_how_many(tmp_path, reap, stop):
    """Stopped mid-run, the animation holds the frames made so far as a valid file, the line
    says how many (not 'nothing was written'), and no temporary is left; exit 128 + signal."""
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).save(tmp_path / "in.png")
    process = reap(start_cli("smooth", "in.png", "-o", "out.gif", "--every", "1", "--iterations", "10000000", cwd=tmp_path))
    seen = wait_for_progress(process, 5)
    process.send_signal(stop)
    stderr = seen + finish(process)
    assert process.returncode == 128 + stop, stderr
    said = re.search(r"interrupted: wrote (\d+) frames to out\.gif", stderr)
    assert said is not None and "nothing was written" not in stderr and "Traceback" not in stderr, stderr
    assert len(list(read_frames(tmp_path / "out.gif"))) == int(said.group(1)) >= 5
    assert hidden_leftovers(tmp_path) == []
