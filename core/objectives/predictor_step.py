"""LFR's predictor-phase gradients at the GEMM floor (docs/benchmarks.md, LFR at large D).

One predictor step costs two big GEMMs over the stacked first-layer weight ``W (K·H, D)``: the
forward ``Z Wᵀ`` and the weight gradient ``Gᵀ Z``. Autograd would allocate a fresh ``K·H×D``
gradient every step (157 MB at D = 2560, K = 6: the allocator maps and unmaps it, and the
page faults cost as much as the GEMM) and then accumulate it. Here the first layer runs
outside autograd, autograd only covers the small rest (heads' tail and the loss, from the
``(B, K·H)`` activations), and the weight gradient is written by one GEMM straight into the
weight's ``.grad``, allocated once. The embeddings are inputs, so no gradient flows to them.
The weight-sized buffers live in a ``buffers`` dict that the caller keeps across phases: freed
and allocated again, each phase's first GEMM would page-fault the whole buffer in (about 135 ms
for the 78 MB bf16 gradient at D = 2560 in this machine's VM, against 4.5 ms for the GEMM).

With a low-precision ``compute_dtype`` (bfloat16) both GEMMs run in it on a cached copy of the
weights; the gradient lands in a low-precision buffer and is cast into the float32 ``.grad``
that the optimiser (float32 master weights and moments) reads, or, with
``float32_weight_grad=False``, stays there for :class:`~core.objectives.mirror_adam.MirrorAdam`
(:attr:`PredictorStep.low_weight_grad`).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

__all__ = ["PredictorStep"]


class PredictorStep:
    """``step(z, target) -> loss``: fill the gradients of ``predictors`` (a
    :class:`~core.objectives.lfr.StackedPredictors`) for ``loss_fn(predictors(z), target)``.

    ``z (B, D)`` should already be in ``compute_dtype`` (or the weights' dtype when ``None``);
    ``target (K, B, d)``. Every parameter's ``.grad`` is overwritten (no ``zero_grad`` needed);
    :meth:`release` drops the gradients after the phase. ``buffers``: a dict kept by the caller
    from phase to phase, where the weight-sized gradient buffers are reused (one per dtype).
    """

    def __init__(self, predictors, loss_fn: Callable, compute_dtype: Optional[torch.dtype] = None,
                 float32_weight_grad: bool = True, buffers: Optional[dict] = None):
        self.predictors, self.loss_fn = predictors, loss_fn
        weight = predictors.weight0
        self.low = compute_dtype if compute_dtype not in (None, weight.dtype) else None
        self.float32_weight_grad = float32_weight_grad or self.low is None
        self.buffers = {} if buffers is None else buffers
        self._grad_low: Optional[torch.Tensor] = None

    @property
    def low_weight_grad(self) -> Optional[torch.Tensor]:
        """The first-layer weight gradient ``(K·H, D)`` in the compute dtype (low precision only)."""
        return self._grad_low

    def cast_weight_grad(self) -> None:
        """Give the weight its float32 ``.grad`` from :attr:`low_weight_grad` (and from now on)."""
        self.float32_weight_grad = True
        if self._grad_low is not None:
            self._weight_grad().copy_(self._grad_low)

    def _buffer(self, shape: torch.Size, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The kept buffer of this dtype, (re)allocated only when shape or device changed."""
        buf = self.buffers.get(dtype)
        if buf is None or buf.shape != shape or buf.device != device:
            buf = self.buffers[dtype] = torch.empty(shape, dtype=dtype, device=device)
        return buf

    def _weight_grad(self) -> torch.Tensor:
        weight = self.predictors.weight0
        if weight.grad is None or weight.grad.shape != weight.shape:
            weight.grad = self._buffer(weight.shape, weight.dtype, weight.device)
        return weight.grad.flatten(0, 1)

    def __call__(self, z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred_mod = self.predictors
        with torch.no_grad():
            h = pred_mod.first_layer(z, self.low)  # (B, K·H) in the weights' dtype, bias0 included
        h.requires_grad_(True)
        tail = pred_mod.tail_parameters()
        loss = self.loss_fn(pred_mod.tail(h), target)
        grads = torch.autograd.grad(loss, [h, *tail])
        g_h = grads[0]
        with torch.no_grad():
            pairs = list(zip(tail, grads[1:]))
            if pred_mod.layers == 1:  # bias0 (added in the first layer): the column sums of g_h
                pairs.append((pred_mod.bias0, g_h.sum(0).view_as(pred_mod.bias0)))
            for p, g in pairs:
                if p.grad is None or p.grad.shape != p.shape:
                    p.grad = g
                else:
                    p.grad.copy_(g)
            out = self._weight_grad() if self.float32_weight_grad else None
            if self.low is None:
                torch.mm(g_h.t(), z, out=out)  # (K·H, D) written in place: no temporary of W's size
            else:
                w = pred_mod.weight0.flatten(0, 1)
                self._grad_low = self._buffer(w.shape, self.low, w.device)
                torch.mm(g_h.to(self.low).t().contiguous(), z, out=self._grad_low)
                if self.float32_weight_grad:
                    out.copy_(self._grad_low)
        return loss.detach()

    def release(self) -> None:
        """Drop the parameters' gradients (the phase is over); ``buffers`` keeps the weight-sized ones."""
        for p in self.predictors.parameters():
            p.grad = None
        self._grad_low = None
