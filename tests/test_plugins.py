"""Plugin manager: discovery, broken plugins, strict mode, blocking, pending hooks, versions."""
import types

import pytest

import core
from core.errors import UserError
from core.plugins import PluginManager


def test_builtins_registered_like_plugins():
    pm = PluginManager(load_entry_points=False)
    assert "core/lfr" in pm.names("objective")
    assert {"core/linear", "core/knn"} <= set(pm.names("evaluator"))
    assert {"core/mlp", "core/conv1d", "core/conv2d", "core/tokens"} <= set(pm.names("projector"))
    info = pm.plugins()[0]
    assert info.name == "core" and info.error is None and "core_objectives" in info.hooks


def test_get_accepts_short_names_and_suggests_close_matches():
    pm = PluginManager(load_entry_points=False)
    assert pm.get("objective", "lfr").name == "core/lfr"
    with pytest.raises(UserError, match="did you mean core/linear"):
        pm.get("evaluator", "core/linaer")


def _module(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    return mod


def test_unknown_hook_is_rejected_by_check_pending_and_reported():
    @core.hookimpl
    def core_datasetz():  # typo: matches no spec
        return []

    pm = PluginManager(load_entry_points=False)
    pm.register_module(_module("typo", core_datasetz=core_datasetz), name="typo")
    info = {i.name: i for i in pm.plugins()}["typo"]
    assert info.error and "core_datasetz" in info.error
    assert "core/lfr" in pm.names("objective")  # host unaffected


def test_incompatible_plugin_refused_with_clear_message(monkeypatch):
    pm = PluginManager(load_entry_points=False)
    pm.register_module(_module("old", CORE_REQUIRES=">=9.0"), name="old")
    err = {i.name: i for i in pm.plugins()}["old"].error
    assert "supports core >=9.0" in err and core.__version__ in err
    with pytest.raises(UserError, match="failed to load"):
        pm.recipe_for_plugin("old")


def test_hook_returning_wrong_type_is_reported_not_fatal():
    @core.hookimpl
    def core_encoders():
        return ["not a spec"]

    pm = PluginManager(load_entry_points=False)
    pm.register_module(_module("bad", core_encoders=core_encoders), name="bad")
    assert "core/mlp" in pm.names("encoder")
    assert "expected EncoderSpec" in {i.name: i for i in pm.plugins()}["bad"].error


def test_broken_entry_point_listed_with_error(tmp_path, cli, fake_dist):
    fake_dist(tmp_path, "broken", "raise RuntimeError('boom at import')\n")
    out = cli("plugins", env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "broken" in out.stdout and "RuntimeError: boom at import" in out.stdout
    assert "core/lfr" in out.stdout
    listed = cli("list", "objectives", env={"PYTHONPATH": str(tmp_path)})
    assert listed.returncode == 0 and "core/lfr" in listed.stdout


def test_strict_mode_and_disable(tmp_path, cli, fake_dist):
    fake_dist(tmp_path, "broken", "raise RuntimeError('boom at import')\n")
    strict = cli("plugins", env={"PYTHONPATH": str(tmp_path), "CORE_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2
    assert "plugin 'broken' failed to load" in strict.stderr and "Traceback" not in strict.stderr
    blocked = cli("plugins", env={"PYTHONPATH": str(tmp_path), "CORE_STRICT_PLUGINS": "1",
                                  "CORE_DISABLE_PLUGINS": "broken"})
    assert blocked.returncode == 0 and "broken" not in blocked.stdout


def test_entry_point_plugin_contributes_names(tmp_path, cli, fake_dist):
    fake_dist(tmp_path, "toy", """
        from core import hookimpl, EncoderSpec

        def _build(spec, dim):
            import torch
            return torch.nn.Linear(spec.shape[0], dim)

        @hookimpl
        def core_encoders():
            return [EncoderSpec("toy/linear", _build, ("vector",), "a toy")]
    """)
    out = cli("list", "encoders", env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "toy/linear" in out.stdout and "core/mlp" in out.stdout


def test_core_cli_hook_adds_a_subcommand(tmp_path, cli, fake_dist):
    fake_dist(tmp_path, "hello", """
        from core import hookimpl

        def _hello(args):
            print(f"hello {args.who}")
            return 0

        @hookimpl
        def core_cli(subparsers):
            p = subparsers.add_parser("hello")
            p.add_argument("who")
            p.set_defaults(func=_hello)
    """)
    out = cli("hello", "world", env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello world"


def test_builtin_hooks_return_specs():
    from core import builtins
    from core.specs import EncoderSpec, EvaluatorSpec, ObjectiveSpec, ProjectorSpec

    assert all(isinstance(s, EncoderSpec) for s in builtins.core_encoders())
    assert all(isinstance(s, ProjectorSpec) for s in builtins.core_projectors())
    assert all(isinstance(s, ObjectiveSpec) for s in builtins.core_objectives())
    assert all(isinstance(s, EvaluatorSpec) for s in builtins.core_evaluators())


def test_reader_flags_become_dataset_options():
    from core.options import reader_flags

    assert reader_flags(["--smiles-col", "smi", "--target-col=logS", "--strip-salts", "--fs", "100"]) == {
        "smiles_col": "smi", "target_col": "logS", "strip_salts": True, "fs": 100}
    with pytest.raises(UserError, match="unexpected argument 'stray'"):
        reader_flags(["stray"])


def test_key_values_read_yaml_scalars_and_name_the_flag():
    from core.options import key_values

    assert key_values(["fs=100", " name = a=b", "on=true"], "--option") == {"fs": 100, "name": "a=b", "on": True}
    assert key_values(None, "--set") == {}
    with pytest.raises(UserError, match="--set 'k8': expected KEY=VALUE"):
        key_values(["k8"], "--set")


def _subparsers():
    import argparse

    return argparse.ArgumentParser(prog="core").add_subparsers(dest="command")


def test_core_commands_come_from_the_builtin_commands_module():
    pm = PluginManager(load_entry_points=False)
    info = pm.plugins()[0]
    assert info.module == "core.builtins, core.commands" and "core_cli" in info.hooks
    sub = _subparsers()
    assert pm.add_commands(sub) == []
    assert list(sub.choices) == ["new-plugin", "check", "bench", "prepare"]
    assert sub.choices["bench"].get_default("takes_reader_flags") is True


def test_broken_plugin_cli_hook_warns_and_other_commands_stay():
    @core.hookimpl
    def core_cli(subparsers):
        raise RuntimeError("boom")

    @core.hookimpl
    def core_cli_ok(subparsers):
        subparsers.add_parser("hello").set_defaults(func=lambda args: 0)

    pm = PluginManager(load_entry_points=False)
    pm.register_module(_module("broken", core_cli=core_cli), name="broken")
    pm.register_module(_module("fine", core_cli=core.hookimpl(specname="core_cli")(core_cli_ok)), name="fine")
    sub = _subparsers()
    assert pm.add_commands(sub) == ["plugin 'broken': core_cli hook failed: RuntimeError: boom"]
    assert {"bench", "check", "new-plugin", "hello"} <= set(sub.choices)


def test_a_clash_with_a_core_command_is_the_plugins_failure():
    @core.hookimpl
    def core_cli(subparsers):
        subparsers.add_parser("bench")

    pm = PluginManager(load_entry_points=False)
    pm.register_module(_module("clash", core_cli=core_cli), name="clash")
    sub = _subparsers()
    warnings = pm.add_commands(sub)
    assert len(warnings) == 1 and "plugin 'clash'" in warnings[0] and "bench" in warnings[0]
    assert sub.choices["bench"].get_default("func").__module__ == "core.commands"


def test_a_failure_in_cores_own_commands_is_raised_not_swallowed(monkeypatch):
    from core import commands

    def broken(sub):
        raise RuntimeError("core bug")

    monkeypatch.setattr(commands, "add_bench_parser", broken)
    with pytest.raises(RuntimeError, match="core bug"):
        PluginManager(load_entry_points=False).add_commands(_subparsers())


def test_lazy_factory_imports_on_first_call(tmp_path, monkeypatch):
    import sys

    (tmp_path / "lazy_target_mod.py").write_text("def double(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    factory = core.lazy("lazy_target_mod:double")
    assert "lazy_target_mod" not in sys.modules
    assert factory(21) == 42 and "lazy_target_mod" in sys.modules
    with pytest.raises(ValueError, match="package.module:function"):
        core.lazy("no_colon_here")
