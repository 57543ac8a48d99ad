"""Classification metrics with bootstrap intervals, and logits → probabilities (numpy / scikit-learn only).

Provides :func:`compute_metrics` (auROC, auPRC with 95 % bootstrap intervals, accuracy, MCC,
confusion matrix; macro averages and per-class / per-label blocks for multiclass and
multilabel), :func:`link` (sigmoid or softmax of logits) and :func:`curve_sets` (the
per-output binary problems that ROC/PR figures draw). Imports no TensorFlow, so metrics can
be computed on any predictions.
"""

import numpy as np

from .errors import SeqcnnError


def _bootstrap_auc(y, s, weights):
    """AUROC and average precision of one binary problem under many sample weightings at once.

    Equivalent to ``sklearn.metrics.roc_auc_score`` / ``average_precision_score`` with
    ``sample_weight=w`` for each row ``w`` (a bootstrap resample given as counts); vectorised
    because 1000 sklearn calls per metric would dominate evaluation time.

    Parameters
    ----------
    y : np.ndarray, shape=(n,), bool
    s : np.ndarray, shape=(n,) — scores, higher = more positive.
    weights : np.ndarray, shape=(B, n)

    Returns
    -------
    auroc, auprc : np.ndarray, shape=(B,) — NaN where a resample lacks a class.
    """
    order = np.argsort(-s, kind="mergesort")
    y, s, weights = y[order], s[order], weights[:, order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each group of tied scores
    tp = np.cumsum(weights * y, axis=1)[:, last]
    fp = np.cumsum(weights * ~y, axis=1)[:, last]
    pos, neg = tp[:, -1:], fp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.c_[np.zeros(len(tp)), tp / pos]
        fpr = np.c_[np.zeros(len(fp)), fp / neg]
        auroc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2, axis=1)
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 1.0)
        recall = np.c_[np.zeros(len(tp)), tp / pos]
        auprc = np.sum(np.diff(recall, axis=1) * precision, axis=1)
    bad = (pos[:, 0] == 0) | (neg[:, 0] == 0)
    auroc[bad] = np.nan
    auprc[bad] = np.nan
    return auroc, auprc


def _ci(values):
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def _binary_block(y, p, threshold=0.5):
    from sklearn.metrics import (accuracy_score, average_precision_score, confusion_matrix, matthews_corrcoef,
                                 roc_auc_score)

    import warnings

    y = np.asarray(y).astype(int)
    pred = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    with warnings.catch_warnings():
        # One class in y and predictions: MCC is 0 by definition; sklearn warns about it.
        warnings.simplefilter("ignore", UserWarning)
        mcc = float(matthews_corrcoef(y, pred))
    return {
        "auroc": float(roc_auc_score(y, p)) if both else None,
        "auprc": float(average_precision_score(y, p)) if both else None,
        "accuracy": float(accuracy_score(y, pred)),
        "mcc": mcc,
        "n": int(len(y)), "n_pos": int(y.sum()),
        "confusion_matrix": confusion_matrix(y, pred, labels=[0, 1]).tolist(),
    }


def compute_metrics(task, y, prob, names=None, n_boot=1000, seed=0, threshold=0.5):
    """Classification metrics with scikit-learn, plus 95% bootstrap intervals of auROC and auPRC.

    Parameters
    ----------
    task : {'binary', 'multiclass', 'multilabel'}
    y : np.ndarray — shape=(n,) 0/1 (binary), shape=(n,) class index (multiclass), shape=(n, T) 0/1 (multilabel).
    prob : np.ndarray — shape=(n,) or (n, 1) (binary), shape=(n, C) (multiclass), shape=(n, T) (multilabel).
    names : list of str — class names (multiclass) or label names (multilabel).
    n_boot : int — bootstrap resamples for the intervals (0: none).

    Returns
    -------
    dict — top level ``auroc``, ``auprc``, ``accuracy``, ``mcc``, ``n``, ``auroc_ci``, ``auprc_ci``,
    ``confusion_matrix`` (rows = true, columns = predicted, at ``threshold`` for binary); multi-output
    tasks report macro averages at top level and per-class / per-label blocks.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, matthews_corrcoef

    y = np.asarray(y)
    prob = np.asarray(prob, dtype=np.float64)
    n = len(y)
    if task == "binary":
        prob = prob.reshape(n)
        out = _binary_block(y, prob, threshold)
        out["threshold"] = threshold
        problems = [(y.astype(bool), prob)]
    elif task == "multiclass":
        k = prob.shape[1]
        names = list(names) if names else [str(i) for i in range(k)]
        pred = prob.argmax(axis=1)
        per = {names[c]: _binary_block(y == c, prob[:, c]) for c in range(k)}
        aurocs = [v["auroc"] for v in per.values() if v["auroc"] is not None]
        auprcs = [v["auprc"] for v in per.values() if v["auprc"] is not None]
        out = {
            "auroc": float(np.mean(aurocs)) if aurocs else None, "auprc": float(np.mean(auprcs)) if auprcs else None,
            "accuracy": float(accuracy_score(y, pred)), "mcc": float(matthews_corrcoef(y, pred)), "n": int(n),
            "average": "macro, one-vs-rest", "confusion_matrix": confusion_matrix(y, pred, labels=range(k)).tolist(),
            "class_names": names, "per_class": per,
        }
        problems = [(y == c, prob[:, c]) for c in range(k)]
    elif task == "multilabel":
        t = prob.shape[1]
        names = list(names) if names else [str(i) for i in range(t)]
        per = {names[j]: _binary_block(y[:, j], prob[:, j], threshold) for j in range(t)}
        aurocs = [v["auroc"] for v in per.values() if v["auroc"] is not None]
        auprcs = [v["auprc"] for v in per.values() if v["auprc"] is not None]
        pred = (prob >= threshold).astype(int)
        out = {
            "auroc": float(np.mean(aurocs)) if aurocs else None, "auprc": float(np.mean(auprcs)) if auprcs else None,
            "accuracy": float(np.mean([v["accuracy"] for v in per.values()])),
            "subset_accuracy": float(accuracy_score(y, pred)),
            "mcc": float(np.mean([v["mcc"] for v in per.values()])), "n": int(n),
            "average": "macro over labels", "threshold": threshold, "label_names": names, "per_label": per,
        }
        problems = [(y[:, j].astype(bool), prob[:, j]) for j in range(t)]
    else:
        raise SeqcnnError(f"unknown task {task!r}")
    out["auroc_ci"] = out["auprc_ci"] = None
    if n_boot and n > 1:
        rng = np.random.default_rng(seed)
        per_block = max(1, int(2e7 // max(n, 1)))  # bound memory of the weight matrix
        roc_all, pr_all = [], []
        for start in range(0, n_boot, per_block):
            w = rng.multinomial(n, np.full(n, 1.0 / n), size=min(per_block, n_boot - start)).astype(np.float64)
            pairs = [_bootstrap_auc(yy, ss, w) for yy, ss in problems]
            with np.errstate(all="ignore"), _quiet_nanmean():
                roc_all.append(np.nanmean([r for r, _ in pairs], axis=0))
                pr_all.append(np.nanmean([p for _, p in pairs], axis=0))
        out["auroc_ci"], out["auprc_ci"] = _ci(np.concatenate(roc_all)), _ci(np.concatenate(pr_all))
        out["n_boot"] = int(n_boot)
    return out


class _quiet_nanmean:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def link(task, logits):
    """Logits → probabilities: sigmoid (binary, multilabel) or softmax (multiclass)."""
    logits = np.asarray(logits, np.float64)
    if task == "multiclass":
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    return 0.5 * (1.0 + np.tanh(0.5 * logits))  # the logistic function without overflow warnings


def curve_sets(task, y, prob, ds_names):
    """Per-output (label, y_true 0/1, score) triples for ROC/PR figures."""
    if task == "binary":
        return [("", np.asarray(y).astype(int), np.asarray(prob).reshape(-1))]
    if task == "multiclass":
        return [(ds_names[c], (np.asarray(y) == c).astype(int), prob[:, c]) for c in range(prob.shape[1])]
    return [(ds_names[j], np.asarray(y)[:, j].astype(int), prob[:, j]) for j in range(prob.shape[1])]
