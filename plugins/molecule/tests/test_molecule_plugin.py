"""The entry module is light and its hooks match the host contract; splits are sound."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pluggy

from core import hookspecs
from core_molecule import plugin, splits


def test_entry_module_is_light():
    code = ("import sys, core_molecule.plugin as p; p.core_datasets(); p.core_encoders(); p.core_projectors(); "
            "p.core_recipes(); heavy = {'torch', 'rdkit', 'sklearn', 'pandas', 'numpy'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


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
        "molecule/graph", "molecule/fingerprint", "molecule/tokens"]


def test_recipe():
    from core.config import RunConfig

    (recipe,) = plugin.core_recipes()
    assert recipe.name == "molecule/default" and recipe.dataset == "molecule/solubility"
    assert recipe.data_dataset == "molecule/file" and recipe.encoder == "molecule/gin"
    config = RunConfig().update(recipe.params, recipe.name)
    assert config.objective_params["k"] == 6 and config.epochs <= 100


def _scaffolds():
    from core_molecule import chem
    from core_molecule.synthetic import solubility_rows

    return [chem.scaffold(chem.mol_from_smiles(r["smiles"])[0]) for r in solubility_rows(1282)]


def test_scaffold_split_disjoint_seeded_and_sized():
    scaffolds = _scaffolds()
    n = len(scaffolds)
    parts = splits.scaffold_split(scaffolds, 0.1, 0.1, seed=0)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(n))
    seen = {s: {scaffolds[i] for i in idx} for s, idx in parts.items()}
    assert not seen["train"] & seen["val"] and not seen["train"] & seen["test"] and not seen["val"] & seen["test"]
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == splits.sizes(n, 0.1, 0.1)
    again = splits.scaffold_split(scaffolds, 0.1, 0.1, seed=0)
    assert all(np.array_equal(parts[s], again[s]) for s in parts)
    other = splits.scaffold_split(scaffolds, 0.1, 0.1, seed=1)
    assert not np.array_equal(parts["test"], other["test"])
    seen = {s: {scaffolds[i] for i in idx} for s, idx in other.items()}
    assert not seen["train"] & seen["test"] and not seen["val"] & seen["test"]


def test_scaffold_split_keeps_a_big_scaffold_whole():
    scaffolds = ["c1ccccc1"] * 30 + [f"s{i}" for i in range(70)]
    parts = splits.scaffold_split(scaffolds, 0.1, 0.1, seed=3)
    holders = [s for s, idx in parts.items() if (idx < 30).any()]
    assert holders == ["train"] and (parts["train"] < 30).sum() == 30


def test_random_split():
    parts = splits.random_split(50, 0.2, 0.2, seed=4)
    assert [len(parts[s]) for s in ("train", "val", "test")] == [30, 10, 10]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(50))
    assert np.array_equal(parts["test"], splits.random_split(50, 0.2, 0.2, seed=4)["test"])
