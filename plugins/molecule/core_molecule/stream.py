"""Molecule files read record by record for ``core prepare`` (``DatasetSpec.stream`` and
``shard_split`` of ``molecule/file``).

Reads what ``--data`` reads (CSV/TSV/.smi tables, SMILES lists, SDF). The per-record steps are
the in-memory reader's (:mod:`core_molecule.datasets`: :func:`~core_molecule.datasets.parse_row`,
:func:`~core_molecule.datasets.encode_targets`, :func:`~core_molecule.datasets.split_value`,
:func:`~core_molecule.datasets.featurise`), run in ``core prepare``'s worker processes, so ids,
bad records and their messages, targets, splits and model inputs are the same. What differs:

* the table's text (every cell; about 1/10 of the featurised corpus at ``fp_size`` 2048) is read
  up front and held while preparing; RDKit parsing, featurising and scaffolds run per record;
* columns are chosen and the task and class names inferred from the target cells of every row
  (in memory: of the rows whose molecule parses, which differs only when a class or a
  non-numeric value occurs only in rows with a bad molecule);
* a labelled corpus needs a target column (else: prepare it with ``--unlabelled``);
* scaffolds reach the split as a 20-hex-digit hash (BLAKE2b) of the scaffold SMILES; the split
  itself (balanced scaffold, random or column) is :func:`core_molecule.splits.assign_splits`.

Stored per molecule (featurised, so training never re-parses SMILES): ``atoms`` (n, ATOM_DIM)
float32, ``edge_index`` (2, 2m) int64, ``edges`` (2m, BOND_DIM) float32, ``fp`` (fp_size,)
uint8, ``tokens`` int64, ``smiles`` (UTF-8 bytes), ``input_index`` and ``line``: about 7.5 KiB per
molecule of the solubility set at ``fp_size`` 2048. :class:`MoleculeShardSplit` reads them back as the in-memory
:class:`core_molecule.graphs.MoleculeSplit` gives them (same items, ``collate_fn``,
``raw_features()``, ``metadata()``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import partial
from typing import Optional

import numpy as np
from core.errors import UserError
from core.shards import CorpusStream, StoredSplit
from core_molecule import chem, readers
from core_molecule.datasets import (Columns, Problems, _headerless_smiles, choose_columns, encode_targets,
                                    featurise, fingerprinter, infer_task, input_spec, parse_row, split_value,
                                    task_of)
from core_molecule.graphs import MolRef, MoleculeStore, collate
from core_molecule.options import Options, parse_options
from core_molecule.splits import assign_splits

ROWS_PER_UNIT = 256  # molecules per work unit


@dataclass(frozen=True)
class Plan:
    """What every worker needs to turn a row into a stored molecule (picklable)."""

    table: readers.Table  # path and format only (no rows)
    columns: Columns
    opts: Options
    labelled: bool
    kind: str = ""
    class_names: tuple = ()
    scaffolds: bool = False  # hash each molecule's scaffold for the split


def stream_file(path, *, on_bad_record: str = "error", options=None, unlabelled: bool = False) -> CorpusStream:
    """The :class:`core.shards.CorpusStream` of the molecule file at ``path`` (module docstring)."""
    if path is None:
        raise UserError("molecule/file reads your own molecules: pass --data FILE (.csv/.tsv/.smi/.sdf)")
    opts = parse_options(options)
    problems = Problems(on_bad_record)
    table = _headerless_smiles(readers.read(path, opts.sep))
    source = str(table.path)
    columns = choose_columns(table, opts, unlabelled=unlabelled)
    for where, why in table.ignored:
        problems.not_read(where, why)
    task, plan = None, Plan(replace(table, entries=[], ignored=[]), columns, opts, False)
    if not unlabelled:
        if not columns.targets:
            raise UserError(f"{source}: found no target column among {', '.join(table.columns)}; pass "
                            f"--target-col NAME, or prepare it without labels with --unlabelled")
        texts = {c: [e.values.get(c, "") for e in table.entries] for c in columns.targets}
        kind, class_names = infer_task(list(columns.targets), texts, opts.task, source)
        task = task_of(kind, class_names, columns.targets)
        plan = replace(plan, labelled=True, kind=kind, class_names=class_names, scaffolds=opts.split != "random")
    rows = list(enumerate(table.entries))
    units = [rows[i:i + ROWS_PER_UNIT] for i in range(0, len(rows), ROWS_PER_UNIT)]
    carve = None if task is None else partial(_carve, opts, columns.split is not None, source)
    return CorpusStream(input_spec(opts), task, units, partial(read_unit, plan), carve, list(problems.skipped),
                        normalise=False, source=source)


def read_unit(plan: Plan, unit: list, problems):
    """Yield ``(id, stored molecule, y, split)`` for each usable row ``(index, Entry)`` of ``unit``;
    ``split`` is the split cell (``''`` when empty) then, when the split needs them, ``|`` and
    the scaffold's hash."""
    mine = Problems(problems.mode)  # the molecule messages, into the caller's lists
    mine.skipped, mine.failed = problems.skipped, problems.failed
    std = chem.Standardiser(plan.opts.strip_salts, plan.opts.largest_fragment)
    fper = fingerprinter(plan.opts)
    for index, entry in unit:
        parsed = parse_row(plan.table, entry, index, plan.columns, plan.opts, std, mine)
        if parsed is None:
            continue
        y, split = None, ""
        if plan.labelled:
            targets = list(plan.columns.targets)
            texts = {c: [entry.values.get(c, "")] for c in targets}
            ys, ok = encode_targets(targets, texts, plan.kind, plan.class_names, [entry], mine, [parsed.id],
                                    [parsed.text], [index])
            if not ok[0]:
                continue
            if plan.columns.split:
                usable, given = split_value(entry, plan.columns.split, parsed.id, parsed.text, index, mine)
                if not usable:
                    continue
                split = given or ""
            if plan.scaffolds:
                split += "|" + scaffold_key(chem.scaffold(parsed.mol))
            y = ys[0]
        (atoms, edge_index, edges), fp, tokens = featurise(parsed.mol, parsed.smiles, plan.opts, fper)
        record = {"atoms": atoms, "edge_index": edge_index, "edges": edges, "fp": fp, "tokens": tokens,
                  "smiles": np.frombuffer(parsed.smiles.encode(), np.uint8),  # bytes: litdata would read a
                  "input_index": int(index), "line": int(entry.line)}  # string naming a file as that file
        yield parsed.id, record, y, split


def scaffold_key(scaffold: str) -> str:
    """A short stand-in for a scaffold SMILES in the split side files (same groups, bounded width)."""
    return hashlib.blake2b(scaffold.encode(), digest_size=10).hexdigest()


def _carve(opts: Options, has_split_col: bool, source: str, ids, y, given, seed: int) -> dict:
    """The molecule split policy (:func:`core_molecule.splits.assign_splits`) once every molecule is read."""
    from core.splits import seed_of

    cells = [(g or "").split("|", 1) for g in given]
    values = [c[0] or None for c in cells] if has_split_col else []
    keys = [c[1] if len(c) > 1 else "" for c in cells]
    return assign_splits(None, values, opts, seed_of(opts.split_seed, seed), source, y, scaffolds=keys)


# ----------------------------------------------------------------------------- reading back
def shard_split(records, positions, ids, targets, input_spec, meta) -> "MoleculeShardSplit":
    """``DatasetSpec.shard_split`` of ``molecule/file``: the stored molecules at ``positions``."""
    return MoleculeShardSplit(records, positions, ids, targets)


class MoleculeShardSplit(StoredSplit):
    """Stored molecules as a host split, like :class:`core_molecule.graphs.MoleculeSplit`: items
    ``(MolRef, y, index)`` collated by :func:`core_molecule.graphs.collate` (so a pool may chain
    it with in-memory splits). Positions are kept in ascending order, as the in-memory pretrain
    pool (train + val) is; ``records`` (:class:`core.shards.ShardRecords`) and ``global_index``
    let core read it chunk by chunk."""

    collate_fn = staticmethod(collate)

    def __init__(self, records, positions, ids, targets: Optional[np.ndarray]):
        super().__init__(records, positions, ids, targets, in_order=True)

    def input(self, r: dict, i: int) -> MolRef:
        span = lambda n: np.array([0, n], np.int64)  # noqa: E731  (one molecule: pointers 0..n)
        store = MoleculeStore([self.ids[i]], [smiles_of(r)], r["atoms"], span(len(r["atoms"])),
                              r["edge_index"], r["edges"], span(r["edge_index"].shape[1]), r["fp"][None], r["tokens"],
                              span(len(r["tokens"])))
        return MolRef(store, 0)

    def raw_features(self) -> np.ndarray:
        """The Morgan fingerprints as float32 ``(N, fp_size)``, read by streaming (a UserError
        above :data:`core.shards.RAW_FEATURES_LIMIT_BYTES`)."""
        if not len(self):
            return np.zeros((0, 0), np.float32)
        first = self.record(0)["fp"]
        self.check_raw_size(len(self) * len(first) * 4, "fingerprints")
        out = np.empty((len(self), len(first)), np.float32)
        for i in range(len(self)):
            out[i] = self.record(i)["fp"]
        return out

    def metadata(self) -> dict:
        """Per-molecule columns for ``core embed``: ``smiles``, ``input_index`` and ``line``."""
        rows = [self.record(i) for i in range(len(self))]
        return {"smiles": [smiles_of(r) for r in rows], "input_index": [r["input_index"] for r in rows],
                "line": [r["line"] for r in rows]}


def smiles_of(record: dict) -> str:
    return bytes(record["smiles"]).decode()

