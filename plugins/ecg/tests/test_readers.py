"""Each reader: shapes, labels, splits, lead selection, resampling, standardisation."""
from __future__ import annotations

import numpy as np

from core_ecg.datasets import load_records
from core_ecg.options import Options
from core_ecg.readers import read_corpus
from core_ecg.records import Problems
from core_ecg.synthetic import beat, write_wfdb


def load(path, seed=0, on_bad_record="error", **options):
    return load_records(str(path), seed=seed, on_bad_record=on_bad_record, options=options)


def check_splits(ds, val: bool = True):
    """Disjoint labelled splits; ``val=False``: a small corpus shipping train/test keeps val empty."""
    ids = {k: set(v.ids) for k, v in ds.splits.items()}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    assert ids["pretrain"] == ids["train"] | ids["val"]
    assert ds.splits["pretrain"].targets is None
    for s in ("train", "val", "test"):
        assert (len(ds.splits[s]) > 0 or (s == "val" and not val)) and ds.splits[s].targets is not None
    assert val or len(ds.splits["val"]) == 0


def test_wfdb_folder_carves_val_and_test(wfdb_dir):
    ds = load(wfdb_dir)
    check_splits(ds)
    assert ds.input_spec.shape == (2, 500) and ds.input_spec.sample_rate == 250
    assert ds.input_spec.channel_names == ("I", "II")
    assert ds.task.kind == "multiclass" and ds.task.class_names == ("A", "B", "C")
    assert sum(len(ds.splits[s]) for s in ("train", "val", "test")) == 20
    assert len(ds.splits["test"]) == 4 and len(ds.splits["val"]) == 4
    assert ds.splits["train"].x.dtype == np.float32
    # the carved test split does not depend on the seed; val does
    other = load(wfdb_dir, seed=1)
    assert other.splits["test"].ids == ds.splits["test"].ids
    assert set(other.splits["pretrain"].ids) == set(ds.splits["pretrain"].ids)


def test_wfdb_labels_split_column(wfdb_dir):
    rows = ["record,label,split"] + [
        f"rec{i:02d},{'ABC'[i % 3]},{'train' if i < 12 else 'val' if i < 16 else 'test'}" for i in range(20)]
    (wfdb_dir / "labels.csv").write_text("\n".join(rows) + "\n")
    ds = load(wfdb_dir)
    assert ds.splits["train"].ids == [f"rec{i:02d}" for i in range(12)]
    assert ds.splits["val"].ids == [f"rec{i:02d}" for i in range(12, 16)]
    assert ds.splits["test"].ids == [f"rec{i:02d}" for i in range(16, 20)]
    assert list(ds.splits["train"].targets[:3]) == [0, 1, 2]


def test_wfdb_single_record(wfdb_dir):
    for path in (wfdb_dir / "rec03", wfdb_dir / "rec03.hea"):
        corpus = read_corpus(path, Options(), Problems())
        assert len(corpus.records) == 1
        r = corpus.records[0]
        assert r.id == "rec03" and r.signal.shape == (2, 500) and r.fs == 250 and r.label == "A"


def test_wfdb_resampling_to_most_common_rate_and_option(wfdb_dir, rng):
    write_wfdb(wfdb_dir, "fast", beat(rng, 1000, 500, 0), 500)
    with open(wfdb_dir / "labels.csv", "a") as f:
        f.write("fast,A\n")
    ds = load(wfdb_dir)
    assert ds.input_spec.sample_rate == 250 and ds.input_spec.shape == (2, 500)
    ds = load(wfdb_dir, fs="100")
    assert ds.input_spec.sample_rate == 100 and ds.input_spec.shape == (2, 200)


def test_resampling_preserves_waveform(tmp_path):
    fs = 200
    t = np.arange(400) / fs
    x = np.sin(2 * np.pi * 2 * t)[None, None, :].repeat(6, 0)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(6) % 2, fs=fs, split=np.array(["train"] * 2 + ["val"] * 2 + ["test"] * 2))
    ds = load(tmp_path / "d.npz", fs=100)
    assert ds.input_spec.shape == (1, 200)
    got = ds.splits["train"].x[0, 0]
    want = np.sin(2 * np.pi * 2 * np.arange(200) / 100)
    want = (want - want.mean()) / want.std()
    assert np.abs(got[20:-20] - want[20:-20]).max() < 0.05


def test_lead_selection_by_name_and_index(wfdb_dir):
    ds = load(wfdb_dir, leads="ii")
    assert ds.input_spec.shape == (1, 500) and ds.input_spec.channel_names == ("II",)
    ds = load(wfdb_dir, leads="1,0")
    assert ds.input_spec.channel_names == ("II", "I")


def test_length_crop_and_pad(wfdb_dir):
    assert load(wfdb_dir, length=300).input_spec.shape == (2, 300)
    ds = load(wfdb_dir, length=600)
    assert ds.input_spec.shape == (2, 600)
    assert np.all(ds.splits["train"].x[:, :, 500:] == 0)


def test_ptbxl_superclasses_and_folds(ptbxl_dir):
    ds = load(ptbxl_dir)
    check_splits(ds)
    assert ds.task.kind == "multilabel" and ds.task.class_names == ("NORM", "MI", "STTC", "CD", "HYP")
    assert ds.input_spec.shape == (12, 1000) and ds.input_spec.sample_rate == 100
    assert len(ds.input_spec.channel_names) == 12
    assert [len(ds.splits[s]) for s in ("train", "val", "test")] == [8, 1, 1]
    train = dict(zip(ds.splits["train"].ids, ds.splits["train"].targets))
    assert list(train["records100/00000/00001_lr"]) == [1, 0, 0, 0, 0]      # NORM (+ SR rhythm ignored)
    assert list(train["records100/00000/00005_lr"]) == [0, 1, 0, 0, 1]      # LVH + IMI
    assert list(train["records100/00000/00007_lr"]) == [0, 0, 0, 0, 0]      # rhythm only
    assert ds.splits["val"].ids == ["records100/00000/00009_lr"]
    assert list(ds.splits["test"].targets[0]) == [0, 0, 0, 1, 0]            # IRBBB -> CD


def test_ptbxl_500hz(ptbxl_dir):
    ds = load(ptbxl_dir, sampling=500)
    assert ds.input_spec.shape == (12, 5000) and ds.input_spec.sample_rate == 500
    assert ds.splits["test"].ids == ["records500/00000/00010_hr"]


def test_files_beside_a_ptbxl_release_are_listed_as_not_read(ptbxl_dir):
    (ptbxl_dir / "notes.txt").write_text("downloaded in May\n")
    (ptbxl_dir / "old_exports").mkdir()
    (ptbxl_dir / "old_exports" / "a.csv").write_text("x\n")
    for name in ("example_physionet.py", "LICENSE.txt", "SHA256SUMS.txt", "RECORDS"):  # the release's own files
        (ptbxl_dir / name).write_text("release\n")
    for path in (ptbxl_dir, ptbxl_dir / "ptbxl_database.csv"):  # in both modes, never raising
        for mode in ("error", "skip"):
            ds = load(path, on_bad_record=mode)
            assert ds.skipped == [(str(ptbxl_dir / "notes.txt"), "not part of the PTB-XL release; not read"),
                                  (str(ptbxl_dir / "old_exports"), "a sub-folder is not read for this format")]
            assert len(ds.splits["train"]) == 8  # the records are all read


def test_ucr_tsv_folder_prefix_and_file(ucr_dir):
    for path in (ucr_dir, ucr_dir / "Toy", ucr_dir / "Toy_TRAIN.tsv"):
        ds = load(path)
        check_splits(ds, val=False)  # 30 training series shipped with a test file: never carved
        assert ds.input_spec.shape == (1, 60)
        assert len(ds.splits["test"]) == 20 and len(ds.splits["train"]) == 30
        assert ds.task.kind == "binary" and ds.task.class_names == ("1", "2")


def test_ucr_trailing_nan_padding_is_stripped(tmp_path):
    rows = ["1\t" + "\t".join(["0.5"] * 10), "2\t" + "\t".join(["0.1"] * 8 + ["NaN", "NaN"])] * 5
    (tmp_path / "P_TRAIN.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "P_TEST.tsv").write_text("\n".join(rows[:4]) + "\n")
    ds = load(tmp_path)
    assert ds.input_spec.shape == (1, 10)


def test_ts_files_unequal_length(ts_dir):
    ds = load(ts_dir)
    check_splits(ds, val=False)
    assert ds.input_spec.shape == (2, 50) and ds.input_spec.channel_names == ("ch0", "ch1")
    assert ds.task.kind == "multiclass" and set(ds.task.class_names) == {"walk", "run", "sit"}
    assert len(ds.splits["test"]) == 12
    assert load(ts_dir, length=40).input_spec.shape == (2, 40)


def test_npz_with_split(tmp_path, rng):
    x = rng.standard_normal((30, 3, 80))
    split = np.array(["train"] * 20 + ["val"] * 5 + ["test"] * 5)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(30) % 4, split=split)
    ds = load(tmp_path / "d.npz")
    assert [len(ds.splits[s]) for s in ("train", "val", "test")] == [20, 5, 5]
    assert ds.input_spec.shape == (3, 80) and ds.task.kind == "multiclass"
    assert ds.splits["test"].ids == [f"d.npz[{i}]" for i in range(25, 30)]


def test_npz_2d_multilabel_and_regression(tmp_path, rng):
    y = (rng.random((25, 3)) > 0.5).astype(np.int64)
    np.savez(tmp_path / "m.npz", x=rng.standard_normal((25, 64)), y=y, classes=np.array(["a", "b", "c"]))
    ds = load(tmp_path / "m.npz")
    check_splits(ds)
    assert ds.input_spec.shape == (1, 64) and ds.task.kind == "multilabel" and ds.task.class_names == ("a", "b", "c")
    full = np.concatenate([ds.splits[s].targets for s in ("train", "val", "test")])
    assert sorted(map(tuple, full)) == sorted(map(tuple, y.astype(np.float32)))
    np.savez(tmp_path / "r.npz", x=rng.standard_normal((25, 64)), y=rng.standard_normal(25))
    assert load(tmp_path / "r.npz").task.kind == "regression"


def test_npy_pair(tmp_path, rng):
    np.save(tmp_path / "x.npy", rng.standard_normal((20, 2, 32)))
    np.save(tmp_path / "y.npy", np.array(["n", "af"] * 10))
    for path in (tmp_path, tmp_path / "x.npy"):
        ds = load(path)
        check_splits(ds)
        assert ds.input_spec.shape == (2, 32) and ds.task.class_names == ("af", "n")


def test_standardisation_fitted_on_train_only(tmp_path, rng):
    x = rng.standard_normal((30, 2, 50)) * np.array([1.0, 5.0])[None, :, None] + np.array([3.0, -2.0])[None, :, None]
    x[25:] += 100.0  # a shifted test split must not move the statistics
    split = np.array(["train"] * 20 + ["val"] * 5 + ["test"] * 5)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(30) % 2, split=split)
    ds = load(tmp_path / "d.npz")
    train = ds.splits["train"].x
    np.testing.assert_allclose(train.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=(0, 2)), 1, atol=1e-4)
    mean, std = x[:20].mean(axis=(0, 2)), x[:20].std(axis=(0, 2))
    want = (x[25:] - mean[None, :, None]) / std[None, :, None]
    np.testing.assert_allclose(ds.splits["test"].x, want, rtol=1e-4, atol=1e-4)
    assert ds.splits["test"].x.mean() > 10
