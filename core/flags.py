"""Run settings checked where they are read: one rule per :class:`core.config.RunConfig` field.

The same rule serves a command-line flag (``--epochs ten``), a ``--config`` file
(``epochs: ten``), a recipe's parameters and a run folder's ``config.yaml``: each bad value is
a one-line :class:`~core.errors.UserError` naming the flag or the file and key, with a valid
example. :func:`check_value` converts one value (text from the command line or a typed YAML
value); :func:`check_environment` checks what depends on this machine (GPU availability, the
``--out`` folder) once the values are merged, before a run folder is created.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, Optional

from core.errors import UserError

COMMAND_LINE = "command line"
UINT32_MAX = 2 ** 32 - 1  # numpy/scikit-learn random states and Lightning's seed_everything
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true",
              "transformer-engine", "transformer-engine-float16")
LEGACY_PRECISIONS = {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed", "64": "64-true"}
STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "ddp_find_unused_parameters_false",
              "ddp_find_unused_parameters_true", "ddp_spawn_find_unused_parameters_false",
              "ddp_spawn_find_unused_parameters_true", "ddp_fork_find_unused_parameters_false",
              "ddp_fork_find_unused_parameters_true", "ddp_notebook_find_unused_parameters_false",
              "ddp_notebook_find_unused_parameters_true", "deepspeed", "deepspeed_stage_1", "deepspeed_stage_2",
              "deepspeed_stage_2_offload", "deepspeed_stage_3", "deepspeed_stage_3_offload",
              "deepspeed_stage_3_offload_nvme", "fsdp", "fsdp_cpu_offload", "single_device", "single_xla",
              "xla_debug", "xla", "single_tpu")  # Lightning 2.x StrategyRegistry (training.py is its only importer)


def flag_name(key: str) -> str:
    """``batch_size`` -> ``--batch-size``."""
    return "--" + key.replace("_", "-")


def where(key: str, source: str) -> str:
    """How a message names ``key`` read from ``source``: the flag, or ``FILE, key:``."""
    return flag_name(key) if source == COMMAND_LINE else f"{source}, {key}:"


def example(key: str, value: Any, source: str) -> str:
    """A valid setting of ``key`` spelled as ``source`` would spell it."""
    return f"{flag_name(key)} {value}" if source == COMMAND_LINE else f"{key}: {value}"


class Bad(ValueError):
    """A rule's complaint: ``problem`` (what is wrong) and a valid ``good`` value."""

    def __init__(self, problem: str, good: Any):
        super().__init__(problem)
        self.problem, self.good = problem, good


# ----------------------------------------------------------------------------- rules
def whole(low: int, good: int, high: Optional[int] = None) -> Callable[[Any], int]:
    """A whole number in ``[low, high]`` (``"64"``, ``64``, ``64.0``; never ``True``)."""
    span = f">= {low}" if high is None else f"in [{low}, {high}]"

    def parse(value):
        try:
            if isinstance(value, bool):
                raise ValueError
            out = int(float(value)) if not isinstance(value, int) else value
            if not isinstance(value, int) and float(value) != out:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise Bad(f"not a whole number (must be {span})", good) from None
        if out < low or (high is not None and out > high):
            raise Bad(f"must be a whole number {span}", good)
        return out

    return parse


def real(good: float, low: float = 0.0, low_open: bool = True, optional: bool = False) -> Callable[[Any], Any]:
    """A finite real number above ``low`` (``> low`` when ``low_open``, else ``>= low``)."""
    span = f"{'>' if low_open else '>='} {low:g}"

    def parse(value):
        if value is None and optional:
            return None
        try:
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
        except (TypeError, ValueError):
            raise Bad(f"not a number (must be finite and {span})", good) from None
        if not math.isfinite(out) or out < low or (low_open and out == low):
            raise Bad(f"must be a finite number {span}", good)
        return out

    return parse


def one_of(values: tuple, good: str, aliases: Optional[dict] = None) -> Callable[[Any], str]:
    def parse(value):
        text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
        text = (aliases or {}).get(text, text)
        if text not in values:
            raise Bad(f"must be one of {', '.join(values)}", good)
        return text

    return parse


def strategy(value):
    text = str(value).strip() if isinstance(value, str) else None
    if text in STRATEGIES:
        return text
    raise Bad("must be a Lightning strategy name (auto, ddp, ddp_spawn, fsdp, deepspeed, ...)", "ddp")


def devices(value):
    if isinstance(value, str) and value.strip() == "auto":
        return "auto"
    try:
        return whole(1, 2)(value)
    except Bad:
        raise Bad("must be a number of devices >= 1 or auto", 2) from None


def boolean(good: str = "true"):
    def parse(value):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise Bad("must be true or false", good)

    return parse


def name(good: str, optional: bool = False):
    """A registered name or a path: text (numbers from YAML are read as text)."""
    def parse(value):
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
            raise Bad("must be a non-empty name", good)
        return str(value).strip()

    return parse


def mapping(good: str):
    def parse(value):
        if not isinstance(value, dict):
            raise Bad("must be a mapping of KEY: VALUE", good)
        return dict(value)

    return parse


def names(good: str):
    def parse(value):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not items or not all(isinstance(v, str) and v for v in items):
            raise Bad("must be a non-empty list of names", good)
        return list(items)

    return parse


RULES: dict[str, Callable[[Any], Any]] = {
    "plugin": name("ecg"), "recipe": name("ecg/default"), "dataset": name("ecg/ecg5000"),
    "encoder": name("ecg/cnn"), "projector": name("ecg/conv"), "objective": name("core/lfr"),
    "evaluators": names("[core/linear, core/knn]"), "data": name("path/to/corpus", optional=True),
    "pretrain_data": name("path/to/unlabelled", optional=True),
    "pretrain_pool": one_of(("both", "unlabelled"), "unlabelled"), "data_options": mapping("{length: 140}"),
    "objective_params": mapping("{k: 6}"), "epochs": whole(1, 10), "steps": whole(1, 2000),
    "max_epochs": whole(1, 1000), "max_minutes": real(30.0, optional=True),
    "checkpoint_minutes": real(5.0, low_open=False, optional=True), "checkpoint_epochs": whole(1, 5),
    "checkpoint_steps": whole(1, 500), "batch_size": whole(1, 128),
    "lr": real(3e-4), "weight_decay": real(3e-4, low_open=False), "dim": whole(1, 128),
    "seed": whole(0, 0, UINT32_MAX), "seeds": whole(1, 3), "devices": devices,
    "accelerator": one_of(ACCELERATORS, "cpu"), "strategy": strategy, "num_nodes": whole(1, 1),
    "precision": one_of(PRECISIONS, "bf16-mixed", LEGACY_PRECISIONS), "num_workers": whole(0, 4),
    "compile": boolean(), "on_bad_record": one_of(("error", "skip"), "skip"), "out": name("runs"),
    "progress": boolean("false"),
}


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else (value if value.strip() and " " not in value else repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def check_value(key: str, value: Any, source: str = COMMAND_LINE, flag: Optional[str] = None) -> Any:
    """``value`` of setting ``key`` converted by its rule; a bad one is a one-line ``UserError``
    naming the flag (``source`` = :data:`COMMAND_LINE`; ``flag`` when it is not ``--key``) or
    ``source, key:``, with a valid example."""
    rule = RULES.get(key)
    if rule is None:
        return value
    try:
        return rule(value)
    except Bad as bad:
        named, good = where(key, source), example(key, bad.good, source)
        if flag and source == COMMAND_LINE:
            named, good = flag, f"{flag} {bad.good}"
        raise UserError(f"{named} {_shown(value)}: {bad.problem}; e.g. {good}") from None


def yaml_problem(error) -> str:
    """A ``yaml.YAMLError`` in a few words: what is wrong and where (line, column)."""
    problem = getattr(error, "problem", None) or " ".join(str(error).split())[:120]
    mark = getattr(error, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def read_yaml(path: Path, name: str, fix: str):
    """The parsed YAML of ``path``; an unreadable, non-UTF-8 or malformed file is one line
    starting with ``name`` (how the user knows the file) and ending with ``fix``."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{name}: cannot read ({e.strerror or e}); check permissions") from None
    except UnicodeDecodeError:
        raise UserError(f"{name}: not UTF-8 text; {fix}") from None
    except yaml.YAMLError as e:
        raise UserError(f"{name}: not valid YAML ({yaml_problem(e)}); {fix}") from None


# ----------------------------------------------------------------------------- this machine
def check_environment(cfg) -> None:
    """What the merged settings ask of this machine: the accelerator and device count exist, the
    seeds fit a random state, and ``out`` can hold run folders (checked without creating it)."""
    if int(cfg.seed) + int(cfg.seeds) - 1 > UINT32_MAX:
        raise UserError(f"--seed {cfg.seed} with --seeds {cfg.seeds}: the last seed passes {UINT32_MAX}; "
                        f"e.g. --seed 0")
    check_accelerator(cfg.accelerator, cfg.devices)
    check_output_folder(Path(cfg.out), "--out")


def check_accelerator(accelerator: str, devices: Any = 1) -> None:
    """``--accelerator gpu/cuda/mps/tpu`` needs that hardware here; ``--devices N`` at most what exists."""
    if accelerator in ("auto", "cpu"):
        return
    import torch

    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if accelerator == "tpu":
        import importlib.util

        if importlib.util.find_spec("torch_xla") is None:
            raise UserError("--accelerator tpu: no TPU runtime (torch_xla) here; e.g. --accelerator auto")
        return
    available = {"gpu": cuda or int(mps), "cuda": cuda, "mps": int(mps)}[accelerator]
    if not available:
        raise UserError(f"--accelerator {accelerator}: no {'GPU' if accelerator == 'gpu' else accelerator.upper()} "
                        f"is available on this machine (torch sees none); e.g. --accelerator cpu or auto")
    if isinstance(devices, int) and devices > available:
        raise UserError(f"--devices {devices}: this machine has {available} {accelerator} device(s); "
                        f"e.g. --devices {available}")


def check_output_folder(folder: Path, what: str) -> None:
    """``folder`` is, or can become, a writable folder: not a file, nor under one, nor read-only."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        detail = "is a file" if probe == folder else f"is under {probe}, which is a file"
        raise UserError(f"{what} {folder}: {detail}, not a folder; pass a folder (created if missing), "
                        f"e.g. {what} runs")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{what} {folder}: {probe} is not writable; pass a folder you can write to, e.g. {what} runs")
