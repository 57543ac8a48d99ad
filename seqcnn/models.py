"""Model factory: named Conv1D architectures and ``build_model``.

Every model takes one-hot input ``float32 [batch, L, 4]`` and returns **logits**
``[batch, n_outputs]`` (no final sigmoid/softmax): losses use ``from_logits=True``,
prediction applies the link, and mutagenesis works in logit space.

Conventions other modules rely on:
- the input layer is named ``sequence``;
- the first layer after the input is a ``Conv1D`` named ``conv1`` with ``padding='valid'``
  and no dilation, so filter ``f`` at position ``p`` sees input rows ``p .. p + kernel_size - 1``
  (motif extraction and fast mutagenesis use this);
- the output layer is a ``Dense`` named ``logits``.

A **strand-averaged** model (:func:`strand_average`, what ``seqcnn train`` saves by default) wraps
such a model ``f``: ``g(x) = (f(x) + f(rc(x))) / 2``, so every verb (predict, evaluate, mutagenesis,
motifs, variants) scores both strands through the one saved function. :func:`strand_inner` returns
``f`` (the conventions above hold for it); exact ISM of ``g`` is the mean of ``f``'s exact ISM of
``x`` and of ``rc(x)`` at mirrored positions and complementary bases.

A **replicate ensemble** (:func:`replicate_average`, what ``seqcnn train --replicates K`` saves) calls K such
models on one input and averages their logits with a built-in ``Average`` layer; :func:`ensemble_members` returns
the K members, and every fast path (exact ISM, window scoring) runs per member and averages.
"""

import inspect

from .errors import SeqcnnError

TASKS = ("binary", "multiclass", "multilabel")
STRANDS = ("single", "average")
DEFAULT_ARCH = "deepbind"


def _keras():
    from ._tf import import_keras

    return import_keras()


def _check_kernel(kernel_size, length, arch):
    if kernel_size > length:
        raise SeqcnnError(f"architecture {arch!r}: kernel_size {kernel_size} is longer than the sequences "
                          f"({length} bp)", hint="lower --param kernel_size or encode longer sequences")


def _head(keras, x, n_outputs):
    return keras.layers.Dense(n_outputs, name="logits")(x)


def primer(input_length, n_outputs, filters=32, kernel_size=12, pool_size=4, dense_units=16):
    """The Zou et al. 2019 primer model: Conv1D(32, 12) → MaxPool1D(4) → Flatten → Dense(16, relu) → logits.

    Parameters
    ----------
    filters, kernel_size : int — first convolution.
    pool_size : int — max-pooling window and stride.
    dense_units : int — hidden dense layer width.
    """
    keras = _keras()
    _check_kernel(kernel_size, input_length, "primer")
    if (input_length - kernel_size + 1) < pool_size:
        raise SeqcnnError(f"architecture 'primer': sequences of {input_length} bp are too short for kernel_size "
                          f"{kernel_size} and pool_size {pool_size}", hint="lower --param kernel_size or pool_size")
    inp = keras.Input((input_length, 4), name="sequence")
    x = keras.layers.Conv1D(filters, kernel_size, activation="relu", name="conv1")(inp)
    x = keras.layers.MaxPooling1D(pool_size, name="pool1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="dense1")(x)
    return keras.Model(inp, _head(keras, x, n_outputs), name="primer")


def deepbind(input_length, n_outputs, filters=128, kernel_size=14, global_average=True, dense_units=32,
             dropout=0.5, l2=1e-4):
    """DeepBind-like: Conv1D(F, K) relu → global max pool (+ optional global average) → Dense relu → dropout → logits.

    Parameters
    ----------
    filters, kernel_size : int — the motif detectors.
    global_average : bool — concatenate global average pooling to the global max (DeepBind's "max+avg").
    dense_units : int — hidden layer width (0 for none).
    dropout : float — dropout before the output.
    l2 : float — L2 weight penalty on the convolution and dense kernels (regularises small data sets).

    The defaults were chosen by ``benchmarks/bench_accuracy.py``: 14 bp kernels with max+average pooling
    matched a 5-mer logistic regression on 800-sequence ChIP-seq sets (GATA3, where 24 bp kernels with max
    pooling alone fell 0.12 auROC short) and kept Oct4-vs-Mafk near 0.998 (see README, "seqcnn models").
    """
    keras = _keras()
    _check_kernel(kernel_size, input_length, "deepbind")
    reg = keras.regularizers.L2(l2) if l2 else None
    inp = keras.Input((input_length, 4), name="sequence")
    conv = keras.layers.Conv1D(filters, kernel_size, activation="relu", kernel_regularizer=reg, name="conv1")(inp)
    x = keras.layers.GlobalMaxPooling1D(name="global_max")(conv)
    if global_average:
        avg = keras.layers.GlobalAveragePooling1D(name="global_avg")(conv)
        x = keras.layers.Concatenate(name="max_avg")([x, avg])
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", kernel_regularizer=reg, name="dense1")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, _head(keras, x, n_outputs), name="deepbind")


def basset(input_length, n_outputs, filters=(128, 128, 128), kernel_sizes=(19, 11, 7), pool_sizes=(3, 4, 4),
           dense_units=(256, 256), dropout=0.3):
    """Basset-like: three Conv1D/BatchNorm/ReLU/MaxPool1D blocks → two dense layers with dropout → logits.

    The first convolution is 'valid' (motif detectors); later ones and the pools use
    'same' padding so short sequences (e.g. 101 bp) still fit.

    Parameters
    ----------
    filters, kernel_sizes, pool_sizes : tuple of 3 int — per block.
    dense_units : tuple of int — widths of the dense layers.
    dropout : float — after each dense layer.
    """
    keras = _keras()
    filters, kernel_sizes, pool_sizes, dense_units = (tuple(_as_list(v)) for v in
                                                      (filters, kernel_sizes, pool_sizes, dense_units))
    if not (len(filters) == len(kernel_sizes) == len(pool_sizes)):
        raise SeqcnnError("architecture 'basset': filters, kernel_sizes and pool_sizes need the same number of "
                          "entries", hint="e.g. --param filters=128,128,128 --param kernel_sizes=19,11,7")
    _check_kernel(kernel_sizes[0], input_length, "basset")
    inp = keras.Input((input_length, 4), name="sequence")
    x = inp
    for i, (f, k, p) in enumerate(zip(filters, kernel_sizes, pool_sizes), start=1):
        x = keras.layers.Conv1D(f, k, padding="valid" if i == 1 else "same", name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu{i}")(x)
        x = keras.layers.MaxPooling1D(p, padding="same", name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for j, units in enumerate(dense_units, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{j}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{j}")(x)
    return keras.Model(inp, _head(keras, x, n_outputs), name="basset")


def zeng(input_length, n_outputs, filters=128, kernel_size=24, pooling="global", pool_size=4, dense_units=32,
         dropout=0.5):
    """The one-layer family of Zeng et al. 2016: Conv1D → max pooling (global or local) → Dense → dropout → logits.

    Parameters
    ----------
    filters, kernel_size : int — number and width of the kernels.
    pooling : {'global', 'local'} — global max over the sequence, or local MaxPool1D(pool_size) then flatten.
    pool_size : int — window for local pooling.
    dense_units : int — hidden layer width (0 for none).
    dropout : float
    """
    keras = _keras()
    _check_kernel(kernel_size, input_length, "zeng")
    if pooling not in ("global", "local"):
        raise SeqcnnError(f"architecture 'zeng': pooling must be 'global' or 'local', got {pooling!r}")
    inp = keras.Input((input_length, 4), name="sequence")
    x = keras.layers.Conv1D(filters, kernel_size, activation="relu", name="conv1")(inp)
    if pooling == "global":
        x = keras.layers.GlobalMaxPooling1D(name="global_max")(x)
    else:
        if input_length - kernel_size + 1 < pool_size:
            raise SeqcnnError(f"architecture 'zeng': sequences too short for local pooling of {pool_size}")
        x = keras.layers.MaxPooling1D(pool_size, name="pool1")(x)
        x = keras.layers.Flatten(name="flatten")(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", name="dense1")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, _head(keras, x, n_outputs), name="zeng")


def custom_objects():
    """The custom layers seqcnn models may contain, for ``keras.models.load_model(..., custom_objects=...)``.

    New models contain none (:mod:`seqcnn.layers`); run directories saved by earlier versions hold the
    ``ReverseComplement`` layer.
    """
    from . import layers

    return layers.custom_objects()


def strand_average(inner):
    """Wrap a one-hot model ``f`` as ``(f(x) + f(rc(x))) / 2``: one function for both strands.

    Parameters
    ----------
    inner : keras.Model — input shape=(batch, L, 4), logits shape=(batch, T).

    Returns
    -------
    keras.Model — the same shapes; its operations are the input ``sequence``, two built-in ``Flip``
    operations (the reverse complement, :func:`seqcnn.layers.reverse_complement`), ``inner`` (named
    ``<name>_strand``, called twice with shared weights) and the ``Average`` layer ``strand_average``. Built-in
    operations only, so its ``.keras`` file opens in plain Keras.
    """
    from . import layers

    keras = _keras()
    L = int(inner.inputs[0].shape[1])
    name = inner.name
    inner.name = f"{name}_strand"
    inp = keras.Input((L, 4), name="sequence")
    out = keras.layers.Average(name="strand_average")([inner(inp), inner(layers.reverse_complement(inp))])
    return keras.Model(inp, out, name=name)


# The operations of a strand-averaged model: as built now, and as saved by earlier versions (a custom layer).
_STRAND_OPS = (["Average", "Flip", "Flip", "Functional", "InputLayer"],
               ["Average", "Functional", "InputLayer", "ReverseComplement"])


def strand_inner(model):
    """The single-strand model ``f`` inside a :func:`strand_average` wrapper, or ``None`` for any other model."""
    keras = _keras()
    ops = getattr(model, "operations", None) or model.layers
    if sorted(type(op).__name__ for op in ops) not in _STRAND_OPS:
        return None
    if sorted(getattr(op, "axis", None) for op in ops if type(op).__name__ == "Flip") not in ([], [1, 2]):
        return None  # two flips that are not positions + channels: not our reverse complement
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def replicate_average(members, names=None):
    """One model whose logits are the mean of ``members``' logits on the same input: a replicate ensemble.

    Parameters
    ----------
    members : list of keras.Model — at least two, each input shape=(batch, L, 4), logits shape=(batch, T) (strand
        averages or single-strand models alike).
    names : list of str, optional — the members' names inside the ensemble (default ``replicate_<i>``); each
        member is renamed, since one model's layers need distinct names.

    Returns
    -------
    keras.Model — input ``sequence`` shape=(batch, L, 4), logits shape=(batch, T): the members called on the
    input and the built-in ``Average`` layer ``replicate_average`` (the sum of their logits in member order, divided
    by K). Built-in operations only, so its ``.keras`` file opens in plain Keras; :func:`ensemble_members` finds
    the members again.
    """
    keras = _keras()
    if len(members) < 2:
        raise SeqcnnError(f"an ensemble needs at least two members, got {len(members)}")
    shapes = {(tuple(m.inputs[0].shape[1:]), tuple(m.outputs[0].shape[1:])) for m in members}
    if len(shapes) != 1:
        raise SeqcnnError(f"ensemble members differ in input or output shape: {sorted(shapes)}")
    L = int(members[0].inputs[0].shape[1])
    for i, m in enumerate(members):
        m.name = names[i] if names else f"replicate_{i}"
    inp = keras.Input((L, 4), name="sequence")
    out = keras.layers.Average(name=ENSEMBLE_LAYER)([m(inp) for m in members])
    return keras.Model(inp, out, name="replicate_ensemble")


ENSEMBLE_LAYER = "replicate_average"


def ensemble_members(model):
    """The member models of a :func:`replicate_average` ensemble, in order, or ``None`` for any other model.

    Recognised by its graph, not its names alone: one input, K >= 2 nested models each called once on that
    input, and the ``Average`` layer ``replicate_average`` over their outputs as the model's output.
    """
    keras = _keras()
    ops = getattr(model, "operations", None) or model.layers
    subs = [op for op in ops if isinstance(op, keras.Model)]
    avgs = [op for op in ops if isinstance(op, keras.layers.Average)]
    if (len(subs) < 2 or len(avgs) != 1 or avgs[0].name != ENSEMBLE_LAYER or len(ops) != len(subs) + 2
            or len(model.inputs) != 1 or len(model.outputs) != 1):
        return None
    avg = avgs[0]
    if model.outputs[0]._keras_history.operation is not avg:
        return None
    node = avg._inbound_nodes[0]
    members = [t._keras_history.operation for t in node.input_tensors]
    if sorted(map(id, members)) != sorted(map(id, subs)):
        return None  # every nested model is averaged, each once
    inp = model.inputs[0]
    for m in members:
        if len(m._inbound_nodes) != 1 or len(m._inbound_nodes[0].input_tensors) != 1 \
                or m._inbound_nodes[0].input_tensors[0] is not inp:
            return None  # a member called on anything but the ensemble's input
    return members


ARCHITECTURES = {"primer": primer, "deepbind": deepbind, "basset": basset, "zeng": zeng}


def _as_list(value):
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [int(v) for v in value.split(",") if v.strip()]
    return [value]


def hyperparameters(arch):
    """Default hyper-parameters of an architecture, as a dict."""
    fn = _arch(arch)
    return {name: p.default for name, p in inspect.signature(fn).parameters.items()
            if name not in ("input_length", "n_outputs")}


def _arch(arch):
    if arch not in ARCHITECTURES:
        raise SeqcnnError(f"unknown architecture {arch!r}", hint=f"choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch]


def coerce_param(arch, name, text):
    """Convert a ``name=value`` string from the CLI to the type of the parameter's default."""
    defaults = hyperparameters(arch)
    if name not in defaults:
        raise SeqcnnError(f"architecture {arch!r} has no parameter {name!r}",
                          hint=f"its parameters are {', '.join(defaults)}")
    default = defaults[name]
    if isinstance(default, tuple) and isinstance(text, (list, tuple)):
        text = ",".join(map(str, text))  # a config file or the Python API gives sequences, the CLI "19,11,7"
    try:
        if isinstance(default, bool):
            low = str(text).strip().lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return low in ("true", "1", "yes")
        if isinstance(default, tuple):
            return tuple(int(v) for v in str(text).split(",") if v.strip())
        # Through str so a float from a JSON config (64.5) is refused, not truncated.
        if isinstance(default, int):
            return int(str(text).strip())
        if isinstance(default, float):
            return float(str(text).strip())
        return str(text)
    except ValueError:
        raise SeqcnnError(f"parameter {name}={text!r} is not a valid {type(default).__name__} for {arch!r}",
                          hint=f"default is {default!r}") from None


def n_outputs_for(task, n_classes):
    """Number of logits a task needs: 1 for binary, else the number of classes/labels."""
    if task not in TASKS:
        raise SeqcnnError(f"unknown task {task!r}", hint=f"use one of {', '.join(TASKS)}")
    return 1 if task == "binary" else int(n_classes)


def build_model(arch=DEFAULT_ARCH, input_length=200, task="binary", n_outputs=1, strands="single", **hparams):
    """Build an uncompiled Keras model with logit outputs.

    Parameters
    ----------
    arch : str — one of ``ARCHITECTURES``.
    input_length : int — sequence length ``L``; input shape=(batch, L, 4).
    task : {'binary', 'multiclass', 'multilabel'}
    n_outputs : int — 1 for binary; classes (multiclass) or labels (multilabel).
    strands : {'single', 'average'} — 'average' wraps the model with :func:`strand_average`.
    **hparams — architecture hyper-parameters (see ``hyperparameters(arch)``).

    Returns
    -------
    keras.Model — output shape=(batch, n_outputs), logits.
    """
    fn = _arch(arch)
    defaults = hyperparameters(arch)
    unknown = sorted(set(hparams) - set(defaults))
    if unknown:
        raise SeqcnnError(f"architecture {arch!r} has no parameter(s) {', '.join(unknown)}",
                          hint=f"its parameters are {', '.join(defaults)}")
    if task not in TASKS:
        raise SeqcnnError(f"unknown task {task!r}", hint=f"use one of {', '.join(TASKS)}")
    if task == "binary" and n_outputs != 1:
        raise SeqcnnError(f"a binary task has one output, not {n_outputs}")
    if task == "multiclass" and n_outputs < 2:
        raise SeqcnnError("a multiclass task needs at least two outputs")
    if int(input_length) < 1:
        raise SeqcnnError(f"input length must be positive, got {input_length}")
    if strands not in STRANDS:
        raise SeqcnnError(f"unknown strands {strands!r}", hint=f"use one of {', '.join(STRANDS)}")
    try:
        model = fn(int(input_length), int(n_outputs), **hparams)
    except ValueError as exc:
        # Keras validates layer arguments (filters=-3, dropout=2, ...): the user's value, reported as such.
        raise SeqcnnError(f"architecture {arch!r}: invalid hyper-parameter ({' '.join(str(exc).split())})",
                          hint="see 'seqcnn models' for the parameters and their defaults") from None
    return strand_average(model) if strands == "average" else model


def describe(input_length=200, n_outputs=1):
    """Architectures with their hyper-parameters, defaults and parameter counts at ``input_length``.

    Returns
    -------
    list of dict with keys ``name``, ``summary`` (first docstring line), ``hparams``, ``n_params``.
    """
    rows = []
    for name, fn in ARCHITECTURES.items():
        try:
            n_params = int(build_model(name, input_length, "binary" if n_outputs == 1 else "multiclass",
                                       n_outputs).count_params())
        except SeqcnnError as exc:
            n_params = f"n/a ({exc})"
        rows.append({"name": name, "summary": inspect.getdoc(fn).splitlines()[0], "hparams": hyperparameters(name),
                     "n_params": n_params, "default": name == DEFAULT_ARCH})
    return rows
