"""Exact fast ISM equals plainly written naive ISM on every architecture; selection; the ISM file."""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))

from interpret_helpers import make_run, plain_naive_ism, randomize

L = 48
ARCHS = [
    ("deepbind", dict(filters=6, kernel_size=7, dense_units=5), "global"),
    ("deepbind", dict(filters=6, kernel_size=7, dense_units=0, dropout=0.0, global_average=True), "global"),
    ("primer", dict(filters=6, kernel_size=7, pool_size=4, dense_units=5), "local"),
    ("zeng", dict(filters=6, kernel_size=9, pooling="local", pool_size=3, dense_units=5), "local"),
    ("zeng", dict(filters=6, kernel_size=9, pooling="global", dense_units=5), "global"),
    ("basset", dict(filters=(6, 6, 6), kernel_sizes=(7, 5, 3), pool_sizes=(3, 2, 2), dense_units=(6, 6)), "naive"),
]


def _x(n=3, length=L, seed=0):
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, length))]
    x[min(1, n - 1), 5:8] = 0  # N rows: all four bases are substitutions there
    return x


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("arch,params,method", ARCHS, ids=[f"{a}-{m}-{i}" for i, (a, _, m) in enumerate(ARCHS)])
def test_ism_equals_plain_naive(arch, params, method, n_outputs):
    from seqcnn.models import build_model
    from seqcnn.mutagenesis import ism, ism_method

    task = "binary" if n_outputs == 1 else "multiclass"
    model = randomize(build_model(arch, L, task, n_outputs, **params), seed=11 * len(params) + n_outputs)
    assert ism_method(model) == method
    x = _x()
    expected = plain_naive_ism(model, x)
    delta, ref = ism(model, x, batch_size=2)  # 2 per batch: exercises batching and the padded last batch
    if n_outputs == 1:
        expected = expected[..., 0]
    assert delta.shape == expected.shape
    assert np.abs(expected).max() > 0.05  # the check below is not vacuous
    assert np.abs(delta - expected).max() < 1e-4
    # exactly zero at the reference base, and nowhere else forced to zero on N rows
    assert (delta[x.astype(bool)] == 0).all()
    np.testing.assert_allclose(ref, np.asarray(model(x.astype(np.float32)))[:, 0] if n_outputs == 1
                               else np.asarray(model(x.astype(np.float32))), atol=1e-5)
    if n_outputs == 3:
        d1, r1 = ism(model, x, output=1)
        assert d1.shape == (3, L, 4)
        np.testing.assert_allclose(d1, delta[..., 1], atol=1e-6)


@pytest.mark.parametrize("global_average", [True, False])
def test_relu_window_loop_equals_plain_naive(global_average):
    """The numba window loop (relu convolution, max (+ average)): odd length, N rows at both ends, batches."""
    from seqcnn.models import build_model
    from seqcnn.mutagenesis import _kernels, ism

    n_len = 37
    model = randomize(build_model("deepbind", n_len, "multiclass", 2, filters=9, kernel_size=6, dense_units=4,
                                  global_average=global_average), seed=5)
    assert _kernels(model).fixed_batch is False  # the numba path, not the XLA program
    x = _x(n=5, length=n_len, seed=3)
    x[0, :3] = 0
    x[4, -2:] = 0
    expected = plain_naive_ism(model, x)
    assert np.abs(expected).max() > 0.05
    for bs in (1, 2, 5):
        delta, ref = ism(model, x, batch_size=bs)
        assert np.abs(delta - expected).max() < 1e-4
        assert (delta[x.astype(bool)] == 0).all()
        np.testing.assert_allclose(ref, np.asarray(model(x.astype(np.float32))), atol=1e-5)
    xla, _ = ism(model, x, jit_compile=True)  # the XLA program, still available on request
    assert np.abs(xla - delta).max() < 1e-4


@pytest.mark.parametrize("arch,method", [("deepbind", "window"), ("deepbind", "naive"), ("basset", "window")])
def test_other_methods_equal_naive(arch, method):
    from seqcnn.models import build_model
    from seqcnn.mutagenesis import ism

    params = dict(filters=5, kernel_size=6, dense_units=4) if arch == "deepbind" else \
        dict(filters=(5, 5, 5), kernel_sizes=(6, 3, 3), dense_units=(4, 4))
    model = randomize(build_model(arch, L, "binary", 1, **params), seed=3)
    x = _x(2)
    delta, _ = ism(model, x, method=method)
    assert np.abs(delta - plain_naive_ism(model, x)[..., 0]).max() < 1e-4


def test_non_monotone_activation_and_model_without_conv():
    """gelu is not monotone (max and activation do not commute); a Dense-first model uses the naive path."""
    from seqcnn._tf import import_keras
    from seqcnn.mutagenesis import ism, ism_method

    keras = import_keras()
    inp = keras.Input((L, 4), name="sequence")
    h = keras.layers.Conv1D(5, 6, activation="gelu", name="conv1")(inp)
    h = keras.layers.GlobalMaxPooling1D()(h)
    gelu_model = randomize(keras.Model(inp, keras.layers.Dense(2, name="logits")(h)), seed=5)
    flat = keras.layers.Flatten()(inp)
    dense_model = randomize(keras.Model(inp, keras.layers.Dense(1)(keras.layers.Dense(4, activation="tanh")(flat))),
                            seed=6, scale=0.3)
    assert ism_method(gelu_model) == "global"
    assert ism_method(dense_model) == "naive"
    x = _x(2)
    for model in (gelu_model, dense_model):
        delta, _ = ism(model, x)
        expected = plain_naive_ism(model, x)
        expected = expected[..., 0] if expected.shape[-1] == 1 else expected
        assert np.abs(expected).max() > 0.01
        assert np.abs(delta - expected).max() < 1e-4


@pytest.mark.parametrize("length,kernel,pool,act", [(45, 7, 4, "relu"), (50, 3, 5, "gelu"), (41, 8, 4, "gelu"),
                                                     (30, 12, 1, "relu"), (33, 5, 5, "tanh")])
def test_local_geometries(length, kernel, pool, act):
    """'local' on lengths that are no multiple of the pool, kernels shorter/longer than it, non-monotone layers."""
    from seqcnn._tf import import_keras
    from seqcnn.mutagenesis import ism, ism_method

    keras = import_keras()
    inp = keras.Input((length, 4), name="sequence")
    h = keras.layers.Conv1D(5, kernel, activation=act, name="conv1")(inp)
    h = keras.layers.Flatten()(keras.layers.MaxPooling1D(pool)(h))
    h = keras.layers.Dense(4, activation="gelu" if act == "gelu" else "relu")(h)
    model = randomize(keras.Model(inp, keras.layers.Dense(2, name="logits")(h)), seed=length)
    assert ism_method(model) == "local"
    x = _x(3, length, seed=length)
    delta, _ = ism(model, x, batch_size=2)
    expected = plain_naive_ism(model, x)
    assert np.abs(expected).max() > 0.01
    assert np.abs(delta - expected).max() < 1e-4


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "elu", "gelu"])
def test_global_max_and_average_activations(act):
    """Max+average pooling with activations that are / are not 0 far below zero, monotone or not."""
    from seqcnn._tf import import_keras
    from seqcnn.mutagenesis import ism, ism_method

    keras = import_keras()
    inp = keras.Input((37, 4), name="sequence")
    h = keras.layers.Conv1D(5, 6, activation=act, name="conv1")(inp)
    h = keras.layers.Concatenate()([keras.layers.GlobalMaxPooling1D()(h), keras.layers.GlobalAveragePooling1D()(h)])
    model = randomize(keras.Model(inp, keras.layers.Dense(2, name="logits")(h)), seed=len(act))
    assert ism_method(model) == "global"
    x = _x(3, 37, seed=4)
    delta, _ = ism(model, x, batch_size=2)
    expected = plain_naive_ism(model, x)
    assert np.abs(expected).max() > 0.01
    assert np.abs(delta - expected).max() < 1e-4


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
    att = attribution(imp, x)
    np.testing.assert_allclose(att[0], [[2, 0, 0, 0], [0, 0, -1, 0], [0, 0, 0, 0]])


def test_output_errors():
    from seqcnn.errors import ModelMismatchError, SeqcnnError
    from seqcnn.models import build_model
    from seqcnn.mutagenesis import ism

    model = build_model("deepbind", L, "multiclass", 3, filters=4, kernel_size=5)
    with pytest.raises(SeqcnnError, match="output 3 does not exist"):
        ism(model, _x(1), output=3)
    with pytest.raises(ModelMismatchError, match="48 bp"):
        ism(model, _x(1, length=40))


@pytest.fixture(scope="module")
def binary_run(sim_binary, tmp_path_factory):
    from seqcnn.models import build_model

    model = randomize(build_model("deepbind", 100, "binary", 1, filters=6, kernel_size=11, dense_units=5), seed=9)
    return make_run(tmp_path_factory.mktemp("run") / "run", model, sim_binary), model


def test_run_mutagenesis_file_and_selection(binary_run, sim_binary, tmp_path):
    from seqcnn.mutagenesis import ism, read_ism, run_mutagenesis
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
    np.testing.assert_allclose(out["delta"], expected, atol=1e-6)
    np.testing.assert_allclose(out["reference_score"], ref, atol=1e-6)
    np.testing.assert_array_equal(out["x"], x_all[[7, 2, 40]])
    imp = -(out["delta"].sum(2)) / 3
    np.testing.assert_allclose(out["importance"], imp, atol=1e-6)
    np.testing.assert_allclose(out["attribution"], out["x"] * imp[..., None], atol=1e-6)
    assert out["attrs"]["definition"].startswith("delta[n, i, b]")
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
    np.testing.assert_allclose(d["delta"], ism(model, x_all[val])[0], atol=1e-6)


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
