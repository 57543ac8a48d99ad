"""seqcnn.scan_chain: the shared-layer scan of conv stacks equals cutting windows and calling the model."""

import numpy as np
import pytest

from numerics import assert_close


def _randomize(model, seed):
    """Random weights and non-trivial BatchNormalization moving statistics (so BN is not the identity)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = weights
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.3, beta.shape),
                               rng.normal(0, 0.5, mean.shape), rng.uniform(0.3, 2.0, var.shape)])
        else:
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in weights])
    return model


def _basset(length, kernel_sizes=(7, 11, 7), pool_sizes=(3, 4, 4), seed=0, n_outputs=1):
    from seqcnn.models import build_model

    task = "binary" if n_outputs == 1 else "multilabel"
    model = build_model("basset", input_length=length, task=task, n_outputs=n_outputs, filters=(8, 8, 8),
                        kernel_sizes=kernel_sizes, pool_sizes=pool_sizes, dense_units=(16, 8))
    return _randomize(model, seed)


def _slab(size, seed):
    """Random one-hot bases with N runs (zero rows), one at the slab's start."""
    rng = np.random.default_rng(seed)
    slab = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, size)]
    slab[:9] = 0
    slab[300:420] = 0
    slab[size // 2:size // 2 + 7] = 0
    return slab


def _cut(model, slab, starts):
    """The oracle: each window cut from the slab, the model called on them."""
    L = int(model.inputs[0].shape[1])
    x = np.stack([slab[s:s + L] for s in starts]).astype(np.float32)
    return np.asarray(model(x, training=False))


def _check(scorer, model, slab, starts, path=None):
    got = scorer.logits(slab, starts, path=path)
    assert got.shape == (len(starts), scorer.n_outputs) and got.dtype == np.float32
    desired = _cut(model, slab, starts)
    # the longest reduction: the first dense layer's fan-in
    assert_close(got, desired, ops=max(int(np.prod(l.kernel.shape[:-1])) for l in model.layers
                                      if type(l).__name__ in ("Dense", "Conv1D")), err_msg=f"path {path}")


GEOMETRIES = [
    # (L, kernel sizes, pool sizes): the default's shape; even kernels and small pools; pools wider than the rest
    (60, (8, 11, 7), (3, 4, 4)),
    (101, (6, 4, 3), (2, 3, 2)),
    (101, (8, 5, 2), (4, 2, 3)),
    (61, (5, 3, 3), (5, 2, 2)),
]


@pytest.mark.numerics
@pytest.mark.parametrize("length,kernels,pools", GEOMETRIES)
def test_equals_cut_windows(length, kernels, pools):
    from seqcnn.scan_chain import plan

    model = _basset(length, kernels, pools, seed=length + sum(kernels))
    # XLA (the default) compiles per chunk shape: one geometry runs it, the others the plain graph (test time)
    scorer = plan(model, jit_compile=length == 60)
    assert scorer.jit_compile == (length == 60)
    assert scorer is not None and scorer.deep is not None and scorer.length == length
    assert "7 layers shared" in scorer.describe()
    S = 1000
    slab = _slab(S, seed=length)
    rng = np.random.default_rng(5)
    random_starts = np.unique(np.r_[0, S - length, rng.integers(0, S - length + 1, 60)])
    for path in ("deep", "shallow", None):
        _check(scorer, model, slab, random_starts, path)
    for stride in (1, 3, 10, 12, 17):
        starts = np.arange(0, S - length + 1, stride)
        _check(scorer, model, slab, starts, "deep")
    _check(scorer, model, slab, np.arange(0, S - length + 1, 10), None)


@pytest.mark.numerics
def test_edge_pools_and_padding_are_the_windows_own():
    """A window next to strong signal: the edge outputs must not see the neighbouring genome."""
    from seqcnn.scan_chain import plan

    model = _basset(60, (8, 11, 7), (3, 4, 4), seed=3, n_outputs=3)
    scorer = plan(model)
    g = scorer.deep
    # this geometry has both kinds of edge: a clipped 'same' pool window and the convolution's zeros
    assert len(g["right_pool"][0]) == 1 and g["e_l"] > 0 and g["e_r"] < g["L2"]
    slab = _slab(400, seed=9)
    starts = np.arange(150, 200, 1)
    _check(scorer, model, slab, starts, "deep")
    # the windows alone (no neighbours at all) give the same logits as inside the slab
    alone = np.concatenate([scorer.logits(slab[s:s + 60], np.array([0]), path="deep") for s in starts[:5]])
    assert_close(alone, scorer.logits(slab, starts[:5], path="deep"), ops=128)
    # new weights after planning: the scorer follows its model
    _randomize(model, 11)
    _check(scorer, model, slab, starts[:12], "deep")


@pytest.mark.numerics
def test_average_pool_strided_dilated_chain():
    """Other known layers: average pools with stride below their size, dilated and causal convolutions."""
    from seqcnn._tf import import_keras
    from seqcnn.scan_chain import plan

    keras = import_keras()
    inp = keras.Input((73, 4))
    h = keras.layers.Conv1D(6, 5, dilation_rate=2, activation="relu")(inp)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.AveragePooling1D(3, strides=2, padding="same")(h)
    h = keras.layers.Conv1D(5, 3, padding="causal", dilation_rate=2)(h)
    h = keras.layers.LeakyReLU(0.1)(h)
    h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Flatten()(h)
    model = _randomize(keras.Model(inp, keras.layers.Dense(2)(h)), 4)
    scorer = plan(model, jit_compile=False)
    assert scorer is not None and scorer.deep is not None
    slab = _slab(900, seed=2)
    for stride in (1, 7):
        _check(scorer, model, slab, np.arange(0, 900 - 73 + 1, stride), "deep")


@pytest.mark.numerics
def test_chunks_and_gaps(monkeypatch):
    """Many small chunks (bounded memory) and starts with gaps (isolated windows are cut) change nothing."""
    from seqcnn import scan_chain

    model = _basset(101, (6, 4, 3), (2, 3, 2), seed=7)
    scorer = scan_chain.plan(model, jit_compile=False)
    slab = _slab(3000, seed=1)
    starts = np.r_[np.arange(0, 800, 3), np.arange(1200, 1250, 1), [1600, 2000], np.arange(2100, 2899, 10)]
    expected = scorer.logits(slab, starts)
    monkeypatch.setattr(scan_chain, "CHUNK_FLOATS", 1 << 12)
    chunks = scorer._chunks(starts)
    assert len(chunks) > 20 and all(b - a <= scan_chain.MAX_WINDOWS for a, b in chunks)
    assert [a for a, _ in chunks][1:] == [b for _, b in chunks][:-1]
    assert 1600 in [starts[a] for a, _ in chunks] and 2000 in [starts[a] for a, _ in chunks]
    _check(scorer, model, slab, starts)
    assert_close(scorer.logits(slab, starts), expected, ops=128)
    assert scorer.logits(slab, np.array([], np.int64)).shape == (0, 1)


def test_path_choice():
    """Dense starts share the deep block, isolated windows are cut."""
    model = _basset(101, (6, 4, 3), (2, 3, 2))
    from seqcnn.scan_chain import plan

    costs = plan(model)._costs
    dense, sparse = costs(101 + 99 * 3, 100), costs(101, 1)
    assert min(dense, key=dense.get) == "deep"
    assert min(sparse, key=sparse.get) == "cut"


def test_plan_refuses_unknown_models():
    from seqcnn._tf import import_keras
    from seqcnn.models import build_model
    from seqcnn.scan_chain import plan

    keras = import_keras()
    inp = keras.Input((50, 4))
    strided = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.Conv1D(4, 5, strides=2)(inp))))
    assert plan(strided) is None
    inp = keras.Input((50, 4))
    dense_first = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.Dense(3)(inp))))
    assert plan(dense_first) is None
    inp = keras.Input((50, 4))
    same = keras.layers.Conv1D(4, 5, padding="same")(inp)
    same_first = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(same)))
    assert plan(same_first) is None
    assert plan(build_model("basset", input_length=60, filters=(4, 4, 4), kernel_sizes=(5, 3, 3), dense_units=(4,),
                            strands="average")) is None
    # a first block with no pool after it: shared first block only
    inp = keras.Input((50, 4))
    shallow = plan(keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.Conv1D(4, 5)(inp)))))
    assert shallow is not None and shallow.deep is None and "1 layers shared" in shallow.describe()


def test_bad_starts_raise():
    from seqcnn.errors import SeqcnnError
    from seqcnn.scan_chain import plan

    scorer = plan(_basset(61, (5, 3, 3), (5, 2, 2)))
    slab = _slab(500, seed=0)
    for starts in ([0, 440], [-1, 3], [5, 2]):
        with pytest.raises(SeqcnnError, match="window starts"):
            scorer.logits(slab, np.array(starts))
    with pytest.raises(SeqcnnError, match="one-hot slab"):
        scorer.logits(slab[:, :3], np.array([0]))
