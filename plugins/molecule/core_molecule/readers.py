"""Read molecule corpora into :class:`Entry` rows (no chemistry yet; see ``datasets``).

Formats, by file name (``.gz`` allowed on each):

* ``.csv`` / ``.tsv`` / ``.txt``: a table with a header row, read with the ``csv`` module
  (quoted fields; ``.txt`` is sniffed);
* ``.smi`` / ``.smiles``: whitespace-separated ``SMILES [name]`` lines, or a header line
  starting with ``smiles`` that names the columns;
* ``.sdf`` / ``.sd`` / ``.mol``: MDL records separated by ``$$$$``, with data items
  (``> <NAME>``) as properties; the title line is the record's name.

A folder is read when it holds exactly one such file; its other files are not read and are
listed as skipped (hidden files such as ``.DS_Store`` are ignored). Every entry knows its file
and line so that errors name them.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from core.errors import UserError
from core.io import read_text

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
SMI_SUFFIXES = (".smi", ".smiles")
SDF_SUFFIXES = (".sdf", ".sd", ".mol")
ALL_SUFFIXES = TABLE_SUFFIXES + SMI_SUFFIXES + SDF_SUFFIXES
HINT = "pass --data a .csv/.tsv (with a header row), .smi or .sdf file (optionally .gz)"


@dataclass
class Entry:
    """One record of the input: where it is, its SMILES or molecule block, its other fields."""

    where: str  # "file:line" for messages
    line: int
    smiles: Optional[str] = None  # text formats
    block: Optional[str] = None  # SDF: the molecule block up to M  END
    title: str = ""  # SDF title line
    values: dict = field(default_factory=dict)  # column / property -> text


@dataclass
class Table:
    path: Path
    format: str  # "table", "smi" or "sdf"
    columns: list  # column names (tables) or property names seen (sdf)
    entries: list
    smiles_col: Optional[str] = None  # set for text formats once chosen
    ignored: list = field(default_factory=list)  # (path, why) of files beside it that are not read


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def resolve(path) -> tuple[Path, list]:
    """``(the molecule file, [(other file in the folder, why it is not read)])`` for ``--data path``."""
    path = Path(path).expanduser()
    ignored = []
    if not path.exists():
        raise UserError(f"{path}: no such file or folder; {HINT}")
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and suffix_of(p) in ALL_SUFFIXES)
        if not found:
            raise UserError(f"{path}: no molecule file in this folder; {HINT}")
        if len(found) > 1:
            raise UserError(f"{path}: holds several molecule files ({', '.join(p.name for p in found[:4])}); "
                            f"pass --data {found[0]}")
        ignored = [(str(p), f"not a molecule file (not read); {found[0].name} is the corpus")
                   for p in sorted(path.iterdir()) if p != found[0] and not p.name.startswith(".")]
        path = found[0]
    if suffix_of(path) not in ALL_SUFFIXES:
        raise UserError(f"{path}: unknown file type '{suffix_of(path) or path.name}'; {HINT}")
    return path, ignored


def read(path, sep: Optional[str] = None) -> Table:
    path, ignored = resolve(path)
    kind = suffix_of(path)
    if kind in SDF_SUFFIXES:
        table = read_sdf(path)
    elif kind in SMI_SUFFIXES:
        table = read_smi(path, sep)
    else:
        table = read_table(path, sep)
    table.ignored = ignored
    return table


# -- tables ------------------------------------------------------------------------------------
def read_table(path: Path, sep: Optional[str] = None) -> Table:
    text = read_text(path, HINT, encoding="utf-8-sig", newline="")
    if not text.strip():
        raise UserError(f"{path}: the file is empty; {HINT}")
    if sep is None:
        kind = suffix_of(path)
        if kind == ".tsv":
            sep = "\t"
        elif kind == ".csv":
            sep = ","
        else:
            try:
                sep = csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
            except csv.Error:
                sep = ","
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    try:
        header = next(reader)
    except csv.Error as e:
        raise UserError(f"{path}:1: cannot parse the header ({e})") from None
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise UserError(f"{path}:1: column '{dup}' appears twice in the header; rename one")
    entries, line = [], 1
    try:
        for row in reader:
            start, line = line + 1, reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise UserError(f"{path}:{start}: has {len(row)} fields but the header has {len(header)}; "
                                f"fix the row (quote fields that contain '{sep}')")
            entries.append(Entry(f"{path}:{start}", start, values=dict(zip(header, (c.strip() for c in row)))))
    except csv.Error as e:
        raise UserError(f"{path}:{reader.line_num}: cannot parse ({e})") from None
    return Table(path, "table", header, entries)


def read_smi(path: Path, sep: Optional[str] = None) -> Table:
    lines = read_text(path, HINT, encoding="utf-8-sig", newline="").splitlines()
    split = (lambda s: s.split(sep)) if sep else (lambda s: s.split())
    header, entries = None, []
    for n, raw in enumerate(lines, start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in split(raw.strip())]
        if header is None and not entries and parts[0].lower() in ("smiles", "smi"):
            header = parts
            continue
        names = header or ["smiles", "name"]
        if header and len(parts) != len(header):
            raise UserError(f"{path}:{n}: has {len(parts)} fields but the header has {len(header)}; fix the line")
        if not header:
            parts = parts[:1] + [" ".join(parts[1:])] if len(parts) > 1 else parts + [""]
        entries.append(Entry(f"{path}:{n}", n, values=dict(zip(names, parts))))
    columns = header or ["smiles", "name"]
    return Table(path, "smi", columns, entries, smiles_col=columns[0])


# -- SDF -----------------------------------------------------------------------------------------
def read_sdf(path: Path) -> Table:
    """Split into records at ``$$$$``; the molecule block ends at ``M  END``; data items follow."""
    lines = read_text(path, HINT, encoding="utf-8-sig", newline="").splitlines()
    entries, columns, start, buf = [], [], 1, []

    def flush():
        nonlocal buf
        if any(l.strip() for l in buf):
            entries.append(_sdf_entry(path, start, len(entries) + 1, buf, columns))
        buf = []

    for n, raw in enumerate(lines, start=1):
        if raw.strip() == "$$$$":
            flush()
            start = n + 1
            continue
        buf.append(raw)
    flush()
    if not entries:
        raise UserError(f"{path}: no SDF records found; {HINT}")
    return Table(path, "sdf", columns, entries)


def _sdf_entry(path: Path, start: int, number: int, lines: list, columns: list) -> Entry:
    end = next((i for i, l in enumerate(lines) if l.startswith("M  END")), None)
    where = f"{path}:{start}"
    entry = Entry(where, start, title=lines[0].strip() if lines else "")
    entry.values["_record"] = str(number)
    if end is None:
        entry.block = None  # reported as a bad record by the dataset builder
        return entry
    entry.block = "\n".join(lines[: end + 1]) + "\n"
    i = end + 1
    while i < len(lines):
        head = lines[i].strip()
        if head.startswith(">") and "<" in head and ">" in head[head.index("<"):]:
            name = head[head.index("<") + 1: head.index(">", head.index("<"))]
            i += 1
            value = []
            while i < len(lines) and lines[i].strip():
                value.append(lines[i].rstrip())
                i += 1
            entry.values[name] = "\n".join(value).strip()
            if name not in columns:
                columns.append(name)
        i += 1
    return entry
