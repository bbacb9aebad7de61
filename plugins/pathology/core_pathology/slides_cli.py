"""``core slides TILES --labels slides.csv``: slide-level evaluation of tile embeddings.

``TILES`` is what ``core embed RUN --data SLIDES --out TILES`` wrote (.h5, .npz or .parquet,
with a ``slide_id`` column); ``slides.csv`` has ``slide_id,label`` (and optionally ``split``).
Slides are split train/val/test (stratified on the label, seeded; or the ``split`` column),
never a slide in two splits; then mean pooling + linear probe and attention MIL are fitted
on train, tuned on val and scored on test.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from core.errors import UserError


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
        if (row.get("split") or "").strip():
            splits[sid] = row["split"].strip().lower()
    return labels, splits


def slide_splits(names: list, y: np.ndarray, given: dict, seed: int, val_fraction: float,
                 test_fraction: float) -> dict:
    from core.data import carve_validation

    if given and all(n in given for n in names):
        out = {s: np.array([i for i, n in enumerate(names) if given[n] == s]) for s in ("train", "val", "test")}
    else:
        if len(names) < 3:
            raise UserError(f"only {len(names)} labelled slide(s) with tiles; slide-level evaluation needs >= 3")
        def carve(labels, n, fraction):
            try:
                return carve_validation(labels, n, fraction, seed)
            except ValueError:
                return carve_validation(None, n, fraction, seed)
        rest, test = carve(y, len(names), test_fraction)
        tr, va = carve(y[rest], len(rest), val_fraction / (1 - test_fraction))
        out = {"train": rest[tr], "val": rest[va], "test": test}
    for s, idx in out.items():
        if not len(idx):
            raise UserError(f"the slide-level {s} split is empty; label more slides or fix the split column")
    return out


def evaluate(tiles: Path, labels_csv: Path, seed: int = 0, val_fraction: float = 0.2,
             test_fraction: float = 0.2) -> dict:
    from core_pathology.datasets import _task
    from core_pathology.mil import attention_mil, mean_pool
    from core_pathology.options import Options

    emb, slide = read_tiles(tiles)
    labels, given = read_slide_labels(labels_csv)
    names = [n for n in dict.fromkeys(slide) if n in labels]
    missing = sorted(set(labels) - set(slide))
    if not names:
        raise UserError(f"{labels_csv}: none of its slide ids appear in {tiles}; ids are file names without suffix")
    task, y = _task([labels[n] for n in names], Options(), str(labels_csv), from_folders=False)
    bags = [emb[slide == n] for n in names]
    index = slide_splits(names, y, given, seed, val_fraction, test_fraction)
    parts = [([bags[i] for i in index[s]], y[index[s]]) for s in ("train", "val", "test")]
    results = {"mean-pool + linear": mean_pool(*parts, task, seed), "attention MIL": attention_mil(*parts, task, seed)}
    return {"task": task.to_dict(), "slides": {s: [names[i] for i in index[s]] for s in index},
            "unmatched_labels": missing, "results": results, "seed": seed}


def add_parser(sub) -> None:
    p = sub.add_parser("slides", help="slide-level evaluation of tile embeddings (mean pooling, attention MIL)")
    p.add_argument("tiles", help="the .h5/.npz/.parquet written by `core embed RUN --data SLIDES`")
    p.add_argument("--labels", required=True, help="CSV with slide_id,label[,split]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--out", help="write the results as JSON here")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.io import atomic_write_json
    from core.report import format_console_table

    out = evaluate(Path(args.tiles), Path(args.labels), args.seed, args.val_fraction, args.test_fraction)
    print(format_console_table(out["results"], out["task"]["primary_metric"]))
    if args.out:
        atomic_write_json(Path(args.out), out)
    return 0
