"""The resolved configuration of one run: recipe defaults < config file < CLI flags.

Every value is checked by its rule in :mod:`core.flags` as it arrives, whichever source it
comes from, so a recipe, a config file or a run's ``config.yaml`` cannot pass a value the
command line would refuse.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from core.errors import UserError
from core.flags import COMMAND_LINE, check_value


@dataclass
class RunConfig:
    """Everything a run needs; written to ``config.yaml`` in the run directory."""

    plugin: str = ""
    recipe: str = ""
    dataset: str = ""
    encoder: str = ""
    projector: str = ""
    objective: str = "core/lfr"
    evaluators: list = field(default_factory=lambda: ["core/linear", "core/knn"])
    data: Optional[str] = None
    data_options: dict = field(default_factory=dict)
    pretrain_data: Optional[str] = None  # an unlabelled corpus to pretrain on (read by the --data reader)
    pretrain_pool: str = "both"  # with pretrain_data: "both" adds the labelled train+val inputs, "unlabelled" not
    objective_params: dict = field(default_factory=dict)
    epochs: int = 10  # the budget when steps is not set
    steps: Optional[int] = None  # the budget in encoder optimiser steps: epochs = ceil(steps / steps per epoch)
    max_epochs: int = 1000  # cap on the epochs derived from steps (a tiny corpus)
    max_minutes: Optional[float] = None  # stop training after this wall time (epochs still cap it)
    checkpoint_minutes: Optional[float] = 5.0  # write last.ckpt at the first epoch end this long after the last (0: every epoch)
    checkpoint_epochs: Optional[int] = None  # also write it every N epochs; always after the last epoch
    checkpoint_steps: Optional[int] = None  # also write it every N encoder steps, mid-epoch included
    batch_size: int = 128
    lr: float = 3e-4
    weight_decay: float = 3e-4
    dim: int = 128
    seed: int = 0
    seeds: int = 1
    devices: Any = 1
    accelerator: str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    num_workers: int = 0
    compile: bool = False
    on_bad_record: str = "error"
    out: str = "runs"
    progress: bool = True

    def update(self, values: Mapping[str, Any], source: str) -> "RunConfig":
        """Override fields from ``values`` (dicts are merged), each checked by its rule
        (:func:`core.flags.check_value`); unknown keys and bad values are one-line user errors
        naming ``source`` (``"command line"`` names the flag instead)."""
        if not isinstance(values, Mapping):
            raise UserError(f"{source}: expected settings as KEY: VALUE lines (a mapping), got a "
                            f"{type(values).__name__}; e.g. `epochs: 10`")
        names = {f.name for f in dataclasses.fields(self)}
        for key, value in values.items():
            if key not in names:
                where = f"--{str(key).replace('_', '-')}" if source == COMMAND_LINE else f"{source}: setting '{key}'"
                raise UserError(f"{where} is unknown; known: {', '.join(sorted(names))}")
            if value is None:
                continue
            value = check_value(key, value, source)
            current = getattr(self, key)
            if isinstance(current, dict) and isinstance(value, Mapping):
                merged = dict(current)
                merged.update(value)
                value = merged
            setattr(self, key, value)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
