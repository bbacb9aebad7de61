"""Unlabelled ECG corpora for ``--pretrain-data``: every format read without labels."""
import numpy as np
import pytest

from core.errors import UserError
from core_ecg.datasets import load_records
from core_ecg.synthetic import beat, write_ptbxl, write_ucr, write_wfdb, write_wfdb_dir


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pool_of(path, **kwargs):
    data = load_records(str(path), unlabelled=True, **kwargs)
    pool = data.splits["pretrain"]
    assert data.task is None and pool.targets is None
    assert all(len(data.splits[s]) == 0 for s in ("train", "val", "test"))
    assert int(pool[0][1]) == -1 and pool[len(pool) - 1][2] == len(pool) - 1
    return data, pool


def test_wfdb_folder_without_labels_file(tmp_path, rng):
    folder = write_wfdb_dir(tmp_path / "w", rng, n=9, length=300)
    labelled = load_records(str(folder))
    (folder / "labels.csv").unlink()
    with pytest.raises(UserError, match="no labels file"):
        load_records(str(folder))
    data, pool = pool_of(folder)
    assert len(pool) == 9 and data.input_spec == labelled.input_spec


def test_ptbxl_read_without_labels_or_folds(tmp_path, rng):
    folder = write_ptbxl(tmp_path / "p", rng, n=12)
    data, pool = pool_of(folder)
    assert len(pool) == 12 and data.input_spec.shape == (12, 1000)


def test_arrays_without_y(tmp_path, rng):
    x = rng.standard_normal((15, 2, 80)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    _, pool = pool_of(tmp_path)
    assert len(pool) == 15
    np.testing.assert_allclose(pool.x.mean(axis=(0, 2)), 0, atol=1e-5)  # standardised on the corpus itself
    np.savez(tmp_path / "a.npz", x=x[:5], fs=250.0)
    data, pool = pool_of(tmp_path / "a.npz")
    assert len(pool) == 5 and data.input_spec.sample_rate == 250.0


def test_ucr_labels_are_ignored_and_bad_records_follow_the_policy(tmp_path, rng):
    folder = write_ucr(tmp_path / "u", rng, n_train=10, n_test=6, length=40)
    _, pool = pool_of(folder)
    assert len(pool) == 16  # train and test files alike: every record is pretraining input
    write_wfdb(tmp_path / "w", "ok", beat(rng, 200, 250, 0), 250)
    write_wfdb(tmp_path / "w", "bad", beat(rng, 200, 250, 1), 250)
    (tmp_path / "w" / "bad.dat").write_bytes(b"\x00")  # truncated signal file
    with pytest.raises(UserError, match="bad"):
        load_records(str(tmp_path / "w"), unlabelled=True)
    data, pool = pool_of(tmp_path / "w", on_bad_record="skip")
    assert len(pool) == 1 and any("bad" in r for r, _ in data.skipped)
