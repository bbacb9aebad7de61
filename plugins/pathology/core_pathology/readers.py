"""Reading tiles and labels into records (whole slides are read by :mod:`core_pathology.wsi`).

Patch sets:

* a folder: every sub-folder is a class, holding PNG / JPEG / TIFF tiles (searched
  recursively); image files directly in the folder are unlabelled;
* a CSV / TSV manifest with a header: ``path`` (relative to the manifest's folder, or
  absolute), ``label``, optional ``slide_id`` and ``split`` (train / val / test) columns.

Images are decoded with Pillow (TIFFs Pillow cannot read with tifffile) to uint8 RGB. A file
that cannot be decoded (corrupt, truncated, missing) is a :class:`core.errors.BadRecord`
naming it, or is skipped and listed under ``--on-bad-record skip``. :func:`label_task` turns
label strings into a task and targets.

For ``core slides``: :func:`read_tiles` reads what ``core embed`` wrote and
:func:`read_slide_labels` a ``slide_id,label[,split]`` file.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from core.errors import BadRecords, UserError
from core.specs import Task
from core_pathology.splits import split_of

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MANIFEST_SUFFIXES = (".csv", ".tsv")
PATH_COLUMNS = ("path", "file", "filename", "image", "tile")
LABEL_COLUMNS = ("label", "class", "target", "y")
SLIDE_COLUMNS = ("slide_id", "slide", "wsi", "case_id")
SKIP_FIX = "replace or remove the file, or pass --on-bad-record skip to leave it out"


@dataclass
class PatchRecord:
    path: Path
    label: Optional[str]
    slide: Optional[str]
    split: Optional[str]
    where: str  # for messages: the file, or manifest:line


def read_image(path) -> np.ndarray:
    """Decode an image file to ``(h, w, 3)`` uint8 RGB; raises ``ValueError`` when it cannot."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("RGB", "L", "RGBA", "P", "LA", "CMYK", "YCbCr", "I;16", "I"):
                raise ValueError(f"unsupported pixel mode {im.mode}")
            if im.mode in ("I;16", "I"):
                arr = np.asarray(im).astype(np.float64)
                arr = np.repeat((255 * arr / max(arr.max(), 1))[..., None], 3, -1)
                return arr.astype(np.uint8)
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        if path.suffix.lower() in (".tif", ".tiff") and path.exists():
            try:
                import tifffile

                arr = np.asarray(tifffile.imread(path))
                if arr.ndim == 2:
                    arr = np.repeat(arr[..., None], 3, -1)
                if arr.ndim == 3 and arr.shape[-1] >= 3 and arr.dtype == np.uint8:
                    return np.ascontiguousarray(arr[..., :3])
            except Exception:
                pass
        if not path.exists():
            raise ValueError("no such file") from None
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"cannot decode the image ({why})") from None


def is_manifest(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES


def _slide_from_name(path: Path, pattern: Optional[str]) -> Optional[str]:
    if not pattern:
        return None
    m = re.search(pattern, path.stem)
    if not m:
        return None
    return m.group(1) if m.groups() else m.group(0)


def folder_records(root: Path, slide_pattern: Optional[str]) -> list:
    """Class sub-folders of tiles (module docstring)."""
    records = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES or p.name.startswith("."):
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


def check_images(records: list, problems: BadRecords) -> tuple[list, list]:
    """Decode every file once; returns the readable records and their (h, w) sizes."""
    good, sizes = [], []
    for r in records:
        try:
            img = read_image(r.path)
        except ValueError as e:
            problems.bad(r.where, str(e), SKIP_FIX, id=str(r.path), path=str(r.path), slide_id=r.slide or "")
            continue
        good.append(r)
        sizes.append(img.shape[:2])
    return good, sizes


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
    try:
        if suffix == ".h5":
            import h5py

            with h5py.File(path, "r") as f:
                emb, slide = f["embeddings"][()], f["slide_id"][()] if "slide_id" in f else None
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                emb, slide = f["embeddings"], f["slide_id"] if "slide_id" in f.files else None
        elif suffix == ".parquet":
            import pandas as pd

            frame = pd.read_parquet(path)
            emb = frame[[c for c in frame.columns if c.startswith("e") and c[1:].isdigit()]].to_numpy()
            slide = frame["slide_id"].to_numpy() if "slide_id" in frame else None
        else:
            raise UserError(f"{path}: unknown format '{suffix}'; pass the .h5, .npz or .parquet of `core embed`")
    except (OSError, KeyError) as e:
        raise UserError(f"{path}: not a `core embed` output ({e})") from None
    if slide is None:
        raise UserError(f"{path}: has no slide_id column; embed whole slides (`core embed RUN --data SLIDES`)")
    slide = np.array([s.decode() if isinstance(s, bytes) else str(s) for s in slide])
    keep = np.isfinite(emb).all(axis=1)
    return np.asarray(emb[keep], np.float32), slide[keep]


def read_slide_labels(path: Path) -> tuple[dict, dict]:
    """``{slide_id: label}`` and ``{slide_id: split}`` from ``slide_id,label[,split]``."""
    if not path.exists():
        raise UserError(f"{path}: no such file; write slide_id,label rows")
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
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
