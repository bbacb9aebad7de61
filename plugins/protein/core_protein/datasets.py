"""Dataset factories: the embedded AMPvsUniProt peptides and ``protein/file`` for ``--data``.

Pipeline (:func:`build`): records from the readers -> residue policy (``alphabet``: clean,
encode, a bad character is a bad record) -> length policy (crop or bad record, recorded) ->
labels (labels table, header regex, UniProt annotation, or family: Stockholm ``#=GF ID``,
sub-folder, file) -> task -> split (random or k-mer identity clusters) -> splits, with
``pretrain`` = train + val without labels (never test).
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from dataclasses import replace
from typing import Optional

import numpy as np

from core.data import unlabelled_corpus
from core.errors import SKIP_FIX, BadRecord, BadRecords, UserError
from core.splits import SPLITS, seed_of
from core.specs import InputSpec, LoadedDataset, Task
from core_protein import alphabet, readers
from core_protein.batches import ProteinSplit, join
from core_protein.options import EMBEDDED_OPTIONS, Options, parse_options
from core_protein.splits import assign_splits

log = logging.getLogger("core.protein")
DATA_DIR = Path(__file__).parent / "data"
AMP_FILE = DATA_DIR / "amp_vs_uniprot.fasta.gz"
PROTEOME_FILE = DATA_DIR / "proteome_938293.faa.gz"
MISSING = ("", "nan", "na", "n/a", "none", "null", "?")


class Problems(BadRecords):
    """Bad sequences: the ``failed`` rows keep their id and input index."""

    def record(self, record: readers.Record, reason: str, index: int, fix: str = SKIP_FIX) -> None:
        self.bad(record.where, reason, fix, id=record.id, input_index=index)


def _number(text: str) -> Optional[float]:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def infer_task(texts: list, task: str, source: str) -> tuple[str, tuple]:
    """``(kind, class_names)`` from the label texts of the kept records."""
    numbers = [_number(t) for t in texts]
    numeric = all(v is not None and math.isfinite(v) for v in numbers)
    if task == "auto":
        if numeric and set(numbers) <= {0.0, 1.0}:
            return "binary", ("0", "1")
        if numeric:
            return "regression", ()
        names = tuple(sorted(set(texts)))
        return ("binary" if len(names) == 2 else "multiclass"), names
    if task == "regression":
        bad = next((t for t, v in zip(texts, numbers) if v is None or not math.isfinite(v)), None)
        if bad is not None:
            raise UserError(f"{source}: task=regression but label '{bad}' is not a finite number; "
                            f"fix the labels or pass --task multiclass")
        return "regression", ()
    names = tuple(sorted(set(texts), key=lambda s: (_number(s) is None, _number(s) or 0.0, s)))
    if task == "binary" and len(names) != 2:
        raise UserError(f"{source}: task=binary needs 2 classes, the labels have {len(names)} "
                        f"({', '.join(names[:5])}); use --task multiclass")
    return task, names


def _label_of(record: readers.Record, short_id: str, opts: Options, table: Optional[dict], table_path) -> tuple:
    """``(label text or None, why missing or None)`` by the first label source that applies."""
    if table is not None:
        for key in (record.id, short_id):
            if key in table:
                return table[key], None
        return None, f"no label for id '{short_id}' in {Path(table_path).name}"
    if opts.label_regex:
        m = re.search(opts.label_regex, record.description or record.id)
        if not m:
            return None, f"header '{record.description or record.id}' does not match --label-regex {opts.label_regex!r}"
        groups = m.groupdict()
        return (groups["label"] if "label" in groups else (m.group(1) if m.groups() else m.group(0))), None
    if opts.label_field:
        value = (record.annotations or {}).get(opts.label_field)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value in (None, ""):
            return None, f"no '{opts.label_field}' annotation to use as label"
        return str(value), None
    return record.family, None


def keep_record(record: readers.Record, index: int, opts: Options, problems: Problems, duplicate: bool,
                label: Optional[str], why: Optional[str]) -> Optional[tuple]:
    """One record through the residue, length and label policies: ``(all token ids, Cα
    coordinates cropped to max_length or None, stripped label or None)``, or None when it is bad
    (reported to ``problems``). ``index``: its position in the input; ``duplicate``: its id came
    earlier in the corpus; ``label``, ``why``: from :func:`_label_of` (both None unlabelled)."""
    if duplicate:
        problems.record(record, f"id '{record.id}' appears twice in the corpus", index,
                        "give every record a unique id, or pass --on-bad-record skip")
        return None
    text = alphabet.clean(record.sequence)
    try:
        ids = alphabet.encode(text)
    except ValueError as e:
        problems.record(record, str(e), index)
        return None
    if len(ids) > opts.max_length and opts.long_policy == "error":
        problems.record(record, f"{len(ids)} residues, longer than --max-length {opts.max_length}", index,
                        "raise --max-length, pass --long-policy crop, or --on-bad-record skip")
        return None
    if why:
        problems.record(record, why, index)
        return None
    if label is not None and label.strip().lower() in MISSING:
        problems.record(record, f"empty label '{label}'", index)
        return None
    c = record.coords
    if c is not None:  # structures: one Cα row per residue letter (no gaps, no stop)
        c = np.ascontiguousarray(c[: opts.max_length], dtype=np.float32)
    return ids, c, None if label is None else label.strip()


def encode_labels(labels: list, wheres: list, opts: Options, source: str, class_names: Optional[tuple] = None,
                  primary_metric: str = "") -> tuple:
    """``(y or None, Task)`` of the usable records' stripped labels (``None``: no label; every
    record or none must have one); ``wheres`` name the records in messages."""
    labelled = [l for l in labels if l is not None]
    if labelled and len(labelled) != len(labels):
        raise UserError(f"{source}: {len(labels) - len(labelled)} of {len(labels)} records have no label "
                        f"(e.g. {wheres[labels.index(None)]}); label every record or none")
    if not labelled:
        return None, Task("multiclass", ())
    if class_names is not None:
        kind, names = "binary" if len(class_names) == 2 else "multiclass", class_names
    else:
        kind, names = infer_task(labelled, opts.task, source)
    if kind == "regression":
        y = np.asarray([float(l) for l in labels], dtype=np.float32)
    else:
        lookup = {c: i for i, c in enumerate(names)}
        for c in set(labels) - set(lookup):
            raise UserError(f"{source}: label '{c}' is not one of {', '.join(names)}")
        y = np.asarray([lookup[l] for l in labels], dtype=np.int64)
    return y, Task(kind, names, primary_metric=primary_metric)


def build(records: list, short_ids: list, opts: Options, problems: Problems, seed: int, name: str, source: str,
          table: Optional[dict] = None, table_path=None, class_names: Optional[tuple] = None,
          primary_metric: str = "", extra_pretrain: Optional[ProteinSplit] = None,
          unlabelled: bool = False) -> LoadedDataset:
    """Residues, lengths, labels, task and splits -> :class:`LoadedDataset` (module docstring).

    ``unlabelled``: no label is looked up; every usable record goes to one ``pretrain`` pool
    (:func:`core.data.unlabelled_corpus`) with the same input spec as a labelled read."""
    seen, kept, tokens, coords, labels, lengths, inputs = set(), [], [], [], [], [], []
    cropped = 0
    for index, (record, short) in enumerate(zip(records, short_ids)):
        duplicate = record.id in seen
        seen.add(record.id)
        label, why = (None, None) if unlabelled else _label_of(record, short, opts, table, table_path)
        usable = keep_record(record, index, opts, problems, duplicate, label, why)
        if usable is None:
            continue
        ids, c, label = usable
        cropped += len(ids) > opts.max_length
        kept.append(record)
        tokens.append(ids[: opts.max_length])
        coords.append(c)
        labels.append(label)
        lengths.append(len(ids))
        inputs.append(index)
    if not kept:
        first = f"; first problem: {problems.skipped[0][0]}: {problems.skipped[0][1]}" if problems.skipped else ""
        raise UserError(f"{source}: no usable sequences{first}")
    if cropped:
        log.warning("%s: %d sequence(s) longer than %d residues were cropped to their first %d (long_policy=crop; "
                    "their full length is in the 'length' column of `core embed`)", source, cropped,
                    opts.max_length, opts.max_length)

    structure = any(c is not None for c in coords)
    if structure and any(c is None for c in coords):
        raise UserError(f"{source}: mixes structures with plain sequences; read them as separate corpora")
    spec = input_spec(opts, structure)
    length_note = f"max length {opts.max_length} ({cropped} cropped)" if cropped else f"max length {opts.max_length}"
    if unlabelled:
        pool = ProteinSplit([r.id for r in kept], tokens, None, coords if structure else None,
                            {"length": lengths, "input_index": inputs})
        return unlabelled_corpus(pool, spec, name=name, source=f"{source}; unlabelled, {len(pool)} sequences; "
                                 f"{length_note}", skipped=problems.skipped, failed=problems.failed)

    y, task = encode_labels(labels, [r.where for r in kept], opts, source, class_names, primary_metric)
    parts, clusters, how = assign_splits(tokens, y, opts, seed_of(opts.split_seed, seed), source)
    extra = {"length": lengths, "input_index": inputs}
    if clusters is not None:
        extra["cluster"] = [int(c) for c in clusters]
    full = ProteinSplit([r.id for r in kept], tokens, y, coords if structure else None, extra)
    train, val, test = (full.subset(parts[s]) for s in SPLITS)
    pool = [train, val] + ([extra_pretrain] if extra_pretrain is not None else [])
    pretrain = join(pool)
    notes = [how, length_note]
    if extra_pretrain is not None:
        notes.append(f"+{len(extra_pretrain)} unlabelled pretraining sequences")
    return LoadedDataset(splits={"pretrain": pretrain, "train": train, "val": val, "test": test}, input_spec=spec,
                         task=task, name=name, source=f"{source}; {'; '.join(notes)}",
                         skipped=problems.skipped, failed=problems.failed)


# -- --data ------------------------------------------------------------------------------------------------
def open_corpus(path, options, on_bad_record: str, unlabelled: bool) -> tuple:
    """``(options, files, labels table, its file, problems)`` of ``--data path`` (files not read
    already listed): what the in-memory reader and the ``core prepare`` stream start from."""
    if path is None:
        raise UserError("protein/file reads your proteins: pass --data FILE_OR_FOLDER (FASTA, Stockholm, "
                        "UniProt .dat, PDB/mmCIF)")
    opts = parse_options(options, "protein/file")
    files, table_file, ignored = readers.find_files(path)
    problems = Problems(on_bad_record)
    for where, why in ignored:
        problems.not_read(where, why)
    table, table_file = label_table(opts, table_file, unlabelled)
    return opts, files, table, table_file, problems


def load_file(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None,
              unlabelled: bool = False) -> LoadedDataset:
    """Your proteins via ``--data``: FASTA (+ labels table / header regex), Stockholm, UniProt, PDB/mmCIF.

    ``unlabelled=True`` (``--pretrain-data``): the same files without labels (e.g. a FASTA with
    bare headers); a labels table, class sub-folders and label/split options are ignored."""
    opts, files, table, table_file, problems = open_corpus(path, options, on_bad_record, unlabelled)
    records, short_ids = [], []
    several = len(files) > 1
    fasta_files = sum(readers.suffix_of(f) in readers.FASTA for f, _ in files)
    root = Path(path).expanduser()
    for file, klass in files:
        try:
            got = readers.read_file(file)
        except BadRecord as e:  # a file that cannot be parsed is one bad record (skip mode leaves it out)
            problems.bad(e.record, e.reason, id=e.record)
            continue
        short_ids += name_records(got, file, klass, root, several, fasta_files, unlabelled)
        records += got
    if not records:
        first = f"; first problem: {problems.skipped[0][0]}: {problems.skipped[0][1]}" if problems.skipped else ""
        raise UserError(f"{path}: no sequence records found{first}; {readers.HINT}")
    source = f"{path} ({len(files)} file{'s' if several else ''})"
    return build(records, short_ids, opts, problems, seed, "protein/file", source, table=table,
                 table_path=table_file, unlabelled=unlabelled)


def label_table(opts: Options, found: Optional[Path], unlabelled: bool) -> tuple:
    """``({id: label text} or None, its path or None)``: ``--labels``, else the table found in
    the ``--data`` folder; none when unlabelled or when labels come from headers / annotations."""
    table_file = found
    if unlabelled:
        if table_file is not None:
            log.info("%s: labels table not read (an unlabelled corpus for pretraining)", table_file)
        table_file = None
    elif opts.labels:
        table_file = Path(opts.labels).expanduser()
        if not table_file.exists():
            raise UserError(f"--labels {table_file}: no such file; check the path")
    table = None
    if table_file is not None and not opts.label_regex and not opts.label_field:
        table, _ = readers.read_labels(table_file, opts.id_col, opts.label_col)
    return table, table_file


def input_spec(opts: Options, structure: bool) -> InputSpec:
    return InputSpec("tokens", (opts.max_length,), dtype="int64", vocab_size=alphabet.VOCAB_SIZE,
                     channel_names=("residue", "ca") if structure else ("residue",))


def name_records(got: list, file: Path, klass: Optional[str], root: Path, several: bool, fasta_files: int,
                 unlabelled: bool) -> list:
    """Give the records read from ``file`` their corpus ids and families (in place); returns
    their ids as read (the labels table may key by either)."""
    structure = readers.suffix_of(file) in readers.PDB + readers.MMCIF
    prefix = readers.record_prefix(file, root)
    short_ids = []
    for r in got:
        short_ids.append(r.id)
        if several:  # ids unique per path: a/s0.pdb chain A is 'a/s0:A', b/x.fasta record P1 'b/x/P1'
            r.id = prefix + r.id[len(readers._stem(file)):] if structure else f"{prefix}/{r.id}"
        if unlabelled:
            r.family = None
        elif klass is not None:
            r.family = klass
        elif r.family is None and fasta_files > 1 and readers.suffix_of(file) in readers.FASTA:
            r.family = readers._stem(file)  # a folder of (aligned) FASTA files: one family per file
    return short_ids


# -- embedded ----------------------------------------------------------------------------------------------
def proteome_windows(crop: int) -> ProteinSplit:
    """The embedded proteome cut into non-overlapping windows of ``crop`` residues (unlabelled)."""
    ids, tokens = [], []
    for r in readers.read_fasta(PROTEOME_FILE):
        seq = alphabet.encode(alphabet.clean(r.sequence))
        for start in range(0, len(seq), crop):
            piece = seq[start:start + crop]
            if len(piece) >= 8:
                ids.append(f"proteome/{r.id}/{start + 1}")
                tokens.append(piece)
    return ProteinSplit(ids, tokens)


def load_amp(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None) -> LoadedDataset:
    """modlamp's AMPvsUniProt (embedded): 5200 peptides, antimicrobial (AMP) vs random UniProt, balanced."""
    if path is not None:
        raise UserError(f"protein/amp is embedded and takes no --data ({path}); read your own proteins with "
                        f"--dataset protein/file --data FILE")
    opts = parse_options(options, "protein/amp", EMBEDDED_OPTIONS)
    opts = replace(opts, label_regex=r"class=(\w+)")
    records = readers.read_fasta(AMP_FILE)
    extra = proteome_windows(opts.pretrain_crop) if opts.pretrain_proteome else None
    return build(records, [r.id for r in records], opts, Problems(on_bad_record), seed, "protein/amp",
                 "modlamp 4.3.3 AMPvsUniProt (embedded)", class_names=("UniProt", "AMP"),
                 primary_metric="accuracy", extra_pretrain=extra)
