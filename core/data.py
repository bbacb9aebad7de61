"""In-memory datasets and split helpers shared by plugins.

The split protocol the host relies on (any plugin dataset may implement it):

* ``len(ds)`` and ``ds[i] -> (x, y, i)``: ``x`` a tensor shaped like ``InputSpec.shape``,
  ``y`` the label (``-1`` when unlabelled), ``i`` the sample index (targets are cached by it);
* ``ds.ids``: a list of sample ids (record names), same order;
* ``ds.targets``: ``np.ndarray`` of labels or ``None``;
* ``ds.raw_features()``: ``np.ndarray (N, F)``, the raw-feature floor's input;
* optional ``ds.collate_fn`` for variable-size items (graphs, ragged tokens).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset


def label_tensor(targets: Optional[np.ndarray], n: int) -> torch.Tensor:
    """Labels as items carry them: int64 class ids, float32 values (regression, multilabel),
    or ``-1`` for each of ``n`` unlabelled samples."""
    if targets is None:
        return torch.full((n,), -1, dtype=torch.long)
    targets = np.asarray(targets)
    if targets.dtype.kind in "iub":
        return torch.from_numpy(targets.astype(np.int64))
    return torch.from_numpy(targets.astype(np.float32))


def offsets(lengths: Sequence[int]) -> np.ndarray:
    """``(N+1,)`` int64 start offsets of ragged items stored end to end (item i is
    ``flat[ptr[i]:ptr[i+1]]``)."""
    return np.concatenate([[0], np.cumsum(np.asarray(lengths, dtype=np.int64))]).astype(np.int64)


def collate_labels(items: Sequence) -> tuple[torch.Tensor, torch.Tensor]:
    """The tail of every collate function: ``(y, index)`` stacked from ``(x, y, index)`` items."""
    y = torch.stack([torch.as_tensor(it[1]) for it in items])
    index = torch.as_tensor([int(it[2]) for it in items], dtype=torch.long)
    return y, index


class ArrayDataset(Dataset):
    """A split backed by one array ``x (N, ...)``, optional labels ``y`` and record ids."""

    collate_fn = None

    def __init__(self, x: np.ndarray, y: Optional[np.ndarray] = None, ids: Optional[Sequence[str]] = None):
        self.x = np.ascontiguousarray(x)
        self.targets = None if y is None else np.asarray(y)
        if self.targets is not None and len(self.targets) != len(self.x):
            raise ValueError(f"{len(self.x)} samples but {len(self.targets)} labels")
        self.ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(self.x))]
        if len(self.ids) != len(self.x):
            raise ValueError(f"{len(self.x)} samples but {len(self.ids)} ids")
        self._x = torch.from_numpy(self.x)
        self._y = label_tensor(self.targets, len(self.x))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self._x[i], self._y[i], i

    def raw_features(self) -> np.ndarray:
        return self.x.reshape(len(self.x), -1).astype(np.float32, copy=False)

    def subset(self, index: Sequence[int]) -> "ArrayDataset":
        index = np.asarray(index, dtype=np.int64)
        y = None if self.targets is None else self.targets[index]
        return ArrayDataset(self.x[index], y, [self.ids[i] for i in index])

    def unlabelled(self) -> "ArrayDataset":
        return ArrayDataset(self.x, None, self.ids)


def concat(parts: Sequence[ArrayDataset], labelled: bool = True) -> ArrayDataset:
    """Concatenate array splits (e.g. the pretrain pool = train + val, labels dropped)."""
    x = np.concatenate([p.x for p in parts])
    ids = [i for p in parts for i in p.ids]
    y = None
    if labelled and all(p.targets is not None for p in parts):
        y = np.concatenate([p.targets for p in parts])
    return ArrayDataset(x, y, ids)
