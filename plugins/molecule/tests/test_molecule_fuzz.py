"""Fuzz every molecule reader (issue 15, item 7): a damaged CSV/TSV/.smi/SDF file in place of a
valid one gives a dataset or one :class:`core.errors.UserError` line, never a traceback, within a
time bound, in both ``--on-bad-record`` modes.

The valid seeds are small files written with :mod:`core_molecule.synthetic` (real molecules of
the embedded solubility set); each example overwrites the file with
:func:`core.testing.damaged_bytes` of it and loads it through the dataset factory the CLI uses.
"""
from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.testing import assert_fails_cleanly, damaged_bytes, fuzz_examples
from core_molecule.datasets import load_file
from core_molecule.synthetic import molecule_table, write_csv, write_sdf

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=fuzz_examples(), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECONDS = 20.0
N = 24


def write_seed(folder, name: str):
    """A valid corpus file ``name`` of ``N`` molecules and the reader options it needs."""
    rows = molecule_table(N, np.random.default_rng(0))
    path = folder / name
    if name.endswith(".sdf"):
        return write_sdf(path, rows, props=("logS",)), {}
    if name.endswith(".smi"):
        path.write_text("".join(f"{r['SMILES']} {r['compound_id']}\n" for r in rows))
        return path, {}
    columns = ["compound_id", "SMILES", "logS"]
    if name.endswith(".gz"):
        return write_csv(path, rows, columns), {}
    return write_csv(path, rows, columns, sep="\t" if name.endswith(".tsv") else ","), {}


@pytest.fixture
def seeds(tmp_path):
    """``seeds(name)`` -> ``(path, valid bytes, options)``, written once per test."""
    cache = {}

    def get(name):
        if name not in cache:
            path, options = write_seed(tmp_path, name)
            cache[name] = (path, path.read_bytes(), options)
        return cache[name]

    return get


def loads_cleanly(path, options) -> None:
    for mode in ("error", "skip"):
        assert_fails_cleanly(lambda: load_file(str(path), seed=0, on_bad_record=mode, options=options),
                             seconds=SECONDS, what=f"{path.name} ({mode})")


@FUZZ
@given(data=st.data(), name=st.sampled_from(["mols.csv", "mols.tsv", "mols.txt", "mols.smi", "mols.sdf"]))
def test_text_formats(seeds, data, name):
    path, valid, options = seeds(name)
    path.write_bytes(data.draw(damaged_bytes(valid), label=name))
    loads_cleanly(path, options)


@FUZZ
@given(data=st.data())
def test_gzipped_csv(seeds, data):
    """Damage the compressed bytes, and the text inside a valid gzip."""
    path, valid, options = seeds("mols.csv.gz")
    if data.draw(st.booleans(), label="damage the text inside"):
        path.write_bytes(gzip.compress(data.draw(damaged_bytes(gzip.decompress(valid)), label="text")))
    else:
        path.write_bytes(data.draw(damaged_bytes(valid), label="gzip bytes"))
    loads_cleanly(path, options)


@pytest.mark.parametrize("name", ["mols.csv", "mols.tsv", "mols.txt", "mols.smi", "mols.sdf", "mols.csv.gz"])
def test_valid_seeds_load(seeds, name):
    """The seeds the fuzzers damage are valid corpora (so damage, not the seed, makes them fail)."""
    path, _, options = seeds(name)
    data = load_file(str(path), seed=0, options=options)
    assert sum(len(data.splits[s]) for s in ("train", "val", "test")) == N
