"""The checks of each spec kind behind ``core check`` (:func:`core.contract.check_plugin`).

Each ``check_<kind>(report, spec, ...)`` adds one verdict to a :class:`ContractReport`:
the first failure found, or a one-line summary of what passed. What the pieces are fed comes
from :mod:`core.contract_inputs`. Plain torch/numpy; no Lightning, no pytest.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Callable, Mapping, Optional

from core.contract_inputs import (
    TinyPool, collate_first, load_once, stand_in_pool, tiny_task_data,
)
from core.contract_report import ContractReport, describe, error_text, raised_at, shape_of
from core.errors import UserError
from core.specs import InputSpec, LoadedDataset

SPLITS = ("pretrain", "train", "val", "test")
LABELLED = ("train", "val", "test")
CORE_COMMANDS = {"run", "plugins", "list", "evaluate", "embed", "new-plugin", "check", "bench"}


# ----------------------------------------------------------------------------- shared
@contextmanager
def seeded(seed: int):
    """Run the block with torch's global RNG seeded, and restored afterwards."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def check_on_inputs(report: ContractReport, kind: str, spec, inputs: list,
                    check_one: Callable[[InputSpec, Any], Optional[str]], passed: Callable[[str], str]) -> None:
    """One verdict for a piece tried on every ``(input_spec, batch)`` of ``inputs``:
    ``check_one`` returns a failure message (the verdict) or ``None``; when all pass, the
    verdict is ``passed("; "-joined input descriptions)``. No input: a skip."""
    if not inputs:
        report.add(kind, spec.name, True,
                   f"skipped: no dataset or stand-in for modalities {tuple(spec.modalities) or 'any'}")
        return
    done = []
    for ispec, batch in inputs:
        why = check_one(ispec, batch)
        if why:
            report.add(kind, spec.name, False, why)
            return
        done.append(describe(ispec))
    report.add(kind, spec.name, True, passed("; ".join(done)))


# ----------------------------------------------------------------------------- datasets
def _check_labels(y, task, n: int) -> Optional[str]:
    import numpy as np

    y = np.asarray(y)
    if len(y) != n:
        return f"{len(y)} labels for {n} samples"
    k = len(task.class_names)
    if task.kind in ("multiclass", "binary"):
        if y.ndim != 1 or y.dtype.kind not in "iub":
            return f"a {task.kind} task needs integer class ids shaped (N,), got {y.dtype} {y.shape}"
        hi = 2 if task.kind == "binary" else (k or int(y.max()) + 1)
        if y.min() < 0 or y.max() >= hi:
            return f"{task.kind} labels must lie in [0, {hi}), got [{y.min()}, {y.max()}]"
        if task.kind == "binary" and k not in (0, 2):
            return f"a binary task has 2 class names, got {k}"
    elif task.kind == "multilabel":
        if y.ndim != 2 or not np.isin(y, (0, 1)).all():
            return f"a multilabel task needs 0/1 labels shaped (N, C), got {y.dtype} {y.shape}"
        if k and y.shape[1] != k:
            return f"{y.shape[1]} label columns but {k} class names"
    else:  # regression
        if y.dtype.kind not in "iuf" or not np.isfinite(y.astype(np.float64)).all():
            return f"regression targets must be finite numbers, got {y.dtype}"
    return None


def _check_split(split: str, ds, spec: InputSpec, labelled: bool, task) -> Optional[str]:
    import numpy as np
    import torch

    n = len(ds)
    if n == 0:
        return f"split '{split}' is empty"
    ids = getattr(ds, "ids", None)
    ids = [] if ids is None else list(ids)
    if len(ids) != n:
        return f"split '{split}' has {n} samples but {len(ids)} ids (ds.ids)"
    if len(set(ids)) != n:
        return f"split '{split}' repeats ids (e.g. {next(i for i in ids if ids.count(i) > 1)!r})"
    if labelled:
        if getattr(ds, "targets", None) is None:
            return f"split '{split}' has no labels (ds.targets is None)"
        why = _check_labels(ds.targets, task, n)
        if why:
            return f"split '{split}': {why}"
    for i in (0, n - 1):
        item = ds[i]
        if not isinstance(item, tuple) or len(item) != 3:
            return f"split '{split}': ds[{i}] must be (x, y, index), got {type(item).__name__}"
        x, _, index = item
        if int(index) != i:
            return f"split '{split}': ds[{i}] returned index {int(index)}, expected {i}"
        if getattr(ds, "collate_fn", None) is None and spec.modality != "graph":
            if shape_of(x) != tuple(spec.shape):
                return (f"split '{split}': ds[{i}] x has shape {shape_of(x)}, "
                        f"but the InputSpec says {tuple(spec.shape)}")
            if isinstance(x, torch.Tensor) and x.is_floating_point() and not torch.isfinite(x).all():
                return f"split '{split}': ds[{i}] x holds NaN or inf"
    if split in LABELLED:
        raw = np.asarray(ds.raw_features())
        if raw.ndim != 2 or raw.shape[0] != n:
            return f"split '{split}': raw_features() must be (N, F) = ({n}, F), got {raw.shape}"
    return None


def check_dataset(report: ContractReport, spec, data: Optional[Mapping[str, str]], seed: int,
                  batch_size: int) -> Optional[tuple[InputSpec, Any, LoadedDataset]]:
    """Check one DatasetSpec; returns ``(input_spec, batch, loaded)`` when it loaded."""
    path = (data or {}).get(spec.name)
    if path is None and not spec.embedded:
        try:
            loaded = spec.load(None, seed=seed, on_bad_record="error", options={})
        except UserError as e:
            msg = str(e) if len(str(e)) <= 80 else str(e)[:77] + "..."
            report.add("dataset", spec.name, True, f"reads --data; without it: {msg}")
            return None
        except Exception as e:
            report.add("dataset", spec.name, False,
                       f"called without --data it raised {error_text(e)}{raised_at(e)}; raise core.UserError "
                       f"saying which --data it reads")
            return None
    else:
        loaded = load_once(spec, path, seed)
    if isinstance(loaded, Exception):
        report.add("dataset", spec.name, False, f"load({path!r}) raised {error_text(loaded)}{raised_at(loaded)}")
        return None
    if not isinstance(loaded, LoadedDataset):
        report.add("dataset", spec.name, False, f"load() returned {type(loaded).__name__}, expected core.LoadedDataset")
        return None
    ispec, task, splits = loaded.input_spec, loaded.task, loaded.splits
    if spec.modality and spec.modality != ispec.modality:
        report.add("dataset", spec.name, False,
                   f"DatasetSpec says modality {spec.modality!r} but its InputSpec is {ispec.modality!r}")
        return None
    for split in SPLITS:
        why = _check_split(split, splits[split], ispec, split in LABELLED, task)
        if why:
            report.add("dataset", spec.name, False, why)
            return None
    ids = {s: set(splits[s].ids) for s in SPLITS}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test"), ("pretrain", "test")):
        common = ids[a] & ids[b]
        if common:
            report.add("dataset", spec.name, False,
                       f"splits '{a}' and '{b}' share {len(common)} ids (e.g. {sorted(common)[0]!r}); "
                       f"splits must not overlap and pretrain must never hold test samples")
            return None
    try:
        batch = collate_first(splits["train"], batch_size)[0]
    except Exception as e:
        report.add("dataset", spec.name, False, f"cannot collate {batch_size} train items: {error_text(e)}")
        return None
    sizes = " / ".join(f"{len(splits[s])} {s}" for s in SPLITS)
    classes = f" ({len(task.class_names)} classes)" if task.class_names else ""
    report.add("dataset", spec.name, True, f"{sizes}; {task.kind}{classes}; {describe(ispec)}")
    return ispec, batch, loaded


# ----------------------------------------------------------------------------- encoders
def check_encoder(report: ContractReport, spec, inputs: list, dim: int, seed: int) -> None:
    """``build(input_spec, dim)`` maps each batch to finite ``(B, dim)`` with gradients."""
    import torch

    def check_one(ispec, batch) -> Optional[str]:
        where = f"on {describe(ispec)} with dim={dim}"
        try:
            with seeded(seed):
                enc = spec.build(ispec, dim)
                enc.train()
                out = enc(batch)
        except Exception as e:
            return f"{where} raised {error_text(e)}{raised_at(e)}"
        b = len(batch) if hasattr(batch, "__len__") else None
        expected = (b, dim)
        if not isinstance(out, torch.Tensor):
            return f"{where} returned {type(out).__name__}, expected a tensor {expected}"
        if tuple(out.shape) != expected:
            return f"{where} returned shape {tuple(out.shape)}, expected {expected} (B, dim)"
        if not torch.isfinite(out).all():
            return f"{where} returned NaN or inf"
        params = [p for p in enc.parameters() if p.requires_grad]
        if not params:
            return f"{where}: the encoder has no trainable parameters"
        out.float().pow(2).mean().backward()
        if not any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in params):
            return f"{where}: no gradient reaches its parameters"
        return None

    check_on_inputs(report, "encoder", spec, inputs, check_one, lambda done: f"(B, {dim}) on {done}")


# ----------------------------------------------------------------------------- projectors
def check_projector(report: ContractReport, spec, inputs: list, k: int, out_dim: int, seed: int) -> None:
    """A bank maps a batch to ``(K, B, d)`` with the K axis leading every parameter; the
    host-built bank is frozen, deterministic, the same for a seed and different for another."""
    import torch

    from core.projectors import bank_hash, build_bank

    def check_one(ispec, batch) -> Optional[str]:
        where = f"on {describe(ispec)} with k={k}, d={out_dim}"
        b = len(batch) if hasattr(batch, "__len__") else None
        try:
            with seeded(seed):
                raw = spec.build(ispec, k, out_dim)
            bad = [n for n, p in raw.named_parameters() if p.ndim == 0 or p.shape[0] != k]
            if bad:
                return (f"{where}: parameters {bad[:3]} lack the leading k={k} axis "
                        f"(every parameter must be shaped (k, ...))")
            with torch.no_grad():
                out = raw.eval()(batch)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (k, b, out_dim):
                return f"{where} returned shape {shape_of(out)}, expected {(k, b, out_dim)} (K, B, d)"
            make = lambda n: spec.build(ispec, n, out_dim)  # noqa: E731
            banks = [build_bank(make, k, candidates_per_slot=2, sample=batch, seed=s) for s in (seed, seed, seed + 1)]
        except Exception as e:
            return f"{where} raised {error_text(e)}{raised_at(e)}"
        if any(p.requires_grad for p in banks[0].parameters()):
            return f"{where}: the built bank is not frozen"
        hashes = [bank_hash(bk) for bk in banks]
        if hashes[0] != hashes[1]:
            return (f"{where}: two banks built with seed {seed} differ (draw randomness only "
                    f"from torch's seeded RNG inside build)")
        if hashes[0] == hashes[2]:
            return f"{where}: banks built with seeds {seed} and {seed + 1} are identical (not random)"
        with torch.no_grad():
            o1, o2, o3 = banks[0](batch), banks[0](batch), banks[1](batch)
        if tuple(o1.shape) != (k, b, out_dim) or o1.requires_grad:
            return f"{where}: the built bank returned {shape_of(o1)} (requires_grad={o1.requires_grad})"
        if not (torch.equal(o1, o2) and torch.equal(o1, o3)):
            return f"{where}: outputs are not deterministic"
        if not torch.isfinite(o1).all():
            return f"{where}: outputs hold NaN or inf"
        return None

    check_on_inputs(report, "projector", spec, inputs, check_one,
                    lambda done: f"({k}, B, {out_dim}), frozen, same seed same bank, on {done}")


# ----------------------------------------------------------------------------- objectives
def check_objective(report: ContractReport, pm, spec, pools: list, dim: int, seed: int) -> None:
    """Build (with the keywords a run passes), cache targets, a finite scalar encoder loss that
    backpropagates, and a finite inner phase, on the plugin's first pool (or a stand-in)."""
    import torch
    from torch.utils.data import DataLoader

    if not pools:  # no dataset: a stand-in input
        pools = [stand_in_pool(pm, seed)]
    ispec, unlabelled, labelled, collate, task = pools[0]
    items = labelled if getattr(spec, "needs_labels", False) else unlabelled
    where = f"on {describe(ispec)}"
    own = spec.name.split("/")[0] + "/"

    def pick(kind):  # the plugin's own piece first, else any that fits the input
        specs = sorted((pm.get(kind, n) for n in pm.names(kind)), key=lambda s: not s.name.startswith(own))
        return next((s for s in specs if not s.modalities or ispec.modality in s.modalities), None)

    proj, enc_spec = pick("projector"), pick("encoder")
    if enc_spec is None:
        report.add("objective", spec.name, True, f"skipped: no encoder for {ispec.modality}")
        return
    try:
        pool = TinyPool(items, collate)
        loader = DataLoader(pool, batch_size=len(pool), collate_fn=collate)
        x, _, index = next(iter(loader))
        with seeded(seed):
            encoder = enc_spec.build(ispec, dim)
            try:  # the optional keywords (num_samples, task, augment) a run passes, when accepted
                from core.runs import objective_context

                context = objective_context(pm, spec, ispec, task, len(pool))
            except ImportError:
                context = {}
            try:
                objective = spec.build(ispec, dim, {}, projector=proj, sample=x, seed=seed, **context)
            except UserError as e:  # a documented refusal (e.g. no GPU for a pinned kernel)
                report.add("objective", spec.name, True, f"skipped: build refused here: {e}")
                return
            missing = [a for a in ("prepare", "encoder_loss", "encoder_phase_parameters", "inner_parameters",
                                   "inner_phase", "inner_epochs") if not hasattr(objective, a)]
            if missing:
                report.add("objective", spec.name, False, f"built objective lacks {missing} (see core.objectives)")
                return
            objective.prepare(encoder, loader, torch.device("cpu"))
            loss = objective.encoder_loss(encoder(x), x, index)
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0 or not torch.isfinite(loss):
                report.add("objective", spec.name, False, f"{where}: encoder_loss returned {loss!r}, expected a finite scalar")
                return
            loss.backward()
            inner = list(objective.inner_parameters())
            if inner and objective.inner_epochs:
                opt = torch.optim.SGD(inner, lr=1e-3)
                with torch.no_grad():
                    z = encoder(x)
                value = objective.inner_phase(z, index, opt, len(index), torch.Generator().manual_seed(seed))
                if not math.isfinite(float(value)):
                    report.add("objective", spec.name, False, f"{where}: inner_phase returned {value}")
                    return
    except Exception as e:
        report.add("objective", spec.name, False, f"{where} raised {error_text(e)}{raised_at(e)}")
        return
    report.add("objective", spec.name, True,
               f"finite loss {loss.item():.3g} {where} with {enc_spec.name} and {getattr(proj, 'name', None)}")


# ----------------------------------------------------------------------------- evaluators
def check_evaluator(report: ContractReport, spec, seed: int) -> None:
    """Finite float metrics on a tiny task of each kind the evaluator declares."""
    done = []
    for kind in spec.tasks:
        try:
            (tr, va, te), task = tiny_task_data(kind, seed)
            metrics = spec.evaluate(tr, va, te, task, seed)
        except Exception as e:
            report.add("evaluator", spec.name, False, f"on a tiny {kind} task raised {error_text(e)}{raised_at(e)}")
            return
        if not isinstance(metrics, Mapping) or not metrics:
            report.add("evaluator", spec.name, False, f"on a {kind} task returned {metrics!r}, expected a dict of metrics")
            return
        bad = {k: v for k, v in metrics.items() if not isinstance(k, str) or not _is_float(v)}
        if bad:
            report.add("evaluator", spec.name, False, f"on a {kind} task returned non-float metrics {bad}")
            return
        done.append(kind)
    report.add("evaluator", spec.name, True, f"float metrics on {', '.join(done)}")


def _is_float(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- augmentations
def check_augmentation(report: ContractReport, spec, inputs: list, seed: int) -> None:
    """``build(input_spec)`` -> ``transform``: a batch in, a batch of the same shape and dtype out."""
    import torch

    def check_one(ispec, batch) -> Optional[str]:
        where = f"on {describe(ispec)}"
        try:
            with seeded(seed):
                out = spec.build(ispec)(batch.clone())
        except Exception as e:
            return f"{where} raised {error_text(e)}{raised_at(e)}"
        if not isinstance(out, torch.Tensor) or out.shape != batch.shape or out.dtype != batch.dtype:
            return (f"{where} returned {shape_of(out)} {getattr(out, 'dtype', '')}, expected "
                    f"{tuple(batch.shape)} {batch.dtype} (same shape and dtype)")
        return None

    check_on_inputs(report, "augmentation", spec, inputs, check_one, lambda done: f"same shape and dtype on {done}")


# ----------------------------------------------------------------------------- recipes
def check_recipe(report: ContractReport, pm, spec, loaded: Mapping[str, LoadedDataset]) -> None:
    from core.config import RunConfig

    problems = []
    refs = [("dataset", spec.dataset), ("encoder", spec.encoder), ("projector", spec.projector),
            ("objective", spec.objective)] + [("evaluator", e) for e in spec.evaluators]
    if spec.data_dataset:
        refs.append(("dataset", spec.data_dataset))
    for kind, name in refs:
        if name not in pm.names(kind):
            try:
                pm.get(kind, name)
                problems.append(f"{kind} '{name}' is a short name; write the full 'plugin/name'")
            except UserError as e:
                problems.append(str(e).split(" (see")[0])
    try:
        RunConfig().update(spec.params, "params")
    except UserError as e:
        problems.append(str(e))
    if not problems and spec.data_dataset and pm.get("dataset", spec.data_dataset).embedded:
        problems.append(f"data_dataset '{spec.data_dataset}' is embedded; it must read --data")
    data = loaded.get(spec.dataset)
    if not problems and data is not None:
        m = data.input_spec.modality
        for kind, name in (("encoder", spec.encoder), ("projector", spec.projector)):
            mods = pm.get(kind, name).modalities
            if mods and m not in mods:
                problems.append(f"{kind} '{name}' declares modalities {tuple(mods)}, dataset is {m}")
    if problems:
        report.add("recipe", spec.name, False, "; ".join(problems))
    else:
        report.add("recipe", spec.name, True, f"{spec.dataset} + {spec.encoder} + {spec.projector} + {spec.objective}")


# ----------------------------------------------------------------------------- CLI hook
def check_cli(report: ContractReport, plugin: str, hook) -> None:
    """``core_cli(subparsers)`` adds parsers, each with a ``func`` default, without clashing with core's."""
    import argparse

    parser = argparse.ArgumentParser(prog="core")
    sub = parser.add_subparsers(dest="command")
    try:
        hook(subparsers=sub)
    except Exception as e:
        report.add("cli", plugin, False, f"core_cli raised {error_text(e)}{raised_at(e)}")
        return
    added = sorted(sub.choices)
    clash = [c for c in added if c in CORE_COMMANDS]
    no_func = [c for c in added if not callable(sub.choices[c].get_default("func"))]
    if clash or no_func:
        why = (f"commands {clash} clash with core's; " if clash else "") + \
              (f"commands {no_func} set no func default (p.set_defaults(func=...))" if no_func else "")
        report.add("cli", plugin, False, why.rstrip("; "))
        return
    report.add("cli", plugin, True, f"adds {', '.join(f'core {c}' for c in added) or 'no command'}")
