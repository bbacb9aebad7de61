"""The RBF-SVM probe ``core/svm``: the UCR protocol of T-Loss (Franceschi et al. 2019) and
TS2Vec (Yue et al. 2022), as in TS2Vec's ``fit_svm``. scikit-learn is imported inside functions.

* ``SVC(kernel="rbf", gamma="scale")`` on the labelled non-test samples (train + val); the
  features are not standardised (TS2Vec does not; NaN / inf are set to 0);
* ``C`` from :data:`C_GRID` = {1e-4, 1e-3, …, 1e4, ∞} by ``GridSearchCV`` with 5 stratified
  folds (unshuffled, as in TS2Vec) scored by accuracy, then refit on all of them;
* ``C = ∞`` without search when ``n // n_classes < 5`` (fewer than 5 samples per class on
  average, TS2Vec's and T-Loss's exact test) or ``n < 50``;
* above :data:`MAX_SAMPLES` samples the search runs on a stratified subsample of that size
  (seeded; TS2Vec uses ``random_state=0``) and the best model is kept (no refit on all);
* classification only; AUROC / AUPRC from the decision function
  (:func:`core.metrics.metrics_from_decision`).
"""
from __future__ import annotations

import math

import numpy as np

from core.metrics import Scores, metrics_from_decision, single_class_prediction
from core.probes import Split, _n_classes, _prepare, labelled_pool
from core.specs import Task

C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4, math.inf)
CV_FOLDS = 5
MAX_SAMPLES = 10_000
MAX_ITER = 10_000_000  # TS2Vec's grid setting: bounds a hard-margin fit that cannot separate


def uses_infinite_C(y: np.ndarray) -> bool:
    """TS2Vec / T-Loss: no search, C = ∞, with under 5 samples per class on average or under 50 in all."""
    n_classes = len(np.unique(y))
    return len(y) // max(n_classes, 1) < 5 or len(y) < 50


def _model(C: float):
    from sklearn.svm import SVC

    return SVC(C=C, kernel="rbf", gamma="scale", max_iter=MAX_ITER)


def _clean(x: np.ndarray) -> np.ndarray:
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


def fit_svm(x: np.ndarray, y: np.ndarray, seed: int = 0):
    """``(fitted SVC, C, protocol text)`` by the module's protocol."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if uses_infinite_C(y):
            return (_model(math.inf).fit(x, y), math.inf,
                    f"C=inf without search ({len(y)} train+val samples, {len(np.unique(y))} classes: under 5 per "
                    f"class or under 50 in all, as TS2Vec)")
        note = ""
        if len(y) > MAX_SAMPLES:
            x, _, y, _ = train_test_split(x, y, train_size=MAX_SAMPLES, random_state=seed, stratify=y)
            note = f" (a stratified subsample of {MAX_SAMPLES})"
        warnings.simplefilter("ignore", UserWarning)  # "the least populated class has only n members"
        search = GridSearchCV(_model(1.0), {"C": list(C_GRID)}, cv=StratifiedKFold(CV_FOLDS), scoring="accuracy")
        search.fit(x, y)
    C = float(search.best_params_["C"])
    grid = ", ".join(f"{c:g}" for c in C_GRID)
    return (search.best_estimator_, C,
            f"{CV_FOLDS}-fold stratified CV (accuracy) over {len(y)} train+val samples{note}, refit on all; "
            f"C in {{{grid}}}: C={C:g}")


def svm_probe(train: Split, val: Split, test: Split, task: Task, seed: int = 0) -> Scores:
    """RBF-SVM probe (module docstring): test metrics, ``probe_C`` (``inf`` possible),
    ``probe_single_class`` and the protocol."""
    if task.kind not in ("multiclass", "binary"):
        raise ValueError(f"core/svm probes classification tasks, not {task.kind}")
    (xtr, ytr), (xva, yva), (xte, yte) = _prepare(task, train, val, test)
    x, y = labelled_pool(xtr, ytr, xva, yva)
    x, xte = _clean(x), _clean(xte)
    n_classes = max(_n_classes(task, ytr, yva, yte), 2)
    classes = np.unique(y)
    if len(classes) < 2:  # nothing to separate: the one class everywhere
        pred = np.full(len(xte), int(classes[0]))
        decision = np.zeros((len(xte), n_classes))
        decision[:, int(classes[0])] = 1.0
        C, protocol = math.nan, f"one class ({int(classes[0])}) in {len(y)} train+val samples: no SVM fit"
    else:
        model, C, protocol = fit_svm(x, y, seed)
        pred = model.predict(xte).astype(np.int64)
        decision = _decision_columns(model, xte, n_classes)
    out = Scores(metrics_from_decision(task, yte, pred, decision), protocol)
    out["probe_C"] = C
    out["probe_single_class"] = single_class_prediction(task, y, pred, yte)
    return out


def _decision_columns(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """``(N, n_classes)`` one-vs-rest decision values; classes absent from the fit get the lowest value."""
    d = model.decision_function(x) if len(x) else np.zeros((0, len(model.classes_)))
    classes = model.classes_.astype(np.int64)
    if d.ndim == 1:  # two classes: positive means classes_[1]
        d = np.stack([-d, d], axis=1)
    out = np.full((len(x), n_classes), (d.min() - 1.0) if d.size else 0.0)
    out[:, classes] = d
    return out
