"""Unlabelled corpora for `--pretrain-data`: FASTA without labels, folders, one pool."""
from __future__ import annotations

from core_protein.datasets import load_file
from core_protein.synthetic import family_members, real_peptides, write_fasta, write_labels


def test_fasta_without_labels_reads_into_one_pool(tmp_path):
    records = real_peptides(20)
    labelled_dir = tmp_path / "labelled"
    labelled_dir.mkdir()
    write_fasta(labelled_dir / "seqs.fasta", records)
    write_labels(labelled_dir / "labels.csv", records)
    labelled = load_file(str(labelled_dir), options={"max_length": "64"})
    bare = write_fasta(tmp_path / "bare.fasta", records[:5] + [("broken", "MKV*%QQ", "x")] + records[5:])
    corpus = load_file(str(bare), on_bad_record="skip", unlabelled=True,
                       options={"max_length": "64", "split": "cluster", "label_regex": r"class=(\w+)"})  # ignored
    pool = corpus.splits["pretrain"]
    assert corpus.task is None and pool.targets is None and len(pool) == 20
    assert [len(corpus.splits[s]) for s in ("train", "val", "test")] == [0, 0, 0]
    assert pool[0][1].item() == -1 and pool[0][2] == 0
    assert corpus.input_spec == labelled.input_spec and corpus.input_spec.shape == (64,)
    assert [where for where, _ in corpus.skipped] == [f"{bare}:broken"]
    # the labelled folder read without labels: its table is not read, every record pooled
    again = load_file(str(labelled_dir), unlabelled=True, options={"max_length": "64"})
    assert len(again.splits["pretrain"]) == 20 and again.skipped == [] and again.input_spec == labelled.input_spec


def test_class_folders_read_unlabelled_are_one_pool(tmp_path):
    for f in range(3):
        (tmp_path / f"class{f}").mkdir()
        write_fasta(tmp_path / f"class{f}" / "seqs.fasta", family_members(1, 4, seed=f))
    corpus = load_file(str(tmp_path), unlabelled=True)
    assert len(corpus.splits["pretrain"]) == 12 and corpus.splits["pretrain"].targets is None
