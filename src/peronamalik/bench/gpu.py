"""CUDA cases: the card's copy bandwidth, the eager and compiled paths, the learned step
(listed as skipped without a GPU)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from peronamalik.bench.cases import learned_iterations, learned_steps
from peronamalik.bench.registry import Case, Inputs, Job, Settings, cube_side, fused_mode, register, synchronized


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
                return synchronized(run_diffusion(u, iterations=_gpu_iterations(s), kappa=s.kappa))

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
            return synchronized(out)

        return job

    return make


def _register_gpu() -> None:
    for ndim, label, pixels in ((2, "2-D", lambda s: _gpu_side(s) ** 2), (3, "3-D", lambda s: cube_side(_gpu_side(s)) ** 3)):
        common: dict[str, Any] = {"group": f"CUDA {label}", "pixels": pixels, "iterations": _gpu_iterations, "device": "cuda"}
        register(Case(f"CUDA copy {label}", make=_cuda_copy(ndim), peer="copy", note="out.copy_(image) per iteration", **common))
        register(Case(f"peronamalik CUDA eager {label}", make=_cuda_diffusion("off", ndim), peer="CUDA eager",
                      note="reference flux_step loop, exp", **common))
        register(Case(f"peronamalik CUDA compiled {label}", make=_cuda_diffusion("compile", ndim),
                      note="torch.compile (Triton), exp", **common))
    learned: dict[str, Any] = {
        "group": "CUDA learned step 1024×1024 RGB",
        "pixels": lambda s: 1024 * 1024,
        "iterations": learned_iterations(1024 * 1024),
        "device": "cuda",
    }
    register(Case("CUDA naive eager learned step 1024×1024 RGB", make=learned_steps("off", 1024, 1024, "cuda"),
                  peer="naive eager CUDA", note="seed preset, torch autograd + torch.optim", **learned))
    register(Case("peronamalik CUDA learned step 1024×1024 RGB", make=learned_steps("compile", 1024, 1024, "cuda"),
                  note="seed preset, step + loss + backward compiled", **learned))


_register_gpu()
