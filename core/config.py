"""The resolved configuration of one run: recipe defaults < config file < CLI flags."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from core.errors import UserError


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
    objective_params: dict = field(default_factory=dict)
    epochs: int = 10
    max_minutes: Optional[float] = None  # stop training after this wall time (epochs still cap it)
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
        """Override fields from ``values`` (dicts are merged); unknown keys are user errors."""
        names = {f.name for f in dataclasses.fields(self)}
        for key, value in values.items():
            if key not in names:
                raise UserError(f"{source}: unknown setting '{key}'; known: {', '.join(sorted(names))}")
            if value is None:
                continue
            current = getattr(self, key)
            if isinstance(current, dict) and isinstance(value, Mapping):
                merged = dict(current)
                merged.update(value)
                value = merged
            setattr(self, key, value)
        if self.on_bad_record not in ("error", "skip"):
            raise UserError(f"{source}: on_bad_record must be 'error' or 'skip', got {self.on_bad_record!r}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
