"""Train/val/test splits: the one implementation every plugin uses.

Every function returns sorted ``int64`` index arrays per split name (``train``, ``val``,
``test``) and is deterministic for a seed. Three ways to split, by what keeps a test honest:

* :func:`random_split` / :func:`carve`: seeded random, stratified on class labels when every
  class can be split (scikit-learn ``train_test_split``), else plain random;
* :func:`balanced_group_split`: whole groups (Bemis-Murcko scaffolds, sequence-identity
  clusters), the *balanced* scaffold split of chemprop (Yang et al. 2019): groups too big for
  half of val or test go first in a seeded order, then the rest in a seeded order; each goes to
  train while it fits, else val, else test;
* :func:`held_out_groups`: whole groups (slides, speakers, spatial blocks) held out for test
  then val in a seeded order until each holds about its share, with at least one group each.

A corpus that ships its own split keeps it: :func:`fill_missing` carves only the missing
test (then val) split out of train. Reader options shared by all plugins (``val_fraction``,
``test_fraction``, ``split_seed``) are checked by :data:`SPLIT_RULES` and :func:`check_fractions`.
"""
from __future__ import annotations

from typing import Callable, Hashable, Optional, Sequence, Union

import numpy as np

from core.errors import UserError
from core.options import fraction, integer, number

SPLITS = ("train", "val", "test")
ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
           "dev": "val", "test": "test", "testing": "test", "eval": "test"}
SPLIT_RULES = {"val_fraction": fraction(), "test_fraction": fraction(), "split_seed": integer(0)}
# splitters that always fill val and test (group hold-outs, carving by share): shares in (0, 1)
NONZERO_SPLIT_RULES = {**SPLIT_RULES, "val_fraction": number(0.0, 1.0, low_open=True, high_open=True),
                       "test_fraction": number(0.0, 1.0, low_open=True, high_open=True)}
Size = Union[int, float]


def split_name(value) -> Optional[str]:
    """``train``/``val``/``test`` for a split cell (aliases: training, valid, validation, dev,
    testing; any case), ``None`` for an empty cell; raises ``ValueError`` for anything else."""
    text = "" if value is None else str(value).strip().lower()
    if not text:
        return None
    if text not in ALIASES:
        raise ValueError(f"unknown split value '{value}' (use train, val or test)")
    return ALIASES[text]


def check_fractions(val_fraction: float, test_fraction: float, what: str = "samples") -> None:
    """One line when ``val_fraction + test_fraction`` leaves nothing to train on."""
    if val_fraction + test_fraction >= 1:
        raise UserError(f"val_fraction + test_fraction = {val_fraction + test_fraction:g} leaves no training "
                        f"{what}; make them smaller, e.g. --val-fraction 0.1 --test-fraction 0.1")


def seed_of(split_seed: Optional[int], seed: int) -> int:
    """The split seed: ``split_seed`` when the user fixed it, else the run's seed."""
    return seed if split_seed is None else int(split_seed)


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)``; a non-zero fraction of 3 or more items gets at least one."""
    def size(f):
        k = int(round(f * n))
        return max(k, 1) if f > 0 and n >= 3 else k

    n_val, n_test = size(val_fraction), size(test_fraction)
    return n - n_val - n_test, n_val, n_test


def _empty() -> np.ndarray:
    return np.zeros(0, np.int64)


def _class_labels(y) -> Optional[np.ndarray]:
    y = None if y is None else np.asarray(y)
    return y if y is not None and y.ndim == 1 and y.dtype.kind in "iub" else None


def _train_test_split(index: np.ndarray, size: Size, seed: int, labels: Optional[np.ndarray]):
    """scikit-learn's split of ``index`` (order kept), stratified on ``labels`` when it can be."""
    from sklearn.model_selection import train_test_split

    if labels is not None and np.unique(labels, return_counts=True)[1].min() >= 2:
        try:
            return train_test_split(index, test_size=size, random_state=seed, stratify=labels)
        except ValueError:  # a part is smaller than the number of classes
            pass
    return train_test_split(index, test_size=size, random_state=seed)


def carve(y, n: int, size: Size, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into sorted ``(rest, carved)``: ``size`` items (int) or that share (float).

    Stratified on ``y`` when it holds class ids with at least 2 of each and both parts can hold
    every class; otherwise plain seeded random.
    """
    rest, part = _train_test_split(np.arange(n), size, seed, _class_labels(y))
    return np.sort(rest), np.sort(part)


def random_split(n: int, val_fraction: float, test_fraction: float, seed: int,
                 labels: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
    """Seeded random split of ``range(n)`` (sizes by :func:`split_sizes`): test carved with
    ``seed``, then val from the rest with ``seed + 1``; stratified on class ``labels`` when each
    class has 3 or more members and val and test can each hold every class."""
    _, n_val, n_test = split_sizes(n, val_fraction, test_fraction)
    index = np.arange(n)
    strat = _class_labels(labels)
    if strat is not None:
        counts = np.unique(strat, return_counts=True)[1]
        if counts.min() < 3 or n_val < len(counts) or n_test < len(counts):
            strat = None
    rest, test = _train_test_split(index, n_test, seed, strat) if n_test else (index, _empty())
    train, val = _train_test_split(rest, n_val, seed + 1, None if strat is None else strat[rest]) if n_val \
        else (rest, _empty())
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def group_lists(groups: Sequence[Hashable]) -> list[np.ndarray]:
    """Item indices per group, groups in order of first appearance, indices ascending."""
    out: dict = {}
    for i, g in enumerate(groups):
        out.setdefault(g, []).append(i)
    return [np.asarray(v, dtype=np.int64) for v in out.values()]


def balanced_group_split(groups: Sequence[Hashable], val_fraction: float, test_fraction: float,
                         seed: int) -> dict[str, np.ndarray]:
    """chemprop's balanced group split (module docstring): no group in two splits."""
    n_train, n_val, n_test = split_sizes(len(groups), val_fraction, test_fraction)
    lists = group_lists(groups)
    big = [g for g in lists if len(g) > n_val / 2 or len(g) > n_test / 2]
    small = [g for g in lists if not (len(g) > n_val / 2 or len(g) > n_test / 2)]
    rng = np.random.default_rng(seed)
    order = [big[i] for i in rng.permutation(len(big))] + [small[i] for i in rng.permutation(len(small))]
    out: dict = {s: [] for s in SPLITS}
    count = dict.fromkeys(SPLITS, 0)
    for g in order:
        where = "train" if count["train"] + len(g) <= n_train else ("val" if count["val"] + len(g) <= n_val else "test")
        out[where].append(g)
        count[where] += len(g)
    return {s: np.sort(np.concatenate(v)) if v else _empty() for s, v in out.items()}


def held_out_groups(groups: Sequence[Hashable], val_fraction: float, test_fraction: float, seed: int,
                    what: str = "groups", fix: str = "add more or give a split column") -> dict[str, np.ndarray]:
    """Whole groups held out (module docstring): groups in a seeded order of their sorted names
    fill test, then val, each up to its share of the items (a group joins when at least half of
    it fits); the first three go one each to test, val and train; the rest is train."""
    keys = np.asarray([str(g) for g in groups])
    names, counts = np.unique(keys, return_counts=True)
    if len(names) < 3:
        raise UserError(f"only {len(names)} {what} ({', '.join(names)}): splitting by {what} needs at least 3 "
                        f"(one each for train, val and test); {fix}")
    order = np.random.default_rng(seed).permutation(len(names))
    want = {"test": test_fraction * len(keys), "val": val_fraction * len(keys)}
    chosen = {"test": [order[0]], "val": [order[1]], "train": [order[2]]}
    filled = {"test": counts[order[0]], "val": counts[order[1]]}
    for g in order[3:]:
        split = next((s for s in ("test", "val") if filled[s] + counts[g] / 2 <= want[s]), "train")
        chosen[split].append(g)
        if split != "train":
            filled[split] += counts[g]
    member = {names[g]: s for s in SPLITS for g in chosen[s]}
    label = np.array([member[k] for k in keys])
    return {s: np.flatnonzero(label == s) for s in SPLITS}


Carver = Callable[[np.ndarray, str, float], tuple[np.ndarray, np.ndarray]]


def fill_missing(given: Sequence[Optional[str]], val_fraction: float, test_fraction: float,
                 carve_from: Carver, source: str = "the corpus",
                 ids: Optional[Sequence[str]] = None) -> dict[str, np.ndarray]:
    """Keep a corpus' own split column; carve a missing test, then a missing val, from train.

    ``given`` holds ``train``/``val``/``test`` per item, or ``None`` for every item (no split
    column: all items start in train). ``carve_from(pool, what, fraction)`` returns
    ``(kept, carved)`` positions within ``pool`` (the current train indices), so a plugin
    chooses how (stratified, by scaffold, by speaker, ...). A partly filled column is refused,
    naming the first item without a split by its id in ``ids`` when given, else by position.
    """
    have = {g for g in given if g}
    if have and any(g is None for g in given):
        first = next(i for i, g in enumerate(given) if g is None)
        item = f"item {first}" if ids is None else f"record {ids[first]}"
        raise UserError(f"{source}: {item} has no split while others do; give every item a split "
                        f"(train/val/test) or none")
    label = np.array([g or "train" for g in given], dtype=object)
    for what, share in (("test", test_fraction), ("val", val_fraction)):
        if what in have or share <= 0:
            continue
        pool = np.flatnonzero(label == "train")
        if len(pool) < 2:  # nothing to carve from (scikit-learn would fail with a multi-line error)
            raise UserError(f"{source}: {len(pool)} train item(s), too few to carve a {what} split from; add "
                            f"records or give every record a split (train/val/test)")
        _, carved = carve_from(pool, what, share)
        label[pool[np.asarray(carved, dtype=np.int64)]] = what
    return {s: np.flatnonzero(label == s) for s in SPLITS}


def require_nonempty(index: dict, source: str, n: int) -> dict:
    """One line naming the empty split, if any (too few usable items for the fractions)."""
    for s in SPLITS:
        if len(index.get(s, ())) == 0:
            raise UserError(f"{source}: the {s} split is empty ({n} usable records); add records, or adjust "
                            f"--val-fraction / --test-fraction")
    return index
