"""Writers of small ECG corpora in the real formats (WFDB via ``wfdb.wrsamp``, the PTB-XL layout,
UCR TSV and ``.ts``): used by the tests, and handy to try the readers without real data."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

PTBXL_CODES = [
    "{'NORM': 100.0, 'SR': 0.0}", "{'IMI': 80.0, 'ABQRS': 0.0}", "{'NDT': 100.0}",
    "{'LAFB': 100.0, 'SR': 0.0}", "{'LVH': 50.0, 'IMI': 15.0}", "{'NORM': 100.0}",
    "{'SR': 0.0}", "{'ASMI': 100.0, 'LVH': 100.0}", "{'NORM': 80.0}", "{'IRBBB': 100.0}",
]
LEADS12 = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")


def beat(rng, n, fs, cls, leads=2):
    """A toy ECG-like signal ``(n, leads)`` whose shape depends on ``cls``."""
    t = np.arange(n) / fs
    base = np.sin(2 * np.pi * (1 + cls) * t)
    return np.stack([base * (i + 1) + 0.1 * rng.standard_normal(n) for i in range(leads)], axis=1)


def write_wfdb(folder: Path, name: str, signal: np.ndarray, fs: float, leads=("I", "II")):
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=fs, units=["mV"] * signal.shape[1], sig_name=list(leads), p_signal=signal,
                fmt=["16"] * signal.shape[1], write_dir=str(folder))


def write_wfdb_dir(folder: Path, rng, n: int = 20, length: int = 500, fs: float = 250) -> Path:
    """``n`` two-lead records with labels A/B/C in ``labels.csv`` (no split column)."""
    rows = ["record,label"]
    for i in range(n):
        cls = i % 3
        write_wfdb(folder, f"rec{i:02d}", beat(rng, length, fs, cls), fs)
        rows.append(f"rec{i:02d},{'ABC'[cls]}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def write_ptbxl(folder: Path, rng, n: int = 10) -> Path:
    """A PTB-XL-layout folder: ``n`` records (strat_fold cycling 1..10), records100/ and records500/,
    ``ptbxl_database.csv`` and ``scp_statements.csv``."""
    import pandas as pd

    rows = []
    for i in range(n):
        ecg_id = i + 1
        lr, hr = f"records100/00000/{ecg_id:05d}_lr", f"records500/00000/{ecg_id:05d}_hr"
        write_wfdb(folder / "records100/00000", f"{ecg_id:05d}_lr", beat(rng, 1000, 100, i % 3, 12), 100, LEADS12)
        write_wfdb(folder / "records500/00000", f"{ecg_id:05d}_hr", beat(rng, 5000, 500, i % 3, 12), 500, LEADS12)
        rows.append({"ecg_id": ecg_id, "patient_id": 100 + i, "scp_codes": PTBXL_CODES[i % len(PTBXL_CODES)],
                     "strat_fold": i % 10 + 1, "filename_lr": lr, "filename_hr": hr})
    pd.DataFrame(rows).to_csv(folder / "ptbxl_database.csv", index=False)
    stmts = pd.DataFrame({
        "description": ["normal", "inferior MI", "anteroseptal MI", "non-diag T", "LAFB", "IRBBB", "LVH", "sinus",
                        "abnormal QRS"],
        "diagnostic": [1, 1, 1, 1, 1, 1, 1, None, None],
        "form": [None] * 8 + [1],
        "rhythm": [None] * 7 + [1, None],
        "diagnostic_class": ["NORM", "MI", "MI", "STTC", "CD", "CD", "HYP", None, None],
    }, index=["NORM", "IMI", "ASMI", "NDT", "LAFB", "IRBBB", "LVH", "SR", "ABQRS"])
    stmts.to_csv(folder / "scp_statements.csv")
    return folder


def ucr_lines(rng, n, length=60, labels=(1, 2)):
    out = []
    for i in range(n):
        cls = labels[i % len(labels)]
        x = np.sin(np.linspace(0, cls * np.pi, length)) + 0.1 * rng.standard_normal(length)
        out.append("\t".join([str(cls)] + [f"{v:.5f}" for v in x]))
    return out


def write_ucr(folder: Path, rng, n_train: int = 30, n_test: int = 20, length: int = 60) -> Path:
    """``Toy_TRAIN.tsv`` and ``Toy_TEST.tsv.gz`` in UCR format (label first)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Toy_TRAIN.tsv").write_text("\n".join(ucr_lines(rng, n_train, length)) + "\n")
    with gzip.open(folder / "Toy_TEST.tsv.gz", "wt") as f:
        f.write("\n".join(ucr_lines(rng, n_test, length)) + "\n")
    return folder


def ts_text(rng, n, labels=("walk", "run", "sit")):
    """An sktime ``.ts`` file with 2 dimensions and unequal lengths (most common 50)."""
    lines = ["# toy", "@problemName Toy", "@timeStamps false", "@missing false", "@univariate false",
             "@dimensions 2", "@equalLength false", f"@classLabel true {' '.join(labels)}", "@data"]
    for i in range(n):
        length = 50 if i % 4 else 40
        dims = [",".join(f"{v:.4f}" for v in rng.standard_normal(length)) for _ in range(2)]
        lines.append(":".join(dims + [labels[i % len(labels)]]))
    return "\n".join(lines) + "\n"
