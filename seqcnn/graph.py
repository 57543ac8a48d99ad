"""Walking a Keras functional model's layer graph: who feeds whom, the first convolution, sub-models.

Provides :func:`inbound_layers`, :func:`consumers`, :func:`first_conv` (the Conv1D that the
one-hot input feeds, when window arithmetic can use it) and :func:`submodel` (the part of
a model from one layer's output to the logits). Used by exact ISM to choose its shortcut
and by the motif export to find the first-layer filters.
"""

from ._tf import import_keras


def inbound_layers(layer):
    """Layers feeding ``layer`` (its first call), in input order."""
    node = layer._inbound_nodes[0]
    return [t._keras_history.operation for t in node.input_tensors]


def consumers(model, layer):
    """Layers of ``model`` that take ``layer``'s output as an input."""
    return [other for other in model.layers if other is not layer and other._inbound_nodes
            and any(src is layer for src in inbound_layers(other))]


def first_conv(model):
    """The model's first layer if it is a Conv1D usable for window arithmetic, else ``None``.

    Usable: the model's only input, of shape (L, 4), feeds exactly this Conv1D with
    ``padding='valid'``, stride 1, dilation 1, one group, channels last.
    """
    keras = import_keras()
    if len(model.inputs) != 1 or tuple(model.inputs[0].shape[1:]) [-1:] != (4,):
        return None
    inp_layer = model.inputs[0]._keras_history.operation
    users = consumers(model, inp_layer)
    if len(users) != 1 or not isinstance(users[0], keras.layers.Conv1D):
        return None
    conv = users[0]
    if (conv.padding != "valid" or tuple(conv.strides) != (1,) or tuple(conv.dilation_rate) != (1,)
            or getattr(conv, "groups", 1) != 1 or conv.data_format != "channels_last"):
        return None
    return conv


def submodel(model, layer):
    """The part of ``model`` from ``layer``'s output to the logits, as a Keras model."""
    return import_keras().Model(layer.output, model.output)
