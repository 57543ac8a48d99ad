"""Import TensorFlow/Keras quietly, once, only where needed.

TensorFlow's C++ start-up writes log lines straight to file descriptor 2 (a
cuInit/CUDA notice on machines without a GPU, oneDNN notices) whatever
``TF_CPP_MIN_LOG_LEVEL`` says for some of them. They are not seqcnn's output, so
the first import runs with fd 2 pointed at /dev/null. Set ``SEQCNN_TF_LOGS=1``
to see them.
"""

import os
import sys


def quiet_tf_env():
    """Set the environment variables that keep TensorFlow quiet (unless already set)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _silent_import(name):
    if name in sys.modules or os.environ.get("SEQCNN_TF_LOGS"):
        return __import__(name)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        return __import__(name)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        return __import__(name)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tf():
    """Return the ``tensorflow`` module, imported quietly."""
    quiet_tf_env()
    _silent_import("tensorflow")
    return sys.modules["tensorflow"]


def import_keras():
    """Return the ``keras`` module (Keras 3 on the TensorFlow backend), imported quietly."""
    quiet_tf_env()
    import_tf()
    _silent_import("keras")
    return sys.modules["keras"]
