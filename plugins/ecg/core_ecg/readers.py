"""Read a user's ECG corpus (``--data PATH``) into a :class:`~core_ecg.records.Corpus`.

Formats, detected in this order:

* PTB-XL: a folder with ``ptbxl_database.csv`` + ``scp_statements.csv`` and ``records100/``
  / ``records500/`` (5 diagnostic superclasses, multilabel, official ``strat_fold`` splits);
* UCR: ``NAME_TRAIN``/``NAME_TEST`` ``.tsv[.gz]`` or ``.ts`` files (a folder, a prefix or one file);
* arrays: ``.npz`` with ``x`` (N, C, L) or (N, L), ``y`` and optional ``split``/``fs``/``ids``,
  or ``x.npy`` (any name) with sibling ``y.npy`` (and optional ``split.npy``);
* WFDB: one record (``foo`` or ``foo.hea``) or a folder of ``*.hea`` records (searched
  recursively), labelled by ``labels.csv`` (``record,label[,split]``) next to them.
"""
from __future__ import annotations

import ast
import math
import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from core.errors import UserError
from core_ecg import ucr
from core_ecg.options import Options
from core_ecg.records import Corpus, Problems, Record, check_finite, parse_split

PTBXL_CLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
_FORMATS_HINT = ("pass --data a WFDB record or folder (with labels.csv), a PTB-XL folder, "
                 "UCR NAME_TRAIN/NAME_TEST .tsv/.ts files, or a .npz/.npy array")


def read_corpus(path, options: Options, problems: Problems, labelled: bool = True) -> Corpus:
    """Detect the format of ``path`` and read every record (bad ones go to ``problems``).
    ``labelled=False`` (an unlabelled corpus for ``--pretrain-data``): no labels are needed or
    read; every record's ``label`` is None."""
    corpus = _detect_and_read(Path(path).expanduser(), options, problems, labelled)
    if options.labels and corpus.format != "wfdb":
        raise UserError(f"{path}: option labels only applies to WFDB records, this is {corpus.format}; "
                        f"drop --option labels")
    if options.sampling != 100 and corpus.format != "ptbxl":
        raise UserError(f"{path}: option sampling only applies to PTB-XL folders, this is {corpus.format}; "
                        f"use --option fs=HZ to resample")
    return corpus


def _detect_and_read(path: Path, options: Options, problems: Problems, labelled: bool) -> Corpus:
    if not path.exists():
        if ucr.split_files(path):
            return ucr.read_ucr(ucr.split_files(path), problems, str(path))
        if path.with_name(path.name + ".hea").is_file():
            return read_wfdb([path.with_name(path.name + ".hea")], path.parent, options, problems, str(path),
                             labelled)
        raise UserError(f"{path}: no such file or directory; {_FORMATS_HINT}")
    if path.is_dir():
        return _read_folder(path, options, problems, labelled)
    return _read_file(path, options, problems, labelled)


# files a PhysioNet download holds beside the records; not listed as skipped
_METADATA = {"records", "annotators", "sha256sums.txt", "license.txt", "readme", "readme.md", "readme.txt"}
# what a PTB-XL release holds beside ptbxl_database.csv (both sampling rates); anything else is listed
PTBXL_RELEASE = ("ptbxl_database.csv", "scp_statements.csv", "records100", "records500", "example_physionet.py")


def _read_folder(folder: Path, options: Options, problems: Problems, labelled: bool = True) -> Corpus:
    """One corpus per folder (module docstring); files the format does not use are listed as
    skipped (for PTB-XL, the files beside its release layout; hidden files are ignored)."""
    if (folder / "ptbxl_database.csv").is_file():
        return read_ptbxl(folder, options, problems, labelled)
    prefixes = ucr.prefixes_in(folder)
    if len(prefixes) > 1:
        names = ", ".join(p.name for p in prefixes)
        raise UserError(f"{folder}: holds several UCR datasets ({names}); pass --data {prefixes[0]}")
    if prefixes:
        files = ucr.split_files(prefixes[0])
        _list_unused(folder, set(files.values()), problems, f"not part of the UCR dataset {prefixes[0].name}; not read")
        return ucr.read_ucr(files, problems, str(prefixes[0]))
    npz = sorted(folder.glob("*.npz"))
    if len(npz) > 1:
        raise UserError(f"{folder}: holds several .npz files; pass --data {npz[0]}")
    if npz:
        _list_unused(folder, {npz[0]}, problems, f"not read ({npz[0].name} is the corpus)")
        return read_npz(npz[0], problems, labelled)
    if (folder / "x.npy").is_file():
        used = {folder / f"{name}.npy" for name in ("x", "y", "split")}
        _list_unused(folder, used, problems, "not read (x.npy, y.npy and split.npy are the corpus)")
        return read_npy(folder / "x.npy", problems, labelled)
    headers = sorted(folder.rglob("*.hea"))
    if headers:
        corpus = read_wfdb(headers, folder, options, problems, str(folder), labelled)
        records = {h.with_suffix("") for h in headers}
        labels = Path(options.labels).expanduser() if options.labels else folder / "labels.csv"
        signals = {f for h in headers for f in _signal_files(h)}
        unused = [f for f in sorted(folder.rglob("*")) if f.is_file() and f.with_suffix("") not in records
                  and f not in signals and f != labels and not _hidden_or_metadata(f, folder)]
        for f in unused:
            problems.not_read(f, f"not part of any WFDB record (no {f.with_suffix('.hea').name} header); not read")
        return corpus
    raise UserError(f"{folder}: no ECG records found; {_FORMATS_HINT}")


def _signal_files(header: Path) -> list:
    """The signal files a WFDB header names (first word of each signal line); [] if unreadable."""
    try:
        lines = [l for l in header.read_text(errors="replace").splitlines() if l.strip() and not l.startswith("#")]
    except OSError:
        return []
    return [header.parent / l.split()[0] for l in lines[1:]]


def _hidden_or_metadata(file: Path, folder: Path) -> bool:
    parts = file.relative_to(folder).parts
    return any(p.startswith(".") for p in parts) or file.name.lower() in _METADATA


def _list_unused(folder: Path, used: set, problems: Problems, reason: str) -> None:
    """List the top-level files of ``folder`` outside ``used`` as skipped (sub-folders are not read)."""
    for f in sorted(folder.iterdir()):
        if f not in used and not _hidden_or_metadata(f, folder):
            problems.not_read(f, reason if f.is_file() else "a sub-folder is not read for this format")


def _read_file(path: Path, options: Options, problems: Problems, labelled: bool = True) -> Corpus:
    name = path.name.lower()
    if name == "ptbxl_database.csv":
        return read_ptbxl(path.parent, options, problems, labelled)
    if name.endswith(".npz"):
        return read_npz(path, problems, labelled)
    if name.endswith(".npy"):
        return read_npy(path, problems, labelled)
    if path.suffix.lower() in (".hea", ".dat", ".mat"):
        header = path.with_suffix(".hea")
        if not header.is_file():
            raise UserError(f"{header}: no WFDB header for {path.name}; a WFDB record needs its .hea file")
        return read_wfdb([header], path.parent, options, problems, str(path), labelled)
    suffix = ucr._suffix(path)
    if suffix:
        stem = path.name[: -len(suffix)]
        for part in ("_TRAIN", "_TEST"):
            if stem.upper().endswith(part):
                prefix = path.with_name(stem[: -len(part)])
                return ucr.read_ucr(ucr.split_files(prefix), problems, str(prefix))
        return ucr.read_ucr({None: path}, problems, str(path))
    raise UserError(f"{path}: unknown file type; {_FORMATS_HINT}")


# -- WFDB ----------------------------------------------------------------------------------
def read_record(base: Path, record: str, problems: Problems) -> Optional[tuple]:
    """``(signal (C, L), fs, lead names)`` of the WFDB record at ``base``, or None if bad."""
    import wfdb

    try:
        with warnings.catch_warnings():  # wfdb's pandas deprecation noise, once per record
            warnings.filterwarnings("ignore", message="The inplace keyword")
            rec = wfdb.rdrecord(str(base))
        signal = rec.p_signal
        if signal is None:
            raise ValueError("the record has no physical signal")
    except Exception as e:  # wfdb raises HeaderSyntaxError, ValueError, OSError, ...
        problems.bad(record, f"cannot read WFDB record ({type(e).__name__}: {one_line(e)})",
                     "check its .hea header and signal file")
        return None
    signal = np.asarray(signal, dtype=np.float64).T
    if not check_finite(signal, record, problems):
        return None
    fs = float(rec.fs) if rec.fs is not None else math.nan
    if not (math.isfinite(fs) and fs > 0):
        problems.bad(record, f"its header gives sampling frequency {rec.fs!r}", "write a positive rate in its .hea")
        return None
    given = list(rec.sig_name or [])
    names = tuple(str(given[i]) if i < len(given) and given[i] else f"ch{i}" for i in range(signal.shape[0]))
    return signal, fs, names


def read_csv(file: Path, fix: str, **kwargs):
    """``pandas.read_csv`` of a UTF-8 CSV; any failure (encoding, ragged rows, empty) is one line naming it."""
    import pandas as pd

    try:
        return pd.read_csv(file, encoding="utf-8", **kwargs)
    except Exception as e:  # ParserError, EmptyDataError, UnicodeDecodeError, OSError, ...
        raise UserError(f"{file}: cannot read as CSV ({type(e).__name__}: {one_line(e)}); {fix}") from None


def one_line(e: Exception, n: int = 200) -> str:
    """An exception's text on one line, at most ``n`` characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _read_labels(file: Path) -> dict:
    table = read_csv(file, "write UTF-8 columns record,label[,split]", dtype=str, keep_default_na=False)
    table.columns = [str(c).strip().lower() for c in table.columns]
    if not {"record", "label"} <= set(table.columns):
        raise UserError(f"{file}: needs columns record,label (optional split), has {', '.join(table.columns)}")
    out = {}
    for row in table.itertuples(index=False):
        name = _record_key(row.record)
        if name in out:
            raise UserError(f"{file}: record '{row.record}' is listed twice; keep one row per record")
        out[name] = (row.label.strip(), getattr(row, "split", ""))
    return out


def _record_key(name: str) -> str:
    name = str(name).strip().replace("\\", "/")
    for suffix in (".hea", ".dat", ".mat"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def wfdb_entries(headers: list, folder: Path, options: Options, problems: Problems, labelled: bool = True) -> list:
    """``(name, record path, raw label, split)`` of every WFDB header, labelled by
    ``options.labels`` or ``labels.csv`` in ``folder`` (``labelled=False``: label and split
    None, no labels file needed). Records without a usable label go to ``problems``. Shared by
    the in-memory reader and the stream of ``core prepare``."""
    names = [(h.relative_to(folder).with_suffix("").as_posix(), str(h.with_suffix(""))) for h in headers]
    if not labelled:
        return [(name, record, None, None) for name, record in names]
    labels_file = Path(options.labels).expanduser() if options.labels else folder / "labels.csv"
    if not labels_file.is_file():
        where = "" if options.labels else " next to the records"
        raise UserError(f"{labels_file}: no labels file{where}; write one with columns record,label "
                        f"(optional split train/val/test) or pass --option labels=FILE (without labels: "
                        f"--pretrain-data, or core prepare --unlabelled)")
    labels = _read_labels(labels_file)
    out, seen = [], set()
    for header, (name, record) in zip(headers, names):
        key = name if name in labels else header.stem if header.stem in labels else None
        if key is None:
            problems.bad(record, f"has no label in {labels_file}", f"add a row '{name},<label>' to it")
            continue
        seen.add(key)
        label, split = labels[key]
        try:
            split = parse_split(split)
        except ValueError as e:
            problems.bad(record, f"{e} in {labels_file}")
            continue
        if not label or label.lower() == "nan":
            problems.bad(record, f"has an empty label in {labels_file}")
            continue
        label = tuple(sorted({p.strip() for p in label.split(";") if p.strip()})) if ";" in label else label
        out.append((name, record, label, split))
    if len(headers) > 1:
        for key in sorted(set(labels) - seen):
            problems.bad(str(folder / key), f"is listed in {labels_file} but has no WFDB header",
                         "remove the row or add the record")
    return out


def read_wfdb(headers: list, folder: Path, options: Options, problems: Problems, source: str,
              labelled: bool = True) -> Corpus:
    """WFDB records labelled as :func:`wfdb_entries` says (``labelled=False``: every record)."""
    corpus = Corpus(source=source, format="wfdb")
    for name, record, label, split in wfdb_entries(headers, folder, options, problems, labelled):
        read = read_record(Path(record), record, problems)
        if read is not None:
            corpus.records.append(Record(name, *read, label, split))
    corpus.multilabel = any(isinstance(r.label, tuple) for r in corpus.records)
    return corpus


# -- PTB-XL --------------------------------------------------------------------------------
def _superclasses(folder: Path) -> dict:
    import pandas as pd

    file = folder / "scp_statements.csv"
    if not file.is_file():
        raise UserError(f"{file}: missing; PTB-XL needs scp_statements.csv next to ptbxl_database.csv")
    table = read_csv(file, "use the scp_statements.csv of the PTB-XL release", index_col=0)
    if not {"diagnostic", "diagnostic_class"} <= set(table.columns):
        raise UserError(f"{file}: needs columns diagnostic and diagnostic_class (the PTB-XL release file)")
    table = table[pd.to_numeric(table["diagnostic"], errors="coerce") == 1]
    return {str(code): str(cls) for code, cls in table["diagnostic_class"].items() if str(cls) in PTBXL_CLASSES}


def ptbxl_entries(folder: Path, options: Options, problems: Problems, labelled: bool = True) -> list:
    """``(relative name, record path, superclass tuple, split)`` of every row of
    ``ptbxl_database.csv``: superclass multilabels from ``scp_codes``, folds 1-8 train, 9 val,
    10 test (``labelled=False``: label and split None, those columns not read). Rows that cannot
    be parsed go to ``problems``. Shared by the in-memory reader and the stream of ``core prepare``."""
    import pandas as pd

    db_file = folder / "ptbxl_database.csv"
    db = read_csv(db_file, "use the ptbxl_database.csv of the PTB-XL release")
    column = "filename_lr" if options.sampling == 100 else "filename_hr"
    missing = ({"scp_codes", "strat_fold", column} if labelled else {column}) - set(db.columns)
    if missing:
        raise UserError(f"{db_file}: lacks column(s) {', '.join(sorted(missing))}; is it the PTB-XL release file?")
    if not labelled:
        return [(rel, str(folder / rel), None, None) for rel in db[column].astype(str)]
    code_class = _superclasses(folder)
    out = []
    for row in db.itertuples(index=False):
        rel = str(getattr(row, column))
        record = str(folder / rel)
        try:
            codes = ast.literal_eval(row.scp_codes)
            if not isinstance(codes, dict):
                raise ValueError
        except (ValueError, SyntaxError):
            problems.bad(record, f"scp_codes {row.scp_codes!r} in {db_file} is not a dict like {{'NORM': 100.0}}")
            continue
        fold = pd.to_numeric(row.strat_fold, errors="coerce")
        if not (fold == fold and 1 <= fold <= 10):
            problems.bad(record, f"strat_fold {row.strat_fold!r} in {db_file} is not 1..10")
            continue
        split = "train" if fold <= 8 else "val" if fold == 9 else "test"
        out.append((rel, record, tuple(sorted({code_class[c] for c in codes if c in code_class})), split))
    return out


def read_ptbxl(folder: Path, options: Options, problems: Problems, labelled: bool = True) -> Corpus:
    """PTB-XL records as :func:`ptbxl_entries` lists them; files beside the release are listed as
    not read."""
    entries = ptbxl_entries(folder, options, problems, labelled)
    _list_unused(folder, {folder / name for name in PTBXL_RELEASE}, problems, "not part of the PTB-XL release; not read")
    corpus = Corpus(source=str(folder), format="ptbxl", multilabel=labelled, classes=PTBXL_CLASSES if labelled else None)
    for rel, record, label, split in entries:
        read = read_record(folder / rel, record, problems)
        if read is not None:
            corpus.records.append(Record(rel, *read, label, split))
    return corpus


# -- arrays --------------------------------------------------------------------------------
def _array_corpus(file: Path, x, y, split, fs, ids, classes, problems: Problems, fmt: str,
                  labelled: bool = True) -> Corpus:
    """Records of an array archive; ``labelled=False`` ignores ``y``, ``split`` and ``classes``."""
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3 or x.dtype.kind not in "iuf":
        raise UserError(f"{file}: x must be a numeric array (N, C, L) or (N, L), got {x.dtype} {x.shape}")
    n = len(x)
    if labelled:
        if y is None:
            raise UserError(f"{file}: no labels; store them as 'y' (N,) or (N, n_classes) beside 'x'")
        y = np.asarray(y)
        if len(y) != n or y.ndim > 2:
            raise UserError(f"{file}: y has shape {y.shape} but x has {n} records; y must be (N,) or (N, n_classes)")
        split = None if split is None else np.asarray(split).reshape(-1)
        if split is not None and len(split) != n:
            raise UserError(f"{file}: split has {len(split)} entries but x has {n} records")
    ids = [str(i) for i in np.asarray(ids).reshape(-1)] if ids is not None else [f"{file.name}[{i}]" for i in range(n)]
    multilabel = labelled and y.ndim == 2
    if multilabel:
        classes = tuple(str(c) for c in classes) if classes is not None else tuple(str(i) for i in range(y.shape[1]))
        if len(classes) != y.shape[1]:
            raise UserError(f"{file}: {len(classes)} class names for {y.shape[1]} label columns")
    channels = tuple(f"ch{i}" for i in range(x.shape[1]))
    corpus = Corpus(source=str(file), format=fmt, multilabel=multilabel, classes=classes if multilabel else None)
    for i in range(n):
        parsed = array_entry(file, i, y, split, classes if multilabel else None, problems) if labelled else (None, None)
        if parsed is None:
            continue
        signal = np.asarray(x[i], dtype=np.float64)
        if check_finite(signal, f"{file}[{i}]", problems):
            corpus.records.append(Record(ids[i], signal, fs, channels, *parsed))
    return corpus


def array_entry(file: Path, i: int, y, split, classes, problems: Problems) -> Optional[tuple]:
    """``(label, split)`` of record ``i`` of an array archive, or None after reporting a label
    or split that cannot be parsed. ``classes`` names the indicator columns of a multilabel ``y``
    (None: one label per record). Shared by the in-memory reader and the stream of ``core prepare``."""
    record = f"{file}[{i}]"
    label = _array_label(y[i], classes)
    if label is None:
        problems.bad(record, f"label {y[i]!r} cannot be parsed",
                     "y must hold class ids, class names, numbers or 0/1 indicator rows")
        return None
    try:
        return label, None if split is None else parse_split(split[i])
    except ValueError as e:
        problems.bad(record, str(e))
        return None


def _array_label(value, classes):
    value = np.asarray(value)
    if classes is not None:  # indicator row
        if value.dtype.kind not in "iufb" or not np.isin(value, (0, 1)).all():
            return None
        return tuple(sorted(c for c, v in zip(classes, value) if v))
    item = value.item()
    if isinstance(item, bytes):
        item = item.decode()
    if isinstance(item, (bool, np.bool_)):
        return str(int(item))
    if isinstance(item, (int, np.integer)):
        return str(int(item))
    if isinstance(item, float):
        if not np.isfinite(item):
            return None
        return str(int(item)) if item.is_integer() else repr(item)
    text = str(item).strip()
    return text if text and text.lower() != "nan" else None


def _checked(file: Path, name: str, array: np.ndarray) -> np.ndarray:
    """``array`` unless its text cannot be decoded: a damaged ``<U`` array can hold code points
    Python strings cannot, a ``|S`` array bytes that are not UTF-8."""
    bad = False
    if array.dtype.kind == "U" and array.size:
        points = np.ascontiguousarray(array).view(np.uint32)
        bad = bool(((points > 0x10FFFF) | ((points >= 0xD800) & (points <= 0xDFFF))).any())
    elif array.dtype.kind == "S":
        try:
            [v.decode() for v in array.reshape(-1).tolist()]
        except UnicodeDecodeError:
            bad = True
    if bad:
        raise UserError(f"{file}: array '{name}' holds undecodable text; save it again with np.save/np.savez "
                        f"(UTF-8 strings)")
    return array


def _rate(file: Path, value: np.ndarray) -> float:
    """The ``fs`` array of an archive as a positive rate in Hz."""
    try:
        fs = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        fs = math.nan
    if not (math.isfinite(fs) and fs > 0):
        raise UserError(f"{file}: 'fs' must be one positive number (Hz), got {value.dtype} {value.shape}; "
                        f"save it as np.savez(file, ..., fs=500.0)")
    return fs


def read_npz(file: Path, problems: Problems, labelled: bool = True) -> Corpus:
    """``.npz`` with ``x``, ``y`` and optional ``split``, ``fs``, ``ids``, ``classes``."""
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {k.lower(): _checked(file, k, data[k]) for k in data.files}
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"{file}: not a readable .npz archive ({type(e).__name__}: {one_line(e)})") from None
    if "x" not in arrays:
        raise UserError(f"{file}: no array 'x'; save signals with np.savez(file, x=..., y=...)")
    fs = _rate(file, arrays["fs"]) if "fs" in arrays else None
    return _array_corpus(file, arrays["x"], arrays.get("y"), arrays.get("split"), fs,
                         arrays.get("ids"), arrays.get("classes"), problems, "npz", labelled)


def read_npy(file: Path, problems: Problems, labelled: bool = True) -> Corpus:
    """``x.npy`` (any name) with sibling ``y.npy`` and optional ``split.npy`` (``labelled=False``:
    ``x.npy`` alone)."""
    def load(f):
        try:
            array = np.load(f, allow_pickle=False)
        except Exception as e:
            raise UserError(f"{f}: not a readable .npy array ({type(e).__name__}: {one_line(e)})") from None
        return _checked(f, f.stem, array)

    y_file = file.with_name("y.npy")
    if file.name == "y.npy" and file.with_name("x.npy").is_file():
        file = file.with_name("x.npy")
    if not labelled:
        return _array_corpus(file, load(file), None, None, None, None, None, problems, "npy", labelled)
    if not y_file.is_file():
        raise UserError(f"{y_file}: missing; labels for {file.name} go in a sibling y.npy "
                        f"(or pass it as unlabelled --pretrain-data)")
    split_file = file.with_name("split.npy")
    split = load(split_file) if split_file.is_file() else None
    return _array_corpus(file, load(file), load(y_file), split, None, None, None, problems, "npy")
