"""Issue 15 through the real CLI: the cost of one molecule is bounded by ``max_atoms`` and, before
RDKit parses it, by ``max_smiles_length`` (item 5); files beside the corpus are listed, not dropped
silently, and are ``failed`` rows of ``core embed`` (item 4)."""
from __future__ import annotations


import numpy as np
import pandas as pd

from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir
from core_molecule.synthetic import molecule_table, write_csv

HUGE = "CC(C1CCCCC1)" * 160  # 1,920 characters, 1,280 heavy atoms: minutes of scaffold search unbounded
LONG = "c1ccccc1" * 2500  # 20,000 characters: seconds of parsing alone


def test_huge_and_long_smiles_are_refused_or_skipped_and_files_beside_are_failed_rows(cli, tmp_path, rng):
    rows = molecule_table(40, rng)
    rows[7]["SMILES"], rows[12]["SMILES"] = HUGE, LONG
    folder = tmp_path / "corpus"
    data = write_csv(folder / "mols.csv", rows, columns=["compound_id", "SMILES", "logS"])
    (folder / "notes.md").write_text("where these came from\n")
    assert_user_error(cli("run", "--plugin", "molecule", "--data", folder, "--out", tmp_path / "runs", *TINY),
                      "mols.csv:9", "cpd007", "1280 heavy atoms", "max_atoms=200", "--on-bad-record skip")
    assert_user_error(cli("run", "--plugin", "molecule", "--data", folder, "--out", tmp_path / "runs",
                          "--max-atoms", "2000", *TINY),
                      "mols.csv:14", "SMILES of 'cpd012' has 20000 characters, more than max_smiles_length=2000",
                      "--option max_smiles_length=N", "--on-bad-record skip")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    out = tmp_path / "skip"
    assert_ok(cli("run", "--plugin", "molecule", "--data", folder, "--on-bad-record", "skip", "--out", out, *TINY))
    run = only_run_dir(out)
    skipped = (run / "skipped.csv").read_text()
    assert "mols.csv:9" in skipped and "max_atoms=200" in skipped and "notes.md" in skipped
    assert "mols.csv:14" in skipped and "max_smiles_length=2000" in skipped
    assert data.is_file()

    # core embed: every input is a row; what was not read (notes.md) is a failed row too, after the molecules
    target = tmp_path / "emb.parquet"
    assert_ok(cli("embed", run, "--data", folder, "--out", target))
    frame = pd.read_parquet(target)
    assert list(frame["id"][:40]) == [r["compound_id"] for r in rows]  # input order
    assert list(frame.index[frame["split"] == "failed"]) == [7, 12, 40]
    assert frame.loc[40, "id"] == str(folder / "notes.md") and "not read" in frame.loc[40, "reason"]
    assert "max_smiles_length=2000" in frame.loc[12, "reason"] and frame.loc[12, "smiles"] == LONG
    emb = frame[[c for c in frame.columns if c.startswith("e") and c[1:].isdigit()]].to_numpy()
    assert np.isnan(emb[[7, 12, 40]]).all() and np.isfinite(np.delete(emb, [7, 12, 40], axis=0)).all()
