"""Tests of seqcnn.scan (``seqcnn scan``): tracks against cutting the windows and calling the model, every drop rule
and count, shards merged against the unsharded track, bedGraph against bigWig, regions, called sites, bad input."""

import gzip
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

from interpret_helpers import make_run, randomize
from numerics import assert_close

L = 40
HP = {"filters": 6, "kernel_size": 7, "dense_units": 5}


@pytest.fixture(scope="module")
def sc(tmp_path_factory):
    """A simulated 3 x 20 kb genome (CTCF peaks) made awkward, a genome-mode dataset, and two random-weight runs.

    g.fa: sim.fa with soft-masked lower case, an internal N run (chr1:9000-9150, so windows partly in it cross
    --max-n), an IUPAC code (chr2:5000) and a 30 bp chromosome (shorter than a window); every chromosome starts
    with the simulation's N gap. ``run``: DeepBind-like binary (the 'global' path) recording the genome-mode
    dataset, so chromosome names are checked; ``run2``: a strand-averaged two-output multilabel model.
    """
    from seqcnn.genome_encode import encode_intervals
    from seqcnn.models import build_model
    from seqcnn.simulate import write_genome_simulation

    d = tmp_path_factory.mktemp("scan")
    rep = write_genome_simulation(str(d / "sim"), n_chroms=3, chrom_length=20_000, motifs=["MA0139.1"], n_peaks=20,
                                  seed=3, domain=5_000, gap=1_000)
    text = (d / "sim.fa").read_text().split(">")[1:]
    chroms = {t.split("\n", 1)[0]: t.split("\n", 1)[1].replace("\n", "") for t in text}
    c1 = chroms["chr1"]
    chroms["chr1"] = c1[:3000] + c1[3000:4000].lower() + c1[4000:9000] + "N" * 150 + c1[9150:]
    chroms["chr2"] = chroms["chr2"][:5000] + "R" + chroms["chr2"][5001:]
    chroms["chrS"] = "ACGTACGTAC" * 3
    with open(d / "g.fa", "w") as fh:
        for c, s in chroms.items():
            fh.write(f">{c}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n")
    # the same genome named the other way (1, 2, 3, S): a run trained on chr1.. must refuse it
    with open(d / "renamed.fa", "w") as fh:
        for c, s in chroms.items():
            fh.write(f">{c[3:]}\n{s}\n")
    encode_intervals([rep["peaks"]["CTCF"]], rep["fasta"], d / "data.h5", length=L, seed=1)
    model = randomize(build_model("deepbind", L, "binary", 1, **HP), seed=4, scale=0.8)
    run = make_run(d / "run", model, d / "data.h5")
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["path"] = str(d / "data.h5")  # as `seqcnn train` records it
    (run / "config.json").write_text(json.dumps(cfg))
    model2 = randomize(build_model("deepbind", L, "multilabel", 2, strands="average", **HP), seed=6, scale=0.8)
    run2 = make_run(d / "run2", model2, task="multilabel", label_names=["CTCF", "GATA 3"])
    return SimpleNamespace(d=d, fa=d / "g.fa", chroms=chroms, run=run, model=model, run2=run2, model2=model2)


def _cli(*args):
    from click.testing import CliRunner

    from seqcnn.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def _onehot(seq):
    table = np.zeros((256, 4), np.float32)
    for k, b in enumerate("ACGT"):
        table[ord(b), k] = table[ord(b.lower()), k] = 1
    return table[np.frombuffer(seq.encode(), np.uint8)]


def _expected(model, chroms, stride, max_n=0.1):
    """Per chromosome: grid centres, kept mask (by the documented rules) and the logits of plainly cut windows."""
    out = {}
    for c, s in chroms.items():
        centres = np.arange(stride // 2, len(s), stride)
        ws = centres - L // 2
        on = (ws >= 0) & (ws + L <= len(s))
        acgt = np.isin(np.frombuffer(s.encode(), np.uint8), np.frombuffer(b"ACGTacgt", np.uint8))
        nfrac = np.array([1 - acgt[w:w + L].mean() if o else 1.0 for w, o in zip(ws, on)])
        kept = on & (nfrac <= max_n)
        x = _onehot(s)
        logits = np.full((len(centres), int(model.outputs[0].shape[-1])), np.nan, np.float32)
        if kept.any():
            windows = np.stack([x[w:w + L] for w in ws[kept]])
            logits[kept] = np.concatenate([np.asarray(model(windows[i:i + 1024], training=False))
                                           for i in range(0, len(windows), 1024)])
        out[c] = SimpleNamespace(centres=centres, kept=kept, on=on, logits=logits)
    return out


def _bins(path, chrom, size, stride):
    """The track's value at each grid bin [k S, (k + 1) S) of ``chrom`` (NaN where none)."""
    from seqcnn.scan import read_track

    v = read_track(path, chrom, 0, size)
    return v[np.arange(0, size - stride // 2, stride)]


@pytest.mark.numerics
def test_track_equals_cut_windows_with_every_drop_counted(sc, tmp_path):
    """Stride 7 (odd: centres at c % 7 == 3): every bin's value equals the probability of the plainly cut window,
    at chromosome ends, N runs, IUPAC codes and soft-masked bases; dropped windows have no value; counts add up."""
    from seqcnn.metrics import link

    out = tmp_path / "t.bw"
    res = _cli("scan", sc.run, "--genome", sc.fa, "--stride", "7", "-o", out)
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "t.bw.json").read_text())
    want = _expected(sc.model, sc.chroms, 7)
    considered = scored = off = rich = 0
    for c, e in want.items():
        got = _bins(out, c, len(sc.chroms[c]), 7)
        assert len(got) == len(e.centres)
        np.testing.assert_array_equal(~np.isnan(got), e.kept)
        logits = e.logits[e.kept]
        assert_close(got[e.kept], link("binary", logits)[:, 0], scale=np.abs(logits).max(initial=0), ops=L * 4)
        row = summary["per_chrom"][c]
        assert row["considered"] == len(e.centres) and row["scored"] == int(e.kept.sum())
        assert row["dropped"] == {"off_chromosome": int((~e.on).sum()), "n_rich": int((e.on & ~e.kept).sum())}
        considered, scored = considered + len(e.centres), scored + int(e.kept.sum())
        off, rich = off + int((~e.on).sum()), rich + int((e.on & ~e.kept).sum())
    # the awkward places really were exercised: both ends, the N run (partly), the 30 bp chromosome
    assert want["chrS"].kept.sum() == 0 and (~want["chr1"].on).sum() == 6 and rich > 0
    assert 0 < want["chr1"].kept[(want["chr1"].centres > 9000) & (want["chr1"].centres < 9200)].sum() < 29
    assert summary["windows"] == {"considered": considered, "scored": scored,
                                  "dropped": {"off_chromosome": off, "n_rich": rich}}
    assert considered == scored + off + rich
    assert f"records read {considered} = scored {scored} + dropped {off + rich}" in res.output
    assert summary["method"] == "global" and summary["stride"] == 7 and summary["value"] == "probability"
    assert summary["bases"] == sum(map(len, sc.chroms.values()))
    # the file a genome browser opens: every chromosome of the genome in its order and length, zoom levels
    import pyBigWig

    bw = pyBigWig.open(str(out))
    assert list(bw.chroms().items()) == [(c, len(s)) for c, s in sc.chroms.items()]
    assert bw.header()["nLevels"] > 0
    bw.close()
    pbt = pytest.importorskip("pybigtools")  # another library reads the same values (where installed)
    other = pbt.open(str(out)).values("chr2", 0, len(sc.chroms["chr2"]), fillna=None)
    np.testing.assert_array_equal(np.asarray(other, np.float32)[np.arange(3, len(sc.chroms["chr2"]), 7)],
                                  _bins(out, "chr2", len(sc.chroms["chr2"]), 7))


@pytest.mark.slow
@pytest.mark.numerics
def test_strand_averaged_multi_output_logits_one_file_per_output(sc, tmp_path):
    """A strand-averaged two-output model: one file per output (name before the extension), logits equal the
    wrapper's on cut windows; --output-name writes one."""
    out = tmp_path / "m.bedgraph.gz"
    res = _cli("scan", sc.run2, "--genome", sc.fa, "--chroms", "chr2,chr1", "--stride", "13", "--value", "logit",
               "-o", out, "-q")
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["m.CTCF.bedgraph.gz", "m.GATA_3.bedgraph.gz", "m.bedgraph.gz.json"]
    want = _expected(sc.model2, {c: sc.chroms[c] for c in ("chr1", "chr2")}, 13)
    for k, name in enumerate(["CTCF", "GATA_3"]):
        for c, e in want.items():
            got = _bins(tmp_path / f"m.{name}.bedgraph.gz", c, len(sc.chroms[c]), 13)
            np.testing.assert_array_equal(~np.isnan(got), e.kept)
            assert_close(got[e.kept], e.logits[e.kept, k], ops=L * 4)
    with gzip.open(tmp_path / "m.CTCF.bedgraph.gz", "rt") as fh:
        lines = fh.read().splitlines()
    assert lines[0].startswith('track type=bedGraph name="CTCF"') and lines[1].startswith("chr1\t")  # genome order
    assert all(line.split("\t")[0] != "chr3" for line in lines[1:])
    res = _cli("scan", sc.run2, "--genome", sc.fa, "--chroms", "chr2", "--output-name", "GATA 3", "-o",
               tmp_path / "one.bw", "-q")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "one.bw").exists() and not list(tmp_path.glob("one.*.bw"))


def _intervals(path, chroms):
    import pyBigWig

    bw = pyBigWig.open(str(path))
    try:
        return {c: bw.intervals(c) for c in chroms}
    finally:
        bw.close()


def test_shards_merge_to_the_unsharded_track_exactly(sc, tmp_path):
    """Shards cut on slab boundaries (4 kb slabs here, so inside chromosomes): merged, every interval and value
    equals the unsharded run's (bigWig), the text is identical (bedGraph.gz), counts add up; the CLI merge form."""
    from seqcnn.scan import merge, plan_spans, scan

    lengths = {c: len(s) for c, s in sc.chroms.items()}
    spans = [(c, 0, n) for c, n in lengths.items()]
    shards = [plan_spans(lengths, spans, 4096, (k, 3)) for k in (1, 2, 3)]
    assert sum(shards, []) == plan_spans(lengths, spans, 4096)  # disjoint, in order, covering everything
    sizes = [sum(e - s for _, s, e in p) for p in shards]
    assert max(sizes) - min(sizes) <= 2 * 4096 and shards[1][0][1] % 4096 == 0
    for ext in ("bw", "bedgraph.gz"):
        whole = scan(sc.run, sc.fa, tmp_path / f"whole.{ext}", stride=10, slab_bases=4096)
        parts = [tmp_path / f"p{k}.{ext}" for k in (1, 2, 3)]
        for k, p in enumerate(parts, 1):
            scan(sc.run, sc.fa, p, stride=10, slab_bases=4096, shard=(k, 3))
        if ext == "bw":
            res = _cli("scan", "--merge", *parts, "-o", tmp_path / "merged.bw", "--sites", tmp_path / "ms.bed",
                       "--threshold", "0.5")
            assert res.exit_code == 0, res.output
            w = whole["windows"]
            assert f"records read {w['considered']} = scored {w['scored']}" in res.output
            assert _intervals(tmp_path / "merged.bw", lengths) == _intervals(tmp_path / "whole.bw", lengths)
            # sites called on the merged track are those of the unsharded run, crossing shard edges included
            scan(sc.run, sc.fa, tmp_path / "ws.bw", stride=10, slab_bases=4096, sites=tmp_path / "ws.bed",
                 threshold=0.5)
            assert (tmp_path / "ms.bed").read_text() == (tmp_path / "ws.bed").read_text()
            assert (tmp_path / "ms.bed").read_text().count("\n") > 3
        else:
            r = merge(parts, tmp_path / f"merged.{ext}")
            assert r["windows"] == whole["windows"] and r["intervals"] == whole["windows"]["scored"]
            with gzip.open(tmp_path / f"merged.{ext}", "rb") as a, gzip.open(tmp_path / f"whole.{ext}", "rb") as b:
                assert a.read() == b.read()
    from seqcnn.errors import SeqcnnError

    # parts out of order (or one given twice): refused from the summaries' --shard (bigWig and bedGraph), and
    # without summaries from the intervals themselves (bigWig: the header's order; bedGraph: the genome's order
    # is unknown then, so only a part overlapping the previous one is caught)
    for ext in ("bw", "bedgraph.gz"):
        with pytest.raises(SeqcnnError, match="shard 1/3 comes after shard 2/3"):
            merge([tmp_path / f"p2.{ext}", tmp_path / f"p1.{ext}"], tmp_path / f"bad.{ext}")
        for k in (1, 2):
            os.rename(tmp_path / f"p{k}.{ext}.json", tmp_path / f"p{k}.{ext}.json.off")
        if ext == "bw":
            with pytest.raises(SeqcnnError, match="overlaps or precedes"):
                merge([tmp_path / f"p2.{ext}", tmp_path / f"p1.{ext}"], tmp_path / f"bad.{ext}")
        with pytest.raises(SeqcnnError, match="overlaps or precedes"):
            merge([tmp_path / f"p1.{ext}", tmp_path / f"p1.{ext}"], tmp_path / f"bad.{ext}")
        assert not (tmp_path / f"bad.{ext}").exists() and not (tmp_path / f"bad.{ext}.json").exists()


def test_multi_output_shards_merge_with_their_counts_and_output_named_sites(sc, tmp_path):
    """Shards of a two-output model (p1.CTCF.bw, summary p1.bw.json): merged, the summary's counts are found and
    summed, and sites are named CTCF_site_<n> as in the unsharded run (same file); a missing shard is said."""
    from seqcnn.scan import merge, read_track, scan

    whole = scan(sc.run2, sc.fa, tmp_path / "w.bw", stride=10, slab_bases=4096, chroms="chr1,chr2")
    v = read_track(tmp_path / "w.CTCF.bw", "chr1", 0, len(sc.chroms["chr1"]))
    threshold = float(np.nanquantile(v, 0.9))  # random weights: a threshold that calls some sites
    scan(sc.run2, sc.fa, tmp_path / "ws.bw", stride=10, slab_bases=4096, chroms="chr1,chr2",
         sites=tmp_path / "ws.bed", threshold=threshold)
    for k in (1, 2, 3):
        scan(sc.run2, sc.fa, tmp_path / f"p{k}.bw", stride=10, slab_bases=4096, chroms="chr1,chr2", shard=(k, 3))
    parts = [tmp_path / f"p{k}.CTCF.bw" for k in (1, 2, 3)]
    res = _cli("scan", "--merge", *parts, "-o", tmp_path / "m.CTCF.bw", "--sites", tmp_path / "ms.bed",
               "--threshold", threshold)
    assert res.exit_code == 0, res.output
    w = whole["windows"]
    assert f"windows: records read {w['considered']} = scored {w['scored']}" in res.output
    summary = json.loads((tmp_path / "m.CTCF.bw.json").read_text())
    assert summary["windows"] == w and summary["output"] == "CTCF" and summary["missing_shards"] == []
    got, want = (tmp_path / "ms.bed").read_text(), (tmp_path / "ws.CTCF.bed").read_text()
    assert got == want and got.count("\n") > 2 and got.split("\t")[3] == "CTCF_site_1"
    res = _cli("scan", "--merge", parts[0], parts[2], "-o", tmp_path / "gap.CTCF.bw")
    assert res.exit_code == 0 and "missing shards: 2 (" in res.stderr, res.output
    res = _cli("scan", "--merge", parts[0], tmp_path / "p2.GATA_3.bw", "-o", tmp_path / "mixed.bw")
    assert res.exit_code == 2 and "different model outputs" in res.stderr and not (tmp_path / "mixed.bw").exists()


def test_check_run_chroms_notes_an_unreadable_dataset_and_passes_a_matching_genome(sc):
    from seqcnn.genome import Genome
    from seqcnn.scan import check_run_chroms

    cfg = json.loads((sc.run / "config.json").read_text())
    with Genome(str(sc.fa)) as g:
        assert check_run_chroms(cfg, g) is None
        assert check_run_chroms({"data": {}}, g) is None  # no dataset recorded: nothing to check
        assert "not at its recorded path" in check_run_chroms({"data": {"path": str(sc.d / "gone.h5")}}, g)


def test_bedgraph_and_bigwig_hold_the_same_values(sc, tmp_path):
    from seqcnn.scan import read_track, scan

    scan(sc.run, sc.fa, tmp_path / "a.bw", chroms="chr1,chr3", stride=3)
    scan(sc.run, sc.fa, tmp_path / "a.bg", chroms="chr1,chr3", stride=3)
    for c in ("chr1", "chr3"):
        a = read_track(tmp_path / "a.bw", c, 0, 20_000)
        b = read_track(tmp_path / "a.bg", c, 0, 20_000)
        assert a.dtype == np.float32 and np.isnan(a).sum() < len(a)
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.numerics
def test_regions_scan_only_their_centres(sc, tmp_path):
    from seqcnn.scan import read_track, scan

    bed = tmp_path / "loci.bed"
    bed.write_text("chr2\t4900\t5300\ta\nchr1\t100\t400\tb\nchr1\t300\t700\tc\nchr1\t19900\t20000\td\n")
    r = scan(sc.run, sc.fa, tmp_path / "r.bw", regions=bed, stride=10)
    whole = scan(sc.run, sc.fa, tmp_path / "w.bw", stride=10)
    inside = {"chr1": [(100, 700), (19900, 20000)], "chr2": [(4900, 5300)]}
    n = 0
    for c, spans in inside.items():
        got, full = read_track(tmp_path / "r.bw", c, 0, 20000), read_track(tmp_path / "w.bw", c, 0, 20000)
        centre = np.arange(5, 20000, 10)
        mask = np.zeros(20000, bool)
        for s, e in spans:
            mask[s:e] = True
            n += int(((centre >= s) & (centre < e)).sum())
        assert np.isnan(got[~mask]).all()
        assert_close(got[mask], full[mask])
    assert r["windows"]["considered"] == n and r["windows"]["scored"] + sum(r["windows"]["dropped"].values()) == n
    assert r["per_chrom"]["chr1"]["dropped"]["off_chromosome"] == 2  # the last two centres of chr1
    assert np.isnan(read_track(tmp_path / "r.bw", "chr3", 0, 20000)).all()


def test_sites_are_the_runs_of_bins_above_the_threshold(sc, tmp_path):
    """Every bin at or above the threshold lies in exactly one site, a site holds only such bins and is a
    maximal run; score, signalValue and the summit follow the documented columns."""
    import pandas as pd

    from seqcnn.scan import read_track, scan

    probe = scan(sc.run, sc.fa, tmp_path / "probe.bw", chroms="chr1,chr2", stride=10)
    values = np.concatenate([read_track(tmp_path / "probe.bw", c, 0, 20000)[5::10] for c in ("chr1", "chr2")])
    thr = float(np.nanquantile(values, 0.8))
    r = scan(sc.run, sc.fa, tmp_path / "t.bw", chroms="chr1,chr2", stride=10, sites=tmp_path / "s.bed",
             threshold=thr, slab_bases=4096)  # slabs of 4 kb: sites continue across slab edges
    assert probe["windows"] == r["windows"]
    sites = pd.read_csv(tmp_path / "s.bed", sep="\t", header=None)
    assert r["sites"]["n"] == [len(sites)] and len(sites) > 3
    assert list(sites[3]) == [f"site_{k}" for k in range(1, len(sites) + 1)]
    assert (sites[5] == ".").all() and (sites[7] == -1).all() and (sites[8] == -1).all()
    for c in ("chr1", "chr2"):
        v = read_track(tmp_path / "t.bw", c, 0, 20000)[5::10]
        above = v >= np.float32(thr)
        edge = np.diff(np.concatenate([[0], above.astype(int), [0]]))
        runs = list(zip(np.flatnonzero(edge == 1) * 10, np.flatnonzero(edge == -1) * 10))
        mine = sites[sites[0] == c]
        assert list(zip(mine[1], mine[2])) == runs
        for _, s in mine.iterrows():
            seg = v[s[1] // 10:s[2] // 10]
            best = float(seg.max())
            assert s[6] == pytest.approx(best, abs=1e-6) and s[4] == min(1000, round(1000 * best))
            assert s[9] == int(np.argmax(seg)) * 10 + 5  # the best window's centre - start


def test_run_and_genome_naming_differ(sc, tmp_path):
    res = _cli("scan", sc.run, "--genome", sc.d / "renamed.fa", "-o", tmp_path / "t.bw")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    assert "renamed.fa" in res.stderr and "'chr' prefix" in res.stderr and "trained on" in res.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_folder(sc, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        res = _cli("scan", sc.run, "--genome", sc.fa, "-o", ro / "t.bw")
    finally:
        ro.chmod(0o755)
    assert res.exit_code == 2 and "not writable" in res.stderr and not list(ro.iterdir())


def test_site_caller_joins_feeds_and_splits_at_gaps():
    """Sites by hand: a run continued across feeds, a NaN (dropped window) and a grid gap end a site, the first
    maximum is the summit; the same windows fed at once or in any pieces give the same file."""
    import io

    from seqcnn.scan import SiteCaller

    S = 10
    centres = np.array([5, 15, 25, 35, 45, 55, 75, 85, 95, 105], np.int64)  # 65 missing: a gap (region edge)
    values = np.array([.2, .95, .97, .97, np.nan, .91, .93, .99, .5, .92], np.float32)
    want = ("c\t10\t40\tsite_1\t970\t.\t0.970000\t-1\t-1\t15\n"  # 0.97 twice: the first is the summit
            "c\t50\t60\tsite_2\t910\t.\t0.910000\t-1\t-1\t5\n"
            "c\t70\t90\tsite_3\t990\t.\t0.990000\t-1\t-1\t15\n"
            "c\t100\t110\tsite_4\t920\t.\t0.920000\t-1\t-1\t5\n"
            "d\t0\t10\tsite_5\t950\t.\t0.950000\t-1\t-1\t5\n")
    for cuts in ([], [2], [1, 3, 7], list(range(1, 10))):
        fh = io.StringIO()
        caller = SiteCaller(fh, 0.9, S)
        for c, v in zip(np.split(centres, cuts), np.split(values, cuts)):
            caller.feed("c", c, v)
        caller.feed("d", np.array([5], np.int64), np.array([0.95], np.float32))  # a new chromosome ends a site
        assert caller.close() == 5
        assert fh.getvalue() == want, cuts
