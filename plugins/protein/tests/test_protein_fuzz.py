"""Fuzz every protein reader (issue 15, item 7): a damaged FASTA, aligned FASTA, Stockholm,
UniProt, PDB, mmCIF or labels file in place of a valid one gives a dataset or one
:class:`core.errors.UserError` line, never a traceback, within a time bound, in both
``--on-bad-record`` modes.

The valid seeds are small corpora written with :mod:`core_protein.synthetic`; each example
overwrites one file with :func:`core.testing.damaged_bytes` of it and loads the corpus through
the dataset factory the CLI uses.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.testing import assert_fails_cleanly, damaged_bytes, fuzz_examples
from core_protein.datasets import load_file
from core_protein.synthetic import (family_members, real_peptides, write_fasta, write_labels, write_stockholm,
                                    write_structure, write_swiss)

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=fuzz_examples(), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECONDS = 20.0
SPLIT = {"val_fraction": 0.25, "test_fraction": 0.25}


def fasta_seed(folder):
    rows = real_peptides(16)
    write_fasta(folder / "pep.fasta", rows, [f"class={r[2]}" for r in rows])
    return folder / "pep.fasta", {"label_regex": r"class=(\w+)"}, ["pep.fasta"]


def labelled_fasta_seed(folder):
    rows = real_peptides(16)
    write_fasta(folder / "pep.fa", rows)
    write_labels(folder / "labels.csv", rows)
    return folder, {}, ["pep.fa", "labels.csv"]


def stockholm_seed(folder):
    fams = family_members(2, 8, length=30, seed=1)
    for f in range(2):
        write_stockholm(folder / f"fam{f}.sto", [r for r in fams if r[2] == f"family{f}"], family_id=f"PF0{f}")
    return folder, {}, ["fam0.sto"]


def aligned_fasta_seed(folder):
    fams = family_members(2, 8, length=30, seed=2)
    for f in range(2):
        write_fasta(folder / f"fam{f}.afa", [(i, s[:10] + "--" + s[10:], fam) for i, s, fam in fams
                                             if fam == f"family{f}"])
    return folder, {}, ["fam0.afa"]


def uniprot_seed(folder):
    path = write_swiss(folder / "entries.dat", real_peptides(16),
                       {"AMP": "Eukaryota; Metazoa", "UniProt": "Bacteria; Firmicutes"})
    return path, {"label_field": "taxonomy"}, ["entries.dat"]


def structure_seed(fmt):
    def write(folder):
        suffix = ".pdb" if fmt == "pdb" else ".cif"
        for klass, seq in (("a", "ACDEFGHIKLMNPQ"), ("b", "WYVTSRQPNMLKIH")):
            (folder / klass).mkdir()
            for i in range(4):
                write_structure(folder / klass / f"s{i}{suffix}", {"A": seq[i:] + seq[:i]}, fmt=fmt)
        return folder, {}, [f"a/s0{suffix}"]
    return write


SEEDS = {"fasta": fasta_seed, "fasta+labels": labelled_fasta_seed, "stockholm": stockholm_seed,
         "aligned fasta": aligned_fasta_seed, "uniprot": uniprot_seed, "pdb": structure_seed("pdb"),
         "mmcif": structure_seed("cif")}


@pytest.fixture
def seeds(tmp_path):
    """``seeds(kind)`` -> ``(path to load, options, {file: valid bytes})``, written once per test."""
    cache = {}

    def get(kind):
        if kind not in cache:
            folder = tmp_path / kind.replace(" ", "_").replace("+", "_")
            folder.mkdir()
            path, options, files = SEEDS[kind](folder)
            cache[kind] = (path, {**SPLIT, **options}, {folder / f: (folder / f).read_bytes() for f in files})
        return cache[kind]

    return get


@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(SEEDS)))
def test_readers(seeds, data, kind):
    path, options, files = seeds(kind)
    target = data.draw(st.sampled_from(sorted(files)), label="file")
    target.write_bytes(data.draw(damaged_bytes(files[target]), label=target.name))
    try:
        for mode in ("error", "skip"):
            assert_fails_cleanly(lambda: load_file(str(path), seed=0, on_bad_record=mode, options=options),
                                 seconds=SECONDS, what=f"{kind}: damaged {target.name} ({mode})")
    finally:
        target.write_bytes(files[target])


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_valid_seeds_load(seeds, kind):
    """The seeds the fuzzers damage are valid corpora (so damage, not the seed, makes them fail)."""
    path, options, _ = seeds(kind)
    data = load_file(str(path), seed=0, options=options)
    assert len(data.splits["train"]) > 0 and not data.skipped
