"""Reader options: flags (``--label-regex 'class=(\\w+)'``) or ``--option label_regex=...``."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping, Optional

from core.options import boolean, choice, integer, number, regex
from core.options import parse_options as reader_options
from core.splits import SPLIT_RULES, check_fractions

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


RULES = {
    **SPLIT_RULES, "task": choice(*TASKS), "split": choice(*SPLITS), "long_policy": choice(*LONG_POLICIES),
    "cluster_threshold": number(0.0, 1.0), "kmer": integer(1), "max_length": integer(8), "pretrain_crop": integer(8),
    "pretrain_proteome": boolean(), "label_regex": regex(),
}


def parse_options(options: Optional[Mapping], dataset: str, allowed=FILE_OPTIONS) -> Options:
    """Validate reader options; an unknown or malformed one is a :class:`UserError` naming it."""
    opts = reader_options(options, Options, RULES, dataset=dataset, allowed=allowed)
    check_fractions(opts.val_fraction, opts.test_fraction, "sequences")
    return opts

