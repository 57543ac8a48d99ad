"""Two first-layer levers of issue 26 as benchmark-only architectures, registered in ``seqcnn.models`` on import.

- ``deepbind_2w``: two kernel widths side by side. Half the filters are ``kernel_size`` wide (``conv1``, 14 bp
  as deepbind's default), half ``long_kernel`` wide (``conv1_long``, 24 bp as zeng's); each bank is pooled by
  global max and average, and the four pooled vectors go to deepbind's head.
- ``deepbind_bn``: deepbind with batch normalisation after the first convolution (conv → BN → relu).

They are built from Keras layers only, so ``seqcnn train`` saves and reloads them like any run; they are not
shipped: exact fast ISM and the genome scan plan a single first convolution (``conv1`` → relu → global pools),
so these would run on the slower generic paths. Each trains at deepbind's default rate
(``rundir.default_lr``), so a comparison with the defaults changes the first layer only.

    import deepbind_variants  # noqa: F401  (registers the names)
"""

from seqcnn import models, rundir


def deepbind_2w(input_length, n_outputs, filters=128, kernel_size=14, long_kernel=24, dense_units=32, dropout=0.5,
                l2=1e-4):
    """deepbind with ``filters // 2`` kernels of ``kernel_size`` and ``filters - filters // 2`` of ``long_kernel``."""
    keras = models._keras()
    models._check_kernel(max(kernel_size, long_kernel), input_length, "deepbind_2w")
    reg = keras.regularizers.L2(l2) if l2 else None
    inp = keras.Input((input_length, 4), name="sequence")
    pooled = []
    for name, n, k in (("conv1", filters // 2, kernel_size), ("conv1_long", filters - filters // 2, long_kernel)):
        conv = keras.layers.Conv1D(n, k, activation="relu", kernel_regularizer=reg, name=name)(inp)
        pooled += [keras.layers.GlobalMaxPooling1D(name=f"{name}_max")(conv),
                   keras.layers.GlobalAveragePooling1D(name=f"{name}_avg")(conv)]
    x = keras.layers.Concatenate(name="pooled")(pooled)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", kernel_regularizer=reg, name="dense1")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, models._head(keras, x, n_outputs), name="deepbind_2w")


def deepbind_bn(input_length, n_outputs, filters=128, kernel_size=14, dense_units=32, dropout=0.5, l2=1e-4):
    """deepbind with batch normalisation between the first convolution and its relu."""
    keras = models._keras()
    models._check_kernel(kernel_size, input_length, "deepbind_bn")
    reg = keras.regularizers.L2(l2) if l2 else None
    inp = keras.Input((input_length, 4), name="sequence")
    conv = keras.layers.Conv1D(filters, kernel_size, kernel_regularizer=reg, name="conv1")(inp)
    conv = keras.layers.Activation("relu", name="relu1")(keras.layers.BatchNormalization(name="bn1")(conv))
    x = keras.layers.Concatenate(name="max_avg")([keras.layers.GlobalMaxPooling1D(name="global_max")(conv),
                                                   keras.layers.GlobalAveragePooling1D(name="global_avg")(conv)])
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", kernel_regularizer=reg, name="dense1")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, models._head(keras, x, n_outputs), name="deepbind_bn")


VARIANTS = {"deepbind_2w": deepbind_2w, "deepbind_bn": deepbind_bn}
models.ARCHITECTURES.update(VARIANTS)
for _name in VARIANTS:
    rundir.ARCH_LR.setdefault(_name, rundir.ARCH_LR.get("deepbind", rundir.DEFAULT_LR))
