"""Utterance encoders over the front-end features, exact under batch padding.

Both map a :class:`~core_speech.batches.SpeechBatch` (or features ``(B, F, T)``) to ``(B, dim)``
and pool with masked statistics pooling (mean and standard deviation over valid frames, as
x-vectors do; Snyder et al. 2018), so a clip's embedding does not depend on how much padding
its batch adds (see :mod:`core_speech.masks`; eval mode, up to float rounding).

* :class:`ResNetEncoder` — a small 2-D ResNet over (mel bins × frames) (He et al. 2016,
  basic blocks), masked batch norm, frequency averaged before time pooling.
* :class:`ConformerEncoder` — a stride-2 convolutional subsampling then torchaudio's
  ``ConformerLayer`` blocks (Gulati et al. 2020). torchaudio masks padded keys in attention but
  not the depthwise convolution or its batch norm, so those two are wrapped here to see the
  frame mask: padded frames are zeroed before the depthwise convolution and left out of the
  batch-norm statistics.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from core.specs import InputSpec
from core_speech.batches import as_batch
from core_speech.masks import MaskedBatchNorm, apply_mask, conv_lengths, frame_mask, masked_mean_std


# -- ResNet ---------------------------------------------------------------------------------------
class _ConvBN(nn.Module):
    """Conv (no bias) + masked batch norm on ``(B, C, F, T)`` (2-D) or ``(B, C, T)`` (1-D);
    time is the last axis."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, nd: int = 2):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, kernel // 2
        conv = nn.Conv2d if nd == 2 else nn.Conv1d
        self.conv = conv(cin, cout, kernel, stride=stride, padding=self.padding, bias=False)
        self.bn = MaskedBatchNorm(cout)

    def forward(self, h: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = conv_lengths(lengths, self.kernel, self.stride, self.padding)
        h = self.conv(h)
        return self.bn(h, frame_mask(lengths, h.shape[-1])), lengths


class _BasicBlock(nn.Module):
    """``ReLU(BN(conv(ReLU(BN(conv x)))) + shortcut(x))`` with padded frames kept at zero."""

    def __init__(self, cin: int, cout: int, stride: int, nd: int = 2):
        super().__init__()
        self.a = _ConvBN(cin, cout, 3, stride, nd)
        self.b = _ConvBN(cout, cout, 3, 1, nd)
        self.shortcut = _ConvBN(cin, cout, 1, stride, nd) if (stride != 1 or cin != cout) else None

    def forward(self, h, lengths):
        out, out_len = self.a(h, lengths)
        out, out_len = self.b(torch.relu(out), out_len)
        skip = self.shortcut(h, lengths)[0] if self.shortcut is not None else h
        return torch.relu(out + skip), out_len


class ResNetEncoder(nn.Module):
    """Stem conv (stride ``stem_stride``) + ``blocks_per_stage`` basic blocks per stage (stride 2
    entering each stage after the first), then frequency mean (2-D), masked mean+std over time,
    linear to ``dim``. ``nd=2``: convolutions over (mel × time) from one input channel;
    ``nd=1``: over time with the mel bins as input channels (``n_features`` needed)."""

    def __init__(self, dim: int, widths=(16, 32, 64), blocks_per_stage: int = 1, nd: int = 2,
                 n_features: int = 1, stem_stride: int = 1):
        super().__init__()
        self.nd = nd
        self.stem = _ConvBN(1 if nd == 2 else n_features, widths[0], 3, stem_stride, nd)
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(blocks_per_stage):
                blocks.append(_BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1, nd))
                cin = w
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(2 * cin, dim)

    def forward(self, x) -> torch.Tensor:
        batch = as_batch(x, "speech/resnet")
        h, lengths = batch.features.float(), batch.frames
        if self.nd == 2:
            h = h.unsqueeze(1)
        h = apply_mask(h, frame_mask(lengths, h.shape[-1]))
        h, lengths = self.stem(h, lengths)
        h = torch.relu(h)
        for block in self.blocks:
            h, lengths = block(h, lengths)
        if self.nd == 2:
            h = h.mean(2)
        mean, std = masked_mean_std(h, frame_mask(lengths, h.shape[-1]))
        return self.head(torch.cat([mean, std], dim=1))


# -- Conformer ------------------------------------------------------------------------------------
class _MaskSlot:
    """The frame mask of the batch being encoded, shared with the wrapped conformer modules."""

    mask: torch.Tensor = None


class _MaskedDepthwise(nn.Module):
    def __init__(self, conv: nn.Conv1d, slot: _MaskSlot):
        super().__init__()
        self.conv, self.slot = conv, slot

    def forward(self, h):  # (B, C, T)
        return self.conv(apply_mask(h, self.slot.mask))


class _MaskedNorm(nn.Module):
    def __init__(self, channels: int, slot: _MaskSlot):
        super().__init__()
        self.norm, self.slot = MaskedBatchNorm(channels), slot

    def forward(self, h):
        return self.norm(h, self.slot.mask)


class ConformerEncoder(nn.Module):
    """Conv1d subsampling (kernel 3, stride 2) to ``d_model``, ``layers`` torchaudio
    ``ConformerLayer`` blocks (masked as in the module docstring), masked mean+std, linear."""

    def __init__(self, n_features: int, dim: int, d_model: int = 96, layers: int = 3, heads: int = 4,
                 ffn: int = 192, kernel: int = 15, dropout: float = 0.1):
        super().__init__()
        from torchaudio.models.conformer import ConformerLayer

        self.subsample = nn.Conv1d(n_features, d_model, 3, stride=2, padding=1)
        self.slot = _MaskSlot()
        self.layers = nn.ModuleList()
        for _ in range(layers):
            layer = ConformerLayer(d_model, ffn, heads, kernel, dropout=dropout)
            seq = layer.conv_module.sequential  # [pointwise, GLU, depthwise, norm, SiLU, pointwise, dropout]
            seq[2] = _MaskedDepthwise(seq[2], self.slot)
            seq[3] = _MaskedNorm(d_model, self.slot)
            self.layers.append(layer)
        self.head = nn.Linear(2 * d_model, dim)

    def forward(self, x) -> torch.Tensor:
        batch = as_batch(x, "speech/conformer")
        h, lengths = batch.features.float(), batch.frames
        h = apply_mask(h, frame_mask(lengths, h.shape[-1]))
        lengths = conv_lengths(lengths, 3, 2, 1)
        h = self.subsample(h)
        mask = frame_mask(lengths, h.shape[-1])
        self.slot.mask = mask
        h = apply_mask(torch.relu(h), mask).permute(2, 0, 1)  # (T, B, D)
        for layer in self.layers:
            h = layer(h, ~mask)
        mean, std = masked_mean_std(h.permute(1, 2, 0), mask)
        self.slot.mask = None
        return self.head(torch.cat([mean, std], dim=1))


# -- factories ------------------------------------------------------------------------------------
def build_resnet(spec: InputSpec, dim: int) -> nn.Module:
    return ResNetEncoder(dim)


def build_conformer(spec: InputSpec, dim: int) -> nn.Module:
    return ConformerEncoder(spec.shape[0], dim)
