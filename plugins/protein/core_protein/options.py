"""Reader options: flags (``--label-regex 'class=(\\w+)'``) or ``--option label_regex=...``."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping, Optional

from core.errors import UserError

TASKS = ("auto", "binary", "multiclass", "regression")
SPLITS = ("random", "cluster")
LONG_POLICIES = ("crop", "error")
DEFAULT_MAX_LENGTH = 1024


@dataclass(frozen=True)
class Options:
    """Options of the protein datasets.

    labels / id_col / label_col: a CSV/TSV of labels keyed by record id (a single table in a
        ``--data`` folder is found by itself); id column default ``id`` (or ``accession``,
        ``name``, ... else the first), label column the only other one.
    label_regex: a regular expression searched in each FASTA header (id + description); its group
        ``label`` or first group is the label, e.g. ``class=(\\w+)``.
    label_field: for UniProt flat files, the record annotation to use as label (``organism``,
        ``taxonomy`` (its first rank, e.g. Bacteria), ``keywords`` (first), ``data_class``, ...).
    task: ``auto`` (numbers -> regression, 0/1 -> binary, text -> binary/multiclass) or a kind.
    split: ``random`` (seeded, stratified on classes) or ``cluster`` (k-mer identity clusters,
        see :mod:`core_protein.splits`); ``kmer`` and ``cluster_threshold`` tune the latter.
    val_fraction / test_fraction: default 0.1 each. split_seed: default the run's ``--seed``.
    max_length: longest sequence kept whole (default 1024 residues). long_policy: ``crop``
        (keep the first ``max_length`` residues; every cropped record is counted in the dataset's
        source line, logged, and its full length kept in ``core embed``'s ``length`` column) or
        ``error`` (a bad record: an error naming it, or skipped and listed with
        ``--on-bad-record skip``).
    pretrain_proteome: embedded default only: add the embedded 2100-protein proteome (cropped
        to ``pretrain_crop`` residues) to the unlabelled pretraining pool (default false).
    """

    labels: Optional[str] = None
    id_col: Optional[str] = None
    label_col: Optional[str] = None
    label_regex: Optional[str] = None
    label_field: Optional[str] = None
    task: str = "auto"
    split: str = "random"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: Optional[int] = None
    kmer: int = 3
    cluster_threshold: float = 0.5
    max_length: int = DEFAULT_MAX_LENGTH
    long_policy: str = "crop"
    pretrain_proteome: bool = False
    pretrain_crop: int = 128


FILE_OPTIONS = tuple(f.name for f in fields(Options) if f.name not in ("pretrain_proteome", "pretrain_crop"))
EMBEDDED_OPTIONS = ("split", "val_fraction", "test_fraction", "split_seed", "kmer", "cluster_threshold",
                    "max_length", "long_policy", "pretrain_proteome", "pretrain_crop")


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _bool(key, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UserError(f"option {key}={value!r} must be true or false, e.g. {_flag(key)} true")


def _int(key, value, low: int) -> int:
    try:
        out = int(float(value))
        if float(value) != out or out < low:
            raise ValueError
    except (TypeError, ValueError):
        raise UserError(f"option {key}={value!r} must be an integer >= {low}, e.g. {_flag(key)} {max(low, 3)}") from None
    return out


def _fraction(key, value, low=0.0, high=1.0) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = -1.0
    if not low <= out < high:
        raise UserError(f"option {key}={value!r} must be a number in [{low}, {high}), e.g. {_flag(key)} 0.1")
    return out


def _choice(key, value, allowed) -> str:
    if str(value) not in allowed:
        raise UserError(f"option {key}={value!r} must be one of {', '.join(allowed)}")
    return str(value)


def parse_options(options: Optional[Mapping], dataset: str, allowed=FILE_OPTIONS) -> Options:
    """Validate reader options; an unknown or malformed one is a :class:`UserError` naming it."""
    import re

    options = dict(options or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"{dataset} has no option '{unknown[0]}'; it takes: {', '.join(allowed)}")
    out = {}
    for key, value in options.items():
        if value is None or (isinstance(value, str) and value == ""):
            continue
        if key in ("labels", "id_col", "label_col", "label_field", "label_regex"):
            out[key] = str(value)
        elif key == "task":
            out[key] = _choice(key, value, TASKS)
        elif key == "split":
            out[key] = _choice(key, value, SPLITS)
        elif key == "long_policy":
            out[key] = _choice(key, value, LONG_POLICIES)
        elif key in ("val_fraction", "test_fraction"):
            out[key] = _fraction(key, value)
        elif key == "cluster_threshold":
            out[key] = _fraction(key, value, 0.0, 1.0000001)
        elif key == "split_seed":
            out[key] = _int(key, value, 0)
        elif key == "kmer":
            out[key] = _int(key, value, 1)
        elif key in ("max_length", "pretrain_crop"):
            out[key] = _int(key, value, 8)
        elif key == "pretrain_proteome":
            out[key] = _bool(key, value)
    opts = Options(**out)
    if opts.label_regex:
        try:
            re.compile(opts.label_regex)
        except re.error as e:
            raise UserError(f"option label_regex={opts.label_regex!r} is not a valid regular expression ({e})") from None
    if opts.val_fraction + opts.test_fraction >= 1:
        raise UserError(f"val_fraction + test_fraction = {opts.val_fraction + opts.test_fraction} leaves no "
                        f"training sequences; make them smaller")
    return opts


def with_changes(opts: Options, **changes) -> Options:
    return replace(opts, **changes)
