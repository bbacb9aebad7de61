"""Frozen-embedding probes and metrics (DESIGN §6). Plain numpy / scikit-learn / torch.

Probes take three splits, each a pair ``(X (N, D), y)``, and a :class:`core.specs.Task`.
Hyper-parameters are chosen by the task's primary metric on ``val`` only; ``test`` is
scored once, with the chosen value. Choices:

* linear probe: features standardised on ``train``; logistic regression (lbfgs, multinomial
  for multiclass, one model per label for multilabel) over ``C_GRID`` or ridge over
  ``ALPHA_GRID``. The reported model is the one fit on ``train`` alone that won on ``val``
  (no train+val refit), so what is selected is exactly what is tested.
* kNN probe: cosine similarity on L2-normalised features, similarity-weighted vote with
  weights ``exp(s / 0.07)`` (as in DINO), ``k`` from ``K_GRID`` capped by ``len(train)``.
* ties on ``val`` go to the first grid value (strongest regularisation / smallest k).
* missing labels (NaN in multilabel / regression targets, negative or NaN class ids) are
  masked in fitting and scoring, MoleculeNet style.
* metrics that are undefined on the given labels (AUROC with one class present) are left out
  of the returned dict rather than reported as NaN.

Heavy imports (sklearn, scipy, torch) happen inside functions: the builtins plugin imports
this module when listing evaluators.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from core.specs import EvaluatorSpec, Task

C_GRID = tuple(float(c) for c in np.logspace(-3, 3, 7))
ALPHA_GRID = tuple(float(a) for a in np.logspace(-2, 4, 7))
K_GRID = (1, 5, 10, 20, 50)
KNN_TEMPERATURE = 0.07
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "loss"})
_FALLBACK = {
    "multiclass": ("accuracy", "macro_f1"),
    "binary": ("auroc", "balanced_accuracy", "accuracy"),
    "multilabel": ("auroc", "auprc", "macro_f1"),
    "regression": ("r2", "rmse"),
}

Split = tuple  # (X (N, D), y)


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


def _labelled(y: np.ndarray) -> np.ndarray:
    """Mask of rows carrying a class label (not NaN, not negative)."""
    y = np.asarray(y, dtype=np.float64)
    return np.isfinite(y) & (y >= 0)


def _n_classes(task: Task, *arrays) -> int:
    """Number of classes: the task's class names, or what the labels/scores imply."""
    n = len(task.class_names)
    for a in arrays:
        a = np.asarray(a)
        if a.ndim == 2:
            n = max(n, a.shape[1])
        elif a.size and a.dtype.kind in "iub":
            n = max(n, int(a.max()) + 1)
    return n


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

    keep = _labelled(y)
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
    keep = _labelled(y)
    y, s = y[keep].astype(np.int64), s[keep].astype(np.float64)
    if not len(y):
        return {}
    out = _label_metrics(y, (s >= 0.5).astype(np.int64))
    if len(np.unique(y)) == 2:
        out["auroc"] = float(roc_auc_score(y, s))
        out["auprc"] = float(average_precision_score(y, s))
    return out


def _multilabel_metrics(y, s, task) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    y = y.astype(np.float64).reshape(len(y), -1)
    s = s.astype(np.float64).reshape(len(s), -1)
    aurocs, auprcs, f1s = [], [], []
    for j in range(y.shape[1]):
        keep = np.isfinite(y[:, j])
        yj, sj = y[keep, j].astype(np.int64), s[keep, j]
        if not len(yj):
            continue
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

    y = y.astype(np.float64).reshape(len(y), -1)
    s = s.astype(np.float64).reshape(len(s), -1)
    r2s, rmses, rhos = [], [], []
    for j in range(y.shape[1]):
        keep = np.isfinite(y[:, j])
        yj, sj = y[keep, j], s[keep, j]
        if not len(yj):
            continue
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


# ----------------------------------------------------------------------------- data prep


def _split(split) -> tuple[np.ndarray, np.ndarray]:
    x, y = split
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), int(np.prod(x.shape[1:]))), np.asarray(y)


def _drop_unlabelled(task: Task, x: np.ndarray, y: np.ndarray):
    """Drop rows without a class label (multiclass / binary); others are masked per target."""
    if task.kind in ("multiclass", "binary"):
        y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
        keep = _labelled(y)
        return x[keep], y[keep].astype(np.int64)
    return x, y.astype(np.float64)


def _standardise(train_x: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale on ``train`` (NaN ignored in the fit), then impute missing/inf values with 0 (the mean)."""
    from sklearn.preprocessing import StandardScaler

    clean = [np.where(np.isinf(a), np.nan, a) for a in (train_x, *others)]
    scaler = StandardScaler().fit(clean[0])
    return [np.nan_to_num(scaler.transform(a), nan=0.0) if len(a) else a for a in clean]


def _prepare(task: Task, train, val, test):
    (xtr, ytr), (xva, yva), (xte, yte) = (_drop_unlabelled(task, *_split(s)) for s in (train, val, test))
    if not len(xtr):
        raise ValueError("the probe's train split has no labelled sample")
    return (xtr, ytr), (xva, yva), (xte, yte)


# ----------------------------------------------------------------------------- linear probe


def _fit_logistic(x: np.ndarray, y: np.ndarray, C: float, seed: int, n_classes: int) -> Callable:
    """Fit one logistic regression; return ``x -> (N, n_classes)`` probabilities.

    Classes absent from ``train`` get probability 0; a single-class train gives a constant.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    classes = np.unique(y)
    if len(classes) == 1:
        const = np.zeros(n_classes)
        const[int(classes[0])] = 1.0
        return lambda q: np.tile(const, (len(q), 1))
    model = LogisticRegression(C=C, solver="lbfgs", max_iter=5000, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)

    def predict(q):
        out = np.zeros((len(q), n_classes))
        out[:, model.classes_.astype(np.int64)] = model.predict_proba(q)
        return out

    return predict


def _fit_multilabel(x: np.ndarray, y: np.ndarray, C: float, seed: int) -> Callable:
    """One logistic regression per label on its labelled rows; ``x -> (N, L)`` probabilities."""
    y = y.reshape(len(y), -1)
    heads = []
    for j in range(y.shape[1]):
        keep = np.isfinite(y[:, j])
        if not keep.any():
            heads.append(lambda q: np.full(len(q), 0.5))
            continue
        f = _fit_logistic(x[keep], y[keep, j].astype(np.int64), C, seed, 2)
        heads.append(lambda q, f=f: f(q)[:, 1])
    return lambda q: np.stack([h(q) for h in heads], axis=1)


def _fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> Callable:
    """One ridge regression per target on its labelled rows; ``x -> (N,)`` or ``(N, T)``."""
    from sklearn.linear_model import Ridge

    y2 = y.reshape(len(y), -1)
    heads = []
    for j in range(y2.shape[1]):
        keep = np.isfinite(y2[:, j])
        if not keep.any():
            heads.append(lambda q: np.zeros(len(q)))
            continue
        model = Ridge(alpha=alpha).fit(x[keep], y2[keep, j])
        heads.append(model.predict)
    return lambda q: np.stack([h(q) for h in heads], axis=1).reshape((len(q),) + y.shape[1:])


def _positive_column(predict: Callable) -> Callable:
    return lambda q: predict(q)[:, 1]


def _linear_fitter(task: Task, x: np.ndarray, y: np.ndarray, seed: int, n_classes: int) -> Callable:
    """``hyper -> predict`` for the task kind, fit on ``(x, y)`` (train only)."""
    if task.kind == "regression":
        return lambda alpha: _fit_ridge(x, y, alpha)
    if task.kind == "multilabel":
        return lambda C: _fit_multilabel(x, y, C, seed)
    if task.kind == "binary":
        return lambda C: _positive_column(_fit_logistic(x, y, C, seed, 2))
    return lambda C: _fit_logistic(x, y, C, seed, n_classes)


def linear_probe(train: Split, val: Split, test: Split, task: Task, seed: int = 0) -> dict[str, float]:
    """Logistic (classification) or ridge (regression) probe with regularisation chosen on ``val``.

    Returns the test metrics plus ``probe_C`` (classification) or ``probe_alpha`` (regression).
    """
    (xtr, ytr), (xva, yva), (xte, yte) = _prepare(task, train, val, test)
    xtr, xva, xte = _standardise(xtr, xva, xte)
    n_classes = max(_n_classes(task, ytr, yva, yte), 2)
    fit = _linear_fitter(task, xtr, ytr, seed, n_classes)
    grid = ALPHA_GRID if task.kind == "regression" else C_GRID
    fitted = {}

    def predict_val(h):
        fitted[h] = fit(h)
        return fitted[h](xva)

    if len(xva):
        best, _ = select_on_val(list(grid), predict_val, yva, task)
    else:  # no validation data: no selection, a standard default
        best = 1.0
    model = fitted.get(best) or fit(best)
    out = metrics_for(task, yte, model(xte))
    out["probe_alpha" if task.kind == "regression" else "probe_C"] = float(best)
    return out


# ----------------------------------------------------------------------------- kNN probe


def _normalise(x: np.ndarray):
    import torch

    t = torch.from_numpy(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32))
    return torch.nn.functional.normalize(t, dim=1, eps=1e-12)


def neighbours(train_x: np.ndarray, query_x: np.ndarray, k: int, chunk: int = 1024):
    """Cosine top-``k`` neighbours of each query among ``train_x``: ``(sims, idx)``, each ``(Nq, k)``."""
    import torch

    bank, query = _normalise(train_x), _normalise(query_x)
    sims, idx = [], []
    for start in range(0, len(query), chunk):
        s, i = (query[start:start + chunk] @ bank.T).topk(k, dim=1)
        sims.append(s)
        idx.append(i)
    if not sims:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
    return torch.cat(sims).numpy(), torch.cat(idx).numpy()


def _column_means(y: np.ndarray) -> np.ndarray:
    """Per-column mean over finite entries (0 for a column with none)."""
    known = np.isfinite(y)
    count = known.sum(axis=0)
    return np.where(known, y, 0.0).sum(axis=0) / np.maximum(count, 1)


def _weighted_mean(values: np.ndarray, weights: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """NaN-aware weighted mean over neighbours: values ``(Nq, k, T)``, weights ``(Nq, k)``."""
    known = np.isfinite(values)
    w = weights[:, :, None] * known
    num = (w * np.where(known, values, 0.0)).sum(axis=1)
    den = w.sum(axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), fallback[None, :])


def knn_scores(task: Task, ytr: np.ndarray, sims: np.ndarray, idx: np.ndarray, k: int,
               n_classes: int) -> np.ndarray:
    """Scores of the ``k`` nearest neighbours (weights ``exp(s/τ)``) in ``metrics_for``'s format."""
    s, i = sims[:, :k].astype(np.float64), idx[:, :k]
    w = np.exp((s - s[:, :1]) / KNN_TEMPERATURE)  # shift by the top similarity: stable, same ratios
    if task.kind == "multiclass":
        votes = np.zeros((len(s), n_classes))
        np.add.at(votes, (np.arange(len(s))[:, None], ytr[i]), w)
        return votes / votes.sum(axis=1, keepdims=True)
    y2 = ytr.astype(np.float64).reshape(len(ytr), -1)
    out = _weighted_mean(y2[i], w, _column_means(y2))
    if task.kind == "binary":
        return out[:, 0]
    return out.reshape((len(s),) + ytr.shape[1:])


def knn_probe(train: Split, val: Split, test: Split, task: Task, seed: int = 0) -> dict[str, float]:
    """Cosine kNN probe with ``k`` chosen on ``val``. Returns test metrics plus ``probe_k``.

    ``seed`` is unused (the probe is deterministic); it keeps the evaluator signature.
    """
    (xtr, ytr), (xva, yva), (xte, yte) = _prepare(task, train, val, test)
    n_classes = max(_n_classes(task, ytr, yva, yte), 2)
    grid = [k for k in K_GRID if k <= len(xtr)] or [len(xtr)]
    kmax = max(grid)
    if len(xva):
        sims, idx = neighbours(xtr, xva, kmax)
        best, _ = select_on_val(grid, lambda k: knn_scores(task, ytr, sims, idx, k, n_classes), yva, task)
    else:  # no validation data: no selection, a standard default
        best = max(k for k in grid if k <= 10)
    sims, idx = neighbours(xtr, xte, best)
    out = metrics_for(task, yte, knn_scores(task, ytr, sims, idx, best, n_classes))
    out["probe_k"] = float(best)
    return out


# ----------------------------------------------------------------------------- registry + seeds


def builtin_evaluators() -> list[EvaluatorSpec]:
    """The core's probes, registered by :mod:`core.builtins` as ``core/linear`` and ``core/knn``."""
    return [
        EvaluatorSpec("core/linear", linear_probe,
                      description="standardised logistic / ridge regression, C or alpha chosen on val"),
        EvaluatorSpec("core/knn", knn_probe,
                      description="cosine kNN (similarity-weighted vote), k chosen on val"),
    ]


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
