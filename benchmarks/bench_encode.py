"""Benchmark ``seqcnn encode``: FASTA → one-hot HDF5, end to end, against the obvious alternatives.

In one run, on the same generated FASTA (N × L random bases, labels table):
  seqcnn     ``seqcnn.encode_fasta`` (validation, labels, split, provenance, atomic write)
  bare       the bound: SimpleFastaParser + uint32 lookup table + h5py write, same chunks and compression
  primer     per-sequence scikit-learn LabelEncoder + OneHotEncoder (Zou et al. 2019 primer), on a subset
for each compression (gzip-1, lzf, none), and the peak RSS of ``seqcnn encode`` for 1 M records.
Each measurement runs in a fresh subprocess so peak RSS is its own.

Usage: python benchmarks/bench_encode.py [--n 200000] [--rss-n 1000000] [--out benchmarks/out]
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


def make_fasta(path, labels, n, length, seed=0):
    """Write n random sequences (FASTA, 80-column lines) and a label table."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    with open(path, "wb") as fh, open(labels, "w") as lf:
        lf.write("id,label\n")
        for start in range(0, n, 50_000):
            m = min(50_000, n - start)
            block = letters[rng.integers(0, 4, (m, length))]
            out = []
            for k, row in enumerate(block):
                s = row.tobytes()
                out.append(b">r%d\n" % (start + k) + b"\n".join(s[i:i + 80] for i in range(0, length, 80)) + b"\n")
            fh.write(b"".join(out))
            lf.write("".join(f"r{start + k},{(start + k) % 2}\n" for k in range(m)))


def run_seqcnn(fasta, labels, out, compression):
    from seqcnn.ingest import encode_fasta

    encode_fasta([fasta], out, labels=labels, compression=compression, force=True)


def run_bare(fasta, out, compression, length):
    """The bound: parse, one table lookup per base, write chunk-aligned blocks. No validation or bookkeeping."""
    import h5py
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    table = np.zeros(256, dtype="<u4")
    for k, b in enumerate("ACGT"):
        table[ord(b)] = 1 << (8 * k)
    kw = {"gzip": {"compression": "gzip", "compression_opts": 1}, "lzf": {"compression": "lzf"}, "none": {}}[compression]
    with h5py.File(out, "w") as f, open(fasta) as fh:
        ds = f.create_dataset("x", (0, length, 4), maxshape=(None, length, 4), dtype=np.uint8,
                              chunks=(256, length, 4), **kw)
        seqs, n = [], 0
        for _, seq in SimpleFastaParser(fh):
            seqs.append(seq)
            if len(seqs) == 4096:
                x = table[np.frombuffer("".join(seqs).encode(), np.uint8)].view(np.uint8).reshape(-1, length, 4)
                ds.resize(n + len(x), axis=0)
                ds[n:] = x
                n += len(x)
                seqs = []
        if seqs:
            x = table[np.frombuffer("".join(seqs).encode(), np.uint8)].view(np.uint8).reshape(-1, length, 4)
            ds.resize(n + len(x), axis=0)
            ds[n:] = x


def run_primer(fasta, n_sub):
    """Zou et al. 2019: LabelEncoder then OneHotEncoder per sequence."""
    from Bio.SeqIO.FastaIO import SimpleFastaParser
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder

    out = []
    with open(fasta) as fh:
        for k, (_, seq) in enumerate(SimpleFastaParser(fh)):
            if k == n_sub:
                break
            integer_encoder = LabelEncoder()
            one_hot_encoder = OneHotEncoder(categories="auto")
            integer_encoded = integer_encoder.fit_transform(list(seq)).reshape(-1, 1)
            out.append(one_hot_encoder.fit_transform(integer_encoded).toarray())
    return len(out)


def child(args):
    """Run one measurement in this process and print JSON with seconds and peak RSS."""
    t0 = time.perf_counter()
    if args.mode == "seqcnn":
        run_seqcnn(args.fasta, args.labels, args.h5, args.compression)
        n = args.n
    elif args.mode == "bare":
        run_bare(args.fasta, args.h5, args.compression, args.length)
        n = args.n
    else:
        n = run_primer(args.fasta, args.n)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux reports KiB)
    size = os.path.getsize(args.h5) / 2**20 if args.mode != "primer" else 0
    print(json.dumps({"records": n, "seconds": seconds, "bases_per_s": n * args.length / seconds,
                      "peak_rss_mib": rss, "file_mib": size}))


def measure(mode, fasta, labels, h5, compression, n, length):
    cmd = [sys.executable, __file__, "--child", mode, "--fasta", fasta, "--labels", labels, "--h5", h5,
           "--compression", compression, "--n", str(n), "--length", str(length)]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--primer-n", type=int, default=2_000)
    ap.add_argument("--rss-n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs for seqcnn and bare")
    ap.add_argument("--child")
    ap.add_argument("--fasta")
    ap.add_argument("--labels")
    ap.add_argument("--h5")
    ap.add_argument("--compression", default="gzip")
    args = ap.parse_args()
    if args.child:
        args.mode = args.child
        return child(args)

    with tempfile.TemporaryDirectory() as tmp:
        fa, lab, h5 = f"{tmp}/b.fa", f"{tmp}/b.csv", f"{tmp}/b.h5"
        make_fasta(fa, lab, args.n, args.length)
        primer = measure("primer", fa, lab, h5, "none", args.primer_n, args.length)
        rows = []
        for comp in ("gzip", "lzf", "none"):
            best = {}
            for mode in ("seqcnn", "bare"):
                runs = [measure(mode, fa, lab, h5, comp, args.n, args.length) for _ in range(args.repeats)]
                best[mode] = max(runs, key=lambda r: r["bases_per_s"])
            rows.append((comp, best["seqcnn"], best["bare"]))
        print(f"{args.n:,} x {args.length} bp FASTA -> HDF5 (best of {args.repeats}); "
              f"primer on {args.primer_n:,} records")
        print()
        print("| compression | seqcnn bases/s | bare bases/s | seqcnn / bare | seqcnn / primer | file MiB | seqcnn peak RSS MiB |")
        print("|---|---|---|---|---|---|---|")
        for comp, s, b in rows:
            print(f"| {comp} | {s['bases_per_s']:.3g} | {b['bases_per_s']:.3g} | {s['bases_per_s'] / b['bases_per_s']:.2f} | "
                  f"{s['bases_per_s'] / primer['bases_per_s']:.0f}x | {s['file_mib']:.0f} | {s['peak_rss_mib']:.0f} |")
        print(f"| primer (sklearn LabelEncoder+OneHotEncoder, in memory) | {primer['bases_per_s']:.3g} | | | 1x | | |")
    if args.rss_n:
        with tempfile.TemporaryDirectory() as tmp:
            fa, lab, h5 = f"{tmp}/r.fa", f"{tmp}/r.csv", f"{tmp}/r.h5"
            make_fasta(fa, lab, args.rss_n, args.length, seed=1)
            r = measure("seqcnn", fa, lab, h5, "gzip", args.rss_n, args.length)
            print()
            print(f"{args.rss_n:,} x {args.length} bp, gzip-1: {r['seconds']:.1f} s, {r['bases_per_s']:.3g} bases/s, "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB, file {r['file_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
