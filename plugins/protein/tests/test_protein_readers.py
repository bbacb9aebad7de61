"""Readers on files written with Biopython: FASTA (+ CSV / header regex), aligned FASTA, Stockholm,
UniProt flat files, PDB and mmCIF structures."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserError
from core_protein.datasets import load_file
from core_protein.readers import residue_letter
from core_protein.synthetic import (family_members, real_peptides, write_fasta, write_labels, write_stockholm,
                                    write_structure, write_swiss)


def _all_ids(data):
    return [i for s in ("train", "val", "test") for i in data.splits[s].ids]


def test_fasta_with_labels_csv_and_with_header_regex(tmp_path):
    rows = real_peptides(40)
    fasta = write_fasta(tmp_path / "pep.fasta", rows, [f"activity={r[2]} len={len(r[1])}" for r in rows])
    labels = write_labels(tmp_path / "labels.csv", rows, id_col="accession", label_col="activity")
    by_csv = load_file(str(fasta), options={"labels": str(labels)})
    by_regex = load_file(str(fasta), options={"label_regex": r"activity=(?P<label>\w+)"})
    for data in (by_csv, by_regex):
        assert data.task.kind == "binary" and data.task.class_names == ("AMP", "UniProt")
        assert sorted(_all_ids(data)) == sorted(r[0] for r in rows)
        assert set(data.splits["pretrain"].ids) == set(data.splits["train"].ids) | set(data.splits["val"].ids)
        train = data.splits["train"]
        truth = {r[0]: r[2] for r in rows}
        assert [data.task.class_names[t] for t in train.targets] == [truth[i] for i in train.ids]
        assert train.raw_features().shape == (len(train), 21)
    # a folder holding the FASTA and one CSV: the CSV is the labels table
    folder = tmp_path / "folder"
    folder.mkdir()
    write_fasta(folder / "pep.fa", rows)
    write_labels(folder / "y.csv", [(r[0], r[1], len(r[1]) / 10) for r in rows])
    data = load_file(str(folder))
    assert data.task.kind == "regression"
    # a record missing from the labels table is a bad record naming it
    write_labels(folder / "y.csv", [(r[0], r[1], r[2]) for r in rows[1:]])
    with pytest.raises(UserError, match=f"pep.fa:{rows[0][0]}: no label for id '{rows[0][0]}' in y.csv"):
        load_file(str(folder))


def test_duplicate_ids_and_unknown_options_are_user_errors(tmp_path):
    rows = real_peptides(10)
    rows[5] = (rows[0][0], rows[5][1], rows[5][2])
    path = write_fasta(tmp_path / "d.fasta", rows, [f"c={r[2]}" for r in rows])
    with pytest.raises(UserError, match="appears twice"):
        load_file(str(path), options={"label_regex": r"c=(\w+)"})
    with pytest.raises(UserError, match="has no option 'smiles_col'"):
        load_file(str(path), options={"smiles_col": "x"})
    with pytest.raises(UserError, match="no such file"):
        load_file(str(tmp_path / "missing.fasta"))


def test_stockholm_family_from_gf_id_or_file_and_gaps_removed(tmp_path):
    fams = family_members(3, 6, length=30, seed=5)
    for f in range(3):
        members = [r for r in fams if r[2] == f"family{f}"]
        write_stockholm(tmp_path / f"file{f}.sto", members, family_id=f"PF0000{f}" if f < 2 else "")
    data = load_file(str(tmp_path))
    assert data.task.kind == "multiclass" and data.task.class_names == ("PF00000", "PF00001", "file2")
    seqs = {r[0]: r[1] for r in fams}
    for s in ("train", "val", "test"):
        split = data.splits[s]
        for rid, tokens in zip(split.ids, split.tokens):
            from core_protein.alphabet import decode

            assert decode(tokens) == seqs[rid.split("/")[1]]  # gaps removed, ids prefixed by file
    # aligned FASTA: one family per file
    aligned = tmp_path / "aligned"
    aligned.mkdir()
    for f in range(3):
        members = [(i, s[:10] + "--" + s[10:], fam) for i, s, fam in fams if fam == f"family{f}"]
        write_fasta(aligned / f"fam{f}.afa", members)
    data = load_file(str(aligned))
    assert data.task.class_names == ("fam0", "fam1", "fam2") and len(_all_ids(data)) == 18


def test_uniprot_flat_file_labels_from_annotations(tmp_path):
    rows = real_peptides(20)
    path = write_swiss(tmp_path / "entries.dat", rows, {"AMP": "Eukaryota; Metazoa", "UniProt": "Bacteria; Firmicutes"})
    data = load_file(str(path), options={"label_field": "taxonomy"})
    assert data.task.class_names == ("Bacteria", "Eukaryota")
    assert sorted(_all_ids(data)) == sorted(r[0].upper() for r in rows)
    with pytest.raises(UserError, match="no 'comment' annotation"):
        load_file(str(path), options={"label_field": "comment"})


def test_pdb_and_mmcif_chains_with_ca_coordinates(tmp_path):
    write_structure(tmp_path / "one.pdb", {"A": "ACDEFGHIKL", "B": "MKVWY"})
    write_structure(tmp_path / "two.cif", {"A": "ACDUFGH"}, fmt="cif")
    write_labels(tmp_path / "labels.csv", [("one:A", "", "x"), ("one:B", "", "y"), ("two:A", "", "x")])
    data = load_file(str(tmp_path), options={"val_fraction": 0.34, "test_fraction": 0.34})
    assert data.input_spec.channel_names == ("residue", "ca")
    everything = {i: (t, c) for s in ("train", "val", "test") for i, t, c in
                  zip(data.splits[s].ids, data.splits[s].tokens, data.splits[s].coords)}
    assert set(everything) == {"one:A", "one:B", "two:A"}
    tokens, coords = everything["two:A"]
    assert len(tokens) == 7 and coords.shape == (7, 3) and np.isfinite(coords).all()
    gaps = np.linalg.norm(np.diff(coords, axis=0), axis=1)
    assert np.allclose(gaps, gaps[0], atol=1e-2) and 3.5 < gaps[0] < 4.2  # a real Cα trace
    batch, _, _ = data.splits["train"].collate_fn([data.splits["train"][0]])
    assert batch.coords.shape[-1] == 3


def test_residue_names_map_explicitly():
    assert [residue_letter(n) for n in ("ALA", "MSE", "SEC", "PYL", "UNK", "HOH", "DA")] == \
        ["A", "M", "U", "O", "X", None, None]
