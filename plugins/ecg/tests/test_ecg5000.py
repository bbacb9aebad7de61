"""The embedded ECG5000 default."""
from __future__ import annotations

import numpy as np
import pytest

from core_ecg.datasets import ECG5000_CLASSES, load_ecg5000


@pytest.fixture(scope="module")
def ecg5000():
    return load_ecg5000(None, seed=0, on_bad_record="error", options={})


def test_sizes_and_task(ecg5000):
    s = ecg5000.splits
    assert len(s["train"]) + len(s["val"]) == 500 and len(s["test"]) == 4500
    assert len(s["val"]) == 100 and len(s["pretrain"]) == 500
    assert ecg5000.input_spec.shape == (1, 140) and ecg5000.input_spec.modality == "sequence"
    assert ecg5000.task.kind == "multiclass" and ecg5000.task.class_names == ECG5000_CLASSES
    labels = np.concatenate([s[k].targets for k in ("train", "val", "test")])
    assert set(labels) == {0, 1, 2, 3, 4}
    assert ecg5000.skipped == []


def test_splits_disjoint_and_pretrain_unlabelled(ecg5000):
    s = ecg5000.splits
    ids = {k: set(v.ids) for k, v in s.items()}
    assert not ids["train"] & ids["val"] and not (ids["train"] | ids["val"]) & ids["test"]
    assert all(i.startswith("ECG5000_TEST") for i in ids["test"])
    assert ids["pretrain"] == ids["train"] | ids["val"] and s["pretrain"].targets is None
    assert s["pretrain"][0][1].item() == -1


def test_val_is_stratified_and_seeded(ecg5000):
    s = ecg5000.splits
    assert np.bincount(s["train"].targets, minlength=5)[0] / 400 == pytest.approx(
        np.bincount(s["val"].targets, minlength=5)[0] / 100, abs=0.02)
    again = load_ecg5000(None, seed=0, on_bad_record="error", options={})
    other = load_ecg5000(None, seed=1, on_bad_record="error", options={"val_fraction": "0.1"})
    assert again.splits["val"].ids == s["val"].ids
    assert other.splits["test"].ids == s["test"].ids and len(other.splits["val"]) == 50


def test_standardised_on_train(ecg5000):
    x = ecg5000.splits["train"].x
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-4
    assert ecg5000.splits["train"][0][0].dtype.is_floating_point
