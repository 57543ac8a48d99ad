"""Tests of seqcnn.graph: consumers in the layer graph, the usable first convolution, sub-models to the logits."""

import numpy as np
import pytest

from numerics import assert_close
from seqcnn.graph import consumers, first_conv, inbound_layers, submodel
from seqcnn.models import build_model


def _keras():
    from seqcnn._tf import import_keras

    return import_keras()


def test_deepbind_graph_first_conv_and_its_consumers():
    keras = _keras()
    model = build_model("deepbind", 40, "binary", 1, filters=4, kernel_size=5, dense_units=3)
    conv = first_conv(model)
    assert conv is model.get_layer("conv1")
    kinds = sorted(type(c).__name__ for c in consumers(model, conv))
    assert kinds == ["GlobalAveragePooling1D", "GlobalMaxPooling1D"]  # DeepBind's max + average pooling
    concat = consumers(model, consumers(model, conv)[0])[0]
    assert isinstance(concat, keras.layers.Concatenate) and len(inbound_layers(concat)) == 2


@pytest.mark.parametrize("conv_kw", [{"padding": "same"}, {"strides": 2}, {"dilation_rate": 2}])
def test_first_conv_refuses_convolutions_window_arithmetic_cannot_use(conv_kw):
    keras = _keras()
    inp = keras.Input((30, 4))
    x = keras.layers.Conv1D(3, 5, **conv_kw)(inp)
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(x)))
    assert first_conv(model) is None
    dense_first = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.Dense(2)(inp))))
    assert first_conv(dense_first) is None


@pytest.mark.numerics
def test_submodel_runs_the_rest_of_the_network():
    keras = _keras()
    model = build_model("deepbind", 40, "binary", 1, filters=4, kernel_size=5, dense_units=3, global_average=False)
    pool = model.get_layer(index=2)
    assert isinstance(pool, keras.layers.GlobalMaxPooling1D)
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (3, 40))]
    features = keras.Model(model.inputs[0], pool.output)(x)
    assert_close(submodel(model, pool)(features), model(x))
