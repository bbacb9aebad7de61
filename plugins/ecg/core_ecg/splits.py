"""The ECG split policy, built on :mod:`core.splits`.

A corpus' own splits are kept (PTB-XL folds, UCR TRAIN/TEST files, a split column). A missing
test split is carved from train with a fixed seed (:data:`TEST_SEED`, so every ``--seed`` is
scored on the same records), then a missing val split from what remains with the run's seed;
both stratified on the class when the task is multiclass or binary.

A corpus that ships train/test but no val, with fewer than :data:`core.probes.FEW_LABELS`
training records (a UCR set of 20-100 series), is never carved: val stays empty and the probes
choose their hyper-parameters by k-fold CV over train (docs/design.md#evaluation), so no
labelled series is lost to a tiny val split. ``carve_small_val`` keeps the old carving (the embedded ECG5000 demo,
whose val split ``core check`` exercises).
"""
from __future__ import annotations

import numpy as np

from core.errors import UserError
from core.probes import FEW_LABELS
from core.splits import carve, fill_missing, require_nonempty
from core_ecg.options import Options

TEST_SEED = 0  # a carved test split is the same for every --seed, so runs stay comparable


def keeps_shipped_split(given, n_labelled_train: int) -> bool:
    """True for a corpus that ships test but no val and has few training records: not carved."""
    have = {g for g in given if g}
    return "test" in have and "val" not in have and n_labelled_train < FEW_LABELS


def assign_splits(records, y, kind: str, opts: Options, seed: int, source: str,
                  carve_small_val: bool = False) -> dict:
    """Sorted indices per split: the corpus' own, with test (fixed seed) then val (``seed``)
    carved from train where missing (val not carved for a small corpus shipping train/test,
    see the module docstring); an empty split is an error naming it."""
    strat = y if kind in ("multiclass", "binary") else None
    given = [r.split for r in records]
    val_fraction = opts.val_fraction
    if not carve_small_val and keeps_shipped_split(given, sum(g == "train" for g in given)):
        val_fraction = 0.0

    def carve_from(pool: np.ndarray, what: str, share: float):
        if len(pool) < 2:
            raise UserError(f"{source}: only {len(pool)} training record(s) left, too few to carve a {what} split; "
                            f"add records or provide a split column")
        return carve(None if strat is None else strat[pool], len(pool), share, TEST_SEED if what == "test" else seed)

    index = fill_missing(given, val_fraction, opts.test_fraction, carve_from, source, ids=[r.id for r in records])
    if val_fraction == 0.0 and not len(index["val"]):  # val left empty on purpose; train and test may not be
        require_nonempty({"train": index["train"], "val": index["train"], "test": index["test"]}, source, len(records))
        return index
    return require_nonempty(index, source, len(records))
