"""``core embed``: embed a corpus with a run's trained encoder and write npy/npz/parquet/h5."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from core.errors import UserError
from core.io import atomic_save_npy, atomic_write_text, atomic_write_with

log = logging.getLogger("core")

FORMATS = (".npy", ".npz", ".parquet", ".h5")


def embed_to_file(run_dir: Path, data_path: str, out: Path, options: dict | None = None,
                  on_bad_record: str = "error", progress: bool | None = None, unlabelled: bool = False) -> int:
    """Embed every record of ``data_path`` (all splits, each once); returns the number of rows written.

    ``data_path`` is read by the run's reader for files, or streamed when it is a shards folder
    written by ``core prepare``; ``unlabelled`` reads it without labels (every record in split
    ``pretrain``; shards prepared with ``--unlabelled`` are always read so).

    Writes ``.npy`` (embeddings, plus ``<out>.ids.csv`` with id, split and any extra columns),
    ``.npz`` (arrays ``embeddings``, ``ids``, ``split`` and one per extra column) or ``.parquet``
    (columns ``id``, ``split``, extra columns, ``e0..``) or ``.h5`` (HDF5 datasets as in ``.npz``;
    needs h5py). Extra columns come from the splits'
    optional ``metadata()`` (e.g. a molecule's SMILES). Records the reader could not read
    (``LoadedDataset.failed``, else ``skipped``, under ``on_bad_record="skip"``) are rows too:
    split ``failed``, NaN embeddings and a ``reason`` column; so are files of a corpus folder that
    no reader uses (:meth:`core.errors.BadRecords.not_read`). When every embedded row carries an
    ``input_index`` column, rows are written in input order, failed rows without one last.
    ``progress`` (default: the run's setting) shows a progress bar per split.
    """
    from core import runs
    from core.plugins import get_plugin_manager

    out = Path(out)
    _check_out(out)
    if out.suffix not in FORMATS:
        raise UserError(f"--out {out}: unknown format '{out.suffix}'; use one of {', '.join(FORMATS)}")
    if not Path(data_path).exists():
        raise UserError(f"--data {data_path}: no such file or folder; check the path")
    if out.suffix == ".h5":
        _h5py(out)
    pm = get_plugin_manager()
    cfg = runs.load_run_config(run_dir)
    encoder, card = runs.load_encoder(pm, run_dir)
    data = _load(pm, cfg, card, data_path, options, on_bad_record, unlabelled)
    expected = tuple(card["input_spec"]["shape"])
    if tuple(data.input_spec.shape) != expected:
        raise UserError(f"--data {data_path}: samples are shaped {tuple(data.input_spec.shape)} but the encoder "
                        f"expects {expected}; pass reader options (e.g. --option length=.. --option fs=..)")
    chunks, ids, split, meta = [], [], [], []
    for name in ("train", "val", "test") if data.task is not None else ("pretrain",):
        ds = data.splits[name]
        if len(ds):
            chunks.append(runs.embed_split(encoder, ds, "cpu", cfg.progress if progress is None else progress, name))
            ids += list(ds.ids)
            split += [name] * len(ds)
            columns = ds.metadata() if hasattr(ds, "metadata") else {}
            meta += [{k: v[i] for k, v in columns.items()} for i in range(len(ds))]
    width = int(card["dim"])
    emb = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, width), np.float32)
    failed = list(getattr(data, "failed", None) or [{"id": r, "reason": why} for r, why in data.skipped])
    if failed:
        log.warning("%d record(s) of %s could not be read: written as rows with split 'failed', NaN embeddings "
                    "and a reason", len(failed), data_path)
        emb = np.concatenate([emb, np.full((len(failed), emb.shape[1] or width), np.nan, np.float32)])
        ids += [str(f.get("id", "")) for f in failed]
        split += ["failed"] * len(failed)
        meta += [{k: v for k, v in f.items() if k != "id"} for f in failed]
        for m in meta:
            m.setdefault("reason", "")
    names = list(dict.fromkeys(k for m in meta for k in m))
    extra = {k: [m.get(k) for m in meta] for k in names}
    order = _input_order(extra.get("input_index"), split)
    if order is not None:
        emb, ids, split = emb[order], [ids[i] for i in order], [split[i] for i in order]
        extra = {k: [v[i] for i in order] for k, v in extra.items()}
    if out.suffix == ".npy":
        import csv
        import io

        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["id", "split", *names])
        writer.writerows([i, s, *(extra[k][r] for k in names)] for r, (i, s) in enumerate(zip(ids, split)))
        atomic_save_npy(out, emb)
        atomic_write_text(out.with_suffix(".ids.csv"), text.getvalue())
    elif out.suffix == ".npz":
        arrays = {k: _column_array(v) for k, v in extra.items() if k not in ("embeddings", "ids", "split")}

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez_compressed(f, embeddings=emb, ids=np.array(ids), split=np.array(split), **arrays)

        atomic_write_with(out, write)
    elif out.suffix == ".h5":
        _write_h5(out, emb, ids, split, extra)
    else:
        import pandas as pd

        frame = pd.DataFrame(emb, columns=[f"e{i}" for i in range(emb.shape[1])])
        for pos, key in enumerate(["id", "split", *names]):
            values = {"id": ids, "split": split}.get(key, extra.get(key))
            if key not in ("id", "split") and key in frame.columns:
                continue
            frame.insert(pos, key, values)
        atomic_write_with(out, lambda tmp: frame.to_parquet(tmp, index=False))
    return len(ids)


def _input_order(index, split: list):
    """Row order by ``input_index`` when every embedded row has one, else ``None`` (keep the
    split order). Failed rows without one (a file not read, a file that could not be parsed)
    follow the indexed rows, in the order the reader listed them."""
    if index is None or any(v is None for v, s in zip(index, split) if s != "failed"):
        return None
    known = [int(v) for v in index if v is not None]
    last = max(known, default=-1) + 1
    return np.argsort(np.asarray([last if v is None else int(v) for v in index], dtype=np.int64), kind="stable")


def _load(pm, cfg, card: dict, data_path: str, options, on_bad_record: str, unlabelled: bool):
    """The corpus to embed: shards (streamed) or files read by the run's reader for files."""
    from core import runs
    from core.shards import is_shards

    if is_shards(data_path):
        return runs.open_prepared(pm, data_path, unlabelled=unlabelled)
    name, path, options = runs.files_dataset(pm, cfg), Path(data_path).resolve(), {**cfg.data_options, **(options or {})}
    if unlabelled:
        return runs.read_unlabelled(pm, name, path, card["seed"], on_bad_record, options, "--unlabelled",
                                    "drop --unlabelled")
    return pm.get("dataset", name).load(str(path), seed=card["seed"], on_bad_record=on_bad_record, options=options)


def _check_out(out: Path) -> None:
    """``--out`` names a file that can be written: not a folder, not under a file."""
    if out.is_dir():
        raise UserError(f"--out {out}: is a folder; name the output file, e.g. --out {out / 'embeddings.npz'}")
    parent = out.parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"--out {out}: {parent} is a file, not a folder; name a file in a folder, "
                        f"e.g. --out embeddings.npz")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {out}: {parent} is not writable; name a file in a folder you can write to")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # fail now, not after embedding the corpus
    except OSError as e:
        raise UserError(f"--out {out}: cannot create its folder ({e.strerror or e}); name a file in a folder "
                        f"you can write to") from None


def _h5py(out: Path):
    try:
        import h5py
    except ImportError:
        raise UserError(f"--out {out}: writing .h5 needs h5py (pip install h5py); or write .npz / .parquet") from None
    return h5py


def _write_h5(out: Path, emb: np.ndarray, ids: list, split: list, extra: dict) -> None:
    """HDF5 datasets ``embeddings`` (gzip), ``ids``, ``split`` and one per extra column (strings as UTF-8)."""
    h5py = _h5py(out)
    text = h5py.string_dtype()
    columns = {"ids": np.array(ids, dtype=object), "split": np.array(split, dtype=object)}
    columns.update({k: _column_array(v) for k, v in extra.items() if k not in ("embeddings", "ids", "split")})

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f.create_dataset("embeddings", data=emb, compression="gzip")
            for key, values in columns.items():
                if values.dtype.kind in "OUS":
                    f.create_dataset(key, data=np.array([str(v) for v in values], dtype=object), dtype=text)
                else:
                    f.create_dataset(key, data=values)

    atomic_write_with(out, write)


def _column_array(values: list) -> np.ndarray:
    """An npz-safe array (no pickled objects): integers, floats, else strings ('' for missing)."""
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.float64)
    return np.asarray(["" if v is None else str(v) for v in values])
