"""Signal preprocessing: lead selection, resampling, fixed length, per-lead standardisation."""
from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import Optional, Sequence

import numpy as np

from core.errors import UserError
from core_ecg.records import Problems, Record


def _norm(name: str) -> str:
    return str(name).strip().upper()


def select_leads(records: list, leads: Optional[Sequence[str]], problems: Problems) -> tuple:
    """Keep ``leads`` (names, case-insensitive, or 0-based indices) in every record.

    Without ``leads`` all records must share the most common lead layout; others are bad
    records. Returns ``(records kept, lead names)``.
    """
    if not records:
        return [], ()
    kept = []
    if leads is None:
        layout = Counter(tuple(_norm(c) for c in r.channels) for r in records).most_common(1)[0][0]
        names = next(r.channels for r in records if tuple(_norm(c) for c in r.channels) == layout)
        for r in records:
            if tuple(_norm(c) for c in r.channels) != layout:
                problems.bad(r.id, f"has leads {','.join(r.channels)} but most records have {','.join(names)}",
                             f"pick common leads with --option leads={','.join(names)}")
            else:
                kept.append(r)
        return kept, tuple(names)
    names = None
    for r in records:
        upper = [_norm(c) for c in r.channels]
        index = []
        for lead in leads:
            if lead.lstrip("-").isdigit():
                i = int(lead)
                if not 0 <= i < len(upper):
                    index = None
                    problems.bad(r.id, f"has no lead index {i} (it has {len(upper)} leads)",
                                 "lead indices are 0-based")
                    break
            elif _norm(lead) in upper:
                i = upper.index(_norm(lead))
            else:
                index = None
                problems.bad(r.id, f"has no lead '{lead}' (it has {','.join(r.channels)})",
                             "choose leads every record has with --option leads=")
                break
            index.append(i)
        if index is None:
            continue
        r.signal = r.signal[index]
        r.channels = tuple(r.channels[i] for i in index)
        names = names or r.channels
        kept.append(r)
    return kept, tuple(names or ())


def resample(records: list, fs: Optional[float], source_fs: Optional[float]) -> Optional[float]:
    """Bring every record to one rate with ``scipy.signal.resample_poly``; returns the rate.

    The target is ``fs`` when given, else the most common rate (only if rates differ).
    ``source_fs`` supplies the rate of records that carry none.
    """
    from scipy.signal import resample_poly

    for r in records:
        if r.fs is None:
            r.fs = source_fs
    rates = Counter(r.fs for r in records if r.fs is not None)
    unknown = [r.id for r in records if r.fs is None]
    if fs is None:
        if len(rates) <= 1:
            return next(iter(rates), None)
        fs = max(rates, key=lambda f: (rates[f], f))
    if unknown:
        raise UserError(f"{unknown[0]}: its sample rate is unknown so it cannot be resampled to {fs:g} Hz; "
                        f"pass --option source_fs=HZ")
    for r in records:
        if r.fs != fs:
            ratio = Fraction(fs / r.fs).limit_denominator(1000)
            r.signal = resample_poly(r.signal, ratio.numerator, ratio.denominator, axis=-1)
            r.fs = fs
    return float(fs)


# the default input length (the most common record length) is refused above this many samples:
# a 24-h Holter record would make every encoder step cost millions of samples per lead
MAX_DEFAULT_LENGTH = 100_000


def common_length(records: list, length: Optional[int], source: str = "") -> int:
    """``length`` or the most common record length (the longest among ties), at most
    :data:`MAX_DEFAULT_LENGTH` samples unless ``length`` asks for more."""
    if length:
        return int(length)
    counts = Counter(r.signal.shape[-1] for r in records)
    common = max(counts, key=lambda n: (counts[n], n))
    if common > MAX_DEFAULT_LENGTH:
        raise UserError(f"{source or records[0].id}: records are {common} samples long, above the default limit of "
                        f"{MAX_DEFAULT_LENGTH}; pass --option length=N to crop them to N samples "
                        f"(or --option fs=HZ to downsample)")
    return common


def fit_standardiser(signals: Sequence[np.ndarray], source: str = "the corpus") -> tuple:
    """Per-lead mean and std over all samples and time steps of ``signals`` (C, L_i); values so
    large that the variance overflows (a damaged file, wrong units) are a UserError."""
    total = sum(s.shape[-1] for s in signals)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = sum(s.sum(axis=-1) for s in signals) / total
        var = sum(((s - mean[:, None]) ** 2).sum(axis=-1) for s in signals) / total
    if not (np.isfinite(mean).all() and np.isfinite(var).all()):
        peak = max(float(np.abs(s).max()) for s in signals)
        raise UserError(f"{source}: signal values up to {peak:.3g} are too large to standardise; "
                        f"check the records' units or scaling")
    std = np.sqrt(var)
    std[std < 1e-8] = 1.0
    return mean, std


def to_array(records: Sequence[Record], length: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardise, crop the end / zero-pad to ``length`` and stack: (N, C, length) float32."""
    n_ch = len(mean)
    out = np.zeros((len(records), n_ch, length), dtype=np.float32)
    for i, r in enumerate(records):
        s = (r.signal[:, :length] - mean[:, None]) / std[:, None]
        out[i, :, : s.shape[-1]] = s
    return out
