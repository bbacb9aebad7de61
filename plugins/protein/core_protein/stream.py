"""Protein files read record by record for ``core prepare`` (``DatasetSpec.stream`` and
``shard_split`` of ``protein/file``).

Reads what ``--data`` reads (FASTA, Stockholm, UniProt .dat, PDB/mmCIF; a file or a folder,
with a labels table, ``--label-regex``, ``--label-field``, class sub-folders or families).
Planning streams every file once, keeping per record only its id, label and input position:
a FASTA file is read in blocks of whole records (:func:`fasta_blocks`; plain files become
one work unit per block, gzipped ones one unit each), other files are parsed one at a time.
Workers then parse their unit again and run each record through the in-memory reader's
policies (:func:`core_protein.datasets.keep_record`: duplicate ids, residues, length, label),
so ids, bad records and their messages, labels and model inputs are the same. What differs:

* the task and class names come from the labels of every record with a unique id and a label
  (in memory: of the records that also pass the residue and length checks), and a labelled
  corpus needs labels (else: prepare it with ``--unlabelled``);
* ``--split random`` needs nothing more; ``--split cluster`` carries each record's cleaned
  (cropped) sequence to the end of ``core prepare``, where the k-mer clustering holds every
  sequence in memory as it does in memory; the cluster ids are not stored, so ``core embed``
  has no ``cluster`` column for shards.

Stored per record: ``tokens`` (cropped residue ids as uint8: the alphabet has 27), ``length``
(before cropping), ``input_index`` and, for structures, ``coords`` (Cα, float32). Training
reads ids, never text. :class:`ProteinShardSplit` gives items, ``collate_fn``,
``raw_features()`` and ``metadata()`` as :class:`core_protein.batches.ProteinSplit` does.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch

from core.errors import BadRecord, UserError
from core.shards import CorpusStream, StoredSplit
from core_protein import alphabet, readers
from core_protein.batches import collate
from core_protein.datasets import (MISSING, Problems, _label_of, encode_labels, input_spec, keep_record,
                                   name_records, open_corpus)
from core_protein.options import Options
from core_protein.splits import assign_splits

RECORDS_PER_UNIT = 1024  # records per work unit (a FASTA block, or whole small files grouped)


@dataclass(frozen=True)
class Plan:
    """What every worker needs to name and check the records of a unit (picklable)."""

    opts: Options
    root: str
    several: bool
    fasta_files: int
    unlabelled: bool
    structure: bool


@dataclass(frozen=True)
class Piece:
    """Records of one file: a byte range of a plain FASTA file, or the whole file (``start``
    None); ``infos`` one ``(input index, duplicate id, label, why no label, y)`` per record."""

    file: str
    klass: Optional[str]
    start: Optional[int]
    end: Optional[int]
    infos: tuple


def stream_file(path, *, on_bad_record: str = "error", options=None, unlabelled: bool = False) -> CorpusStream:
    """The :class:`core.shards.CorpusStream` of the protein files at ``path`` (module docstring)."""
    opts, files, table, table_file, problems = open_corpus(path, options, on_bad_record, unlabelled)
    root = Path(path).expanduser()
    several = len(files) > 1
    fasta_files = sum(readers.suffix_of(f) in readers.FASTA for f, _ in files)
    source = f"{path} ({len(files)} file{'s' if several else ''})"
    pieces, candidates, seen, count, kinds = [], [], set(), 0, set()
    first_problem = None  # when no record has a usable label
    for file, klass in files:
        try:  # a whole file is read before any of its records count (a bad file is one bad record)
            read = [(start, end, _plan_records(got, file, klass, root, several, fasta_files, unlabelled, opts,
                                               table, table_file))
                    for start, end, got in _file_pieces(file)]
        except BadRecord as e:
            problems.bad(e.record, e.reason, id=e.record)
            continue
        if read and read[0][0] is None:  # read whole (not a plain FASTA file): one piece
            read = [(None, None, [r for _, _, records in read for r in records])]
        for start, end, records in read:
            infos = []
            for rid, label, why, where in records:
                duplicate = rid in seen
                seen.add(rid)
                infos.append([count, duplicate, label, why, None])
                if not duplicate and not why and (label is None or label.strip().lower() not in MISSING):
                    candidates.append((infos[-1], where))
                elif first_problem is None:
                    first_problem = f"{where}: {why or ('duplicate id' if duplicate else f'empty label {label!r}')}"
                count += 1
            if records:
                kinds.add(readers.suffix_of(file) in readers.PDB + readers.MMCIF)
            pieces.append((str(file), klass, start, end, infos))
    if not count:
        first = f"; first problem: {problems.skipped[0][0]}: {problems.skipped[0][1]}" if problems.skipped else ""
        raise UserError(f"{path}: no sequence records found{first}; {readers.HINT}")
    if len(kinds) > 1:
        raise UserError(f"{source}: mixes structures with plain sequences; read them as separate corpora")
    task = None
    if not unlabelled:
        if not candidates:
            raise UserError(f"{source}: no record has a usable label; first problem: {first_problem}")
        labels = [None if info[2] is None else info[2].strip() for info, _ in candidates]
        y, task = encode_labels(labels, [where for _, where in candidates], opts, source)
        if y is None:
            raise UserError(f"{source}: no labels (no labels table, --label-regex, --label-field, class sub-folders "
                            f"or Stockholm families); give them, or prepare it without labels with --unlabelled")
        for (info, _), value in zip(candidates, y):
            info[4] = value
    plan = Plan(opts, str(root), several, fasta_files, unlabelled, kinds == {True})
    units = _units([Piece(f, k, s, e, tuple(tuple(i) for i in infos)) for f, k, s, e, infos in pieces])
    carve = None if task is None else partial(_carve, opts, source)
    return CorpusStream(input_spec(opts, plan.structure), task, units, partial(read_unit, plan), carve,
                        list(problems.skipped), normalise=False, source=source)


def _plan_records(got: list, file: Path, klass, root: Path, several: bool, fasta_files: int, unlabelled: bool,
                  opts: Options, table, table_file) -> list:
    """``(id, label, why no label, where)`` of each record read from ``file`` (sequences dropped)."""
    short_ids = name_records(got, file, klass, root, several, fasta_files, unlabelled)
    return [(r.id, *((None, None) if unlabelled else _label_of(r, short, opts, table, table_file)), r.where)
            for r, short in zip(got, short_ids)]


def _units(pieces: list) -> list:
    """Pieces grouped into work units of about :data:`RECORDS_PER_UNIT` records, in order."""
    units, unit, size = [], [], 0
    for piece in pieces:
        if unit and size + len(piece.infos) > RECORDS_PER_UNIT:
            units.append(unit)
            unit, size = [], 0
        unit.append(piece)
        size += len(piece.infos)
    return units + ([unit] if unit else [])


# ----------------------------------------------------------------------------- reading files
def fasta_blocks(path: Path, records: Optional[int] = None) -> Iterator[tuple]:
    """``(start byte, end byte, text)`` of consecutive blocks of ``records`` whole FASTA
    records (the first block also holds anything before the first header), read sequentially
    (plain or gzipped). Text is decoded as :func:`core_protein.readers.read_fasta` reads it:
    UTF-8, universal newlines; undecodable bytes are a :class:`BadRecord` naming the file."""
    import gzip
    import zlib

    records = records or RECORDS_PER_UNIT
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            start = pos = n = 0
            lines: list = []
            for line in f:
                if line.startswith(b">"):
                    if n == records:
                        yield start, pos, _decode(path, b"".join(lines))
                        start, n, lines = pos, 0, []
                    n += 1
                lines.append(line)
                pos += len(line)
            yield start, pos, _decode(path, b"".join(lines))
    except (OSError, EOFError, zlib.error) as e:
        raise readers.unreadable(path, e) from None


def _decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise readers.unreadable(path, e) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _file_pieces(file: Path) -> Iterator[tuple]:
    """``(start, end, records)`` of ``file``: per block for a plain FASTA file, else the whole file."""
    if readers.suffix_of(file) not in readers.FASTA:
        yield None, None, readers.read_file(file)
        return
    gz = file.name.lower().endswith(".gz")
    for start, end, text in fasta_blocks(file):
        yield (None if gz else start), (None if gz else end), readers.parse_fasta(text, file)


def _blocks(piece: Piece) -> Iterator[list]:
    """The records of ``piece``, block by block, as the plan read them."""
    file = Path(piece.file)
    try:
        if piece.start is not None:
            with open(file, "rb") as f:
                f.seek(piece.start)
                yield readers.parse_fasta(_decode(file, f.read(piece.end - piece.start)), file)
        elif readers.suffix_of(file) in readers.FASTA:
            for _, _, text in fasta_blocks(file):
                yield readers.parse_fasta(text, file)
        else:
            yield readers.read_file(file)
    except BadRecord as e:
        raise UserError(f"{file}: changed while core prepare read it ({e.reason}); run core prepare again") from None


def read_unit(plan: Plan, unit: list, problems):
    """Yield ``(id, stored record, y, split)`` for each usable record of ``unit``; ``split`` is
    the cleaned (cropped) sequence under ``--split cluster``, else empty."""
    mine = Problems(problems.mode)  # the protein messages, into the caller's lists
    mine.skipped, mine.failed = problems.skipped, problems.failed
    opts = plan.opts
    for piece in unit:
        file = Path(piece.file)
        infos = iter(piece.infos)
        changed = UserError(f"{file}: changed while core prepare read it (other records); run core prepare again")
        for got in _blocks(piece):
            name_records(got, file, piece.klass, Path(plan.root), plan.several, plan.fasta_files, plan.unlabelled)
            for record in got:
                info = next(infos, None)
                if info is None:
                    raise changed
                index, duplicate, label, why, y = info
                usable = keep_record(record, index, opts, mine, duplicate, label, why)
                if usable is None:
                    continue
                ids, coords, _ = usable
                tokens = ids[: opts.max_length]
                stored = {"tokens": tokens.astype(np.uint8), "length": len(ids), "input_index": int(index)}
                if plan.structure:
                    stored["coords"] = coords
                split = alphabet.decode(tokens) if opts.split == "cluster" else ""
                yield record.id, stored, y, split
        if next(infos, None) is not None:
            raise changed


def _carve(opts: Options, source: str, ids, y, given, seed: int) -> dict:
    """The protein split policy (:func:`core_protein.splits.assign_splits`) once every record is read."""
    from core.splits import seed_of

    tokens = [alphabet.encode(g) for g in given] if opts.split == "cluster" else [None] * len(ids)
    return assign_splits(tokens, y, opts, seed_of(opts.split_seed, seed), source)[0]


# ----------------------------------------------------------------------------- reading back
def shard_split(records, positions, ids, targets, input_spec, meta) -> "ProteinShardSplit":
    """``DatasetSpec.shard_split`` of ``protein/file``: the stored records at ``positions``."""
    return ProteinShardSplit(records, positions, ids, targets)


class ProteinShardSplit(StoredSplit):
    """Stored records as a host split, like :class:`core_protein.batches.ProteinSplit`: items
    ``(ids, y, index)`` (``(ids, coords)`` for structures) collated by
    :func:`core_protein.batches.collate`; ``records`` (:class:`core.shards.ShardRecords`) and
    ``global_index`` let core read it chunk by chunk."""

    collate_fn = staticmethod(collate)

    def input(self, r: dict, i: int):
        ids = torch.from_numpy(r["tokens"].astype(np.int64))
        return ids if "coords" not in r else (ids, torch.from_numpy(np.array(r["coords"], np.float32)))

    def raw_features(self) -> np.ndarray:
        """Amino-acid composition and log10 length ``(N, 21)``, read by streaming."""
        return alphabet.composition_features([self.record(i)["tokens"].astype(np.int64) for i in range(len(self))])

    def metadata(self) -> dict:
        """Per-record columns for ``core embed``: the cleaned (cropped) sequence, ``length`` and ``input_index``."""
        rows = [self.record(i) for i in range(len(self))]
        return {"sequence": [alphabet.decode(r["tokens"]) for r in rows], "length": [r["length"] for r in rows],
                "input_index": [r["input_index"] for r in rows]}
