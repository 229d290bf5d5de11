"""The image ("on drugs") mode against the 2017 loop written out on its own (ALGORITHM.md).

``reference_seed`` below uses no project code: the numbers are ALGORITHM.md's, typed in,
not read from the preset.  The run crosses a refresh (i % 375 == 300), so the reset of K,
the 0.6/0.4 blend, the new optimizer and lr × 0.995 all act on the frames and on K.

The comparison is exact.  The seed's step (dt 0.2, colours mixed by K) amplifies a
difference of one float rounding to about 11/255 within 75 iterations, so no tolerance
would tell a faithful implementation from a slightly wrong one over a refresh.  Exactness
is possible because the reference path (``backend("reference")``: torch autograd) does the
same float operations in the same order as the loop below: the conductance is computed
before the update, as in ALGORITHM.md's listing.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from peronamalik import backend
from peronamalik.art import LearnedDiffusion, animate, preset_config
from peronamalik.art.source import load_source, sample_array
from peronamalik.core.threads import torch_threads

LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def reference_seed(original: torch.Tensor, iterations: int) -> tuple[list[np.ndarray], list[torch.Tensor]]:
    """ALGORITHM.md's learned image mode: k 0.2, dt 0.2, SGD (lr 2e-6, momentum 0.9,
    dampening 0, weight decay 5e-4), one step before the loop, a frame every 75 iterations,
    and at i % 375 == 300 the reset + lr × 0.995 + blend 0.6 I + 0.4 I_0.  Returns the frames
    (uint8, H×W×3) and K at the end of each frame iteration."""
    laplacian = torch.tensor(LAPLACIAN)

    def fresh_operator() -> torch.Tensor:  # the Laplacian on every (out, in) channel pair
        return laplacian.expand(3, 3, 3, 3).clone().requires_grad_()

    def sgd(operator: torch.Tensor, lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD([operator], lr=lr, momentum=0.9, dampening=0, weight_decay=5e-4)

    def diffuse(image: torch.Tensor, operator: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        response = F.conv2d(F.pad(image, (1, 1, 1, 1), mode="reflect"), operator)
        conductance = torch.exp(-((response / 0.2) ** 2))
        return (image + 0.2 * response * conductance).clamp(0, 1), response

    lr = 2e-6
    operator = fresh_operator()
    optimizer = sgd(operator, lr)
    with torch.no_grad():
        image, _ = diffuse(original, operator)  # before the loop: one step, no learning
    frames, operators = [], []
    for i in range(iterations):
        image, response = diffuse(image.detach(), operator)
        loss = ((image - original) ** 2 + response.abs() + image**2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        image = image.detach()
        if i % 75 == 0:
            frames.append(image[0].permute(1, 2, 0).mul(255).round().to(torch.uint8).numpy())
            if i % 375 == 300:
                operator = fresh_operator()
                lr *= 0.995
                optimizer = sgd(operator, lr)
                image = 0.6 * image + 0.4 * original
            operators.append(operator.detach().clone())
    return frames, operators


@pytest.fixture
def photo() -> np.ndarray:
    return sample_array()[::8, ::8][:32, :36]


def test_seed_preset_is_the_2017_loop_across_a_refresh(photo):
    iterations = 380  # frames at 0, 75, ..., 375; the refresh at 300
    kernels: list[torch.Tensor] = []
    paths: set[object] = set()

    def keep(iteration: int, engine: LearnedDiffusion, refreshed: bool) -> None:
        if iteration % 75 == 0:
            kernels.append(engine.kernel.detach().clone())
            paths.add(engine.backend)

    # the reference (autograd) path: the same operations; one thread: tiny images, no OpenMP
    # stalls on a loaded machine
    with torch_threads(1), backend("reference"):
        ours = list(animate(photo, preset="seed", iterations=iterations, seed=0, device="cpu", size=None, callback=keep))
        original = load_source(photo, size=None, device=torch.device("cpu")).tensor
        expected, expected_kernels = reference_seed(original, iterations)
    assert paths == {"reference"}, "another backend ran"
    assert len(ours) == len(expected) == 6
    for n, (mine, theirs) in enumerate(zip(ours, expected)):
        np.testing.assert_array_equal(mine, theirs, err_msg=f"frame {n} (iteration {75 * n})")
    for n, (mine, theirs) in enumerate(zip(kernels, expected_kernels)):
        assert torch.equal(mine, theirs), f"K after iteration {75 * n}"
    laplacian = torch.tensor(LAPLACIAN).expand(3, 3, 3, 3)
    assert (expected_kernels[3] - laplacian).abs().max() > 0.1  # K learned before the refresh
    assert torch.equal(expected_kernels[4], laplacian)  # and was reset at 300
    assert (expected_kernels[5] - laplacian).abs().max() > 0.05  # then learned again


def test_frame_zero_shows_two_steps(photo):
    """The seed steps once from I_0 before its loop; frame 0 is that plus iteration 0's step."""
    original = load_source(photo, size=None, device=torch.device("cpu")).tensor
    with backend("reference"):
        first = next(animate(photo, preset="seed", iterations=1, seed=0, device="cpu", size=None))
        one_step = next(animate(photo, preset="seed", iterations=1, seed=0, device="cpu", size=None, pre_step=False))
    frames, _ = reference_seed(original, 1)
    np.testing.assert_array_equal(first, frames[0])
    assert np.abs(first.astype(int) - one_step).max() >= 2  # the pre-loop step is visible


def test_seed_preset_constants_are_algorithm_md_numbers():
    """Typed in from ALGORITHM.md ("On drugs" mode, image), never derived from the config."""
    config = preset_config("seed")
    assert (config.kappa, config.dt) == (0.2, 0.2)
    assert (config.optimizer, config.lr, config.momentum, config.weight_decay) == ("sgd", 2e-6, 0.9, 5e-4)
    assert (config.diffusivity, config.reduction) == ("exp", "sum")
    assert config.loss_weights == {"fidelity": 1.0, "edge": 1.0, "energy": 1.0}
    assert (config.kernel_size, config.mixing, config.kernel_noise) == (3, "full", 0.0)
    assert (config.every, config.refresh_period, config.refresh_offset) == (75, 375, 300)
    assert (config.blend, config.lr_decay, config.pre_step) == (0.6, 0.995, True)


def test_vanilla_preset_is_the_2017_vanilla_mode(photo):
    """ALGORITHM.md's vanilla mode, typed in: k 0.2, dt 0.01, the fixed Laplacian on every
    (out, in) channel pair, one step before the loop, a frame every 100 of 5001 steps (here
    the first 201); nothing learned, so K stays the Laplacian."""
    config = preset_config("vanilla")
    assert (config.iterations, config.every, config.kappa, config.dt, config.lr) == (5001, 100, 0.2, 0.01, 0.0)
    laplacian = torch.tensor(LAPLACIAN).expand(3, 3, 3, 3)
    original = load_source(photo, size=None, device=torch.device("cpu")).tensor

    def step(image: torch.Tensor) -> torch.Tensor:
        response = F.conv2d(F.pad(image, (1, 1, 1, 1), mode="reflect"), laplacian)
        return (image + 0.01 * response * torch.exp(-((response / 0.2) ** 2))).clamp(0, 1)

    image, expected = step(original), []
    for i in range(201):
        image = step(image)
        if i % 100 == 0:
            expected.append(image[0].permute(1, 2, 0).mul(255).round().to(torch.uint8).numpy())
    kernels = []
    with torch_threads(1), backend("reference"):
        ours = list(animate(photo, preset="vanilla", iterations=201, seed=0, device="cpu", size=None,
                            callback=lambda i, engine, _: kernels.append(engine.kernel.detach().clone())))
    assert len(ours) == len(expected) == 3
    for mine, theirs in zip(ours, expected):
        assert np.abs(mine.astype(int) - theirs).max() <= 1  # float rounding of the sum order only
    assert all(torch.equal(kernel, laplacian) for kernel in kernels)
