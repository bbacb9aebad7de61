"""Supervised reference: the encoder trained on the labels of the train split (an upper
reference for the label-free objectives, not a self-supervised method).

A linear head maps z = f(x) to the task's outputs; the loss follows the task kind:
cross-entropy (multiclass; label -1 = unlabelled, ignored), binary cross-entropy with logits
(binary, multilabel; NaN = unknown, ignored) or MSE on standardised targets (regression).

How labels reach it without changing the objective protocol: its spec says
``needs_labels=True``, so the host trains it on the labelled ``train`` split (never ``val``,
which chooses the probe's regularisation, nor ``test``) instead of the unlabelled pretrain
pool, and :meth:`Supervised.prepare` caches the loader's ``y`` by sample index, exactly as LFR
caches its targets. The factory gets the dataset's :class:`core.specs.Task` (keyword ``task``).

Reference: the "supervised" row of Sui et al., "Self-supervised representation learning from
random data projectors", ICLR 2024, and of most SSL benchmarks (e.g. SimCLR, Chen et al. 2020).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.objectives.base import Objective, check_int, check_number, config_from_params

__all__ = ["SupervisedConfig", "supervised_loss", "Supervised", "build_supervised"]


@dataclass(frozen=True)
class SupervisedConfig:
    """num_outputs: head width; ``None`` = from the task (classes, 1 for binary/regression).
    label_smoothing: for multiclass cross-entropy (0)."""

    num_outputs: Optional[int] = None
    label_smoothing: float = 0.0

    def __post_init__(self):
        check_int("supervised", "num_outputs", self.num_outputs, optional=True)
        check_number("supervised", "label_smoothing", self.label_smoothing, 0.0, 1.0, high_open=True)


def supervised_loss(out: torch.Tensor, y: torch.Tensor, kind: str, label_smoothing: float = 0.0) -> torch.Tensor:
    """The task's loss of head outputs ``out (B, C)`` against labels ``y``; unknown labels ignored
    (multiclass: ``y < 0``; others: NaN). Zero (with a gradient) when a batch has no known label."""
    out = out.float()
    if kind == "multiclass":
        y = y.long().view(-1)
        if not bool((y >= 0).any()):
            return out.sum() * 0.0
        return F.cross_entropy(out, y, ignore_index=-1, label_smoothing=label_smoothing)
    y = y.float().view(out.shape)
    known = torch.isfinite(y)
    if not bool(known.any()):
        return out.sum() * 0.0
    if kind in ("binary", "multilabel"):
        return F.binary_cross_entropy_with_logits(out[known], y[known])
    return F.mse_loss(out[known], y[known])


class Supervised(Objective):
    """``encoder_loss = loss(head(z), labels[index])``; ``prepare`` caches the labels."""

    def __init__(self, dim: int, kind: str, num_outputs: int, config: SupervisedConfig):
        super().__init__()
        self.config, self.kind, self.num_outputs = config, kind, num_outputs
        self.head = nn.Linear(dim, num_outputs)
        self.labels = torch.empty(0)
        self.mean, self.std = 0.0, 1.0

    @torch.no_grad()
    def prepare(self, encoder, loader, device) -> None:
        """Cache the loader's labels ``y`` by sample index (regression targets standardised)."""
        n = len(loader.dataset)
        labels, seen = None, torch.zeros(n, dtype=torch.bool)
        for _, y, index in loader:
            y = torch.as_tensor(y)
            y = y.long() if self.kind == "multiclass" else y.float().reshape(len(y), -1)
            if labels is None:
                labels = torch.zeros((n,) + tuple(y.shape[1:]), dtype=y.dtype)
            index = torch.as_tensor(index, dtype=torch.long).cpu()
            labels[index] = y.cpu()
            seen[index] = True
        if labels is None or not bool(seen.all()):
            raise ValueError(f"supervised.prepare: the loader covered {int(seen.sum())} of {n} samples")
        self._check(labels)
        if self.kind == "regression":
            finite = torch.where(torch.isfinite(labels), labels, torch.nan)
            self.mean = torch.nanmean(finite, 0)
            self.std = torch.from_numpy(np.nan_to_num(np.nanstd(finite.numpy(), 0), nan=1.0)).clamp_min(1e-8)
            labels = (labels - self.mean) / self.std
        self.labels = labels.to(device)

    def _check(self, labels: torch.Tensor) -> None:
        if self.kind == "multiclass":
            if labels.ndim != 1 or (len(labels) and int(labels.max()) >= self.num_outputs):
                raise ValueError(f"supervised: labels reach class {int(labels.max())} but the head has "
                                 f"{self.num_outputs} outputs; set num_outputs")
            if not bool((labels >= 0).any()):
                raise ValueError("supervised: the train split has no labels")
        elif labels.shape[1:] != (self.num_outputs,):
            raise ValueError(f"supervised: labels have {tuple(labels.shape[1:])} columns per sample but the "
                             f"head has {self.num_outputs} outputs; set num_outputs")

    def encoder_loss(self, z: torch.Tensor, x, index) -> torch.Tensor:
        if self.labels.shape[0] == 0:
            raise RuntimeError("supervised labels are not cached: call prepare(encoder, loader, device) first")
        y = self.labels[torch.as_tensor(index, device=self.labels.device, dtype=torch.long)].to(z.device)
        return supervised_loss(self.head(z), y, self.kind, self.config.label_smoothing)


def _outputs(task, cfg: SupervisedConfig) -> int:
    if cfg.num_outputs:
        return cfg.num_outputs
    if task.kind in ("binary", "regression"):
        return 1
    if not task.class_names:
        raise ValueError(f"supervised: the {task.kind} task names no classes; set num_outputs")
    return len(task.class_names)


def build_supervised(input_spec, dim: int, params: Optional[dict] = None, *, task=None, **_) -> Supervised:
    """Factory for :class:`core.specs.ObjectiveSpec` (``needs_labels=True``); ``task`` comes from the host."""
    if task is None:
        raise ValueError("the supervised objective needs the dataset's task (keyword task=)")
    cfg = config_from_params(SupervisedConfig, params, "supervised")
    return Supervised(dim, task.kind, _outputs(task, cfg), cfg)
