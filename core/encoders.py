"""Generic encoders for any plugin: each maps a batch to ``(B, dim)`` (docs/design.md#contract)."""
from __future__ import annotations

import math

import torch
from torch import nn

from core.specs import InputSpec


class MLPEncoder(nn.Module):
    """Flatten, then ``Linear-BN-ReLU`` blocks and a linear output of width ``dim``."""

    def __init__(self, in_features: int, dim: int, hidden: int = 256, depth: int = 2):
        super().__init__()
        layers, width = [], in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(nn.Flatten(), *layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


class ConvEncoder(nn.Module):
    """Conv-BN-ReLU blocks with stride 2 (1-D or 2-D), global average pool, linear to ``dim``."""

    def __init__(self, in_channels: int, dim: int, spatial_dims: int = 1, widths=(32, 64, 128),
                 kernel_size: int = 7):
        super().__init__()
        conv = nn.Conv1d if spatial_dims == 1 else nn.Conv2d
        norm = nn.BatchNorm1d if spatial_dims == 1 else nn.BatchNorm2d
        blocks, c = [], in_channels
        for w in widths:
            blocks += [conv(c, w, kernel_size, stride=2, padding=kernel_size // 2, bias=False), norm(w), nn.ReLU()]
            c = w
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(c, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.float())
        return self.head(h.flatten(2).mean(-1))


class TokenConvEncoder(nn.Module):
    """Token embedding (id 0 = padding), 1-D convolutions, masked mean pool, linear to ``dim``."""

    def __init__(self, vocab_size: int, dim: int, embed_dim: int = 64, width: int = 128, kernel_size: int = 5):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.convs = nn.ModuleList([nn.Conv1d(embed_dim, width, kernel_size, padding=kernel_size // 2),
                                    nn.Conv1d(width, width, kernel_size, padding=kernel_size // 2)])
        self.head = nn.Linear(width, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = (x != 0).unsqueeze(1).float()
        h = self.embed(x.long()).transpose(1, 2) * mask
        for conv in self.convs:  # re-mask after each layer: padding never leaks into real positions
            h = torch.relu(conv(h)) * mask
        return self.head(h.sum(-1) / mask.sum(-1).clamp_min(1.0))


def build_mlp(spec: InputSpec, dim: int) -> nn.Module:
    return MLPEncoder(math.prod(spec.shape), dim)


def build_conv(spec: InputSpec, dim: int) -> nn.Module:
    if spec.modality == "image":
        return ConvEncoder(spec.shape[0], dim, spatial_dims=2, kernel_size=3)
    return ConvEncoder(spec.shape[0], dim, spatial_dims=1)


def build_tokens(spec: InputSpec, dim: int) -> nn.Module:
    return TokenConvEncoder(spec.vocab_size, dim)
