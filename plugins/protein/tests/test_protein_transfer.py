"""Issue 14 item 1 through the real CLI: pretrain on a bare FASTA (``--pretrain-data``) plus a
labelled FASTA + CSV folder, then probe the run's encoder on another labelled folder
(``core evaluate RUN --data``)."""
from __future__ import annotations

from core.testing import assert_transfer
from core_protein.datasets import load_file
from core_protein.synthetic import real_peptides, write_fasta, write_labels


def labelled_folder(folder, records):
    folder.mkdir()
    write_fasta(folder / "seqs.fasta", records)
    write_labels(folder / "labels.csv", records)
    return folder


def test_pretrain_on_a_bare_fasta_then_evaluate_on_another_folder(cli, tmp_path):
    rows = real_peptides(110)  # 55 AMP then 55 UniProt, all distinct records
    amp, other = rows[:55], rows[55:]
    labelled = labelled_folder(tmp_path / "a", amp[:20] + other[:20])
    second = labelled_folder(tmp_path / "b", amp[20:40] + other[20:40])
    unlabelled = write_fasta(tmp_path / "u.fasta", amp[40:] + other[40:])  # no labels: 30 records
    expected = load_file(str(second), seed=0).splits  # B read directly, at the run's seed
    assert_transfer("protein", labelled, second, unlabelled, tmp_path / "runs", unlabelled_size=30,
                    other_size=40, other_test=len(expected["test"]), cli=cli)
