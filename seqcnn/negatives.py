"""Negatives for genome mode: GC-matched genomic windows and dinucleotide-preserving shuffles of the positives.

Provides :func:`gc_content` and :func:`n_fraction` of byte windows, :func:`gc_matched` (windows of the
genome that overlap no peak or excluded region, sampled so their GC-content distribution matches the
positives', streaming the genome one chromosome at a time and keeping only candidate coordinates and GC
values) and :func:`dinucleotide_shuffle` (the Altschul–Erickson Eulerian-walk shuffle: every sequence keeps
its first and last base and exactly its dinucleotide counts). numpy, plus numba for the shuffle's walk.
"""

import numpy as np

from .errors import SeqcnnError

GC_BIN = 0.02
# Bases of a chromosome tiled at once by gc_matched (~10 MB of sequence and a few small arrays per slab).
SLAB_BASES = 10_000_000
# Per byte, G/C (either case) in the low 16 bits and N in the high 16: one lookup and one sum count both.
_COUNTS = np.zeros(256, np.uint32)
for _c in "GCgc":
    _COUNTS[ord(_c)] = 1
for _c in "Nn":
    _COUNTS[ord(_c)] = 1 << 16
# Chromosomes left out of negative sampling unless named by --chroms: mitochondria, unplaced and alt contigs.
_SKIP_PARTS = ("_random", "chrUn", "_alt", "_fix", "_hap", "EBV")


def default_chrom(name):
    """Whether a chromosome is sampled for negatives by default (not chrM, unplaced, random or alt contigs)."""
    return name not in ("chrM", "MT", "M", "chrMT") and not any(p in name for p in _SKIP_PARTS)


def composition(x):
    """GC fraction over the non-N bases and N fraction of each byte window: uint8 [n, L] → two float64 [n].

    The GC fraction is NaN for an all-N window. Windows up to 65,535 bp.
    """
    x = np.asarray(x, np.uint8)
    counts = np.zeros(len(x), np.uint32)
    for b in range(0, len(x), 16384):  # blocks: the uint32 lookup of a million windows would be 800 MB at once
        counts[b:b + 16384] = _COUNTS[x[b:b + 16384]].sum(1, dtype=np.uint32)
    n_count = (counts >> 16).astype(np.int64)
    called = x.shape[1] - n_count
    with np.errstate(invalid="ignore", divide="ignore"):
        gc = np.where(called > 0, (counts & 0xFFFF) / np.maximum(called, 1), np.nan)
    return gc, n_count / max(x.shape[1], 1)


def gc_content(x):
    """GC fraction of each byte window over its non-N bases: uint8 [n, L] → float64 [n] (NaN when all N)."""
    return composition(x)[0]


def ks_statistic(a, b):
    """Two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical CDFs (NaN ignored)."""
    a = np.sort(np.asarray(a, float)[np.isfinite(a)])
    b = np.sort(np.asarray(b, float)[np.isfinite(b)])
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    points = np.concatenate([a, b])
    gap = np.searchsorted(a, points, side="right") / len(a) - np.searchsorted(b, points, side="right") / len(b)
    return float(np.abs(gap).max())


def n_fraction(x):
    """Fraction of N in each byte window: uint8 [n, L] → float64 [n]."""
    return composition(x)[1]


def gc_matched(genome, positive_gc, length, per_positive, avoid, rng, chroms=None, max_n=0.1):
    """Genomic windows whose GC-content distribution matches the positives'.

    Every allowed chromosome is tiled with non-overlapping windows of ``length`` (one chromosome in memory
    at a time); windows overlapping ``avoid`` or with more than ``max_n`` N are discarded. Per GC bin of
    ``GC_BIN`` the positives' count times ``per_positive`` windows are drawn without replacement; a bin
    short of candidates takes its deficit from the nearest bins (nearer first, lower GC first on ties).

    Parameters
    ----------
    genome : seqcnn.genome.Genome
    positive_gc : np.ndarray, shape=(n,) — GC content of the positive windows.
    length : int
    per_positive : float — negatives per positive (``--negative-ratio``).
    avoid : seqcnn.intervals.IntervalIndex — peaks and excluded regions.
    rng : np.random.Generator
    chroms : list of str, optional — chromosomes to sample; default: every chromosome of the genome that
        :func:`default_chrom` accepts.
    max_n : float

    Returns
    -------
    chrom : np.ndarray of str, start : np.ndarray int64, gc : np.ndarray float64 — shape=(m,) each,
    m = round(n · per_positive), sorted by chromosome (genome order) and start.

    Raises
    ------
    SeqcnnError — when the genome has fewer candidate windows than negatives requested.
    """
    names = [c for c in genome.lengths if (c in chroms if chroms is not None else default_chrom(c))]
    cand_chrom, cand_start, cand_gc = [], [], []
    slab = max(1, SLAB_BASES // length)  # tiles read at once: memory stays flat however long the chromosome
    for code, c in enumerate(names):
        tiles = genome.lengths[c] // length
        for first in range(0, tiles, slab):
            starts = np.arange(first, min(first + slab, tiles), dtype=np.int64) * length
            keep = ~avoid.overlaps(np.full(len(starts), c, dtype=object), starts, starts + length)
            if not keep.any():
                continue
            seq = genome.region(c, int(starts[0]), int(starts[-1]) + length).reshape(len(starts), length)
            gc, nf = composition(seq)
            ok = keep & (nf <= max_n)
            cand_chrom.append(np.full(int(ok.sum()), code, np.int32))
            cand_start.append(starts[ok])
            cand_gc.append(gc[ok])
    want_total = int(round(len(positive_gc) * per_positive))
    n_cand = int(sum(map(len, cand_start)))
    if n_cand < want_total:
        raise SeqcnnError(f"too few candidate windows for the negatives: {want_total} requested, {n_cand} possible "
                          f"({length} bp windows overlapping no peak or excluded region, at most {max_n:g} N, on "
                          f"{len(names)} chromosome(s))", path=genome.path,
                          hint="lower --negative-ratio, allow more --chroms, or shorten --length")
    code = np.concatenate(cand_chrom) if cand_chrom else np.zeros(0, np.int32)
    start = np.concatenate(cand_start) if cand_start else np.zeros(0, np.int64)
    gc = np.concatenate(cand_gc) if cand_gc else np.zeros(0)
    n_bins = int(round(1 / GC_BIN))
    bin_of = lambda v: np.clip((np.asarray(v) / GC_BIN).astype(np.int64), 0, n_bins - 1)  # noqa: E731
    cand_bin = bin_of(gc)
    pos = np.asarray(positive_gc, float)
    want = np.bincount(bin_of(pos[np.isfinite(pos)]), minlength=n_bins).astype(float) * per_positive
    # Largest remainders: the per-bin counts add up to the total asked for.
    base = np.floor(want).astype(np.int64)
    extra = want_total - int(base.sum())
    if extra > 0:
        base[np.argsort(-(want - base), kind="stable")[:extra]] += 1
    pools = [rng.permutation(np.flatnonzero(cand_bin == b)) for b in range(n_bins)]
    taken = np.zeros(n_bins, np.int64)
    chosen = []
    for b in range(n_bins):
        need = int(base[b])
        for d in sorted(range(n_bins), key=lambda k: (abs(k - b), k)):
            if need == 0:
                break
            got = pools[d][taken[d]:taken[d] + need]
            taken[d] += len(got)
            need -= len(got)
            chosen.append(got)
    idx = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    order = np.lexsort((start[idx], code[idx]))
    idx = idx[order]
    return np.array(names, dtype=object)[code[idx]] if len(idx) else np.zeros(0, object), start[idx], gc[idx]


_WALK = []


def _walk_fn():
    """The compiled Eulerian walk (numba; compiled on first use)."""
    if _WALK:
        return _WALK[0]
    import numba

    @numba.njit(cache=True)
    def walk(codes, lengths, seed, out):  # pragma: no cover - compiled
        # codes: concatenated sequences as 0..4 (A C G T N). numba's own generator, seeded from the caller's.
        np.random.seed(seed)
        pos = 0
        for s in range(len(lengths)):
            n = lengths[s]
            seq = codes[pos:pos + n]
            res = out[pos:pos + n]
            pos += n
            if n < 3:
                res[:] = seq
                continue
            # Edge lists: the successor of every occurrence of each letter (the last position has none).
            count = np.zeros(5, np.int64)
            for i in range(n - 1):
                count[seq[i]] += 1
            offset = np.zeros(6, np.int64)
            for a in range(5):
                offset[a + 1] = offset[a] + count[a]
            edges = np.empty(n - 1, np.int64)
            fill = offset[:5].copy()
            for i in range(n - 1):
                edges[fill[seq[i]]] = seq[i + 1]
                fill[seq[i]] += 1
            last = seq[n - 1]
            # The last exit of every other letter, drawn until they form a tree toward the final letter
            # (then the walk below is an Eulerian path that uses every edge, ending on the final letter).
            exit_edge = np.full(5, -1, np.int64)
            while True:
                for a in range(5):
                    if a != last and count[a] > 0:
                        exit_edge[a] = offset[a] + min(int(np.random.random() * count[a]), count[a] - 1)
                ok = True
                for a in range(5):
                    if a == last or count[a] == 0:
                        continue
                    v, steps = a, 0
                    while v != last and steps < 6:
                        v = edges[exit_edge[v]]
                        steps += 1
                    if v != last:
                        ok = False
                        break
                if ok:
                    break
            # Every other edge of a letter in random order, its chosen exit last.
            for a in range(5):
                lo, hi = offset[a], offset[a + 1]
                top = hi
                if a != last and count[a] > 0:
                    e = exit_edge[a]
                    edges[e], edges[hi - 1] = edges[hi - 1], edges[e]
                    top = hi - 1
                for i in range(top - 1, lo, -1):  # Fisher-Yates over [lo, top)
                    j = lo + min(int(np.random.random() * (i - lo + 1)), i - lo)
                    edges[i], edges[j] = edges[j], edges[i]
            nxt = offset[:5].copy()
            v = seq[0]
            res[0] = v
            for i in range(1, n):
                w = edges[nxt[v]]
                nxt[v] += 1
                res[i] = w
                v = w
        return out

    _WALK.append(walk)
    return walk


_CODE = np.full(256, 4, np.uint8)
for _k, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _CODE[ord(_b.lower())] = _k
_UPPER = np.frombuffer(b"ACGTN", np.uint8)


def dinucleotide_shuffle(x, rng):
    """Shuffle each window keeping its first and last base and its exact dinucleotide counts (Altschul–Erickson).

    Parameters
    ----------
    x : np.ndarray, uint8, shape=(n, L) — bases as bytes (any case; anything but A/C/G/T counts as N).
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, uint8, shape=(n, L) — upper-case A, C, G, T, N.
    """
    x = np.asarray(x, np.uint8)
    n, length = x.shape
    codes = np.ascontiguousarray(_CODE[x].reshape(-1))
    out = np.empty_like(codes)
    walk = _walk_fn()
    walk(codes, np.full(n, length, np.int64), int(rng.integers(0, 2**31 - 1)), out)
    return _UPPER[out].reshape(n, length)
