"""The model factory: shapes, logit outputs, parameter counts, conventions and errors."""

import numpy as np
import pytest

from seqcnn import models
from seqcnn.errors import SeqcnnError

SMALL = {
    "primer": {"filters": 4, "kernel_size": 6, "pool_size": 4, "dense_units": 8},
    "deepbind": {"filters": 4, "kernel_size": 6, "dense_units": 8},
    "basset": {"filters": (4, 4, 4), "kernel_sizes": (5, 3, 3), "pool_sizes": (2, 2, 2), "dense_units": (8,)},
    "zeng": {"filters": 4, "kernel_size": 6, "dense_units": 8},
}


@pytest.mark.parametrize("arch", list(models.ARCHITECTURES))
@pytest.mark.parametrize("task,n_out", [("binary", 1), ("multiclass", 3), ("multilabel", 2)])
def test_shapes_logits_and_conventions(arch, task, n_out):
    m = models.build_model(arch, 50, task, n_out, **SMALL[arch])
    assert m.input_shape == (None, 50, 4)
    assert m.output_shape == (None, n_out)
    assert m.layers[0].name == "sequence"
    conv1 = m.get_layer("conv1")
    assert type(conv1).__name__ == "Conv1D" and conv1.padding == "valid" and conv1.dilation_rate == (1,)
    assert m.layers[1] is conv1
    logits = m.get_layer("logits")
    assert logits is m.layers[-1] and logits.activation.__name__ == "linear"
    x = np.random.default_rng(0).integers(0, 2, (7, 50, 4)).astype("float32") * 20  # large inputs: big logits
    out = np.asarray(m(x, training=False))
    assert out.shape == (7, n_out) and np.isfinite(out).all()


def test_logits_are_unbounded():
    m = models.build_model("deepbind", 30, "binary", 1, filters=4, kernel_size=5, dense_units=0, dropout=0)
    w = m.get_layer("logits").get_weights()
    m.get_layer("logits").set_weights([w[0] * 0, w[1] * 0 - 7.0])
    assert np.allclose(np.asarray(m(np.zeros((2, 30, 4), "float32"))), -7.0)  # a probability could not be -7


def test_parameter_counts_match_the_architecture_formulas():
    # primer: conv 12*4*32+32, pool 189//4=47 → flatten 1504, dense 1504*16+16, logits 16+1
    assert models.build_model("primer", 200, filters=32, kernel_size=12, pool_size=4,
                              dense_units=16).count_params() == 1568 + 24080 + 17
    # deepbind: conv 24*4*128+128, dense 128*32+32, logits 33; global average doubles the dense input
    kw = dict(filters=128, kernel_size=24, dense_units=32)
    assert models.build_model("deepbind", 200, global_average=False, **kw).count_params() == 12416 + 4128 + 33
    assert models.build_model("deepbind", 200, global_average=True, **kw).count_params() == 12416 + 8224 + 33
    assert models.build_model("zeng", 200, **kw).count_params() == 12416 + 4128 + 33
    # zeng local pooling: (200-24+1)//4 = 44 positions * 128 → dense
    assert models.build_model("zeng", 200, pooling="local", pool_size=4, **kw).count_params() == \
        12416 + (44 * 128 * 32 + 32) + 33
    # basset on 50 bp: conv/bn per block, 'same' pools 46→23→12→6, flatten 24, dense 8
    basset = models.build_model("basset", 50, **SMALL["basset"])
    assert basset.count_params() == (84 + 16) + (52 + 16) + (52 + 16) + (24 * 8 + 8) + 9
    # multiclass heads: one logit per class
    assert models.build_model("deepbind", 200, "multiclass", 4, global_average=False,
                              **kw).count_params() == 12416 + 4128 + 33 * 4


def test_factory_errors_are_clear():
    with pytest.raises(SeqcnnError, match="unknown architecture 'resnet'.*choose one of primer"):
        models.build_model("resnet", 100)
    with pytest.raises(SeqcnnError, match="no parameter.*banana"):
        models.build_model("deepbind", 100, banana=3)
    with pytest.raises(SeqcnnError, match="kernel_size 24 is longer than the sequences \\(20 bp\\)"):
        models.build_model("deepbind", 20, kernel_size=24)
    with pytest.raises(SeqcnnError, match="too short"):
        models.build_model("primer", 14, kernel_size=12, pool_size=4)
    with pytest.raises(SeqcnnError, match="binary task has one output"):
        models.build_model("deepbind", 100, "binary", 2)
    with pytest.raises(SeqcnnError, match="unknown task"):
        models.build_model("deepbind", 100, "regression", 1)
    with pytest.raises(SeqcnnError, match="same number of entries"):
        models.build_model("basset", 100, filters=(8, 8), kernel_sizes=(5, 3, 3), pool_sizes=(2, 2, 2))


def test_coerce_param_types_and_errors():
    assert models.coerce_param("deepbind", "filters", "64") == 64
    assert models.coerce_param("deepbind", "dropout", "0.25") == 0.25
    assert models.coerce_param("deepbind", "global_average", "yes") is True
    assert models.coerce_param("basset", "filters", "8,16,32") == (8, 16, 32)
    assert models.coerce_param("zeng", "pooling", "local") == "local"
    with pytest.raises(SeqcnnError, match="filters='many' is not a valid int"):
        models.coerce_param("deepbind", "filters", "many")
    with pytest.raises(SeqcnnError, match="no parameter 'depth'"):
        models.coerce_param("deepbind", "depth", "3")
    with pytest.raises(SeqcnnError, match="not a valid bool"):
        models.coerce_param("deepbind", "global_average", "maybe")


def test_describe_lists_every_architecture_with_defaults_and_counts():
    rows = models.describe(101)
    assert [r["name"] for r in rows] == list(models.ARCHITECTURES)
    assert sum(r["default"] for r in rows) == 1 and models.DEFAULT_ARCH in models.ARCHITECTURES
    for r in rows:
        assert r["hparams"] == models.hyperparameters(r["name"])
        assert r["n_params"] == models.build_model(r["name"], 101).count_params()
    assert "kernel_size" in models.hyperparameters("deepbind")
