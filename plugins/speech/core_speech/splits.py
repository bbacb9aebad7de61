"""Train/val/test assignment: held-out speakers, stratified random, or the corpus' own column."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from core.data import carve_validation
from core.errors import UserError

SPLIT_NAMES = ("train", "val", "test")


def speaker_split(speakers: Sequence[str], val_fraction: float, test_fraction: float, seed: int) -> dict:
    """Whole speakers to test, then val, in a seeded order, until each holds about its
    fraction of the clips; every speaker's clips stay in one split. Returns index arrays."""
    speakers = np.asarray(speakers, dtype=object)
    names = sorted(set(speakers.tolist()))
    if len(names) < 3:
        raise UserError(f"held-out speaker split needs at least 3 speakers, found {len(names)}; pass "
                        f"--split random (clips of a speaker may then be in several splits)")
    order = np.random.default_rng(seed).permutation(len(names))
    counts = {s: int(c) for s, c in zip(*np.unique(speakers, return_counts=True))}
    n, assign, filled = len(speakers), {}, {"test": 0, "val": 0}
    targets = {"test": test_fraction * n, "val": val_fraction * n}
    for rank, i in enumerate(order):
        name = names[i]
        part = next((p for p in ("test", "val") if filled[p] < targets[p]), "train")
        if rank == len(names) - 1 and "train" not in assign.values():
            part = "train"  # keep at least one training speaker
        assign[name] = part
        if part != "train":
            filled[part] += counts[name]
    parts = np.array([assign[s] for s in speakers.tolist()])
    return {p: np.flatnonzero(parts == p) for p in SPLIT_NAMES}


def random_split(y: Optional[np.ndarray], n: int, val_fraction: float, test_fraction: float, seed: int) -> dict:
    """Stratified (on ``y`` when every class has two clips) random split of ``range(n)``."""
    rest, test = carve_validation(y, n, test_fraction, seed) if test_fraction > 0 else (np.arange(n), np.arange(0))
    sub_y = None if y is None else np.asarray(y)[rest]
    fraction = min(0.9, val_fraction / max(1e-9, 1 - test_fraction))
    tr, va = carve_validation(sub_y, len(rest), fraction, seed + 1) if val_fraction > 0 else (np.arange(len(rest)), [])
    return {"train": rest[tr], "val": rest[np.asarray(va, dtype=np.int64)], "test": test}


def column_split(given: Sequence[Optional[str]], y, speakers, val_fraction, test_fraction, seed, by_speaker) -> dict:
    """The corpus' own split column; a missing test (then val) split is carved from train."""
    given = np.array([g or "train" for g in given])
    out = {p: np.flatnonzero(given == p) for p in SPLIT_NAMES}
    for part, fraction in (("test", test_fraction), ("val", val_fraction)):
        if len(out[part]) or fraction == 0:
            continue
        pool = out["train"]
        if by_speaker:
            carved = speaker_split([speakers[i] for i in pool], fraction if part == "val" else 0,
                                   fraction if part == "test" else 0, seed)
            out["train"], out[part] = pool[carved["train"]], pool[carved[part]]
        else:
            tr, va = carve_validation(None if y is None else np.asarray(y)[pool], len(pool), fraction, seed)
            out["train"], out[part] = pool[tr], pool[va]
    return {p: np.sort(v) for p, v in out.items()}
