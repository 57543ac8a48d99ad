"""Tests of seqcnn.negatives: the dinucleotide shuffle keeps exact dinucleotide counts; GC matching; GC and N."""

from collections import Counter

import numpy as np
import pytest

from seqcnn.errors import SeqcnnError
from seqcnn.intervals import IntervalIndex
from seqcnn.negatives import default_chrom, dinucleotide_shuffle, gc_content, gc_matched, n_fraction


def _pairs(row):
    b = row.tobytes().upper()
    return Counter(zip(b[:-1], b[1:]))


def test_dinucleotide_shuffle_keeps_ends_and_dinucleotide_counts():
    rng = np.random.default_rng(0)
    x = np.frombuffer(b"ACGTNacgt", np.uint8)[rng.choice(9, (300, 57), p=[.2] * 4 + [.02] + [.045] * 4)].copy()
    x[0] = np.frombuffer(b"AC" * 28 + b"A", np.uint8)  # a sequence with a single Eulerian path: returned as is
    y = dinucleotide_shuffle(x, np.random.default_rng(1))
    assert y.shape == x.shape and y.dtype == np.uint8
    for a, b in zip(x, y):
        assert _pairs(a) == _pairs(b)
        assert a[0] & 0xDF == b[0] and a[-1] & 0xDF == b[-1]  # first and last base kept (upper case out)
    assert (y[0] == x[0]).all()
    assert (x[1:] & 0xDF != y[1:]).mean() > 0.5  # and the rest really is shuffled
    assert (dinucleotide_shuffle(x, np.random.default_rng(1)) == y).all()  # seeded
    assert not (dinucleotide_shuffle(x, np.random.default_rng(2)) == y).all()


def test_gc_and_n_fractions():
    x = np.frombuffer(b"GGCCAATTNN" + b"NNNNNNNNNN", np.uint8).reshape(2, 10)
    np.testing.assert_allclose(gc_content(x), [0.5, np.nan])
    np.testing.assert_allclose(n_fraction(x), [0.2, 1.0])
    assert default_chrom("chr1") and not default_chrom("chrM") and not default_chrom("chrUn_gl000220")
    assert not default_chrom("chr1_KI270706v1_random") and not default_chrom("chr6_GL000251v2_alt")


class _FakeGenome:
    """Two chromosomes: chrA GC-poor then GC-rich halves, chrB uniform; windows are what the test says."""

    path = "fake.fa"

    def __init__(self):
        rng = np.random.default_rng(0)
        poor = np.frombuffer(b"ACGT", np.uint8)[rng.choice(4, 50_000, p=[.35, .15, .15, .35])]
        rich = np.frombuffer(b"ACGT", np.uint8)[rng.choice(4, 50_000, p=[.2, .3, .3, .2])]
        self.seqs = {"chrA": np.concatenate([poor, rich]),
                     "chrB": np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 60_000)],
                     "chrM": np.frombuffer(b"GC", np.uint8)[rng.integers(0, 2, 20_000)]}
        self.lengths = {k: len(v) for k, v in self.seqs.items()}

    def region(self, c, start, end):
        return self.seqs[c][start:end]


def test_gc_matched_follows_the_positives_distribution_and_avoids_regions(monkeypatch):
    from scipy.stats import ks_2samp

    import seqcnn.negatives as negatives

    g = _FakeGenome()
    monkeypatch.setattr(negatives, "SLAB_BASES", 7_000)  # several slabs per chromosome, one ending short
    rng = np.random.default_rng(3)
    positive_gc = rng.normal(0.58, 0.03, 200)  # GC-rich peaks
    avoid = IntervalIndex(["chrA"], [60_000], [70_000])
    chrom, start, gc = gc_matched(g, positive_gc, 100, 1.0, avoid, np.random.default_rng(0))
    assert len(start) == 200 and set(chrom) <= {"chrA", "chrB"}  # chrM is not sampled by default
    assert not avoid.overlaps(chrom, start, start + 100).any() and (start % 100 == 0).all()
    recomputed = gc_content(np.stack([g.seqs[c][s:s + 100] for c, s in zip(chrom, start)]))
    np.testing.assert_allclose(recomputed, gc)
    assert ks_2samp(gc, positive_gc).statistic < 0.15
    uniform = gc_content(np.stack([g.seqs["chrA"][s:s + 100] for s in range(0, 99_900, 500)]))
    assert ks_2samp(uniform, positive_gc).statistic > 0.5  # what matching corrects
    # a chromosome with no candidate at all (chrA excluded whole) does not shift the others' names
    c2, s2, gc2 = gc_matched(g, positive_gc[:50], 100, 1.0, IntervalIndex(["chrA"], [0], [100_000]),
                             np.random.default_rng(0))
    assert set(c2) == {"chrB"}
    np.testing.assert_allclose(gc_content(np.stack([g.seqs[c][s:s + 100] for c, s in zip(c2, s2)])), gc2)
    again = gc_matched(g, positive_gc, 100, 1.0, avoid, np.random.default_rng(0))
    assert (again[1] == start).all()
    with pytest.raises(SeqcnnError, match="too few candidate windows") as err:
        gc_matched(g, positive_gc, 100, 20.0, avoid, np.random.default_rng(0))
    assert "4000 requested" in str(err.value) and "possible" in str(err.value)


def test_ks_statistic_equals_scipy():
    from scipy.stats import ks_2samp

    from seqcnn.negatives import ks_statistic

    rng = np.random.default_rng(0)
    for _ in range(20):
        a = np.round(rng.normal(0.5, 0.05, rng.integers(5, 300)), 2)  # ties, as GC fractions have
        b = np.round(rng.normal(0.52, 0.06, rng.integers(5, 300)), 2)
        assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
    assert ks_statistic([0.1, np.nan], [0.1]) == 0.0 and np.isnan(ks_statistic([], [0.2]))
