"""Scale benchmark: encode, train one epoch and run ISM at sizes where memory matters.

Every measurement runs in a fresh child process, so its peak RSS (``ru_maxrss``) is its own:

- ``encode``: N × L bp random FASTA → HDF5. The FASTA never exists on disk: this process
  writes records into two named pipes (one per class) that ``encode_fasta`` reads, so
  10 M × 200 bp (2 GB of FASTA) needs no disk for the input. Goal: peak RSS flat in N, ≤ 1.5 GiB.
- ``train``: one epoch of ``seqcnn.train`` (default architecture) from an encoded file whose
  train+val one-hot bytes exceed ``memory_budget_mb`` (chunks streamed from HDF5), then the
  same epoch with the data loaded into memory (budget large).
- ``ism``: ``run_mutagenesis`` over N sequences, streamed to its output file, then the same N
  held in memory by ``seqcnn.ism``. Goal: streamed peak RSS flat in N.
- ``open``: encode N records as ``encode`` does, then ``open_dataset`` and one pass of ``read_chunk``
  over every chunk (what a streamed epoch reads, no ids), then the same with every id read.
- ``dedup``: ``encode_fasta``'s duplicate-id check alone, on N random 64-bit hashes held in blocks
  of 20,000 as encode holds them: its peak RSS above what is held, per record.

Usage::

    python benchmarks/bench_scale.py encode [--n 100000,1000000,10000000] [--length 200] [--tmpdir DIR]
    python benchmarks/bench_scale.py train [--n 1000000] [--budget-mb 100] [--tmpdir DIR]
    python benchmarks/bench_scale.py ism [--n 1000,10000,100000] [--tmpdir DIR]
    python benchmarks/bench_scale.py open [--n 2000000] [--tmpdir DIR]
    python benchmarks/bench_scale.py dedup [--n 10000000]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from importlib import metadata

import numpy as np

def generate(path, n, length, prefix, seed=0):
    """Write n random FASTA records to path (a named pipe), built as fixed-width byte rows with numpy."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    head = np.frombuffer(f">{prefix}".encode(), np.uint8)
    width = len(head) + 10 + 1 + length + 1
    with open(path, "wb", buffering=1 << 20) as fh:
        for start in range(0, n, 50_000):
            m = min(50_000, n - start)
            rows = np.empty((m, width), np.uint8)
            rows[:, : len(head)] = head
            idx = np.arange(start, start + m)
            for d in range(10):  # ten zero-padded decimal digits of the record number
                rows[:, len(head) + 9 - d] = ord("0") + (idx // 10**d) % 10
            rows[:, len(head) + 10] = ord("\n")
            rows[:, len(head) + 11: -1] = letters[rng.integers(0, 4, (m, length), dtype=np.uint8)]
            rows[:, -1] = ord("\n")
            fh.write(rows.tobytes())


def write_random(path, n, length, seed=0, split=(0.8, 0.1, 0.1)):
    """Write an HDF5 dataset of n random one-hot sequences with random binary labels and a random split."""
    from seqcnn.store import write_dataset

    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, length))]
    codes = rng.choice(3, n, p=split).astype(np.uint8)
    write_dataset(path, x, rng.integers(0, 2, n).astype(np.uint8), [f"s{i}" for i in range(n)], split=codes,
                  attrs={"task": "binary", "class_names": ["neg", "pos"]}, force=True)


# ----------------------------------------------------------------------------------------------------------------
# children: each prints one JSON line with its measurements


def _peak_rss_mib():
    """This process's peak resident set size so far, MiB (Linux gives ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tf_baseline():
    """Import TensorFlow/Keras and return the peak RSS then: the floor of every TF child, before any data."""
    from seqcnn._tf import import_keras, import_tf

    import_tf()
    import_keras()
    return _peak_rss_mib()


def child_encode(fifos, out):
    """Encode from two pipes, one per class (``class_per_file``: no label table to hold in memory)."""
    from seqcnn.ingest import encode_fasta

    t0 = time.perf_counter()
    report = encode_fasta(fifos, out, class_per_file=True, force=True)
    return {"records": report["records_written"], "seconds": time.perf_counter() - t0,
            "peak_rss_mib": _peak_rss_mib(), "file_mib": os.path.getsize(out) / 2**20}


def child_train(data, out, budget_mb):
    """Train one epoch (default architecture and batch size) and time the optimizer steps apart from the rest."""
    import seqcnn
    from seqcnn._tf import import_keras

    baseline = _tf_baseline()
    keras = import_keras()

    class FitClock(keras.callbacks.Callback):
        # From the epoch's start to the last training batch: excludes the validation pass that ends the epoch.
        def on_epoch_begin(self, epoch, logs=None):
            self.start = self.end = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.end = time.perf_counter()

    clock = FitClock()
    t0 = time.perf_counter()
    # n_boot=0: 1,000 bootstrap resamples of a 1 M-record train split would time the metrics, not the training.
    result = seqcnn.train(data, out, epochs=1, memory_budget_mb=budget_mb, quiet=True, plots=False, n_boot=0,
                          force=True, callbacks=[clock])
    splits = result["config"]["data"]["splits"]
    return {"in_memory": result["in_memory"], "train_records": splits["train"], "val_records": splits["val"],
            "fit_seconds": clock.end - clock.start, "epoch_seconds": result["history"][0]["seconds"],
            "total_seconds": time.perf_counter() - t0, "baseline_rss_mib": baseline,
            "peak_rss_mib": _peak_rss_mib()}


def child_ism(run, data, out):
    """``run_mutagenesis`` over every record of ``data``, streamed to ``out`` (no figures)."""
    from seqcnn.mutagenesis import run_mutagenesis

    baseline = _tf_baseline()
    t0 = time.perf_counter()
    report = run_mutagenesis(run, data, out, plots=False, force=True)
    return {"n": report["n"], "method": report["method"], "ism_seconds": report["seconds"],
            "total_seconds": time.perf_counter() - t0, "baseline_rss_mib": baseline,
            "peak_rss_mib": _peak_rss_mib(), "file_mib": os.path.getsize(out) / 2**20}


def child_ism_memory(run, data):
    """The in-memory alternative: every sequence read and every delta returned as one array by ``seqcnn.ism``."""
    import seqcnn

    baseline = _tf_baseline()
    t0 = time.perf_counter()
    model, _ = seqcnn.load_run(run)
    with seqcnn.open_dataset(data) as ds:
        x = ds.read_x()
    t1 = time.perf_counter()
    delta, _ = seqcnn.ism(model, x)
    return {"n": len(delta), "method": seqcnn.ism_method(model), "ism_seconds": time.perf_counter() - t1,
            "total_seconds": time.perf_counter() - t0, "baseline_rss_mib": baseline,
            "peak_rss_mib": _peak_rss_mib(), "delta_mib": delta.nbytes / 2**20}


def child_open(data, with_ids):
    """``open_dataset`` and one pass of ``read_chunk`` over every chunk; with ``with_ids``, all ids read too."""
    import h5py  # noqa: F401 (imported by open_dataset; counted in the baseline, not as data)

    from seqcnn.store import open_dataset

    baseline = _peak_rss_mib()  # numpy, h5py and seqcnn.store imported: the floor before any data
    t0 = time.perf_counter()
    with open_dataset(data) as ds:
        opened = _peak_rss_mib()
        for c in range(-(-ds.n // ds.chunk_records)):
            ds.read_chunk(c)
        if with_ids:
            len(ds.ids)
        n = ds.n
    return {"records": n, "seconds": time.perf_counter() - t0, "baseline_rss_mib": baseline,
            "open_rss_mib": opened, "peak_rss_mib": _peak_rss_mib()}


def child_dedup(n):
    """``ingest.check_unique_ids`` on n random hashes (no duplicates) in 20,000-record blocks."""
    from seqcnn import ingest

    rng = np.random.default_rng(0)
    blocks = [rng.integers(0, 2**63, min(20_000, n - s), dtype=np.int64).view(np.uint64)
              for s in range(0, n, 20_000)]
    held = _peak_rss_mib()
    t0 = time.perf_counter()
    ingest.check_unique_ids(blocks, None, ["random"])
    return {"seconds": time.perf_counter() - t0, "held_rss_mib": held, "peak_rss_mib": _peak_rss_mib()}


CHILDREN = {"encode": child_encode, "train": child_train, "ism": child_ism, "ism_memory": child_ism_memory,
            "open": child_open, "dedup": child_dedup}


def _spawn(kind, **kwargs):
    """Start one child measurement in a fresh Python process."""
    return subprocess.Popen([sys.executable, __file__, "_child", kind, json.dumps(kwargs)],
                            stdout=subprocess.PIPE, text=True)


def _collect(proc, kind):
    """Wait for a child and return its JSON report, with the 1-minute load average at its end."""
    stdout, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"bench_scale: the {kind} child failed (exit {proc.returncode})")
    report = json.loads(stdout.strip().splitlines()[-1])
    report["load"] = os.getloadavg()[0]
    return report


def _measure(kind, **kwargs):
    """Run one child measurement to completion."""
    return _collect(_spawn(kind, **kwargs), kind)


# ----------------------------------------------------------------------------------------------------------------
# parts


def encode_piped(n, length, tmp):
    """Encode n random records fed through named pipes into ``tmp/out.h5``; the child's report."""
    pos, neg, out = f"{tmp}/pos.fa", f"{tmp}/neg.fa", f"{tmp}/out.h5"
    os.mkfifo(pos)
    os.mkfifo(neg)
    child = _spawn("encode", fifos=[pos, neg], out=out)
    # The encoder reads the files one after the other, so the pipes are fed in that order.
    generate(pos, n // 2, length, "p", seed=1)
    generate(neg, n - n // 2, length, "n", seed=2)
    report = _collect(child, "encode")
    report["path"] = out
    return report


def part_encode(args):
    """Encode each N from named pipes: time, records/s and peak RSS."""
    print("| records | bp | seconds | records/s | bases/s | peak RSS MiB | file MiB | load |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.n:
        with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
            r = encode_piped(n, args.length, tmp)
        print(f"| {n:,} | {args.length} | {r['seconds']:.1f} | {n / r['seconds']:.3g} | "
              f"{n * args.length / r['seconds']:.3g} | {r['peak_rss_mib']:.0f} | {r['file_mib']:.0f} | "
              f"{r['load']:.1f} |", flush=True)


def part_train(args):
    """One epoch streamed under a small memory budget, then in memory, from the same encoded file."""
    n = args.n[0]
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        enc = encode_piped(n, args.length, tmp)
        runs = [("streamed", args.budget_mb), ("in memory", 1e9)]
        rows = [(name, budget, _measure("train", data=enc["path"], out=f"{tmp}/run", budget_mb=budget))
                for name, budget in runs]
    tv = rows[0][2]["train_records"] + rows[0][2]["val_records"]
    onehot_mb = tv * args.length * 4 / 1e6  # what train() compares with memory_budget_mb
    print(f"data: {n:,} records x {args.length} bp, file {enc['file_mib']:.0f} MiB (gzip-1); train+val one-hot "
          f"uint8 {onehot_mb:.0f} MB ({tv:,} records); one epoch, default architecture and batch size\n")
    print("| data | memory budget MB | train records | fit s | records/s | epoch s (with val) | train() s "
          "| RSS after TF import MiB | peak RSS MiB | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, budget, r in rows:
        shown = f"{budget:.0f}" if budget < 1e9 else "unlimited"
        got = "loaded into memory" if r["in_memory"] else "streamed from HDF5"  # train()'s own decision
        print(f"| {got} | {shown} | {r['train_records']:,} | {r['fit_seconds']:.1f} | "
              f"{r['train_records'] / r['fit_seconds']:,.0f} | {r['epoch_seconds']:.1f} | {r['total_seconds']:.1f} | "
              f"{r['baseline_rss_mib']:.0f} | {r['peak_rss_mib']:.0f} | {r['load']:.1f} |")
    s, m = rows[0][2], rows[1][2]
    print(f"\nstreamed / in memory: throughput {m['fit_seconds'] / s['fit_seconds']:.2f}x, "
          f"peak RSS {s['peak_rss_mib'] / m['peak_rss_mib']:.2f}x; streamed peak RSS above the TF baseline "
          f"{s['peak_rss_mib'] - s['baseline_rss_mib']:.0f} MiB vs {onehot_mb / 1.048576:.0f} MiB of one-hot data")


def part_ism(args):
    """ISM over growing N: streamed to a file (run_mutagenesis) and held in memory (seqcnn.ism)."""
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        # Any trained run will do: ISM's cost does not depend on the weights, only on the architecture.
        write_random(f"{tmp}/small.h5", 2000, args.length)
        _measure("train", data=f"{tmp}/small.h5", out=f"{tmp}/run", budget_mb=1e9)
        print("| mode | N | method | ISM s | seq/s | total s | RSS after TF import MiB | peak RSS MiB "
              "| output file MiB | all deltas in memory MiB | load |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for n in args.n:
            data = f"{tmp}/ism_in.h5"
            write_random(data, n, args.length, seed=n, split=(1.0, 0.0, 0.0))
            deltas_mib = n * args.length * 4 * 4 / 2**20  # N x L x 4 float32, one output
            for mode in ("streamed", "in memory"):
                if mode == "streamed":
                    r = _measure("ism", run=f"{tmp}/run", data=data, out=f"{tmp}/ism.h5")
                    size = f"{r['file_mib']:.0f}"
                    os.remove(f"{tmp}/ism.h5")
                else:
                    r = _measure("ism_memory", run=f"{tmp}/run", data=data)
                    size = ""
                print(f"| {mode} | {n:,} | {r['method']} | {r['ism_seconds']:.1f} | {n / r['ism_seconds']:,.0f} | "
                      f"{r['total_seconds']:.1f} | {r['baseline_rss_mib']:.0f} | {r['peak_rss_mib']:.0f} | {size} | "
                      f"{deltas_mib:.0f} | {r['load']:.1f} |", flush=True)


def part_open(args):
    """Encode N records (peak RSS), then open the file and read every chunk, without and with the ids."""
    n = args.n[0]
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        enc = encode_piped(n, args.length, tmp)
        rows = [(ids, _measure("open", data=enc["path"], with_ids=ids)) for ids in (False, True)]
    print(f"encode: {n:,} records x {args.length} bp in {enc['seconds']:.1f} s, peak RSS "
          f"{enc['peak_rss_mib']:.0f} MiB, file {enc['file_mib']:.0f} MiB (gzip-1), load {enc['load']:.1f}\n")
    print("| reads | seconds | RSS after imports MiB | peak RSS after open MiB | peak RSS MiB | bytes/record above "
          "imports | load |")
    print("|---|---|---|---|---|---|---|")
    for ids, r in rows:
        what = "open + every chunk + all ids" if ids else "open + every chunk (no ids)"
        above = (r["peak_rss_mib"] - r["baseline_rss_mib"]) * 2**20 / n
        print(f"| {what} | {r['seconds']:.1f} | {r['baseline_rss_mib']:.0f} | {r['open_rss_mib']:.0f} | "
              f"{r['peak_rss_mib']:.0f} | {above:.0f} | {r['load']:.1f} |")


def part_dedup(args):
    """The duplicate-id check alone: peak RSS above the held hashes, per record."""
    print("| hashes | seconds | RSS with hashes held MiB | peak RSS MiB | bytes/record above held | load |")
    print("|---|---|---|---|---|---|")
    for n in args.n:
        r = _measure("dedup", n=n)
        print(f"| {n:,} | {r['seconds']:.1f} | {r['held_rss_mib']:.0f} | {r['peak_rss_mib']:.0f} | "
              f"{(r['peak_rss_mib'] - r['held_rss_mib']) * 2**20 / n:.1f} | {r['load']:.1f} |", flush=True)


PARTS = {"encode": part_encode, "train": part_train, "ism": part_ism, "open": part_open, "dedup": part_dedup}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(CHILDREN[sys.argv[2]](**json.loads(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="part", required=True)
    for name, default, helptext in (("encode", "100000,1000000,10000000", "records to encode, one run each"),
                                    ("train", "1000000", "records in the encoded training file"),
                                    ("ism", "1000,10000,100000", "sequences to mutate, one run each"),
                                    ("open", "2000000", "records in the encoded file"),
                                    ("dedup", "10000000", "id hashes to check, one run each")):
        p = sub.add_parser(name, help=PARTS[name].__doc__)
        p.add_argument("--n", default=default, type=lambda s: [int(v) for v in s.split(",")], help=helptext)
        p.add_argument("--length", type=int, default=200)
        p.add_argument("--tmpdir", default=None, help="where the temporary files go (default: the system's)")
        if name == "train":
            p.add_argument("--budget-mb", type=float, default=100,
                           help="memory_budget_mb of the streamed run (the in-memory run has no limit)")
    args = ap.parse_args()
    print(f"# bench_scale {args.part}: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the start, tensorflow {metadata.version('tensorflow')}", flush=True)
    PARTS[args.part](args)


if __name__ == "__main__":
    main()
