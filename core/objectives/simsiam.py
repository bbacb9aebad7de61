"""SimSiam baseline: predict one augmented view's projection from the other's, stop-gradient.

Two augmented views (``core_augmentations`` of the input's modality) go through the encoder
in one forward; a projector (3 × Linear-BN, ReLU between, as in the paper) gives z₁, z₂ and a
bottleneck predictor (Linear-BN-ReLU-Linear, hidden = proj_dim/4) gives p₁, p₂; the loss is
½·D(p₁, sg(z₂)) + ½·D(p₂, sg(z₁)) with D the negative cosine similarity. No negatives, no
momentum encoder. The encoder output is the representation that is probed.

Reference: X. Chen, K. He, "Exploring Simple Siamese Representation Learning", CVPR 2021.
Widths are scaled down from the paper's 2048/512 (ImageNet) to 512/128 for small encoders, as
in lightly's CIFAR-10 benchmark. Baseline of Sui et al. (LFR), ICLR 2024.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from core.objectives.base import Objective, check_int, config_from_params, mlp_head
from core.objectives.simclr import require_augment, two_views

__all__ = ["SimSiamConfig", "negative_cosine", "simsiam_loss", "SimSiam", "build_simsiam"]


@dataclass(frozen=True)
class SimSiamConfig:
    """proj_dim: projector width and output (512); pred_hidden: predictor bottleneck (None = proj_dim / 4)."""

    proj_dim: int = 512
    pred_hidden: Optional[int] = None

    def __post_init__(self):
        check_int("SimSiam", "proj_dim", self.proj_dim, minimum=4)
        check_int("SimSiam", "pred_hidden", self.pred_hidden, optional=True)


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """D(p, z) = −mean cos(p, sg(z)) (the target is detached)."""
    return -F.cosine_similarity(p.float(), z.detach().float(), dim=-1).mean()


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """The symmetric SimSiam loss ½·D(p₁, z₂) + ½·D(p₂, z₁); minimum −1."""
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


class SimSiam(Objective):
    """``encoder_input`` = two augmented views; ``encoder_loss`` = symmetric stop-gradient loss."""

    def __init__(self, dim: int, augment: Callable, config: SimSiamConfig):
        super().__init__()
        self.config, self.augment = config, augment
        p = config.proj_dim
        self.projector = mlp_head(dim, p, p, layers=3, bias=False, last_bn=True)
        self.predictor = mlp_head(p, config.pred_hidden or max(p // 4, 1), p, layers=2)

    def encoder_input(self, x: torch.Tensor, index=None) -> torch.Tensor:
        return two_views(self.augment, x)

    def encoder_loss(self, z: torch.Tensor, x, index) -> torch.Tensor:
        proj = self.projector(z)
        pred = self.predictor(proj)
        z1, z2 = proj.chunk(2)
        p1, p2 = pred.chunk(2)
        return simsiam_loss(p1, p2, z1, z2)


def build_simsiam(input_spec, dim: int, params: Optional[dict] = None, *, augment: Optional[Callable] = None,
                  **_) -> SimSiam:
    """Factory for :class:`core.specs.ObjectiveSpec`; ``augment`` (registered augmentations) from the host."""
    cfg = config_from_params(SimSiamConfig, params, "SimSiam")
    return SimSiam(dim, require_augment("SimSiam", input_spec, augment), cfg)
