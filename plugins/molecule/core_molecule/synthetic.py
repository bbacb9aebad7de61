"""Small corpora in the real formats, for tests and examples (RDKit's SDWriter for SDF).

Molecules and log-solubility values are drawn from the embedded solubility set, so the files
hold real chemistry with varied scaffolds.
"""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

DATA_DIR = Path(__file__).parent / "data"


def solubility_rows(n: int, start: int = 0) -> list[dict]:
    """``n`` rows ``{id, name, smiles, logS}`` of the embedded solubility set, every
    ``1282 // n``-th one from ``start`` (a spread of scaffolds)."""
    text = gzip.decompress((DATA_DIR / "solubility.csv.gz").read_bytes()).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    step = max(1, len(rows) // n)
    return [rows[(start + i * step) % len(rows)] for i in range(n)]


def write_csv(path, rows: Sequence[dict], columns: Optional[Sequence[str]] = None, sep: str = ",") -> Path:
    """Write ``rows`` (dicts) as a CSV/TSV with a header (``.gz`` compresses)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(columns or rows[0].keys())
    text = io.StringIO()
    writer = csv.writer(text, delimiter=sep, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    data = text.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def molecule_table(n: int, rng: np.random.Generator, bad: Sequence[int] = (), start: int = 0) -> list[dict]:
    """``n`` rows: ``compound_id``, ``SMILES``, ``logS`` (regression), ``soluble`` (0/1),
    ``tox_a``/``tox_b`` (0/1 with ~20 % missing, multilabel); rows in ``bad`` get invalid SMILES."""
    rows = []
    for i, r in enumerate(solubility_rows(n, start)):
        y = float(r["logS"])
        rows.append({"compound_id": f"cpd{i:03d}", "SMILES": r["smiles"], "logS": y, "soluble": int(y > -2.5),
                     "tox_a": "" if rng.random() < 0.2 else int(y > -3.5),
                     "tox_b": "" if rng.random() < 0.2 else int(rng.random() < 0.5 + 0.3 * (y > -2))})
    bad_smiles = ("C1CC(", "not_a_smiles", "C(C)(C)(C)(C)C")
    for j, i in enumerate(bad):
        rows[i]["SMILES"] = bad_smiles[j % len(bad_smiles)]
    return rows


def write_sdf(path, rows: Sequence[dict], props: Sequence[str] = ("logS",), title: str = "compound_id") -> Path:
    """Write ``rows`` (with ``SMILES``) as an SDF with RDKit's SDWriter, ``props`` as data items."""
    from rdkit import Chem

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = Chem.SDWriter(str(path))
    for r in rows:
        mol = Chem.MolFromSmiles(r["SMILES"])
        mol.SetProp("_Name", str(r.get(title, "")))
        for p in props:
            if r.get(p) not in (None, ""):
                mol.SetProp(p, str(r[p]))
        writer.write(mol)
    writer.close()
    return path


def corrupt_sdf_record(path, number: int) -> int:
    """Break the counts line of record ``number`` (1-based); returns the line where that record starts."""
    path = Path(path)
    lines = path.read_text().splitlines()
    start, seen = 0, 1
    for i, line in enumerate(lines):
        if seen == number:
            start = i
            break
        if line.strip() == "$$$$":
            seen += 1
    lines[start + 3] = "  x  y  garbage"
    path.write_text("\n".join(lines) + "\n")
    return start + 1
