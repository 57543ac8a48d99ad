"""The training losses, their numpy mirror, and class weighting.

Provides :func:`targets` (labels as the model's targets: float [N, 1] binary, int [N]
multiclass, float [N, T] multilabel), :func:`keras_loss` (cross-entropy from logits;
per-label positive weights for balanced multilabel training through
:func:`weighted_bce`, the loss class that must be registered before a run loads),
:func:`loss_numpy` (the same loss in numpy, for validation and final metrics) and
:func:`class_weights` (``--class-weight balanced``). Keras is imported on first use only.
"""

import numpy as np

from ._tf import import_keras, import_tf


def targets(task, y):
    """Labels as Keras targets: float32 [N, 1] (binary), int32 [N] (multiclass), float32 [N, T] (multilabel)."""
    if task == "binary":
        return np.asarray(y, np.float32).reshape(-1, 1)
    if task == "multiclass":
        return np.asarray(y, np.int32)
    return np.asarray(y, np.float32)


def keras_loss(task, pos_weight=None):
    """The Keras training loss from logits: sparse categorical (multiclass) or binary cross-entropy.

    ``pos_weight`` (one weight per label, from :func:`class_weights`) weights each label's positives.
    """
    keras = import_keras()
    if task == "multiclass":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if pos_weight is not None:
        return weighted_bce()(pos_weight=[float(v) for v in pos_weight])
    return keras.losses.BinaryCrossentropy(from_logits=True)


_WBCE = []


def weighted_bce():
    """The Keras loss class for per-label positive weights, created (and registered for loading) on first use."""
    if _WBCE:
        return _WBCE[0]
    keras = import_keras()
    tf = import_tf()

    @keras.saving.register_keras_serializable(package="seqcnn")
    class WeightedBinaryCrossentropy(keras.losses.Loss):
        """Binary cross-entropy from logits with a weight on each label's positives (multilabel balancing)."""

        def __init__(self, pos_weight=(1.0,), name="weighted_binary_crossentropy", **kwargs):
            super().__init__(name=name, **kwargs)
            self.pos_weight = list(pos_weight)

        def call(self, y_true, y_pred):
            per = tf.nn.weighted_cross_entropy_with_logits(tf.cast(y_true, y_pred.dtype), y_pred,
                                                           tf.constant(self.pos_weight, y_pred.dtype))
            return tf.reduce_mean(per, axis=-1)

        def get_config(self):
            return {**super().get_config(), "pos_weight": self.pos_weight}

    _WBCE.append(WeightedBinaryCrossentropy)
    return WeightedBinaryCrossentropy


def class_weights(task, y):
    """``balanced`` weights: per-class weights (binary/multiclass) or per-label positive weights (multilabel)."""
    from sklearn.utils.class_weight import compute_class_weight

    if task == "multilabel":
        pos = y.sum(axis=0).astype(float)
        return {"pos_weight": ((len(y) - pos) / np.maximum(pos, 1)).tolist()}
    classes = np.unique(y)
    w = compute_class_weight("balanced", classes=classes, y=y)
    return {"class_weight": {int(c): float(v) for c, v in zip(classes, w)}}


def loss_numpy(task, y, logits, weights=None):
    """Mean cross-entropy from logits (the training loss), for validation: float."""
    logits = np.asarray(logits, np.float64)
    if task == "multiclass":
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        per = -logp[np.arange(len(y)), np.asarray(y, int)]
    else:
        t = targets(task, y).astype(np.float64)
        pw = 1.0 if weights is None else np.asarray(weights)[None, :]
        # log(1 + exp(-|z|)) + max(z, 0) - z t, with positives weighted by pw (weighted_cross_entropy_with_logits)
        per = ((1 - t) * logits + (1 + (pw - 1) * t) * (np.log1p(np.exp(-np.abs(logits))) + np.maximum(-logits, 0)))
        per = per.mean(axis=1)
    return float(per.mean())
