"""Import TensorFlow/Keras quietly, once, only where needed.

TensorFlow's C++ start-up writes log lines straight to file descriptor 2 (a
cuInit/CUDA notice on machines without a GPU, oneDNN notices) whatever
``TF_CPP_MIN_LOG_LEVEL`` says for some of them. They are not seqcnn's output, so
the first import runs with fd 2 pointed at /dev/null. Set ``SEQCNN_TF_LOGS=1``
to see them.

Before TensorFlow starts, glibc's malloc is told to keep freed memory (:func:`tune_malloc`): TensorFlow's CPU
allocator is malloc, a training step frees and reallocates megabytes of activations and gradients, and glibc's
defaults hand that memory back to the kernel and fault it in again page by page. ``seqcnn train --epochs 4`` on
Oct4 took 3.3 million page faults and 7 s of system time in 35 s of CPU time (the system time grew with the
machine's load); with the settings here 0.57 million and 2 s, the same bits (``benchmarks/bench_train_time.py``).
A ``MALLOC_*`` setting in the environment leaves malloc as the user set it. TensorFlow's thread pools are sized
by the cores this process may use (:func:`available_cores`: the affinity mask and a cgroup CPU quota, which
TensorFlow itself does not read) when a quota limits them.

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
_STARTED = []

# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
MALLOC_SETTINGS = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 128 << 20, _M_TOP_PAD: 64 << 20}
"""What :func:`tune_malloc` sets: allocations up to 32 MiB come from the heap (glibc's own ceiling for its
adaptive threshold, fixed here), and up to 128 MiB of free heap is kept (64 MiB more taken each time it grows)
instead of being returned after each step."""


def tune_malloc():
    """Make glibc's malloc keep freed memory for reuse (see the module docstring); True if it was set.

    Nothing is done on other C libraries or when the environment sets a ``MALLOC_*`` variable.
    """
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return all(libc.mallopt(k, v) == 1 for k, v in MALLOC_SETTINGS.items())
    except (OSError, ValueError, AttributeError):
        return False


def available_cores():
    """The number of CPU cores this process may use: its affinity mask, capped by a cgroup CPU quota.

    Returns
    -------
    int — at least 1.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(n, quota)) if quota else max(1, n)


def _cgroup_quota():
    """Cores allowed by a cgroup v2 (``cpu.max``) or v1 (``cpu.cfs_quota_us``) CPU quota, rounded up; else None."""
    import math

    for path, read in (("/sys/fs/cgroup/cpu.max", lambda t: t.split()[:2]),
                       ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", None)):
        try:
            with open(path) as fh:
                text = fh.read()
            if read is not None:
                quota, period = read(text)
            else:
                with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as fh:
                    quota, period = text.strip(), fh.read().strip()
            if quota in ("max", "-1"):
                return None
            return math.ceil(int(quota) / int(period))
        except (OSError, ValueError):
            continue
    return None


def _size_pools(tf):
    """Size TensorFlow's thread pools to :func:`available_cores` where a cgroup quota is below the affinity mask.

    TensorFlow sizes both pools from the affinity mask; in a container limited to 2 of 64 cores it would run 64
    intra-op threads on 2 cores' time. Unset elsewhere: TensorFlow's own choice is then the same number.
    """
    try:
        mask = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return
    cores = available_cores()
    if cores < mask:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(cores)
            tf.config.threading.set_inter_op_parallelism_threads(cores)
        except RuntimeError:  # TensorFlow already started (imported and used before seqcnn)
            pass


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
    if not _STARTED:
        if "tensorflow" not in sys.modules:
            tune_malloc()  # before TensorFlow allocates anything
        _silent_import("tensorflow")
        _size_pools(sys.modules["tensorflow"])
        _STARTED.append(True)
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
