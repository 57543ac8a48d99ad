"""Tests of seqcnn.splits: fractions, stratification, hold-out chromosomes, columns."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqcnn.errors import SeqcnnError
from seqcnn.splits import column_split, holdout_split, parse_fractions, stratified_split


def test_parse_fractions():
    assert parse_fractions("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
    assert parse_fractions("0,0,1") == (0.0, 0.0, 1.0)
    for bad in ["0.8,0.1", "0.5,0.5,0.5", "a,b,c", "-0.1,0.6,0.5", "1.2,-0.1,-0.1"]:
        with pytest.raises(SeqcnnError):
            parse_fractions(bad)


def test_split_is_reproducible_and_seed_dependent():
    y = np.repeat([0, 1], 50)
    a, b, c = stratified_split(y, seed=1), stratified_split(y, seed=1), stratified_split(y, seed=2)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_all_test_split():
    assert (stratified_split(np.array([0, 1, 1, 0]), (0, 0, 1)) == 2).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=400),
       st.tuples(st.integers(0, 10), st.integers(0, 10), st.integers(0, 10)).filter(lambda t: sum(t) > 0),
       st.integers(0, 2**31))
def test_stratification_holds_per_class(labels, weights, seed):
    y = np.array(labels)
    fr = tuple(w / sum(weights) for w in weights)
    split = stratified_split(y, fr, seed)
    assert split.shape == y.shape and set(np.unique(split)) <= {0, 1, 2}
    for cls in np.unique(y):
        n = (y == cls).sum()
        for code in range(3):
            # Each class lands in each split within one record of its share.
            assert abs((split[y == cls] == code).sum() - fr[code] * n) < 1 + 1e-9


def test_multilabel_stratified_by_combination():
    y = np.array([[1, 0]] * 40 + [[0, 1]] * 40 + [[1, 1]] * 20)
    split = stratified_split(y, (0.5, 0.25, 0.25), 0)
    assert (split[80:] == 0).sum() == 10 and (split[:40] == 2).sum() == 10


def test_holdout_split():
    chroms = ["chr1", "chr8", "chr2", "chr9", "chr1", "chr2"] * 10
    y = np.array([0, 1] * 30)
    split = holdout_split(chroms, ["chr8", "chr9"], y, (0.8, 0.2, 0.0), 0)
    assert (split[np.isin(chroms, ["chr8", "chr9"])] == 2).all()
    assert (split[~np.isin(chroms, ["chr8", "chr9"])] != 2).all()
    with pytest.raises(SeqcnnError, match="no record lies on"):
        holdout_split(chroms, ["chr22"], y)
    with pytest.raises(SeqcnnError, match="no chromosome"):
        holdout_split([None, "chr1"], ["chr1"], np.array([0, 1]))


def test_column_split():
    np.testing.assert_array_equal(column_split(["train", "Val", "TEST", "validation"]), [0, 1, 2, 1])
    with pytest.raises(SeqcnnError, match="record 'b'"):
        column_split(["train", "later"], ids=["a", "b"])


def test_leakage_counts_shared_sequences_and_overlapping_windows():
    from seqcnn.splits import leakage

    split = np.array([0, 0, 1, 2, 2], np.uint8)
    hashes = np.array([7, 8, 7, 9, 9], np.uint64)  # record 0 (train) and 2 (val) share a sequence; 3, 4 only test
    coords = {"chrom": np.array(["c1", "c1", "c1", "c2", "c2"], object), "start": np.array([0, 500, 150, 0, 90]),
              "end": np.array([200, 700, 350, 200, 290])}
    out = leakage(split, hashes, coords)
    assert out == {"duplicates": 2, "overlapping": 2}  # 0 and 2 overlap across train/val; 3, 4 within test
    assert leakage(split) == {"duplicates": None, "overlapping": None}
    assert leakage(np.zeros(3, np.uint8), np.array([1, 1, 1], np.uint64))["duplicates"] == 0  # one split only


def test_info_reports_duplicate_sequences_across_splits(cli, tmp_path):
    from conftest import write_fasta

    recs = [(f"r{i}", "ACGT" * 5 if i % 10 == 0 else "".join("ACGT"[(i * 7 + k) % 4] for k in range(20)))
            for i in range(60)]
    fa = write_fasta(tmp_path / "s.fa", recs)
    (tmp_path / "l.csv").write_text("id,label\n" + "".join(f"r{i},{i % 2}\n" for i in range(60)))
    assert cli("encode", fa, "-l", tmp_path / "l.csv", "-o", tmp_path / "d.h5", "--split", "0.5,0.25,0.25",
               "-q").exit_code == 0
    res = cli("info", tmp_path / "d.h5")
    assert res.exit_code == 0
    line = next(l for l in res.stdout.splitlines() if l.startswith("shared across splits"))
    n = int(line.split(": ")[1].split()[0])
    assert n > 0 and "window(s)" not in line  # FASTA mode: no coordinates, so no overlap check


def test_position_blocks_split_one_chromosome_without_overlap_across_splits():
    from seqcnn.intervals import IntervalIndex
    from seqcnn.splits import block_boundaries, block_plan, block_split

    rng = np.random.default_rng(1)
    size, L = 100_000, 300
    centres = rng.integers(L, size - L, 200)
    plan = block_plan({"chrI": size}, np.array(["chrI"] * 200, object), centres, seed=4)
    assert plan["edges"] == list(range(0, size + 1, 10_000)) and plan["test"] != plan["val"]
    assert sorted(plan["codes"]) == [0] * 8 + [1, 2]
    assert plan == block_plan({"chrI": size}, np.array(["chrI"] * 200, object), centres, seed=4)  # seeded
    assert plan["regions"]["test"] == [f"chrI:{plan['test'][0] * 10_000}-{plan['test'][0] * 10_000 + 10_000}"]
    start = rng.integers(0, size - L, 3000)
    chrom = np.array(["chrI"] * 3000, object)
    split, crosses = block_split(plan, chrom, start, start + L)
    block = (start + L // 2) // 10_000
    np.testing.assert_array_equal(split, np.asarray(plan["codes"])[block])  # by the centre's block
    reach = np.asarray(plan["codes"])[start // 10_000] != np.asarray(plan["codes"])[(start + L - 1) // 10_000]
    np.testing.assert_array_equal(crosses, reach)
    assert crosses.any() and (split == 2).any() and (split == 1).any()
    ok = ~crosses
    for code in (0, 1, 2):  # kept windows of one split never overlap those of another
        mine = ok & (split == code)
        other = ok & (split != code)
        assert not IntervalIndex(chrom[other], start[other], start[other] + L).overlaps(
            chrom[mine], start[mine], start[mine] + L).any()
    # the boundary bases given to the negatives: a window avoiding them crosses no split boundary
    bc, bs, be = block_boundaries(plan)
    hit = IntervalIndex(bc, bs, be).overlaps(chrom, start, start + L)
    assert not (crosses & ~hit).any()
    # a chromosome outside the layout trains and crosses nothing
    s, x = block_split(plan, np.array(["chrII"], object), [5], [305])
    assert list(s) == [0] and not x.any()
    with pytest.raises(SeqcnnError, match="too few for a test and a validation block"):
        block_plan({"chrI": size}, np.array(["chrI"] * 3, object), [10, 20, 30])


def test_block_plan_chooses_test_and_val_from_windows_inside_one_block():
    """A block held only by windows that cross its edge would lose them all (dropped later, counted): with the
    window length given, such blocks are not chosen for test or validation."""
    from seqcnn.splits import block_plan

    chrom = np.array(["c"] * 3, object)
    centres = np.array([350, 500, 750])  # 20 bp windows: inside block 3, across the 4/5 edge, inside block 7
    for seed in range(20):
        plan = block_plan({"c": 1000}, chrom, centres, seed=seed, length=20)
        assert sorted(plan["test"] + plan["val"]) == [3, 7], seed
    chosen = {tuple(sorted(block_plan({"c": 1000}, chrom, centres, seed=s)["test"])) for s in range(20)}
    assert (5,) in chosen  # without the length, the crossing window's block can be chosen
