"""Issue 12: one door to the backends -- ``peronamalik.backend(...)``, the environment's
default, and the policy's choice for a job."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import peronamalik
from peronamalik.backends import policy
from peronamalik.backends.job import Diffusion


def job(u: torch.Tensor, **options) -> Diffusion:
    kw = {"iterations": 3, "kappa": 0.1, "dt": 0.1, "diffusivity": "exp", "scheme": "flux", "coupled": False, "sigma": 0.0}
    return Diffusion(u, spacing=(1.0,) * (u.ndim - 2), **(kw | options))


def test_scopes_nest_and_restore(monkeypatch) -> None:
    monkeypatch.delenv("PERONAMALIK_BACKEND", raising=False)
    monkeypatch.delenv("PERONAMALIK_FUSED", raising=False)
    assert policy.requested() == "auto"
    with peronamalik.backend("reference"):
        assert policy.requested() == "reference"
        with peronamalik.backend("compiled"):
            assert policy.requested() == "compiled"
        assert policy.requested() == "reference"
    assert policy.requested() == "auto"


def test_the_environment_gives_the_default_and_a_scope_overrides_it(monkeypatch) -> None:
    monkeypatch.setenv("PERONAMALIK_BACKEND", "reference")
    assert policy.requested() == "reference"
    with peronamalik.backend("native"):
        assert policy.requested() == "native"
    monkeypatch.delenv("PERONAMALIK_BACKEND")
    for legacy, name in (("off", "reference"), ("1", "native"), ("compile", "compiled"), ("auto", "auto")):
        monkeypatch.setenv("PERONAMALIK_FUSED", legacy)
        assert policy.requested() == name


@pytest.mark.parametrize("bad", ["fast", "", None, 1])
def test_unknown_names_are_refused_naming_the_choices(bad) -> None:
    with pytest.raises(ValueError, match=r"backend must be one of \['auto', 'reference', 'native', 'compiled'\]"):
        with peronamalik.backend(bad):
            pass


def test_an_unknown_environment_value_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("PERONAMALIK_BACKEND", "gpu")
    with pytest.raises(ValueError, match=r"\$PERONAMALIK_BACKEND must be one of"):
        peronamalik.diffuse(np.zeros((4, 4), np.float32), iterations=1)


def test_the_choice_is_a_rule_on_the_job(backend) -> None:
    """The same job gets the same backend every time; jobs the native kernels do not cover
    (sigma, autograd, the seed scheme) take the reference, on any requested backend but
    compiled."""
    u = torch.rand(1, 1, 12, 13)
    assert {policy.choose(job(u)) for _ in range(4)} == {backend}
    for other in (job(u, sigma=1.0), job(u.requires_grad_()), job(u.detach(), scheme="seed")):
        assert policy.choose(other) == "reference"
    assert policy.choose(job(u.detach(), iterations=0)) == "reference"
