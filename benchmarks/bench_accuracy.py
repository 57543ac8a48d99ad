"""Accuracy on real ChIP-seq data: every seqcnn architecture (defaults) vs a 5-mer logistic regression and plain Keras.

Oct4 vs Mafk (janggu): train on train.fa (split 0.9/0.1/0, seed 0), score the untouched test.fa.
DeepBind B panel: per TF, stratified 5-fold cross-validation; each fold's 800 training sequences
are split 720/80 (train/val, for early stopping), the fold's 200 are the test set.
CTCF 1 kb (``--sets long``): the B panel's real CTCF peaks (101 bp) and their dinucleotide-shuffled
negatives, each placed at a uniformly random offset in a 1,000 bp background drawn from seqcnn's human
dinucleotide Markov chain (``simulate.markov_background``, seed 0): one real, off-centre site region in
900 bp of realistic flank; the same 5-fold protocol as the B panel.

seqcnn runs go through ``seqcnn.training.train`` exactly as ``seqcnn train`` does (defaults unless
``--param``/``--train-opt`` say otherwise). Baselines, in the same run and on the same splits:
- ``5-mer LR``: counts of all 1,024 5-mers (scikit-learn CountVectorizer) → LogisticRegressionCV;
- ``plain Keras``: a hand-written DeepBind-like Conv1D(128, 24) → global max → Dense(32) → dropout 0.5,
  Adam 1e-3, batch 128, early stopping on validation AUC (patience 5, best weights restored);
- ``plain Keras + RC``: the same trained on the training set plus its reverse complements.

    python benchmarks/bench_accuracy.py --out benchmarks/accuracy.json

prints markdown tables (test auROC; B panel: mean ± sd over folds) and the seconds per training run.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data")
ARCHS = ("primer", "deepbind", "basset", "zeng")
BPANEL_TFS = ("CTCF", "GATA3", "TEAD4", "YY1", "ZNF143")


def read_set(fa, labels):
    import pandas as pd

    from seqcnn.readers import read_fasta

    ids, seqs = read_fasta(fa)
    lab = pd.read_csv(labels).set_index("id")["label"]
    return np.array(ids, dtype=object), list(seqs), lab.loc[ids].to_numpy().astype(np.uint8)


def kmer_lr(train_seqs, y_train, test_seqs, k=5, seed=0):
    """5-mer count logistic regression (regularisation strength by 3-fold CV)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(CountVectorizer(analyzer="char", ngram_range=(k, k), lowercase=True),
                          StandardScaler(with_mean=False),
                          LogisticRegressionCV(Cs=8, cv=3, max_iter=3000, random_state=seed))
    model.fit(train_seqs, y_train)
    return model.predict_proba(test_seqs)[:, 1]


def plain_keras(x_tr, y_tr, x_val, y_val, x_te, rc=False, seed=0):
    """The hand-written DeepBind-like Keras baseline; returns test probabilities."""
    from seqcnn._tf import import_keras
    from seqcnn.training import set_determinism

    keras = import_keras()
    set_determinism(seed)
    if rc:
        x_tr = np.concatenate([x_tr, x_tr[:, ::-1, ::-1]])
        y_tr = np.concatenate([y_tr, y_tr])
    L = x_tr.shape[1]
    inp = keras.Input((L, 4))
    h = keras.layers.Conv1D(128, min(24, L), activation="relu")(inp)
    h = keras.layers.GlobalMaxPooling1D()(h)
    h = keras.layers.Dense(32, activation="relu")(h)
    h = keras.layers.Dropout(0.5)(h)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(h))
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    stop = keras.callbacks.EarlyStopping("val_auc", mode="max", patience=5, restore_best_weights=True)
    model.fit(x_tr.astype(np.float32), y_tr, validation_data=(x_val.astype(np.float32), y_val), batch_size=128,
              epochs=50, callbacks=[stop], verbose=0)
    return model.predict(x_te.astype(np.float32), verbose=0, batch_size=1024)[:, 0]


def seqcnn_run(h5, arch, tmp, params, train_opts, seed=0):
    from seqcnn import rundir, training

    out = os.path.join(tmp, f"run-{arch}")
    r = training.train(h5, out, arch=arch, params=params.get(arch), seed=seed, force=True, quiet=True, plots=False,
                       n_boot=0, **train_opts)
    model, cfg = rundir.load_run(out)
    return model, r


def evaluate_all(name, h5, splits, seqs, y, x, tmp, args, seed=0):
    """All methods on one train/val/test assignment; returns {method: (auroc, seconds)}."""
    from sklearn.metrics import roc_auc_score

    from seqcnn import scoring

    tr, va, te = (np.flatnonzero(splits == c) for c in (0, 1, 2))
    res = {}
    for arch in args.archs:
        t = time.time()
        model, r = seqcnn_run(h5, arch, tmp, args.params, args.train_opts, seed)
        p = scoring.predict_onehot(model, x[te], "binary")[:, 0]
        res[f"seqcnn {arch}"] = (roc_auc_score(y[te], p), time.time() - t, r["best_epoch"])
        print(f"  {name} seqcnn {arch}: auROC {res[f'seqcnn {arch}'][0]:.4f} ({res[f'seqcnn {arch}'][1]:.0f} s, "
              f"best epoch {r['best_epoch']})", flush=True)
    if not args.no_baselines:
        t = time.time()
        p = kmer_lr([seqs[i] for i in np.r_[tr, va]], y[np.r_[tr, va]], [seqs[i] for i in te], seed=seed)
        res["5-mer LR"] = (roc_auc_score(y[te], p), time.time() - t, None)
        for rc in (False, True):
            t = time.time()
            p = plain_keras(x[tr], y[tr], x[va], y[va], x[te], rc=rc, seed=seed)
            res["plain Keras" + (" + RC" if rc else "")] = (roc_auc_score(y[te], p), time.time() - t, None)
        print("  " + name + " baselines: " + ", ".join(f"{k} {v[0]:.4f} ({v[1]:.0f} s)" for k, v in res.items()
                                                     if not k.startswith("seqcnn")), flush=True)
    return res


def write_h5(path, ids, x, y, split):
    from seqcnn.store import write_dataset

    write_dataset(path, x, y, ids, split=split, attrs={"task": "binary", "class_names": ["0", "1"],
                                                       "label_names": ["label"], "pad_mode": "center"}, force=True)


def oct4_data(data):
    """Oct4 vs Mafk: ``(ids, seqs, y, split)``, train.fa split 0.9/0.1 (seed 0) and test.fa as the test split."""
    from seqcnn.splits import stratified_split

    d = os.path.join(data, "janggu_oct4_vs_mafk")
    ids, seqs, y = read_set(os.path.join(d, "train.fa"), os.path.join(d, "train_labels.csv"))
    tids, tseqs, ty = read_set(os.path.join(d, "test.fa"), os.path.join(d, "test_labels.csv"))
    split = np.r_[stratified_split(y, (0.9, 0.1, 0.0), 0), np.full(len(ty), 2, np.uint8)]
    return np.r_[ids, tids], seqs + tseqs, np.r_[y, ty], split


def fold_split(y, k, trv):
    """The split column of fold ``k`` (training+validation rows ``trv``): 0.9/0.1 of them by seed ``k``, test 2."""
    from seqcnn.splits import stratified_split

    split = np.full(len(y), 2, np.uint8)
    split[trv] = np.where(stratified_split(y[trv], (0.9, 0.1, 0.0), k) == 0, 0, 1)
    return split


def folds(y):
    """The B-panel protocol's stratified 5 folds (seed 0): ``(trv, test)`` index pairs."""
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y))


def oct4(args, tmp):
    from seqcnn.encoding import one_hot

    all_ids, all_seqs, all_y, split = oct4_data(args.data)
    x = one_hot(all_seqs)
    h5 = os.path.join(tmp, "oct4.h5")
    write_h5(h5, all_ids, x, all_y, split)
    return {"Oct4 vs Mafk": evaluate_all("Oct4 vs Mafk", h5, split, all_seqs, all_y, x, tmp, args)}


def cross_validate(name, ids, seqs, y, args, tmp):
    """The B-panel protocol: stratified 5-fold (seed 0), each fold's training part split 0.9/0.1 for early stopping."""
    from seqcnn.encoding import one_hot

    x = one_hot(seqs)
    results = []
    for k, (trv, _) in enumerate(folds(y)[: args.folds]):
        split = fold_split(y, k, trv)
        h5 = os.path.join(tmp, f"{name.replace(' ', '_')}-{k}.h5")
        write_h5(h5, np.array(ids, dtype=object), x, y, split)
        results.append(evaluate_all(f"{name} fold {k}", h5, split, seqs, y, x, tmp, args, seed=0))
    return {m: [f[m] for f in results] for m in results[0]}


def bpanel(args, tmp):
    d = os.path.join(args.data, "deepbind_B_panel")
    out = {}
    for tf_name in args.tfs:
        ids, seqs, y = read_set(os.path.join(d, f"{tf_name}.fa"), os.path.join(d, f"{tf_name}_labels.csv"))
        out[tf_name] = cross_validate(tf_name, ids, seqs, y, args, tmp)
    return out


def long_set(seqs, length=1000, seed=0):
    """Each sequence placed at a random offset in a ``length`` bp dinucleotide-Markov background."""
    from seqcnn.simulate import _LETTERS, markov_background

    rng = np.random.default_rng(seed)
    bg = markov_background(len(seqs), length, rng)
    out = []
    for row, s in zip(_LETTERS[bg], seqs):
        at = int(rng.integers(0, length - len(s) + 1))
        text = row.tobytes().decode("ascii")
        out.append(text[:at] + s.upper() + text[at + len(s):])
    return out


def long_seqs(args, tmp, tf_name="CTCF", length=1000):
    d = os.path.join(args.data, "deepbind_B_panel")
    ids, seqs, y = read_set(os.path.join(d, f"{tf_name}.fa"), os.path.join(d, f"{tf_name}_labels.csv"))
    name = f"{tf_name} {length // 1000} kb"
    return {name: cross_validate(name, ids, long_set(seqs, length), y, args, tmp)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.normpath(DATA))
    ap.add_argument("--sets", default="oct4,bpanel,long")
    ap.add_argument("--archs", default=",".join(ARCHS))
    ap.add_argument("--tfs", default=",".join(BPANEL_TFS))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--param", action="append", default=[], help="ARCH:NAME=VALUE")
    ap.add_argument("--train-opt", action="append", default=[], help="NAME=VALUE training option, e.g. lr=0.003")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--out", help="write the results as JSON")
    args = ap.parse_args(argv)
    args.archs = [a for a in args.archs.split(",") if a]
    args.tfs = [t for t in args.tfs.split(",") if t]
    args.params = {}
    for p in args.param:
        arch, kv = p.split(":", 1)
        k, v = kv.split("=", 1)
        args.params.setdefault(arch, {})[k] = v
    args.train_opts = {}
    for p in args.train_opt:
        k, v = p.split("=", 1)
        args.train_opts[k] = {"true": True, "false": False}.get(v.lower(), v)
        for cast in (int, float):
            try:
                args.train_opts[k] = cast(v)
                break
            except ValueError:
                pass

    t0 = time.time()
    results = {}
    with tempfile.TemporaryDirectory(prefix="seqcnn-bench-acc-") as tmp:
        if "oct4" in args.sets:
            results.update(oct4(args, tmp))
        if "bpanel" in args.sets:
            results.update(bpanel(args, tmp))
        if "long" in args.sets:
            results.update(long_seqs(args, tmp))
    methods = list(next(iter(results.values())))
    print(f"\n{' '.join(sys.argv)}\nparams {args.params or 'defaults'}, training {args.train_opts or 'defaults'}; "
          f"total {time.time() - t0:.0f} s on {os.cpu_count()} CPUs\n")
    print("| data set | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 1) + "|")
    for name, res in results.items():
        cells = []
        for m in methods:
            v = res[m]
            if isinstance(v, list):
                a = np.array([r[0] for r in v])
                cells.append(f"{a.mean():.3f} ± {a.std():.3f}")
            else:
                cells.append(f"{v[0]:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nseconds per training run (mean):")
    print("| data set | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 1) + "|")
    for name, res in results.items():
        cells = [f"{np.mean([r[1] for r in (res[m] if isinstance(res[m], list) else [res[m]])]):.0f}"
                 for m in methods]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"argv": sys.argv, "params": args.params, "train_opts": args.train_opts, "results": results},
                      fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
