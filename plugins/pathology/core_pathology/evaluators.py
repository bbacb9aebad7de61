"""Evaluators of the pathology plugin: per-target probes for multi-target regression (the
derived tasks of the default: tissue fraction, haematoxylin, DAB), and slide-level
aggregation (:mod:`core_pathology.mil`)."""
from __future__ import annotations

import numpy as np

from core.specs import Task


def per_target(train, val, test, task: Task, seed: int = 0) -> dict:
    """The core linear probe (ridge, alpha chosen on val) run on each regression target alone:
    ``r2_<target>`` and ``spearman_<target>``, named by ``task.class_names`` when they match."""
    from core.probes import linear_probe

    y = [np.asarray(s[1], np.float64) for s in (train, val, test)]
    width = y[0].reshape(len(y[0]), -1).shape[1]
    names = list(task.class_names) if len(task.class_names) == width else [f"t{j}" for j in range(width)]
    out = {}
    for j, name in enumerate(names):
        parts = [(np.asarray(s[0]), yy.reshape(len(yy), -1)[:, j]) for s, yy in zip((train, val, test), y)]
        metrics = linear_probe(*parts, Task("regression"), seed)
        for key in ("r2", "spearman"):
            if key in metrics:
                out[f"{key}_{name}"] = metrics[key]
    return out
