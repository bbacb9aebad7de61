"""Pathology corpora read tile by tile for ``core prepare`` (``DatasetSpec.stream`` of
``pathology/files``), and read back from the shards (``DatasetSpec.shard_split``).

Streams what the in-memory reader reads, with its per-tile steps and bad-record messages
(:mod:`core_pathology.datasets`, :mod:`core_pathology.readers`, :mod:`core_pathology.tileset`):

* **whole slides** (a slide file or a folder of slides): each slide is opened and tiled up front
  (thumbnail, tissue mask, grid: :func:`core_pathology.datasets.tile_slide`), as in memory. A
  stored record holds a tile's **coordinates, not its pixels**: ``info``, JSON text with the
  slide's path, ``slide_id``, ``x``, ``y``, ``level``, ``read_size``, ``footprint``, ``mpp``,
  ``tissue_fraction``; pixels are read from the slide region by region when a batch needs
  them, as in memory. Labelled slides are read once while preparing, to derive each tile's
  targets (tissue fraction of the mask, haematoxylin and DAB densities of its pixels); a region
  that does not decode is then a bad record (in memory: an error at training). Unlabelled
  slides are not decoded while preparing.
* **tile images** (class folders, CSV/TSV manifests): a stored record holds the tile's
  **prepared pixels** (uint8 ``(3, T, T)``, resized and stain-normalised as in memory, 3·T² bytes,
  about the size of the PNG), so training never decodes an image file, and ``info`` with its
  ``path`` and ``slide_id``.

Paths go in JSON text because litdata stores a string that names an existing file as that
file's contents. Model inputs are the in-memory ones (``ScaleIntensityRange`` on read; no corpus
statistics). What differs, because a stream cannot hold the corpus:

* without ``--tile-size``, the first readable tile's size is the corpus' tile size (in memory:
  the most common size); a tile of another size is a bad record with the in-memory message;
* class names (and the task, for manifests) come from every listed tile's label, before any
  tile is decoded (in memory: from the readable tiles);
* a labelled corpus without any label is refused unless prepared with ``--unlabelled``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Optional

import numpy as np

from core.errors import BadRecords, UserError
from core.shards import CorpusStream
from core.specs import InputSpec, Task
from core_pathology import datasets
from core_pathology import labels as derived
from core_pathology.options import Options, parse_options
from core_pathology.readers import bad_tile, check_image, is_manifest, label_task, other_size
from core_pathology.tileset import TileSplit, slide_tile_pixels

TILES_PER_UNIT = 256
CHANNELS = ("R", "G", "B")


@dataclass(frozen=True)
class Plan:
    """What a worker needs to turn a listed tile into a stored record (picklable)."""

    opts: Options
    size: int  # tile side the encoder sees
    labelled: bool
    common: Optional[tuple] = None  # (h, w) every tile file must have (no --tile-size), else None
    source: str = ""


def stream_files(path, *, on_bad_record: str = "error", options=None, unlabelled: bool = False) -> CorpusStream:
    """The :class:`core.shards.CorpusStream` of the slides or tiles at ``path`` (module docstring)."""
    opts, problems, kind, found, source = datasets.open_inputs(path, options, on_bad_record)
    if kind == "slides":
        return _slides(found, opts, problems, not unlabelled)
    return _patches(found, opts, problems, source, not unlabelled)


def _units(items: list) -> list:
    return [items[k:k + TILES_PER_UNIT] for k in range(0, len(items), TILES_PER_UNIT)]


# ----------------------------------------------------------------------------- whole slides
def _slides(paths: list, opts: Options, problems: BadRecords, labelled: bool) -> CorpusStream:
    """Slides tiled up front; one unit per run of tiles of one slide."""
    from core_pathology.wsi import slide_id_of

    size = opts.tile_size or 64
    units, files, footprints, n = [], {}, {}, 0
    for p in paths:
        sid = slide_id_of(p)
        if sid in files:
            raise UserError(f"{p}: slide id '{sid}' is used by {files[sid]} too; rename one of the files")
        found = datasets.tile_slide(p, opts, problems, size)
        if found is None:
            continue
        tiles, mpp = found
        files[sid] = str(Path(p).resolve())
        footprints[sid] = tiles[0].footprint if tiles else 0
        units += [(files[sid], mpp, chunk) for chunk in _units(tiles)]
        n += len(tiles)
    datasets.check_slides_found(paths, len(files), n, problems, opts)
    spec = InputSpec("image", (3, size, size), channel_names=CHANNELS)
    where = paths[0] if len(paths) == 1 else paths[0].parent
    source = f"{len(files)} slide(s) of {where} via MONAI WSIReader ({opts.backend} backend), {n} tissue tiles"
    task = Task("regression", derived.TARGETS, "r2") if labelled else None
    carve = partial(_carve_slides, opts, footprints) if labelled else None
    return CorpusStream(spec, task, units, partial(read_slide_unit, Plan(opts, size, labelled)), carve,
                        list(problems.skipped), False, source)


def _carve_slides(opts: Options, footprints: dict, ids, y, given, seed: int) -> dict:
    """The in-memory split of slide tiles (:func:`core_pathology.datasets.slide_split`); slide and
    coordinates come from the tile ids ``<slide>/x<x>_y<y>``."""
    slides, xs, ys = [], [], []
    for tile_id in ids:
        sid, corner = tile_id.rsplit("/", 1)
        x, yy = corner[1:].split("_y")
        slides.append(sid)
        xs.append(int(x))
        ys.append(int(yy))
    index, _ = datasets.slide_split(np.array(slides), xs, ys, [footprints[s] for s in slides], opts, seed)
    return index


def read_slide_unit(plan: Plan, unit: tuple, problems: BadRecords):
    """Yield ``(id, {"info"}, y, None)`` per tile of ``unit`` = ``(slide path, mpp, tiles)``; labelled
    tiles are read once for their derived targets (a region that does not decode is a bad record)."""
    from core_pathology.wsi import open_slide

    path, mpp, tiles = unit
    slide = open_slide(path, plan.opts.backend) if plan.labelled else None
    try:
        for t in tiles:
            tile_id = f"{t.slide}/x{t.x}_y{t.y}"
            y = None
            if slide is not None:
                try:
                    pixels = slide_tile_pixels(slide, t, _preprocess(plan.size, plan.opts.stain_norm))
                except UserError as e:
                    problems.bad(tile_id, str(e), id=tile_id, slide_id=t.slide)
                    continue
                y = datasets.slide_targets([t.tissue], np.moveaxis(pixels, 0, -1)[None])[0]
            info = {"slide": path, "slide_id": t.slide, "x": t.x, "y": t.y, "level": t.level,
                    "read_size": t.read_size, "footprint": t.footprint, "mpp": mpp, "tissue_fraction": t.tissue}
            yield tile_id, {"info": json.dumps(info)}, y, None
    finally:
        if slide is not None:
            slide.close()


# ----------------------------------------------------------------------------- tile images
def _patches(records: list, opts: Options, problems: BadRecords, source: str, labelled: bool) -> CorpusStream:
    """Tiles from files: the first readable tile fixes the size (no ``--tile-size``), labels are
    encoded before any tile is decoded."""
    if not labelled:
        records = [replace(r, label=None, split=None) for r in records]
    common, listed = None, len(problems.skipped)  # files listed before decoding (not tile images)
    if opts.tile_size is None:
        while records and common is None:
            try:
                common = tuple(check_image(records[0]).shape[:2])
            except ValueError as e:
                bad_tile(problems, records[0], str(e))
                records = records[1:]
        if common is None:
            first = problems.skipped[listed] if len(problems.skipped) > listed else None
            first = f"; first problem: {first[0]}: {first[1]}" if first else ""
            raise UserError(f"{source}: no readable tile{first}")
        if common[0] != common[1]:
            raise UserError(f"{source}: tiles are {common[1]}x{common[0]} (not square); pass --tile-size N to resize "
                            f"them")
    size = opts.tile_size or common[0]
    spec = InputSpec("image", (3, size, size), channel_names=CHANNELS)
    plan = Plan(opts, size, labelled, common, source)
    if not labelled:
        return CorpusStream(spec, None, _units([(r, None) for r in records]), partial(read_patch_unit, plan), None,
                            list(problems.skipped), False, f"tiles of {source} (unlabelled)")
    unlabelled = [r for r in records if r.label in (None, "")]
    if len(unlabelled) == len(records):
        raise UserError(f"{source}: no labels (no class sub-folders, no label column); prepare it with --unlabelled "
                        f"to pretrain on it")
    if unlabelled:
        raise UserError(f"{unlabelled[0].where}: has no label while others do; label it (class sub-folder / label "
                        f"column)")
    task, y = label_task([r.label for r in records], opts.task, source, not is_manifest(Path(source)))
    carve = partial(_carve_patches, opts, task, {str(r.path): r.slide or "" for r in records})
    return CorpusStream(spec, task, _units(list(zip(records, y))), partial(read_patch_unit, plan), carve,
                        list(problems.skipped), False, f"tiles of {source}")


def _carve_patches(opts: Options, task: Task, slides: dict, ids, y, given, seed: int) -> dict:
    """The in-memory split of tiles from files (:func:`core_pathology.datasets.patch_split`)."""
    index, _ = datasets.patch_split(list(given), [slides[i] for i in ids], np.asarray(y), task, opts, seed)
    return index


@lru_cache(maxsize=4)
def _preprocess(size: int, stain_norm: str):
    """One MONAI preprocessing per worker, tile size and stain normalisation."""
    from core_pathology.transforms import Preprocess

    return Preprocess(size, stain_norm)


def read_patch_unit(plan: Plan, unit: list, problems: BadRecords):
    """Yield ``(path, {"pixels", "info"}, y, split)`` for each readable tile of ``unit`` = ``[(record, y)]``."""
    prep = _preprocess(plan.size, plan.opts.stain_norm)
    for r, y in unit:
        try:
            img = check_image(r)
        except ValueError as e:
            bad_tile(problems, r, str(e))
            continue
        if plan.common is not None and tuple(img.shape[:2]) != plan.common:
            other_size(problems, r, tuple(img.shape[:2]), plan.common, plan.source)
            continue
        info = {"path": str(r.path), "slide_id": r.slide or ""}
        record = {"pixels": prep.pixels(np.moveaxis(img, -1, 0)), "info": json.dumps(info)}
        yield str(r.path), record, y, r.split if plan.labelled else None


# ----------------------------------------------------------------------------- reading back
def shard_split(records, positions, ids, targets, input_spec, meta) -> "ShardTileSplit":
    """The ``DatasetSpec.shard_split`` of ``pathology/files``: a :class:`ShardTileSplit`."""
    opts = parse_options(meta["args"]["options"])
    prep = _preprocess(int(input_spec.shape[1]), opts.stain_norm)
    return ShardTileSplit(ShardSource(records, prep, opts.backend), positions, prep, ids, targets)


class ShardSource:
    """Prepared uint8 tiles of a shards folder by global position: stored pixels, or the slide
    region at the stored coordinates (one open file per slide and process, as
    :class:`core_pathology.tileset.SlideSource`)."""

    def __init__(self, records, preprocess, backend: str):
        self.records, self.preprocess, self.backend = records, preprocess, backend
        self._open: dict = {}

    def __getstate__(self):
        return {**self.__dict__, "_open": {}}

    def pixels(self, position: int) -> np.ndarray:
        from core_pathology.tiling import Tile
        from core_pathology.wsi import open_slide

        rec = self.records[position]
        if "pixels" in rec:
            return np.asarray(rec["pixels"], np.uint8)
        info = json.loads(rec["info"])
        key = (os.getpid(), info["slide"])
        if key not in self._open:
            self._open[key] = open_slide(info["slide"], self.backend)
        tile = Tile(info["slide_id"], info["x"], info["y"], info["level"], info["read_size"], info["footprint"])
        return slide_tile_pixels(self._open[key], tile, self.preprocess)


class ShardTileSplit(TileSplit):
    """Tiles of a shards folder as a :class:`core_pathology.tileset.TileSplit` (items, ``ids``,
    ``targets``, ``raw_features()``), with ``metadata()`` read from the stored records and
    ``records`` / ``global_index`` (the tiles' positions in the shards) for chunk-wise sampling."""

    def __init__(self, source: ShardSource, positions, preprocess, ids, targets):
        super().__init__(source, positions, preprocess, ids, targets)
        self.records, self.global_index = source.records, self.rows

    def metadata(self) -> dict:
        """Per-tile columns for ``core embed``, as in memory (slides: ``slide_id``, ``x``, ``y``,
        ``level``, ``read_size``, ``footprint``, ``mpp``, ``tissue_fraction``; files: ``path``,
        ``slide_id``)."""
        columns: dict = {}
        for position in self.rows:
            info = json.loads(self.records[position]["info"])
            info.pop("slide", None)
            for key, value in info.items():
                columns.setdefault(key, []).append(value)
        return columns
