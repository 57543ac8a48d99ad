"""Accuracy on real genomic windows: the yeast R64 genome, seqcnn (defaults, every architecture) vs the baselines.

Sets (``--sets``, from ``../shared/data/yeast_r64/``), each encoded in genome mode exactly as a user would:
``seqcnn encode --bed PEAKS --genome genome.fa.gz --length L -o set.h5`` (through
``seqcnn.genome_encode.encode_intervals``, the function the verb calls, with its defaults: windows centred on the
summit, or the midpoint where the BED has none; one GC-matched genomic negative per peak; the default
chromosome split; encode seed 0):
- ``rap1_200``, ``rap1_1000``: ``rap1_peaks.bed``, Rap1 ChIP-exo peaks (574), 200 bp / 1,000 bp windows;
- ``fp_200``, ``fp_1000``: ``dnase_footprints.bed``, DNase I footprints (6,113), 200 bp / 1,000 bp; with
  ``--max-peaks N`` a seeded (seed 0) random subsample of N footprints (recorded in the JSON's ``sets``).
``--encode-opt NAME=VALUE`` passes an option to ``encode_intervals`` (e.g. ``negative_ratio=2``).
``--archs deepbind_2w,deepbind_bn`` trains the first-layer levers of ``deepbind_variants.py`` (two kernel widths;
batch normalisation after the first convolution), registered for the run only.

Methods, all on the same split, in the same run, once per seed (``--seeds``; a seed changes the model's initial
weights, batch order and augmentation, never the split):
- ``seqcnn defaults``: ``seqcnn.training.train`` with no architecture (``models.DEFAULT_ARCH``), as ``seqcnn train
  DATA -o RUN --seed S`` does; ``seqcnn ARCH`` for each of ``--archs`` (``--arch ARCH``, its default
  hyper-parameters). The architecture the defaults pick is not trained twice: its row is the defaults' runs.
  ``--train-opt NAME=VALUE`` passes an option to the training (e.g. ``lr=0.0005``); ``replicates=K`` trains
  through ``seqcnn.ensemble.train_replicates`` as ``seqcnn train --replicates K`` does. No bootstrap, no plots.
- baselines (``benchmarks/bench_accuracy.py``'s, unchanged): ``5-mer LR`` (5-mer counts → LogisticRegressionCV,
  fitted on the training + validation windows), ``plain Keras`` (DeepBind-like Conv1D(128, 24), early stopping on
  validation AUC), ``plain Keras + RC`` (the same on the training set plus its reverse complements).
- No gapped k-mer SVM: no package installs here (PyPI has no ``lsgkm``, ``gkmsvm``, ``ls-gkm``, ``gkm-svm``;
  Debian/Ubuntu none).

Measures per run: test auROC and auPRC (scikit-learn ``roc_auc_score`` / ``average_precision_score``, as
``seqcnn.metrics``; the seqcnn rows take the run's own test metrics), wall seconds, CPU user/system seconds
of this process, the load average; seqcnn runs also the best epoch, the epochs run, the validation auROC per
epoch (``history.csv``), the one at epoch 5 and the lowest from epoch 5 on (a run "stalls" when that is ≤ 0.6).
Every run is appended to the ``--out`` JSON as it finishes; a run already there (same set, method, seed and
options) is skipped, so a cut-off command continues where it stopped and several commands merge into one file.
``--report`` only prints the tables of the JSON files given.

    nice .venv/bin/python benchmarks/bench_genome_accuracy.py --out /tmp/gacc/results.json
    nice .venv/bin/python benchmarks/bench_genome_accuracy.py --sets fp_200,fp_1000 --max-peaks 1500 \\
        --archs "" --out /tmp/gacc/results.json
    .venv/bin/python benchmarks/bench_genome_accuracy.py --report /tmp/gacc/results.json

prints markdown tables: one row per method, auROC and auPRC per set (mean ± sd over seeds), then seconds per run
and the seqcnn runs' best epochs and validation auROC at epoch 5 (lowest over seeds).
"""

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "yeast_r64"))
ARCHS = ("primer", "deepbind", "basset", "zeng")
SETS = {"rap1_200": ("rap1_peaks.bed", 200), "rap1_1000": ("rap1_peaks.bed", 1000),
        "fp_200": ("dnase_footprints.bed", 200), "fp_1000": ("dnase_footprints.bed", 1000)}
BASELINES = ("5-mer LR", "plain Keras", "plain Keras + RC")
STALL = 0.6


def parse_opts(pairs):
    """``NAME=VALUE`` strings → dict; values become int, float or bool where they read as one."""
    out = {}
    for p in pairs:
        k, v = p.split("=", 1)
        val = {"true": True, "false": False, "none": None}.get(v.lower(), v)
        if isinstance(val, str):
            for cast in (int, float):
                try:
                    val = cast(v)
                    break
                except ValueError:
                    pass
        out[k] = val
    return out


def subsample_bed(src, n, dst, seed=0):
    """Write a seeded random ``n`` of the interval lines of ``src`` (in file order) to ``dst``; return (kept, of)."""
    with open(src) as fh:
        lines = [x for x in fh if x.strip() and not x.startswith(("#", "track", "browser"))]
    if n >= len(lines):
        return src, len(lines), len(lines)
    keep = np.sort(np.random.default_rng(seed).choice(len(lines), n, replace=False))
    with open(dst, "w") as fh:
        fh.writelines(lines[i] for i in keep)
    return dst, n, len(lines)


def encode_set(name, args):
    """Encode one set (cached under ``--workdir`` by its options); return (h5 path, description dict)."""
    from seqcnn.genome_encode import encode_intervals

    bed_name, length = SETS[name]
    bed = os.path.join(args.data, bed_name)
    max_peaks = args.max_peaks if name.startswith("fp_") else 0
    tag = "_".join(f"{k}-{v}" for k, v in sorted(args.encode_opts.items()))
    stem = os.path.join(args.workdir, name + (f"_max{max_peaks}" if max_peaks else "") + (f"_{tag}" if tag else ""))
    h5, meta_path = stem + ".h5", stem + ".json"
    if os.path.exists(h5) and os.path.exists(meta_path):
        with open(meta_path) as fh:
            return h5, json.load(fh)
    n_bed = None
    if max_peaks:
        bed, kept, n_bed = subsample_bed(bed, max_peaks, stem + ".bed")
    t0 = time.time()
    opts = dict(length=length, plots=False, force=True)
    opts.update(args.encode_opts)
    report = encode_intervals([bed], args.genome, h5, **opts)
    meta = {"set": name, "bed": os.path.join(args.data, bed_name), "length": length, "encode_opts": args.encode_opts,
            "max_peaks": max_peaks or None, "bed_lines": n_bed, "encode_seconds": round(time.time() - t0, 1),
            "command": f"seqcnn encode --bed {bed} --genome {args.genome} --length {length} -o {h5}"
                       + "".join(f" --{k.replace('_', '-')} {v}" for k, v in args.encode_opts.items()),
            "records_read": report["records_read"], "records_written": report["records_written"],
            "dropped": report["dropped"], "negatives_made": report["negatives_made"],
            "split_chroms": report.get("split_chroms"), "split_blocks": report.get("split_blocks"),
            "gc_ks": report["gc_match"].get("ks")}
    from seqcnn.store import open_dataset

    with open_dataset(h5) as ds:
        split, y = np.asarray(ds.split), np.asarray(ds.y).reshape(len(ds), -1)[:, 0]
        meta["stored_length"] = int(ds.read_x([0]).shape[1])
    meta["counts"] = {s: {"n": int((split == c).sum()), "positives": int(y[split == c].sum()),
                          "negatives": int((split == c).sum() - y[split == c].sum())}
                      for c, s in enumerate(("train", "val", "test"))}
    with open(meta_path, "w") as fh:
        json.dump(meta, fh, indent=1, default=str)
    return h5, meta


def load_xy(h5, length):
    """One-hot windows (centre-cropped to ``length`` when stored wider), labels and split of a dataset."""
    from seqcnn.store import open_dataset

    with open_dataset(h5) as ds:
        x = ds.read_x()
        y = np.asarray(ds.y).reshape(len(ds), -1)[:, 0].astype(np.uint8)
        split = np.asarray(ds.split)
    if x.shape[1] > length:
        # A store with a wider window (shift augmentation) is evaluated on the centred window, as the model is.
        off = (x.shape[1] - length) // 2
        x = x[:, off:off + length]
    return x, y, split


def history_of(run_dir):
    """Validation auROC per epoch of a run directory's ``history.csv`` (list of floats)."""
    with open(os.path.join(run_dir, "history.csv")) as fh:
        return [float(r["val_auroc"]) if r.get("val_auroc") not in (None, "") else float("nan")
                for r in csv.DictReader(fh)]


def epoch5(vals):
    """(val auROC at epoch 5 (the last one if fewer ran), the lowest from epoch 5 on)."""
    if not vals:
        return None, None
    tail = vals[4:] or vals[-1:]
    return vals[min(4, len(vals) - 1)], float(np.nanmin(tail))


class Clock:
    """Wall and CPU (user, system) seconds of this process, and the 1-minute load average, over a block."""

    def __enter__(self):
        self.t, self.r, self.load0 = time.time(), resource.getrusage(resource.RUSAGE_SELF), os.getloadavg()[0]
        return self

    def __exit__(self, *exc):
        r = resource.getrusage(resource.RUSAGE_SELF)
        self.row = {"seconds": round(time.time() - self.t, 1), "user_s": round(r.ru_utime - self.r.ru_utime, 1),
                    "sys_s": round(r.ru_stime - self.r.ru_stime, 1),
                    "load": [round(self.load0, 2), round(os.getloadavg()[0], 2)]}


def seqcnn_run(h5, arch, seed, train_opts, tmp):
    """One ``seqcnn train`` run (``arch`` None: the defaults); returns the result row."""
    from seqcnn import ensemble, training

    out = os.path.join(tmp, f"run-{arch or 'defaults'}-{seed}")
    opts = dict(train_opts)
    k = int(opts.pop("replicates", 1) or 1)
    with Clock() as c:
        if k > 1:
            r = ensemble.train_replicates(h5, out, replicates=k, arch=arch, seed=seed, force=True, quiet=True,
                                          plots=False, n_boot=0, **opts)
        else:
            r = training.train(h5, out, arch=arch, seed=seed, force=True, quiet=True, plots=False, n_boot=0, **opts)
    m = r["metrics"]
    row = {"auroc": m["test"]["auroc"], "auprc": m["test"]["auprc"], **c.row, "arch": r["config"]["arch"],
           "best_epoch": m.get("best_epoch"), "epochs_run": m.get("epochs_run"),
           "batch_size": r["config"].get("training", {}).get("batch_size")}
    dirs = [mem["path"] for mem in r["members"]] if k > 1 else [out]
    hists = []
    for d in dirs:
        d = d if os.path.isabs(d) else os.path.join(out, d)
        hists.append(history_of(d))
    row["val_auroc"] = hists if k > 1 else hists[0]
    e5 = [epoch5(h) for h in hists]
    row["val_auroc_e5"] = min(v[0] for v in e5)
    row["val_auroc_min_from_e5"] = min(v[1] for v in e5)
    return row


def baseline_rows(x, y, split, seed):
    """The three bench_accuracy baselines on one split: {method: row}."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from bench_accuracy import kmer_lr, plain_keras
    from seqcnn.encoding import decode

    tr, va, te = (np.flatnonzero(split == c) for c in (0, 1, 2))
    out = {}
    with Clock() as c:
        seqs = decode(x)
        p = kmer_lr([seqs[i] for i in np.r_[tr, va]], y[np.r_[tr, va]], [seqs[i] for i in te], seed=seed)
    out["5-mer LR"] = {"auroc": roc_auc_score(y[te], p), "auprc": average_precision_score(y[te], p), **c.row}
    for rc in (False, True):
        with Clock() as c:
            p = plain_keras(x[tr], y[tr], x[va], y[va], x[te], rc=rc, seed=seed)
        out["plain Keras" + (" + RC" if rc else "")] = {"auroc": roc_auc_score(y[te], p),
                                                       "auprc": average_precision_score(y[te], p), **c.row}
    return out


def load_json(path):
    if path and os.path.exists(path):
        with open(path) as fh:
            return json.load(fh)
    return {"sets": {}, "runs": [], "commands": []}


def save_json(doc, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1, default=float)
    os.replace(tmp, path)


def run_key(r):
    return (r["set"], r["method"], r["seed"], json.dumps(r.get("train_opts", {}), sort_keys=True),
            json.dumps(r.get("encode_opts", {}), sort_keys=True), r.get("max_peaks"))


def fmt(vals, digits=3):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    a = np.asarray(vals, float)
    return f"{a.mean():.{digits}f} ± {a.std(ddof=1):.{digits}f}" if len(a) > 1 else f"{a[0]:.{digits}f}"


def tables(doc):
    """Markdown tables of a results document: accuracy, seconds, seqcnn training diagnostics."""
    runs = doc["runs"]
    sets = [s for s in SETS if any(r["set"] == s for r in runs)]
    methods = []
    for r in runs:
        if r["method"] not in methods:
            methods.append(r["method"])
    order = [m for m in methods if m.startswith("seqcnn defaults")] + \
            [m for m in methods if m.startswith("seqcnn ") and not m.startswith("seqcnn defaults")] + \
            [m for m in BASELINES if m in methods] + [m for m in methods if not m.startswith("seqcnn")
                                                      and m not in BASELINES]

    def cell(s, m, key, digits=3, agg=None):
        v = [r[key] for r in runs if r["set"] == s and r["method"] == m and r.get(key) is not None]
        if not v:
            return "–"
        if agg:
            return agg(v)
        return fmt(v, digits) + (f" (n={len(v)})" if len(v) != 3 else "")

    lines = []
    for s in sets:
        meta = doc["sets"].get(s, {})
        c = meta.get("counts", {})
        lines.append(f"- `{s}`: " + ", ".join(f"{k} {v['n']} ({v['positives']}+/{v['negatives']}−)"
                                              for k, v in c.items())
                     + (f"; {meta['max_peaks']} of {meta['bed_lines']} footprints (seeded subsample)"
                        if meta.get("max_peaks") else "")
                     + (f"; split {meta['split_chroms']}" if meta.get("split_chroms") else ""))
    lines.append("")
    lines.append("| method | " + " | ".join(f"{s} auROC | {s} auPRC" for s in sets) + " |")
    lines.append("|---" * (2 * len(sets) + 1) + "|")
    for m in order:
        lines.append(f"| {m} | " + " | ".join(f"{cell(s, m, 'auroc')} | {cell(s, m, 'auprc')}" for s in sets) + " |")
    lines.append("\nseconds per run (mean wall; user + system CPU seconds in brackets):\n")
    lines.append("| method | " + " | ".join(sets) + " |")
    lines.append("|---" * (len(sets) + 1) + "|")
    for m in order:
        cells = []
        for s in sets:
            rs = [r for r in runs if r["set"] == s and r["method"] == m]
            cells.append(f"{np.mean([r['seconds'] for r in rs]):.0f} ({np.mean([r['user_s'] for r in rs]):.0f} + "
                         f"{np.mean([r['sys_s'] for r in rs]):.0f})" if rs else "–")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    seq = [m for m in order if m.startswith("seqcnn")]
    if seq:
        lines.append("\nseqcnn runs: best epoch / epochs run per seed; validation auROC at epoch 5 and the lowest "
                     f"from epoch 5 on (minimum over seeds; a run stalls at ≤ {STALL}):\n")
        lines.append("| method | " + " | ".join(sets) + " |")
        lines.append("|---" * (len(sets) + 1) + "|")
        for m in seq:
            cells = []
            for s in sets:
                rs = sorted((r for r in runs if r["set"] == s and r["method"] == m), key=lambda r: r["seed"])
                if not rs:
                    cells.append("–")
                    continue
                ep = ", ".join(f"{r['best_epoch']}/{r['epochs_run']}" if not isinstance(r["best_epoch"], list) else
                               "+".join(map(str, r["best_epoch"])) for r in rs)
                e5 = min(r["val_auroc_e5"] for r in rs)
                lo = min(r["val_auroc_min_from_e5"] for r in rs)
                cells.append(f"{ep}; e5 {e5:.2f}, min {lo:.2f}" + (" **stall**" if lo <= STALL else ""))
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--genome", help="default: DATA/genome.fa.gz")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--archs", default=",".join(ARCHS), help="comma-separated; empty: the defaults only")
    ap.add_argument("--no-defaults", action="store_true", help="skip the seqcnn defaults runs")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--max-peaks", type=int, default=0, help="footprint sets: a seeded random subsample of N")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--train-opt", action="append", default=[], help="NAME=VALUE for seqcnn.training.train")
    ap.add_argument("--encode-opt", action="append", default=[], help="NAME=VALUE for encode_intervals")
    ap.add_argument("--label", default="", help="suffix of the seqcnn method names (e.g. ' jitter')")
    ap.add_argument("--workdir", default="/tmp/gacc/data", help="encoded sets are cached here")
    ap.add_argument("--out", help="JSON of every run (appended to, runs already there skipped)")
    ap.add_argument("--report", nargs="*", help="only print the tables of these JSON files (merged)")
    args = ap.parse_args(argv)

    if args.report:
        doc = {"sets": {}, "runs": [], "commands": []}
        for p in args.report:
            d = load_json(p)
            doc["sets"].update(d["sets"])
            have = {run_key(r) for r in doc["runs"]}
            doc["runs"] += [r for r in d["runs"] if run_key(r) not in have]
            doc["commands"] += d.get("commands", [])
        print("\n".join(doc["commands"]) + "\n")
        print(tables(doc))
        return 0

    from seqcnn import models

    args.genome = args.genome or os.path.join(args.data, "genome.fa.gz")
    args.sets = [s for s in args.sets.split(",") if s]
    args.archs = [a for a in args.archs.split(",") if a]
    if any(a.startswith("deepbind_") for a in args.archs):
        import deepbind_variants  # noqa: F401  (registers the first-layer levers: deepbind_2w, deepbind_bn)
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    args.train_opts = parse_opts(args.train_opt)
    args.encode_opts = parse_opts(args.encode_opt)
    os.makedirs(args.workdir, exist_ok=True)
    doc = load_json(args.out)
    cmd = " ".join(sys.argv)
    doc["commands"].append(f"{cmd}   # started {time.strftime('%Y-%m-%d %H:%M:%S')} on {os.cpu_count()} CPUs, "
                           f"load {os.getloadavg()[0]:.2f}")
    have = {run_key(r) for r in doc["runs"]}
    default_arch = models.DEFAULT_ARCH
    seqcnn_methods = ([] if args.no_defaults else [None]) + args.archs
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="seqcnn-gacc-") as tmp:
        for s in args.sets:
            h5, meta = encode_set(s, args)
            doc["sets"][s] = meta
            print(f"{s}: {meta['command']}\n  " + ", ".join(f"{k} {v['n']} ({v['positives']}+)"
                                                           for k, v in meta["counts"].items()), flush=True)
            x, y, split = load_xy(h5, meta["length"])
            base = {"set": s, "train_opts": args.train_opts, "encode_opts": args.encode_opts,
                    "max_peaks": meta.get("max_peaks")}
            for seed in args.seeds:
                for arch in seqcnn_methods:
                    if arch is None:
                        name = f"seqcnn defaults ({default_arch})"
                    elif arch == default_arch and not args.no_defaults:
                        continue  # the defaults' runs are this architecture's runs: reported under both names
                    else:
                        name = f"seqcnn {arch}"
                    name += args.label
                    row = dict(base, method=name, seed=seed)
                    if run_key(row) in have:
                        continue
                    row.update(seqcnn_run(h5, arch, seed, args.train_opts, tmp))
                    doc["runs"].append(row)
                    have.add(run_key(row))
                    if arch is None and default_arch in args.archs:
                        twin = dict(row, method=f"seqcnn {default_arch}{args.label}", same_run_as=name)
                        doc["runs"].append(twin)
                        have.add(run_key(twin))
                    save_json(doc, args.out) if args.out else None
                    print(f"  {s} seed {seed} {name}: auROC {row['auroc']:.4f} auPRC {row['auprc']:.4f} "
                          f"({row['seconds']:.0f} s, best epoch {row['best_epoch']}, val auROC e5 "
                          f"{row['val_auroc_e5']:.3f}, min from e5 {row['val_auroc_min_from_e5']:.3f})", flush=True)
                if not args.no_baselines and not all(run_key(dict(base, method=m, seed=seed)) in have
                                                     for m in BASELINES):
                    for m, r in baseline_rows(x, y, split, seed).items():
                        row = dict(base, method=m, seed=seed, **r)
                        if run_key(row) not in have:
                            doc["runs"].append(row)
                            have.add(run_key(row))
                        print(f"  {s} seed {seed} {m}: auROC {r['auroc']:.4f} auPRC {r['auprc']:.4f} "
                              f"({r['seconds']:.0f} s)", flush=True)
                    save_json(doc, args.out) if args.out else None
    print(f"\n{cmd}\ntotal {time.time() - t0:.0f} s on {os.cpu_count()} CPUs, load {os.getloadavg()}\n")
    print(tables(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
