"""Helpers shared by the interpretation tests: tiny models with random weights and run directories."""

import json

import numpy as np


def randomize(model, seed=0, scale=0.5):
    """Give every weight random values (BatchNorm variances positive) so ISM deltas are far from zero."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "variance" in w.path:
            w.assign(rng.uniform(0.5, 2.0, w.shape).astype("float32"))
        elif "bias" in w.path:
            # positive biases keep small ReLU layers alive (a dead layer would make every delta 0)
            w.assign(rng.uniform(0.0, scale, w.shape).astype("float32"))
        else:
            w.assign(rng.normal(0.0, scale, w.shape).astype("float32"))
    return model


def make_run(run_dir, model, dataset_path=None, *, task="binary", class_names=None, label_names=None,
             pad_mode="center", length_given=False, arch="custom", hparams=None):
    """Write a run directory (model.keras + config.json in the layout ``seqcnn train`` writes)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if dataset_path is not None:
        from seqcnn.store import open_dataset

        with open_dataset(dataset_path) as ds:
            task, class_names, label_names = ds.task, ds.class_names, ds.label_names
            pad_mode = ds.attrs.get("pad_mode", "center")
    model.save(run_dir / "model.keras")
    n_outputs = int(model.outputs[0].shape[-1])
    cfg = {"seqcnn_run": 1, "arch": arch, "hparams": hparams or {},
           "model": {"input_length": int(model.inputs[0].shape[1]), "task": task, "n_outputs": n_outputs,
                     "output": "logits"},
           "data": {"pad_mode": pad_mode, "length_given": int(length_given), "allow_iupac": False, "task": task,
                    "class_names": class_names or ["0", "1"], "label_names": label_names or []}}
    (run_dir / "config.json").write_text(json.dumps(cfg))
    return run_dir


def plain_naive_ism(model, x):
    """ISM written plainly: build every single-base mutant of each sequence and run the whole model on it.

    Returns float32 [N, L, 4, T]; 0 at the reference base.
    """
    x = np.asarray(x, np.float32)
    N, L, _ = x.shape
    ref = np.asarray(model(x, training=False))
    out = np.zeros((N, L, 4, ref.shape[1]), np.float32)
    for n in range(N):
        mutants, where = [], []
        for i in range(L):
            for b in range(4):
                if x[n, i, b] == 1:
                    continue
                m = x[n].copy()
                m[i] = 0
                m[i, b] = 1
                mutants.append(m)
                where.append((i, b))
        pred = np.asarray(model(np.stack(mutants), training=False))
        for (i, b), p in zip(where, pred):
            out[n, i, b] = p - ref[n]
    return out
