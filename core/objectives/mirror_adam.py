"""Adam on the predictor heads' first-layer weight in one pass that also writes its bfloat16
copy (``pred_precision=bf16``; docs/benchmarks.md, LFR at large D).

With bf16 GEMMs a predictor step's own arithmetic is cheap and the memory passes over the
float32 weight dominate: the bf16 weight gradient cast into a float32 ``.grad``, Adam reading
and writing weight, gradient and both moments, then the bf16 copy refilled for the next GEMM.
:class:`MirrorAdam` does the update of that one weight as a single compiled elementwise kernel
(``torch.compile``: a vectorised C++ loop on CPU, a Triton kernel on GPU) reading the bf16
gradient and writing weight, moments and the bf16 copy in the same pass; no float32 gradient is
made. The update is Adam's (Kingma & Ba 2015) as ``torch.optim.Adam`` does it (L2 weight decay
added to the gradient, bias-corrected moments), on the optimiser's own state tensors, so
checkpoints and resume see an ordinary Adam state. Where the kernel cannot be compiled (no C++
compiler) :meth:`MirrorAdam.create` returns None and the step stays the unfused one.
"""
from __future__ import annotations

import logging
import math
from typing import Optional

import torch

__all__ = ["MirrorAdam", "MIN_ELEMENTS"]

log = logging.getLogger("core")

MIN_ELEMENTS = 1 << 22  # below this (16 MB of float32) compiling costs more than it saves
_compiled = {}  # device type -> compiled kernel, or None once it failed


def _update(param, grad_low, exp_avg, exp_avg_sq, mirror, lr: float, beta1: float, beta2: float, eps: float,
            weight_decay: float, bias_correction1, bias_correction2_sqrt):
    """One Adam step of ``param`` from a low-precision gradient; also fills ``mirror``."""
    grad = grad_low.float()
    if weight_decay:
        grad = grad + weight_decay * param
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = exp_avg_sq.sqrt() / bias_correction2_sqrt + eps
    param.sub_(exp_avg / denom * (lr / bias_correction1))
    mirror.copy_(param)


def _kernel(device_type: str):
    if device_type not in _compiled:
        _compiled[device_type] = torch.compile(_update, dynamic=False, fullgraph=True)
    return _compiled[device_type]


class MirrorAdam:
    """The step of ``weight`` (a parameter of ``optimizer``, a plain ``torch.optim.Adam``) from its
    low-precision gradient, writing ``mirror`` (the weight's copy in that precision). Call
    :meth:`step` instead of giving the weight a ``.grad``: ``optimizer.step()`` then skips it."""

    def __init__(self, optimizer: torch.optim.Optimizer, weight: torch.nn.Parameter, group: dict):
        self.optimizer, self.weight, self.group = optimizer, weight, group

    @classmethod
    def create(cls, optimizer, weight, low_dtype) -> Optional["MirrorAdam"]:
        """A MirrorAdam when it applies (Adam without amsgrad/maximize/differentiable, a large
        float32 weight, a low-precision compute dtype, a kernel that compiles), else None."""
        if low_dtype is None or weight.dtype != torch.float32 or weight.numel() < MIN_ELEMENTS:
            return None
        if type(optimizer) is not torch.optim.Adam:
            return None
        group = next((g for g in optimizer.param_groups if any(p is weight for p in g["params"])), None)
        if group is None or group.get("amsgrad") or group.get("maximize") or group.get("differentiable") \
                or group.get("capturable") or isinstance(group["lr"], torch.Tensor):
            return None
        if _compiled.get(weight.device.type, 0) is None:
            return None
        return cls(optimizer, weight, group)

    def _state(self) -> dict:
        state = self.optimizer.state[self.weight]
        if not state:  # as torch's Adam initialises it (fused: a float32 step tensor on the device)
            fused = bool(self.group.get("fused"))
            state["step"] = torch.zeros((), dtype=torch.float32, device=self.weight.device if fused else "cpu")
            state["exp_avg"] = torch.zeros_like(self.weight, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(self.weight, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def step(self, grad_low: torch.Tensor, mirror: torch.Tensor) -> bool:
        """Update the weight from ``grad_low`` (its shape, flattened alike) and refill ``mirror``.
        Returns False (nothing changed) when the kernel cannot be compiled here: the caller then
        takes the unfused path from now on."""
        group, state = self.group, self._state()
        step = float(state["step"]) + 1
        beta1, beta2 = group["betas"]
        w = self.weight.detach().view(-1)
        args = (w, grad_low.reshape(-1), state["exp_avg"].view(-1), state["exp_avg_sq"].view(-1), mirror.view(-1),
                float(group["lr"]), float(beta1), float(beta2), float(group["eps"]), float(group["weight_decay"]),
                torch.tensor(1 - beta1 ** step, dtype=torch.float32, device=w.device),
                torch.tensor(math.sqrt(1 - beta2 ** step), dtype=torch.float32, device=w.device))
        kind = w.device.type
        try:
            _kernel(kind)(*args)
        except Exception as e:  # no C++ compiler, an unsupported backend: keep the unfused path
            _compiled[kind] = None
            log.info("fused bf16 Adam unavailable on %s (%s: %s); using the unfused step", kind, type(e).__name__, e)
            return False
        state["step"].add_(1)
        return True
