"""`core bench`: choosing objectives, parameters per objective, ranking (core.bench) and tables
(core.bench_report), equal wall time, the real CLI end to end on a tiny UCR folder (a failing
objective stays in the table), and a bench that stops (removed, or marked FAILED)."""
import json
import math

import numpy as np
import pytest

from core import bench, bench_report
from core.config import RunConfig
from core.errors import UserError
import core_ecg.synthetic as ECG
from core.plugins import get_plugin_manager
from core.specs import InputSpec

ONE_THREAD = {"OMP_NUM_THREADS": "1"}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def ucr(tmp_path):
    return ECG.write_ucr(tmp_path / "ucr", np.random.default_rng(0), n_train=40, n_test=24, length=48)


def _row(name, accs, uses_labels=False, errors=None, kind="objective"):
    r = bench.Row(name, kind=kind, uses_labels=uses_labels)
    for seed, a in enumerate(accs):
        r.per_seed[seed] = {"linear/accuracy": a, "knn/accuracy": a - 0.01}
        r.train_seconds.append(2.0)
    r.errors.update(errors or {})
    return r


def _result(rows):
    return {"rows": [r.to_dict() for r in rows], "evaluators": ["core/linear", "core/knn"],
            "primary_metric": "accuracy", "primary_column": "linear/accuracy"}


def test_rank_table_and_summary_lines():
    rows = [_row("core/lfr", [0.93, 0.95]), _row("core/diet", [0.90, 0.90]),
            _row("core/supervised", [0.99, 0.99], uses_labels=True),
            _row("core/simclr", [], errors={0: "ValueError: boom", 1: "ValueError: boom"}),
            _row("raw features", [0.94, 0.94], kind="floor")]
    bench.rank_rows(rows, "linear/accuracy")
    assert [r.rank for r in rows] == [1, 3, None, None, 1]  # ties share a rank; labels and failures unranked
    result = _result(rows)
    table = bench_report.bench_table(result)
    assert "| core/lfr | **0.940 ± 0.014** | 0.930 ± 0.014 | 1/3 | 2.0 | ok |" in table
    assert "| core/supervised (labels) |" in table and "ref." in table
    assert "| core/simclr | — | — | — | — | failed: ValueError: boom |" in table
    lines = bench_report.summary_lines(result)
    assert lines[0].startswith("core/lfr: linear/accuracy 0.940 ± 0.014; knn/accuracy 0.930 ± 0.014; rank 1 of 3")
    assert lines[3] == "core/simclr: FAILED on every seed: ValueError: boom"
    partial = _row("core/autoencoder", [0.9], errors={1: "RuntimeError: x"})
    assert partial.status == "failed on 1 of 2 seeds"


def test_choose_objectives_leaves_out_augmentation_baselines_without_augmentations():
    pm = get_plugin_manager()
    names, notes = bench.choose_objectives(pm, None, InputSpec("tokens", (8,), vocab_size=5))
    assert names == ["core/lfr", "core/autoencoder", "core/diet", "core/supervised"]
    assert "core/simclr, core/simsiam left out" in notes[0] and "core_augmentations" in notes[0]
    names, notes = bench.choose_objectives(pm, None, InputSpec("sequence", (1, 40)))  # ECG registers some
    assert "core/simclr" in names and "core/simsiam" in names and not notes
    assert bench.choose_objectives(pm, ["lfr", " diet", "lfr"], InputSpec("vector", (3,)))[0] == ["core/lfr", "core/diet"]
    names, notes = bench.choose_objectives(pm, None, InputSpec("graph", (9,)))
    assert names == ["core/lfr", "core/diet", "core/supervised"]
    assert "core/autoencoder left out: no support for 'graph'" in notes[0]
    with pytest.raises(UserError, match="unknown objective 'dyet'"):
        bench.choose_objectives(pm, ["dyet"], InputSpec("vector", (3,)))


def test_objective_params_route_set_flags_and_keep_the_recipe_params_for_its_objective():
    pm = get_plugin_manager()
    cfg = RunConfig(objective="core/lfr", objective_params={"k": 6})
    params = bench.objective_params(pm, cfg, ["core/lfr", "core/diet"], {"lfr.k": 2, "core/diet.label_smoothing": 0.5})
    assert params == {"core/lfr": {"k": 2}, "core/diet": {"label_smoothing": 0.5}}
    with pytest.raises(UserError, match="name the objective"):
        bench.objective_params(pm, cfg, ["core/lfr"], {"k": 2})
    with pytest.raises(UserError, match="not among the benched"):
        bench.objective_params(pm, cfg, ["core/lfr"], {"diet.label_smoothing": 0.5})


def test_wall_time_budget_splits_the_minutes_and_stops_training(ucr, tmp_path):
    from core import runs

    pm = get_plugin_manager()
    cfg = runs.resolve_config(pm, "ecg", None, {}, {"data": str(ucr), "dim": 8, "batch_size": 16, "epochs": 500,
                                                    "progress": False, "out": str(tmp_path)})
    run_cfg = bench._objective_config(cfg, "core/diet", {}, {"mode": "wall time", "minutes_per_run": 0.5,
                                                             "epoch_cap": 500})
    assert run_cfg.objective == "core/diet" and run_cfg.max_minutes == 0.5 and run_cfg.epochs == 500
    lines = []
    result = bench.run_bench(pm, cfg, tmp_path / "b", ["diet"], seeds=1, budget_minutes=0.04, echo=lines.append)
    (row,) = [r for r in result["rows"] if r["name"] == "core/diet"]
    assert result["budget"]["mode"] == "wall time" and math.isclose(result["budget"]["minutes_per_run"], 0.04)
    assert row["status"] == "ok" and 1 <= row["epochs_run"][0] < 500
    assert row["train_seconds"][0] < 30
    assert "equal wall time" in (tmp_path / "b" / "bench.md").read_text()


def test_core_bench_through_the_cli(cli, ucr, tmp_path):
    out = tmp_path / "runs"
    res = cli("bench", "--plugin", "ecg", "--data", ucr, "--epochs", "1", "--seeds", "2", "--dim", "16",
              "--batch-size", "16", "--set", "lfr.k=2", "--set", "lfr.candidates_per_slot=2",
              "--set", "lfr.pred_epochs=1", "--set", "diet.label_smoothing=2", "--out", out, env=ONE_THREAD)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Traceback" not in res.stderr and "weights_only" not in res.stderr
    for name in ("core/lfr", "core/autoencoder", "core/simclr", "core/simsiam", "core/supervised (labels)",
                 "random-init encoder", "raw features"):
        assert f"| {name} |" in res.stdout, name
    assert "core/diet: FAILED on every seed" in res.stdout and "label_smoothing" in res.stdout
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    assert run.name.endswith("-bench-ecg-records")
    for name in ("bench.md", "bench.png", "bench.json", "config.yaml", "floors/seed-0.json", "floors/seed-1.json",
                 "core-lfr/seed-0/encoder.safetensors", "core-lfr/seed-1/seed-metrics.json", "core-diet/seed-0/error.txt",
                 "core-diet/seed-0/FAILED"):
        assert (run / name).exists(), name
    result = json.loads((run / "bench.json").read_text())
    rows = {r["name"]: r for r in result["rows"]}
    assert result["seeds"] == [0, 1] and result["budget"] == {"mode": "epochs", "epochs": 1}
    assert rows["core/diet"]["status"] == "failed" and rows["core/lfr"]["status"] == "ok"
    assert "label_smoothing" in (run / "core-diet" / "seed-0" / "FAILED").read_text() and not (run / "FAILED").exists()
    assert sorted(rows["core/lfr"]["per_seed"]) == ["0", "1"]
    assert set(rows["core/lfr"]["summary"]["linear/auroc"]) == {"mean", "std"}
    assert rows["core/supervised"]["uses_labels"] and rows["core/supervised"]["rank"] is None
    assert rows["core/lfr"]["rank"] >= 1 and rows["raw features"]["kind"] == "floor"
    card = json.loads((run / "core-simclr" / "seed-0" / "card.json").read_text())
    assert card["objective"] == "core/simclr"
    assert "![bench](bench.png)" in (run / "bench.md").read_text()
    res = cli("bench", "--plugin", "ecg", "--data", ucr, "--set", "k=2", "--out", out, env=ONE_THREAD)
    assert res.returncode == 2 and "lfr.k=8" in res.stderr and "Traceback" not in res.stderr
    listed = cli("list", "augmentations")
    assert "ecg/jitter" in listed.stdout and "ecg/crop" in listed.stdout


def test_bench_all_rewrites_only_the_marked_section(tmp_path, script):
    bench_all = script("benchmarks/bench_all.py")
    rows = [_row("core/lfr", [0.93, 0.95]), _row("raw features", [0.94, 0.94], kind="floor")]
    bench.rank_rows(rows, "linear/accuracy")
    result = {**_result(rows), "plugin": "ecg", "dataset": "ecg/ecg5000", "encoder": "ecg/cnn", "dim": 128,
              "seeds": [0, 1], "date": "2026-11-28", "batch_size": 128, "lr": 3e-4, "weight_decay": 3e-4,
              "budget": {"mode": "epochs", "epochs": 40}, "machine": {"cpus": 2, "torch_threads": 2},
              "dataset_info": {"sizes": {"pretrain": 500, "train": 400, "val": 100, "test": 4500}}, "notes": []}
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## LFR step cost\n\nhand-measured table\n")
    text = bench_all.render([bench_all.plugin_section("ecg", result), bench_all.plugin_section("mol", None, "boom")])
    bench_all.write_doc(text, doc)
    first = doc.read_text()
    assert first.startswith("# Benchmarks\n\n## LFR step cost\n\nhand-measured table\n")
    assert "| core/lfr | **0.940 ± 0.014** |" in first and "core/lfr ranks 1 of 2" in first
    assert "`core bench --plugin mol` failed: boom" in first
    doc.write_text(first + "\n## After\n\nkept\n")
    bench_all.write_doc(bench_all.render(["### replaced\n"]), doc)
    second = doc.read_text()
    assert "### replaced" in second and "core/lfr ranks" not in second
    assert second.count(bench_all.START) == 1 and second.endswith("## After\n\nkept\n")
    assert "hand-measured table" in second


# ----------------------------------------------------------------------------- a bench that stops
BENCH_TINY = ["--epochs", "1", "--seeds", "1", "--dim", "8", "--batch-size", "16", "--set", "lfr.k=2",
              "--set", "lfr.candidates_per_slot=2", "--set", "lfr.pred_epochs=1"]


def _main(capsys, *argv):
    """``core ARGV`` in-process (the CLI's code, with a failure injected): exit code and stderr."""
    from core import cli

    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def test_a_bench_refused_before_training_leaves_no_folder(capsys, monkeypatch, ucr, tmp_path):
    from core import runs

    def refuse(*args, **kwargs):
        raise UserError("linear probe: the test split has one class; give more labelled records")

    monkeypatch.setattr(runs, "floor_results", refuse)  # the floors are probed before any objective trains
    out = tmp_path / "runs"
    code, err = _main(capsys, "bench", "--plugin", "ecg", "--data", ucr, "--out", out, "--objectives", "lfr",
                      *BENCH_TINY)
    assert code == 2 and err == "error: linear probe: the test split has one class; give more labelled records"
    assert out.is_dir() and not any(out.iterdir()), list(out.iterdir())


def test_a_bench_stopped_after_training_is_marked_failed(capsys, monkeypatch, ucr, tmp_path):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "write_bench_report", interrupt)  # Ctrl-C once the objectives have trained
    out = tmp_path / "runs"
    code, err = _main(capsys, "bench", "--plugin", "ecg", "--data", ucr, "--out", out, "--objectives", "lfr,diet",
                      "--set", "diet.label_smoothing=2", *BENCH_TINY)
    assert code == 130 and "interrupted" in err
    (run,) = list(out.iterdir())
    assert (run / "FAILED").read_text().strip() == "interrupted (Ctrl-C)"
    assert (run / "core-lfr" / "seed-0" / "encoder.safetensors").exists() and not (run / "bench.json").exists()
    failed_objective = run / "core-diet" / "seed-0"  # the objective that failed inside the bench: marked too
    assert (failed_objective / "error.txt").exists() and "label_smoothing" in (failed_objective / "FAILED").read_text()
