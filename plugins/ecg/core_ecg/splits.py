"""The ECG split policy, built on :mod:`core.splits`.

A corpus' own splits are kept (PTB-XL folds, UCR TRAIN/TEST files, a split column). A missing
test split is carved from train with a fixed seed (:data:`TEST_SEED`, so every ``--seed`` is
scored on the same records), then a missing val split from what remains with the run's seed;
both stratified on the class when the task is multiclass or binary.
"""
from __future__ import annotations

import numpy as np

from core.errors import UserError
from core.splits import carve, fill_missing, require_nonempty
from core_ecg.options import Options

TEST_SEED = 0  # a carved test split is the same for every --seed, so runs stay comparable


def assign_splits(records, y, kind: str, opts: Options, seed: int, source: str) -> dict:
    """Sorted indices per split: the corpus' own, with test (fixed seed) then val (``seed``)
    carved from train where missing; an empty split is an error naming it."""
    strat = y if kind in ("multiclass", "binary") else None

    def carve_from(pool: np.ndarray, what: str, share: float):
        if len(pool) < 2:
            raise UserError(f"{source}: only {len(pool)} training record(s) left, too few to carve a {what} split; "
                            f"add records or provide a split column")
        return carve(None if strat is None else strat[pool], len(pool), share, TEST_SEED if what == "test" else seed)

    index = fill_missing([r.split for r in records], opts.val_fraction, opts.test_fraction, carve_from, source,
                         ids=[r.id for r in records])
    return require_nonempty(index, source, len(records))
