"""Packed convolutions: run a padded batch as ONE row of sequences separated by zero gaps.

Peptide and protein lengths are long-tailed, so padding a batch to its longest member wastes
most of a convolution's work (AMPvsUniProt: median 33 residues, batches padded to ~130).
:func:`pack` lays the ``B`` sequences of ``ids (B, L)`` end to end in a single row, each
followed by ``gap`` zeros. A convolution whose one-sided reach (``dilation · (kernel // 2)``)
is at most ``gap`` then sees, for every real residue, exactly what it would see in the padded
batch (its own residues and zeros), provided positions outside sequences are zeroed again
after every layer. So packed and padded results are equal (up to float summation order), and
neither depends on the batch's other members. Pooling is per segment (:func:`segment_pool`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Packed:
    ids: torch.Tensor  # (T,) residue ids of the packed row, 0 in gaps
    segment: torch.Tensor  # (T,) sequence index of each position, -1 in gaps
    mask: torch.Tensor  # (T,) 1.0 on residues, 0.0 in gaps
    batch_size: int


def pack(ids: torch.Tensor, gap: int) -> Packed:
    """Pack ``ids (B, L)`` (0 = padding) into one row; each sequence keeps its columns up to its
    last residue, then ``gap`` zeros follow (and lead the row)."""
    b, width = ids.shape
    nonzero = ids != 0
    cols = torch.arange(width, device=ids.device)
    span = torch.where(nonzero, cols + 1, torch.zeros_like(cols)).amax(1) if width else ids.new_zeros(b)
    starts = gap + torch.cumsum(span + gap, 0) - (span + gap)
    total = int((span + gap).sum()) + gap
    pos = starts[:, None] + cols[None, :]
    flat = ids.new_zeros(total)
    segment = torch.full((total,), -1, dtype=torch.long, device=ids.device)
    flat[pos[nonzero]] = ids[nonzero]
    segment[pos[nonzero]] = torch.arange(b, device=ids.device)[:, None].expand(b, width)[nonzero]
    return Packed(flat, segment, (segment >= 0).float(), b)


def segment_pool(h: torch.Tensor, packed: Packed) -> torch.Tensor:
    """Masked mean and max over each sequence: ``h (C, T)`` -> ``(B, 2C)`` (empty sequences give 0)."""
    c = h.shape[0]
    keep = packed.segment >= 0
    seg = packed.segment[keep]
    vals = h[:, keep].T  # (N, C)
    count = torch.zeros(packed.batch_size, device=h.device, dtype=h.dtype).index_add_(0, seg, torch.ones_like(seg, dtype=h.dtype))
    mean = torch.zeros(packed.batch_size, c, device=h.device, dtype=h.dtype).index_add_(0, seg, vals)
    mean = mean / count.clamp_min(1)[:, None]
    peak = torch.full((packed.batch_size, c), float("-inf"), device=h.device, dtype=h.dtype)
    peak = peak.scatter_reduce(0, seg[:, None].expand_as(vals), vals, reduce="amax", include_self=True)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    return torch.cat([mean, peak], dim=1)


def segment_mean(h: torch.Tensor, packed: Packed) -> torch.Tensor:
    """Mean over each sequence: ``h (C, T)`` -> ``(B, C)``."""
    keep = packed.segment >= 0
    seg = packed.segment[keep]
    count = torch.zeros(packed.batch_size, device=h.device, dtype=h.dtype).index_add_(0, seg, torch.ones_like(seg, dtype=h.dtype))
    total = torch.zeros(packed.batch_size, h.shape[0], device=h.device, dtype=h.dtype).index_add_(0, seg, h[:, keep].T)
    return total / count.clamp_min(1)[:, None]
