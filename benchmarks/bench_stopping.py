"""Early-stopping rules replayed on full training runs: epochs saved against test auROC lost (issue 26, part 4).

``seqcnn train``'s wall time against a hand-written Keras model is set by how many epochs each runs (an epoch
costs the same, RESULTS "Training wall time"). Which stopping rule to ship is an accuracy question, so it is
answered here on real data rather than guessed: each (set, seed, progress rule, options) is trained for the
full ``--epochs`` with patience equal to the epochs (it never stops early), and after every epoch the model is
scored on the test split as well (a Keras callback through ``training.train(callbacks=...)``; prediction draws
no random numbers, so the run is the one a user gets). Then every patience in ``--patience`` is replayed on the
recorded history with ``seqcnn.training``'s own rules (``_improved``, ``_new_low``): the epoch the run would
have stopped at, the epoch whose weights it would have kept, and that epoch's test auROC and auPRC.

The replay is exact for a given progress rule (``--stopping monitor`` or ``monitor+loss``): patience only ends
the run, while the plateau decay of the learning rate counts epochs without progress, which does not depend on
patience. A different progress rule changes the decay, so each rule is its own run.

Sets: ``oct4`` (Oct4 vs Mafk, as ``bench_train_time.py``), a B-panel TF name (e.g. ``GATA3``: fold 0 of
``bench_accuracy.py``'s protocol, 101 bp, shuffled negatives), and the real-genome sets of
``bench_genome_accuracy.py`` (``rap1_200``, ``rap1_1000``, ``fp_200``, ``fp_1000``; footprints subsampled to
``--max-peaks``), encoded in genome mode as ``seqcnn encode --bed --genome --length`` does.

    nice .venv/bin/python benchmarks/bench_stopping.py --sets rap1_200,fp_200 --seeds 0,1 --out /tmp/stop.json
    .venv/bin/python benchmarks/bench_stopping.py --report /tmp/stop.json

``--report`` also lists each ``monitor+loss`` run's stop and kept epoch at patience 5, 6 and 10 (``per_run``).
The JSON keeps every epoch of every run; a run already in it is skipped, so commands merge into one file.
The report gives, per rule, rate and patience, the mean over seeds of the epochs run and the kept epoch's test
auROC per set; the rows of ``seqcnn train``'s defaults for deepbind (short and long inputs) are marked.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_accuracy as acc  # noqa: E402
import bench_genome_accuracy as gacc  # noqa: E402
import bench_train_time as btt  # noqa: E402

PATIENCES = (3, 4, 5, 6, 8, 10)


def set_data(name, args, tmp):
    """(h5 path, test one-hot (n, L, 4), test labels (n,)) of one set."""
    if name not in gacc.SETS:
        from seqcnn.encoding import one_hot

        # Oct4 vs Mafk (its train/test files) or a B-panel TF (fold 0 of bench_accuracy's 5-fold protocol).
        label, ids, seqs, y, split = btt.load_set(name, acc.DATA, 0)
        x = one_hot(seqs)
        h5 = os.path.join(args.workdir, f"{name}.h5")
        if not os.path.exists(h5):
            acc.write_h5(h5, ids, x, y, split)
        te = np.flatnonzero(np.asarray(split) == 2)
        return h5, x[te], np.asarray(y)[te].astype(np.uint8)
    ns = SimpleNamespace(data=gacc.DATA, genome=os.path.join(gacc.DATA, "genome.fa.gz"), workdir=args.workdir,
                         max_peaks=args.max_peaks, encode_opts={})
    h5, meta = gacc.encode_set(name, ns)
    x, y, split = gacc.load_xy(h5, meta["length"])
    te = np.flatnonzero(split == 2)
    return h5, x[te], y[te]


def full_run(h5, x_te, y_te, seed, stopping, opts, epochs, tmp):
    """Train for ``epochs`` without stopping; return the history rows with each epoch's test auROC and auPRC."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from seqcnn import scoring, training
    from seqcnn._tf import import_keras

    keras = import_keras()
    tests = []

    class TestEachEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            p = scoring.predict_onehot(self.model, x_te, "binary")[:, 0]
            tests.append((float(roc_auc_score(y_te, p)), float(average_precision_score(y_te, p))))

    out = os.path.join(tmp, "run")
    t = time.time()
    r = training.train(h5, out, seed=seed, epochs=epochs, patience=epochs, stopping=stopping, force=True,
                       quiet=True, plots=False, n_boot=0, callbacks=[TestEachEpoch()], **opts)
    hist = r["history"]
    for row, (auroc, auprc) in zip(hist, tests):
        row["test_auroc"], row["test_auprc"] = auroc, auprc
    return {"history": hist, "seconds": round(time.time() - t, 1), "monitor": r["config"]["training"]["monitor"],
            "lr": r["config"]["training"]["lr"],
            "batch_size": r["config"]["training"]["batch_size"], "shipped_test_auroc": r["metrics"]["test"]["auroc"]}


def replay(history, monitor, stopping, patience, stop_delta=None):
    """(epochs run, kept epoch) of a run with ``patience`` on a full ``history`` (list of epoch rows).

    ``stop_delta`` (``monitor+loss`` runs only) replays a stopping counter apart from the decay's: the decay (and
    so the run) is the recorded one, but patience counts epochs without the monitor improving or, where
    ``stop_delta`` is a number, without the validation loss falling by more than that fraction below its lowest
    (``stop_delta=1.0``: the monitor alone).
    """
    from seqcnn.training import _improved, _new_low

    up = monitor != "val_loss"
    with_loss = stopping == "monitor+loss"
    best = best_loss = min_loss = stall_low = None
    best_epoch, wait = 1, 0
    for row in history:
        current, cur_up = row.get(monitor), up
        if current is None or (isinstance(current, float) and np.isnan(current)):
            current, cur_up = row["val_loss"], False
        loss = row.get("val_loss")
        improved = _improved(current, best, cur_up, loss if with_loss else None, best_loss)
        new_low = _new_low(loss, min_loss)
        if new_low:
            min_loss = loss
        if stop_delta is None:
            progress = improved or (with_loss and new_low)
        else:
            # A fall of more than stop_delta below the lowest loss seen so far (the reference moves only then).
            big = loss is not None and (stall_low is None or loss < stall_low * (1 - stop_delta))
            if big:
                stall_low = loss
            progress = improved or big
        if improved:
            best, best_loss, best_epoch = current, loss, row["epoch"]
        wait = 0 if progress else wait + 1
        if wait >= patience:
            return row["epoch"], best_epoch
    return history[-1]["epoch"], best_epoch


def key(r):
    return (r["set"], r["seed"], r["stopping"], json.dumps(r["opts"], sort_keys=True))


def _with_lr(runs):
    """``runs``, each with ``lr``: the rate it trained with (runs recorded before the field: their day's 1e-3)."""
    for r in runs:
        r.setdefault("lr", r["opts"].get("lr", 1e-3))
    return runs


def report(doc, patiences=PATIENCES):
    """Markdown: per (rule, rate, options, patience), mean epochs run and kept-epoch test auROC per set."""
    from seqcnn import rundir

    runs = _with_lr(doc["runs"])

    def opts_of(r):
        return json.dumps({k: v for k, v in r["opts"].items() if k != "lr"}, sort_keys=True)

    order = ("oct4", "rap1_200", "rap1_1000", "fp_200", "fp_1000")
    sets = sorted({r["set"] for r in runs}, key=lambda s: (order.index(s) if s in order else 9, s))
    short_lr, long_lr = (rundir.default_lr("deepbind", n) for n in (rundir.SHORT_INPUT, rundir.SHORT_INPUT + 1))
    variants = sorted({(r["stopping"], r["lr"], opts_of(r)) for r in runs})
    lines = ["| rule | lr | other options | patience | "
             + " | ".join(f"{s} epochs | {s} test auROC" for s in sets) + " |",
             "|---|---|---|---|" + "---|---|" * len(sets)]
    for stopping, lr, opts in variants:
        for p in patiences:
            cells = []
            for s in sets:
                sel = [r for r in runs if r["set"] == s and r["stopping"] == stopping and r["lr"] == lr
                       and opts_of(r) == opts]
                if not sel:
                    cells += ["–", "–"]
                    continue
                ep, au = [], []
                for r in sel:
                    stop, kept = replay(r["history"], r["monitor"], stopping, p)
                    ep.append(stop)
                    au.append(r["history"][kept - 1]["test_auroc"])
                cells += [f"{np.mean(ep):.1f}", f"{np.mean(au):.3f} ± {np.std(au):.3f} (n={len(au)})"]
            default = ""
            if (stopping, p, opts) == (rundir.TRAIN_DEFAULTS["stopping"], rundir.TRAIN_DEFAULTS["patience"], "{}"):
                default = " ".join(t for t, r in ((f"**(default ≤ {rundir.SHORT_INPUT} bp)**", short_lr),
                                                  (f"**(default > {rundir.SHORT_INPUT} bp)**", long_lr)) if lr == r)
                default = " " + default if default else ""
            lines.append(f"| {stopping}{default} | {lr:g} | {opts} | {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_run(doc, patiences=(5, 6, 10), stopping="monitor+loss"):
    """Markdown: each ``stopping`` run's stop and kept epoch at each patience, and how many keep the epoch of the last.

    The kept epoch decides the model a user gets; a lower patience that keeps the same epoch loses nothing.
    """
    runs = sorted((r for r in _with_lr(doc["runs"]) if r["stopping"] == stopping and set(r["opts"]) <= {"lr"}),
                  key=lambda r: (r["set"], r["lr"], r["seed"]))
    head = " | ".join(f"patience {p}: stop, kept (test auROC)" for p in patiences)
    lines = [f"| set | lr | seed | {head} |", "|---|---|---|" + "---|" * len(patiences)]
    same = {p: 0 for p in patiences}
    for r in runs:
        cells, ref = [], replay(r["history"], r["monitor"], stopping, patiences[-1])[1]
        for p in patiences:
            stop, kept = replay(r["history"], r["monitor"], stopping, p)
            same[p] += kept == ref
            cells.append(f"{stop}, {kept} ({r['history'][kept - 1]['test_auroc']:.4f})")
        lines.append(f"| {r['set']} | {r['lr']:g} | {r['seed']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("; ".join(f"patience {p}: {same[p]} of {len(runs)} runs keep the epoch of patience {patiences[-1]}"
                           for p in patiences[:-1]))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="oct4,rap1_200,rap1_1000,fp_200,fp_1000")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--stopping", default="monitor,monitor+loss", help="progress rules, comma-separated")
    ap.add_argument("--train-opt", action="append", default=[], metavar="NAME=VALUE",
                    help="a training option for every run, e.g. lr=0.003 (repeatable)")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--max-peaks", type=int, default=1000, help="footprint subsample (as bench_genome_accuracy)")
    ap.add_argument("--workdir", default=None, help="where encoded sets are cached (default: a temporary folder)")
    ap.add_argument("--out", default="stopping.json")
    ap.add_argument("--report", nargs="*", help="only print the tables of these JSON files")
    args = ap.parse_args(argv)
    if args.report is not None:
        doc = {"runs": []}
        for f in args.report:
            doc["runs"] += gacc.load_json(f).get("runs", [])
        print(report(doc))
        print()
        print(per_run(doc))
        return
    opts = gacc.parse_opts(args.train_opt)
    doc = gacc.load_json(args.out)
    doc.setdefault("runs", [])
    doc.setdefault("commands", []).append(" ".join(sys.argv) + f"   # started {time.strftime('%Y-%m-%d %H:%M:%S')}"
                                          f" on {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    done = {key(r) for r in doc["runs"]}
    with tempfile.TemporaryDirectory(prefix="seqcnn-stop-") as tmp:
        args.workdir = args.workdir or tmp
        os.makedirs(args.workdir, exist_ok=True)
        for name in args.sets.split(","):
            h5, x_te, y_te = set_data(name, args, tmp)
            for seed in [int(s) for s in args.seeds.split(",")]:
                for stopping in args.stopping.split(","):
                    row = {"set": name, "seed": seed, "stopping": stopping, "opts": opts}
                    if key(row) in done:
                        continue
                    load0 = os.getloadavg()[0]
                    row.update(full_run(h5, x_te, y_te, seed, stopping, opts, args.epochs, tmp))
                    row["load"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
                    doc["runs"].append(row)
                    gacc.save_json(doc, args.out)
                    ep, kept = replay(row["history"], row["monitor"], stopping, 10)
                    print(f"{name} seed {seed} {stopping} {opts}: {row['seconds']} s; patience 10 stops at {ep}, "
                          f"keeps {kept}: test auROC {row['history'][kept - 1]['test_auroc']:.4f}", flush=True)
    print(report(doc))


if __name__ == "__main__":
    main()
