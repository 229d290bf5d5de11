"""Every knob of the learned-operator ("on drugs") mode, in one config object."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import sys
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from peronamalik._extras import require
from peronamalik._validate import InputError, InputTypeError, choice, fits_in_memory, integer, real

if TYPE_CHECKING:  # the core (and torch) load when a config is made, not with the CLI's --help
    import torch

    from peronamalik.core.params import DiffusionParams

DIFFUSIVITIES = ("exp", "rational", "tukey", "inv")
#: Old field names, still read (with a DeprecationWarning): the core's words replaced them.
ALIASES = {"k": "kappa", "conductance": "diffusivity"}
MAX_RATE = 1e6  # lr, weight_decay, kernel_noise, loss weights: beyond, float32 updates overflow
MAX_LR_DECAY = 10.0
FPS_RANGE = (0.01, 999.0)
MAX_SIDE = 65535  # GIF's and most codecs' limit
MAX_CHANGE_SIGMA = 8.0  # change_sigma's upper bound, in pixels of the run
MAX_GLINT = 4.0  # glint's upper bound: beyond, a point's contrast saturates it to white
MAX_CHROMA_GAIN = 4.0  # chroma_gain's upper bound: beyond, every coloured pixel clips
MAX_SINK_RANGE = 1024.0  # sink_range's upper bound
#: Memory per pixel of a run (float32 RGB image, its copies, the response, gradients and
#: optimizer state, the frame being encoded): an upper bound used to refuse too large sizes.
BYTES_PER_PIXEL = 256
OPTIMIZERS = ("sgd", "adam")
MIXINGS = ("full", "per-channel")
LEARNED_TAPS = ("all", "centre")
#: With ``kappa_texture``, kappa is given for a source whose Laplacian response has this RMS
#: (kitty.gif's first frame at 320×240: 0.356); :meth:`ArtConfig.relative_to`.
REFERENCE_TEXTURE = 0.35
#: With ``kappa_relative``, kappa is given for a source of this RMS level, and with
#: ``energy_relative`` the energy weight for a source of its square as mean square
#: (:meth:`ArtConfig.relative_to`).
REFERENCE_LEVEL = 0.5
REFERENCE_MEAN_SQUARE = REFERENCE_LEVEL**2
#: ``energy_exponent``'s and ``energy_fragility``'s upper bound (beyond, a weight overflows float32).
MAX_ENERGY_EXPONENT = 16.0
#: Upper bound of ``kappa_texture_min`` and ``kappa_texture_max``.
MAX_TEXTURE_FACTOR = 16.0
#: With ``energy_fragility``, the energy weight is given for a source whose edges persist this
#: much under a Gaussian blur of :data:`EDGE_BLUR` pixels (:func:`edge_persistence`, read with
#: the longer side at most :data:`PERSISTENCE_SIDE`; kitty.gif's first frame: 0.92).
REFERENCE_PERSISTENCE = 0.92
EDGE_BLUR = 1.0
#: The persistence is read at this longer side at most, so that a run at 160 px and one at
#: 320 (or more) read the same value (read at the run's size, 160 vs 320 px runs differed 42 %).
PERSISTENCE_SIDE = 160
#: Floors of the three measures (a flat or black source would give kappa or a weight of 0 or inf).
MIN_TEXTURE = MIN_MEAN_SQUARE = MIN_LEVEL = MIN_PERSISTENCE = 1.0 / 255
#: The texture is read with the source's longer side at most this many pixels (resized as
#: sources are, :func:`peronamalik.art.source.resize_longer`): a photo run at 2048 px reads
#: as it does at 320 px, so kappa, and the look, do not change with the size a run is given
#: (a pixel-scale response weakens as a photo grows).
TEXTURE_SIDE = 320
REDUCTIONS = ("sum", "mean")
CHANNELS = ("rgb", "luminance")
CHROMAS = ("run", "source")


def grey(image: torch.Tensor) -> torch.Tensor:
    """``(1, 1, H, W)``: the Rec. 709 luminance of an RGB ``(1, 3, H, W)`` image, else the
    channels' mean."""
    from peronamalik.art.engine import luminance

    return luminance(image) if image.shape[1] == 3 else image.mean(dim=1, keepdim=True)


def edge_correlation(first: torch.Tensor, second: torch.Tensor) -> float:
    """The correlation over pixels of the Scharr gradient magnitudes of two images' :func:`grey`
    (``(1, C, H, W)``, the same size): 1 where one's edge map is the other's up to a gain; NaN
    where either is flat."""
    import torch

    from peronamalik.core.schemes import scharr_magnitude

    maps = torch.stack([scharr_magnitude(grey(image)).flatten() for image in (first, second)])
    return float(torch.corrcoef(maps)[0, 1])


def edge_persistence(source: torch.Tensor) -> float:
    """How much of the source's edge map survives a blur: the correlation over pixels

    .. math:: r = \\mathrm{corr}(|\\nabla Y|, |\\nabla (G * Y)|)

    of the Scharr gradient magnitudes of the source's :func:`grey` Y and of Y blurred by a
    Gaussian of :data:`EDGE_BLUR` pixels (:func:`edge_correlation`), in
    [:data:`MIN_PERSISTENCE`, 1] (a flat source: 1).  Low where the structure is fine
    (membranes, pixel-scale texture: immunohistochemistry 0.83 at 160 px, the other ten
    photos of benchmarks/sweep_look.py 0.87–0.95): a diffusion, or a dark phase, loses it first.
    """
    from peronamalik.core.smoothing import gaussian_smooth

    correlation = edge_correlation(source, gaussian_smooth(grey(source), (EDGE_BLUR, EDGE_BLUR)))
    return min(max(correlation, MIN_PERSISTENCE), 1.0) if math.isfinite(correlation) else 1.0


def unknown_fields_message(unknown: list[str], known: set[str]) -> str:
    """One line naming the unknown field(s) and the closest known names (the full list,
    ~40 names, does not fit one line; ArtConfig's docstring has it)."""
    names = ", ".join(repr(name[:40]) for name in unknown[:5])
    close = sorted({match for name in unknown[:5] for match in difflib.get_close_matches(name, known, n=3)})
    hint = f"did you mean {', '.join(close)}?" if close else "the fields are ArtConfig's (see peronamalik.art.ArtConfig)"
    return f"unknown config field(s) {names}; {hint}"


@dataclass(frozen=True)
class ArtConfig:
    """The learned-operator diffusion and its animation.

    Each iteration does one seed step :math:`I_t = \\mathrm{clamp}(I_{t-1} + dt\\,L\\,c(L), 0, 1)`
    with :math:`L = K * I_{t-1}`, then one optimizer step on K for the weighted loss
    :math:`\\sum_j w_j\\,\\mathrm{reduce}(\\mathrm{term}_j)` (terms in :mod:`peronamalik.art.losses`).

    Attributes
    ----------
    iterations : int
        Diffusion + optimizer steps, in [0, 1e9].
    every : int
        A frame is taken after every ``every``-th iteration (iteration 0 included), >= 1.
    size : int or None
        Longer side the input is resized to (None, or 0 in files, keeps the input's size):
        from 8 to 65535 pixels, and a square of that side must fit in this machine's memory
        (:data:`BYTES_PER_PIXEL` per pixel), checked before anything is allocated.
    fps : float
        Frame rate of the written animation, in [0.01, 999].
    diffusivity : str
        The conductance c: ``exp`` :math:`e^{-(L/\\kappa)^2}` (the seed), ``rational``,
        ``tukey``, or ``inv`` (the seed's :math:`1/(|\\nabla I|_{Scharr}/\\kappa^2 + 1)`).
        Formerly ``conductance`` (still read, with a deprecation note).
    kappa : float
        Contrast parameter of the conductance, in [1e-30, 1e30].  Formerly ``k``.
    kappa_relative : bool
        Image mode: kappa is relative to the source's RMS level, so the look's strength does
        not depend on how bright the (min-max normalised) photo is: the run uses
        :math:`\\kappa \\cdot \\max(\\mathrm{rms}(I_0), 1/255) / 0.5` (:meth:`relative_to`; not with ``kappa_texture``).
    dt : float
        Time step, > 0 (the seed step clamps to [0, 1], so no stability limit applies).
    optimizer : str
        ``sgd`` (the seed) or ``adam``.
    lr, momentum, weight_decay : float
        Optimizer settings (momentum is SGD's, in [0, 1); Adam uses its defaults for betas);
        lr and weight_decay in [0, 1e6] (larger values overflow torch's float32 update).
    reduction : str
        ``sum`` over pixels (the seed: the look depends on image size) or ``mean`` per pixel
        (resolution-invariant presets).
    loss_weights : dict
        Weight of each named loss term (``fidelity`` (I_t − I_0)², ``edge`` :math:`|L|`, ``energy`` I_t²,
        and any term registered in :mod:`peronamalik.art.losses`).
    kernel_size : int
        3 (the seed) or 5.
    mixing : str
        ``full``: the operator mixes the colours (the seed); ``per-channel``: one per channel.
    learned_taps : str
        Which taps of K learn.  ``all`` (the seed).  ``centre``: only the centre tap of each
        (out, in) channel pair, so :math:`K = \\Delta + M\\,\\delta` with :math:`\\Delta` the
        initial Laplacian and M a learned colour-mixing matrix; the spatial stencil stays
        the Laplacian (projected descent: after every optimizer step, and at every
        (re)start, the other taps are set back to the Laplacian's).  Fine texture then keeps
        its edges instead of turning into a pixel-scale pattern (the ``kitty`` preset).
    kappa_texture : bool
        Image mode: kappa is relative to the source's texture, the RMS of its response to
        the initial Laplacian, :math:`\\kappa \\cdot \\max(\\mathrm{rms}(\\Delta * I_0), 1/255) / 0.35`
        (:meth:`relative_to`): the conductance closes on a like share of the pixels (edges
        kept, sparkles) on a smooth photo and on a textured one.
    kappa_texture_min, kappa_texture_max : float
        With ``kappa_texture``, the factor :math:`\\max(\\mathrm{rms}(\\Delta * I_0), 1/255) / 0.35`
        on kappa is kept at least ``kappa_texture_min`` and at most ``kappa_texture_max``
        (0: no upper bound), both in [0, 16].  ``ember`` keeps it in [1, 1.5]: kappa grows
        on photos busier than kitty.gif's first frame (grass, gravel, text), whose texture a
        fixed kappa kept as edges (grass and gravel changed by 0.06 only; now 0.13 and 0.11),
        and stays put on smooth ones, which a smaller kappa left nearly still (moon: 0.002).
    energy_relative : bool
        Image mode: the ``energy`` weight is relative to the source's mean square,
        :math:`w \\cdot (0.25 / \\max(\\overline{I_0^2}, 1/255))^p` (:meth:`relative_to`): the pull
        toward black is alike on a bright photo and on a dark one.
    energy_exponent : float
        p above, in [0, 16] (1: the weight inversely proportional to the mean square; 0: not
        scaled); read only with ``energy_relative``.
    energy_fragility : float
        q in [0, 16] (0: off; read only with ``energy_relative``): the energy weight further
        × :math:`(r / 0.92)^q`, r the source's :func:`edge_persistence` (how much of its edge
        map survives a 1 px blur, read at a longer side of at most 160 px): a photo whose structure is fine
        (immunohistochemistry's membranes) is pulled toward black less, since its dark phase
        would lose that structure.
    sink_depth : float
        Image mode: how dark each refresh cycle should end, as the ratio of the image's mean
        :func:`grey` to the source's, in [0, 1] (0: off; read only when a loss term is named
        ``energy``).  At each refresh, a cycle that ended at a ratio d above it multiplies the
        energy weight by min(d / ``sink_depth``, :data:`~peronamalik.art.engine.SINK_STEP`)
        for the next cycle (proportional feedback: the photo's own response decides how
        strong a pull toward black it needs); a cycle whose edge map lost its source's
        (:func:`edge_correlation` below ``sink_structure``) divides it by
        :data:`~peronamalik.art.engine.LIGHTEN_STEP` instead, or sends it back to the last
        weight that kept the edges if that is lower, and from then on it only falls; up to
        ``sink_range`` times the weight the run began with, down to
        1 / :data:`~peronamalik.art.engine.LIGHTEN_RANGE` of it
        (:meth:`~peronamalik.art.engine.LearnedDiffusion.regulate_sink`).
    sink_range : float
        The most ``sink_depth``'s feedback multiplies the energy weight by, over the run, in
        [1, 1024] (4: the value before it was a field, so a sidecar written then renders as it
        did).  ``kitty``: 32; since its frames keep the photo's detail as they sink
        (``change_sigma``, ``glint``), brick, grass and gravel need that much to sink as
        kitty.gif does (of sweep_look.py's 33 pictures, kitty.gif's bands hold on 18 at 4,
        19 at 8, 20 at 16, 21 at 32 and at 64).
    sink_structure : float
        The edge correlation with the source below which ``sink_depth``'s feedback lightens
        the next cycle, in [0, 1] (0.45: issue 13's structure bar for any photo).
    blend_structure : float
        In [0, 1] (0: off).  At a refresh where the image's edge map correlates with the
        source's (:func:`edge_correlation`) less than this, ``blend`` is divided by
        :data:`~peronamalik.art.engine.BLEND_STEP` for this refresh and every later one, so
        the next cycles start closer to the source
        (:meth:`~peronamalik.art.engine.LearnedDiffusion.regulate_blend`).
    kernel_noise : float
        Standard deviation of Gaussian noise added to the Laplacian at every (re)start, drawn
        from the run's seed.  It is the only random draw of a run: every preset has 0, so a
        preset's frames are the same for every seed (set it above 0 for seed-dependent runs).
    refresh_period, refresh_offset : int
        K is reset, the image blended and lr decayed at iterations ``i`` with
        ``i % refresh_period == refresh_offset`` (the seed: 375, 300).  0 disables.
    blend : float
        At a refresh, ``I = blend * I + (1 - blend) * I_0`` (the seed: 0.6).
    lr_decay : float
        At a refresh, ``lr *= lr_decay`` and the optimizer is recreated (momentum lost).
    channels : str
        Image mode only.  ``rgb``: the colour channels diffuse (the seed).  ``luminance``: the
        run diffuses the source's Rec. 709 luminance :math:`Y_0 = 0.2126 R + 0.7152 G + 0.0722 B`
        alone, and each frame is the source with the luminance change added,
        :math:`I_0 + (Y_t - Y_0)` in every channel: the photo's chroma (its colour differences
        R − Y, B − Y) is kept exactly, as when only the Y of YUV is replaced.  A grey source is
        unaffected.
    chroma : str
        What colours the frames of an RGB run show.  ``run``: the run's own (the seed).
        ``source``: the run's luminance change on the source's colours, :math:`I_0 +
        (Y(I_t) - Y(I_0))` in every channel, as ``channels="luminance"`` shows its run: the
        colours diffuse and learn as with ``run``, but a frame keeps the photo's chroma where
        the run darkens all channels alike, so a red body stays red as it sinks toward black
        and the sparkles take its hue (kitty.gif's look; ``kitty``: colourfulness 39 on
        kitty.gif's first frame with its ``chroma_gain``, 20 with ``run``, 41 in kitty.gif).
        Where a channel would clip at 0 the pixel is shifted darker, every channel alike,
        until it has the run's luminance (:func:`~peronamalik.art.engine.darken_to_luminance`;
        clipped alone, a saturated flower sunk to 0.2 showed 0.3); ``sink_depth`` and
        ``blend_structure`` read the frames as shown.  Grey sources and
        ``channels="luminance"`` runs are unaffected.
    chroma_gain : float
        With ``chroma="source"``: the photo's chroma (each channel minus the luminance) is
        multiplied by this, in [0, 4], before the run's luminance is put under it,
        :math:`Y(I_t) + g\\,(I_0 - Y(I_0))` (then darkened where a channel clips, as above); 1
        keeps the photo's colours, 0 shows grey.  A frame that sinks to a third of the photo's
        luminance with its chroma as it was looks brown where kitty.gif glows red
        (colourfulness 30, kitty.gif 41); ``kitty``: 1.5 (39), the bands it holds unchanged.
    change_sigma : float
        In [0, 8] pixels of the run (0: off).  The frames show the run's change (``chroma``)
        low-passed by a Gaussian of this standard deviation: the pixel-scale part of the
        change, which is the run blurring fine texture away, is not shown, so a frame keeps
        the photo's own detail as it sinks (``kitty``: 1; immunohistochemistry's membranes
        and grass kept their structure only by not sinking before).  ``sink_depth`` and
        ``blend_structure`` read the frames as shown.
    glint : float
        In [0, 4] (0: off).  The frames' bright points glint: the bright side of the shown
        image's local contrast, :math:`g \\max(0, Y - G_r * Y)` with Y its :func:`grey` and r =
        :data:`~peronamalik.art.engine.GLINT_SIGMA` pixels of the run, is added to every
        channel (an unsharp mask that only lifts): points that stay brighter than the ground
        sinking around them sparkle, as in kitty.gif (``kitty``: 1.6).
    grey_tint : float
        In [0, 0.5] (0: off).  A grey source or video frame (one channel, or three whose
        spread, largest minus smallest, averages at most
        :data:`~peronamalik.art.source.GREY_SPREAD` of its mean) gets a warm cast: its channels
        become :math:`\\bar I_0 \\cdot (1, 1 - t, 1 - 2t)`, :math:`\\bar I_0` their mean
        (:func:`~peronamalik.art.source.tinted_if_grey`).  A colour-mixing K starts symmetric in
        the channels and stays so on a grey picture, so without a cast a colour look cannot
        leave grey (``ember``: its glow is then a contrast change only).
    work_side : int
        Image mode only: the run diffuses the source resized to this longer side when it is
        larger (0: never), and each frame is the full-size source plus the run's change,
        upsampled (bicubic): :math:`I_0 + \\mathrm{up}(I_t - I_0^{work})` (with ``channels =
        "luminance"``, added to the colour source).  The pixel-scale operator then acts at one
        scale of the photo at any size, so the look does not change with the size a run is
        given (``kitty``: 320, the size of kitty.gif; at 2048 px its fixed Laplacian's
        response is ~40× weaker and the image darkened less).  0, or 8 to 65535.
    pre_step : bool
        Image mode only: one diffusion step from I_0 with the initial K before the first
        iteration, without learning (the seed's, so its frame 0 shows two steps; off for
        the other presets).
    frame_blend : float
        Video mode only (:mod:`peronamalik.art.video`): before the learning step of incoming
        frame ``n``, the state is pulled toward the frame F, ``I = frame_blend * I +
        (1 - frame_blend) * F`` (the seed's live video: 0.8).  The image mode ignores it.
    frame_blend_skip : int
        Video mode only: frames whose counter ``n`` is a multiple of ``frame_blend_skip``
        are not blended (the seed: 8).  0 blends every frame.
    """

    iterations: int = 3000
    every: int = 30
    size: int | None = 320
    fps: float = 20.0
    diffusivity: str = "exp"
    kappa: float = 0.2
    kappa_relative: bool = False
    dt: float = 0.2
    optimizer: str = "sgd"
    lr: float = 0.46
    momentum: float = 0.9
    weight_decay: float = 0.0
    reduction: str = "mean"
    loss_weights: dict[str, float] = field(default_factory=lambda: {"fidelity": 1.0, "edge": 1.0, "energy": 1.0})
    kernel_size: int = 3
    mixing: str = "full"
    learned_taps: str = "all"
    kappa_texture: bool = False
    kappa_texture_min: float = 0.0
    kappa_texture_max: float = 0.0
    energy_relative: bool = False
    energy_exponent: float = 1.0
    energy_fragility: float = 0.0
    sink_depth: float = 0.0
    sink_range: float = 4.0
    sink_structure: float = 0.45
    blend_structure: float = 0.0
    kernel_noise: float = 0.0
    refresh_period: int = 375
    refresh_offset: int = 300
    blend: float = 0.6
    lr_decay: float = 0.995
    channels: str = "rgb"
    chroma: str = "run"
    chroma_gain: float = 1.0
    change_sigma: float = 0.0
    glint: float = 0.0
    grey_tint: float = 0.0
    work_side: int = 0
    pre_step: bool = False
    frame_blend: float = 0.8
    frame_blend_skip: int = 8

    def __post_init__(self) -> None:
        from peronamalik.core.params import KAPPA_RANGE, MAX_ITERATIONS, DiffusionParams

        if self.size == 0 and not isinstance(self.size, bool):
            object.__setattr__(self, "size", None)  # TOML has no null: 0 stands for None
        checked: dict[str, Any] = {
            "iterations": integer("iterations", self.iterations, low=0, high=MAX_ITERATIONS),
            "every": integer("every", self.every, low=1, high=MAX_ITERATIONS),
            "fps": real("fps", self.fps, low=FPS_RANGE[0], high=FPS_RANGE[1]),
            "diffusivity": choice("diffusivity", self.diffusivity, DIFFUSIVITIES),
            "optimizer": choice("optimizer", self.optimizer, OPTIMIZERS),
            "momentum": real("momentum", self.momentum, low=0.0),
            "reduction": choice("reduction", self.reduction, REDUCTIONS),
            "kernel_size": choice("kernel_size", self.kernel_size, (3, 5)),
            "mixing": choice("mixing", self.mixing, MIXINGS),
            "channels": choice("channels", self.channels, CHANNELS),
            "chroma": choice("chroma", self.chroma, CHROMAS),
            "chroma_gain": real("chroma_gain", self.chroma_gain, low=0.0, high=MAX_CHROMA_GAIN),
            "learned_taps": choice("learned_taps", self.learned_taps, LEARNED_TAPS),
            "refresh_period": integer("refresh_period", self.refresh_period, low=0, high=MAX_ITERATIONS),
            "refresh_offset": integer("refresh_offset", self.refresh_offset, low=0, high=MAX_ITERATIONS),
            "blend": real("blend", self.blend, low=0.0, high=1.0),
            "energy_exponent": real("energy_exponent", self.energy_exponent, low=0.0, high=MAX_ENERGY_EXPONENT),
            "energy_fragility": real("energy_fragility", self.energy_fragility, low=0.0, high=MAX_ENERGY_EXPONENT),
            "sink_depth": real("sink_depth", self.sink_depth, low=0.0, high=1.0),
            "sink_range": real("sink_range", self.sink_range, low=1.0, high=MAX_SINK_RANGE),
            "sink_structure": real("sink_structure", self.sink_structure, low=0.0, high=1.0),
            "blend_structure": real("blend_structure", self.blend_structure, low=0.0, high=1.0),
            "grey_tint": real("grey_tint", self.grey_tint, low=0.0, high=0.5),
            "change_sigma": real("change_sigma", self.change_sigma, low=0.0, high=MAX_CHANGE_SIGMA),
            "glint": real("glint", self.glint, low=0.0, high=MAX_GLINT),
            "kappa_texture_min": real("kappa_texture_min", self.kappa_texture_min, low=0.0, high=MAX_TEXTURE_FACTOR),
            "kappa_texture_max": real("kappa_texture_max", self.kappa_texture_max, low=0.0, high=MAX_TEXTURE_FACTOR),
            "lr_decay": real("lr_decay", self.lr_decay, low=0.0, high=MAX_LR_DECAY, low_open=True),
            "frame_blend": real("frame_blend", self.frame_blend, low=0.0, high=1.0),
            "frame_blend_skip": integer("frame_blend_skip", self.frame_blend_skip, low=0, high=MAX_ITERATIONS),
        }
        for name in ("lr", "weight_decay", "kernel_noise"):
            checked[name] = real(name, getattr(self, name), low=0.0, high=MAX_RATE)
        checked["work_side"] = integer("work_side", self.work_side, low=0, high=MAX_SIDE)
        if 0 < checked["work_side"] < 8:
            raise InputError(f"work_side must be 0 (off) or in [8, {MAX_SIDE}], got {checked['work_side']}")
        if self.size is not None:
            checked["size"] = integer("size", self.size, low=8, high=MAX_SIDE)
            fits_in_memory(f"size={self.size} (a square of that side)", checked["size"] ** 2 * BYTES_PER_PIXEL)
        if 0 < checked["kappa_texture_max"] < checked["kappa_texture_min"]:
            raise InputError(
                f"kappa_texture_max ({checked['kappa_texture_max']:g}) must be 0 (no bound) or at least "
                f"kappa_texture_min ({checked['kappa_texture_min']:g})"
            )
        if checked["momentum"] >= 1:
            raise InputError(f"momentum must be in [0, 1), got {checked['momentum']:g}")
        if not isinstance(self.loss_weights, dict) or not self.loss_weights:
            raise InputError("loss_weights must be a non-empty mapping of term name to weight")
        from peronamalik.art.losses import LOSS_TERMS

        weights = {}
        for term, weight in self.loss_weights.items():
            choice("loss_weights term", term, LOSS_TERMS)
            weights[term] = real(f"loss_weights.{term}", weight, low=0.0, high=MAX_RATE)
        checked["loss_weights"] = weights
        for name in ("pre_step", "kappa_relative", "kappa_texture", "energy_relative"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise InputTypeError(f"{name} must be true or false, got {type(value).__name__} {value!r:.40}")
        if self.kappa_relative and self.kappa_texture:
            raise InputError("kappa_relative and kappa_texture both scale kappa: set one of them")
        # kappa and dt as the core checks them (a number here: a config holds no tensors)
        diffusion = DiffusionParams(kappa=real("kappa", self.kappa, low=KAPPA_RANGE[0], high=KAPPA_RANGE[1]),
                                    dt=self.dt, diffusivity=checked["diffusivity"], scheme="seed")
        checked["kappa"], checked["dt"] = diffusion.kappa, diffusion.dt
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def diffusion(self) -> DiffusionParams:
        """The seed step's parameters, as the core checks every diffusion's (scheme ``seed``)."""
        from peronamalik.core.params import DiffusionParams

        return DiffusionParams(kappa=self.kappa, dt=self.dt, diffusivity=self.diffusivity, scheme="seed")

    def relative_to(self, original: torch.Tensor) -> ArtConfig:
        """The config a run of ``original`` (the source I_0 in [0, 1], ``(1, C, H, W)``) uses:
        with ``kappa_relative``, the absolute kappa

        .. math:: \\kappa_{run} = \\kappa \\cdot \\max(\\sqrt{\\overline{I_0^2}}, 1/255) / 0.5

        (scaling the source by a gain scales the response L = K * I and kappa alike, so the
        conductance :math:`c(L/\\kappa)` sees the same contrasts); with ``kappa_texture``,

        .. math:: \\kappa_{run} = \\kappa \\cdot \\max(\\mathrm{rms}(\\Delta * I_0), 1/255) / 0.35

        (:math:`\\Delta` the initial operator, as ``mixing`` and ``kernel_size`` make it, on
        :math:`I_0` resized to a longer side of at most :data:`TEXTURE_SIDE`); with
        ``energy_relative``, the energy weight :math:`w_{run} = w \\cdot (0.25 / \\max(\\overline{I_0^2}, 1/255))^p`
        (p = ``energy_exponent``), × :math:`(r / 0.92)^q` with ``energy_fragility`` q and r the
        :func:`edge_persistence` of the source resized to a longer side of at most
        :data:`PERSISTENCE_SIDE`; the flags then off.  Otherwise this config.  Deterministic: the same source gives
        the same config.
        """
        if not (self.kappa_relative or self.kappa_texture or self.energy_relative):
            return self
        from peronamalik.art.source import shrink_longer
        from peronamalik.core.schemes import laplacian_kernel, operator_response

        source = original.detach().double()
        mean_square = float(source.square().mean())
        changes: dict[str, Any] = {"kappa_relative": False, "kappa_texture": False, "energy_relative": False}
        reads_shape = self.kappa_texture or (self.energy_relative and self.energy_fragility)
        seen = shrink_longer(source, TEXTURE_SIDE) if reads_shape else source
        if self.kappa_relative:
            changes["kappa"] = self.kappa * max(math.sqrt(mean_square), MIN_LEVEL) / REFERENCE_LEVEL
        if self.kappa_texture:
            laplacian = laplacian_kernel(source.shape[1], mixing=self.mixing, size=self.kernel_size,
                                         dtype=source.dtype, device=source.device)
            texture = float(operator_response(seen, laplacian).square().mean().sqrt())
            factor = max(max(texture, MIN_TEXTURE) / REFERENCE_TEXTURE, self.kappa_texture_min)
            changes["kappa"] = self.kappa * (min(factor, self.kappa_texture_max) if self.kappa_texture_max else factor)
        if self.energy_relative and "energy" in self.loss_weights:
            factor = (REFERENCE_MEAN_SQUARE / max(mean_square, MIN_MEAN_SQUARE)) ** self.energy_exponent
            if self.energy_fragility:
                persistence = edge_persistence(shrink_longer(seen, PERSISTENCE_SIDE))
                factor *= (persistence / REFERENCE_PERSISTENCE) ** self.energy_fragility
            changes["loss_weights"] = {**self.loss_weights, "energy": self.loss_weights["energy"] * factor}
        return self.replace(**changes)

    def replace(self, **overrides: Any) -> ArtConfig:
        """A copy with ``overrides`` applied and checked (old names are read with a DeprecationWarning)."""
        overrides = renamed(overrides)
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InputError(unknown_fields_message(unknown, known))
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_setting(self, assignment: str) -> ArtConfig:
        """Apply one ``key=value`` string (``--set``); ``loss_weights.NAME=w`` sets one weight.

        The value is parsed as JSON when it can be (numbers, true/false, null), else kept as
        a string; an integral float (``iterations=1e3``) counts as an integer.  Old names
        (``k``, ``conductance``) are read with a deprecation warning.
        """
        if "=" not in assignment:
            raise InputError(f"--set needs key=value, got {assignment!r:.80}")
        key, raw = (part.strip() for part in assignment.split("=", 1))
        try:
            value: Any = json.loads(raw)
        except ValueError:  # not JSON, or an integer of more than 4300 digits
            value = raw
        if key.startswith("loss_weights."):
            return self.replace(loss_weights={**self.loss_weights, key.split(".", 1)[1]: value})
        key = next(iter(renamed({key: None})))
        known = {f.name for f in fields(self)}
        if key not in known:
            raise InputError("--set: " + unknown_fields_message([key], known))
        if isinstance(value, float) and value.is_integer() and isinstance(getattr(self, key), (int, type(None))):
            value = int(value)
        return self.replace(**{key: value})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtConfig:
        return cls().replace(**data)

    def save(self, path: Path) -> None:
        """Write the config as JSON or TOML, by the file's extension."""
        path = Path(path)
        if path.suffix.lower() == ".toml":
            path.write_text(require("tomli_w", "io").dumps({k: 0 if v is None else v for k, v in self.to_dict().items()}))
        else:
            path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def renamed(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the old field names (:data:`ALIASES`) replaced, warning once for each."""
    result = {}
    for key, value in data.items():
        new = ALIASES.get(key)
        if new is not None:
            if new in data:
                raise InputError(f"config sets both {key!r} and its new name {new!r}")
            warnings.warn(f"config field {key!r} is now called {new!r}; the old name will go", DeprecationWarning,
                          stacklevel=3)
        result[new or key] = value
    return result


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a JSON or TOML file into a dict (a sidecar's ``config`` table is returned whole).

    Raises :class:`~peronamalik.InputError` for a missing file, a folder, text that is not
    UTF-8, JSON or TOML, nesting too deep to parse, or anything but a table at the top.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"config file not found: {path}")
    if not path.is_file():
        raise InputError(f"config file {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, TOMLDecodeError, 4300+ digits
        raise InputError(f"cannot parse config file {path}: {' '.join(str(exc).split())[:200]}") from exc
    except RecursionError:
        raise InputError(f"cannot parse config file {path}: nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError(f"config file {path} must hold a table/object at the top level")
    return data


def split_sidecar(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A config file's fields, and what a sidecar (``OUTPUT.json``) records besides them.

    A plain config gives ``(data, {})``.  A sidecar (it has a ``config`` table) gives its
    config and ``{"preset", "seed", "input", "backend", "platform"}``, each checked: the preset
    and the backend names, the seed an integer in [0, 2**63), the input a table with a
    ``path`` and a ``sha256``, the platform a table of names.
    """
    if "config" not in data:
        return data, {}
    config, preset, seed, source, backend, platform = (
        data.get(key) for key in ("config", "preset", "seed", "input", "backend", "platform")
    )
    if not isinstance(config, dict):
        raise InputError(f'the sidecar\'s "config" must be a table/object, got {type(config).__name__}')
    for key, value in (("preset", preset), ("backend", backend)):
        if value is not None and not isinstance(value, str):
            raise InputError(f'the sidecar\'s "{key}" must be a name, got {type(value).__name__}')
    if preset is not None:
        from peronamalik.art.presets import PRESETS  # here: presets imports this module

        if preset not in PRESETS:
            raise InputError(f'the sidecar\'s "preset" must be one of {sorted(PRESETS)}, got {preset!r}')
    if seed is not None:
        integer("the sidecar's seed", seed, low=0, high=2**63 - 1)
    if source is not None and not (
        isinstance(source, dict) and all(isinstance(source.get(key), str) for key in ("path", "sha256"))
    ):
        raise InputError('the sidecar\'s "input" must be a table with a "path" and a "sha256" string')
    if platform is not None and not (isinstance(platform, dict) and all(isinstance(v, str) for v in platform.values())):
        raise InputError('the sidecar\'s "platform" must be a table of names (e.g. {"torch": "2.13.0", "cpu": "AVX2"})')
    return config, {"preset": preset, "seed": seed, "input": source, "backend": backend, "platform": platform}
