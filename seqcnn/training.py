"""Train, evaluate and predict; the run directory.

A training run is a directory::

    RUN/model.keras     the best model (logit outputs), loadable with keras.models.load_model
    RUN/config.json     everything needed to reproduce the run (architecture, hyper-parameters,
                        training options, data file sha256, split sizes, length policy, versions)
    RUN/history.csv     one row per epoch: training loss, validation loss and metrics
    RUN/metrics.json    metrics per split (train / val / test where non-empty)
    RUN/plots/          training curves, ROC and PR curves (PNG)

While training, the directory is built as ``RUN.partial`` beside it (with a
``checkpoint/`` of the last epoch) and renamed to ``RUN`` only when complete, so an
error never leaves a half-written run, and an interrupted run can be continued with
``resume=True``.

The data pipeline reads the HDF5 file in whole chunks: each epoch visits the chunks
holding training records in a random order, in groups of ``buffer_chunks`` whose
records are shuffled together. The epoch's order is a function of (seed, epoch)
only, so a training set loaded into memory (when it fits ``memory_budget_mb``) and
one streamed from disk yield identical batches and identical models. Batches
travel as uint8 and are cast to float32 (and optionally reverse-complemented)
inside the TensorFlow graph.
"""

import json
import math
import os
import shutil
import sys
import time

import numpy as np

from ._version import __version__
from .errors import InputFormatError, ModelMismatchError, OutputExistsError, SeqcnnError
from .store import utc_now

MONITORS = ("val_auprc", "val_auroc", "val_accuracy", "val_mcc", "val_loss")
# Chosen by benchmarks/bench_accuracy.py: with 800-sequence data sets, batch 128 and 30 epochs gave too few
# optimizer steps (best epochs at the limit, early stops at epoch 1 on noisy 80-sequence validation sets).
TRAIN_DEFAULTS = {
    "epochs": 50,
    "batch_size": 32,
    "lr": 1e-3,
    "patience": 10,
    "seed": 0,
    "class_weight": None,
    "rc_augment": True,
    "monitor": None,  # resolved per task: val_auprc (binary), val_auroc (multiclass / multilabel)
    "buffer_chunks": 16,
}
SPLITS = ("train", "val", "test")
MODEL_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE, PLOTS_DIR = (
    "model.keras", "config.json", "history.csv", "metrics.json", "plots")
CHECKPOINT_DIR = "checkpoint"


def _tf():
    from ._tf import import_tf

    return import_tf()


def _keras():
    from ._tf import import_keras

    return import_keras()


# ----------------------------------------------------------------------------------------------------------------
# metrics


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


# ----------------------------------------------------------------------------------------------------------------
# data pipeline


def epoch_order(indices, chunk_records, buffer_chunks, seed, epoch, return_groups=False):
    """The order in which one epoch visits the training records.

    Chunks (runs of ``chunk_records`` records on disk) come in a random order; each group
    of ``buffer_chunks`` consecutive chunks in that order is shuffled internally. A pure
    function of its arguments, so every pipeline (in memory or streamed) agrees.

    Parameters
    ----------
    indices : np.ndarray, shape=(n,) — record indices of the split, ascending.
    return_groups : bool — also return where each chunk group starts in the order.

    Returns
    -------
    order : np.ndarray, shape=(n,) — a permutation of ``indices``.
    bounds : np.ndarray, shape=(n_groups + 1,) — only with ``return_groups``: group g is
        ``order[bounds[g]:bounds[g+1]]``.
    """
    rng = np.random.default_rng([int(seed), int(epoch)])
    chunk_of = indices // chunk_records
    chunks = np.unique(chunk_of)
    rank = np.empty(chunks.max() + 1 if len(chunks) else 0, np.int64)
    rank[rng.permutation(chunks)] = np.arange(len(chunks))
    group = rank[chunk_of] // max(1, int(buffer_chunks))
    sort = np.lexsort((rng.random(len(indices)), group))
    if not return_groups:
        return indices[sort]
    bounds = np.r_[0, np.flatnonzero(np.diff(group[sort])) + 1, len(indices)]
    return indices[sort], bounds


class _Source:
    """Reads one-hot rows of a dataset: all in memory (``x`` given) or chunk-wise from HDF5."""

    def __init__(self, ds, indices=None, in_memory=False):
        self.ds = ds
        self.in_memory = in_memory
        if in_memory:
            self.indices = np.sort(np.asarray(indices))
            self.x = ds.read_x(self.indices)

    def rows(self, idx):
        """Rows ``idx`` (global record indices), uint8 shape=(len(idx), L, 4), in that order."""
        if self.in_memory:
            return self.x[np.searchsorted(self.indices, idx)]
        cr = self.ds.chunk_records
        chunk_of = idx // cr
        chunks = np.unique(chunk_of)
        # Whole-chunk reads (one decompression each), then a gather: never record-at-a-time HDF5 access.
        blocks = np.concatenate([self.ds.read_chunk(c) for c in chunks])
        starts = np.zeros(chunks.max() + 1, np.int64)
        starts[chunks] = np.arange(len(chunks)) * cr
        return blocks[starts[chunk_of] + idx % cr]

    def ordered(self, idx, batch_size):
        """Yield uint8 batches of rows ``idx`` (ascending) in order; reads the file a block of chunks at a time."""
        step = max(batch_size, self.ds.chunk_records * 16)
        pending = []
        for start in range(0, len(idx), step):
            pending.append(self.rows(idx[start:start + step]))
            buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
            cut = len(buf) // batch_size * batch_size
            for b in range(0, cut, batch_size):
                yield buf[b:b + batch_size]
            pending = [buf[cut:]] if cut < len(buf) else []
        if pending and len(pending[0]):
            yield pending[0]


def _targets(task, y):
    if task == "binary":
        return np.asarray(y, np.float32).reshape(-1, 1)
    if task == "multiclass":
        return np.asarray(y, np.int32)
    return np.asarray(y, np.float32)


def _link(task, logits):
    """Logits → probabilities: sigmoid (binary, multilabel) or softmax (multiclass)."""
    logits = np.asarray(logits, np.float64)
    if task == "multiclass":
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    return 0.5 * (1.0 + np.tanh(0.5 * logits))  # the logistic function without overflow warnings


def _loss_numpy(task, y, logits, weights=None):
    """Mean cross-entropy from logits (the training loss), for validation: float."""
    logits = np.asarray(logits, np.float64)
    if task == "multiclass":
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        per = -logp[np.arange(len(y)), np.asarray(y, int)]
    else:
        t = _targets(task, y).astype(np.float64)
        pw = 1.0 if weights is None else np.asarray(weights)[None, :]
        # log(1 + exp(-|z|)) + max(z, 0) - z t, with positives weighted by pw (weighted_cross_entropy_with_logits)
        per = ((1 - t) * logits + (1 + (pw - 1) * t) * (np.log1p(np.exp(-np.abs(logits))) + np.maximum(-logits, 0)))
        per = per.mean(axis=1)
    return float(per.mean())


class _Forward:
    """A traced, inference-mode forward pass: uint8 one-hot batches in, logits out."""

    def __init__(self, model, length):
        tf = _tf()
        self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, length, 4], tf.uint8)], reduce_retracing=True)
        def fwd(x):
            return model(tf.cast(x, tf.float32), training=False)

        self.fn = fwd

    def __call__(self, batches):
        out = [self.fn(b).numpy() for b in batches]
        return np.concatenate(out) if out else np.zeros((0, self.model.output_shape[-1]), np.float32)


def training_dataset(source, indices, targets, sample_weight, batch_size, seed, buffer_chunks, rc_augment,
                     start_epoch, epochs, replicas=None):
    """The training batches of epochs ``start_epoch .. epochs - 1`` as one ``tf.data.Dataset``.

    Each epoch follows :func:`epoch_order`; whole chunk groups are read at a time (from memory
    or HDF5) and cut into batches. Elements are ``(x float32 [b, L, 4], y, sample_weight [b])``;
    the uint8 → float32 cast and the random reverse complement (``rc_augment``, a pure function
    of seed and epoch) run inside the graph.

    Parameters
    ----------
    source : _Source — where rows come from (in memory or streamed).
    indices : np.ndarray, shape=(n,) — the training records, ascending.
    targets : np.ndarray — per record of the file, shape=(N, 1) float (binary), (N,) int (multiclass), (N, T).
    sample_weight : np.ndarray, shape=(N,), float32
    batch_size : int — the global batch (all replicas of a step together).
    replicas : tuple of int, optional — ``(first, count, total)``: instead of whole batches, yield
        replica batches ``first .. first + count - 1`` of each global batch cut into ``total``
        consecutive slices of ``ceil(b / total)`` rows (the last ones padded with zero-weight rows,
        weights rescaled so the replicas' losses add up to the global batch's); ``None``: whole batches.
    """
    tf = _tf()
    ds = source.ds
    L, bs = ds.length, int(batch_size)

    def batches():
        for epoch in range(start_epoch, epochs):
            order, bounds = epoch_order(indices, ds.chunk_records, buffer_chunks, seed, epoch, return_groups=True)
            flips = np.random.default_rng([int(seed), int(epoch), 1]).random(len(order)) < 0.5
            if not rc_augment:
                flips[:] = False
            pending = None
            # One read per chunk group: each chunk is read (decompressed) once per epoch.
            for start, stop in zip(bounds[:-1], bounds[1:]):
                x = source.rows(order[start:stop])
                if pending is not None:
                    x = np.concatenate([pending, x])
                base = start - (0 if pending is None else len(pending))
                # Batches may span two reads (carried as `pending`), so batch boundaries depend only on the order.
                cut = len(x) // bs * bs if stop < len(order) else len(x)
                for b in range(0, cut, bs):
                    sel = order[base + b:base + b + bs]
                    batch = x[b:b + bs], targets[sel], sample_weight[sel], flips[base + b:base + b + bs]
                    if replicas is None:
                        yield batch
                        continue
                    # Every replica gets m rows: its slice, padded with zero-weight rows when the batch does not
                    # split evenly (replica batches of one shape, as tf.distribute and Keras expect). Keras
                    # averages each replica's loss over its m rows and sums the replicas / total; weighting the
                    # rows by m * total / rows (1.0 when the batch splits evenly) makes that sum the loss of
                    # the global batch, the same as without a strategy.
                    first, count, total = replicas
                    n = len(sel)
                    m = -(-n // total)
                    scale = np.float32(m * total / n)
                    for r in range(first, first + count):
                        lo, hi = min(r * m, n), min((r + 1) * m, n)
                        part = [a[lo:hi] for a in batch]
                        part[2] = part[2] * scale
                        if hi - lo < m:
                            part = [np.concatenate([a, np.zeros((m - (hi - lo),) + a.shape[1:], a.dtype)])
                                    for a in part]
                        yield tuple(part)
                pending = x[cut:] if cut < len(x) else None

    multiclass = targets.ndim == 1
    sig = (tf.TensorSpec([None, L, 4], tf.uint8),
           tf.TensorSpec([None] if multiclass else [None, targets.shape[1]], tf.int32 if multiclass else tf.float32),
           tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.bool))

    def to_model(x, y, w, flip):
        # uint8 → float32 and the reverse complement (flip length and A C G T) happen in the graph, per batch.
        x = tf.cast(x, tf.float32)
        x = tf.where(flip[:, None, None], tf.reverse(x, axis=[1, 2]), x)
        return x, y, w

    return tf.data.Dataset.from_generator(batches, output_signature=sig).map(to_model).prefetch(4)


# ----------------------------------------------------------------------------------------------------------------
# configuration


def _versions():
    import platform

    import h5py
    import sklearn

    tf, keras = _tf(), _keras()
    return {"seqcnn": __version__, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__, "h5py": h5py.__version__,
            "scikit-learn": sklearn.__version__}


def load_config(path):
    """Read a run configuration (a run directory's ``config.json``, or that file)."""
    path = str(path)
    if os.path.isdir(path):
        path = os.path.join(path, CONFIG_FILE)
    if not os.path.exists(path):
        raise InputFormatError("configuration file not found", path=path,
                               hint="give a run directory's config.json or a JSON file with 'arch' and 'hparams'")
    try:
        with open(path) as fh:
            cfg = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"not valid JSON ({exc})", path=path,
                               hint="repair the file, or re-train the run it belongs to") from None
    if not isinstance(cfg, dict):
        raise InputFormatError("a configuration must be a JSON object", path=path)
    unknown = sorted(set(cfg) - {"arch", "hparams", "training", "data", "versions", "created", "command",
                                 "seqcnn_run", "model", "pipeline", "result", "distribute"})
    if unknown:
        raise InputFormatError(f"unknown configuration key(s) {', '.join(unknown)}", path=path,
                               hint="expected keys: arch, hparams, training")
    for section in ("hparams", "training", "model", "data"):
        if cfg.get(section) is not None and not isinstance(cfg[section], dict):
            raise InputFormatError(f"'{section}' must be a JSON object, not {type(cfg[section]).__name__}",
                                   path=path, hint='e.g. {"hparams": {"filters": 64}}')
    training = cfg.get("training", {}) or {}
    bad = sorted(set(training) - set(TRAIN_DEFAULTS))
    if bad:
        raise InputFormatError(f"unknown training option(s) {', '.join(bad)}", path=path,
                               hint=f"training options are {', '.join(TRAIN_DEFAULTS)}")
    return cfg


def resolve_config(ds, arch=None, hparams=None, config=None, **options):
    """Merge defaults < ``config`` (a dict or file) < explicit arguments into one run configuration.

    Parameters
    ----------
    ds : SeqDataset — the training data (task, length, outputs).
    arch : str, optional
    hparams : dict, optional — architecture hyper-parameters; strings are converted with ``coerce_param``.
    config : dict or str, optional — a previous run's config.json (or a file with ``arch``/``hparams``/``training``).
    **options — training options (``TRAIN_DEFAULTS``); ``None`` means "from config or default".

    Returns
    -------
    dict with ``arch``, ``hparams`` (complete, defaults filled in) and ``training``.
    """
    from . import models

    base = {}
    cfg_path = str(config) if isinstance(config, (str, os.PathLike)) else None
    if config is not None:
        base = load_config(config) if cfg_path else dict(config)
    arch = arch or base.get("arch") or models.DEFAULT_ARCH
    defaults = models.hyperparameters(arch)
    hp = dict(defaults)
    if base.get("arch", arch) == arch:
        for k, v in (base.get("hparams") or {}).items():
            if k not in defaults:
                raise SeqcnnError(f"configuration sets {k!r}, which architecture {arch!r} does not have",
                                  path=cfg_path, hint=f"its parameters are {', '.join(defaults)}")
            try:
                hp[k] = models.coerce_param(arch, k, v)  # a hand-written file may hold "64" or 64.5: checked alike
            except SeqcnnError as exc:
                raise SeqcnnError(str(exc), path=cfg_path) from None
    for k, v in (hparams or {}).items():
        hp[k] = models.coerce_param(arch, k, v)
    unknown = sorted(set(options) - set(TRAIN_DEFAULTS))
    if unknown:
        raise SeqcnnError(f"unknown training option(s) {', '.join(unknown)}")
    training = dict(TRAIN_DEFAULTS)
    training.update({k: v for k, v in (base.get("training") or {}).items() if k in TRAIN_DEFAULTS})
    training.update({k: v for k, v in options.items() if v is not None})
    if training["monitor"] is None:
        training["monitor"] = "val_auprc" if ds.task == "binary" else "val_auroc"
    _check_training(training, ds)
    return {"arch": arch, "hparams": hp, "training": training}


def _check_training(t, ds):
    for name in ("epochs", "batch_size", "buffer_chunks"):
        if not isinstance(t[name], (int, np.integer)) or isinstance(t[name], bool) or t[name] < 1:
            raise SeqcnnError(f"--{name.replace('_', '-')} must be a positive integer, got {t[name]!r}")
    if not isinstance(t["patience"], (int, np.integer)) or t["patience"] < 0:
        raise SeqcnnError(f"--patience must be an integer >= 0, got {t['patience']!r}")
    if not (isinstance(t["lr"], (int, float)) and 0 < t["lr"] < 10):
        raise SeqcnnError(f"--lr must be a positive number, got {t['lr']!r}")
    if t["class_weight"] not in (None, "balanced"):
        raise SeqcnnError(f"--class-weight must be 'balanced' (or omitted), got {t['class_weight']!r}")
    if t["monitor"] not in MONITORS:
        raise SeqcnnError(f"unknown --monitor {t['monitor']!r}", hint=f"use one of {', '.join(MONITORS)}")
    if not isinstance(t["seed"], (int, np.integer)):
        raise SeqcnnError(f"--seed must be an integer, got {t['seed']!r}")


# ----------------------------------------------------------------------------------------------------------------
# distribution (tf.distribute)

STRATEGIES = ("none", "mirrored", "multiworker")
TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}')


def _tf_config_error(problem):
    return SeqcnnError(f"TF_CONFIG {problem}",
                       hint=f"--strategy multiworker reads the cluster from the TF_CONFIG environment variable; "
                            f"set it on every worker, the same cluster with this worker's task, e.g. "
                            f"TF_CONFIG='{TF_CONFIG_EXAMPLE}' (index 1 on host2); on one machine use "
                            f"--strategy mirrored")


def cluster_role(text):
    """This process's place in a multi-worker cluster, read from the text of ``TF_CONFIG``.

    The chief is the ``chief`` task when the cluster has one, else ``worker`` 0 (TensorFlow's rule).

    Parameters
    ----------
    text : str or None — the value of ``TF_CONFIG``.

    Returns
    -------
    dict — ``worker`` (index among all workers, the chief first), ``workers`` (how many), ``chief`` (bool),
    ``task`` (``'worker:1'``).

    Raises
    ------
    SeqcnnError — naming TF_CONFIG when it is unset, not JSON, or does not describe this worker's task.
    """
    if not text or not text.strip():
        raise _tf_config_error("is not set")
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _tf_config_error(f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(conf, dict):
        raise _tf_config_error("must be a JSON object with 'cluster' and 'task'")
    cluster, task = conf.get("cluster"), conf.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise _tf_config_error("has no 'cluster' object of job name -> list of host:port")
    for job, addresses in cluster.items():
        if job not in ("chief", "worker"):
            raise _tf_config_error(f"has a {job!r} job; multiworker training uses 'worker' (and "
                                   f"optionally one 'chief') jobs only")
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses)):
            raise _tf_config_error(f"cluster job {job!r} must be a non-empty list of 'host:port' "
                                   f"strings, got {json.dumps(addresses)}")
    if len(cluster.get("chief", [])) > 1:
        raise _tf_config_error("has more than one 'chief'")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise _tf_config_error(f"needs 'task': {{'type': one of {', '.join(map(repr, cluster))}, "
                               f"'index': this worker's position in that list}}")
    index, n_job = task.get("index"), len(cluster[task["type"]])
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n_job:
        raise _tf_config_error(f"task index {index!r} is not a position in its {task['type']!r} list "
                               f"(0 to {n_job - 1})")
    has_chief = "chief" in cluster
    worker = index + (1 if has_chief and task["type"] == "worker" else 0)
    return {"worker": worker, "workers": sum(len(a) for a in cluster.values()), "chief": worker == 0,
            "task": f"{task['type']}:{index}"}


class Distribution:
    """How a training run is spread over devices: the tf.distribute strategy and this process's role.

    Parameters
    ----------
    name : {'none', 'mirrored', 'multiworker'}
    role : dict — from :func:`cluster_role` (multiworker) or ``None`` (one process, the chief).
    """

    def __init__(self, name, role=None):
        self.name = name
        role = role or {"worker": 0, "workers": 1, "chief": True, "task": None}
        self.worker, self.workers, self.chief, self.task = role["worker"], role["workers"], role["chief"], role["task"]
        self.strategy = None

    def start(self):
        """Create the tf.distribute strategy (before any other TensorFlow operation, for multiworker)."""
        if self.name == "none" or self.strategy is not None:
            return self
        tf = _tf()
        if self.name == "mirrored":
            # MirroredStrategy() takes every GPU, but on a machine without one it takes CPU:0 only; name the
            # logical CPUs (SEQCNN_CPU_DEVICES) so they become replicas.
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
            self.strategy = tf.distribute.MirroredStrategy(devices)
        else:
            try:
                self.strategy = tf.distribute.MultiWorkerMirroredStrategy()
            except RuntimeError as exc:
                raise SeqcnnError(f"cannot start multiworker training ({' '.join(str(exc).split())[:200]})",
                                  hint="--strategy multiworker must start before any other TensorFlow work "
                                       "in the process; run it from the seqcnn command") from None
        return self

    @property
    def replicas(self):
        """Replicas in sync: 1 without a strategy."""
        return 1 if self.strategy is None else int(self.strategy.num_replicas_in_sync)

    def scope(self):
        """The strategy's scope (variables created in it are distributed); a no-op for ``none``."""
        import contextlib

        return contextlib.nullcontext() if self.strategy is None else self.strategy.scope()

    def record(self):
        """The ``distribute`` section of config.json."""
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.workers}


def _recorded_distribution(config_path):
    """The ``distribute`` section of a run's config.json (runs before it existed trained with ``none``)."""
    cfg = load_config(config_path) if os.path.exists(config_path) else {}
    return cfg.get("distribute") or {"strategy": "none", "replicas": 1, "workers": 1}


# ----------------------------------------------------------------------------------------------------------------
# training


def _loss(task, pos_weight=None):
    keras = _keras()
    if task == "multiclass":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if pos_weight is not None:
        return _weighted_bce()(pos_weight=[float(v) for v in pos_weight])
    return keras.losses.BinaryCrossentropy(from_logits=True)


_WBCE = []


def _weighted_bce():
    """The Keras loss class for per-label positive weights, created (and registered for loading) on first use."""
    if _WBCE:
        return _WBCE[0]
    keras = _keras()
    tf = _tf()

    @keras.saving.register_keras_serializable(package="seqcnn")
    class WeightedBinaryCrossentropy(keras.losses.Loss):
        """Binary cross-entropy from logits with a weight on each label's positives (multilabel balancing)."""

        def __init__(self, pos_weight=(1.0,), name="weighted_binary_crossentropy", **kwargs):
            super().__init__(name=name, **kwargs)
            self.pos_weight = list(pos_weight)

        def call(self, y_true, y_pred):
            per = tf.nn.weighted_cross_entropy_with_logits(tf.cast(y_true, y_pred.dtype), y_pred,
                                                           tf.constant(self.pos_weight, y_pred.dtype))
            return tf.reduce_mean(per, axis=-1)

        def get_config(self):
            return {**super().get_config(), "pos_weight": self.pos_weight}

    _WBCE.append(WeightedBinaryCrossentropy)
    return WeightedBinaryCrossentropy


def _class_weights(task, y):
    """``balanced`` weights: per-class weights (binary/multiclass) or per-label positive weights (multilabel)."""
    from sklearn.utils.class_weight import compute_class_weight

    if task == "multilabel":
        pos = y.sum(axis=0).astype(float)
        return {"pos_weight": ((len(y) - pos) / np.maximum(pos, 1)).tolist()}
    classes = np.unique(y)
    w = compute_class_weight("balanced", classes=classes, y=y)
    return {"class_weight": {int(c): float(v) for c, v in zip(classes, w)}}


def _prepare_out(out, force, resume):
    out = os.path.abspath(str(out).rstrip("/"))
    partial = out + ".partial"
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise SeqcnnError("output folder does not exist", path=parent, hint="create it first")
    if os.path.exists(out) and not force:
        raise OutputExistsError("already exists", path=out, hint="pass --force to replace it")
    if os.path.exists(out) and not os.path.isdir(out):
        raise SeqcnnError("exists and is not a directory", path=out, hint="choose another output name")
    if resume:
        import zipfile

        state = os.path.join(partial, CHECKPOINT_DIR, "state.json")
        if not os.path.exists(state):
            raise SeqcnnError("nothing to resume: no interrupted run found", path=partial,
                              hint="start the run without --resume")
        # Checkpoint files are replaced atomically, so only outside hands damage them; say so before training.
        try:
            with open(state) as fh:
                json.load(fh)
        except (ValueError, UnicodeDecodeError):
            raise InputFormatError("damaged checkpoint: checkpoint/state.json is not valid JSON", path=partial,
                                   hint="start again with --force") from None
        if not zipfile.is_zipfile(os.path.join(partial, CHECKPOINT_DIR, "last.keras")):
            raise InputFormatError("damaged checkpoint: checkpoint/last.keras is missing or not a Keras file",
                                   path=partial, hint="start again with --force")
    elif os.path.exists(partial):
        if not force:
            raise OutputExistsError("an interrupted run of this output exists", path=partial,
                                    hint="pass --resume to continue it, or --force to start again")
    return out, partial


def _json_dump(obj, path):
    """Write JSON atomically: a temporary file beside ``path``, then rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=2, default=_json_default)
            fh.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def set_determinism(seed):
    """Seed Python, NumPy, TensorFlow and Keras, and make TensorFlow ops deterministic (process-wide)."""
    keras, tf = _keras(), _tf()
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def train(data, out, arch=None, params=None, config=None, *, epochs=None, batch_size=None, lr=None, patience=None,
          seed=None, class_weight=None, rc_augment=None, monitor=None, buffer_chunks=None, memory_budget_mb=1024,
          resume=False, force=False, quiet=False, plots=True, n_boot=1000, callbacks=(), command=None,
          strategy=None):
    """Train a model on split 0, early-stop on split 1, and write the run directory ``out``.

    Parameters
    ----------
    data : str — encoded HDF5 dataset (``seqcnn encode``).
    out : str — run directory to create (built as ``out.partial``, renamed when complete).
    arch : str, optional — architecture name (default ``models.DEFAULT_ARCH``, or the config's).
    params : dict, optional — hyper-parameters, e.g. ``{"filters": 64}`` (strings are converted).
    config : str or dict, optional — a previous run's ``config.json``: reproduces that run.
    epochs, batch_size, lr, patience, seed, class_weight, rc_augment, monitor, buffer_chunks
        Training options; ``None`` takes the config's value or the default in ``TRAIN_DEFAULTS``.
        ``batch_size`` is the global batch of each step, split over the replicas of ``strategy``.
        ``class_weight='balanced'`` reweights classes (binary/multiclass) or label positives (multilabel);
        ``rc_augment`` reverse-complements a random half of each training batch (labels unchanged).
    memory_budget_mb : float — load train+val into memory when their uint8 size fits, else stream chunks.
    resume : bool — continue ``out.partial`` from its last checkpoint.
    force : bool — replace an existing ``out``.
    quiet : bool — no progress output.
    plots : bool — write ``plots/``.
    n_boot : int — bootstrap resamples for the metric intervals.
    callbacks : list of keras.callbacks.Callback — extra callbacks (e.g. for notebooks).
    strategy : {'none', 'mirrored', 'multiworker'}, optional — tf.distribute strategy: one device
        (default), ``MirroredStrategy`` over the GPUs of this machine (or the logical CPUs of
        ``SEQCNN_CPU_DEVICES``), or ``MultiWorkerMirroredStrategy`` over the cluster in ``TF_CONFIG``,
        where only the chief writes ``out`` (the others work in a temporary folder they remove).
        With ``resume``, ``None`` takes the interrupted run's strategy; another one is refused.

    Returns
    -------
    dict — ``out``, ``config``, ``metrics`` (per split), ``history`` (list of per-epoch dicts), ``best_epoch``,
    ``in_memory``, ``seconds``, ``chief`` (False on the other workers of a multiworker run).
    """
    from . import models
    from .readers import sha256_file
    from .store import open_dataset

    t0 = time.time()
    recorded = None
    if resume:
        recorded = _recorded_distribution(os.path.join(os.path.abspath(str(out).rstrip("/")) + ".partial",
                                                       CONFIG_FILE))
    strategy = strategy or (recorded["strategy"] if recorded else "none")
    if strategy not in STRATEGIES:
        raise SeqcnnError(f"unknown strategy {strategy!r}", hint=f"use one of {', '.join(STRATEGIES)}")
    # Read TF_CONFIG first: a bad one must stop the run before anything is written.
    dist = Distribution(strategy, cluster_role(os.environ.get("TF_CONFIG")) if strategy == "multiworker" else None)
    out, partial = _prepare_out(out, force, resume) if dist.chief else _worker_out(out, resume, dist)
    if recorded and recorded["strategy"] != strategy:
        raise SeqcnnError(f"the interrupted run trained with --strategy {recorded['strategy']}, not {strategy}",
                          path=partial, hint=f"resume with --strategy {recorded['strategy']} (or without "
                                             f"--strategy), or start again with --force")
    if resume and config is None:
        config = os.path.join(partial, CONFIG_FILE)
    ds = open_dataset(data)
    try:
        cfg = resolve_config(ds, arch, params, config, epochs=epochs, batch_size=batch_size, lr=lr,
                             patience=patience, seed=seed, class_weight=class_weight, rc_augment=rc_augment,
                             monitor=monitor, buffer_chunks=buffer_chunks)
        tr = cfg["training"]
        if ds.task not in models.TASKS:
            raise InputFormatError(f"unknown task {ds.task!r} in the dataset", path=ds.path)
        idx = {s: ds.indices(s) for s in SPLITS}
        if len(idx["train"]) == 0:
            raise SeqcnnError("the dataset has no training records (split 0)", path=ds.path,
                              hint="re-encode with a train fraction, e.g. --split 0.8,0.1,0.1, or use 'seqcnn split'")
        if len(idx["val"]) == 0 and tr["monitor"] != "val_loss" and not quiet:
            print("seqcnn: note: no validation records (split 1): no early stopping; the last epoch is kept",
                  file=sys.stderr)
        if ds.task == "binary" and len(np.unique(ds.y[idx["train"]])) < 2:
            raise SeqcnnError("the training split has a single class", path=ds.path,
                              hint="binary training needs positives and negatives")
        dist.start()
        if recorded and (recorded["replicas"], recorded["workers"]) != (dist.replicas, dist.workers):
            raise SeqcnnError(f"the interrupted run trained on {recorded['replicas']} replica(s) on "
                              f"{recorded['workers']} worker(s); {dist.replicas} on {dist.workers} are here",
                              path=partial, hint="resume on the same devices (GPUs, SEQCNN_CPU_DEVICES, TF_CONFIG "
                                                 "cluster), or start again with --force")
        set_determinism(tr["seed"])
        with dist.scope():
            model = models.build_model(cfg["arch"], ds.length, ds.task, ds.n_outputs, **cfg["hparams"])
        sha = sha256_file(ds.path)
        if resume:
            old = load_config(os.path.join(partial, CONFIG_FILE))
            if old["data"]["sha256"] != sha:
                raise SeqcnnError("the data file differs from the one the interrupted run used", path=ds.path,
                                  hint="resume with the same data, or start again with --force")
        nbytes = sum(len(idx[s]) for s in ("train", "val")) * ds.length * 4
        in_memory = nbytes <= memory_budget_mb * 1e6
        cfg = {
            "seqcnn_run": 1,
            "arch": cfg["arch"], "hparams": cfg["hparams"], "training": tr, "distribute": dist.record(),
            "model": {"input_length": ds.length, "task": ds.task, "n_outputs": ds.n_outputs,
                      "n_params": int(model.count_params()), "output": "logits",
                      "link": "softmax" if ds.task == "multiclass" else "sigmoid"},
            "data": {"path": os.path.abspath(ds.path), "sha256": sha, "length": ds.length,
                     "pad_mode": ds.attrs.get("pad_mode", "center"),
                     "length_given": int(ds.attrs.get("length_given", 0) or 0),
                     "allow_iupac": bool(ds.attrs.get("allow_iupac", False)), "task": ds.task,
                     "class_names": ds.class_names, "label_names": ds.label_names,
                     "splits": {s: int(len(idx[s])) for s in SPLITS}},
            "versions": _versions(),
            "created": utc_now(),
            "command": command or "",
        }
        # Non-chief workers run the same steps (saving can involve collective ops, so every worker must
        # save) but into a temporary folder of their own, removed at the end: only the chief writes `out`.
        work = partial if dist.chief else _worker_dir(partial, resume, dist)
        try:
            with dist.scope():
                return _fit(ds, model, cfg, idx, out, work, in_memory, resume, force, quiet, plots and dist.chief,
                            n_boot, list(callbacks), t0, dist)
        finally:
            if not dist.chief:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        ds.close()


def _worker_out(out, resume, dist):
    """``(out, out.partial)`` for a non-chief worker: it never writes there, so only resume needs checking."""
    out = os.path.abspath(str(out).rstrip("/"))
    partial = out + ".partial"
    if resume and not os.path.exists(os.path.join(partial, CHECKPOINT_DIR, "state.json")):
        raise SeqcnnError(f"worker {dist.task} cannot see the interrupted run's checkpoint", path=partial,
                          hint="resuming a multiworker run needs the run directory on a filesystem shared by "
                               "all workers")
    return out, partial


def _worker_dir(partial, resume, dist):
    """A non-chief worker's temporary run folder; with ``resume``, a copy of the chief's checkpoint."""
    import tempfile

    work = tempfile.mkdtemp(prefix=f"seqcnn-worker{dist.worker}-")
    if resume:
        shutil.copytree(os.path.join(partial, CHECKPOINT_DIR), os.path.join(work, CHECKPOINT_DIR))
    return work


def _fit(ds, model, cfg, idx, out, partial, in_memory, resume, force, quiet, plots, n_boot, extra_callbacks, t0,
         dist=None):
    keras, tf = _keras(), _tf()
    tr = cfg["training"]
    task, L = ds.task, ds.length
    ckpt = os.path.join(partial, CHECKPOINT_DIR)
    if not resume:
        if os.path.exists(partial):
            shutil.rmtree(partial)
        os.makedirs(ckpt)
    _json_dump(cfg, os.path.join(partial, CONFIG_FILE))

    train_idx, val_idx = idx["train"], idx["val"]
    y_train = ds.y[train_idx]
    weights = _class_weights(task, y_train) if tr["class_weight"] == "balanced" else {}
    cw = weights.get("class_weight")
    sample_w = np.ones(ds.n, np.float32)
    if cw:
        lookup = np.ones(int(ds.y.max()) + 1, np.float32)
        lookup[list(cw)] = list(cw.values())
        sample_w = lookup[ds.y.astype(np.int64)]
    targets = _targets(task, ds.y)
    source = _Source(ds, np.concatenate([train_idx, val_idx]), in_memory=in_memory)
    bs = int(tr["batch_size"])
    steps = math.ceil(len(train_idx) / bs)

    state = {"epoch": -1, "best": None, "best_epoch": None, "wait": 0, "stopped": False, "history": []}
    if resume:
        with open(os.path.join(ckpt, "state.json")) as fh:
            state = json.load(fh)
        _weighted_bce()
        model = keras.models.load_model(os.path.join(ckpt, "last.keras"))
        _seed_states(model, state.get("seed_states"))
    else:
        model.compile(optimizer=keras.optimizers.Adam(tr["lr"]), loss=_loss(task, weights.get("pos_weight")),
                      jit_compile=False)
    start_epoch = state["epoch"] + 1

    dist = dist or Distribution("none")
    if dist.strategy is None:
        dataset = training_dataset(source, train_idx, targets, sample_w, bs, tr["seed"], tr["buffer_chunks"],
                                   tr["rc_augment"], start_epoch, tr["epochs"])
    else:
        # Sharding by hand, per input pipeline (input_context): every worker runs the same generator (same
        # seed, same global batches) and keeps, of each global batch, the consecutive slices of its own
        # replicas, so each step trains on exactly the global batch of `--strategy none`. Auto-sharding does
        # not fit: FILE needs a file-based dataset and this is a from_generator; DATA has every worker run the
        # whole generator and shard its elements, which are global batches of a size tf.data cannot see
        # (None), leaving their split into per-replica batches to tf.distribute's guesswork.
        # distribute_datasets_from_function never auto-shards; OFF says so explicitly.
        def per_pipeline(ctx):
            local = ctx.num_replicas_in_sync // ctx.num_input_pipelines
            d = training_dataset(source, train_idx, targets, sample_w, bs, tr["seed"], tr["buffer_chunks"],
                                 tr["rc_augment"], start_epoch, tr["epochs"],
                                 replicas=(ctx.input_pipeline_id * local, local, ctx.num_replicas_in_sync))
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
            return d.with_options(options)

        dataset = dist.strategy.distribute_datasets_from_function(per_pipeline)

    monitor = tr["monitor"]
    maximise = monitor != "val_loss"
    has_val = len(val_idx) > 0
    fwd = _Forward(model, L)
    history_path = os.path.join(partial, HISTORY_FILE)

    class Monitor(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t_epoch = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            row = {"epoch": epoch + 1, "loss": float(logs.get("loss", np.nan))}
            current = None
            if has_val:
                logits = fwd(source.ordered(val_idx, 1024))
                yv = ds.y[val_idx]
                row["val_loss"] = _loss_numpy(task, yv, logits, weights.get("pos_weight"))
                m = compute_metrics(task, yv, _link(task, logits), n_boot=0)
                row.update({"val_auroc": m["auroc"], "val_auprc": m["auprc"], "val_accuracy": m["accuracy"],
                            "val_mcc": m["mcc"]})
                current, up = row[monitor], maximise
                if current is None:
                    # auROC/auPRC are undefined when the validation split has one class: fall back to its loss.
                    current, up = row["val_loss"], False
            row["seconds"] = round(time.time() - self.t_epoch, 2)
            for k, v in row.items():
                if k not in ("epoch", "seconds") and v is not None:
                    logs[k] = v
            improved = current is not None and (state["best"] is None or
                                                (current > state["best"] if up else current < state["best"]))
            if improved or not has_val:
                state["best"], state["best_epoch"], state["wait"] = current, epoch + 1, 0
                # Written beside and renamed, like last.keras: a kill mid-write must not leave a torn file.
                model.save_weights(os.path.join(ckpt, "best.tmp.weights.h5"))
                os.replace(os.path.join(ckpt, "best.tmp.weights.h5"), os.path.join(ckpt, "best.weights.h5"))
            else:
                state["wait"] += 1
                state["stopped"] = state["wait"] >= tr["patience"]
            state["epoch"] = epoch
            state["history"].append(row)
            _write_history(state["history"], history_path)
            # The checkpoint (model + optimizer state) makes an interrupted run resumable after this epoch.
            model.save(os.path.join(ckpt, "last.keras.tmp.keras"))
            os.replace(os.path.join(ckpt, "last.keras.tmp.keras"), os.path.join(ckpt, "last.keras"))
            # Dropout's random stream is not part of the saved weights; keep it so a resumed run is identical.
            state["seed_states"] = _seed_states(model)
            _json_dump(state, os.path.join(ckpt, "state.json"))
            if state.get("stopped"):
                self.model.stop_training = True

    verbose = 0 if quiet else (1 if sys.stdout.isatty() else 2)
    if dist.name == "multiworker":
        _multiworker_fit_fixes(model, dist.strategy)
    if start_epoch < tr["epochs"] and not state.get("stopped"):
        # steps_per_epoch with one generator over all epochs: Keras keeps one iterator, our order stays ours.
        model.fit(dataset, epochs=tr["epochs"], initial_epoch=start_epoch, steps_per_epoch=steps,
                  callbacks=[Monitor()] + extra_callbacks, verbose=verbose, shuffle=False)
    model.load_weights(os.path.join(ckpt, "best.weights.h5"))

    # Final metrics on every non-empty split, with bootstrap intervals.
    metrics, curves = {}, {}
    for split in SPLITS:
        sel = idx[split]
        if len(sel) == 0:
            continue
        src = source if split != "test" else _Source(ds, in_memory=False)
        logits = fwd(src.ordered(sel, 1024))
        prob = _link(task, logits)
        names = ds.class_names if task == "multiclass" else ds.label_names
        metrics[split] = compute_metrics(task, ds.y[sel], prob, names=names, n_boot=n_boot, seed=tr["seed"])
        metrics[split]["loss"] = _loss_numpy(task, ds.y[sel], logits, weights.get("pos_weight"))
        curves[split] = (ds.y[sel], prob)
    metrics["best_epoch"] = state["best_epoch"]
    metrics["monitor"] = monitor if has_val else None
    metrics["epochs_run"] = state["epoch"] + 1
    _json_dump(metrics, os.path.join(partial, METRICS_FILE))
    model.save(os.path.join(partial, MODEL_FILE))
    if plots:
        _training_plots(state["history"], curves, task, ds, os.path.join(partial, PLOTS_DIR), monitor)
    if dist.chief:
        # The finished run moves into place before its checkpoint goes: a kill in between leaves a complete
        # run with a stale checkpoint/ folder, not a finished .partial that only --force could clear.
        _replace_dir(partial, out, force)
        shutil.rmtree(os.path.join(out, CHECKPOINT_DIR), ignore_errors=True)
    else:
        shutil.rmtree(ckpt)
    return {"out": out, "config": cfg, "metrics": metrics, "history": state["history"],
            "best_epoch": state["best_epoch"], "in_memory": in_memory, "seconds": round(time.time() - t0, 1),
            "chief": dist.chief, "notes": _imbalance_notes(task, y_train, tr["class_weight"], ds),
            "records_read": int(ds.n)}


def _imbalance_notes(task, y, class_weight, ds):
    """Advice when the training classes are imbalanced (rarest < 1/3 of the commonest) and not reweighted.

    Unweighted training on, e.g., 1 bound : 10 unbound peaks ranks well (auROC/auPRC) but its 0.5-threshold
    calls (accuracy, MCC, predict's class column) lean to the majority, which users read as a broken model.
    """
    if class_weight is not None or task == "multilabel" or len(y) == 0:
        return []
    counts = np.bincount(np.asarray(y, np.int64))
    names = ds.class_names if task == "multiclass" else ["0", "1"]
    present = [(int(c), names[i] if i < len(names) else str(i)) for i, c in enumerate(counts) if c > 0]
    if len(present) < 2:
        return []
    (lo, lo_name), (hi, hi_name) = min(present), max(present)
    if lo * 3 >= hi:
        return []
    return [f"training classes are imbalanced ({lo_name}: {lo}, {hi_name}: {hi}); auROC/auPRC are unaffected, "
            "but 0.5-threshold calls (accuracy, MCC, predicted class) lean to the majority: consider "
            "--class-weight balanced"]


def _multiworker_fit_fixes(model, strategy):
    """Work around two Keras 3 bugs (to 3.15 at least) that stop ``model.fit`` under MultiWorkerMirroredStrategy.

    keras-team/keras#20585: ``fit`` first builds the loss and optimizer state from a distributed batch
    reduced with ``strategy.reduce``, which this strategy cannot do for a tuple of tensors; only the
    batch's shapes and dtypes are used, so the first local replica's batch is taken instead (no
    communication). Then each step's logs (scalars) are averaged over the workers with
    ``strategy.reduce("MEAN", v, axis=0)``, which needs an axis 0: the train step returns them as
    shape (1,), and that reduction gives back the same scalar mean over the replicas.
    """
    keras, tf = _keras(), _tf()

    def symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = keras.tree.map_structure(lambda v: strategy.experimental_local_results(v)[0], next(it))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    train_step = model.train_step

    def train_step_1d(data):
        return keras.tree.map_structure(lambda v: tf.reshape(v, [1]), train_step(data))

    if hasattr(model, "_symbolic_build"):  # a Keras without this private method builds another way: leave it
        model._maybe_symbolic_build = symbolic_build
    model.train_step = train_step_1d


def _seed_states(model, states=None):
    """Get (``states`` None) or set the states of the model's random seed generators (dropout), by layer name."""
    gens = {f"{layer.name}/{i}": g for layer in model.layers
            for i, g in enumerate(getattr(layer, "_seed_generators", None) or [])}
    if states is None:
        return {k: np.asarray(g.state.numpy()).tolist() for k, g in gens.items()}
    for k, v in states.items():
        if k in gens:
            gens[k].state.assign(np.asarray(v, dtype=gens[k].state.dtype))
    return states


def _write_history(rows, path):
    import pandas as pd

    tmp = f"{path}.tmp"
    pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, path)


def _replace_dir(src, dst, force):
    """Move a finished run directory into place; an existing ``dst`` (only with force) goes last."""
    if os.path.exists(dst):
        if not force:
            raise OutputExistsError("already exists", path=dst, hint="pass --force to replace it")
        trash = f"{dst}.old-{os.getpid()}"
        os.replace(dst, trash)
        os.replace(src, dst)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(src, dst)


def _curve_sets(task, y, prob, ds_names):
    """Per-output (label, y_true 0/1, score) triples for ROC/PR figures."""
    if task == "binary":
        return [("", np.asarray(y).astype(int), np.asarray(prob).reshape(-1))]
    if task == "multiclass":
        return [(ds_names[c], (np.asarray(y) == c).astype(int), prob[:, c]) for c in range(prob.shape[1])]
    return [(ds_names[j], np.asarray(y)[:, j].astype(int), prob[:, j]) for j in range(prob.shape[1])]


def _training_plots(history, curves, task, ds, plot_dir, monitor):
    from . import plots

    os.makedirs(plot_dir, exist_ok=True)
    plots.training_curves(history, os.path.join(plot_dir, "training_curves.png"), monitor=monitor)
    names = ds.class_names if task == "multiclass" else ds.label_names
    for split, (y, prob) in curves.items():
        sets = _curve_sets(task, y, prob, names)
        plots.roc_curves(sets, os.path.join(plot_dir, f"roc_{split}.png"), title=f"ROC ({split})")
        plots.pr_curves(sets, os.path.join(plot_dir, f"pr_{split}.png"), title=f"Precision-recall ({split})")



# ----------------------------------------------------------------------------------------------------------------
# loading, evaluation and prediction


def load_run(run_dir):
    """Load a finished run: ``(model, config)``; the model outputs logits.

    Raises
    ------
    InputFormatError — when ``run_dir`` is not a complete seqcnn run directory.
    """
    run_dir = str(run_dir)
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise InputFormatError("is a file, not a run directory", path=run_dir,
                               hint="give the directory written by 'seqcnn train'")
    if not os.path.isdir(run_dir):
        hint = "train one with 'seqcnn train'"
        if os.path.isdir(run_dir.rstrip("/") + ".partial"):
            hint = "its training was interrupted; continue it with 'seqcnn train ... --resume'"
        raise InputFormatError("run directory not found", path=run_dir, hint=hint)
    for name in (CONFIG_FILE, MODEL_FILE):
        if not os.path.exists(os.path.join(run_dir, name)):
            raise InputFormatError(f"not a seqcnn run directory (no {name})", path=run_dir,
                                   hint="give the directory written by 'seqcnn train'")
    cfg = load_config(run_dir)
    if "model" not in cfg or "data" not in cfg:
        raise InputFormatError("config.json lacks the 'model' and 'data' sections of a finished run", path=run_dir)
    import zipfile

    m = cfg["model"]
    missing = [k for k in ("input_length", "task", "n_outputs") if k not in m]
    if missing or not isinstance(m["input_length"], int) or m["task"] not in ("binary", "multiclass", "multilabel"):
        # Every verb reads these; without this check a damaged file ends in a KeyError traceback.
        raise InputFormatError(f"config.json: the 'model' section lacks or garbles "
                               f"{', '.join(missing) or 'input_length/task'}", path=run_dir,
                               hint="the run directory is damaged; re-train it with 'seqcnn train'")
    model_path = os.path.join(run_dir, MODEL_FILE)
    if not zipfile.is_zipfile(model_path):
        # Keras would say "File not found" for a file that exists but is not a zip.
        raise InputFormatError("model.keras is not a Keras model file (damaged or truncated)", path=run_dir,
                               hint="re-train the run")
    keras = _keras()
    _weighted_bce()  # registers the custom loss class before loading
    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged zip/HDF5
        raise InputFormatError(f"cannot load model.keras ({' '.join(str(exc).split())[:200]})", path=run_dir,
                               hint="re-train the run") from None
    return model, cfg


def _check_fits(cfg, ds, run_dir):
    m = cfg["model"]
    if ds.length != m["input_length"]:
        raise ModelMismatchError(f"the model was trained on {m['input_length']} bp sequences but the data are "
                                 f"{ds.length} bp", path=ds.path,
                                 hint=f"re-encode with --length {m['input_length']} (pad mode "
                                      f"{cfg['data'].get('pad_mode', 'center')}) or train on this length")
    if ds.task != m["task"] or ds.n_outputs != m["n_outputs"]:
        raise ModelMismatchError(f"the model predicts {m['task']} with {m['n_outputs']} output(s) but the data are "
                                 f"{ds.task} with {ds.n_outputs}", path=ds.path, hint=f"use data like {run_dir}'s")
    names_model = cfg["data"].get("class_names") if m["task"] == "multiclass" else cfg["data"].get("label_names")
    names_data = ds.class_names if ds.task == "multiclass" else ds.label_names
    if m["task"] != "binary" and names_model and list(names_model) != list(names_data):
        raise ModelMismatchError(f"class/label names differ: model {names_model}, data {names_data}", path=ds.path)


def evaluate(run_dir, data, split="test", out=None, force=False, plots=True, n_boot=1000, seed=0):
    """Metrics of a trained run on one split of a dataset.

    Parameters
    ----------
    run_dir : str — a run directory written by :func:`train`.
    data : str — encoded HDF5 dataset of the same length and task.
    split : {'train', 'val', 'test', 'all'}
    out : str, optional — write the metrics as JSON here (atomically); figures ``<out stem>_roc.png``
        and ``<out stem>_pr.png`` go beside it unless ``plots=False``.

    Returns
    -------
    dict — see :func:`compute_metrics`, plus ``split``, ``data`` and ``run``.
    """
    from .store import check_output, open_dataset

    if split not in SPLITS + ("all",):
        raise SeqcnnError(f"unknown split {split!r}", hint="use train, val, test or all")
    figs = []
    if out is not None:
        check_output(out, force)
        stem = os.path.splitext(str(out))[0]
        figs = [f"{stem}_roc.png", f"{stem}_pr.png"] if plots else []
        for f in figs:
            check_output(f, force)
    model, cfg = load_run(run_dir)
    with open_dataset(data) as ds:
        _check_fits(cfg, ds, run_dir)
        sel = ds.indices(split)
        if len(sel) == 0:
            raise SeqcnnError(f"split {split!r} is empty", path=ds.path,
                              hint="pick another with --split (train, val, test, all)")
        logits = _Forward(model, ds.length)(_Source(ds).ordered(sel, 1024))
        prob = _link(ds.task, logits)
        names = ds.class_names if ds.task == "multiclass" else ds.label_names
        y = ds.y[sel]
        metrics = compute_metrics(ds.task, y, prob, names=names, n_boot=n_boot, seed=seed)
        metrics.update({"split": split, "data": os.path.abspath(ds.path), "run": os.path.abspath(str(run_dir)),
                        "records_in_file": int(ds.n)})
        task = ds.task
    if out is not None:
        tmp_figs = []
        try:
            if figs:
                from . import plots as plotting

                sets = _curve_sets(task, y, prob, names)
                tmp_figs = [f"{figs[0]}.tmp.png", f"{figs[1]}.tmp.png"]
                plotting.roc_curves(sets, tmp_figs[0], title=f"ROC ({split})")
                plotting.pr_curves(sets, tmp_figs[1], title=f"Precision-recall ({split})")
            _json_dump(metrics, str(out))
            for t, f in zip(tmp_figs, figs):
                os.replace(t, f)
        finally:
            for t in tmp_figs:
                if os.path.exists(t):
                    os.remove(t)
    return metrics


def output_columns(cfg):
    """Column names of ``predict``'s probabilities, one per model output."""
    d, task = cfg["data"], cfg["model"]["task"]
    if task == "binary":
        names = d.get("class_names") or ["0", "1"]
        return [f"prob_{names[1]}"]
    names = d["class_names"] if task == "multiclass" else d["label_names"]
    return [f"prob_{n}" for n in names]


def predict_onehot(model, x, task, batch_size=1024):
    """Probabilities of one-hot sequences.

    Parameters
    ----------
    model : keras.Model — logit outputs.
    x : np.ndarray, shape=(n, L, 4), uint8 or float.
    task : {'binary', 'multiclass', 'multilabel'} — picks the link (sigmoid or softmax).

    Returns
    -------
    np.ndarray, shape=(n, n_outputs), float64.
    """
    x = np.asarray(x)
    fwd = _Forward(model, x.shape[1])
    u8 = x.astype(np.uint8) if x.dtype != np.uint8 else x
    return _link(task, fwd(u8[i:i + batch_size] for i in range(0, len(u8), batch_size)))


def predict(run_dir, fasta, out, force=False, batch_size=1024, quiet=True):
    """Predict FASTA sequences with a trained run; write ``id`` + one probability column per output (CSV).

    Sequences are encoded with the training file's length policy: when it was encoded with
    ``--length`` they are padded/trimmed the same way (same pad mode); otherwise they must have
    the training length. Bases are checked by the same rules as ``seqcnn encode``.

    Returns
    -------
    dict — ``out``, ``n`` (records written), ``records_read``, ``columns``, ``padded``, ``trimmed``.
    """
    import pandas as pd

    from .encoding import encode_block
    from .readers import FastaReader
    from .store import check_output

    check_output(out, force)
    model, cfg = load_run(run_dir)
    d, task = cfg["data"], cfg["model"]["task"]
    L = cfg["model"]["input_length"]
    cols = output_columns(cfg)
    fwd = _Forward(model, L)
    reader = FastaReader(fasta)
    tmp = f"{out}.tmp-{os.getpid()}"
    n = padded = trimmed = 0
    seen = set()
    try:
        with open(tmp, "w", newline="") as fh:
            fh.write(",".join(["id"] + cols) + "\n")
            for ids, seqs in reader:
                # Bases first: an empty record or a stray character (a tab, a digit) is the problem to report,
                # not the length it changes.
                x, lens = encode_block(seqs, length=L, pad_mode=d.get("pad_mode", "center"),
                                       allow_iupac=d.get("allow_iupac", False), ids=ids, path=fasta)
                if not d.get("length_given") and (lens != L).any():
                    k = int(np.argmax(lens != L))
                    raise ModelMismatchError(
                        f"sequence of {lens[k]} bp, but the model takes {L} bp and its training data were "
                        f"encoded without --length (no padding/trimming policy)", path=fasta, record=ids[k],
                        hint=f"give {L} bp sequences, or re-encode the training data with --length {L} and retrain")
                dup = seen.intersection(ids)
                if dup or len(set(ids)) < len(ids):
                    rid = next(iter(dup)) if dup else pd.Index(ids)[pd.Index(ids).duplicated()][0]
                    raise SeqcnnError("duplicate record id", path=fasta, record=rid,
                                      hint="ids (first word of headers) must be unique")
                seen.update(ids)
                prob = _link(task, fwd(x[i:i + batch_size] for i in range(0, len(x), batch_size)))
                frame = pd.DataFrame(prob, columns=cols)
                frame.insert(0, "id", ids)
                frame.to_csv(fh, header=False, index=False, float_format="%.6g")
                n += len(ids)
                padded += int((lens < L).sum())
                trimmed += int((lens > L).sum())
        if n == 0:
            raise SeqcnnError("no sequences in the FASTA file", path=fasta)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return {"out": str(out), "n": n, "records_read": reader.n_records, "columns": cols, "padded": padded,
            "trimmed": trimmed}
