"""Probes (core.probes) and metrics (core.metrics) (fast, synthetic data)."""
import math

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                             f1_score, mean_squared_error, r2_score, roc_auc_score)
from sklearn.preprocessing import StandardScaler

from core import metrics, probes, svm
from core.specs import Recipe, Task


def _blobs(rng, n_per_split=(200, 100, 150), n_classes=3, d=16, sep=2.0):
    """Train/val/test from the same class-mean mixture."""
    means = rng.normal(size=(n_classes, d)) * sep
    splits = []
    for n in n_per_split:
        y = rng.integers(0, n_classes, n)
        splits.append((means[y] + rng.normal(size=(n, d)), y))
    return splits


def _noise(rng, n_per_split=(200, 100, 300), n_classes=3, d=16):
    return [(rng.normal(size=(n, d)), rng.integers(0, n_classes, n)) for n in n_per_split]


# ----------------------------------------------------------------------------- probes


@pytest.mark.parametrize("probe", [probes.linear_probe, probes.knn_probe])
def test_probes_beat_chance_on_separable_multiclass(probe):
    train, val, test = _blobs(np.random.default_rng(0))
    out = probe(train, val, test, Task("multiclass", ("a", "b", "c")), seed=0)
    assert out["accuracy"] > 0.9
    assert out["auroc"] > 0.95
    assert ("probe_C" in out) if probe is probes.linear_probe else ("probe_k" in out)


@pytest.mark.parametrize("probe", [probes.linear_probe, probes.knn_probe])
def test_probes_near_chance_on_noise(probe):
    train, val, test = _noise(np.random.default_rng(1))
    out = probe(train, val, test, Task("multiclass"), seed=0)
    assert 0.2 < out["balanced_accuracy"] < 0.47
    assert 0.38 < out["auroc"] < 0.62


@pytest.mark.parametrize("probe", [probes.linear_probe, probes.knn_probe])
def test_probes_binary(probe):
    train, val, test = _blobs(np.random.default_rng(2), n_classes=2)
    out = probe(train, val, test, Task("binary"), seed=0)
    assert out["auroc"] > 0.95 and out["accuracy"] > 0.9 and "auprc" in out


@pytest.mark.parametrize("probe", [probes.linear_probe, probes.knn_probe])
def test_probes_multilabel_with_missing_labels(probe):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(450, 12))
    y = (x[:, :4] > 0).astype(np.float64)
    y[rng.random(y.shape) < 0.15] = np.nan
    splits = [(x[a:b], y[a:b]) for a, b in ((0, 250), (250, 350), (350, 450))]
    out = probe(*splits, Task("multilabel"), seed=0)
    assert out["auroc"] > 0.85 and out["macro_f1"] > 0.7


@pytest.mark.parametrize("probe", [probes.linear_probe, probes.knn_probe])
@pytest.mark.parametrize("targets", [1, 3])
def test_probes_regression_with_missing_targets(probe, targets):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(450, 6))
    y = x[:, :2] @ rng.normal(size=(2, targets)) + 0.05 * rng.normal(size=(450, targets))
    y[rng.random(y.shape) < 0.1] = np.nan
    if targets == 1:
        y = y[:, 0]
    splits = [(x[a:b], y[a:b]) for a, b in ((0, 250), (250, 350), (350, 450))]
    out = probe(*splits, Task("regression"), seed=0)
    assert out["r2"] > (0.95 if probe is probes.linear_probe else 0.5)
    assert out["spearman"] > 0.7
    assert ("probe_alpha" in out) if probe is probes.linear_probe else ("probe_k" in out)


def test_regression_selection_with_lower_is_better_primary():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 5))
    y = x[:, 0] + 0.1 * rng.normal(size=300)
    splits = [(x[a:b], y[a:b]) for a, b in ((0, 150), (150, 225), (225, 300))]
    out = probes.linear_probe(*splits, Task("regression", primary_metric="rmse"), seed=0)
    assert out["rmse"] < 0.2
    assert metrics.selection_metric(Task("regression", primary_metric="rmse"), {"rmse": 0.5}) == ("rmse", -0.5)


def test_knn_caps_k_by_train_size():
    rng = np.random.default_rng(6)
    train = (rng.normal(size=(7, 4)), np.array([0, 1, 0, 1, 0, 1, 0]))
    val = (rng.normal(size=(5, 4)), rng.integers(0, 2, 5))
    out = probes.knn_probe(train, val, val, Task("multiclass"), seed=0)
    assert out["probe_k"] in (1.0, 5.0)


def test_probes_without_validation_choose_by_cv():
    train, _, test = _blobs(np.random.default_rng(7))
    empty = (np.zeros((0, 16)), np.zeros(0, dtype=np.int64))
    for probe in (probes.linear_probe, probes.knn_probe):
        out = probe(train, empty, test, Task("multiclass"))
        assert out.protocol.startswith("5-fold CV over 200 train+val samples") and out["accuracy"] > 0.9


# ----------------------------------------------------------------------------- val-only selection (many labels)
# few_labels=0 forces the many-label protocol on these small synthetic splits.


def _disagreeing_splits():
    """Weak binary signal; test = val features with flipped labels, so val and test disagree."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=20)

    def make(n):
        x = rng.normal(size=(n, 20))
        return x, ((x @ w) * 0.3 + rng.normal(size=n) * 1.5 > 0).astype(np.int64)

    train, val = make(80), make(200)
    return train, val, (val[0].copy(), 1 - val[1])


def test_linear_probe_chooses_C_on_val_not_test():
    train, val, test = _disagreeing_splits()
    task = Task("binary", primary_metric="accuracy")
    scaler = StandardScaler().fit(train[0])
    val_acc = [accuracy_score(val[1], LogisticRegression(C=C, max_iter=5000)
                              .fit(scaler.transform(train[0]), train[1]).predict(scaler.transform(val[0])))
               for C in probes.C_GRID]
    assert len(set(val_acc)) > 1  # the grid matters on this data
    expected = probes.C_GRID[int(np.argmax(val_acc))]
    out = probes.linear_probe(train, val, test, task, seed=0, few_labels=0)
    assert out["probe_C"] == pytest.approx(expected)
    assert out["accuracy"] == pytest.approx(1 - max(val_acc))  # the val-best is the test-worst
    assert out.protocol.startswith("chosen on val (200), fit on train (80)")


@pytest.mark.parametrize("probe", [probes.linear_probe, probes.knn_probe])
def test_test_labels_never_reach_selection(probe, monkeypatch):
    train, val, test = _disagreeing_splits()
    seen = []
    real = metrics.selection_score

    def spy(task, y, scores):
        seen.append(np.asarray(y).copy())
        return real(task, y, scores)

    monkeypatch.setattr(metrics, "selection_score", spy)
    probe(train, val, test, Task("binary", primary_metric="accuracy"), seed=0, few_labels=0)
    assert seen and all(np.array_equal(y, val[1]) for y in seen)
    assert not any(np.array_equal(y, test[1]) for y in seen)


def test_knn_chooses_k_on_val():
    train, val, test = _disagreeing_splits()
    task = Task("binary", primary_metric="accuracy")
    grid = [k for k in probes.K_GRID if k <= len(train[0])]
    sims, idx = probes.neighbours(train[0], val[0], max(grid))
    val_acc = [accuracy_score(val[1], probes.knn_scores(task, train[1], sims, idx, k, 2) >= 0.5) for k in grid]
    out = probes.knn_probe(train, val, test, task, seed=0, few_labels=0)
    assert out["probe_k"] == grid[int(np.argmax(val_acc))]


# ----------------------------------------------------------------------------- metrics


def test_multiclass_metrics_match_sklearn():
    y = np.array([0, 1, 2, 2, 1, 0, 2])
    p = np.array([[.7, .2, .1], [.2, .5, .3], [.1, .3, .6], [.3, .4, .3],
                  [.1, .8, .1], [.4, .4, .2], [.2, .2, .6]])
    out = metrics.metrics_for(Task("multiclass"), y, p)
    pred = p.argmax(1)
    assert out["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert out["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert out["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert out["auroc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))


def test_multiclass_hard_predictions_and_missing_class_have_no_auroc():
    y, pred = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    out = metrics.metrics_for(Task("multiclass"), y, pred)
    assert out["accuracy"] == 0.75 and "auroc" not in out
    out = metrics.metrics_for(Task("multiclass"), y, np.eye(3)[[0, 1, 0, 0]])  # class 2 absent
    assert "auroc" not in out


def test_binary_metrics_match_sklearn():
    y = np.array([0, 0, 1, 1, 1, 0])
    s = np.array([.1, .6, .8, .4, .9, .3])
    out = metrics.metrics_for(Task("binary"), y, s)
    pred = (s >= .5).astype(int)
    assert out["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert out["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert out["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert out["auroc"] == pytest.approx(roc_auc_score(y, s))
    assert out["auprc"] == pytest.approx(average_precision_score(y, s))
    assert metrics.metrics_for(Task("binary"), y, np.stack([1 - s, s], 1)) == out


def test_multilabel_metrics_match_sklearn_and_mask_nan():
    y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float)
    s = np.array([[.9, .2, .6], [.3, .7, .4], [.6, .4, .2], [.2, .1, .8], [.4, .3, .3]])
    out = metrics.metrics_for(Task("multilabel"), y, s)
    assert out["auroc"] == pytest.approx(roc_auc_score(y, s, average="macro"))
    assert out["auprc"] == pytest.approx(average_precision_score(y, s, average="macro"))
    assert out["macro_f1"] == pytest.approx(f1_score(y, s >= .5, average="macro", zero_division=0))

    y_nan = y.copy()
    y_nan[0, 0] = y_nan[3, 2] = np.nan
    out = metrics.metrics_for(Task("multilabel"), y_nan, s)
    keep0, keep2 = [1, 2, 3, 4], [0, 1, 2, 4]
    aurocs = [roc_auc_score(y[keep0, 0], s[keep0, 0]), roc_auc_score(y[:, 1], s[:, 1]),
              roc_auc_score(y[keep2, 2], s[keep2, 2])]
    assert out["auroc"] == pytest.approx(np.mean(aurocs))


def test_multilabel_skips_single_class_labels_for_auroc():
    y = np.array([[1, 0], [0, 0], [1, 0]], dtype=float)
    s = np.array([[.8, .1], [.3, .2], [.6, .4]])
    out = metrics.metrics_for(Task("multilabel"), y, s)
    assert out["auroc"] == pytest.approx(roc_auc_score(y[:, 0], s[:, 0]))


def test_regression_metrics_match_sklearn():
    y = np.array([1.0, 2.0, 3.5, 4.0, 0.5])
    p = np.array([1.2, 1.8, 3.0, 4.5, 0.4])
    out = metrics.metrics_for(Task("regression"), y, p)
    assert out["r2"] == pytest.approx(r2_score(y, p))
    assert out["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, p)))
    assert out["spearman"] == pytest.approx(spearmanr(y, p).statistic)


def test_multitask_regression_masks_nan_targets():
    y = np.array([[1.0, np.nan], [2.0, 5.0], [np.nan, 1.0], [4.0, 2.0], [3.0, 4.0]])
    p = np.array([[1.1, 9.0], [2.2, 4.0], [9.0, 1.5], [3.5, 2.5], [3.3, 3.0]])
    out = metrics.metrics_for(Task("regression"), y, p)
    per = []
    for j in range(2):
        k = ~np.isnan(y[:, j])
        per.append((r2_score(y[k, j], p[k, j]), math.sqrt(mean_squared_error(y[k, j], p[k, j])),
                    spearmanr(y[k, j], p[k, j]).statistic))
    r2, rmse, rho = np.mean(per, axis=0)
    assert out["r2"] == pytest.approx(r2)
    assert out["rmse"] == pytest.approx(rmse)
    assert out["spearman"] == pytest.approx(rho)


# ----------------------------------------------------------------------------- registry, seeds


def test_builtin_evaluators():
    specs = {s.name: s for s in probes.builtin_evaluators()}
    assert set(specs) == {"core/linear", "core/knn", "core/svm"}
    assert specs["core/linear"].evaluate is probes.linear_probe
    assert specs["core/knn"].evaluate is probes.knn_probe
    assert specs["core/svm"].tasks == ("multiclass", "binary") and specs["core/svm"].modalities == ("sequence",)
    assert "core/svm" in Recipe("x/y", "x/d", "x/e", "x/p").evaluators  # a default, skipped off sequences


def test_summarize_mean_and_std():
    out = metrics.summarize([{"acc": 0.8, "k": 5}, {"acc": 0.9, "k": 5}, {"acc": 1.0, "k": 10, "note": "x"}])
    assert out["acc"][0] == pytest.approx(0.9)
    assert out["acc"][1] == pytest.approx(np.std([0.8, 0.9, 1.0], ddof=1))
    assert "note" not in out
    assert metrics.summarize([{"acc": 0.7}]) == {"acc": (0.7, 0.0)}
    assert metrics.summarize([{"C": math.inf}, {"C": math.inf}]) == {"C": (math.inf, 0.0)}
    nan = metrics.summarize([{"a": float("nan")}, {"a": float("nan")}])["a"]
    assert math.isnan(nan[0])
    assert metrics.summarize([{"a": 1.0}, {"a": float("nan")}, {"a": 3.0}])["a"] == (2.0, pytest.approx(math.sqrt(2)))


# ----------------------------------------------------------------------------- few labels: k-fold CV


def _few(rng, n_fit=40, n_test=60, d=10, shift=0.6):
    """A weak binary signal: the grid matters, and CV has something to choose."""
    w = rng.normal(size=d)

    def make(n):
        x = rng.normal(size=(n, d))
        return x, ((x @ w) * shift + rng.normal(size=n) > 0).astype(np.int64)

    return make(n_fit), make(n_test)


def test_cv_folds_stratified_k_from_smallest_class():
    task = Task("multiclass")
    y = np.array([0] * 10 + [1] * 3 + [2] * 7)
    folds = metrics.cv_folds(task, y, seed=0)
    assert len(folds) == 3  # min(5, smallest class 3)
    held = np.concatenate([h for _, h in folds])
    assert sorted(held) == list(range(20))  # every row held out once
    assert all(set(y[h]) == {0, 1, 2} for _, h in folds)  # stratified
    assert [list(h) for _, h in folds] == [list(h) for _, h in metrics.cv_folds(task, y, seed=0)]  # seeded
    assert len(metrics.cv_folds(task, np.array([0] * 9 + [1]), seed=0)) == 2  # at least 2
    assert len(metrics.cv_folds(Task("regression"), np.arange(30.0), seed=0)) == 5


def test_cv_chooses_on_folds_and_refits_on_all():
    rng = np.random.default_rng(11)
    (x, y), test = _few(rng)
    fit, val = (x[:30], y[:30]), (x[30:], y[30:])  # train + val: both take part in CV
    task = Task("binary", primary_metric="accuracy")
    folds = metrics.cv_folds(task, y, seed=0)
    keys = []  # mean fold accuracy (the primary), ties broken by mean AUROC, then balanced accuracy
    for C in probes.C_GRID:
        scores = []
        for a, b in folds:
            sc = StandardScaler().fit(x[a])
            model = LogisticRegression(C=C, max_iter=5000, random_state=0).fit(sc.transform(x[a]), y[a])
            p = model.predict_proba(sc.transform(x[b]))[:, 1]
            scores.append((accuracy_score(y[b], p >= 0.5), roc_auc_score(y[b], p),
                           balanced_accuracy_score(y[b], p >= 0.5)))
        keys.append(tuple(np.mean(scores, axis=0)))
    out = probes.linear_probe(fit, val, test, task, seed=0)
    best = max(range(len(keys)), key=lambda i: (keys[i], -i))
    assert out["probe_C"] == pytest.approx(probes.C_GRID[best])
    assert len({round(k[0], 6) for k in keys}) > 1  # the grid matters on this data
    sc = StandardScaler().fit(x)  # refit on all 40 labelled non-test samples
    refit = LogisticRegression(C=out["probe_C"], max_iter=5000, random_state=0).fit(sc.transform(x), y)
    assert out["accuracy"] == pytest.approx(accuracy_score(test[1], refit.predict(sc.transform(test[0]))))
    assert out.protocol == (f"{len(folds)}-fold CV over 40 train+val samples, refit on all; "
                            f"C in {{0.001, 0.01, 0.1, 1, 10, 100, 1000}}: C={out['probe_C']:g}")


@pytest.mark.parametrize("probe", [probes.linear_probe, probes.knn_probe, svm.svm_probe])
def test_cv_choice_ignores_test_labels(probe, monkeypatch):
    rng = np.random.default_rng(12)
    (x, y), (xt, yt) = _few(rng, n_fit=80)
    task = Task("binary")
    train, val = (x[:64], y[:64]), (x[64:], y[64:])
    setting = "probe_k" if probe is probes.knn_probe else "probe_C"
    first = probe(train, val, (xt, yt), task, seed=0)
    flipped = probe(train, val, (xt, 1 - yt), task, seed=0)
    shuffled = probe(train, val, (xt, rng.permutation(yt)), task, seed=0)
    assert first[setting] == flipped[setting] == shuffled[setting]
    assert first.protocol == flipped.protocol == shuffled.protocol


@pytest.mark.parametrize("probe", [probes.linear_probe, probes.knn_probe])
def test_cv_never_scores_on_test(probe, monkeypatch):
    rng = np.random.default_rng(13)
    (x, y), test = _few(rng)
    seen = []
    real = metrics.selection_score

    def spy(task, yy, scores):
        seen.append(len(yy))
        return real(task, yy, scores)

    monkeypatch.setattr(metrics, "selection_score", spy)
    empty = (np.zeros((0, x.shape[1])), np.zeros(0, np.int64))
    probe((x, y), empty, test, Task("binary"), seed=0)
    assert seen and set(seen) == {8}  # 5 folds of the 40 labelled non-test samples, never the 60 test


def test_many_labels_keep_val_selection():
    rng = np.random.default_rng(14)
    (x, y), test = _few(rng, n_fit=1100)
    train, val = (x[:900], y[:900]), (x[900:], y[900:])
    out = probes.linear_probe(train, val, test, Task("binary"), seed=0)
    assert out.protocol.startswith("chosen on val (200), fit on train (900)")
    assert probes.uses_cv(900, 0) and probes.uses_cv(500, 100) and not probes.uses_cv(900, 100)


def test_single_class_prediction_is_flagged():
    rng = np.random.default_rng(15)
    x, xt = rng.normal(size=(60, 5)), rng.normal(size=(50, 5))
    y = np.array([0] * 54 + [1] * 6)  # noise features, 9:1 labels: the probe learns the majority
    empty = (np.zeros((0, 5)), np.zeros(0, np.int64))
    out = probes.linear_probe((x, y), empty, (xt, rng.integers(0, 2, 50)), Task("binary", primary_metric="accuracy"))
    assert out["probe_single_class"] == 1.0
    train, val, test = _blobs(np.random.default_rng(0))
    assert probes.linear_probe(train, val, test, Task("multiclass"))["probe_single_class"] == 0.0
    task = Task("multiclass")
    assert metrics.single_class_prediction(task, [0, 1, 2], [1, 1, 1]) == 1.0
    assert metrics.single_class_prediction(task, [0, 0, 0], [0, 0, 0]) == 0.0  # trained on one class
    assert metrics.single_class_prediction(task, [0, 1], [0, 1, 1]) == 0.0
    assert metrics.single_class_prediction(task, [0, 1], [1, 1], y_test=[1, 1]) == 0.0  # test of one class: no say
    assert metrics.single_class_prediction(task, [0, 1], [1, 1], y_test=[0, 1]) == 1.0


# ----------------------------------------------------------------------------- SVM (UCR protocol)


def test_svm_infinite_C_rule():
    assert svm.uses_infinite_C(np.array([0, 1] * 24))  # 48 < 50
    assert not svm.uses_infinite_C(np.array([0, 1] * 25))  # 50, 25 per class
    assert svm.uses_infinite_C(np.array(list(range(13)) * 4 + [0] * 8))  # 60 // 13 = 4 < 5 per class
    assert svm.C_GRID[-1] == math.inf and svm.C_GRID[0] == 1e-4 and len(svm.C_GRID) == 10
    train, val, test = _blobs(np.random.default_rng(16), n_per_split=(20, 3, 50), n_classes=2)
    out = svm.svm_probe(train, val, test, Task("binary"), seed=0)
    assert out["probe_C"] == math.inf and out.protocol.startswith("C=inf without search (23 train+val samples")
    assert out["accuracy"] > 0.9 and out["auroc"] > 0.95


def test_svm_grid_search_matches_sklearn():
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    rng = np.random.default_rng(17)
    (x, y), (xt, yt) = _few(rng, n_fit=120)
    empty = (np.zeros((0, x.shape[1])), np.zeros(0, np.int64))
    out = svm.svm_probe((x, y), empty, (xt, yt), Task("binary"), seed=0)
    ref = GridSearchCV(SVC(kernel="rbf", gamma="scale"), {"C": list(svm.C_GRID)}, cv=5).fit(x, y)
    assert out["probe_C"] == ref.best_params_["C"]
    assert out["accuracy"] == pytest.approx(accuracy_score(yt, ref.predict(xt)))
    assert out["auroc"] == pytest.approx(roc_auc_score(yt, ref.decision_function(xt)))
    assert out.protocol.startswith("5-fold stratified CV (accuracy) over 120 train+val samples")


def test_svm_multiclass_auroc_from_decision():
    train, val, test = _blobs(np.random.default_rng(18), n_per_split=(60, 0, 90), n_classes=3)
    out = svm.svm_probe(train, val, test, Task("multiclass"), seed=0)
    assert out["accuracy"] > 0.9 and out["auroc"] > 0.95 and out["probe_single_class"] == 0.0


def test_undefined_metrics_say_why():
    assert metrics.undefined_metrics(Task("binary", ("a", "b")), [1, 1, 1]) == {
        "auroc": "the test split holds one class (b)", "auprc": "the test split holds one class (b)"}
    assert metrics.undefined_metrics(Task("multiclass", ("a", "b", "c")), [0, 1, 0]) == {
        "auroc": "classes missing from the test split (c)"}
    assert metrics.undefined_metrics(Task("multiclass", ("a", "b", "c")), [0, 1, 2]) == {}
    assert set(metrics.undefined_metrics(Task("regression"), [2.0, 2.0])) == {"r2", "spearman"}
