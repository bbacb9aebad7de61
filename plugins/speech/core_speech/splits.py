"""The speech split policy, built on :mod:`core.splits`: held-out speakers, stratified random,
or the corpus' own ``split`` column (a missing test, then val, split carved from its train)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from core.errors import UserError
from core.splits import carve, fill_missing, held_out_groups, random_split, seed_of

RANDOM_FIX = "pass --split random (clips of a speaker may then be in several splits)"


def speaker_split(speakers: Sequence[str], val_fraction: float, test_fraction: float, seed: int) -> dict:
    """Whole speakers held out for test, then val (:func:`core.splits.held_out_groups`)."""
    return held_out_groups(speakers, val_fraction, test_fraction, seed, what="speakers", fix=RANDOM_FIX)


def column_split(given: Sequence[Optional[str]], y, speakers, val_fraction: float, test_fraction: float,
                 seed: int, by_speaker: bool) -> dict:
    """The corpus' own split column (clips without a value are train); a missing test, then val,
    split takes its share of the train clips: whole speakers when ``by_speaker``, else random."""
    def carve_from(pool, what, share):
        if by_speaker:
            held = speaker_split([speakers[i] for i in pool], share if what == "val" else 0,
                                 share if what == "test" else 0, seed)[what]
            return np.setdiff1d(np.arange(len(pool)), held), held
        return carve(None if y is None else np.asarray(y)[pool], len(pool), share, seed)

    return fill_missing([g or "train" for g in given], val_fraction, test_fraction, carve_from)


def assign(given: Sequence[Optional[str]], y: np.ndarray, speakers: Sequence[Optional[str]], has_speakers: bool,
           opts, root) -> dict:
    """Indices per split of the labelled clips (``given``: each clip's split cell), by ``opts.split``
    (``auto``: the column if any, else held-out speakers for ``task=label`` when speakers are
    known, else random) with ``opts.split_seed`` (default 0: the split does not follow ``--seed``)."""
    seed = seed_of(opts.split_seed, 0)
    method = opts.split
    if method == "auto":
        method = "column" if any(given) else ("speaker" if has_speakers and opts.task == "label" else "random")
    if method == "speaker":
        if opts.task == "speaker":
            raise UserError("task=speaker cannot hold out speakers (the test speakers would be unknown classes); "
                            "use --split random")
        if not has_speakers:
            raise UserError(f"{root}: split=speaker needs speakers (a speaker column, or --speaker-regex)")
        return speaker_split(speakers, opts.val_fraction, opts.test_fraction, seed)
    if method == "column":
        if not any(given):
            raise UserError(f"{root}: split=column needs a 'split' column (train/val/test) in the manifest")
        return column_split(given, y, speakers, opts.val_fraction, opts.test_fraction, seed,
                            by_speaker=has_speakers and opts.task == "label")
    return random_split(len(given), opts.val_fraction, opts.test_fraction, seed, y)

