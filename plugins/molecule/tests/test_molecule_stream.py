"""The molecule stream (``core_molecule.stream``) behind ``core prepare --plugin molecule``: shards
give the ids, featurised inputs, targets, splits and bad records the in-memory reader gives."""
from __future__ import annotations


import numpy as np
import pytest

from core.errors import UserError
from core.prepare import prepare
from core.shards import open_shards
from core.testing import assert_prepared_runs, isolated_plugin_manager, paired_splits
from core_molecule import plugin, stream
from core_molecule.datasets import load_file
from core_molecule.graphs import collate
from core_molecule.synthetic import molecule_table, write_csv, write_sdf

pytest.importorskip("litdata")
COLUMNS = ["compound_id", "SMILES", "logS"]


@pytest.fixture
def pm():
    return isolated_plugin_manager(("molecule", plugin))


@pytest.fixture
def small_units(monkeypatch):
    monkeypatch.setattr(stream, "ROWS_PER_UNIT", 8)  # several work units and workers on a small file


def shards_of(pm, path, unlabelled=False):
    return open_shards(path, unlabelled=unlabelled, dataset_spec=pm.get("dataset", "molecule/file"))


def same(shards, memory, splits=("train", "val", "test", "pretrain")):
    for name, a, b in paired_splits(shards, memory, splits):
        assert a.metadata() == b.metadata(), name
        got, want = collate([a[i] for i in range(len(a))]), collate([b[i] for i in range(len(b))])
        for field in ("atoms", "edge_index", "edges", "graph", "fp", "tokens"):
            assert np.array_equal(getattr(got[0], field).numpy(), getattr(want[0], field).numpy()), (name, field)
        assert np.array_equal(got[1].numpy(), want[1].numpy(), equal_nan=True), name
        assert np.array_equal(got[2].numpy(), want[2].numpy()), name
        if b.targets is not None:
            assert np.array_equal(a.targets, b.targets, equal_nan=True) and a.targets.dtype == b.targets.dtype, name
        assert np.array_equal(a.raw_features(), b.raw_features()), name


def test_csv_regression_scaffold_split(tmp_path, rng, pm, small_units):
    raw = write_csv(tmp_path / "raw" / "mols.csv", molecule_table(40, rng), columns=COLUMNS)
    meta = prepare(pm, plugin="molecule", data=raw, out=tmp_path / "s", num_workers=2)
    assert meta["dataset"] == "molecule/file" and meta["normalisation"] is None
    shards, memory = shards_of(pm, tmp_path / "s"), load_file(str(raw))
    assert shards.task.kind == "regression"
    same(shards, memory)


def test_split_column_and_multitask_targets(tmp_path, rng, pm, small_units):
    rows = molecule_table(40, rng)
    for i, r in enumerate(rows):
        r["split"] = "test" if i % 5 == 0 else "train"  # no val: carved from train by scaffold
    raw = write_csv(tmp_path / "raw" / "mols.csv", rows, columns=["compound_id", "SMILES", "tox_a", "tox_b", "split"])
    options = {"target_col": "tox_a,tox_b"}
    prepare(pm, plugin="molecule", data=raw, out=tmp_path / "s", num_workers=2, options=options)
    shards, memory = shards_of(pm, tmp_path / "s"), load_file(str(raw), options=options)
    assert shards.task.kind == "multilabel" and len(shards.splits["test"]) == 8
    same(shards, memory)


def test_sdf_binary_random_split(tmp_path, rng, pm):
    raw = write_sdf(tmp_path / "raw" / "mols.sdf", molecule_table(40, rng), props=("logS", "soluble"))
    options = {"target_col": "soluble", "split": "random", "fp_size": "512"}
    prepare(pm, plugin="molecule", data=raw, out=tmp_path / "s", options=options)
    shards, memory = shards_of(pm, tmp_path / "s"), load_file(str(raw), options=options)
    assert shards.task.kind == "binary" and shards.input_spec.shape[-1] == 512
    same(shards, memory)


def test_unlabelled_smiles_list(tmp_path, rng, pm, small_units, monkeypatch):
    smiles = [r["SMILES"] for r in molecule_table(30, rng, bad=(4,))]
    raw = tmp_path / "raw" / "list.txt"
    raw.parent.mkdir()
    raw.write_text("\n".join(smiles) + "\n")  # no header: the first line is a molecule
    memory = load_file(str(raw), unlabelled=True, on_bad_record="skip")
    monkeypatch.chdir(raw.parent)
    (raw.parent / memory.splits["pretrain"].metadata()["smiles"][0]).write_text("a file named like a molecule")
    meta = prepare(pm, plugin="molecule", data=raw, out=tmp_path / "s", unlabelled=True, on_bad_record="skip",
                   num_workers=2)
    assert meta["task"] is None and meta["num_samples"] == 29
    assert [tuple(s) for s in meta["skipped"]] == memory.skipped == [(f"{raw}:5", "invalid SMILES 'C1CC(' (syntax error)")]
    same(shards_of(pm, tmp_path / "s", unlabelled=True), memory, ("pretrain",))


def test_bad_records_raise_or_are_listed(tmp_path, rng, pm, small_units):
    rows = molecule_table(40, rng, bad=(3, 17))
    rows[25]["logS"] = "n/a?"  # not a number: a bad target
    raw = write_csv(tmp_path / "raw" / "mols.csv", rows, columns=COLUMNS)
    with pytest.raises(UserError, match=rf"{raw}:5: invalid SMILES 'C1CC\(' \(syntax error\)"):
        prepare(pm, plugin="molecule", data=raw, out=tmp_path / "e")
    meta = prepare(pm, plugin="molecule", data=raw, out=tmp_path / "s", on_bad_record="skip", num_workers=2)
    memory = load_file(str(raw), on_bad_record="skip")
    assert sorted(tuple(s) for s in meta["skipped"]) == sorted(memory.skipped) and len(memory.skipped) == 3
    assert any("target 'n/a?' in column 'logS' is not a number" in why for _, why in memory.skipped)
    same(shards_of(pm, tmp_path / "s"), memory)


def test_a_labelled_prepare_needs_a_target(tmp_path, rng, pm):
    raw = write_csv(tmp_path / "raw" / "mols.csv", molecule_table(10, rng), columns=["compound_id", "SMILES"])
    with pytest.raises(UserError, match="no target column.*--unlabelled"):
        stream.stream_file(str(raw))


def test_prepare_then_run_through_the_cli(cli, tmp_path, rng):
    labelled = write_csv(tmp_path / "a" / "a.csv", molecule_table(40, rng), columns=COLUMNS)
    unlabelled = tmp_path / "u" / "u.txt"
    unlabelled.parent.mkdir()
    unlabelled.write_text("\n".join(r["SMILES"] for r in molecule_table(30, rng, start=2)) + "\n")
    first, second = assert_prepared_runs("molecule", unlabelled, labelled, tmp_path, unlabelled_size=30, cli=cli)
    assert second["dataset"]["sizes"] == first["dataset"]["sizes"]  # the same splits
