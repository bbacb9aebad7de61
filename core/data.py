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


def unlabelled_corpus(pool, input_spec, *, name: str = "", source: str = "", skipped=(), failed=()):
    """The :class:`core.specs.LoadedDataset` of a corpus read without labels (a dataset factory
    called with ``unlabelled=True``): every record in ``pretrain``, empty labelled splits,
    ``task=None``. ``pool`` follows the split protocol above with ``targets`` None."""
    from core.specs import LoadedDataset

    empty = EmptySplit(getattr(pool, "collate_fn", None))
    return LoadedDataset({"pretrain": pool, "train": empty, "val": empty, "test": empty}, input_spec, None,
                         name=name, source=source, skipped=list(skipped), failed=list(failed))


class EmptySplit(Dataset):
    """A split with no samples (the labelled splits of an unlabelled corpus)."""

    ids: list = []
    targets = None

    def __init__(self, collate_fn=None):
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        return 0

    def __getitem__(self, i: int):
        raise IndexError(i)

    def raw_features(self) -> np.ndarray:
        return np.zeros((0, 0), np.float32)


def join_pools(parts: Sequence) -> Dataset:
    """One unlabelled pretrain pool from several (e.g. an unlabelled corpus + a labelled
    corpus' train+val inputs): array splits are concatenated; other datasets are chained with
    item indices renumbered ``0..N-1`` (targets are cached by index) and the first part's
    ``collate_fn``."""
    parts = [p for p in parts if len(p)]
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, ArrayDataset) for p in parts):
        return concat(parts, labelled=False)
    return ChainedPool(parts)


class ChainedPool(Dataset):
    """Datasets read one after another as one unlabelled pool (see :func:`join_pools`)."""

    targets = None

    def __init__(self, parts: Sequence):
        self.parts = list(parts)
        self.starts = offsets([len(p) for p in self.parts])
        self.ids = [i for p in self.parts for i in getattr(p, "ids", range(len(p)))]
        self.collate_fn = getattr(self.parts[0], "collate_fn", None)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        part = int(np.searchsorted(self.starts, i, side="right")) - 1
        x, _, _ = self.parts[part][i - int(self.starts[part])]
        return x, label_tensor(None, 1)[0], i

    def raw_features(self) -> np.ndarray:
        return np.concatenate([p.raw_features() for p in self.parts])
