"""Issue 14 item 1 through the real CLI: pretrain on a SMILES list (``--pretrain-data``) plus a
labelled CSV, then probe the run's encoder on another labelled CSV (``core evaluate RUN --data``)."""
from __future__ import annotations

from core.testing import assert_transfer
from core_molecule.datasets import load_file
from core_molecule.synthetic import molecule_table, write_csv

COLUMNS = ["compound_id", "SMILES", "logS"]


def test_pretrain_on_a_smiles_list_then_evaluate_on_another_csv(cli, tmp_path, rng):
    labelled = write_csv(tmp_path / "a.csv", molecule_table(40, rng), columns=COLUMNS)
    other = write_csv(tmp_path / "b" / "b.csv", molecule_table(40, rng, start=1), columns=COLUMNS)  # other molecules
    unlabelled = tmp_path / "u.txt"
    unlabelled.write_text("\n".join(r["SMILES"] for r in molecule_table(30, rng, start=2)) + "\n")  # bare SMILES
    expected = load_file(str(other), seed=0).splits  # B read directly, at the run's seed
    assert_transfer("molecule", labelled, other, unlabelled, tmp_path / "runs", unlabelled_size=30,
                    other_size=40, other_test=len(expected["test"]), cli=cli)
