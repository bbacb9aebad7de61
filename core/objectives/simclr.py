"""SimCLR baseline: contrast two augmented views of each sample (NT-Xent / InfoNCE).

Each batch is augmented twice with the augmentations a plugin registers for the input's
modality (``core_augmentations``); both views go through the encoder in ONE forward
(``encoder_input`` concatenates them), a projection head ``Linear-BN-ReLU-Linear`` maps the
embeddings to ``proj_dim``, and the normalised-temperature cross-entropy pulls the two views
of a sample together against the 2B−2 other views of the batch. The encoder output (before
the head) is the representation that is probed.

Reference: T. Chen, S. Kornblith, M. Norouzi, G. Hinton, "A Simple Framework for Contrastive
Learning of Visual Representations", ICML 2020. Head and temperature 0.5 as in lightly's
``SimCLRProjectionHead`` / ``NTXentLoss``. Baseline of Sui et al. (LFR), ICLR 2024.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from core.objectives.base import Objective, check_int, check_number, config_from_params, mlp_head

__all__ = ["SimCLRConfig", "nt_xent_loss", "two_views", "SimCLR", "build_simclr", "require_augment"]


@dataclass(frozen=True)
class SimCLRConfig:
    """temperature (0.5); proj_hidden (None = the encoder's dim) and proj_dim (128) of the head."""

    temperature: float = 0.5
    proj_hidden: Optional[int] = None
    proj_dim: int = 128

    def __post_init__(self):
        check_number("SimCLR", "temperature", self.temperature, 0.0, low_open=True)
        check_int("SimCLR", "proj_hidden", self.proj_hidden, optional=True)
        check_int("SimCLR", "proj_dim", self.proj_dim)


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent of paired views ``z1, z2 (B, d)``: for each of the 2B views, cross-entropy of its
    partner among the other 2B−1 views under cosine similarity / ``temperature``."""
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"views must both be (B, d), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    sim = (z @ z.T) / temperature
    self_mask = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(sim, target)


def two_views(augment: Callable, x: torch.Tensor) -> torch.Tensor:
    """``cat([augment(x), augment(x)])``: both views in one batch, for one encoder forward."""
    return torch.cat([augment(x), augment(x)])


def require_augment(name: str, input_spec, augment) -> Callable:
    if augment is None:
        raise ValueError(f"{name} needs augmentations for {input_spec.modality!r} inputs and no plugin registers "
                         "any (hook core_augmentations); see `core list augmentations`")
    return augment


class SimCLR(Objective):
    """``encoder_input`` = two augmented views; ``encoder_loss`` = NT-Xent of the projected halves."""

    def __init__(self, dim: int, augment: Callable, config: SimCLRConfig):
        super().__init__()
        self.config, self.augment = config, augment
        self.head = mlp_head(dim, config.proj_hidden or dim, config.proj_dim)

    def encoder_input(self, x: torch.Tensor, index=None) -> torch.Tensor:
        return two_views(self.augment, x)

    def encoder_loss(self, z: torch.Tensor, x, index) -> torch.Tensor:
        z1, z2 = self.head(z).chunk(2)
        return nt_xent_loss(z1, z2, self.config.temperature)


def build_simclr(input_spec, dim: int, params: Optional[dict] = None, *, augment: Optional[Callable] = None,
                 **_) -> SimCLR:
    """Factory for :class:`core.specs.ObjectiveSpec`; ``augment`` (registered augmentations) from the host."""
    cfg = config_from_params(SimCLRConfig, params, "SimCLR")
    return SimCLR(dim, require_augment("SimCLR", input_spec, augment), cfg)
