"""Frozen-embedding probes: the linear and kNN probes registered as ``core/linear`` and
``core/knn``. Plain numpy / scikit-learn / torch (imported inside functions).

Probes take three splits, each a pair ``(X (N, D), y)``, and a :class:`core.specs.Task`.
Hyper-parameters are chosen by the task's primary metric on ``val`` only
(:func:`core.metrics.select_on_val`); ``test`` is scored once, with the chosen value. Choices:

* linear probe: features standardised on ``train``; logistic regression (lbfgs, multinomial
  for multiclass, one model per label for multilabel) over ``C_GRID`` or ridge over
  ``ALPHA_GRID``. The reported model is the one fit on ``train`` alone that won on ``val``
  (no train+val refit), so what is selected is exactly what is tested.
* kNN probe: cosine similarity on L2-normalised features, similarity-weighted vote with
  weights ``exp(s / 0.07)`` (as in DINO), ``k`` from ``K_GRID`` capped by ``len(train)``.
* ties on ``val`` go to the first grid value (strongest regularisation / smallest k).
* missing labels are dropped (class ids) or masked per target (multilabel / regression) in
  fitting; metrics are those of :func:`core.metrics.metrics_for`.

The builtins plugin imports this module when listing evaluators: keep it light.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from core.metrics import labelled_rows, metrics_for, select_on_val
from core.specs import EvaluatorSpec, Task

C_GRID = tuple(float(c) for c in np.logspace(-3, 3, 7))
ALPHA_GRID = tuple(float(a) for a in np.logspace(-2, 4, 7))
K_GRID = (1, 5, 10, 20, 50)
KNN_TEMPERATURE = 0.07

Split = tuple  # (X (N, D), y)


# ----------------------------------------------------------------------------- data prep


def _split(split) -> tuple[np.ndarray, np.ndarray]:
    x, y = split
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), int(np.prod(x.shape[1:]))), np.asarray(y)


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


def _drop_unlabelled(task: Task, x: np.ndarray, y: np.ndarray):
    """Drop rows without a class label (multiclass / binary); others are masked per target."""
    if task.kind in ("multiclass", "binary"):
        y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
        keep = labelled_rows(y)
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


# ----------------------------------------------------------------------------- registry


def builtin_evaluators() -> list[EvaluatorSpec]:
    """The core's probes, registered by :mod:`core.builtins` as ``core/linear`` and ``core/knn``."""
    return [
        EvaluatorSpec("core/linear", linear_probe,
                      description="standardised logistic / ridge regression, C or alpha chosen on val"),
        EvaluatorSpec("core/knn", knn_probe,
                      description="cosine kNN (similarity-weighted vote), k chosen on val"),
    ]
