"""End to end: ``seqcnn mutagenesis`` and ``seqcnn motifs`` on run directories; bad input exits 2 with one line."""

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from interpret_helpers import make_run, randomize

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))


@pytest.fixture(scope="module")
def ctcf_run(sim_binary, tmp_path_factory):
    """A run whose filter 0 is CTCF's log-odds PWM (the data have CTCF planted in the positives)."""
    from test_motifs import _detector_model

    from seqcnn.simulate import jaspar_pfm

    model = _detector_model(jaspar_pfm("MA0139.1")[1], n_filters=6, dense=False)
    return make_run(tmp_path_factory.mktemp("ctcf") / "run", model, sim_binary)


@pytest.fixture(scope="module")
def dense_run(sim_binary, tmp_path_factory):
    """A run whose model has no convolution (Flatten → Dense)."""
    from seqcnn._tf import import_keras

    keras = import_keras()
    inp = keras.Input((100, 4), name="sequence")
    model = randomize(keras.Model(inp, keras.layers.Dense(1, name="logits")(keras.layers.Flatten()(inp))))
    return make_run(tmp_path_factory.mktemp("dense") / "run", model, sim_binary)


def _one_line_error(result):
    assert result.exit_code == 2, result.stdout + result.stderr
    err = result.stderr.strip()
    assert err.startswith("seqcnn: error:") and "\n" not in err and "Traceback" not in err
    return err


def test_mutagenesis_cli(cli, ctcf_run, sim_binary, tmp_path):
    out = tmp_path / "ism.h5"
    r = cli("mutagenesis", ctcf_run, sim_binary, "-o", out, "--split", "test", "--top", "3", "--by", "label",
            "--plot-max", "2", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    with h5py.File(out) as h5:
        assert h5["delta"].shape == (3, 100, 4) and h5["importance"].shape == (3, 100)
        assert (h5["label"][:] == 1).all()
        assert h5.attrs["method"] == "global"
        imp = h5["importance"][:]
        x = h5["x"][:]
    pngs = sorted((tmp_path / "ism_plots").glob("*.png"))
    assert len(pngs) == 2
    # the model reads CTCF sites only: importance is concentrated in a window of the motif's width
    top = np.sort(np.abs(imp), axis=1)[:, ::-1]
    assert (top[:, :19].sum(1) > 0.9 * np.abs(imp).sum(1)).all()
    assert x.sum() == 3 * 100
    # overwriting needs --force; --ids with a FASTA input; summary line printed
    r = cli("mutagenesis", ctcf_run, sim_binary, "-o", out, "--no-plots")
    _one_line_error(r)
    fa = tmp_path / "q.fa"
    fa.write_text(">a\n" + "ACGT" * 25 + "\n>b\n" + "TTGA" * 25 + "\n")
    r = cli("mutagenesis", ctcf_run, fa, "-o", out, "--ids", "b", "--force", "--no-plots")
    assert r.exit_code == 0, r.stderr
    assert "wrote" in r.stdout and "1 sequences x 100 bp" in r.stdout
    with h5py.File(out) as h5:
        assert list(h5["ids"].asstr()[:]) == ["b"]


def test_mutagenesis_cli_bad_input(cli, ctcf_run, sim_binary, tmp_path):
    out = tmp_path / "ism.h5"
    assert "unknown id 'zzz'" in _one_line_error(cli("mutagenesis", ctcf_run, sim_binary, "-o", out, "--ids",
                                                     "zzz", "--quiet"))
    short = tmp_path / "short.fa"
    short.write_text(">a\n" + "ACGT" * 20 + "\n")
    assert "80 bp" in _one_line_error(cli("mutagenesis", ctcf_run, short, "-o", out, "--quiet"))
    assert "run directory not found" in _one_line_error(cli("mutagenesis", tmp_path / "nope", sim_binary, "-o",
                                                            out, "--quiet"))
    assert "output 2 does not exist" in _one_line_error(cli("mutagenesis", ctcf_run, sim_binary, "-o", out,
                                                            "--output", "2", "--quiet"))
    assert not out.exists() and not list(tmp_path.glob(".ism*"))


def test_motifs_cli(cli, ctcf_run, sim_binary, tmp_path):
    from Bio import motifs as bio

    out = tmp_path / "motifs"
    r = cli("motifs", ctcf_run, sim_binary, "-o", out, "--threshold", "0", "--quiet")
    assert r.exit_code == 0, r.stderr
    for name in ("filters.meme", "filters.jaspar", "filters.transfac", "filters.csv", "matches.csv",
                 "summary.json", "logos/filter_000.png"):
        assert (out / name).exists(), name
    table = pd.read_csv(out / "filters.csv")
    assert list(table.columns[:10]) == ["filter", "nsites", "ic", "influence", "best_match_id", "best_match_name",
                                        "pvalue", "qvalue", "offset", "strand"]
    assert len(table) == 6
    f0 = table.iloc[0]
    assert f0.best_match_name == "CTCF" and f0.qvalue < 0.05 and f0.nsites > 100 and f0.influence > 0
    # filters 1-5 are all zero: no sites, reported as skipped, not written
    assert (table.nsites[1:] == 0).all() and table.status[1:].str.startswith("skipped").all()
    with open(out / "filters.meme") as fh:
        ms = bio.parse(fh, "minimal")
    assert [m.name for m in ms] == ["filter0"] and ms[0].num_occurrences == f0.nsites
    with open(out / "filters.jaspar") as fh:
        assert [m.matrix_id for m in bio.parse(fh, "jaspar")] == ["filter0"]
    assert not list(tmp_path.glob(".motifs*"))

    # --jaspar none: no comparison, no matches.csv; min-sites above the count skips every filter
    out2 = tmp_path / "m2"
    r = cli("motifs", ctcf_run, sim_binary, "-o", out2, "--jaspar", "none", "--min-sites", "100000",
            "--no-influence", "--no-plots")
    assert r.exit_code == 0, r.stderr
    assert "0 of 6 filters" in r.stdout and "skipped 6 filter(s)" in r.stdout
    assert not (out2 / "matches.csv").exists() and not (out2 / "logos").exists()
    t2 = pd.read_csv(out2 / "filters.csv")
    assert t2.best_match_id.isna().all() and t2.influence.isna().all()
    # an existing folder needs --force
    _one_line_error(cli("motifs", ctcf_run, sim_binary, "-o", out2, "--quiet"))


def test_motifs_cli_bad_input(cli, ctcf_run, dense_run, sim_binary, tmp_path):
    from seqcnn.store import write_dataset

    out = tmp_path / "m"
    assert "not a Conv1D" in _one_line_error(cli("motifs", dense_run, sim_binary, "-o", out, "--quiet"))
    short = tmp_path / "short.h5"
    write_dataset(short, np.eye(4, dtype=np.uint8)[np.zeros((4, 80), int)], np.array([0, 1, 0, 1], np.uint8),
                  ["a", "b", "c", "d"], attrs={"task": "binary", "class_names": ["0", "1"]})
    assert "80 bp" in _one_line_error(cli("motifs", ctcf_run, short, "-o", out, "--quiet"))
    assert "unknown JASPAR release" in _one_line_error(cli("motifs", ctcf_run, sim_binary, "-o", out,
                                                           "--jaspar-release", "JASPAR1999", "--quiet",
                                                           "--no-influence"))
    assert not out.exists() and not list(tmp_path.glob(".m.*"))


def test_motifs_use_the_runs_jaspar_group_unless_told(cli, ctcf_run, sim_binary, tmp_path):
    """A run trained with --jaspar fungi names its filters from fungal motifs; --jaspar overrides; old runs:
    vertebrates; a wrong group: one line listing the groups, before anything is loaded."""
    import json
    import shutil

    fungi_run = tmp_path / "fungi_run"
    shutil.copytree(ctcf_run, fungi_run)
    cfg = json.loads((fungi_run / "config.json").read_text())
    cfg["training"] = {"jaspar": "fungi"}   # what 'seqcnn train --jaspar fungi' records
    (fungi_run / "config.json").write_text(json.dumps(cfg))

    def database(run, *extra):
        out = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
        r = cli("motifs", run, sim_binary, "-o", out, "--no-influence", "--no-plots", *extra)
        assert r.exit_code == 0, r.output
        return json.loads((out / "summary.json").read_text())["comparison"], r.stdout

    comparison, stdout = database(fungi_run)
    assert comparison["database"] == "JASPAR2024 CORE fungi" and comparison["tax_group"] == "fungi"
    # CTCF is no fungal factor: the line says where it looked and which option to change
    assert ("no match at q < 0.05 in JASPAR2024 CORE fungi (another organism? --jaspar plants|insects|" in stdout)
    comparison, stdout = database(fungi_run, "--jaspar", "vertebrates")
    assert comparison["database"] == "JASPAR2024 CORE vertebrates" and "1 filter(s) match JASPAR2024 CORE " \
                                                                        "vertebrates at q < 0.05" in stdout
    comparison, _ = database(ctcf_run)   # its config.json predates train --jaspar
    assert comparison["database"] == "JASPAR2024 CORE vertebrates"
    for args, words in [(["--jaspar", "yeast"], ["'yeast'", "fungi", "vertebrates", "plants"]),
                        (["--jaspar-collection", "COREX"], ["'COREX'", "UNVALIDATED"])]:
        r = cli("motifs", fungi_run, sim_binary, "-o", tmp_path / "bad", "--no-influence", *args)
        err = _one_line_error(r)
        assert all(w in err for w in words) and "Warning" not in r.output, r.output
    assert not (tmp_path / "bad").exists()
