"""The reverse complement inside strand-averaged models, and the custom layer older runs saved.

Provides :func:`reverse_complement` (what :func:`seqcnn.models.strand_average` builds new models with),
:class:`ReverseComplement` (the layer in models saved by seqcnn before the ``export`` verb) and
:func:`custom_objects`.

Why two forms: Keras 3 finds a custom class at load time only in its registry
(``keras.saving.register_keras_serializable``) or in ``custom_objects``; it imports the ``module`` saved
in a config only for Keras's own packages (``keras/src/saving/serialization_lib.py``,
``_retrieve_class_or_fn``). A model containing a custom layer therefore needs seqcnn imported before
``keras.models.load_model``. New models build the reverse complement from two built-in ``keras.ops.flip``
operations instead, so ``model.keras`` holds nothing but Keras's own objects and opens in a Python that
has never imported seqcnn. Old run directories name ``seqcnn>ReverseComplement``; the class below keeps
that registered name, so they load with :func:`custom_objects` (``rundir.load_run`` passes it) or after
``import seqcnn.layers``.

TensorFlow side: importing this module imports Keras (nothing on the encode side imports it).
"""

from ._tf import import_keras

keras = import_keras()


def reverse_complement(x):
    """The reverse complement of a symbolic one-hot tensor, in built-in Keras operations.

    Parameters
    ----------
    x : KerasTensor, shape=(batch, L, 4) — one-hot, channels A, C, G, T.

    Returns
    -------
    KerasTensor, shape=(batch, L, 4) — positions reversed (``axis=1``) and channels reversed (``axis=2``:
    A↔T, C↔G in ACGT order).
    """
    return keras.ops.flip(keras.ops.flip(x, axis=1), axis=2)


@keras.saving.register_keras_serializable(package="seqcnn")
class ReverseComplement(keras.layers.Layer):
    """One-hot ``[batch, L, 4]`` (A, C, G, T) → its reverse complement: positions and channels reversed.

    The layer of strand-averaged models saved by earlier seqcnn versions (registered name
    ``seqcnn>ReverseComplement``); new models use :func:`reverse_complement`. Kept at module level so
    importing this module registers it.
    """

    def call(self, x):
        return keras.ops.flip(keras.ops.flip(x, axis=1), axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape


def custom_objects():
    """The custom objects any seqcnn model may contain, for ``keras.models.load_model(..., custom_objects=...)``.

    Returns
    -------
    dict — class name and registered name → class (both: configs of different Keras versions use either).
    """
    return {"ReverseComplement": ReverseComplement, "seqcnn>ReverseComplement": ReverseComplement}
