"""ECG encoders: each ``build(input_spec, dim)`` maps ``(B, C, L)`` float to ``(B, dim)``."""
from __future__ import annotations

import torch
from torch import nn

from core.errors import UserError
from core.specs import InputSpec


def _channels_length(spec: InputSpec, name: str) -> tuple:
    if spec.modality != "sequence" or len(spec.shape) != 2:
        raise UserError(f"encoder {name} needs a (channels, length) sequence input, got {spec.modality} "
                        f"{spec.shape}; pick an encoder for that modality (`core list encoders`)")
    return spec.shape


class TSTCCEncoder(nn.Module):
    """The TS-TCC CNN used by LFR for time series: 3 x [Conv1d(k=8)-BN-ReLU-MaxPool]
    (32, 64, 128 channels, dropout 0.35 after block 1), global average pool, Linear to ``dim``."""

    def __init__(self, in_channels: int, dim: int, widths=(32, 64, 128), kernel_size: int = 8,
                 dropout: float = 0.35):
        super().__init__()
        layers, c = [], in_channels
        for i, w in enumerate(widths):
            layers += [nn.Conv1d(c, w, kernel_size, padding=kernel_size // 2, bias=False),
                       nn.BatchNorm1d(w), nn.ReLU(), nn.MaxPool1d(2, 2, padding=1)]
            if i == 0:
                layers.append(nn.Dropout(dropout))
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=-1))


def build_cnn(spec: InputSpec, dim: int) -> nn.Module:
    c, _ = _channels_length(spec, "ecg/cnn")
    return TSTCCEncoder(c, dim)


def build_inception(spec: InputSpec, dim: int) -> nn.Module:
    """tsai InceptionTimePlus (nf 32, depth 6); its GAP + linear head outputs ``dim``."""
    c, length = _channels_length(spec, "ecg/inception")
    from tsai.models.InceptionTimePlus import InceptionTimePlus

    return InceptionTimePlus(c, dim, seq_len=length)


def build_xresnet1d(spec: InputSpec, dim: int) -> nn.Module:
    """tsai xresnet1d18plus; its average-pool + linear head outputs ``dim``."""
    c, length = _channels_length(spec, "ecg/xresnet1d")
    from tsai.models.XResNet1dPlus import xresnet1d18plus

    return xresnet1d18plus(c, dim, seq_len=length)
