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
        if self.targets is None:
            self._y = torch.full((len(self.x),), -1, dtype=torch.long)
        elif self.targets.dtype.kind in "iub":
            self._y = torch.from_numpy(self.targets.astype(np.int64))
        else:
            self._y = torch.from_numpy(self.targets.astype(np.float32))

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


def carve_validation(y: Optional[np.ndarray], n: int, fraction: float, seed: int):
    """Split ``range(n)`` into (train, val) indices, stratified on ``y`` when it is a class label."""
    from sklearn.model_selection import train_test_split

    index = np.arange(n)
    stratify = None
    if y is not None and np.asarray(y).ndim == 1 and np.asarray(y).dtype.kind in "iub":
        counts = np.bincount(np.asarray(y, dtype=np.int64))
        if counts[counts > 0].min() >= 2:
            stratify = y
    tr, va = train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(tr), np.sort(va)
