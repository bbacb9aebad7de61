"""Reader options (``--option key=value``), parsed and checked once."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping, Optional

from core.errors import UserError

TASKS = ("auto", "multiclass", "binary", "multilabel", "regression")


@dataclass(frozen=True)
class Options:
    """Options of the ECG datasets.

    fs: target sample rate in Hz (resample every record to it); default: the most common
        rate when records differ, else unchanged.
    source_fs: the rate of inputs that do not carry one (UCR, .npy/.npz without ``fs``).
    leads: lead names or 0-based indices to keep (``"I,II,V1"`` or ``"0,1"``); default all.
    length: samples per record after resampling, by cropping the end / zero-padding;
        default the most common length.
    sampling: PTB-XL only, 100 or 500 Hz files (``filename_lr`` / ``filename_hr``).
    labels: a labels CSV (columns ``record,label[,split]``) for WFDB records; default
        ``labels.csv`` next to them.
    val_fraction / test_fraction: fractions carved when the corpus has no val / test split.
    task: ``auto`` (multilabel when labels hold ``;``, regression when numeric and not
        integral, binary for two classes, else multiclass) or a Task kind.
    """

    fs: Optional[float] = None
    source_fs: Optional[float] = None
    leads: Optional[tuple] = None
    length: Optional[int] = None
    sampling: int = 100
    labels: Optional[str] = None
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    task: str = "auto"


NAMES = tuple(f.name for f in fields(Options))


def _number(key, value, cast, low=None, high=None, open_low=True):
    try:
        out = cast(float(value)) if cast is int else cast(value)
        if cast is int and float(value) != out:
            raise ValueError
    except (TypeError, ValueError):
        raise UserError(f"option {key}={value!r} is not a{'n integer' if cast is int else ' number'}; "
                        f"pass e.g. --option {key}={'1000' if cast is int else '0.2'}") from None
    if (low is not None and (out <= low if open_low else out < low)) or (high is not None and out >= high):
        bound = f"in ({low}, {high})" if high is not None else f"> {low}"
        raise UserError(f"option {key}={value!r} must be {bound}")
    return out


def parse_options(options: Optional[Mapping], allowed=NAMES, dataset: str = "ecg/records") -> Options:
    """Check ``options`` (strings from the CLI or typed values from a config file)."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"{dataset} has no option '{unknown[0]}'; it takes: {', '.join(allowed)}")
    out = {}
    for key, value in options.items():
        if value is None or value == "":
            continue
        if key in ("fs", "source_fs"):
            out[key] = _number(key, value, float, 0)
        elif key == "length":
            out[key] = _number(key, value, int, 0)
        elif key in ("val_fraction", "test_fraction"):
            out[key] = _number(key, value, float, 0, 1)
        elif key == "sampling":
            out[key] = _number(key, value, int, 0)
            if out[key] not in (100, 500):
                raise UserError(f"option sampling={value!r} must be 100 or 500 (PTB-XL records100/records500)")
        elif key == "leads":
            items = value.split(",") if isinstance(value, str) else list(value)
            items = tuple(str(i).strip() for i in items if str(i).strip())
            if not items:
                raise UserError("option leads is empty; pass e.g. --option leads=I,II,V1 or leads=0,1")
            out[key] = items
        elif key == "task":
            if str(value) not in TASKS:
                raise UserError(f"option task={value!r} must be one of {', '.join(TASKS)}")
            out[key] = str(value)
        else:
            out[key] = str(value)
    return Options(**out)
