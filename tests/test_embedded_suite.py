"""benchmarks/embedded_suite.py, its pure parts: which datasets it runs, reading a run's
metrics, the table and the docs section. No `core run`."""
import json

import pytest


@pytest.fixture(scope="module")
def suite(script):
    return script("benchmarks/embedded_suite.py")


def metrics(lfr, random_init, raw, primary="accuracy", seeds=(0, 1, 2)):
    def row(v):
        return {f"linear/{primary}": {"mean": v, "std": 0.01}, "linear/macro_f1": {"mean": 0.1, "std": 0.0},
                f"knn/{primary}": {"mean": v - 0.1, "std": 0.02}}

    return {"primary_metric": primary, "seeds": list(seeds),
            "summary": {"pretrained encoder": row(lfr), "random-init encoder": row(random_init), "raw features": row(raw)}}


def test_every_embedded_dataset_of_each_plugin_default_first(suite):
    pairs = suite.embedded_datasets()
    assert ("ecg", "ecg/ecg5000") in pairs and ("molecule", "molecule/freesolv") in pairs
    molecule = [d for p, d in pairs if p == "molecule"]
    assert molecule[0] == "molecule/solubility"  # the recipe's default leads its plugin's rows


def test_reuses_a_finished_run(suite, tmp_path):
    folder = tmp_path / "ecg-ecg5000" / "20260101-000000-ecg-ecg5000"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics(0.9, 0.8, 0.85)))
    found, error, seconds = suite.run_one("ecg", "ecg/ecg5000", 3, tmp_path, [])
    assert found["primary_metric"] == "accuracy" and error == "" and seconds is None


def test_table_rows_and_verdicts(suite):
    text = suite.table([("a/x", metrics(0.9, 0.8, 0.95), ""), ("b/y", metrics(0.7, 0.75, 0.6, "r2"), ""),
                        ("c/z", None, "error: boom")])
    assert "| a/x | linear | accuracy | 0.900 ± 0.010 | 0.800 ± 0.010 | 0.950 ± 0.010 | yes | no |" in text
    assert "| b/y | knn | r2 | 0.600 ± 0.020 | 0.650 ± 0.020 | 0.500 ± 0.020 | no | yes |" in text
    assert "failed: error: boom" in text and "macro_f1" not in text
    assert "in 2 of 4 dataset × probe rows" in text and "on each dataset's first probe, 1 of 2 datasets" in text


def test_docs_section_is_replaced_between_markers(suite, tmp_path, monkeypatch):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n")
    monkeypatch.setattr(suite, "DOC", doc)
    suite.write_docs("first")
    suite.write_docs("second")
    text = doc.read_text()
    assert text.count(suite.START) == 1 and "second" in text and "first" not in text and text.startswith("# Benchmarks")
