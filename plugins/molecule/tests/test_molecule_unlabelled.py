"""Unlabelled corpora for `--pretrain-data`: SMILES lists and tables without targets, one pool."""
from __future__ import annotations

from core_molecule.datasets import load_file
from core_molecule.synthetic import molecule_table, write_csv, write_sdf


def test_smiles_lists_read_into_one_unlabelled_pool(tmp_path, rng):
    rows = molecule_table(24, rng, bad=(5,))
    smiles = [r["SMILES"] for r in rows]
    good = [r for i, r in enumerate(rows) if i != 5]
    labelled = load_file(str(write_csv(tmp_path / "labelled.csv", good, columns=["compound_id", "SMILES", "logS"])),
                         options={"fp_size": "512"})
    (tmp_path / "list.txt").write_text("\n".join(smiles) + "\n")  # no header: the first line is a molecule
    (tmp_path / "list.smi").write_text("\n".join(f"{s} m{i}" for i, s in enumerate(smiles)) + "\n")
    inputs = [tmp_path / "list.txt", tmp_path / "list.smi", write_csv(tmp_path / "only.csv", rows, columns=["SMILES"])]
    for path in inputs:
        corpus = load_file(str(path), on_bad_record="skip", unlabelled=True,
                           options={"fp_size": "512", "target_col": "logS", "split": "column"})  # ignored
        pool = corpus.splits["pretrain"]
        assert corpus.task is None and pool.targets is None and len(pool) == 23, path
        assert [len(corpus.splits[s]) for s in ("train", "val", "test")] == [0, 0, 0]
        assert pool[0][1].item() == -1 and pool[0][2] == 0
        assert corpus.input_spec == labelled.input_spec
        line = 7 if path.suffix == ".csv" else 6  # the bad molecule is the 6th, after a header in the CSV
        assert corpus.skipped == [(f"{path}:{line}", "invalid SMILES 'C1CC(' (syntax error)")]
    # the headerless list keeps its first molecule: the same molecules as the labelled file
    listed = load_file(str(inputs[0]), on_bad_record="skip", unlabelled=True).splits["pretrain"].metadata()["smiles"]
    assert sorted(listed) == sorted(s for split in ("train", "val", "test")
                                    for s in labelled.splits[split].metadata()["smiles"])


def test_labelled_files_read_unlabelled_ignore_their_labels(tmp_path, rows):
    table = write_csv(tmp_path / "mols.csv", rows)  # several numeric columns: ambiguous targets when labelled
    corpus = load_file(str(table), unlabelled=True)
    assert len(corpus.splits["pretrain"]) == 40 and corpus.splits["pretrain"].targets is None
    sdf = load_file(str(write_sdf(tmp_path / "mols.sdf", rows, props=("logS",))), unlabelled=True)
    assert len(sdf.splits["pretrain"]) == 40 and sdf.task is None


def test_a_batch_mixing_two_corpora_reads_each_molecule_from_its_own_store(tmp_path, rows):
    from core.data import join_pools
    from core_molecule.graphs import collate

    first = load_file(str(write_csv(tmp_path / "a.csv", rows[:12])), unlabelled=True).splits["pretrain"]
    second = load_file(str(write_csv(tmp_path / "b.csv", rows[12:30])), unlabelled=True).splits["pretrain"]
    pool = join_pools([first, second])
    mixed = [pool[i] for i in (0, 13, 29, 5)]  # rows 13 and 29 live in the second store
    alone = collate([first[0]]), collate([second[1]]), collate([second[17]]), collate([first[5]])
    batch = collate(mixed)[0]
    assert batch.num_graphs == 4 and batch.atoms.shape[0] == sum(b[0].atoms.shape[0] for b in alone)
    for i, single in enumerate(alone):
        assert (batch.fp[i] == single[0].fp[0]).all()
        assert (batch.atoms[batch.graph == i] == single[0].atoms).all()
