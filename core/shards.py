"""Corpora larger than RAM: the shards ``core prepare`` writes, and their reader (docs/design.md#layers).

A shards folder holds litdata chunks (``index.json`` + ``chunk-*.bin``), one item per record
``{"x": float32 array, "key": int}`` stored raw (not normalised; a plugin with its own
``DatasetSpec.shard_split`` stores any record litdata serialises as ``x``, e.g. a dict of
token and coordinate arrays, or a slide tile's coordinates), then two files written last,
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
    ``input_spec.shape`` or shorter on the last axis (zero-padded after normalisation), or,
    with ``normalise=False`` and a ``DatasetSpec.shard_split`` to read it back, any value
    litdata serialises (numpy arrays, numbers, strings, dicts of them); ``y``
    the encoded label for ``task`` (``None`` when unlabelled), ``split`` ``train``/``val``/
    ``test`` or ``None`` (with its own ``splits``, any string that function reads: the
    molecule stream adds the scaffold, the protein one the sequence for identity clusters).
    Bad records go to ``problems`` (:class:`core.errors.BadRecords`: raises under
    ``--on-bad-record error``, listed under ``skip``).

    With ``normalise=True`` a record may also be a dict whose ``"x"`` entry is such an array (the
    statistics are fitted on it; the plugin's ``shard_split`` reads the rest, e.g. a waveform).
    Strings in a record must not name existing files: litdata stores such a string as the
    file's contents (store paths inside JSON text).

    ``splits(ids, y, given, seed) -> {"train", "val", "test": index arrays}`` carves the splits
    of a labelled corpus once every record is read (default: the corpus' own split column, a
    missing test then val carved by :func:`core.splits.fill_missing`, stratified on class ids).
    ``skipped`` lists ``(record, reason)`` found while planning (files not read, bad labels).
    ``normalise``: standardise per channel on read (statistics fitted on train, or on every
    record of an unlabelled corpus; ``meta["normalisation"]`` also holds those of the labelled
    pretrain pool, train + val, under ``pretrain``).
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


def open_shards(path, *, unlabelled: bool = False, dataset_spec=None):
    """The :class:`core.specs.LoadedDataset` of a shards folder.

    Labelled shards give ``pretrain`` (train + val), ``train``, ``val``, ``test`` with targets
    and the stored Task, normalised with the statistics fitted on train. ``unlabelled=True``
    (``--pretrain-data SHARDS``) gives every record in ``pretrain`` with ``task=None``
    (:func:`core.data.unlabelled_corpus`), normalised with the statistics of every record.
    Splits are :class:`ShardSplit` s, or the splits ``dataset_spec.shard_split`` builds when the
    plugin stores records that are not fixed-shape arrays (see :class:`core.specs.DatasetSpec`).
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
    records = ShardRecords(root, keys, ids)
    custom = getattr(dataset_spec, "shard_split", None)

    def split(positions, labelled):
        positions = np.asarray(positions, np.int64)
        args = (records, positions, [str(i) for i in ids[positions]],
                targets[positions] if labelled and targets is not None else None, spec)
        return custom(*args, meta) if custom is not None else ShardSplit(*args, stats)

    if unlabelled or meta["task"] is None:
        pool = split(np.arange(len(keys)), False)
        return unlabelled_corpus(pool, spec, name=name, source=source, skipped=skipped)
    task = Task(meta["task"]["kind"], tuple(meta["task"]["class_names"]), meta["task"]["primary_metric"])
    splits = {s: split(arrays[f"split_{s}"], True) for s in ("train", "val", "test")}
    pretrain = np.concatenate([arrays["split_train"], arrays["split_val"]])  # as core.data.concat orders it
    splits["pretrain"] = split(pretrain, False)
    return LoadedDataset(splits, spec, task, name=name, source=source, skipped=skipped)


class ShardRecords:
    """The stored records of a shards folder by global position (``records[p]``: what the
    plugin's ``CorpusStream.read`` yielded as ``x``, as litdata gives it back), read by random
    access. Each record's key is checked against ``core-shards.npz``. The litdata reader opens
    lazily, in each DataLoader worker (it is not pickled)."""

    def __init__(self, root: Path, keys: np.ndarray, ids: np.ndarray):
        self.root, self.keys, self.ids = Path(root), keys, ids
        self._ds = None

    def __len__(self) -> int:
        return len(self.keys)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_ds"] = None
        return state

    def _dataset(self):
        if self._ds is None:
            from litdata import StreamingDataset

            # random access: decode only the requested item (litdata's default decodes a window around it)
            self._ds = StreamingDataset(str(self.root), batch_decode=0)
        return self._ds

    def __getitem__(self, position: int):
        position = int(position)
        item = self._dataset()[position]
        if int(item["key"]) != int(self.keys[position]):
            raise UserError(f"{self.root}: record {self.ids[position]} is not where {ARRAYS_FILE} says (chunks "
                            f"changed after core prepare?); run core prepare again")
        return item["x"]


class StoredSplit:
    """A split over stored records (:class:`ShardRecords`), the base of :class:`ShardSplit` and of
    the splits plugins return from ``DatasetSpec.shard_split``: ``records``, ``global_index``
    (the split's positions in the shards; sorted with ``in_order=True``, as in-memory pools
    keep input order), ``ids``, ``targets``, ``len``, ``record(i)`` (the stored value) and items
    ``(self.input(record(i), i), y, i)`` (``y`` ``-1`` unlabelled, ``i`` the position in this split,
    as :mod:`core.data` splits carry it). Subclasses define :meth:`input` and, as their
    in-memory splits do, ``collate_fn``, ``raw_features()`` and ``metadata()``."""

    collate_fn = None

    def __init__(self, records: ShardRecords, positions, ids, targets: Optional[np.ndarray], in_order: bool = False):
        from core.data import label_tensor

        positions = np.asarray(positions, np.int64)
        order = np.argsort(positions, kind="stable") if in_order else np.arange(len(positions))
        self.records, self.global_index = records, positions[order]
        self.ids = [str(ids[k]) for k in order]
        self.targets = None if targets is None else np.asarray(targets)[order]
        self._y = label_tensor(self.targets, len(order))

    def __len__(self) -> int:
        return len(self.global_index)

    def record(self, i: int):
        return self.records[self.global_index[i]]

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.input(self.record(i), i), self._y[i], i

    def input(self, record, i: int):
        """The model input of the stored ``record`` at position ``i`` of this split."""
        raise NotImplementedError

    def check_raw_size(self, n_bytes: int, what: str = "raw features") -> None:
        """A UserError when the raw-feature floor would read more than :data:`RAW_FEATURES_LIMIT_BYTES`."""
        if n_bytes > RAW_FEATURES_LIMIT_BYTES:
            raise UserError(f"{self.records.root}: this split is {n_bytes / 2**30:.1f} GiB as {what}, above the "
                            f"{RAW_FEATURES_LIMIT_BYTES / 2**30:.0f} GiB the raw-feature floor reads into memory; "
                            f"probe a smaller labelled corpus")


class ShardSplit(StoredSplit):
    """A split of fixed-shape numeric records: each normalised per channel and zero-padded on the
    last axis to ``InputSpec.shape`` (as the in-memory readers do)."""

    def __init__(self, records: ShardRecords, positions: np.ndarray, ids, targets: Optional[np.ndarray],
                 input_spec, stats: Optional[tuple]):
        import torch

        super().__init__(records, positions, ids, targets)
        self.input_spec = input_spec
        axes = [1] * (len(input_spec.shape) - 1)
        self._mean = None if stats is None else torch.from_numpy(stats[0]).reshape(-1, *axes)
        self._std = None if stats is None else torch.from_numpy(stats[1]).reshape(-1, *axes)

    def input(self, record, i: int):
        return self.normalise(record)

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
        self.check_raw_size(n * f * 4)
        out = np.empty((n, f), np.float32)
        for i in range(n):
            out[i] = self[i][0].numpy().reshape(-1)
        return out


def chunk_groups(root, global_index: np.ndarray) -> list:
    """Positions of a split (indices into ``global_index``) grouped by the chunk holding them, in
    storage order: what :class:`core.sampling.EpochSampler` shuffles chunk by chunk, so an epoch
    reads each chunk in one run (sequential reads keep a corpus on disk fast to stream; random
    access is as fast only while the shards sit in the page cache)."""
    starts = [first for first, _ in stream_order(root)]
    chunk_of = np.searchsorted(np.asarray(starts), global_index, side="right") - 1
    order = np.argsort(chunk_of, kind="stable")
    bounds = np.flatnonzero(np.diff(chunk_of[order])) + 1
    return [g for g in np.split(order, bounds) if len(g)]


def stream_order(root) -> list:
    """``(first position, last position)`` of every chunk, in storage order (for checks)."""
    index = json.loads((Path(root) / INDEX_FILE).read_text())
    out, start = [], 0
    for chunk in index["chunks"]:
        out.append((start, start + int(chunk["chunk_size"]) - 1))
        start += int(chunk["chunk_size"])
    return out
