"""Frozen-embedding probes: the linear and kNN probes registered as ``core/linear`` and
``core/knn`` (the RBF SVM is :mod:`core.svm`). Plain numpy / scikit-learn / torch (imported
inside functions).

Probes take three splits, each a pair ``(X (N, D), y)``, and a :class:`core.specs.Task`, and
return a :class:`core.metrics.Scores`: the test metrics, the chosen hyper-parameter
(``probe_C`` / ``probe_alpha`` / ``probe_k``), ``probe_single_class`` (1.0 when the probe
predicts one class for all of test although its labels hold several) and a ``protocol`` text.
``test`` is scored once, with the chosen value; it never takes part in the choice. Protocol
(docs/design.md#evaluation):

* **few labels** (fewer than :data:`FEW_LABELS` labelled train+val samples, or an empty
  ``val``): the hyper-parameter is chosen by seeded k-fold CV over all labelled non-test
  samples (train + val; stratified, ``k = min(5, smallest class count)``, at least 2; plain
  k-fold for regression and multilabel; :func:`core.metrics.cv_folds`), scored by the task's
  primary metric averaged over folds, and the probe is refit on all of them. 1000 because a
  val split of 20 % of fewer than 1000 samples holds under 200: the standard error of an
  accuracy on it is over 3 points, too coarse to rank 7 grid values, and a handful of classes
  may be missing from it; below 1000 samples the k extra fits per value are cheap.
* **many labels**: chosen on ``val`` only (:func:`core.metrics.select_on_val`); the reported
  model is the one fit on ``train`` alone that won on ``val`` (no train+val refit), so what is
  selected is exactly what is tested.
* linear probe: features standardised on the samples it is fit on; logistic regression
  (lbfgs, multinomial for multiclass, one model per label for multilabel) over ``C_GRID`` or
  ridge over ``ALPHA_GRID``.
* kNN probe: cosine similarity on L2-normalised features, similarity-weighted vote with
  weights ``exp(s / 0.07)`` (as in DINO), ``k`` from ``K_GRID`` capped by the samples it votes from.
* ties go to the first grid value (strongest regularisation / smallest k).
* missing labels are dropped (class ids) or masked per target (multilabel / regression) in
  fitting; metrics are those of :func:`core.metrics.metrics_for`.

The builtins plugin imports this module when listing evaluators: keep it light.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from core.metrics import (Scores, cv_folds, labelled_rows, metrics_for, select_by_cv, select_on_val,
                          single_class_prediction)
from core.specs import EvaluatorSpec, Task

FEW_LABELS = 1000  # below this many labelled train+val samples, choose by k-fold CV (module docstring)
CV_FOLDS = 5
C_GRID = tuple(float(c) for c in np.logspace(-3, 3, 7))
ALPHA_GRID = tuple(float(a) for a in np.logspace(-2, 4, 7))
K_GRID = (1, 5, 10, 20, 50)
KNN_TEMPERATURE = 0.07

Split = tuple  # (X (N, D), y)


# ----------------------------------------------------------------------------- data prep


def _split(split) -> tuple[np.ndarray, np.ndarray]:
    """``(X (N, D), y)``; float32 features stay float32 (half the memory of 60,000-dimensional raw
    ECG records; scikit-learn's scaler accumulates in float64), others become float64."""
    x, y = split
    x = np.asarray(x)
    x = x.astype(np.float32 if x.dtype == np.float32 else np.float64, copy=False)
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
        if keep.all():
            return x, y.astype(np.int64)
        return x[keep], y[keep].astype(np.int64)
    return x, y.astype(np.float64)


def _inf_as_nan(a: np.ndarray) -> np.ndarray:
    """``a`` with ±inf as NaN: a copy only when it holds an inf."""
    inf = np.isinf(a)
    return np.where(inf, np.nan, a) if inf.any() else a


def _standardise(train_x: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale on ``train`` (NaN ignored in the fit), then impute missing/inf values with 0 (the mean)."""
    from sklearn.preprocessing import StandardScaler

    clean = [_inf_as_nan(a) for a in (train_x, *others)]
    scaler = StandardScaler().fit(clean[0])
    return [np.nan_to_num(scaler.transform(a), nan=0.0, copy=False) if len(a) else a for a in clean]


def _prepare(task: Task, train, val, test):
    (xtr, ytr), (xva, yva), (xte, yte) = (_drop_unlabelled(task, *_split(s)) for s in (train, val, test))
    if not len(xtr):
        raise ValueError("the probe's train split has no labelled sample")
    return (xtr, ytr), (xva, yva), (xte, yte)


def uses_cv(n_train: int, n_val: int, few_labels: int = FEW_LABELS) -> bool:
    """True when the hyper-parameter is chosen by CV: an empty ``val`` or few labels in all."""
    return n_val == 0 or n_train + n_val < few_labels


def labelled_pool(xtr: np.ndarray, ytr: np.ndarray, xva: np.ndarray, yva: np.ndarray):
    """All labelled non-test samples: train then val (an empty val of any shape is left out)."""
    if not len(xva):
        return xtr, ytr
    return np.concatenate([xtr, xva]), np.concatenate([ytr, yva])


def predicted_labels(task: Task, scores: np.ndarray) -> np.ndarray:
    """Class predictions from a probe's scores (argmax, or the positive probability >= 0.5)."""
    scores = np.asarray(scores)
    if task.kind == "binary":
        return (scores.reshape(len(scores), -1)[:, -1] >= 0.5).astype(np.int64)
    return scores.argmax(axis=1) if scores.ndim == 2 else scores.astype(np.int64)


def grid_text(name: str, grid) -> str:
    values = ", ".join(f"{v:g}" for v in grid)
    return f"{name} in {{{values}}}"


def cv_protocol(folds, n: int, name: str, grid, best) -> str:
    """``"5-fold CV over 23 train+val samples, refit on all; C in {…}: C=1"``."""
    if not folds:
        return f"too few labelled samples ({n}) for CV: default {name}={best:g}, fit on train+val"
    return f"{len(folds)}-fold CV over {n} train+val samples, refit on all; {grid_text(name, grid)}: {name}={best:g}"


def val_protocol(n_train: int, n_val: int, name: str, grid, best) -> str:
    return f"chosen on val ({n_val}), fit on train ({n_train}); {grid_text(name, grid)}: {name}={best:g}"


def _finish(task: Task, yte, scores, y_fit, setting: str, best, protocol: str) -> Scores:
    out = Scores(metrics_for(task, yte, scores), protocol)
    out[setting] = float(best)
    if task.kind in ("multiclass", "binary"):
        out["probe_single_class"] = single_class_prediction(task, y_fit, predicted_labels(task, scores), yte)
    return out


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


def linear_probe(train: Split, val: Split, test: Split, task: Task, seed: int = 0,
                 few_labels: int = FEW_LABELS) -> Scores:
    """Logistic (classification) or ridge (regression) probe, regularisation chosen by k-fold
    CV over train+val with few labels, else on ``val`` (module docstring).

    Returns the test metrics plus ``probe_C`` (classification) or ``probe_alpha`` (regression).
    """
    (xtr, ytr), (xva, yva), (xte, yte) = _prepare(task, train, val, test)
    n_classes = max(_n_classes(task, ytr, yva, yte), 2)
    grid = ALPHA_GRID if task.kind == "regression" else C_GRID
    name = "alpha" if task.kind == "regression" else "C"
    if uses_cv(len(xtr), len(xva), few_labels):
        x, y = labelled_pool(xtr, ytr, xva, yva)
        folds = cv_folds(task, y, seed, CV_FOLDS)

        def predict_fold(fit_index, held):
            fit_x, held_x = _standardise(x[fit_index], x[held])
            fit = _linear_fitter(task, fit_x, y[fit_index], seed, n_classes)
            return {h: fit(h)(held_x) for h in grid}

        best = select_by_cv(list(grid), predict_fold, folds, y, task)[0] if folds else 1.0
        x, xte = _standardise(x, xte)
        model = _linear_fitter(task, x, y, seed, n_classes)(best)
        return _finish(task, yte, model(xte), y, f"probe_{name}", best, cv_protocol(folds, len(y), name, grid, best))
    xtr, xva, xte = _standardise(xtr, xva, xte)
    fit = _linear_fitter(task, xtr, ytr, seed, n_classes)
    fitted = {}

    def predict_val(h):
        fitted[h] = fit(h)
        return fitted[h](xva)

    best, _ = select_on_val(list(grid), predict_val, yva, task)
    model = fitted.get(best) or fit(best)
    return _finish(task, yte, model(xte), ytr, f"probe_{name}", best,
                   val_protocol(len(xtr), len(xva), name, grid, best))


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


def knn_probe(train: Split, val: Split, test: Split, task: Task, seed: int = 0,
              few_labels: int = FEW_LABELS) -> Scores:
    """Cosine kNN probe, ``k`` chosen by k-fold CV over train+val with few labels (votes of all
    of them on test), else on ``val`` (votes of train). Returns test metrics plus ``probe_k``.

    ``seed`` only seeds the CV folds (the probe itself is deterministic).
    """
    (xtr, ytr), (xva, yva), (xte, yte) = _prepare(task, train, val, test)
    n_classes = max(_n_classes(task, ytr, yva, yte), 2)
    if uses_cv(len(xtr), len(xva), few_labels):
        bank, ybank = labelled_pool(xtr, ytr, xva, yva)
        folds = cv_folds(task, ybank, seed, CV_FOLDS)
        smallest = min((len(f) for f, _ in folds), default=len(bank))
        grid = [k for k in K_GRID if k <= smallest] or [smallest]

        def predict_fold(fit_index, held):
            sims, idx = neighbours(bank[fit_index], bank[held], max(grid))
            return {k: knn_scores(task, ybank[fit_index], sims, idx, k, n_classes) for k in grid}

        if folds:
            best = select_by_cv(grid, predict_fold, folds, ybank, task)[0]
        else:
            best = max(k for k in grid if k <= 10) if min(grid) <= 10 else min(grid)
        protocol = cv_protocol(folds, len(ybank), "k", grid, best)
    else:
        bank, ybank = xtr, ytr
        grid = [k for k in K_GRID if k <= len(xtr)] or [len(xtr)]
        sims, idx = neighbours(xtr, xva, max(grid))
        best, _ = select_on_val(grid, lambda k: knn_scores(task, ytr, sims, idx, k, n_classes), yva, task)
        protocol = val_protocol(len(xtr), len(xva), "k", grid, best)
    sims, idx = neighbours(bank, xte, best)
    return _finish(task, yte, knn_scores(task, ybank, sims, idx, best, n_classes), ybank, "probe_k", best, protocol)


# ----------------------------------------------------------------------------- registry


def builtin_evaluators() -> list[EvaluatorSpec]:
    """The core's probes, registered by :mod:`core.builtins` as ``core/linear``, ``core/knn``
    and ``core/svm`` (sequence inputs, classification; :mod:`core.svm`, imported when used)."""
    from core.lazy import lazy

    return [
        EvaluatorSpec("core/linear", linear_probe,
                      description="standardised logistic / ridge regression; C or alpha by k-fold CV over "
                                  f"train+val below {FEW_LABELS} labels, else on val"),
        EvaluatorSpec("core/knn", knn_probe,
                      description=f"cosine kNN (similarity-weighted vote); k by k-fold CV below {FEW_LABELS} "
                                  "labels, else on val"),
        EvaluatorSpec("core/svm", lazy("core.svm:svm_probe"), tasks=("multiclass", "binary"),
                      modalities=("sequence",),
                      description="RBF SVM, the T-Loss / TS2Vec UCR protocol: C in {1e-4..1e4, inf} by 5-fold CV "
                                  "(C=inf with under 5 per class or 50 in all)"),
    ]
