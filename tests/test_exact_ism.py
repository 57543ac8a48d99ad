"""Tests of seqcnn.exact_ism: every exact path equals plainly written naive ISM (every architecture, odd geometries)."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))

from interpret_helpers import plain_naive_ism, randomize
from numerics import assert_close, batch_sizes

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


@pytest.mark.numerics
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("arch,params,method", ARCHS, ids=[f"{a}-{m}-{i}" for i, (a, _, m) in enumerate(ARCHS)])
def test_ism_equals_plain_naive(arch, params, method, n_outputs):
    from seqcnn.models import build_model
    from seqcnn.exact_ism import ism, ism_method

    task = "binary" if n_outputs == 1 else "multiclass"
    model = randomize(build_model(arch, L, task, n_outputs, **params), seed=11 * len(params) + n_outputs)
    assert ism_method(model) == method
    x = _x()
    expected = plain_naive_ism(model, x)
    if n_outputs == 1:
        expected = expected[..., 0]
    # 2 per batch by default: exercises batching and the padded last batch (SEQCNN_TEST_BATCH: other sizes)
    for batch in batch_sizes():
        delta, ref = ism(model, x, batch_size=batch)
        assert delta.shape == expected.shape
        assert np.abs(expected).max() > 0.05  # the check below is not vacuous
        # deltas are differences of logits: rounded at the logits' magnitude
        assert_close(delta, expected, scale=np.abs(ref).max())
        # exactly zero at the reference base, and nowhere else forced to zero on N rows
        assert (delta[x.astype(bool)] == 0).all()
        assert_close(ref, np.asarray(model(x.astype(np.float32)))[:, 0] if n_outputs == 1
                     else np.asarray(model(x.astype(np.float32))))
        if n_outputs == 3:
            d1, r1 = ism(model, x, output=1)  # another batch size (the default) and one output
            assert d1.shape == (3, L, 4)
            assert_close(d1, delta[..., 1], scale=np.abs(ref).max())


@pytest.mark.numerics
@pytest.mark.parametrize("arch,method", [("deepbind", "window"), ("deepbind", "naive"), ("basset", "window")])
def test_other_methods_equal_naive(arch, method):
    from seqcnn.models import build_model
    from seqcnn.exact_ism import ism

    params = dict(filters=5, kernel_size=6, dense_units=4) if arch == "deepbind" else \
        dict(filters=(5, 5, 5), kernel_sizes=(6, 3, 3), dense_units=(4, 4))
    model = randomize(build_model(arch, L, "binary", 1, **params), seed=3)
    x = _x(2)
    delta, ref = ism(model, x, method=method)
    assert_close(delta, plain_naive_ism(model, x)[..., 0], scale=np.abs(ref).max())


def test_non_monotone_activation_and_model_without_conv():
    """gelu is not monotone (max and activation do not commute); a Dense-first model uses the naive path."""
    from seqcnn._tf import import_keras
    from seqcnn.exact_ism import ism, ism_method

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
        delta, ref = ism(model, x)
        expected = plain_naive_ism(model, x)
        expected = expected[..., 0] if expected.shape[-1] == 1 else expected
        assert np.abs(expected).max() > 0.01
        assert_close(delta, expected, scale=np.abs(ref).max())


@pytest.mark.parametrize("length,kernel,pool,act", [(45, 7, 4, "relu"), (50, 3, 5, "gelu"), (41, 8, 4, "gelu"),
                                                     (30, 12, 1, "relu"), (33, 5, 5, "tanh")])
def test_local_geometries(length, kernel, pool, act):
    """'local' on lengths that are no multiple of the pool, kernels shorter/longer than it, non-monotone layers."""
    from seqcnn._tf import import_keras
    from seqcnn.exact_ism import ism, ism_method

    keras = import_keras()
    inp = keras.Input((length, 4), name="sequence")
    h = keras.layers.Conv1D(5, kernel, activation=act, name="conv1")(inp)
    h = keras.layers.Flatten()(keras.layers.MaxPooling1D(pool)(h))
    h = keras.layers.Dense(4, activation="gelu" if act == "gelu" else "relu")(h)
    model = randomize(keras.Model(inp, keras.layers.Dense(2, name="logits")(h)), seed=length)
    assert ism_method(model) == "local"
    x = _x(3, length, seed=length)
    expected = plain_naive_ism(model, x)
    assert np.abs(expected).max() > 0.01
    for batch in batch_sizes():
        delta, ref = ism(model, x, batch_size=batch)
        assert_close(delta, expected, scale=np.abs(ref).max())


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "elu", "gelu"])
def test_global_max_and_average_activations(act):
    """Max+average pooling with activations that are / are not 0 far below zero, monotone or not."""
    from seqcnn._tf import import_keras
    from seqcnn.exact_ism import ism, ism_method

    keras = import_keras()
    inp = keras.Input((37, 4), name="sequence")
    h = keras.layers.Conv1D(5, 6, activation=act, name="conv1")(inp)
    h = keras.layers.Concatenate()([keras.layers.GlobalMaxPooling1D()(h), keras.layers.GlobalAveragePooling1D()(h)])
    model = randomize(keras.Model(inp, keras.layers.Dense(2, name="logits")(h)), seed=len(act))
    assert ism_method(model) == "global"
    x = _x(3, 37, seed=4)
    expected = plain_naive_ism(model, x)
    assert np.abs(expected).max() > 0.01
    for batch in batch_sizes():
        delta, ref = ism(model, x, batch_size=batch)
        assert_close(delta, expected, scale=np.abs(ref).max())


def test_output_errors():
    from seqcnn.errors import ModelMismatchError, SeqcnnError
    from seqcnn.models import build_model
    from seqcnn.exact_ism import ism

    model = build_model("deepbind", L, "multiclass", 3, filters=4, kernel_size=5)
    with pytest.raises(SeqcnnError, match="output 3 does not exist"):
        ism(model, _x(1), output=3)
    with pytest.raises(ModelMismatchError, match="48 bp"):
        ism(model, _x(1, length=40))


@pytest.mark.numerics
@pytest.mark.parametrize("arch,params,method", [ARCHS[0], ARCHS[2], ARCHS[5]], ids=["global", "local", "naive"])
def test_strand_averaged_model_ism_equals_plain_naive(arch, params, method):
    """ISM of (f(x) + f(rc x)) / 2 from f's exact ISM on both strands equals naive ISM of the wrapper."""
    from seqcnn.exact_ism import ism, ism_method, single_substitutions
    from seqcnn.models import build_model, strand_inner

    model = build_model(arch, L, "binary", 1, strands="average", **params)
    randomize(strand_inner(model), seed=3, scale=1.0)
    assert strand_inner(model) is not None and ism_method(model) == method
    x = _x()
    expected = plain_naive_ism(model, x)[..., 0]
    assert np.abs(expected).max() > 0.05
    for batch in batch_sizes():
        delta, ref = ism(model, x, batch_size=batch)
        assert_close(delta, expected, scale=np.abs(ref).max())
        assert_close(ref, np.asarray(model(x.astype(np.float32)))[:, 0])
    # the same model scores a sequence and its reverse complement identically (up to the strands' order)
    xf = x.astype(np.float32)
    assert_close(np.asarray(model(xf)), np.asarray(model(xf[:, ::-1, ::-1].copy())))
    # single substitutions (the variant path) agree with the ISM map
    pos, base = np.array([3, 20, 40]), np.array([(int(np.argmax(x[i, p])) + 1) % 4 for i, p in enumerate([3, 20, 40])])
    r, a = single_substitutions(model, x, pos, base)
    assert_close(a[:, 0] - r[:, 0], delta[np.arange(3), pos, base], scale=np.abs(r).max())
