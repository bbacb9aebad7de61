"""The molecule split policy (``--split``), built on :mod:`core.splits`.

* ``scaffold`` (default): the balanced Bemis-Murcko scaffold split of chemprop (Yang et al.
  2019), :func:`core.splits.balanced_group_split` over :func:`core_molecule.chem.scaffold`
  groups: no scaffold is in two splits, deterministic for a seed and changing with it;
* ``random``: :func:`core.splits.random_split` (stratified on class ids when it can be);
* ``column``: the corpus' split column, kept (:func:`core.splits.fill_missing`; an empty cell
  counts as train); a missing test, then val, part is carved from train by scaffold (or at
  random with ``--split random``), sized as that fraction of ALL molecules.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from core.splits import balanced_group_split, fill_missing, random_split
from core_molecule import chem
from core_molecule.options import Options


def assign_splits(mols: Sequence, split_values: Sequence[Optional[str]], opts: Options, seed: int, source: str,
                  labels: Optional[np.ndarray] = None, scaffolds: Optional[Sequence] = None) -> dict[str, np.ndarray]:
    """Sorted indices per split (module docstring); ``split_values`` is empty without a split column.
    ``scaffolds``: one scaffold key per molecule when already computed (``core prepare`` hashes
    them in its workers; ``mols`` is then unused), else computed from ``mols`` when needed."""
    n, by_random = (len(mols) if scaffolds is None else len(scaffolds)), opts.split == "random"
    groups = list(scaffolds) if scaffolds is not None else []

    def scaffold_keys() -> list:
        groups.extend([] if groups else [chem.scaffold(m) for m in mols])
        return groups

    if not split_values:
        if by_random:
            return random_split(n, opts.val_fraction, opts.test_fraction, seed, labels)
        return balanced_group_split(scaffold_keys(), opts.val_fraction, opts.test_fraction, seed)

    def carve_from(pool: np.ndarray, what: str, share: float):
        share = min(0.9, share * n / max(1, len(pool)))
        if by_random:
            part = random_split(len(pool), share, 0.0, seed, None if labels is None else labels[pool])
        else:
            keys = scaffold_keys()
            part = balanced_group_split([keys[i] for i in pool], share, 0.0, seed)
        return part["train"], part["val"]

    return fill_missing([v or "train" for v in split_values], opts.val_fraction, opts.test_fraction, carve_from,
                        source)
