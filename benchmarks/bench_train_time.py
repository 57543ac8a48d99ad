"""Wall, user and system time of ``seqcnn train`` with its defaults against the plain Keras + RC baseline, in turns.

``bench_accuracy.py`` times each method once per fold, in sequence, so a change in the machine's load between two
runs moves their ratio (the shared machine's speed drifts by tens of percent within minutes). Here the two are
run alternately, ``--rounds`` times each, on the same splits as ``bench_accuracy.py`` (Oct4/Mafk: train.fa
0.9/0.1, test.fa; B panel and CTCF 1 kb: one fold, ``--fold``, of the 5-fold protocol; the real-genome sets of
``bench_genome_accuracy.py``, e.g. ``rap1_1000``: its chromosome split), and the ratio of the medians is reported
with both test auROCs (deterministic: the same every round). ``--train-opt NAME=VALUE`` changes a seqcnn
training option, to time a candidate default against the same baseline.

Each run is a fresh Python process (as a user's ``seqcnn train`` is), timed from the start of training to the test
predictions (imports excluded); beside its wall time the table gives the process's user and system CPU seconds
and context switches over the same span (``getrusage``), the numbers that show threads or the kernel eating the
time. ``--busy`` runs a competing process spinning one core for the whole benchmark: a user's machine is rarely
idle, and the ratio must hold under load too.

    python benchmarks/bench_train_time.py --sets oct4,CTCF,GATA3,rap1_1000 --rounds 3
    python benchmarks/bench_train_time.py --sets oct4 --rounds 2 --busy
    python benchmarks/bench_train_time.py --sets oct4 --seeds 0,1,2 --rounds 2
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_accuracy as acc  # noqa: E402  (the data sets and baselines of the accuracy benchmark)
import bench_genome_accuracy as gacc  # noqa: E402  (the real-genome sets)


def _usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return np.array([r.ru_utime, r.ru_stime, r.ru_nvcsw + r.ru_nivcsw, r.ru_minflt], float)


def one_run(method, npz, h5, tmp, arch, train_opts=None, seed=0):
    """Train and score one method in this process with ``seed``; return its times, usage, epochs and test auROC."""
    from sklearn.metrics import roc_auc_score

    from seqcnn import scoring
    from seqcnn._tf import import_keras

    keras = import_keras()
    d = np.load(npz)
    x, y, split = d["x"], d["y"], d["split"]
    tr, va, te = (np.flatnonzero(split == c) for c in (0, 1, 2))
    t, u = time.time(), _usage()
    if method == "seqcnn":
        model, r = acc.seqcnn_run(h5, arch, tmp, {}, train_opts or {}, seed=seed)
        p = scoring.predict_onehot(model, x[te], "binary")[:, 0]
        epochs, batch = len(r["history"]), r["config"]["training"]["batch_size"]
    else:
        fits = []
        fit = keras.Model.fit

        def counted(self, *a, **k):  # the baseline's epoch count (its EarlyStopping decides)
            h = fit(self, *a, **k)
            fits.append(len(h.epoch))
            return h

        keras.Model.fit = counted
        p = acc.plain_keras(x[tr], y[tr], x[va], y[va], x[te], rc=True, seed=seed)
        epochs, batch = fits[-1], 128
    wall, (user, sys_, switches, faults) = time.time() - t, _usage() - u
    return {"wall": wall, "user": user, "sys": sys_, "switches": int(switches), "faults": int(faults),
            "epochs": int(epochs), "batch": int(batch), "auroc": float(roc_auc_score(y[te], p))}


def measure(method, npz, h5, tmp, arch, train_opts=(), seed=0):
    """:func:`one_run` in a fresh Python process; its result dict."""
    cmd = [sys.executable, "-W", "ignore", os.path.abspath(__file__), "--one", method, "--npz", npz, "--h5", h5,
           "--tmp", tmp, "--arch", arch, "--seeds", str(seed)] + [f"--train-opt={o}" for o in train_opts]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def load_set(name, data, fold):
    """``(label, ids, seqs, y, split)`` of one benchmark set, as ``bench_accuracy.py`` builds it."""
    if name == "oct4":
        return ("Oct4 vs Mafk",) + tuple(acc.oct4_data(data))
    tf_name = "CTCF" if name == "long" else name
    d = os.path.join(data, "deepbind_B_panel")
    ids, seqs, y = acc.read_set(os.path.join(d, f"{tf_name}.fa"), os.path.join(d, f"{tf_name}_labels.csv"))
    if name == "long":
        seqs = acc.long_set(seqs)
    label = ("CTCF 1 kb" if name == "long" else tf_name) + f" fold {fold}"
    return label, np.array(ids, dtype=object), seqs, y, acc.fold_split(y, fold, acc.folds(y)[fold][0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.normpath(acc.DATA))
    ap.add_argument("--sets", default="oct4,CTCF,GATA3,rap1_1000",
                    help="oct4, B-panel TF names, long (CTCF 1 kb, semi-synthetic), or a real-genome set of "
                         "bench_genome_accuracy.py (rap1_200, rap1_1000, fp_200, fp_1000)")
    ap.add_argument("--train-opt", action="append", default=[], metavar="NAME=VALUE",
                    help="a seqcnn training option for its runs, e.g. patience=5 (repeatable)")
    ap.add_argument("--max-peaks", type=int, default=1000, help="footprint subsample (as bench_genome_accuracy)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arch", default="deepbind")
    ap.add_argument("--fold", type=int, default=0, help="which of the 5 folds (B panel, CTCF 1 kb)")
    ap.add_argument("--busy", action="store_true", help="spin one core in another process during the runs")
    ap.add_argument("--seeds", default="0", help="training seeds of both methods, comma-separated: a row each "
                    "(the epochs early stopping picks, and so the wall time, move with the seed)")
    ap.add_argument("--one", choices=["seqcnn", "keras"], help=argparse.SUPPRESS)  # a child run
    ap.add_argument("--npz", help=argparse.SUPPRESS)
    ap.add_argument("--h5", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one_run(args.one, args.npz, args.h5, args.tmp, args.arch, gacc.parse_opts(args.train_opt),
                                 int(args.seeds))), flush=True)
        return

    from seqcnn.encoding import one_hot

    busy = None
    if args.busy:
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="seqcnn-bench-time-") as tmp:
            for name in args.sets.split(","):
                npz = os.path.join(tmp, f"{name}.npz")
                if name in gacc.SETS:
                    # Real genomic windows, encoded as `seqcnn encode --bed --genome --length` does.
                    ns = SimpleNamespace(data=gacc.DATA, genome=os.path.join(gacc.DATA, "genome.fa.gz"),
                                         workdir=tmp, max_peaks=args.max_peaks, encode_opts={})
                    h5, meta = gacc.encode_set(name, ns)
                    x, y, split = gacc.load_xy(h5, meta["length"])
                    label = f"{name} (yeast genome)"
                else:
                    label, ids, seqs, y, split = load_set(name, args.data, args.fold)
                    x = one_hot(seqs)
                    h5 = os.path.join(tmp, f"{name}.h5")
                    acc.write_h5(h5, ids, x, y, split)
                np.savez(npz, x=x, y=y, split=split)
                seeds = [int(v) for v in args.seeds.split(",")]
                for seed in seeds:
                    row_label = label + (f", seed {seed}" if seeds != [0] else "")
                    runs = {"seqcnn": [], "keras": []}
                    for _ in range(args.rounds):
                        for method in ("seqcnn", "keras"):
                            runs[method].append(measure(method, npz, h5, tmp, args.arch, args.train_opt, seed))
                            print(f"  {row_label} {method}: {runs[method][-1]} (load {os.getloadavg()[0]:.1f})",
                                  flush=True)
                    med = {m: {k: float(np.median([r[k] for r in rs])) for k in ("wall", "user", "sys", "switches")}
                           for m, rs in runs.items()}
                    rows.append((row_label, med, runs, os.getloadavg()[0]))
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    print(f"\n{' '.join(sys.argv)}; {args.rounds} rounds in turns, medians, {os.cpu_count()} CPUs"
          f"{', one core kept busy by another process' if args.busy else ''}\n")
    print(f"| data set | seqcnn {args.arch} s | user s | sys s | ctx switches | plain Keras + RC s | user s | sys s "
          "| ctx switches | ratio (wall) | seqcnn epochs | Keras epochs | batch | seqcnn test auROC "
          "| Keras + RC test auROC | load |")
    print("|" + "---|" * 16)
    for label, med, runs, load in rows:
        s, k = med["seqcnn"], med["keras"]
        print(f"| {label} | {s['wall']:.1f} | {s['user']:.1f} | {s['sys']:.1f} | {s['switches']:.0f} | "
              f"{k['wall']:.1f} | {k['user']:.1f} | {k['sys']:.1f} | {k['switches']:.0f} | "
              f"{s['wall'] / k['wall']:.2f}× | {runs['seqcnn'][-1]['epochs']} | {runs['keras'][-1]['epochs']} | "
              f"{runs['seqcnn'][-1]['batch']} | {runs['seqcnn'][-1]['auroc']:.4f} | {runs['keras'][-1]['auroc']:.4f} "
              f"| {load:.1f} |")


if __name__ == "__main__":
    main()
