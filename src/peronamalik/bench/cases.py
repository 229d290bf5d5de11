"""The project's own cases (classic diffusion, the learned step, the art job, video) beside the
peers', in the order the table prints them."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from peronamalik.art.presets import DEFAULT_PRESET, preset_config
from peronamalik.bench import peers
from peronamalik.bench.registry import Case, Inputs, Job, Settings, fused_mode, register, synchronized
from peronamalik.core.threads import torch_threads


def _ours(
    mode: str, pick: Callable[[Inputs], np.ndarray], threads: int | None = None, **options: Any
) -> Callable[[Inputs], Job]:
    def make(inputs: Inputs) -> Job:
        from peronamalik import diffuse

        image = pick(inputs)
        s = inputs.settings

        def job() -> Any:
            with fused_mode(mode), torch_threads(threads):
                return diffuse(image, iterations=s.iterations, kappa=s.kappa, **options)

        return job

    return make


def _core(pick: Callable[[Inputs], np.ndarray]) -> Callable[[Inputs], Job]:
    """The core function on a ready (1, 1, *spatial) tensor: the kernel and its buffers,
    without diffuse()'s input checks and conversions."""

    def make(inputs: Inputs) -> Job:
        from peronamalik.core.diffuse import run_diffusion

        u, s = torch.from_numpy(pick(inputs))[None, None], inputs.settings

        def job() -> Any:
            with fused_mode("on"):
                return run_diffusion(u, iterations=s.iterations, kappa=s.kappa)

        return job

    return make


def _pixels_2d(s: Settings) -> int:
    return s.size * s.size


def _pixels_3d(s: Settings) -> int:
    return s.volume_side**3


def _register_classic() -> None:
    gray, vol, rgb = (lambda i: i.gray), (lambda i: i.volume), (lambda i: i.rgb)
    g2: dict[str, Any] = {"group": "2-D grey", "pixels": _pixels_2d}
    register(Case("peronamalik reference (eager torch)", make=_ours("off", gray), peer="reference",
                  note="flux_step loop, exp", **g2))
    register(Case("peronamalik fused (C kernel)", make=_ours("on", gray), note="exp", **g2))
    register(Case("peronamalik fused, rational", make=_ours("on", gray, diffusivity="rational"), quick=False, **g2))
    register(Case("peronamalik fused, tukey", make=_ours("on", gray, diffusivity="tukey"), quick=False, **g2))
    register(Case("peronamalik fused, float64", make=_ours("on", lambda i: i.gray64), note="exp, float64 in and out",
                  quick=False, **g2))
    register(Case("peronamalik fused, 1 thread", make=_ours("on", gray, threads=1), note="exp", quick=False, **g2))
    register(Case("peronamalik fused flux8", make=_ours("on", gray, scheme="flux8"), note="8 neighbours, exp", quick=False, **g2))
    register(Case("peronamalik fused, core only", make=_core(gray), note="run_diffusion on a tensor", quick=False, **g2))
    register(Case("peronamalik torch.compile (CPU)", make=_ours("compile", gray), quick=False,
                  note="the GPU path's graph, lowered to C++ by inductor", **g2))
    register(Case("medpy", make=peers.medpy(gray, 0.25), peer="medpy", requires=("medpy",),
                  note="anisotropic_diffusion option=1 (same result)", **g2))
    register(Case("SimpleITK", make=peers.simpleitk(gray, 0.125), peer="SimpleITK", requires=("SimpleITK",),
                  note="GradientAnisotropicDiffusion, dt 0.125, K 1 (ITK conventions)", **g2))
    register(Case("peronamalik gradient (eager torch)", make=_ours("off", gray, scheme="gradient", dt=0.125), quick=False,
                  note="ITK's scheme: SimpleITK's result with itk_kappa", **g2))
    register(Case("peronamalik gradient, torch.compile (CPU)", make=_ours("compile", gray, scheme="gradient", dt=0.125),
                  quick=False, note="ITK's scheme, inductor's C++", **g2))
    g3: dict[str, Any] = {"group": "3-D", "pixels": _pixels_3d}
    register(Case("peronamalik reference 3-D", make=_ours("off", vol), peer="reference", quick=False, **g3))
    register(Case("peronamalik fused 3-D", make=_ours("on", vol), note="exp", **g3))
    register(Case("peronamalik fused 3-D, core only", make=_core(vol), note="run_diffusion on a tensor", quick=False, **g3))
    register(Case("medpy 3-D", make=peers.medpy(vol, 1 / 6), peer="medpy", requires=("medpy",), **g3))
    register(Case("SimpleITK 3-D", make=peers.simpleitk(vol, 0.0625), peer="SimpleITK", requires=("SimpleITK",),
                  note="dt 0.0625", quick=False, **g3))
    rgb_group: dict[str, Any] = {"group": "RGB", "pixels": _pixels_2d}
    register(Case("OpenCV ximgproc", make=peers.opencv, peer="OpenCV", requires=("cv2:ximgproc.anisotropicDiffusion",),
                  note="uint8 RGB input only, 8 neighbours", **rgb_group))
    register(Case("peronamalik fused RGB", make=_ours("on", rgb, channel_axis=-1), note="float32, per channel",
                  **rgb_group))
    register(Case("peronamalik fused RGB coupled", make=_ours("on", rgb, channel_axis=-1, coupled=True),
                  note="float32, one conductance", quick=False, **rgb_group))
    register(Case("peronamalik fused flux8 RGB", make=_ours("on", rgb, channel_axis=-1, scheme="flux8"),
                  note="float32, per channel, 8 neighbours", quick=False, **rgb_group))


_register_classic()


def learned_steps(mode: str, height: int, width: int, device: str = "cpu") -> Callable[[Inputs], Job]:
    """``LearnedDiffusion.step`` of the "seed" preset on an RGB picture: the seed's learned
    step (forward, loss, backward, SGD).  ``off``: the naive eager torch path."""

    def make(inputs: Inputs) -> Job:
        from peronamalik.art import LearnedDiffusion, preset_config

        array = inputs._get(f"rgb {height}x{width}", lambda rng: rng.random((1, 3, height, width), dtype=np.float32))
        picture = torch.from_numpy(array).to(device)
        steps = learned_iterations(height * width)(inputs.settings)

        def job() -> Any:
            with fused_mode(mode):
                engine = LearnedDiffusion(picture, preset_config("seed"), torch.Generator().manual_seed(0))
                for _ in range(steps):
                    engine.step()
                return synchronized(engine.image)

        return job

    return make


def learned_iterations(pixels: int) -> Callable[[Settings], int]:
    return lambda s: (3 if s.quick else max(20, 20_000_000 // pixels))


def _art_job(inputs: Inputs) -> Job:
    """The default ``peronamalik art`` job (bundled sample, the default preset, its size and
    iterations; 60 in --quick), split into diffusion and GIF encoding."""
    from peronamalik.art.animate import frames_from, resolve_run
    from peronamalik.art.source import load_source, sample_array
    from peronamalik.io.animation import open_frame_writer

    spec = resolve_run(seed=0, device="cpu", iterations=_art_iterations(inputs.settings))
    photo = inputs._get("sample photo", lambda rng: sample_array())
    source = load_source(photo, size=spec.config.size, device=spec.device)

    def job() -> dict[str, float]:
        start = time.perf_counter()
        frames = list(frames_from(source, spec))
        middle = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            with open_frame_writer(os.path.join(folder, "art.gif"), fps=spec.config.fps, overwrite=False) as writer:
                for frame in frames:
                    writer.write(frame)
        end = time.perf_counter()
        return {"diffusion": middle - start, "encoding": end - middle}

    return job


def _art_iterations(s: Settings) -> int:
    return 60 if s.quick else preset_config(DEFAULT_PRESET).iterations


def _art_pixels(s: Settings) -> int:
    from peronamalik.art.source import load_source

    return load_source(None, size=preset_config(DEFAULT_PRESET).size, device=torch.device("cpu")).tensor[0, 0].numel()


def _video(threads: int | None) -> Callable[[Inputs], Job]:
    """``stylize_frames`` ("video" preset) over a 640×360 clip in memory: from uint8 frame in
    to uint8 frame out, decoding and encoding excluded."""

    def make(inputs: Inputs) -> Job:
        from peronamalik.art.video import stylize_frames

        frames = _video_frames(inputs.settings)
        clip = inputs._get(f"clip {frames}", lambda rng: rng.integers(0, 256, (frames, 360, 640, 3), dtype=np.uint8))

        def job() -> None:
            with torch_threads(threads):
                for _ in stylize_frames(clip, seed=0, device="cpu"):
                    pass

        return job

    return make


def _video_frames(s: Settings) -> int:
    return 4 if s.quick else 60


def _register_learned() -> None:
    for height, width, quick in ((240, 320, True), (512, 512, False), (1024, 1024, False)):
        size = f"{width}×{height} RGB"
        common: dict[str, Any] = {
            "group": f"learned step {size}",
            "pixels": lambda s, n=height * width: n,
            "iterations": learned_iterations(height * width),
            "quick": quick,
        }
        register(
            Case(f"naive eager learned step {size}", make=learned_steps("off", height, width),
                 peer="naive eager", note="seed preset, torch autograd + torch.optim", **common)
        )
        register(Case(f"peronamalik learned step {size}", make=learned_steps("auto", height, width),
                      note="seed preset, fused where eligible", **common))
    register(
        Case("art default job", group="art", make=_art_job, pixels=_art_pixels, iterations=_art_iterations,
             note=f"bundled sample, {DEFAULT_PRESET}; split: diffusion vs GIF encoding")
    )
    for threads in (None, 1):
        register(
            Case(f"video 640×360{'' if threads is None else ', 1 thread'}", group="video", make=_video(threads),
                 pixels=lambda s: 640 * 360, iterations=_video_frames, quick=threads is None,
                 note="video preset; frames/s = Mpix·it/s ÷ 0.2304")
        )


_register_learned()
