"""Issue 4: the native learned step equals the engine's reference step, and falls back cleanly.

The reference is the readable torch path of ``LearnedDiffusion.step`` (seed step, loss,
autograd, torch.optim).  Two kinds of comparison, both at the issue's 1e-5:

* **lockstep**: along a reference trajectory of 20 iterations with a refresh, every step is
  also taken by the fused path from a copy of the same state (image, K, optimizer state);
  image, loss, K, K.grad and the optimizer's state must agree.  This checks each step on any
  configuration.
* **trajectory**: whole runs, fused against reference, on configurations where the dynamics
  do not amplify rounding.  Elsewhere no two float32 implementations can agree over many
  steps: the explicit scheme is forward-backward where |L| > k/sqrt(2), and the edge term's
  sign(L) is decided by rounding where L is ~0 (linear ramps).  Measured: the reference run
  on an input perturbed by 1e-7 ends 9e-4 away from the unperturbed one after 20 steps of
  the seed preset on 23×37 RGB noise.  Random inputs here are rough noise, where each step
  is well conditioned.

No timings here: ``benchmarks/learned_step.py`` and ``peronamalik bench`` measure speed.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from peronamalik import backend
from peronamalik.art import LearnedDiffusion, losses, preset_config
from peronamalik.art.config import ArtConfig
from peronamalik.art.engine import BLEND_STEP
from peronamalik.backends.native import build
from peronamalik.backends.native import learned as fused_step

from .steps import TOL, assert_same_state, close, engine_for, exact_image, noise, reference_step

CONDUCTANCES = sorted(fused_step.KINDS)


@pytest.fixture(scope="module")
def lib(native_kernel):
    """The kernel, built (or loaded from the cache) once for this module."""
    return native_kernel(fused_step.KERNEL)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny images: one thread (a descheduled OpenMP worker would stall a loaded CI machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def fused_on(lib):
    with backend("native"):
        yield


def lockstep(config: ArtConfig, image: torch.Tensor, iterations: int = 20, refresh_at: int = 9) -> None:
    """Every step of a reference run, also taken by the fused path from the same state."""
    ref = engine_for(config, image)
    for i in range(iterations):
        fused = copy.deepcopy(ref)
        fused._fused = None
        out = fused_step.learned_step(fused, fused.original)
        assert out is not None, "the fused path did not run"
        assert fused._fused.opt_kind != fused_step.OPT_NONE, "the optimizer did not step in C"
        fused.image = out
        exact = exact_image(ref)
        loss = reference_step(ref)
        assert abs(fused_step.last_loss(fused) - loss) <= TOL * max(1.0, abs(loss)), f"loss, step {i}"
        assert_same_state(fused, ref, f"step {i}", exact)
        if i == refresh_at:
            ref.refresh()


SGD_SUM = {"reduction": "sum", "optimizer": "sgd", "lr": 2e-4, "momentum": 0.9, "weight_decay": 0.05}
SGD_MEAN = {"reduction": "mean", "optimizer": "sgd", "lr": 1.4, "momentum": 0.9, "weight_decay": 0.01}
ADAM_MEAN = {"reduction": "mean", "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.01}


@pytest.mark.parametrize("conductance", CONDUCTANCES)
@pytest.mark.parametrize("kernel_size", [3, 5])
@pytest.mark.parametrize("mixing", ["full", "per-channel"])
@pytest.mark.parametrize("optimizer", [SGD_SUM, SGD_MEAN, ADAM_MEAN], ids=["sgd-sum", "sgd-mean", "adam-mean"])
@pytest.mark.parametrize("channels", [3, 1], ids=["rgb", "grey"])
def test_each_step_equals_the_reference(lib, conductance, kernel_size, mixing, optimizer, channels):
    config = preset_config("seed").replace(
        diffusivity=conductance, kernel_size=kernel_size, mixing=mixing, kernel_noise=0.05, **optimizer
    )
    lockstep(config, noise(channels, seed=kernel_size + channels))


@pytest.mark.parametrize(
    "weights",
    [{"fidelity": 1.0, "edge": 0.0, "energy": 0.5}, {"fidelity": 0.0, "edge": 2.0, "energy": 0.0}, {"energy": 1.0}],
)
def test_other_loss_weights(lib, weights):
    lockstep(preset_config("glow").replace(loss_weights=weights), noise(3), iterations=8)


VIDEO_TERMS = {"video_fidelity": 1.0, "response": 1.0, "modulated_energy": 10.0}


@pytest.mark.parametrize("conductance", CONDUCTANCES)
@pytest.mark.parametrize("optimizer", [SGD_SUM, SGD_MEAN, ADAM_MEAN], ids=["sgd-sum", "sgd-mean", "adam-mean"])
@pytest.mark.parametrize("mixing", ["full", "per-channel"])
def test_video_terms_each_step_equals_the_reference(lib, conductance, optimizer, mixing):
    """The seed's video loss, (L (I - F))^2 + L + 10 (I L)^2, alone and with the others."""
    config = preset_config("video").replace(diffusivity=conductance, mixing=mixing, kernel_noise=0.05, **optimizer)
    lockstep(config, noise(3, seed=7), iterations=8, refresh_at=4)
    mixed = {**VIDEO_TERMS, "fidelity": 0.5, "edge": 0.3}
    lockstep(config.replace(loss_weights=mixed, kernel_size=5), noise(3, seed=8), iterations=4)


@pytest.mark.parametrize("conductance", CONDUCTANCES)
@pytest.mark.parametrize("mixing", ["full", "per-channel"])
def test_advance_is_the_step_without_learning(fused_on, conductance, mixing):
    """The video mode's S' = D_K(S): the fused forward equals the reference's no-grad step and
    leaves K, K.grad, the optimizer's state and the last loss as they were."""
    engine = engine_for(preset_config("video").replace(diffusivity=conductance, mixing=mixing, kernel_noise=0.05), noise(3))
    engine.step()
    kernel, grad, loss = engine.kernel.detach().clone(), engine.kernel.grad.clone(), fused_step.last_loss(engine)
    momentum = engine.optimizer.state[engine.kernel]["momentum_buffer"].clone()
    image = noise(3, seed=9)
    out = fused_step.advance(engine, image)
    assert out is not None, "the fused forward did not run"
    with torch.no_grad():
        expected = engine.diffuse(image)[0]
    assert close(out, expected) <= TOL
    assert torch.equal(engine.advance(image), out)
    assert torch.equal(engine.kernel.detach(), kernel) and torch.equal(engine.kernel.grad, grad)
    assert torch.equal(engine.optimizer.state[engine.kernel]["momentum_buffer"], momentum)
    assert fused_step.last_loss(engine) == loss


def test_four_channels_and_odd_sizes(lib):
    """Output channels in blocks of three (3 + 1), widths that are not whole vectors."""
    for width in (3, 17, 70):
        lockstep(preset_config("glow"), noise(4, height=5, width=width), iterations=4)


#: Adam with per-channel operators, the rational conductance, kernel noise and partial weights.
ADAM_PER_CHANNEL = preset_config("glow").replace(
    diffusivity="rational", dt=0.1, optimizer="adam", lr=1e-3, weight_decay=0.0, mixing="per-channel",
    kernel_noise=0.05, blend=0.8, loss_weights={"fidelity": 0.5, "edge": 1.0, "energy": 0.5},
)

def test_luminance_run_each_step_equals_the_reference(lib):
    """ink (channels="luminance") diffuses the luminance: ember's video terms on one channel."""
    from peronamalik.art.engine import luminance

    lockstep(preset_config("ink").replace(kernel_noise=0.05), luminance(noise(3, seed=9)), iterations=8, refresh_at=4)


TRAJECTORIES = {
    "seed": preset_config("seed"),
    "glow": preset_config("glow"),
    "glow per-channel": preset_config("glow").replace(mixing="per-channel"),
    "glow, centre taps": preset_config("glow").replace(learned_taps="centre"),
    "kitty (centre taps, kappa and energy relative to the source)": preset_config("kitty"),
    "adam, rational, per-channel": ADAM_PER_CHANNEL,
    "adam, tukey 5x5": ADAM_PER_CHANNEL.replace(diffusivity="tukey", kernel_size=5),
}


@pytest.mark.parametrize("name", sorted(TRAJECTORIES))
def test_whole_runs_equal_the_reference(lib, name):
    """engine.step() 20 times with a refresh, fused against reference (well-conditioned runs:
    see the module's docstring)."""
    config = TRAJECTORIES[name]
    image = noise(3, 17, 21, seed=3)
    runs = {}
    for name in ("native", "reference"):
        with backend(name):
            engine = engine_for(config, image)
            for i in range(20):
                engine.step()
                if i == 9:
                    engine.refresh()
        assert engine.backend == name and bool(engine._fused) == (name == "native")
        runs[name] = engine
    assert close(runs["native"].image, runs["reference"].image) <= TOL
    assert close(runs["native"].kernel.detach(), runs["reference"].kernel.detach()) <= TOL


@pytest.mark.parametrize(
    "make",
    [
        lambda k: torch.optim.SGD([k], lr=0.5, momentum=0.8, dampening=0.3, weight_decay=0.02),
        lambda k: torch.optim.SGD([k], lr=0.5, momentum=0.8, nesterov=True, weight_decay=0.02),
        lambda k: torch.optim.SGD([k], lr=0.5, maximize=True),
        lambda k: torch.optim.SGD([k], lr=0.5),
        lambda k: torch.optim.Adam([k], lr=1e-2, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, maximize=True),
        # not stepped in C: the fused path hands K.grad to torch's own step
        lambda k: torch.optim.Adam([k], lr=1e-2, amsgrad=True),
        lambda k: torch.optim.AdamW([k], lr=1e-2),
        lambda k: torch.optim.RMSprop([k], lr=1e-3, momentum=0.5),
        lambda k: torch.optim.SGD([k], lr=torch.tensor(0.5)),
    ],
    ids=["sgd-dampening", "sgd-nesterov", "sgd-maximize", "sgd-plain", "adam-options", "amsgrad", "adamw",
         "rmsprop", "tensor-lr"],
)
def test_optimizer_variants(lib, make):
    ref = engine_for(preset_config("glow").replace(kernel_noise=0.05), noise(3))
    ref.optimizer = make(ref.kernel)
    for i in range(6):
        fused = copy.deepcopy(ref)
        fused._fused = None
        fused.image = fused_step.learned_step(fused, fused.original)
        reference_step(ref)
        assert_same_state(fused, ref, f"step {i}")


def test_step_hooks_run(fused_on):
    engine = engine_for(preset_config("glow"), noise(3))
    calls = []
    engine.optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append(1))
    for _ in range(3):
        engine.step()
    assert engine._fused and len(calls) == 3


def test_refresh_resets_the_optimizer_state(fused_on):
    """A refresh makes a new optimizer: the fused path starts its momentum afresh, in the
    optimizer's own state, as torch does."""
    engine = engine_for(preset_config("seed"), noise(3))
    engine.step()
    engine.step()
    buffer = engine.optimizer.state[engine.kernel]["momentum_buffer"]
    engine.refresh()
    assert engine.optimizer.state == {} or not engine.optimizer.state[engine.kernel]
    engine.step()
    assert engine.optimizer.state[engine.kernel]["momentum_buffer"] is not buffer
    assert engine.kernel.grad is not None


def test_configurations_it_does_not_cover_take_the_reference(fused_on, monkeypatch):
    """A loss term registered by another mode (not in the kernel)."""
    monkeypatch.setitem(losses.LOSS_TERMS, "contrast", lambda s: -(s.image - s.image.mean()).square())
    config = preset_config("glow").replace(loss_weights={"fidelity": 1.0, "contrast": 0.5})
    fused = engine_for(config, noise(3))
    frames = [fused.step().clone() for _ in range(3)]
    assert fused.backend == "reference" and fused_step.covers(fused) is not None
    with backend("reference"):
        ref = engine_for(config, noise(3))
        assert all(torch.equal(frame, ref.step()) for frame in frames)


def test_float64_image_takes_the_reference(fused_on):
    engine = engine_for(preset_config("glow"), noise(3).double())
    engine.step()
    assert engine.backend == "reference" and engine.image.dtype == torch.float64


def test_per_step_fallbacks(fused_on):
    """Inputs the kernel cannot take for one step run that step on the reference path."""
    config = preset_config("glow")
    engine = engine_for(config, noise(3))
    engine.step()
    assert engine._fused
    twin = copy.deepcopy(engine)
    # an image that requires grad
    engine.image = engine.image.clone().requires_grad_()
    twin.image = twin.image.clone().requires_grad_()
    assert fused_step.learned_step(engine, engine.original) is None
    engine.step()
    reference_step(twin)
    assert torch.equal(engine.image, twin.image) and torch.equal(engine.kernel, twin.kernel)
    # a target that broadcasts (grey target, RGB image)
    grey = engine.original.mean(dim=1, keepdim=True)
    assert fused_step.learned_step(engine, grey) is None
    # a non-contiguous image
    engine.image = engine.image.detach().transpose(2, 3).contiguous().transpose(2, 3)
    assert fused_step.learned_step(engine, engine.original) is None
    engine.step()


def test_overridden_methods_take_the_reference(fused_on):
    class Custom(LearnedDiffusion):
        def learn(self, image, response, target):
            return super().learn(image, response, target)

    engine = Custom(noise(3), preset_config("glow"), torch.Generator().manual_seed(0))
    engine.step()
    assert engine.backend == "reference" and engine._fused is None


def test_switched_off(monkeypatch, lib):
    with backend("reference"):
        engine = engine_for(preset_config("glow"), noise(3))
        engine.step()
    assert engine.backend == "reference" and engine._fused is None
    monkeypatch.setenv("PERONAMALIK_FUSED", "0")  # the older variable still works
    assert engine_for(preset_config("glow"), noise(3)).backend == "reference"


def test_auto_mode_takes_the_kernel_whatever_the_job_size(lib):
    """auto on the CPU: the kernel for every job it covers, small or long -- a rule on the
    job alone, never on what the disk cache holds."""
    for iterations in (10, 10**6):
        engine = engine_for(preset_config("glow").replace(iterations=iterations), noise(3))
        engine.step()
        assert engine.backend == "native" and engine._fused


def test_results_held_by_the_caller_are_never_overwritten(fused_on):
    """The step writes into the previous image only when nobody else holds it."""
    engine = engine_for(preset_config("glow"), noise(3))
    kept = [engine.step() for _ in range(3)]
    views = [engine.step()[0] for _ in range(3)]
    arrays = [engine.step().numpy() for _ in range(3)]
    copies = [t.clone() for t in kept] + [v.clone() for v in views] + [a.copy() for a in arrays]
    for _ in range(6):
        engine.step()
    held = kept + views + arrays
    assert all(
        torch.equal(c, h) if isinstance(h, torch.Tensor) else np.array_equal(c, h) for c, h in zip(copies, held)
    )
    # and a plain loop does reuse: two buffers, alternating
    pointers = {engine.step().data_ptr() for _ in range(6)}
    assert len(pointers) <= 3


def test_grey_animation_runs_fused(fused_on):
    from peronamalik.art import animate

    photo = np.random.default_rng(0).random((20, 24))
    frames = list(animate(photo, iterations=6, every=2, seed=0, device="cpu", size=None))
    assert len(frames) == 3 and frames[0].shape == (20, 24, 3)


def test_built_once_into_the_cache_then_loaded_from_it(tmp_path, monkeypatch, lib):
    """A cold cache: compiled now, with its checksum beside it and no build folder left; a
    later process (here: this one, forgetting what it loaded) loads it from the cache."""
    monkeypatch.setenv("PERONAMALIK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(build, "build_info", {})  # leave the real library's record alone
    kernel = replace(fused_step.KERNEL, extra_flags=("-DPM_TEST_CACHE",))  # a cache key of its own
    loaded = build.load(kernel)
    assert loaded is not None and build.build_info[kernel.source].compiled
    libraries = list(tmp_path.glob("learned-*.so"))
    assert len(libraries) == 1 and build.verified(libraries[0]) and not list(tmp_path.glob(".build-*"))
    monkeypatch.setattr(build, "_loaded", {})
    assert build.load(kernel) is not None
    info = build.build_info[kernel.source]
    assert not info.compiled and info.cached and info.path == libraries[0]


def test_the_native_step_follows_the_kappa_fallback(lib):
    """A refresh that lowers a texture-raised kappa (``blend_structure``): the native engine's
    next step uses the new kappa, as the reference step does from the same state."""
    config = ArtConfig(loss_weights={"fidelity": 1.0, "energy": 10.0}, blend_structure=1.0, kappa_texture=True,
                       kappa_texture_min=3.0)
    with backend("native"):
        engine = engine_for(config, noise(3, seed=5))
        for _ in range(10):
            engine.step()
        assert engine.backend == "native"
        kappa = engine.config.kappa
        engine.refresh()
        assert engine.config.kappa == pytest.approx(kappa / BLEND_STEP)
        ref = copy.deepcopy(engine)
        engine.step()
    loss = reference_step(ref)
    assert abs(fused_step.last_loss(engine) - loss) <= TOL * max(1.0, abs(loss))
    assert_same_state(engine, ref, "the step after the refresh")


def test_the_native_step_follows_the_sink_feedback(lib):
    """A refresh that changes the energy weight (``sink_depth``): the native engine's next
    step takes the new weight, as the reference step does from the same state."""
    config = ArtConfig(loss_weights={"fidelity": 1.0, "energy": 10.0}, sink_depth=0.05)
    with backend("native"):
        engine = engine_for(config, noise(3, seed=4))
        for _ in range(10):
            engine.step()
        assert engine.backend == "native"
        engine.refresh()
        assert engine.config.loss_weights["energy"] != 10.0
        ref = copy.deepcopy(engine)
        engine.step()
    loss = reference_step(ref)
    assert abs(fused_step.last_loss(engine) - loss) <= TOL * max(1.0, abs(loss))
    assert_same_state(engine, ref, "the step after the refresh")
