"""Genome mode of ``seqcnn encode`` at scale: speed against a bare script, peak memory, and how time grows.

Parts (each measurement in a fresh process, so its peak RSS is its own):
  windows  N peak windows of L bp from a G Mbp random genome (half given as --negatives-bed, so no negatives
           are made): ``seqcnn encode --bed --genome`` against a bare script doing the same extraction (same
           reader, pysam, one read per chromosome), one-hot lookup table and h5py write with the same chunks and
           compression; for several N (time should grow linearly with N).
  gc       gc-matched negatives for P peaks on genomes of several sizes (time should grow linearly with the
           genome, memory stay flat: chromosomes are tiled in slabs).

Usage: python benchmarks/bench_genome_encode.py windows [--n 100000,300000,1000000] [--mbp 1000]
       python benchmarks/bench_genome_encode.py gc [--peaks 100000] [--mbp 250,500,1000]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

CHROM_MBP = 100  # chromosome size of the generated genomes


def make_genome(path, mbp, seed=0):
    """A random A/C/G/T genome of ``mbp`` million bases in chromosomes of CHROM_MBP Mbp (60-column FASTA)."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    sizes = {}
    with open(path, "wb") as fh:
        left, k = int(mbp * 1e6), 1
        while left > 0:
            size = min(left, CHROM_MBP * 1_000_000)
            fh.write(f">chr{k}\n".encode())
            for start in range(0, size, 6_000_000):  # 100,000 lines of 60 at a time
                m = min(6_000_000, size - start)
                block = letters[rng.integers(0, 4, m, dtype=np.uint8)]
                rows = m // 60
                body = np.full((rows, 61), ord("\n"), np.uint8)
                body[:, :60] = block[: rows * 60].reshape(rows, 60)
                fh.write(body.tobytes())
                if m % 60:
                    fh.write(block[rows * 60:].tobytes() + b"\n")
            sizes[f"chr{k}"] = size
            left -= size
            k += 1
    return sizes


def make_bed(path, sizes, n, length, seed):
    """n random intervals of ``length`` bp (BED3, sorted by chromosome then start)."""
    rng = np.random.default_rng(seed)
    names = list(sizes)
    weight = np.array([sizes[c] for c in names], float)
    chrom = rng.choice(len(names), n, p=weight / weight.sum())
    rows = []
    for k in range(len(names)):
        want = int((chrom == k).sum())
        starts = np.unique(rng.integers(0, sizes[names[k]] - length, want))
        while len(starts) < want:  # distinct windows: a BED listing one window twice is refused
            starts = np.unique(np.r_[starts, rng.integers(0, sizes[names[k]] - length, want - len(starts))])
        rows.append("".join(f"{names[k]}\t{s}\t{s + length}\n" for s in starts))
    with open(path, "w") as fh:
        fh.write("".join(rows))


BARE = r'''
import sys, h5py, numpy as np, pandas as pd, pysam
beds, genome, out, L = sys.argv[1:3], sys.argv[3], sys.argv[4], int(sys.argv[5])
frames = [pd.read_csv(b, sep="\t", header=None, usecols=[0, 1, 2], names=["c", "s", "e"]) for b in beds]
df = pd.concat(frames, ignore_index=True)
fa = pysam.FastaFile(genome)
words = np.zeros(256, "<u4")
for k, b in enumerate("ACGT"):
    words[ord(b)] = words[ord(b.lower())] = 1 << (8 * k)
mid = (df.s.to_numpy() + df.e.to_numpy()) // 2
start = mid - L // 2
with h5py.File(out, "w") as h5:
    x = h5.create_dataset("x", (len(df), L, 4), np.uint8, chunks=(256, L, 4), compression="gzip", compression_opts=1)
    pos = 0
    for c in dict.fromkeys(df.c):
        sel = np.flatnonzero(df.c.to_numpy() == c)
        s = start[sel]
        span = np.frombuffer(fa.fetch(c, int(s.min()), int(s.max()) + L).encode(), np.uint8)
        u8 = span[(s - s.min())[:, None] + np.arange(L)]
        for b in range(0, len(sel), 1 << 16):
            block = words[u8[b:b + (1 << 16)]].view(np.uint8).reshape(-1, L, 4)
            x[pos:pos + len(block)] = block
            pos += len(block)
'''


def timed(cmd):
    """Seconds and peak RSS (MiB) of a command run in a fresh process."""
    t = time.perf_counter()
    res = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stdout}\n{res.stderr}")
    rss_kib = int(res.stderr.strip().splitlines()[-1])
    return seconds, rss_kib / 1024


def part_windows(args, tmp):
    genome = os.path.join(tmp, "genome.fa")
    sizes = make_genome(genome, args.mbp)
    subprocess.run([sys.executable, "-c", f"import pysam; pysam.faidx({genome!r})"], check=True)
    bare = os.path.join(tmp, "bare.py")
    with open(bare, "w") as fh:
        fh.write(BARE)
    print(f"genome {args.mbp:g} Mbp ({len(sizes)} chromosomes), windows of {args.length} bp, gzip-1\n")
    print("| windows | seqcnn s | bare s | bare / seqcnn speed | seqcnn µs/window | seqcnn peak RSS MiB | bare peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for n in args.n:
        pos, neg = os.path.join(tmp, f"p{n}.bed"), os.path.join(tmp, f"n{n}.bed")
        make_bed(pos, sizes, n // 2, args.length, 1)
        make_bed(neg, sizes, n - n // 2, args.length, 2)  # the few that overlap a peak are dropped and counted
        rows = []
        for r in range(args.rounds):
            out_s, out_b = os.path.join(tmp, f"s{n}.h5"), os.path.join(tmp, f"b{n}.h5")
            for f in (out_s, out_b):
                if os.path.exists(f):
                    os.remove(f)
            pair = [("seqcnn", [sys.executable, "-m", "seqcnn", "encode", "--bed", pos, "--genome", genome,
                                 "--length", str(args.length), "--negatives", "none", "--negatives-bed", neg,
                                 "--center", "midpoint", "--holdout-chrom", "chr1", "--val-chrom", "chr2",
                                 "--no-plots", "-q", "-o", out_s]),
                    ("bare", [sys.executable, bare, pos, neg, genome, out_b, str(args.length)])]
            if r % 2:
                pair.reverse()
            rows.append(dict((name, timed(cmd)) for name, cmd in pair))
        s = np.median([row["seqcnn"][0] for row in rows])
        b = np.median([row["bare"][0] for row in rows])
        rs = max(row["seqcnn"][1] for row in rows)
        rb = max(row["bare"][1] for row in rows)
        print(f"| {n:,} | {s:.1f} | {b:.1f} | {b / s:.2f} | {1e6 * s / n:.1f} | {rs:.0f} | {rb:.0f} |")


def part_gc(args, tmp):
    print(f"{args.peaks:,} peaks of {args.length} bp, gc-matched negatives (ratio 1), genomes in "
          f"{CHROM_MBP} Mbp chromosomes\n")
    print("| genome Mbp | seconds | seconds per Gbp | peak RSS MiB |")
    print("|---|---|---|---|")
    for mbp in args.mbp_list:
        genome = os.path.join(tmp, f"g{mbp}.fa")
        sizes = make_genome(genome, mbp, seed=3)
        subprocess.run([sys.executable, "-c", f"import pysam; pysam.faidx({genome!r})"], check=True)
        peaks = os.path.join(tmp, f"peaks{mbp}.bed")
        make_bed(peaks, sizes, args.peaks, args.length, 4)
        out = os.path.join(tmp, f"gc{mbp}.h5")
        seconds, rss = timed([sys.executable, "-m", "seqcnn", "encode", "--bed", peaks, "--genome", genome,
                              "--length", str(args.length), "--no-plots", "-q", "-o", out, "--holdout-chrom",
                              "chr1", "--val-chrom", "chr2"])
        print(f"| {mbp:g} | {seconds:.1f} | {seconds / (mbp / 1000):.1f} | {rss:.0f} |")
        os.remove(genome)
        os.remove(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="part", required=True)
    w = sub.add_parser("windows")
    w.add_argument("--n", default="100000,300000,1000000", type=lambda s: [int(v) for v in s.split(",")])
    w.add_argument("--mbp", type=float, default=1000)
    w.add_argument("--rounds", type=int, default=1)
    g = sub.add_parser("gc")
    g.add_argument("--peaks", type=int, default=100_000)
    g.add_argument("--mbp", dest="mbp_list", default="250,500,1000", type=lambda s: [float(v) for v in s.split(",")])
    for p in (w, g):
        p.add_argument("--length", type=int, default=200)
        p.add_argument("--tmpdir", default=None)
    args = ap.parse_args()
    print(f"{' '.join(sys.argv)}  (load {os.getloadavg()[0]:.1f})\n")
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        (part_windows if args.part == "windows" else part_gc)(args, tmp)


if __name__ == "__main__":
    main()
