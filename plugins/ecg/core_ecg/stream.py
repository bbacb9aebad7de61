"""ECG corpora read record by record for ``core prepare`` (``DatasetSpec.stream`` of ``ecg/records``).

Streams WFDB folders (with ``labels.csv``, or none with ``--unlabelled``), PTB-XL folders and
``x.npy`` arrays (memory-mapped; ``y.npy`` / ``split.npy`` beside them). The per-record steps
are the in-memory reader's (:mod:`core_ecg.readers`, :mod:`core_ecg.preprocess`,
:mod:`core_ecg.labels`); what needs the whole corpus in memory is fixed up front instead:

* leads: ``leads`` when given, else the first readable record's layout (in memory: the most
  common); a record with other leads is a bad record;
* rate: ``fs`` when given, else the first readable record's (records at other rates are
  resampled to it); length: ``length`` when given, else the first record's after resampling;
  longer records are cropped, shorter ones zero-padded after standardisation, as in memory;
* labels are read (labels.csv, the PTB-XL database, ``y.npy``) and encoded before any signal.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import numpy as np

from core.errors import UserError
from core.shards import CorpusStream
from core.specs import InputSpec
from core_ecg import labels as label_codes
from core_ecg import preprocess
from core_ecg.options import parse_options
from core_ecg.readers import PTBXL_CLASSES, array_entry, ptbxl_entries, read_record, wfdb_entries
from core_ecg.records import Problems, Record, check_finite
from core_ecg.splits import assign_splits

RECORDS_PER_UNIT = 32  # WFDB / PTB-XL records per work unit
ROWS_PER_UNIT = 512  # rows of an x.npy per work unit
FORMATS = "core prepare streams WFDB folders, PTB-XL folders and x.npy arrays"


@dataclass(frozen=True)
class Plan:
    """What every worker needs to turn a raw record into a stored one (picklable)."""

    format: str
    leads: Optional[tuple]  # --option leads, or None: keep ``layout``
    layout: tuple  # lead names, upper-case, of the first readable record
    fs: Optional[float]
    source_fs: Optional[float]
    length: int
    file: str = ""  # the x.npy


def stream_records(path, *, on_bad_record: str = "error", options=None, unlabelled: bool = False) -> CorpusStream:
    """The :class:`core.shards.CorpusStream` of the ECG corpus at ``path`` (module docstring)."""
    opts = parse_options(options)
    problems = Problems(on_bad_record)
    path = Path(path).expanduser()
    fmt, entries, task, source = _plan_entries(path, opts, problems, not unlabelled)
    if opts.labels and fmt != "wfdb":
        raise UserError(f"{path}: option labels only applies to WFDB records, this is {fmt}; drop --option labels")
    if opts.sampling != 100 and fmt != "ptbxl":
        raise UserError(f"{path}: option sampling only applies to PTB-XL folders, this is {fmt}; "
                        f"use --option fs=HZ to resample")
    file = str(path / "x.npy" if path.is_dir() else path) if fmt == "npy" else ""
    first = None
    while entries and first is None:  # the first readable record fixes leads, rate and length
        first = _raw_record(fmt, file, entries[0], problems)
        if first is None:
            entries = entries[1:]
        elif opts.leads:
            kept, _ = preprocess.select_leads([first], opts.leads, problems)
            if not kept:
                first, entries = None, entries[1:]
    if first is None:
        why = f"; first problem: {problems.skipped[0][0]}: {problems.skipped[0][1]}" if problems.skipped else ""
        raise UserError(f"{source}: no usable records{why}")
    layout = tuple(preprocess._norm(c) for c in first.channels)
    fs = preprocess.resample([first], opts.fs, opts.source_fs)
    length = preprocess.common_length([first], opts.length, source)
    plan = Plan(fmt, opts.leads, layout, fs, opts.source_fs, length, file)
    spec = InputSpec("sequence", (len(first.channels), length), sample_rate=fs, channel_names=first.channels)
    units = [entries[i:i + _per_unit(fmt)] for i in range(0, len(entries), _per_unit(fmt))]
    carve = None if task is None else partial(_carve, opts, task.kind, source)
    return CorpusStream(spec, task, units, partial(read_unit, plan), carve, list(problems.skipped), True, source)


def _per_unit(fmt: str) -> int:
    return ROWS_PER_UNIT if fmt == "npy" else RECORDS_PER_UNIT


def _carve(opts, kind: str, source: str, ids, y, given, seed: int) -> dict:
    """The ECG split policy (:func:`core_ecg.splits.assign_splits`) once every record is read."""
    records = [SimpleNamespace(id=i, split=g) for i, g in zip(ids, given)]
    return assign_splits(records, y, kind, opts, seed, source)


# ----------------------------------------------------------------------------- planning
def _plan_entries(path: Path, opts, problems: Problems, labelled: bool) -> tuple:
    """``(format, entries, task, source)``: one entry ``(id, where, y, split)`` per record, labels
    encoded (``y`` None when unlabelled); ``where`` is a WFDB base path or an x.npy row."""
    if path.is_dir() and (path / "ptbxl_database.csv").is_file() or path.name == "ptbxl_database.csv":
        folder = path if path.is_dir() else path.parent
        return ("ptbxl", *_ptbxl_entries(folder, opts, problems, labelled), str(folder))
    if path.is_dir() and (path / "x.npy").is_file() or path.suffix.lower() == ".npy" and path.is_file():
        file = path / "x.npy" if path.is_dir() else path.with_name("x.npy") if path.name == "y.npy" else path
        return ("npy", *_npy_entries(file, opts, problems, labelled), str(file))
    if path.is_dir():
        headers = sorted(path.rglob("*.hea"))
        folder = path
    elif path.suffix.lower() == ".hea" or path.with_name(path.name + ".hea").is_file():
        headers, folder = [path if path.suffix.lower() == ".hea" else path.with_name(path.name + ".hea")], path.parent
    else:
        headers, folder = [], path
    if not path.exists() and not headers:
        raise UserError(f"{path}: no such file or folder; {FORMATS}")
    if not headers:
        raise UserError(f"{path}: no WFDB, PTB-XL or .npy records found; {FORMATS} (read other formats in memory "
                        f"with core run --data)")
    return ("wfdb", *_wfdb_entries(headers, folder, opts, problems, labelled), str(path))


def _encoded(raw: list, multilabel: bool, classes, opts, problems: Problems) -> tuple:
    """``(kept entries, Task)`` with each kept entry's label encoded (:mod:`core_ecg.labels`)."""
    records = [SimpleNamespace(id=e[0], label=e[2], entry=e) for e in raw]
    kind = label_codes.infer_kind([r.label for r in records], multilabel, opts.task)
    kept, y, task = label_codes.encode(records, kind, classes, problems)
    return [(r.entry[0], r.entry[1], y[i], r.entry[3]) for i, r in enumerate(kept)], task


def _wfdb_entries(headers: list, folder: Path, opts, problems: Problems, labelled: bool) -> tuple:
    entries = wfdb_entries(headers, folder, opts, problems, labelled)
    if not labelled:
        return entries, None
    return _encoded(entries, any(isinstance(e[2], tuple) for e in entries), None, opts, problems)


def _ptbxl_entries(folder: Path, opts, problems: Problems, labelled: bool) -> tuple:
    entries = ptbxl_entries(folder, opts, problems, labelled)
    return (entries, None) if not labelled else _encoded(entries, True, PTBXL_CLASSES, opts, problems)


def _load_npy(file: Path, mmap: bool = False) -> np.ndarray:
    try:
        return np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as e:
        raise UserError(f"{file}: not a readable .npy array ({type(e).__name__}: {e})") from None


def _npy_entries(file: Path, opts, problems: Problems, labelled: bool) -> tuple:
    x = _load_npy(file, mmap=True)
    if x.ndim not in (2, 3) or x.dtype.kind not in "iuf":
        raise UserError(f"{file}: x must be a numeric array (N, C, L) or (N, L), got {x.dtype} {x.shape}")
    n = len(x)
    if not labelled:
        return [(f"{file.name}[{i}]", i, None, None) for i in range(n)], None
    y_file, split_file = file.with_name("y.npy"), file.with_name("split.npy")
    if not y_file.is_file():
        raise UserError(f"{y_file}: missing; labels for {file.name} go in a sibling y.npy "
                        f"(or prepare it without labels with --unlabelled)")
    y = _load_npy(y_file)
    if len(y) != n or y.ndim > 2:
        raise UserError(f"{y_file}: y has shape {y.shape} but x has {n} records; y must be (N,) or (N, n_classes)")
    split = _load_npy(split_file).reshape(-1) if split_file.is_file() else None
    if split is not None and len(split) != n:
        raise UserError(f"{split_file}: split has {len(split)} entries but x has {n} records")
    classes = tuple(str(i) for i in range(y.shape[1])) if y.ndim == 2 else None
    raw = []
    for i in range(n):
        parsed = array_entry(file, i, y, split, classes, problems)
        if parsed is not None:
            raw.append((f"{file.name}[{i}]", i, *parsed))
    return _encoded(raw, classes is not None, classes, opts, problems)


# ----------------------------------------------------------------------------- reading
def _raw_record(fmt: str, file: str, entry: tuple, problems: Problems, x=None) -> Optional[Record]:
    """The record of ``entry`` as read, before leads, rate and length; None when bad."""
    rid, where = entry[0], entry[1]
    if fmt == "npy":
        x = _load_npy(Path(file), mmap=True) if x is None else x
        signal = np.asarray(x[where], dtype=np.float64)
        signal = signal[None, :] if signal.ndim == 1 else signal
        if not check_finite(signal, f"{file}[{where}]", problems):
            return None
        return Record(rid, signal, None, tuple(f"ch{i}" for i in range(signal.shape[0])))
    read = read_record(Path(where), where, problems)
    return None if read is None else Record(rid, *read)


def read_unit(plan: Plan, unit: list, problems: Problems):
    """Yield ``(id, x (C, <=length) float32, y, split)`` for each readable record of ``unit``."""
    x = _load_npy(Path(plan.file), mmap=True) if plan.format == "npy" else None
    for entry in unit:
        record = _raw_record(plan.format, plan.file, entry, problems, x)
        if record is None:
            continue
        if plan.leads:
            kept, _ = preprocess.select_leads([record], plan.leads, problems)
            if not kept:
                continue
        elif tuple(preprocess._norm(c) for c in record.channels) != plan.layout:
            problems.bad(record.id, f"has leads {','.join(record.channels)} but the first record has "
                                    f"{','.join(plan.layout)}", f"pick common leads with --option leads={','.join(plan.layout)}")
            continue
        preprocess.resample([record], plan.fs, plan.source_fs)
        yield entry[0], record.signal[:, :plan.length].astype(np.float32), entry[2], entry[3]
