"""Molecule encoders: each ``build(input_spec, dim)`` maps a :class:`MolBatch` to ``(B, dim)``.

* :class:`FingerprintMLP`: ``log1p`` Morgan fingerprint -> ``Linear-BN-ReLU`` x2 -> ``dim``.
* :class:`GINEncoder`: GIN with bond features (GINE, Hu et al. 2020): per layer
  ``h_i ← MLP((1+ε)·h_i + Σ_{j∈N(i)} ReLU(h_j + W_e e_ij))`` with ``MLP = Linear-BN-ReLU-Linear``,
  then BN (+ ReLU but on the last layer), read out as the concatenation of the sum and the mean
  of the node states over every layer (jumping knowledge), then ``Linear`` to ``dim``.
  Message passing and pooling are ``index_add`` over the batch's disjoint union: exact.
* :class:`SmilesCNN`: token embedding (id 0 = padding) -> Conv1d-ReLU blocks, with positions
  past a molecule's end zeroed after EVERY layer (so its output equals running it alone with
  zero padding) -> masked mean and max pooling -> ``Linear`` to ``dim``.

Batch-norm layers use batch statistics only in training; in eval mode every encoder gives a
molecule the same embedding whatever its batch mates (tested).
"""
from __future__ import annotations

import torch
from torch import nn

from core.errors import UserError
from core.specs import InputSpec
from core_molecule.graphs import MolBatch, as_batch, mean_pool, sum_pool


def _dims(spec: InputSpec, name: str) -> tuple[int, int, int]:
    if spec.modality != "graph" or len(spec.shape) != 3:
        raise UserError(f"encoder {name} reads molecules (a molecule dataset's graph input), got {spec.modality} "
                        f"{spec.shape}; pick an encoder for that modality (`core list encoders`)")
    return spec.shape


class FingerprintMLP(nn.Module):
    def __init__(self, fp_size: int, dim: int, hidden: int = 512, depth: int = 2, dropout: float = 0.0):
        super().__init__()
        layers, width = [], fp_size
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, batch) -> torch.Tensor:
        x = batch.fp if isinstance(batch, MolBatch) else batch
        return self.net(x.float())


class GINEncoder(nn.Module):
    def __init__(self, atom_dim: int, bond_dim: int, dim: int, hidden: int = 128, layers: int = 4):
        super().__init__()
        self.atom_in = nn.Linear(atom_dim, hidden)
        self.bond_in = nn.ModuleList(nn.Linear(bond_dim, hidden) for _ in range(layers))
        self.eps = nn.Parameter(torch.zeros(layers))
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, hidden))
            for _ in range(layers))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(layers))
        self.head = nn.Linear(2 * hidden * (layers + 1), dim)

    def forward(self, batch) -> torch.Tensor:
        b = as_batch(batch, "molecule/gin")
        src, dst = b.edge_index
        h = self.atom_in(b.atoms.float())
        states = [h]
        for i, (bond, mlp, norm) in enumerate(zip(self.bond_in, self.mlps, self.norms)):
            msg = torch.relu(h[src] + bond(b.edges.float()))
            agg = torch.zeros_like(h).index_add_(0, dst, msg)
            h = norm(mlp((1 + self.eps[i]) * h + agg))
            if i < len(self.mlps) - 1:
                h = torch.relu(h)
            states.append(h)
        pooled = [p(s, b.graph, b.num_graphs) for s in states for p in (sum_pool, mean_pool)]
        return self.head(torch.cat(pooled, dim=1))


class SmilesCNN(nn.Module):
    def __init__(self, vocab_size: int, dim: int, embed_dim: int = 64, width: int = 128, kernel_size: int = 5,
                 layers: int = 3):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"SmilesCNN kernel_size must be odd, got {kernel_size}")
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim if i == 0 else width, width, kernel_size,
                                             padding=kernel_size // 2) for i in range(layers))
        self.head = nn.Linear(2 * width, dim)

    def forward(self, batch) -> torch.Tensor:
        ids = (batch.tokens if isinstance(batch, MolBatch) else batch).long()
        mask = (ids != 0).unsqueeze(1).float()  # (B, 1, L)
        h = self.embed(ids).transpose(1, 2) * mask
        for conv in self.convs:
            h = torch.relu(conv(h)) * mask  # zero past the end after every layer: padding cannot leak
        mean = h.sum(-1) / mask.sum(-1).clamp_min(1)
        peak = h.masked_fill(mask == 0, float("-inf")).amax(-1)
        peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
        return self.head(torch.cat([mean, peak], dim=1))


def build_fingerprint_mlp(spec: InputSpec, dim: int) -> nn.Module:
    _, _, fp = _dims(spec, "molecule/fp_mlp")
    return FingerprintMLP(fp, dim)


def build_gin(spec: InputSpec, dim: int) -> nn.Module:
    atom, bond, _ = _dims(spec, "molecule/gin")
    return GINEncoder(atom, bond, dim)


def build_smiles_cnn(spec: InputSpec, dim: int) -> nn.Module:
    _dims(spec, "molecule/smiles_cnn")
    return SmilesCNN(int(spec.vocab_size), dim)
