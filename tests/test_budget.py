"""Budgets in optimiser steps (issue 17 item 2): a recipe's ``steps`` give every corpus the same
amount of training; ``--epochs`` overrides them; the epochs trained are recorded."""
import json

import pytest

from core import runs
from core.config import RunConfig
from core.plugins import get_plugin_manager
from core.testing import TINY_RUN_ARGS as TINY, assert_ok, only_run_dir


@pytest.mark.parametrize("pool, batch, steps, expected", [
    (23, 128, 120, 120),        # one (partial) batch per epoch: 120 epochs
    (500, 128, 120, 40),        # ECG5000's pool: 3 full batches per epoch (the last partial one dropped)
    (20000, 128, 120, 1),       # a large corpus: one epoch holds the budget
    (5, 128, 5000, 1000),       # capped at max_epochs
])
def test_epochs_derived_from_steps(pool, batch, steps, expected):
    cfg = RunConfig(steps=steps, batch_size=batch)
    assert runs.budget_epochs(cfg, pool) == expected
    assert runs.budget_epochs(RunConfig(epochs=7), pool) == 7  # no step budget: epochs as given


def test_steps_per_epoch_counts_ranks():
    assert runs.steps_per_epoch(RunConfig(batch_size=100, devices=4), 1000) == 2  # 250 per rank
    assert runs.steps_per_epoch(RunConfig(batch_size=100), 1000) == 10


def test_every_recipe_states_its_budget_in_steps_and_epochs_override_it():
    pm = get_plugin_manager()
    for name in pm.names("recipe"):
        assert "steps" in pm.get("recipe", name).params and "epochs" not in pm.get("recipe", name).params, name
    recipe = runs.resolve_config(pm, "ecg", None, {}, {})
    assert recipe.steps == 120
    assert runs.resolve_config(pm, "ecg", None, {}, {"epochs": 3}).steps is None
    assert runs.resolve_config(pm, "ecg", None, {"epochs": 3}, {}).steps is None  # a config file's epochs too
    both = runs.resolve_config(pm, "ecg", None, {"epochs": 3}, {"steps": 9})
    assert (both.steps, both.epochs) == (9, 3)
    again = runs.resolve_config(pm, "ecg", None, {"steps": 9, "epochs": 3}, {})  # a run's own config.yaml
    assert again.steps == 9


def test_embedded_defaults_keep_their_former_epochs():
    """The step budgets give each embedded default its former epochs; molecule's was raised on
    purpose from 450 steps (50 epochs) to 1500 (issue 17: chosen by train-only CV)."""
    pm = get_plugin_manager()
    former = {"ecg": 40, "molecule": 167, "pathology": 30, "protein": 3, "speech": 10}
    for plugin, epochs in former.items():
        cfg = runs.resolve_config(pm, plugin, None, {}, {})
        data = runs.load_dataset(pm, cfg, 0)
        assert runs.budget_epochs(cfg, len(runs.training_pool(pm, cfg, data))) == epochs, plugin


def test_steps_flag_trains_the_derived_epochs_and_resume_keeps_them(cli, tmp_path):
    from core_ecg.synthetic import write_ucr
    import numpy as np

    data = write_ucr(tmp_path / "ucr", np.random.default_rng(0), n_train=40, n_test=24, length=48)
    out = tmp_path / "runs"
    args = [a for a in TINY]
    i = args.index("--epochs")
    del args[i:i + 2]
    assert_ok(cli("run", "--plugin", "ecg", "--data", data, "--out", out, "--steps", "5", *args))
    run = only_run_dir(out)
    done = json.loads((run / "seed-metrics.json").read_text())
    assert done["steps"] == 5 and done["epochs"] == 3  # 40 series at batch 16: 2 steps per epoch
    assert [h["epoch"] for h in done["history"]] == [0, 1, 2]
    assert json.loads((run / "card.json").read_text())["epochs"] == 3
    stamp = (run / "seed-metrics.json").stat().st_mtime_ns
    assert_ok(cli("run", "--resume", run))  # finished: nothing retrained
    assert (run / "seed-metrics.json").stat().st_mtime_ns == stamp
    assert_ok(cli("run", "--resume", run, "--epochs", "4"))  # --epochs: train on to 4 epochs
    assert [h["epoch"] for h in json.loads((run / "seed-metrics.json").read_text())["history"]] == [0, 1, 2, 3]
