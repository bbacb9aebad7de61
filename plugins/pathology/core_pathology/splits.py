"""The pathology split policy, built on :mod:`core.splits`: whole slides, or spatial blocks within slides.

Tiles of one slide are correlated (same patient, stain batch, scanner), so a slide never
sits in two splits when slide ids exist. With too few slides to split by slide (the embedded
default has three images), each slide is cut into square blocks of ``block_tiles`` x
``block_tiles`` tiles and whole blocks are assigned: no pixel is shared between splits,
though neighbouring blocks of one slide remain alike (the split is optimistic compared with
an unseen slide; the report says which split was used). Tiles with neither slide ids nor
coordinates are split at random (stratified on class labels).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from core.errors import UserError
from core.splits import SPLITS, held_out_groups, random_split, split_name


def by_slide(slides, val_fraction: float, test_fraction: float, seed: int) -> dict:
    """Whole slides held out for test, then val (:func:`core.splits.held_out_groups`)."""
    return held_out_groups(slides, val_fraction, test_fraction, seed, what="slides",
                           fix="add slides or give a split column")


def spatial_blocks(slides, x, y, footprint, block_tiles: int) -> np.ndarray:
    """A block id per tile: ``slide/row/col`` of the ``block_tiles``-tile square holding its corner."""
    side = np.asarray(footprint, dtype=np.float64) * block_tiles
    rows = (np.asarray(y) // side).astype(np.int64)
    cols = (np.asarray(x) // side).astype(np.int64)
    return np.array([f"{s}/{r}/{c}" for s, r, c in zip(slides, rows, cols)])


def by_blocks_within_slides(slides, blocks, val_fraction: float, test_fraction: float, seed: int) -> dict:
    """Per slide, whole spatial blocks go to test, val and train (held out like slides, seed
    ``seed + k`` for the k-th slide); a slide with fewer than 3 blocks goes to train whole."""
    slides = np.asarray([str(s) for s in slides])
    parts = {s: [] for s in SPLITS}
    for k, slide in enumerate(np.unique(slides)):
        rows = np.flatnonzero(slides == slide)
        if len(np.unique(np.asarray(blocks)[rows])) < 3:
            parts["train"].append(rows)
            continue
        local = held_out_groups(np.asarray(blocks)[rows], val_fraction, test_fraction, seed + k, what="blocks")
        for s in SPLITS:
            parts[s].append(rows[local[s]])
    out = {s: np.sort(np.concatenate(parts[s])) if parts[s] else np.zeros(0, np.int64) for s in SPLITS}
    for s in ("val", "test"):
        if not len(out[s]):
            raise UserError(f"the slides are too small to carve a {s} split from spatial blocks of tiles; "
                            f"lower --block-tiles, use smaller tiles or give more slides")
    return out


def split_tiles(slides, blocks, labels: Optional[np.ndarray], val_fraction: float, test_fraction: float,
                block_tiles: int, seed: int) -> tuple[dict, str]:
    """Indices per split and how they were made: by slide when every tile has one of >= 3
    slides, else by spatial blocks (``blocks`` given), else random tiles stratified on ``labels``."""
    known = [s for s in slides if s]
    if len(set(known)) >= 3 and len(known) == len(slides):
        return by_slide(slides, val_fraction, test_fraction, seed), \
            f"by slide ({len(set(known))} slides, seed {seed}; no slide in two splits)"
    if blocks is not None:
        return by_blocks_within_slides(slides, blocks, val_fraction, test_fraction, seed), \
            f"fewer than 3 slides: whole {block_tiles}x{block_tiles}-tile spatial blocks per slide"
    if len(slides) < 3:
        raise UserError(f"only {len(slides)} tile(s): too few for train, val and test splits; add tiles")
    return random_split(len(slides), val_fraction, test_fraction, seed, labels), \
        f"random tiles (no slide ids; seed {seed}): tiles of one slide may share splits"


def slide_level(names: list, y: np.ndarray, given: dict, seed: int, val_fraction: float,
                test_fraction: float) -> dict:
    """Slides (``names``) per split for ``core slides``: the labels file's ``split`` column when it
    names every slide, else random (stratified on the slide labels ``y``, seeded)."""
    if given and all(n in given for n in names):
        out = {s: np.array([i for i, n in enumerate(names) if given[n] == s]) for s in SPLITS}
    else:
        if len(names) < 3:
            raise UserError(f"only {len(names)} labelled slide(s) with tiles; slide-level evaluation needs >= 3")
        out = random_split(len(names), val_fraction, test_fraction, seed, y)
    for s, idx in out.items():
        if not len(idx):
            raise UserError(f"the slide-level {s} split is empty; label more slides or fix the split column")
    return out


def split_of(value, where: str) -> Optional[str]:
    """A split cell as ``train``/``val``/``test`` (aliases allowed), ``None`` when empty."""
    try:
        return split_name(value)
    except ValueError:
        raise UserError(f"{where}: unknown split '{value}'; use train, val or test") from None
