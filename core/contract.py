"""The plugin contract checker behind ``core check PLUGIN`` and :mod:`core.testing`.

It verifies every spec a plugin registers, cheaply (tiny batches, embedded datasets loaded
once per process):

* **datasets**: an embedded dataset loads; its splits are non-empty, carry ids, do not
  overlap (train/val/test by ids, and ``pretrain`` holds no test id); items are
  ``(x, y, index)`` with ``x`` shaped like the ``InputSpec``; labels match the ``Task``;
  ``raw_features()`` is ``(N, F)``. A dataset that reads ``--data`` must answer a call without
  data by a :class:`core.UserError` (one clear line), never a traceback.
* **encoders**: ``build(input_spec, dim)`` maps a batch to ``(B, dim)`` (finite, with
  gradients) for the declared input spec (the plugin's own datasets of a declared modality,
  else a small synthetic spec per declared modality).
* **projectors**: a bank maps a batch to ``(K, B, d)``; every parameter has the leading K
  axis; the host-built bank (:func:`core.projectors.build_bank`, with DPP selection) is frozen
  and bit-identical for the same seed, different for another seed.
* **objectives**: build, cache targets, give a finite encoder loss and run an inner phase.
* **evaluators**: return finite float metrics on tiny features for each declared task kind.
* **augmentations**: map a batch to a batch of the same shape and dtype.
* **CLI**: ``core_cli`` adds commands with a ``func`` default that do not shadow core's.
* **recipes**: every name resolves, ``params`` are :class:`core.config.RunConfig` fields,
  encoder/projector modalities fit the dataset; a plugin with datasets has ``<plugin>/default``.

Layout: this module is the entry point (:func:`check_plugin`, ``core check``); the checks of
each kind are in :mod:`core.contract_checks`, what they are fed in :mod:`core.contract_inputs`,
the verdicts in :mod:`core.contract_report`. Plain torch/numpy; no Lightning, no pytest.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

from core.contract_checks import (
    check_augmentation, check_cli, check_dataset, check_encoder, check_evaluator, check_objective, check_projector,
    check_recipe,
)
from core.contract_inputs import clear_cache, inputs_for
from core.contract_report import ContractError, ContractReport, describe
from core.errors import UserError, unknown_name

__all__ = ["check_plugin", "ContractError", "ContractReport", "clear_cache", "add_parser", "cmd_check"]


# ----------------------------------------------------------------------------- driver
def check_plugin(pm, plugin: str, *, data: Optional[Mapping[str, str]] = None, batch_size: int = 4,
                 dim: int = 24, k: int = 3, out_dim: int = 8, seed: int = 0) -> ContractReport:
    """Check every spec ``plugin`` registers in the plugin manager ``pm``.

    ``data`` maps dataset names that read ``--data`` to a path to load them from. Encoders
    are built with ``dim`` (24, not a usual default, to catch hard-coded widths), banks with
    ``k`` networks of width ``out_dim``; batches hold ``batch_size`` samples.
    """
    from core.plugins import KIND_HOOKS

    pm.plugins()  # collect specs (records hook errors)
    if plugin not in pm.infos:
        raise unknown_name("plugin", plugin, pm.infos)
    info = pm.infos[plugin]
    report = ContractReport(plugin, info.version)
    if info.error:
        report.add("plugin", plugin, False, f"failed to load: {info.error}")
        return report
    names = {kind: sorted(info.names.get(kind, [])) for kind in KIND_HOOKS}
    if not any(names.values()):
        report.add("plugin", plugin, False, f"registers nothing (hooks: {', '.join(info.hooks) or 'none'})")
        return report
    for kind, items in names.items():
        for name in items:
            prefix = name.split("/")[0]
            if prefix != plugin:
                report.add(kind, name, False, f"names must start with '{plugin}/' (the plugin's name)")
    available, loaded, pools = [], {}, []
    for name in names["dataset"]:
        got = check_dataset(report, pm.get("dataset", name), data, seed, batch_size)
        if got:
            ispec, batch, ds = got
            loaded[name] = ds
            if all(describe(ispec) != describe(s) for s, _ in available):
                available.append((ispec, batch))
                pretrain, train = ds.splits["pretrain"], ds.splits["train"]
                pools.append((ispec, [pretrain[i] for i in range(min(8, len(pretrain)))],
                              [train[i] for i in range(min(8, len(train)))],
                              getattr(pretrain, "collate_fn", None), ds.task))
    for name in names["encoder"]:
        spec = pm.get("encoder", name)
        check_encoder(report, spec, inputs_for(spec.modalities, available, batch_size, seed), dim, seed)
    for name in names["projector"]:
        spec = pm.get("projector", name)
        check_projector(report, spec, inputs_for(spec.modalities, available, batch_size, seed), k, out_dim, seed)
    for name in names["objective"]:
        check_objective(report, pm, pm.get("objective", name), pools, dim, seed)
    for name in names["evaluator"]:
        check_evaluator(report, pm.get("evaluator", name), seed)
    for name in names["recipe"]:
        check_recipe(report, pm, pm.get("recipe", name), loaded)
    for name in names.get("augmentation", []):
        spec = pm.get("augmentation", name)
        check_augmentation(report, spec, inputs_for(spec.modalities, available, batch_size, seed), seed)
    module = pm.pm.get_plugin(plugin)
    if module is not None and hasattr(module, "core_cli"):
        check_cli(report, plugin, module.core_cli)
    if names["dataset"] and f"{plugin}/default" not in names["recipe"]:
        report.add("recipe", f"{plugin}/default", False,
                   f"missing: `core run --plugin {plugin}` runs the recipe '{plugin}/default'; add it to core_recipes")
    return report


# ----------------------------------------------------------------------------- CLI
def add_parser(sub) -> None:
    """Register ``core check PLUGIN...`` on the CLI's sub-parsers."""
    p = sub.add_parser("check", help="verify that a plugin's specs honour the core contract")
    p.add_argument("plugins", nargs="+", metavar="PLUGIN", help="plugin name(s), as `core plugins` lists them")
    p.add_argument("--data", action="append", metavar="DATASET=PATH", default=[],
                   help="also load a dataset that reads --data from PATH, repeatable")
    p.set_defaults(func=cmd_check)


def cmd_check(args) -> int:
    import torch

    from core.plugins import get_plugin_manager

    data = {}
    for pair in args.data:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--data {pair!r}: expected DATASET=PATH, e.g. --data ecg/records=~/ptbxl")
        data[name] = str(Path(path).expanduser())
    torch.set_num_threads(min(torch.get_num_threads(), 4))
    pm = get_plugin_manager()
    failed = 0
    for plugin in args.plugins:
        report = check_plugin(pm, plugin, data=data)
        print(report.format())
        failed += len(report.failures)
    return 1 if failed else 0
