"""The native backend's learned ("on drugs") step: one C call per iteration (``kernels/learned.c``).

:meth:`peronamalik.art.engine.LearnedDiffusion.step` is, in readable torch, one seed step
with the learnable operator K, the weighted loss of :mod:`peronamalik.art.losses`, autograd
back to K and one ``torch.optim`` step.  :func:`learned_step` does the same in one pass of
a small C kernel (``kernels/learned.c``): the forward step, the loss, the gradient
with respect to K derived by hand (the kernel's header has the formulas) and the optimizer
update, with no autograd graph, no temporaries and no per-iteration Python beyond the
call.  Results equal the reference to float32 rounding (the tests hold them to 1e-5 over
runs with refreshes).

Covered: CPU float32 images ``(1, C, H, W)``; conductance ``exp``, ``rational``, ``tukey``
and the seed's ``inv`` (Scharr);
3×3 or 5×5 kernels, ``full`` or ``per-channel`` mixing; the terms ``fidelity``, ``edge``,
``energy`` and the video mode's ``video_fidelity``, ``response``, ``modulated_energy``, with
``sum`` or ``mean`` reduction.  ``torch.optim.SGD`` (momentum, dampening,
Nesterov, weight decay, maximize) and ``torch.optim.Adam`` (no amsgrad) are stepped in C,
on the optimizer's own state tensors (``momentum_buffer``; ``step``, ``exp_avg``,
``exp_avg_sq``), which stay inspectable and interchangeable with torch's steps; any other
optimizer, or one with step hooks, gets the gradient in ``K.grad`` and its own ``step()``.
Everything else -- other devices, float64,
inputs that require grad, grad mode off, a subclass overriding ``diffuse``/``learn`` --
takes another backend (:func:`covers` says why), and inputs the kernel cannot take for one
step run that step on the reference path (:func:`learned_step` returns None).

When it runs: the policy (:func:`peronamalik.backends.policy.choose_learned`) picks it
for an engine on the CPU that :func:`covers` and whose kernel loads (built synchronously on
first need, once per machine), at the engine's first step; so the same job on the same
machine always takes the same path, whatever the disk cache held.
"""

from __future__ import annotations

import ctypes
import math
import sys

import torch
from torch.optim import optimizer as optim_module
from torch.optim.optimizer import Optimizer

from peronamalik.backends.native import build
from peronamalik.core import threads
from peronamalik.core.diffusivity import DIFFUSIVITIES

KINDS = {"exp": 0, "rational": 1, "tukey": 2, "inv": 3}
#: In the kernel's order (learned.c's Q_W_ and Q_SUM_ entries).
TERMS = ("fidelity", "edge", "energy", "video_fidelity", "response", "modulated_energy")
#: Below this many multiply-adds per step (elements x taps) one thread does the step.
SERIAL_WORK = 250_000

# indices into the kernel's argument arrays (the enums of learned.c, checked at load)
P_IMAGE, P_TARGET, P_OUT, P_KERNEL, P_GRAD, P_STATE0, P_STATE1, P_STATE2, P_COUNT = range(9)
D_C, D_H, D_W, D_KSIZE, D_GROUPS, D_KIND, D_BAND, D_FORWARD, D_COUNT = range(9)
Q_KD, Q_DT, Q_W_FID, Q_W_EDGE, Q_W_ENERGY, Q_SCALE = range(6)
Q_OPT, Q_LR, Q_WD, Q_MOM, Q_DAMP, Q_NEST, Q_MAX, Q_FIRST = range(6, 14)
Q_W_VFID, Q_W_RESP, Q_W_MOD = range(14, 17)
Q_LOSS, Q_SUM_FID, Q_SUM_EDGE, Q_SUM_ENERGY, Q_SUM_VFID, Q_SUM_RESP, Q_SUM_MOD, Q_COUNT = range(17, 25)
OPT_NONE, OPT_SGD, OPT_ADAM = range(3)

_SLOTS = (
    "P_IMAGE P_TARGET P_OUT P_KERNEL P_GRAD P_STATE0 P_STATE1 P_STATE2 P_COUNT "
    "D_C D_H D_W D_KSIZE D_GROUPS D_KIND D_BAND D_FORWARD D_COUNT "
    "Q_KD Q_DT Q_W_FID Q_W_EDGE Q_W_ENERGY Q_SCALE Q_OPT Q_LR Q_WD Q_MOM Q_DAMP Q_NEST Q_MAX Q_FIRST "
    "Q_W_VFID Q_W_RESP Q_W_MOD Q_LOSS Q_SUM_FID Q_SUM_EDGE Q_SUM_ENERGY Q_SUM_VFID Q_SUM_RESP Q_SUM_MOD Q_COUNT "
    "OPT_NONE OPT_SGD OPT_ADAM"
).split()
#: The kernel as the loader checks it: ABI, kinds, optimizers, argument order, array slots.
KERNEL = build.Kernel(
    source="learned.c",
    abi=4,
    constants={f"G_{name.upper()}": value for name, value in KINDS.items()} | {k: globals()[k] for k in _SLOTS},
    functions={
        "pm_learned_step_f32": (
            ctypes.c_int,
            (("ptr", ctypes.POINTER(ctypes.c_void_p)), ("dims", ctypes.POINTER(ctypes.c_int64)),
             ("q", ctypes.POINTER(ctypes.c_double)), ("nthreads", ctypes.c_int)),
        )  # fmt: skip
    },
)

_FLOAT32 = torch.float32
_REAL = (float, int)
_storage_use_count = getattr(torch._C, "_storage_Use_Count", None)


def _holders(tensor: torch.Tensor) -> tuple[int, int]:
    """References to ``tensor`` and holders of its memory (tensors sharing its storage,
    numpy or DLPack views)."""
    return sys.getrefcount(tensor), _storage_use_count(tensor.untyped_storage()._cdata)


def _calibrate() -> tuple[int, int] | None:
    """:func:`_holders` of a tensor held by one local variable of its caller (as ``out`` in
    :meth:`_Stepper.run`): a tensor with these counts is shared with nobody, whatever the
    interpreter's reference counting conventions."""
    if _storage_use_count is None:
        return None
    try:
        fresh = torch.empty(1)
        _holders(fresh)
        return _holders(fresh)
    except (AttributeError, RuntimeError, TypeError):
        return None


_UNSHARED = _calibrate()


def load() -> ctypes.CDLL | None:
    """The kernel library (compiled now if not cached), or None when it cannot be built."""
    return build.load(KERNEL)


def covers(engine) -> str | None:
    """What in this engine's configuration the kernel does not cover (None: it covers it)."""
    config = engine.config
    name = config.diffusivity
    if name not in KINDS or not (
        engine.conductance == "inv" if name == "inv" else engine.conductance is DIFFUSIVITIES[name]
    ):
        return f"conductance {name!r}"
    weights = config.loss_weights
    if any(name not in TERMS for name, weight in weights.items() if weight):
        return f"loss terms {sorted(weights)}"
    if config.reduction not in ("sum", "mean"):
        return f"reduction {config.reduction!r}"
    overridden = engine.overridden()
    if overridden is not None:
        return f"{overridden} is overridden"
    image, kernel = engine.image, engine.kernel
    if image.device.type != "cpu" or image.dtype != _FLOAT32 or image.ndim != 4 or image.shape[0] != 1:
        return f"image {tuple(image.shape)} {image.dtype} on {image.device}"
    channels, height, width = image.shape[1:]
    if not isinstance(kernel, torch.Tensor) or kernel.device.type != "cpu" or kernel.dtype != _FLOAT32:
        return "kernel dtype/device"
    if kernel.ndim != 4 or not kernel.is_contiguous() or kernel.shape[-1] not in (3, 5):
        return f"kernel shape {tuple(kernel.shape)}"
    size = kernel.shape[-1]
    if kernel.shape[-2] != size or kernel.shape[0] != channels or kernel.shape[1] not in (channels, 1):
        return f"kernel shape {tuple(kernel.shape)}"
    if height <= size // 2 or width <= size // 2:
        return "image smaller than the kernel's padding"
    if not all(isinstance(v, (int, float)) for v in (config.kappa, config.dt, *weights.values())):
        return "non-numeric parameters"
    return None


def why_not(engine) -> str | None:
    """Why the native learned step cannot run this engine here (None: it can).  Builds the
    kernel on first need (blocking, once per machine)."""
    reason = covers(engine)
    if reason is None and load() is None:
        reason = f"the C kernel is unavailable: {build.failure(KERNEL)}"
    return reason


def learned_step(engine, target: torch.Tensor) -> torch.Tensor | None:
    """One fused learned step of ``engine`` toward ``target``: K is updated in place (and
    ``K.grad`` set, as the reference does) and the new image is returned; None when the
    fused path does not run (the caller then runs the reference step)."""
    stepper = _stepper(engine)
    return stepper.run(engine, target) if stepper else None


def advance(engine, image: torch.Tensor) -> torch.Tensor | None:
    """``engine.diffuse(image)[0]`` with no gradient and no learning (the video mode's
    :math:`S' = D_K(S)`), fused; None when the fused path does not run."""
    stepper = _stepper(engine)
    return stepper.forward(image) if stepper else None


def _stepper(engine) -> _Stepper | bool:
    """The engine's stepper, decided at its first use and again when the engine changed."""
    stepper = getattr(engine, "_fused", None)
    if stepper is None or not (stepper is False or stepper.matches(engine)):
        stepper = engine._fused = _decide(engine)
    return stepper


def last_loss(engine) -> float | None:
    """The loss of the engine's last fused step (None before one ran)."""
    stepper = getattr(engine, "_fused", None)
    return stepper.loss if stepper else None


def _decide(engine) -> _Stepper | bool:
    """A stepper for this engine if the kernel runs it, else False."""
    return _Stepper(load(), engine) if why_not(engine) is None else False


def _no_stepper() -> None:
    return None


class _Stepper:
    """The kernel's argument arrays for one engine, filled once; per step only the
    pointers and the optimizer's settings change."""

    def __reduce__(self):
        """Copies and pickles of an engine get no stepper: they decide at their first step."""
        return (_no_stepper, ())

    def __init__(self, lib: ctypes.CDLL, engine) -> None:
        config, image, kernel = engine.config, engine.image, engine.kernel
        channels, height, width = image.shape[1:]
        size = kernel.shape[-1]
        self.fn = lib.pm_learned_step_f32
        self.config = config
        self.kernel = kernel
        self.kernel_ptr = kernel.data_ptr()
        self.conductance = engine.conductance
        self.shape = image.shape
        self.grad = torch.zeros_like(kernel)
        self.target: torch.Tensor | None = None
        #: the image of the previous step: the next step writes into it if nobody else holds it
        self.spare: torch.Tensor | None = None
        self.optimizer: Optimizer | None = None
        self.opt_kind = OPT_NONE
        self.ptrs = (ctypes.c_void_p * P_COUNT)()
        self.ptrs[P_KERNEL] = kernel.data_ptr()
        self.ptrs[P_GRAD] = self.grad.data_ptr()
        groups = channels // kernel.shape[1]
        kind = KINDS[config.diffusivity]
        self.dims = (ctypes.c_int64 * D_COUNT)(channels, height, width, size, groups, kind, 0, 0)
        self.q = q = (ctypes.c_double * Q_COUNT)()
        # as diffusivity.py: tukey divides by kappa*sqrt(2), a Python float torch rounds to
        # float32; as schemes.seed_step: "inv" divides by kappa**2
        q[Q_KD] = {"tukey": config.kappa * math.sqrt(2.0), "inv": config.kappa**2}.get(config.diffusivity, config.kappa)
        q[Q_DT] = config.dt
        weights = config.loss_weights
        for index, name in zip((Q_W_FID, Q_W_EDGE, Q_W_ENERGY, Q_W_VFID, Q_W_RESP, Q_W_MOD), TERMS):
            q[index] = float(weights.get(name, 0.0))
        q[Q_SCALE] = 1.0 if config.reduction == "sum" else 1.0 / image.numel()
        work = image.numel() * kernel.shape[1] * size * size
        self.serial = work < SERIAL_WORK
        # forward only (advance): its own arguments, so a step's loss and state stay as they are
        self.forward_dims = (ctypes.c_int64 * D_COUNT)(*self.dims)
        self.forward_dims[D_FORWARD] = 1
        self.forward_q = (ctypes.c_double * Q_COUNT)(*q)
        self.forward_ptrs = (ctypes.c_void_p * P_COUNT)()
        self.forward_ptrs[P_KERNEL] = kernel.data_ptr()

    @property
    def loss(self) -> float:
        return self.q[Q_LOSS]

    def matches(self, engine) -> bool:
        """Is this stepper still the one for ``engine`` (same config, operator, size)?"""
        kernel = engine.kernel
        return (
            engine.config is self.config
            and kernel is self.kernel
            and kernel.data_ptr() == self.kernel_ptr
            and engine.conductance is self.conductance
            and engine.image.shape == self.shape
        )

    def _accept_target(self, target: torch.Tensor) -> bool:
        if not (
            isinstance(target, torch.Tensor)
            and target.shape == self.shape
            and target.dtype == _FLOAT32
            and target.device.type == "cpu"
            and target.is_contiguous()
            and not target.requires_grad
        ):
            return False
        self.target = target
        self.ptrs[P_TARGET] = target.data_ptr()
        return True

    def _bind_optimizer(self, opt: Optimizer) -> None:
        """Which optimizer step runs in C: SGD, Adam (plain settings), else none (torch's)."""
        self.optimizer = opt
        self.opt_kind = OPT_NONE
        groups = opt.param_groups
        if len(groups) != 1 or len(groups[0]["params"]) != 1 or groups[0]["params"][0] is not self.kernel:
            return
        group = groups[0]
        if group.get("differentiable") or group.get("fused") or group.get("capturable"):
            return
        if type(opt) is torch.optim.SGD:
            self.opt_kind = OPT_SGD
        elif type(opt) is torch.optim.Adam and not group.get("amsgrad") and not group.get("decoupled_weight_decay"):
            self.opt_kind = OPT_ADAM

    @staticmethod
    def _hooked(opt: Optimizer) -> bool:
        """Step hooks registered on this optimizer or globally (they must run: use torch's step)."""
        return bool(
            getattr(opt, "_optimizer_step_pre_hooks", None)
            or getattr(opt, "_optimizer_step_post_hooks", None)
            or getattr(optim_module, "_global_optimizer_pre_hooks", None)
            or getattr(optim_module, "_global_optimizer_post_hooks", None)
        )

    def _state_tensor(self, value, dtype=_FLOAT32) -> bool:
        return (
            isinstance(value, torch.Tensor)
            and value.dtype == dtype
            and value.device.type == "cpu"
            and value.is_contiguous()
        )

    def _sgd(self, opt: Optimizer) -> bool:
        """Fill q and the state pointer for SGD; False: let torch step this time."""
        group = opt.param_groups[0]
        q = self.q
        lr, momentum, damp, wd = group["lr"], group["momentum"], group["dampening"], group["weight_decay"]
        if not (type(lr) in _REAL and type(momentum) in _REAL and type(damp) in _REAL and type(wd) in _REAL):
            return False  # e.g. a tensor lr
        q[Q_LR], q[Q_MOM], q[Q_DAMP], q[Q_WD] = lr, momentum, damp, wd
        q[Q_NEST] = bool(group["nesterov"])
        q[Q_MAX] = bool(group["maximize"])
        if momentum != 0:
            state = opt.state[self.kernel]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = torch.zeros_like(self.kernel)  # C: buf = d_p
                q[Q_FIRST] = 1.0
            elif self._state_tensor(buf) and buf.shape == self.kernel.shape:
                q[Q_FIRST] = 0.0
            else:
                return False
            self.ptrs[P_STATE0] = buf.data_ptr()
        return True

    def _adam(self, opt: Optimizer) -> bool:
        """Fill q and the state pointers for Adam; False: let torch step this time."""
        group = opt.param_groups[0]
        q = self.q
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not all(type(v) in _REAL for v in (lr, beta1, beta2, eps, wd)):
            return False  # e.g. a tensor lr
        q[Q_LR], q[Q_MOM], q[Q_DAMP], q[Q_NEST], q[Q_WD] = lr, beta1, beta2, eps, wd
        q[Q_MAX] = bool(group["maximize"])
        state = opt.state[self.kernel]
        if len(state) == 0:  # as torch.optim.Adam's lazy initialisation
            scalar = torch.float64 if torch.get_default_dtype() == torch.float64 else _FLOAT32
            state["step"] = torch.tensor(0.0, dtype=scalar)
            state["exp_avg"] = torch.zeros_like(self.kernel, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(self.kernel, memory_format=torch.preserve_format)
        step, m, v = state.get("step"), state.get("exp_avg"), state.get("exp_avg_sq")
        shape = self.kernel.shape
        if not (
            self._state_tensor(step) and step.ndim == 0
            and self._state_tensor(m) and m.shape == shape
            and self._state_tensor(v) and v.shape == shape
        ):  # fmt: skip
            return False
        self.ptrs[P_STATE0] = m.data_ptr()
        self.ptrs[P_STATE1] = v.data_ptr()
        self.ptrs[P_STATE2] = step.data_ptr()
        return True

    def run(self, engine, target: torch.Tensor) -> torch.Tensor | None:
        """The step (see :func:`learned_step`); None when this step must take the reference."""
        image = engine.image
        if (
            not self.kernel.requires_grad  # the reference's backward would fail: let it
            or image.dtype != _FLOAT32
            or image.device.type != "cpu"
            or image.requires_grad
            or not image.is_contiguous()
            or not torch.is_grad_enabled()
            or (target is not self.target and not self._accept_target(target))
        ):
            return None
        opt = engine.optimizer
        if opt is not self.optimizer:
            self._bind_optimizer(opt)
        kind = self.opt_kind
        if kind != OPT_NONE and (
            self._hooked(opt) or not (self._sgd(opt) if kind == OPT_SGD else self._adam(opt))
        ):
            kind = OPT_NONE
        self.q[Q_OPT] = kind
        # write into the previous step's image if nobody else holds it (no allocation, and
        # no page faults on fresh memory: 2 ms a step at 1024² RGB), else into a new tensor
        out, self.spare = self.spare, None
        if out is None or out is image or not self._fits(out) or _UNSHARED is None or _holders(out) != _UNSHARED:
            out = torch.empty_like(image)
        ptrs = self.ptrs
        ptrs[P_IMAGE] = image.data_ptr()
        ptrs[P_TARGET] = target.data_ptr()
        ptrs[P_OUT] = out.data_ptr()
        self._call(ptrs, self.dims, self.q)
        kernel = self.kernel
        if kind == OPT_NONE:  # torch's own step, on K.grad as the reference leaves it
            opt.zero_grad(set_to_none=True)
            kernel.grad = self.grad
            opt.step()
        elif kernel.grad is not self.grad:
            kernel.grad = self.grad
        self.spare = image
        return out

    def forward(self, image: torch.Tensor) -> torch.Tensor | None:
        """D_K(image) with the current K, nothing learned (see :func:`advance`); None when
        ``image`` does not fit the kernel."""
        if not self._fits(image):
            return None
        out = torch.empty_like(image)
        ptrs = self.forward_ptrs
        ptrs[P_IMAGE] = ptrs[P_TARGET] = image.data_ptr()
        ptrs[P_OUT] = out.data_ptr()
        self._call(ptrs, self.forward_dims, self.forward_q)
        return out

    def _call(self, ptrs, dims, q) -> None:
        """One kernel call; its status as an exception."""
        status = self.fn(ptrs, dims, q, 1 if self.serial else threads.get_num_threads())
        if status != 0:
            raise MemoryError("fused learned step: out of memory") if status == -2 else RuntimeError(
                f"fused learned step rejected its arguments (status {status})"
            )

    def _fits(self, tensor: torch.Tensor) -> bool:
        return (
            tensor.shape == self.shape
            and tensor.dtype == _FLOAT32
            and tensor.device.type == "cpu"
            and tensor.is_contiguous()
            and not tensor.requires_grad
        )


__all__ = ["KERNEL", "KINDS", "TERMS", "advance", "covers", "last_loss", "learned_step", "load", "why_not"]
