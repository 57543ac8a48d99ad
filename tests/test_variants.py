"""Tests of seqcnn.variants: every scoring path equals plain model calls; the verb end to end, counts, bad input."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))

from interpret_helpers import make_run, randomize

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
        assert (path2 == "forward").all() and np.abs(r2 - r).max() < 1e-4 and np.abs(a2 - a).max() < 1e-4
        want_r, want_a = plain(ref), plain(alt)
        if strands == "both":
            want_r = (want_r + plain(ref[:, ::-1, ::-1])) / 2
            want_a = (want_a + plain(alt[:, ::-1, ::-1])) / 2
        assert np.abs(want_a - want_r).max() > 0.05  # not vacuous
        assert np.abs(r - want_r).max() < 1e-4 and np.abs(a - want_a).max() < 1e-4, strands
        assert r.shape == (len(ref), n_outputs)
    assert list(path[[0, 3, 5, 6, 7, 8]]) == ["snv", "snv", "forward", "forward", "forward", "forward"]


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
    t = pd.read_csv(out, sep="\t")
    assert list(t.columns[:6]) == ["chrom", "pos", "id", "ref", "alt", "ref_match"]
    assert list(t.pos) == [100, 100, 300, 500] and list(t.id[:2]) == ["rs1", "rs1"] and t.ref_match.all()
    np.testing.assert_allclose(t.delta_logit, t.alt_logit - t.ref_logit, atol=2e-5)
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
    assert abs(frame.ref_logit[0] - logits[0]) < 1e-4 and abs(frame.alt_logit[0] - logits[1]) < 1e-4
    # Streaming: blocks of 2 input records give the same table and skipped rows, byte for byte.
    from seqcnn.variants import run_variants

    r = run_variants(run, tmp_path / "blocks.tsv", vcf=vcf, genome=d / "g.fa", block_records=2, plots=False)
    assert r["records_read"] == 6 and r["scored"] == 4 and sum(r["skipped"].values()) == 3
    assert (tmp_path / "blocks.tsv").read_bytes() == out.read_bytes()
    assert (tmp_path / "blocks.skipped.tsv").read_bytes() == (tmp_path / "effects.skipped.tsv").read_bytes()
    run_variants(run, tmp_path / "blocks2.h5", vcf=vcf, genome=d / "g.fa", block_records=2, plots=False)
    import h5py

    with h5py.File(tmp_path / "blocks2.h5") as h5:
        np.testing.assert_allclose(h5["delta_logit"][:], t.delta_logit, atol=1e-5)
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
    np.testing.assert_allclose(part.delta_logit_z, nt.delta_logit_z[:len(part)], atol=1e-6)
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
        np.testing.assert_allclose(h5["delta_logit"][:], t.delta_logit, atol=1e-5)


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
