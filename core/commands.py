"""Core's commands beyond the run workflow: ``core bench``, ``core check``, ``core new-plugin``,
``core prepare``.

A built-in plugin (registered through :data:`core.plugins.DEFAULT_PLUGINS`, tox's internal
commands as plugins) that adds them through the same ``core_cli`` hook as a plugin's commands,
so :mod:`core.cli` imports none of the modules behind them. Parsers only: each ``cmd_*``
delegates (:mod:`core.bench`, :mod:`core.contract`, :mod:`core.scaffold`, :mod:`core.prepare`), importing them
when the command runs or registers.
"""
from __future__ import annotations

from core import hookimpl
from core.options import key_values


@hookimpl
def core_cli(subparsers):
    """``core new-plugin``, ``core check``, ``core bench`` and ``core prepare``, in this order."""
    from core import contract, prepare, scaffold

    scaffold.add_parser(subparsers)
    contract.add_parser(subparsers)
    add_bench_parser(subparsers)
    prepare.add_parser(subparsers)


# ----------------------------------------------------------------------------- core bench
def add_bench_parser(sub) -> None:
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
    p.add_argument("--seeds", default=3, help="seeds per objective, mean ± std (default 3)")
    p.add_argument("--seed", help="first seed (default 0)")
    p.add_argument("--epochs", help="epochs per objective (default: the recipe's budget)")
    p.add_argument("--steps", help="encoder optimiser steps per objective (default: the recipe's budget)")
    p.add_argument("--budget-minutes", metavar="M",
                   help="equal wall time instead of equal epochs: M minutes of training split equally "
                        "over objectives x seeds (--epochs then caps each)")
    p.add_argument("--set", action="append", metavar="OBJ.KEY=VALUE",
                   help="an objective's parameter, e.g. lfr.k=8 or diet.label_smoothing=0.5, repeatable")
    p.add_argument("--batch-size"), p.add_argument("--lr"), p.add_argument("--dim")
    p.add_argument("--accelerator", help="cpu, gpu or auto")
    p.add_argument("--precision", help="32-true, bf16-mixed, 16-mixed")
    p.add_argument("--num-workers")
    p.add_argument("--on-bad-record", choices=("error", "skip"))
    p.add_argument("--out", help="parent folder of the bench folder (default runs/)")
    p.add_argument("--progress", action="store_true", help="show training progress bars")
    p.set_defaults(func=cmd_bench, takes_reader_flags=True, uses_lightning=True)


def cmd_bench(args) -> int:
    """``core bench``: resolve the recipe like ``core run``, run the bench, print table and summary."""
    from core import bench, bench_report, runs
    from core.flags import check_value
    from core.plugins import get_plugin_manager

    seeds = check_value("seeds", args.seeds)  # the rules of `core run` (core.flags)
    budget = check_value("max_minutes", args.budget_minutes, flag="--budget-minutes") if args.budget_minutes is not None else None
    pm = get_plugin_manager()
    cli_values = {
        "dataset": args.dataset, "encoder": args.encoder, "projector": args.projector, "data": args.data,
        "epochs": args.epochs, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "dim": args.dim, "seed": args.seed,
        "accelerator": args.accelerator, "precision": args.precision, "num_workers": args.num_workers,
        "on_bad_record": args.on_bad_record, "out": args.out, "progress": bool(args.progress),
        "data_options": {**getattr(args, "reader_flags", {}), **key_values(args.option, "--option")},
    }
    cfg = runs.resolve_config(pm, args.plugin, args.recipe, {}, cli_values)
    if budget is not None and args.epochs is None:
        cfg.epochs = bench.TIME_BUDGET_EPOCH_CAP  # equal wall time: train until the share is spent
    objectives = [n for n in (args.objectives or "").split(",") if n.strip()] or None
    result = bench.run_bench(pm, cfg, None, objectives, seeds, budget,
                             key_values(args.set, "--set"), echo=lambda line: print(line, flush=True))
    print()
    print(bench_report.bench_table(result))
    for line in bench_report.summary_lines(result):
        print(line)
    if bench_report.headline(result):
        print(bench_report.headline(result))
    print(f"bench folder: {result['run_dir']}  (bench.md, bench.png, bench.json)")
    return 0
