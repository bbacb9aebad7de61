"""``core bench``: every objective on the same data, encoder, probes and training budget.

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
goes on. Outputs in the bench folder: ``bench.md`` (table, summary, bar plot), ``bench.json``,
``bench.png``, ``config.yaml``, ``floors/seed-<s>.json`` and ``<objective>/seed-<s>/`` run
folders (encoder, card, metrics, logs; ``error.txt`` on failure).
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

from core.config import RunConfig
from core.errors import UserError
from core.io import atomic_write_json, atomic_write_text

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
        from core.evaluation import summarize

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
    from core import runs

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
    budget = {"mode": "epochs", "epochs": int(cfg.epochs)}
    if budget_minutes is not None:
        per_run = float(budget_minutes) / (len(names) * seeds)
        budget = {"mode": "wall time", "minutes_total": float(budget_minutes), "minutes_per_run": per_run,
                  "epoch_cap": int(cfg.epochs)}
    run_dir = Path(run_dir) if run_dir is not None else new_bench_dir(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = {**cfg.to_dict(), "objectives": names, "objective_params_by_objective": params,
                "seeds": seed_list, "budget": budget}
    settings.pop("objective"), settings.pop("objective_params")
    import yaml

    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(settings, sort_keys=False))

    rows = {n: Row(n, uses_labels=pm.get("objective", n).needs_labels) for n in names}
    floors = {key: Row(label, kind="floor") for key, label in FLOORS}
    echo(f"bench {cfg.dataset} with {cfg.encoder}: {', '.join(names)} + floors; seeds {seed_list}; "
         + (f"{cfg.epochs} epochs each" if budget["mode"] == "epochs"
            else f"{budget['minutes_per_run']:.2f} min of training each"))
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
                echo(f"[{done}/{total}] {name} seed {seed}: FAILED: {row.errors[seed]}")
                continue
            row.per_seed[seed] = out["results"]["lfr"]
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
        "notes": notes, "run_dir": str(run_dir), "dataset_info": runs._dataset_info(first), "machine": machine_info(),
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
        run_cfg.epochs = budget["epoch_cap"]
    return run_cfg


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or "(no message)"
    return f"{type(e).__name__}: {text[:300]}"


def machine_info() -> dict:
    import torch

    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "python": platform.python_version()}


# ----------------------------------------------------------------------------- ranking, tables
def primary_column(cfg: RunConfig, primary: str) -> str:
    """``<first evaluator>/<primary metric>``, e.g. ``linear/accuracy``."""
    return f"{cfg.evaluators[0].split('/')[-1]}/{primary}" if cfg.evaluators else primary


def _lower_is_better(column: str) -> bool:
    from core.report import LOWER_IS_BETTER

    return column.rsplit("/", 1)[-1] in LOWER_IS_BETTER


def rank_rows(rows: Sequence[Row], column: str) -> None:
    """Rank label-free rows with results by the mean of ``column`` (1 = best; ties share a rank).
    Rows that use labels (the supervised reference) and failed rows get no rank."""
    means = {}
    for r in rows:
        r.rank = None
        m = r.summary().get(column, (math.nan, math.nan))[0]
        if not r.uses_labels and r.per_seed and math.isfinite(m):
            means[id(r)] = m
    sign = 1 if _lower_is_better(column) else -1
    for r in rows:
        if id(r) in means:
            r.rank = 1 + sum(1 for v in means.values() if sign * v < sign * means[id(r)])


def _summary_of(row: dict) -> dict:
    return {k: (v["mean"], v["std"]) for k, v in row["summary"].items()}


def _label(row: dict) -> str:
    return f"{row['name']} (labels)" if row["uses_labels"] else row["name"]


def _columns(result: dict) -> list[str]:
    """The primary metric under every evaluator, the first evaluator's first."""
    primary = result["primary_metric"]
    return [f"{e.split('/')[-1]}/{primary}" for e in result["evaluators"]] or [result["primary_column"]]


def bench_table(result: dict) -> str:
    """The markdown table: primary metric per evaluator (mean ± std), rank, training time, status."""
    from core.report import _fmt_cell, _md_escape

    cols = _columns(result)
    n_ranked = sum(1 for r in result["rows"] if r["rank"] is not None)
    lines = ["| objective | " + " | ".join(cols) + " | rank | train s/seed | status |",
             "|---|" + "---:|" * len(cols) + "---:|---:|---|"]
    for row in result["rows"]:
        summary = _summary_of(row)
        cells = []
        for c in cols:
            text = _fmt_cell(summary.get(c))
            cells.append(f"**{text}**" if c == result["primary_column"] and row["rank"] == 1 else text)
        rank = f"{row['rank']}/{n_ranked}" if row["rank"] is not None else ("ref." if row["uses_labels"] and row["per_seed"] else "—")
        secs = [s for s in row["train_seconds"] if s is not None]
        timing = f"{sum(secs) / len(secs):.1f}" if secs else "—"
        status = row["status"]
        if row["errors"]:
            status += ": " + _md_escape(next(iter(row["errors"].values())))
        lines.append(f"| {_md_escape(_label(row))} | " + " | ".join(cells) + f" | {rank} | {timing} | {status} |")
    return "\n".join(lines) + "\n"


def summary_lines(result: dict) -> list[str]:
    """One line per row: metrics, rank, time or the error."""
    from core.report import _fmt_cell

    cols = _columns(result)
    n_ranked = sum(1 for r in result["rows"] if r["rank"] is not None)
    lines = []
    for row in result["rows"]:
        if not row["per_seed"] and row["errors"]:
            lines.append(f"{_label(row)}: FAILED on every seed: {next(iter(row['errors'].values()))}")
            continue
        summary = _summary_of(row)
        parts = [f"{c} {_fmt_cell(summary.get(c))}" for c in cols]
        if row["rank"] is not None:
            parts.append(f"rank {row['rank']} of {n_ranked} label-free rows")
        elif row["uses_labels"]:
            parts.append("uses labels (reference, not ranked)")
        secs = [s for s in row["train_seconds"] if s is not None]
        if secs:
            parts.append(f"{sum(secs) / len(secs):.1f} s training per seed")
        if row["errors"]:
            parts.append(f"{row['status']} ({next(iter(row['errors'].values()))})")
        lines.append(f"{_label(row)}: " + "; ".join(parts))
    return lines


def headline(result: dict, objective: str = "core/lfr") -> str:
    """Where ``objective`` ranks: ``"core/lfr ranks 2 of 7 label-free rows by linear/accuracy (…)"``."""
    from core.report import _fmt_cell

    column = result["primary_column"]
    rows = {r["name"]: r for r in result["rows"]}
    ranked = sorted((r for r in result["rows"] if r["rank"] is not None), key=lambda r: r["rank"])
    if objective not in rows:
        return ""
    row = rows[objective]
    value = lambda r: _fmt_cell(_summary_of(r).get(column))  # noqa: E731
    if row["rank"] is None:
        return f"{objective} has no result ({row['status']})."
    text = f"{objective} ranks {row['rank']} of {len(ranked)} label-free rows by {column} ({value(row)})"
    better = [r for r in ranked if r["rank"] < row["rank"]]
    if better:
        text += "; ahead of it: " + ", ".join(f"{_label(r)} {value(r)}" for r in better)
    else:
        nxt = [r for r in ranked if r is not row]
        if nxt:
            text += f"; next: {_label(nxt[0])} {value(nxt[0])}"
    refs = [r for r in result["rows"] if r["uses_labels"] and r["per_seed"]]
    if refs:
        text += "; with labels (reference): " + ", ".join(f"{r['name']} {value(r)}" for r in refs)
    return text + "."


def budget_text(result: dict) -> str:
    b = result["budget"]
    common = f"batch {result['batch_size']}, Adam lr {result['lr']:g}, weight decay {result['weight_decay']:g}"
    if b["mode"] == "epochs":
        return (f"equal epochs: every objective trains {b['epochs']} epochs ({common}); LFR's predictor "
                f"epochs on cached embeddings come with each of its epochs")
    return (f"equal wall time: {b['minutes_per_run']:.2f} min of training per objective and seed "
            f"({b['minutes_total']:g} min in all; at most {b['epoch_cap']} epochs; {common})")


def plot_bench(result: dict, path) -> Path:
    """Bars of the primary metric per evaluator (mean, error bars = std over seeds)."""
    import numpy as np

    from core.report import _figure, save_figure

    cols = _columns(result)
    rows = result["rows"]
    fig = _figure(max(6.0, 1.0 + 0.9 * len(rows)), 4.2)
    ax = fig.add_subplot()
    width = 0.8 / max(len(cols), 1)
    x = np.arange(len(rows))
    lows, highs, all_means = [], [], []
    for j, c in enumerate(cols):
        means = np.array([_summary_of(r).get(c, (math.nan, math.nan))[0] for r in rows], dtype=float)
        stds = np.nan_to_num(np.array([_summary_of(r).get(c, (math.nan, math.nan))[1] for r in rows], dtype=float))
        pos = x - 0.4 + width * (j + 0.5)
        ok = np.isfinite(means)
        ax.bar(pos[ok], means[ok], width, yerr=stds[ok], capsize=3, label=c,
               hatch=None, edgecolor="black", linewidth=0.4)
        all_means += list(means[ok])
        lows += list(means[ok] - stds[ok])
        highs += list(means[ok] + stds[ok])
    if lows:
        lo, hi = min(lows), max(highs)
        pad = 0.15 * (hi - lo) or 0.01
        top = hi + pad
        if 0 <= min(all_means) and max(all_means) <= 1:  # a score bounded by 1: do not show room above it
            top = min(top, 1.0 + pad / 3)
        ax.set_ylim(max(0.0, lo - pad) if lo >= 0 else lo - pad, top)
    for i, r in enumerate(rows):
        if not r["per_seed"]:
            ax.text(i, ax.get_ylim()[0], " failed", rotation=90, ha="center", va="bottom", color="crimson")
    ax.set_xticks(x)
    ax.set_xticklabels([_label(r) for r in rows], rotation=30, ha="right")
    ax.set_ylabel(f"{result['primary_metric']} (axis zoomed)")
    ax.set_title(f"{result['dataset']} ({result['encoder']}): mean ± std over {len(result['seeds'])} seeds")
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def write_bench_report(run_dir: Path, result: dict) -> Path:
    """``bench.md`` (table, summary lines, plot, every metric per evaluator, settings) + ``bench.png``."""
    from core.report import _kv_table, group_by_evaluator, metric_table

    plot_bench(result, Path(run_dir) / "bench.png")
    lines = [f"# core bench: {result['dataset']} with {result['encoder']}", "",
             f"Budget: {budget_text(result)}. Seeds {', '.join(map(str, result['seeds']))}; mean ± std over seeds. "
             f"Frozen-embedding probes choose their regularisation on val and are scored on test. Rank: by "
             f"{result['primary_column']} among label-free rows (the supervised reference uses the train labels).",
             "", bench_table(result), headline(result), "", "![bench](bench.png)", "", "## Summary", ""]
    lines += [f"- {s}" for s in summary_lines(result)] + [""]
    if result["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in result["notes"]] + [""]
    lines += ["## Every metric", ""]
    table = {_label(r): _summary_of(r) for r in result["rows"] if r["per_seed"]}
    for name, group in group_by_evaluator(table).items():
        lines += ([f"### {name}", ""] if name else []) + [metric_table(group, result["primary_metric"])]
    lines += ["## Settings", ""] + _kv_table({
        "plugin": result["plugin"], "dataset": result["dataset"], "data": result["data"],
        "encoder": result["encoder"], "dim": result["dim"], "evaluators": result["evaluators"],
        "objective parameters": result["objective_params"], "split sizes": result["dataset_info"].get("sizes"),
        "machine": result["machine"], "date": result["date"]})
    return atomic_write_text(Path(run_dir) / "bench.md", "\n".join(lines))


# ----------------------------------------------------------------------------- CLI
def add_parser(sub) -> None:
    """Register ``core bench`` on the CLI's sub-parsers (parsing only; :func:`cmd_bench` delegates)."""
    p = sub.add_parser("bench", help="LFR against baselines and floors: same data, encoder, budget and probes",
                       description="Every objective (LFR, baselines) and the floors on the same data, encoder, "
                                   "training budget and probes; mean ± std over seeds.")
    p.add_argument("--plugin", help="plugin whose default recipe (data, encoder, epochs) to bench, e.g. ecg")
    p.add_argument("--recipe", help="a named recipe (default: PLUGIN/default)")
    p.add_argument("--dataset"), p.add_argument("--encoder"), p.add_argument("--projector")
    p.add_argument("--data", help="your own corpus, read by the recipe's reader")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="dataset reader option, repeatable")
    p.add_argument("--objectives", help="comma-separated objectives (default: lfr,autoencoder,diet,"
                                        "simclr,simsiam,supervised; SimCLR/SimSiam where augmentations exist)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per objective, mean ± std (default 3)")
    p.add_argument("--seed", type=int, help="first seed (default 0)")
    p.add_argument("--epochs", type=int, help="epochs per objective (default: the recipe's)")
    p.add_argument("--budget-minutes", type=float, metavar="M",
                   help="equal wall time instead of equal epochs: M minutes of training split equally "
                        "over objectives x seeds (--epochs then caps each)")
    p.add_argument("--set", action="append", metavar="OBJ.KEY=VALUE",
                   help="an objective's parameter, e.g. lfr.k=8 or diet.label_smoothing=0.5, repeatable")
    p.add_argument("--batch-size", type=int), p.add_argument("--lr", type=float), p.add_argument("--dim", type=int)
    p.add_argument("--accelerator", help="cpu, gpu or auto")
    p.add_argument("--precision", help="32-true, bf16-mixed, 16-mixed")
    p.add_argument("--num-workers", type=int)
    p.add_argument("--on-bad-record", choices=("error", "skip"))
    p.add_argument("--out", help="parent folder of the bench folder (default runs/)")
    p.add_argument("--progress", action="store_true", help="show training progress bars")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    """``core bench``: resolve the recipe like ``core run``, run the bench, print table and summary."""
    from core import runs
    from core.cli import _key_values
    from core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    cli_values = {
        "dataset": args.dataset, "encoder": args.encoder, "projector": args.projector, "data": args.data,
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "dim": args.dim, "seed": args.seed,
        "accelerator": args.accelerator, "precision": args.precision, "num_workers": args.num_workers,
        "on_bad_record": args.on_bad_record, "out": args.out, "progress": bool(args.progress),
        "data_options": {**getattr(args, "reader_flags", {}), **_key_values(args.option, "--option")},
    }
    cfg = runs.resolve_config(pm, args.plugin, args.recipe, {}, cli_values)
    if args.budget_minutes is not None and args.epochs is None:
        cfg.epochs = TIME_BUDGET_EPOCH_CAP  # equal wall time: train until the share is spent
    objectives = [n for n in (args.objectives or "").split(",") if n.strip()] or None
    result = run_bench(pm, cfg, None, objectives, args.seeds, args.budget_minutes,
                       _key_values(args.set, "--set"), echo=lambda line: print(line, flush=True))
    print()
    print(bench_table(result))
    for line in summary_lines(result):
        print(line)
    if headline(result):
        print(headline(result))
    print(f"bench folder: {result['run_dir']}  (bench.md, bench.png, bench.json)")
    return 0
