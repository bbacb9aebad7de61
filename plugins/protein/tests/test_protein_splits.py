"""Splits: k-mer identity clusters never straddle two splits; random splits are seeded and stratified."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserError
from core_protein import alphabet, splits
from core_protein.datasets import load_file
from core_protein.options import Options
from core_protein.synthetic import family_members, real_peptides, write_fasta


def _corpus():
    fams = family_members(12, 8, length=40, mutation=0.05, seed=1)  # near-identical members per family
    singles = [(i, s, "single") for i, s, _ in real_peptides(120, seed=2)]
    return fams + singles


def test_kmer_clusters_group_near_identical_sequences():
    rows = _corpus()
    clusters = splits.kmer_clusters([r[1] for r in rows], k=3, threshold=0.5)
    for f in range(12):
        members = {clusters[i] for i, r in enumerate(rows) if r[2] == f"family{f}"}
        assert len(members) == 1  # every family is one cluster
    fam_ids = {clusters[i] for i, r in enumerate(rows) if r[2].startswith("family")}
    assert len(fam_ids) == 12  # distinct families are not merged
    # sequence shorter than k, and duplicates, are handled
    small = splits.kmer_clusters(["AC", "AC", "MKVLA"], k=3)
    assert small[0] == small[1] != small[2]


def _tokens(seqs):
    return [alphabet.encode(alphabet.clean(s)) for s in seqs]


def test_cluster_split_puts_no_cluster_in_two_splits():
    rows = _corpus()
    tokens = _tokens([r[1] for r in rows])
    opts = Options(split="cluster", val_fraction=0.15, test_fraction=0.15)
    tests = []
    for seed in (0, 1, 2):
        parts, clusters, how = splits.assign_splits(tokens, None, opts, seed, "corpus")
        assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(len(rows)))
        held = {s: set(clusters[idx].tolist()) for s, idx in parts.items()}
        assert not held["train"] & held["val"] and not held["train"] & held["test"] and not held["val"] & held["test"]
        assert all(len(parts[s]) > 0 for s in parts) and "clusters" in how
        tests.append(parts["test"])
    assert not np.array_equal(tests[0], tests[1])


def test_cluster_split_names_an_empty_split():
    rows = family_members(2, 10, length=40, mutation=0.05, seed=1)  # two clusters cannot fill three splits
    with pytest.raises(UserError, match="corpus: the .* split is empty: 2 identity clusters"):
        splits.assign_splits(_tokens([r[1] for r in rows]), None, Options(split="cluster"), 0, "corpus")


def test_cluster_split_through_the_reader(tmp_path):
    rows = [(i, s, f) for i, s, f in family_members(10, 6, length=30, mutation=0.05, seed=3)]
    path = write_fasta(tmp_path / "fam.fasta", rows, [f"fam={r[2]}" for r in rows])
    data = load_file(str(path), options={"label_regex": r"fam=(\w+)", "split": "cluster", "val_fraction": 0.2,
                                         "test_fraction": 0.2})
    fam_of = {r[0]: r[2] for r in rows}
    held = {s: {fam_of[i] for i in data.splits[s].ids} for s in ("train", "val", "test")}
    assert not held["train"] & held["test"] and not held["train"] & held["val"] and not held["val"] & held["test"]
    assert "k-mer identity clusters" in data.source and data.task.kind == "multiclass"


def test_random_split_seeded_and_stratified():
    y = np.array([0] * 80 + [1] * 20)
    tokens = _tokens(["MKV"] * 100)
    opts = Options(val_fraction=0.2, test_fraction=0.2)
    parts, clusters, how = splits.assign_splits(tokens, y, opts, 4, "corpus")
    assert clusters is None and how == "random split"
    assert [len(parts[s]) for s in ("train", "val", "test")] == [60, 20, 20]
    assert [int(y[parts[s]].sum()) for s in ("train", "val", "test")] == [12, 4, 4]
    again = splits.assign_splits(tokens, y, opts, 4, "corpus")[0]
    assert all(np.array_equal(parts[s], again[s]) for s in parts)
