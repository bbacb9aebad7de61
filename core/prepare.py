"""``core prepare --plugin X --data RAW --out SHARDS``: a corpus written once as litdata shards.

The plugin's ``DatasetSpec.stream`` (:class:`core.shards.CorpusStream`) reads the corpus record
by record; ``litdata.optimize`` runs it in worker processes over the stream's work units and
writes chunks. Every record keeps its global position, label and split; per-channel
statistics are reduced in the same single pass (per record, so that a labelled corpus is
standardised on its train split only, as in memory). Memory stays flat in the corpus size:
a worker holds one chunk, the main process per-record ids and labels.

Resumable: units are processed in parts (``.prepare/part-NNNNN`` inside ``--out``), each
finished part is marked done, and a re-run with the same arguments skips finished parts (other
arguments restart cleanly). The chunks are then moved into ``--out``, litdata's ``index.json``
written, and ``core-shards.npz`` and ``core-shards.json`` written last, atomically, so a
folder :func:`core.shards.is_shards` accepts is always complete.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from core.errors import BadRecords, UserError
from core.options import key_values

WORK_DIR = ".prepare"
UNITS_PER_WORKER = 16  # work units per worker in one resumable part
DEFAULT_CHUNK_BYTES = "64MB"


# ----------------------------------------------------------------------------- CLI
def add_parser(sub) -> None:
    """Register ``core prepare`` (parsing only; :func:`cmd_prepare` delegates)."""
    p = sub.add_parser("prepare", help="write a corpus larger than RAM once as litdata shards for streaming",
                       description="Read a plugin's corpus record by record and write litdata shards plus "
                                   "core-shards.json (input spec, task, normalisation, splits, bad records); "
                                   "--data SHARDS / --pretrain-data SHARDS then stream them. Re-run the same "
                                   "command to finish an interrupted prepare.")
    p.add_argument("--plugin", required=True, help="plugin whose reader reads RAW, e.g. ecg")
    p.add_argument("--dataset", help="the plugin's dataset that reads RAW (default: its recipe's reader for --data)")
    p.add_argument("--data", required=True, metavar="RAW", help="the corpus to prepare")
    p.add_argument("--out", required=True, metavar="SHARDS", help="the shards folder to write")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="dataset reader option, repeatable")
    p.add_argument("--on-bad-record", choices=("error", "skip"), default="error",
                   help="stop at the first unreadable record (default) or skip and list it")
    p.add_argument("--unlabelled", action="store_true",
                   help="store no labels: every record goes to the pretrain pool (--pretrain-data)")
    p.add_argument("--num-workers", default=None, help="worker processes (default: CPU count, at most 8)")
    p.add_argument("--chunk-bytes", default=DEFAULT_CHUNK_BYTES, help=f"chunk size (default {DEFAULT_CHUNK_BYTES})")
    p.add_argument("--seed", default="0", help="seed of carved val/test splits (default 0)")
    p.set_defaults(func=cmd_prepare, takes_reader_flags=True)


def _int_flag(value, flag: str, low: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = low - 1
    if n < low:
        raise UserError(f"{flag} {value}: must be an integer >= {low}")
    return n


def cmd_prepare(args) -> int:
    """``core prepare``: prepare the shards and print where they are."""
    from core.plugins import get_plugin_manager

    options = {**getattr(args, "reader_flags", {}), **key_values(args.option, "--option")}
    workers = None if args.num_workers is None else _int_flag(args.num_workers, "--num-workers", 1)
    meta = prepare(get_plugin_manager(), plugin=args.plugin, dataset=args.dataset, data=args.data, out=args.out,
                   options=options, on_bad_record=args.on_bad_record, unlabelled=args.unlabelled,
                   num_workers=workers, chunk_bytes=args.chunk_bytes, seed=_int_flag(args.seed, "--seed", 0),
                   echo=lambda line: print(line, flush=True))
    sizes = ", ".join(f"{s} {n}" for s, n in meta["splits"].items())
    print(f"shards: {args.out}  ({meta['num_samples']} records: {sizes}; {len(meta['skipped'])} skipped)")
    return 0


# ----------------------------------------------------------------------------- prepare
def stream_spec(pm, plugin: str, dataset: Optional[str]):
    """The DatasetSpec that streams the plugin's files (``--dataset``, or the recipe's reader)."""
    if dataset:
        spec = pm.get("dataset", dataset)
    else:
        rec = pm.recipe_for_plugin(plugin)
        spec = pm.get("dataset", rec.dataset)
        if spec.embedded:
            if not rec.data_dataset:
                raise UserError(f"recipe {rec.name} has no reader for --data; pass --dataset NAME")
            spec = pm.get("dataset", rec.data_dataset)
    if getattr(spec, "stream", None) is None:
        raise UserError(f"dataset {spec.name} cannot stream its corpus record by record (no DatasetSpec.stream); "
                        f"use core run --data RAW (in memory) or a dataset that streams")
    return spec


def prepare(pm, *, plugin: str, data, out, dataset: Optional[str] = None, options: Optional[dict] = None,
            on_bad_record: str = "error", unlabelled: bool = False, num_workers: Optional[int] = None,
            chunk_bytes="64MB", seed: int = 0, echo=lambda line: None) -> dict:
    """Write the shards of ``data`` to ``out`` (see the module docstring); returns the metadata.
    Re-running it with the same arguments finishes an interrupted prepare."""
    from core import __version__
    from core.shards import META_FILE, is_shards

    BadRecords(on_bad_record)  # checks the mode
    spec = stream_spec(pm, plugin, dataset)
    raw = Path(data).expanduser().resolve()
    if not raw.exists():
        raise UserError(f"--data {raw}: no such file or folder; check the path")
    out = Path(out).expanduser().resolve()
    if out == raw or raw in out.parents:
        raise UserError(f"--out {out}: inside --data {raw}; write the shards elsewhere")
    args = {"plugin": plugin, "dataset": spec.name, "data": str(raw), "options": {k: str(v) for k, v in (options or {}).items()},
            "on_bad_record": on_bad_record, "unlabelled": bool(unlabelled), "chunk_bytes": str(chunk_bytes),
            "seed": int(seed), "core_version": __version__}
    work = out / WORK_DIR
    if is_shards(out):
        meta = json.loads((out / META_FILE).read_text())
        if meta.get("args") == args:
            echo(f"{out}: already prepared with these arguments")
            return meta
        raise UserError(f"--out {out}: holds shards prepared with other arguments; remove it or choose another --out")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (work / "args.json").is_file())):
        raise UserError(f"--out {out}: exists and is not an interrupted core prepare; choose a new or empty folder")

    kwargs = {"on_bad_record": on_bad_record, "options": dict(options or {})}
    if unlabelled:
        kwargs["unlabelled"] = True
    stream = spec.stream(str(raw), **kwargs)
    if not stream.units:
        raise UserError(f"{raw}: no records to prepare")
    workers = max(1, min(num_workers or min(os.cpu_count() or 1, 8), len(stream.units)))
    _start_work(work, args, echo)

    part_size = workers * UNITS_PER_WORKER
    starts = list(range(0, len(stream.units), part_size))
    for p, start in enumerate(starts):
        part = work / f"part-{p:05d}"
        if (part / "done.npz").is_file():
            continue
        echo(f"part {p + 1}/{len(starts)}: units {start}..{min(start + part_size, len(stream.units)) - 1}")
        _write_part(stream, part, start, stream.units[start:start + part_size], workers, on_bad_record,
                    chunk_bytes, unlabelled)
    meta = _finish(stream, out, work, len(starts), args, spec.name, plugin, str(raw), seed, unlabelled)
    shutil.rmtree(work, ignore_errors=True)
    return meta


def _start_work(work: Path, args: dict, echo) -> None:
    """The work folder for ``args``: kept when it holds the same arguments, else started anew."""
    from core.io import atomic_write_json

    marker = work / "args.json"
    if marker.is_file():
        try:
            same = json.loads(marker.read_text()) == args
        except (OSError, ValueError):
            same = False
        if same:
            echo(f"resuming the interrupted prepare in {work.parent}")
            return
        echo(f"{work.parent}: an interrupted prepare with other arguments; starting over")
        shutil.rmtree(work)
        for stale in [*work.parent.glob("chunk-*.bin"), work.parent / "index.json", work.parent / "core-shards.npz"]:
            stale.unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_json(marker, args)


class UnitReader:
    """What a litdata worker runs on one ``(unit ordinal, unit)``: the stream's records as items
    ``{"x", "key"}`` (key = ordinal << 32 | record ordinal), and the unit's side file (ids,
    labels, splits, per-record statistics, bad records) once it is read. A bad record under
    ``--on-bad-record error`` is written to an ``error-*.txt`` file for the main process."""

    def __init__(self, read, folder: Path, on_bad_record: str, channels: int, labelled: bool, normalise: bool):
        self.read, self.folder, self.on_bad_record = read, Path(folder), on_bad_record
        self.channels, self.labelled, self.normalise = channels, labelled, normalise

    def __call__(self, job):
        from core.io import atomic_save_npy, atomic_write_json, atomic_write_text
        from core.shards import ChannelStats

        ordinal, unit = job
        problems = BadRecords(self.on_bad_record)
        ids, ys, splits, stats = [], [], [], []
        try:
            for j, (rid, x, y, split) in enumerate(self.read(unit, problems)):
                if self.normalise:  # statistics for the per-channel standardiser (of a dict record's "x")
                    if isinstance(x, dict):
                        stats.append(np.stack(ChannelStats.of(np.asarray(x["x"], np.float32))))
                    else:
                        x = np.ascontiguousarray(x, dtype=np.float32)
                        stats.append(np.stack(ChannelStats.of(x)))
                ids.append(str(rid))
                ys.append(y)
                splits.append(split or "")
                yield {"x": x, "key": (ordinal << 32) | j}
        except UserError as e:
            atomic_write_text(self.folder / f"error-{ordinal:09d}.txt", str(e))
            return
        side = self.folder / "units" / f"{ordinal:09d}"
        if self.labelled:
            atomic_save_npy(side.with_suffix(".y.npy"), np.asarray(ys))
        atomic_save_npy(side.with_suffix(".stats.npy"),
                        np.stack(stats) if stats else np.zeros((0, 3, self.channels)))
        atomic_write_json(side.with_suffix(".json"), {"ids": ids, "splits": splits, "skipped": problems.skipped})


def _start_method() -> Optional[str]:
    """fork where it is safe and fast (Linux): spawn re-imports torch in every worker (seconds each)."""
    return "fork" if sys.platform.startswith("linux") else None


def _write_part(stream, part: Path, start: int, units, workers: int, on_bad_record: str, chunk_bytes,
                unlabelled: bool) -> None:
    """One resumable part: its units through ``litdata.optimize`` into ``part/chunks``, then ``done.npz``."""
    from litdata import optimize

    from core.io import atomic_write_with

    shutil.rmtree(part, ignore_errors=True)
    (part / "units").mkdir(parents=True)
    labelled = stream.task is not None and not unlabelled
    reader = UnitReader(stream.read, part, on_bad_record, stream.input_spec.shape[0], labelled, stream.normalise)
    jobs = [(start + k, u) for k, u in enumerate(units)]
    optimize(reader, jobs, str(part / "chunks"), num_workers=min(workers, len(jobs)), chunk_bytes=chunk_bytes,
             keep_data_ordered=True, reorder_files=False, verbose=False, start_method=_start_method())
    errors = sorted(part.glob("error-*.txt"))
    if errors:
        raise UserError(errors[0].read_text().strip())
    ids, keys, ys, splits, stats, skipped = [], [], [], [], [], []
    for ordinal, _ in jobs:
        side = part / "units" / f"{ordinal:09d}"
        info = json.loads(side.with_suffix(".json").read_text())
        ids += info["ids"]
        splits += info["splits"]
        skipped += info["skipped"]
        keys.append((ordinal << 32) + np.arange(len(info["ids"]), dtype=np.int64))
        stats.append(np.load(side.with_suffix(".stats.npy")))
        if labelled:
            ys.append(np.load(side.with_suffix(".y.npy")))
    stored = _chunk_sizes(part / "chunks")
    if sum(stored) != len(ids):
        raise RuntimeError(f"{part}: litdata wrote {sum(stored)} items for {len(ids)} records")
    arrays = {"ids": np.asarray(ids, dtype=str), "keys": np.concatenate(keys) if keys else np.zeros(0, np.int64),
              "splits": np.asarray(splits, dtype=str), "stats": np.concatenate(stats),
              "skipped": np.asarray(skipped, dtype=str).reshape(-1, 2)}
    if labelled and ys:
        arrays["y"] = np.concatenate([y for y in ys if len(y)]) if any(len(y) for y in ys) else np.zeros(0)

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write_with(part / "done.npz", write)
    shutil.rmtree(part / "units")


def _chunk_sizes(folder: Path) -> list:
    index = folder / "index.json"
    if not index.is_file():  # a part whose records were all bad writes no chunk
        return []
    return [int(c["chunk_size"]) for c in json.loads(index.read_text())["chunks"]]


def _finish(stream, out: Path, work: Path, parts: int, args: dict, dataset: str, plugin: str, source: str,
            seed: int, unlabelled: bool) -> dict:
    """Join the parts: splits, statistics, chunks moved into ``out``, index.json, then the metadata."""
    from core import __version__
    from core.io import atomic_write_json, atomic_write_with
    from core.shards import ARRAYS_FILE, FORMAT_VERSION, META_FILE, ChannelStats

    labelled = stream.task is not None and not unlabelled
    ids, keys, given, ys, skipped = [], [], [], [], [tuple(map(str, s)) for s in stream.skipped]
    for p in range(parts):
        with np.load(work / f"part-{p:05d}" / "done.npz", allow_pickle=False) as z:
            ids.append(z["ids"])
            keys.append(z["keys"])
            given.append(z["splits"])
            skipped += [tuple(s) for s in z["skipped"].tolist()]
            if labelled and "y" in z.files:
                ys.append(z["y"])
    ids, keys, given = np.concatenate(ids), np.concatenate(keys), np.concatenate(given)
    n = len(ids)
    if not n:
        why = f"; first problem: {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise UserError(f"{source}: no usable records{why}")
    index = {}
    targets = None
    if labelled:
        targets = np.concatenate(ys)
        given_splits = [g or None for g in given.tolist()]
        carve = stream.splits or default_splits
        index = {s: np.asarray(v, np.int64) for s, v in carve(ids.tolist(), targets, given_splits, seed).items()}

    normalisation = None
    if stream.normalise:
        channels = stream.input_spec.shape[0]
        every, train, pool = ChannelStats(channels), ChannelStats(channels), ChannelStats(channels)
        in_train, in_pool = np.zeros(n, bool), np.zeros(n, bool)
        if labelled:
            in_train[index["train"]] = True
            in_pool[np.concatenate([index["train"], index["val"]])] = True
        offset = 0
        for p in range(parts):
            with np.load(work / f"part-{p:05d}" / "done.npz", allow_pickle=False) as z:
                stats = z["stats"]
            if len(stats):
                every.add_many(stats[:, 0], stats[:, 1], stats[:, 2])
                for fitted, rows in ((train, in_train), (pool, in_pool)):
                    mask = rows[offset:offset + len(stats)]
                    if mask.any():
                        fitted.add_many(stats[mask, 0], stats[mask, 1], stats[mask, 2])
            offset += len(stats)
        mean, std = every.mean_std(source)
        normalisation = {"axis": "channel", "all": {"mean": mean.tolist(), "std": std.tolist()}}
        if labelled:  # train: what core's ShardSplit uses; pretrain (train + val): for readers that fit on the pool
            for name, fitted in (("train", train), ("pretrain", pool)):
                mean, std = fitted.mean_std(source)
                normalisation[name] = {"mean": mean.tolist(), "std": std.tolist()}

    _move_chunks(work, parts, out)
    arrays = {"ids": ids, "keys": keys}
    if labelled:
        arrays["targets"] = targets
        arrays.update({f"split_{s}": index[s] for s in ("train", "val", "test")})

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write_with(out / ARRAYS_FILE, write)
    _check_order(out, keys)
    sizes = ({s: int(len(index[s])) for s in ("train", "val", "test")} if labelled else {"pretrain": n})
    meta = {
        "format": FORMAT_VERSION, "core_version": __version__, "plugin": plugin, "dataset": dataset,
        "source": source, "num_samples": n, "input_spec": stream.input_spec.to_dict(),
        "task": stream.task.to_dict() if labelled else None, "normalisation": normalisation,
        "splits": sizes, "split_seed": seed if labelled else None, "skipped": [list(s) for s in skipped],
        "arrays": ARRAYS_FILE, "args": args,
    }
    atomic_write_json(out / META_FILE, meta)
    return meta


def default_splits(ids, y, given, seed: int) -> dict:
    """The corpus' own splits; a missing test then val (20 % each) carved from train,
    stratified on class ids (:func:`core.splits.fill_missing`, :func:`core.splits.carve`)."""
    from core.splits import carve, fill_missing, require_nonempty

    strat = y if y is not None and np.asarray(y).ndim == 1 and np.asarray(y).dtype.kind in "iub" else None

    def carve_from(pool, what, share):
        return carve(None if strat is None else strat[pool], len(pool), share, seed)

    return require_nonempty(fill_missing(given, 0.2, 0.2, carve_from, ids=ids), "the corpus", len(ids))


def _move_chunks(work: Path, parts: int, out: Path) -> None:
    """Every part's chunks renamed into ``out`` in order (idempotent: a re-run after an
    interruption here finds the chunks already moved), then litdata's ``index.json``."""
    from core.io import atomic_write_json

    chunks, config = [], None
    for p in range(parts):
        index_file = work / f"part-{p:05d}" / "chunks" / "index.json"
        if not index_file.is_file():
            continue
        index = json.loads(index_file.read_text())
        if config is not None and index["config"] != config:
            raise RuntimeError(f"{index_file}: litdata config differs between parts")
        config = index["config"]
        for chunk in index["chunks"]:
            new = f"chunk-0-{len(chunks)}.bin"
            src, dst = index_file.parent / chunk["filename"], out / new
            if src.is_file():
                os.replace(src, dst)
            elif not dst.is_file():
                raise UserError(f"{src}: missing; remove {out} and run core prepare again")
            chunks.append({**chunk, "filename": new})
    atomic_write_json(out / "index.json", {"chunks": chunks, "config": config})


def _check_order(out: Path, keys: np.ndarray) -> None:
    """The first and last record of every chunk are where the metadata says (litdata keeps
    the order of the work units; checked here rather than assumed)."""
    from litdata import StreamingDataset

    from core.shards import stream_order

    ds = StreamingDataset(str(out), batch_decode=0)
    for first, last in stream_order(out):
        for pos in (first, last):
            if int(ds[pos]["key"]) != int(keys[pos]):
                raise RuntimeError(f"{out}: litdata stored records out of order at position {pos}")
