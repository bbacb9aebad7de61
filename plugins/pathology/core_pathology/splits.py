"""Group-disjoint splits: by slide id, or by spatial blocks within slides.

Tiles of one slide are correlated (same patient, stain batch, scanner), so a slide never
sits in two splits when slide ids exist. With too few slides to split by slide (the embedded
default has three images), each slide is cut into square blocks of ``block_tiles`` x
``block_tiles`` tiles and whole blocks are assigned: no pixel is shared between splits,
though neighbouring blocks of one slide remain alike (the split is optimistic compared with
an unseen slide; the report says which split was used).
"""
from __future__ import annotations

import numpy as np

from core.errors import UserError

SPLITS = ("train", "val", "test")


def by_group(groups, val_fraction: float, test_fraction: float, seed: int, what: str = "slides") -> dict:
    """Indices per split with no group in two splits: groups in a seeded order fill test,
    then val, up to their fractions of the items; the rest is train."""
    groups = np.asarray([str(g) for g in groups])
    names, counts = np.unique(groups, return_counts=True)
    if len(names) < 3:
        raise UserError(f"only {len(names)} {what} ({', '.join(names)}): splitting by {what[:-1]} needs at "
                        f"least 3 (one each for train, val and test); add {what} or give a split column")
    order = np.random.default_rng(seed).permutation(len(names))
    want = {"test": test_fraction * len(groups), "val": val_fraction * len(groups)}
    chosen = {"test": [order[0]], "val": [order[1]], "train": [order[2]]}  # none empty
    filled = {"test": counts[order[0]], "val": counts[order[1]]}
    for g in order[3:]:
        split = next((s for s in ("test", "val") if filled[s] + counts[g] / 2 <= want[s]), "train")
        chosen[split].append(g)
        if split != "train":
            filled[split] += counts[g]
    member = {names[g]: s for s in SPLITS for g in chosen[s]}
    label = np.array([member.get(g, "train") for g in groups])
    return {s: np.flatnonzero(label == s) for s in SPLITS}


def spatial_blocks(slides, x, y, footprint, block_tiles: int) -> np.ndarray:
    """A block id per tile: ``slide/row/col`` of the ``block_tiles``-tile square holding its corner."""
    side = np.asarray(footprint, dtype=np.float64) * block_tiles
    rows = (np.asarray(y) // side).astype(np.int64)
    cols = (np.asarray(x) // side).astype(np.int64)
    return np.array([f"{s}/{r}/{c}" for s, r, c in zip(slides, rows, cols)])


def by_blocks_within_slides(slides, blocks, val_fraction: float, test_fraction: float, seed: int) -> dict:
    """Per slide, whole spatial blocks go to test, val and train (:func:`by_group` on its blocks);
    a slide with fewer than 3 blocks goes to train whole."""
    slides = np.asarray([str(s) for s in slides])
    parts = {s: [] for s in SPLITS}
    for k, slide in enumerate(np.unique(slides)):
        rows = np.flatnonzero(slides == slide)
        if len(np.unique(np.asarray(blocks)[rows])) < 3:
            parts["train"].append(rows)
            continue
        local = by_group(np.asarray(blocks)[rows], val_fraction, test_fraction, seed + k, what="blocks")
        for s in SPLITS:
            parts[s].append(rows[local[s]])
    out = {s: np.sort(np.concatenate(parts[s])) if parts[s] else np.zeros(0, np.int64) for s in SPLITS}
    for s in ("val", "test"):
        if not len(out[s]):
            raise UserError(f"the slides are too small to carve a {s} split from spatial blocks of tiles; "
                            f"lower --block-tiles, use smaller tiles or give more slides")
    return out
