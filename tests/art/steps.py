"""The lockstep helpers of the learned step's tests (the native and the compiled path against
the reference): engines on random images, the reference step, and the state comparison at
the issue's 1e-5."""

from __future__ import annotations

import torch

from peronamalik.art import LearnedDiffusion
from peronamalik.art.config import ArtConfig
from peronamalik.core.schemes import seed_step

TOL = 1e-5


def noise(channels: int, height: int = 19, width: int = 23, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, channels, height, width, generator=torch.Generator().manual_seed(seed))


def engine_for(config: ArtConfig, image: torch.Tensor) -> LearnedDiffusion:
    return LearnedDiffusion(image, config, torch.Generator().manual_seed(0))


def reference_step(engine: LearnedDiffusion) -> float:
    """The reference path of ``engine.step()``, whatever backend is requested."""
    image, response = engine.diffuse(engine.image.detach())
    loss = engine.learn(image, response, engine.original)
    engine.image = image.detach()
    return float(loss)


def close(a: torch.Tensor, b: torch.Tensor, tol: float = TOL) -> float:
    """Largest difference relative to max(1, |b|) (absolute for values of order 1)."""
    return float(((a - b).abs() / b.abs().clamp(min=1.0)).max())


def exact_image(engine: LearnedDiffusion) -> torch.Tensor:
    """The image ``engine``'s next step makes, computed in float64 from its float32 state."""
    with torch.no_grad():
        image, _ = seed_step(
            engine.image.double(), engine.kernel.double(), kappa=engine.config.kappa, dt=engine.config.dt,
            conductance=engine.conductance,
        )
    return image


def assert_same_state(fused: LearnedDiffusion, ref: LearnedDiffusion, what: str, exact: torch.Tensor | None = None) -> None:
    """``fused``'s state after a step equals ``ref``'s.  With ``exact`` (:func:`exact_image` of
    the state both stepped from), the image is held to TOL or three times the float32
    reference's own error against it, whichever is larger: the seed's "inv" conductance,
    1 / (|Scharr| / kappa² + 1), multiplies the rounding of the gradient by 1 / kappa² (25 at
    the seed's 0.2).  Summed as one conv2d, that rounding was of the values, not of the
    gradient, and set by the CPU's instruction set: the reference was 8e-6 from the float64
    image on one AMD EPYC and 2e-7 on another (AVX2), where the fused path was 1.4-2.5e-5
    from it; with the differences taken first (:func:`~peronamalik.core.schemes.scharr_magnitude`)
    both are within 6e-7 of it there."""
    allowed_image = TOL if exact is None else max(TOL, 3 * close(ref.image.double(), exact))
    assert close(fused.image, ref.image) <= allowed_image, f"image, {what}"
    grad, ref_grad = fused.kernel.grad, ref.kernel.grad
    scale = float(ref_grad.abs().max().clamp(min=1e-30))
    assert float((grad - ref_grad).abs().max()) <= TOL * scale, f"K.grad, {what}"
    allowed = torch.full_like(ref_grad, TOL)
    group = ref.optimizer.param_groups[0]
    if "betas" in group:
        # Adam divides by |g| + eps: where a gradient is itself at rounding level (|g| ~ eps,
        # seen once in ~10^6 elements), both paths' rounding of g moves K by up to lr
        lr = float(group["lr"])
        allowed += 2 * lr * (grad - ref_grad).abs() / (ref_grad.abs() + group["eps"])
    difference = (fused.kernel.detach() - ref.kernel.detach()).abs()
    assert bool((difference <= allowed * ref.kernel.detach().abs().clamp(min=1.0)).all()), f"K, {what}"
    ref_state = ref.optimizer.state[ref.kernel]
    fused_state = fused.optimizer.state[fused.kernel]
    assert sorted(fused_state) == sorted(ref_state), what
    for key, value in ref_state.items():
        if key == "step":
            assert float(fused_state[key]) == float(value), what
        else:
            state_scale = float(value.abs().max().clamp(min=1e-30))
            assert float((fused_state[key] - value).abs().max()) <= TOL * state_scale, f"{key}, {what}"
