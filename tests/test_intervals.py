"""Tests of seqcnn.intervals: BED3/BED6/narrowPeak reading and its errors, windows, overlap queries."""

import gzip

import numpy as np
import pytest

from seqcnn.errors import SeqcnnError
from seqcnn.intervals import IntervalIndex, merge_windows, read_bed, windows

NARROWPEAK = ("chr1\t100\t300\tpeak_1\t500\t+\t8.1\t12.0\t10.2\t50\n"
              "chr2\t1000\t1100\tpeak_2\t300\t-\t5.0\t7.0\t6.1\t-1\n")


def test_bed3_bed6_and_narrowpeak_with_headers_and_gzip(tmp_path):
    (tmp_path / "a.bed").write_text("track name=peaks\nbrowser position chr1:1-100\n# comment\n\n"
                                    "chr1\t10\t20\nchrX 5 15\n")
    iv = read_bed(tmp_path / "a.bed")
    assert iv.kind == "bed3" and list(iv.chrom) == ["chr1", "chrX"] and list(iv.line) == [5, 6]
    np.testing.assert_array_equal(iv.start, [10, 5])
    assert list(iv.strand) == [".", "."] and list(iv.name) == [None, None] and list(iv.summit) == [-1, -1]
    (tmp_path / "b.bed").write_text("chr1\t10\t20\t.\t0\t-\nchr1\t30\t40\tsite2\t0\t+\r\n")
    iv = read_bed(tmp_path / "b.bed")
    assert iv.kind == "bed6" and list(iv.strand) == ["-", "+"] and list(iv.name) == [None, "site2"]
    with gzip.open(tmp_path / "p.narrowPeak.gz", "wt") as fh:
        fh.write(NARROWPEAK)
    iv = read_bed(tmp_path / "p.narrowPeak.gz")
    assert iv.kind == "narrowPeak" and list(iv.summit) == [50, -1] and list(iv.name) == ["peak_1", "peak_2"]
    assert len(iv.subset(iv.strand == "-")) == 1


@pytest.mark.parametrize("text,words", [
    ("chr1\t10\n", ["line 1", "2 field(s)"]),
    ("chr1\t10\t20\nchr1\tten\t20\n", ["line 2", "whole numbers", "'ten'"]),
    ("chr1\t30\t20\n", ["line 1", "start 30 and end 20", "0 <= start <= end"]),
    ("chr1\t-5\t20\n", ["line 1", "start -5"]),
    ("chr1\t1\t20\tx\t0\t*\n", ["line 1", "strand '*'"]),
    ("chr1\t100\t300\tp\t5\t+\t1\t1\t1\tmid\n", ["line 1", "summit", "'mid'"]),
    ("chr1\t100\t300\tp\t5\t+\t1\t1\t1\t500\n", ["line 1", "past the peak's end"]),
    ("chr1\t10\t20\nchr1\t10\t99999999999999999999\n", ["line 2", "whole numbers"]),
    ("# header\nchr1\t10\t20\nchr1\t1.5\t20\n", ["line 3", "whole numbers", "'1.5'"]),
    # a header line is named as one, with the fix (also two files concatenated, header and all)
    ("chrom\tstart\tend\nchr1\t10\t20\n", ["line 1: looks like a header line", "prefix it with '#'"]),
    ("track name=x\nchromosome start end name\nchr1\t10\t20\tp\n", ["line 2: looks like a header line"]),
    ("chr1\t10\t20\nchrom\tstart\tend\nchr1\t30\t40\n", ["line 2: looks like a header line"]),
    ("track only\n# nothing\n", ["no intervals"]),
    ("", ["no intervals"]),
])
def test_malformed_bed_names_file_and_line(tmp_path, text, words):
    p = tmp_path / "bad.bed"
    p.write_text(text)
    with pytest.raises(SeqcnnError) as err:
        read_bed(p)
    msg = str(err.value)
    assert msg.startswith(str(p)) and "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


def test_plain_files_and_files_with_headers_read_alike(tmp_path):
    """A plain tab-separated file takes the vectorised path; the same records after header lines, with
    carriage returns or with a blank line take the line-by-line path: both give the same arrays."""
    rows = NARROWPEAK + "chr3\t7\t9\tp3\t1\t.\t1\t1\t1\t1\n" + "chr1\t5\t6\n"
    (tmp_path / "plain.bed").write_text(rows)
    (tmp_path / "header.bed").write_text("track name=x\n# made by hand\n" + rows.replace("\n", "\r\n") + "\n")
    a, b = read_bed(tmp_path / "plain.bed"), read_bed(tmp_path / "header.bed")
    assert list(a.line) == [1, 2, 3, 4] and list(b.line) == [3, 4, 5, 6]
    for field in ("chrom", "start", "end", "name", "strand", "summit"):
        assert list(getattr(a, field)) == list(getattr(b, field)), field
    assert a.kind == b.kind == "narrowPeak" and list(a.summit) == [50, -1, 1, -1]


def test_binary_missing_and_damaged_files(tmp_path):
    (tmp_path / "x.bed").write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00")
    with pytest.raises(SeqcnnError, match="binary content"):
        read_bed(tmp_path / "x.bed")
    with pytest.raises(SeqcnnError, match="file not found"):
        read_bed(tmp_path / "nope.bed")
    (tmp_path / "t.bed.gz").write_bytes(gzip.compress(b"chr1\t1\t2\n" * 1000)[:40])
    with pytest.raises(SeqcnnError, match="damaged gzip"):
        read_bed(tmp_path / "t.bed.gz")


def test_windows_centre_on_the_summit_or_the_midpoint(tmp_path):
    (tmp_path / "p.narrowPeak").write_text(NARROWPEAK)
    iv = read_bed(tmp_path / "p.narrowPeak")
    s, e = windows(iv, 100)
    # peak 1: summit 100 + 50 = 150 → [100, 200); peak 2 has no summit: midpoint 1050 → [1000, 1100)
    np.testing.assert_array_equal(s, [100, 1000])
    np.testing.assert_array_equal(e - s, [100, 100])
    s, _ = windows(iv, 101, center="midpoint")
    np.testing.assert_array_equal(s, [200 - 50, 1050 - 50])
    with pytest.raises(SeqcnnError, match="unknown --center"):
        windows(iv, 100, center="peak")


def test_interval_index_overlap_equals_brute_force():
    rng = np.random.default_rng(0)
    n, m = 300, 500
    chrom = rng.choice(["chr1", "chr2", "chr3"], n).astype(object)
    start = rng.integers(0, 10_000, n)
    end = start + rng.integers(0, 300, n)
    index = IntervalIndex(chrom, start, end)
    qc = rng.choice(["chr1", "chr2", "chr4"], m).astype(object)
    qs = rng.integers(0, 10_000, m)
    qe = qs + rng.integers(1, 800, m)
    got = index.overlap(qc, qs, qe)
    for k in range(m):
        covered = np.zeros(qe[k] - qs[k], bool)
        for c, s, e in zip(chrom, start, end):
            if c == qc[k]:
                covered[max(s, qs[k]) - qs[k]:max(min(e, qe[k]) - qs[k], 0)] = True
        assert got[k] == covered.sum(), k
    assert got.max() > 0 and (got == 0).any()  # both cases occur
    np.testing.assert_array_equal(index.overlaps(qc, qs, qe), got > 0)


def test_skipped_lines_are_counted_and_strength_is_signal_then_score(tmp_path):
    (tmp_path / "a.bed").write_text("track name=peaks\nbrowser position chr1:1-100\n# comment\n\nchr1\t10\t20\n")
    assert read_bed(tmp_path / "a.bed").skipped == 3  # the blank line is nothing
    (tmp_path / "p.narrowPeak").write_text(NARROWPEAK)
    iv = read_bed(tmp_path / "p.narrowPeak")
    assert iv.skipped == 0 and list(iv.strength) == [8.1, 5.0]  # signalValue, not the score
    (tmp_path / "b.bed").write_text("chr1\t10\t20\ta\t7\t+\nchr1\t30\t40\tb\tx\t+\n")
    np.testing.assert_array_equal(read_bed(tmp_path / "b.bed").strength, [7.0, np.nan])
    assert np.isnan(read_bed(tmp_path / "a.bed").strength).all()
    assert list(iv.subset(np.array([1])).strength) == [5.0]


def _greedy(chrom, start, length, strength):
    """merge_windows by its docstring, the slow way."""
    order = sorted(range(len(start)), key=lambda i: (-(strength[i] if np.isfinite(strength[i]) else -np.inf), i))
    kept = []
    for i in order:
        if not any(chrom[j] == chrom[i] and 2 * abs(start[j] - start[i]) < length for j in kept):
            kept.append(i)
    return np.isin(np.arange(len(start)), kept)


@pytest.mark.parametrize("length", [100, 101])
def test_merge_windows_keeps_the_strongest_of_each_overlapping_group(length):
    rng = np.random.default_rng(3)
    n = 400
    chrom = rng.choice(["chr1", "chr2"], n).astype(object)
    start = rng.integers(0, 8_000, n)
    strength = rng.integers(0, 20, n).astype(float)  # ties: the first in the file wins
    strength[rng.random(n) < 0.1] = np.nan
    keep = merge_windows(chrom, start, length, strength)
    np.testing.assert_array_equal(keep, _greedy(chrom, start, length, strength))
    assert 0 < (~keep).sum() < n
    k = np.flatnonzero(keep)
    for i in np.flatnonzero(~keep):  # every merged window overlaps a kept, at least as strong one by more than half
        near = k[(chrom[k] == chrom[i]) & (2 * np.abs(start[k] - start[i]) < length)]
        assert len(near) and (np.nan_to_num(strength[near], nan=-1) >= np.nan_to_num(strength[i], nan=-1)).any()
    for a in k:  # kept windows overlap each other by at most half
        same = k[(k != a) & (chrom[k] == chrom[a])]
        assert (2 * np.abs(start[same] - start[a]) >= length).all()
    # no strengths: the first of each group in file order; one window exactly on another: merged
    np.testing.assert_array_equal(merge_windows(np.array(["c"] * 3, object), [100, 130, 100], 100), [1, 0, 0])
    np.testing.assert_array_equal(merge_windows(np.array(["c", "d"], object), [5, 5], 100), [1, 1])
    assert len(merge_windows(np.zeros(0, object), np.zeros(0, int), 100)) == 0
