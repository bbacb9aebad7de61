"""The contract checker (`core check`, core.contract) and the plugin-author test kit (core.testing)."""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from torch import nn

import core
from core import contract, contract_checks
from core.specs import DatasetSpec, EncoderSpec, InputSpec, LoadedDataset, ProjectorSpec, Recipe
from core.testing import assert_contract, isolated_plugin_manager, tiny_dataset


def _module(name, **hooks):
    mod = types.ModuleType(f"core_{name}.plugin")
    for hook, value in hooks.items():
        impl = (lambda v: lambda: v)(value)
        impl.__name__ = hook
        setattr(mod, hook, core.hookimpl(impl))
    return mod


class Half(nn.Module):
    """A buggy encoder: returns (B, dim // 2)."""

    def __init__(self, spec, dim):
        super().__init__()
        self.lin = nn.Linear(int(np.prod(spec.shape)), dim // 2)

    def forward(self, x):
        return self.lin(x.flatten(1))


def _tiny_load(path=None, **kwargs):
    return tiny_dataset("vector", n=24)


def _good_plugin(name, encoder=None):
    from core.projectors import MLPBank

    return _module(
        name,
        core_datasets=[DatasetSpec(f"{name}/tiny", _tiny_load, modality="vector", embedded=True)],
        core_encoders=[EncoderSpec(f"{name}/enc", encoder or (lambda s, d: nn.Sequential(nn.Flatten(), nn.Linear(8, d))),
                                   ("vector",))],
        core_projectors=[ProjectorSpec(f"{name}/mlp", lambda s, k, d: MLPBank(8, k, d, hidden=16), ("vector",))],
        core_recipes=[Recipe(f"{name}/default", f"{name}/tiny", f"{name}/enc", f"{name}/mlp")],
    )


def test_a_sound_plugin_passes():
    report = assert_contract(_good_plugin("fine"))
    kinds = [r.kind for r in report.results]
    assert kinds == ["dataset", "encoder", "projector", "recipe"] and report.ok
    assert "(B, 24) on vector (8,)" in report.format()


def test_wrong_encoder_shape_fails_naming_the_spec_and_the_shape():
    with pytest.raises(contract.ContractError) as err:
        assert_contract(_good_plugin("bad", encoder=Half))
    msg = str(err.value)
    assert "encoder      bad/enc: on vector (8,) with dim=24 returned shape (4, 12), expected (4, 24)" in msg
    assert "projector" not in msg  # only the broken spec is listed


def test_core_check_cli_exit_codes(monkeypatch, capsys):
    from core import plugins
    from core.cli import main

    monkeypatch.setattr(plugins, "_default", isolated_plugin_manager(("bad", _good_plugin("bad", encoder=Half))))
    assert main(["check", "bad"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  encoder      bad/enc" in out and "(4, 12)" in out and "4 checks, 1 failed" in out
    assert main(["check", "nosuch"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown plugin 'nosuch'") and len(err.splitlines()) == 1


def _broken_load(kind):
    def load(path=None, **kwargs):
        good = tiny_dataset("vector", n=24)
        s = dict(good.splits)
        if kind == "overlap":
            s["test"] = s["train"]
        elif kind == "labels":
            s["train"] = type(s["train"])(s["train"].x, s["train"].targets + 5, s["train"].ids)
        elif kind == "shape":
            return LoadedDataset(s, InputSpec("vector", (9,)), good.task)
        return LoadedDataset(s, good.input_spec, good.task)

    return load


class Unseeded(nn.Module):
    """K random features drawn from numpy's global RNG (not seeded by the host)."""

    def __init__(self, k, d):
        super().__init__()
        self.k = k
        self.register_buffer("weight", torch.from_numpy(np.random.randn(k, d, 8).astype(np.float32)))

    def forward(self, x):
        return torch.einsum("kdf,bf->kbd", self.weight, x.flatten(1).to(self.weight.dtype))


def test_each_broken_spec_is_reported():
    from core.projectors import MLPBank

    def needs_data(path, **kwargs):
        return path.read_text()  # AttributeError on None: should be a UserError

    mod = _module(
        "broken",
        core_datasets=[DatasetSpec("broken/overlap", _broken_load("overlap"), embedded=True),
                       DatasetSpec("broken/labels", _broken_load("labels"), embedded=True),
                       DatasetSpec("broken/shape", _broken_load("shape"), embedded=True),
                       DatasetSpec("broken/reader", needs_data),
                       DatasetSpec("broken/fine", _tiny_load, embedded=True)],  # feeds the projector checks
        core_projectors=[ProjectorSpec("broken/transposed", lambda s, k, d: _Transposed(MLPBank(8, k, d))),
                         ProjectorSpec("broken/unseeded", lambda s, k, d: Unseeded(k, d)),
                         ProjectorSpec("broken/noaxis", lambda s, k, d: nn.Linear(8, d))],
        core_recipes=[Recipe("broken/other", "broken/overlap", "core/mlp", "core/nosuch")],
    )
    report = contract.check_plugin(isolated_plugin_manager(("broken", mod)), "broken")
    fails = {r.name: r.message for r in report.failures}
    assert "share" in fails["broken/overlap"] and "'train' and 'test'" in fails["broken/overlap"]
    assert "labels must lie in [0, 3)" in fails["broken/labels"]
    assert "has shape (8,), but the InputSpec says (9,)" in fails["broken/shape"]
    assert "raised AttributeError" in fails["broken/reader"] and "core.UserError" in fails["broken/reader"]
    assert "expected (3, 4, 8) (K, B, d)" in fails["broken/transposed"]
    assert "two banks built with seed 0 differ" in fails["broken/unseeded"]
    assert "lack the leading k=3 axis" in fails["broken/noaxis"]
    assert "unknown projector 'core/nosuch'" in fails["broken/other"]
    assert "missing" in fails["broken/default"]
    assert not report.ok and len(report.failures) == 9


class _Transposed(nn.Module):
    def __init__(self, bank):
        super().__init__()
        self.bank, self.k = bank, bank.k

    def forward(self, x):
        return self.bank(x).transpose(0, 1)


def test_cli_hook_is_checked():
    def core_cli(subparsers):
        subparsers.add_parser("run")  # shadows core's and sets no func

    mod = _good_plugin("clashing")
    mod.core_cli = core.hookimpl(core_cli)
    report = contract.check_plugin(isolated_plugin_manager(("clashing", mod)), "clashing")
    (fail,) = report.failures
    assert fail.kind == "cli" and "['run'] clash with core's" in fail.message and "set no func" in fail.message


def test_names_must_carry_the_plugin_prefix():
    mod = _good_plugin("right")
    report = contract.check_plugin(isolated_plugin_manager(("wrong", mod)), "wrong")
    assert any("names must start with 'wrong/'" in r.message for r in report.failures)


def test_isolated_manager_holds_only_the_given_plugins():
    pm = isolated_plugin_manager(_good_plugin("solo"))
    assert [i.name for i in pm.plugins()] == ["core", "solo"]
    assert pm.names("dataset") == ["solo/tiny"]
    assert isolated_plugin_manager(builtins=False).names("objective") == []


@pytest.mark.parametrize("modality", ["vector", "sequence", "image", "tokens"])
@pytest.mark.parametrize("task", ["multiclass", "binary", "multilabel", "regression"])
def test_tiny_dataset_is_contract_clean(modality, task):
    data = tiny_dataset(modality, task, n=24)
    report = contract.ContractReport("tiny")
    spec = DatasetSpec("tiny/x", lambda path=None, **kw: data, embedded=True)
    assert contract_checks.check_dataset(report, spec, None, 0, 4) and report.ok, report.format()
    x, _, _ = data.splits["train"][0]
    assert tuple(x.shape) == data.input_spec.shape


def test_fixtures_are_registered_by_the_pytest_plugin(core_plugin_manager, core_tiny_dataset, core_check_contract):
    assert core_plugin_manager is isolated_plugin_manager and core_tiny_dataset is tiny_dataset
    assert core_check_contract(_good_plugin("viafixture")).ok
    with pytest.raises(pytest.fail.Exception, match=r"bad/enc: .*returned shape \(4, 12\)"):
        core_check_contract(_good_plugin("bad", encoder=Half))


def test_core_check_ecg_passes(capsys):
    pytest.importorskip("core_ecg")
    from core.cli import main

    assert main(["check", "ecg"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    for line in ("dataset      ecg/ecg5000", "encoder      ecg/cnn", "projector    ecg/conv1d", "recipe       ecg/default"):
        assert f"ok    {line}" in out, out
    assert "checks passed" in out


def test_cli_helpers_of_the_test_kit(core_command, tmp_path):
    from core.testing import assert_ok, assert_user_error

    assert "core/lfr" in assert_ok(core_command("list", "objectives")).stdout
    err = assert_user_error(core_command("run", "--plugin", "no_such_plugin"), "no_such_plugin")
    assert err.startswith("error: unknown plugin")
    with pytest.raises(AssertionError):
        assert_ok(core_command("run", "--plugin", "no_such_plugin"))
