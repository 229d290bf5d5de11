"""The "on drugs" video mode: the seed's recurrence, streaming, files, interrupts, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage
import torch
import torch.nn.functional as F

from peronamalik.art import RenderInterrupted, render_video, stylize_frames
from peronamalik.art.losses import LossInputs, total_loss
from peronamalik.art.video import video_config
from peronamalik.art.webcam import open_camera, open_window
from peronamalik.core.threads import torch_threads
from peronamalik.io.animation import open_frame_writer
from peronamalik.io.video import probe, read_frames

from clips import moving_shapes

GIF = Path(skimage.__file__).parent / "data" / "no_time_for_that_tiny.gif"


@pytest.fixture(autouse=True, scope="module")
def _single_torch_thread() -> Iterator[None]:
    """Tiny frames: one intra-op thread avoids OpenMP stalls on a loaded 2-core machine."""
    with torch_threads(1):
        yield


def write_clip(path: Path, count: int, *, width: int = 64, height: int = 48, fps: float = 12, noise: float = 0) -> Path:
    """A synthetic clip of moving shapes, encoded by the project's writer."""
    rng = np.random.default_rng(0)
    with open_frame_writer(path, fps=fps, overwrite=False) as writer:
        for frame in moving_shapes(count, width=width, height=height):
            grain = rng.integers(0, noise + 1, frame.shape) if noise else 0
            writer.write(np.clip(frame.astype(np.int32) + grain, 0, 255).astype(np.uint8))
    return path


def reference_video(frames: list[np.ndarray], *, lr: float) -> tuple[list[np.ndarray], list[torch.Tensor]]:
    """ALGORITHM.md's live-video loop written out on its own: k 0.5, dt 0.2, SGD (momentum
    0.9, weight decay 5e-4), blend 0.8/0.2 unless n % 8 == 0, summed loss.  Returns the
    frames and K after each frame."""
    laplacian = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    kernel = laplacian.expand(3, 3, 3, 3).clone().requires_grad_()
    optimizer = torch.optim.SGD([kernel], lr=lr, momentum=0.9, weight_decay=5e-4)

    def step(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        response = F.conv2d(F.pad(image, (1, 1, 1, 1), mode="reflect"), kernel)
        return (image + 0.2 * response * torch.exp(-((response / 0.5) ** 2))).clamp(0, 1), response

    state, out, kernels = None, [], []
    for n, frame in enumerate(frames):
        incoming = torch.from_numpy(frame).float().div(255).permute(2, 0, 1)[None]
        state = incoming.clone() if state is None else state
        with torch.no_grad():
            state, _ = step(state)
        if n % 8 != 0:
            state = 0.8 * state + 0.2 * incoming
        image, response = step(state)
        loss = ((response * (image - incoming)) ** 2 + response + 10 * (image * response) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        state = image.detach()
        out.append(state[0].permute(1, 2, 0).mul(255).round().to(torch.uint8).numpy())
        kernels.append(kernel.detach().clone())
    return out, kernels


@pytest.mark.parametrize("lr", [1.25e-7, 2e-3])  # the preset's, and one where K moves a lot
def test_video_preset_follows_the_seed_recurrence(backend, lr):
    """A few frames only: the seed's step at dt 0.2 with colour mixing amplifies float
    rounding about sevenfold per frame, so longer runs of two codes drift apart.  Both the
    autograd path and the fused C step (its video loss terms) follow the seed's loop."""
    frames = list(moving_shapes(4, width=40, height=30))
    kernels: list[torch.Tensor] = []
    paths: list[str] = []

    def keep(index, engine, refreshed):
        kernels.append(engine.kernel.detach().clone())
        paths.append(engine.backend)

    ours = list(stylize_frames(frames, seed=0, device="cpu", lr=lr, callback=keep))
    assert paths == [backend] * len(frames), "the requested path did not run"
    expected, expected_kernels = reference_video(frames, lr=lr)
    assert len(ours) == len(frames)
    for mine, theirs in zip(ours, expected):
        assert np.abs(mine.astype(int) - theirs).max() <= 1
    for mine, theirs in zip(kernels, expected_kernels):
        torch.testing.assert_close(mine, theirs, rtol=1e-3, atol=1e-6)
    if lr > 1e-6:
        assert (kernels[-1] - kernels[0]).abs().max() > 1e-3  # K really learns


def test_video_loss_is_the_seeds_sum():
    generator = torch.Generator().manual_seed(0)
    image, target, response = (torch.rand(1, 3, 5, 6, generator=generator) for _ in range(3))
    response = response - 0.5
    weights = video_config("video").loss_weights
    expected = ((response * (image - target)) ** 2 + response + 10 * (image * response) ** 2).sum()
    torch.testing.assert_close(total_loss(LossInputs(image, target, response), weights, "sum"), expected)


def test_video_preset_is_the_documented_one():
    config = video_config("video")
    assert (config.kappa, config.dt, config.lr, config.momentum, config.weight_decay) == (0.5, 0.2, 1.25e-7, 0.9, 5e-4)
    assert (config.optimizer, config.reduction, config.frame_blend, config.frame_blend_skip) == ("sgd", "sum", 0.8, 8)
    assert config.loss_weights == {"video_fidelity": 1.0, "response": 1.0, "modulated_energy": 10.0}
    assert config.size is None and config.refresh_period == 0  # video keeps the frame size


def test_blend_skips_every_eighth_frame():
    """With frame_blend 0 the state is the incoming frame, except where n % 8 == 0."""
    frames = [np.full((12, 16, 3), value, np.uint8) for value in (200, 60, 60, 60, 60, 60, 60, 60, 60, 60)]
    out = list(stylize_frames(frames, seed=0, device="cpu", frame_blend=0.0, lr=0.0))
    means = [frame.mean() for frame in out]
    assert means[0] == pytest.approx(200, abs=1) and means[8] == pytest.approx(60, abs=1)
    assert all(m == pytest.approx(60, abs=1) for m in means[1:])
    jump = [np.full((12, 16, 3), value, np.uint8) for value in [60] * 8 + [200, 200]]
    out = list(stylize_frames(jump, seed=0, device="cpu", frame_blend=0.0, lr=0.0))
    assert out[8].mean() == pytest.approx(60, abs=1)  # frame 8 not blended: the old state
    assert out[9].mean() == pytest.approx(200, abs=1)


def test_frames_keep_count_order_size_for_any_input_kind():
    rgb = list(moving_shapes(5, width=30, height=20))
    grey = [frame.mean(axis=-1).astype(np.uint16) * 257 for frame in rgb]
    floats = [frame / 255.0 for frame in rgb]
    for clip in (rgb, grey, floats):
        out = list(stylize_frames(clip, seed=0, device="cpu", preset="glow"))
        assert len(out) == 5 and all(f.shape == (20, 30, 3) and f.dtype == np.uint8 for f in out)
    sized = list(stylize_frames(rgb, seed=0, device="cpu", size=15))
    assert sized[0].shape == (10, 15, 3)


def test_a_grey_clip_gets_the_presets_warm_cast():
    """ember on a black-and-white clip: each grey frame gets grey_tint's warm cast (R > G > B),
    as a grey photo does; without it the frames stay grey."""
    grey = [np.repeat(frame.mean(axis=-1, keepdims=True), 3, axis=-1).astype(np.uint8) for frame in moving_shapes(4, width=30, height=20)]
    warm = np.stack(list(stylize_frames(grey, seed=0, device="cpu", preset="ember"))).astype(float)
    red, green, blue = warm.reshape(-1, 3).mean(axis=0)
    assert red > green > blue
    plain = np.stack(list(stylize_frames(grey, seed=0, device="cpu", preset="ember", grey_tint=0.0)))
    assert np.array_equal(plain[..., 0], plain[..., 2])


def test_same_seed_same_frames_other_seed_differs():
    clip = list(moving_shapes(6, width=24, height=16))
    run = dict(preset="ember", device="cpu", kernel_noise=0.05)
    first = list(stylize_frames(clip, seed=3, **run))
    assert all(np.array_equal(a, b) for a, b in zip(first, stylize_frames(clip, seed=3, **run)))
    assert any(not np.array_equal(a, b) for a, b in zip(first, stylize_frames(clip, seed=4, **run)))


def test_streams_one_frame_at_a_time():
    pulled = []

    def source() -> Iterator[np.ndarray]:
        for index, frame in enumerate(moving_shapes(1000, width=16, height=12)):
            pulled.append(index)
            yield frame

    stream = stylize_frames(source(), seed=0, device="cpu")
    for produced in range(1, 6):
        next(stream)
        assert len(pulled) == produced


def test_bad_settings_and_frames_raise_clear_errors():
    clip = list(moving_shapes(2, width=16, height=12))
    with pytest.raises(ValueError, match=r"kappa must be in \[1e-30"):
        stylize_frames(clip, kappa=-1)
    with pytest.raises(ValueError, match="preset must be one of"):
        stylize_frames(clip, preset="nope")
    with pytest.raises(ValueError, match="frame_blend must be in"):
        stylize_frames(clip, frame_blend=1.5)
    with pytest.raises(ValueError, match="frames must all have one size"):
        list(stylize_frames([clip[0], clip[0][:8]], seed=0, device="cpu"))
    with pytest.raises(TypeError, match="frames must be numpy arrays"):
        list(stylize_frames(["not a frame"], seed=0, device="cpu"))
    with pytest.raises(ValueError, match="frames must be H×W"):
        list(stylize_frames([np.zeros((4, 4, 2), np.uint8)], seed=0, device="cpu"))


def test_render_video_keeps_frames_rate_size_and_writes_sidecar(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", 12, fps=12)
    out = render_video(clip, tmp_path / "out.mp4", seed=5, device="cpu")
    info = probe(out)
    assert (info.frame_count, info.fps, info.width, info.height) == (12, 12.0, 64, 48)
    assert len(list(read_frames(out))) == 12
    record = json.loads((tmp_path / "out.mp4.json").read_text())
    assert record["seed"] == 5 and record["preset"] == "video" and record["frames"] == 12
    assert not record["interrupted"] and record["config"]["fps"] == 12.0
    assert record["input"]["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()


@pytest.mark.skipif(not GIF.is_file(), reason="scikit-image ships no animated GIF")
def test_bundled_animated_gif_to_gif_and_webm(tmp_path):
    source = probe(GIF)
    gif = render_video(GIF, tmp_path / "out.gif", seed=0, device="cpu")
    info = probe(gif)
    assert (info.frame_count, info.width, info.height) == (source.frame_count, source.width, source.height)
    assert info.fps == pytest.approx(source.fps, rel=0.05)
    webm = render_video(GIF, tmp_path / "out.webm", seed=0, device="cpu")
    assert len(list(read_frames(webm))) == source.frame_count


def test_ctrl_c_keeps_a_valid_partial_video(tmp_path):
    clip = write_clip(tmp_path / "in.webm", 20)

    def interrupt(index, engine, refreshed):
        if index == 4:
            raise KeyboardInterrupt

    with pytest.raises(RenderInterrupted) as stop:
        render_video(clip, tmp_path / "out.mp4", seed=0, device="cpu", callback=interrupt)
    assert stop.value.frames == 5
    assert len(list(read_frames(tmp_path / "out.mp4"))) == 5
    assert json.loads((tmp_path / "out.mp4.json").read_text())["interrupted"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.webm", "out.mp4", "out.mp4.json"]


def test_truncated_mp4_gives_the_frames_it_holds_with_a_warning(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", 40, width=96, height=64, noise=60)
    data = clip.read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        held = sum(1 for _ in read_frames(half))
    assert 0 < held < 40
    with pytest.warns(UserWarning, match="truncated"):
        out = render_video(half, f"{tmp_path}/frames/", seed=0, device="cpu")
    assert out == tmp_path / "frames" and len(list(out.iterdir())) == held
    assert json.loads((tmp_path / "frames.json").read_text())["frames"] == held


def test_unreadable_input_or_existing_output_writes_nothing(tmp_path):
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(ValueError, match="cannot read"):
        render_video(bogus, tmp_path / "out.mp4")
    with pytest.raises(ValueError, match="does not exist"):
        render_video(tmp_path / "missing.mp4", tmp_path / "out.mp4")
    clip = write_clip(tmp_path / "in.mp4", 3)
    with pytest.raises(ValueError, match=r"kappa must be in \[1e-30"):
        render_video(clip, tmp_path / "out.mp4", kappa=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bogus.mp4", "in.mp4"]
    (tmp_path / "out.mp4").write_bytes(b"keep")
    with pytest.raises(ValueError, match="exists"):
        render_video(clip, tmp_path / "out.mp4", seed=0, device="cpu")
    assert (tmp_path / "out.mp4").read_bytes() == b"keep"


MEMORY_PROBE = textwrap.dedent(
    """
    import resource, sys, torch
    from peronamalik.art.video_file import render_video
    torch.set_num_threads(1)
    peaks = []
    for clip in sys.argv[1:]:
        render_video(clip, clip + ".out.mp4", seed=0, device="cpu", audio=False)
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
    print(*peaks)
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_memory_does_not_grow_with_video_length(tmp_path):
    """300 then 1500 frames of 160×240 in one process: had the 1200 more decoded frames
    (115 kB each, 138 MB) or their float tensors been kept, the peak would rise far past the
    margin.  The codecs and allocators warm up over a process's first few hundred frames (the
    resident size grows by 35-60 MB, then stays), so the short run is not short (60 then 600
    frames read +62 MB on a quiet machine, with nothing kept)."""
    short = write_clip(tmp_path / "short.mp4", 300, width=240, height=160)
    long = write_clip(tmp_path / "long.mp4", 1500, width=240, height=160)
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(short), str(long)], capture_output=True, text=True, check=True
    )
    after_short, after_long = (int(value) for value in result.stdout.split())
    assert probe(str(long) + ".out.mp4").frame_count == 1500
    assert after_long - after_short < 60 * 1024, (after_short, after_long)


READ_ONLY_PROBE = textwrap.dedent(
    """
    import sys
    import numpy as np
    from PIL import Image
    from peronamalik.art import render_video, stylize_frames
    frames = [np.full((24, 32, 4), 40 * i, np.uint8) for i in range(3)]
    Image.fromarray(frames[0][..., :3]).save(
        sys.argv[1], save_all=True, append_images=[Image.fromarray(f[..., :3]) for f in frames[1:]], duration=80
    )
    render_video(sys.argv[1], sys.argv[2], seed=0, device="cpu")
    for frame in (frames[0], frames[0][..., :3].copy(), frames[0][..., :3] / 255.0):
        frame.flags.writeable = False
        list(stylize_frames([frame], seed=0, device="cpu"))
    """
)


def test_read_only_frames_draw_no_torch_warning(tmp_path):
    """Pillow's frames (an animated WebP's) and any read-only array reach torch without its
    'not writable' warning, which it gives once per process: hence a fresh one,
    where every warning is an error."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", READ_ONLY_PROBE, str(tmp_path / "in.webp"), str(tmp_path / "out.mp4")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert len(list(read_frames(tmp_path / "out.mp4"))) == 3


def test_no_camera_and_no_display_fail_clearly():
    pytest.importorskip("cv2")
    with pytest.raises(ValueError, match="no camera available at index 63"):
        open_camera(63)
    with pytest.raises(ValueError, match="webcam must be a camera index"):
        open_camera(-1)
    import cv2

    no_gui = re.search(r"GUI:\s*NONE", cv2.getBuildInformation()) is not None
    no_display = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if no_gui or no_display:
        with pytest.raises(ValueError, match="no display/GUI available"):
            open_window()
