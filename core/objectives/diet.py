"""DIET baseline: datum index as target.

Every sample of the pool is its own class: a linear head W maps the embedding z = f(x)
``(B, D)`` to ``N`` logits (N = pool size) and the encoder and head minimise the
cross-entropy of the sample's index, with (strong) label smoothing. No projector, no
negatives, no augmentation here (the paper adds standard augmentations when a domain has
them; this baseline stays augmentation-free like LFR).

References: R. Balestriero, "Unsupervised Learning on a DIET: Datum IndEx as Target Free of
Self-Supervision, Reconstruction, Projector Head", 2023; M. Ibrahim, D. Klindt, R. Balestriero,
"Occam's Razor for Self Supervised Learning: What is Sufficient to Learn Good
Representations?", 2023 (which studies DIET further); label smoothing 0.8 is the papers'
recommended setting for small datasets. Baseline of Sui et al. (LFR), ICLR 2024.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from core.objectives.base import Objective, check_number, config_from_params

__all__ = ["DIETConfig", "diet_loss", "DIET", "build_diet"]


@dataclass(frozen=True)
class DIETConfig:
    """label_smoothing: in [0, 1), 0.8 as recommended by the DIET paper.
    bias: whether the N-way linear head has a bias."""

    label_smoothing: float = 0.8
    bias: bool = True

    def __post_init__(self):
        check_number("DIET", "label_smoothing", self.label_smoothing, 0.0, 1.0, high_open=True)
        if not isinstance(self.bias, bool):
            raise ValueError(f"DIET bias must be true or false, got {self.bias!r}")


def diet_loss(logits: torch.Tensor, index: torch.Tensor, label_smoothing: float = 0.8) -> torch.Tensor:
    """Cross-entropy of ``logits (B, N)`` against the datum indices ``index (B,)``, label-smoothed."""
    return F.cross_entropy(logits.float(), index.long(), label_smoothing=label_smoothing)


class DIET(Objective):
    """``encoder_loss = CE_smoothed(W z, index)`` with a ``Linear(D, N)`` head trained with the encoder."""

    def __init__(self, dim: int, num_samples: int, config: DIETConfig):
        super().__init__()
        self.config, self.num_samples = config, int(num_samples)
        self.head = nn.Linear(dim, self.num_samples, bias=config.bias)

    def encoder_loss(self, z: torch.Tensor, x, index) -> torch.Tensor:
        index = torch.as_tensor(index, device=z.device, dtype=torch.long)
        if len(index) and int(index.max()) >= self.num_samples:
            raise ValueError(f"DIET: sample index {int(index.max())} >= pool size {self.num_samples}; "
                             "indices must run over 0..N-1")
        return diet_loss(self.head(z), index, self.config.label_smoothing)


def build_diet(input_spec, dim: int, params: Optional[dict] = None, *, num_samples: Optional[int] = None,
               **_) -> DIET:
    """Factory for :class:`core.specs.ObjectiveSpec`; ``num_samples`` (the pool size) comes from the host."""
    if not num_samples:
        raise ValueError("DIET needs num_samples (the size of the pretrain pool) to size its N-way head")
    return DIET(dim, num_samples, config_from_params(DIETConfig, params, "DIET"))
