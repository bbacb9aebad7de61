"""Reading tiles and labels into records (whole slides are read by :mod:`core_pathology.wsi`).

Patch sets:

* a folder: every sub-folder is a class, holding PNG / JPEG / TIFF tiles (searched
  recursively); image files directly in the folder are unlabelled;
* a CSV / TSV manifest with a header: ``path`` (relative to the manifest's folder, or
  absolute), ``label``, optional ``slide_id`` and ``split`` (train / val / test) columns.

Images are decoded with Pillow (TIFFs Pillow cannot read with tifffile) to uint8 RGB. A file
that cannot be decoded (corrupt, truncated, missing) is a :class:`core.errors.BadRecord`
naming it, or is skipped and listed under ``--on-bad-record skip``. So is a tile that breaks a
size rule: smaller than :data:`MIN_TILE_SIDE` pixels a side; larger than
:data:`MAX_TILE_PIXELS` pixels (refused from its header, before decoding: a slide-sized image
goes through the slide reader instead); or, without ``--tile-size``, of another size than the
most common one (nothing is resized silently; ``--tile-size N`` resizes every tile to N).
Files in a class folder that are not images (``.txt``, ``.svs``, ...) are not read: each is
listed in ``skipped.csv`` under either ``--on-bad-record`` mode (hidden files, starting with
``.``, are ignored). :func:`label_task` turns label strings into a task and targets.

For ``core slides``: :func:`read_tiles` reads what ``core embed`` wrote and
:func:`read_slide_labels` a ``slide_id,label[,split]`` file.
"""
from __future__ import annotations

import csv
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from core.errors import BadRecords, UserError
from core.io import read_text
from core.specs import Task
from core_pathology.splits import split_of

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MANIFEST_SUFFIXES = (".csv", ".tsv")
PATH_COLUMNS = ("path", "file", "filename", "image", "tile")
LABEL_COLUMNS = ("label", "class", "target", "y")
SLIDE_COLUMNS = ("slide_id", "slide", "wsi", "case_id")
SKIP_FIX = "replace or remove the file, or pass --on-bad-record skip to leave it out"
MIN_TILE_SIDE = 8  # px: the smallest tile read (the smallest --tile-size too)
MAX_TILE_PIXELS = 4096 * 4096  # a tile larger than this is refused from its header, before decoding


@dataclass
class PatchRecord:
    path: Path
    label: Optional[str]
    slide: Optional[str]
    split: Optional[str]
    where: str  # for messages: the file, or manifest:line


def read_image(path) -> np.ndarray:
    """Decode an image file to ``(h, w, 3)`` uint8 RGB; raises ``ValueError`` when it cannot
    (:class:`TileTooLarge`, from the header, for one over :data:`MAX_TILE_PIXELS`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's notes on a damaged file's tags: it decodes or raises
        return _decode(Path(path))


def _decode(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            _check_pixels(*im.size)
            im.load()
            if im.mode not in ("RGB", "L", "RGBA", "P", "LA", "CMYK", "YCbCr", "I;16", "I"):
                raise ValueError(f"unsupported pixel mode {im.mode}")
            if im.mode in ("I;16", "I"):
                arr = np.asarray(im).astype(np.float64)
                arr = np.repeat((255 * arr / max(arr.max(), 1))[..., None], 3, -1)
                return arr.astype(np.uint8)
            return np.asarray(im.convert("RGB"))
    except TileTooLarge:
        raise
    except Image.DecompressionBombError as e:  # Pillow's guard fires first for giant images
        pixels = re.search(r"\((\d+) pixels\)", str(e))
        raise TileTooLarge(f"{pixels.group(1) if pixels else 'too many'} pixels, over the limit of {MAX_TILE_PIXELS} "
                           f"for a tile (4096x4096); pass it as a slide or cut it into tiles") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        if path.suffix.lower() in (".tif", ".tiff") and path.is_file():
            try:
                import tifffile

                with tifffile.TiffFile(path) as tif:
                    page = tif.pages[0]
                    _check_pixels(int(page.imagewidth), int(page.imagelength))
                    arr = np.asarray(page.asarray())
                if arr.ndim == 2:
                    arr = np.repeat(arr[..., None], 3, -1)
                if arr.ndim == 3 and arr.shape[-1] >= 3 and arr.dtype == np.uint8:
                    return np.ascontiguousarray(arr[..., :3])
            except TileTooLarge:
                raise
            except Exception:  # tifffile cannot read it either: report Pillow's reason
                pass
        if not path.is_file():
            raise ValueError("no such file") from None
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"cannot decode the image ({why})") from None


class TileTooLarge(ValueError):
    """An image over :data:`MAX_TILE_PIXELS`, refused before its pixels are decoded."""


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_TILE_PIXELS:
        raise TileTooLarge(f"{width}x{height} pixels, over the limit of {MAX_TILE_PIXELS} for a tile "
                           f"(4096x4096); pass it as a slide or cut it into tiles")


def is_manifest(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES


def _slide_from_name(path: Path, pattern: Optional[str]) -> Optional[str]:
    if not pattern:
        return None
    m = re.search(pattern, path.stem)
    if not m:
        return None
    return m.group(1) if m.groups() else m.group(0)


def folder_records(root: Path, slide_pattern: Optional[str], problems: Optional[BadRecords] = None) -> list:
    """Class sub-folders of tiles (module docstring); other files are listed in ``problems``."""
    records = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            if problems is not None:
                problems.not_read(p, f"not a tile image ('{p.suffix or p.name}'; read: {', '.join(IMAGE_SUFFIXES)})",
                                  path=str(p), slide_id="")  # the columns of a bad tile's failed row
            continue
        rel = p.relative_to(root)
        label = rel.parts[0] if len(rel.parts) > 1 else None
        records.append(PatchRecord(p, label, _slide_from_name(p, slide_pattern), None, str(p)))
    if not records:
        raise UserError(f"{root}: no image tiles ({', '.join(IMAGE_SUFFIXES)}) in this folder; pass a folder with "
                        f"one sub-folder of tiles per class, a CSV manifest (path,label[,slide_id]) or a slide")
    return records


def _column(header: list, names: tuple) -> Optional[str]:
    lower = {h.strip().lower(): h for h in header}
    return next((lower[n] for n in names if n in lower), None)


def manifest_records(path: Path) -> list:
    """Rows of a CSV/TSV manifest (module docstring)."""
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read the manifest as UTF-8 text ({e})") from None
    reader = csv.reader(text.splitlines(), delimiter=sep)
    header = next(reader, None)
    if not header:
        raise UserError(f"{path}: the manifest is empty; write a header row path,label[,slide_id]")
    path_col = _column(header, PATH_COLUMNS)
    if path_col is None:
        raise UserError(f"{path}:1: no path column (one of {', '.join(PATH_COLUMNS)}) in the header "
                        f"{','.join(header)}; write path,label[,slide_id]")
    label_col, slide_col = _column(header, LABEL_COLUMNS), _column(header, SLIDE_COLUMNS)
    split_col = _column(header, ("split",))
    records = []
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise UserError(f"{path}:{line}: has {len(row)} fields but the header has {len(header)}; fix the row")
        values = dict(zip(header, (c.strip() for c in row)))
        file = Path(values[path_col]).expanduser()
        file = file if file.is_absolute() else path.parent / file
        split = split_of(values.get(split_col) if split_col else None, f"{path}:{line}")
        records.append(PatchRecord(file, values.get(label_col) if label_col else None,
                                   values.get(slide_col) or None if slide_col else None, split,
                                   f"{path}:{line} ({file})"))
    if not records:
        raise UserError(f"{path}: the manifest lists no tiles; add rows path,label[,slide_id]")
    return records


def check_image(r: PatchRecord) -> np.ndarray:
    """The decoded ``(h, w, 3)`` uint8 tile of ``r``; ``ValueError`` when it cannot be decoded or
    is under :data:`MIN_TILE_SIDE`."""
    img = read_image(r.path)
    if min(img.shape[:2]) < MIN_TILE_SIDE:
        raise ValueError(f"too small ({img.shape[1]}x{img.shape[0]} px; a tile needs at least "
                         f"{MIN_TILE_SIDE}x{MIN_TILE_SIDE})")
    return img


def check_images(records: list, problems: BadRecords) -> tuple[list, list]:
    """Decode every file once; returns the readable records and their (h, w) sizes. Unreadable
    tiles and tiles under :data:`MIN_TILE_SIDE` are bad records."""
    good, sizes = [], []
    for r in records:
        try:
            img = check_image(r)
        except ValueError as e:
            bad_tile(problems, r, str(e))
            continue
        good.append(r)
        sizes.append(tuple(img.shape[:2]))
    return good, sizes


def same_size(records: list, sizes: list, problems: BadRecords, source: str) -> tuple[list, tuple]:
    """Without ``--tile-size``: the records of the most common tile size; any other size is a bad
    record (never resized silently). Returns the kept records and the (h, w) size."""
    common = Counter(sizes).most_common(1)[0][0]
    kept = []
    for r, size in zip(records, sizes):
        if size != common:
            other_size(problems, r, size, common, source)
            continue
        kept.append(r)
    return kept, common


def other_size(problems: BadRecords, r: PatchRecord, size: tuple, common: tuple, source: str) -> None:
    """``r`` is a bad record: its (h, w) ``size`` is not the ``common`` one (no ``--tile-size``)."""
    bad_tile(problems, r, f"is {size[1]}x{size[0]} px but the other tiles of {source} are {common[1]}x{common[0]}",
             "pass --tile-size N to resize every tile to N, or --on-bad-record skip to leave it out")


def bad_tile(problems: BadRecords, r: PatchRecord, reason: str, fix: str = SKIP_FIX) -> None:
    problems.bad(r.where, reason, fix, id=str(r.path), path=str(r.path), slide_id=r.slide or "")


def label_task(labels: list, kind: str, source: str, from_folders: bool) -> tuple[Task, np.ndarray]:
    """The task and targets of label strings. ``kind`` ``auto``: numbers with decimals in a
    manifest are regression, anything else classes (binary when two); class names sort
    numbers by value first, then names."""
    def number(s):
        try:
            return float(s)
        except (TypeError, ValueError):
            return None

    nums = [number(s) for s in labels]
    numeric = all(v is not None for v in nums)
    if kind == "auto":
        kind = "regression" if numeric and not from_folders and any(v != round(v) for v in nums) else "classes"
    if kind == "regression":
        if not numeric:
            bad = next(s for s, v in zip(labels, nums) if v is None)
            raise UserError(f"{source}: task=regression but label '{bad}' is not a number")
        return Task("regression"), np.asarray(nums, np.float32)
    names = sorted(set(labels), key=lambda s: (number(s) is None, number(s) or 0.0, s))
    if kind == "binary" and len(names) != 2:
        raise UserError(f"{source}: task=binary but the labels hold {len(names)} classes ({', '.join(names[:5])})")
    kind = kind if kind in ("binary", "multiclass") else ("binary" if len(names) == 2 else "multiclass")
    lookup = {c: i for i, c in enumerate(names)}
    return Task(kind, tuple(names)), np.array([lookup[s] for s in labels], np.int64)


def read_tiles(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(embeddings (N, D), slide_id (N,))`` of a ``core embed`` output; failed rows dropped."""
    if not path.exists():
        raise UserError(f"{path}: no such file; write it with `core embed RUN --data SLIDES --out {path.name}`")
    suffix = path.suffix.lower()
    if suffix not in (".h5", ".npz", ".parquet"):
        raise UserError(f"{path}: unknown format '{suffix}'; pass the .h5, .npz or .parquet of `core embed`")
    try:
        emb, slide = _embedding_columns(path, suffix)
        emb = np.asarray(emb, dtype=np.float32)
        slide = None if slide is None else np.asarray(slide).reshape(-1)
    except Exception as e:  # zip, HDF5, Arrow and numpy each raise their own kinds on a damaged file
        why = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: not a readable `core embed` output ({why}); write it again with "
                        f"`core embed RUN --data SLIDES --out {path.name}`") from None
    if slide is None:
        raise UserError(f"{path}: has no slide_id column; embed whole slides (`core embed RUN --data SLIDES`)")
    if emb.ndim != 2 or len(emb) != len(slide):
        raise UserError(f"{path}: embeddings of shape {emb.shape} do not match {len(slide)} slide ids (one row "
                        f"per tile expected); write it again with `core embed`")
    slide = np.array([s.decode(errors="replace") if isinstance(s, bytes) else str(s) for s in slide])
    keep = np.isfinite(emb).all(axis=1)
    return emb[keep], slide[keep]


def _embedding_columns(path: Path, suffix: str):
    """The raw ``(embeddings, slide_id or None)`` of a .h5, .npz or .parquet file."""
    if suffix == ".h5":
        import h5py

        with h5py.File(path, "r") as f:
            return f["embeddings"][()], (f["slide_id"][()] if "slide_id" in f else None)
    if suffix == ".npz":
        f = np.load(path, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with f:
            if "embeddings" not in f.files:
                raise ValueError(f"no 'embeddings' array (has {', '.join(f.files) or 'none'})")
            return f["embeddings"], (f["slide_id"] if "slide_id" in f.files else None)
    import pandas as pd

    frame = pd.read_parquet(path)
    emb = frame[[c for c in frame.columns if c.startswith("e") and c[1:].isdigit()]].to_numpy()
    return emb, (frame["slide_id"].to_numpy() if "slide_id" in frame else None)


def read_slide_labels(path: Path) -> tuple[dict, dict]:
    """``{slide_id: label}`` and ``{slide_id: split}`` from ``slide_id,label[,split]``."""
    if not path.exists():
        raise UserError(f"{path}: no such file; write slide_id,label rows")
    text = read_text(path, "write it as UTF-8 CSV: slide_id,label[,split]", encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or not {"slide_id", "label"} <= set(rows[0]):
        raise UserError(f"{path}: needs a header with slide_id and label columns (and optionally split)")
    labels, splits = {}, {}
    for line, row in enumerate(rows, start=2):
        sid, label = (row.get("slide_id") or "").strip(), (row.get("label") or "").strip()
        if not sid or not label:
            raise UserError(f"{path}:{line}: empty slide_id or label; fill or remove the row")
        labels[sid] = label
        split = split_of(row.get("split"), f"{path}:{line}")
        if split:
            splits[sid] = split
    return labels, splits
