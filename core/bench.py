"""The bench runner: every objective on the same data, encoder, probes and training budget.

For each seed the bench loads the plugin's dataset, probes the two floors once (the encoder
at its seeded random init, and the raw features), then pretrains the same encoder
architecture from the same seeded init with every objective (LFR and the baselines of
:mod:`core.objectives`) through :func:`core.runs.run_seed`, and probes each encoder with the
same evaluators. Results are mean ± std over seeds.

Budget: by default every objective trains for the SAME NUMBER OF EPOCHS (the recipe's
``epochs`` or ``--epochs``) at the same batch size and optimiser. An LFR epoch also runs its
``pred_epochs`` predictor epochs on cached embeddings, as the method prescribes; SimCLR and
SimSiam encode two views per sample; the supervised reference trains on the labelled train
split only. With ``budget_minutes`` the budget is the SAME WALL TIME instead: the minutes are
split equally over objectives × seeds and each training stops when its share is spent
(Lightning ``max_time``; an explicit ``--epochs`` still caps it, else 10 000 epochs). Probing
time is not counted.

A failing objective is recorded (error in its folder, ``failed`` in the table) and the bench
goes on. A bench that stops (its data refused while probing the floors, Ctrl-C, a report that
cannot be written) leaves no folder that looks like a result: it is removed when nothing was
trained yet, else marked ``FAILED`` with the reason (:mod:`core.run_status`). Outputs in the bench folder: ``bench.md`` (table, summary, bar plot), ``bench.json``,
``bench.png``, ``config.yaml``, ``floors/seed-<s>.json`` and ``<objective>/seed-<s>/`` run
folders (encoder, card, metrics, logs; ``error.txt`` and ``FAILED`` on failure). Tables and plots are written by
:mod:`core.bench_report`; the ``core bench`` command is registered by :mod:`core.commands`.
"""
from __future__ import annotations

import copy
import datetime as _dt
import math
import os
import platform
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from core.bench_report import write_bench_report
from core.config import RunConfig
from core.errors import UserError
from core.io import atomic_write_json, atomic_write_text
from core.tables import lower_is_better

if TYPE_CHECKING:  # pragma: no cover
    from core.plugins import PluginManager


DEFAULT_OBJECTIVES = ("core/lfr", "core/autoencoder", "core/diet", "core/simclr", "core/simsiam", "core/supervised")
AUGMENTED = ("core/simclr", "core/simsiam")  # default only where a plugin registers augmentations
FLOORS = (("random-init", "random-init encoder"), ("raw", "raw features"))
TIME_BUDGET_EPOCH_CAP = 10_000


@dataclass
class Row:
    """One table row: an objective (or a floor) and its per-seed metrics."""

    name: str
    kind: str = "objective"  # or "floor"
    uses_labels: bool = False
    per_seed: dict = field(default_factory=dict)  # seed -> {metric: value}
    errors: dict = field(default_factory=dict)  # seed -> one-line error
    train_seconds: list = field(default_factory=list)
    epochs_run: list = field(default_factory=list)
    rank: Optional[int] = None

    @property
    def status(self) -> str:
        if self.errors and not self.per_seed:
            return "failed"
        if self.errors:
            return f"failed on {len(self.errors)} of {len(self.errors) + len(self.per_seed)} seeds"
        return "ok"

    def summary(self) -> dict:
        from core.metrics import summarize

        return summarize(self.per_seed[s] for s in sorted(self.per_seed))

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "uses_labels": self.uses_labels, "status": self.status,
                "rank": self.rank, "summary": {k: {"mean": m, "std": s} for k, (m, s) in self.summary().items()},
                "per_seed": {str(k): v for k, v in sorted(self.per_seed.items())},
                "errors": {str(k): v for k, v in sorted(self.errors.items())},
                "train_seconds": self.train_seconds, "epochs_run": self.epochs_run}


# ----------------------------------------------------------------------------- choosing
def choose_objectives(pm: PluginManager, requested: Optional[Sequence[str]], input_spec) -> tuple[list, list]:
    """Registered objective names to run, and notes on defaults left out.

    ``requested`` names (short names accepted) are all run; an unknown name is a user error.
    The default is :data:`DEFAULT_OBJECTIVES`, SimCLR/SimSiam only when augmentations are
    registered for the input's modality.
    """
    from core import runs

    notes = []
    if requested:
        names = [pm.get("objective", n.strip()).name for n in requested if n.strip()]
        if not names:
            raise UserError("--objectives is empty; e.g. --objectives lfr,autoencoder,diet")
        return list(dict.fromkeys(names)), notes
    registered = set(pm.names("objective"))
    names = [n for n in DEFAULT_OBJECTIVES if n in registered]
    unsupported = [n for n in names if pm.get("objective", n).modalities
                   and input_spec.modality not in pm.get("objective", n).modalities]
    if unsupported:
        names = [n for n in names if n not in unsupported]
        notes.append(f"{', '.join(unsupported)} left out: no support for {input_spec.modality!r} inputs.")
    if runs.augmentation_for(pm, input_spec) is None:
        left = [n for n in names if n in AUGMENTED]
        names = [n for n in names if n not in AUGMENTED]
        if left:
            notes.append(f"{', '.join(left)} left out: no plugin registers augmentations for "
                         f"{input_spec.modality!r} inputs (hook core_augmentations).")
    return names, notes


def objective_params(pm: PluginManager, cfg: RunConfig, names: Sequence[str], overrides: dict) -> dict:
    """Parameters per objective: the recipe's ``objective_params`` go to the recipe's objective,
    then ``--set OBJECTIVE.KEY=VALUE`` overrides (short or full objective names)."""
    params = {n: {} for n in names}
    recipe_objective = pm.get("objective", cfg.objective).name
    if recipe_objective in params:
        params[recipe_objective] = dict(cfg.objective_params)
    for key, value in overrides.items():
        target, dot, param = key.rpartition(".")
        if not dot or not target or not param:
            raise UserError(f"--set {key}={value}: name the objective, e.g. --set lfr.k=8 or --set diet.label_smoothing=0.5")
        name = pm.get("objective", target).name
        if name not in params:
            raise UserError(f"--set {key}: {name} is not among the benched objectives ({', '.join(names)})")
        params[name][param] = value
    return params


def new_bench_dir(cfg: RunConfig) -> Path:
    from core import runs

    return runs.new_run_dir(cfg, kind="bench")


# ----------------------------------------------------------------------------- running
def run_bench(pm: PluginManager, cfg: RunConfig, run_dir: Optional[Path] = None,
              objectives: Optional[Sequence[str]] = None, seeds: int = 3, budget_minutes: Optional[float] = None,
              overrides: Optional[dict] = None, echo: Callable[[str], None] = print) -> dict:
    """Run the bench into ``run_dir`` (default: a new ``<out>/<stamp>-bench-<plugin>-<dataset>``,
    made once the settings are checked); returns the content of ``bench.json``."""
    from core import run_status, runs

    started = time.perf_counter()
    seeds = int(seeds)
    if seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {seeds}")
    if budget_minutes is not None and not budget_minutes > 0:
        raise UserError(f"--budget-minutes must be > 0, got {budget_minutes}")
    seed_list = [int(cfg.seed) + i for i in range(seeds)]
    first = runs.load_dataset(pm, cfg, seed_list[0])
    names, notes = choose_objectives(pm, objectives, first.input_spec)
    params = objective_params(pm, cfg, names, dict(overrides or {}))
    budget = ({"mode": "steps", "steps": int(cfg.steps), "epoch_cap": int(cfg.max_epochs)} if cfg.steps is not None
              else {"mode": "epochs", "epochs": int(cfg.epochs)})
    if budget_minutes is not None:
        per_run = float(budget_minutes) / (len(names) * seeds)
        budget = {"mode": "wall time", "minutes_total": float(budget_minutes), "minutes_per_run": per_run,
                  "epoch_cap": int(cfg.epochs)}
    created = run_dir is None or not Path(run_dir).exists()
    run_dir = Path(run_dir) if run_dir is not None else new_bench_dir(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    before = run_status.training_outputs(run_dir)
    try:
        return _bench(pm, cfg, run_dir, first, names, notes, params, seed_list, budget, started, echo)
    except BaseException as e:  # no folder that looks like a bench: removed if nothing trained, else FAILED
        run_status.settle_failure(run_dir, e, created=created, before=before)
        raise


def _bench(pm: PluginManager, cfg: RunConfig, run_dir: Path, first, names: list, notes: list, params: dict,
           seed_list: list, budget: dict, started: float, echo: Callable[[str], None]) -> dict:
    """The bench itself, in the folder :func:`run_bench` made."""
    from core import run_status, runs

    seeds = len(seed_list)
    settings = {**cfg.to_dict(), "objectives": names, "objective_params_by_objective": params,
                "seeds": seed_list, "budget": budget}
    settings.pop("objective"), settings.pop("objective_params")
    import yaml

    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(settings, sort_keys=False))

    rows = {n: Row(n, uses_labels=pm.get("objective", n).needs_labels) for n in names}
    floors = {key: Row(label, kind="floor") for key, label in FLOORS}
    echo(f"bench {cfg.dataset} with {cfg.encoder}: {', '.join(names)} + floors; seeds {seed_list}; "
         + {"epochs": lambda: f"{cfg.epochs} epochs each", "steps": lambda: f"{cfg.steps} encoder steps each",
            "wall time": lambda: f"{budget['minutes_per_run']:.2f} min of training each"}[budget["mode"]]())
    for note in notes:
        echo(f"note: {note}")
    for seed in seed_list:  # floors: once per seed, same seeded init as every objective's encoder
        data = first if seed == seed_list[0] else runs.load_dataset(pm, cfg, seed)
        result = runs.floor_results(pm, cfg, data, seed)
        atomic_write_json(run_dir / "floors" / f"seed-{seed}.json", {"seed": seed, "results": result})
        for key, _ in FLOORS:
            floors[key].per_seed[seed] = result[key]
    primary = first.task.primary_metric
    column = primary_column(cfg, primary)
    total, done = len(names) * seeds, 0
    for name in names:
        row = rows[name]
        for seed in seed_list:
            done += 1
            run_cfg = _objective_config(cfg, name, params[name], budget)
            seed_dir = run_dir / name.replace("/", "-") / f"seed-{seed}"
            try:
                out = runs.run_seed(pm, run_cfg, seed, seed_dir, resume=False, floors=False)
            except Exception as e:  # one objective failing must not stop the bench
                row.errors[seed] = _one_line(e)
                seed_dir.mkdir(parents=True, exist_ok=True)
                atomic_write_text(seed_dir / "error.txt", traceback.format_exc())
                run_status.mark_failed(seed_dir, run_status.reason_of(e))  # never mistaken for a result
                echo(f"[{done}/{total}] {name} seed {seed}: FAILED: {row.errors[seed]}")
                continue
            row.per_seed[seed] = out["results"][runs.PRETRAINED]
            row.train_seconds.append(out.get("train_seconds"))
            row.epochs_run.append(len(out.get("history") or []))
            value = row.per_seed[seed].get(column, math.nan)
            echo(f"[{done}/{total}] {name} seed {seed}: {column} {value:.4f} "
                 f"(training {out.get('train_seconds', math.nan):.1f} s, {row.epochs_run[-1]} epochs)")
    all_rows = list(rows.values()) + list(floors.values())
    rank_rows(all_rows, column)
    result = {
        "plugin": cfg.plugin, "recipe": cfg.recipe, "dataset": cfg.dataset, "data": cfg.data,
        "encoder": cfg.encoder, "dim": cfg.dim, "batch_size": cfg.batch_size, "lr": cfg.lr,
        "weight_decay": cfg.weight_decay, "evaluators": list(cfg.evaluators), "primary_metric": primary,
        "primary_column": column, "seeds": seed_list, "budget": budget, "objective_params": params,
        "notes": notes, "run_dir": str(run_dir), "dataset_info": runs.dataset_info(first), "machine": machine_info(),
        "date": _dt.date.today().isoformat(), "wall_seconds": round(time.perf_counter() - started, 1),
        "rows": [r.to_dict() for r in all_rows],
    }
    write_bench_report(run_dir, result)
    atomic_write_json(run_dir / "bench.json", result)
    return result


def _objective_config(cfg: RunConfig, name: str, params: dict, budget: dict) -> RunConfig:
    run_cfg = copy.deepcopy(cfg)
    run_cfg.objective, run_cfg.objective_params = name, dict(params)
    run_cfg.seeds, run_cfg.devices, run_cfg.strategy, run_cfg.num_nodes = 1, 1, "auto", 1
    if budget["mode"] == "wall time":
        run_cfg.max_minutes = budget["minutes_per_run"]
        run_cfg.epochs, run_cfg.steps = budget["epoch_cap"], None
    return run_cfg


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or "(no message)"
    return f"{type(e).__name__}: {text[:300]}"


def machine_info() -> dict:
    import torch

    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "python": platform.python_version()}


# ----------------------------------------------------------------------------- ranking
def primary_column(cfg: RunConfig, primary: str) -> str:
    """``<first evaluator>/<primary metric>``, e.g. ``linear/accuracy``."""
    return f"{cfg.evaluators[0].split('/')[-1]}/{primary}" if cfg.evaluators else primary


def rank_rows(rows: Sequence[Row], column: str) -> None:
    """Rank label-free rows with results by the mean of ``column`` (1 = best; ties share a rank).
    Rows that use labels (the supervised reference) and failed rows get no rank."""
    means = {}
    for r in rows:
        r.rank = None
        m = r.summary().get(column, (math.nan, math.nan))[0]
        if not r.uses_labels and r.per_seed and math.isfinite(m):
            means[id(r)] = m
    sign = 1 if lower_is_better(column) else -1
    for r in rows:
        if id(r) in means:
            r.rank = 1 + sum(1 for v in means.values() if sign * v < sign * means[id(r)])
