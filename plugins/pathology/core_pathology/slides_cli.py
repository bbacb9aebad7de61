"""``core slides TILES --labels slides.csv``: slide-level evaluation of tile embeddings.

``TILES`` is what ``core embed RUN --data SLIDES --out TILES`` wrote (.h5, .npz or .parquet,
with a ``slide_id`` column); ``slides.csv`` has ``slide_id,label`` (and optionally ``split``).
Slides are split train/val/test (stratified on the label, seeded; or the ``split`` column),
never a slide in two splits; then mean pooling + linear probe and attention MIL are fitted
on train, tuned on val and scored on test.
"""
from __future__ import annotations

from pathlib import Path

from core.errors import UserError


def evaluate(tiles: Path, labels_csv: Path, seed: int = 0, val_fraction: float = 0.2,
             test_fraction: float = 0.2) -> dict:
    from core_pathology.mil import attention_mil, mean_pool
    from core_pathology.readers import label_task, read_slide_labels, read_tiles
    from core_pathology.splits import slide_level

    emb, slide = read_tiles(tiles)
    labels, given = read_slide_labels(labels_csv)
    names = [n for n in dict.fromkeys(slide) if n in labels]
    missing = sorted(set(labels) - set(slide))
    if not names:
        raise UserError(f"{labels_csv}: none of its slide ids appear in {tiles}; ids are file names without suffix")
    task, y = label_task([labels[n] for n in names], "auto", str(labels_csv), from_folders=False)
    bags = [emb[slide == n] for n in names]
    index = slide_level(names, y, given, seed, val_fraction, test_fraction)
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
    from core.tables import format_console_table

    out = evaluate(Path(args.tiles), Path(args.labels), args.seed, args.val_fraction, args.test_fraction)
    print(format_console_table(out["results"], out["task"]["primary_metric"]))
    if args.out:
        atomic_write_json(Path(args.out), out)
    return 0
