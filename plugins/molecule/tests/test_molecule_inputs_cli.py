"""Issue 15 through the real CLI: the cost of one molecule is bounded by ``max_atoms`` (item 5) and
files beside the corpus are listed, not dropped silently (item 4)."""
from __future__ import annotations

import time

from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir
from core_molecule.synthetic import molecule_table, write_csv

HUGE = "CC(C1CCCCC1)" * 420  # 5,040 characters, 3,360 heavy atoms: minutes of scaffold search unbounded


def test_a_huge_smiles_is_refused_or_skipped_by_max_atoms(cli, tmp_path, rng):
    rows = molecule_table(40, rng)
    rows[7]["SMILES"] = HUGE
    folder = tmp_path / "corpus"
    data = write_csv(folder / "mols.csv", rows, columns=["compound_id", "SMILES", "logS"])
    (folder / "notes.md").write_text("where these came from\n")
    started = time.monotonic()
    assert_user_error(cli("run", "--plugin", "molecule", "--data", folder, "--out", tmp_path / "runs", *TINY),
                      "mols.csv:9", "cpd007", "3360 heavy atoms", "max_atoms=200", "--on-bad-record skip")
    assert time.monotonic() - started < 60  # refused at once, not after the scaffold computation
    out = tmp_path / "skip"
    assert_ok(cli("run", "--plugin", "molecule", "--data", folder, "--on-bad-record", "skip", "--out", out, *TINY))
    skipped = (only_run_dir(out) / "skipped.csv").read_text()
    assert "mols.csv:9" in skipped and "max_atoms=200" in skipped and "notes.md" in skipped
    assert data.is_file()
