"""Tests of seqcnn.gradients: saliency against finite differences, integrated gradients' completeness, the verb."""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))

from interpret_helpers import make_run, randomize
from numerics import assert_close

L = 30


def _smooth_model(seed=0):
    """A tiny smooth (tanh) conv model: finite differences are accurate on it."""
    from seqcnn._tf import import_keras

    keras = import_keras()
    inp = keras.Input((L, 4))
    h = keras.layers.Conv1D(5, 7, activation="tanh")(inp)
    h = keras.layers.GlobalAveragePooling1D()(h)
    out = keras.layers.Dense(2)(h)
    return randomize(keras.Model(inp, out), seed=seed)


def _x(n=3, seed=1):
    return np.eye(4, dtype=np.uint8)[np.random.default_rng(seed).integers(0, 4, (n, L))]


def test_saliency_equals_finite_differences_centred():
    from seqcnn.gradients import saliency

    model = _smooth_model()
    x = _x().astype(np.float64)
    got = saliency(model, x, output=1)
    eps = 1e-2
    fd = np.zeros_like(x)
    for i in range(L):
        for b in range(4):
            up, down = x.copy(), x.copy()
            up[:, i, b] += eps
            down[:, i, b] -= eps
            fd[:, i, b] = (np.asarray(model(up.astype(np.float32)))[:, 1]
                           - np.asarray(model(down.astype(np.float32)))[:, 1]) / (2 * eps)
    want = fd - fd.mean(-1, keepdims=True)
    assert np.abs(want).max() > 0.01
    # finite differences: their truncation error (eps^2 x the third derivative), not float32 rounding, sets this
    np.testing.assert_allclose(got, want, atol=2e-3)
    assert_close(got.sum(-1), 0, scale=np.abs(got).max(), ops=4)  # centred: four terms summing to 0


@pytest.mark.numerics
def test_integrated_gradients_are_complete_and_seeded():
    from seqcnn.gradients import integrated_gradients
    from seqcnn.encoding import encode_windows
    from seqcnn.negatives import dinucleotide_shuffle

    model = _smooth_model(2)
    x = _x(2, seed=3)
    hyp, ig = integrated_gradients(model, x, output=0, references=4, steps=64, seed=5)
    # completeness: sum of (x - r) * path gradient = f(x) - f(r), averaged over the references
    letters = np.frombuffer(b"ACGTN", np.uint8)
    for n in range(2):
        refs = encode_windows(dinucleotide_shuffle(np.repeat(letters[x[n].argmax(-1)][None], 4, axis=0),
                                                   np.random.default_rng([5, n])))
        f_x = float(np.asarray(model(x[n:n + 1].astype(np.float32)))[0, 0])
        f_r = np.asarray(model(refs.astype(np.float32)))[:, 0].mean()
        assert abs(ig[n].sum() - (f_x - f_r)) < 0.02 * max(abs(f_x - f_r), 0.05)
    assert_close(hyp.sum(-1), 0, scale=np.abs(hyp).max(), ops=4)
    again, _ = integrated_gradients(model, x, output=0, references=4, steps=64, seed=5)
    np.testing.assert_array_equal(again, hyp)


@pytest.fixture(scope="module")
def run(sim_binary, tmp_path_factory):
    from seqcnn.models import build_model

    model = randomize(build_model("deepbind", 100, "binary", 1, filters=6, kernel_size=11, dense_units=5), seed=9)
    return make_run(tmp_path_factory.mktemp("run") / "run", model, sim_binary), model


@pytest.mark.numerics
def test_attribute_cli_every_method(cli, run, sim_binary, tmp_path):
    from seqcnn.exact_ism import ism
    from seqcnn.mutagenesis import hypothetical
    from seqcnn.store import open_dataset

    run_dir, model = run
    with open_dataset(sim_binary) as ds:
        n_all, x_all = ds.n, ds.read_x()
    for method in ("ism", "saliency", "integrated-gradients"):
        out = tmp_path / f"{method}.h5"
        res = cli("attribute", run_dir, sim_binary, "-o", out, "--method", method, "--split", "test", "--top", "4",
                  "--by", "label", "--references", "2", "--steps", "8")
        assert res.exit_code == 0, res.output
        assert f"records read {n_all} = written 4 + dropped {n_all - 4}" in res.output
        with h5py.File(out) as h5:
            assert h5.attrs["format"] == "seqcnn-attribution" and h5.attrs["method"] == method
            hyp, x = h5["hypothetical"][:], h5["x"][:]
            assert_close(h5["attribution"][:], x * hyp)
            np.testing.assert_array_equal(x, x_all[h5["index"][:]])
            assert (h5["label"][:] == 1).all() and hyp.shape == (4, 100, 4)
            assert ("ig" in h5) == (method == "integrated-gradients")
        if method == "ism":
            delta, ref = ism(model, x)  # another batch size than the verb's
            assert_close(hyp, hypothetical(delta), scale=np.abs(ref).max())
    again = cli("attribute", run_dir, sim_binary, "-o", tmp_path / "ism.h5")
    assert again.exit_code == 2 and "already exists" in again.output


def test_attribute_needs_an_output_on_a_multi_output_model(cli, sim_multiclass, tmp_path):
    from seqcnn.models import build_model

    model = randomize(build_model("deepbind", 100, "multiclass", 3, filters=4, kernel_size=9, dense_units=4), 1)
    run_dir = make_run(tmp_path / "run", model, sim_multiclass)
    res = cli("attribute", run_dir, sim_multiclass, "-o", tmp_path / "a.h5", "--method", "saliency")
    assert res.exit_code == 2 and "choose one with --output" in res.output and not (tmp_path / "a.h5").exists()
    res = cli("attribute", run_dir, sim_multiclass, "-o", tmp_path / "a.h5", "--method", "saliency", "--output", "1",
              "--split", "val", "-q")
    assert res.exit_code == 0, res.output
