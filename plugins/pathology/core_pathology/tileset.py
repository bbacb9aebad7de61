"""A split of image tiles for the host: items ``(x, y, index)``, ``ids``, ``targets``,
``raw_features()``, ``metadata()`` (per-tile columns for ``core embed``: slide id,
coordinates, level, path, ...).

Pixels come from a *source* indexed by row: tiles held in memory (the embedded default),
image files read on demand (patch sets) or slide regions read on demand (whole slides), so
that a split over a huge slide holds coordinates, not pixels. Labels are an array, or are
derived lazily from the pixels on first access of ``targets`` (one streaming pass).
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

import numpy as np
from torch.utils.data import Dataset

from core.data import label_tensor

RAW_SIDE = 32  # raw-pixel floor: tiles area-averaged to at most 32 x 32 per channel


class ArraySource:
    """Prepared uint8 tiles ``(N, 3, T, T)`` in memory."""

    def __init__(self, pixels: np.ndarray):
        self.array = np.ascontiguousarray(pixels, dtype=np.uint8)

    def pixels(self, row: int) -> np.ndarray:
        return self.array[row]


class FileSource:
    """Image files read on demand with :func:`core_pathology.readers.read_image`, then prepared."""

    def __init__(self, paths: Sequence[str], preprocess):
        self.paths, self.preprocess = list(paths), preprocess

    def pixels(self, row: int) -> np.ndarray:
        from core_pathology.readers import read_image

        return self.preprocess.pixels(np.moveaxis(read_image(self.paths[row]), -1, 0))


class SlideSource:
    """Slide regions read on demand (one open file per slide and process, so DataLoader
    workers never share a file position)."""

    def __init__(self, tiles: Sequence, paths: dict, backend: str, preprocess):
        self.tiles, self.paths, self.backend, self.preprocess = list(tiles), dict(paths), backend, preprocess
        self._open: dict = {}

    def __getstate__(self):
        return {**self.__dict__, "_open": {}}

    def slide(self, slide_id: str):
        from core_pathology.wsi import open_slide

        key = (os.getpid(), slide_id)
        if key not in self._open:
            self._open[key] = open_slide(self.paths[slide_id], self.backend)
        return self._open[key]

    def pixels(self, row: int) -> np.ndarray:
        t = self.tiles[row]
        return slide_tile_pixels(self.slide(t.slide), t, self.preprocess)


def slide_tile_pixels(slide, tile, preprocess) -> np.ndarray:
    """The prepared uint8 ``(3, T, T)`` pixels of a :class:`core_pathology.tiling.Tile` of an
    opened slide (its region at its level, resized and stain-normalised by ``preprocess``)."""
    return preprocess.pixels(slide.region(tile.y, tile.x, tile.read_size, tile.level))


class TileSplit(Dataset):
    """Rows ``rows`` of a source (module docstring). ``targets`` may be an array, or ``None``
    with ``label_fn(split) -> array`` computing them lazily; ``meta`` maps column names to
    per-row values (aligned with ``rows``)."""

    collate_fn = None

    def __init__(self, source, rows, preprocess, ids: Sequence[str], targets: Optional[np.ndarray] = None,
                 meta: Optional[dict] = None, label_fn: Optional[Callable] = None):
        self.source, self.preprocess = source, preprocess
        self.rows = np.asarray(rows, dtype=np.int64)
        self.ids = [str(i) for i in ids]
        self._targets = None if targets is None else np.asarray(targets)
        self.meta = {k: list(v) for k, v in (meta or {}).items()}
        self.label_fn = label_fn
        self._y, self._y_of = None, None  # label tensor, and the targets it was built from
        if len(self.ids) != len(self.rows) or (self._targets is not None and len(self._targets) != len(self.rows)):
            raise ValueError("rows, ids and targets must have the same length")

    def __len__(self) -> int:
        return len(self.rows)

    def pixels(self, i: int) -> np.ndarray:
        """The prepared uint8 ``(3, T, T)`` tile of item ``i``."""
        return self.source.pixels(int(self.rows[i]))

    def __getitem__(self, i: int):
        if self._y is None or self._y_of is not self._targets:  # lazy targets may have arrived
            self._y, self._y_of = label_tensor(self._targets, len(self)), self._targets
        return self.preprocess.tensor(self.pixels(i)), self._y[i], i

    @property
    def targets(self) -> Optional[np.ndarray]:
        if self._targets is None and self.label_fn is not None:
            self._targets = np.asarray(self.label_fn(self))
        return self._targets

    def iter_pixels(self):
        for i in range(len(self)):
            yield self.pixels(i)

    def raw_features(self) -> np.ndarray:
        """Raw pixels scaled to [0, 1], area-averaged to at most 32 x 32 per channel, flattened."""
        out = []
        for chw in self.iter_pixels():
            c, h, w = chw.shape
            f = max(1, -(-max(h, w) // RAW_SIDE))
            hh, ww = h // f * f, w // f * f
            pooled = chw[:, :hh, :ww].reshape(c, hh // f, f, ww // f, f).mean(axis=(2, 4), dtype=np.float32)
            out.append(pooled.ravel() / 255.0)
        return np.stack(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)

    def metadata(self) -> dict:
        return {k: list(v) for k, v in self.meta.items()}

    def subset(self, index, labelled: bool = True) -> "TileSplit":
        index = np.asarray(index, dtype=np.int64)
        targets = self._targets if labelled else None
        return TileSplit(self.source, self.rows[index], self.preprocess, [self.ids[i] for i in index],
                         None if targets is None else targets[index],
                         {k: [v[i] for i in index] for k, v in self.meta.items()},
                         self.label_fn if labelled and targets is None else None)


def merge(parts: Sequence[TileSplit], labelled: bool = False) -> TileSplit:
    """Concatenate splits over the same source (e.g. the pretrain pool = train + val, unlabelled)."""
    first = parts[0]
    keys = list(first.meta)
    targets = None
    if labelled and all(p.targets is not None for p in parts):
        targets = np.concatenate([p.targets for p in parts])
    return TileSplit(first.source, np.concatenate([p.rows for p in parts]), first.preprocess,
                     [i for p in parts for i in p.ids], targets,
                     {k: [v for p in parts for v in p.meta[k]] for k in keys})
