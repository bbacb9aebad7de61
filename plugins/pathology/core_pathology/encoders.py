"""Tile encoders: MONAI network-zoo ResNet / DenseNet without their classification head, and
a small CNN. Each maps ``(B, 3, H, W)`` to ``(B, dim)`` (a linear layer on the pooled
features); all run under bf16 autocast (convolutions, BatchNorm, linear)."""
from __future__ import annotations

import torch
from torch import nn


class HeadlessEncoder(nn.Module):
    """``features`` (a network ending in global pooling, ``(B, F)``) followed by ``Linear(F, dim)``."""

    def __init__(self, features: nn.Module, width: int, dim: int):
        super().__init__()
        self.features, self.head = features, nn.Linear(width, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.float()).flatten(1))


def monai_resnet(depth: int, in_channels: int, dim: int) -> nn.Module:
    """MONAI ``ResNet`` (2-D, basic blocks, no classification layer: ``feed_forward=False``).
    For small tiles the stem is a 3x3 stride-1 convolution without max pooling."""
    from monai.networks.nets import ResNet

    layers = {10: [1, 1, 1, 1], 18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}[depth]
    net = ResNet("basic", layers, [64, 128, 256, 512], spatial_dims=2, n_input_channels=in_channels,
                 conv1_t_size=3, conv1_t_stride=1, no_max_pool=True, feed_forward=False)
    return HeadlessEncoder(net, 512, dim)


def monai_densenet121(in_channels: int, dim: int) -> nn.Module:
    """MONAI ``DenseNet121`` (2-D) with its output layer removed (``class_layers.out``)."""
    from monai.networks.nets import DenseNet121

    net = DenseNet121(spatial_dims=2, in_channels=in_channels, out_channels=1)
    width = net.class_layers.out.in_features
    net.class_layers.out = nn.Identity()
    return HeadlessEncoder(net, width, dim)


class SmallCNN(nn.Module):
    """Four Conv3x3-BN-ReLU blocks (32-64-128-128, each stride 2: a 64 px tile ends 4 x 4),
    global average and max pooling, linear to ``dim``: cheap enough for CPU pretraining."""

    def __init__(self, in_channels: int, dim: int, widths=(32, 64, 128, 128)):
        super().__init__()
        blocks, c = [], in_channels
        for i, w in enumerate(widths):
            blocks += [nn.Conv2d(c, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w),
                       nn.ReLU(inplace=True)]
            c = w
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(2 * c, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.float()).flatten(2)
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], dim=1))


def build_small_cnn(spec, dim: int) -> nn.Module:
    return SmallCNN(spec.shape[0], dim)


def build_resnet10(spec, dim: int) -> nn.Module:
    return monai_resnet(10, spec.shape[0], dim)


def build_resnet18(spec, dim: int) -> nn.Module:
    return monai_resnet(18, spec.shape[0], dim)


def build_densenet121(spec, dim: int) -> nn.Module:
    return monai_densenet121(spec.shape[0], dim)
