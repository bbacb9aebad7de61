"""Random projector banks for proteins: K frozen random networks evaluated as ONE module.

Every parameter carries a leading K axis (the host initialises, picks K of r·K candidates by
DPP and freezes them; see :mod:`core.projectors`); each bank maps a batch (ids ``(B, L)`` or a
:class:`ProteinBatch`) to ``(K, B, out_dim)``.

* :class:`ResidueConvBank` (default) — core's :class:`~core.projectors.TokenConvBank` sized for
  proteins: a random residue embedding (32 per network), one Conv1d of 128 channels with
  kernel 9 (a window of 9 residues, about 2.5 helix turns), ReLU, masked mean over residues,
  linear head. Padding is zeroed before the convolution and left out of the mean: exact.
* :class:`SpectrumBank` — K random MLPs (``Linear(420, 256)-ReLU-Linear(256, d)``, core's
  :class:`~core.projectors.MLPBank`) on the residue and dipeptide spectrum of the sequence
  (20 + 400 frequencies, computed from the ids; extras shared as in :mod:`core_protein.alphabet`).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.projectors import MLPBank, TokenConvBank
from core_protein.alphabet import COMPOSITION_SHARE
from core_protein.batches import tokens_of
from core_protein.packing import pack, segment_mean


class ResidueConvBank(TokenConvBank):
    """K random ``Embedding-Conv1d-ReLU-masked mean-Linear`` networks over the residues.

    Same networks and parameters as core's :class:`TokenConvBank`; the forward pass runs packed
    (:mod:`core_protein.packing`, gaps of ``kernel // 2`` zeros), which equals the padded
    computation but skips the padding of long-tailed batches.
    """

    def forward(self, batch) -> torch.Tensor:
        ids = tokens_of(batch)
        packed = pack(ids, self.padding)
        mask = packed.mask.to(self.embedding.dtype)
        table = self.embedding.transpose(0, 1).reshape(self.vocab_size, -1)  # (V, K*E)
        e = F.embedding(packed.ids, table) * mask[:, None]  # (T, K*E)
        h = F.conv1d(e.T[None], self.weight0.flatten(0, 1), self.bias0.reshape(-1), padding=self.padding,
                     groups=self.k)[0]
        h = segment_mean(torch.relu(h) * mask, packed)  # (B, K*H)
        h = h.view(h.shape[0], self.k, -1).transpose(0, 1)
        return torch.baddbmm(self.bias1.unsqueeze(1), h, self.weight1.transpose(1, 2))


def spectrum(ids: torch.Tensor) -> torch.Tensor:
    """Residue (20) and dipeptide (400) frequencies ``(B, 420)`` of padded ids ``(B, L)``."""
    share = torch.as_tensor(COMPOSITION_SHARE, device=ids.device)  # (V, 20)
    mask = (ids != 0).float()
    p = share[ids] * mask.unsqueeze(-1)  # (B, L, 20)
    mono = p.sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
    pairs = torch.einsum("bli,blj->bij", p[:, :-1], p[:, 1:]).flatten(1)  # padding rows are zero
    di = pairs / (mask[:, 1:] * mask[:, :-1]).sum(1, keepdim=True).clamp_min(1)
    return torch.cat([mono, di], dim=1)


class SpectrumBank(MLPBank):
    """K random MLPs on :func:`spectrum` (module docstring)."""

    def forward(self, batch) -> torch.Tensor:
        return super().forward(spectrum(tokens_of(batch)))


def build_residue_conv_bank(spec, k: int, out_dim: int) -> nn.Module:
    return ResidueConvBank(int(spec.vocab_size), k, out_dim, embed_dim=32, hidden=128, kernel_size=9)


def build_spectrum_bank(spec, k: int, out_dim: int) -> nn.Module:
    return SpectrumBank(420, k, out_dim, hidden=256, depth=2)
