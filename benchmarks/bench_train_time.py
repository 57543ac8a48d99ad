"""Wall time of ``seqcnn train`` with its defaults against the plain Keras + RC baseline, in turns.

``bench_accuracy.py`` times each method once per fold, in sequence, so a change in the machine's load between two
runs moves their ratio (the shared machine's speed drifts by tens of percent within minutes). Here the two are
run alternately, ``--rounds`` times each, on the same splits as ``bench_accuracy.py`` (Oct4/Mafk: train.fa
0.9/0.1, test.fa; B panel and CTCF 1 kb: one fold, ``--fold``, of the 5-fold protocol), and the ratio of the
medians is reported with both test auROCs (deterministic: the same every round).

    python benchmarks/bench_train_time.py --sets oct4,CTCF,GATA3,long --rounds 3
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_accuracy as acc  # noqa: E402  (the data sets and baselines of the accuracy benchmark)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.normpath(acc.DATA))
    ap.add_argument("--sets", default="oct4,CTCF,GATA3,long", help="oct4, B-panel TF names, long (CTCF 1 kb)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arch", default="deepbind")
    ap.add_argument("--fold", type=int, default=0, help="which of the 5 folds (B panel, CTCF 1 kb)")
    args = ap.parse_args(argv)

    from sklearn.metrics import roc_auc_score

    from seqcnn import scoring
    from seqcnn.encoding import one_hot

    rows = []
    with tempfile.TemporaryDirectory(prefix="seqcnn-bench-time-") as tmp:
        for name in args.sets.split(","):
            if name == "oct4":
                label, (ids, seqs, y, split) = "Oct4 vs Mafk", acc.oct4_data(args.data)
            else:
                tf_name = "CTCF" if name == "long" else name
                d = os.path.join(args.data, "deepbind_B_panel")
                ids, seqs, y = acc.read_set(os.path.join(d, f"{tf_name}.fa"), os.path.join(d, f"{tf_name}_labels.csv"))
                if name == "long":
                    seqs = acc.long_set(seqs)
                label = ("CTCF 1 kb" if name == "long" else tf_name) + f" fold {args.fold}"
                ids = np.array(ids, dtype=object)
                split = acc.fold_split(y, args.fold, acc.folds(y)[args.fold][0])
            x = one_hot(seqs)
            h5 = os.path.join(tmp, f"{name}.h5")
            acc.write_h5(h5, ids, x, y, split)
            tr, va, te = (np.flatnonzero(split == c) for c in (0, 1, 2))
            times = {"seqcnn": [], "keras": []}
            auc = {}
            for _ in range(args.rounds):
                t = time.time()
                model, r = acc.seqcnn_run(h5, args.arch, tmp, {}, {})
                times["seqcnn"].append(time.time() - t)
                auc["seqcnn"] = roc_auc_score(y[te], scoring.predict_onehot(model, x[te], "binary")[:, 0])
                epochs = len(r["history"])
                t = time.time()
                p = acc.plain_keras(x[tr], y[tr], x[va], y[va], x[te], rc=True)
                times["keras"].append(time.time() - t)
                auc["keras"] = roc_auc_score(y[te], p)
            s, k = np.median(times["seqcnn"]), np.median(times["keras"])
            rows.append((label, s, k, s / k, epochs, r["config"]["training"]["batch_size"], auc["seqcnn"],
                         auc["keras"], os.getloadavg()[0]))
            print(f"  {label}: seqcnn {times['seqcnn']}, keras {times['keras']}", flush=True)
    print(f"\n{' '.join(sys.argv)}; {args.rounds} rounds in turns, medians, {os.cpu_count()} CPUs\n")
    print(f"| data set | seqcnn {args.arch} s | plain Keras + RC s | ratio | seqcnn epochs | batch | "
          "seqcnn test auROC | Keras + RC test auROC | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, s, k, ratio, ep, bs, a1, a2, load in rows:
        print(f"| {label} | {s:.1f} | {k:.1f} | {ratio:.2f}× | {ep} | {bs} | {a1:.4f} | {a2:.4f} | {load:.1f} |")


if __name__ == "__main__":
    main()
