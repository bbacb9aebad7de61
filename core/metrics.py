"""Metrics of a probe's predictions per task kind, the validation selection rule, and the
mean ± std summary across seeds. Plain numpy / scikit-learn (imported inside functions).

* missing labels (NaN in multilabel / regression targets, negative or NaN class ids) are
  masked in scoring, MoleculeNet style;
* metrics that are undefined on the given labels (AUROC with one class present) are left out
  of the returned dict rather than reported as NaN;
* selection: the task's primary metric on ``val``, else the kind's fallback, oriented so that
  larger is better; ties go to the first candidate.

The probes that use them are in :mod:`core.probes`.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from core.specs import Task

LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "loss"})
_FALLBACK = {
    "multiclass": ("accuracy", "macro_f1"),
    "binary": ("auroc", "balanced_accuracy", "accuracy"),
    "multilabel": ("auroc", "auprc", "macro_f1"),
    "regression": ("r2", "rmse"),
}


# ----------------------------------------------------------------------------- metrics


def metrics_for(task: Task, y_true, scores_or_pred) -> dict[str, float]:
    """Metrics of ``task.kind`` for ``y_true`` given scores (probabilities) or predictions.

    * multiclass: ``(N,)`` int predictions or ``(N, C)`` scores -> accuracy,
      balanced_accuracy, macro_f1 (+ auroc, macro one-vs-rest, with scores and every class
      present);
    * binary: ``(N,)`` positive-class probability (threshold 0.5) or ``(N, 2)`` -> accuracy,
      balanced_accuracy, macro_f1, auroc, auprc;
    * multilabel: ``(N, L)`` probabilities -> auroc, auprc (macro over labels with both
      classes present), macro_f1 at 0.5; NaN labels are masked;
    * regression: ``(N,)`` or ``(N, T)`` -> r2, rmse, spearman averaged over targets, NaN
      targets masked.
    """
    fn = {"multiclass": _multiclass_metrics, "binary": _binary_metrics,
          "multilabel": _multilabel_metrics, "regression": _regression_metrics}[task.kind]
    return fn(np.asarray(y_true), np.asarray(scores_or_pred), task)


def labelled_rows(y: np.ndarray) -> np.ndarray:
    """Mask of rows carrying a class label (not NaN, not negative)."""
    y = np.asarray(y, dtype=np.float64)
    return np.isfinite(y) & (y >= 0)


def _label_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true"
        return {
            "accuracy": float(accuracy_score(y, pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        }


def _as_probabilities(scores: np.ndarray) -> np.ndarray:
    """Rows that sum to one: softmax of logits (any negative entry), else row normalisation."""
    scores = scores.astype(np.float64)
    if (scores < 0).any():
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    total = scores.sum(axis=1, keepdims=True)
    return np.divide(scores, total, out=np.full_like(scores, 1.0 / scores.shape[1]), where=total > 0)


def _multiclass_metrics(y, s, task) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    keep = labelled_rows(y)
    y, s = y[keep].astype(np.int64), s[keep]
    if not len(y):
        return {}
    pred = s.argmax(axis=1) if s.ndim == 2 else s.astype(np.int64)
    out = _label_metrics(y, pred)
    if s.ndim == 2 and s.shape[1] > 2 and len(np.unique(y)) == s.shape[1]:
        out["auroc"] = float(roc_auc_score(y, _as_probabilities(s), multi_class="ovr",
                                           average="macro", labels=np.arange(s.shape[1])))
    elif s.ndim == 2 and s.shape[1] == 2 and len(np.unique(y)) == 2:
        out["auroc"] = float(roc_auc_score(y, s[:, 1]))
    return out


def _binary_metrics(y, s, task) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
    if s.ndim == 2:
        s = s[:, -1] if s.shape[1] <= 2 else s[:, 0]
    keep = labelled_rows(y)
    y, s = y[keep].astype(np.int64), s[keep].astype(np.float64)
    if not len(y):
        return {}
    out = _label_metrics(y, (s >= 0.5).astype(np.int64))
    if len(np.unique(y)) == 2:
        out["auroc"] = float(roc_auc_score(y, s))
        out["auprc"] = float(average_precision_score(y, s))
    return out


def _labelled_columns(y: np.ndarray, s: np.ndarray):
    """``(y_j, s_j)`` in float64 for each target column j of ``y`` with a label, rows with a NaN
    label masked (multilabel / regression targets, MoleculeNet style)."""
    y = y.astype(np.float64).reshape(len(y), -1)
    s = s.astype(np.float64).reshape(len(s), -1)
    for j in range(y.shape[1]):
        keep = np.isfinite(y[:, j])
        if keep.any():
            yield y[keep, j], s[keep, j]


def _multilabel_metrics(y, s, task) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    aurocs, auprcs, f1s = [], [], []
    for yj, sj in _labelled_columns(y, s):
        yj = yj.astype(np.int64)
        f1s.append(f1_score(yj, (sj >= 0.5).astype(np.int64), average="binary",
                            zero_division=0, labels=[0, 1]))
        if len(np.unique(yj)) == 2:
            aurocs.append(roc_auc_score(yj, sj))
            auprcs.append(average_precision_score(yj, sj))
    out = {}
    if aurocs:
        out["auroc"] = float(np.mean(aurocs))
        out["auprc"] = float(np.mean(auprcs))
    if f1s:
        out["macro_f1"] = float(np.mean(f1s))
    return out


def _regression_metrics(y, s, task) -> dict[str, float]:
    from scipy.stats import spearmanr
    from sklearn.metrics import r2_score

    r2s, rmses, rhos = [], [], []
    for yj, sj in _labelled_columns(y, s):
        rmses.append(math.sqrt(float(np.mean((yj - sj) ** 2))))
        if len(yj) >= 2 and np.ptp(yj) > 0:
            r2s.append(r2_score(yj, sj))
            if np.ptp(sj) > 0:
                rhos.append(spearmanr(yj, sj).statistic)
    out = {}
    if r2s:
        out["r2"] = float(np.mean(r2s))
    if rmses:
        out["rmse"] = float(np.mean(rmses))
    if rhos:
        out["spearman"] = float(np.mean(rhos))
    return out


# ----------------------------------------------------------------------------- selection


def selection_metric(task: Task, metrics: Mapping[str, float]) -> tuple[str, float]:
    """``(name, value)`` used for selection: the primary metric, else the kind's fallback.

    The value is oriented so that larger is better (``rmse`` is negated).
    """
    for name in (task.primary_metric, *_FALLBACK[task.kind]):
        value = metrics.get(name)
        if value is not None and math.isfinite(value):
            return name, (-value if name in LOWER_IS_BETTER else value)
    return "", -math.inf


def selection_score(task: Task, y_val, val_scores) -> float:
    """The larger-is-better validation score of one candidate (only ever fed ``val``)."""
    return selection_metric(task, metrics_for(task, y_val, val_scores))[1]


def select_on_val(candidates: Sequence, predict_val: Callable, y_val, task: Task):
    """Pick the candidate whose ``predict_val(candidate)`` scores best on ``y_val``.

    Returns ``(best, scores)`` with ``scores`` one value per candidate. Ties go to the first.
    """
    scores = [selection_score(task, y_val, predict_val(c)) for c in candidates]
    return candidates[int(np.argmax(scores))], scores


# ----------------------------------------------------------------------------- across seeds


def summarize(values: Iterable[Mapping[str, float]]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation (ddof=1, 0 for one run) of each metric across seeds.

    Non-numeric entries are ignored; NaN values are left out of a metric's mean (a metric
    NaN in every run gives ``(nan, nan)``). Keys keep their first-seen order.
    """
    values = list(values)
    keys = list(dict.fromkeys(k for d in values for k in d))
    out = {}
    for key in keys:
        nums = [float(d[key]) for d in values if key in d and _is_number(d[key])]
        if not nums:
            continue
        finite = np.array([v for v in nums if math.isfinite(v)])
        if not len(finite):
            out[key] = (math.nan, math.nan)
            continue
        std = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
        out[key] = (float(finite.mean()), std)
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
