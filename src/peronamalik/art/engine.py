"""The learned-operator diffusion: the seed's step with K trained while the image diffuses."""

from __future__ import annotations

import itertools
import math
import types
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from peronamalik.art.config import MIN_LEVEL, ArtConfig, edge_correlation, grey
from peronamalik.art.losses import LossInputs, total_loss
from peronamalik.art.source import shrink_longer
from peronamalik.backends import compiled, policy
from peronamalik.backends.native import learned
from peronamalik.core.schemes import laplacian_kernel, seed_step
from peronamalik.core.smoothing import gaussian_smooth

#: Rec. 709 luma weights of R, G, B.
REC709 = (0.2126, 0.7152, 0.0722)
#: ``sink_depth``: the largest factor on the energy weight from one refresh cycle to the next
#: (the most it grows to over the run is ``ArtConfig.sink_range``).  kitty's first weight is
#: cut to 0.2-0.5x on photos with fragile edges; growing by at most 1.25 a cycle up to 2x,
#: scikit-image's text and brick never darkened enough (luminance p50 0.82 and 0.42); by 2 up
#: to 4x they hold kitty.gif's bands (0.33 and 0.26).  Up to 8x took grass's structure to
#: 0.45, up to 3x left text at 0.47, while the frames showed the change unfiltered
#: (benchmarks/README.md).
SINK_STEP = 2.0
#: ``sink_depth``: the factor that divides the energy weight after a cycle that lost the
#: source's structure, and the least fraction of the first weight it falls to (dividing by 2
#: made the bundled sample's kitty light, luminance p50 0.35 -> 0.51).
LIGHTEN_STEP = 1.25
LIGHTEN_RANGE = 2.0
#: ``blend_structure``: the factor that divides the blend at a refresh whose cycle lost the
#: source's structure (1.25 left ember on the clock at structure 0.47, 2 cost more change).
BLEND_STEP = 1.5
#: ``glint``: the standard deviation, in pixels of the run, of the Gaussian whose local mean a
#: point must pass to glint: about the 9x9 neighbourhood look_stats' sparkles are read against.
GLINT_SIGMA = 2.0


def new_optimizer(kind: type[torch.optim.Optimizer], params: list[torch.Tensor], **settings) -> torch.optim.Optimizer:
    """``kind(params, **settings)``, the same optimizer, without importing ``torch._dynamo``.

    ``Optimizer.__init__`` calls ``add_param_group``, which torch wraps in
    ``torch._disable_dynamo``; that wrapper imports ``torch._dynamo`` (and sympy) at its first
    call, 2-3 s of every ``art`` process on a CPU, to skip the method in a graph that
    ``torch.compile`` traces.  No graph is traced here, so this instance's construction calls
    the method unwrapped (an attribute of the instance, removed after, so that nothing else in
    the process changes; a torch that does not wrap it is called as it is).  ``step`` and
    ``zero_grad`` are torch's own: the reference path's ``step`` imports ``torch._dynamo`` all
    the same, while the native learned step (the CPU's) steps the optimizer's state in C.
    """
    optimizer = kind.__new__(kind)
    add_param_group = getattr(kind.add_param_group, "__wrapped__", kind.add_param_group)
    optimizer.add_param_group = types.MethodType(add_param_group, optimizer)
    try:
        optimizer.__init__(params, **settings)
    finally:
        del optimizer.add_param_group
    return optimizer


class LearnedDiffusion:
    """State of one "on drugs" run: the diffusing image, the operator K and its optimizer.

    Parameters
    ----------
    original : torch.Tensor
        ``(1, C, H, W)`` image in [0, 1]: I_0, the fidelity target and the refresh anchor.
    config : ArtConfig
        All knobs; the engine runs ``config.relative_to(original)`` (kappa and the energy
        weight relative to the source where ``kappa_relative``, ``kappa_texture`` or
        ``energy_relative`` ask).
    generator : torch.Generator
        Source of the kernel noise (``config.kernel_noise``); the run's seed.
    colour : torch.Tensor, optional
        ``(1, 3, H', W')``: the picture the frames show, when it is not ``original``: the
        colour source of a ``channels="luminance"`` run (whose luminance is ``original``),
        and/or the full-size source of a run at ``config.work_side`` (:func:`at_work_scale`);
        :meth:`frame` shows :math:`colour + \\mathrm{up}(I_t - I_0)`, the change upsampled
        to its size.

    Examples
    --------
    >>> import torch
    >>> engine = LearnedDiffusion(torch.rand(1, 3, 16, 16), ArtConfig(), torch.Generator().manual_seed(0))
    >>> engine.step().shape
    torch.Size([1, 3, 16, 16])
    """

    def __init__(
        self, original: torch.Tensor, config: ArtConfig, generator: torch.Generator, colour: torch.Tensor | None = None
    ) -> None:
        self.original = original
        self.use_config(config)
        #: the energy weight the run began with: ``sink_depth``'s feedback stays near it
        self._first_energy: float | None = self.config.loss_weights.get("energy")
        #: whether a cycle lost the source's structure: from then on the weight only falls
        self._lightened = False
        #: the largest weight whose cycle kept the source's structure: a cycle that loses it
        #: sends the weight back there at least
        self._held_energy = math.inf
        self.colour = colour
        self.image = original.clone()
        self.generator = generator
        self.conductance = config.diffusion.conductance()
        self.laplacian = laplacian_kernel(
            original.shape[1], mixing=config.mixing, size=config.kernel_size, dtype=original.dtype, device=original.device
        )
        self.lr = config.lr
        self.kernel = nn.Parameter(self.laplacian.clone())
        # learned_taps="centre": K <- K * free + fixed keeps the off-centre taps at the Laplacian's
        self._free: torch.Tensor | None = None
        if self.config.learned_taps == "centre":
            centre = config.kernel_size // 2
            self._free = torch.zeros_like(self.laplacian)
            self._free[..., centre, centre] = 1.0
            self._fixed = self.laplacian * (1.0 - self._free)
        self._fused: object = None  # the native step's state (backends/native/learned.py)
        self._backend: str | None = None  # the backend of step(), decided at the first
        self.reset_operator()

    def reset_operator(self) -> None:
        """K back to the Laplacian (plus the configured noise), with a fresh optimizer."""
        noise = torch.randn(self.laplacian.shape, generator=self.generator, dtype=self.laplacian.dtype)
        with torch.no_grad():
            self.kernel.copy_(self.laplacian + self.config.kernel_noise * noise.to(self.laplacian.device))
        self.constrain_operator()
        if self.config.optimizer == "adam":
            self.optimizer: torch.optim.Optimizer = new_optimizer(
                torch.optim.Adam, [self.kernel], lr=self.lr, weight_decay=self.config.weight_decay
            )
        else:
            self.optimizer = new_optimizer(
                torch.optim.SGD, [self.kernel], lr=self.lr, momentum=self.config.momentum, dampening=0.0,
                weight_decay=self.config.weight_decay,
            )

    def constrain_operator(self) -> None:
        """With ``learned_taps="centre"``, K's taps off the centre back to the Laplacian's
        (the projection of projected gradient descent); otherwise nothing."""
        if self._free is not None:
            with torch.no_grad():
                self.kernel.mul_(self._free).add_(self._fixed)

    def diffuse(self, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One seed step of ``previous`` with the current K: ``(I_t, L)``, K in the graph."""
        return seed_step(previous, self.kernel, kappa=self.config.kappa, dt=self.config.dt, conductance=self.conductance)

    def advance(self, image: torch.Tensor) -> torch.Tensor:
        """``diffuse(image)[0]`` without a graph and without learning: one step with the
        current K (in C where the native backend runs this engine)."""
        fused = learned.advance(self, image) if self.backend == "native" else None
        if fused is not None:
            return fused
        with torch.no_grad():
            return self.diffuse(image)[0]

    def learn(self, image: torch.Tensor, response: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One optimizer step on K for the configured loss; returns the (detached) loss."""
        return self.descend(score(image, response, target, self.config))

    def descend(self, loss: torch.Tensor) -> torch.Tensor:
        """Backpropagate ``loss`` to K and take one optimizer step; returns it detached."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def overridden(self) -> str | None:
        """The first of :meth:`diffuse` and :meth:`learn` this engine overrides (subclass or
        instance attribute), or None; the fast paths run only the methods defined here."""
        for name in ("diffuse", "learn"):
            if getattr(type(self), name) is not getattr(LearnedDiffusion, name) or name in vars(self):
                return name
        return None

    @property
    def backend(self) -> str:
        """The backend :meth:`step` runs on: ``"native"``, ``"compiled"`` or ``"reference"``,
        picked by :func:`peronamalik.backends.policy.choose_learned` at the first step."""
        if self._backend is None:
            self._backend = policy.choose_learned(self)
        return self._backend

    def _compiled_step(self, previous: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
        """The step and loss through ``torch.compile`` (Triton on CUDA), then torch's optimizer
        step; the new image, or None (nothing learned) when the backward failed to compile."""
        key = self._graph_key()
        image, loss = compiled.call(key, learned_loss, previous, self.kernel, target, self.config, self.conductance)
        try:
            self.descend(loss)  # the first backward compiles the backward graph
        except torch.OutOfMemoryError:
            raise
        except Exception as error:  # noqa: BLE001 - compiler failure: the caller redoes it eagerly
            compiled.record_failure(key, error)
            self._backend = policy.FALLBACK
            return None
        return image

    def _graph_key(self) -> tuple:
        return ("learned", tuple(self.image.shape), self.image.dtype, str(self.image.device), repr(self.config))

    def step(self, target: torch.Tensor | None = None) -> torch.Tensor:
        """Diffuse the current image once and train K on it; returns the new image.

        Runs on :attr:`backend`: one C call (:mod:`peronamalik.backends.native.learned`; same
        result to float32 rounding), ``torch.compile`` of the code below
        (:mod:`peronamalik.backends.compiled`), or the readable torch below; then, on every
        backend, :meth:`constrain_operator` (``learned_taps="centre"``).
        """
        target = self.original if target is None else target
        path = self.backend
        fused = learned.learned_step(self, target) if path == "native" else None
        if fused is not None:
            self.image = fused
        else:
            previous = self.image.detach()
            image = self._compiled_step(previous, target) if path == "compiled" else None
            if image is None:
                image, response = self.diffuse(previous)
                self.learn(image, response, target)
            self.image = image.detach()
        self.constrain_operator()
        return self.image

    def change(self) -> torch.Tensor:
        """:math:`\\Delta = I_t - I_0` as the frames show it.

        With ``config.chroma == "source"`` on an RGB run, its luminance alone, put under the
        photo's chroma times ``config.chroma_gain`` and, where a channel would clip at 0,
        darkened to the luminance it should show (:func:`darken_to_luminance`); with
        ``config.change_sigma`` σ, only its part above that scale, :math:`G_\\sigma * \\Delta`
        (before the clip is read); with ``config.glint`` g, plus the bright side of the shown
        image's local contrast, :math:`g \\max(0, Y - G_{r} * Y)`, Y the grey of
        :math:`I_0 + \\Delta` clipped to [0, 1] and r = :data:`GLINT_SIGMA` (see
        :class:`ArtConfig`)."""
        config = self.config
        change = self.image - self.original
        source_chroma = config.chroma == "source" and change.shape[1] == 3
        if source_chroma:
            change = luminance(change)
        if config.change_sigma:
            change = gaussian_smooth(change, (config.change_sigma,) * 2)
        if source_chroma:
            source_luminance = luminance(self.original)
            target = (source_luminance + change).clamp(0, 1)
            chroma = config.chroma_gain * (self.original - source_luminance)
            change = darken_to_luminance(target + chroma, target) - self.original
        if config.glint:
            shown = grey((self.original + change).clamp(0, 1))  # the contrast a frame can show
            change = change + config.glint * (shown - gaussian_smooth(shown, (GLINT_SIGMA,) * 2)).clamp(min=0)
        return change

    def shown(self) -> torch.Tensor:
        """The image as the frames show it, at the run's scale, clipped to [0, 1] as a frame
        is: :math:`I_0 +` :meth:`change`, which is :math:`I_t` itself for a run shown as it is
        (``chroma="run"`` or not RGB, no ``change_sigma``, no ``glint``)."""
        config = self.config
        if (config.chroma == "run" or self.image.shape[1] != 3) and not (config.change_sigma or config.glint):
            return self.image
        return (self.original + self.change()).clamp(0, 1)

    def frame(self) -> np.ndarray:
        """The current image (:meth:`shown`) as an ``H×W×3`` uint8 frame; with ``colour``
        given, its change (:meth:`change`) shown on it: :math:`\\mathrm{colour} +
        \\mathrm{up}(I_t - I_0)` (a luminance run keeps the chroma; a run at ``work_side`` the
        full-size detail), the change upsampled (bicubic) where ``colour`` is larger."""
        if self.colour is None:
            return to_frame(self.shown())
        change = self.change()
        if change.shape[-2:] != self.colour.shape[-2:]:
            change = F.interpolate(change, size=self.colour.shape[-2:], mode="bicubic", align_corners=False)
        return to_frame(self.colour + change)

    def refresh(self) -> None:
        """The seed's periodic reset: K to the Laplacian, lr decay, blend toward I_0 (after
        :meth:`regulate_sink` and :meth:`regulate_blend` have read the cycle that ends)."""
        self.regulate_sink()
        self.regulate_blend()
        self.lr *= self.config.lr_decay
        self.reset_operator()
        blend = self.config.blend
        self.image = blend * self.image + (1.0 - blend) * self.original

    def regulate_sink(self) -> None:
        """With ``config.sink_depth``, the energy weight w of the next refresh cycle from how
        the one that ends went (see :class:`~peronamalik.art.config.ArtConfig`).  Where the
        image's edge map correlates with the source's less than ``sink_structure``,
        :math:`w \\leftarrow \\max(\\min(w / l, w_h), w_0 / L)`, with :math:`w_h` the last
        weight whose cycle kept the structure (the weight goes back to where it held), and w
        never grows again in this run; otherwise, with d the ratio of the image's mean
        :func:`~peronamalik.art.config.grey` (as the frames show it, :meth:`shown`) to the
        source's, where d > ``sink_depth``

        .. math:: w \\leftarrow \\min(w \\min(d / \\text{sink\\_depth}, s),\\; R\\, w_0)

        (s = :data:`SINK_STEP`, R = ``config.sink_range``, l = :data:`LIGHTEN_STEP`,
        L = :data:`LIGHTEN_RANGE`, w_0 the run's first weight).  w grows, then at most falls,
        so it settles (a rule free to go both ways alternated dark and light cycles on fine
        fur).  A pure function of the run's state: the same source and seed give the same
        frames.
        """
        config = self.config
        if not config.sink_depth or self._first_energy is None:
            return
        shown = self.shown()
        depth = float(grey(shown).mean()) / max(float(grey(self.original).mean()), MIN_LEVEL)
        weight = config.loss_weights["energy"]
        if edge_correlation(shown, self.original) < config.sink_structure:
            weight = max(min(weight / LIGHTEN_STEP, self._held_energy), self._first_energy / LIGHTEN_RANGE)
            self._lightened = True
        elif self._lightened:
            return
        else:
            self._held_energy = weight
            if depth <= config.sink_depth:
                return
            weight = min(weight * min(depth / config.sink_depth, SINK_STEP), self._first_energy * config.sink_range)
        self.config = config.replace(loss_weights={**config.loss_weights, "energy": weight})

    def use_config(self, config: ArtConfig) -> None:
        """Run ``config`` from now on, relative to the source (:meth:`ArtConfig.relative_to`);
        its own kappa is the floor :meth:`regulate_blend` lowers a texture-raised kappa to."""
        self.config = config.relative_to(self.original)
        self._own_kappa = config.kappa

    def regulate_blend(self) -> None:
        """With ``config.blend_structure``: where the image's edge map correlates with the
        source's less than it, :math:`\\text{blend} \\leftarrow \\text{blend} / b` and
        :math:`\\kappa \\leftarrow \\max(\\kappa / b, \\min(\\kappa, \\kappa_0))`
        (b = :data:`BLEND_STEP`, :math:`\\kappa_0` the config's own kappa before
        :meth:`~peronamalik.art.config.ArtConfig.relative_to`), for this refresh and, since the
        config keeps them, every later one.  A live-video loss on a smooth photo can fill its
        flat regions with embers cycle after cycle (the clock's background: structure 0.42);
        starting the next cycles closer to the source stops that.  A kappa that a busy photo's
        texture raised falls back toward the config's own: small text at 160 px lost its
        letters under ember's kappa 1.5× (structure 0.28; 0.58 with the fallback).  A pure
        function of the run's state.
        """
        config = self.config
        if config.blend_structure and edge_correlation(self.shown(), self.original) < config.blend_structure:
            kappa = max(config.kappa / BLEND_STEP, min(config.kappa, self._own_kappa))
            self.config = config.replace(blend=config.blend / BLEND_STEP, kappa=kappa)

    def refresh_if_due(self, iteration: int) -> bool:
        """:meth:`refresh` at iterations ``i`` with ``i % refresh_period == refresh_offset``;
        returns whether it did."""
        period = self.config.refresh_period
        due = period > 0 and iteration % period == self.config.refresh_offset
        if due:
            self.refresh()
        return due


def at_work_scale(original: torch.Tensor, config: ArtConfig) -> torch.Tensor:
    """The image a run of ``original`` ``(1, C, H, W)`` diffuses: ``original`` resized
    (:func:`~peronamalik.art.source.shrink_longer`) to a longer side of ``config.work_side``
    when that is set and smaller, else ``original`` itself."""
    side = config.work_side
    return shrink_longer(original, side) if side else original


def learned_loss(
    previous: torch.Tensor, kernel: torch.Tensor, target: torch.Tensor, config: ArtConfig, conductance: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """:meth:`LearnedDiffusion.diffuse` then the loss of :meth:`LearnedDiffusion.learn`, as one
    pure function for ``torch.compile``: ``(I_t, loss)``."""
    image, response = seed_step(previous, kernel, kappa=config.kappa, dt=config.dt, conductance=conductance)
    return image, score(image, response, target, config)


def score(image: torch.Tensor, response: torch.Tensor, target: torch.Tensor, config: ArtConfig) -> torch.Tensor:
    """The configured loss of one step (:func:`peronamalik.art.losses.total_loss`)."""
    return total_loss(LossInputs(image, target, response), config.loss_weights, config.reduction)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Rec. 709 luminance ``(1, 1, H, W)`` of an RGB ``(1, 3, H, W)`` image:
    :math:`Y = 0.2126 R + 0.7152 G + 0.0722 B` (the weights sum to 1: a grey stays itself)."""
    weights = torch.tensor(REC709, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True)


def darken_to_luminance(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``image`` ``(1, 3, H, W)`` (channels above 1 taken at 1) shifted by the one offset
    :math:`\\delta \\in [-1, 0]` per pixel, the same in every channel, that gives it the
    luminance ``target`` ``(1, 1, H, W)`` once clipped at 0, then clipped to [0, 1].

    Adding a luminance change to every channel and clipping leaves a saturated pixel lighter
    than the change says, since its weak channels stop at 0: a magenta petal sunk to 0.2 of its
    luminance showed 0.3.  The shift keeps the colour differences of the channels that stay
    above 0.  Where clipping did not lighten the pixel (nothing clipped at 0, or the target
    above it) δ is 0 and the pixel is ``image`` clipped.

    Solved exactly: :math:`f(\\delta) = \\sum_c w_c \\max(0, I_c + \\delta)` (w the Rec. 709
    weights) is a sum of ramps, so it is the largest of the lines
    :math:`\\sum_{c \\in S} w_c (I_c + \\delta)` over the non-empty sets S of channels, all
    increasing; :math:`f(\\delta) = Y_\\text{target}` where the first of them reaches it:
    :math:`\\delta = \\min_S (Y_\\text{target} - \\sum_S w_c I_c) / \\sum_S w_c`.

    >>> image = torch.tensor([0.6, -0.2, 0.1]).view(1, 3, 1, 1)
    >>> shown = darken_to_luminance(image, torch.full((1, 1, 1, 1), 0.05))
    >>> round(float(luminance(shown)), 4), [round(v, 3) for v in shown.flatten().tolist()]
    (0.05, [0.235, 0.0, 0.0])
    """
    image = image.clamp(max=1.0)
    weighted = [weight * image[:, c : c + 1] for c, weight in enumerate(REC709)]
    delta = torch.zeros_like(target)
    for channels in itertools.chain.from_iterable(itertools.combinations(range(3), n) for n in (1, 2, 3)):
        reach = (target - sum(weighted[c] for c in channels)) / sum(REC709[c] for c in channels)
        delta = torch.minimum(delta, reach)
    return (image + delta).clamp(0, 1)  # each line's reach is >= -1: channels <= 1, target >= 0


Callback = Callable[[int, LearnedDiffusion, bool], None]


def to_frame(image: torch.Tensor) -> np.ndarray:
    """``(1, C, H, W)`` tensor in [0, 1] → ``H×W×3`` uint8 frame (grey repeated)."""
    frame = image[0].detach().clamp(0, 1).mul(255).round().to(torch.uint8)
    if frame.shape[0] == 1:
        frame = frame.expand(3, -1, -1)
    return frame.permute(1, 2, 0).contiguous().cpu().numpy()
