"""Turn raw record labels into targets and a :class:`core.Task`."""
from __future__ import annotations

import numpy as np

from core.errors import UserError
from core.specs import Task
from core_ecg.records import Problems


def _as_float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _sort_classes(names):
    numbers = [_as_float(n) for n in names]
    if all(v is not None for v in numbers):
        return [n for _, n in sorted(zip(numbers, names))]
    return sorted(names)


def infer_kind(labels, multilabel: bool, requested: str = "auto") -> str:
    """``requested`` unless ``auto``: multilabel, regression (numbers not all integral),
    binary (two classes) or multiclass."""
    if requested != "auto":
        return requested
    if multilabel or any(isinstance(l, tuple) for l in labels):
        return "multilabel"
    numbers = [_as_float(l) for l in labels]
    if labels and all(v is not None for v in numbers) and not all(float(v).is_integer() for v in numbers):
        return "regression"
    return "binary" if len(set(labels)) == 2 else "multiclass"


def encode(records: list, kind: str, classes, problems: Problems) -> tuple:
    """Targets for ``records`` (bad labels reported); returns ``(records kept, y, Task)``."""
    if kind == "regression":
        kept, y = [], []
        for r in records:
            v = _as_float(r.label)
            if v is None or not np.isfinite(v):
                problems.bad(r.id, f"label {r.label!r} is not a number", "a regression target must be numeric")
                continue
            kept.append(r)
            y.append(v)
        return kept, np.asarray(y, dtype=np.float32), Task("regression")
    if kind == "multilabel":
        sets = [r.label if isinstance(r.label, tuple) else (str(r.label),) for r in records]
        names = list(classes) if classes else _sort_classes({c for s in sets for c in s})
        index = {c: i for i, c in enumerate(names)}
        y = np.zeros((len(records), len(names)), dtype=np.float32)
        kept = []
        for r, labels in zip(records, sets):
            unknown = [c for c in labels if c not in index]
            if unknown:
                problems.bad(r.id, f"label '{unknown[0]}' is not one of the classes {', '.join(names)}")
                continue
            y[len(kept), [index[c] for c in labels]] = 1.0
            kept.append(r)
        return kept, y[: len(kept)], Task("multilabel", names)
    labels = [str(r.label) for r in records]
    names = list(classes) if classes else _sort_classes(set(labels))
    if kind == "binary" and len(names) != 2:
        raise UserError(f"task=binary needs exactly 2 classes, found {len(names)}: {', '.join(names[:10])}; "
                        f"use --option task=multiclass")
    index = {c: i for i, c in enumerate(names)}
    kept, y = [], []
    for r, label in zip(records, labels):
        if label not in index:
            problems.bad(r.id, f"label '{label}' is not one of the classes {', '.join(names)}")
            continue
        kept.append(r)
        y.append(index[label])
    return kept, np.asarray(y, dtype=np.int64), Task(kind, names)
