"""bigWig writers for ``seqcnn scan``: pyBigWig against pybigtools, the same track written and read by both, in turns.

The track is what ``seqcnn scan --stride 10`` writes for a yeast-sized genome: 16 chromosomes totalling
``--mbp`` million bases (12 by default, the size of S. cerevisiae R64), one value per 10 bp bin, with a few
gaps (N runs: no value). Each round writes the track with each library (in alternating order) and reads
back one region per base (``--region`` bp on the largest chromosome) and the whole of one chromosome.

  pyBigWig   ``addHeader`` (chromosome sizes in genome order, 10 zoom levels) then ``addEntries`` per
             contiguous run of bins as fixed-step sections (span = step = stride), numpy arrays in;
             read: ``values(chrom, start, end, numpy=True)``
  pybigtools ``write(chroms, iterator of (chrom, start, end, value))`` (one tuple per bin; it builds the
             zoom levels itself); read: ``values(chrom, start, end)`` (numpy, NaN where no value)

Both files are checked to hold the same values. The table gives medians over rounds (seconds, file size).

Usage: python benchmarks/bench_bigwig.py [--mbp 12] [--stride 10] [--rounds 3] [--region 100000]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from importlib import metadata

import numpy as np


def make_track(mbp, stride, seed=0):
    """Chromosome sizes (16, yeast-like spread) and per chromosome (bin starts, values) with N gaps removed."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.2, 1.5, 16)
    sizes = (weights / weights.sum() * mbp * 1e6).astype(np.int64)
    chroms = {f"chr{k + 1}": int(s) for k, s in enumerate(sizes)}
    track = {}
    for c, n in chroms.items():
        starts = np.arange(0, n - stride + 1, stride, dtype=np.int64)
        vals = rng.beta(0.5, 5, len(starts)).astype(np.float32)
        keep = np.ones(len(starts), bool)
        for g in rng.integers(0, len(starts), 3):  # three N gaps of 1-5 kb per chromosome
            keep[g:g + rng.integers(100, 500)] = False
        track[c] = (starts[keep], vals[keep])
    return chroms, track


def runs(starts, stride):
    """Split indices where the next bin does not follow on: [(lo, hi)] of contiguous runs."""
    cut = np.flatnonzero(np.diff(starts) != stride) + 1
    edges = np.concatenate([[0], cut, [len(starts)]])
    return list(zip(edges[:-1], edges[1:]))


def write_pybigwig(path, chroms, track, stride):
    import pyBigWig

    bw = pyBigWig.open(path, "w")
    bw.addHeader(list(chroms.items()), maxZooms=10)
    for c, (starts, vals) in track.items():
        for lo, hi in runs(starts, stride):
            bw.addEntries(c, int(starts[lo]), values=vals[lo:hi].astype(np.float64), span=stride, step=stride)
    bw.close()


def write_pybigtools(path, chroms, track, stride):
    import pybigtools

    def entries():
        for c, (starts, vals) in track.items():
            yield from zip([c] * len(starts), starts.tolist(), (starts + stride).tolist(), vals.tolist())

    pybigtools.open(path, "w").write(chroms, entries())


def read_pybigwig(path, chrom, start, end):
    import pyBigWig

    bw = pyBigWig.open(path)
    try:
        return np.asarray(bw.values(chrom, start, end, numpy=True), np.float64)
    finally:
        bw.close()


def read_pybigtools(path, chrom, start, end):
    import pybigtools

    bw = pybigtools.open(path)
    try:
        return np.asarray(bw.values(chrom, start, end, fillna=None), np.float64)
    finally:
        bw.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mbp", type=float, default=12)
    ap.add_argument("--stride", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--region", type=int, default=100_000)
    a = ap.parse_args(argv)
    import pyBigWig
    import pybigtools

    chroms, track = make_track(a.mbp, a.stride)
    n_bins = sum(len(s) for s, _ in track.values())
    big = max(chroms, key=chroms.get)
    lo = chroms[big] // 3
    libs = {"pyBigWig": (write_pybigwig, read_pybigwig), "pybigtools": (write_pybigtools, read_pybigtools)}
    times = {k: {"write": [], "read region": [], "read chromosome": []} for k in libs}
    size = {}
    with tempfile.TemporaryDirectory() as d:
        for r in range(a.rounds):
            order = list(libs) if r % 2 == 0 else list(libs)[::-1]
            got = {}
            for name in order:
                write, read = libs[name]
                path = os.path.join(d, f"{name}.bw")
                if os.path.exists(path):
                    os.remove(path)
                t = time.perf_counter()
                write(path, chroms, track, a.stride)
                times[name]["write"].append(time.perf_counter() - t)
                size[name] = os.path.getsize(path)
                t = time.perf_counter()
                got[name] = read(path, big, lo, lo + a.region)
                times[name]["read region"].append(time.perf_counter() - t)
                t = time.perf_counter()
                read(path, big, 0, chroms[big])
                times[name]["read chromosome"].append(time.perf_counter() - t)
            a_, b_ = got.values()
            same = np.array_equal(np.isnan(a_), np.isnan(b_)) and np.allclose(a_[~np.isnan(a_)], b_[~np.isnan(b_)],
                                                                            rtol=1e-6)
            if not same:
                sys.exit("the two libraries read back different values")
    print(f"track: {a.mbp:g} Mbp, 16 chromosomes, stride {a.stride}, {n_bins:,} bins; region {a.region:,} bp of "
          f"{big}; medians of {a.rounds} rounds; pybigtools {pybigtools.__version__}, pyBigWig "
          f"{metadata.version('pyBigWig')}")
    print(f"{'library':<12}{'write s':>10}{'read region s':>16}{'read chrom s':>15}{'file MB':>10}")
    for name in libs:
        t = {k: statistics.median(v) for k, v in times[name].items()}
        print(f"{name:<12}{t['write']:>10.2f}{t['read region']:>16.4f}{t['read chromosome']:>15.3f}"
              f"{size[name] / 1e6:>10.2f}")


if __name__ == "__main__":
    main()
