"""Tests of seqcnn.genomewide (seqcnn evaluate --genome --peaks): labels by overlap, auPRC and recall at FDR
against hand-made answers and scikit-learn, the end-to-end verb on a simulated genome, the refusal of training
chromosomes, bad input, and the report's genome-wide section."""

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

from numerics import assert_close
from seqcnn.genomewide import genome_metrics, label_windows, pr_points, recall_at_fdr, region_table
from seqcnn.intervals import IntervalIndex


def test_windows_are_positive_where_they_share_min_overlap_bases_with_a_peak():
    # peaks chr1:[100, 200) and [150, 260) merge into [100, 260); chr2:[1000, 1010)
    index = IntervalIndex(["chr1", "chr1", "chr2"], [100, 150, 1000], [200, 260, 1010])
    starts = np.array([0, 10, 11, 200, 210, 211, 990, 1005])
    chrom = np.array(["chr1"] * 6 + ["chr2"] * 2, dtype=object)
    # L = 100: default min_overlap 50 → window [10,110) has 10 bases: no; [60,160)? not asked.
    got = label_windows(index, chrom, starts, 100)
    # overlaps: [0,100)→0, [10,110)→10, [11,111)→11, [200,300)→60, [210,310)→50, [211,311)→49,
    #           [990,1090)→10, [1005,1105)→5
    assert got.tolist() == [False, False, False, True, True, False, False, False]
    got = label_windows(index, chrom, starts, 100, min_overlap=10)
    assert got.tolist() == [False, True, True, True, True, True, True, False]
    # min_overlap 0 still needs one shared base (as genome-mode encode's rule)
    assert label_windows(index, "chr1", [0, 1], 100, min_overlap=0).tolist() == [False, True]


def test_peaks_narrower_than_min_overlap_are_noted_with_the_fix():
    from seqcnn.genomewide import _short_peak_note

    # motif-site peaks (20-30 bp) against the default 100 bp of a 200 bp window: no window can be positive
    note = _short_peak_note([0, 100, 500], [20, 130, 524], 100, ["XV"])
    assert len(note) == 1 and "3 of 3 peaks on XV are shorter than --min-overlap 100" in note[0]
    assert "median 24 bp" in note[0] and "--min-overlap 1 (" in note[0] and "--min-overlap 12 (" in note[0]
    # broad peaks, or a --min-overlap already below half the median width: nothing to say
    assert _short_peak_note([0, 1000], [400, 1500], 100, ["XV"]) == []
    assert _short_peak_note([0, 100, 500], [20, 130, 524], 10, ["XV"]) == []


def test_recall_at_fdr_on_a_hand_made_ranking():
    # ranked high to low: + + - + - - + - - -  (4 positives)
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0], bool)
    s = np.arange(10, 0, -1, dtype=float)
    # precision at each cut: 1, 1, .667, .75, .6, .5, .571, .5, .444, .4
    assert recall_at_fdr(y, s, 0.1) == 0.5      # precision >= 0.9 up to the 2nd window: 2/4
    assert recall_at_fdr(y, s, 0.5) == 1.0      # precision 4/7 >= 0.5 at the 7th window: 4/4
    assert recall_at_fdr(y, s, 0.3) == 0.75     # 3/4 at precision 0.75
    assert recall_at_fdr(~y, s, 0.1) == 0.0     # the top window is negative: no threshold reaches 0.9
    # tied scores count as one threshold: a tie of a positive and a negative at the top has precision 0.5
    assert recall_at_fdr(np.array([1, 0, 0], bool), np.array([2.0, 2.0, 1.0]), 0.1) == 0.0
    assert recall_at_fdr(np.array([1, 0, 0], bool), np.array([2.0, 2.0, 1.0]), 0.5) == 1.0


@pytest.mark.numerics
def test_auprc_and_auroc_equal_scikit_learn_with_ties():
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.random(20000) < 0.02
    s = np.round(rng.normal(size=20000) + 2.0 * y, 1)    # rounded: many tied scores
    m = genome_metrics(y, s)
    assert_close(m["auprc"], average_precision_score(y, s), err_msg="auPRC")
    assert_close(m["auroc"], roc_auc_score(y, s), err_msg="auROC")
    assert m["n"] == 20000 and m["n_pos"] == int(y.sum()) and m["positive_fraction"] == y.mean()
    # recall at FDR equals the largest recall of sklearn's curve whose precision reaches 1 - FDR
    p, r, _ = precision_recall_curve(y, s)
    for f in (0.1, 0.5):
        ok = p >= 1 - f
        assert m["recall_at_fdr"][str(f)] == pytest.approx(r[ok].max() if ok.any() else 0.0)
    # the stored curve is a subsample of sklearn's points, thin enough for the JSON
    pts = set(zip(np.round(r, 6), np.round(p, 6)))
    assert len(m["curve"]["recall"]) <= 1001
    assert all((a, b) in pts for a, b in zip(m["curve"]["recall"], m["curve"]["precision"]))
    assert m["curve"]["recall"][-1] == 1.0
    # one class only: the metrics are undefined, not an error
    assert genome_metrics(np.zeros(5, bool), np.arange(5.0))["auprc"] is None


def test_regions_rank_tiles_by_auprc():
    centre = np.r_[np.arange(0, 100_000, 50), np.arange(0, 50_000, 50)]
    chrom = np.array(["a"] * 2000 + ["b"] * 1000, dtype=object)
    y = np.zeros(3000, bool)
    y[[10, 20, 1500, 1600, 2500]] = True      # a:[0,50k) 2 positives, a:[50k,100k) 2, b:[0,50k) 1
    s = np.zeros(3000)
    s[[10, 20]] = 5.0                          # a:[0,50k) found perfectly
    s[2500] = -5.0                             # b: its positive ranked last
    rows = region_table(chrom, centre, y, s, lengths={"b": 40_000})
    assert [(r["chrom"], r["start"]) for r in rows] == [("a", 0), ("a", 50_000), ("b", 0)]
    assert rows[0]["auprc"] == 1.0 and rows[-1]["auprc"] == pytest.approx(1 / 1000)
    assert rows[0]["n"] == 1000 and rows[0]["n_pos"] == 2 and rows[-1]["end"] == 40_000


# --- end to end on a simulated genome ---

L = 100


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    """A simulated 3 x 120 kb genome with CTCF peaks, a genome-mode set (test chr3, val chr2, train chr1) and a
    tiny run trained on it for one epoch."""
    from seqcnn import training
    from seqcnn.genome_encode import encode_intervals
    from seqcnn.simulate import write_genome_simulation

    d = tmp_path_factory.mktemp("gw")
    rep = write_genome_simulation(str(d / "sim"), n_chroms=3, chrom_length=120_000, motifs=["MA0139.1"],
                                  n_peaks=70, seed=5)
    enc = encode_intervals([rep["peaks"]["CTCF"]], rep["fasta"], d / "t.h5", length=L, plots=False)
    assert enc["split_chroms"] == {"test": ["chr3"], "val": ["chr2"]}
    training.train(d / "t.h5", d / "run", params={"filters": 4, "kernel_size": 9, "dense_units": 4}, epochs=1,
                   quiet=True, plots=False, n_boot=0)
    return SimpleNamespace(d=d, fa=rep["fasta"], peaks=rep["peaks"]["CTCF"], run=d / "run")


def _oracle(gw, chrom, stride, min_overlap=L // 2, max_n=0.1):
    """Every grid window cut plainly and run through the model; labels by a per-base peak mask."""
    from seqcnn.encoding import one_hot
    from seqcnn.genome import Genome
    from seqcnn.intervals import read_bed
    from seqcnn.rundir import load_run

    model, _ = load_run(gw.run)
    with Genome(gw.fa) as g:
        size = g.lengths[chrom]
        centre = np.arange(stride // 2, size, stride)
        start = centre - L // 2
        on = (start >= 0) & (start + L <= size)
        centre, start = centre[on], start[on]
        seqs = g.windows(np.full(len(start), chrom, dtype=object), start, L)
    acgt = np.isin(seqs, np.frombuffer(b"ACGTacgt", np.uint8))
    keep = (1 - acgt.mean(axis=1)) <= max_n
    centre, start, seqs = centre[keep], start[keep], seqs[keep]
    x = one_hot(seqs.view(f"S{L}").ravel().astype(str))
    logits = model.predict(x, batch_size=512, verbose=0)[:, 0]
    iv = read_bed(gw.peaks)
    mask = np.zeros(size + 1, np.int64)
    for s, e in zip(iv.start[iv.chrom == chrom], iv.end[iv.chrom == chrom]):
        mask[s:e] = 1
    cov = np.r_[0, np.cumsum(mask)]
    y = (cov[start + L] - cov[start]) >= min_overlap
    return SimpleNamespace(centre=centre, y=y, logits=logits, dropped_off=int((~on).sum()),
                           dropped_n=int((~keep).sum()))


@pytest.mark.slow
@pytest.mark.numerics
def test_genome_wide_evaluate_equals_plainly_cut_windows_and_sklearn(cli, gw, tmp_path):
    from sklearn.metrics import average_precision_score, roc_auc_score

    out = tmp_path / "gw.json"
    r = cli("evaluate", gw.run, "--genome", gw.fa, "--peaks", gw.peaks, "--chroms", "chr3", "--stride", 25, "-o", out)
    assert r.exit_code == 0, r.stderr
    m = json.loads(out.read_text())
    o = _oracle(gw, "chr3", 25)
    assert m["n"] == len(o.y) and m["n_pos"] == int(o.y.sum()) and 0 < m["n_pos"] < m["n"]
    assert m["windows"] == {"read": 120_000 // 25, "scored": len(o.y),
                            "dropped": {"off_chromosome": o.dropped_off, "n_rich": o.dropped_n}}
    assert f"windows read {120_000 // 25} = scored {len(o.y)} + dropped {o.dropped_off + o.dropped_n}" in r.stdout
    # near-tied windows may swap places between the exact path and cut windows (float32 rounding): the
    # tolerance is that of a few swapped ranks, far below any difference between models
    assert_close(m["auprc"], average_precision_score(o.y, o.logits), ulps=2 ** 13, scale=1.0, err_msg="auPRC")
    assert_close(m["auroc"], roc_auc_score(o.y, o.logits), ulps=2 ** 13, scale=1.0, err_msg="auROC")
    assert m["positive_fraction"] == pytest.approx(o.y.mean())
    assert set(m["recall_at_fdr"]) == {"0.1", "0.5"} and m["method"] in ("global", "local", "chain", "batched")
    assert m["chroms"] == ["chr3"] and m["stride"] == 25 and m["min_overlap"] == L // 2 and m["seconds"] > 0
    assert m["label"] == "sim_CTCF" and m["allow_train_chroms"] is False
    assert (tmp_path / "gw_pr.png").stat().st_size > 10_000
    assert f"auPRC {m['auprc']:.3f}" in r.stdout and "recall at 10% FDR" in r.stdout
    best, worst = m["regions"]["best"], m["regions"]["worst"]
    assert best["chrom"] == "chr3" and best["auprc"] >= worst["auprc"] and m["regions"]["n"] >= 1
    # --min-overlap changes the labels as the rule says
    r = cli("evaluate", gw.run, "--genome", gw.fa, "--peaks", gw.peaks, "--chroms", "chr3", "--stride", 25,
            "--min-overlap", 1, "--json", "-q")
    assert r.exit_code == 0, r.stderr
    m1 = json.loads(r.stdout)
    assert m1["n_pos"] == int(_oracle(gw, "chr3", 25, min_overlap=1).y.sum()) > m["n_pos"]


def test_training_chromosomes_are_refused_unless_allowed(cli, gw, sim_binary, tmp_path):
    out = tmp_path / "gw.json"
    for chroms in ("chr1", "chr3,chr2"):     # chr1 trained, chr2 selected the model
        r = cli("evaluate", gw.run, "--genome", gw.fa, "--peaks", gw.peaks, "--chroms", chroms, "-o", out)
        assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "trained or selected its model on" in r.stderr and "--allow-train-chroms" in r.stderr
        assert not out.exists() and not list(tmp_path.iterdir())
    r = cli("evaluate", gw.run, "--genome", gw.fa, "--peaks", gw.peaks, "--chroms", "chr1", "--allow-train-chroms",
            "--stride", 100, "-o", out, "--no-plots")
    assert r.exit_code == 0, r.stderr
    assert json.loads(out.read_text())["allow_train_chroms"] is True and not (tmp_path / "gw_pr.png").exists()
    # a run on a FASTA-mode dataset cannot be checked: said in a note, evaluated anyway
    import shutil

    fasta_run = tmp_path / "fasta_run"
    shutil.copytree(gw.run, fasta_run)
    cfg = json.loads((fasta_run / "config.json").read_text())
    cfg["data"]["path"] = str(sim_binary)
    (fasta_run / "config.json").write_text(json.dumps(cfg))
    r = cli("evaluate", fasta_run, "--genome", gw.fa, "--peaks", gw.peaks, "--chroms", "chr1", "--stride", 100, "-q")
    assert r.exit_code == 0, r.stderr
    assert "seqcnn: note:" in r.stderr and "FASTA-mode" in r.stderr and "cannot be checked" in r.stderr
    # a one-chromosome genome split by position blocks: the hint names the held-out region
    from seqcnn.genome_encode import encode_intervals
    from seqcnn.simulate import write_genome_simulation

    one = write_genome_simulation(str(tmp_path / "one"), n_chroms=1, chrom_length=120_000, motifs=["MA0139.1"],
                                  n_peaks=60, seed=2)
    enc = encode_intervals([one["peaks"]["CTCF"]], one["fasta"], tmp_path / "one.h5", length=L, plots=False)
    test_region = enc["split_blocks"]["regions"]["test"][0]
    cfg["data"]["path"] = str(tmp_path / "one.h5")
    (fasta_run / "config.json").write_text(json.dumps(cfg))
    r = cli("evaluate", fasta_run, "--genome", one["fasta"], "--peaks", one["peaks"]["CTCF"], "--chroms", "chr1", "-q")
    assert r.exit_code == 2 and "position blocks" in r.stderr and test_region in r.stderr, r.stderr
    # the dataset file gone: say how to proceed
    cfg["data"]["path"] = str(tmp_path / "gone.h5")
    (fasta_run / "config.json").write_text(json.dumps(cfg))
    r = cli("evaluate", fasta_run, "--genome", gw.fa, "--peaks", gw.peaks, "--chroms", "chr3", "-q")
    assert r.exit_code == 2 and "is gone" in r.stderr and "--allow-train-chroms" in r.stderr


def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, gw, tmp_path):
    out = tmp_path / "gw.json"
    ucsc = tmp_path / "ensembl.bed"
    ucsc.write_text("3\t1000\t1500\n3\t5000\t5400\n")
    base = ("evaluate", gw.run, "--genome", gw.fa)
    cases = [
        (base + ("--peaks", ucsc, "--chroms", "chr3"), "named like"),
        (base + ("--peaks", gw.peaks, "--chroms", "chr9"), "'chr9' is not in the genome"),
        (base + ("--peaks", gw.peaks, "--chroms", "chr3", "--stride", 0), "--stride 0"),
        (base + ("--peaks", gw.peaks, "--chroms", "chr3", "--stride", L + 1), f"--stride {L + 1}"),
        (base + ("--peaks", gw.peaks), "--chroms"),
        (("evaluate", gw.run, tmp_path / "t.h5", "--genome", gw.fa, "--peaks", gw.peaks, "--chroms", "chr3"),
         "not both"),
        (("evaluate", gw.run), "give DATA"),
        (base + ("--peaks", gw.peaks, "--chroms", "chr3", "--output-name", "7"), "output 7"),
    ]
    for args, words in cases:
        r = cli(*args, "-o", out)
        assert r.exit_code == 2, (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, (args, r.stderr)
        assert not list(tmp_path.iterdir()) or list(tmp_path.iterdir()) == [ucsc]
    out.write_text("{}")
    r = cli(*base, "--peaks", gw.peaks, "--chroms", "chr3", "-o", out)
    assert r.exit_code == 2 and "already exists" in r.stderr and out.read_text() == "{}"


def test_report_genome_wide_section_shows_the_numbers_the_pr_curve_and_the_best_and_worst_regions(cli, gw, tmp_path):
    import base64
    import io
    import re

    from PIL import Image

    gwj, track, sites, html = (tmp_path / n for n in ("gw.json", "track.bw", "sites.bed", "r.html"))
    r = cli("evaluate", gw.run, "--genome", gw.fa, "--peaks", gw.peaks, "--chroms", "chr3", "--stride", 25, "-o", gwj,
            "-q")
    assert r.exit_code == 0, r.stderr
    r = cli("scan", gw.run, "--genome", gw.fa, "--chroms", "chr3", "--stride", 25, "-o", track, "--sites", sites,
            "--threshold", 0.5, "-q")
    assert r.exit_code == 0, r.stderr
    r = cli("report", gw.run, "--scan", track, "--genomewide", gwj, "--sites", sites, "-o", html)
    assert r.exit_code == 0, r.stderr
    assert "genomewide" in r.stdout
    m = json.loads(gwj.read_text())
    page = html.read_text()
    section = page[page.index('<section id="genomewide">'):page.index('<section id="provenance">')]
    text = re.sub(r"<[^>]+>", " ", section)
    for number in (f"{m['auprc']:.3f}", f"{m['auroc']:.3f}", f"{m['recall_at_fdr']['0.1']:.3f}",
                   f"{m['recall_at_fdr']['0.5']:.3f}", f"{m['positive_fraction']:.4f}", f"{m['n']:,}",
                   f"{m['n_pos']:,}", "sim_CTCF", "chr3"):
        assert number in text, number
    for kind in ("best", "worst"):
        reg = m["regions"][kind]
        assert f"{kind} region {reg['chrom']}:{reg['start']:,}-{reg['end']:,}" in section
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', section)
    assert len(images) == (3 if m["regions"]["best"] != m["regions"]["worst"] else 2)
    sizes = [Image.open(io.BytesIO(base64.b64decode(b))).size for b in images]
    assert all(w >= 500 and h >= 300 for w, h in sizes), sizes
    assert "genome-wide evaluation" in page and str(track) in page   # provenance rows
    # the track's row carries the command recorded in its summary (track.bw.json)
    assert json.loads((tmp_path / "track.bw.json").read_text())["command"].startswith("seqcnn scan") \
        and "seqcnn scan " in page[page.index('<section id="provenance">'):]
    # a JSON of another run is refused; --peaks alone has no section to draw
    other = json.loads(gwj.read_text())
    other["run"] = str(tmp_path)
    (tmp_path / "other.json").write_text(json.dumps(other))
    summary = json.loads((tmp_path / "track.bw.json").read_text())
    summary["run"] = str(tmp_path)
    (tmp_path / "track.bw.json").write_text(json.dumps(summary))
    for args, words in (((("--genomewide", tmp_path / "other.json")), "made with another run"),
                        (("--scan", track, "--genomewide", gwj), "scanned with another run"),
                        (("--peaks", gw.peaks), "--scan or --genomewide")):
        r = cli("report", gw.run, *args, "-o", tmp_path / "bad.html")
        assert r.exit_code == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (tmp_path / "bad.html").exists()
