"""Protein splits for the host and their collation into padded batches.

A split holds ragged token arrays (no padding stored). :func:`collate` pads a batch to its own
longest sequence with id 0:

* sequence corpora give a plain ``LongTensor (B, L)`` (so core's generic token pieces work too);
* structure corpora give a :class:`ProteinBatch`: the same ids plus Cα coordinates
  ``(B, L, 3)`` (NaN for padding and residues without a Cα atom).

Every encoder and bank of this plugin masks padding exactly, so a sequence's embedding does
not depend on how long its batch mates are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from core.data import collate_labels, label_tensor
from core_protein.alphabet import composition_features, decode


@dataclass
class ProteinBatch:
    """Padded residue ids ``tokens (B, L)`` and Cα coordinates ``coords (B, L, 3)`` (NaN = none)."""

    tokens: torch.Tensor
    coords: torch.Tensor

    def to(self, device) -> "ProteinBatch":
        return ProteinBatch(self.tokens.to(device), self.coords.to(device))

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @property
    def shape(self):
        return self.tokens.shape


def tokens_of(batch) -> torch.Tensor:
    """The padded ids of a batch (a :class:`ProteinBatch` or an id tensor ``(B, L)``)."""
    return (batch.tokens if isinstance(batch, ProteinBatch) else batch).long()


def pad_tokens(seqs: Sequence[np.ndarray]) -> torch.Tensor:
    out = np.zeros((len(seqs), max([len(s) for s in seqs] + [1])), dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return torch.from_numpy(out)


def collate(items) -> tuple:
    """``[(x, y, index)]`` -> ``(batch, y (B, ...), index (B,))``; ``x`` is ids or ``(ids, coords)``."""
    xs = [it[0] for it in items]
    if isinstance(xs[0], tuple):
        tokens = pad_tokens([x[0].numpy() for x in xs])
        coords = torch.full((*tokens.shape, 3), float("nan"))
        for i, (_, c) in enumerate(xs):
            coords[i, : len(c)] = c
        batch = ProteinBatch(tokens, coords)
    else:
        batch = pad_tokens([x.numpy() for x in xs])
    return (batch, *collate_labels(items))


class ProteinSplit(Dataset):
    """One split: ragged token arrays, optional Cα coordinates, labels and record ids."""

    collate_fn = staticmethod(collate)

    def __init__(self, ids: Sequence[str], tokens: Sequence[np.ndarray], targets: Optional[np.ndarray] = None,
                 coords: Optional[Sequence[np.ndarray]] = None, extra: Optional[dict] = None):
        self.ids = [str(i) for i in ids]
        self.tokens = list(tokens)
        self.coords = None if coords is None else list(coords)
        self.targets = None if targets is None else np.asarray(targets)
        self.extra = dict(extra or {})
        self._y = label_tensor(self.targets, len(self.ids))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        ids = torch.from_numpy(self.tokens[i])
        x = ids if self.coords is None else (ids, torch.from_numpy(self.coords[i]))
        return x, self._y[i], i

    def raw_features(self) -> np.ndarray:
        """The raw floor's input: amino-acid composition (20 frequencies) and log10 length."""
        return composition_features(self.tokens)

    def metadata(self) -> dict:
        """Per-record columns for ``core embed``: the (cleaned, possibly cropped) sequence and extras."""
        return {"sequence": [decode(t) for t in self.tokens], **{k: list(v) for k, v in self.extra.items()}}

    def subset(self, rows: Sequence[int], labelled: bool = True) -> "ProteinSplit":
        rows = [int(r) for r in rows]
        targets = None if (self.targets is None or not labelled) else self.targets[rows]
        return ProteinSplit([self.ids[r] for r in rows], [self.tokens[r] for r in rows], targets,
                            None if self.coords is None else [self.coords[r] for r in rows],
                            {k: [v[r] for r in rows] for k, v in self.extra.items()})


def join(parts: Sequence[ProteinSplit]) -> ProteinSplit:
    """Concatenate splits without labels (the unlabelled pretrain pool)."""
    coords = None if any(p.coords is None for p in parts) else [c for p in parts for c in p.coords]
    keys = set.intersection(*(set(p.extra) for p in parts)) if parts else set()
    return ProteinSplit([i for p in parts for i in p.ids], [t for p in parts for t in p.tokens], None, coords,
                        {k: [v for p in parts for v in p.extra[k]] for k in keys})
