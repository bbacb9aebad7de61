"""Integration: the real `core` CLI on files written in the real formats (CSV, RDKit SDWriter SDF)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import yaml

from core_molecule.synthetic import molecule_table, write_csv, write_sdf
from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir


def test_csv_with_flags_skip_mode_then_embed(cli, tmp_path, rng):
    rows = molecule_table(60, rng, bad=(4, 33))
    data = write_csv(tmp_path / "mols.csv", rows, columns=["compound_id", "SMILES", "logS", "tox_a"])
    assert_user_error(cli("run", "--plugin", "molecule", "--data", data, "--smiles-col", "SMILES", "--target-col", "logS",
                    *TINY), "mols.csv:6", "C1CC(")
    out = tmp_path / "runs"
    res = assert_ok(cli("run", "--plugin", "molecule", "--data", data, "--smiles-col", "SMILES", "--target-col", "logS",
                  "--on-bad-record", "skip", "--out", out, *TINY))
    assert "pretrained encoder" in res.stdout and "random-init encoder" in res.stdout and "raw features" in res.stdout
    run = only_run_dir(out)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["dataset"] == "molecule/file" and cfg["encoder"] == "molecule/gin"
    assert cfg["data_options"] == {"smiles_col": "SMILES", "target_col": "logS"}
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"pretrained encoder", "random-init encoder", "raw features"}
    assert metrics["primary_metric"] == "r2" and "linear/spearman" in metrics["summary"]["raw features"]
    assert metrics["dataset"]["sizes"]["train"] + metrics["dataset"]["sizes"]["val"] + \
        metrics["dataset"]["sizes"]["test"] == 58
    skipped = (run / "skipped.csv").read_text()
    assert "mols.csv:6" in skipped and "mols.csv:35" in skipped
    card = json.loads((run / "card.json").read_text())
    assert card["input_spec"]["modality"] == "graph" and card["task"]["kind"] == "regression"

    # embed: one row per input molecule, in input order, the failed ones with NaN and a reason
    target = tmp_path / "emb.parquet"
    res = assert_ok(cli("embed", run, "--data", data, "--out", target))
    assert "wrote 60 embeddings" in res.stdout
    frame = pd.read_parquet(target)
    assert list(frame["id"]) == [r["compound_id"] for r in rows]
    assert list(frame.columns[:2]) == ["id", "split"] and {"smiles", "reason", "input_index"} <= set(frame.columns)
    emb = frame[[f"e{i}" for i in range(16)]].to_numpy()
    failed = frame["split"] == "failed"
    assert list(frame.index[failed]) == [4, 33] and np.isnan(emb[failed]).all() and np.isfinite(emb[~failed]).all()
    assert frame.loc[4, "smiles"] == "C1CC(" and "invalid SMILES" in frame.loc[4, "reason"]
    assert frame.loc[0, "smiles"] and frame.loc[0, "reason"] == ""
    # a new file without labels embeds with --target-col none; npy + ids.csv carry the same rows
    unlabelled = write_csv(tmp_path / "new.csv", rows[:10], columns=["compound_id", "SMILES"])
    assert_ok(cli("embed", run, "--data", unlabelled, "--out", tmp_path / "new.npy", "--target-col", "none"))
    ids = pd.read_csv(tmp_path / "new.ids.csv")
    assert list(ids["id"]) == [r["compound_id"] for r in rows[:10]] and ids.loc[4, "split"] == "failed"
    assert np.load(tmp_path / "new.npy").shape == (10, 16)
    assert_user_error(cli("embed", run, "--data", unlabelled, "--out", tmp_path / "e.npz", "--target-col", "none",
                    "--on-bad-record", "error"), "new.csv:6")


def test_sdf_run_and_reader_flag_errors(cli, tmp_path, rng):
    rows = molecule_table(48, rng)
    sdf = write_sdf(tmp_path / "mols.sdf", rows, props=("logS", "soluble"))
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "molecule", "--data", sdf, "--target-col", "soluble", "--encoder",
            "molecule/fp_mlp", "--projector", "molecule/fingerprint", "--out", out, *TINY))
    run = only_run_dir(out)
    card = json.loads((run / "card.json").read_text())
    assert card["task"]["kind"] == "binary" and card["encoder"] == "molecule/fp_mlp"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["primary_metric"] == "auroc"
    # the acceptance form: an SDF with one numeric property needs no flag at all
    plain = write_sdf(tmp_path / "plain.sdf", rows, props=("logS",))
    out = tmp_path / "plain-runs"
    assert_ok(cli("run", "--plugin", "molecule", "--data", plain, "--out", out, *TINY))
    metrics = json.loads((only_run_dir(out) / "metrics.json").read_text())
    assert metrics["primary_metric"] == "r2" and "targets logS" in metrics["dataset"]["source"]
    assert_user_error(cli("run", "--plugin", "molecule", "--data", sdf, "--target-col", "logS", "--smiles-colum", "x",
                    *TINY), "smiles_colum")


def test_default_recipe_on_the_embedded_set_one_epoch(cli, tmp_path):
    out = tmp_path / "runs"
    res = assert_ok(cli("run", "--plugin", "molecule", "--epochs", "1", "--set", "candidates_per_slot=2", "--out", out,
                  "--no-progress"))
    assert "raw features" in res.stdout
    run = only_run_dir(out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"]["sizes"]["test"] == 128 and metrics["primary_metric"] == "r2"
    assert "split scaffold" in metrics["dataset"]["source"]
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["dataset"] == "molecule/solubility" and cfg["projector"] == "molecule/fingerprint-composition"
    raw = metrics["summary"]["raw features"]["linear/r2"]["mean"]
    assert 0.3 < raw < 0.9
