"""Genomic intervals: BED3/BED6/narrowPeak files → validated arrays; fixed-length windows; overlap queries.

Provides :func:`read_bed` (BED3, BED6 and MACS2 narrowPeak, plain or gzip-compressed; ``track``,
``browser`` and ``#`` lines skipped; every malformed line named with its file and line number),
:class:`Intervals` (the arrays: 0-based half-open ``start``/``end`` as in BED), :func:`windows`
(windows of one length centred on the summit or the midpoint) and :class:`IntervalIndex` (which
windows overlap a set of intervals, and by how much). numpy and pandas: no TensorFlow; reads no genome.
"""

import gzip
import io
import os
import zlib
from dataclasses import dataclass

import numpy as np

from .errors import InputFormatError, SeqcnnError
from .genome import by_chrom

CENTERS = ("summit", "midpoint")
_SKIP = ("#", "track", "browser")
# A line that may be blank, a comment or a header (any line starting with a space, tab, '#', 't' or 'b').
_NOT_PLAIN = np.isin(np.arange(256), np.frombuffer(b" \t#tb\n", np.uint8))


@dataclass
class Intervals:
    """Intervals of one BED file, as arrays of one length ``n`` (0-based, half-open, as BED writes them).

    Attributes
    ----------
    chrom : np.ndarray of str (object), shape=(n,)
    start, end : np.ndarray, int64, shape=(n,)
    name : np.ndarray of str or None (object), shape=(n,) — None where the file has no name (or ``.``).
    strand : np.ndarray of str (object), shape=(n,) — ``+``, ``-`` or ``.`` (BED3: ``.``).
    summit : np.ndarray, int64, shape=(n,) — narrowPeak column 10, the summit's offset from ``start``; -1: none.
    line : np.ndarray, int64, shape=(n,) — 1-based line numbers in ``path``, for messages.
    path : str
    kind : {'bed3', 'bed6', 'narrowPeak'} — the widest format the file's lines follow.
    strength : np.ndarray, float64, shape=(n,) — how strong each peak is, for merging overlapping peaks:
        narrowPeak signalValue (column 7), else the score (column 5); NaN where neither is a number.
    skipped : int — ``track``, ``browser`` and ``#`` lines skipped (not records; counted for the summary).
    """

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    name: np.ndarray
    strand: np.ndarray
    summit: np.ndarray
    line: np.ndarray
    path: str
    kind: str
    strength: np.ndarray = None
    skipped: int = 0

    def __post_init__(self):
        if self.strength is None:
            self.strength = np.full(len(self.start), np.nan)

    def __len__(self):
        return len(self.start)

    def subset(self, keep):
        """The intervals selected by a boolean mask or index array, in that order."""
        return Intervals(self.chrom[keep], self.start[keep], self.end[keep], self.name[keep], self.strand[keep],
                         self.summit[keep], self.line[keep], self.path, self.kind, self.strength[keep], self.skipped)


def _text(path):
    """The file's text (gzip detected from its first bytes), with a clear error for binary files."""
    if not os.path.exists(path):
        raise InputFormatError("file not found", path=path, hint="check the path")
    if os.path.isdir(path):
        raise InputFormatError("is a directory, not a BED file", path=path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFormatError(f"damaged gzip file ({exc})", path=path, hint="re-download or re-compress it")
    if b"\x00" in raw[:4096]:
        raise InputFormatError("not a text BED file (binary content)", path=path,
                               hint="give a BED or narrowPeak file, plain or gzip-compressed")
    return raw.decode("utf-8", "replace")


def _bad(path, number, problem, hint="BED lines are: chrom, start, end[, name, score, strand]; tab-separated"):
    return InputFormatError(f"line {number}: {problem}", path=path, hint=hint)


def _is_data(line):
    # Cheap test first: only lines that could be blank, a comment or a header get the full check.
    if not line or line[0] in " \t\r#tb":
        stripped = line.strip()
        return bool(stripped) and not stripped.startswith(_SKIP)
    return True


def _tab_widths(text):
    """Fields per line of a file that needs no line-by-line pass, else None.

    Such a file has only tab-separated data lines: no header, comment or blank line, no carriage return and
    no line without a tab. The check and the widths are vectorised (a million lines in ~0.1 s); any other
    file takes the general path, which numbers the lines it keeps.
    """
    body = text[:-1] if text.endswith("\n") else text
    if not body or "\r" in body:
        return None
    b = np.frombuffer(body.encode("utf-8"), np.uint8)
    newline = np.flatnonzero(b == 10)
    if _NOT_PLAIN[b[np.r_[0, newline + 1]]].any():
        return None
    ends = np.r_[newline, len(b)]
    tabs = np.searchsorted(np.flatnonzero(b == 9), ends)
    width = np.diff(tabs, prepend=0) + 1
    return width if width.min() >= 2 else None


def _is_int64(text):
    try:
        return -(1 << 63) <= int(text) < 1 << 63
    except ValueError:
        return False


def read_bed(path):
    """Read a BED3, BED6 or narrowPeak file (optionally gzipped) into :class:`Intervals`.

    Columns beyond the sixth are kept only for narrowPeak (10 columns: the summit offset is column 10,
    -1 for none). The strand column accepts ``+``, ``-`` and ``.``; coordinates must be integers with
    ``0 <= start <= end``. Parsed by pandas' C reader and checked column-wise (a million lines in about a
    second), with every problem reported at its line.

    Raises
    ------
    InputFormatError — naming the file and line of a malformed record, or a file without intervals.
    """
    import pandas as pd

    path = os.fspath(path)
    text = _text(path)
    width = _tab_widths(text)
    skipped = 0
    if width is not None:  # a plain tab-separated file: parsed as it is, line k is record k
        number = np.arange(1, len(width) + 1, dtype=np.int64)
    else:
        lines = text.split("\n")
        keep = [i for i, line in enumerate(lines) if _is_data(line)]
        skipped = sum(1 for line in lines if line.strip()) - len(keep)  # track/browser/# lines: counted, not records
        if not keep:
            raise InputFormatError("no intervals in the file", path=path,
                                   hint="give a BED or narrowPeak file with at least one chrom/start/end line")
        # Tab-separated as BED is; a line without a tab is read as whitespace-separated (hand-written files).
        data = [line if "\t" in line else "\t".join(line.split())
                for line in (lines[i].rstrip("\r") for i in keep)]
        number = np.asarray(keep, np.int64) + 1
        width = np.array([line.count("\t") + 1 for line in data])
        text = "\n".join(data)
    short = np.flatnonzero(width < 3)
    if len(short):
        k = int(short[0])
        raise _bad(path, number[k], f"{width[k]} field(s), a BED line needs at least chrom, start and end")
    ncol = int(min(width.max(), 10))
    frame = pd.read_csv(io.StringIO(text), sep="\t", header=None, dtype=str,
                        names=range(int(width.max())), usecols=range(ncol), keep_default_na=False,
                        na_filter=False, engine="c", quoting=3)
    # Only text columns are stripped (a costly pass over every value); numbers allow spaces in the regex.
    cols = [frame[c] if c < ncol else None for c in range(10)]
    for c in (0, 3, 5):
        if c < ncol and " " in text:
            cols[c] = cols[c].str.strip()
    try:  # numpy's int() per value is 7x faster than a regex over both columns; the regex finds the bad line
        start, end = (cols[k].to_numpy(dtype=object).astype(np.int64) for k in (1, 2))
    except (ValueError, OverflowError):
        k = next(i for i, pair in enumerate(zip(cols[1], cols[2])) if not all(map(_is_int64, pair)))
        words = [str(v).strip() for v in (frame[1][k], frame[2][k])]
        if all(w.isalpha() for w in words):
            # A column-name line ('chrom start end') is the usual cause: say so rather than only 'not a number'.
            raise _bad(path, number[k], f"looks like a header line (start and end are {words[0]!r} and {words[1]!r}, "
                                        f"not numbers)", hint="remove the line or prefix it with '#' (BED skips "
                                                              "'#', 'track' and 'browser' lines)") from None
        raise _bad(path, number[k], f"start and end must be whole numbers, got {frame[1][k]!r} and {frame[2][k]!r}",
                   hint="BED coordinates are 0-based integers; check the column order and the separator") from None
    wrong = (start < 0) | (end < start)
    if wrong.any():
        k = int(np.argmax(wrong))
        raise _bad(path, number[k], f"start {start[k]} and end {end[k]}: needs 0 <= start <= end",
                   hint="BED is 0-based half-open; a start past the end is a swapped or damaged line")
    n = len(frame)
    strand = np.full(n, ".", dtype=object)
    if ncol >= 6:
        st = cols[5].to_numpy(dtype=object)
        given = width >= 6
        strand[given] = st[given]
        odd = ~np.isin(strand, ["+", "-", "."])
        if odd.any():
            k = int(np.argmax(odd))
            raise _bad(path, number[k], f"strand {strand[k]!r} is not +, - or .")
    summit = np.full(n, -1, np.int64)
    if ncol >= 10:
        peak = width >= 10
        col = cols[9].to_numpy(dtype=object)
        ok = cols[9].str.fullmatch(r"\s*-?\d+\s*").to_numpy() | ~peak
        if not ok.all():
            k = int(np.argmax(~ok))
            raise _bad(path, number[k], f"narrowPeak summit (column 10) {col[k]!r} is not a whole number",
                       hint="column 10 is the summit's offset from start, or -1")
        summit[peak] = np.asarray(col[peak], dtype=np.int64)
        past = (summit >= 0) & (start + summit > end)
        if past.any():
            k = int(np.argmax(past))
            raise _bad(path, number[k], f"summit offset {summit[k]} lies past the peak's end ({end[k] - start[k]} bp "
                                        f"long)", hint="column 10 is the summit's offset from start, or -1")
    name = np.full(n, None, dtype=object)
    if ncol >= 4:
        nm = cols[3].to_numpy(dtype=object)
        named = (width >= 4) & ~np.isin(nm, ["", "."])
        name[named] = nm[named]
    kind = "narrowPeak" if width.max() >= 10 else "bed6" if width.max() >= 6 else "bed3"
    # Peak strength for merging overlapping peaks: signalValue where the line has it, else the score column.
    strength = np.full(n, np.nan)
    for c in (4, 6):
        if c < ncol:
            value = pd.to_numeric(cols[c], errors="coerce").to_numpy(dtype=float)
            given = (width > c) & np.isfinite(value)
            strength[given] = value[given]
    return Intervals(cols[0].to_numpy(dtype=object), start, end, name, strand, summit, number, path, kind, strength,
                     skipped)


def windows(iv, length, center="summit"):
    """Windows of ``length`` bp around each interval: on its summit where it has one (narrowPeak), else its midpoint.

    Parameters
    ----------
    iv : Intervals
    length : int
    center : {'summit', 'midpoint'} — ``midpoint`` ignores summits.

    Returns
    -------
    start, end : np.ndarray, int64, shape=(n,) — ``end - start == length``; the centre base is at
        ``start + length // 2``. Windows may run off the chromosome: the caller drops them.
    """
    if center not in CENTERS:
        raise SeqcnnError(f"unknown --center {center!r}", hint=f"use one of {', '.join(CENTERS)}")
    length = int(length)
    mid = (iv.start + iv.end) // 2
    c = np.where((iv.summit >= 0) & (center == "summit"), iv.start + iv.summit, mid)
    start = c - length // 2
    return start, start + length


def merge_windows(chrom, start, length, strength=None):
    """Which windows of one peak file to keep when they overlap: the strongest of each overlapping group.

    The rule (greedy, strongest first, as non-maximum suppression): windows are taken in order of
    ``strength`` (highest first; NaN last; ties and files without strengths in file order, so the first
    wins); a window is kept unless it overlaps an already kept window by more than half of ``length``
    (their starts lie less than ``length / 2`` apart on one chromosome), in which case it is merged into
    that window: the kept window stays centred on the strongest peak's summit. So every merged window
    overlaps a stronger kept one by more than half, and kept windows overlap each other by at most half.

    Parameters
    ----------
    chrom : array of str, shape=(n,)
    start : array of int, shape=(n,) — window starts (every window ``length`` bp).
    length : int
    strength : array of float, shape=(n,), optional — e.g. narrowPeak signalValue (:attr:`Intervals.strength`).

    Returns
    -------
    np.ndarray, bool, shape=(n,) — True for the windows kept.
    """
    n = len(start)
    if n == 0:
        return np.zeros(0, bool)
    codes = by_chrom(chrom)
    code = np.empty(n, np.int64)
    for k, (_, sel) in enumerate(codes):
        code[sel] = k
    # One sorted key per window: chromosomes 2^40 bp apart, so no two chromosomes' windows ever meet.
    key = code * (1 << 40) + np.asarray(start, np.int64)
    order = np.argsort(key, kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    s = np.full(n, -np.inf) if strength is None else np.where(np.isnan(strength), -np.inf, strength)
    priority = np.lexsort((np.arange(n), -s))  # strongest first, then file order
    kept_sorted = _suppress(key[order], rank[priority], int(length))
    keep = np.empty(n, bool)
    keep[order] = kept_sorted
    return keep


def _suppress(pos, prio, length):
    """The walk of :func:`merge_windows` over plain lists: bool list, True for the windows kept.

    ``pos``: window starts in sorted order; ``prio``: indices into ``pos``, strongest first. Each kept window
    suppresses its neighbours on both sides while they lie less than half a window away (2 · distance <
    length). Work grows with the windows plus the suppressed pairs (a million peaks in about a second); plain
    Python beats numba here, whose import alone takes longer than the walk for any usual peak file.
    """
    pos, n = pos.tolist(), len(pos)
    gone, kept = [False] * n, [False] * n
    for p in prio.tolist():
        if gone[p]:
            continue
        kept[p] = True
        here = pos[p]
        j = p - 1
        while j >= 0 and 2 * (here - pos[j]) < length:
            gone[j] = True
            j -= 1
        j = p + 1
        while j < n and 2 * (pos[j] - here) < length:
            gone[j] = True
            j += 1
    return np.asarray(kept, bool)


class IntervalIndex:
    """A set of intervals, merged per chromosome, for vectorised overlap queries.

    Parameters
    ----------
    chrom : array of str, shape=(n,)
    start, end : array of int, shape=(n,) — 0-based, half-open.
    """

    def __init__(self, chrom, start, end):
        chrom = np.asarray(chrom, dtype=object)
        start, end = np.asarray(start, np.int64), np.asarray(end, np.int64)
        self.merged = {}
        for c, sel in by_chrom(chrom):
            s, e = start[sel], end[sel]
            order = np.argsort(s, kind="stable")
            s, e = s[order], e[order]
            # A new run starts where an interval begins past the furthest end so far.
            reach = np.maximum.accumulate(e)
            new = np.r_[True, s[1:] > reach[:-1]]
            run = np.cumsum(new) - 1
            ms = s[new]
            me = np.zeros(len(ms), np.int64)
            np.maximum.at(me, run, e)
            self.merged[c] = (ms, me)

    def overlap(self, chrom, start, end):
        """Bases of each query ``[start, end)`` covered by the set: np.ndarray int64, shape=(m,)."""
        chrom = np.asarray(chrom, dtype=object)
        start, end = np.asarray(start, np.int64), np.asarray(end, np.int64)
        out = np.zeros(len(start), np.int64)
        for c, sel in by_chrom(chrom):
            if c not in self.merged:
                continue
            ms, me = self.merged[c]
            qs, qe = start[sel], end[sel]
            # Merged runs are disjoint and sorted: the ones a query touches are a contiguous range.
            lo = np.searchsorted(me, qs, side="right")
            hi = np.searchsorted(ms, qe, side="left")
            cov = np.zeros(len(sel), np.int64)
            width = hi - lo
            for k in range(int(width.max(initial=0))):
                j = lo + k
                ok = j < hi
                jj = np.minimum(j, len(ms) - 1)
                cov += np.where(ok, np.maximum(0, np.minimum(qe, me[jj]) - np.maximum(qs, ms[jj])), 0)
            out[sel] = cov
        return out

    def overlaps(self, chrom, start, end):
        """Whether each query ``[start, end)`` shares at least one base with the set: bool, shape=(m,)."""
        return self.overlap(chrom, start, end) > 0
