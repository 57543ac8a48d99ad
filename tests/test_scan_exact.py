"""Tests of seqcnn.scan_exact: every path's window logits equal cutting the windows and calling the model."""

import numpy as np
import pytest

from interpret_helpers import randomize
from numerics import assert_close

L = 48
S = 640
ARCHS = [
    ("deepbind", dict(filters=5, kernel_size=7, dense_units=4), "global"),
    ("deepbind", dict(filters=5, kernel_size=7, dense_units=0, dropout=0.0, global_average=False), "global"),
    ("zeng", dict(filters=5, kernel_size=9, pooling="global", dense_units=4), "global"),
    ("primer", dict(filters=5, kernel_size=7, pool_size=4, dense_units=4), "local"),
    ("zeng", dict(filters=5, kernel_size=9, pooling="local", pool_size=3, dense_units=4), "local"),
    ("basset", dict(filters=(4, 4, 4), kernel_sizes=(7, 5, 3), pool_sizes=(3, 2, 2), dense_units=(5, 5)), "chain"),
]


def _slab(seed=0, length=S):
    """Random one-hot slab with N runs (all-zero rows) at the start, inside, and at the end."""
    rng = np.random.default_rng(seed)
    slab = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, length)]
    slab[:5] = 0
    slab[200:231] = 0
    slab[400:403] = 0
    slab[-9:] = 0
    return slab


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of at most 200 slab positions and convolution rows of 37 outputs, so a short slab crosses both."""
    from seqcnn import scan_exact

    monkeypatch.setattr(scan_exact, "SPAN", 200)
    monkeypatch.setattr(scan_exact, "ROW", 37)
    monkeypatch.setattr(scan_exact, "HEAD_BUDGET", 64)
    scan_exact._CACHE.clear()       # the compiled paths read ROW when built
    yield
    scan_exact._CACHE.clear()


def _check_all_starts(model, scorer, seed=0):
    """Scorer logits equal cut windows: random starts, both ends, every start at strides 1, 3, 10 and 17."""
    from seqcnn.scan_exact import cut_logits

    slab = _slab(seed)
    every = np.arange(S - L + 1)
    want = cut_logits(model, slab, every)
    assert np.ptp(want) > 0.1          # the model's logits vary over the slab (not a dead network)
    rng = np.random.default_rng(seed + 1)
    sets = {"random": np.sort(rng.choice(every, 25, replace=False)), "ends": np.array([0, S - L]),
            "dup": np.array([3, 3, 90, 400, 400])}
    for stride in (1, 3, 10, 17):
        sets[f"stride{stride}"] = every[::stride]
    for name, starts in sets.items():
        got = scorer.logits(slab, starts)
        assert got.dtype == np.float32 and got.shape == (len(starts), scorer.n_outputs)
        assert_close(got, want[starts], ops=L * 4, err_msg=f"starts {name}")


@pytest.mark.numerics
@pytest.mark.parametrize("strands", ["single", "average"])
@pytest.mark.parametrize("arch,params,method", ARCHS, ids=[f"{a}-{m}-{i}" for i, (a, _, m) in enumerate(ARCHS)])
def test_scorer_equals_cut_windows(small_chunks, arch, params, method, strands):
    from seqcnn.models import build_model
    from seqcnn.scan_exact import WindowScorer, scan_method

    n_outputs = 2 if arch in ("primer", "basset") else 1
    model = build_model(arch, L, "multilabel" if n_outputs > 1 else "binary", n_outputs, strands=strands, **params)
    randomize(model, seed=len(params) + n_outputs)   # BatchNorm moving means and variances too
    scorer = WindowScorer(model)
    assert scorer.method == method == scan_method(model)
    assert scorer.length == L and scorer.n_outputs == n_outputs
    _check_all_starts(model, scorer)


@pytest.mark.numerics
def test_global_and_local_through_elementwise_layers(small_chunks):
    """Batch norm and activations between the convolution and the pooling; pools of stride unlike their width."""
    from seqcnn._tf import import_keras
    from seqcnn.models import strand_average
    from seqcnn.scan_exact import WindowScorer

    keras = import_keras()
    inp = keras.Input((L, 4))
    z = keras.layers.Conv1D(4, 6)(inp)
    z = keras.layers.BatchNormalization()(z)
    z = keras.layers.Activation("tanh")(z)                  # not monotone, negative values: pooled after it
    mx = keras.layers.GlobalMaxPooling1D()(z)
    av = keras.layers.GlobalAveragePooling1D()(z)
    out = keras.layers.Dense(2)(keras.layers.Concatenate()([av, mx]))   # average first
    glob = randomize(keras.Model(inp, out), seed=3)
    scorer = WindowScorer(glob)
    assert scorer.method == "global"
    _check_all_starts(glob, scorer, seed=4)

    inp = keras.Input((L, 4))
    z = keras.layers.Conv1D(4, 5, activation="elu")(inp)
    z = keras.layers.BatchNormalization()(z)
    z = keras.layers.MaxPooling1D(5, strides=3)(z)
    out = keras.layers.Dense(1)(keras.layers.Dense(3, activation="relu")(keras.layers.Flatten()(z)))
    local = strand_average(randomize(keras.Model(inp, out), seed=5))
    scorer = WindowScorer(local)
    assert scorer.method == "local"
    _check_all_starts(local, scorer, seed=6)


@pytest.mark.numerics
@pytest.mark.parametrize("first", ["same_conv", "custom_layer"])
def test_unknown_models_fall_back_to_batched(first):
    from seqcnn._tf import import_keras
    from seqcnn.scan_exact import WindowScorer

    keras = import_keras()
    inp = keras.Input((L, 4))
    if first == "same_conv":
        z = keras.layers.Conv1D(4, 7, padding="same", activation="relu")(inp)    # padding at the window edges
    else:
        z = keras.layers.Conv1D(4, 7, activation="relu")(keras.layers.Rescaling(2.0)(inp))
    out = keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(z))
    model = randomize(keras.Model(inp, out), seed=7)
    scorer = WindowScorer(model)
    assert scorer.method == "batched"
    _check_all_starts(model, scorer, seed=8)


def test_named_method_that_does_not_apply_raises():
    from seqcnn.errors import SeqcnnError
    from seqcnn.models import build_model
    from seqcnn.scan_exact import WindowScorer

    deepbind = build_model("deepbind", L, filters=3, kernel_size=5, dense_units=2)
    primer = build_model("primer", L, filters=3, kernel_size=5, dense_units=2, strands="average")
    for model, method in ((deepbind, "local"), (primer, "global"), (deepbind, "warp")):
        with pytest.raises(SeqcnnError, match=repr(method)):
            WindowScorer(model, method)
    assert WindowScorer(primer, "local").method == "local"
    assert WindowScorer(deepbind, "batched").method == "batched"


@pytest.mark.numerics
def test_named_batched_equals_fast_path():
    from seqcnn.models import build_model
    from seqcnn.scan_exact import WindowScorer

    model = randomize(build_model("deepbind", L, filters=4, kernel_size=6, dense_units=3, strands="average"), seed=9)
    slab, starts = _slab(9), np.arange(0, S - L + 1, 5)
    assert_close(WindowScorer(model).logits(slab, starts), WindowScorer(model, "batched").logits(slab, starts),
                 ops=L * 4)


def test_bad_starts_and_slabs_raise():
    from seqcnn.errors import SeqcnnError
    from seqcnn.models import build_model
    from seqcnn.scan_exact import WindowScorer, cut_logits

    model = build_model("deepbind", L, filters=3, kernel_size=5, dense_units=2)
    scorer, slab = WindowScorer(model), _slab()
    for starts, msg in ((np.array([5, 2]), "ascending"), (np.array([S - L + 1]), "must lie"),
                        (np.array([-1]), "must lie"), (np.array([0.5]), "integer")):
        for fn in (scorer.logits, lambda sl, st: cut_logits(model, sl, st)):
            with pytest.raises(SeqcnnError, match=msg):
                fn(slab, starts)
    with pytest.raises(SeqcnnError, match="one-hot slab"):
        scorer.logits(slab[:, :3], np.array([0]))
    assert scorer.logits(slab, np.zeros(0, np.int64)).shape == (0, 1)
