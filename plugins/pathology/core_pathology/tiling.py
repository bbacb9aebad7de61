"""The tiling grid of a slide: resolution (level, microns per pixel or magnification), tile
size, overlap, tissue filter. Every tile keeps its coordinates.

A :class:`Tile` is ``(slide, x, y)`` in level-0 pixels (top-left corner) plus how to read it:
``level`` (the pyramid level read) and ``read_size`` (pixels at that level, resized to
``tile_size`` when the target resolution lies between levels). The grid is laid out in
level-0 coordinates with step ``tile_size · (1 - overlap) · downsample``; only tiles that lie
wholly inside the slide are kept, and, with a tissue mask, those whose footprint on the
mask holds at least ``min_tissue`` tissue.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.errors import UserError


@dataclass(frozen=True)
class Tile:
    slide: str  # slide id
    x: int  # level-0 column of the top-left corner
    y: int  # level-0 row of the top-left corner
    level: int  # pyramid level read
    read_size: int  # side read at `level` (then resized to the tile size)
    footprint: int  # side covered in level-0 pixels
    tissue: float = float("nan")  # tissue fraction under the tile (from the mask), if computed


@dataclass(frozen=True)
class Resolution:
    """Where to read: ``level`` and ``read_size`` there; ``downsample`` of the target vs level 0."""

    level: int
    read_size: int
    downsample: float


def choose_resolution(slide, tile_size: int, level: Optional[int] = None, mpp: Optional[float] = None,
                      magnification: Optional[float] = None, tolerance: float = 0.05) -> Resolution:
    """Target resolution from one of ``level`` / ``mpp`` / ``magnification`` (default: level 0).

    The level read is the coarsest one at least as fine as the target (within ``tolerance``),
    so tiles are only ever reduced, never enlarged.
    """
    given = [n for n, v in (("level", level), ("mpp", mpp), ("magnification", magnification)) if v is not None]
    if len(given) > 1:
        raise UserError(f"options {' and '.join(given)} both set a resolution; pass only one")
    where = slide.path
    if level is not None:
        if not 0 <= int(level) < slide.levels:
            raise UserError(f"{where}: option level={level} but the slide has levels 0..{slide.levels - 1}")
        return Resolution(int(level), int(tile_size), slide.downsample(int(level)))
    if mpp is not None:
        base = slide.mpp(0)
        if base is None:
            raise UserError(f"{where}: the slide records no microns per pixel; pass --level N instead of --mpp")
        target = float(mpp) / base
    elif magnification is not None:
        base = slide.magnification(0)
        if base is None:
            raise UserError(f"{where}: the slide records no objective magnification; pass --level N or --mpp X")
        target = base / float(magnification)
    else:
        return Resolution(0, int(tile_size), 1.0)
    if target < 1 - tolerance:
        raise UserError(f"{where}: the requested resolution is finer than the slide's level 0 "
                        f"({slide.mpp(0) or '?'} mpp); ask for a coarser one")
    fine_enough = [lv for lv in range(slide.levels) if slide.downsample(lv) <= target * (1 + tolerance)]
    lv = max(fine_enough, key=slide.downsample)
    scale = target / slide.downsample(lv)
    read = int(round(tile_size * scale)) if abs(scale - 1) > tolerance else int(tile_size)
    return Resolution(lv, max(read, 1), target)


def grid(slide, slide_id: str, tile_size: int, resolution: Resolution, overlap: float = 0.0,
         mask: Optional[np.ndarray] = None, mask_downsample: float = 1.0, min_tissue: float = 0.5) -> list:
    """The tiles of one slide, row by row (module docstring)."""
    if not 0 <= overlap < 1:
        raise UserError(f"option overlap={overlap} must be in [0, 1) (a fraction of the tile)")
    h0, w0 = slide.size(0)
    footprint = tile_size * resolution.downsample
    step = max(footprint * (1 - overlap), 1.0)
    rows = int(math.floor((h0 - footprint) / step)) + 1 if h0 >= footprint else 0
    cols = int(math.floor((w0 - footprint) / step)) + 1 if w0 >= footprint else 0
    ys = np.round(np.arange(rows) * step).astype(np.int64)
    xs = np.round(np.arange(cols) * step).astype(np.int64)
    tissue = np.full((rows, cols), np.nan)
    keep = np.ones((rows, cols), bool)
    if mask is not None and rows and cols:
        tissue = box_means(mask, ys / mask_downsample, xs / mask_downsample, footprint / mask_downsample)
        keep = tissue >= min_tissue
    side = int(round(footprint))
    return [Tile(slide_id, int(xs[c]), int(ys[r]), resolution.level, resolution.read_size, side, float(tissue[r, c]))
            for r, c in zip(*np.nonzero(keep))]


def box_means(mask: np.ndarray, tops, lefts, side: float) -> np.ndarray:
    """Mean of ``mask`` over every box ``[top, top+side) x [left, left+side)`` (mask pixels,
    fractional bounds widened to whole pixels), for all tops x lefts at once (summed-area table)."""
    h, w = mask.shape
    table = np.zeros((h + 1, w + 1), np.int64)
    table[1:, 1:] = np.asarray(mask, np.int64).cumsum(0).cumsum(1)
    y0 = np.clip(np.floor(tops).astype(np.int64), 0, h - 1)
    x0 = np.clip(np.floor(lefts).astype(np.int64), 0, w - 1)
    y1 = np.clip(np.maximum(np.ceil(np.asarray(tops) + side).astype(np.int64), y0 + 1), 1, h)
    x1 = np.clip(np.maximum(np.ceil(np.asarray(lefts) + side).astype(np.int64), x0 + 1), 1, w)
    total = (table[y1][:, x1] - table[y0][:, x1] - table[y1][:, x0] + table[y0][:, x0])
    area = (y1 - y0)[:, None] * (x1 - x0)[None, :]
    return total / area
