"""Slide-level aggregation of tile embeddings: mean pooling, and attention-based multiple
instance learning (Ilse, Tomczak & Welling 2018, "Attention-based Deep Multiple Instance
Learning", gated attention, eq. 9) as a trainable evaluator.

A split is ``(bags, y)``: ``bags`` a list of ``(n_i, D)`` arrays (the tile embeddings of a
slide) and ``y`` one label per slide. A 2-D array is read as bags of one tile each. Every
hyper-parameter (weight decay, number of epochs) is chosen on ``val`` only.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.specs import Task

WEIGHT_DECAYS = (1e-4, 1e-2)
MAX_EPOCHS = 40


def as_bags(x) -> list:
    if isinstance(x, np.ndarray) and x.ndim == 2:
        return [row[None, :] for row in x.astype(np.float32)]
    return [np.asarray(b, np.float32).reshape(len(b), -1) for b in x]


class AttentionMIL(nn.Module):
    """Gated attention pooling: ``a = softmax_k(wᵀ(tanh(V h_k) ⊙ σ(U h_k)))``, ``z = Σ_k a_k h_k``,
    then a linear read-out (Ilse et al. 2018, eq. 9). ``h_k`` = ReLU(Linear(tile embedding)).
    Bags are batched padded: ``x (B, n, D)`` with ``mask (B, n)`` (True = a real tile)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 64, attention: int = 32):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU())
        self.v, self.u = nn.Linear(hidden, attention), nn.Linear(hidden, attention)
        self.w = nn.Linear(attention, 1)
        self.out = nn.Linear(hidden, out_dim)

    def _attend(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.w(torch.tanh(self.v(h)) * torch.sigmoid(self.u(h))).squeeze(-1)
        return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)

    def attention(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Tile weights ``(B, n)`` (each bag's sum to 1): which tiles a slide's output rests on."""
        return self._attend(self.embed(x), mask)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x (B, n, D)``, ``mask (B, n)`` -> ``(B, out_dim)``."""
        h = self.embed(x)
        return self.out(torch.einsum("bn,bnh->bh", self._attend(h, mask), h))


def pad(bags: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Bags ``(n_i, D)`` -> zero-padded ``(B, max n, D)`` and the mask of real tiles."""
    n = max(len(b) for b in bags)
    x = torch.zeros(len(bags), n, bags[0].shape[1])
    mask = torch.zeros(len(bags), n, dtype=torch.bool)
    for i, b in enumerate(bags):
        x[i, :len(b)] = torch.as_tensor(b)
        mask[i, :len(b)] = True
    return x, mask


def _loss_and_scores(kind: str):
    if kind == "multiclass":
        return (lambda o, y: nn.functional.cross_entropy(o, y.long()), lambda o: torch.softmax(o, -1))
    if kind == "binary":
        return (lambda o, y: nn.functional.binary_cross_entropy_with_logits(o[:, 0], y.float()),
                lambda o: torch.sigmoid(o[:, 0]))
    return (lambda o, y: nn.functional.mse_loss(o[:, 0], y.float()), lambda o: o[:, 0])


def attention_mil(train, val, test, task: Task, seed: int = 0, batch_size: int = 16) -> dict:
    """Train gated-attention MIL on the train bags (Adam, minibatches of padded bags); weight
    decay and epoch chosen on val (its primary metric, then its loss); returns the test metrics plus ``mil_weight_decay`` and
    ``mil_epochs``."""
    from core.metrics import metrics_for, selection_score

    (btr, ytr), (bva, yva), (bte, yte) = ((as_bags(b), np.asarray(y)) for b, y in (train, val, test))
    n_classes = max(len(task.class_names), int(np.max(ytr)) + 1) if task.kind == "multiclass" else 1
    loss_fn, score_fn = _loss_and_scores(task.kind)
    tiles = np.concatenate(btr)
    mean, std = tiles.mean(0), tiles.std(0) + 1e-6
    ymean, ystd = (float(np.mean(ytr)), float(np.std(ytr)) + 1e-6) if task.kind == "regression" else (0.0, 1.0)
    (xtr, mtr), (xva, mva), (xte, mte) = (pad([(b - mean) / std for b in bags]) for bags in (btr, bva or btr[:1], bte))
    target = torch.as_tensor((ytr - ymean) / ystd if task.kind == "regression" else ytr)

    def scores(model, x, mask):
        with torch.no_grad():
            s = score_fn(model(x, mask)).numpy()
        return s * ystd + ymean if task.kind == "regression" else s

    yval = torch.as_tensor((yva - ymean) / ystd if task.kind == "regression" else yva)

    def val_rank(model, epoch):  # the val metric, ties (e.g. a saturated AUROC) broken by the val loss
        if not len(bva):
            return (float(epoch), 0.0)
        with torch.no_grad():
            loss = float(loss_fn(model(xva, mva), yval))
        return (selection_score(task, yva, scores(model, xva, mva)), -loss)

    best = ((-np.inf, -np.inf), None, None, None)
    for wd in WEIGHT_DECAYS:
        torch.manual_seed(seed)
        model = AttentionMIL(xtr.shape[-1], n_classes)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=wd)
        g = torch.Generator().manual_seed(seed)
        for epoch in range(1, MAX_EPOCHS + 1):
            model.train()
            for batch in torch.randperm(len(xtr), generator=g).split(batch_size):
                opt.zero_grad()
                loss_fn(model(xtr[batch], mtr[batch]), target[batch]).backward()
                opt.step()
            model.eval()
            score = val_rank(model, epoch)
            if score > best[0]:
                best = (score, {k: v.clone() for k, v in model.state_dict().items()}, wd, epoch)
    model.load_state_dict(best[1])
    model.eval()
    out = metrics_for(task, yte, scores(model, xte, mte))
    out.update(mil_weight_decay=float(best[2]), mil_epochs=float(best[3]))
    return out


def mean_pool(train, val, test, task: Task, seed: int = 0) -> dict:
    """Mean of each bag's tile embeddings, then the core linear probe (regularisation on val)."""
    from core.probes import linear_probe

    pooled = [(np.stack([b.mean(0) for b in as_bags(x)]), np.asarray(y)) for x, y in (train, val, test)]
    return linear_probe(*pooled, task, seed)
