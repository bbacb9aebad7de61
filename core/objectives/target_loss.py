"""LFR's per-target loss as configured: the torch reference, compiled or not, or the fused Triton kernel.

:class:`TargetLoss` computes :func:`~core.objectives.barlow.barlow_batchwise` or
:func:`~core.objectives.barlow.cosine_loss` (pure terms in :mod:`core.objectives.barlow`)
and decides, per call, whether the barlow loss runs as the kernel of
:mod:`core.objectives.kernels`. That module is imported lazily, only where triton exists;
it imports :mod:`core.objectives.barlow`, never this module. On CPU, large losses (K·B·d of
``COMPILE_MIN_ELEMENTS`` or more: D = 2560 at K = 6, B = 128) run the same torch terms through
``torch.compile``, which fuses their dozen elementwise passes over ``(K, B, d)`` and those of
their backward (about 12 ms → 6 ms per step at D = 2560 on 2 cores; docs/benchmarks.md).
"""
from __future__ import annotations

import logging

import torch

from core.objectives.barlow import barlow_batchwise, cosine_loss

__all__ = ["LOSS_IMPLS", "COMPILE_MIN_ELEMENTS", "triton_available", "TargetLoss"]

LOSS_IMPLS = ("auto", "torch", "triton")
COMPILE_MIN_ELEMENTS = 1 << 20  # smaller (K, B, d) predictions run eagerly: compiling (seconds) would not pay
_TRITON_OK: list = []
_COMPILED: dict = {}  # "fn" -> the compiled reference, or None once compiling failed here


def _reference(pred: torch.Tensor, target: torch.Tensor, loss: str, lambd: float, reduction: str,
               form: str) -> torch.Tensor:
    """The torch loss in at least float32 (both terms of :mod:`core.objectives.barlow`)."""
    dtype = torch.promote_types(pred.dtype, torch.float32)
    pred, target = pred.to(dtype), target.to(device=pred.device, dtype=dtype)
    if loss == "cosine":
        return cosine_loss(pred, target)
    return barlow_batchwise(pred, target, lambd, reduction, form)


def _compiled_reference():
    if "fn" not in _COMPILED:
        _COMPILED["fn"] = torch.compile(_reference, dynamic=False, fullgraph=True)
    return _COMPILED["fn"]


def triton_available() -> bool:
    """Whether :mod:`core.objectives.kernels` (and so triton) imports; cached."""
    if not _TRITON_OK:
        try:
            import core.objectives.kernels  # noqa: F401

            _TRITON_OK.append(True)
        except Exception:  # ImportError, or a triton that cannot initialise here
            _TRITON_OK.append(False)
    return _TRITON_OK[0]


class TargetLoss:
    """``loss(pred, target)`` for ``(K, B, d)`` predictions and targets, averaged over K.

    ``impl``: ``auto`` (the fused kernel for the barlow loss on CUDA float32/bfloat16/float16
    predictions when triton imports, else torch; a kernel that fails is reported once and the
    torch path is used from then on), ``torch`` (reference) or ``triton`` (always the kernel:
    ``ValueError`` where it cannot run). The torch path computes in at least float32 with
    autocast off; the kernel takes 16-bit predictions as they are and accumulates in float32.
    Under ``auto``, large CPU losses run the torch path compiled (:meth:`compiles`; eager from
    then on, reported once, where it cannot compile); ``torch`` always runs it eagerly.
    """

    def __init__(self, loss: str = "barlow", lambd: float = 0.01, reduction: str = "sum", form: str = "auto",
                 impl: str = "auto"):
        self.loss, self.lambd, self.reduction, self.form, self.impl = loss, lambd, reduction, form, impl
        self.triton_failed = False

    def uses_triton(self, pred: torch.Tensor) -> bool:
        """Whether a call with ``pred`` runs the fused kernel (raises when ``impl='triton'`` cannot)."""
        if self.loss != "barlow" or self.impl == "torch" or self.triton_failed:
            return False
        if self.impl == "auto":
            return pred.is_cuda and pred.dtype in (torch.float32, torch.bfloat16, torch.float16) and triton_available()
        if not triton_available():
            raise ValueError("LFR loss_impl='triton' needs the triton package (it ships with CUDA builds of "
                             "torch); use loss_impl='auto' or 'torch'")
        from core.objectives.kernels import check_supported

        check_supported(pred)
        return True

    def fused(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The barlow loss as the fused kernel (targets moved to ``pred``'s device, float32 if unsupported)."""
        from core.objectives.kernels import DTYPES, barlow_batchwise_triton

        target = target.to(device=pred.device)
        if target.dtype not in DTYPES:
            target = target.float()
        with torch.autocast(pred.device.type, enabled=False):
            return barlow_batchwise_triton(pred, target, self.lambd, self.reduction, self.form)

    def compiles(self, pred: torch.Tensor) -> bool:
        """Whether a torch-path call with ``pred`` runs compiled: ``auto``, a CPU tensor of at
        least :data:`COMPILE_MIN_ELEMENTS`, no earlier compile failure in this process, and no
        dispatch mode active (``torch.utils.flop_counter`` and the like: torch.compile refuses them)."""
        from torch.utils._python_dispatch import _get_current_dispatch_mode

        return (self.impl == "auto" and pred.device.type == "cpu" and pred.numel() >= COMPILE_MIN_ELEMENTS
                and _COMPILED.get("fn", 0) is not None and _get_current_dispatch_mode() is None)

    def reference(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The torch reference in at least float32, autocast off (compiled where :meth:`compiles`)."""
        args = (pred, target, self.loss, self.lambd, self.reduction, self.form)
        with torch.autocast(pred.device.type, enabled=False):
            if self.compiles(pred):
                try:
                    return _compiled_reference()(*args)
                except Exception as e:  # no C++ compiler, an unsupported op: the eager terms from now on
                    _COMPILED["fn"] = None
                    logging.getLogger(__name__).info("compiled LFR loss unavailable (%s: %s); using eager torch",
                                                     type(e).__name__, e)
            return _reference(*args)

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.uses_triton(pred):
            if self.impl == "triton":
                return self.fused(pred, target)
            try:
                return self.fused(pred, target)
            except Exception as e:  # auto: never worse than the torch path
                logging.getLogger(__name__).warning("fused Triton LFR loss unavailable (%s: %s); using torch",
                                                    type(e).__name__, e)
                self.triton_failed = True
        return self.reference(pred, target)
