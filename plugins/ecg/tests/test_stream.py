"""The ECG stream (``core_ecg.stream``) behind ``core prepare --plugin ecg``: every streamed
format gives the records, labels, splits and arrays the in-memory reader gives."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserError
from core.prepare import prepare
from core.shards import open_shards
from core.testing import isolated_plugin_manager
from core_ecg import plugin
from core_ecg.datasets import load_records
from core_ecg.stream import stream_records
from core_ecg.synthetic import beat, write_ptbxl, write_wfdb, write_wfdb_dir

pytest.importorskip("litdata")


@pytest.fixture
def pm():
    return isolated_plugin_manager(("ecg", plugin))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def same(shards, memory, splits=("train", "val", "test", "pretrain")):
    assert shards.input_spec == memory.input_spec and shards.task == memory.task
    for name in splits:
        a, b = shards.splits[name], memory.splits[name]
        assert a.ids == b.ids, name
        x = np.stack([a[i][0].numpy() for i in range(len(a))]) if len(a) else np.zeros((0,) + b.x.shape[1:])
        assert np.allclose(x, b.x, atol=1e-5), name
        if b.targets is not None:
            assert np.array_equal(a.targets, b.targets), name


def test_ptbxl_labelled_keeps_folds_and_superclasses(tmp_path, rng, pm):
    raw = write_ptbxl(tmp_path / "ptbxl", rng, n=30)
    prepare(pm, plugin="ecg", data=raw, out=tmp_path / "s", num_workers=2)
    shards, memory = open_shards(tmp_path / "s"), load_records(str(raw))
    assert shards.task.kind == "multilabel" and shards.task.class_names == ("NORM", "MI", "STTC", "CD", "HYP")
    assert [len(shards.splits[s]) for s in ("train", "val", "test")] == [24, 3, 3]  # folds 1-8, 9, 10
    same(shards, memory)


def test_ptbxl_unlabelled_500hz(tmp_path, rng, pm):
    raw = write_ptbxl(tmp_path / "ptbxl", rng, n=6)
    meta = prepare(pm, plugin="ecg", data=raw, out=tmp_path / "s", unlabelled=True, options={"sampling": "500"})
    assert meta["input_spec"]["shape"] == [12, 5000] and meta["input_spec"]["sample_rate"] == 500
    shards = open_shards(tmp_path / "s", unlabelled=True)
    same(shards, load_records(str(raw), unlabelled=True, options={"sampling": "500"}), ("pretrain",))


def test_npy_with_labels_and_splits(tmp_path, rng, pm):
    folder = tmp_path / "arrays"
    folder.mkdir()
    n = 60
    np.save(folder / "x.npy", rng.standard_normal((n, 2, 80)).astype(np.float32))
    np.save(folder / "y.npy", np.arange(n) % 3)
    np.save(folder / "split.npy", np.array(["train"] * 40 + ["val"] * 10 + ["test"] * 10))
    prepare(pm, plugin="ecg", data=folder, out=tmp_path / "s", options={"source_fs": "100"})
    shards = open_shards(tmp_path / "s")
    same(shards, load_records(str(folder), options={"source_fs": "100"}))
    assert shards.input_spec.sample_rate == 100


def test_wfdb_without_labels_file_streams_unlabelled(tmp_path, rng, pm):
    raw = write_wfdb_dir(tmp_path / "w", rng, n=9, length=300)
    (raw / "labels.csv").unlink()
    with pytest.raises(UserError, match="labels.csv.*--unlabelled"):
        stream_records(str(raw))
    prepare(pm, plugin="ecg", data=raw, out=tmp_path / "s", unlabelled=True)
    same(open_shards(tmp_path / "s", unlabelled=True), load_records(str(raw), unlabelled=True), ("pretrain",))


def test_rate_length_and_leads_fixed_up_front(tmp_path, rng, pm):
    raw = tmp_path / "w"
    write_wfdb(raw, "a0", beat(rng, 500, 250, 0), 250)
    write_wfdb(raw, "a1", beat(rng, 1000, 500, 1), 500)  # resampled to 250 Hz: 500 samples
    write_wfdb(raw, "a2", beat(rng, 400, 250, 2), 250)  # shorter: zero-padded after standardising
    write_wfdb(raw, "a3", beat(rng, 500, 250, 0, leads=3), 250, ("I", "II", "V1"))  # other leads
    stream = stream_records(str(raw), on_bad_record="skip", unlabelled=True)
    assert stream.input_spec.shape == (2, 500) and stream.input_spec.sample_rate == 250
    meta = prepare(pm, plugin="ecg", data=raw, out=tmp_path / "s", unlabelled=True, on_bad_record="skip")
    assert meta["num_samples"] == 3 and "a3" in meta["skipped"][0][0]
    pool = open_shards(tmp_path / "s", unlabelled=True).splits["pretrain"]
    assert pool.ids == ["a0", "a1", "a2"] and (pool[2][0][:, 400:] == 0).all()
    kept = prepare(pm, plugin="ecg", data=raw, out=tmp_path / "v1", unlabelled=True, options={"leads": "II"})
    assert kept["num_samples"] == 4 and kept["input_spec"]["channel_names"] == ["II"]


def test_other_formats_are_refused_in_one_line(tmp_path, rng):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="core prepare streams WFDB folders"):
        stream_records(str(tmp_path))
    with pytest.raises(UserError, match="no such file"):
        stream_records(str(tmp_path / "missing"))
