"""The ``core`` command line: parses, then delegates (no training logic here).

Here: the run workflow (``run``, ``plugins``, ``list``, ``evaluate``, ``embed``). Every other
command (core's ``bench``, ``check``, ``new-plugin`` in :mod:`core.commands`, and plugins'
commands) is added through the ``core_cli`` hook. A command's parser may set two defaults:
``takes_reader_flags=True`` (flags the parser does not know become reader options, see
:func:`core.options.reader_flags`) and ``uses_lightning=True`` (Lightning's INFO logs are
lowered unless ``--debug``).

Values are not typed by argparse: every run setting goes through the one checked parser of
:mod:`core.flags` (via :class:`core.config.RunConfig`), so ``--epochs ten`` and ``epochs: ten``
in a ``--config`` file get the same one-line error. Argparse's own errors (unknown command,
bad choice, missing argument) are one line with exit code 2 too (:class:`Parser`).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

import core
from core.errors import UserError
from core.options import key_values, reader_flags

class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (exit 2, like a user error), not usage dumps."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message}; see `{self.prog} --help`\n")


KINDS = ("datasets", "encoders", "projectors", "objectives", "evaluators", "recipes", "augmentations")


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="pretrain an encoder and compare it with floors")
    p.add_argument("--plugin", help="plugin whose default recipe to run, e.g. ecg")
    p.add_argument("--recipe", help="a named recipe (default: PLUGIN/default)")
    p.add_argument("--dataset"), p.add_argument("--encoder"), p.add_argument("--projector")
    p.add_argument("--objective")
    p.add_argument("--data", help="your own corpus (file or folder) read by the plugin's readers")
    p.add_argument("--pretrain-data", metavar="PATH",
                   help="an unlabelled corpus to pretrain on (same readers as --data, labels not needed)")
    p.add_argument("--pretrain-pool", choices=("both", "unlabelled"),
                   help="with --pretrain-data: also pretrain on the labelled train+val inputs (both, the "
                        "default) or only on the unlabelled corpus")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="dataset reader option, repeatable")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="objective parameter, e.g. k=8, repeatable")
    p.add_argument("--loss-impl", choices=("auto", "torch", "triton"),
                   help="LFR loss implementation: auto (fused Triton kernel on CUDA, else torch, compiled on CPU "
                        "for large K*B*d), torch (eager), triton (= --set loss_impl=...)")
    p.add_argument("--epochs", help="training epochs, >= 1 (overrides a recipe's --steps budget)")
    p.add_argument("--steps", help="training budget in encoder optimiser steps, >= 1: epochs = ceil(steps / "
                                   "steps per epoch), at most --max-epochs")
    p.add_argument("--max-epochs", help="cap on the epochs derived from --steps (default 1000)")
    p.add_argument("--batch-size", help=">= 1")
    p.add_argument("--lr", help="learning rate, > 0"), p.add_argument("--dim", help="embedding width, >= 1")
    p.add_argument("--seed", help="first seed, >= 0"), p.add_argument("--seeds", help="repeat over N seeds, mean ± std")
    p.add_argument("--devices", help="number of devices or 'auto'")
    p.add_argument("--accelerator", help="cpu, gpu or auto")
    p.add_argument("--strategy", help="auto, ddp, fsdp, ...")
    p.add_argument("--num-nodes")
    p.add_argument("--precision", help="32-true, bf16-mixed, 16-mixed")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the encoder")
    p.add_argument("--num-workers", help="data loader worker processes, >= 0")
    p.add_argument("--on-bad-record", choices=("error", "skip"))
    p.add_argument("--config", help="YAML file of settings (config.yaml of a run works)")
    p.add_argument("--out", help="parent folder of run folders (default runs/)")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run folder")
    p.add_argument("--checkpoint-minutes", metavar="M",
                   help="write RUN/last.ckpt at the first epoch end M minutes after the last write (default 5; "
                        "0: every epoch); always after the last epoch")
    p.add_argument("--checkpoint-epochs", metavar="N", help="also write RUN/last.ckpt every N epochs")
    p.add_argument("--checkpoint-steps", metavar="N",
                   help="also write RUN/last.ckpt every N encoder steps, mid-epoch included")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_run, takes_reader_flags=True, uses_lightning=True)


def cmd_run(args) -> int:
    from core import runs
    from core.flags import COMMAND_LINE, check_accelerator
    from core.plugins import get_plugin_manager
    from core.run_status import failure

    pm = get_plugin_manager()
    inherited = os.environ.get("CORE_RUN_DIR")  # set: a DDP rank re-launched into the run's folder
    if args.resume:
        run_dir = Path(args.resume)
        _check_resume_flags(args, run_dir)
        cfg = runs.load_run_config(run_dir)
        cfg.update({"epochs": args.epochs, "steps": args.steps, "progress": False if args.no_progress else None},
                   COMMAND_LINE)
        if args.epochs is not None and args.steps is None:
            cfg.steps = None  # --epochs N: train to N epochs, whatever the run's step budget was
        check_accelerator(cfg.accelerator, cfg.devices)
        reason = failure(run_dir)
        if reason and not inherited:
            print(f"note: {run_dir} failed earlier ({reason}); resuming it", file=sys.stderr)
        return _finish(runs.execute(pm, cfg, run_dir, resume=True, owner=not inherited), run_dir, cfg)
    file_values = _config_file(Path(args.config)) if args.config else {}
    cli_values = {
        "dataset": args.dataset, "encoder": args.encoder, "projector": args.projector,
        "objective": args.objective, "data": args.data, "pretrain_data": args.pretrain_data,
        "pretrain_pool": args.pretrain_pool, "epochs": args.epochs, "steps": args.steps,
        "max_epochs": args.max_epochs, "batch_size": args.batch_size,
        "lr": args.lr, "dim": args.dim, "seed": args.seed, "seeds": args.seeds, "devices": args.devices,
        "accelerator": args.accelerator, "strategy": args.strategy, "num_nodes": args.num_nodes,
        "precision": args.precision, "compile": args.compile, "num_workers": args.num_workers,
        "on_bad_record": args.on_bad_record, "out": args.out, "checkpoint_minutes": args.checkpoint_minutes,
        "checkpoint_epochs": args.checkpoint_epochs, "checkpoint_steps": args.checkpoint_steps,
        "data_options": {**args.reader_flags, **key_values(args.option, "--option")},
        "objective_params": key_values(args.set, "--set"),
    }
    if args.loss_impl:
        cli_values["objective_params"]["loss_impl"] = args.loss_impl
    if args.no_progress:
        cli_values["progress"] = False
    cfg = runs.resolve_config(pm, args.plugin, args.recipe, file_values, cli_values,
                              file_source=f"--config {args.config}")  # checked before any folder exists
    run_dir = Path(inherited) if inherited else runs.new_run_dir(cfg)
    os.environ["CORE_RUN_DIR"] = str(run_dir)  # DDP ranks re-run this command: same folder
    try:
        return _finish(runs.execute(pm, cfg, run_dir, owner=not inherited), run_dir, cfg)
    finally:
        os.environ.pop("CORE_RUN_DIR", None)


RESUME_FLAGS = ("resume", "epochs", "steps", "no_progress")  # what `core run --resume` takes
NOT_FLAGS = ("command", "func", "takes_reader_flags", "uses_lightning", "debug", "reader_flags")


def _check_resume_flags(args, run_dir: Path) -> None:
    """``--resume`` continues a run with the settings of its ``config.yaml``: a flag that would
    change them (``--lr``, ``--data``, a reader flag, ...) is refused in one line naming them."""
    given = [_flag(k) for k, v in vars(args).items() if k not in RESUME_FLAGS + NOT_FLAGS and v is not None
             and v is not False]
    given += [_flag(k) for k in getattr(args, "reader_flags", {})]
    if given:
        allowed = ", ".join(_flag(k) for k in RESUME_FLAGS[1:])
        raise UserError(f"--resume {run_dir}: {', '.join(given)} cannot be changed when resuming (the run keeps "
                        f"the settings of its config.yaml; only {allowed} apply); to change them start a new run, "
                        f"e.g. core run --config {run_dir / 'config.yaml'} {given[0]} ...")


def _flag(key: str) -> str:
    return f"--{key.replace('_', '-')}"


def _config_file(path: Path) -> dict:
    """The settings of a ``--config`` YAML file (checked later, key by key, naming the file)."""
    from core.flags import read_yaml

    if not path.exists():
        raise UserError(f"--config {path}: no such file; check the path")
    if not path.is_file():
        raise UserError(f"--config {path}: is a folder; pass a YAML file, e.g. a run's config.yaml")
    values = read_yaml(path, f"--config {path}", "pass a YAML file of KEY: VALUE lines")
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UserError(f"--config {path}: expected settings as KEY: VALUE lines (a mapping), got a "
                        f"{type(values).__name__}; e.g. `epochs: 10`")
    return values


def _finish(metrics: Optional[dict], run_dir: Path, cfg) -> int:
    if metrics is None:
        return 0
    _print_table(metrics)
    print(f"run folder: {run_dir}  (report.md, encoder.safetensors, metrics.json)")
    return 0


def cmd_plugins(args) -> int:
    from core.plugins import get_plugin_manager

    for info in get_plugin_manager().plugins():
        print(f"{info.name} {info.version}  ({info.module})")
        if info.error:
            print(f"  ERROR: {info.error}")
            continue
        print(f"  hooks: {', '.join(info.hooks) or '-'}")
        for kind, names in sorted(info.names.items()):
            print(f"  {kind}s: {', '.join(sorted(names))}")
    return 0


def cmd_list(args) -> int:
    from core.plugins import get_plugin_manager

    kind = args.kind.rstrip("s")
    pm = get_plugin_manager()
    for name in pm.names(kind):
        spec = pm.get(kind, name)
        print(f"{name:28s} {getattr(spec, 'description', '')}")
    return 0


def cmd_evaluate(args) -> int:
    from core import runs
    from core.metrics import summarize
    from core.plugins import get_plugin_manager
    from core.tables import format_console_table

    options = {**getattr(args, "reader_flags", {}), **key_values(args.option, "--option")}
    if args.data is None:
        for flag, given in (("--dataset", args.dataset), ("--option/reader flags", options),
                            ("--on-bad-record", args.on_bad_record)):
            if given:
                raise UserError(f"{flag} applies to --data; pass --data PATH to probe another corpus, or drop {flag}")
    else:
        return _evaluate_transfer(args, options)
    pm = get_plugin_manager()
    run_dir = Path(args.run)
    cfg = runs.load_run_config(run_dir)
    encoder, card = runs.load_encoder(pm, run_dir)
    data = runs.load_dataset(pm, cfg, card["seed"])
    metrics = runs.evaluate_features(pm, cfg, data, runs.encoder_features(encoder, data, cfg), card["seed"])
    from core.io import atomic_write_json

    atomic_write_json(run_dir / "evaluate.json", {"seed": card["seed"], "metrics": metrics})
    print(format_console_table({"pretrained encoder": summarize([metrics])}, data.task.primary_metric))
    return 0


def _print_table(metrics: dict) -> None:
    """The console table of an aggregated ``metrics.json`` (mean ± std over seeds)."""
    from core.runs import for_display
    from core.tables import format_console_table

    results = {m: {k: (v["mean"], v["std"]) for k, v in r.items()} for m, r in metrics["summary"].items()}
    print(format_console_table(for_display(results, len(metrics["seeds"])), metrics["primary_metric"]))


def _evaluate_transfer(args, options: dict) -> int:
    from core.transfer import evaluate_transfer

    folder, metrics = evaluate_transfer(Path(args.run), args.data, options, args.dataset, args.on_bad_record,
                                        False if args.no_progress else None)
    _print_table(metrics)
    print(f"transfer folder: {folder}  (report.md, metrics.json)")
    return 0


def cmd_embed(args) -> int:
    from core import embedding

    options = {**args.reader_flags, **key_values(args.option, "--option")}
    n = embedding.embed_to_file(Path(args.run), args.data, Path(args.out), options=options,
                                on_bad_record=args.on_bad_record, progress=False if args.no_progress else None,
                                unlabelled=args.unlabelled)
    print(f"wrote {n} embeddings to {args.out}")
    return 0


def _quiet_lightning() -> None:
    """Lightning sets its loggers to INFO when imported: import it lazily, then lower them."""
    import importlib.util

    if importlib.util.find_spec("lightning") is None:
        return
    import lightning.fabric  # noqa: F401
    import lightning.pytorch  # noqa: F401

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="core", description=core.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"core {core.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(sub)
    sub.add_parser("plugins", help="list plugins, their hooks, names and load errors").set_defaults(func=cmd_plugins)
    p = sub.add_parser("list", help="list registered names of one kind")
    p.add_argument("kind", choices=KINDS + tuple(k.rstrip("s") for k in KINDS))
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("evaluate", help="re-run the probes of a finished run, or probe its encoder on another "
                                        "labelled corpus (--data)")
    p.add_argument("run")
    p.add_argument("--data", help="a labelled corpus to probe the run's encoders on (transfer), with both floors; "
                                  "results go to RUN/transfer/<time>-<name>/")
    p.add_argument("--dataset", help="the dataset that reads --data (default: the run's reader for files)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="reader option for --data, repeatable")
    p.add_argument("--on-bad-record", choices=("error", "skip"))
    p.add_argument("--no-progress", action="store_true", help="no progress bar while embedding")
    p.set_defaults(func=cmd_evaluate, takes_reader_flags=True, uses_lightning=True)
    p = sub.add_parser("embed", help="embed a corpus with a run's encoder")
    p.add_argument("run"), p.add_argument("--data", required=True), p.add_argument("--out", required=True)
    p.add_argument("--option", action="append", metavar="KEY=VALUE")
    p.add_argument("--on-bad-record", choices=("error", "skip"), default="skip",
                   help="skip (default): unreadable records become rows with NaN embeddings and a reason; "
                        "error: stop at the first one")
    p.add_argument("--unlabelled", action="store_true",
                   help="read --data without labels (every record, split column 'pretrain')")
    p.add_argument("--no-progress", action="store_true", help="no progress bar while embedding")
    p.set_defaults(func=cmd_embed, takes_reader_flags=True, uses_lightning=True)
    from core.plugins import get_plugin_manager

    for warning in get_plugin_manager().add_commands(sub):  # core bench, check, new-plugin; plugins' commands
        print(f"warning: {warning}", file=sys.stderr)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if not debug:
        warnings.filterwarnings("ignore")
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "takes_reader_flags", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.reader_flags = reader_flags(extra)
        if not debug and getattr(args, "uses_lightning", False):
            _quiet_lightning()
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except UserError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; resume with `core run --resume RUN_FOLDER`", file=sys.stderr)
        return 130
    except (MemoryError, RuntimeError) as e:
        if debug or not out_of_memory(e):
            raise
        print("error: out of memory; a corpus larger than RAM is written once as shards with `core prepare "
              "--plugin P --data RAW --out SHARDS` and then read from disk with --data/--pretrain-data SHARDS "
              "(lower --batch-size or --dim too)", file=sys.stderr)
        return 2


def out_of_memory(e: BaseException) -> bool:
    """Python's ``MemoryError``, torch's ``OutOfMemoryError`` (CUDA) or the ``RuntimeError`` of
    torch's CPU allocator when the system refuses an allocation."""
    return (isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError"
            or "DefaultCPUAllocator: can't allocate memory" in str(e))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
