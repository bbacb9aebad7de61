"""One run end to end: resolve, load, pretrain, evaluate against floors, write the run folder.

Run folder (docs/design.md#data-flow-of-core-run): ``config.yaml``, ``encoder.safetensors`` + ``card.json``,
``last.ckpt``, ``metrics.json``, ``report.md`` with plots, ``skipped.csv`` when records were
skipped. With ``--seeds N`` the first seed lives at the top level and the others in
``seed-<s>/``; ``metrics.json`` and the report aggregate mean ± std.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import yaml

import core
from core.config import RunConfig
from core.errors import UserError
from core.io import atomic_save_npy, atomic_write_json, atomic_write_text, atomic_write_with, new_folder
from core.plugins import PluginManager
from core.specs import InputSpec, LoadedDataset

log = logging.getLogger("core")
PRETRAINED = "pretrained"  # results key of the encoder pretrained by the run's objective, whatever it is
MODELS = (PRETRAINED, "random-init", "raw")
MODEL_LABELS = {PRETRAINED: "pretrained encoder", "random-init": "random-init encoder", "raw": "raw features"}


# -- configuration ---------------------------------------------------------------------------
def resolve_config(pm: PluginManager, plugin: Optional[str], recipe: Optional[str],
                   file_values: dict, cli_values: dict, file_source: str = "config file") -> RunConfig:
    """Recipe defaults < ``--config FILE`` (named ``file_source`` in errors) < CLI flags. Every
    value is checked by its rule as it is merged (:mod:`core.flags`), names against the
    registry, and the merged settings against this machine (:func:`core.flags.check_environment`)."""
    from core.flags import check_environment

    if not isinstance(file_values, dict):
        raise UserError(f"{file_source}: expected settings as KEY: VALUE lines (a mapping), got a "
                        f"{type(file_values).__name__}; e.g. `epochs: 10`")
    cfg = RunConfig()
    recipe_name = recipe or file_values.get("recipe") or cli_values.get("recipe")
    plugin = plugin or file_values.get("plugin")
    if recipe_name:
        rec = pm.get("recipe", recipe_name)
    elif plugin:
        rec = pm.recipe_for_plugin(plugin)
    else:
        raise UserError("say which plugin to run: `core run --plugin NAME` (see `core plugins`)")
    cfg.update({"plugin": rec.name.split("/")[0], "recipe": rec.name, "dataset": rec.dataset,
                "encoder": rec.encoder, "projector": rec.projector, "objective": rec.objective,
                "evaluators": list(rec.evaluators)}, "recipe")
    params = dict(rec.params)
    chosen = cli_values.get("objective") or file_values.get("objective")
    if chosen and pm.get("objective", chosen).name != pm.get("objective", rec.objective).name:
        params.pop("objective_params", None)  # the recipe's objective parameters belong to its objective
    cfg.update(params, f"recipe {rec.name}")
    cfg.update(file_values, file_source)
    cfg.update(cli_values, "command line")
    budget_source = [v for v in (params, file_values, cli_values)
                     if v.get("epochs") is not None or v.get("steps") is not None][-1:]
    if budget_source and budget_source[0].get("steps") is None:
        cfg.steps = None  # epochs given where the budget was last set: they override a recipe's steps
    if cfg.data and not (cli_values.get("dataset") or file_values.get("dataset")):
        cfg.dataset = files_dataset(pm, cfg)
    for kind, name in (("dataset", cfg.dataset), ("encoder", cfg.encoder), ("projector", cfg.projector),
                       ("objective", cfg.objective)):
        cfg.update({kind: pm.get(kind, name).name}, "registry")
    cfg.evaluators = [pm.get("evaluator", e).name for e in cfg.evaluators]
    if cfg.data is not None:
        cfg.data = str(Path(cfg.data).expanduser().resolve())
        if not Path(cfg.data).exists():
            raise UserError(f"--data {cfg.data}: no such file or folder; check the path")
    if cfg.pretrain_data is not None:
        check_pretrain_data(pm, cfg)
    check_environment(cfg)
    return cfg


def files_dataset(pm: PluginManager, cfg: RunConfig) -> str:
    """The dataset that reads a user's files in this run: ``cfg.dataset``, or the recipe's
    ``data_dataset`` when the run's dataset is an embedded one."""
    if not pm.get("dataset", cfg.dataset).embedded:
        return cfg.dataset
    rec = pm.get("recipe", cfg.recipe)
    if not rec.data_dataset:
        raise UserError(f"recipe {rec.name} has no reader for --data (no data_dataset); pass --dataset NAME")
    return pm.get("dataset", rec.data_dataset).name


def check_pretrain_data(pm: PluginManager, cfg: RunConfig) -> None:
    """``--pretrain-data`` exists, and the objective learns without labels."""
    cfg.pretrain_data = str(Path(cfg.pretrain_data).expanduser().resolve())
    if not Path(cfg.pretrain_data).exists():
        raise UserError(f"--pretrain-data {cfg.pretrain_data}: no such file or folder; check the path")
    if pm.get("objective", cfg.objective).needs_labels:
        raise UserError(f"--pretrain-data: objective {cfg.objective} learns from labels and cannot use an "
                        f"unlabelled corpus; drop --pretrain-data or choose a self-supervised objective")
    files_dataset(pm, cfg)


def new_run_dir(cfg: RunConfig, kind: str = "") -> Path:
    """A fresh ``<out>/<timestamp>-[<kind>-]<plugin>-<dataset>`` folder (suffixed if taken);
    an ``out`` that cannot hold it is a one-line user error."""
    from core.flags import check_output_folder

    check_output_folder(Path(cfg.out), "--out")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    prefix = f"{stamp}-{kind}-" if kind else f"{stamp}-"
    base = Path(cfg.out) / f"{prefix}{cfg.plugin}-{cfg.dataset.split('/')[-1]}"
    try:
        return new_folder(base)
    except OSError as e:
        raise UserError(f"--out {cfg.out}: cannot create the run folder {base} ({e.strerror or e}); "
                        f"pass a folder you can write to, e.g. --out runs") from None


def load_run_config(run_dir: Path) -> RunConfig:
    """The checked ``config.yaml`` of a run folder; a missing, unreadable or malformed one is a
    one-line user error naming it."""
    from core.flags import read_yaml

    path = Path(run_dir) / "config.yaml"
    if not Path(run_dir).is_dir():
        raise UserError(f"{run_dir}: no such run folder; pass a folder made by `core run` (see --out, default runs/)")
    if not path.is_file():
        raise UserError(f"{run_dir}: not a run folder (no config.yaml); pass a folder made by `core run`")
    values = read_yaml(path, str(path), "restore it from the run's card.json/report.md or start a new run")
    return RunConfig().update(values or {}, str(path))


# -- pieces --------------------------------------------------------------------------------
def load_dataset(pm: PluginManager, cfg: RunConfig, seed: int) -> LoadedDataset:
    from core.shards import is_shards

    spec = pm.get("dataset", cfg.dataset)
    if spec.embedded and cfg.data:
        raise UserError(f"dataset {spec.name} is embedded and takes no --data; drop --dataset or --data")
    if cfg.data and is_shards(cfg.data):  # written by `core prepare`: streamed from disk, splits fixed there
        data = open_prepared(pm, cfg.data)
    else:
        data = spec.load(cfg.data, seed=seed, on_bad_record=cfg.on_bad_record, options=dict(cfg.data_options))
    for split in ("train", "val", "test"):
        if len(data.splits[split]) == 0:
            if split == "val":  # a corpus shipping only train/test: the probes choose by CV
                continue
            raise UserError(f"dataset {spec.name}: the {split} split is empty; give more records or a split column")
        if data.splits[split].targets is None:
            raise UserError(f"dataset {spec.name}: the {split} split has no labels; the probe needs them "
                            f"(add a labels file or a label column)")
    from core.label_checks import check_labels

    for line in check_labels(data, spec.name):
        _warn_once(line)
    return data


_WARNED: set = set()


def _warn_once(line: str) -> None:
    """Log a data warning once per process (every seed reloads the data)."""
    if line not in _WARNED:
        _WARNED.add(line)
        log.warning("%s", line)


def seeded_sample(dataset, n: int, seed: int):
    """A seeded batch of raw inputs (for the DPP choice of projectors)."""
    g = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(dataset), generator=g)[: min(n, len(dataset))].tolist()
    items = [dataset[i] for i in index]
    collate = getattr(dataset, "collate_fn", None) or torch.utils.data.default_collate
    return collate(items)[0]


def build_encoder(pm: PluginManager, cfg: RunConfig, input_spec: InputSpec, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return pm.get("encoder", cfg.encoder).build(input_spec, cfg.dim)


def augmentation_for(pm: PluginManager, input_spec: InputSpec):
    """Every registered augmentation for ``input_spec.modality``, composed in registration order
    (``None`` when there is none)."""
    specs = [a for a in pm.specs("augmentation") if input_spec.modality in a.modalities]
    if not specs:
        return None
    transforms = [a.build(input_spec) for a in specs]

    def augment(x):
        for t in transforms:
            x = t(x)
        return x

    augment.names = tuple(a.name for a in specs)
    return augment


def _accepted(factory, context: dict) -> dict:
    """The ``context`` keywords that ``factory`` accepts (by name, or all of them with ``**kwargs``)."""
    import inspect

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(context)
    return {k: v for k, v in context.items() if k in params}


def training_pool(pm: PluginManager, cfg: RunConfig, data: LoadedDataset, unlabelled: Optional[LoadedDataset] = None):
    """The split the objective trains on: the unlabelled ``pretrain`` pool, or the labelled
    ``train`` split for objectives that need labels (``ObjectiveSpec.needs_labels``). With an
    ``unlabelled`` corpus (``--pretrain-data``): its records, plus the labelled corpus' train+val
    inputs unless ``cfg.pretrain_pool`` is ``unlabelled``."""
    if pm.get("objective", cfg.objective).needs_labels:
        return data.splits["train"]
    if unlabelled is None:
        return data.splits["pretrain"]
    from core.data import join_pools

    check_same_inputs(unlabelled.input_spec, data.input_spec, f"--pretrain-data {cfg.pretrain_data}",
                      f"--data {cfg.data} gives", cfg)
    parts = [unlabelled.splits["pretrain"]] + ([data.splits["pretrain"]] if cfg.pretrain_pool == "both" else [])
    return join_pools(parts)


def open_prepared(pm: PluginManager, path, unlabelled: bool = False) -> LoadedDataset:
    """Shards written by ``core prepare``, read through the dataset that wrote them (its
    ``shard_split`` when records are not plain arrays)."""
    from core.shards import open_shards, read_meta

    name = read_meta(path).get("dataset", "")
    try:
        spec = pm.get("dataset", name)
    except UserError:
        raise UserError(f"{path}: shards written by dataset {name!r}, which no installed plugin provides; "
                        f"install its plugin (core plugins lists them)") from None
    return open_shards(path, unlabelled=unlabelled, dataset_spec=spec)


def load_unlabelled(pm: PluginManager, cfg: RunConfig, seed: int) -> LoadedDataset:
    """The ``--pretrain-data`` corpus: shards written by ``core prepare`` (streamed), or files read
    by :func:`files_dataset` with ``unlabelled=True``."""
    from core.shards import is_shards

    if is_shards(cfg.pretrain_data):
        return open_prepared(pm, cfg.pretrain_data, unlabelled=True)
    data = read_unlabelled(pm, files_dataset(pm, cfg), cfg.pretrain_data, seed, cfg.on_bad_record,
                           dict(cfg.data_options), "--pretrain-data", "pretrain on labelled --data only")
    if len(data.splits["pretrain"]) == 0:
        raise UserError(f"--pretrain-data {cfg.pretrain_data}: no usable records")
    return data


def read_unlabelled(pm: PluginManager, name: str, path, seed: int, on_bad_record: str, options: dict,
                    flag: str, fix: str) -> LoadedDataset:
    """Files at ``path`` read by dataset ``name`` without labels; a dataset whose factory takes
    no ``unlabelled`` keyword is a user error naming ``flag`` and ``fix``."""
    try:
        return pm.get("dataset", name).load(str(path), seed=seed, on_bad_record=on_bad_record, options=options,
                                            unlabelled=True)
    except TypeError as e:
        if "unlabelled" not in str(e):
            raise
        raise UserError(f"{flag}: dataset {name} cannot read corpora without labels (its reader takes no "
                        f"`unlabelled` keyword); {fix}") from None


def check_same_inputs(sa: InputSpec, sb: InputSpec, a_name: str, b_name: str, cfg: RunConfig) -> None:
    """Inputs that can share one pool or one encoder: same modality, shape and vocabulary;
    otherwise a one-line user error naming both (``a_name`` gives, ``b_name`` gives/was trained
    on) and the way to align them."""
    if (sa.modality, sa.shape, sa.vocab_size) != (sb.modality, sb.shape, sb.vocab_size):
        raise UserError(f"{a_name} gives {sa.modality} inputs of shape {list(sa.shape)} but {b_name} "
                        f"{sb.modality} {list(sb.shape)}; {align_hint(cfg)}")


def align_hint(cfg: RunConfig) -> str:
    """How to make two corpora give the same input shape: the reader options (the plugin's page
    lists those that fix lengths, rates, sizes), and the ones in use."""
    used = ", ".join(f"{k}={v}" for k, v in sorted(cfg.data_options.items())) or "none"
    return (f"make them agree with the reader options that fix the input size (--option KEY=VALUE; "
            f"see the {cfg.plugin} plugin's page; in use: {used})")


def objective_sample_size(pm: PluginManager, cfg: RunConfig) -> int:
    """How many seeded pretrain inputs the objective's factory gets as ``sample``
    (:attr:`core.specs.ObjectiveSpec.sample_size`, an int or a function of the run's parameters)."""
    size = pm.get("objective", cfg.objective).sample_size
    return int(size(dict(cfg.objective_params)) if callable(size) else size)


def build_objective(pm: PluginManager, cfg: RunConfig, data: LoadedDataset, pool, sample, seed: int):
    """``ObjectiveSpec.build`` with the run's parameters; factories that accept them also get
    ``num_samples`` (pool size), ``task`` and ``augment`` (see :class:`core.specs.ObjectiveSpec`).
    A bad parameter (``ValueError`` from the objective's config) is a user error."""
    spec = pm.get("objective", cfg.objective)
    context = objective_context(pm, spec, data.input_spec, data.task, len(pool))
    try:
        return spec.build(data.input_spec, cfg.dim, dict(cfg.objective_params),
                          projector=pm.get("projector", cfg.projector), sample=sample, seed=seed, **context)
    except ValueError as e:
        raise UserError(f"objective {spec.name}: {e}") from e


def objective_context(pm: PluginManager, spec, input_spec: InputSpec, task, num_samples: int) -> dict:
    """The optional keywords of ``spec.build`` that its factory accepts: ``num_samples``,
    ``task`` and ``augment`` (built only when accepted). Use it wherever objectives are built."""
    wanted = _accepted(spec.build, {"num_samples": None, "task": None, "augment": None})
    context = {"num_samples": int(num_samples), "task": task}
    if "augment" in wanted:
        context["augment"] = augmentation_for(pm, input_spec)
    return {k: v for k, v in context.items() if k in wanted}


def save_encoder(encoder: torch.nn.Module, run_dir: Path, card: dict) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    atomic_write_with(run_dir / "encoder.safetensors", lambda tmp: save_file(state, tmp))
    atomic_write_json(run_dir / "card.json", card)


def load_encoder(pm: PluginManager, run_dir: Path) -> tuple[torch.nn.Module, dict]:
    """The trained encoder of a finished run and its card; a failed run, a missing, truncated or
    mismatched ``encoder.safetensors`` or a malformed ``card.json`` is a one-line user error."""
    from safetensors.torch import load_file

    from core.run_status import check_not_failed

    run_dir = Path(run_dir)
    check_not_failed(run_dir)
    card_path, weights = run_dir / "card.json", run_dir / "encoder.safetensors"
    if not card_path.exists() or not weights.exists():
        raise UserError(f"{run_dir}: no trained encoder (card.json + encoder.safetensors); "
                        f"finish the run with `core run --resume {run_dir}`")
    fix = f"rebuild it with `core run --resume {run_dir}` (needs last.ckpt) or start a new run"
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        spec = InputSpec.from_dict(card["input_spec"])
        name, dim = card["encoder"], int(card["dim"])
    except OSError as e:
        raise UserError(f"{card_path}: cannot read ({e.strerror or e}); check permissions") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{card_path}: malformed run card ({type(e).__name__}: {e}); {fix}") from None
    encoder = pm.get("encoder", name).build(spec, dim)
    try:
        state = load_file(str(weights))
    except OSError as e:
        raise UserError(f"{weights}: cannot read ({e.strerror or e}); check permissions") from None
    except Exception as e:  # safetensors raises its own SafetensorError for truncated/garbled files
        raise UserError(f"{weights}: not a readable safetensors file ({' '.join(str(e).split())[:120]}); "
                        f"{fix}") from None
    try:
        encoder.load_state_dict(state)
    except RuntimeError as e:
        raise UserError(f"{weights}: weights do not fit encoder {name} (dim {dim}) named in {card_path} "
                        f"({' '.join(str(e).split())[:120]}); {fix}") from None
    return encoder.eval(), card


def evaluate_features(pm: PluginManager, cfg: RunConfig, data: LoadedDataset, features: dict, seed: int) -> dict:
    """Run every evaluator that fits the task kind and input modality on ``{split: X}``
    features; returns ``{evaluator/metric: float}`` plus ``{evaluator/protocol: text}`` when the
    evaluator says how it chose its hyper-parameters (:class:`core.metrics.Scores`). A primary
    metric the evaluator could not compute is kept as NaN (shown as n/a), never dropped."""
    out = {}
    pairs = {s: (features[s], _targets(data.splits[s])) for s in ("train", "val", "test")}
    for name in cfg.evaluators:
        spec = pm.get("evaluator", name)
        if data.task.kind not in spec.tasks or (spec.modalities and data.input_spec.modality not in spec.modalities):
            continue
        metrics = spec.evaluate(pairs["train"], pairs["val"], pairs["test"], data.task, seed)
        short = name.split("/")[-1]
        values = {f"{short}/{k}": float(v) for k, v in metrics.items()}
        primary = data.task.primary_metric
        if not any(k == primary or k.startswith(f"{primary}_") for k in metrics):  # per-target names count
            values[f"{short}/{primary}"] = float("nan")
        out.update(values)
        if getattr(metrics, "protocol", ""):
            out[f"{short}/protocol"] = metrics.protocol
    return out


def _targets(split):
    """A split's labels; an empty split without labels gives an empty array."""
    if split.targets is None and len(split) == 0:
        return np.zeros(0, np.int64)
    return split.targets


def encoder_features(encoder, data: LoadedDataset, cfg: RunConfig) -> dict:
    device = "cuda" if torch.cuda.is_available() and cfg.accelerator != "cpu" else "cpu"
    encoder = encoder.to(device)
    return {s: embed_split(encoder, data.splits[s], device, cfg.progress, s) for s in ("train", "val", "test")}


def embed_split(encoder, dataset, device, progress, name):
    from core.training import embed

    return embed(encoder, dataset, device=device, progress=progress, desc=f"embedding {name}")


# -- one seed ----------------------------------------------------------------------------------
def floor_results(pm: PluginManager, cfg: RunConfig, data: LoadedDataset, seed: int, initial=None) -> dict:
    """Probe results of the floors: the encoder at its seeded random init, and the raw features."""
    random_init = build_encoder(pm, cfg, data.input_spec, seed)
    if initial is not None:
        random_init.load_state_dict(initial)
    results = {"random-init": evaluate_features(pm, cfg, data, encoder_features(random_init, data, cfg), seed)}
    raw = {s: data.splits[s].raw_features() if len(data.splits[s]) else np.zeros((0, 0), np.float32)
           for s in ("train", "val", "test")}  # an empty val (a corpus shipping only train/test)
    results["raw"] = evaluate_features(pm, cfg, data, raw, seed)
    return results


def run_seed(pm: PluginManager, cfg: RunConfig, seed: int, seed_dir: Path, resume: bool,
             floors: bool = True) -> dict:
    """Pretrain ``cfg.objective`` and evaluate one seed in ``seed_dir``; returns its metrics
    (cached when done). ``results[PRETRAINED]`` is the pretrained encoder whatever the objective;
    ``floors=False`` leaves out the random-init and raw-feature rows (``core bench`` probes them
    once per seed)."""
    import time

    from core.training import PretextModule, fit

    metrics_path = seed_dir / "seed-metrics.json"
    if resume and metrics_path.exists():
        done = _finished_seed(metrics_path, cfg)
        if done is not None:
            return done
    seed_dir.mkdir(parents=True, exist_ok=True)
    data = load_dataset(pm, cfg, seed)
    unlabelled = load_unlabelled(pm, cfg, seed) if cfg.pretrain_data else None
    pool = training_pool(pm, cfg, data, unlabelled)
    cfg = with_epochs(cfg, budget_epochs(cfg, len(pool)))
    write_skipped(seed_dir, data.skipped + (unlabelled.skipped if unlabelled else []))
    encoder = build_encoder(pm, cfg, data.input_spec, seed)
    initial = {k: v.clone() for k, v in encoder.state_dict().items()}
    sample = seeded_sample(pool if unlabelled else data.splits["pretrain"], objective_sample_size(pm, cfg), seed)
    objective = build_objective(pm, cfg, data, pool, sample, seed)
    L_seed(seed)
    module = PretextModule(torch.compile(encoder) if cfg.compile else encoder, objective, pool, cfg)
    started = time.perf_counter()
    fit(module, cfg, seed_dir, resume=resume)
    train_seconds = time.perf_counter() - started
    if not _is_global_zero(module):
        return {}
    card = {"core_version": core.__version__, "plugin_versions": _plugin_versions(pm),
            "encoder": cfg.encoder, "dim": cfg.dim, "input_spec": data.input_spec.to_dict(),
            "dataset": cfg.dataset, "data": cfg.data, "task": data.task.to_dict(), "seed": seed,
            "objective": cfg.objective, "projector": cfg.projector, "epochs": cfg.epochs, "steps": cfg.steps,
            "pretrain_data": cfg.pretrain_data, "pretrain_size": len(pool)}
    features = encoder_features(encoder, data, cfg)
    results = {PRETRAINED: evaluate_features(pm, cfg, data, features, seed)}
    if floors:
        results.update(floor_results(pm, cfg, data, seed, initial))
    card["metrics"] = results[PRETRAINED]
    save_encoder(encoder, seed_dir, card)
    embedding = features["test"]
    info = dataset_info(data)
    if unlabelled is not None:
        info["pretrain"] = {"source": unlabelled.source, "records": len(unlabelled.splits["pretrain"]),
                            "skipped": len(unlabelled.skipped), "pool": len(pool), "pool_kind": cfg.pretrain_pool}
    out = {"seed": seed, "epochs": cfg.epochs, "steps": cfg.steps, "results": results, "history": module.history,
           "dataset": info, "primary_metric": data.task.primary_metric,
           "train_seconds": round(train_seconds, 3)}
    atomic_save_npy(seed_dir / "test_embedding.npy", embedding)
    atomic_save_npy(seed_dir / "test_labels.npy", np.asarray(data.splits["test"].targets))
    atomic_write_json(metrics_path, out)
    return out


def steps_per_epoch(cfg: RunConfig, pool_size: int) -> int:
    """Encoder optimiser steps in one epoch over ``pool_size`` samples: the loader drops a last
    partial batch when the pool holds more than one batch; each of ``world`` ranks reads
    ``ceil(N / world)`` samples."""
    world = (cfg.devices if isinstance(cfg.devices, int) else 1) * int(cfg.num_nodes)
    per_rank = -(-int(pool_size) // max(world, 1))
    if pool_size > cfg.batch_size:
        return max(per_rank // cfg.batch_size, 1)
    return 1


def budget_epochs(cfg: RunConfig, pool_size: int) -> int:
    """The run's epochs: ``cfg.epochs``, or with a step budget ``ceil(steps / steps per epoch)``
    capped at ``cfg.max_epochs``, so a 23-series corpus and a 20,000-record corpus get the same
    number of optimiser steps (issue: budgets in steps)."""
    if cfg.steps is None:
        return int(cfg.epochs)
    per_epoch = steps_per_epoch(cfg, pool_size)
    return max(1, min(int(cfg.max_epochs), -(-int(cfg.steps) // per_epoch)))


def with_epochs(cfg: RunConfig, epochs: int) -> RunConfig:
    """A copy of ``cfg`` training ``epochs`` epochs (the seed's own; ``cfg`` is shared by seeds)."""
    import copy

    out = copy.copy(cfg)
    out.epochs = int(epochs)
    return out


def write_skipped(folder: Path, skipped: list) -> None:
    """``skipped.csv`` (``record,reason``) of the records and files a run did not use, with a warning."""
    if not skipped:
        return
    lines = ["record,reason"] + [f'"{r}","{str(why).replace(chr(34), chr(39))}"' for r, why in skipped]
    atomic_write_text(folder / "skipped.csv", "\n".join(lines) + "\n")
    log.warning("skipped %d bad records (listed in %s)", len(skipped), folder / "skipped.csv")


def _finished_seed(metrics_path: Path, cfg: RunConfig) -> Optional[dict]:
    """On ``--resume``, the cached metrics of a seed that finished its budget (``cfg.steps``, else
    ``cfg.epochs``) with its encoder
    in place; ``None`` when it must (re)train from ``last.ckpt`` (more epochs, or the encoder
    files are gone: training then restores the weights from the checkpoint without new epochs)."""
    seed_dir = metrics_path.parent
    try:
        done = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("%s is unreadable; re-evaluating this seed from last.ckpt", metrics_path)
        done = {}
    budget = ("steps", cfg.steps) if cfg.steps is not None else ("epochs", cfg.epochs)
    if not isinstance(done, dict) or done.get(budget[0]) != budget[1]:
        return None
    missing = [n for n in ("encoder.safetensors", "card.json") if not (seed_dir / n).is_file()]
    if not missing and not _readable_safetensors(seed_dir / "encoder.safetensors"):
        missing = ["a readable encoder.safetensors"]
    if missing:
        if not (seed_dir / "last.ckpt").is_file():
            raise UserError(f"{seed_dir}: {' and '.join(missing)} missing and no last.ckpt to rebuild from; "
                            f"start a new run (e.g. `core run --config {seed_dir / 'config.yaml'}`)")
        log.warning("%s: %s missing; rebuilding it from last.ckpt", seed_dir, " and ".join(missing))
        return None
    if "lfr" in done.get("results", {}):  # written before results took the neutral key
        done["results"][PRETRAINED] = done["results"].pop("lfr")
    return done


def _readable_safetensors(path: Path) -> bool:
    """The file's header parses and covers the whole file (a truncated copy fails)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            f.keys()
        return True
    except Exception:  # SafetensorError, OSError
        return False


def L_seed(seed: int) -> None:
    import lightning as L

    L.seed_everything(seed, workers=True, verbose=False)


def _is_global_zero(module) -> bool:
    trainer = getattr(module, "_trainer", None)
    return trainer is None or trainer.is_global_zero


def _plugin_versions(pm: PluginManager) -> dict:
    return {p.name: p.version for p in pm.plugins() if not p.error}


def dataset_info(data: LoadedDataset) -> dict:
    """What a run or bench records about its data: name, source, task, input spec, skipped count, split sizes."""
    from core.label_checks import check_labels

    return {"name": data.name, "source": data.source, "task": data.task.to_dict(),
            "input_spec": data.input_spec.to_dict(), "skipped": len(data.skipped),
            "sizes": {s: len(d) for s, d in data.splits.items()}, "warnings": check_labels(data, data.name)}


# -- a whole run ---------------------------------------------------------------------------------
def execute(pm: PluginManager, cfg: RunConfig, run_dir: Path, resume: bool = False,
            owner: bool = True) -> Optional[dict]:
    """All seeds of a run, then the aggregated ``metrics.json`` and ``report.md`` (rank 0).

    ``owner``: this process started the run (not a DDP rank re-launched into its folder). When
    the run fails, the owner removes the folder it created if training wrote nothing, else marks
    it ``FAILED`` (:mod:`core.run_status`); a finished ``--resume`` clears the mark."""
    from core import run_status

    run_dir = Path(run_dir)
    before = run_status.training_outputs(run_dir)
    try:
        if not resume or not (run_dir / "config.yaml").exists():
            atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        per_seed = []
        for i in range(int(cfg.seeds)):
            seed = int(cfg.seed) + i
            seed_dir = run_dir if i == 0 else run_dir / f"seed-{seed}"
            per_seed.append(run_seed(pm, cfg, seed, seed_dir, resume))
        if not per_seed or not per_seed[0]:
            return None  # not rank 0
        metrics = aggregate(cfg, run_dir, per_seed)
    except BaseException as e:
        if owner:
            run_status.settle_failure(run_dir, e, created=not resume, before=before)
        raise
    run_status.clear_failed(run_dir)
    return metrics


def aggregate(cfg: RunConfig, run_dir: Path, per_seed: list, title: Optional[str] = None) -> dict:
    """``metrics.json`` and ``report.md`` (titled ``title``, default the run's) of a finished run
    or transfer evaluation from its seeds' results."""
    from core.metrics import summarize

    results = {MODEL_LABELS[m]: summarize([s["results"][m] for s in per_seed]) for m in MODELS}
    primary = per_seed[0]["primary_metric"]
    metrics = {"summary": {m: {k: {"mean": v[0], "std": v[1]} for k, v in r.items()} for m, r in results.items()},
               "per_seed": {str(s["seed"]): s["results"] for s in per_seed},
               "primary_metric": primary, "seeds": [s["seed"] for s in per_seed], "dataset": per_seed[0]["dataset"]}
    atomic_write_json(run_dir / "metrics.json", metrics)
    write_run_report(run_dir, cfg, for_display(results, len(per_seed)), per_seed, title)
    return metrics


def for_display(results: dict, n_seeds: int) -> dict:
    """``{model: {metric: (mean, std)}}`` as shown: a single seed has no spread to show."""
    if n_seeds > 1:
        return results
    return {m: {k: v[0] for k, v in r.items()} for m, r in results.items()}


def write_run_report(run_dir: Path, cfg: RunConfig, results: dict, per_seed: list,
                     title: Optional[str] = None) -> Path:
    from core.report import write_report

    first = per_seed[0]
    seed_dir = run_dir
    data_info = first["dataset"]
    embedding = np.load(seed_dir / "test_embedding.npy")
    labels = np.load(seed_dir / "test_labels.npy", allow_pickle=False)
    notes = ["Probes never choose their hyper-parameters on test: by k-fold CV over train+val with few labels, "
             "else on the val split (each table's protocol lines say which); test is scored once.",
             f"Floors: the same encoder architecture at its random initialisation (seed {first['seed']}), "
             f"and the raw input features, probed identically."]
    if data_info.get("skipped"):
        notes.append(f"{data_info['skipped']} bad records were skipped; see skipped.csv.")
    pretrain = data_info.get("pretrain")
    if pretrain:
        extra = " plus the labelled train+val inputs" if pretrain["pool_kind"] == "both" else ""
        notes.append(f"Pretrained on {pretrain['records']} unlabelled records of {pretrain['source']}{extra} "
                     f"({pretrain['pool']} in all); probed on {data_info.get('source') or data_info['name']}.")
    protocols = {}  # {evaluator: {model row: protocol text}} of the first seed
    for model, row in first["results"].items():
        for key, value in row.items():
            if key.endswith("/protocol") and isinstance(value, str):
                protocols.setdefault(key.rsplit("/", 1)[0], {})[MODEL_LABELS.get(model, model)] = value
    return write_report(run_dir, title=title or f"{cfg.recipe}: {cfg.objective} on {cfg.dataset}", config=cfg.to_dict(),
                        results=results, primary_metric=first["primary_metric"], history=first["history"],
                        embedding=embedding, labels=labels,
                        class_names=data_info["task"].get("class_names", []), dataset_info=data_info, notes=notes,
                        warnings=data_info.get("warnings", ()), protocols=protocols)
