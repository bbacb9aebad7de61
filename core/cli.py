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
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="dataset reader option, repeatable")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="objective parameter, e.g. k=8, repeatable")
    p.add_argument("--loss-impl", choices=("auto", "torch", "triton"),
                   help="LFR loss implementation: auto (fused Triton kernel on CUDA, else torch), torch, triton "
                        "(= --set loss_impl=...)")
    p.add_argument("--epochs", help="training epochs, >= 1"), p.add_argument("--batch-size", help=">= 1")
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
        cfg = runs.load_run_config(run_dir)
        cfg.update({"epochs": args.epochs}, COMMAND_LINE)
        check_accelerator(cfg.accelerator, cfg.devices)
        reason = failure(run_dir)
        if reason and not inherited:
            print(f"note: {run_dir} failed earlier ({reason}); resuming it", file=sys.stderr)
        return _finish(runs.execute(pm, cfg, run_dir, resume=True, owner=not inherited), run_dir, cfg)
    file_values = _config_file(Path(args.config)) if args.config else {}
    cli_values = {
        "dataset": args.dataset, "encoder": args.encoder, "projector": args.projector,
        "objective": args.objective, "data": args.data, "epochs": args.epochs, "batch_size": args.batch_size,
        "lr": args.lr, "dim": args.dim, "seed": args.seed, "seeds": args.seeds, "devices": args.devices,
        "accelerator": args.accelerator, "strategy": args.strategy, "num_nodes": args.num_nodes,
        "precision": args.precision, "compile": args.compile, "num_workers": args.num_workers,
        "on_bad_record": args.on_bad_record, "out": args.out,
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
    from core.runs import for_display
    from core.tables import format_console_table

    results = {m: {k: (v["mean"], v["std"]) for k, v in r.items()} for m, r in metrics["summary"].items()}
    results = for_display(results, len(metrics["seeds"]))
    print(format_console_table(results, metrics["primary_metric"]))
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


def cmd_embed(args) -> int:
    from core import embedding

    options = {**args.reader_flags, **key_values(args.option, "--option")}
    n = embedding.embed_to_file(Path(args.run), args.data, Path(args.out), options=options,
                                on_bad_record=args.on_bad_record, progress=False if args.no_progress else None)
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
    p = sub.add_parser("evaluate", help="re-run the probes of a finished run")
    p.add_argument("run")
    p.set_defaults(func=cmd_evaluate, uses_lightning=True)
    p = sub.add_parser("embed", help="embed a corpus with a run's encoder")
    p.add_argument("run"), p.add_argument("--data", required=True), p.add_argument("--out", required=True)
    p.add_argument("--option", action="append", metavar="KEY=VALUE")
    p.add_argument("--on-bad-record", choices=("error", "skip"), default="skip",
                   help="skip (default): unreadable records become rows with NaN embeddings and a reason; "
                        "error: stop at the first one")
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
