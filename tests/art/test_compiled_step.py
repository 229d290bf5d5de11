"""Issue 4, GPU path of the learned step: ``torch.compile`` of step + loss equals the reference.

Run on the CPU with ``backend("compiled")`` (CI has no GPU; on CUDA the same graph is
lowered to Triton).  Lockstep, as in test_fused_step: every step of a reference run is also
taken on the compiled path from a copy of the same state, and image, loss, K, K.grad and
the optimizer's state must agree to 1e-5.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch._dynamo.utils import counters

from peronamalik import backend
from peronamalik.art import LearnedDiffusion, preset_config
from peronamalik.backends import compiled

from .steps import assert_same_state, engine_for, noise, reference_step

PRESETS = {
    "seed (sgd, sum, exp)": preset_config("seed"),
    "adam, inv conductance": preset_config("glow").replace(diffusivity="inv", optimizer="adam", lr=1e-3, weight_decay=0.0),
    "video terms, per-channel 5x5": preset_config("video").replace(mixing="per-channel", kernel_size=5),
}


@pytest.fixture
def compile_mode():
    assert compiled.unavailable(torch.device("cpu")) is None
    with backend("compiled"):
        yield


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_compiled_step_equals_the_reference(compile_mode, name):
    ref = engine_for(PRESETS[name].replace(kernel_noise=0.05), noise(3, 24, 28, seed=5))
    before = counters["stats"]["unique_graphs"]
    for i in range(6):
        twin = copy.deepcopy(ref)
        twin._fused = twin._backend = None
        twin.step()
        assert twin.backend == "compiled", "the compiled path did not run"
        reference_step(ref)
        assert_same_state(twin, ref, f"step {i}")
        if i == 3:
            ref.refresh()
    assert counters["stats"]["unique_graphs"] == before + 1, "one graph, reused for every step"


def test_overridden_methods_are_not_compiled(compile_mode):
    class Custom(LearnedDiffusion):
        def diffuse(self, previous):
            image, response = super().diffuse(previous)
            return image * 0.5, response

    engine = Custom(noise(3), preset_config("glow"), torch.Generator().manual_seed(0))
    expected = (engine.diffuse(engine.image)[0]).detach()
    assert torch.equal(engine.step(), expected)
    assert engine.backend == "reference"
