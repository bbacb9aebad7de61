"""The protein stream (``core_protein.stream``) behind ``core prepare --plugin protein``: shards
give the ids, residue ids, coordinates, labels, splits and bad records the in-memory reader gives."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from core.errors import UserError
from core.prepare import prepare
from core.shards import open_shards
from core.testing import assert_prepared_runs, isolated_plugin_manager, paired_splits
from core_protein import plugin, stream
from core_protein.batches import ProteinBatch, collate
from core_protein.datasets import load_file
from core_protein.synthetic import (family_members, real_peptides, write_fasta, write_labels, write_stockholm,
                                    write_structure)

pytest.importorskip("litdata")


@pytest.fixture
def pm():
    return isolated_plugin_manager(("protein", plugin))


@pytest.fixture
def small_units(monkeypatch):
    monkeypatch.setattr(stream, "RECORDS_PER_UNIT", 7)  # FASTA blocks, several units and workers


def shards_of(pm, path, unlabelled=False):
    return open_shards(path, unlabelled=unlabelled, dataset_spec=pm.get("dataset", "protein/file"))


def same(shards, memory, splits=("train", "val", "test", "pretrain")):
    for name, a, b in paired_splits(shards, memory, splits):
        got, want = collate([a[i] for i in range(len(a))]), collate([b[i] for i in range(len(b))])
        if isinstance(want[0], ProteinBatch):
            assert np.array_equal(got[0].coords.numpy(), want[0].coords.numpy(), equal_nan=True), name
            got, want = (got[0].tokens, *got[1:]), (want[0].tokens, *want[1:])
        for x, y in zip(got, want):
            assert x.dtype == y.dtype and np.array_equal(x.numpy(), y.numpy()), name
        if b.targets is not None:
            assert np.array_equal(a.targets, b.targets) and a.targets.dtype == b.targets.dtype, name
        assert np.array_equal(a.raw_features(), b.raw_features()), name
        expected = b.metadata()
        expected.pop("cluster", None)  # not stored in shards (module docstring)
        assert a.metadata() == expected, name


def labelled_folder(folder, records):
    folder.mkdir(parents=True)
    write_fasta(folder / "seqs.fasta", records)
    write_labels(folder / "labels.csv", records)
    return folder


def test_fasta_with_labels_table_in_blocks(tmp_path, pm, small_units):
    raw = labelled_folder(tmp_path / "raw", real_peptides(60))
    options = {"max_length": "40"}  # longer peptides are cropped
    meta = prepare(pm, plugin="protein", data=raw, out=tmp_path / "s", num_workers=2, options=options)
    assert meta["task"]["class_names"] == ["AMP", "UniProt"] and meta["splits"] == {"train": 48, "val": 6, "test": 6}
    same(shards_of(pm, tmp_path / "s"), load_file(str(raw), options=options))


def test_class_folders_split_by_identity_clusters(tmp_path, pm, small_units):
    for f in range(4):
        (tmp_path / "raw" / f"class{f}").mkdir(parents=True)
        write_fasta(tmp_path / "raw" / f"class{f}" / "seqs.fasta", family_members(2, 6, seed=f))
    options = {"split": "cluster"}
    prepare(pm, plugin="protein", data=tmp_path / "raw", out=tmp_path / "s", num_workers=2, options=options)
    shards = shards_of(pm, tmp_path / "s")
    assert shards.splits["train"].ids[0].startswith("class")  # ids prefixed by their file in a folder
    same(shards, load_file(str(tmp_path / "raw"), options=options))


def test_stockholm_families(tmp_path, pm):
    (tmp_path / "raw").mkdir()
    for f in range(3):
        write_stockholm(tmp_path / "raw" / f"fam{f}.sto", family_members(1, 8, seed=f), family_id=f"PF0000{f}")
    prepare(pm, plugin="protein", data=tmp_path / "raw", out=tmp_path / "s")
    shards = shards_of(pm, tmp_path / "s")
    assert shards.task.class_names == ("PF00000", "PF00001", "PF00002")
    same(shards, load_file(str(tmp_path / "raw")))


def test_structures_keep_their_coordinates(tmp_path, pm):
    rng = np.random.default_rng(0)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    for i in range(12):
        klass = tmp_path / "raw" / ("helix" if i % 2 else "other")
        klass.mkdir(parents=True, exist_ok=True)
        write_structure(klass / f"s{i}.pdb", {"A": "".join(rng.choice(letters, 10 + i))})
    prepare(pm, plugin="protein", data=tmp_path / "raw", out=tmp_path / "s", options={"max_length": "16"})
    shards = shards_of(pm, tmp_path / "s")
    assert shards.input_spec.channel_names == ("residue", "ca")
    same(shards, load_file(str(tmp_path / "raw"), options={"max_length": "16"}))


def test_unlabelled_gzipped_fasta(tmp_path, pm, small_units):
    records = real_peptides(30)
    plain = write_fasta(tmp_path / "u.fasta", records[:9] + [("broken", "MKV*%QQ", "x")] + records[9:])
    raw = tmp_path / "raw" / "u.fasta.gz"
    raw.parent.mkdir()
    raw.write_bytes(gzip.compress(plain.read_bytes()))
    meta = prepare(pm, plugin="protein", data=raw, out=tmp_path / "s", unlabelled=True, on_bad_record="skip",
                   num_workers=2)
    memory = load_file(str(raw), unlabelled=True, on_bad_record="skip")
    assert meta["num_samples"] == 30 and [tuple(s) for s in meta["skipped"]] == memory.skipped
    assert memory.skipped[0][0] == f"{raw}:broken"
    same(shards_of(pm, tmp_path / "s", unlabelled=True), memory, ("pretrain",))


def test_bad_records_raise_or_are_listed(tmp_path, pm, small_units):
    records = real_peptides(40)
    records[12] = ("dup", records[12][1], records[12][2])
    records[30] = ("dup", records[30][1], records[30][2])  # the second 'dup' is bad
    records[20] = (records[20][0], records[20][1][:5] + "#" + records[20][1][6:], records[20][2])
    (tmp_path / "raw").mkdir()
    raw = write_fasta(tmp_path / "raw" / "seqs.fasta", records, [f"class={r[2]}" for r in records])
    options = {"label_regex": r"class=(\w+)"}
    with pytest.raises(UserError, match=rf"seqs.fasta:{records[20][0]}: residue '#' at position 6"):
        prepare(pm, plugin="protein", data=raw, out=tmp_path / "e", options=options)
    meta = prepare(pm, plugin="protein", data=raw, out=tmp_path / "s", on_bad_record="skip", num_workers=2,
                   options=options)
    memory = load_file(str(raw), on_bad_record="skip", options=options)
    assert [tuple(s) for s in meta["skipped"]] == memory.skipped and len(memory.skipped) == 2
    assert "'dup' appears twice" in memory.skipped[1][1]
    same(shards_of(pm, tmp_path / "s"), memory)
    (tmp_path / "raw" / "notes.fasta").write_text("not fasta at all\n")  # a file that is not FASTA: one bad record
    with pytest.raises(UserError, match="notes.fasta: not FASTA"):
        prepare(pm, plugin="protein", data=tmp_path / "raw", out=tmp_path / "e2", options=options)
    meta = prepare(pm, plugin="protein", data=tmp_path / "raw", out=tmp_path / "s2", on_bad_record="skip",
                   options=options)
    memory = load_file(str(tmp_path / "raw"), on_bad_record="skip", options=options)
    assert [tuple(s) for s in meta["skipped"]] == memory.skipped and "notes.fasta" in memory.skipped[0][0]
    same(shards_of(pm, tmp_path / "s2"), memory)


def test_a_labelled_prepare_needs_labels(tmp_path):
    raw = write_fasta(tmp_path / "bare.fasta", real_peptides(10))
    with pytest.raises(UserError, match="no labels.*--unlabelled"):
        stream.stream_file(str(raw))


def test_prepare_then_run_through_the_cli(cli, tmp_path):
    rows = real_peptides(80)
    labelled = labelled_folder(tmp_path / "a", rows[:20] + rows[40:60])
    unlabelled = write_fasta(tmp_path / "u.fasta", rows[20:40] + rows[60:])  # no labels: 40 records
    first, second = assert_prepared_runs("protein", unlabelled, labelled, tmp_path, unlabelled_size=40, cli=cli)
    assert second["dataset"]["sizes"] == first["dataset"]["sizes"]  # the same splits
