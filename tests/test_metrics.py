"""Tests of seqcnn.metrics: vectorised bootstrap AUCs against scikit-learn, metric blocks per task."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from seqcnn import metrics


def test_bootstrap_auc_equals_sklearn_with_sample_weights():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.4
    s = np.round(rng.normal(size=300) + y, 1)  # rounding makes ties, which sklearn groups
    w = rng.multinomial(300, np.full(300, 1 / 300), size=5).astype(float)
    roc, pr = metrics._bootstrap_auc(y, s, w)
    for b in range(5):
        assert roc[b] == pytest.approx(roc_auc_score(y, s, sample_weight=w[b]), abs=1e-12)
        assert pr[b] == pytest.approx(average_precision_score(y, s, sample_weight=w[b]), abs=1e-12)
    roc, pr = metrics._bootstrap_auc(y, s, np.ones((1, 300)))
    assert roc[0] == pytest.approx(roc_auc_score(y, s)) and pr[0] == pytest.approx(average_precision_score(y, s))


def test_binary_metrics_keys_values_and_intervals():
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.5).astype(int)
    p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, 400), 0, 1)
    m = metrics.compute_metrics("binary", y, p, n_boot=300)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, p))
    assert m["auprc"] == pytest.approx(average_precision_score(y, p))
    assert m["n"] == 400 and m["n_pos"] == y.sum()
    assert m["auroc_ci"][0] < m["auroc"] < m["auroc_ci"][1] and m["auprc_ci"][0] < m["auprc"] < m["auprc_ci"][1]
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    assert tn + fp + fn + tp == 400 and tp == ((p >= 0.5) & (y == 1)).sum()
    assert m["accuracy"] == pytest.approx((tp + tn) / 400)
    # perfect scores → auROC 1 with a degenerate interval; single class → undefined (None), not a crash
    assert metrics.compute_metrics("binary", y, y.astype(float), n_boot=50)["auroc_ci"] == [1.0, 1.0]
    one = metrics.compute_metrics("binary", np.ones(5, int), np.linspace(0, 1, 5), n_boot=20)
    assert one["auroc"] is None and one["auroc_ci"] is None


def test_multiclass_and_multilabel_metrics():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300)
    prob = rng.dirichlet(np.ones(3), 300) + np.eye(3)[y] * 0.5
    prob /= prob.sum(1, keepdims=True)
    m = metrics.compute_metrics("multiclass", y, prob, names=["a", "b", "c"], n_boot=100)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, prob, multi_class="ovr", average="macro"))
    assert set(m["per_class"]) == {"a", "b", "c"} and np.array(m["confusion_matrix"]).sum() == 300
    assert m["accuracy"] == pytest.approx((prob.argmax(1) == y).mean()) and len(m["auroc_ci"]) == 2
    yl = (rng.random((300, 2)) < 0.5).astype(int)
    pl = np.clip(yl * 0.4 + rng.random((300, 2)) * 0.6, 0, 1)
    ml = metrics.compute_metrics("multilabel", yl, pl, names=["x", "y"], n_boot=100)
    assert ml["auroc"] == pytest.approx(roc_auc_score(yl, pl, average="macro"))
    assert ml["per_label"]["y"]["auroc"] == pytest.approx(roc_auc_score(yl[:, 1], pl[:, 1]))
    assert ml["subset_accuracy"] == pytest.approx(((pl >= 0.5) == yl).all(1).mean())
