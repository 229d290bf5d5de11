"""Issue 2, test 3: the result is differentiable in the image and in a tensor kappa.

``torch.autograd.gradcheck`` compares the analytical gradient with finite differences in
float64, on small images and a few iterations.
"""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck
from torch.func import functional_call

from peronamalik import PeronaMalik, diffuse
from peronamalik.core.schemes import laplacian_kernel, seed_step


def image(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g, dtype=torch.float64).requires_grad_()


def kappa(value: float = 0.3) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float64, requires_grad=True)


CHANNEL_MODES = [
    pytest.param({}, (6, 7), id="scalar"),
    pytest.param({"channel_axis": 0}, (2, 6, 7), id="per-channel"),
    pytest.param({"channel_axis": 0, "coupled": True}, (3, 6, 7), id="coupled"),
    pytest.param({"channel_axis": -1, "coupled": True}, (6, 7, 2), id="coupled-last"),
]


@pytest.mark.parametrize("diffusivity", ["exp", "rational"])
@pytest.mark.parametrize(("mode", "shape"), CHANNEL_MODES)
def test_gradcheck_image_and_kappa(diffusivity, mode, shape) -> None:
    def f(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return diffuse(x, iterations=3, kappa=k, diffusivity=diffusivity, **mode)

    assert gradcheck(f, (image(*shape), kappa()), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("scheme", ["flux8", "gradient", "seed"])
def test_gradcheck_other_schemes(scheme) -> None:
    # values well inside (0, 1) so the seed's clamp is not hit
    x = (0.25 + 0.5 * image(6, 6).detach()).requires_grad_()

    def f(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return diffuse(x, iterations=2, kappa=k, scheme=scheme, dt=0.05)

    assert gradcheck(f, (x, kappa(0.5)), eps=1e-6, atol=1e-7)


def test_gradcheck_3d_with_spacing_and_sigma() -> None:
    def f(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return diffuse(x, iterations=2, kappa=k, spacing=(1.0, 0.8, 1.3), sigma=0.7)

    assert gradcheck(f, (image(4, 5, 4), kappa()), eps=1e-6, atol=1e-7)


def test_gradcheck_seed_operator_kernel() -> None:
    """The learned ("on drugs") mode backpropagates into the seed's operator K."""
    x = 0.25 + 0.5 * image(1, 3, 5, 5).detach()
    noise = torch.randn(3, 3, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kernel = (laplacian_kernel(3, dtype=torch.float64) + 0.01 * noise).requires_grad_()

    def step(k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # returns (I', L)
        return seed_step(x, k, kappa=0.5, dt=0.02, conductance=lambda d, kap: torch.exp(-(d / kap) ** 2))

    assert gradcheck(step, (kernel,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("coupled", [False, True])
def test_gradcheck_module_with_learned_kappa(coupled) -> None:
    layer = PeronaMalik(iterations=3, kappa=0.3, coupled=coupled, learn_kappa=True).double()
    assert isinstance(layer.kappa, torch.nn.Parameter)
    assert [name for name, _ in layer.named_parameters()] == ["kappa"]

    def f(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return functional_call(layer, {"kappa": k}, (x,))

    assert gradcheck(f, (image(2, 2, 5, 6), kappa()), eps=1e-6, atol=1e-7)

    # and a training step really reaches the parameter
    layer(image(1, 2, 5, 6).detach()).square().sum().backward()
    assert layer.kappa.grad is not None and torch.isfinite(layer.kappa.grad) and layer.kappa.grad != 0


def test_fixed_kappa_module_has_no_parameters() -> None:
    layer = PeronaMalik(kappa=0.2)
    assert list(layer.parameters()) == []
    assert "kappa" in dict(layer.named_buffers())
