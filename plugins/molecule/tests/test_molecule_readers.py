"""Readers: CSV/TSV/.smi/SDF with flags and auto-detection, standardisation, bad records."""
from __future__ import annotations

import gzip
import math

import numpy as np
import pytest

from core.errors import BadRecord, UserError
from core_molecule.datasets import load_file, load_freesolv, load_solubility
from core_molecule.synthetic import corrupt_sdf_record, molecule_table, write_csv


def load(path, on_bad_record="error", **options):
    return load_file(str(path), seed=0, on_bad_record=on_bad_record, options=options)


def all_ids(data):
    return [i for s in ("train", "val", "test") for i in data.splits[s].ids]


def one_line(err) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg
    return msg


def test_csv_with_flags_regression(csv_file, rows):
    data = load(csv_file, smiles_col="SMILES", target_col="logS")
    assert data.task.kind == "regression" and data.input_spec.modality == "graph"
    assert sorted(all_ids(data)) == sorted(r["compound_id"] for r in rows)  # id column auto-detected
    train = data.splits["train"]
    by_id = {r["compound_id"]: r for r in rows}
    for i, y in zip(train.ids, train.targets):
        assert y == pytest.approx(by_id[i]["logS"], abs=1e-5)
    assert data.splits["pretrain"].targets is None
    assert len(data.splits["pretrain"]) == len(train) + len(data.splits["val"])
    assert train.raw_features().shape == (len(train), 2048)
    assert "SMILES column 'SMILES'" in data.source and "targets logS" in data.source


def test_auto_detection(tmp_path, rows):
    plain = write_csv(tmp_path / "plain.csv", [{"name": r["compound_id"], "smi": r["SMILES"], "y": r["logS"]}
                                               for r in rows])
    data = load(plain)
    assert data.task.kind == "regression" and "SMILES column 'smi'" in data.source and "targets y" in data.source
    assert all_ids(data)[0].startswith("cpd")
    # several numeric columns: ambiguous, the error names them and the flag
    with pytest.raises(UserError) as err:
        load(write_csv(tmp_path / "many.csv", rows))
    assert "--target-col" in one_line(err) and "logS" in one_line(err)
    # several 0/1 columns with gaps: multilabel with NaN kept (masked by the probes)
    multi = write_csv(tmp_path / "multi.csv", rows, columns=["compound_id", "SMILES", "tox_a", "tox_b"])
    data = load(multi)
    assert data.task.kind == "multilabel" and data.task.class_names == ("tox_a", "tox_b")
    y = np.concatenate([data.splits[s].targets for s in ("train", "val", "test")])
    assert y.shape == (40, 2) and np.isnan(y).any() and set(np.unique(y[~np.isnan(y)])) == {0.0, 1.0}
    # content-based SMILES detection when no column name says so
    odd = write_csv(tmp_path / "odd.csv", [{"structure_text": r["SMILES"], "value": r["logS"]} for r in rows])
    assert "SMILES column 'structure_text'" in load(odd).source


def test_binary_and_string_classes(tmp_path, rows):
    data = load(write_csv(tmp_path / "b.csv", rows, columns=["SMILES", "soluble"]))
    assert data.task.kind == "binary"
    labelled = [dict(SMILES=r["SMILES"], label="active" if r["soluble"] else "inactive") for r in rows]
    data = load(write_csv(tmp_path / "s.csv", labelled))
    assert data.task.kind == "binary" and data.task.class_names == ("active", "inactive")
    three = [dict(SMILES=r["SMILES"], label="abc"[i % 3]) for i, r in enumerate(rows)]
    data = load(write_csv(tmp_path / "m.csv", three))
    assert data.task.kind == "multiclass" and data.task.class_names == ("a", "b", "c")
    assert data.splits["train"].targets.dtype == np.int64


def test_tsv_gz_and_smi(tmp_path, rows):
    tsv = write_csv(tmp_path / "mols.tsv.gz", rows, columns=["compound_id", "SMILES", "logS"], sep="\t")
    assert gzip.open(tsv).read(5)
    assert load(tsv).task.kind == "regression"
    smi = tmp_path / "mols.smi"
    smi.write_text("".join(f"{r['SMILES']} {r['compound_id']}\n" for r in rows))
    data = load(smi, target_col="none")
    assert data.splits["train"].targets is None and sorted(all_ids(data)) == sorted(r["compound_id"] for r in rows)
    with_header = tmp_path / "h.smi"
    with_header.write_text("smiles id logS\n" + "".join(f"{r['SMILES']}\t{r['compound_id']}\t{r['logS']}\n"
                                                        for r in rows))
    assert load(with_header).task.kind == "regression"


def test_sdf_properties(sdf_file, rows):
    data = load(sdf_file, target_col="logS")
    assert data.task.kind == "regression" and "SDF" in data.source
    assert sorted(all_ids(data)) == sorted(r["compound_id"] for r in rows)  # title lines
    by_id = {r["compound_id"]: r["logS"] for r in rows}
    test = data.splits["test"]
    assert np.allclose(test.targets, [by_id[i] for i in test.ids], atol=1e-5)
    assert load(sdf_file, target_col="soluble").task.kind == "binary"


def test_canonical_salts_and_fragments(tmp_path):
    table = [{"smiles": s, "y": i} for i, s in enumerate(
        ["OCC", "CCO.[Na+].[Cl-]", "CCCCCC.CCO", "c1ccccc1O", "Oc1ccccc1"] * 3)]
    path = write_csv(tmp_path / "salts.csv", table)
    smiles = lambda d: {i: s for sp in ("train", "val", "test")  # noqa: E731
                        for i, s in zip(d.splits[sp].ids, d.splits[sp].smiles)}
    plain = smiles(load(path, task="regression"))
    assert plain[f"{path.name}:2"] == "CCO" and plain[f"{path.name}:5"] == plain[f"{path.name}:6"] == "Oc1ccccc1"
    assert plain[f"{path.name}:3"] == "CCO.[Cl-].[Na+]"
    stripped = smiles(load(path, task="regression", strip_salts=True))
    assert stripped[f"{path.name}:3"] == "CCO" and stripped[f"{path.name}:4"] == "CCCCCC.CCO"
    largest = smiles(load(path, task="regression", largest_fragment=True))
    assert largest[f"{path.name}:4"] == "CCCCCC" and largest[f"{path.name}:3"] == "CCO"
    as_written = smiles(load(path, task="regression", canonical=False))
    assert as_written[f"{path.name}:2"] == "OCC"


def test_invalid_smiles_error_names_file_and_line(tmp_path, rng):
    rows = molecule_table(30, rng, bad=(6,))
    path = write_csv(tmp_path / "bad.csv", rows, columns=["compound_id", "SMILES", "logS"])
    with pytest.raises(BadRecord) as err:
        load(path)
    msg = one_line(err)
    assert f"{path}:8" in msg and "C1CC(" in msg and "--on-bad-record skip" in msg  # header is line 1
    data = load(path, on_bad_record="skip")
    assert [r for r, _ in data.skipped] == [f"{path}:8"]
    assert "cpd006" not in all_ids(data) and len(all_ids(data)) == 29
    (failed,) = data.failed
    assert failed["id"] == "cpd006" and failed["smiles"] == "C1CC(" and failed["input_index"] == 6
    assert "invalid SMILES" in failed["reason"]


def test_chemistry_errors_and_empty_smiles(tmp_path, rng):
    rows = molecule_table(30, rng, bad=(2,))
    rows[3]["SMILES"] = "C(C)(C)(C)(C)C"  # pentavalent carbon: parses, fails sanitisation
    rows[10]["SMILES"] = ""
    path = write_csv(tmp_path / "bad.csv", rows, columns=["compound_id", "SMILES", "logS"])
    data = load(path, on_bad_record="skip")
    reasons = dict(data.skipped)
    assert set(reasons) == {f"{path}:4", f"{path}:5", f"{path}:12"}
    assert "valence" in reasons[f"{path}:5"].lower() and "empty" in reasons[f"{path}:12"]


def test_bad_target_value_is_a_bad_record(tmp_path, rows):
    rows[3]["logS"] = "n.d.x"
    path = write_csv(tmp_path / "t.csv", rows, columns=["SMILES", "logS"])
    with pytest.raises(BadRecord) as err:
        load(path)
    assert f"{path}:5" in one_line(err) and "n.d.x" in one_line(err)
    assert len(load(path, on_bad_record="skip").skipped) == 1


def test_unreadable_sdf_block(sdf_file):
    line = corrupt_sdf_record(sdf_file, 4)
    with pytest.raises(BadRecord) as err:
        load(sdf_file, target_col="logS")
    assert f"{sdf_file}:{line}" in one_line(err)
    data = load(sdf_file, target_col="logS", on_bad_record="skip")
    assert [r for r, _ in data.skipped] == [f"{sdf_file}:{line}"] and data.failed[0]["id"] == "cpd003"


def test_split_column(tmp_path, rows):
    for i, r in enumerate(rows):
        r["split"] = ["train", "valid", "test", "train"][i % 4]
    path = write_csv(tmp_path / "split.csv", rows, columns=["compound_id", "SMILES", "logS", "split"])
    data = load(path)
    assert data.splits["val"].ids == [r["compound_id"] for i, r in enumerate(rows) if i % 4 == 1]
    assert "column 'split'" in data.source
    rows[5]["split"] = "holdout"
    with pytest.raises(BadRecord) as err:
        load(write_csv(tmp_path / "bad.csv", rows, columns=["SMILES", "logS", "split"]))
    assert "holdout" in one_line(err) and "bad.csv:7" in one_line(err)


def test_user_errors(tmp_path, csv_file):
    cases = [
        (lambda: load(tmp_path / "nope.csv"), "nope.csv"),
        (lambda: load(csv_file, smiles_col="smile"), "--smiles-col"),
        (lambda: load(csv_file, target_col="logs_typo"), "logs_typo"),
        (lambda: load(csv_file, bogus=1), "bogus"),
        (lambda: load(csv_file, target_col="logS", split="stratified"), "split"),
        (lambda: load(csv_file, target_col="logS", val_fraction=0.6, test_fraction=0.5), "val_fraction"),
        (lambda: load_file(None, seed=0, on_bad_record="error", options={}), "--data"),
        (lambda: load_solubility(str(csv_file), seed=0, on_bad_record="error", options={}), "molecule/file"),
        (lambda: load_solubility(None, seed=0, on_bad_record="error", options={"smiles_col": "x"}), "smiles_col"),
    ]
    for call, needle in cases:
        with pytest.raises(UserError) as err:
            call()
        assert needle in one_line(err)
    (tmp_path / "x.xyz").write_text("CCO\n")
    with pytest.raises(UserError) as err:
        load(tmp_path / "x.xyz")
    assert ".xyz" in one_line(err)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("smiles,y\nCCO,1\nCCC,2,3\n")
    with pytest.raises(UserError) as err:
        load(ragged)
    assert "ragged.csv:3" in one_line(err)


def test_embedded_sets():
    sol = load_solubility(None, seed=0, on_bad_record="error", options={})
    sizes = {s: len(d) for s, d in sol.splits.items()}
    assert sizes["train"] + sizes["val"] + sizes["test"] == 1282 and sizes["test"] == 128
    assert sol.task.kind == "regression" and sol.task.primary_metric == "r2" and not sol.skipped
    given = load_solubility(None, seed=0, on_bad_record="error", options={"split": "column"})
    assert len(given.splits["test"]) == 257 and len(given.splits["train"]) + len(given.splits["val"]) == 1025
    assert all(i.startswith("test/") for i in given.splits["test"].ids)
    free = load_freesolv(None, seed=0, on_bad_record="error", options={"split": "random"})
    assert sum(len(free.splits[s]) for s in ("train", "val", "test")) == 642
    assert not math.isnan(float(free.splits["train"].targets[0]))
