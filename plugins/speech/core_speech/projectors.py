"""Random projector banks for speech: K frozen random conv nets evaluated as ONE module.

Both families extend :class:`core.projectors.ProjectorBank` (parameters ``weight{i}``/
``bias{i}`` with a leading K axis, so the host's init schemes, DPP selection and freezing
apply unchanged) with the frame masking of :mod:`core_speech.masks`: a clip's targets do not
depend on the padding of the batch it is cached in.

:class:`MaskedConvBank`: layer 0 is one Conv1d with K·H output channels over all K networks
(kernel ``k0``, stride ``s0``), layers 1.. are grouped (``groups=K``) Conv1d on K·H channels,
ReLU after each, padded positions re-zeroed, then masked mean pooling over time and a ``bmm``
head to ``(K, B, d)`` (as :class:`core.projectors.Conv1dBank`, plus masking and a first
layer of its own size).

* ``speech/logmel_conv``: over the normalised log-mel frames ``(B, F, T)``, k0 = 5, s0 = 1.
* ``speech/wave_conv``: over the raw waveform ``(B, 1, L)``, a first layer with a 25 ms window
  and a 10 ms hop (a random filterbank), then conv layers over those frames.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from core.projectors import ProjectorBank, _head, _param, init_bank
from core_speech.batches import as_batch
from core_speech.masks import apply_mask, conv_lengths, frame_mask


class MaskedConvBank(ProjectorBank):
    """K random masked conv nets (module docstring) on one view of a :class:`SpeechBatch`.

    ``view``: ``"features"`` (``(B, F, T)`` with ``frames``) or ``"wave"`` (``(B, L)`` with
    ``samples``). Weights ``weight0 (K, H, C, k0)``, ``weight{i} (K, H, H, k)``,
    ``weight{depth} (K, d, H)``.
    """

    def __init__(self, in_channels: int, k: int, out_dim: int, view: str = "features", hidden: int = 32,
                 depth: int = 2, first_kernel: int = 5, first_stride: int = 1, kernel_size: int = 5,
                 stride: int = 1):
        super().__init__()
        if view not in ("features", "wave"):
            raise ValueError(f"MaskedConvBank view must be 'features' or 'wave', got {view!r}")
        if depth < 1:
            raise ValueError(f"MaskedConvBank depth must be >= 1, got {depth}")
        self.k, self.out_dim, self.view, self.depth = k, out_dim, view, depth
        self.kernels = [first_kernel] + [kernel_size] * (depth - 1)
        self.strides = [first_stride] + [stride] * (depth - 1)
        self.paddings = [0 if view == "wave" else first_kernel // 2] + [kernel_size // 2] * (depth - 1)
        for i in range(depth):
            setattr(self, f"weight{i}", _param(k, hidden, in_channels if i == 0 else hidden, self.kernels[i]))
            setattr(self, f"bias{i}", _param(k, hidden))
        setattr(self, f"weight{depth}", _param(k, out_dim, hidden))
        setattr(self, f"bias{depth}", _param(k, out_dim))
        init_bank(self, "default", None)

    def _input(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        batch = as_batch(x, f"speech projector ({self.view})")
        if self.view == "features":
            return batch.features, batch.frames
        if batch.wave.shape[-1] == 0:
            raise ValueError("the waveform projector needs batches with waveforms (a speech dataset's collate)")
        return batch.wave.unsqueeze(1), batch.samples

    def forward(self, x) -> torch.Tensor:
        h, lengths = self._input(x)
        layers = self._per_layer(self.depth + 1)
        h = h.to(layers[0][0].dtype)
        if self.view == "wave" and h.shape[-1] < self.kernels[0]:  # a clip shorter than one window
            h = F.pad(h, (0, self.kernels[0] - h.shape[-1]))
        h = apply_mask(h, frame_mask(lengths, h.shape[-1]))
        for i, (w, b) in enumerate(layers[:-1]):
            h = F.conv1d(h, w.flatten(0, 1), b.reshape(-1), stride=self.strides[i], padding=self.paddings[i],
                         groups=1 if i == 0 else self.k)
            lengths = conv_lengths(lengths, self.kernels[i], self.strides[i], self.paddings[i])
            mask = frame_mask(lengths, h.shape[-1])
            h = apply_mask(torch.relu(h), mask)
        pooled = h.sum(-1) / lengths.to(h.dtype).clamp_min(1).unsqueeze(1)  # masked mean, (B, K*H)
        pooled = pooled.view(pooled.shape[0], self.k, -1).transpose(0, 1)
        return _head(pooled, *layers[-1])


def _window(spec, ms: float) -> int:
    return int(round((spec.sample_rate or 16000) * ms / 1000))


def build_logmel_bank(spec, k: int, out_dim: int) -> MaskedConvBank:
    """K nets over the log-mel frames: Conv1d(F→64, 5) - ReLU - Conv1d(64→64, 5) - ReLU - mean - linear."""
    return MaskedConvBank(spec.shape[0], k, out_dim, view="features", hidden=64, depth=2, first_kernel=5,
                          kernel_size=5)


def build_wave_bank(spec, k: int, out_dim: int) -> MaskedConvBank:
    """K nets over the waveform: Conv1d(1→32, 25 ms, hop 10 ms) - ReLU - Conv1d(32→32, 5) - ReLU - mean - linear."""
    return MaskedConvBank(1, k, out_dim, view="wave", hidden=32, depth=2, first_kernel=_window(spec, 25),
                          first_stride=_window(spec, 10), kernel_size=5)
