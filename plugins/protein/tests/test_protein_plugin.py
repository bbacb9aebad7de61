"""The entry module is light, every spec honours the core contract, the recipe is sound."""
from __future__ import annotations

from core.testing import assert_entry_module_light
from core_protein import plugin
from core_protein.datasets import load_amp


def test_entry_module_is_light():
    assert_entry_module_light("core_protein.plugin", heavy=("torch", "Bio", "sklearn", "scipy", "numpy"))


def test_contract(core_check_contract):
    report = core_check_contract(plugin)
    names = {r.name for r in report.results if r.ok}
    assert {"protein/amp", "protein/cnn", "protein/transformer", "protein/contact", "protein/residue_conv",
            "protein/spectrum", "protein/default"} <= names


def test_embedded_default_is_the_real_amp_set():
    data = load_amp(seed=0)
    sizes = {s: len(d) for s, d in data.splits.items()}
    assert sizes == {"pretrain": 4680, "train": 4160, "val": 520, "test": 520}
    assert data.task.class_names == ("UniProt", "AMP") and data.task.primary_metric == "accuracy"
    y = data.splits["train"].targets
    assert abs(y.mean() - 0.5) < 0.01  # balanced, stratified
    assert set(data.splits["test"].ids).isdisjoint(data.splits["pretrain"].ids)
    raw = data.splits["train"].raw_features()
    assert raw.shape == (4160, 21) and abs(raw[:, :20].sum(1) - 1).max() < 1e-5
    again = load_amp(seed=0)
    assert again.splits["test"].ids == data.splits["test"].ids


def test_recipe():
    from core.config import RunConfig

    (recipe,) = plugin.core_recipes()
    assert recipe.name == "protein/default" and recipe.dataset == "protein/amp"
    assert recipe.data_dataset == "protein/file" and recipe.encoder == "protein/cnn"
    config = RunConfig().update(recipe.params, recipe.name)
    assert config.objective_params["k"] == 6
