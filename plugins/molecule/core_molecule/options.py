"""Reader options: ``--smiles-col smiles`` (reader flags) or ``--option smiles_col=smiles``."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping, Optional

from core.errors import UserError

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
    sep: Optional[str] = None


NAMES = tuple(f.name for f in fields(Options) if f.name != "no_targets")
EMBEDDED = ("split", "val_fraction", "test_fraction", "split_seed", "canonical", "strip_salts", "largest_fragment",
            "fp_radius", "fp_size", "fp_counts", "max_tokens")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _bool(key, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UserError(f"option {key}={value!r} must be true or false, e.g. {_flag(key)} true")


def _int(key, value, low: int) -> int:
    try:
        out = int(float(value))
        if float(value) != out:
            raise ValueError
    except (TypeError, ValueError):
        raise UserError(f"option {key}={value!r} is not an integer; pass e.g. {_flag(key)} {max(low, 2)}") from None
    if out < low:
        raise UserError(f"option {key}={value!r} must be >= {low}")
    return out


def _fraction(key, value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise UserError(f"option {key}={value!r} is not a number; pass e.g. {_flag(key)} 0.1") from None
    if not 0 <= out < 1:
        raise UserError(f"option {key}={value!r} must be in [0, 1)")
    return out


def parse_options(options: Optional[Mapping], allowed=NAMES, dataset: str = "molecule/file") -> Options:
    """Check ``options`` (strings from the CLI, typed values from a config file)."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"{dataset} has no option '{unknown[0]}'; it takes: {', '.join(allowed)}")
    out = {}
    for key, value in options.items():
        if value is None or (isinstance(value, str) and value == ""):
            continue
        if key == "target_col":
            items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
            items = tuple(i.strip() for i in items if i.strip())
            if [i.lower() for i in items] in (["none"], ["null"]):
                out["no_targets"] = True
            elif items:
                out[key] = items
        elif key in ("smiles_col", "id_col", "split_col", "sep"):
            out[key] = str(value) if key == "sep" else str(value).strip()
        elif key == "split":
            if str(value) not in SPLITS:
                raise UserError(f"option split={value!r} must be one of {', '.join(SPLITS)}")
            out[key] = str(value)
        elif key in ("val_fraction", "test_fraction"):
            out[key] = _fraction(key, value)
        elif key == "split_seed":
            out[key] = _int(key, value, 0)
        elif key == "task":
            if str(value) not in TASKS:
                raise UserError(f"option task={value!r} must be one of {', '.join(TASKS)}")
            out[key] = str(value)
        elif key in ("canonical", "strip_salts", "largest_fragment", "fp_counts"):
            out[key] = _bool(key, value)
        elif key == "fp_radius":
            out[key] = _int(key, value, 0)
        elif key in ("fp_size", "max_tokens"):
            out[key] = _int(key, value, 1)
    opts = Options(**out)
    if opts.val_fraction + opts.test_fraction >= 1:
        raise UserError(f"val_fraction + test_fraction = {opts.val_fraction + opts.test_fraction} leaves no "
                        f"training molecules; make them smaller")
    return opts
