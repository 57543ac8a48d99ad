"""Indexed genome readers for genome mode: pysam ``FastaFile`` against pyfaidx ``Fasta``, on one genome, in one run.

What seqcnn's genome mode does with a reference, measured for both libraries on the same synthetic genome
(plain FASTA, 60-column lines, and the same file bgzip-compressed by ``pysam.tabix_compress``):
  index      build the ``.fai`` (and ``.gzi``) from scratch
  windows    fetch N random windows of L bp (peak extraction; the per-call cost dominates)
  chromosome read each chromosome whole (GC tiling for matched negatives streams chromosome by chromosome)
  by chrom   the same N windows, each chromosome read once and its windows cut out with numpy (seqcnn's way)
Rounds alternate the two readers; the table gives medians and the ratio pyfaidx / pysam (> 1: pysam faster).

Usage: python benchmarks/bench_genome.py [--mbp 100] [--chroms 5] [--windows 100000] [--length 200] [--rounds 3]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np


def make_genome(path, mbp, n_chroms, seed=0):
    """Random A/C/G/T chromosomes totalling ``mbp`` million bases, 60 bases per line."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    size = int(mbp * 1e6 // n_chroms)
    with open(path, "wb") as fh:
        for c in range(n_chroms):
            seq = letters[rng.integers(0, 4, size)]
            fh.write(f">chr{c + 1}\n".encode())
            body = np.full((-(-size // 60), 61), ord("\n"), np.uint8)
            flat = np.concatenate([seq, np.zeros(body.shape[0] * 60 - size, np.uint8)]).reshape(-1, 60)
            body[:, :60] = flat
            out = body.tobytes()
            cut = size + size // 60 + (1 if size % 60 else 0)
            out = out[:cut].replace(b"\x00", b"")
            fh.write(out if out.endswith(b"\n") else out + b"\n")
    return {f"chr{c + 1}": size for c in range(n_chroms)}


def drop_index(path):
    for ext in (".fai", ".gzi"):
        if os.path.exists(path + ext):
            os.remove(path + ext)


class Pysam:
    name = "pysam"

    def __init__(self, path):
        import pysam

        self.fa = pysam.FastaFile(path)

    def window(self, c, s, e):
        return self.fa.fetch(c, s, e)

    def chromosome(self, c):
        return self.fa.fetch(c)


class Pyfaidx:
    name = "pyfaidx"

    def __init__(self, path):
        import pyfaidx

        self.fa = pyfaidx.Fasta(path, as_raw=True, sequence_always_upper=False, rebuild=False)

    def window(self, c, s, e):
        return self.fa[c][s:e]

    def chromosome(self, c):
        return self.fa[c][:]


def measure(cls, path, sizes, chroms, starts, length):
    out = {}
    drop_index(path)
    t = time.perf_counter()
    reader = cls(path)
    out["index"] = time.perf_counter() - t
    t = time.perf_counter()
    seqs = [reader.window(c, s, s + length) for c, s in zip(chroms, starts)]
    out["windows"] = time.perf_counter() - t
    t = time.perf_counter()
    total = sum(len(reader.chromosome(c)) for c in sizes)
    out["chromosome"] = time.perf_counter() - t
    assert total == sum(sizes.values())
    t = time.perf_counter()
    chroms_arr, starts_arr = np.asarray(chroms, dtype=object), np.asarray(starts, np.int64)
    cut = np.empty((len(starts), length), np.uint8)
    for c in sizes:
        sel = np.flatnonzero(chroms_arr == c)
        seq = np.frombuffer(reader.chromosome(c).encode("ascii"), np.uint8)
        cut[sel] = seq[starts_arr[sel, None] + np.arange(length)]
    out["by chrom"] = time.perf_counter() - t
    assert [r.tobytes().decode() for r in cut[:100]] == seqs[:100]
    return out, seqs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mbp", type=float, default=100)
    ap.add_argument("--chroms", type=int, default=5)
    ap.add_argument("--windows", type=int, default=100_000)
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import pysam
    import pyfaidx

    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "genome.fa")
        sizes = make_genome(plain, args.mbp, args.chroms)
        bgz = plain + ".gz"
        pysam.tabix_compress(plain, bgz, force=True)
        rng = np.random.default_rng(1)
        names = list(sizes)
        chroms = [names[i] for i in rng.integers(0, len(names), args.windows)]
        starts = [int(rng.integers(0, sizes[c] - args.length)) for c in chroms]
        times = {}
        for r in range(args.rounds):
            for fmt, path in (("plain", plain), ("bgzip", bgz)):
                order = [Pysam, Pyfaidx] if r % 2 == 0 else [Pyfaidx, Pysam]
                got = {}
                for cls in order:
                    res, got[cls.name] = measure(cls, path, sizes, chroms, starts, args.length)
                    for k, v in res.items():
                        times.setdefault((fmt, k, cls.name), []).append(v)
                assert got["pysam"] == got["pyfaidx"], "the readers disagree"
    print(f"{' '.join(sys.argv)}  (pysam {pysam.__version__}, pyfaidx {pyfaidx.__version__}; "
          f"load {os.getloadavg()[0]:.1f}; median of {args.rounds} alternating rounds)\n")
    print(f"genome {args.mbp:g} Mbp in {args.chroms} chromosomes; {args.windows:,} windows of {args.length} bp\n")
    print("| file | step | pysam (s) | pyfaidx (s) | pyfaidx / pysam |")
    print("|---|---|---|---|---|")
    for fmt in ("plain", "bgzip"):
        for step in ("index", "windows", "chromosome", "by chrom"):
            a = statistics.median(times[fmt, step, "pysam"])
            b = statistics.median(times[fmt, step, "pyfaidx"])
            print(f"| {fmt} | {step} | {a:.2f} | {b:.2f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
