"""Molecule splits and exact batching of variable-size graphs (no padding, no torch_geometric).

A :class:`MoleculeStore` keeps every parsed molecule of a corpus in flat arrays (atoms,
edges and tokens concatenated with offset pointers, fingerprints as a ``uint8`` matrix). A
:class:`MoleculeSplit` is a view on some of its rows following the host's split protocol
(``(x, y, index)`` items, ``ids``, ``targets``, ``raw_features()``, ``collate_fn``).

:func:`collate` turns items into one :class:`MolBatch` holding all three views of the batch:

* the disjoint union of the graphs: atom features stacked, edge indices shifted by each
  graph's atom offset, and ``graph`` (the graph id of every atom) for pooling with
  ``index_add`` (:func:`sum_pool`, :func:`mean_pool`). Nothing is padded, so a molecule's
  embedding cannot depend on its batch mates;
* ``fp``: ``log1p`` of the Morgan fingerprint, ``(B, F)``;
* ``tokens``: SMILES token ids right-padded with 0 to the longest in the batch, ``(B, L)``
  (token encoders/banks mask id 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from core.data import collate_labels, label_tensor, offsets


@dataclass
class MolBatch:
    """A batch of molecules (see the module docstring). ``len(batch)`` is the number of molecules."""

    atoms: torch.Tensor  # (n_atoms, ATOM_DIM) float32
    edge_index: torch.Tensor  # (2, n_edges) int64, global atom indices, row 0 = source
    edges: torch.Tensor  # (n_edges, BOND_DIM) float32
    graph: torch.Tensor  # (n_atoms,) int64 graph id of every atom
    num_graphs: int
    fp: torch.Tensor  # (B, F) float32, log1p(counts)
    tokens: torch.Tensor  # (B, L) int64, 0 = padding

    def to(self, device, non_blocking: bool = False) -> "MolBatch":
        move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return MolBatch(move(self.atoms), move(self.edge_index), move(self.edges), move(self.graph),
                        self.num_graphs, move(self.fp), move(self.tokens))

    def __len__(self) -> int:
        return self.num_graphs

    @property
    def device(self) -> torch.device:
        return self.atoms.device


def sum_pool(h: torch.Tensor, graph: torch.Tensor, num_graphs: int, dim: int = 0) -> torch.Tensor:
    """Sum of node rows per graph along ``dim`` (``index_add``; exact, no padding)."""
    shape = list(h.shape)
    shape[dim] = num_graphs
    return h.new_zeros(shape).index_add_(dim, graph, h)


def atom_counts(graph: torch.Tensor, num_graphs: int, dtype=torch.float32) -> torch.Tensor:
    return torch.zeros(num_graphs, dtype=dtype, device=graph.device).index_add_(
        0, graph, torch.ones_like(graph, dtype=dtype))


def mean_pool(h: torch.Tensor, graph: torch.Tensor, num_graphs: int, dim: int = 0) -> torch.Tensor:
    """Mean of node rows per graph along ``dim``."""
    total = sum_pool(h, graph, num_graphs, dim)
    count = atom_counts(graph, num_graphs, h.dtype).clamp_min(1)
    shape = [1] * h.ndim
    shape[dim] = num_graphs
    return total / count.view(shape)


def as_batch(x, what: str) -> MolBatch:
    if not isinstance(x, MolBatch):
        raise TypeError(f"{what} takes a MolBatch from a molecule dataset (core_molecule.graphs.collate), "
                        f"got {type(x).__name__}")
    return x


# -- storage ------------------------------------------------------------------------------------
@dataclass
class MoleculeStore:
    """All parsed molecules of a corpus, in input order, in flat arrays."""

    ids: list
    smiles: list  # canonical (or as written) SMILES after standardisation
    atoms: np.ndarray  # (total_atoms, ATOM_DIM) float32
    atom_ptr: np.ndarray  # (N+1,)
    edge_index: np.ndarray  # (2, total_edges) local atom indices
    edges: np.ndarray  # (total_edges, BOND_DIM) float32
    edge_ptr: np.ndarray  # (N+1,)
    fp: np.ndarray  # (N, F) uint8
    tokens: np.ndarray  # (total_tokens,) int64
    token_ptr: np.ndarray  # (N+1,)
    targets: Optional[np.ndarray] = None  # (N,) or (N, T)
    extra: dict = field(default_factory=dict)  # per-molecule metadata columns (e.g. input_index, line)

    @classmethod
    def build(cls, ids, smiles, graphs, fps, tokens, targets=None, extra=None) -> "MoleculeStore":
        """From per-molecule ``graphs`` ``[(atoms, edge_index, edges)]``, ``fps`` and ``tokens`` lists."""
        from core_molecule.chem import ATOM_DIM, BOND_DIM

        n = len(ids)
        atoms = np.concatenate([g[0] for g in graphs]) if n else np.zeros((0, ATOM_DIM), np.float32)
        edge_index = np.concatenate([g[1] for g in graphs], axis=1) if n else np.zeros((2, 0), np.int64)
        edges = np.concatenate([g[2] for g in graphs]) if n else np.zeros((0, BOND_DIM), np.float32)
        fp = np.stack(fps) if n else np.zeros((0, 0), np.uint8)
        tok = np.concatenate(tokens) if n else np.zeros(0, np.int64)
        return cls(list(ids), list(smiles), atoms.astype(np.float32), offsets([len(g[0]) for g in graphs]),
                   edge_index.astype(np.int64), edges.astype(np.float32), offsets([g[1].shape[1] for g in graphs]),
                   fp, tok.astype(np.int64), offsets([len(t) for t in tokens]), targets, dict(extra or {}))

    def __len__(self) -> int:
        return len(self.ids)


def collate(items) -> tuple:
    """``[(MolRef, y, index)]`` -> ``(MolBatch, y (B, ...), index (B,))``. Each molecule is read
    from its own store, so a batch may mix corpora (a pretrain pool joined from several)."""
    refs = [it[0] for it in items]
    spans = [(r.store, r.row, r.store.atom_ptr[r.row], r.store.atom_ptr[r.row + 1], r.store.edge_ptr[r.row],
              r.store.edge_ptr[r.row + 1], r.store.token_ptr[r.row], r.store.token_ptr[r.row + 1]) for r in refs]
    n_atoms = np.asarray([a1 - a0 for _, _, a0, a1, *_ in spans], dtype=np.int64)
    atom_start = offsets(n_atoms)[:-1]
    atoms = np.concatenate([st.atoms[a0:a1] for st, _, a0, a1, *_ in spans])
    edges = np.concatenate([st.edges[e0:e1] for st, _, _, _, e0, e1, *_ in spans])
    edge_index = np.concatenate([st.edge_index[:, e0:e1] + off
                                 for (st, _, _, _, e0, e1, *_), off in zip(spans, atom_start)], axis=1)
    graph = np.repeat(np.arange(len(refs)), n_atoms)
    n_tok = [t1 - t0 for *_, t0, t1 in spans]
    tokens = np.zeros((len(refs), max(max(n_tok), 1)), dtype=np.int64)
    for i, (st, *_, t0, t1) in enumerate(spans):
        tokens[i, : t1 - t0] = st.tokens[t0:t1]
    fp = np.log1p(np.stack([st.fp[row] for st, row, *_ in spans]).astype(np.float32))
    batch = MolBatch(torch.from_numpy(atoms), torch.from_numpy(edge_index), torch.from_numpy(edges),
                     torch.from_numpy(graph), len(refs), torch.from_numpy(fp), torch.from_numpy(tokens))
    return (batch, *collate_labels(items))


@dataclass(frozen=True)
class MolRef:
    """One molecule of a store (what a split's ``__getitem__`` returns as ``x``)."""

    store: MoleculeStore
    row: int


class MoleculeSplit(Dataset):
    """Rows of a :class:`MoleculeStore` as a host split (items ``(MolRef, y, index)``)."""

    collate_fn = staticmethod(collate)

    def __init__(self, store: MoleculeStore, rows: Sequence[int], labelled: bool = True):
        self.store = store
        self.rows = np.asarray(rows, dtype=np.int64)
        self.ids = [store.ids[r] for r in self.rows]
        self.smiles = [store.smiles[r] for r in self.rows]
        self.targets = None if (store.targets is None or not labelled) else store.targets[self.rows]
        self._y = label_tensor(self.targets, len(self.rows))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return MolRef(self.store, int(self.rows[i])), self._y[i], i

    def raw_features(self) -> np.ndarray:
        """The raw-feature floor's input: the Morgan fingerprint (counts or bits) as float32."""
        return self.store.fp[self.rows].astype(np.float32)

    def metadata(self) -> dict:
        """Extra per-sample columns for ``core embed``: ``smiles`` and the store's extras."""
        out = {"smiles": list(self.smiles)}
        for key, values in self.store.extra.items():
            out[key] = [values[r] for r in self.rows]
        return out

    def unlabelled(self) -> "MoleculeSplit":
        return MoleculeSplit(self.store, self.rows, labelled=False)
