"""Random projector banks for molecules: K frozen random networks evaluated as ONE module.

Every parameter carries a leading K axis (the host initialises, selects by DPP and freezes
them, see :mod:`core.projectors`); each bank maps a :class:`MolBatch` to ``(K, B, out_dim)``.

* :class:`FingerprintBank` — K random MLPs on the ``log1p`` Morgan fingerprint
  (:class:`core.projectors.MLPBank`: one GEMM to K·H, then ``bmm``).
* :class:`CompositionFingerprintBank` — the same MLPs on the fingerprint joined with the
  molecule's composition (``log1p`` of its atom-feature sums), scaled to weigh like the fingerprint.
* :class:`GraphBank` — K random GINE networks on the atom/bond features: the atom embedding of
  all K networks is one GEMM to K·H, so is every layer's bond embedding; the K per-layer MLPs
  are ``bmm`` over ``(K, n_atoms, H)``; messages and pooling are ``index_add`` over the batch's
  disjoint union (exact, no loop over K, no padding). Read-out: sum over atoms, then a ``bmm``
  head.
* :class:`TokenBank` — K random token embeddings + Conv1d over the SMILES tokens
  (:class:`core.projectors.TokenConvBank`, padding-exact).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.projectors import MLPBank, ProjectorBank, TokenConvBank, init_bank
from core_molecule.graphs import MolBatch, as_batch, sum_pool


class FingerprintBank(MLPBank):
    """K random MLPs ``Linear(F,H)-ReLU-Linear(H,d)`` on ``batch.fp`` (or a ``(B, F)`` tensor)."""

    def forward(self, batch) -> torch.Tensor:
        return super().forward(batch.fp if isinstance(batch, MolBatch) else batch)


class CompositionFingerprintBank(MLPBank):
    """K random MLPs on ``[fp, sqrt(F / A) · log1p(Σ_atoms atom features)]``: the ``log1p``
    Morgan count fingerprint (F bits) and the molecule's composition, the sums of its atoms'
    A features (counts of each element, degree, charge, hydrogen count and hybridisation, of
    aromatic and ring atoms, and the total mass), the atom-type counts that additive
    (group-contribution) models of solvation and solubility are built on. Folding into F bits and
    ``log1p`` blur these counts in the fingerprint. The ``sqrt(F / A)`` scale weighs the A
    composition entries in the first layer as if they were as many as the F bits (unscaled,
    the composition is 66 of 2114 inputs and moves the targets little), so the targets, and
    the encoder that predicts them, keep the composition (issue 17,
    train-only CV R², the fingerprint-only bank at 450 steps -> this bank at the recipe's 1500:
    FreeSolv 0.780 -> 0.866, solubility 0.815 -> 0.861)."""

    def __init__(self, fp_size: int, atom_dim: int, k: int, out_dim: int, hidden: int = 256, depth: int = 2):
        super().__init__(fp_size + atom_dim, k, out_dim, hidden=hidden, depth=depth)
        self.fp_size, self.atom_dim = fp_size, atom_dim

    def forward(self, batch) -> torch.Tensor:
        b = as_batch(batch, "molecule/fingerprint-composition projector")
        composition = torch.log1p(sum_pool(b.atoms, b.graph, b.num_graphs))  # features are >= 0
        scale = (self.fp_size / self.atom_dim) ** 0.5
        return super().forward(torch.cat([b.fp, composition * scale], dim=1))


class TokenBank(TokenConvBank):
    """K random ``Embedding-Conv1d-ReLU-masked mean-Linear`` nets on ``batch.tokens`` (or ids ``(B, L)``)."""

    def forward(self, batch) -> torch.Tensor:
        return super().forward(batch.tokens if isinstance(batch, MolBatch) else batch)


class GraphBank(ProjectorBank):
    """K random GINE networks (module docstring).

    Parameters: ``weight0 (K, H, atom_dim)`` / ``bias0``: atom embedding; for layer l = 1..L
    ``edge_weight{l} (K, H, bond_dim)`` / ``edge_bias{l}``: bond embedding and
    ``weight{l} (K, H, H)`` / ``bias{l}``: update; ``weight{L+1} (K, d, H)`` / ``bias{L+1}``: head.
    Layer l: ``m_ij = ReLU(h_j + W_e e_ij)``, ``h_i ← ReLU(W (h_i + Σ_j m_ij) + b)``.
    """

    def __init__(self, atom_dim: int, bond_dim: int, k: int, out_dim: int, hidden: int = 64, layers: int = 3):
        super().__init__()
        if layers < 1:
            raise ValueError(f"GraphBank layers must be >= 1, got {layers}")
        self.k, self.out_dim, self.hidden, self.layers = k, out_dim, hidden, layers
        self.weight0, self.bias0 = nn.Parameter(torch.empty(k, hidden, atom_dim)), nn.Parameter(torch.empty(k, hidden))
        for i in range(1, layers + 1):
            setattr(self, f"edge_weight{i}", nn.Parameter(torch.empty(k, hidden, bond_dim)))
            setattr(self, f"edge_bias{i}", nn.Parameter(torch.empty(k, hidden)))
            setattr(self, f"weight{i}", nn.Parameter(torch.empty(k, hidden, hidden)))
            setattr(self, f"bias{i}", nn.Parameter(torch.empty(k, hidden)))
        setattr(self, f"weight{layers + 1}", nn.Parameter(torch.empty(k, out_dim, hidden)))
        setattr(self, f"bias{layers + 1}", nn.Parameter(torch.empty(k, out_dim)))
        init_bank(self, "default", None)

    def _stacked(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``x (N, F)`` through all K first layers at once -> ``(K, N, H)``."""
        h = F.linear(x.to(weight.dtype), weight.flatten(0, 1), bias.flatten())
        return h.view(x.shape[0], self.k, weight.shape[1]).transpose(0, 1)

    def forward(self, batch) -> torch.Tensor:
        b = as_batch(batch, "molecule/graph projector")
        src, dst = b.edge_index
        h = torch.relu(self._stacked(b.atoms, self.weight0, self.bias0))  # (K, N, H)
        for i in range(1, self.layers + 1):
            e = self._stacked(b.edges, getattr(self, f"edge_weight{i}"), getattr(self, f"edge_bias{i}"))
            msg = torch.relu(h[:, src] + e)  # (K, E, H)
            agg = torch.zeros_like(h).index_add_(1, dst, msg)
            w, bias = getattr(self, f"weight{i}"), getattr(self, f"bias{i}")
            h = torch.relu(torch.baddbmm(bias.unsqueeze(1), h + agg, w.transpose(1, 2)))
        pooled = sum_pool(h, b.graph, b.num_graphs, dim=1)  # (K, B, H)
        w, bias = getattr(self, f"weight{self.layers + 1}"), getattr(self, f"bias{self.layers + 1}")
        return torch.baddbmm(bias.unsqueeze(1), pooled, w.transpose(1, 2))


def build_fingerprint_bank(spec, k: int, out_dim: int) -> nn.Module:
    return FingerprintBank(spec.shape[2], k, out_dim, hidden=256, depth=2)


def build_composition_fingerprint_bank(spec, k: int, out_dim: int) -> nn.Module:
    return CompositionFingerprintBank(spec.shape[2], spec.shape[0], k, out_dim, hidden=256, depth=2)


def build_graph_bank(spec, k: int, out_dim: int) -> nn.Module:
    return GraphBank(spec.shape[0], spec.shape[1], k, out_dim)


def build_token_bank(spec, k: int, out_dim: int) -> nn.Module:
    return TokenBank(int(spec.vocab_size), k, out_dim)
