"""Read protein corpora with Biopython into :class:`Record` rows (no residue checks yet).

Formats, by file name (``.gz`` allowed except for structures):

* FASTA, plain or aligned: ``.fasta .fa .faa .fas .mfa .afa .afasta .seq`` (``Bio.SeqIO`` ``fasta``);
* Stockholm: ``.sto .stk .sth .stockholm`` (``Bio.AlignIO``; several alignments per file allowed);
  the family of each alignment is its ``#=GF ID`` line, else the file name;
* UniProt / Swiss-Prot flat files: ``.dat .swiss .sp .uniprot .txt`` (``Bio.SeqIO`` ``swiss``);
* structures: ``.pdb .ent`` (``Bio.PDB.PDBParser``) and ``.cif .mmcif`` (``Bio.PDB.MMCIFParser``):
  one record per protein chain of the first model, its sequence from the residues (standard,
  modified residues mapped to their parent, e.g. MSE -> M; unknown amino acids -> X; water,
  ligands and nucleotides left out) and its Cα coordinates (NaN where a residue has no CA).

``--data`` is a file or a folder. A folder is read with its sub-folders one level deep; when
the sequence files sit in sub-folders, each sub-folder's name is the class of its records
(ImageFolder style). A single ``.csv``/``.tsv`` in the folder is taken as the labels file.
Any other file (and a folder nested deeper) is not read and is listed as skipped; hidden
files (``.DS_Store``) are ignored. A file that cannot be parsed raises :class:`BadRecord`
naming it, so that ``--on-bad-record skip`` leaves that one file out.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from core.errors import SKIP_FIX, BadRecord, UserError
from core.io import open_text, read_text

FASTA = (".fasta", ".fa", ".faa", ".fas", ".mfa", ".afa", ".afasta", ".seq")
STOCKHOLM = (".sto", ".stk", ".sth", ".stockholm")
SWISS = (".dat", ".swiss", ".sp", ".uniprot", ".txt")
PDB = (".pdb", ".ent")
MMCIF = (".cif", ".mmcif")
TABLES = (".csv", ".tsv")
SEQUENCE_SUFFIXES = FASTA + STOCKHOLM + SWISS + PDB + MMCIF
HINT = ("pass --data a FASTA, Stockholm, UniProt (.dat) or PDB/mmCIF file, or a folder of them "
        "(see `core list datasets`)")


@dataclass
class Record:
    """One sequence as read: ``id``, raw ``sequence``, where it came from, optional label/coords."""

    id: str
    sequence: str
    where: str  # "file:record" for messages
    description: str = ""
    family: Optional[str] = None  # Stockholm #=GF ID / file / sub-folder class
    coords: Optional[np.ndarray] = None  # (n, 3) Cα coordinates for structures
    annotations: Optional[dict] = None  # UniProt annotations (organism, taxonomy, keywords, ...)


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def find_files(path) -> tuple[list[tuple[Path, Optional[str]]], Optional[Path], list[tuple[str, str]]]:
    """``([(file, class from sub-folder or None)], labels table or None, [(ignored path, why)])``
    for ``--data path``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"{path}: no such file or folder; {HINT}")
    if path.is_file():
        if suffix_of(path) not in SEQUENCE_SUFFIXES:
            raise UserError(f"{path}: unknown file type '{suffix_of(path) or path.name}'; {HINT}")
        return [(path, None)], None, []
    files, tables, ignored = [], [], []

    def sort(entry: Path, klass: Optional[str]) -> None:
        if entry.name.startswith("."):
            return
        if entry.is_dir():
            ignored.append((str(entry), "a folder nested two levels deep is not read; move its files up"))
        elif suffix_of(entry) in SEQUENCE_SUFFIXES:
            files.append((entry, klass))
        elif klass is None and suffix_of(entry) in TABLES:
            tables.append(entry)
        else:
            ignored.append((str(entry), f"unsupported file type '{suffix_of(entry) or entry.name}' (not read); "
                                        f"protein/file reads FASTA, Stockholm, UniProt .dat and PDB/mmCIF files"))

    for entry in sorted(path.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            for inner in sorted(entry.iterdir()):
                sort(inner, entry.name)
        else:
            sort(entry, None)
    if not files:
        raise UserError(f"{path}: no sequence or structure file in this folder or its sub-folders; {HINT}")
    if len(tables) > 1:
        raise UserError(f"{path}: holds several label tables ({', '.join(p.name for p in tables)}); "
                        f"pass --labels FILE")
    return files, (tables[0] if tables else None), ignored


def record_prefix(file: Path, root: Path) -> str:
    """The id prefix of the records of ``file`` in a folder corpus: its path below ``root`` without
    the suffix (``a/s0`` for ``root/a/s0.pdb``), so ids are unique per path, not per file name."""
    relative = file.relative_to(root) if root in file.parents else Path(file.name)
    return (relative.parent / _stem(file)).as_posix()


def read_file(path: Path) -> list[Record]:
    kind = suffix_of(path)
    if kind in FASTA:
        return read_fasta(path)
    if kind in STOCKHOLM:
        return read_stockholm(path)
    if kind in SWISS:
        return read_swiss(path)
    return read_structure(path)


def _stem(path: Path) -> str:
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    return Path(name).stem


def read_fasta(path: Path) -> list[Record]:
    return parse_fasta(_text(path), path)


def parse_fasta(text: str, path: Path) -> list[Record]:
    """The records of FASTA ``text`` read from ``path`` (the whole file, or whole records of it)."""
    from Bio import SeqIO

    if text.strip() and not text.lstrip().startswith(">"):
        raise BadRecord(str(path), "not FASTA (the first line must start with '>')", SKIP_FIX)
    try:
        return [Record(r.id, str(r.seq), f"{path}:{r.id}", r.description)
                for r in SeqIO.parse(io.StringIO(text), "fasta")]
    except ValueError as e:
        raise BadRecord(str(path), f"cannot parse as FASTA ({one_line(e)})", SKIP_FIX) from None


def _text(path: Path) -> str:
    """The UTF-8 text of ``path`` (gunzipped); undecodable or corrupt content is a :class:`BadRecord`."""
    import zlib

    with open_text(path) as f:
        try:
            return f.read()
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as e:
            raise unreadable(path, e) from None


def unreadable(path: Path, e: Exception) -> BadRecord:
    """A file whose bytes are not UTF-8 text (or corrupt gzip data): one bad record."""
    return BadRecord(str(path), f"cannot read as UTF-8 text ({type(e).__name__}: {one_line(e, 80)})", SKIP_FIX)


def one_line(e: Exception, n: int = 200) -> str:
    """An exception's text on one line, at most ``n`` characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= n else text[: n - 3] + "..."


_GF_ID = re.compile(r"^#=GF\s+ID\s+(\S+)")


def read_stockholm(path: Path) -> list[Record]:
    """Every alignment of a Stockholm file; gaps are removed later (``alphabet.clean``)."""
    from Bio import AlignIO

    text = _text(path)
    families, current = [], None
    for line in text.splitlines():  # Bio.AlignIO does not expose #=GF ID: read it per block
        m = _GF_ID.match(line)
        if m:
            current = m.group(1)
        elif line.strip() == "//":
            families.append(current or _stem(path))
            current = None
    try:
        alignments = list(AlignIO.parse(io.StringIO(text), "stockholm"))
    except ValueError as e:
        raise BadRecord(str(path), f"cannot parse as Stockholm ({one_line(e)})", SKIP_FIX) from None
    if not alignments:
        raise BadRecord(str(path), "no Stockholm alignment found ('# STOCKHOLM 1.0' ... '//')", SKIP_FIX)
    out = []
    for a, alignment in enumerate(alignments):
        family = families[a] if a < len(families) else _stem(path)
        out += [Record(r.id, str(r.seq), f"{path}:{r.id}", r.description, family=family) for r in alignment]
    return out


def read_swiss(path: Path) -> list[Record]:
    from Bio import SeqIO

    text = _text(path)
    try:
        records = list(SeqIO.parse(io.StringIO(text), "swiss"))
    except Exception as e:  # Bio's swiss parser raises ValueError, AssertionError, IndexError, ...
        raise BadRecord(str(path), f"cannot parse as a UniProt/Swiss-Prot flat file ({type(e).__name__}: "
                                   f"{one_line(e)})", SKIP_FIX) from None
    return [Record(r.id, str(r.seq), f"{path}:{r.id}", r.description, annotations=dict(r.annotations))
            for r in records]


def residue_letter(name: str) -> Optional[str]:
    """One-letter code of a residue name, or None when it is not an amino acid."""
    from Bio.Data import PDBData
    from Bio.PDB.Polypeptide import is_aa
    from Bio.SeqUtils import seq1

    name = name.strip().upper()
    if is_aa(name, standard=True) or name in ("SEC", "PYL", "ASX", "GLX", "XLE"):
        return seq1(name, custom_map={"XLE": "J"})
    if name in PDBData.protein_letters_3to1_extended:
        return PDBData.protein_letters_3to1_extended[name]
    if name == "UNK" or is_aa(name, standard=False):
        return "X"
    return None


def read_structure(path: Path) -> list[Record]:
    """One record per protein chain of the first model: sequence + Cα coordinates."""
    import warnings

    from Bio.PDB import MMCIFParser, PDBParser
    from Bio.PDB.PDBExceptions import PDBConstructionWarning

    if path.name.lower().endswith(".gz"):
        raise UserError(f"{path}: gunzip structure files first (PDB/mmCIF are read uncompressed)")
    parser = MMCIFParser(QUIET=True) if suffix_of(path) in MMCIF else PDBParser(QUIET=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PDBConstructionWarning)
            structure = parser.get_structure(_stem(path), str(path))
    except Exception as e:  # Bio.PDB raises many kinds on malformed files
        kind = "mmCIF" if suffix_of(path) in MMCIF else "PDB"
        raise BadRecord(str(path), f"cannot parse as a {kind} structure ({type(e).__name__}: {one_line(e)})",
                        SKIP_FIX) from None
    models = list(structure)
    if not models:
        raise BadRecord(str(path), "the structure has no model (no ATOM records)", SKIP_FIX)
    out = []
    for chain in models[0]:
        letters, coords = [], []
        for residue in chain:
            letter = residue_letter(residue.get_resname())
            if letter is None:
                continue
            letters.append(letter)
            coords.append(residue["CA"].coord if "CA" in residue else (np.nan, np.nan, np.nan))
        if letters:
            rid = f"{_stem(path)}:{chain.id}"
            out.append(Record(rid, "".join(letters), f"{path}:chain {chain.id}",
                              coords=np.asarray(coords, dtype=np.float32)))
    if not out:
        raise BadRecord(str(path), "no protein chain (no amino-acid residues)", SKIP_FIX)
    return out


def read_labels(path: Path, id_col: Optional[str], label_col: Optional[str]) -> tuple[dict, str]:
    """``({id: label text}, label column)`` from a CSV/TSV with a header row."""
    import csv

    text = read_text(path, HINT)
    delimiter = "\t" if suffix_of(path) == ".tsv" else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise UserError(f"{path}: the labels table needs a header row and at least one row")
    header = [h.strip() for h in rows[0]]
    lower = {h.lower(): h for h in header}

    def pick(name, what, flag):
        if name in header:
            return name
        if name and name.lower() in lower:
            return lower[name.lower()]
        raise UserError(f"{path}: no {what} column '{name}'; it has {', '.join(header)} (pass {flag} NAME)")

    if id_col:
        id_col = pick(id_col, "id", "--id-col")
    else:
        id_col = next((lower[n] for n in ("id", "accession", "name", "sequence_id", "protein", "entry", "record")
                       if n in lower), header[0])
    if label_col:
        label_col = pick(label_col, "label", "--label-col")
    else:
        rest = [h for h in header if h != id_col and h.lower() not in ("sequence", "seq", "split")]
        if len(rest) != 1:
            raise UserError(f"{path}: cannot tell the label column among {', '.join(rest) or 'none'}; "
                            f"pass --label-col NAME")
        label_col = rest[0]
    i, j = header.index(id_col), header.index(label_col)
    labels = {}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UserError(f"{path}:{n}: has {len(row)} fields but the header has {len(header)}; fix the row")
        key = row[i].strip()
        if key in labels:
            raise UserError(f"{path}:{n}: id '{key}' appears twice; keep one row per id")
        labels[key] = row[j].strip()
    return labels, label_col
