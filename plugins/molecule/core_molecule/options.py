"""Reader options: ``--smiles-col smiles`` (reader flags) or ``--option smiles_col=smiles``."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping, Optional

from core.options import boolean, choice, integer, items
from core.options import parse_options as reader_options
from core.splits import SPLIT_RULES, check_fractions

TASKS = ("auto", "regression", "binary", "multilabel", "multiclass")
SPLITS = ("scaffold", "random", "column")


@dataclass(frozen=True)
class Options:
    """Options of the molecule datasets.

    smiles_col / target_col / id_col / split_col: column names (CSV/TSV/.smi) or SDF property
        names. ``target_col`` may list several (``a,b,c``: multitask) or be ``none`` (no labels,
        e.g. for ``core embed``). Unset: auto-detected (see the README).
    split: ``scaffold`` (Bemis-Murcko, balanced, seeded), ``random`` or ``column`` (the
        ``split_col`` column, values train/val/test; missing val/test are carved from train with
        the scaffold method). Default: ``column`` when a split column is given or found, else scaffold.
    val_fraction / test_fraction: sizes of val and test (default 0.1 each, MoleculeNet's 80/10/10).
    split_seed: seed of the split; default the run's ``--seed``.
    task: ``auto`` or a task kind (see the README for the auto rules).
    canonical: write canonical SMILES (ids, token view, ``core embed`` output); default true.
    strip_salts / largest_fragment: standardisation (default off).
    fp_radius / fp_size / fp_counts: Morgan fingerprint (default radius 2, 2048, counts).
    max_tokens: SMILES tokens kept per molecule for the token view (default 256).
    max_atoms: heavy atoms allowed per molecule (default 200, above any drug-like molecule); a
        larger one is a bad record (an error naming it, or skipped with ``--on-bad-record skip``),
        because the scaffold split and featurisation cost grow steeply with size (a 5,000-character
        SMILES took minutes). Raise it for peptides or macrocycles.
    max_smiles_length: characters allowed per SMILES (default 2000), checked before RDKit parses it
        (parsing and sanitising grow faster than linearly: a 20,000-character SMILES took seconds);
        a longer one is a bad record like a molecule above ``max_atoms``.
    sep: field separator of a text table (default: tab for .tsv, comma for .csv, whitespace for .smi).
    """

    smiles_col: Optional[str] = None
    target_col: Optional[tuple] = None
    no_targets: bool = False
    id_col: Optional[str] = None
    split_col: Optional[str] = None
    split: Optional[str] = None
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: Optional[int] = None
    task: str = "auto"
    canonical: bool = True
    strip_salts: bool = False
    largest_fragment: bool = False
    fp_radius: int = 2
    fp_size: int = 2048
    fp_counts: bool = True
    max_tokens: int = 256
    max_atoms: int = 200
    max_smiles_length: int = 2000
    sep: Optional[str] = None


NAMES = tuple(f.name for f in fields(Options) if f.name != "no_targets")
EMBEDDED = ("split", "val_fraction", "test_fraction", "split_seed", "canonical", "strip_salts", "largest_fragment",
            "fp_radius", "fp_size", "fp_counts", "max_tokens", "max_atoms", "max_smiles_length")


RULES = {
    **SPLIT_RULES, "split": choice(*SPLITS),
    "task": choice(*TASKS), "canonical": boolean(), "strip_salts": boolean(), "largest_fragment": boolean(),
    "fp_counts": boolean(), "fp_radius": integer(0), "fp_size": integer(1), "max_tokens": integer(1), "max_atoms": integer(1),
    "max_smiles_length": integer(1),
    "target_col": items("logS"),  # a,b,c: multitask; none/null: no labels
    "sep": lambda key, value: str(value),
}


def parse_options(options: Optional[Mapping], allowed=NAMES, dataset: str = "molecule/file") -> Options:
    """Check ``options`` (strings from the CLI, typed values from a config file)."""
    opts = reader_options(options, Options, RULES, dataset=dataset, allowed=allowed)
    if opts.target_col and [c.lower() for c in opts.target_col] in (["none"], ["null"]):
        opts = replace(opts, target_col=None, no_targets=True)
    check_fractions(opts.val_fraction, opts.test_fraction, "molecules")
    return opts
