"""UCR archive readers: ``*_TRAIN.tsv``/``*_TEST.tsv`` (optionally ``.gz``) and sktime ``.ts``.

TSV rows are ``label<TAB>x1<TAB>x2...``; every row of a file must have the same number of
fields, and trailing NaNs are the archive's padding of shorter series (stripped). ``.ts``
files follow the sktime format (``@`` headers, then ``dim1:dim2:label`` rows, ``?`` missing);
timestamped ``.ts`` files are not supported.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np

from core.errors import UserError
from core.io import read_text
from core_ecg.records import Corpus, Problems, Record, check_finite

TSV_SUFFIXES = (".tsv", ".tsv.gz", ".txt", ".csv")
TS_SUFFIXES = (".ts", ".ts.gz")
TEXT_HINT = "a UCR file is UTF-8 text (optionally .gz), one 'label<TAB>x1<TAB>x2...' series per line"
_PART_SPLIT = {"TRAIN": "train", "TEST": "test", "VAL": "val", "VALID": "val", "VALIDATION": "val"}


def _suffix(path: Path) -> Optional[str]:
    name = path.name.lower()
    for suffix in TS_SUFFIXES + TSV_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def split_files(prefix: Path) -> dict:
    """``{'train': file, 'test': file, ...}`` for ``PREFIX_TRAIN.tsv`` & co. (empty if none)."""
    found = {}
    for part, split in _PART_SPLIT.items():
        for suffix in TSV_SUFFIXES + TS_SUFFIXES:
            f = prefix.parent / f"{prefix.name}_{part}{suffix}"
            if f.is_file() and split not in found:
                found[split] = f
    return found


def prefixes_in(folder: Path) -> list:
    """Dataset prefixes ``folder/NAME`` having a ``NAME_TRAIN.*`` file."""
    out = set()
    for f in folder.iterdir():
        suffix = _suffix(f)
        stem = f.name[: -len(suffix)] if suffix else ""
        if suffix and stem.upper().endswith("_TRAIN"):
            out.add(folder / stem[: -len("_TRAIN")])
    return sorted(out)


def read_ucr(files: dict, problems: Problems, source: str) -> Corpus:
    """Read UCR split files ``{split: path}`` (split ``None`` = unknown) into a :class:`Corpus`."""
    corpus = Corpus(source=source, format="ucr")
    for split, path in files.items():
        reader = _read_ts if _suffix(path) in TS_SUFFIXES else _read_tsv
        corpus.records.extend(reader(path, split, problems))
    return corpus


def _delimiter(line: str) -> Optional[str]:
    if "\t" in line:
        return "\t"
    return "," if "," in line else None


def _read_tsv(path: Path, split, problems: Problems) -> list:
    records, expected = [], None
    for lineno, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        rid = f"{path.name}:{lineno}"
        parts = line.strip().split(_delimiter(line))
        if expected is None:
            expected, first = len(parts), lineno
        if len(parts) != expected:
            problems.bad(f"{path}:{lineno}", f"has {len(parts)} fields, expected {expected} like line {first}",
                         "every row needs a label and the same number of samples (pad shorter series with NaN)")
            continue
        if len(parts) < 2:
            problems.bad(f"{path}:{lineno}", "has a label but no samples")
            continue
        try:
            label = float(parts[0])
        except ValueError:
            problems.bad(f"{path}:{lineno}", f"label '{parts[0]}' is not a number",
                         "the first column of a UCR file is the numeric class label")
            continue
        try:
            values = np.asarray(parts[1:], dtype=np.float64)
        except ValueError:
            bad = next(p for p in parts[1:] if not _is_float(p))
            problems.bad(f"{path}:{lineno}", f"value '{bad}' is not a number")
            continue
        values = _strip_trailing_nan(values)
        if not check_finite(values, f"{path}:{lineno}", problems):
            continue
        if not math.isfinite(label):
            problems.bad(f"{path}:{lineno}", f"label '{parts[0]}' is not a class")
            continue
        label = str(int(label)) if label.is_integer() else repr(label)
        records.append(Record(rid, values[None, :], None, ("ch0",), label, split))
    if expected is None:
        raise UserError(f"{path}: the file is empty; a UCR file has one series per line")
    return records


def _lines(path: Path) -> list:
    """The lines of a UTF-8 text file (gunzipped); undecodable or corrupt files are one UserError."""
    return read_text(path, TEXT_HINT).split("\n")


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _strip_trailing_nan(values: np.ndarray) -> np.ndarray:
    finite = ~np.isnan(values)
    if finite.all() or not finite.any():
        return values
    return values[: int(np.flatnonzero(finite)[-1]) + 1]


def _ts_header(path: Path, f):
    """Parse the ``@`` header up to ``@data``; returns (has_label, classes, lineno)."""
    has_label, classes = False, None
    for lineno, line in enumerate(f, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not text.startswith("@"):
            raise UserError(f"{path}:{lineno}: data before the '@data' line; a .ts file starts with @ headers")
        words = text.split()
        key = words[0].lower()
        if key == "@timestamps" and len(words) > 1 and words[1].lower() == "true":
            raise UserError(f"{path}: timestamped .ts files are not supported; export the series without timestamps")
        if key in ("@classlabel", "@targetlabel") and len(words) > 1 and words[1].lower() == "true":
            has_label = True
            if key == "@classlabel" and len(words) > 2:
                classes = tuple(words[2:])
        if key == "@data":
            return has_label, classes, lineno
    raise UserError(f"{path}: no '@data' line; is this an sktime .ts file?")


def _read_ts(path: Path, split, problems: Problems) -> list:
    records, n_dims = [], None
    f = iter(_lines(path))
    has_label, classes, start = _ts_header(path, f)
    if not has_label:
        raise UserError(f"{path}: has no class labels (@classLabel false); a labelled task needs them")
    for lineno, line in enumerate(f, start + 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path}:{lineno}"
        *dims, label = text.split(":")
        label = label.strip()
        if n_dims is None:
            n_dims = len(dims)
        if not dims or len(dims) != n_dims:
            problems.bad(where, f"has {len(dims)} dimension(s), expected {n_dims}",
                         "every row needs the same dimensions separated by ':' and a label last")
            continue
        if classes and label not in classes:
            problems.bad(where, f"label '{label}' is not one of the declared classes {' '.join(classes)}")
            continue
        try:
            series = [np.asarray([v if v.strip() != "?" else "nan" for v in d.split(",")], dtype=np.float64)
                      for d in dims]
        except ValueError:
            problems.bad(where, "holds a value that is not a number")
            continue
        width = max(len(s) for s in series)
        signal = np.zeros((len(series), width))
        for i, s in enumerate(series):
            signal[i, : len(s)] = s
        if not check_finite(signal, where, problems):
            continue
        channels = tuple(f"ch{i}" for i in range(len(series)))
        records.append(Record(f"{path.name}:{lineno}", signal, None, channels, label, split))
    return records
