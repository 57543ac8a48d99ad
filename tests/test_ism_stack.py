"""seqcnn.ism_stack: windowed exact ISM through conv stacks equals naive ISM on odd geometries and random models."""

import numpy as np
import pytest

from interpret_helpers import plain_naive_ism, randomize
from numerics import assert_close, batch_sizes


def _x(n, length, seed):
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, length))]
    x[min(1, n - 1), 3:6] = 0   # N rows: four substitutions each
    return x


def _random_stack(seed, length, n_outputs):
    """A random chain of every known layer kind and geometry, then one of three heads."""
    from seqcnn._tf import import_keras

    keras = import_keras()
    rng = np.random.default_rng(seed)
    inp = keras.Input((length, 4), name="sequence")
    h = inp
    for block in range(int(rng.integers(2, 4))):
        pad = ["valid", "same", "causal"][int(rng.integers(3))] if block else ["valid", "same"][int(rng.integers(2))]
        h = keras.layers.Conv1D(int(rng.integers(3, 7)), int(rng.integers(2, 8)), padding=pad,
                                dilation_rate=int(rng.integers(1, 3)),
                                activation=["relu", "tanh", None][int(rng.integers(3))])(h)
        if rng.random() < 0.6:
            h = keras.layers.BatchNormalization()(h)
        h = [keras.layers.ReLU(), keras.layers.Activation("elu"), keras.layers.LeakyReLU(0.1),
             keras.layers.Dropout(0.3)][int(rng.integers(4))](h)
        if rng.random() < 0.8 and h.shape[1] >= 4:
            pool = [keras.layers.MaxPooling1D, keras.layers.AveragePooling1D][int(rng.integers(2))]
            size = int(rng.integers(2, 4))
            h = pool(size, strides=int(rng.integers(1, size + 1)), padding=["valid", "same"][int(rng.integers(2))])(h)
    head = int(rng.integers(3))
    if head == 0:
        h = keras.layers.Flatten()(h)
    elif head == 1:
        h = keras.layers.GlobalMaxPooling1D()(h)
    else:
        h = keras.layers.GlobalAveragePooling1D()(h)
    h = keras.layers.Dense(5, activation="relu")(h)
    return keras.Model(inp, keras.layers.Dense(n_outputs, name="logits")(h))


# seeds 0-2 also in the second numerics configuration of make test (a multi-output, a single-output, each head)
@pytest.mark.parametrize("seed", [pytest.param(s, marks=pytest.mark.numerics) for s in range(3)] + list(range(3, 8)))
def test_random_stacks_equal_naive_ism(seed):
    from seqcnn.exact_ism import ism, kernels

    length = [37, 41, 50, 64][seed % 4]
    n_outputs = 3 if seed % 3 == 0 else 1
    model = randomize(_random_stack(seed, length, n_outputs), seed=seed, scale=0.4)
    kern = kernels(model, "window")
    assert kern.method == "window" and len(kern.plan["chain"]["steps"]) >= 4
    x = _x(3, length, seed)
    expected = plain_naive_ism(model, x)
    expected = expected[..., 0] if n_outputs == 1 else expected
    assert np.abs(expected).max() > 1e-4   # not vacuous
    for batch in batch_sizes():
        delta, ref = ism(model, x, method="window", batch_size=batch)
        assert_close(delta, expected, scale=np.abs(ref).max(), err_msg=f"seed {seed}, batch {batch}")
        assert (delta[x.astype(bool)] == 0).all()


@pytest.mark.parametrize("arch,params", [
    ("basset", dict(filters=(6, 5, 4), kernel_sizes=(7, 5, 3), pool_sizes=(3, 2, 2), dense_units=(6, 6))),
    ("basset", dict(filters=(5, 5), kernel_sizes=(9, 4), pool_sizes=(4, 3), dense_units=(6,))),
    ("deepbind", dict(filters=5, kernel_size=6, dense_units=4)),
    ("zeng", dict(filters=5, kernel_size=9, pooling="local", pool_size=3, dense_units=4)),
    ("primer", dict(filters=5, kernel_size=7, pool_size=4, dense_units=4)),
])
def test_every_factory_architecture_through_the_window_path(arch, params):
    from seqcnn.exact_ism import ism
    from seqcnn.models import build_model

    for length, n_outputs in ((61, 1), (73, 3)):
        task = "binary" if n_outputs == 1 else "multiclass"
        model = randomize(build_model(arch, length, task, n_outputs, **params), seed=length, scale=0.4)
        x = _x(2, length, length)
        delta, ref = ism(model, x, method="window")
        expected = plain_naive_ism(model, x)
        expected = expected[..., 0] if n_outputs == 1 else expected
        assert_close(delta, expected, scale=np.abs(ref).max(), err_msg=f"{arch}, {length} bp")


def test_window_geometry_of_a_conv_and_a_pool():
    """valid conv K=5 on 20 bp: a substitution at i reaches outputs i-4..i; a pool of 2 then reaches 3 outputs."""
    from seqcnn._tf import import_keras
    from seqcnn.ism_stack import plan_chain

    keras = import_keras()
    inp = keras.Input((20, 4))
    h = keras.layers.MaxPooling1D(2)(keras.layers.Conv1D(3, 5)(inp))
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(h)))
    conv, pool = plan_chain(model)["steps"]
    assert (conv["kind"], conv["W"], conv["L_out"]) == ("conv", 5, 16)
    assert conv["start"].tolist() == np.clip(np.arange(20) - 4, 0, 11).tolist()
    assert (pool["kind"], pool["W"], pool["L_out"]) == ("pool", 3, 8)
    # each substitution's changed pooled outputs lie inside its window
    for i in range(20):
        first, last = max(i - 4, 0) // 2, min(i, 15) // 2
        assert pool["start"][i] <= first and last < pool["start"][i] + 3


def test_auto_picks_the_window_for_deep_stacks_only():
    from seqcnn._tf import import_keras
    from seqcnn.exact_ism import ism_method
    from seqcnn.models import build_model

    assert ism_method(build_model("basset", 200, "binary", 1)) == "window"
    assert ism_method(build_model("basset", 1000, "binary", 1)) == "window"
    from seqcnn.exact_ism import kernels

    assert kernels(build_model("basset", 200, "binary", 1)).jit   # XLA from WINDOW_XLA_MACS on
    # a tiny stack: the saved arithmetic is smaller than the gathers' overhead
    assert ism_method(build_model("basset", 101, "binary", 1, filters=(6, 6, 6), kernel_sizes=(7, 5, 3),
                                  pool_sizes=(3, 2, 2), dense_units=(6, 6))) == "naive"
    assert ism_method(build_model("deepbind", 200, "binary", 1)) == "global"
    # a strided convolution is not a known layer: the chain stops before it, and ISM stays exact
    keras = import_keras()
    inp = keras.Input((40, 4))
    h = keras.layers.Conv1D(4, 5, activation="relu")(inp)
    h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Conv1D(4, 3, strides=2)(h)
    model = randomize(keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(h))), seed=2, scale=0.5)
    from seqcnn.exact_ism import ism, kernels

    assert [s["kind"] for s in kernels(model, "window").plan["chain"]["steps"]] == ["conv", "pool"]
    x = _x(2, 40, 4)
    delta, ref = ism(model, x, method="window")
    assert_close(delta, plain_naive_ism(model, x)[..., 0], scale=np.abs(ref).max())


@pytest.mark.parametrize("seed", [pytest.param(0, marks=pytest.mark.numerics), 3])
def test_the_xla_compiled_window_equals_naive_ism(seed):
    """'auto' compiles the window with XLA on real-size stacks; the compiled function is exact too."""
    from seqcnn.exact_ism import ism, kernels

    length = [37, 41, 50, 64][seed % 4]
    model = randomize(_random_stack(seed, length, 1), seed=seed, scale=0.4)
    assert kernels(model, "window", jit_compile=True).jit
    x = _x(3, length, seed)
    expected = plain_naive_ism(model, x)[..., 0]
    for batch in batch_sizes():
        delta, ref = ism(model, x, method="window", jit_compile=True, batch_size=batch)
        assert_close(delta, expected, scale=np.abs(ref).max(), err_msg=f"batch {batch}")
