"""Benchmark: the project's diffusion paths against the peers, in one process, same inputs.

Run ``python -m peronamalik.bench`` or ``peronamalik bench`` (``--help`` for options).  Each
*case* is one job (e.g. 20 iterations of exp diffusion on a 2048² float32 image) run by one
implementation; the table reports, per case:

* **Mpix·it/s** -- spatial pixels × iterations / wall seconds, best of ``--repeat`` runs (the
  best run is the one least disturbed by other processes on a shared machine), after one
  warm-up call (which loads or compiles the fused kernel);
* **ratios** -- this rate over the rate of the project's reference path and of each peer
  *in the same group* (same input kind: 2-D grey, 3-D, RGB);
* **peak memory** -- the highest resident set size (RSS) during a separate run of the job
  (preparing the peer's input included, e.g. SimpleITK's image copy), above the RSS before,
  plus the bytes of the input arrays themselves (so: above the post-import baseline), in
  MiB and in multiples of the input's bytes (float32 grey or volume; uint8 RGB for OpenCV,
  float32 RGB for the project's RGB rows).  Linux: the kernel's own high-water
  mark ``VmHWM``, reset through ``/proc/self/clear_refs`` before the run, so even a peer
  that holds the GIL is measured exactly; elsewhere a thread samples RSS (psutil) every
  millisecond.  Before a memory run, memory malloc keeps for reuse is handed back to the
  OS (glibc ``malloc_trim``), so a block freed by one case cannot hide the next case's use.

Peers (skipped with a note when not installed):

* medpy ``anisotropic_diffusion`` (numpy; float32; exp = ``option=1``) -- same math;
* SimpleITK ``GradientAnisotropicDiffusionImageFilter`` -- same PDE, other conventions:
  ITK's time step is stable up to 1/2^(N+1) (0.125 in 2-D) and its conductance K is relative
  to the image's mean gradient magnitude, so results differ; throughput only;
* OpenCV ``cv2.ximgproc.anisotropicDiffusion`` -- takes only 8-bit 3-channel (RGB) images
  and uses 8 neighbours; compared with the project on the same RGB picture as float32
  (``channel_axis=-1``), pixels counted once per RGB pixel.

More cases: :func:`register` a :class:`Case` (the learned "seed" step and the art job's
diffusion-vs-encoding split are meant to be added this way); a job may return a mapping
``{phase: seconds}``, printed as a split below the table.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import math
import os
import platform
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from peronamalik.core.threads import torch_threads

Job = Callable[[], Any]


# ------------------------------------------------------------------------ inputs -----


@dataclass
class Settings:
    size: int = 2048  #: side of the 2-D images
    iterations: int = 20
    repeat: int = 3
    kappa: float = 0.1
    seed: int = 0
    quick: bool = False
    memory: bool = True
    time_budget: float = 20.0  #: stop repeating a case after this many seconds of runs

    @property
    def volume_side(self) -> int:
        """Side of the 3-D volume with about as many voxels as the 2-D image has pixels."""
        return cube_side(self.size)


def cube_side(side: int) -> int:
    """Side of a cube with about as many voxels as a ``side``² image has pixels."""
    return max(4, round(side ** (2 / 3)))


class Inputs:
    """The shared inputs, made on first use (one set per table, a fresh one per memory run)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: dict[str, np.ndarray] = {}

    def _get(self, name: str, make: Callable[[np.random.Generator], np.ndarray]) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = make(np.random.default_rng(self.settings.seed))
        return self._cache[name]

    @property
    def gray(self) -> np.ndarray:
        """size² float32 in [0, 1]: smooth shapes, edges and noise (content does not change
        any path's cost, but the result should look like a picture being filtered)."""
        return self.picture(self.settings.size)

    def picture(self, n: int) -> np.ndarray:
        """The :attr:`gray` picture at n²."""

        def make(rng: np.random.Generator) -> np.ndarray:
            y, x = np.mgrid[0:n, 0:n].astype(np.float32) / n
            image = 0.5 + 0.25 * np.sin(12 * x) * np.cos(9 * y) + 0.2 * ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1)
            image += 0.05 * rng.standard_normal((n, n), dtype=np.float32)
            return np.clip(image, 0, 1).astype(np.float32)

        return self._get(f"gray {n}", make)

    @property
    def volume(self) -> np.ndarray:
        n = self.settings.volume_side
        return self._get("volume", lambda rng: rng.random((n, n, n), dtype=np.float32))

    @property
    def rgb_u8(self) -> np.ndarray:
        n = self.settings.size
        return self._get("rgb_u8", lambda rng: rng.integers(0, 256, (n, n, 3), dtype=np.uint8))

    @property
    def rgb(self) -> np.ndarray:
        """The same picture as :attr:`rgb_u8`, as float32 in [0, 1]."""
        n = self.settings.size
        return self._get("rgb", lambda rng: rng.integers(0, 256, (n, n, 3), dtype=np.uint8).astype(np.float32) / 255)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._cache.values())


# ------------------------------------------------------------------------- cases -----


@dataclass
class Case:
    """One benchmark row: ``make(inputs)`` prepares and returns the job to time.

    ``pixels(settings)`` is the number of spatial pixels (voxels) one iteration covers and
    ``iterations(settings)`` the iterations one job runs (their product is the "Mpix·it" of
    a job); peak memory is divided by the bytes of the inputs ``make`` used.  ``peer`` is
    the name of the outside implementation (None for the project's own paths, and
    ``"reference"`` for the project's reference path, which other rows are compared with).
    ``requires``: modules that must import, else the row is skipped with a note.
    """

    name: str
    group: str
    make: Callable[[Inputs], Job]
    pixels: Callable[[Settings], int]
    peer: str | None = None
    note: str = ""
    requires: tuple[str, ...] = ()
    iterations: Callable[[Settings], int] = field(default=lambda s: s.iterations)
    quick: bool = True  #: also run in --quick mode
    device: str = "cpu"  #: "cuda": skipped without a GPU; peak memory is the GPU's


REGISTRY: dict[str, Case] = {}


def register(case: Case) -> Case:
    """Add (or replace) a case; rows print in registration order."""
    REGISTRY[case.name] = case
    return case


def _pixels_2d(s: Settings) -> int:
    return s.size * s.size


def _pixels_3d(s: Settings) -> int:
    return s.volume_side**3


@contextlib.contextmanager
def fused_mode(value: str) -> Iterator[None]:
    """Set ``$PERONAMALIK_FUSED`` for the duration (``off``: reference path, ``on``: kernel)."""
    old = os.environ.get("PERONAMALIK_FUSED")
    os.environ["PERONAMALIK_FUSED"] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PERONAMALIK_FUSED", None)
        else:
            os.environ["PERONAMALIK_FUSED"] = old


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


def _medpy(pick: Callable[[Inputs], np.ndarray], dt: float) -> Callable[[Inputs], Job]:
    def make(inputs: Inputs) -> Job:
        from medpy.filter.smoothing import anisotropic_diffusion

        image, s = pick(inputs), inputs.settings
        return lambda: anisotropic_diffusion(image, niter=s.iterations, kappa=s.kappa, gamma=dt, option=1)

    return make


def _sitk(pick: Callable[[Inputs], np.ndarray], dt: float) -> Callable[[Inputs], Job]:
    def make(inputs: Inputs) -> Job:
        import SimpleITK as sitk

        image, s = sitk.GetImageFromArray(pick(inputs)), inputs.settings
        f = sitk.GradientAnisotropicDiffusionImageFilter()
        f.SetTimeStep(dt)
        f.SetConductanceParameter(1.0)
        f.SetNumberOfIterations(s.iterations)
        f.SetNumberOfThreads(torch.get_num_threads())
        return lambda: f.Execute(image)

    return make


def _opencv(inputs: Inputs) -> Job:
    import cv2

    image, s = inputs.rgb_u8, inputs.settings
    return lambda: cv2.ximgproc.anisotropicDiffusion(image, 0.1, 255 * s.kappa, s.iterations)


def _register_defaults() -> None:
    gray = lambda i: i.gray
    vol = lambda i: i.volume
    rgb = lambda i: i.rgb
    g2: dict[str, Any] = {"group": "2-D grey", "pixels": _pixels_2d}
    register(
        Case(
            "peronamalik reference (eager torch)",
            make=_ours("off", gray),
            peer="reference",
            note="flux_step loop, exp",
            **g2,
        )
    )
    register(Case("peronamalik fused (C kernel)", make=_ours("on", gray), note="exp", **g2))
    register(Case("peronamalik fused, rational", make=_ours("on", gray, diffusivity="rational"), **g2))
    register(Case("peronamalik fused, tukey", make=_ours("on", gray, diffusivity="tukey"), **g2))
    register(Case("peronamalik fused, 1 thread", make=_ours("on", gray, threads=1), note="exp", **g2))
    register(Case("peronamalik fused flux8", make=_ours("on", gray, scheme="flux8"), note="8 neighbours, exp", **g2))
    register(Case("peronamalik fused, core only", make=_core(gray), note="run_diffusion on a tensor", **g2))
    register(
        Case("peronamalik torch.compile (CPU)", make=_ours("compile", gray), quick=False,
             note="the GPU path's graph, lowered to C++ by inductor", **g2)
    )
    register(
        Case(
            "medpy",
            make=_medpy(gray, 0.25),
            peer="medpy",
            requires=("medpy",),
            note="anisotropic_diffusion option=1 (same result)",
            **g2,
        )
    )
    register(
        Case(
            "SimpleITK",
            make=_sitk(gray, 0.125),
            peer="SimpleITK",
            requires=("SimpleITK",),
            note="GradientAnisotropicDiffusion, dt 0.125, K 1 (ITK conventions)",
            **g2,
        )
    )
    g3: dict[str, Any] = {"group": "3-D", "pixels": _pixels_3d}
    register(Case("peronamalik reference 3-D", make=_ours("off", vol), peer="reference", quick=False, **g3))
    register(Case("peronamalik fused 3-D", make=_ours("on", vol), note="exp", **g3))
    register(Case("peronamalik fused 3-D, core only", make=_core(vol), note="run_diffusion on a tensor", **g3))
    register(Case("medpy 3-D", make=_medpy(vol, 1 / 6), peer="medpy", requires=("medpy",), **g3))
    register(
        Case(
            "SimpleITK 3-D", make=_sitk(vol, 0.0625), peer="SimpleITK", requires=("SimpleITK",), note="dt 0.0625", **g3
        )
    )
    gc3: dict[str, Any] = {"group": "RGB", "pixels": _pixels_2d}
    register(
        Case(
            "OpenCV ximgproc",
            make=_opencv,
            peer="OpenCV",
            requires=("cv2",),
            note="uint8 RGB input only, 8 neighbours",
            **gc3,
        )
    )
    register(Case("peronamalik fused RGB", make=_ours("on", rgb, channel_axis=-1), note="float32, per channel", **gc3))
    register(
        Case(
            "peronamalik fused RGB coupled",
            make=_ours("on", rgb, channel_axis=-1, coupled=True),
            note="float32, one conductance",
            **gc3,
        )
    )
    register(
        Case(
            "peronamalik fused flux8 RGB",
            make=_ours("on", rgb, channel_axis=-1, scheme="flux8"),
            note="float32, per channel, 8 neighbours",
            **gc3,
        )
    )


_register_defaults()


# ------------------------------------------------------------- on drugs, video -----


def _learned_steps(mode: str, height: int, width: int, device: str = "cpu") -> Callable[[Inputs], Job]:
    """``LearnedDiffusion.step`` of the "seed" preset on an RGB picture: the seed's learned
    step (forward, loss, backward, SGD).  ``off``: the naive eager torch path."""

    def make(inputs: Inputs) -> Job:
        from peronamalik.art import LearnedDiffusion, preset_config

        array = inputs._get(f"rgb {height}x{width}", lambda rng: rng.random((1, 3, height, width), dtype=np.float32))
        picture = torch.from_numpy(array).to(device)
        steps = _learned_iterations(height * width)(inputs.settings)

        def job() -> Any:
            with fused_mode(mode):
                engine = LearnedDiffusion(picture, preset_config("seed"), torch.Generator().manual_seed(0))
                for _ in range(steps):
                    engine.step()
                return _synchronized(engine.image)

        return job

    return make


def _learned_iterations(pixels: int) -> Callable[[Settings], int]:
    return lambda s: (3 if s.quick else max(20, 20_000_000 // pixels))


def _art_job(inputs: Inputs) -> Job:
    """The default ``peronamalik art`` job (bundled sample, "glow", its default size and
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
    from peronamalik.art.presets import preset_config

    return 60 if s.quick else preset_config("glow").iterations


def _art_pixels(s: Settings) -> int:
    from peronamalik.art.presets import preset_config
    from peronamalik.art.source import load_source

    return load_source(None, size=preset_config("glow").size, device=torch.device("cpu")).tensor[0, 0].numel()


def _video(threads: int | None) -> Callable[[Inputs], Job]:
    """``stylize_frames`` ("video" preset) over a 640×360 clip in memory: from uint8 frame in
    to uint8 frame out, decoding and encoding excluded."""

    def make(inputs: Inputs) -> Job:
        from peronamalik.art.video import moving_shapes, stylize_frames

        frames = _video_frames(inputs.settings)
        clip = inputs._get(f"clip {frames}", lambda rng: np.stack(list(moving_shapes(frames, width=640, height=360))))

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
            "iterations": _learned_iterations(height * width),
            "quick": quick,
        }
        register(
            Case(f"naive eager learned step {size}", make=_learned_steps("off", height, width),
                 peer="naive eager", note="seed preset, torch autograd + torch.optim", **common)
        )
        register(Case(f"peronamalik learned step {size}", make=_learned_steps("auto", height, width),
                      note="seed preset, fused where eligible", **common))
    register(
        Case("art default job", group="art job", make=_art_job, pixels=_art_pixels, iterations=_art_iterations,
             note="bundled sample, glow; split: diffusion vs GIF encoding")
    )
    for threads in (None, 1):
        register(
            Case(f"video 640×360{'' if threads is None else ', 1 thread'}", group="video", make=_video(threads),
                 pixels=lambda s: 640 * 360, iterations=_video_frames,
                 note="video preset; frames/s = Mpix·it/s ÷ 0.2304")
        )


_register_learned()


# --------------------------------------------------------------------------- GPU -----


def _synchronized(out: Any) -> Any:
    """``out``, once the GPU has finished the work queued for it (a no-op on the CPU)."""
    if isinstance(out, torch.Tensor) and out.is_cuda:
        torch.cuda.synchronize(out.device)
    return out


def _gpu_side(s: Settings) -> int:
    """GPU images are twice the CPU side (4096² float32 by default: 64 MiB, more than an
    H100's 50 MB L2, so the rates are the memory's, not the cache's)."""
    return s.size if s.quick else 2 * s.size


def _gpu_iterations(s: Settings) -> int:
    return s.iterations if s.quick else 10 * s.iterations


def _gpu_tensor(inputs: Inputs, ndim: int) -> torch.Tensor:
    n = _gpu_side(inputs.settings)
    if ndim == 2:
        array = inputs.picture(n)
    else:
        side = cube_side(n)
        array = inputs._get(f"volume {side}", lambda rng: rng.random((side, side, side), dtype=np.float32))
    return torch.from_numpy(array)[None, None].to("cuda")


def _cuda_diffusion(mode: str, ndim: int) -> Callable[[Inputs], Job]:
    """``run_diffusion`` on a CUDA tensor (``off``: eager torch; ``on``: torch.compile)."""

    def make(inputs: Inputs) -> Job:
        from peronamalik.core.diffuse import run_diffusion

        u, s = _gpu_tensor(inputs, ndim), inputs.settings

        def job() -> Any:
            with fused_mode(mode):
                return _synchronized(run_diffusion(u, iterations=_gpu_iterations(s), kappa=s.kappa))

        return job

    return make


def _cuda_copy(ndim: int) -> Callable[[Inputs], Job]:
    """``out.copy_(u)`` once per iteration: one read and one write of the image, the least
    traffic an explicit step can have; its rate is the card's copy bandwidth in Mpix·it/s."""

    def make(inputs: Inputs) -> Job:
        u, iterations = _gpu_tensor(inputs, ndim), _gpu_iterations(inputs.settings)
        out = torch.empty_like(u)

        def job() -> Any:
            for _ in range(iterations):
                out.copy_(u)
            return _synchronized(out)

        return job

    return make


def _register_gpu() -> None:
    for ndim, label, pixels in ((2, "2-D", lambda s: _gpu_side(s) ** 2), (3, "3-D", lambda s: cube_side(_gpu_side(s)) ** 3)):
        common: dict[str, Any] = {"group": f"CUDA {label}", "pixels": pixels, "iterations": _gpu_iterations, "device": "cuda"}
        register(Case(f"CUDA copy {label}", make=_cuda_copy(ndim), peer="copy", note="out.copy_(image) per iteration", **common))
        register(Case(f"peronamalik CUDA eager {label}", make=_cuda_diffusion("off", ndim), peer="CUDA eager",
                      note="reference flux_step loop, exp", **common))
        register(Case(f"peronamalik CUDA compiled {label}", make=_cuda_diffusion("on", ndim),
                      note="torch.compile (Triton), exp", **common))
    learned: dict[str, Any] = {
        "group": "CUDA learned step 1024×1024 RGB",
        "pixels": lambda s: 1024 * 1024,
        "iterations": _learned_iterations(1024 * 1024),
        "device": "cuda",
    }
    register(Case("CUDA naive eager learned step 1024×1024 RGB", make=_learned_steps("off", 1024, 1024, "cuda"),
                  peer="naive eager CUDA", note="seed preset, torch autograd + torch.optim", **learned))
    register(Case("peronamalik CUDA learned step 1024×1024 RGB", make=_learned_steps("on", 1024, 1024, "cuda"),
                  note="seed preset, step + loss + backward compiled", **learned))


_register_gpu()


# ------------------------------------------------------------------------ memory -----


def _release_free_memory() -> None:
    """Hand memory malloc keeps for reuse back to the OS (glibc ``malloc_trim``), so the RSS
    before a memory run counts only live data and the run's own use shows in the peak.
    (Only before memory runs: timed runs keep the allocator as warm as in real use.)"""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rss() -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError), open("/proc/self/status", encoding="ascii") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) * 1024
    import psutil

    return psutil.Process().memory_info().rss


class PeakRSS:
    """Peak RSS during a ``with`` block, in bytes above the RSS at its start (``.peak``)."""

    method = "none"

    def __enter__(self) -> PeakRSS:  # noqa: PYI034
        _release_free_memory()
        self.peak = 0
        self._hwm = self._reset_hwm()
        self.baseline = _rss()
        self._stop = threading.Event()
        self._sampled = self.baseline
        if not self._hwm:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            PeakRSS.method = "VmHWM"
            return True
        except OSError:
            return False

    def _sample(self) -> None:
        import psutil

        proc = psutil.Process()
        PeakRSS.method = "psutil sampling (1 ms)"
        while not self._stop.wait(0.001):
            self._sampled = max(self._sampled, proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        if self._hwm:
            with open("/proc/self/status", encoding="ascii") as f:
                top = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) * 1024
        else:
            self._stop.set()
            self._thread.join()
            top = max(self._sampled, _rss())
        self.peak = max(0, top - self.baseline)


# --------------------------------------------------------------------------- run -----


@dataclass
class Result:
    name: str
    group: str
    peer: str | None
    note: str
    rate: float | None = None  #: Mpix·it/s (best run)
    seconds: float | None = None  #: best run
    runs: int = 0
    peak_bytes: int | None = None
    image_bytes: int | None = None
    skipped: str | None = None
    split: dict[str, float] | None = None
    ratios: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    first_seconds: float | None = None  #: the warm-up call (imports, kernel load or compile)


def _missing(case: Case) -> str | None:
    if case.device == "cuda" and not torch.cuda.is_available():
        return "no CUDA device"
    for module in case.requires:
        try:
            __import__(module)
        except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
            return f"{module} not importable ({type(exc).__name__})"
    return None


def run_case(case: Case, settings: Settings, inputs: Inputs) -> Result:
    result = Result(case.name, case.group, case.peer, case.note, device=case.device)
    reason = _missing(case)
    if reason:
        result.skipped = reason
        return result
    work = case.pixels(settings) * case.iterations(settings) / 1e6
    try:
        job = case.make(inputs)
        start = time.perf_counter()
        job()  # warm-up: imports, kernel load/compile, allocator
        result.first_seconds = time.perf_counter() - start
        best, total, runs, split = math.inf, 0.0, 0, None
        while runs < settings.repeat and (runs == 0 or total < settings.time_budget):
            gc.collect()
            start = time.perf_counter()
            out = job()
            elapsed = time.perf_counter() - start
            total, runs = total + elapsed, runs + 1
            if elapsed < best:
                best = elapsed
                split = dict(out) if isinstance(out, Mapping) else None
            del out
        result.rate, result.seconds, result.runs, result.split = work / best, best, runs, split
        del job
        if settings.memory:
            # the input is made first (making it may take temporaries of its own), then
            # counted in: peak = input + high-water mark of make() and the job above it
            fresh = Inputs(settings)
            case.make(fresh)
            with PeakGPU() if case.device == "cuda" else PeakRSS() as peak:
                job = case.make(fresh)
                out = job()
                del out, job
            result.peak_bytes = peak.peak + fresh.nbytes * (case.device != "cuda")
            result.image_bytes = fresh.nbytes
            del fresh
    except Exception as exc:  # noqa: BLE001 - one broken peer must not end the table
        result.skipped = f"failed: {type(exc).__name__}: {exc}"
    return result


class PeakGPU:
    """Peak CUDA memory allocated by torch during the block, above what was allocated before
    (the GPU copy of the input is made inside, so it counts)."""

    peak = 0

    def __enter__(self) -> PeakGPU:  # noqa: PYI034
        torch.cuda.synchronize()
        self._before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc: object) -> None:
        torch.cuda.synchronize()
        self.peak = torch.cuda.max_memory_allocated() - self._before


def compute_ratios(results: list[Result]) -> None:
    """Each row's rate over the reference's and each peer's rate in the same group."""
    for row in results:
        if row.rate is None:
            continue
        for other in results:
            if other.group == row.group and other.peer and other.rate and other is not row:
                row.ratios.setdefault(other.peer, row.rate / other.rate)


def build_cost() -> dict[str, Any]:
    """Compile time of the fused kernel (fresh, into a scratch directory) and load time."""
    from pathlib import Path

    from peronamalik.core import fused, native

    info: dict[str, Any] = {}
    cc = native.compiler()
    if cc is None:
        return {"error": "no C compiler"}
    flags = native.flag_sets(fused.EXTRA_FLAGS)[0]
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "flux.so")
        start = time.perf_counter()
        try:
            native.compile_library(fused.SOURCE_NAME, cc, flags, Path(target))
        except Exception as exc:  # noqa: BLE001
            return {"error": str(exc).splitlines()[0]}
        info["compile_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        ctypes.CDLL(target)
        info["load_seconds"] = time.perf_counter() - start
    info["compiler"] = cc
    info["flags"] = " ".join(flags)
    return info


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read()
        model = re.search(r"model name\s*:\s*(.*)", text)
        cpu = model.group(1).strip() if model else cpu
        if " avx512f" in text:
            cpu += ", AVX-512"
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in load] if load else None,
    }


def run(
    settings: Settings, only: list[str] | None = None, echo: Callable[[str], None] = print, build: bool = True
) -> dict[str, Any]:
    """Run the registered cases (names containing one of ``only``); return everything."""
    from peronamalik.core import fused

    report: dict[str, Any] = {"settings": asdict(settings), "machine": machine()}
    with fused_mode("on"):
        fused.load()
    report["fused_build"] = asdict(fused.build_info) | {"path": str(fused.build_info.path)}
    if build and not settings.quick:
        report["build_cost"] = build_cost()
    inputs = Inputs(settings)
    results = []
    for case in REGISTRY.values():
        if only and not any(word.lower() in case.name.lower() for word in only):
            continue
        if settings.quick and not case.quick:
            continue
        echo(f"  running: {case.name} ...")
        results.append(run_case(case, settings, inputs))
    compute_ratios(results)
    report["machine"]["load_average_after"] = machine()["load_average"]
    report["memory_method"] = PeakRSS.method
    report["results"] = [asdict(r) for r in results]
    return report


# ------------------------------------------------------------------------ report -----


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def format_report(report: dict[str, Any]) -> str:
    s, m = report["settings"], report["machine"]
    results = [Result(**r) for r in report["results"]]
    peers = [p for p in ("reference", "medpy", "SimpleITK", "OpenCV") if any(r.peer == p for r in results)]
    peers += sorted({r.peer for r in results if r.peer and r.peer not in peers})
    side = Settings(size=s["size"]).volume_side
    lines = [
        (
            f"peronamalik bench: {s['size']}² grey / {side}³ volume / {s['size']}² RGB, "
            f"{s['iterations']} iterations, kappa {s['kappa']}, best of {s['repeat']}"
        ),
        (
            f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads), "
            f"load average {m['load_average']} -> {m.get('load_average_after')}"
        ),
    ]
    b = report.get("fused_build", {})
    if b.get("error"):
        lines.append(f"fused kernel: unavailable ({b['error']})")
    else:
        how = (
            f"compiled in {b['seconds']:.1f} s"
            if b.get("compiled")
            else f"loaded from cache in {b['seconds'] * 1e3:.1f} ms"
        )
        lines.append(f"fused kernel: {how} ({b.get('path')})")
    cost = report.get("build_cost")
    if cost and "compile_seconds" in cost:
        lines.append(
            f"fused kernel build cost: {cost['compile_seconds']:.1f} s to compile (first use on a machine), "
            f"{cost['load_seconds'] * 1e3:.1f} ms to load when cached"
        )
    header = ["case", "group", "Mpix·it/s"] + [f"× {p}" for p in peers] + ["peak MiB", "peak ×img", "note"]
    rows = []
    for r in results:
        if r.skipped:
            rows.append([r.name, r.group, "skipped"] + ["-"] * len(peers) + ["-", "-", r.skipped])
            continue
        ratios = [_fmt(r.ratios.get(p), ".2f") if r.peer != p else "1" for p in peers]
        mib = None if r.peak_bytes is None else r.peak_bytes / 2**20
        times = None if r.peak_bytes is None or not r.image_bytes else r.peak_bytes / r.image_bytes
        rows.append([r.name, r.group, _fmt(r.rate, ".1f"), *ratios, _fmt(mib, ".0f"), _fmt(times, ".1f"), r.note])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for i, row in enumerate([header, *rows]):
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(
        f"Mpix·it/s: spatial pixels × iterations / best wall time; × X: rate over X's in the same group; "
        f"peak: RSS high-water mark above the RSS before the input was made ({report.get('memory_method')}), "
        "× the input image's bytes."
    )
    if any(r.device == "cuda" and not r.skipped for r in results):
        lines.append(
            "CUDA rows: peak is torch's CUDA allocator high-water mark (input included); × copy is the "
            "fraction of the card's copy bandwidth (one read and one write of the image per iteration)."
        )
    for r in results:
        if r.device == "cuda" and r.first_seconds is not None:
            lines.append(f"first call of {r.name}: {r.first_seconds:.2f} s (compile included)")
    for r in results:
        if r.split:
            total = sum(r.split.values())
            parts = ", ".join(f"{k} {v:.3f} s ({v / total:.0%})" for k, v in r.split.items())
            lines.append(f"split of {r.name}: {parts}")
    return "\n".join(lines)


def main(
    size: int = 2048,
    iterations: int = 20,
    repeat: int = 3,
    quick: bool = False,
    only: list[str] | None = None,
    memory: bool = True,
    json_path: str | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run, print the table, optionally write JSON; return the report."""
    if quick:
        size, iterations, repeat = min(size, 128), min(iterations, 3), 1
    if size < 4 or iterations < 1 or repeat < 1:
        raise ValueError("size must be >= 4, iterations and repeat >= 1")
    settings = Settings(size=size, iterations=iterations, repeat=repeat, quick=quick, memory=memory)
    report = run(settings, only=only, echo=lambda text: print(text, file=sys.stderr))
    echo(format_report(report))
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":  # python -m peronamalik.bench: the same command as `peronamalik bench`
    from peronamalik.cli import main as cli_main

    raise SystemExit(cli_main(["bench", *sys.argv[1:]]))
