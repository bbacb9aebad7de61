"""The entry module is light and its hooks match the host contract."""
from __future__ import annotations

import pluggy

from core import hookspecs
from core.specs import InputSpec
from core.testing import assert_entry_module_light
from core_ecg import plugin


def test_entry_module_is_light():
    assert_entry_module_light("core_ecg.plugin", heavy=("torch", "wfdb", "tsai", "fastai", "scipy", "sklearn", "pandas"))


def test_hooks_register_against_the_specs():
    pm = pluggy.PluginManager("core")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="ecg")
    pm.check_pending()
    assert plugin.CORE_REQUIRES == ">=0.1,<0.2"
    names = [s.name for specs in pm.hook.core_datasets() for s in specs]
    assert names == ["ecg/ecg5000", "ecg/records"]
    assert [s.name for specs in pm.hook.core_encoders() for s in specs] == ["ecg/cnn", "ecg/inception", "ecg/xresnet1d",
                                                                            "ecg/cnn-bins", "ecg/cnn-flatten"]
    assert [s.name for specs in pm.hook.core_projectors() for s in specs] == ["ecg/conv1d"]


def test_recipe_uses_registered_names_and_runconfig_fields():
    from core.config import RunConfig

    (recipe,) = plugin.core_recipes()
    assert recipe.name == "ecg/default" and recipe.dataset == "ecg/ecg5000" and recipe.data_dataset == "ecg/records"
    assert recipe.encoder == "ecg/cnn" and recipe.projector == "ecg/conv1d"
    config = RunConfig().update(recipe.params, "ecg/default")
    assert config.steps == 120 and config.objective_params["k"] == 6  # 40 epochs of the 500-beat pool


def test_conv1d_projector_bank():
    import torch

    (spec,) = plugin.core_projectors()
    bank = spec.build(InputSpec("sequence", (2, 140)), 6, 16)
    out = bank(torch.randn(5, 2, 140))
    assert out.shape == (6, 5, 16)
