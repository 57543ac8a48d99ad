"""seqcnn.discover: TF-MoDISco settings, seqlet coordinates, and a small discovery run on simulated data."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from seqcnn.discover import modisco_settings, seqlet_table, trim_bounds
from seqcnn.errors import SeqcnnError


def test_settings_keep_modisco_defaults_for_long_inputs_and_shrink_for_short_ones():
    long = modisco_settings(1000)
    assert (long["sliding_window_size"], long["flank_size"], long["initial_flank_to_add"],
            long["trim_to_window_size"]) == (21, 10, 10, 30)   # modisco-lite's own defaults
    mid, short = modisco_settings(200), modisco_settings(101)
    assert (mid["sliding_window_size"], mid["flank_size"], mid["trim_to_window_size"]) == (15, 5, 20)
    assert (short["sliding_window_size"], short["flank_size"], short["trim_to_window_size"]) == (11, 3, 15)
    assert mid["initial_flank_to_add"] == short["initial_flank_to_add"] == 0   # no re-extension off the ends
    for L, s in ((1000, long), (200, mid), (101, short)):   # a seqlet always fits in the input
        assert s["sliding_window_size"] + 2 * s["flank_size"] <= L
    over = modisco_settings(200, sliding_window_size=11, flank_size=None, n_leiden_runs=3)
    assert (over["sliding_window_size"], over["flank_size"], over["n_leiden_runs"]) == (11, 5, 3)
    with pytest.raises(SeqcnnError, match="needs at least 41 bp"):
        modisco_settings(30, sliding_window_size=21, flank_size=10)
    with pytest.raises(SeqcnnError, match="longer than a seqlet"):
        modisco_settings(101, sliding_window_size=5)
    with pytest.raises(SeqcnnError, match="--fdr"):
        modisco_settings(200, target_seqlet_fdr=1.5)


def test_trim_bounds_keep_the_positions_above_three_tenths_of_the_maximum():
    cwm = np.zeros((12, 4))
    cwm[3, 0], cwm[5, 2], cwm[8, 1], cwm[10, 3] = 0.2, 1.0, -0.5, 0.29
    assert trim_bounds(cwm) == (5, 9)   # |-0.5| counts; 0.2 and 0.29 are below 0.3
    assert trim_bounds(np.zeros((4, 4))) == (0, 4)


def _pattern(seqlets):
    return SimpleNamespace(seqlets=[SimpleNamespace(example_idx=e, start=s, end=t, is_revcomp=rc)
                                    for e, s, t, rc in seqlets])


def test_seqlet_cores_and_genome_coordinates_follow_both_strands():
    """A forward seqlet's core is seqlet start + trim; a reverse one reads back from its end; a '-' window maps
    column j to genome base end - 1 - j."""
    L = 50
    x = np.zeros((2, L, 4), np.float32)
    x[:, :, 0] = 1
    hyp = np.zeros((2, L, 4), np.float32)
    hyp[:, :, 0] = 1.0   # contribution 1 per base: a core's contribution is its width
    pats = [("pos_0", "positive", _pattern([(0, 10, 30, False), (1, 10, 30, True)]))]
    coords = {"chrom": np.array(["chr1", "chr2"]), "start": np.array([1000, 5000]), "end": np.array([1050, 5050]),
              "strand": np.array(["+", "-"])}
    t = seqlet_table(pats, {"pos_0": (4, 10)}, np.array([7, 3]), np.array(["a", "b"]), x, hyp, coords)
    a, b = t[t.record == "a"].iloc[0], t[t.record == "b"].iloc[0]
    assert (a.start, a.end, a.strand, a["index"]) == (14, 20, "+", 7)
    assert (b.start, b.end, b.strand, b["index"]) == (20, 26, "-", 3)    # 30 - 10 .. 30 - 4
    assert a.contribution == 6 and b.contribution == 6
    assert (a.chrom, a.genome_start, a.genome_end, a.genome_strand) == ("chr1", 1014, 1020, "+")
    # window b is the reverse complement of chr2:5000-5050; its columns 20..26 are genome bases 5029..5024
    assert (b.chrom, b.genome_start, b.genome_end, b.genome_strand) == ("chr2", 5024, 5030, "+")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A deepbind run on 600 × 100 bp with CTCF planted in half, and the planted sites."""
    from seqcnn import training
    from seqcnn.ingest import encode_fasta
    from seqcnn.simulate import simulate

    d = tmp_path_factory.mktemp("discover")
    sim = simulate(600, 100, ["MA0139.1"], design="binary", seed=1)
    sim.write(d / "seqs.fa", d / "labels.csv", d / "sites.csv")
    encode_fasta([d / "seqs.fa"], d / "data.h5", labels=d / "labels.csv", split="0.7,0.15,0.15", seed=0)
    training.train(d / "data.h5", d / "run", params={"filters": 16, "kernel_size": 19, "dense_units": 16},
                   lr=0.01, epochs=10, batch_size=64, quiet=True, n_boot=0, plots=False)
    return SimpleNamespace(d=d, data=d / "data.h5", run=d / "run", sites=pd.read_csv(d / "sites.csv"))


def _overlap(seqlets, sites):
    """(precision, recall): seqlet cores overlapping a planted site; planted sites (of used records) hit."""
    by_id = {r.id: (r.start, r.end) for r in sites.itertuples()}
    hit = [r.record in by_id and r.start < by_id[r.record][1] and by_id[r.record][0] < r.end
           for r in seqlets.itertuples()]
    found = {r.record for r, h in zip(seqlets.itertuples(), hit) if h}
    return float(np.mean(hit)), len(found) / len(sites)


def test_discover_finds_the_planted_motif_at_the_planted_sites(trained, cli, tmp_path):
    out = tmp_path / "disc"
    res = cli("discover", trained.run, trained.data, "-o", out, "--split", "all")
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "patterns.csv")
    top = table.iloc[0]
    assert top.sign == "positive" and top.best_match_name == "CTCF" and top.qvalue < 1e-4, table
    assert f"{top.pattern:<7s} positive" in res.output and "CTCF" in res.output
    # a line on stderr as each stage starts: minutes of silence (Tomtom compiling) look like a hang
    stages = [line.split(" [")[0] for line in res.stderr.splitlines() if line.startswith("discover: ")]
    assert [s.split(" ")[1] for s in stages] == ["scoring", "exact", "TF-MoDISco", "Tomtom:", "figures:"], res.stderr
    assert "exact ISM of 300 sequences" in stages[1] and "JASPAR2024 CORE vertebrates" in stages[3]
    assert all(line.endswith(" s]") for line in res.stderr.splitlines() if line.startswith("discover: "))
    seqlets = pd.read_csv(out / "seqlets.csv")
    used = seqlets[seqlets.pattern == top.pattern]
    assert len(used) == top.n_seqlets
    precision, recall = _overlap(used, trained.sites)
    assert precision > 0.9 and recall > 0.5, (precision, recall)
    # the BED holds the same seqlets, named by the record (no genome coordinates in FASTA mode)
    bed = pd.read_csv(out / "seqlets.bed", sep="\t", header=None)
    assert len(bed) == len(seqlets) and list(bed.iloc[0, :4]) == list(seqlets.iloc[0][["record", "start", "end",
                                                                                      "pattern"]])
    # motif files: trimmed matrices of the pattern's width, readable by memelite
    from memelite.io import read_meme

    for kind in ("pfm", "cwm", "hcwm"):
        motifs = read_meme(str(out / f"patterns_{kind}.meme"))
        first = next(iter(motifs.values()))
        assert first.shape == (4, top.width)
    pfm = np.asarray(next(iter(read_meme(str(out / "patterns_pfm.meme")).values())))
    assert np.allclose(pfm.sum(0), 1, atol=1e-3)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modisco"]["sliding_window_size"] == 11 and summary["n_sequences"] == 300
    assert summary["selection"]["records"] == "positives" and summary["command"].startswith("seqcnn discover")
    assert (out / "logos" / f"{top.pattern}.png").stat().st_size > 1000
    import h5py

    with h5py.File(out / "patterns.h5") as h5:   # modisco-lite's layout, so its own tools read it
        grp = h5["pos_patterns/pattern_0"]
        assert grp["seqlets/n_seqlets"][0] == table[table.pattern == "pos_0"].n_seqlets.iloc[0]
        assert grp["contrib_scores"].shape[1] == 4 and "trim_start" in grp.attrs
    # records read = used + dropped: the 300 positives of 600
    assert "records read 600 = used 300 + dropped 300" in res.output


def test_discover_from_a_mutagenesis_file_gives_the_same_patterns(trained, cli, tmp_path):
    ism = tmp_path / "ism.h5"
    assert cli("mutagenesis", trained.run, trained.data, "-o", ism, "--top", "250", "--by", "label",
               "--no-plots").exit_code == 0
    a = cli("discover", trained.run, trained.data, "-o", tmp_path / "a", "--attributions", ism, "--jaspar", "fungi",
            "--no-plots")
    b = cli("discover", trained.run, trained.data, "-o", tmp_path / "b", "--split", "all", "--top", "250",
            "--jaspar", "none", "--no-plots")
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    # CTCF among fungal motifs: the output says where it looked and which option to change
    assert "no match at q < 0.05 in JASPAR2024 CORE fungi (another organism? --jaspar plants|" in a.stdout
    assert "discover: reading attributions from" in a.stderr and "discover: " not in b.stdout
    sa, sb = (pd.read_csv(tmp_path / n / "seqlets.csv") for n in "ab")
    assert len(sa) > 100
    pd.testing.assert_frame_equal(sa, sb)


def test_too_few_seqlets_completes_and_says_so(trained, cli, tmp_path):
    out = tmp_path / "few"
    res = cli("discover", trained.run, trained.data, "-o", out, "--top", "5", "--jaspar", "none")
    assert res.exit_code == 0, res.output
    assert "no pattern found in 5 sequences" in res.output
    assert len(pd.read_csv(out / "patterns.csv")) == 0 and (out / "summary.json").exists()


def test_attributions_of_other_data_or_no_positives_are_refused(trained, cli, tmp_path):
    from seqcnn.ingest import encode_fasta
    from seqcnn.simulate import simulate

    other = simulate(40, 100, ["MA0139.1"], design="binary", seed=9)
    other.write(tmp_path / "o.fa", tmp_path / "o.csv")
    encode_fasta([tmp_path / "o.fa"], tmp_path / "o.h5", labels=tmp_path / "o.csv", split="0.8,0.2,0", seed=0)
    ism = tmp_path / "ism.h5"
    assert cli("mutagenesis", trained.run, tmp_path / "o.h5", "-o", ism, "--no-plots").exit_code == 0
    res = cli("discover", trained.run, trained.data, "-o", tmp_path / "x", "--attributions", ism)
    assert res.exit_code == 2 and "not those of the dataset" in res.output and not (tmp_path / "x").exists()
    res = cli("discover", trained.run, tmp_path / "o.h5", "-o", tmp_path / "y", "--split", "test")
    assert res.exit_code == 2 and "no positives in split test" in res.output and not (tmp_path / "y").exists()


def test_without_modisco_lite_the_verb_says_how_to_install_it(trained, cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "modiscolite", None)   # import modiscolite now raises ImportError
    res = cli("discover", trained.run, trained.data, "-o", tmp_path / "d")
    assert res.exit_code == 2 and "pip install 'seqcnn[discover]'" in res.output and not (tmp_path / "d").exists()
