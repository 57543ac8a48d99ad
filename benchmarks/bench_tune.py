"""seqcnn tune on real data: TPE against random search at the same trial budget, and both against the defaults.

For each B-panel TF (``--tfs``), fold 0 of the stratified 5-fold protocol of ``bench_accuracy.py`` (720 train,
80 validation, 200 test): one default ``seqcnn train`` run, then ``seqcnn.tune.tune`` with ``--trials`` trials
(deepbind, TPE sampler and median pruning), then the same with Optuna's random sampler. Each search picks its
best trial on validation only; the table reports that trial's validation value and its test auROC (scored after
the search), with the default run's, and the wall time of each search.

    python benchmarks/bench_tune.py --tfs GATA3,ZNF143 --trials 15
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def fold0(tf_name, tmp, data):
    from sklearn.model_selection import StratifiedKFold

    from bench_accuracy import read_set, write_h5
    from seqcnn.encoding import one_hot
    from seqcnn.splits import stratified_split

    d = os.path.join(data, "deepbind_B_panel")
    ids, seqs, y = read_set(os.path.join(d, f"{tf_name}.fa"), os.path.join(d, f"{tf_name}_labels.csv"))
    x = one_hot(seqs)
    trv, te = next(StratifiedKFold(5, shuffle=True, random_state=0).split(seqs, y))
    split = np.full(len(y), 2, np.uint8)
    split[trv] = np.where(stratified_split(y[trv], (0.9, 0.1, 0.0), 0) == 0, 0, 1)
    h5 = os.path.join(tmp, f"{tf_name}.h5")
    write_h5(h5, np.array(ids, dtype=object), x, y, split)
    return h5, x[split == 2], y[split == 2]


def test_auroc(run, x, y):
    from sklearn.metrics import roc_auc_score

    from seqcnn import rundir, scoring

    model, _ = rundir.load_run(run)
    return roc_auc_score(y, scoring.predict_onehot(model, x, "binary")[:, 0])


def main(argv=None):
    from bench_accuracy import DATA
    from seqcnn import training
    from seqcnn.tune import tune

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.normpath(DATA))
    ap.add_argument("--tfs", default="GATA3,ZNF143")
    ap.add_argument("--trials", type=int, default=15)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for tf_name in args.tfs.split(","):
            h5, xt, yt = fold0(tf_name, tmp, args.data)
            t = time.time()
            r = training.train(h5, os.path.join(tmp, "default"), force=True, quiet=True, plots=False, n_boot=0)
            best = r["history"][r["best_epoch"] - 1]["val_auprc"]
            rows.append((tf_name, "defaults (1 run)", best, test_auroc(os.path.join(tmp, "default"), xt, yt),
                         time.time() - t))
            for sampler in ("tpe", "random"):
                t = time.time()
                res = tune(h5, os.path.join(tmp, f"tune-{sampler}"), n_trials=args.trials, sampler=sampler,
                           force=True, quiet=True)
                s = res["summary"]
                rows.append((tf_name, f"tune {sampler} ({args.trials} trials, {s['trials']['pruned']} pruned)",
                             s["best"]["value"], test_auroc(res["best"], xt, yt), time.time() - t))
                print(f"  {tf_name} {sampler}: best {s['best']['params']}", flush=True)
            for row in rows[-3:]:
                print(f"  {row[0]} {row[1]}: val auPRC {row[2]:.4f}, test auROC {row[3]:.4f}, {row[4]:.0f} s",
                      flush=True)
    print(f"\n{' '.join(sys.argv)}\n")
    print("| TF | method | best val auPRC | its test auROC | seconds |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]:.4f} | {row[3]:.4f} | {row[4]:.0f} |")


if __name__ == "__main__":
    main()
