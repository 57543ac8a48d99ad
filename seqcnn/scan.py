"""A trained model over a whole genome: ``seqcnn scan`` — tracks (bigWig, bedGraph), called sites, shards, merge.

Provides :func:`iter_scores` (the windows of one stretch of a chromosome scored slab by slab),
:func:`scan` (the verb: tracks, a summary JSON beside them, optionally a sites BED), :func:`merge` (shards
joined into one track), :func:`read_track` (a track read back per base, NaN where it has no value),
:func:`call_sites` / :class:`SiteCaller` (windows above a threshold merged into narrowPeak sites),
:func:`plan_spans` (the genome cut into slab pieces and shards), :func:`check_stride` and
:func:`check_run_chroms` (a genome named unlike the run's data refused; also used by genome-wide evaluation).

The rules, each defined once here:

- **Grid.** For ``--stride S`` and a model of input length ``L``, the windows scored are those whose centre
  ``c`` is a chromosome position (0-based) with ``c % S == S // 2``; the window is ``[c - L // 2, c - L // 2 + L)``
  and its value is written over the track bin ``[c - S // 2, c - S // 2 + S)``, i.e. bins ``[k S, (k + 1) S)``
  that tile the chromosome. ``1 <= S <= L``. With ``--regions`` only the centres inside a region are scored.
- **Dropped windows** (no value in the track, counted by reason): ``off_chromosome`` — the window runs past
  either end of the chromosome (no padding with invented bases); ``n_rich`` — more than ``max_n`` of its bases
  are not A/C/G/T (N and other IUPAC codes; they are all-zero one-hot rows for the model, as in ``encode``).
  Soft-masked lower case is a base. Windows considered = scored + dropped, per chromosome and in total.
- **Slabs.** A chromosome is read in slabs fixed by chromosome coordinates: slab ``j`` holds the centres in
  ``[j B, (j + 1) B)`` (``B = slab_bases``, 2**20 by default) and reads the bases of their windows, i.e. that
  span plus one window of overlap. Memory is bounded by one slab whatever the genome. Shards are cut on slab
  boundaries, so a shard scores exactly the slabs (same bases, same window starts) an unsharded run scores:
  its values are the unsharded run's bit for bit, by construction. A ``--regions`` run scores only the centres
  of its regions from the same slab bases (values equal a whole-genome run within float tolerance).
- **Values.** ``probability``: the model's link (sigmoid, or softmax over the outputs for multiclass) of its
  logits; ``logit``: the logits. Stored as float32 (bigWig stores float32).
- **Shards** (``--shard K/N``): the scanned spans (whole chromosomes, or the regions), in the genome's
  chromosome order, are cut at slab boundaries into pieces and laid end to end; shard K takes the pieces that
  start in ``[(K - 1) T / N, K T / N)`` of the total length ``T``: nearly equal lengths (within one slab).
- **Sites** (narrowPeak, BED6+4): see :class:`SiteCaller`.

bigWig is written and read with pyBigWig (0.3.29), chosen by ``benchmarks/bench_bigwig.py`` over pybigtools
0.3.0: on a 12 Mbp stride-10 track it wrote 1.6x faster (fixed-step sections) and a 1.5x smaller file, and read
back faster. Each file's header holds every chromosome of the genome with its length, in the genome's order,
and up to 10 zoom levels (pyBigWig stops adding levels once one would not shrink the data; a 2 Mbp
stride-10 track gets 3): what UCSC and IGV show when zoomed out.
"""

import gzip
import json
import os
import re
import time

import numpy as np

from .errors import InputFormatError, SeqcnnError
from .outputs import check_output, publish_all, temp_file, utc_now

SLAB_BASES = 2 ** 20
MAX_N = 0.1  # as `seqcnn encode --max-n`: genome-mode windows with more N are not made
VALUES = ("probability", "logit")
BIGWIG_EXT = (".bw", ".bigwig")
BEDGRAPH_EXT = (".bedgraph", ".bg", ".bedgraph.gz", ".bg.gz")
DROP_REASONS = ("off_chromosome", "n_rich")
ZOOM_LEVELS = 10


# ----------------------------------------------------------------------------------------------------- the grid


def check_stride(stride, length):
    """Raise unless ``1 <= stride <= length`` (a stride over the window would leave bases no window covers)."""
    if not isinstance(stride, (int, np.integer)) or not 1 <= int(stride) <= int(length):
        raise SeqcnnError(f"--stride {stride} must lie between 1 and the model's window length {length}",
                          hint=f"e.g. --stride 10 (at most {length})")


def grid_centres(start, end, stride):
    """The grid centres in ``[start, end)``: positions ``c`` with ``c % stride == stride // 2``; int64 [n]."""
    half = stride // 2
    first = -(-(start - half) // stride) * stride + half
    return np.arange(first, end, stride, dtype=np.int64)


def _onehot(u8):
    """Bytes [S] → one-hot uint8 [S, 4]: A C G T any case, every other byte an all-zero row (as N in encode)."""
    from .encoding import _WORDS  # the encoder's own table: one lookup writes a whole row

    return _WORDS[u8].view(np.uint8).reshape(-1, 4)


class SlabScores:
    """The windows of one slab: ``chrom``, ``centres`` int64 [n], ``kept`` bool [n], ``logits`` float32 [n, T]
    (NaN rows where not kept), ``dropped`` dict reason → count over these n windows, ``bases`` (centre span)."""

    __slots__ = ("chrom", "centres", "kept", "logits", "dropped", "bases")

    def __init__(self, chrom, centres, kept, logits, dropped, bases):
        self.chrom, self.centres, self.kept, self.logits = chrom, centres, kept, logits
        self.dropped, self.bases = dropped, bases


def iter_scores(scorer, genome, chrom, start, end, stride, max_n=MAX_N, slab_bases=SLAB_BASES):
    """Score the grid windows whose centres lie in ``[start, end)`` of ``chrom``, one slab at a time.

    Parameters
    ----------
    scorer : object with ``length`` (L), ``n_outputs`` (T) and ``logits(slab, starts)`` (uint8 one-hot
        [S, 4], int64 window starts in the slab [m] → float32 [m, T]), e.g. ``scan_exact.WindowScorer``.
    genome : Genome
    chrom : str
    start, end : int — the centres' range, ``0 <= start <= end <= len(chrom)``.
    stride : int — the grid (module docstring).
    max_n : float — largest fraction of non-ACGT bases in a scored window.
    slab_bases : int — ``B``: slab ``j`` holds the centres of ``[j B, (j + 1) B)`` (fixed by chromosome
        coordinates, not by ``start``, so every run reads the same slab for a window).

    Yields
    ------
    SlabScores — per slab touched, in order; together they hold every grid centre of ``[start, end)`` once.
    """
    L = int(scorer.length)
    size = genome.lengths[chrom]
    half = L // 2
    B = int(slab_bases)
    for j in range(start // B, -(-end // B) if end > start else start // B):
        lo, hi = max(start, j * B), min(end, (j + 1) * B)
        centres = grid_centres(lo, hi, stride)
        n = len(centres)
        # The slab's bases: every window of slab j's full centre span, clipped to the chromosome.
        a = min(max(0, j * B - half), size)
        b = min(size, (j + 1) * B - half + L)
        ws = centres - half
        on = (ws >= 0) & (ws + L <= size)
        kept = on.copy()
        logits = np.full((n, int(scorer.n_outputs)), np.nan, np.float32)
        n_rich = 0
        if on.any():  # (a slab piece with no centre, or none on the chromosome, reads nothing)
            u8 = genome.region(chrom, a, b)
            x = _onehot(u8)
            # Non-ACGT count per window from a cumulative sum: vectorised over all windows at once.
            bad = np.concatenate([[0], np.cumsum(x.sum(axis=1) == 0, dtype=np.int64)])
            rel = ws[on] - a
            nfrac = (bad[rel + L] - bad[rel]) / L
            ok = nfrac <= max_n
            idx = np.flatnonzero(on)
            kept[idx[~ok]] = False
            n_rich = int((~ok).sum())
            if ok.any():
                logits[idx[ok]] = np.asarray(scorer.logits(x, rel[ok].astype(np.int64)), np.float32)
        yield SlabScores(chrom, centres, kept, logits, {"off_chromosome": int((~on).sum()), "n_rich": n_rich},
                         hi - lo)


# ----------------------------------------------------------------------------------------------- spans and shards


def plan_spans(lengths, spans, slab_bases=SLAB_BASES, shard=None):
    """The pieces of ``spans`` a run (or shard) scans: each span cut at slab boundaries, in the order given.

    Parameters
    ----------
    lengths : dict — chromosome → length, in genome order.
    spans : list of (chrom, start, end) — what to scan, in genome order, not overlapping.
    shard : (K, N) or None — keep the pieces starting in ``[(K-1) T/N, K T/N)`` of the total length ``T``.

    Returns
    -------
    list of (chrom, start, end).
    """
    B = int(slab_bases)
    pieces = []
    for c, s, e in spans:
        cuts = list(range((s // B + 1) * B, e, B))
        bounds = [s] + cuts + [e]
        pieces += [(c, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    if shard is None:
        return pieces
    k, n = shard
    length = np.array([hi - lo for _, lo, hi in pieces], np.int64)
    offset = np.concatenate([[0], np.cumsum(length)[:-1]])
    total = int(length.sum())
    lo_, hi_ = total * (k - 1) / n, total * k / n
    return [p for p, o in zip(pieces, offset) if lo_ <= o < hi_]


def _read_regions(path, genome):
    """``--regions`` BED → sorted, merged spans [(chrom, start, end)] in genome order; errors name the line."""
    from .intervals import read_bed

    iv = read_bed(path)
    missing = genome.check_chroms(iv.chrom, path=path, line=dict(zip(iv.chrom[::-1], iv.line[::-1])))
    if missing:
        first = sorted(missing)[0]
        k = int(np.flatnonzero(iv.chrom == first)[0])
        raise SeqcnnError(f"line {iv.line[k]}: chromosome {first!r} is not in the genome "
                          f"{os.path.basename(genome.source)}", path=path,
                          hint="remove the line or give the genome these regions were written for")
    size = genome.sizes(iv.chrom)
    out = np.flatnonzero(iv.end > size)
    if len(out):
        k = int(out[0])
        raise SeqcnnError(f"line {iv.line[k]}: {iv.chrom[k]}:{iv.start[k]}-{iv.end[k]} ends past the chromosome's "
                          f"end ({size[k]} bp)", path=path, hint="fix the region's coordinates (0-based, half-open)")
    order = {c: i for i, c in enumerate(genome.lengths)}
    spans = sorted(((str(c), int(s), int(e)) for c, s, e in zip(iv.chrom, iv.start, iv.end) if e > s),
                   key=lambda t: (order[t[0]], t[1], t[2]))
    merged = []
    for c, s, e in spans:
        if merged and merged[-1][0] == c and s <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], e)
        else:
            merged.append([c, s, e])
    return [tuple(m) for m in merged]


def _chrom_list(text, genome):
    """``--chroms A,B`` → the names in genome order; every name must be in the genome."""
    names = [t.strip() for t in str(text).split(",") if t.strip()]
    if not names:
        raise SeqcnnError(f"--chroms {text!r} names no chromosome", hint="e.g. --chroms XV,XVI")
    missing = genome.check_chroms(names, path=genome.source)
    if missing:
        raise SeqcnnError(f"--chroms: {', '.join(sorted(missing))} not in the genome (it has "
                          f"{', '.join(list(genome.lengths)[:6])}{'...' if len(genome.lengths) > 6 else ''})",
                          path=genome.source, hint="check the names against the genome's FASTA headers")
    return [c for c in genome.lengths if c in set(names)]


def check_run_chroms(cfg, genome):
    """Refuse a genome that names chromosomes unlike the run's data (genome-mode datasets record ``chrom``).

    Parameters
    ----------
    cfg : dict — the run's config (``cfg['data']['path']``: its dataset).
    genome : Genome — the genome to scan.

    Returns
    -------
    str or None — a note when the run's dataset cannot be read (the check is skipped and said), else None.

    Raises
    ------
    SeqcnnError — none of the run's chromosomes is in the genome (one line; says when the other 'chr' prefix
    convention would match).
    """
    path = cfg.get("data", {}).get("path")
    if not path:
        return None
    if not os.path.exists(path):
        return "the run's dataset is not at its recorded path: chromosome names were not checked against it"
    from .store import open_dataset

    try:
        with open_dataset(path) as ds:
            if not ds.has_coords:
                return None
            names = set(map(str, np.unique(np.asarray(ds.h5["chrom"].asstr()[:], dtype=object).astype(str))))
    except SeqcnnError:
        return "the run's dataset could not be read: chromosome names were not checked against it"
    missing = names - set(genome.lengths)
    if missing and len(missing) == len(names):
        flipped = {n[3:] if n.startswith("chr") else f"chr{n}" for n in missing}
        style = " (it names them with the other 'chr' prefix convention)" if flipped & set(genome.lengths) else ""
        raise SeqcnnError(f"none of the chromosomes the run was trained on ({', '.join(sorted(names)[:4])}...) is "
                          f"in the genome{style}", path=genome.source,
                          hint="give the genome assembly the run's data were cut from, or rename its chromosomes")
    return None


# ------------------------------------------------------------------------------------------------- track writers


def track_kind(path):
    """'bigwig' or 'bedgraph' from the output's extension (case-insensitive); raises for any other."""
    low = str(path).lower()
    if low.endswith(BIGWIG_EXT):
        return "bigwig"
    if low.endswith(BEDGRAPH_EXT):
        return "bedgraph"
    raise SeqcnnError("unknown track extension", path=path,
                      hint="name the output .bw / .bigwig (bigWig) or .bedgraph / .bg (bedGraph, optionally .gz)")


def _split_ext(path):
    path = str(path)
    low = path.lower()
    for ext in sorted(BIGWIG_EXT + BEDGRAPH_EXT + (".bed", ".narrowpeak", ".bed.gz"), key=len, reverse=True):
        if low.endswith(ext):
            return path[:-len(ext)], path[-len(ext):]
    root, ext = os.path.splitext(path)
    return root, ext


def named_path(path, name):
    """``track.bw`` + ``CTCF`` → ``track.CTCF.bw`` (the output name inserted before the extension)."""
    root, ext = _split_ext(path)
    return f"{root}.{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}{ext}"


class _BigWigWriter:
    """Entries appended in genome order as fixed-step runs (span = step = stride) through pyBigWig."""

    def __init__(self, path, lengths):
        import pyBigWig

        self.bw = pyBigWig.open(path, "w")
        if self.bw is None:
            raise SeqcnnError("cannot write the bigWig", path=path, hint="check the folder is writable")
        self.bw.addHeader(list(lengths.items()), maxZooms=ZOOM_LEVELS)
        self.numpy = bool(getattr(pyBigWig, "numpy", 0))

    def add(self, chrom, starts, ends, values):
        if not len(starts):
            return
        width = ends - starts
        # Runs where bins follow on with one width: one fixed-step section each (smaller, faster than bedGraph).
        cut = np.flatnonzero((starts[1:] != ends[:-1]) | (width[1:] != width[:-1])) + 1
        values = np.asarray(values, np.float64)
        for lo, hi in zip(np.concatenate([[0], cut]), np.concatenate([cut, [len(starts)]])):
            part = values[lo:hi]
            # A pyBigWig built without numpy takes lists only.
            self.bw.addEntries(chrom, int(starts[lo]), values=part if self.numpy else part.tolist(),
                               span=int(width[lo]), step=int(width[lo]))

    def close(self):
        self.bw.close()


class _BedGraphWriter:
    """One line per bin, ``chrom start end value`` (value with 9 significant digits: float32 round-trips)."""

    def __init__(self, path, track_line, gz=False):
        if gz:
            raw = open(path, "wb")
            self.fh = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0)
            self._raw = raw
        else:
            self.fh, self._raw = open(path, "wb"), None
        if track_line:
            self.fh.write((track_line + "\n").encode())

    def add(self, chrom, starts, ends, values):
        import pandas as pd

        if not len(starts):
            return
        frame = pd.DataFrame({"c": chrom, "s": starts, "e": ends, "v": np.asarray(values, np.float64)})
        self.fh.write(frame.to_csv(sep="\t", header=False, index=False, float_format="%.9g",
                                   lineterminator="\n").encode())

    def close(self):
        self.fh.close()
        if self._raw is not None:
            self._raw.close()


def _open_writer(path, kind, lengths, track_line, gz=False):
    """A track writer on ``path`` (a temporary name: ``gz`` says whether the final name ends in .gz)."""
    return _BigWigWriter(path, lengths) if kind == "bigwig" else _BedGraphWriter(path, track_line, gz)


def _track_line(name, description):
    return f'track type=bedGraph name="{name}" description="{description}"'


# ------------------------------------------------------------------------------------------------------- sites


class SiteCaller:
    """Windows whose probability is at least ``threshold`` merged into sites, written as narrowPeak (BED6+4).

    Bins of such windows that follow on (the next grid bin, same chromosome) are one site; a dropped window or
    one below the threshold ends it. Columns (tab-separated, 0-based half-open):

    1. chrom; 2. start — the first bin's start; 3. end — the last bin's end; 4. name — ``site_<n>`` (numbered
    in genome order from 1; ``<output>_site_<n>`` when a model has several outputs); 5. score —
    ``round(1000 * max probability)``, 0-1000; 6. strand — ``.`` (the value is strand-averaged or forward, not
    per strand); 7. signalValue — the maximum probability (6 decimals); 8. pValue — ``-1`` (none: a
    probability is not a test); 9. qValue — ``-1``; 10. peak — the summit: the centre of the window of
    maximum probability (the first, on ties) minus ``start``.
    """

    def __init__(self, fh, threshold, stride, prefix="site"):
        self.fh, self.threshold, self.stride, self.prefix = fh, float(threshold), int(stride), prefix
        self.open = None  # [chrom, start, end, best value, best centre]
        self.n = 0

    def feed(self, chrom, centres, values):
        """Add windows in genome order: centres int64 [n] (grid), values float32 [n] (NaN = no value)."""
        n, S = len(centres), self.stride
        if not n:
            return
        values = np.asarray(values, np.float32)
        above = values >= self.threshold  # NaN compares False: a dropped window ends a site
        starts = centres - S // 2
        if self.open is not None and not (self.open[0] == chrom and above[0] and starts[0] == self.open[2]):
            self._emit()
        # A site begins where a window is above and the one before is not, or is not the previous grid bin
        # (region edges): runs found for the whole feed at once.
        follows = np.concatenate([[False], (np.diff(centres) == S) & above[:-1]])
        begin = above & ~follows
        a = np.flatnonzero(begin)
        if not len(a):
            return
        b = np.flatnonzero(above & np.concatenate([begin[1:] | ~above[1:], [True]])) + 1
        masked = np.where(above, values, -np.inf)
        best = np.maximum.reduceat(masked, a)
        run = np.cumsum(begin) - 1
        index = np.where(above & (masked == best[np.maximum(run, 0)]), np.arange(n), n)
        first = np.minimum.reduceat(index, a)  # the first window of the maximum, on ties
        s, e, c = starts[a], starts[b - 1] + S, centres[first]
        rows = list(zip(s.tolist(), e.tolist(), best.tolist(), c.tolist()))
        if self.open is not None:  # still open only when this feed's first window continues it
            s0, e0, best0, c0 = rows.pop(0)
            self.open[2] = e0
            if best0 > self.open[3]:
                self.open[3], self.open[4] = best0, c0
            if rows or b[0] < n:
                self._emit()
        keep_open = bool(rows) and b[-1] == n
        last = rows.pop() if keep_open else None
        self._write(chrom, rows)
        if keep_open:
            self.open = [chrom, *last]

    def _write(self, chrom, rows):
        """Write sites (start, end, best, centre) of ``chrom``, numbering them on."""
        lines = []
        for s, e, best, c in rows:
            self.n += 1
            lines.append(f"{chrom}\t{s}\t{e}\t{self.prefix}_{self.n}\t{min(1000, round(1000 * best))}\t.\t"
                         f"{best:.6f}\t-1\t-1\t{c - s}\n")
        self.fh.write("".join(lines))

    def _emit(self):
        if self.open is not None:
            chrom, *row = self.open
            self.open = None
            self._write(chrom, [row])

    def close(self):
        """Write the site still open; returns the number of sites written."""
        self._emit()
        return self.n


# --------------------------------------------------------------------------------------------------- the verb


def _version():
    from ._version import __version__

    return __version__


def _model_sha256(run_dir):
    """sha256 of the run's model.keras (what a replay must load), or None where the run keeps it elsewhere."""
    from .readers import sha256_file

    path = os.path.join(str(run_dir), "model.keras")
    return sha256_file(path) if os.path.isfile(path) else None


def _shown_name(cfg, names, k):
    """What output ``k`` is called in a browser: a binary run's label name (its output is named '1'), else its name."""
    label_names = (cfg.get("data") or {}).get("label_names") or []
    if cfg["model"]["task"] == "binary" and len(label_names) == 1:
        return str(label_names[0])
    return names[k]


def _labels(cfg):
    """The model outputs' names, in order (binary: the positive class)."""
    from .scoring import output_columns

    return [c[len("prob_"):] for c in output_columns(cfg)]


def scan(run_dir, genome, out, chroms=None, regions=None, stride=10, value="probability", output_name=None,
         max_n=MAX_N, sites=None, threshold=0.9, shard=None, force=False, progress=False, slab_bases=SLAB_BASES,
         method="auto", command=None):
    """Score every grid window of a genome (or of chromosomes, or regions) with a run: tracks, summary, sites.

    Parameters
    ----------
    run_dir : str — a finished ``seqcnn train`` run.
    genome : str — reference FASTA (plain or bgzip); its chromosome names must match the run's data.
    out : str — the track: ``.bw``/``.bigwig`` (bigWig) or ``.bedgraph``/``.bg`` (bedGraph, ``.gz`` allowed). A
        model with several outputs writes one file per output, its name before the extension
        (``track.CTCF.bw``) unless ``output_name`` picks one. ``<out>.json`` records what a replay needs: the
        command, seqcnn version, run (and its model.keras sha256), genome (and its index sha256), stride, value,
        max_n, chromosomes or regions, shard, slab size, files, sites threshold, counts and scoring path.
    chroms : str or list, optional — only these chromosomes (``"XV,XVI"``). Not with ``regions``.
    regions : str, optional — BED file: only centres inside its regions (merged where they overlap).
    stride : int — grid step (module docstring), 1 to the window length.
    value : {'probability', 'logit'}
    output_name : str, optional — one output's name (see ``seqcnn info`` / the run's label names).
    max_n : float — largest non-ACGT fraction of a scored window, 0 to 1.
    sites : str, optional — narrowPeak file of called sites (:class:`SiteCaller`); needs ``value='probability'``.
    threshold : float — site threshold, in (0, 1).
    shard : (K, N), optional — scan only shard K of N (module docstring); join shards with :func:`merge`.
    force : bool — overwrite outputs.
    progress : bool — a tqdm bar on stderr, in bases.
    slab_bases : int — slab size ``B`` (bases of centres per slab).
    method : str — passed to ``scan_exact.WindowScorer``.

    Returns
    -------
    dict — ``files``, ``sites`` (path, n), ``windows`` {considered, scored, dropped {reason: n}},
    ``per_chrom`` {chrom: same}, ``bases`` (centre span scanned), ``method``, ``seconds``, ``notes``.
    """
    from .genome import Genome
    from .metrics import link
    from .rundir import load_run

    t0 = time.perf_counter()
    if value not in VALUES:
        raise SeqcnnError(f"--value {value!r} is not one of {', '.join(VALUES)}")
    kind = track_kind(out)
    if not 0 <= max_n <= 1:
        raise SeqcnnError(f"--max-n {max_n} must lie between 0 and 1", hint="e.g. --max-n 0.1")
    if sites is not None:
        if value != "probability":
            raise SeqcnnError("--sites needs a probability track (sites are called on probabilities)",
                              hint="drop --value logit, or drop --sites")
        if not 0 < threshold < 1:
            raise SeqcnnError(f"--threshold {threshold} must lie strictly between 0 and 1",
                              hint="e.g. --threshold 0.9")
    if chroms is not None and regions is not None:
        raise SeqcnnError("give --chroms or --regions, not both")
    if int(slab_bases) < 1:
        raise SeqcnnError("slab_bases must be positive")
    model, cfg = load_run(run_dir)
    L = int(cfg["model"]["input_length"])
    check_stride(stride, L)
    names = _labels(cfg)
    if output_name is not None:
        if output_name not in names:
            raise SeqcnnError(f"--output-name {output_name!r} is not one of the model's outputs "
                              f"({', '.join(names)})", path=run_dir, hint="give one of those names")
        picks = [names.index(output_name)]
    else:
        picks = list(range(len(names)))
    files = [str(out)] if len(picks) == 1 else [named_path(out, names[k]) for k in picks]
    site_files = []
    if sites is not None:
        site_files = [str(sites)] if len(picks) == 1 else [named_path(sites, names[k]) for k in picks]
    summary_path = f"{out}.json"
    for path in files + site_files + [summary_path]:
        check_output(path, force)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.access(folder, os.W_OK):
            raise SeqcnnError("output folder is not writable", path=folder, hint="choose a folder you can write to")
    g = Genome(genome)
    notes = []
    note = check_run_chroms(cfg, g)
    if note:
        notes.append(note)
    if regions is not None:
        spans = _read_regions(regions, g)
    else:
        chosen = list(g.lengths) if chroms is None else _chrom_list(
            chroms if isinstance(chroms, str) else ",".join(chroms), g)
        spans = [(c, 0, g.lengths[c]) for c in chosen]
    pieces = plan_spans(g.lengths, spans, slab_bases, shard)

    from .scan_exact import WindowScorer

    scorer = WindowScorer(model, method=method)
    task = cfg["model"]["task"]
    tmps = [temp_file(p) for p in files]
    site_tmps = [temp_file(p) for p in site_files]
    writers, site_fhs = [], []
    per_chrom = {}
    total_bases = sum(hi - lo for _, lo, hi in pieces)
    from tqdm import tqdm

    bar = tqdm(total=total_bases, desc="scanning", unit="bp", unit_scale=True, disable=not progress, leave=False)
    try:
        for k, tmp, path in zip(picks, tmps, files):
            line = _track_line(_shown_name(cfg, names, k),
                               f"seqcnn scan {os.path.basename(str(run_dir))} {value} stride {stride}")
            writers.append(_open_writer(tmp, kind, g.lengths, line, gz=path.lower().endswith(".gz")))
        callers = []
        for k, tmp in zip(picks, site_tmps):
            fh = open(tmp, "w")
            site_fhs.append(fh)
            callers.append(SiteCaller(fh, threshold, stride, "site" if len(picks) == 1 else f"{names[k]}_site"))
        for chrom, lo, hi in pieces:
            row = per_chrom.setdefault(chrom, {"considered": 0, "scored": 0,
                                               "dropped": {r: 0 for r in DROP_REASONS}})
            for sl in iter_scores(scorer, g, chrom, lo, hi, stride, max_n, slab_bases):
                row["considered"] += len(sl.centres)
                row["scored"] += int(sl.kept.sum())
                for r, v in sl.dropped.items():
                    row["dropped"][r] += v
                vals = sl.logits
                if value == "probability":
                    vals = np.full_like(sl.logits, np.nan)
                    vals[sl.kept] = link(task, sl.logits[sl.kept]).astype(np.float32)
                c = sl.centres[sl.kept]
                starts = c - stride // 2
                for w, k in zip(writers, picks):
                    w.add(chrom, starts, starts + stride, vals[sl.kept, k])
                for caller, k in zip(callers, picks):
                    caller.feed(chrom, sl.centres, vals[:, k])
                bar.update(sl.bases)
        n_sites = [caller.close() for caller in callers]
        for fh in site_fhs:
            fh.close()
        for w in writers:
            w.close()
        writers = []
        bar.close()
        windows = {"considered": sum(r["considered"] for r in per_chrom.values()),
                   "scored": sum(r["scored"] for r in per_chrom.values()),
                   "dropped": {r: sum(v["dropped"][r] for v in per_chrom.values()) for r in DROP_REASONS}}
        report = {
            "seqcnn_scan": 1, "created": utc_now(), "command": command or "",
            "seqcnn_version": _version(), "run": os.path.abspath(str(run_dir)), "arch": cfg.get("arch"),
            "model_sha256": _model_sha256(run_dir),
            "genome": {"path": os.path.abspath(g.source), "index_sha256": g.index_sha256(),
                       "chromosomes": len(g.lengths), "size": g.size},
            "format": kind, "value": value, "stride": int(stride), "window": L, "max_n": float(max_n),
            "grid": f"centres c with c % {stride} == {stride // 2}; window [c - {L // 2}, c - {L // 2} + {L}); "
                    f"bin [c - {stride // 2}, c - {stride // 2} + {stride})",
            "outputs": [names[k] for k in picks], "files": files,
            "sites": ({"files": site_files, "threshold": float(threshold), "n": n_sites} if sites is not None
                      else None),
            "chroms": [c for c, _, _ in spans] if regions is None else None,
            "regions": os.path.abspath(str(regions)) if regions is not None else None,
            "shard": list(shard) if shard else None, "slab_bases": int(slab_bases),
            "bases": int(total_bases), "windows": windows, "per_chrom": per_chrom,
            "method": getattr(scorer, "method", None), "seconds": round(time.perf_counter() - t0, 3),
            "notes": notes,
        }
        stmp = temp_file(summary_path)
        tmps.append(stmp)
        with open(stmp, "w") as fh:
            json.dump(report, fh, indent=2)
            fh.write("\n")
        publish_all(list(zip(tmps, files + [summary_path])) + list(zip(site_tmps, site_files)), force)
    finally:
        bar.close()
        for w in writers:
            try:
                w.close()
            except Exception:  # closing a half-written file only to remove it
                pass
        for fh in site_fhs:
            fh.close()
        for tmp in tmps + site_tmps:
            if os.path.exists(tmp):
                os.remove(tmp)
        g.close()
    report["summary"] = summary_path
    return report


# -------------------------------------------------------------------------------------------- reading and merging


def _bedgraph_lines(path):
    """A bedGraph's lines (plain or gzip), as text."""
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    with opener(path, "rt") as fh:
        for line in fh:
            yield line


def read_track(path, chrom, start, end):
    """A track's values per base over ``[start, end)`` of ``chrom``: float32 [end - start], NaN where no value.

    Reads bigWig (pyBigWig) and bedGraph (plain or gzip; read through, for checks and small files). Values are
    float32, as written: bigWig stores float32, and bedGraph's 9 significant digits give the float32 back.
    """
    kind = track_kind(path)
    if not os.path.exists(path):
        raise InputFormatError("track file not found", path=path)
    start, end = int(start), int(end)
    if kind == "bigwig":
        import pyBigWig

        bw = pyBigWig.open(str(path))
        if bw is None:
            raise InputFormatError("not a bigWig file", path=path)
        try:
            size = bw.chroms().get(chrom)
            if size is None:
                raise SeqcnnError(f"chromosome {chrom!r} is not in the track", path=path)
            if not 0 <= start <= end <= size:
                raise SeqcnnError(f"{chrom}:{start}-{end} is not within the chromosome ({size} bp)", path=path)
            if end == start:
                return np.zeros(0, np.float32)
            vals = bw.values(chrom, start, end, numpy=True) if pyBigWig.numpy else bw.values(chrom, start, end)
            return np.asarray(vals, np.float32)
        finally:
            bw.close()
    out = np.full(end - start, np.nan, np.float32)
    for c, s, e, v in _track_entries(path, kind, str(path).lower().endswith(".gz")):
        if c != chrom:
            continue
        sel = (e > start) & (s < end)
        s, e, v = np.maximum(s[sel], start) - start, np.minimum(e[sel], end) - start, v[sel]
        # every base of every interval at once: positions s..e-1 of each, its value repeated
        width = e - s
        pos = np.repeat(s - np.concatenate([[0], np.cumsum(width)[:-1]]), width) + np.arange(int(width.sum()))
        out[pos] = np.repeat(v, width)
    return out


def _bigwig_entries(path, chunk=SLAB_BASES):
    """A bigWig's header (chrom → length, in file order) and its entries per chromosome chunk, in order."""
    import pyBigWig

    bw = pyBigWig.open(str(path))
    if bw is None:
        raise InputFormatError("not a bigWig file (or damaged)", path=path)
    header = bw.chroms()

    def entries():
        try:
            for c, n in header.items():
                for lo in range(0, n, chunk):
                    got = bw.intervals(c, lo, min(n, lo + chunk)) or ()
                    rows = np.array([r for r in got if r[0] >= lo], np.float64).reshape(-1, 3)
                    if len(rows):
                        yield c, rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2]
        finally:
            bw.close()

    return dict(header), entries()


def _track_entries(path, kind, gz=False, chunk=SLAB_BASES):
    """A track's bins in file order, a chunk at a time: (chrom, starts int64, ends int64, values float32)."""
    if kind == "bigwig":
        for c, s, e, v in _bigwig_entries(path, chunk)[1]:
            yield c, s, e, v.astype(np.float32)
        return
    import pandas as pd

    opener = gzip.open if gz else open
    with opener(path, "rt") as fh:  # the track/browser/comment lines at the top are not data
        skip = 0
        for line in fh:
            if not line.startswith(("track", "browser", "#")):
                break
            skip += 1
    # float32 gives back the value written (9 significant digits)
    with pd.read_csv(path, sep="\t", header=None, skiprows=skip, names=["c", "s", "e", "v"],
                     dtype={"c": str, "s": np.int64, "e": np.int64, "v": np.float32}, chunksize=chunk,
                     compression="gzip" if gz else None) as reader:
        for frame in reader:
            for c, sel in frame.groupby("c", sort=False).indices.items():
                yield c, frame["s"].to_numpy()[sel], frame["e"].to_numpy()[sel], frame["v"].to_numpy()[sel]


def call_sites(track, sites, threshold, force=False, prefix="site"):
    """Call sites on a finished probability track (e.g. a merged one): the same rule and columns as ``scan``.

    Parameters
    ----------
    track : str — bigWig or bedGraph written by ``seqcnn scan`` (bins of one stride).
    sites : str — the narrowPeak file to write (:class:`SiteCaller`).
    threshold : float — in (0, 1).

    Returns
    -------
    int — sites written. From the track's float32 values, so they equal the sites ``scan --sites`` calls in the
    same run (bins of dropped windows are absent from the track, and end a site as a dropped window does).
    """
    if not 0 < threshold < 1:
        raise SeqcnnError(f"--threshold {threshold} must lie strictly between 0 and 1", hint="e.g. --threshold 0.9")
    kind = track_kind(track)
    if not os.path.exists(track):
        raise InputFormatError("track file not found", path=track)
    check_output(sites, force)
    tmp = temp_file(sites)
    try:
        n = _write_sites(track, kind, str(track).lower().endswith(".gz"), tmp, threshold, prefix)
        publish_all([(tmp, str(sites))], force)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return n


def _write_sites(track, kind, gz, path, threshold, prefix="site"):
    """Sites of a track file into ``path`` (the stride is the bins' width); returns how many."""
    with open(path, "w") as fh:
        caller = None
        for c, s, e, v in _track_entries(track, kind, gz):
            if caller is None:
                caller = SiteCaller(fh, threshold, int(e[0] - s[0]), prefix)
            caller.feed(c, s + caller.stride // 2, v)
        return caller.close() if caller is not None else 0


def _part_summary(part):
    """The summary of a shard's track, with ``output``: the model output the file holds (None for one output).

    ``scan`` writes ``<out>.json`` beside ``<out>`` and, for a model with several outputs, the tracks
    ``<out root>.<output><ext>`` (:func:`named_path`), so ``p1.CTCF.bw``'s summary is ``p1.bw.json``. Returns
    None where there is none (or it is not a scan summary naming this file).
    """
    part = str(part)
    candidates = [(part + ".json", None)]
    root, ext = _split_ext(part)
    if "." in os.path.basename(root):
        base, name = root.rsplit(".", 1)
        candidates.append((f"{base}{ext}.json", name))
    for path, name in candidates:
        try:
            with open(path) as fh:
                summary = json.load(fh)
        except (OSError, ValueError):
            continue
        if not isinstance(summary, dict) or "windows" not in summary:
            continue
        files = [os.path.basename(str(f)) for f in summary.get("files") or []]
        if os.path.basename(part) not in files:
            continue
        outputs = summary.get("outputs") or []
        i = files.index(os.path.basename(part))
        summary = dict(summary, output=outputs[i] if len(outputs) > 1 and i < len(outputs) else None)
        return summary
    return None


def _check_shard_order(parts, summaries):
    """Refuse parts whose summaries say they are not shards K/N of one N given in increasing K, each once."""
    shards = [s.get("shard") if s is not None else None for s in summaries]
    if not all(shards):
        return
    if len({n for _, n in shards}) > 1:
        raise SeqcnnError(f"the parts are shards of different splits ({', '.join(f'{k}/{n}' for k, n in shards)})",
                          hint="merge the N parts of one 'seqcnn scan --shard K/N' run")
    for p, (a, b) in zip(parts[1:], zip(shards[:-1], shards[1:])):
        if b[0] <= a[0]:
            raise SeqcnnError(f"shard {b[0]}/{b[1]} comes after shard {a[0]}/{a[1]}", path=p,
                              hint="give the parts in shard order, 1 to N, each once")


def _genome_order(summaries):
    """chromosome → rank in the genome of the parts' summaries (from the FASTA's .fai), or {} when unknown."""
    for s in summaries:
        path = ((s or {}).get("genome") or {}).get("path")
        if path and os.path.exists(path + ".fai"):
            with open(path + ".fai") as fh:
                return {line.split("\t", 1)[0]: i for i, line in enumerate(fh) if line.strip()}
    return {}


def merge(parts, out, force=False, sites=None, threshold=0.9):
    """Join the tracks of ``seqcnn scan --shard K/N`` (given in shard order, 1..N) into one track ``out``.

    With ``sites``, also call sites on the merged track (:func:`call_sites`, names ``site_<n>``, or
    ``<output>_site_<n>`` for one output of a multi-output model, as an unsharded run names them): shards' own
    sites files would split a site that crosses a shard edge, and number sites from 1 in each shard.

    The parts must be of one format (all bigWig or all bedGraph, as ``out``), with the same chromosome header
    (bigWig), and cover disjoint, increasing stretches of the genome (shard order). The result holds every
    part's intervals and values unchanged: the unsharded run's, interval for interval (bedGraph: the same text;
    the first part's ``track`` line is kept, the others' dropped). The parts' ``.json`` summaries, where
    present (``p.bw.json``; for a multi-output part ``p.CTCF.bw``, ``p.bw.json``), are summed into ``<out>.json``;
    their ``--shard K/N`` must increase, and shards missing from 1..N are listed in ``missing_shards``. Without
    summaries, a bigWig part must start after the previous part's last bin in the header's chromosome order; a
    bedGraph part likewise, in the genome's order when a summary names the genome, else only a part overlapping
    or repeating the previous one is caught (bedGraph has no header).

    Returns
    -------
    dict — ``out``, ``parts``, ``intervals`` (written), ``windows`` (summed from the parts' summaries, or None),
    ``output`` (the model output the parts hold, None for a one-output model), ``missing_shards`` (list of K).
    """
    kind = track_kind(out)
    parts = [str(p) for p in parts]
    if len(parts) < 1:
        raise SeqcnnError("--merge needs the shards' tracks", hint="e.g. seqcnn scan --merge t.1.bw t.2.bw -o t.bw")
    for p in parts:
        if not os.path.exists(p):
            raise InputFormatError("shard track not found", path=p, hint="check the path")
        if track_kind(p) != kind:
            raise SeqcnnError(f"a {track_kind(p)} part cannot be merged into a {kind} track", path=p,
                              hint="give parts of the output's format")
    summaries = [_part_summary(p) for p in parts]
    outputs = {s["output"] for s in summaries if s is not None and s.get("output") is not None}
    if len(outputs) > 1:
        raise SeqcnnError(f"the parts hold different model outputs ({', '.join(sorted(outputs))})",
                          hint="merge the shards of one output at a time (track.<output>.bw of every shard)")
    output = outputs.pop() if outputs else None
    _check_shard_order(parts, summaries)
    summary_path = f"{out}.json"
    check_output(out, force)
    check_output(summary_path, force)
    if sites is not None:
        check_output(sites, force)
        if not 0 < threshold < 1:
            raise SeqcnnError(f"--threshold {threshold} must lie strictly between 0 and 1",
                              hint="e.g. --threshold 0.9")
        if any(s is not None and s.get("value") != "probability" for s in summaries):
            raise SeqcnnError("--sites needs a probability track, and these parts hold logits",
                              hint="drop --sites")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.access(folder, os.W_OK):
        raise SeqcnnError("output folder is not writable", path=folder, hint="choose a folder you can write to")
    tmp, stmp = temp_file(out), temp_file(summary_path)
    sites_tmp = None
    n = 0
    writer = None
    try:
        prefix = f"{output}_site" if output is not None else "site"
        if kind == "bigwig":
            header, order, last = None, None, None
            for p in parts:
                h, entries = _bigwig_entries(p)
                if header is None:
                    header, order = h, {c: i for i, c in enumerate(h)}
                    writer = _BigWigWriter(tmp, header)
                elif h != header:
                    raise SeqcnnError("its chromosome sizes differ from the first part's (another genome?)", path=p,
                                      hint="merge the shards of one scan")
                for c, s, e, v in entries:
                    if last is not None and (order[c], s[0]) < last:
                        raise SeqcnnError(f"it overlaps or precedes the previous part at {c}:{s[0]}", path=p,
                                          hint="give the parts in shard order, 1 to N, each once")
                    writer.add(c, s, e, v.astype(np.float32))
                    last = (order[c], int(e[-1]))
                    n += len(s)
            writer.close()
            writer = None
        else:
            gz = kind == "bedgraph" and str(out).lower().endswith(".gz")
            raw = open(tmp, "wb")
            fh = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if gz else raw
            # Chromosome order: the genome's where a part's summary names it (its .fai beside the FASTA), else the
            # order of first appearance; each part must start after the previous part's last bin.
            order = _genome_order(summaries)
            last = None
            try:
                for i, p in enumerate(parts):
                    first = True
                    for line in _bedgraph_lines(p):
                        if line.startswith(("track", "browser", "#")):
                            if i == 0:
                                fh.write(line.encode())
                            continue
                        if first:
                            c, st = line.split("\t", 2)[:2]
                            pos = (order.setdefault(c, len(order)), int(st))
                            if last is not None and pos < last:
                                raise SeqcnnError(f"it overlaps or precedes the previous part at {c}:{st}", path=p,
                                                  hint="give the parts in shard order, 1 to N, each once")
                            first = False
                        fh.write(line.encode())
                        n += 1
                    if not first:
                        c, _, en = line.split("\t", 3)[:3]
                        last = (order.setdefault(c, len(order)), int(en))
            finally:
                fh.close()
                if gz:
                    raw.close()
        windows = None
        if all(s is not None for s in summaries):
            windows = {"considered": sum(s["windows"]["considered"] for s in summaries),
                       "scored": sum(s["windows"]["scored"] for s in summaries),
                       "dropped": {r: sum(s["windows"]["dropped"][r] for s in summaries) for r in DROP_REASONS}}
        first = next((x for x in summaries if x is not None), None)
        shards = [x.get("shard") for x in summaries if x is not None]
        missing = []
        if first is not None and len(shards) == len(parts) and all(shards):
            missing = sorted(set(range(1, shards[0][1] + 1)) - {k for k, _ in shards})
        report = {"seqcnn_scan_merge": 1, "created": utc_now(), "parts": [os.path.abspath(p) for p in parts],
                  "out": str(out), "intervals": n, "windows": windows, "output": output,
                  "missing_shards": missing,
                  "scan": {k: first.get(k) for k in ("run", "genome", "value", "stride", "window", "max_n",
                                                           "method")} if first else None}
        pairs = [(tmp, str(out)), (stmp, summary_path)]
        if sites is not None:
            # Called on the finished temporary track and published with it: all outputs or none.
            sites_tmp = temp_file(sites)
            pairs.append((sites_tmp, str(sites)))
            report["sites"] = {"file": str(sites), "threshold": float(threshold),
                               "n": _write_sites(tmp, kind, str(out).lower().endswith(".gz"), sites_tmp, threshold,
                                                 prefix)}
        with open(stmp, "w") as fh:
            json.dump(report, fh, indent=2)
            fh.write("\n")
        publish_all(pairs, force)
    finally:
        if sites_tmp is not None and os.path.exists(sites_tmp):
            os.remove(sites_tmp)
        if writer is not None:
            try:
                writer.close()
            except Exception:  # a half-written file, removed below
                pass
        for t in (tmp, stmp):
            if os.path.exists(t):
                os.remove(t)
    return report
