"""Pure loss terms of LFR's per-target loss, with their argument checks (a leaf module).

References: the batch-wise Barlow loss of LFR (Sui et al. 2023, "Self-supervised
representation learning from random data projectors", ICLR 2024), i.e. the Barlow Twins
redundancy-reduction loss (Zbontar et al. 2021) with the cross-correlation taken between the
B samples of a batch instead of between feature dimensions; and the cosine (BYOL-style,
Grill et al. 2020) alternative.

For one target k with row-normalised predictions P̂ and targets Ŷ (``(B, d)``) and
C = P̂Ŷᵀ (B×B): ℓ_k = Σᵢ(Cᵢᵢ−1)² + λ Σ_{i≠j} Cᵢⱼ²; the loss is the mean of ℓ_k over K.

Every implementation (this torch reference and the fused kernels of
:mod:`core.objectives.kernels`) validates its arguments with :func:`check_barlow_args`; which
one runs is decided by :mod:`core.objectives.target_loss`. This module imports only torch.
"""
from __future__ import annotations

import torch

__all__ = ["LOSSES", "REDUCTIONS", "FORMS", "EPS", "row_normalize", "check_pair", "check_barlow_args",
           "uses_gram_form", "diagonal_term", "off_diagonal_term", "barlow_batchwise", "cosine_loss"]

LOSSES = ("barlow", "cosine")
REDUCTIONS = ("sum", "mean")
FORMS = ("auto", "bxb", "gram")
EPS = 1e-8  # norm clamp of row_normalize (the kernels use the same)


def row_normalize(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Scale each vector along the last axis to unit L2 norm (norm clamped at ``eps``)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    """``ValueError`` unless ``pred`` and ``target`` are both ``(K, B, d)`` of the same shape."""
    if pred.ndim != 3 or pred.shape != target.shape:
        raise ValueError(f"pred and target must both be (K, B, d), got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")


def check_barlow_args(pred: torch.Tensor, target: torch.Tensor, lambd: float, reduction: str, form: str) -> None:
    """The argument checks shared by every implementation of :func:`barlow_batchwise`."""
    check_pair(pred, target)
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    if lambd < 0:
        raise ValueError(f"lambd must be >= 0, got {lambd}")


def uses_gram_form(form: str, batch: int, dim: int) -> bool:
    """Whether Σ_{i,j}Cᵢⱼ² is computed in the d×d Gram form: ``"gram"``, or ``"auto"`` with d < B."""
    return form == "gram" or (form == "auto" and dim < batch)


def diagonal_term(diag: torch.Tensor) -> torch.Tensor:
    """Σᵢ(Cᵢᵢ−1)² per target, from the diagonal ``diag (K, B)``: the invariance term."""
    return (diag - 1).pow(2).sum(-1)


def off_diagonal_term(p: torch.Tensor, y: torch.Tensor, diag: torch.Tensor, gram: bool) -> torch.Tensor:
    """Σ_{i≠j}Cᵢⱼ² per target for row-normalised ``p``, ``y`` ``(K, B, d)``: the redundancy term.

    Σ_{i,j}Cᵢⱼ² − Σᵢ Cᵢᵢ², with Σ_{i,j}Cᵢⱼ² either ⟨P̂ᵀP̂, ŶᵀŶ⟩_F (``gram``, d×d, never forms C)
    or ‖P̂Ŷᵀ‖_F² (forms the B×B matrix C).
    """
    if gram:
        total = (torch.bmm(p.transpose(1, 2), p) * torch.bmm(y.transpose(1, 2), y)).sum((1, 2))
    else:
        total = torch.bmm(p, y.transpose(1, 2)).pow(2).sum((1, 2))
    return total - diag.pow(2).sum(-1)


def barlow_batchwise(pred: torch.Tensor, target: torch.Tensor, lambd: float = 0.01,
                     reduction: str = "sum", form: str = "auto") -> torch.Tensor:
    """Batch-wise Barlow loss averaged over the K targets; ``pred``/``target`` ``(K, B, d)``.

    ℓ_k = :func:`diagonal_term` + λ·:func:`off_diagonal_term` with C = P̂_kŶ_kᵀ, Cᵢᵢ = ⟨p̂ᵢ, ŷᵢ⟩.
    ``form``: ``"bxb"`` forms C, ``"gram"`` works with d×d Gram matrices, ``"auto"``: gram when
    d < B. ``reduction="sum"`` is ℓ as in the paper; ``"mean"`` is ℓ/B. Targets are detached.
    """
    check_barlow_args(pred, target, lambd, reduction, form)
    _, b, d = pred.shape
    p, y = row_normalize(pred), row_normalize(target.detach())
    diag = (p * y).sum(-1)  # (K, B): C_ii
    loss = diagonal_term(diag) + lambd * off_diagonal_term(p, y, diag, uses_gram_form(form, b, d))  # (K,)
    if reduction == "mean":
        loss = loss / b
    return loss.mean()


def cosine_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over K and the batch of 2 − 2·cos(p, y) (= ‖p̂ − ŷ‖², BYOL-style); targets detached."""
    check_pair(pred, target)
    return (2 - 2 * (row_normalize(pred) * row_normalize(target.detach())).sum(-1)).mean()
