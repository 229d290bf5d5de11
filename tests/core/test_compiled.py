"""Issue 4, GPU path: ``torch.compile`` of the reference steps equals the reference.

CI has no GPU, so the compiled path is exercised on the CPU (``backend("compiled")``):
the same traced graph, lowered by TorchInductor to C++ instead of Triton.  What a GPU adds
(Triton's code generation) is measured by ``peronamalik bench`` when a GPU is present.
Inputs are photos, where each step is well conditioned (on raw noise with kappa near the
noise's gradient size, two correct float32 codes drift apart; see test_medpy_agreement).
Each configuration compiles one graph (5-15 s here), so the list is short and chosen for
what the C kernel does not cover (coupled flux8, sigma, autograd, 4 iterations of 3-D).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

from peronamalik import backend, diffuse
from peronamalik.backends import compiled, policy
from peronamalik.backends.job import Diffusion

from .helpers import sample_photo

TOL = 1e-5


@pytest.fixture
def compile_mode():
    assert compiled.unavailable(torch.device("cpu")) is None
    with backend("compiled"):
        yield


def reference(image, **options):
    with backend("reference"):
        return diffuse(image, **options)


def graphs() -> int:
    return counters["stats"]["unique_graphs"]


CASES = {
    "grey exp, anisotropic spacing": ("camera", dict(spacing=(1.0, 0.5), kappa=0.08)),
    "RGB coupled flux8, rational": ("astronaut", dict(channel_axis=-1, coupled=True, scheme="flux8", diffusivity="rational")),
    "RGB tukey, sigma": ("astronaut", dict(channel_axis=-1, diffusivity="tukey", kappa=0.2, sigma=1.0)),
    "RGB coupled gradient, spacing": ("astronaut", dict(channel_axis=-1, coupled=True, scheme="gradient", spacing=(1.0, 0.7))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_equals_reference(compile_mode, name):
    photo, options = CASES[name]
    image = sample_photo(photo, 64)
    before = graphs()
    out = diffuse(image, iterations=compiled.STEPS_PER_CALL, **options)
    assert graphs() == before + 1, "no graph was compiled: the compiled path did not run"
    expected = reference(image, iterations=compiled.STEPS_PER_CALL, **options)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert float(np.abs(out - expected).max()) <= TOL


def test_new_kappa_and_dt_reuse_the_graph_and_remainders_compile_once(compile_mode):
    """kappa and dt are graph inputs (no recompile); 11 iterations = one 8-step call plus a
    3-step graph, which later jobs of 11 reuse."""
    volume = np.stack([sample_photo("camera", 24)] * 6) * np.linspace(0.6, 1.0, 6)[:, None, None]
    volume = volume.astype(np.float32)
    diffuse(volume, iterations=11, kappa=0.1)
    before = graphs()
    for kappa, dt in ((0.05, 0.1), (0.3, None), (0.2, 0.15)):
        out = diffuse(volume, iterations=11, kappa=kappa, dt=dt)
        expected = reference(volume, iterations=11, kappa=kappa, dt=dt)
        assert float(np.abs(out - expected).max()) <= TOL, (kappa, dt)
    assert graphs() == before, "a new kappa or dt recompiled"


def test_gradients_equal_the_reference(compile_mode):
    """Autograd through the compiled steps (AOTAutograd's compiled backward), float64."""
    photo = torch.from_numpy(sample_photo("camera", 20).astype(np.float64))

    def gradients(mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        image = photo.clone().requires_grad_()
        kappa = torch.tensor(0.15, dtype=torch.float64, requires_grad=True)
        with backend(mode):
            out = diffuse(image, iterations=compiled.STEPS_PER_CALL, kappa=kappa, diffusivity="rational")
        (out * torch.linspace(-1, 1, out.numel(), dtype=torch.float64).reshape(out.shape)).sum().backward()
        return image.grad, kappa.grad

    before = graphs()
    image_grad, kappa_grad = gradients("compiled")
    assert graphs() > before, "the compiled path did not run"
    ref_image_grad, ref_kappa_grad = gradients("reference")
    assert torch.allclose(image_grad, ref_image_grad, rtol=1e-9, atol=1e-12)
    assert torch.allclose(kappa_grad, ref_kappa_grad, rtol=1e-9, atol=1e-12)


def job_on(device: str, side: int, iterations: int = 20) -> Diffusion:
    """A float32 ``side``² job on ``device``, which need not exist here: the policy reads only
    the image's device and size."""
    image = SimpleNamespace(
        device=torch.device(device), ndim=4, shape=(1, 1, side, side), dtype=torch.float32, requires_grad=False,
        numel=lambda: side * side, element_size=lambda: 4,
    )  # fmt: skip
    return Diffusion(image, iterations, 0.1, 0.25, "exp", "flux", (1.0, 1.0), False, 0.0)


def test_policy_on_cuda_is_a_rule_on_the_job_alone(monkeypatch):
    """auto on CUDA: compiled exactly when the job's eager estimate exceeds a compile's cost;
    the same job always gets the same answer, whatever ran before (no GPU needed: the rule
    reads the job's size and device)."""
    monkeypatch.setattr(compiled, "why_not", lambda job: None)
    big, small = job_on("cuda", 8192, 2000), job_on("cuda", 64, 20)
    assert [policy.choose(big) for _ in range(3)] == ["compiled"] * 3
    assert [policy.choose(small) for _ in range(6)] == ["reference"] * 6, "small jobs never compile"
    with backend("compiled"):
        assert policy.choose(small) == "compiled"
    with backend("reference"):
        assert policy.choose(big) == "reference"
    # the eager estimate: launch-bound when small, bandwidth-bound when large
    small_seconds = compiled.eager_gpu_seconds(64 * 64, 4, 26, 20)
    assert small_seconds == pytest.approx(20 * 26 * compiled.EAGER_GPU_SECONDS_PER_KERNEL)
    assert compiled.eager_gpu_seconds(8192**2, 4, 26, 20) > 10 * small_seconds


def test_availability_is_checked_per_device():
    """Here: g++ is present, so the CPU can compile (what the tests above rely on); CUDA needs
    Triton, which a CPU-only torch does not ship."""
    assert compiled.unavailable(torch.device("cpu")) is None
    from torch.utils._triton import has_triton

    with pytest.warns(compiled.CompileWarning) if not has_triton() else contextlib.nullcontext():
        reason = compiled.unavailable(torch.device("cuda"))
    assert (reason is None) == has_triton()


def test_an_untraceable_diffusivity_runs_eagerly_and_only_its_configuration(compile_mode):
    """A callable Dynamo cannot trace in one graph (a Python branch on a tensor's value):
    one CompileWarning, the eager result; other configurations still compile."""

    def branching(d, kappa):
        gate = 1.0 if float(d.max()) >= 0 else 0.0  # data-dependent Python: a graph break
        return torch.exp(-(d / kappa).square()) * gate

    image = sample_photo("camera", 32)
    with pytest.warns(compiled.CompileWarning, match="one configuration"):
        out = diffuse(image, iterations=compiled.STEPS_PER_CALL, diffusivity=branching)
    assert np.array_equal(out, reference(image, iterations=compiled.STEPS_PER_CALL, diffusivity=branching))
    with warnings.catch_warnings():
        warnings.simplefilter("error", compiled.CompileWarning)  # no second attempt, no warning
        diffuse(image, iterations=compiled.STEPS_PER_CALL, diffusivity=branching, kappa=0.3)
        before = graphs()
        diffuse(image, iterations=compiled.STEPS_PER_CALL, diffusivity="rational")
    assert graphs() == before + 1


def test_auto_mode_on_the_cpu_never_compiles():
    before = graphs()
    diffuse(sample_photo("camera", 32), iterations=3, sigma=0.5)  # not C-kernel eligible
    assert graphs() == before


def test_no_compiler_warns_once_and_runs_eagerly(tmp_path):
    """Inductor pointed at a C++ compiler that does not exist, in a fresh process: one
    CompileWarning naming the reason, the eager result, nothing compiled."""
    script = textwrap.dedent(
        """
        import warnings, numpy as np, torch, torch._inductor.config as inductor, peronamalik
        from peronamalik import diffuse
        from peronamalik.backends import compiled
        inductor.cpp.cxx = ("/nonexistent/g++",)
        image = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = diffuse(image, iterations=8)
            diffuse(image, iterations=8, kappa=0.2, diffusivity="tukey")
        with peronamalik.backend("reference"):
            same = np.array_equal(first, diffuse(image, iterations=8))
        messages = [str(w.message) for w in caught if w.category is compiled.CompileWarning]
        print(same, len(messages), "no C++ compiler" in messages[0], len(compiled._compiled_keys))
        """
    )
    env = dict(os.environ, PERONAMALIK_BACKEND="compiled", TORCHINDUCTOR_CACHE_DIR=str(tmp_path))
    env.pop("CXX", None)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-4:] == ["True", "1", "True", "0"], run.stdout + run.stderr[-2000:]
