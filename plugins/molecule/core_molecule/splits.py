"""Train/val/test splits of molecules: Bemis-Murcko scaffold, random, or a given column.

The scaffold split is the *balanced* scaffold split of chemprop (Yang et al. 2019): molecules
are grouped by Bemis-Murcko scaffold; groups too big for half of val or test go first, in a
seeded random order, then the other groups in a seeded random order; each group goes whole to
train while train has room, else to val while val has room, else to test. So no scaffold is
in two splits, and the split is deterministic for a seed and changes with it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

SPLIT_NAMES = ("train", "val", "test")
ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
           "dev": "val", "test": "test", "testing": "test"}


def sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """Split sizes; a non-zero fraction of 3+ molecules gets at least one."""
    def size(f):
        k = int(round(f * n))
        return max(k, 1) if f > 0 and n >= 3 else k

    n_val, n_test = size(val_fraction), size(test_fraction)
    return n - n_val - n_test, n_val, n_test


def scaffold_groups(scaffolds: Sequence[str]) -> list[np.ndarray]:
    """Indices grouped by scaffold, groups in order of first appearance."""
    groups: dict[str, list] = {}
    for i, s in enumerate(scaffolds):
        groups.setdefault(s, []).append(i)
    return [np.asarray(g, dtype=np.int64) for g in groups.values()]


def scaffold_split(scaffolds: Sequence[str], val_fraction: float, test_fraction: float,
                   seed: int) -> dict[str, np.ndarray]:
    """Balanced Bemis-Murcko scaffold split (module docstring) -> sorted indices per split."""
    n = len(scaffolds)
    n_train, n_val, n_test = sizes(n, val_fraction, test_fraction)
    groups = scaffold_groups(scaffolds)
    big = [g for g in groups if len(g) > n_val / 2 or len(g) > n_test / 2]
    small = [g for g in groups if not (len(g) > n_val / 2 or len(g) > n_test / 2)]
    rng = np.random.default_rng(seed)
    order = [big[i] for i in rng.permutation(len(big))] + [small[i] for i in rng.permutation(len(small))]
    out = {s: [] for s in SPLIT_NAMES}
    count = {s: 0 for s in SPLIT_NAMES}
    for g in order:
        if count["train"] + len(g) <= n_train:
            where = "train"
        elif count["val"] + len(g) <= n_val:
            where = "val"
        else:
            where = "test"
        out[where].append(g)
        count[where] += len(g)
    return {s: np.sort(np.concatenate(v)) if v else np.zeros(0, np.int64) for s, v in out.items()}


def random_split(n: int, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    n_train, n_val, _ = sizes(n, val_fraction, test_fraction)
    perm = np.random.default_rng(seed).permutation(n)
    return {"train": np.sort(perm[:n_train]), "val": np.sort(perm[n_train:n_train + n_val]),
            "test": np.sort(perm[n_train + n_val:])}


def normalise_split_value(value: str):
    """``train``/``val``/``test`` for a split cell (aliases: valid, validation, dev, training, testing),
    None for an empty cell; raises ValueError otherwise."""
    text = str(value).strip().lower()
    if not text:
        return None
    if text not in ALIASES:
        raise ValueError(f"unknown split value '{value}' (use train, val or test)")
    return ALIASES[text]
