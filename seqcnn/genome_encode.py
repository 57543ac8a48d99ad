"""Genome mode of ``seqcnn encode``: peak files (BED/narrowPeak) + a reference genome → a dataset file with negatives.

Provides :func:`encode_intervals`. One ``--bed`` makes a binary set: the peaks' windows (``length`` bp on the
summit, or the midpoint) against negatives made by :mod:`seqcnn.negatives` (``gc-matched`` by default,
``shuffle``, ``flank``, or the user's ``--negatives-bed``). Several ``--bed`` make a multilabel set: one 0/1
label per file. Windows past a chromosome end, on chromosomes the genome lacks, or with more than ``max_n`` N
are dropped and counted by reason; so are windows of one file that overlap a stronger peak's window of the same
file by more than half (:func:`seqcnn.intervals.merge_windows`; ``keep_overlaps`` keeps them). BED names become
record ids and must be unique (:func:`check_unique_names`). The split is by chromosome (:func:`chrom_split`),
since random splits of genomic windows leak through overlapping and repeated regions; when the peaks lie on too
few chromosomes for that (one chromosome: a bacterium, a test genome) and none is named, by position blocks
(:func:`seqcnn.splits.block_plan`), with windows that cross into another split's block dropped (counted) and the
made negatives kept off those boundaries, so no window of one split overlaps a window of another. Every
record's ``chrom``, ``start``, ``end``, ``strand`` and origin are stored with it (schema 2 of :mod:`seqcnn.store`).
With ``jitter`` J > 0 (shift augmentation, as BPNet/ChromBPNet train) every record is stored ``length + 2J`` bases
wide around the same centre (schema 3), so training can crop a random ``length`` window each epoch while every other
reader sees the centred one; the rules above (merging, labels, chromosome splits, ids, coordinates, GC matching
and the N limit) stay those of the centred window, a window whose widened span runs off its chromosome is dropped
as past its end, position-block splits are planned for the stored width (a window whose widened span crosses a
block boundary is dropped as crossing it), made negatives keep their widened span clear of peaks, excluded
regions and block boundaries, and shuffle negatives shuffle the centred window apart from its flanks.
Imports no TensorFlow.
"""

import os
import re

import numpy as np

from .encoding import encode_windows
from .errors import InputFormatError, SeqcnnError
from .genome import Genome, by_chrom
from .ingest import check_unique_ids
from .intervals import IntervalIndex, merge_windows, read_bed, windows
from .negatives import composition, default_chrom, dinucleotide_shuffle, gc_matched, ks_statistic
from .outputs import check_output, publish, utc_now
from .readers import sha256_file
from .splits import TEST, TRAIN, VAL, block_boundaries, block_plan, block_split, split_counts
from .store import DatasetWriter, compression_filters

NEGATIVES = ("gc-matched", "shuffle", "flank", "none")
ORIGINS = ("peak", "gc-matched", "shuffle", "flank", "given")
# Default held-out share of the records for each of the test and validation splits (see chrom_split).
HOLDOUT_SHARE = 0.1
_SEX_OR_MITO = re.compile(r"^(chr)?(X|Y|M|MT|W|Z)$", re.I)


def _natural(name):
    """Sort key: chr2 before chr10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(name))]


def chrom_split(chroms, test_chroms=None, val_chroms=None, share=HOLDOUT_SHARE):
    """Split codes by chromosome: named test and validation chromosomes, or the default rule.

    Default rule (for whichever of the two is not given): the autosomes holding records (sex chromosomes
    and mitochondria stay in training), in natural order (chr1, chr2, ..., chr10, ...), are taken from the
    end until at least ``share`` of all records are covered: first for test, then for validation. Every
    other record trains.

    Parameters
    ----------
    chroms : np.ndarray of str, shape=(n,) — each record's chromosome.
    test_chroms, val_chroms : list of str, optional

    Returns
    -------
    split : np.ndarray, uint8, shape=(n,); chosen : dict — ``{'test': [...], 'val': [...]}``.
    """
    groups = by_chrom(chroms)
    count = {c: len(sel) for c, sel in groups}
    given = {"test": list(test_chroms or []), "val": list(val_chroms or [])}
    for kind, option in (("test", "--holdout-chrom"), ("val", "--val-chrom")):
        absent = [c for c in given[kind] if c not in count]
        if absent:
            raise SeqcnnError(f"{option} {absent[0]} holds no record", hint=f"records lie on "
                              f"{', '.join(sorted(count, key=_natural)[:8])}{'...' if len(count) > 8 else ''}")
    if set(given["test"]) & set(given["val"]):
        raise SeqcnnError(f"chromosome {sorted(set(given['test']) & set(given['val']))[0]} is both --holdout-chrom "
                          f"and --val-chrom")
    pool = [c for c in sorted(count, key=_natural) if not _SEX_OR_MITO.match(c)
            and c not in given["test"] and c not in given["val"]]
    chosen = {}
    for kind in ("test", "val"):
        if given[kind]:
            chosen[kind] = given[kind]
            continue
        pick, covered = [], 0
        while pool and covered < share * len(chroms):
            c = pool.pop()
            pick.append(c)
            covered += count[c]
        chosen[kind] = sorted(pick, key=_natural)
    if not chosen["test"] or not chosen["val"] or not pool and not any(
            c not in chosen["test"] + chosen["val"] for c in count):
        raise SeqcnnError(f"records lie on {len(count)} chromosome(s), too few for train, validation and test "
                          f"chromosomes", hint="name them with --holdout-chrom and --val-chrom, or encode FASTA "
                                               "for a random split")
    split = np.full(len(chroms), TRAIN, np.uint8)
    for c, sel in groups:
        split[sel] = TEST if c in chosen["test"] else VAL if c in chosen["val"] else TRAIN
    return split, chosen


def _too_few_chroms(chroms):
    """Whether the default chromosome rule of :func:`chrom_split` cannot make train, validation and test."""
    try:
        chrom_split(chroms)
    except SeqcnnError:
        return True
    return False


def check_unique_names(ivs):
    """Refuse a BED name (column 4) used on more than one line: names become record ids, which must be unique.

    Checked over every file of a command together (the peak files and ``--negatives-bed``), before the genome
    is read; the message names both lines (and their files) and the fix.

    Raises
    ------
    InputFormatError
    """
    import pandas as pd

    name = np.concatenate([iv.name for iv in ivs])
    named = np.flatnonzero(np.not_equal(name, None))
    if not len(named):
        return
    dup = pd.Series(name[named]).duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    which = np.concatenate([np.full(len(iv), k) for k, iv in enumerate(ivs)])
    line = np.concatenate([iv.line for iv in ivs])
    first = named[int(np.argmax(dup))]
    same = named[name[named] == name[first]]
    path = ivs[which[first]].path
    where = [f"line {line[i]}" if which[i] == which[first] else f"{ivs[which[i]].path} line {line[i]}"
             for i in same[1:4]]
    more = f" and {len(same) - 4} more" if len(same) > 4 else ""
    raise InputFormatError(f"line {line[first]}: name {name[first]!r} (column 4) is used again on {', '.join(where)}"
                           f"{more}; names become record ids and must be unique", path=path,
                           hint="make the names unique (e.g. append the line number), or put '.' in column 4 (or "
                                "cut -f1-3 to BED3) so ids are chrom:start-end(strand) of each window")


def _label_name(path):
    name = os.path.basename(os.fspath(path))
    for ext in (".gz", ".bed", ".narrowPeak", ".narrowpeak", ".bed3", ".bed6", ".txt"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name


class Drops:
    """Records dropped, by reason, for the ``records read = written + dropped`` line."""

    REASONS = ("chromosome not in genome", "past chromosome end", "too many N", "merged overlap (same file)",
               "merged overlap (across files)", "crosses a split block boundary", "given negative overlaps a peak")

    def __init__(self):
        self.counts = dict.fromkeys(self.REASONS, 0)

    def add(self, reason, n):
        self.counts[reason] += int(n)


def peak_windows(iv, genome, length, center, max_n, drops, jitter=0):
    """Windows of ``iv`` on the genome with at most ``max_n`` N: (kept index, start, bytes [m, L + 2J], GC [m]).

    ``drops`` (a :class:`Drops`) counts the others by reason; ``-`` strand windows come reverse-complemented.
    ``start`` is the centred ``length`` window's; with ``jitter`` J the bytes span ``J`` more bases on each side
    (a window whose widened span runs off the chromosome is dropped as past its end), while GC and the N limit
    are those of the centred window.
    """
    start, end = windows(iv, length, center)
    size = genome.sizes(iv.chrom)
    known = size >= 0
    drops.add("chromosome not in genome", (~known).sum())
    inside = known & (start - jitter >= 0) & (end + jitter <= size)
    drops.add("past chromosome end", (known & ~inside).sum())
    keep = np.flatnonzero(inside)
    strand = np.where(iv.strand[keep] == "-", "-", "+").astype(object)
    width = length + 2 * jitter
    seqs = genome.windows(iv.chrom[keep], start[keep] - jitter, width, strand) if len(keep) else np.zeros(
        (0, width), np.uint8)
    gc, nf = composition(seqs[:, jitter:jitter + length])
    ok = nf <= max_n
    drops.add("too many N", (~ok).sum())
    return keep[ok], start[keep][ok], seqs[ok], gc[ok]


def check_names(genome, iv):
    """:meth:`Genome.check_chroms` for the chromosomes of ``iv``, naming the line where each is first used."""
    first = {c: int(iv.line[sel[0]]) for c, sel in by_chrom(iv.chrom)}
    return genome.check_chroms(first, path=iv.path, line=first)


def cut_regions(bed, genome, length, center="summit"):
    """The regions of ``bed`` as windows of ``length`` cut from ``genome``, for scoring a trained model.

    As :func:`encode_intervals` cuts peaks (summit or midpoint, ``-`` strand reverse-complemented), but N-rich
    windows are kept (N is an all-zero row) and only windows off the genome are dropped.

    Returns
    -------
    dict — ``ids`` (list of str), ``coords`` (``chrom``, ``start``, ``end``, ``strand`` arrays), ``x`` (one-hot
    uint8 [m, length, 4]), ``records_read``, ``dropped`` (reason → count, non-zero only).

    Raises
    ------
    SeqcnnError — when no window fits the genome, or the chromosome naming differs from the genome's.
    """
    iv = read_bed(bed)
    drops = Drops()
    with Genome(genome) as g:
        check_names(g, iv)
        keep, start, seqs, _ = peak_windows(iv, g, length, center, 1.0, drops)
    if len(keep) == 0:
        raise SeqcnnError("no window of the model's length fits the genome", path=bed,
                          hint=f"dropped: {', '.join(f'{k} {v}' for k, v in drops.counts.items() if v)}")
    strand = np.where(iv.strand[keep] == "-", "-", "+").astype(object)
    ids = record_ids(iv.chrom[keep], start, length, strand, iv.name[keep])
    return {"ids": ids, "coords": {"chrom": iv.chrom[keep], "start": start, "end": start + length, "strand": strand},
            "x": encode_windows(seqs, allow_iupac=True, ids=ids, path=bed), "records_read": len(iv),
            "dropped": {k: v for k, v in drops.counts.items() if v}}


def _merge_overlapping(chrom, start, length):
    """Greedy, in genome order: a window overlapping the last kept window on its chromosome by more than half
    its length is merged into it (dropped); returns the kept indices."""
    order = np.lexsort((start, chrom.astype(str)))
    kept, last_c, last_s = [], None, None
    for i in order:
        if chrom[i] == last_c and start[i] - last_s < length // 2:
            continue
        kept.append(i)
        last_c, last_s = chrom[i], start[i]
    return np.sort(np.asarray(kept, np.int64))


def _quantiles(v):
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return [round(float(q), 4) for q in np.quantile(v, [0.05, 0.25, 0.5, 0.75, 0.95])] if len(v) else None


def encode_intervals(beds, genome, out, *, length, center="summit", negatives=None, negative_ratio=1.0,
                     negatives_bed=None, exclude=(), chroms=None, max_n=0.1, flank_distance=None,
                     label_names=None, min_overlap=None, holdout_chrom=None, val_chrom=None, seed=0,
                     compression="gzip", compression_level=1, chunk_records=256, plots=True, force=False,
                     progress=False, command=None, keep_overlaps=False, jitter=0):
    """Encode peak windows from a genome, with made negatives, into a seqcnn dataset file (atomically).

    Parameters
    ----------
    beds : list of str — BED/narrowPeak files: one → binary (peaks vs negatives), several → multilabel.
    genome : str — reference FASTA (plain or bgzip; indexed when needed).
    out : str — output ``.h5``; never overwritten unless ``force``.
    length : int — window length, centred on the summit (narrowPeak column 10) or the midpoint.
    center : {'summit', 'midpoint'}
    negatives : {'gc-matched', 'shuffle', 'flank', 'none'}, optional — default ``gc-matched`` for one bed,
        ``none`` for several (then given negatives are all-zero label rows).
    negative_ratio : float — negatives per positive.
    negatives_bed : str, optional — the user's own negatives, extracted like the peaks (with or instead of made ones).
    exclude : list of str — BED files of regions no negative may overlap (e.g. an ENCODE blacklist).
    chroms : list of str, optional — chromosomes for gc-matched negatives (default: the peaks' chromosomes,
        without chrM, unplaced, random or alt contigs).
    max_n : float — largest fraction of N in a kept window.
    flank_distance : int, optional — ``flank`` negatives start this far beyond each peak window (default ``length``).
    label_names : list of str, optional — multilabel names (default: the file names).
    min_overlap : int, optional — multilabel: bases a window must share with a file's peak to carry its label
        (default ``length // 2``).
    holdout_chrom, val_chrom : list of str, optional — test and validation chromosomes (default: :func:`chrom_split`;
        position blocks when the peaks' chromosomes are too few for it and neither is given).
    plots : bool — also write ``<out stem>_gc.png``, the peaks' and negatives' GC content.
    keep_overlaps : bool — keep every peak window; by default windows of one file overlapping a stronger one's by
        more than half are merged into it (:func:`seqcnn.intervals.merge_windows`), and in a multilabel set
        windows of different files likewise (the first in genome order kept); both counted as dropped.
    jitter : int — J >= 0: store every window ``length + 2J`` bases wide around the same centre (shift
        augmentation; ``seqcnn train`` crops a random ``length`` window each epoch, every other reader the centred
        one). Coordinates, ids, labels, chromosome splits, merging, GC and the N limit stay the centred window's;
        a window whose widened span runs off its chromosome (past chromosome end) or, on a position-block split,
        crosses a block boundary is dropped. 0: the plain file.

    Returns
    -------
    dict — report: records read, written, dropped by reason, negatives made, GC match, splits (``split_chroms``, or
    ``split_blocks``: the plan of :func:`seqcnn.splits.block_plan`), ``skipped_lines`` (track/browser/# lines), path.
    """
    out = str(out)
    check_output(out, force)
    figure = f"{os.path.splitext(out)[0]}_gc.png" if plots else None
    if figure:
        check_output(figure, force)
    beds = [os.fspath(b) for b in ([beds] if isinstance(beds, (str, os.PathLike)) else beds)]
    if not beds:
        raise SeqcnnError("no --bed file given")
    length = int(length) if length is not None else 0
    if length <= 0:
        raise SeqcnnError("genome mode needs --length N (the window length in bp)", hint="e.g. --length 200")
    if isinstance(jitter, bool) or not isinstance(jitter, (int, np.integer)) or jitter < 0:
        raise SeqcnnError(f"--jitter must be an integer >= 0 (bases stored on each side of the window), got "
                          f"{jitter!r}", hint="e.g. --jitter 50, or leave it out (0)")
    jitter = int(jitter)
    width = length + 2 * jitter  # the stored window: the centred `length` plus `jitter` bases on each side
    multilabel = len(beds) > 1
    negatives = negatives or ("none" if multilabel else "gc-matched")
    if negatives not in NEGATIVES:
        raise SeqcnnError(f"unknown --negatives {negatives!r}", hint=f"use one of {', '.join(NEGATIVES)}")
    if negatives == "none" and not multilabel and negatives_bed is None:
        raise SeqcnnError("a binary set needs negatives: --negatives none leaves the peaks alone",
                          hint="use --negatives gc-matched (default), shuffle or flank, or give --negatives-bed")
    if not 0 <= max_n <= 1 or negative_ratio <= 0:
        raise SeqcnnError(f"--max-n ({max_n}) must lie between 0 and 1 and --negative-ratio ({negative_ratio}) be "
                          f"positive")
    if label_names is not None and len(label_names) != len(beds):
        raise SeqcnnError(f"{len(label_names)} --label-names for {len(beds)} --bed files",
                          hint="give one name per file")
    compression_filters(compression, compression_level)
    rng = np.random.default_rng(seed)
    drops = Drops()
    ivs = [read_bed(b) for b in beds]
    given_iv = read_bed(negatives_bed) if negatives_bed is not None else None
    excl = [read_bed(e) for e in exclude]
    check_unique_names(ivs + ([given_iv] if given_iv is not None else []))
    n_read = sum(map(len, ivs)) + (len(given_iv) if given_iv is not None else 0)
    with Genome(genome) as g:
        # Excluded regions too: a blacklist named like '1' against a 'chr1' genome would exclude nothing.
        for iv in ivs + ([given_iv] if given_iv is not None else []) + excl:
            check_names(g, iv)
        # Positives: each file's windows, then (multilabel) the union, overlapping windows merged.
        parts = []
        for k, iv in enumerate(ivs):
            keep, start, seqs, gc = peak_windows(iv, g, length, center, max_n, drops, jitter)
            if not keep_overlaps:
                # One binding event called as several peaks would be several near-identical records (and
                # duplicate seqlets downstream): the strongest stands for them (intervals.merge_windows).
                kept = merge_windows(iv.chrom[keep], start, length, iv.strength[keep])
                drops.add("merged overlap (same file)", (~kept).sum())
                keep, start, seqs, gc = keep[kept], start[kept], seqs[kept], gc[kept]
            parts.append((k, iv.subset(keep), start, seqs, gc))
        chrom = np.concatenate([p[1].chrom for p in parts])
        start = np.concatenate([p[2] for p in parts])
        strand = np.concatenate([np.where(p[1].strand == "-", "-", "+").astype(object) for p in parts])
        names = np.concatenate([p[1].name for p in parts])
        seqs = np.concatenate([p[3] for p in parts])
        source = np.concatenate([np.full(len(p[2]), p[0]) for p in parts])
        pos_gc = np.concatenate([p[4] for p in parts])
        if multilabel and len(start) and not keep_overlaps:
            keep = _merge_overlapping(chrom, start, length)
            drops.add("merged overlap (across files)", len(start) - len(keep))
            chrom, start, strand, names, seqs, source, pos_gc = (a[keep] for a in (chrom, start, strand, names, seqs,
                                                                                 source, pos_gc))
        if multilabel:
            need = length // 2 if min_overlap is None else int(min_overlap)
            y_pos = np.stack([IntervalIndex(iv.chrom, iv.start, iv.end).overlap(chrom, start, start + length)
                              >= max(need, 1) for iv in ivs], axis=1).astype(np.uint8)
            y_pos[np.arange(len(source)), source] = 1  # a window always carries the label of its own peak
        else:
            y_pos = np.ones(len(start), np.uint8)
        if len(start) == 0:
            raise SeqcnnError("no peak window is left to encode", path=beds[0],
                              hint=f"dropped: {', '.join(f'{k} {v}' for k, v in drops.counts.items() if v)}")
        plan = None
        if not holdout_chrom and not val_chrom and _too_few_chroms(chrom):
            # One chromosome (a bacterium, a test genome): split by position blocks instead (splits.block_plan),
            # chosen from the positives before the negatives are made, so the negatives keep off its boundaries.
            layout = set(chrom.tolist())
            if negatives == "gc-matched":
                layout |= set(chroms) if chroms else set()
            if given_iv is not None:
                layout |= set(given_iv.chrom.tolist())
            layout = sorted((c for c in layout if c in g.lengths), key=_natural)
            # Blocks judged on the stored (widened) windows: no training crop may reach into a held-out block.
            plan = block_plan({c: g.lengths[c] for c in layout}, chrom, start + length // 2, seed=seed,
                              length=width)
            plan["why"] = f"{len(set(chrom.tolist()))} chromosome(s) hold the peaks, too few to split by chromosome"
            _, cross = block_split(plan, chrom, start - jitter, start + length + jitter)
            drops.add("crosses a split block boundary", cross.sum())
            chrom, start, strand, names, seqs, source, pos_gc, y_pos = (
                a[~cross] for a in (chrom, start, strand, names, seqs, source, pos_gc, y_pos))
        # Negatives never overlap a peak, a positive window or an excluded region.
        avoid = IntervalIndex(np.concatenate([iv.chrom for iv in ivs + excl] + [chrom]),
                              np.concatenate([iv.start for iv in ivs + excl] + [start]),
                              np.concatenate([iv.end for iv in ivs + excl] + [start + length]))
        # Made negatives also keep off the boundaries between blocks of different splits (block splits only).
        avoid_made = avoid
        if plan is not None or jitter:
            edge = block_boundaries(plan) if plan is not None else (np.zeros(0, object), np.zeros(0, np.int64),
                                                                    np.zeros(0, np.int64))
            # With jitter a made negative's widened span keeps clear of them too: each interval grows by J on
            # both sides (a centred window clear of it is then a widened one clear of the original), and the
            # first and last J bases of every chromosome are avoided (the widened span stays on it).
            ends = list(g.lengths.items()) if jitter else []
            avoid_made = IntervalIndex(
                np.concatenate([iv.chrom for iv in ivs + excl] + [chrom, edge[0]]
                               + [np.asarray([c for c, _ in ends] * 2, dtype=object)]),
                np.concatenate([iv.start - jitter for iv in ivs + excl] + [start - jitter, edge[1] - jitter]
                               + [np.asarray([0] * len(ends) + [n - jitter for _, n in ends], np.int64)]),
                np.concatenate([iv.end + jitter for iv in ivs + excl] + [start + length + jitter, edge[2] + jitter]
                               + [np.asarray([jitter] * len(ends) + [n for _, n in ends], np.int64)]))
        neg = {"chrom": [], "start": [], "strand": [], "seqs": [], "origin": [], "names": [], "gc": []}

        def add_neg(c, s, st, x, origin, nm=None, gc=None):
            neg["gc"].append(composition(x[:, jitter:jitter + length])[0] if gc is None else np.asarray(gc, float))
            neg["chrom"].append(np.asarray(c, dtype=object))
            neg["start"].append(np.asarray(s, np.int64))
            neg["strand"].append(np.asarray(st, dtype=object))
            neg["seqs"].append(x)
            neg["origin"].append(np.full(len(s), ORIGINS.index(origin), np.uint8))
            neg["names"].append(np.asarray(nm if nm is not None else [None] * len(s), dtype=object))

        n_made = int(round(len(start) * negative_ratio))
        if negatives == "gc-matched":
            allowed = chroms if chroms else sorted((c for c, _ in by_chrom(chrom) if default_chrom(c)), key=_natural)
            c, s, gc = gc_matched(g, pos_gc, length, negative_ratio, avoid_made, rng, chroms=allowed, max_n=max_n)
            add_neg(c, s, np.full(len(s), "+", object), g.windows(c, s - jitter, width), "gc-matched", gc=gc)
        elif negatives == "shuffle":
            reps = int(np.ceil(negative_ratio))
            src = np.tile(np.arange(len(start)), reps)[:n_made]
            x = seqs[src]
            if jitter:
                # The centred window and each flank are shuffled apart: the window every verb scores keeps its
                # positive's own base and dinucleotide content (and so the GC recorded for it).
                x = np.concatenate([dinucleotide_shuffle(x[:, :jitter], rng),
                                    dinucleotide_shuffle(x[:, jitter:jitter + length], rng),
                                    dinucleotide_shuffle(x[:, jitter + length:], rng)], axis=1)
            else:
                x = dinucleotide_shuffle(x, rng)
            add_neg(chrom[src], start[src], strand[src], x, "shuffle",
                    [f"{_rid(chrom[i], start[i], length, strand[i], names[i])}_shuffle{r}"
                     for r, i in zip(np.arange(len(src)) // len(start), src)], gc=pos_gc[src])
        elif negatives == "flank":
            d = length if flank_distance is None else int(flank_distance)
            side = np.where(rng.random(len(start)) < 0.5, -1, 1)
            cand_c = np.concatenate([chrom, chrom])
            cand_s = np.concatenate([start + side * (length + d), start - side * (length + d)])
            size = g.sizes(cand_c)
            ok = ((cand_s - jitter >= 0) & (cand_s + length + jitter <= size)
                  & ~avoid_made.overlaps(cand_c, cand_s, cand_s + length))
            idx = np.flatnonzero(ok)
            x = g.windows(cand_c[idx], cand_s[idx] - jitter, width) if len(idx) else np.zeros((0, width), np.uint8)
            fine = composition(x[:, jitter:jitter + length])[1] <= max_n
            # One flank per positive first (its chosen side), then the other sides, up to the ratio.
            idx, x = idx[fine][:n_made], x[fine][:n_made]
            if len(idx) < n_made:
                raise SeqcnnError(f"too few flank windows for the negatives: {n_made} requested, {len(idx)} possible "
                                  f"(clear of peaks and excluded regions, {d} bp beyond each window)", path=beds[0],
                                  hint="lower --negative-ratio or --flank-distance, or use --negatives gc-matched")
            add_neg(cand_c[idx], cand_s[idx], np.full(len(idx), "+", object), x, "flank")
        if given_iv is not None:
            keep, s, x, gc = peak_windows(given_iv, g, length, center, max_n, drops, jitter)
            if plan is not None:
                _, cross = block_split(plan, given_iv.chrom[keep], s - jitter, s + length + jitter)
                drops.add("crosses a split block boundary", cross.sum())
                keep, s, x, gc = keep[~cross], s[~cross], x[~cross], gc[~cross]
            # A negative on a peak would contradict its label: dropped and counted, like the other drops.
            clear = ~avoid.overlaps(given_iv.chrom[keep], s, s + length)
            drops.add("given negative overlaps a peak", (~clear).sum())
            keep, s, x, gc = keep[clear], s[clear], x[clear], gc[clear]
            add_neg(given_iv.chrom[keep], s, np.where(given_iv.strand[keep] == "-", "-", "+").astype(object), x,
                    "given", given_iv.name[keep], gc=gc)
        # The path given (a plain-gzip genome is read through its bgzip copy, recorded beside it).
        genome_info = {"path": os.path.abspath(g.source), "size": g.size, "chromosomes": len(g.lengths),
                       "index_sha256": g.index_sha256()}
        if g.path != g.source:
            genome_info["bgzip_copy"] = os.path.abspath(g.path)
    cat = lambda key, empty: np.concatenate(neg[key]) if neg[key] else empty  # noqa: E731
    n_chrom, n_start = cat("chrom", np.zeros(0, object)), cat("start", np.zeros(0, np.int64))
    n_strand, n_seqs = cat("strand", np.zeros(0, object)), cat("seqs", np.zeros((0, width), np.uint8))
    n_origin, n_names = cat("origin", np.zeros(0, np.uint8)), cat("names", np.zeros(0, object))
    all_chrom = np.concatenate([chrom, n_chrom])
    all_start = np.concatenate([start, n_start])
    all_strand = np.concatenate([strand, n_strand])
    origin = np.concatenate([np.zeros(len(start), np.uint8), n_origin])
    ids = record_ids(all_chrom, all_start, length, all_strand, np.concatenate([names, n_names]))
    y = (np.concatenate([y_pos, np.zeros((len(n_start), y_pos.shape[1]), np.uint8)]) if multilabel
         else np.concatenate([y_pos, np.zeros(len(n_start), np.uint8)]))
    if plan is None:
        split, chosen = chrom_split(all_chrom, holdout_chrom, val_chrom)
        chosen = {k: [str(c) for c in v] for k, v in chosen.items()}
    else:
        split, chosen = block_split(plan, all_chrom, all_start, all_start + length)[0], None
    neg_gc = cat("gc", np.zeros(0))
    gc_match = {"positives": _quantiles(pos_gc), "negatives": _quantiles(neg_gc), "ks": None}
    if len(n_start) and np.isfinite(pos_gc).any() and np.isfinite(neg_gc).any():
        gc_match["ks"] = round(ks_statistic(pos_gc, neg_gc), 4)
    task = "multilabel" if multilabel else "binary"
    labels = list(label_names) if label_names is not None else [_label_name(b) for b in beds]
    sources = [{"path": os.path.abspath(p), "sha256": sha256_file(p)}
               for p in beds + ([negatives_bed] if negatives_bed else []) + list(exclude)]
    counts = split_counts(split)
    attrs = {
        "task": task, "class_names": labels if multilabel else ["0", "1"],
        "label_names": labels if multilabel else [labels[0]], "pad_mode": "center", "length_given": length,
        "allow_iupac": False, "sources": sources, "genome": genome_info, "origins": list(ORIGINS),
        "split_method": "chromosome" if plan is None else "position-blocks", "split_chroms": chosen,
        "split_blocks": plan, "split_fractions": None, "split_seed": int(seed),
        "split_counts": {k: v["n"] for k, v in counts.items()}, "dropped": drops.counts,
        "negatives": {"method": negatives, "ratio": float(negative_ratio), "max_n": float(max_n),
                      "exclude": [os.path.abspath(e) for e in exclude], "chroms": list(chroms) if chroms else None,
                      "flank_distance": (length if flank_distance is None else int(flank_distance))
                      if negatives == "flank" else None, "given": os.path.abspath(negatives_bed) if negatives_bed
                      else None, "seed": int(seed), "center": center,
                      "overlaps": "kept" if keep_overlaps else "merged", "min_overlap": (
                          (length // 2 if min_overlap is None else int(min_overlap)) if multilabel else None)},
        "gc_match": gc_match, "created": utc_now(), "command": command or "",
    }
    if jitter:
        # Only a jittered file records it (schema 3 of seqcnn.store): without jitter the file is as before.
        attrs["jitter"] = jitter
    del neg["seqs"]
    writer = DatasetWriter(out, width, force=force, compression=compression, compression_level=compression_level,
                           chunk_records=chunk_records)
    try:
        from tqdm import tqdm

        block, done = 1 << 15, 0
        # Positives then negatives, block by block: one concatenated copy of all windows would be ~200 MB a million.
        bar = tqdm(total=len(ids), desc="encoding", unit=" windows", disable=not progress, leave=False)
        for part in (seqs, n_seqs):
            for b in range(0, len(part), block):
                rows, names_b = part[b:b + block], ids[done:done + min(block, len(part) - b)]
                writer.append(encode_windows(rows, ids=names_b, path=out), names_b, np.full(len(rows), length,
                                                                                              np.int64))
                done += len(rows)
                bar.update(len(rows))
        bar.close()
        import pandas as pd

        check_unique_ids([pd.util.hash_array(np.asarray(ids, dtype=object))], writer, beds, what="BED input",
                         hint="ids are the BED name column, else chrom:start-end(strand); names must be unique, "
                              "and a window may be listed once")
        writer.finish(y, split, attrs, coords={"chrom": all_chrom, "start": all_start,
                                               "end": all_start + length, "strand": all_strand, "origin": origin})
    except BaseException:
        writer.abort()
        raise
    if figure and len(n_start):
        from . import plots as plotting

        tmp_fig = f"{figure}.tmp-{os.getpid()}.png"
        try:
            plotting.gc_histogram(pos_gc, neg_gc, tmp_fig, negative_label=f"negatives ({negatives})" if negatives
                                  != "none" else "negatives (given)",
                                  title=f"{os.path.basename(out)}: GC match, KS {gc_match['ks']}")
            publish(tmp_fig, figure, force)
        except BaseException:
            os.remove(out)  # published a moment ago: the output is the file and its figure, or nothing
            raise
        finally:
            if os.path.exists(tmp_fig):
                os.remove(tmp_fig)
    else:
        figure = None
    written = len(ids)
    made = int((origin != ORIGINS.index("peak")).sum() - (origin == ORIGINS.index("given")).sum())
    return {"path": out, "records_read": n_read, "records_written": written, "read_written": written - made,
            "negatives_made": made, "positives": int(len(start)),
            "negatives": int(len(n_start)), "negatives_method": negatives,
            "dropped": {k: v for k, v in drops.counts.items()}, "length": length, "jitter": jitter,
            "stored_length": width, "task": task,
            "label_names": labels, "splits": {k: v["n"] for k, v in counts.items()}, "split_chroms": chosen,
            "split_blocks": plan, "skipped_lines": sum(iv.skipped for iv in ivs + excl + (
                [given_iv] if given_iv is not None else [])),
            "gc_match": gc_match, "figure": figure, "notes": []}


def _rid(chrom, start, length, strand, name):
    """A record's id: the BED name when there is one, else ``chrom:start-end(strand)`` of its window."""
    return name if name else f"{chrom}:{int(start)}-{int(start) + length}({strand})"


def record_ids(chrom, start, length, strand, name):
    """Ids of windows (see ``_rid``): a list of str, one per window (a million in ~0.5 s)."""
    name = np.asarray(name, dtype=object)
    named = np.flatnonzero(np.not_equal(name, None) & np.not_equal(name, ""))
    if len(named) == len(name):
        return name.tolist()
    start = np.asarray(start, np.int64)
    # Plain ints and strs from tolist(): formatting numpy scalars one by one costs twice as much.
    ids = [f"{c}:{s}-{e}({st})" for c, s, e, st in zip(np.asarray(chrom, dtype=object).tolist(), start.tolist(),
                                                     (start + int(length)).tolist(),
                                                     np.asarray(strand, dtype=object).tolist())]
    for i in named.tolist():
        ids[i] = name[i]
    return ids

