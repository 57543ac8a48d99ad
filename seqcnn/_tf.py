"""Import TensorFlow/Keras quietly, once, only where needed.

TensorFlow's C++ start-up writes log lines straight to file descriptor 2 (a
cuInit/CUDA notice on machines without a GPU, oneDNN notices) whatever
``TF_CPP_MIN_LOG_LEVEL`` says for some of them. They are not seqcnn's output, so
the first import runs with fd 2 pointed at /dev/null. Set ``SEQCNN_TF_LOGS=1``
to see them.

``SEQCNN_CPU_DEVICES=N`` splits the CPU into N logical devices when TensorFlow
is first imported here, so ``seqcnn train --strategy mirrored`` can be tried and
tested on a machine without GPUs (N replicas sharing the same cores: no speed-up).
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


_CPU_SPLIT_DONE = []


def _split_cpu(tf):
    """Split the physical CPU into ``SEQCNN_CPU_DEVICES`` logical devices (once, before TF initialises devices)."""
    value = os.environ.get("SEQCNN_CPU_DEVICES", "").strip()
    if _CPU_SPLIT_DONE or not value:
        return
    from .errors import SeqcnnError

    if not value.isdigit() or int(value) < 1:
        raise SeqcnnError(f"SEQCNN_CPU_DEVICES must be a positive integer, got {value!r}",
                          hint="e.g. SEQCNN_CPU_DEVICES=2, or unset it")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        if len(tf.config.get_logical_device_configuration(cpu) or []) != int(value):
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(value))
        _CPU_SPLIT_DONE.append(True)
    except RuntimeError:
        # TensorFlow fixes its devices at the first operation; a later split cannot take effect.
        raise SeqcnnError("SEQCNN_CPU_DEVICES is set but TensorFlow had already started in this process",
                          hint="set it before the first TensorFlow operation, e.g. in the shell that runs "
                               "seqcnn") from None


def import_tf():
    """Return the ``tensorflow`` module, imported quietly (and its CPU split as ``SEQCNN_CPU_DEVICES`` asks)."""
    quiet_tf_env()
    _silent_import("tensorflow")
    tf = sys.modules["tensorflow"]
    _split_cpu(tf)
    return tf


def import_keras():
    """Return the ``keras`` module (Keras 3 on the TensorFlow backend), imported quietly."""
    quiet_tf_env()
    import_tf()
    _silent_import("keras")
    return sys.modules["keras"]
