"""Tests of seqcnn.variants: every scoring path equals plain model calls; the verb end to end, counts, bad input."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))

from interpret_helpers import make_run, randomize
from numerics import assert_close

from conftest import write_fasta

L = 40
ARCHS = [
    ("deepbind", dict(filters=6, kernel_size=7, dense_units=5)),
    ("primer", dict(filters=6, kernel_size=7, pool_size=4, dense_units=5)),
    ("basset", dict(filters=(6, 6, 6), kernel_sizes=(7, 5, 3), pool_sizes=(3, 2, 2), dense_units=(6, 6))),
]


def _pairs(n=24, seed=0):
    """Reference windows and alternatives: SNVs (one to a former N), a change to N, MNPs, indel-like shifts."""
    rng = np.random.default_rng(seed)
    ref = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, L))]
    ref[3, 10] = 0                                                   # an N in the reference
    alt = ref.copy()
    for k in range(n):
        i = int(rng.integers(0, L)) if k != 3 else 10
        alt[k, i] = np.eye(4, dtype=np.uint8)[(int(np.argmax(ref[k, i])) + 1 + k % 3) % 4]
    alt[5, 7] = 0                                                    # a change to N: not an SNV
    alt[6, 20:23] = np.eye(4, dtype=np.uint8)[[0, 1, 2]]             # several bases
    alt[7] = np.roll(ref[7], 3, axis=0)                              # a shifted window, as after an indel
    alt[8] = ref[8]                                                  # identical
    return ref, alt


@pytest.mark.numerics
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("arch,params", ARCHS, ids=[a for a, _ in ARCHS])
def test_every_path_equals_plain_model_calls(arch, params, n_outputs):
    from seqcnn.models import build_model
    from seqcnn.variants import score_pairs

    model = randomize(build_model(arch, L, "binary" if n_outputs == 1 else "multilabel", n_outputs, **params), 3)
    ref, alt = _pairs()

    def plain(x):
        return np.asarray(model(x.astype(np.float32), training=False), np.float64)

    for strands in ("forward", "both"):
        r, a, path = score_pairs(model, ref, alt, strands=strands, batch_size=5, snv="kernel")
        r2, a2, path2 = score_pairs(model, ref, alt, strands=strands, batch_size=5)
        assert (path2 == "forward").all()
        assert_close(r2, r)  # the SNV kernel and forward passes: two paths to the same logits
        assert_close(a2, a, scale=np.abs(r).max())
        want_r, want_a = plain(ref), plain(alt)
        if strands == "both":
            want_r = (want_r + plain(ref[:, ::-1, ::-1])) / 2
            want_a = (want_a + plain(alt[:, ::-1, ::-1])) / 2
        assert np.abs(want_a - want_r).max() > 0.05  # not vacuous
        assert_close(r, want_r, err_msg=strands)
        assert_close(a, want_a, scale=np.abs(want_r).max(), err_msg=strands)
        assert r.shape == (len(ref), n_outputs)
    assert list(path[[0, 3, 5, 6, 7, 8]]) == ["snv", "snv", "forward", "forward", "forward", "forward"]
    # forward passes with stable keys: a subset (a shard, a block) scores each row to the whole input's bits
    keys = np.arange(len(ref)) + 11
    whole_r, whole_a, _ = score_pairs(model, ref, alt, batch_size=4, keys=keys)
    sub = np.array([1, 2, 6, 7])
    part_r, part_a, _ = score_pairs(model, ref[sub], alt[sub], batch_size=4, keys=keys[sub])
    np.testing.assert_array_equal(part_r, whole_r[sub])
    np.testing.assert_array_equal(part_a, whole_a[sub])


@pytest.fixture(scope="module")
def genome_run(tmp_path_factory):
    """A random-weight deepbind run of 40 bp inputs and a random genome with one chromosome of 2 kb."""
    from seqcnn.models import build_model

    d = tmp_path_factory.mktemp("variants")
    model = randomize(build_model("deepbind", L, "binary", 1, **ARCHS[0][1]), 4)
    run = make_run(d / "run", model)
    rng = np.random.default_rng(9)
    seq = "".join(rng.choice(list("ACGT"), 2000))
    write_fasta(d / "g.fa", [("chr1", seq)])
    return d, run, seq


def _vcf(path, rows):
    head = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=2000>\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    path.write_text(head + "".join(f"chr1\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n" for p, i, r, a in rows))
    return path


def test_variants_cli_end_to_end(cli, genome_run, tmp_path):
    from seqcnn import variant_effects  # the Python API

    d, run, seq = genome_run
    other = {b: "ACGT"[("ACGT".index(b) + 1) % 4] for b in "ACGT"}
    rows = [(100, "rs1", seq[99], f"{other[seq[99]]},{other[other[seq[99]]]}"),   # multi-allelic SNV
            (300, ".", seq[299:303], seq[299]),                                  # deletion
            (500, "ins", seq[499], seq[499] + "GATTACA"),                        # insertion
            (700, ".", other[seq[699]], "A"),                                    # REF mismatch: skipped
            (5, ".", seq[4], "C"),                                               # runs off the chromosome
            (900, ".", seq[899], "<DEL>")]                                       # symbolic
    vcf = _vcf(tmp_path / "v.vcf", rows)
    out = tmp_path / "effects.tsv"
    res = cli("variants", run, "--vcf", vcf, "--genome", d / "g.fa", "-o", out, "--plot-top", "3")
    assert res.exit_code == 0, res.output
    assert "records read 6 (7 alleles) = scored 4 + skipped 3" in res.output
    assert "figures: 3 PNG in" in res.output and len(list((tmp_path / "effects_plots").glob("*.png"))) == 3
    assert "REF does not match the genome 1" in res.output and "symbolic ALT 1" in res.output
    # one REF mismatch of 5 checked is a handful, not a coordinate error: skipped, counted, the run goes on;
    # the insertion's alternative window was trimmed back to L: counted as cropped
    assert "; windows of the scored: cropped 1\n" in res.output
    t = pd.read_csv(out, sep="\t")
    assert list(t.columns[:6]) == ["chrom", "pos", "id", "ref", "alt", "ref_match"]
    # each allele's differing bases in its window (the VCF anchor base left out; the insertion's trim moves ALT)
    o = L // 2
    assert t[["ref_block_start", "ref_block_end", "alt_block_start", "alt_block_end"]].values.tolist() == [
        [o, o + 1, o, o + 1], [o, o + 1, o, o + 1], [o + 1, o + 4, o + 1, o + 1], [o + 1, o + 1, o - 3 + 1, o - 3 + 8]]
    assert list(t.window_fit) == ["whole", "whole", "whole", "cropped"]
    assert list(t.pos) == [100, 100, 300, 500] and list(t.id[:2]) == ["rs1", "rs1"] and t.ref_match.all()
    # written with 6 significant digits: well inside the float32 tolerance of the logits' magnitude
    assert_close(t.delta_logit, t.alt_logit - t.ref_logit, scale=np.abs(t.ref_logit).max())
    assert (t.path == "forward").all()
    skipped = pd.read_csv(tmp_path / "effects.skipped.tsv", sep="\t")
    assert sorted(skipped.reason) == ["REF does not match the genome", "symbolic ALT",
                                      "window runs off the chromosome"]
    # The library call gives the same numbers; the SNV's logits equal the model on windows cut by hand.
    frame = variant_effects(run, vcf=vcf, genome=d / "g.fa", strands="forward", snv="kernel")
    assert list(frame.path) == ["snv", "snv", "forward", "forward"]
    from seqcnn.encoding import one_hot
    from seqcnn.rundir import load_run

    model, _ = load_run(run)
    o = L // 2
    w = seq[99 - o:99 - o + L]
    x = np.stack([one_hot(w), one_hot(w[:o] + other[seq[99]] + w[o + 1:])]).astype(np.float32)
    logits = np.asarray(model(x))[:, 0]
    assert_close(frame.ref_logit[0], logits[0], scale=np.abs(logits).max())
    assert_close(frame.alt_logit[0], logits[1], scale=np.abs(logits).max())
    # Streaming: blocks of 2 input records give the same table and skipped rows, byte for byte.
    from seqcnn.variants import run_variants

    r = run_variants(run, tmp_path / "blocks.tsv", vcf=vcf, genome=d / "g.fa", block_records=2, plots=False)
    assert r["records_read"] == 6 and r["scored"] == 4 and sum(r["skipped"].values()) == 3
    assert (tmp_path / "blocks.tsv").read_bytes() == out.read_bytes()
    assert (tmp_path / "blocks.skipped.tsv").read_bytes() == (tmp_path / "effects.skipped.tsv").read_bytes()
    run_variants(run, tmp_path / "blocks2.h5", vcf=vcf, genome=d / "g.fa", block_records=2, plots=False)
    import h5py

    with h5py.File(tmp_path / "blocks2.h5") as h5:
        assert_close(h5["delta_logit"][:], t.delta_logit, scale=np.abs(t.ref_logit).max())  # float32 vs 6 digits
        assert [v.decode() for v in h5["chrom"][:]] == list(t.chrom)
    # Shards: contiguous parts of the input whose tables concatenate to the unsharded run's, byte for byte.
    for n in (3, 7):
        parts = [tmp_path / f"s{n}_{k}.tsv" for k in range(1, n + 1)]
        for k, part in enumerate(parts, 1):
            res = cli("variants", run, "--vcf", vcf, "--genome", d / "g.fa", "-o", part, "--shard", f"{k}/{n}", "-q",
                      "--no-plots")
            assert res.exit_code == 0, res.output  # 7 shards of 6 records: the last is empty, and written
        assert b"".join(p.read_bytes() for p in parts) == out.read_bytes()
        assert b"".join((tmp_path / f"{p.stem}.skipped.tsv").read_bytes() for p in parts) == (
            tmp_path / "effects.skipped.tsv").read_bytes()
    # --null: z-scores and empirical p-values for substitutions (NaN for indels), the same in any shard.
    res = cli("variants", run, "--vcf", vcf, "--genome", d / "g.fa", "-o", tmp_path / "n.tsv", "--null", "20", "-q",
              "--no-plots")
    assert res.exit_code == 0, res.output
    nt = pd.read_csv(tmp_path / "n.tsv", sep="\t")
    assert nt.delta_logit_z[:2].notna().all() and nt.delta_logit_z[2:].isna().all()
    p = nt.delta_logit_p[:2]
    assert ((p >= 1 / 21) & (p <= 1)).all()
    res = cli("variants", run, "--vcf", vcf, "--genome", d / "g.fa", "-o", tmp_path / "n2.tsv", "--null", "20",
              "--shard", "1/3", "-q", "--no-plots")
    assert res.exit_code == 0, res.output
    part = pd.read_csv(tmp_path / "n2.tsv", sep="\t")
    assert part.delta_logit_z[:2].notna().all()  # the two ALTs of the SNV record
    assert_close(part.delta_logit_z, nt.delta_logit_z[:len(part)])
    assert "is not K/N" in cli("variants", run, "--vcf", vcf, "--genome", d / "g.fa", "-o", tmp_path / "z.tsv",
                               "--shard", "4/3").output
    # No overwrite without --force; CSV and HDF5 outputs by extension.
    again = cli("variants", run, "--vcf", vcf, "--genome", d / "g.fa", "-o", out)
    assert again.exit_code == 2 and "exists" in again.output
    assert cli("variants", run, "--vcf", vcf, "--genome", d / "g.fa", "-o", tmp_path / "x.tsv", "--no-plots",
               "-q").exit_code == 0
    clash = cli("variants", run, "--vcf", vcf, "--genome", d / "g.fa", "-o", tmp_path / "effects.csv")
    assert clash.exit_code == 2 and "already exists" in clash.output  # a stem's skipped rows and figures too
    res = cli("variants", run, "--vcf", vcf, "--genome", d / "g.fa", "-o", tmp_path / "e.h5", "-q",
              "--no-plots")
    assert res.exit_code == 0
    import h5py

    with h5py.File(tmp_path / "e.h5") as h5:
        assert_close(h5["delta_logit"][:], t.delta_logit, scale=np.abs(t.ref_logit).max())


def test_variants_allele_pairs(cli, genome_run, tmp_path):
    d, run, seq = genome_run
    a = write_fasta(tmp_path / "ref.fa", [("p1", seq[:L]), ("p2", seq[100:100 + L])])
    alt2 = seq[100:120] + "T" + seq[121:100 + L] if seq[120] != "T" else seq[100:120] + "A" + seq[121:100 + L]
    b = write_fasta(tmp_path / "alt.fa", [("p1", seq[:10] + seq[15:L + 5]), ("p2", alt2)])
    res = cli("variants", run, "--ref-fasta", a, "--alt-fasta", b, "-o", tmp_path / "p.csv", "--no-plots")
    assert res.exit_code == 0, res.output
    assert "records read 2 = scored 2 + skipped 0" in res.output
    t = pd.read_csv(tmp_path / "p.csv")
    assert list(t.id) == ["p1", "p2"] and list(t.kind) == ["substitutions", "snv"]


def _both_strands(model, windows):
    """The run's logit of each window (str), averaged with its reverse complement's, by plain model calls."""
    from seqcnn.encoding import one_hot

    x = one_hot(list(windows), allow_iupac=True).astype(np.float32)
    return (np.asarray(model(x))[:, 0] + np.asarray(model(x[:, ::-1, ::-1]))[:, 0]) / 2


def _allele_pairs(tmp_path, seq):
    """Five pairs: an SNV far off the centre, a 3 bp deletion, two SNVs 91 bp apart, identical, a short pair."""
    flip = {b: "ACGT"[("ACGT".index(b) + 1) % 4] for b in "ACGT"}
    pairs = [("edge", seq[:100], seq[:5] + flip[seq[5]] + seq[6:100]),
             ("del", seq[200:300], seq[200:250] + seq[253:300]),
             ("far", seq[400:500], seq[400:405] + flip[seq[405]] + seq[406:495] + flip[seq[495]] + seq[496:500]),
             ("same", seq[600:700], seq[600:700]),
             ("short", seq[800:825], seq[800:810] + flip[seq[810]] + seq[811:825])]
    a = write_fasta(tmp_path / "ref.fa", [(i, r) for i, r, _ in pairs])
    b = write_fasta(tmp_path / "alt.fa", [(i, s) for i, _, s in pairs])
    return a, b, {i: (r, s) for i, r, s in pairs}


def test_allele_pairs_are_aligned_on_the_change_and_counted(cli, genome_run, tmp_path):
    """Before: each allele was cut to its centre 40 bp on its own, so 'edge' scored delta 0, 'far' too, and the
    deletion's windows were shifted against each other. Now one window start in both alleles, on the change."""
    from seqcnn.rundir import load_run

    d, run, seq = genome_run
    a, b, pairs = _allele_pairs(tmp_path, seq)
    res = cli("variants", run, "--ref-fasta", a, "--alt-fasta", b, "-o", tmp_path / "p.tsv", "--no-plots")
    assert res.exit_code == 0, res.output
    assert ("records read 5 = scored 3 + skipped 2 (differing block longer than the window 1, identical alleles 1);"
            " windows of the scored: cropped 2, padded 1") in res.output
    t = pd.read_csv(tmp_path / "p.tsv", sep="\t").set_index("id")
    assert list(t.index) == ["edge", "del", "short"]
    assert list(t.window_fit) == ["cropped", "cropped", "padded"]
    # each allele's block in its window; the windows start at the same place in both alleles
    assert t.loc["edge", ["window_start", "ref_block_start", "ref_block_end", "alt_block_start",
                          "alt_block_end"]].tolist() == [0, 5, 6, 5, 6]
    start = 50 - (L - 3) // 2
    assert t.loc["del", ["window_start", "ref_block_start", "ref_block_end", "alt_block_start",
                         "alt_block_end"]].tolist() == [start, 50 - start, 53 - start, 50 - start, 50 - start]
    s = int(t.loc["short", "window_start"])
    assert s < 0 and t.loc["short", "ref_block_start"] == 10 - s
    # the logits are the model's on those windows (both strands), written plainly
    model, _ = load_run(run)

    def window(allele, start):
        return "".join(allele[i] if 0 <= i < len(allele) else "N" for i in range(start, start + L))

    for pid in t.index:
        r, x = pairs[pid]
        w0 = int(t.loc[pid, "window_start"])
        want = _both_strands(model, [window(r, w0), window(x, w0)])
        got = t.loc[pid, ["ref_logit", "alt_logit"]].to_numpy(float)
        # scale 1: the table's 6 significant digits must not fail small logits
        assert_close(got, want, scale=1.0, err_msg=pid)
    assert abs(t.loc["edge", "delta_logit"]) > 1e-3  # the SNV the centred window used to miss is seen
    # --pair-anchor allele: windows on the allele's centre, moved only as far as the block needs
    res = cli("variants", run, "--ref-fasta", a, "--alt-fasta", b, "-o", tmp_path / "q.tsv", "--no-plots",
              "--pair-anchor", "allele")
    assert res.exit_code == 0, res.output
    q = pd.read_csv(tmp_path / "q.tsv", sep="\t").set_index("id")
    assert list(q.index) == list(t.index) and (q.window_start != t.window_start).any()
    for side in ("ref", "alt"):
        assert (q[f"{side}_block_start"] >= 0).all() and (q[f"{side}_block_end"] <= L).all()
    skipped = pd.read_csv(tmp_path / "p.skipped.tsv", sep="\t")
    assert list(skipped.id) == ["far", "same"] and list(skipped.reason) == [
        "differing block longer than the window", "identical alleles"]
    assert skipped.ref_block_length.tolist() == [91, 0]


def test_variant_figure_and_jaspar_check_get_each_alleles_block(genome_run, tmp_path, monkeypatch):
    """The figure shades, and best_hit scans, each allele's own differing block (the deletion: 3 bp in ref, the
    junction in alt), as the table's block columns say."""
    from seqcnn import motif_compare, plots
    from seqcnn.variants import run_variants

    d, run, seq = genome_run
    a, b, _ = _allele_pairs(tmp_path, seq)
    drawn, scanned = {}, []
    draw, hit = plots.variant_figure, motif_compare.best_hit

    def figure(ref_attr, alt_attr, ref_block, alt_block, path, **kw):
        drawn[os.path.basename(path).split("_", 1)[1][:-4]] = (tuple(ref_block), tuple(alt_block))
        return draw(ref_attr, alt_attr, ref_block, alt_block, path, **kw)

    def best_hit(*args, blocks=None, **kw):
        scanned.append(tuple(map(tuple, blocks)))
        return hit(*args, blocks=blocks, **kw)

    monkeypatch.setattr(plots, "variant_figure", figure)
    monkeypatch.setattr(motif_compare, "best_hit", best_hit)
    r = run_variants(run, tmp_path / "p.tsv", ref_fasta=a, alt_fasta=b, plot_top=3)
    assert len(r["figures"]) == 3 and all(os.path.getsize(p) > 0 for p in r["figures"])
    t = pd.read_csv(tmp_path / "p.tsv", sep="\t").set_index("id")
    want = {i: ((t.loc[i, "ref_block_start"], t.loc[i, "ref_block_end"]),
                (t.loc[i, "alt_block_start"], t.loc[i, "alt_block_end"])) for i in t.index}
    assert drawn == want and sorted(scanned) == sorted(want.values())
    assert want["del"][1][0] == want["del"][1][1] and want["del"][0][1] - want["del"][0][0] == 3


def test_zero_based_table_stops_unless_told_to_skip(cli, genome_run, tmp_path):
    """Before: a note and exit 0, the mismatching rows skipped and the rest scored at the wrong place. Now: exit 2
    naming the file, the count and the fix (0-based: a one-base shift matches); --ref-mismatch skip scores the
    rest and counts the skipped."""
    d, run, seq = genome_run
    p0 = np.arange(100, 1900, 90)
    other = {b: "ACGT"[("ACGT".index(b) + 1) % 4] for b in "ACGT"}
    table = tmp_path / "zero.tsv"
    table.write_text("chrom\tpos\tref\talt\n" + "".join(f"chr1\t{p}\t{seq[p]}\t{other[seq[p]]}\n" for p in p0))
    n_bad = int(sum(seq[p - 1] != seq[p] for p in p0))
    assert n_bad > 3
    out = tmp_path / "e.tsv"
    res = cli("variants", run, "--table", table, "--genome", d / "g.fa", "-o", out)
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line and str(table) in line and f"{n_bad} of {len(p0)} REF alleles" in line, line
    assert "0-based" in line and "add 1 to every position" in line and "--ref-mismatch skip" in line
    assert not out.exists() and not (tmp_path / "e.skipped.tsv").exists()
    # a long input stops after its first block with enough REF alleles checked, before scoring the rest
    import seqcnn.variants as variants_mod
    from seqcnn.errors import SeqcnnError

    scored = []
    real_score = variants_mod._score
    variants_mod._Tally.EARLY_CHECK, old_early = 5, variants_mod._Tally.EARLY_CHECK
    variants_mod._score = lambda block, *a, **k: scored.append(1) or real_score(block, *a, **k)
    try:
        with pytest.raises(SeqcnnError, match="0-based"):
            variants_mod.run_variants(run, str(tmp_path / "early.tsv"), table=str(table), genome=str(d / "g.fa"),
                                      block_records=6, plots=False)
    finally:
        variants_mod._score, variants_mod._Tally.EARLY_CHECK = real_score, old_early
    assert len(scored) < len(p0) // 6 and not (tmp_path / "early.tsv").exists()
    res = cli("variants", run, "--table", table, "--genome", d / "g.fa", "-o", out, "--ref-mismatch", "skip",
              "--no-plots")
    assert res.exit_code == 0, res.output
    assert (f"records read {len(p0)} = scored {len(p0) - n_bad} + skipped {n_bad} (REF does not match the genome "
            f"{n_bad})") in res.output
    assert len(pd.read_csv(tmp_path / "e.skipped.tsv", sep="\t")) == n_bad
    # the same table 1-based scores every row
    fixed = tmp_path / "one.tsv"
    fixed.write_text("chrom\tpos\tref\talt\n" + "".join(f"chr1\t{p + 1}\t{seq[p]}\t{other[seq[p]]}\n" for p in p0))
    res = cli("variants", run, "--table", fixed, "--genome", d / "g.fa", "-o", tmp_path / "f.tsv", "--no-plots")
    assert res.exit_code == 0 and f"scored {len(p0)} + skipped 0" in res.output, res.output


def test_plain_gzip_vcf_scores_like_plain_and_bgzip(cli, genome_run, tmp_path):
    """Before: `gzip v.vcf` gave a Python traceback and exit 1 (pysam cannot seek in it)."""
    import gzip

    import pysam

    d, run, seq = genome_run
    other = {b: "ACGT"[("ACGT".index(b) + 1) % 4] for b in "ACGT"}
    vcf = _vcf(tmp_path / "v.vcf", [(p, ".", seq[p - 1], other[seq[p - 1]]) for p in (300, 700, 1100)])
    with gzip.open(tmp_path / "plain.vcf.gz", "wb") as fh:
        fh.write(vcf.read_bytes())
    pysam.tabix_compress(str(vcf), str(tmp_path / "bgzip.vcf.gz"))
    tables = []
    for name in ("v.vcf", "plain.vcf.gz", "bgzip.vcf.gz"):
        out = tmp_path / f"{name}.tsv"
        res = cli("variants", run, "--vcf", tmp_path / name, "--genome", d / "g.fa", "-o", out, "--no-plots")
        assert res.exit_code == 0, res.output
        assert "records read 3 = scored 3 + skipped 0 (none)" in res.output
        tables.append(out.read_bytes())
    assert tables[0] == tables[1] == tables[2]


def test_variants_help_says_what_runs_by_default():
    """Every window is scored by forward passes (path 'forward'); the SNV kernel is a Python option."""
    from click.testing import CliRunner

    from seqcnn.cli import main

    text = " ".join(CliRunner().invoke(main, ["variants", "--help"]).output.split())
    assert "every one scored by a forward pass" in text and "snv='kernel'" in text
    assert "[default: check]" in text and "0-based" in text


@pytest.mark.parametrize("make,words", [
    (lambda p, seq: dict(vcf=_vcf(p / "b.vcf", [("x", ".", "A", "C")])), ["line 4", "cannot be parsed"]),
    (lambda p, seq: dict(vcf=_vcf(p / "e.vcf", [])), ["no variants"]),
    (lambda p, seq: dict(ref_fasta=write_fasta(p / "r.fa", [("a", "ACGT")]),
                         alt_fasta=write_fasta(p / "s.fa", [("b", "ACGA")])), ["id 'a'", "missing"]),
    (lambda p, seq: dict(vcf=_vcf(p / "long.vcf", [(500, ".", seq[499:530], "A")])), ["do not fit the model's 40 bp"]),
])
def test_variants_bad_input_one_line_exit_2_no_output(cli, genome_run, tmp_path, make, words):
    d, run, seq = genome_run
    kw = make(tmp_path, seq)
    args = [f"--{k.replace('_', '-')}" for k in kw]
    argv = ["variants", run]
    for flag, value in zip(args, kw.values()):
        argv += [flag, value]
    if "vcf" in kw:
        argv += ["--genome", d / "g.fa"]
    out = tmp_path / "o.tsv"
    res = cli(*argv, "-o", out)
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line and line.startswith("seqcnn: error:")
    for w in words:
        assert w in line, (w, line)
    assert not out.exists() and not (tmp_path / "o.skipped.tsv").exists()


@pytest.mark.slow
def test_trained_model_scores_simulated_variants_with_the_expected_signs(tmp_path):
    """simulate --genome plants sites and writes SNVs that disrupt them (expected < 0) or lie far from every peak
    (expected ~0); a model trained on the peaks must rank the disrupting ones below the neutral ones."""
    from sklearn.metrics import roc_auc_score

    from seqcnn import training
    from seqcnn.genome_encode import encode_intervals
    from seqcnn.simulate import write_genome_simulation
    from seqcnn.variants import variant_effects

    sim = write_genome_simulation(str(tmp_path / "sim"), n_chroms=4, chrom_length=600_000, motifs=["MA0139.1"],
                                  n_peaks=300, seed=1)
    encode_intervals([sim["peaks"]["CTCF"]], sim["fasta"], tmp_path / "d.h5", length=100, plots=False)
    r = training.train(tmp_path / "d.h5", tmp_path / "run", params={"filters": 16, "kernel_size": 19,
                       "dense_units": 16}, epochs=15, batch_size=64, lr=0.003, quiet=True, n_boot=100)
    assert r["metrics"]["test"]["auroc"] > 0.85  # the model learned the motif (measured 0.95)
    effects = variant_effects(tmp_path / "run", vcf=sim["variants"], genome=sim["fasta"])
    truth = pd.read_csv(sim["variants"], sep="\t", comment="#", header=None).iloc[:, 7].str.contains("disrupt")
    assert len(effects) == len(truth)  # every simulated SNV is scored (REF matches, windows fit)
    disrupt = truth.to_numpy()
    d = effects.delta_logit.to_numpy()
    # measured: medians -0.156 (disrupting) and 0.005 (neutral); 99.7 % of disrupting SNVs negative; AUROC 0.96
    assert np.median(d[disrupt]) < -0.05 and abs(np.median(d[~disrupt])) < 0.2 * abs(np.median(d[disrupt]))
    assert (d[disrupt] < 0).mean() > 0.9
    assert roc_auc_score(disrupt, -d) > 0.9


def test_variant_figures_name_sites_from_the_runs_jaspar_group(cli, genome_run, tmp_path, monkeypatch):
    """A run trained with --jaspar fungi titles its variant figures with fungal motifs, without the option;
    --jaspar overrides it; a wrong group is one line listing the groups, before anything is scored."""
    import json
    import shutil

    from seqcnn import plots

    d, run, seq = genome_run
    fungi_run = tmp_path / "fungi_run"
    shutil.copytree(run, fungi_run)
    cfg = json.loads((fungi_run / "config.json").read_text())
    cfg["training"] = {"jaspar": "fungi"}   # what 'seqcnn train --jaspar fungi' records
    (fungi_run / "config.json").write_text(json.dumps(cfg))
    titles, draw = [], plots.variant_figure

    def spy(*args, title=None, **kw):
        titles.append(title)
        return draw(*args, title=title, **kw)

    monkeypatch.setattr(plots, "variant_figure", spy)
    other = {b: "ACGT"[("ACGT".index(b) + 1) % 4] for b in "ACGT"}
    vcf = _vcf(tmp_path / "v.vcf", [(p, ".", seq[p - 1], other[seq[p - 1]]) for p in (200, 400)])

    def run_verb(r, name, *extra):
        res = cli("variants", r, "--vcf", vcf, "--genome", d / "g.fa", "-o", tmp_path / name, "--plot-top", "2",
                  *extra)
        assert res.exit_code == 0, res.output
        shown = titles[:]
        titles.clear()
        return res.stdout, shown

    stdout, shown = run_verb(fungi_run, "f.tsv")
    assert "sites from JASPAR2024 CORE fungi" in stdout and len(shown) == 2
    assert all("JASPAR fungi" in t for t in shown), shown
    stdout, shown = run_verb(fungi_run, "p.tsv", "--jaspar", "plants")
    assert "sites from JASPAR2024 CORE plants" in stdout and all("JASPAR plants" in t for t in shown), shown
    stdout, shown = run_verb(run, "v.tsv")   # a run recorded before train --jaspar
    assert "sites from JASPAR2024 CORE vertebrates" in stdout and all("JASPAR vertebrates" in t for t in shown)
    res = cli("variants", fungi_run, "--vcf", vcf, "--genome", d / "g.fa", "-o", tmp_path / "bad.tsv",
              "--jaspar", "yeast")
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
    assert "'yeast'" in res.output and "fungi" in res.output and "vertebrates" in res.output
    assert not (tmp_path / "bad.tsv").exists()


def _pad(start, L, *lengths):
    """N bases over the windows [start, start + L) of alleles of the given lengths."""
    return sum(max(0, -start) + max(0, start + L - n) for n in lengths)


def test_pair_windows_shifts_hold_the_block_and_add_no_padding():
    """Test-time shifts: every valid shifted window holds the whole differing block in both alleles, is the
    alleles' own bases from its start, and shows no more N than the unshifted windows; the others are invalid
    for one of those reasons; index K is the unshifted window, and shifts=0 returns today's windows."""
    from seqcnn.variant_io import pair_windows

    rng = np.random.default_rng(5)
    seq = "".join(rng.choice(list("ACGT"), 300))
    flip = {b: "ACGT"[("ACGT".index(b) + 1) % 4] for b in "ACGT"}
    K = 4
    ref = [seq[:100], seq[100:200], seq[:25], seq[:120], seq[:100]]
    alt = [seq[:3] + flip[seq[3]] + seq[4:100],                          # an SNV 3 bp from the start: left shifts pad
           seq[100:150] + seq[153:200],                                  # a 3 bp deletion in the middle: all valid
           seq[:10] + flip[seq[10]] + seq[11:25],                        # shorter than the window: padded already
           seq[:40] + "".join(flip[b] for b in seq[40:80]) + seq[80:120],  # a block of exactly L: no room to move
           seq[:60] + "GAT" + seq[60:100]]                               # an insertion
    w0 = pair_windows(ref, alt, L)
    w = pair_windows(ref, alt, L, shifts=K)
    assert "shift_ref" not in w0
    for key in ("ref", "alt", "rows", "window_start", "ref_block", "alt_block", "cropped", "padded"):
        np.testing.assert_array_equal(w[key], w0[key], err_msg=key)
    np.testing.assert_array_equal(w["shift_ref"][:, K], w0["ref"])
    np.testing.assert_array_equal(w["shift_alt"][:, K], w0["alt"])
    valid = w["shift_valid"]
    assert valid.shape == (5, 2 * K + 1) and valid[:, K].all()
    for j, k in enumerate(w["rows"]):
        w_start = int(w["window_start"][j])
        block_start = w_start + int(w["ref_block"][j, 0])                # the block's first base in both alleles
        big = int(w["block_length"][k].max())
        for i, s in enumerate(range(w_start - K, w_start + K + 1)):
            holds = s <= block_start and block_start + big <= s + L
            no_more_n = _pad(s, L, len(ref[k]), len(alt[k])) <= _pad(w_start, L, len(ref[k]), len(alt[k]))
            assert valid[j, i] == (holds and no_more_n), (k, s)
            if valid[j, i]:
                for allele, win in ((ref[k], w["shift_ref"][j, i]), (alt[k], w["shift_alt"][j, i])):
                    want = "".join(allele[p] if 0 <= p < len(allele) else "N" for p in range(s, s + L))
                    assert win.tobytes().decode() == want
    assert valid.sum(1).tolist() == [4, 2 * K + 1, 2 * K + 1, 1, 2 * K + 1]  # the SNV: starts 0..3 only


@pytest.mark.numerics
def test_variant_effects_shifts_average_the_shifted_windows(genome_run, tmp_path):
    """shifts=K: each pair's logits are the mean of the model's (both strands, plain calls) over its valid
    shifted windows, shifts_used counts them; shifts=0 is today's table, column for column."""
    from seqcnn.rundir import load_run
    from seqcnn.variant_io import pair_windows
    from seqcnn.variants import variant_effects

    d, run, seq = genome_run
    a, b, pairs = _allele_pairs(tmp_path, seq)
    today = variant_effects(run, ref_fasta=a, alt_fasta=b)
    pd.testing.assert_frame_equal(variant_effects(run, ref_fasta=a, alt_fasta=b, shifts=0), today)
    t = variant_effects(run, ref_fasta=a, alt_fasta=b, shifts=3).set_index("id")
    today = today.set_index("id")
    assert list(t.index) == list(today.index) == ["edge", "del", "short"]
    assert t.shifts_used.tolist() == [4, 7, 7]  # edge: left shifts would pad; short: padded alike anywhere
    cols = ["window_start", "ref_block_start", "ref_block_end", "alt_block_start", "alt_block_end", "window_fit"]
    pd.testing.assert_frame_equal(t[cols], today[cols])  # the block columns describe the unshifted window
    model, _ = load_run(run)
    w = pair_windows([pairs[i][0] for i in t.index], [pairs[i][1] for i in t.index], L, shifts=3)
    for j, pid in enumerate(t.index):
        keep = w["shift_valid"][j]
        wins = [x.tobytes().decode() for x in w["shift_ref"][j, keep]] + [
            x.tobytes().decode() for x in w["shift_alt"][j, keep]]
        logits = _both_strands(model, wins).reshape(2, -1).mean(1)
        assert_close(t.loc[pid, ["ref_logit", "alt_logit"]].to_numpy(float), logits, err_msg=pid)
        assert_close(t.loc[pid, "delta_logit"], logits[1] - logits[0], scale=np.abs(logits).max(), err_msg=pid)
    assert np.abs(t.delta_logit - today.delta_logit).max() > 1e-4  # the shifts changed something


def test_variants_shifts_bad_use_one_line_exit_2(cli, genome_run, tmp_path):
    """--shifts on genome variants, with --null, or negative: one line, exit 2, nothing written."""
    from seqcnn.errors import SeqcnnError
    from seqcnn.variants import variant_effects

    d, run, seq = genome_run
    a, b, _ = _allele_pairs(tmp_path, seq)
    vcf = _vcf(tmp_path / "v.vcf", [(500, ".", seq[499], "A" if seq[499] != "A" else "C")])
    out = tmp_path / "o.tsv"
    for argv, words in ((["--vcf", vcf, "--genome", d / "g.fa", "--shifts", "2"], "allele pairs"),
                        (["--ref-fasta", a, "--alt-fasta", b, "--shifts", "2", "--null", "5"], "--null"),
                        (["--ref-fasta", a, "--alt-fasta", b, "--shifts", "-1"], "negative")):
        res = cli("variants", run, *argv, "-o", out, "--no-plots")
        line = res.output.strip()
        assert res.exit_code == 2 and "\n" not in line and words in line, line
        assert not out.exists()
    with pytest.raises(SeqcnnError, match="negative"):
        variant_effects(run, ref_fasta=a, alt_fasta=b, shifts=-2)
