"""Tests of seqcnn.simulate and ``seqcnn simulate``: planted sites, designs, and the shipped data."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqcnn.encoding import one_hot, reverse_complement_seq
from seqcnn.errors import SeqcnnError
from seqcnn.simulate import HUMAN_DINUCLEOTIDE, markov_background, simulate

ROOT = Path(__file__).resolve().parents[1]


def _log_odds(site, pfm):
    x = one_hot(site).astype(float)
    return float((x * np.log((pfm + 1e-3) / 0.25)).sum())


def test_planted_sites_match_the_motif():
    s = simulate(300, 80, ["MA0139.1"], seed=4)
    pfm = s.motifs["CTCF"]
    assert s.labels["label"].sum() == 150
    pos_ids = set(s.labels.loc[s.labels.label == 1, "id"])
    assert set(s.sites["id"]) == pos_ids
    seqs = dict(zip(s.ids, s.seqs))
    scores, random_scores = [], []
    rng = np.random.default_rng(0)
    for row in s.sites.itertuples():
        site = seqs[row.id][row.start:row.end]
        if row.strand == "-":
            site = reverse_complement_seq(site)
        scores.append(_log_odds(site, pfm))
        j = rng.integers(0, 80 - 19)
        random_scores.append(_log_odds(seqs[row.id][j:j + 19], pfm))
    # Planted sites score far above random windows of the same sequences.
    assert np.median(scores) > np.median(random_scores) + 10
    assert {"+", "-"} == set(s.sites.strand)


def test_designs():
    mc = simulate(90, 60, ["MA0139.1", "MA0037.4", "MA0095.3"], design="multiclass", seed=1)
    assert mc.labels["label"].value_counts().to_dict() == {"CTCF": 30, "Gata3": 30, "Yy1": 30}
    ml = simulate(400, 80, ["MA0139.1", "MA0037.4"], design="multilabel", positive_fraction=0.3, seed=1)
    assert list(ml.labels.columns) == ["id", "CTCF", "Gata3"]
    assert 0.2 < ml.labels["CTCF"].mean() < 0.4
    both = ml.labels[(ml.labels.CTCF == 1) & (ml.labels.Gata3 == 1)]["id"]
    assert (ml.sites[ml.sites.id.isin(both)].groupby("id").size() == 2).all()


def test_custom_pfm_and_errors():
    s = simulate(20, 30, [("AAAA", np.tile([1, 0, 0, 0], (6, 1)))], seed=0)
    for row in s.sites.itertuples():
        site = dict(zip(s.ids, s.seqs))[row.id][row.start:row.end]
        assert site == ("AAAAAA" if row.strand == "+" else "TTTTTT")
    with pytest.raises(SeqcnnError, match="too short"):
        simulate(10, 10, ["MA0139.1"])
    with pytest.raises(SeqcnnError, match="not found"):
        simulate(10, 100, ["MA9999.9"])
    with pytest.raises(SeqcnnError, match="at least two motifs"):
        simulate(10, 100, ["MA0139.1"], design="multiclass")


def test_dinucleotide_background_has_cpg_depletion():
    codes = markov_background(500, 400, np.random.default_rng(0))
    pairs = codes[:, :-1] * 4 + codes[:, 1:]
    freq = np.bincount(pairs.ravel(), minlength=16).reshape(4, 4).astype(float)
    trans = freq / freq.sum(1, keepdims=True)
    np.testing.assert_allclose(trans, HUMAN_DINUCLEOTIDE / HUMAN_DINUCLEOTIDE.sum(1, keepdims=True), atol=0.01)


def test_cli_simulate_and_refuses_overwrite(cli, tmp_path):
    r = cli("simulate", "-o", tmp_path / "s", "-n", "50", "--length", "60", "--motif", "MA0139.1",
            "--motif", "MA0037.4", "--design", "multilabel", "--seed", "3")
    assert r.exit_code == 0, r.stderr
    labels = pd.read_csv(tmp_path / "s_labels.csv")
    assert list(labels.columns) == ["id", "CTCF", "Gata3"] and len(labels) == 50
    assert cli("encode", tmp_path / "s.fa", "-l", tmp_path / "s_labels.csv", "--label-column", "CTCF",
               "--label-column", "Gata3", "-o", tmp_path / "s.h5").exit_code == 0
    before = (tmp_path / "s.fa").read_text()
    r = cli("simulate", "-o", tmp_path / "s", "-n", "10", "--length", "60")
    assert r.exit_code == 2 and "already exists" in r.stderr
    assert (tmp_path / "s.fa").read_text() == before
    r = cli("simulate", "-o", tmp_path / "t", "--motif", "MA0000.0")
    assert r.exit_code == 2 and "not found" in r.stderr and not (tmp_path / "t.fa").exists()


def test_shipped_data_is_reproducible(cli, tmp_path):
    readme = (ROOT / "data" / "README.md").read_text()
    commands = re.findall(r"^seqcnn simulate .*$", readme, flags=re.M)
    assert len(commands) == 2
    for command in commands:
        args = command.split()[1:]
        prefix = args[args.index("-o") + 1]
        args[args.index("-o") + 1] = str(tmp_path / Path(prefix).name)
        assert cli(*args).exit_code == 0
        for suffix in (".fa", "_labels.csv", "_sites.csv"):
            shipped = (ROOT / f"{prefix}{suffix}").read_bytes()
            assert (tmp_path / f"{Path(prefix).name}{suffix}").read_bytes() == shipped, suffix


def _gc(s):
    s = s.upper()
    return (s.count("G") + s.count("C")) / max(1, len(s) - s.count("N"))


def test_simulated_genome_peaks_sites_gaps_and_gc_domains():
    from scipy.stats import ks_2samp

    from seqcnn.simulate import simulate_genome

    g = simulate_genome(n_chroms=3, chrom_length=600_000, motifs=["MA0139.1", "MA0037.4"], n_peaks=150, seed=2)
    assert list(g.chroms) == ["chr1", "chr2", "chr3"] and {len(s) for s in g.chroms.values()} == {600_000}
    assert set(g.peaks) == {"CTCF", "Gata3"} and all(len(f) == 150 for f in g.peaks.values())
    assert all(set(s[:10_000]) == {"N"} for s in g.chroms.values())  # a gap at each start
    low = np.mean([c.islower() for c in g.chroms["chr1"][10_000:]])
    assert 0.05 < low < 0.15  # soft-masked stretches
    for name, frame in g.peaks.items():
        assert (frame.start >= 10_000).all() and (frame.end <= 600_000).all()
        width = frame.end - frame.start
        assert (frame.summit >= 0).all() and (frame.summit < width).all()
        assert (np.abs(frame.summit - width // 2) > 10).mean() > 0.5  # summits are off-centre
        # within one motif, peaks do not overlap
        for c, f in frame.groupby("chrom"):
            assert (f.start.to_numpy()[1:] >= f.end.to_numpy()[:-1]).all()
    # every site sits on its peak's summit and reads as its motif (strand-aware) better than chance
    pfm = g.motifs["CTCF"]
    sites = g.sites[g.sites.motif == "CTCF"].merge(g.peaks["CTCF"], left_on="peak", right_on="name",
                                                 suffixes=("", "_peak"))
    k = pfm.shape[0]
    assert ((sites.start - sites.start_peak) == sites.summit - k // 2).all()
    logp = []
    for c, s0, strand in zip(sites.chrom, sites.start, sites.strand):
        seq = g.chroms[c][s0:s0 + k].upper()
        seq = reverse_complement_seq(seq) if strand == "-" else seq
        logp.append(np.log(pfm[np.arange(k), ["ACGT".index(b) for b in seq]] + 1e-3).sum())
    assert np.mean(logp) > k * np.log(0.25) + 5
    # peaks prefer GC-rich domains: their centres are not GC-matched by uniformly random windows
    peaks = g.peaks["CTCF"]
    centre = (peaks.start + peaks.end) // 2
    pgc = [_gc(g.chroms[c][m - 100:m + 100]) for c, m in zip(peaks.chrom, centre)]
    rng = np.random.default_rng(0)
    rgc = [_gc(g.chroms[f"chr{rng.integers(1, 4)}"][s:s + 200]) for s in rng.integers(10_000, 599_000, 1000)]
    assert np.mean(pgc) > np.mean(rgc) + 0.03 and ks_2samp(pgc, rgc).statistic > 0.2


def test_simulated_variants_disrupt_sites_or_lie_far_from_peaks():
    from seqcnn.simulate import simulate_genome

    g = simulate_genome(n_chroms=2, chrom_length=300_000, motifs=["MA0139.1"], n_peaks=60, seed=3)
    v = g.variants
    assert (v.kind == "disrupt").sum() == (v.kind == "neutral").sum() > 50
    assert all(g.chroms[c][p - 1].upper() == r for c, p, r in zip(v.chrom, v.pos, v.ref))  # REF is the genome's
    assert (v.ref != v.alt).all() and set(v.expected) == {-1, 0}
    pfm, k = g.motifs["CTCF"], len(g.motifs["CTCF"])

    def log_odds(seq):
        return np.log(pfm[np.arange(k), ["ACGT".index(b) for b in seq]] + 1e-3).sum()

    # A disrupting SNV lies in its site and lowers the site's motif log-odds (on the site's strand).
    sites = g.sites.set_index("peak")
    for row in v[v.kind == "disrupt"].itertuples():
        site = sites.loc[row.id[len("disrupt_"):]]
        assert site.start < row.pos <= site.end
        seq = g.chroms[row.chrom][site.start:site.end].upper()
        mut = seq[:row.pos - 1 - site.start] + row.alt + seq[row.pos - site.start:]
        if site.strand == "-":
            seq, mut = reverse_complement_seq(seq), reverse_complement_seq(mut)
        assert log_odds(mut) < log_odds(seq) - 2
    # Neutral SNVs lie 2 kb or more from every peak.
    peaks = g.peaks["CTCF"]
    for row in v[v.kind == "neutral"].itertuples():
        on = peaks[peaks.chrom == row.chrom]
        assert not ((on.start - 2000 < row.pos) & (row.pos <= on.end + 2000)).any()


def test_cli_simulate_genome_files_read_back(cli, tmp_path):
    from seqcnn.genome import Genome
    from seqcnn.intervals import read_bed

    prefix = tmp_path / "g"
    r = cli("simulate", "--genome", "-o", prefix, "--chroms", "2", "--chrom-length", "200000", "--peaks", "40",
            "--motif", "MA0139.1", "--seed", "4")
    assert r.exit_code == 0, r.stderr
    assert "g_CTCF.narrowPeak (40 peaks)" in r.stdout
    with Genome(f"{prefix}.fa") as genome:
        assert genome.lengths == {"chr1": 200_000, "chr2": 200_000}
    iv = read_bed(tmp_path / "g_CTCF.narrowPeak")
    assert iv.kind == "narrowPeak" and len(iv) == 40 and (iv.summit >= 0).all()
    assert pd.read_csv(tmp_path / "g_sites.csv").shape[0] == 40
    from seqcnn.variant_io import read_vcf

    v = read_vcf(tmp_path / "g_variants.vcf")  # the VCF reads back through pysam
    assert len(v) == 80 and set(v.chrom) <= {"chr1", "chr2"} and "g_variants.vcf (80 SNVs" in r.stdout
    again = cli("simulate", "--genome", "-o", prefix, "--chroms", "2", "--chrom-length", "200000", "--peaks", "40")
    assert again.exit_code == 2 and "already exists" in again.stderr
    wrong = cli("simulate", "--genome", "-o", tmp_path / "x", "--design", "multiclass")
    assert wrong.exit_code == 2 and "--design applies to simulated sequence sets" in wrong.stderr
    assert not list(tmp_path.glob("x*"))
