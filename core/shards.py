"""Corpora larger than RAM: the shards ``core prepare`` writes, and their reader (docs/design.md#layers).

A shards folder holds litdata chunks (``index.json`` + ``chunk-*.bin``), one item per record
``{"x": float32 array, "key": int}`` stored raw (not normalised), then two files written last,
``core-shards.npz`` (per-record arrays: ids, keys, targets, split index arrays) and
``core-shards.json`` (:data:`META_FILE`: InputSpec, Task, normalisation statistics, bad
records, sizes, source, plugin and dataset names, core version). :func:`is_shards` accepts a
folder only once ``core-shards.json`` is there, so an interrupted ``core prepare`` never leaves
a folder that looks finished.

:func:`open_shards` gives a :class:`core.specs.LoadedDataset` whose splits are
:class:`ShardSplit` s: map-style datasets reading records by random access into the chunks,
normalised on read (per channel, the first axis of ``InputSpec.shape``) and zero-padded on the
last axis to ``InputSpec.shape`` after normalisation, like the in-memory readers.

Plugins opt in with :class:`CorpusStream` (returned by ``DatasetSpec.stream``, see
docs/hooks.md): the corpus' InputSpec and Task known before reading, the work units to
parallelise over and a reader yielding one record at a time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from core.errors import UserError

META_FILE = "core-shards.json"
ARRAYS_FILE = "core-shards.npz"
INDEX_FILE = "index.json"  # litdata's
FORMAT_VERSION = 1
# ShardSplit.raw_features() streams a split into memory only up to this size
RAW_FEATURES_LIMIT_BYTES = 2 << 30


@dataclass
class CorpusStream:
    """A corpus read lazily, record by record (what ``DatasetSpec.stream`` returns).

    ``input_spec`` and ``task`` (``None`` for an unlabelled corpus) are fixed before any record
    is streamed. ``units`` are picklable work units (files, or record ranges of one big file)
    that ``core prepare`` spreads over worker processes. ``read(unit, problems)`` is a picklable
    callable (a module-level function or a ``functools.partial`` of one) yielding
    ``(id, x, y, split)`` per readable record: ``x`` a float32 array shaped like
    ``input_spec.shape`` or shorter on the last axis (zero-padded after normalisation), ``y``
    the encoded label for ``task`` (``None`` when unlabelled), ``split`` ``train``/``val``/
    ``test`` or ``None``. Bad records go to ``problems`` (:class:`core.errors.BadRecords`:
    raises under ``--on-bad-record error``, listed under ``skip``).

    ``splits(ids, y, given, seed) -> {"train", "val", "test": index arrays}`` carves the splits
    of a labelled corpus once every record is read (default: the corpus' own split column, a
    missing test then val carved by :func:`core.splits.fill_missing`, stratified on class ids).
    ``skipped`` lists ``(record, reason)`` found while planning (files not read, bad labels).
    ``normalise``: standardise per channel on read (statistics fitted on train, or on every
    record of an unlabelled corpus).
    """

    input_spec: Any
    task: Any
    units: Sequence
    read: Callable[[Any, Any], Iterator[tuple]]
    splits: Optional[Callable[..., dict]] = None
    skipped: list = field(default_factory=list)
    normalise: bool = True
    source: str = ""


# ----------------------------------------------------------------------------- statistics
class ChannelStats:
    """Per-channel count, mean and sum of squared deviations, merged exactly (Chan et al.).

    ``add(x)`` takes one record (channels first); ``merge`` combines two partial results, so
    workers and parts of a corpus are reduced in any order.
    """

    def __init__(self, channels: int):
        self.n = np.zeros(channels, np.float64)
        self.mean = np.zeros(channels, np.float64)
        self.m2 = np.zeros(channels, np.float64)

    @staticmethod
    def of(x: np.ndarray) -> tuple:
        """``(n, mean, m2)`` per channel of one record ``x`` (C, ...)."""
        flat = np.asarray(x, np.float64).reshape(x.shape[0], -1)
        n = np.full(flat.shape[0], flat.shape[1], np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = flat.mean(axis=1)
            m2 = ((flat - mean[:, None]) ** 2).sum(axis=1)
        return n, mean, m2

    def add_many(self, n: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        """Merge per-record rows ``n, mean, m2`` (R, C) into the totals."""
        for i in range(len(n)):
            self.merge(n[i], mean[i], m2[i])

    def merge(self, n, mean, m2) -> None:
        total = self.n + n
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            delta = mean - self.mean
            share = np.where(total > 0, n / np.maximum(total, 1), 0.0)
            self.mean = self.mean + delta * share
            self.m2 = self.m2 + m2 + delta ** 2 * self.n * share
        self.n = total

    def mean_std(self, source: str) -> tuple:
        """Per-channel mean and std (population; a constant channel gets std 1, as
        in-memory standardisers do); values too large to standardise are a UserError."""
        with np.errstate(invalid="ignore", divide="ignore"):
            var = self.m2 / self.n
        if not (np.isfinite(self.mean).all() and np.isfinite(var).all()):
            raise UserError(f"{source}: signal values are too large to standardise (variance overflows); "
                            f"check the records' units or scaling")
        std = np.sqrt(var)
        std[std < 1e-8] = 1.0
        return self.mean.copy(), std


# ----------------------------------------------------------------------------- reading
def is_shards(path) -> bool:
    """True for a folder ``core prepare`` finished writing (its metadata and litdata's index)."""
    p = Path(path).expanduser()
    return p.is_dir() and (p / META_FILE).is_file() and (p / INDEX_FILE).is_file() and (p / ARRAYS_FILE).is_file()


def read_meta(path) -> dict:
    """The metadata of a shards folder (a UserError naming it when it is not one)."""
    p = Path(path).expanduser()
    if not is_shards(p):
        raise UserError(f"{p}: not a finished shards folder (no {META_FILE}); write one with "
                        f"`core prepare --plugin X --data RAW --out {p}` (re-run it to finish an interrupted one)")
    try:
        meta = json.loads((p / META_FILE).read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{p / META_FILE}: cannot read ({e}); run core prepare again") from None
    if meta.get("format") != FORMAT_VERSION:
        raise UserError(f"{p}: shards format {meta.get('format')} is not {FORMAT_VERSION}; run core prepare again")
    return meta


def open_shards(path, *, unlabelled: bool = False):
    """The :class:`core.specs.LoadedDataset` of a shards folder.

    Labelled shards give ``pretrain`` (train + val), ``train``, ``val``, ``test`` with targets
    and the stored Task, normalised with the statistics fitted on train. ``unlabelled=True``
    (``--pretrain-data SHARDS``) gives every record in ``pretrain`` with ``task=None``
    (:func:`core.data.unlabelled_corpus`), normalised with the statistics of every record.
    """
    from core.data import unlabelled_corpus
    from core.specs import InputSpec, LoadedDataset, Task

    root = Path(path).expanduser().resolve()
    meta = read_meta(root)
    spec = InputSpec.from_dict(meta["input_spec"])
    with np.load(root / ARRAYS_FILE, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    norm = meta["normalisation"]
    stats = None
    if norm:
        fitted = norm.get("all") if unlabelled or meta["task"] is None else norm.get("train", norm.get("all"))
        stats = (np.asarray(fitted["mean"], np.float32), np.asarray(fitted["std"], np.float32))
    ids, keys = arrays["ids"], arrays["keys"]
    targets = arrays.get("targets")
    skipped = [tuple(s) for s in meta.get("skipped", [])]
    name, source = meta.get("dataset", ""), meta.get("source", "")

    def split(positions, labelled):
        return ShardSplit(root, np.asarray(positions, np.int64), ids, keys, spec,
                          targets if labelled else None, stats)

    if unlabelled or meta["task"] is None:
        pool = split(np.arange(len(keys)), False)
        return unlabelled_corpus(pool, spec, name=name, source=source, skipped=skipped)
    task = Task(meta["task"]["kind"], tuple(meta["task"]["class_names"]), meta["task"]["primary_metric"])
    splits = {s: split(arrays[f"split_{s}"], True) for s in ("train", "val", "test")}
    pretrain = np.concatenate([arrays["split_train"], arrays["split_val"]])  # as core.data.concat orders it
    splits["pretrain"] = split(pretrain, False)
    return LoadedDataset(splits, spec, task, name=name, source=source, skipped=skipped)


class ShardSplit:
    """A split of a shards folder, following the split protocol of :mod:`core.data`.

    ``ds[i] -> (x, y, i)``: ``x`` the record at global position ``global_index[i]``,
    normalised and padded to ``InputSpec.shape``; ``y`` its label (``-1`` unlabelled); ``i`` the
    position in this split, as :class:`core.data.ArrayDataset` items carry it (targets are
    cached by it). ``global_index`` (int64 array) maps split positions to positions in the whole
    shards folder. The litdata dataset opens lazily, in each DataLoader worker.
    """

    collate_fn = None

    def __init__(self, root: Path, global_index: np.ndarray, all_ids: np.ndarray, all_keys: np.ndarray,
                 input_spec, all_targets: Optional[np.ndarray], stats: Optional[tuple]):
        import torch

        from core.data import label_tensor

        self.root = Path(root)
        self.global_index = global_index
        self.input_spec = input_spec
        self.ids = [str(i) for i in all_ids[global_index]]
        self.targets = None if all_targets is None else all_targets[global_index]
        self._keys = all_keys[global_index]
        self._y = label_tensor(self.targets, len(global_index))
        self._mean = None if stats is None else torch.from_numpy(stats[0]).reshape(-1, *[1] * (len(input_spec.shape) - 1))
        self._std = None if stats is None else torch.from_numpy(stats[1]).reshape(-1, *[1] * (len(input_spec.shape) - 1))
        self._ds = None

    def __len__(self) -> int:
        return len(self.global_index)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_ds"] = None  # each DataLoader worker opens its own reader
        return state

    def _dataset(self):
        if self._ds is None:
            from litdata import StreamingDataset

            # random access: decode only the requested item (litdata's default decodes a window around it)
            self._ds = StreamingDataset(str(self.root), batch_decode=0)
        return self._ds

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        item = self._dataset()[int(self.global_index[i])]
        if int(item["key"]) != int(self._keys[i]):
            raise UserError(f"{self.root}: record {self.ids[i]} is not where {ARRAYS_FILE} says (chunks changed "
                            f"after core prepare?); run core prepare again")
        return self.normalise(item["x"]), self._y[i], i

    def normalise(self, raw: np.ndarray):
        """A stored record as a model input: standardised, zero-padded on the last axis."""
        import torch

        x = torch.as_tensor(np.asarray(raw, np.float32))
        if self._mean is not None:
            x = (x - self._mean) / self._std
        shape = tuple(self.input_spec.shape)
        if tuple(x.shape) != shape:
            out = torch.zeros(shape, dtype=torch.float32)
            out[(Ellipsis, slice(0, x.shape[-1]))] = x
            x = out
        return x

    def raw_features(self) -> np.ndarray:
        """``(N, F)`` float32, read by streaming; a UserError above :data:`RAW_FEATURES_LIMIT_BYTES`."""
        n, f = len(self), int(np.prod(self.input_spec.shape))
        if n * f * 4 > RAW_FEATURES_LIMIT_BYTES:
            raise UserError(f"{self.root}: this split is {n * f * 4 / 2**30:.1f} GiB as raw features, above the "
                            f"{RAW_FEATURES_LIMIT_BYTES / 2**30:.0f} GiB the raw-feature floor reads into memory; "
                            f"probe a smaller labelled corpus")
        out = np.empty((n, f), np.float32)
        for i in range(n):
            out[i] = self[i][0].numpy().reshape(-1)
        return out


class ChunkShuffleSampler:
    """A torch sampler over a :class:`ShardSplit` that reads chunk by chunk: chunks in a seeded
    random order, records shuffled within each chunk, reshuffled by :meth:`set_epoch`.

    With ``world_size > 1`` rank ``r`` takes every ``world_size``-th chunk of that order (each
    rank reads its own chunks) and every rank yields the same number of records: the smallest
    share, so up to about one chunk per rank is dropped each epoch (a different part each
    epoch). Sequential chunk reads keep a corpus on disk fast to stream; random access
    (``shuffle=True``) is as fast only while the shards sit in the page cache.
    """

    def __init__(self, split: "ShardSplit", seed: int = 0, rank: int = 0, world_size: int = 1):
        starts = [first for first, _ in stream_order(split.root)]
        chunk_of = np.searchsorted(np.asarray(starts), split.global_index, side="right") - 1
        order = np.argsort(chunk_of, kind="stable")
        bounds = np.flatnonzero(np.diff(chunk_of[order])) + 1
        self.groups = [g for g in np.split(order, bounds) if len(g)]
        self.seed, self.rank, self.world_size, self.epoch = int(seed), int(rank), int(world_size), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _shares(self) -> tuple:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.groups))
        shares = [order[r::self.world_size] for r in range(self.world_size)]
        return rng, shares, min(sum(len(self.groups[c]) for c in share) for share in shares)

    def __len__(self) -> int:
        return self._shares()[2]

    def __iter__(self):
        rng, shares, n = self._shares()
        inner = np.random.default_rng([self.seed, self.epoch, self.rank])
        mine = [inner.permutation(self.groups[c]) for c in shares[self.rank]]
        positions = np.concatenate(mine)[:n] if mine else np.zeros(0, np.int64)
        return iter(int(i) for i in positions)


def stream_order(root) -> list:
    """``(first position, last position)`` of every chunk, in storage order (for checks)."""
    index = json.loads((Path(root) / INDEX_FILE).read_text())
    out, start = [], 0
    for chunk in index["chunks"]:
        out.append((start, start + int(chunk["chunk_size"]) - 1))
        start += int(chunk["chunk_size"])
    return out
