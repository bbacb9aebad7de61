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


# -- heads that keep position (issue 17 item 3: candidates for LFR on UCR sets) ---------------
def _tstcc_features(in_channels: int) -> nn.Module:
    """The TS-TCC CNN's three conv blocks (no pooling over time, no head): ``(B, C, L) -> (B, 128, L')``."""
    return TSTCCEncoder(in_channels, 1).features


def _feature_length(features: nn.Module, in_channels: int, length: int) -> int:
    with torch.no_grad():  # eval: BatchNorm's running statistics stay untouched
        out = features.eval()(torch.zeros(1, in_channels, length)).shape[-1]
    features.train()
    return int(out)


class BinnedCNN(nn.Module):
    """TS-TCC conv blocks, the last map average-pooled to ``max(1, dim // 128)`` equal time bins
    and flattened: position kept at the bins' resolution. When ``dim`` is a multiple of 128 there
    is no head (with ``dim = 128 · L'``, L' the map's length, about L/8, this is the released LFR
    code's flatten representation); otherwise a linear layer maps the bins to ``dim``."""

    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        bins = max(1, dim // 128)
        self.features = _tstcc_features(in_channels)
        self.pool = nn.AdaptiveAvgPool1d(bins)
        self.head = nn.Identity() if dim == 128 * bins else nn.Linear(128 * bins, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


class FlattenCNN(nn.Module):
    """TS-TCC conv blocks, the last map (128 x L') flattened, then ``Linear(128 L', dim)``."""

    def __init__(self, in_channels: int, length: int, dim: int):
        super().__init__()
        self.features = _tstcc_features(in_channels)
        self.head = nn.Linear(128 * _feature_length(self.features, in_channels, length), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def build_cnn_bins(spec: InputSpec, dim: int) -> nn.Module:
    c, _ = _channels_length(spec, "ecg/cnn-bins")
    return BinnedCNN(c, dim)


def build_cnn_flatten(spec: InputSpec, dim: int) -> nn.Module:
    c, length = _channels_length(spec, "ecg/cnn-flatten")
    return FlattenCNN(c, length, dim)

