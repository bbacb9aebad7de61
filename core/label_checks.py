"""Degenerate labelled data, checked before a run pretrains (docs/design.md#evaluation).

Refused with one line (:class:`core.errors.UserError`): a classification corpus whose labelled
training data (train + val) hold one class, since no probe can learn from it. Warned about
(returned as lines for the console and the report): classes missing from the training data or
from test, and metrics that cannot be computed on test (e.g. AUROC with one class in test),
the primary metric first. Regression: constant training targets.
"""
from __future__ import annotations

import numpy as np

from core.errors import UserError
from core.metrics import labelled_rows, undefined_metrics
from core.specs import LoadedDataset


def _classes(targets) -> np.ndarray:
    if targets is None:
        return np.zeros(0, np.int64)
    y = np.asarray(targets)
    y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
    return np.unique(y[labelled_rows(y)]).astype(np.int64)


def _names(task, classes) -> str:
    names = task.class_names
    return ", ".join(f"'{names[c]}'" if 0 <= c < len(names) else f"'{c}'" for c in classes)


def check_labels(data: LoadedDataset, dataset: str) -> list[str]:
    """Raise for one class in the labelled training data; return warning lines (may be empty)."""
    task, splits = data.task, data.splits
    where = f"dataset {dataset}" + (f" ({data.source})" if data.source else "")
    warnings = []
    if task.kind in ("multiclass", "binary"):
        fit = np.union1d(_classes(splits["train"].targets), _classes(splits["val"].targets))
        test = _classes(splits["test"].targets)
        everything = np.union1d(fit, test)
        if len(everything) < 2:
            raise UserError(f"{where}: every labelled record is class {_names(task, everything) or '(none)'}; a probe "
                            f"needs at least two classes: add records of another class or fix the labels")
        if len(fit) < 2:
            raise UserError(f"{where}: the labelled training data (train + val) hold one class "
                            f"({_names(task, fit) or 'none'}) while test holds {_names(task, test)}; a probe cannot "
                            f"learn from one class: move records of the other classes into train or drop the split "
                            f"column so the tool carves one")
        universe = np.arange(max(len(task.class_names), int(everything.max()) + 1))
        declared = set(universe.tolist())
        missing_fit = sorted(declared - set(fit.tolist()))
        missing_test = sorted(declared - set(test.tolist()))
        if missing_fit:
            warnings.append(f"classes missing from the labelled training data (train + val): "
                            f"{_names(task, missing_fit)}; the probes never predict them")
        if missing_test:
            warnings.append(f"classes missing from the test split: {_names(task, missing_test)}; "
                            f"their test performance is not measured")
    elif task.kind == "regression":
        y = np.concatenate([np.asarray(splits[s].targets, np.float64).reshape(len(splits[s]), -1)
                            for s in ("train", "val") if len(splits[s])])
        if all(np.ptp(col[np.isfinite(col)]) == 0 if np.isfinite(col).any() else True for col in y.T):
            warnings.append("the training targets (train + val) are constant; the probes can only predict that value")
    n_classes = len(task.class_names)
    for metric, reason in sorted(undefined_metrics(task, splits["test"].targets, n_classes).items(),
                                 key=lambda kv: kv[0] != task.primary_metric):
        what = "the primary metric " if metric == task.primary_metric else ""
        warnings.append(f"{what}{metric} cannot be computed on test: {reason}; it is shown as n/a")
    return warnings
