"""A deliberately plain per-target LOOP implementation of the released LFR code's approach.

K separate projector networks and K separate ``nn.Linear`` (or Linear-BN-ReLU-Linear)
predictors in ``nn.ModuleList``s, the loss computed target by target with an explicit B×B
matrix, and :func:`released_outer_epoch`, the released schedule: one encoder epoch with the
projector targets recomputed on every batch, then ``pred_epochs`` predictor epochs that
re-run the encoder forward (and backward) on every batch. Tests use it as the reference for
the stacked code in :mod:`core.objectives.lfr` / :mod:`core.projectors`; benchmarks use it as
the "loop implementation of the released code" baseline. Not meant for training.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.projectors import Conv1dBank, MLPBank, TokenConvBank, _ConvBank

__all__ = ["barlow_loop", "cosine_loop", "loop_loss", "unstack_predictors", "unstack_bank",
           "released_outer_epoch"]


# ------------------------------------------------------------------------ losses
def barlow_loop(p: torch.Tensor, z: torch.Tensor, lambd: float = 0.01, normalize: bool = False) -> torch.Tensor:
    """One target's batch-wise Barlow loss with the explicit B×B matrix C = P̂Ẑᵀ (``(B, d)`` inputs)."""
    c = F.normalize(p, dim=1) @ F.normalize(z.detach(), dim=1).T
    eye = torch.eye(c.shape[0], dtype=torch.bool, device=c.device)
    loss = (c[eye] - 1).pow(2).sum() + lambd * c[~eye].pow(2).sum()
    return loss / p.shape[0] if normalize else loss


def cosine_loop(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=1)).mean()


def loop_loss(preds, targets, lambd: float = 0.01, reduction: str = "sum", loss: str = "barlow") -> torch.Tensor:
    """Mean over targets of the per-target loss, a Python loop over K."""
    total = 0.0
    for p, z in zip(preds, targets):
        total = total + (cosine_loop(p, z) if loss == "cosine" else barlow_loop(p, z, lambd, reduction == "mean"))
    return total / len(preds)


# -------------------------------------------------------------- unstacked modules
def _linear(weight: torch.Tensor, bias) -> nn.Linear:
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                    dtype=weight.dtype, device=weight.device)
    with torch.no_grad():
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(bias)
    return lin


def unstack_predictors(stacked) -> nn.ModuleList:
    """K ordinary predictor modules holding copies of the slices of a ``StackedPredictors``."""
    heads = []
    for k in range(stacked.k):
        if stacked.layers == 1:
            heads.append(_linear(stacked.weight0[k].detach(), stacked.bias0[k].detach()))
            continue
        h = stacked.hidden
        bn = nn.BatchNorm1d(h, dtype=stacked.weight0.dtype, device=stacked.weight0.device)
        sl = slice(k * h, (k + 1) * h)
        with torch.no_grad():
            bn.weight.copy_(stacked.bn.weight[sl])
            bn.bias.copy_(stacked.bn.bias[sl])
            bn.running_mean.copy_(stacked.bn.running_mean[sl])
            bn.running_var.copy_(stacked.bn.running_var[sl])
        heads.append(nn.Sequential(_linear(stacked.weight0[k].detach(), None), bn, nn.ReLU(),
                                   _linear(stacked.weight1[k].detach(), stacked.bias1[k].detach())))
    return nn.ModuleList(heads)


class _TokenNet(nn.Module):
    """One token projector: Embedding -> (pads zeroed) Conv1d -> ReLU -> masked mean -> Linear."""

    def __init__(self, embedding: nn.Embedding, conv: nn.Conv1d, head: nn.Linear):
        super().__init__()
        self.embedding, self.conv, self.head = embedding, conv, head

    def forward(self, ids):
        mask = (ids != 0).to(self.embedding.weight.dtype)
        e = self.embedding(ids) * mask.unsqueeze(-1)
        h = torch.relu(self.conv(e.transpose(1, 2))) * mask.unsqueeze(1)
        return self.head(h.sum(-1) / mask.sum(-1, keepdim=True).clamp_min(1))


def _conv(nd: int, weight, bias, stride, padding) -> nn.Module:
    cls = nn.Conv1d if nd == 1 else nn.Conv2d
    conv = cls(weight.shape[1], weight.shape[0], weight.shape[2:], stride=stride, padding=padding,
               dtype=weight.dtype, device=weight.device)
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
    return conv


def _network(bank, k: int) -> nn.Module:
    w = lambda i: getattr(bank, f"weight{i}")[k].detach()  # noqa: E731
    b = lambda i: getattr(bank, f"bias{i}")[k].detach()  # noqa: E731
    if isinstance(bank, MLPBank):
        layers = []
        for i in range(bank.depth):
            layers += [_linear(w(i), b(i)), nn.ReLU()]
        return nn.Sequential(nn.Flatten(), *layers[:-1])
    if isinstance(bank, _ConvBank):
        nd = 1 if isinstance(bank, Conv1dBank) else 2
        layers = []
        for i in range(bank.depth):
            layers += [_conv(nd, w(i), b(i), bank.stride, bank.padding), nn.ReLU()]
        pool = nn.AdaptiveAvgPool1d(1) if nd == 1 else nn.AdaptiveAvgPool2d(1)
        return nn.Sequential(*layers, pool, nn.Flatten(), _linear(w(bank.depth), b(bank.depth)))
    if isinstance(bank, TokenConvBank):
        table = bank.embedding[k].detach()
        emb = nn.Embedding(*table.shape, dtype=table.dtype, device=table.device)
        with torch.no_grad():
            emb.weight.copy_(table)
        return _TokenNet(emb, _conv(1, w(0), b(0), 1, bank.padding), _linear(w(1), b(1)))
    raise TypeError(f"no per-network reference for {type(bank).__name__}")


def unstack_bank(bank) -> nn.ModuleList:
    """The K networks of a built-in bank as K ordinary modules (nn.Linear / nn.ConvNd / ...),
    each built from copies of its slices, frozen and in eval mode."""
    nets = nn.ModuleList(_network(bank, k) for k in range(bank.k))
    return nets.requires_grad_(False).eval()


# ----------------------------------------------------------------------- schedule
def _batches(data: Iterable):
    for batch in data:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def _step(encoder, projectors, predictors, x, optimizer, loss_kw) -> float:
    z = encoder(x)
    preds = [pred(z) for pred in predictors]
    with torch.no_grad():
        targets = [proj(x) for proj in projectors]  # recomputed every batch, as released
    loss = loop_loss(preds, targets, **loss_kw)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def released_outer_epoch(encoder: nn.Module, projectors: nn.ModuleList, predictors: nn.ModuleList,
                         data: Iterable, enc_optimizer, pred_optimizer, *, pred_epochs: int = 5,
                         lambd: float = 0.01, reduction: str = "sum", loss: str = "barlow") -> dict:
    """One outer epoch of the released schedule; ``data`` yields ``x`` or ``(x, ...)`` batches.

    Encoder phase: encoder and predictors in train mode, one ``enc_optimizer`` step per batch
    (it should hold the encoder's parameters only). Predictor phase: ``pred_epochs`` epochs with
    the encoder in eval mode, each batch re-running the encoder forward and the backward through
    it (grads reach the encoder but only ``pred_optimizer`` steps), as the released code does.
    Returns ``{"encoder_loss": mean, "predictor_loss": mean of the last predictor epoch}``.
    """
    kw = dict(lambd=lambd, reduction=reduction, loss=loss)
    projectors.eval()
    encoder.train()
    predictors.train()
    enc = [_step(encoder, projectors, predictors, x, enc_optimizer, kw) for x in _batches(data)]
    encoder.eval()
    pred = [float("nan")]
    for _ in range(pred_epochs):
        pred = [_step(encoder, projectors, predictors, x, pred_optimizer, kw) for x in _batches(data)]
    encoder.train()
    return {"encoder_loss": sum(enc) / len(enc), "predictor_loss": sum(pred) / len(pred)}
