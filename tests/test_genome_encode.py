"""Tests of seqcnn.genome_encode (seqcnn encode --bed --genome): windows against plain slicing, every negative
method, multilabel labels, drops by reason, chromosome splits, and bad input."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from numerics import assert_close
from seqcnn.encoding import decode
from seqcnn.errors import SeqcnnError
from seqcnn.genome_encode import chrom_split, encode_intervals
from seqcnn.intervals import IntervalIndex
from seqcnn.store import open_dataset

L = 200


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    """A simulated 3 x 400 kb genome with CTCF and GATA3 peak files, written once."""
    from seqcnn.simulate import write_genome_simulation

    d = tmp_path_factory.mktemp("genome")
    rep = write_genome_simulation(str(d / "sim"), n_chroms=3, chrom_length=400_000, motifs=["MA0139.1", "MA0037.4"],
                                  n_peaks=120, seed=5)
    text = (d / "sim.fa").read_text().split(">")[1:]
    chroms = {t.split("\n", 1)[0]: t.split("\n", 1)[1].replace("\n", "") for t in text}
    return SimpleNamespace(d=d, fa=rep["fasta"], ctcf=rep["peaks"]["CTCF"], gata=rep["peaks"]["Gata3"],
                           chroms=chroms)


def _revcomp(s):
    return s[::-1].translate(str.maketrans("ACGTacgt", "TGCAtgca"))


def _records(path):
    with open_dataset(path) as ds:
        c = ds.coords()
        return SimpleNamespace(ds_attrs=ds.attrs, y=ds.y, split=ds.split, ids=list(ds.ids), seqs=decode(ds.read_x()),
                               **c)


def test_binary_gc_matched_windows_equal_plain_slicing_and_negatives_avoid_peaks(gen, tmp_path):
    from scipy.stats import ks_2samp

    from seqcnn.negatives import gc_content

    out = tmp_path / "b.h5"
    excl = tmp_path / "blacklist.bed"
    excl.write_text("chr2\t100000\t160000\n")
    rep = encode_intervals([gen.ctcf], gen.fa, out, length=L, exclude=[excl], seed=1)
    r = _records(out)
    peaks = pd.read_csv(gen.ctcf, sep="\t", header=None)
    assert rep["records_read"] == len(peaks) == rep["read_written"] + sum(rep["dropped"].values())
    assert rep["negatives_made"] == rep["positives"] == int((r.y == 0).sum()) == int((r.y == 1).sum())
    for seq, c, s, e, st in zip(r.seqs, r.chrom, r.start, r.end, r.strand):
        want = gen.chroms[c][s:e].upper()
        assert seq == (_revcomp(want) if st == "-" else want)
    # peak windows sit on the summits (column 10), in BED order, ids from the name column
    pos = r.origin == "peak"
    np.testing.assert_array_equal(r.start[pos], peaks[1] + peaks[9] - L // 2)
    assert r.ids[:2] == list(peaks[3][:2])
    neg = ~pos
    avoid = IntervalIndex(list(peaks[0]) + ["chr2"], list(peaks[1]) + [100_000], list(peaks[2]) + [160_000])
    assert set(r.origin[neg]) == {"gc-matched"} and not avoid.overlaps(r.chrom[neg], r.start[neg], r.end[neg]).any()
    # GC matched: negatives like the peaks; uniform random windows are not
    u8 = np.frombuffer("".join(r.seqs).encode(), np.uint8).reshape(-1, L)
    pos_gc, neg_gc = gc_content(u8[pos]), gc_content(u8[neg])
    assert ks_2samp(pos_gc, neg_gc).statistic < 0.12 and rep["gc_match"]["ks"] < 0.12
    rng = np.random.default_rng(0)
    uniform = gc_content(np.stack([np.frombuffer(gen.chroms[f"chr{rng.integers(1, 4)}"][s:s + L].upper().encode(),
                                                 np.uint8) for s in rng.integers(10_000, 399_000, 500)]))
    assert ks_2samp(pos_gc, uniform).statistic > 0.2
    # split by chromosome: every chromosome in one split; the default rule held out the last autosomes
    for c in set(r.chrom):
        assert len(set(r.split[r.chrom == c])) == 1
    assert rep["split_chroms"] == {"test": ["chr3"], "val": ["chr2"]}
    assert r.ds_attrs["schema_version"] == 2 and r.ds_attrs["genome"]["size"] == 1_200_000
    assert r.ds_attrs["negatives"]["method"] == "gc-matched" and r.ds_attrs["split_method"] == "chromosome"
    assert (tmp_path / "b_gc.png").exists()


def test_shuffle_and_flank_negatives(gen, tmp_path):
    from collections import Counter

    encode_intervals([gen.ctcf], gen.fa, tmp_path / "s.h5", length=L, negatives="shuffle", negative_ratio=2,
                     plots=False)
    r = _records(tmp_path / "s.h5")
    n_pos = int((r.origin == "peak").sum())
    assert int((r.origin == "shuffle").sum()) == 2 * n_pos and not (tmp_path / "s_gc.png").exists()
    by_window = {(c, s): q for c, s, q, o in zip(r.chrom, r.start, r.seqs, r.origin) if o == "peak"}
    for c, s, q, o, sp in zip(r.chrom, r.start, r.seqs, r.origin, r.split):
        if o == "shuffle":
            p = by_window[(c, s)]
            assert Counter(zip(p[:-1], p[1:])) == Counter(zip(q[:-1], q[1:])) and q != p
    assert len(set(r.ids)) == len(r.ids)
    encode_intervals([gen.ctcf], gen.fa, tmp_path / "f.h5", length=L, negatives="flank", flank_distance=300,
                     plots=False)
    f = _records(tmp_path / "f.h5")
    peaks = pd.read_csv(gen.ctcf, sep="\t", header=None)
    flank = f.origin == "flank"
    assert flank.sum() == (f.origin == "peak").sum()
    index = IntervalIndex(peaks[0], peaks[1], peaks[2])
    assert not index.overlaps(f.chrom[flank], f.start[flank], f.end[flank]).any()
    # each flank starts exactly --length + --flank-distance from its own peak window, on one side or the other
    windows = {(c, s) for c, s in zip(f.chrom[~flank], f.start[~flank])}
    assert all((c, s - (L + 300)) in windows or (c, s + (L + 300)) in windows
               for c, s in zip(f.chrom[flank], f.start[flank]))


def test_multilabel_labels_by_overlap_and_merged_windows(gen, tmp_path):
    rep = encode_intervals([gen.ctcf, gen.gata], gen.fa, tmp_path / "m.h5", length=L, label_names=["ctcf", "gata"],
                           plots=False)
    r = _records(tmp_path / "m.h5")
    assert rep["task"] == "multilabel" and r.y.shape[1] == 2 and rep["negatives_made"] == 0
    assert rep["records_read"] == 240 == rep["read_written"] + sum(rep["dropped"].values())
    for k, path in enumerate([gen.ctcf, gen.gata]):
        p = pd.read_csv(path, sep="\t", header=None)
        ov = IntervalIndex(p[0], p[1], p[2]).overlap(r.chrom, r.start, r.end)
        own = r.y[:, k] == 1
        assert (ov[own] > 0).all()  # a label is never given without overlap
        assert (r.y[ov >= L // 2, k] == 1).all()
    with open_dataset(tmp_path / "m.h5") as ds:
        assert ds.label_names == ["ctcf", "gata"] and ds.task == "multilabel"
    rep = encode_intervals([gen.ctcf, gen.gata], gen.fa, tmp_path / "m2.h5", length=L, negatives="gc-matched",
                           negative_ratio=0.5, plots=False)
    r = _records(tmp_path / "m2.h5")
    assert int((r.origin == "gc-matched").sum()) == rep["negatives_made"] > 0
    assert (r.y[r.origin == "gc-matched"] == 0).all()


def test_drops_by_reason_strand_and_given_negatives(gen, tmp_path):
    bed = tmp_path / "p.bed"
    # kept (+), kept (-), past the start, past the end, unknown chromosome, all N (the gap)
    bed.write_text("chr1\t50000\t50200\tplus\t0\t+\nchr1\t60000\t60200\tminus\t0\t-\nchr2\t0\t50\tedge\t0\t+\n"
                   "chr2\t399950\t400000\tend\t0\t+\nchrZ\t100\t300\tzz\t0\t+\nchr3\t100\t300\tgap\t0\t+\n")
    given = tmp_path / "neg.bed"
    given.write_text("chr2\t200000\t200200\nchr3\t300000\t300200\nchr1\t50100\t50300\n")  # the last is on a peak
    rep = encode_intervals([bed], gen.fa, tmp_path / "d.h5", length=L, negatives="none", negatives_bed=given,
                           holdout_chrom=["chr3"], val_chrom=["chr2"], plots=False)
    assert rep["dropped"] == {"chromosome not in genome": 1, "past chromosome end": 2, "too many N": 1,
                              "merged overlap (same file)": 0, "merged overlap (across files)": 0,
                              "crosses a split block boundary": 0, "given negative overlaps a peak": 1}
    assert rep["records_read"] == 9 == rep["read_written"] + 5 and rep["negatives_made"] == 0
    r = _records(tmp_path / "d.h5")
    assert r.ids[:2] == ["plus", "minus"] and list(r.strand[:2]) == ["+", "-"]
    assert r.seqs[1] == _revcomp(gen.chroms["chr1"][60000:60200]).upper()
    assert list(r.origin[2:]) == ["given", "given"] and r.ids[2] == "chr2:200000-200200(+)"
    assert list(r.split) == [0, 0, 1, 2]


def test_chrom_split_rule_and_overrides():
    chroms = np.array(["chr1"] * 50 + ["chr2"] * 30 + ["chr10"] * 8 + ["chr9"] * 6 + ["chrX"] * 6, dtype=object)
    split, chosen = chrom_split(chroms)
    # natural order chr1, chr2, chr9, chr10 (chrX stays in training): from the end until 10 % each
    assert chosen == {"test": ["chr9", "chr10"], "val": ["chr2"]}
    assert (split[chroms == "chrX"] == 0).all() and (split[chroms == "chr10"] == 2).all()
    split, chosen = chrom_split(chroms, test_chroms=["chr1"], val_chroms=None)
    assert chosen == {"test": ["chr1"], "val": ["chr9", "chr10"]}
    with pytest.raises(SeqcnnError, match="--val-chrom chr7 holds no record"):
        chrom_split(chroms, val_chroms=["chr7"])
    with pytest.raises(SeqcnnError, match="too few for train"):
        chrom_split(np.array(["chr1"] * 10 + ["chr2"] * 10, dtype=object))


def test_genome_mode_cli_end_to_end_and_bad_input(cli, gen, tmp_path):
    out = tmp_path / "c.h5"
    r = cli("encode", "--bed", gen.ctcf, "--genome", gen.fa, "--length", L, "-o", out, "--seed", "2")
    assert r.exit_code == 0, r.stderr
    assert "records read 120 = written 120 + dropped 0 (none); negatives made 120 (gc-matched)" in r.stdout
    assert "by chromosome: test chr3; val chr2" in r.stdout and "KS " in r.stdout
    info = cli("info", out)
    assert info.exit_code == 0 and "240 records" in info.stdout
    assert "split: by chromosome (test chr3; val chr2" in info.stdout
    assert "0 record(s) whose sequence occurs in another split; 0 window(s) overlapping" in info.stdout
    assert "negatives: gc-matched x 1.0" in info.stdout and "GC content" in info.stdout

    from conftest import one_line_error as one_line

    o2 = tmp_path / "bad.h5"
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t100\t300\nchr1\t400\toops\n")
    one_line(cli("encode", "--bed", bad, "--genome", gen.fa, "--length", L, "-o", o2), "bad.bed", "line 2", "'oops'")
    renamed = tmp_path / "ens.bed"
    renamed.write_text("1\t100000\t100300\n2\t100000\t100300\n")
    one_line(cli("encode", "--bed", renamed, "--genome", gen.fa, "--length", L, "-o", o2), "ens.bed",
             "named like '1'", "sed")
    one_line(cli("encode", "--bed", gen.ctcf, "--genome", gen.fa, "--length", L, "-o", o2, "--exclude", renamed),
             "ens.bed", "named like '1'")
    one_line(cli("encode", "--bed", gen.ctcf, "--genome", gen.fa, "--length", L, "-o", o2, "--negative-ratio",
                 "400"), "too few candidate windows", "possible")
    (tmp_path / "dup.bed").write_text("chr1\t50000\t50200\tsame\nchr2\t50000\t50200\tsame\n"
                                      "chr3\t50000\t50200\tother\n")
    one_line(cli("encode", "--bed", tmp_path / "dup.bed", "--genome", gen.fa, "--length", L, "-o", o2),
             "dup.bed: line 1: name 'same' (column 4) is used again on line 2", "must be unique", "put '.' in column 4")
    (tmp_path / "empty.bed").write_text("")
    one_line(cli("encode", "--bed", tmp_path / "empty.bed", "--genome", gen.fa, "--length", L, "-o", o2),
             "no intervals")
    (tmp_path / "not.fa").write_text("chr1 ACGT\n")
    one_line(cli("encode", "--bed", gen.ctcf, "--genome", tmp_path / "not.fa", "--length", L, "-o", o2),
             "not a FASTA file")
    one_line(cli("encode", "--bed", gen.ctcf, "--length", L, "-o", o2), "needs both --bed")
    one_line(cli("encode", "--bed", gen.ctcf, "--genome", gen.fa, "-o", o2), "needs --length")
    one_line(cli("encode", "--bed", gen.ctcf, "--genome", gen.fa, "--length", L, "-o", o2, "--labels", bad),
             "--labels cannot be combined with --bed")
    one_line(cli("encode", gen.fa, "--genome", gen.fa, "--length", L, "-o", o2, "--bed", gen.ctcf),
             "FASTA files cannot be combined")
    one_line(cli("encode", gen.fa, "-l", bad, "-o", o2, "--negatives", "shuffle"), "--negatives applies to genome")
    one_line(cli("encode", "--bed", gen.ctcf, "--genome", gen.fa, "--length", L, "-o", o2, "--negatives", "none"),
             "needs negatives")
    assert not o2.exists() and not list(tmp_path.glob("bad*.png")) and not list(tmp_path.glob(".bad*"))
    one_line(cli("encode", "--bed", gen.ctcf, "--genome", gen.fa, "--length", L, "-o", out), "already exists")


def test_predict_bed_genome_scores_the_windows_encode_makes(cli, gen, tmp_path):
    from seqcnn import rundir, scoring, training

    h5 = tmp_path / "t.h5"
    encode_intervals([gen.ctcf], gen.fa, h5, length=100, center="midpoint", plots=False)
    training.train(h5, tmp_path / "run", params={"filters": 4, "kernel_size": 9, "dense_units": 4}, epochs=1,
                   quiet=True, plots=False, n_boot=0)
    bed = tmp_path / "q.bed"
    bed.write_text("chr1\t150000\t150400\tq1\t0\t+\nchr2\t150000\t150400\tq2\t0\t-\nchr1\t399990\t400000\tedge\t0\t+\n"
                   "chr1\t20000\t20100\n")
    r = cli("predict", tmp_path / "run", "--bed", bed, "--genome", gen.fa, "--center", "midpoint", "-o",
            tmp_path / "p.csv")
    assert r.exit_code == 0, r.stderr
    assert "records read 4 = written 3 + dropped 1 (past chromosome end 1)" in r.stdout
    df = pd.read_csv(tmp_path / "p.csv")
    assert list(df.columns) == ["id", "chrom", "start", "end", "strand", "prob_1"]
    assert list(df.id) == ["q1", "q2", "chr1:20000-20100(+)"] and list(df.start) == [150150, 150150, 20000]
    model, _ = rundir.load_run(tmp_path / "run")
    from seqcnn.encoding import one_hot

    seqs = [gen.chroms["chr1"][150150:150250], _revcomp(gen.chroms["chr2"][150150:150250]),
            gen.chroms["chr1"][20000:20100]]
    want = scoring.predict_onehot(model, one_hot(seqs), "binary")[:, 0]
    assert_close(df.prob_1, want)  # another batch shape, and 6 significant digits in the CSV
    bad = cli("predict", tmp_path / "run", "--bed", bed, "-o", tmp_path / "x.csv")
    assert bad.exit_code == 2 and "--bed REGIONS with --genome" in bad.stderr and not (tmp_path / "x.csv").exists()
    # mutagenesis of the same regions: the ISM file carries each row's genomic position
    from seqcnn.exact_ism import ism
    from seqcnn.mutagenesis import read_ism

    r = cli("mutagenesis", tmp_path / "run", bed, "--genome", gen.fa, "--center", "midpoint", "-o",
            tmp_path / "ism.h5", "--no-plots")
    assert r.exit_code == 0, r.stderr
    assert "records read 4 = written 3 + dropped 1 (not selected 0, past chromosome end 1)" in r.stdout
    f = read_ism(tmp_path / "ism.h5")
    assert list(f["ids"]) == list(df.id) and list(f["chrom"]) == ["chr1", "chr2", "chr1"]
    assert list(f["start"]) == [150150, 150150, 20000] and list(f["strand"]) == ["+", "-", "+"]
    delta, ref = ism(model, one_hot(seqs))
    assert_close(f["delta"], delta, scale=np.abs(ref).max())
    # an encoded genome-mode file: the selected rows keep their coordinates
    r = cli("mutagenesis", tmp_path / "run", h5, "-o", tmp_path / "ism2.h5", "--split", "test", "--top", "3",
            "--no-plots")
    assert r.exit_code == 0, r.stderr
    f2 = read_ism(tmp_path / "ism2.h5")
    with open_dataset(h5) as ds:
        c = ds.coords(f2["index"])
    assert list(f2["chrom"]) == list(c["chrom"]) and list(f2["start"]) == list(c["start"])


def _np(path, rows):
    """A narrowPeak file of (chrom, start, end, name, signalValue, summit offset) rows."""
    path.write_text("".join(f"{c}\t{s}\t{e}\t{n}\t0\t.\t{v}\t-1\t-1\t{m}\n" for c, s, e, n, v, m in rows))
    return path


def test_overlapping_peaks_of_one_file_merge_into_the_strongest_and_are_counted(gen, tmp_path):
    # p1/p2: windows 60 bp apart (overlap 140 of 200 bp): merged into p2, the stronger; p3 is 240 bp from p2: kept
    bed = _np(tmp_path / "o.narrowPeak", [("chr1", 50000, 50100, "p1", 5.0, 50), ("chr1", 50060, 50160, "p2", 9.0, 50),
                                          ("chr1", 50300, 50400, "p3", 1.0, 50), ("chr2", 200000, 200100, "p4", 1, 50),
                                          ("chr3", 300000, 300100, "p5", 1, 50), ("chr3", 300000, 300100, "p6", 1, 50)])
    rep = encode_intervals([bed], gen.fa, tmp_path / "o.h5", length=L, plots=False, seed=3)
    assert rep["dropped"]["merged overlap (same file)"] == 2  # p1 into p2, and p6 (the same window) into p5
    assert rep["records_read"] == 6 == rep["read_written"] + sum(rep["dropped"].values())
    assert rep["positives"] == 4 == rep["negatives_made"]  # negatives match the positives left after merging
    r = _records(tmp_path / "o.h5")
    assert r.ids[:4] == ["p2", "p3", "p4", "p5"] and r.start[0] == 50060 + 50 - L // 2  # on p2's summit
    assert r.ds_attrs["negatives"]["overlaps"] == "merged"
    assert r.ds_attrs["dropped"]["merged overlap (same file)"] == 2
    rep = encode_intervals([bed], gen.fa, tmp_path / "k.h5", length=L, plots=False, seed=3, keep_overlaps=True)
    assert rep["dropped"]["merged overlap (same file)"] == 0 and rep["positives"] == 6 == rep["negatives_made"]
    assert _records(tmp_path / "k.h5").ds_attrs["negatives"]["overlaps"] == "kept"
    # multilabel: the rule is per file; a window of another file on the same spot is the union's merge
    other = _np(tmp_path / "b.narrowPeak", [("chr1", 50070, 50170, "q1", 1.0, 50),
                                            ("chr2", 250000, 250100, "q2", 1, 50)])
    rep = encode_intervals([bed, other], gen.fa, tmp_path / "m.h5", length=L, plots=False)
    assert rep["dropped"]["merged overlap (same file)"] == 2 and rep["dropped"]["merged overlap (across files)"] == 1
    assert rep["records_read"] == 8 == rep["read_written"] + sum(rep["dropped"].values())
    r = _records(tmp_path / "m.h5")
    assert r.y[r.ids.index("p2")].tolist() == [1, 1]  # the merged window carries both files' labels


def test_duplicate_names_name_both_lines_and_header_lines_are_counted(gen, tmp_path):
    bed = tmp_path / "d.bed"
    bed.write_text("track name=x\nchr1\t50000\t50200\t32\nchr2\t60000\t60200\t7\nchr3\t70000\t70200\t32\n")
    with pytest.raises(SeqcnnError) as err:
        encode_intervals([bed], gen.fa, tmp_path / "d.h5", length=L, plots=False)
    msg = str(err.value)
    assert msg.startswith(f"{bed}: line 2: name '32' (column 4) is used again on line 4")
    assert "must be unique" in msg and "put '.' in column 4" in msg and not (tmp_path / "d.h5").exists()
    given = tmp_path / "n.bed"
    given.write_text("chr2\t100000\t100200\t7\n")  # the same name in --negatives-bed: both files named
    bed.write_text("# peaks\ntrack name=x\nchr1\t50000\t50200\t32\nchr2\t60000\t60200\t7\nchr3\t70000\t70200\t9\n")
    with pytest.raises(SeqcnnError, match=f"line 4: name '7' .* used again on {given} line 1"):
        encode_intervals([bed], gen.fa, tmp_path / "d.h5", length=L, negatives_bed=given, plots=False)
    rep = encode_intervals([bed], gen.fa, tmp_path / "d.h5", length=L, plots=False)
    assert rep["skipped_lines"] == 2 and rep["records_read"] == 3


def test_one_chromosome_genome_splits_by_position_blocks(gen, tmp_path):
    """A genome of one chromosome: the chromosome split cannot work, position blocks do, with no window shared."""
    from seqcnn.splits import leakage

    fa = tmp_path / "one.fa"
    fa.write_text(">chr1\n" + "\n".join(gen.chroms["chr1"][i:i + 80] for i in range(0, 400_000, 80)) + "\n")
    peaks = pd.read_csv(gen.ctcf, sep="\t", header=None)
    bed = tmp_path / "one.narrowPeak"
    peaks[peaks[0] == "chr1"].to_csv(bed, sep="\t", header=False, index=False)
    n = int((peaks[0] == "chr1").sum())
    for negatives in ("gc-matched", "flank"):
        out = tmp_path / f"one_{negatives}.h5"
        rep = encode_intervals([bed], fa, out, length=L, negatives=negatives, plots=False, seed=2)
        assert rep["records_read"] == n == rep["read_written"] + sum(rep["dropped"].values())
        assert rep["negatives_made"] == rep["positives"] and rep["split_chroms"] is None
        plan = rep["split_blocks"]
        assert plan["chroms"] == ["chr1"] and plan["n_blocks"] == 10 and "too few" in plan["why"]
        r = _records(out)
        assert r.ds_attrs["split_method"] == "position-blocks" and r.ds_attrs["split_blocks"]["test"] == plan["test"]
        for code in (1, 2):
            assert ((r.split == code) & (r.y == 1)).any()
        block = (r.start + L // 2) * 10 // 400_000
        np.testing.assert_array_equal(r.split, np.asarray(plan["codes"])[block])
        assert leakage(r.split, coords={"chrom": r.chrom, "start": r.start, "end": r.end})["overlapping"] == 0
    # named chromosomes are the user's choice: still refused on one chromosome
    with pytest.raises(SeqcnnError, match="too few for train"):
        encode_intervals([bed], fa, tmp_path / "x.h5", length=L, holdout_chrom=["chr1"], plots=False)
