"""The in-memory corpus every reader returns, and the bad-record policy."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from core.errors import BadRecords
from core.splits import split_name



@dataclass
class Record:
    """One signal: ``signal`` (C, L) float, its rate, lead names, raw label and split.

    ``label`` is ``None`` when missing, a string/number for a class or a regression target,
    or a tuple of class names for a multilabel record. ``split`` is one of :data:`core.splits.SPLITS`
    or ``None`` when the corpus does not say.
    """

    id: str
    signal: np.ndarray
    fs: Optional[float] = None
    channels: tuple = ()
    label: Any = None
    split: Optional[str] = None


@dataclass
class Corpus:
    """Records read from one source. ``classes`` fixes the class order when the format does."""

    source: str
    format: str = ""
    records: list = field(default_factory=list)
    multilabel: bool = False
    classes: Optional[tuple] = None


# on_bad_record: raise a BadRecord, or remember (record, reason) in ``skipped``; files no reader
# uses are listed with ``problems.not_read`` in both modes
Problems = BadRecords


def parse_split(value) -> Optional[str]:
    """A split cell as :func:`core.splits.split_name` reads it; bytes are decoded and the
    ``nan``/``none`` that numpy and pandas write for an empty cell count as empty."""
    if isinstance(value, bytes):
        value = value.decode()
    text = "" if value is None else str(value).strip()
    return None if text.lower() in ("nan", "none") else split_name(text)


def check_finite(signal: np.ndarray, record: str, problems: Problems) -> bool:
    """Report a signal holding NaN/inf as a bad record; True when the signal is usable."""
    if signal.size == 0:
        problems.bad(record, "has no samples")
        return False
    if not np.isfinite(signal).all():
        n = int((~np.isfinite(signal)).sum())
        problems.bad(record, f"signal contains {n} NaN/inf sample(s)",
                     "repair or remove the record, or pass --on-bad-record skip")
        return False
    return True
