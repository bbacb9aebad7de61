"""Small corpora in the real formats, written with Biopython (for tests and examples).

Sequences are real peptides of the embedded AMPvsUniProt set; families are made by mutating a
few seed peptides, so family labels carry signal. Structures are Cα traces (an ideal α-helix,
3.8 Å between consecutive Cα) written by ``Bio.PDB.PDBIO`` / ``MMCIFIO``.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from core_protein.alphabet import STANDARD


def real_peptides(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` records ``(id, sequence, class)`` drawn from the embedded AMPvsUniProt set, balanced."""
    from core_protein.datasets import AMP_FILE
    from core_protein.readers import read_fasta

    records = read_fasta(AMP_FILE)
    rng = np.random.default_rng(seed)
    by_class = {"AMP": [], "UniProt": []}
    for r in records:
        by_class[r.description.split("class=")[1]].append(r)
    out = []
    for klass, rs in by_class.items():
        for i in rng.choice(len(rs), n // 2, replace=False):
            out.append((rs[i].id, str(rs[i].sequence), klass))
    return out


def family_members(n_families: int, per_family: int, length: int = 40, mutation: float = 0.15,
                   seed: int = 0) -> list[tuple[str, str, str]]:
    """``(id, sequence, family)``: point-mutated copies of one random seed sequence per family."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(STANDARD))
    out = []
    for f in range(n_families):
        root = rng.choice(letters, length)
        for m in range(per_family):
            seq = root.copy()
            hits = rng.random(length) < mutation
            seq[hits] = rng.choice(letters, int(hits.sum()))
            out.append((f"fam{f}_s{m}", "".join(seq), f"family{f}"))
    return out


def write_fasta(path, records: Sequence[tuple], descriptions: Sequence[str] = ()) -> Path:
    from Bio import SeqIO
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    path = Path(path)
    rows = [SeqRecord(Seq(r[1]), id=r[0], description=descriptions[i] if descriptions else "")
            for i, r in enumerate(records)]
    SeqIO.write(rows, str(path), "fasta")
    return path


def write_labels(path, records: Sequence[tuple], id_col: str = "id", label_col: str = "label") -> Path:
    path = Path(path)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([id_col, label_col])
        w.writerows((r[0], r[2]) for r in records)
    return path


def write_stockholm(path, records: Sequence[tuple], family_id: str = "") -> Path:
    """An alignment of ``records`` (gaps inserted at random columns) by ``Bio.AlignIO``; a
    ``#=GF ID`` line is added when ``family_id`` is given (AlignIO does not write one)."""
    from Bio import AlignIO
    from Bio.Align import MultipleSeqAlignment
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    width = max(len(r[1]) for r in records) + 3
    rng = np.random.default_rng(len(records))
    rows = []
    for rid, seq, _ in records:
        chars = list(seq)
        while len(chars) < width:
            chars.insert(int(rng.integers(0, len(chars) + 1)), "-")
        rows.append(SeqRecord(Seq("".join(chars)), id=rid))
    path = Path(path)
    AlignIO.write(MultipleSeqAlignment(rows), str(path), "stockholm")
    if family_id:
        lines = path.read_text().splitlines()
        lines.insert(1, f"#=GF ID   {family_id}")
        path.write_text("\n".join(lines) + "\n")
    return path


def helix_trace(n: int, offset=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Cα coordinates of an ideal α-helix (radius 2.3 Å, 100° per residue, 1.5 Å rise)."""
    t = np.deg2rad(100.0) * np.arange(n)
    return np.stack([2.3 * np.cos(t), 2.3 * np.sin(t), 1.5 * np.arange(n)], 1) + np.asarray(offset)


def write_structure(path, chains: dict, fmt: str = "pdb") -> Path:
    """``chains`` maps chain id -> sequence; one Cα (+ N, C) per residue, built with
    ``Bio.PDB.StructureBuilder`` and written with ``PDBIO`` (``fmt="pdb"``) or ``MMCIFIO``."""
    from Bio.PDB import MMCIFIO, PDBIO
    from Bio.PDB.StructureBuilder import StructureBuilder
    from Bio.SeqUtils import seq3

    path = Path(path)
    sb = StructureBuilder()
    sb.init_structure(path.stem)
    sb.init_model(0)
    for c, (chain_id, seq) in enumerate(chains.items()):
        sb.init_chain(chain_id)
        sb.init_seg("    ")
        ca = helix_trace(len(seq), offset=(20.0 * c, 0.0, 0.0))
        for i, aa in enumerate(seq, start=1):
            sb.init_residue(seq3(aa).upper(), " ", i, " ")
            for name, shift, element in (("N", -1.0, "N"), ("CA", 0.0, "C"), ("C", 1.0, "C")):
                sb.init_atom(name, ca[i - 1] + np.array([shift, 0.0, 0.0]), 20.0, 1.0, " ", f" {name:<3}",
                             element=element)
    io = PDBIO() if fmt == "pdb" else MMCIFIO()
    io.set_structure(sb.get_structure())
    io.save(str(path))
    return path


SWISS_ENTRY = """ID   {name}              Reviewed;         {n} AA.
AC   {acc};
DT   01-JAN-2000, integrated into UniProtKB/Swiss-Prot.
DE   RecName: Full=Test protein {acc};
OS   {organism}.
OC   {lineage}.
OX   NCBI_TaxID=9606;
KW   Antimicrobial; Secreted.
SQ   SEQUENCE   {n} AA;  {weight} MW;  0000000000000000 CRC64;
{body}
//
"""


def write_swiss(path, records: Sequence[tuple], lineages: dict) -> Path:
    """A UniProt/Swiss-Prot flat file (the text format Biopython's ``swiss`` parser reads; Biopython
    has no writer for it). ``lineages`` maps each record's class to an ``OC`` lineage."""
    entries = []
    for rid, seq, klass in records:
        chunks = [seq[i:i + 10] for i in range(0, len(seq), 10)]
        body = "\n".join("     " + " ".join(chunks[i:i + 6]) for i in range(0, len(chunks), 6))
        entries.append(SWISS_ENTRY.format(name=f"{rid.upper()}_TEST", acc=rid.upper(), n=len(seq), weight=110 * len(seq),
                                          organism="Test organism", lineage=lineages[klass], body=body))
    path = Path(path)
    path.write_text("".join(entries))
    return path
