"""Metrics of a probe's predictions per task kind, the selection rules (on ``val`` or by k-fold
CV), and the mean ± std summary across seeds. Plain numpy / scikit-learn (imported inside
functions).

* missing labels (NaN in multilabel / regression targets, negative or NaN class ids) are
  masked in scoring, MoleculeNet style;
* metrics that are undefined on the given labels (AUROC with one class present) are left out
  of the returned dict rather than reported as NaN (:func:`undefined_metrics` says why);
* selection: the task's primary metric on ``val`` (or averaged over CV folds), else the kind's
  fallback, oriented so that larger is better; ties go to the first candidate;
* :class:`Scores`: what a probe returns, a ``{metric: float}`` dict that also says how its
  hyper-parameters were chosen (``protocol``).

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


# ----------------------------------------------------------------------------- probe results


class Scores(dict):
    """A probe's ``{metric: float}`` with ``protocol``: how its hyper-parameters were chosen
    (e.g. ``"5-fold stratified CV over 23 train+val samples, C in 1e-3..1e3 (7 values): C=1"``).
    Plain dicts are accepted everywhere a probe result is; they carry no protocol."""

    def __init__(self, values=(), protocol: str = ""):
        super().__init__(values)
        self.protocol = protocol


def single_class_prediction(task: Task, y_fit, predicted_labels, y_test=None) -> float:
    """1.0 when a classifier fit on labels holding several classes predicts one class for every
    one of (2 or more) queries whose labels ``y_test`` (when given) hold several classes too,
    else 0.0. Its score is then a majority-class rate, not a probe. (A test split of one class
    says nothing either way; the data checks warn about it.)"""
    if task.kind not in ("multiclass", "binary"):
        return 0.0
    fit_classes = np.unique(np.asarray(y_fit)[labelled_rows(y_fit)])
    if y_test is not None:
        y_test = np.asarray(y_test)
        y_test = y_test.reshape(len(y_test), -1)[:, 0] if y_test.ndim > 1 else y_test
        if len(np.unique(y_test[labelled_rows(y_test)])) < 2:
            return 0.0
    pred = np.asarray(predicted_labels)
    return float(len(fit_classes) > 1 and len(pred) > 1 and len(np.unique(pred)) == 1)


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


def metrics_from_decision(task: Task, y_true, predicted, decision) -> dict[str, float]:
    """Classification metrics from hard ``predicted`` labels ``(N,)`` and one-vs-rest
    ``decision`` values ``(N, C)`` (e.g. an SVM's): accuracy, balanced accuracy and macro-F1 from
    the labels; AUROC (macro one-vs-rest, every class present in test) and, for binary, AUPRC
    from the decision values (binary: column 1, the positive class)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y_true)
    y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
    keep = labelled_rows(y)
    y, pred, d = y[keep].astype(np.int64), np.asarray(predicted)[keep], np.asarray(decision, np.float64)[keep]
    if not len(y):
        return {}
    out = _label_metrics(y, pred.astype(np.int64))
    present = np.unique(y)
    if task.kind == "binary" or d.shape[1] == 2:
        if len(present) == 2:
            out["auroc"] = float(roc_auc_score(y, d[:, 1]))
            if task.kind == "binary":
                out["auprc"] = float(average_precision_score(y, d[:, 1]))
    elif len(present) == d.shape[1]:
        out["auroc"] = float(np.mean([roc_auc_score(y == c, d[:, c]) for c in range(d.shape[1])]))
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


def undefined_metrics(task: Task, y_test, n_classes: int = 0) -> dict[str, str]:
    """``{metric: reason}`` for the task's metrics that cannot be computed on ``y_test`` (the
    labels alone decide it): AUROC/AUPRC with one class in test, multiclass AUROC with classes
    missing from test, R²/Spearman with constant targets."""
    y = np.asarray(y_test)
    if task.kind in ("multiclass", "binary"):
        flat = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
        present = np.unique(flat[labelled_rows(flat)]).astype(np.int64)
        names = task.class_names
        if len(present) < 2:
            which = ", ".join(_class_name(names, c) for c in present) or "no labelled sample"
            reason = f"the test split holds one class ({which})"
            return {m: reason for m in (("auroc", "auprc") if task.kind == "binary" else ("auroc",))}
        total = max(n_classes, len(names), int(present.max()) + 1)
        if task.kind == "multiclass" and total > 2 and len(present) < total:
            missing = [_class_name(names, c) for c in range(total) if c not in set(present.tolist())]
            return {"auroc": f"classes missing from the test split ({', '.join(missing)})"}
        return {}
    out = {}
    columns = list(_labelled_columns(y, y))
    if task.kind == "multilabel" and columns and all(len(np.unique(yj)) < 2 for yj, _ in columns):
        out = {m: "every label holds one value in the test split" for m in ("auroc", "auprc")}
    if task.kind == "regression" and columns and all(len(yj) < 2 or np.ptp(yj) == 0 for yj, _ in columns):
        out = {m: "the test targets are constant" for m in ("r2", "spearman")}
    return out


def _class_name(names, c: int) -> str:
    return str(names[c]) if 0 <= c < len(names) else str(c)


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


def cv_folds(task: Task, y, seed: int, max_folds: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded ``(fit, held_out)`` index pairs over labelled rows ``y`` (never test).

    Classes: stratified k-fold, ``k = min(max_folds, smallest class count)``, at least 2 (plain
    k-fold when no class has 2 members); regression / multilabel: plain k-fold,
    ``k = min(max_folds, len(y))``. Fewer than 2 rows give no folds.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(y)
    if n < 2:
        return []
    dummy = np.zeros((n, 1))
    if task.kind in ("multiclass", "binary"):
        counts = np.unique(np.asarray(y), return_counts=True)[1]
        k = max(2, min(max_folds, int(counts.min())))
        if counts.max() >= k and len(counts) > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "the least populated class has only 1 member"
                return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(dummy, y))
        return list(KFold(min(k, n), shuffle=True, random_state=seed).split(dummy))
    return list(KFold(min(max_folds, n), shuffle=True, random_state=seed).split(dummy))


def tie_breakers(task: Task, y, scores) -> tuple[float, ...]:
    """Larger-is-better scores of the kind's fallback metrics other than the primary, in order
    (binary with AUROC primary: balanced accuracy, accuracy): used to break CV ties."""
    values = metrics_for(task, y, scores)
    out = []
    for name in _FALLBACK[task.kind]:
        if name == task.primary_metric:
            continue
        v = values.get(name)
        out.append(-math.inf if v is None or not math.isfinite(v) else (-v if name in LOWER_IS_BETTER else v))
    return tuple(out)


def select_by_cv(candidates: Sequence, predict_fold: Callable, folds, y, task: Task):
    """Pick the candidate with the best mean selection score over ``folds``.

    ``predict_fold(fit_index, held_index)`` returns ``{candidate: scores of held-out rows}`` for a
    model fit on ``fit_index`` only. A fold where a candidate's score is undefined is left out of
    that candidate's mean. Ties on the mean are broken by the mean :func:`tie_breakers` (an AUROC
    that every value reaches on tiny folds says nothing about the 0.5 threshold), then go to the
    first candidate. Returns ``(best, mean_scores)``.
    """
    y = np.asarray(y)
    per = {i: [] for i in range(len(candidates))}
    ties = {i: [] for i in range(len(candidates))}
    for fit_index, held in folds:
        predicted = predict_fold(fit_index, held)
        for i, c in enumerate(candidates):
            value = selection_score(task, y[held], predicted[c])
            if math.isfinite(value):
                per[i].append(value)
            ties[i].append(tie_breakers(task, y[held], predicted[c]))
    means = [float(np.mean(v)) if v else -math.inf for v in per.values()]
    keys = [(means[i], *(np.mean(np.array(ties[i]), axis=0) if ties[i] and len(ties[i][0]) else ()))
            for i in range(len(candidates))]
    best = max(range(len(candidates)), key=lambda i: (keys[i], -i))
    return candidates[best], means


# ----------------------------------------------------------------------------- across seeds


def summarize(values: Iterable[Mapping[str, float]]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation (ddof=1, 0 for one run) of each metric across seeds.

    Non-numeric entries are ignored; NaN values are left out of a metric's mean (a metric
    NaN in every run gives ``(nan, nan)``); equal values (``inf`` included) give ``(v, 0)``.
    Keys keep their first-seen order.
    """
    values = list(values)
    keys = list(dict.fromkeys(k for d in values for k in d))
    out = {}
    for key in keys:
        nums = [float(d[key]) for d in values if key in d and _is_number(d[key])]
        if not nums:
            continue
        known = np.array([v for v in nums if not math.isnan(v)])  # inf stays: an SVM's C = inf
        if not len(known):
            out[key] = (math.nan, math.nan)
            continue
        if (known == known[0]).all():
            out[key] = (float(known[0]), 0.0)
            continue
        std = float(known.std(ddof=1)) if np.isfinite(known).all() else math.nan
        out[key] = (float(known.mean()), std)
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
