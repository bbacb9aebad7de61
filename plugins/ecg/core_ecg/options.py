"""Reader options (``--option key=value``), parsed and checked once."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping, Optional

from core.options import choice, integer, items, number
from core.options import parse_options as reader_options
from core.splits import SPLIT_RULES

TASKS = ("auto", "multiclass", "binary", "multilabel", "regression")


@dataclass(frozen=True)
class Options:
    """Options of the ECG datasets.

    fs: target sample rate in Hz (resample every record to it); default: the most common
        rate when records differ, else unchanged.
    source_fs: the rate of inputs that do not carry one (UCR, .npy/.npz without ``fs``).
    leads: lead names or 0-based indices to keep (``"I,II,V1"`` or ``"0,1"``); default all.
    length: samples per record after resampling, by cropping the end / zero-padding;
        default the most common length, refused above ``preprocess.MAX_DEFAULT_LENGTH`` (100,000)
        samples so that a corpus of long recordings is cropped or downsampled on purpose.
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
RULES = {
    "fs": number(0, low_open=True), "source_fs": number(0, low_open=True), "length": integer(1),
    "val_fraction": SPLIT_RULES["val_fraction"], "test_fraction": SPLIT_RULES["test_fraction"],
    "sampling": choice("100", "500"), "leads": items("I,II,V1"), "task": choice(*TASKS),
}


def parse_options(options: Optional[Mapping], allowed=NAMES, dataset: str = "ecg/records") -> Options:
    """Check ``options`` (strings from the CLI or typed values from a config file)."""
    opts = reader_options(options, Options, RULES, dataset=dataset, allowed=allowed)
    return replace(opts, sampling=int(opts.sampling))
