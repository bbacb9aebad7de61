"""The entry module is light and its hooks match the host contract; splits are sound."""
from __future__ import annotations

import numpy as np
import pluggy
import pytest

from core import hookspecs
from core.splits import split_sizes
from core.testing import assert_entry_module_light
from core_molecule import chem, plugin
from core_molecule.options import Options
from core_molecule.splits import assign_splits


def test_entry_module_is_light():
    assert_entry_module_light("core_molecule.plugin", heavy=("torch", "rdkit", "sklearn", "pandas", "numpy"))


def test_hooks_register_against_the_specs():
    pm = pluggy.PluginManager("core")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="molecule")
    pm.check_pending()
    assert [s.name for specs in pm.hook.core_datasets() for s in specs] == [
        "molecule/solubility", "molecule/freesolv", "molecule/file"]
    assert [s.name for specs in pm.hook.core_encoders() for s in specs] == [
        "molecule/gin", "molecule/fp_mlp", "molecule/smiles_cnn"]
    assert [s.name for specs in pm.hook.core_projectors() for s in specs] == [
        "molecule/graph", "molecule/fingerprint", "molecule/fingerprint-composition", "molecule/tokens"]


def test_recipe():
    from core.config import RunConfig

    (recipe,) = plugin.core_recipes()
    assert recipe.name == "molecule/default" and recipe.dataset == "molecule/solubility"
    assert recipe.data_dataset == "molecule/file" and recipe.encoder == "molecule/gin"
    assert recipe.projector == "molecule/fingerprint-composition"
    config = RunConfig().update(recipe.params, recipe.name)
    assert config.objective_params["k"] == 6 and config.steps == 1500  # 167 epochs of the solubility pool


@pytest.fixture(scope="module")
def mols():
    from core_molecule.synthetic import solubility_rows

    return [chem.mol_from_smiles(r["smiles"])[0] for r in solubility_rows(1282)]


def _partition(parts, n):
    assert sorted(np.concatenate([parts[s] for s in ("train", "val", "test")]).tolist()) == list(range(n))


def test_scaffold_split_disjoint_seeded_and_sized(mols):
    scaffolds, n = [chem.scaffold(m) for m in mols], len(mols)
    parts = assign_splits(mols, [], Options(), 0, "test")
    _partition(parts, n)
    for seed_parts in (parts, assign_splits(mols, [], Options(), 1, "test")):
        seen = {s: {scaffolds[i] for i in idx} for s, idx in seed_parts.items()}
        assert not seen["train"] & seen["val"] and not seen["train"] & seen["test"] and not seen["val"] & seen["test"]
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == split_sizes(n, 0.1, 0.1)
    again = assign_splits(mols, [], Options(), 0, "test")
    assert all(np.array_equal(parts[s], again[s]) for s in parts)
    assert not np.array_equal(parts["test"], assign_splits(mols, [], Options(), 1, "test")["test"])


def test_random_split_is_seeded_and_sized(mols):
    opts = Options(split="random", val_fraction=0.2, test_fraction=0.2)
    parts = assign_splits(mols[:50], [], opts, 4, "test")
    assert [len(parts[s]) for s in ("train", "val", "test")] == [30, 10, 10]
    _partition(parts, 50)
    assert np.array_equal(parts["test"], assign_splits(mols[:50], [], opts, 4, "test")["test"])


def test_split_column_is_kept_and_val_carved_by_scaffold(mols):
    given = ["test" if i % 5 == 0 else ("train" if i % 2 else None) for i in range(len(mols))]  # None counts as train
    parts = assign_splits(mols, given, Options(), 1, "test")
    _partition(parts, len(mols))
    assert parts["test"].tolist() == [i for i, v in enumerate(given) if v == "test"]
    assert len(parts["val"]) == 128  # 10 % of ALL molecules, carved from train only
    scaffolds = [chem.scaffold(m) for m in mols]
    assert not {scaffolds[i] for i in parts["val"]} & {scaffolds[i] for i in parts["train"]}
