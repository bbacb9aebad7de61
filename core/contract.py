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

Plain torch/numpy; no Lightning, no pytest.
"""
from __future__ import annotations

import math
import traceback
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from core.errors import UserError, unknown_name
from core.specs import InputSpec, LoadedDataset

SPLITS = ("pretrain", "train", "val", "test")
LABELLED = ("train", "val", "test")

# small stand-in input specs for modalities a plugin declares but has no dataset for
SYNTHETIC_SPECS = {
    "vector": InputSpec("vector", (16,)),
    "sequence": InputSpec("sequence", (2, 64)),
    "image": InputSpec("image", (3, 16, 16)),
    "tokens": InputSpec("tokens", (20,), dtype="int64", vocab_size=25),
    "audio": InputSpec("audio", (1, 800), sample_rate=8000.0),
}

_LOADED: dict = {}  # (name, loader id, path, seed) -> (loader, LoadedDataset | Exception): load once


@dataclass
class CheckResult:
    """One verdict: ``kind`` (dataset, encoder, ...), registered ``name``, ``ok``, ``message``."""

    kind: str
    name: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.kind:12s} {self.name}: {self.message}"


@dataclass
class ContractReport:
    """All verdicts for one plugin."""

    plugin: str
    version: str = ""
    results: list = field(default_factory=list)

    @property
    def failures(self) -> list:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def add(self, kind: str, name: str, ok: bool, message: str) -> None:
        self.results.append(CheckResult(kind, name, ok, message))

    def format(self) -> str:
        head = f"core check {self.plugin}" + (f" (version {self.version})" if self.version else "")
        lines = [head] + ["  " + r.line() for r in self.results]
        n, bad = len(self.results), len(self.failures)
        lines.append(f"{n} checks, {bad} failed" if bad else f"{n} checks passed")
        return "\n".join(lines)

    def raise_for_failures(self) -> "ContractReport":
        if not self.ok:
            raise ContractError(self)
        return self


class ContractError(AssertionError):
    """Raised by :meth:`ContractReport.raise_for_failures`; its message lists the failures."""

    def __init__(self, report: ContractReport):
        self.report = report
        fails = "\n".join("  " + r.line() for r in report.failures)
        super().__init__(f"plugin '{report.plugin}' breaks the core contract:\n{fails}")


# ----------------------------------------------------------------------------- helpers
def describe(spec: InputSpec) -> str:
    extra = f", vocab {spec.vocab_size}" if spec.vocab_size else ""
    return f"{spec.modality} {tuple(spec.shape)}{extra}"


def _err(e: BaseException) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _where(e: BaseException) -> str:
    """The innermost frame of the plugin's code that raised (file:line), for the message."""
    frames = traceback.extract_tb(e.__traceback__)
    for fr in reversed(frames):
        if "/core/contract.py" not in fr.filename.replace("\\", "/"):
            return f" (at {fr.filename.rsplit('/', 1)[-1]}:{fr.lineno})"
    return ""


def _shape(x) -> Optional[tuple]:
    return tuple(x.shape) if hasattr(x, "shape") else None


def synthetic_batch(spec: InputSpec, batch_size: int, seed: int = 0):
    """A seeded random batch shaped ``(B, *spec.shape)`` (token ids with trailing padding)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    if spec.modality == "tokens":
        ids = torch.randint(1, int(spec.vocab_size), (batch_size, *spec.shape), generator=g)
        if ids.shape[-1] > 4:
            ids[1:, -2:] = 0  # padding, as real token batches have
        return ids
    return torch.randn(batch_size, *spec.shape, generator=g)


def _collate(dataset, n: int):
    import torch

    items = [dataset[i] for i in range(min(n, len(dataset)))]
    collate = getattr(dataset, "collate_fn", None) or torch.utils.data.default_collate
    return collate(items)


def _load_once(spec, path, seed: int):
    key = (spec.name, id(spec.load), str(path) if path is not None else None, seed)
    cached = _LOADED.get(key)
    if cached is None or cached[0] is not spec.load:  # the loader is kept: its id is not reused
        try:
            loaded = spec.load(path, seed=seed, on_bad_record="error", options={})
        except Exception as e:  # remembered: a broken loader is reported, not retried
            loaded = e
        cached = _LOADED[key] = (spec.load, loaded)
    return cached[1]


def clear_cache() -> None:
    """Forget the datasets loaded by earlier checks."""
    _LOADED.clear()


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
            if _shape(x) != tuple(spec.shape):
                return (f"split '{split}': ds[{i}] x has shape {_shape(x)}, "
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
                       f"called without --data it raised {_err(e)}{_where(e)}; raise core.UserError "
                       f"saying which --data it reads")
            return None
    else:
        loaded = _load_once(spec, path, seed)
    if isinstance(loaded, Exception):
        report.add("dataset", spec.name, False, f"load({path!r}) raised {_err(loaded)}{_where(loaded)}")
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
        batch = _collate(splits["train"], batch_size)[0]
    except Exception as e:
        report.add("dataset", spec.name, False, f"cannot collate {batch_size} train items: {_err(e)}")
        return None
    sizes = " / ".join(f"{len(splits[s])} {s}" for s in SPLITS)
    classes = f" ({len(task.class_names)} classes)" if task.class_names else ""
    report.add("dataset", spec.name, True, f"{sizes}; {task.kind}{classes}; {describe(ispec)}")
    return ispec, batch, loaded


# ----------------------------------------------------------------------------- encoders
def _inputs_for(modalities: Iterable[str], available: list, batch_size: int, seed: int) -> list:
    """``(input_spec, batch)`` pairs to test a piece declaring ``modalities`` on."""
    modalities = tuple(modalities)
    own = [(s, b) for s, b in available if not modalities or s.modality in modalities]
    if own:
        return own
    return [(SYNTHETIC_SPECS[m], synthetic_batch(SYNTHETIC_SPECS[m], batch_size, seed))
            for m in modalities if m in SYNTHETIC_SPECS]


def check_encoder(report: ContractReport, spec, inputs: list, dim: int, seed: int) -> None:
    import torch

    if not inputs:
        report.add("encoder", spec.name, True,
                   f"skipped: no dataset or stand-in for modalities {tuple(spec.modalities) or 'any'}")
        return
    done = []
    for ispec, batch in inputs:
        where = f"on {describe(ispec)} with dim={dim}"
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                enc = spec.build(ispec, dim)
                enc.train()
                out = enc(batch)
        except Exception as e:
            report.add("encoder", spec.name, False, f"{where} raised {_err(e)}{_where(e)}")
            return
        b = len(batch) if hasattr(batch, "__len__") else None
        expected = (b, dim)
        if not isinstance(out, torch.Tensor):
            report.add("encoder", spec.name, False, f"{where} returned {type(out).__name__}, expected a tensor {expected}")
            return
        if tuple(out.shape) != expected:
            report.add("encoder", spec.name, False,
                       f"{where} returned shape {tuple(out.shape)}, expected {expected} (B, dim)")
            return
        if not torch.isfinite(out).all():
            report.add("encoder", spec.name, False, f"{where} returned NaN or inf")
            return
        params = [p for p in enc.parameters() if p.requires_grad]
        if not params:
            report.add("encoder", spec.name, False, f"{where}: the encoder has no trainable parameters")
            return
        out.float().pow(2).mean().backward()
        if not any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in params):
            report.add("encoder", spec.name, False, f"{where}: no gradient reaches its parameters")
            return
        done.append(describe(ispec))
    report.add("encoder", spec.name, True, f"(B, {dim}) on {'; '.join(done)}")


# ----------------------------------------------------------------------------- projectors
def check_projector(report: ContractReport, spec, inputs: list, k: int, out_dim: int, seed: int) -> None:
    import torch

    from core.projectors import bank_hash, build_bank

    if not inputs:
        report.add("projector", spec.name, True,
                   f"skipped: no dataset or stand-in for modalities {tuple(spec.modalities) or 'any'}")
        return
    done = []
    for ispec, batch in inputs:
        where = f"on {describe(ispec)} with k={k}, d={out_dim}"
        b = len(batch) if hasattr(batch, "__len__") else None
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                raw = spec.build(ispec, k, out_dim)
            bad = [n for n, p in raw.named_parameters() if p.ndim == 0 or p.shape[0] != k]
            if bad:
                report.add("projector", spec.name, False,
                           f"{where}: parameters {bad[:3]} lack the leading k={k} axis "
                           f"(every parameter must be shaped (k, ...))")
                return
            with torch.no_grad():
                out = raw.eval()(batch)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (k, b, out_dim):
                report.add("projector", spec.name, False,
                           f"{where} returned shape {_shape(out)}, expected {(k, b, out_dim)} (K, B, d)")
                return
            make = lambda n: spec.build(ispec, n, out_dim)  # noqa: E731
            banks = [build_bank(make, k, candidates_per_slot=2, sample=batch, seed=s) for s in (seed, seed, seed + 1)]
        except Exception as e:
            report.add("projector", spec.name, False, f"{where} raised {_err(e)}{_where(e)}")
            return
        if any(p.requires_grad for p in banks[0].parameters()):
            report.add("projector", spec.name, False, f"{where}: the built bank is not frozen")
            return
        hashes = [bank_hash(bk) for bk in banks]
        if hashes[0] != hashes[1]:
            report.add("projector", spec.name, False,
                       f"{where}: two banks built with seed {seed} differ (draw randomness only "
                       f"from torch's seeded RNG inside build)")
            return
        if hashes[0] == hashes[2]:
            report.add("projector", spec.name, False,
                       f"{where}: banks built with seeds {seed} and {seed + 1} are identical (not random)")
            return
        with torch.no_grad():
            o1, o2, o3 = banks[0](batch), banks[0](batch), banks[1](batch)
        if tuple(o1.shape) != (k, b, out_dim) or o1.requires_grad:
            report.add("projector", spec.name, False,
                       f"{where}: the built bank returned {_shape(o1)} (requires_grad={o1.requires_grad})")
            return
        if not (torch.equal(o1, o2) and torch.equal(o1, o3)):
            report.add("projector", spec.name, False, f"{where}: outputs are not deterministic")
            return
        if not torch.isfinite(o1).all():
            report.add("projector", spec.name, False, f"{where}: outputs hold NaN or inf")
            return
        done.append(describe(ispec))
    report.add("projector", spec.name, True,
               f"({k}, B, {out_dim}), frozen, same seed same bank, on {'; '.join(done)}")


# ----------------------------------------------------------------------------- objectives
class _Head:
    """The first items of a dataset, re-indexed 0..n-1 (a tiny pretrain pool)."""

    def __init__(self, items, collate):
        self.items, self.collate_fn = items, collate

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        x, y, _ = self.items[i]
        return x, y, i


def check_objective(report: ContractReport, pm, spec, pools: list, dim: int, seed: int) -> None:
    import torch
    from torch.utils.data import DataLoader

    if not pools:  # no dataset: a stand-in input, of a modality with augmentations if any (SimCLR-like)
        from core.specs import Task

        try:
            augmentations = pm.specs("augmentation")
        except (AttributeError, UserError):
            augmentations = []
        augmented = [m for a in augmentations for m in a.modalities if m in SYNTHETIC_SPECS]
        ispec = SYNTHETIC_SPECS[(augmented + ["vector"])[0]]
        x = synthetic_batch(ispec, 8, seed)
        pools = [(ispec, [(x[i], torch.tensor(-1), i) for i in range(len(x))],
                  [(x[i], torch.tensor(i % 2), i) for i in range(len(x))], None, Task("binary", ("a", "b")))]
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
        pool = _Head(items, collate)
        loader = DataLoader(pool, batch_size=len(pool), collate_fn=collate)
        x, _, index = next(iter(loader))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
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
        report.add("objective", spec.name, False, f"{where} raised {_err(e)}{_where(e)}")
        return
    report.add("objective", spec.name, True,
               f"finite loss {loss.item():.3g} {where} with {enc_spec.name} and {getattr(proj, 'name', None)}")


# ----------------------------------------------------------------------------- evaluators
def _tiny_task_data(kind: str, seed: int):
    import numpy as np

    from core.specs import Task

    rng = np.random.default_rng(seed)
    n, f = 60, 6
    x = rng.normal(size=(n, f)).astype(np.float32)
    if kind == "multiclass":
        y, task = np.arange(n) % 3, Task("multiclass", ("a", "b", "c"))
    elif kind == "binary":
        y, task = np.arange(n) % 2, Task("binary", ("no", "yes"))
    elif kind == "multilabel":
        y, task = np.stack([np.arange(n) % 2, (np.arange(n) // 2) % 2], 1), Task("multilabel", ("p", "q"))
    else:
        y, task = x[:, 0] * 2 + 0.1 * rng.normal(size=n), Task("regression")
    x[:, 1] += np.asarray(y if y.ndim == 1 else y[:, 0], dtype=np.float32)  # some signal
    parts = np.split(np.arange(n), [30, 45])
    return [(x[p], y[p]) for p in parts], task


def check_evaluator(report: ContractReport, spec, seed: int) -> None:
    done = []
    for kind in spec.tasks:
        try:
            (tr, va, te), task = _tiny_task_data(kind, seed)
            metrics = spec.evaluate(tr, va, te, task, seed)
        except Exception as e:
            report.add("evaluator", spec.name, False, f"on a tiny {kind} task raised {_err(e)}{_where(e)}")
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

    if not inputs:
        report.add("augmentation", spec.name, True,
                   f"skipped: no dataset or stand-in for modalities {tuple(spec.modalities) or 'any'}")
        return
    done = []
    for ispec, batch in inputs:
        where = f"on {describe(ispec)}"
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                out = spec.build(ispec)(batch.clone())
        except Exception as e:
            report.add("augmentation", spec.name, False, f"{where} raised {_err(e)}{_where(e)}")
            return
        if not isinstance(out, torch.Tensor) or out.shape != batch.shape or out.dtype != batch.dtype:
            report.add("augmentation", spec.name, False,
                       f"{where} returned {_shape(out)} {getattr(out, 'dtype', '')}, expected "
                       f"{tuple(batch.shape)} {batch.dtype} (same shape and dtype)")
            return
        done.append(describe(ispec))
    report.add("augmentation", spec.name, True, f"same shape and dtype on {'; '.join(done)}")


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
    core_commands = {"run", "plugins", "list", "evaluate", "embed", "new-plugin", "check", "bench"}
    try:
        hook(subparsers=sub)
    except Exception as e:
        report.add("cli", plugin, False, f"core_cli raised {_err(e)}{_where(e)}")
        return
    added = sorted(sub.choices)
    clash = [c for c in added if c in core_commands]
    no_func = [c for c in added if not callable(sub.choices[c].get_default("func"))]
    if clash or no_func:
        why = (f"commands {clash} clash with core's; " if clash else "") + \
              (f"commands {no_func} set no func default (p.set_defaults(func=...))" if no_func else "")
        report.add("cli", plugin, False, why.rstrip("; "))
        return
    report.add("cli", plugin, True, f"adds {', '.join(f'core {c}' for c in added) or 'no command'}")


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
        check_encoder(report, spec, _inputs_for(spec.modalities, available, batch_size, seed), dim, seed)
    for name in names["projector"]:
        spec = pm.get("projector", name)
        check_projector(report, spec, _inputs_for(spec.modalities, available, batch_size, seed), k, out_dim, seed)
    for name in names["objective"]:
        check_objective(report, pm, pm.get("objective", name), pools, dim, seed)
    for name in names["evaluator"]:
        check_evaluator(report, pm.get("evaluator", name), seed)
    for name in names["recipe"]:
        check_recipe(report, pm, pm.get("recipe", name), loaded)
    for name in names.get("augmentation", []):
        spec = pm.get("augmentation", name)
        check_augmentation(report, spec, _inputs_for(spec.modalities, available, batch_size, seed), seed)
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
