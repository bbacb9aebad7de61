"""Exact masking of padded frames through convolutions, normalisation and pooling.

A clip of ``T`` valid frames right-padded with zeros gives, through a convolution with kernel
k, stride s and zero padding p, the same first ``floor((T + 2p - k) / s) + 1`` outputs as the
unpadded clip, PROVIDED every padded input position is zero (it then plays the role of the
convolution's own zero padding). So layers re-zero padded positions after every operation
that can make them non-zero (bias, normalisation, activation), carry the lengths through
strided layers with :func:`conv_lengths`, and pool with :func:`masked_mean_std`. Batch
normalisation takes its training statistics over valid positions only
(:class:`MaskedBatchNorm`); in eval mode it is a per-position affine map.
"""
from __future__ import annotations

import torch
import torch.nn as nn


def frame_mask(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """``(B, length)`` bool, True on the first ``lengths[i]`` positions."""
    return torch.arange(length, device=lengths.device)[None, :] < lengths[:, None]


def conv_lengths(lengths: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Valid output positions of a convolution applied to ``lengths`` valid inputs (at least 1)."""
    return torch.clamp(torch.div(lengths + 2 * padding - kernel, stride, rounding_mode="floor") + 1, min=1)


def apply_mask(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero ``h (B, ..., T)`` where ``mask (B, T)`` is False."""
    shape = (mask.shape[0],) + (1,) * (h.ndim - 2) + (mask.shape[1],)
    return h * mask.view(shape).to(h.dtype)


def masked_mean_std(h: torch.Tensor, mask: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of ``h (B, C, T)`` over the valid positions of ``mask (B, T)``."""
    m = mask.to(h.dtype).unsqueeze(1)
    count = m.sum(-1).clamp_min(1.0)
    mean = (h * m).sum(-1) / count
    var = (((h - mean.unsqueeze(-1)) * m) ** 2).sum(-1) / count
    return mean, (var + eps).sqrt()


class MaskedBatchNorm(nn.BatchNorm1d):
    """Batch normalisation of ``(B, C, *spatial, T)`` whose training statistics (and running
    averages) use only valid time positions; eval mode is the usual affine map. Padded
    positions come out zero."""

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not self.training:
            shape = (1, -1) + (1,) * (h.ndim - 2)
            scale = self.weight / torch.sqrt(self.running_var + self.eps)
            out = (h - self.running_mean.view(shape)) * scale.view(shape) + self.bias.view(shape)
            return apply_mask(out, mask)
        m = apply_mask(torch.ones_like(h[:, :1]), mask)  # (B, 1, ..., T)
        dims = [0] + list(range(2, h.ndim))
        count = m.sum(dims).clamp_min(1.0)
        mean = (h * m).sum(dims) / count
        var = (((h - mean.view(1, -1, *[1] * (h.ndim - 2))) ** 2) * m).sum(dims) / count
        with torch.no_grad():
            n = float(count)
            self.num_batches_tracked += 1
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(var.detach() * n / max(n - 1.0, 1.0), self.momentum)
        shape = (1, -1) + (1,) * (h.ndim - 2)
        out = (h - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps) * self.weight.view(shape) \
            + self.bias.view(shape)
        return out * m
