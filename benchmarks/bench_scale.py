"""Scale benchmark: encode N × L bp generated on the fly (peak RSS, records/s) for growing N.

The FASTA never exists on disk: a child process writes random records into a named
pipe that ``seqcnn encode`` reads, so 10 M × 200 bp (2 GB of FASTA) needs no disk
for the input. Each encode runs in a fresh process so its peak RSS is its own; the
goal is a peak RSS that stays flat (≤ 1.5 GiB) as N grows.

Usage: python benchmarks/bench_scale.py [--n 100000,1000000,10000000] [--length 200]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

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


def encode_child(fifos, out):
    """Encode from two pipes, one per class (--class-per-file: no label table to hold in memory)."""
    from seqcnn.store import encode_fasta

    t0 = time.perf_counter()
    report = encode_fasta(fifos, out, class_per_file=True, force=True)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"records": report["records_written"], "seconds": seconds, "peak_rss_mib": rss,
                      "file_mib": os.path.getsize(out) / 2**20}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="100000,1000000,10000000")
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        return encode_child(args.child[:2], args.child[2])
    print(f"| records | bp | seconds | records/s | bases/s | peak RSS MiB | file MiB |")
    print("|---|---|---|---|---|---|---|")
    for n in [int(v) for v in args.n.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            pos, neg, out = f"{tmp}/pos.fa", f"{tmp}/neg.fa", f"{tmp}/out.h5"
            os.mkfifo(pos)
            os.mkfifo(neg)
            child = subprocess.Popen([sys.executable, __file__, "--child", pos, neg, out],
                                     stdout=subprocess.PIPE, text=True)
            generate(pos, n // 2, args.length, "p", seed=1)
            generate(neg, n - n // 2, args.length, "n", seed=2)
            stdout, _ = child.communicate()
            if child.returncode:
                raise SystemExit(f"encode failed for n={n}")
            r = json.loads(stdout.strip().splitlines()[-1])
            print(f"| {n:,} | {args.length} | {r['seconds']:.1f} | {n / r['seconds']:.3g} | "
                  f"{n * args.length / r['seconds']:.3g} | {r['peak_rss_mib']:.0f} | {r['file_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
