"""Tests of seqcnn.mutagenesis (the verb): ISM summaries, selection, the ISM file, errors leave no output."""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))

from interpret_helpers import make_run, randomize
from numerics import assert_close


def test_importance_and_attribution():
    from seqcnn.mutagenesis import attribution, importance

    x = np.zeros((1, 3, 4), np.uint8)
    x[0, 0, 0] = 1  # A
    x[0, 1, 2] = 1  # G; position 2 is N
    delta = np.zeros((1, 3, 4), np.float32)
    delta[0, 0] = [0, -1, -2, -3]
    delta[0, 1] = [1, 1, 0, 1]
    delta[0, 2] = [1, 2, 3, 4]
    imp = importance(delta, x)
    np.testing.assert_allclose(imp[0], [2.0, -1.0, -2.5])
    from seqcnn.mutagenesis import hypothetical

    np.testing.assert_allclose(hypothetical(delta)[0], [[1.5, 0.5, -0.5, -1.5], [0.25, 0.25, -0.75, 0.25],
                                                        [-1.5, -0.5, 0.5, 1.5]])
    att = attribution(imp, x)
    np.testing.assert_allclose(att[0], [[2, 0, 0, 0], [0, 0, -1, 0], [0, 0, 0, 0]])


@pytest.fixture(scope="module")
def binary_run(sim_binary, tmp_path_factory):
    from seqcnn.models import build_model

    model = randomize(build_model("deepbind", 100, "binary", 1, filters=6, kernel_size=11, dense_units=5), seed=9)
    return make_run(tmp_path_factory.mktemp("run") / "run", model, sim_binary), model


@pytest.mark.numerics
def test_run_mutagenesis_file_and_selection(binary_run, sim_binary, tmp_path):
    from seqcnn.exact_ism import ism
    from seqcnn.mutagenesis import read_ism, run_mutagenesis
    from seqcnn.store import open_dataset

    run, model = binary_run
    with open_dataset(sim_binary) as ds:
        ids, y, split = ds.ids, ds.y, ds.split
        x_all = ds.read_x()
    want = [ids[7], ids[2], ids[40]]
    rep = run_mutagenesis(run, sim_binary, tmp_path / "a.h5", ids=",".join(want), plot_max=2)
    assert rep["n"] == 3 and rep["method"] == "global"
    out = read_ism(tmp_path / "a.h5")
    assert list(out["ids"]) == want  # the order given
    np.testing.assert_array_equal(out["index"], [7, 2, 40])
    expected, ref = ism(model, x_all[[7, 2, 40]])
    logits = np.abs(ref).max()  # deltas are differences of logits: rounded at the logits' magnitude
    assert_close(out["delta"], expected, scale=logits)
    assert_close(out["reference_score"], ref)
    np.testing.assert_array_equal(out["x"], x_all[[7, 2, 40]])
    imp = -(out["delta"].sum(2)) / 3
    assert_close(out["importance"], imp, scale=np.abs(out["delta"]).max(), ops=4)
    assert_close(out["attribution"], out["x"] * imp[..., None])
    assert out["attrs"]["definition"].startswith("delta[n, i, b]") and "hypothetical" in out["attrs"]["definition"]
    # hypothetical, independently: the logits of the four bases at each position, minus their mean
    plain = np.zeros((2, 100, 4), np.float32)
    for n in range(2):
        mutants = np.repeat(x_all[[7, 2][n]][None].astype(np.float32), 400, axis=0)
        for i in range(100):
            mutants[4 * i:4 * i + 4, i] = np.eye(4)
        f = np.asarray(model(mutants))[:, 0].reshape(100, 4)
        plain[n] = f - f.mean(1, keepdims=True)
    assert_close(out["hypothetical"][:2], plain, scale=logits)
    assert_close(out["hypothetical"].sum(-1), 0, scale=logits, ops=4)
    assert len(rep["plots"]) == 2 and all(p.endswith(".png") for p in rep["plots"])

    # --split test --top 4 --by label: the 4 highest-scoring test positives, best first
    run_mutagenesis(run, sim_binary, tmp_path / "b.h5", split="test", top=4, by="label", plots=False)
    b = read_ism(tmp_path / "b.h5")
    test_pos = np.flatnonzero((split == 2) & (y == 1))
    scores = np.asarray(model(x_all[test_pos].astype(np.float32)))[:, 0]
    best = test_pos[np.argsort(-scores)[:4]]
    np.testing.assert_array_equal(b["index"], best)
    assert (b["label"] == 1).all()
    assert np.all(np.diff(b["reference_score"]) <= 0)
    # --top by score ranks everything in the split, negatives included
    run_mutagenesis(run, sim_binary, tmp_path / "c.h5", split="val", top=5, plots=False)
    c = read_ism(tmp_path / "c.h5")
    val = np.flatnonzero(split == 1)
    sv = np.asarray(model(x_all[val].astype(np.float32)))[:, 0]
    np.testing.assert_array_equal(c["index"], val[np.argsort(-sv)[:5]])
    # split alone: every record of the split, in file order
    run_mutagenesis(run, sim_binary, tmp_path / "d.h5", split="val", plots=False, batch_size=7)
    d = read_ism(tmp_path / "d.h5")
    np.testing.assert_array_equal(d["index"], val)
    again, ref_val = ism(model, x_all[val])  # the default batch size, not 7
    assert_close(d["delta"], again, scale=np.abs(ref_val).max())


def test_run_mutagenesis_errors_leave_no_output(binary_run, sim_binary, tmp_path):
    from seqcnn.errors import ModelMismatchError, OutputExistsError, SeqcnnError
    from seqcnn.mutagenesis import run_mutagenesis

    run, _ = binary_run
    out = tmp_path / "x.h5"
    with pytest.raises(SeqcnnError, match="unknown id 'nope'"):
        run_mutagenesis(run, sim_binary, out, ids="nope")
    with pytest.raises(SeqcnnError, match="--by label needs labels"):
        fa = tmp_path / "s.fa"
        fa.write_text(">s1\n" + "ACGT" * 25 + "\n")
        run_mutagenesis(run, fa, out, top=1, by="label")
    short = tmp_path / "short.fa"
    short.write_text(">s1\n" + "ACGT" * 20 + "\n")
    with pytest.raises(ModelMismatchError, match="80 bp"):
        run_mutagenesis(run, short, out)
    assert not out.exists() and not list(tmp_path.glob(".x.h5*"))
    run_mutagenesis(run, fa, out, plots=False)
    with h5py.File(out) as h5:
        assert h5["delta"].shape == (1, 100, 4)
        assert h5["ids"].asstr()[0] == "s1"
    with pytest.raises(OutputExistsError):
        run_mutagenesis(run, fa, out, plots=False)
