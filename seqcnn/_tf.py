"""Import TensorFlow/Keras quietly, once, only where needed.

TensorFlow's C++ start-up writes several log lines to stderr (a cuInit error on
machines without a GPU, oneDNN notices). They are not seqcnn's output, so the log
level is raised before the first import unless the user set it.
"""

import os


def quiet_tf_env():
    """Set the environment variables that keep TensorFlow start-up silent (unless already set)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def import_tf():
    """Return the ``tensorflow`` module, imported quietly."""
    quiet_tf_env()
    import tensorflow as tf

    return tf


def import_keras():
    """Return the ``keras`` module (Keras 3 on the TensorFlow backend), imported quietly."""
    quiet_tf_env()
    import keras

    return keras
