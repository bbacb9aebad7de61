"""The markdown report, its tables and plots, and atomic writes (core.report, core.tables, core.plots, core.io)."""
import os
import re
from pathlib import Path

import numpy as np
import pytest

from core import io as cio
from core.errors import UserError
from core import plots, report, tables

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

RESULTS = {
    "LFR": {"accuracy": (0.91, 0.01), "macro_f1": (0.88, 0.02), "probe_C": (1.0, 0.0)},
    "random-init encoder": {"accuracy": (0.62, 0.03), "macro_f1": (0.60, 0.02), "probe_C": (10.0, 0.0)},
    "raw features": {"accuracy": 0.75, "macro_f1": 0.91, "probe_C": 0.1},
}


def _is_png(path):
    data = Path(path).read_bytes()
    return data.startswith(PNG_MAGIC) and len(data) > 1000


def _no_tmp_files(folder):
    return not [p for p in os.listdir(folder) if p.endswith(".tmp")]


# ----------------------------------------------------------------------------- io


def test_atomic_write_replaces_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "a.txt"
    cio.atomic_write_text(target, "one")
    cio.atomic_write_text(target, "two")
    assert target.read_text() == "two"

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cio.os, "replace", boom)
    with pytest.raises(UserError, match="disk full"):  # an OS failure is a one-line user error naming the file
        cio.atomic_write_bytes(target, b"three")
    assert target.read_text() == "two"
    assert _no_tmp_files(target.parent)


def test_atomic_write_with_and_npy(tmp_path):
    target = tmp_path / "e.npy"
    cio.atomic_save_npy(target, np.arange(6).reshape(2, 3))
    assert np.load(target).tolist() == [[0, 1, 2], [3, 4, 5]]

    def fail(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError):
        cio.atomic_write_with(target, fail)
    assert np.load(target).shape == (2, 3)
    assert _no_tmp_files(tmp_path)
    cio.atomic_write_with(tmp_path / "x.bin", lambda tmp: tmp.write_bytes(b"ok"))
    assert (tmp_path / "x.bin").read_bytes() == b"ok"


def test_atomic_write_json(tmp_path):
    path = cio.atomic_write_json(tmp_path / "m.json", {"a": np.float32(0.5), "b": np.arange(2)})
    assert '"a": 0.5' in path.read_text()


# ----------------------------------------------------------------------------- plots


def test_loss_curve_png(tmp_path):
    history = [{"epoch": e, "encoder_loss": 1.0 / (e + 1), "predictor_loss": 2.0 / (e + 1), "lr": 3e-4}
               for e in range(5)]
    path = plots.plot_loss_curve(history, tmp_path / "loss_curve.png")
    assert _is_png(path) and _no_tmp_files(tmp_path)
    assert _is_png(plots.plot_loss_curve([], tmp_path / "empty.png"))


@pytest.mark.parametrize("kind", ["classes", "multilabel", "regression", "none"])
def test_embedding_map_png(tmp_path, kind):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(60, 8))
    labels = {"classes": rng.integers(0, 3, 60),
              "multilabel": (rng.random((60, 4)) > 0.6).astype(float),
              "regression": rng.normal(size=60),
              "none": None}[kind]
    path = plots.plot_embedding_map(emb, labels, ("a", "b", "c"), tmp_path / "map.png", seed=0)
    assert _is_png(path)


def test_embedding_map_uses_pca_beyond_tsne_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "TSNE_MAX_POINTS", 50)
    emb = np.random.default_rng(1).normal(size=(80, 5))
    xy = plots.embedding_2d(emb, seed=0)
    assert xy.shape == (80, 2)
    assert _is_png(plots.plot_embedding_map(emb, np.arange(80) % 2, ("x", "y"), tmp_path / "m.png"))


def test_embedding_2d_tiny_and_one_dimensional():
    assert plots.embedding_2d(np.ones((2, 1))).shape == (2, 2)
    assert plots.embedding_2d(np.random.default_rng(0).normal(size=(12, 1))).shape == (12, 2)


# ----------------------------------------------------------------------------- tables


def test_metric_table_rows_std_and_bold_best():
    table = tables.metric_table(RESULTS, "accuracy")
    lines = table.strip().splitlines()
    assert lines[0].startswith("| model | accuracy | macro_f1 | probe_C |")
    assert len(lines) == 2 + 3
    assert "| LFR | **0.910 ± 0.010** | 0.880 ± 0.020 |" in table
    assert "| raw features | 0.750 | **0.910** | 0.100 |" in table
    assert "random-init encoder" in table
    assert table.count("**") == 4  # probe settings are never bolded


def test_metric_table_lower_is_better_and_missing():
    results = {"LFR": {"r2": 0.8, "rmse": 0.3}, "raw features": {"r2": 0.5, "rmse": 0.6},
               "random-init encoder": {"r2": float("nan")}}
    table = tables.metric_table(results, "rmse")
    assert table.splitlines()[0] == "| model | rmse | r2 |"
    assert "| LFR | **0.300** | **0.800** |" in table
    assert "| random-init encoder | — | n/a |" in table  # absent, then present but not computable
    assert "n/a: the metric cannot be computed" in table
    assert "n/a: the primary metric r2 cannot be computed" in tables.metric_table(results, "r2")


def test_console_table_is_aligned():
    text = tables.format_console_table(RESULTS, "accuracy")
    lines = text.rstrip("\n").splitlines()
    assert lines[0].split()[:2] == ["model", "accuracy"]
    assert set(lines[1]) <= {"-", " "}
    assert "0.910 ± 0.010*" in text
    header_end = lines[0].index("accuracy") + len("accuracy")
    assert all(line[:header_end].rstrip().endswith(("*", "0", "1", "5")) for line in lines[2:])


# ----------------------------------------------------------------------------- report


def test_write_report(tmp_path):
    rng = np.random.default_rng(0)
    path = report.write_report(
        tmp_path, title="LFR on ecg/ecg5000", config={"epochs": 3, "encoder": "ecg/inception",
                                                       "evaluators": ["core/linear", "core/knn"]},
        results={"core/linear": RESULTS, "core/knn": RESULTS}, primary_metric="accuracy",
        history=[{"epoch": 0, "encoder_loss": 1.0, "predictor_loss": 0.9},
                 {"epoch": 1, "encoder_loss": 0.5, "predictor_loss": 0.4}],
        embedding=rng.normal(size=(40, 8)), labels=rng.integers(0, 2, 40), class_names=("N", "A"),
        dataset_info={"name": "ecg/ecg5000", "source": "UCR archive",
                      "splits": {"pretrain": 500, "train": 300, "val": 100, "test": 100},
                      "skipped": ["r1", "r2"], "skipped_file": "skipped.txt"},
        notes=["floors use the same probe"])
    assert path == tmp_path / "report.md"
    text = path.read_text()
    assert text.startswith("# LFR on ecg/ecg5000")
    for row in ("| LFR |", "| random-init encoder |", "| raw features |", "### core/linear", "### core/knn"):
        assert row in text
    assert "![loss curve](loss_curve.png)" in text
    assert "![embedding map](embedding_map.png)" in text
    assert "train: 300" in text and "UCR archive" in text
    assert re.search(r"\| skipped records \| 2 \|", text)
    assert "[skipped.txt](skipped.txt)" in text
    assert "| epochs | 3 |" in text
    assert "- floors use the same probe" in text
    assert _is_png(tmp_path / "loss_curve.png") and _is_png(tmp_path / "embedding_map.png")
    assert _no_tmp_files(tmp_path)


def test_write_report_minimal(tmp_path):
    path = report.write_report(tmp_path / "run", title="t", config={}, results=RESULTS,
                               primary_metric="accuracy", history=[], embedding=None, labels=None,
                               class_names=(), dataset_info={}, notes=[])
    text = path.read_text()
    assert "| LFR |" in text and "embedding_map.png" not in text
    assert "| skipped records | 0 |" in text


def test_prefixed_metrics_are_grouped_per_evaluator(tmp_path):
    flat = {"LFR": {"linear/accuracy": (0.9, 0.01), "linear/probe_C": (1.0, 0.0), "knn/accuracy": (0.8, 0.0)},
            "raw features": {"linear/accuracy": (0.7, 0.02), "knn/accuracy": (0.85, 0.01)}}
    groups = tables.group_by_evaluator(flat)
    assert list(groups) == ["linear", "knn"]
    assert groups["knn"]["raw features"] == {"accuracy": (0.85, 0.01)}
    console = tables.format_console_table(flat, "accuracy")
    assert "[linear]" in console and "[knn]" in console and "0.850 ± 0.010*" in console
    text = report.write_report(tmp_path, title="t", config={"seed": 0}, results=flat, primary_metric="accuracy",
                               dataset_info={"sizes": {"train": 10, "test": 5}, "skipped": 0,
                                             "task": {"kind": "multiclass"}}).read_text()
    assert "### linear" in text and "### knn" in text
    assert "| LFR | **0.900 ± 0.010** | 1 |" in text
    assert "train: 10, test: 5" in text


def test_public_table_helpers():
    assert tables.fmt_cell((0.91234, 0.01)) == "0.912 ± 0.010"
    assert tables.fmt_cell((10.0, 0.0), setting=True) == "10" and tables.fmt_cell(None) == tables.MISSING
    assert tables.md_escape("a|b") == "a\\|b"
    assert tables.kv_table({"k|1": {"x": 1}}) == ["| key | value |", "|---|---|", '| k\\|1 | `{"x": 1}` |', ""]
    assert tables.lower_is_better("ridge/rmse") and not tables.lower_is_better("linear/accuracy")


def test_single_class_probe_is_marked_not_shown_as_a_score(tmp_path):
    flat = {"pretrained encoder": {"linear/accuracy": 0.9, "linear/probe_C": 1.0, "linear/probe_single_class": 0.0},
            "raw features": {"linear/accuracy": 0.497, "linear/probe_C": 0.001, "linear/probe_single_class": 1.0,
                             "linear/protocol": "5-fold CV over 23 train+val samples"}}
    md = tables.metric_table(tables.group_by_evaluator(flat)["linear"], "accuracy")
    assert "| raw features | 0.497† | 0.001 |" in md and "probe_single_class" not in md
    assert tables.SINGLE_CLASS_NOTE in md and "protocol" not in md
    console = tables.format_console_table(flat, "accuracy")
    assert "0.497†" in console and "predicts a single class" in console
    assert "predicts a single class" not in tables.format_console_table(
        {"a": {"linear/accuracy": 0.9, "linear/probe_single_class": 0.0}}, "accuracy")


def test_report_lists_warnings_and_protocols(tmp_path):
    flat = {"pretrained encoder": {"linear/auroc": float("nan"), "linear/accuracy": 0.8},
            "raw features": {"linear/auroc": float("nan"), "linear/accuracy": 0.7}}
    text = report.write_report(
        tmp_path, title="t", config={}, results=flat, primary_metric="auroc",
        dataset_info={"sizes": {"train": 10}, "warnings": ["classes missing from the test split: 'b'"]},
        warnings=["the primary metric auroc cannot be computed on test: the test split holds one class (a)"],
        protocols={"linear": {"raw features": "5-fold CV over 23 train+val samples, refit on all; C=1"}}).read_text()
    assert text.index("## Warnings") < text.index("## Results")
    assert "- **warning:** the primary metric auroc cannot be computed" in text
    assert "| pretrained encoder | n/a | **0.800** |" in text
    assert "n/a: the primary metric auroc cannot be computed on this test split" in text
    assert "- raw features: 5-fold CV over 23 train+val samples, refit on all; C=1" in text
    assert "| warnings |" not in text  # listed once, under the title


def test_infinite_setting_is_shown():
    assert tables.fmt_cell(float("inf"), setting=True) == "inf"
    assert tables.fmt_cell((float("inf"), 0.0), setting=True) == "inf"
