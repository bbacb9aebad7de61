"""Few labels and degenerate labelled data through the real CLI (issue 17 item 1, issue 15 item 3).

Tiny UCR-format corpora read by the ECG plugin's UCR reader (``core_ecg.synthetic``): two easily
separable classes (half a sine period against a full one, noise 0.1).
"""
import json

import numpy as np
import pytest

from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir
from core_ecg.datasets import load_records
from core_ecg.synthetic import ucr_lines, write_ucr


def _write(folder, train_lines, test_lines):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Toy_TRAIN.tsv").write_text("\n".join(train_lines) + "\n")
    (folder / "Toy_TEST.tsv").write_text("\n".join(test_lines) + "\n")
    return folder


def _run(cli, data, out):
    return cli("run", "--plugin", "ecg", "--data", data, "--out", out, *TINY)


def test_23_training_series_are_not_a_majority_class_score(cli, tmp_path):
    """Acceptance (issue 17): 23 labelled series, official test split kept; the raw-feature
    floor separates the two classes with the linear and the SVM probes."""
    data = write_ucr(tmp_path / "ucr", np.random.default_rng(0), n_train=23, n_test=100, length=48)
    sizes = {s: len(d) for s, d in load_records(str(data), seed=0).splits.items()}
    assert (sizes["train"], sizes["val"], sizes["test"]) == (23, 0, 100)  # never carved when small
    out = tmp_path / "runs"
    res = assert_ok(_run(cli, data, out))
    run = only_run_dir(out)
    metrics = json.loads((run / "metrics.json").read_text())
    raw = metrics["summary"]["raw features"]
    for probe in ("linear", "svm"):
        assert raw[f"{probe}/accuracy"]["mean"] >= 0.9, (probe, raw)
        assert raw[f"{probe}/probe_single_class"]["mean"] == 0.0
    assert raw["svm/probe_C"]["mean"] == float("inf")  # 23 < 50: TS2Vec's C = inf rule
    protocols = metrics["per_seed"]["0"]["raw"]
    assert protocols["linear/protocol"].startswith("5-fold CV over 23 train+val samples, refit on all")
    assert protocols["svm/protocol"].startswith("C=inf without search (23 train+val samples")
    report = (run / "report.md").read_text()
    assert "### svm" in report and "- raw features: 5-fold CV over 23 train+val samples" in report
    assert "[svm]" in res.stdout and "†" not in res.stdout


def test_one_class_is_refused_with_one_line(cli, tmp_path):
    rng = np.random.default_rng(1)
    data = _write(tmp_path / "one", ucr_lines(rng, 12, 32, labels=(1,)), ucr_lines(rng, 6, 32, labels=(1,)))
    out = tmp_path / "runs"
    err = assert_user_error(_run(cli, data, out), str(data), "at least two classes")
    assert "class '1'" in err


def test_class_never_in_training_data_is_refused(cli, tmp_path):
    """One sample per class: the test class never appears in train."""
    rng = np.random.default_rng(2)
    data = _write(tmp_path / "pair", ucr_lines(rng, 4, 32, labels=(1,)), ucr_lines(rng, 4, 32, labels=(2,)))
    assert_user_error(_run(cli, data, tmp_path / "runs"), "train + val", "hold one class")


def test_class_missing_from_test_is_a_warning_in_console_and_report(cli, tmp_path):
    rng = np.random.default_rng(3)
    data = _write(tmp_path / "three", ucr_lines(rng, 24, 32, labels=(1, 2, 3)), ucr_lines(rng, 12, 32, labels=(1, 2)))
    out = tmp_path / "runs"
    res = assert_ok(_run(cli, data, out))
    line = "classes missing from the test split: '3'"
    assert line in res.stderr
    report = (only_run_dir(out) / "report.md").read_text()
    assert "## Warnings" in report and line in report
    assert "auroc cannot be computed on test: classes missing from the test split (3)" in report


def test_primary_metric_that_cannot_be_computed_is_said_not_dropped(cli, tmp_path):
    """Binary task (primary AUROC) whose test split holds one class."""
    rng = np.random.default_rng(4)
    data = _write(tmp_path / "bin", ucr_lines(rng, 20, 32), ucr_lines(rng, 8, 32, labels=(1,)))
    out = tmp_path / "runs"
    res = assert_ok(_run(cli, data, out))
    warning = "the primary metric auroc cannot be computed on test: the test split holds one class (1)"
    assert warning in res.stderr
    assert "n/a: the primary metric auroc cannot be computed" in res.stdout
    run = only_run_dir(out)
    report = (run / "report.md").read_text()
    assert warning in report and "| raw features | n/a |" in report
    summary = json.loads((run / "metrics.json").read_text())["summary"]["raw features"]
    assert "linear/auroc" in summary and "linear/accuracy" in summary


@pytest.mark.parametrize("n_train,val", [(40, 0), (1000, 200)])
def test_shipped_split_is_carved_only_when_large(tmp_path, n_train, val):
    data = write_ucr(tmp_path / "ucr", np.random.default_rng(5), n_train=n_train, n_test=10, length=16)
    splits = load_records(str(data), seed=0).splits
    assert len(splits["val"]) == val and len(splits["train"]) + val == n_train and len(splits["test"]) == 10
