"""Distribution strategies for training (tf.distribute): one device, mirrored GPUs, or a multi-worker cluster.

Provides :data:`STRATEGIES`, :func:`cluster_role` (this process's place in the cluster
read from ``TF_CONFIG``, with one-line errors for a missing or malformed value),
:class:`Distribution` (the strategy, its scope, replica count and the ``distribute``
record of config.json) and :func:`multiworker_fit_fixes` (the guarded Keras 3
workarounds multi-worker ``fit`` needs). TensorFlow is imported on first use only.
"""

import json

from ._tf import import_keras, import_tf
from .errors import SeqcnnError


STRATEGIES = ("none", "mirrored", "multiworker")


TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}')


def _tf_config_error(problem):
    return SeqcnnError(f"TF_CONFIG {problem}",
                       hint=f"--strategy multiworker reads the cluster from the TF_CONFIG environment variable; "
                            f"set it on every worker, the same cluster with this worker's task, e.g. "
                            f"TF_CONFIG='{TF_CONFIG_EXAMPLE}' (index 1 on host2); on one machine use "
                            f"--strategy mirrored")


def cluster_role(text):
    """This process's place in a multi-worker cluster, read from the text of ``TF_CONFIG``.

    The chief is the ``chief`` task when the cluster has one, else ``worker`` 0 (TensorFlow's rule).

    Parameters
    ----------
    text : str or None — the value of ``TF_CONFIG``.

    Returns
    -------
    dict — ``worker`` (index among all workers, the chief first), ``workers`` (how many), ``chief`` (bool),
    ``task`` (``'worker:1'``).

    Raises
    ------
    SeqcnnError — naming TF_CONFIG when it is unset, not JSON, or does not describe this worker's task.
    """
    if not text or not text.strip():
        raise _tf_config_error("is not set")
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _tf_config_error(f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(conf, dict):
        raise _tf_config_error("must be a JSON object with 'cluster' and 'task'")
    cluster, task = conf.get("cluster"), conf.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise _tf_config_error("has no 'cluster' object of job name -> list of host:port")
    for job, addresses in cluster.items():
        if job not in ("chief", "worker"):
            raise _tf_config_error(f"has a {job!r} job; multiworker training uses 'worker' (and "
                                   f"optionally one 'chief') jobs only")
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses)):
            raise _tf_config_error(f"cluster job {job!r} must be a non-empty list of 'host:port' "
                                   f"strings, got {json.dumps(addresses)}")
    if len(cluster.get("chief", [])) > 1:
        raise _tf_config_error("has more than one 'chief'")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise _tf_config_error(f"needs 'task': {{'type': one of {', '.join(map(repr, cluster))}, "
                               f"'index': this worker's position in that list}}")
    index, n_job = task.get("index"), len(cluster[task["type"]])
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n_job:
        raise _tf_config_error(f"task index {index!r} is not a position in its {task['type']!r} list "
                               f"(0 to {n_job - 1})")
    has_chief = "chief" in cluster
    worker = index + (1 if has_chief and task["type"] == "worker" else 0)
    return {"worker": worker, "workers": sum(len(a) for a in cluster.values()), "chief": worker == 0,
            "task": f"{task['type']}:{index}"}


class Distribution:
    """How a training run is spread over devices: the tf.distribute strategy and this process's role.

    Parameters
    ----------
    name : {'none', 'mirrored', 'multiworker'}
    role : dict — from :func:`cluster_role` (multiworker) or ``None`` (one process, the chief).
    """

    def __init__(self, name, role=None):
        self.name = name
        role = role or {"worker": 0, "workers": 1, "chief": True, "task": None}
        self.worker, self.workers, self.chief, self.task = role["worker"], role["workers"], role["chief"], role["task"]
        self.strategy = None

    def start(self):
        """Create the tf.distribute strategy (before any other TensorFlow operation, for multiworker)."""
        if self.name == "none" or self.strategy is not None:
            return self
        tf = import_tf()
        if self.name == "mirrored":
            # MirroredStrategy() takes every GPU, but on a machine without one it takes CPU:0 only; name the
            # logical CPUs (SEQCNN_CPU_DEVICES) so they become replicas.
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
            self.strategy = tf.distribute.MirroredStrategy(devices)
        else:
            try:
                self.strategy = tf.distribute.MultiWorkerMirroredStrategy()
            except RuntimeError as exc:
                raise SeqcnnError(f"cannot start multiworker training ({' '.join(str(exc).split())[:200]})",
                                  hint="--strategy multiworker must start before any other TensorFlow work "
                                       "in the process; run it from the seqcnn command") from None
        return self

    @property
    def replicas(self):
        """Replicas in sync: 1 without a strategy."""
        return 1 if self.strategy is None else int(self.strategy.num_replicas_in_sync)

    def scope(self):
        """The strategy's scope (variables created in it are distributed); a no-op for ``none``."""
        import contextlib

        return contextlib.nullcontext() if self.strategy is None else self.strategy.scope()

    def record(self):
        """The ``distribute`` section of config.json."""
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.workers}


def multiworker_fit_fixes(model, strategy):
    """Work around two Keras 3 bugs (to 3.15 at least) that stop ``model.fit`` under MultiWorkerMirroredStrategy.

    keras-team/keras#20585: ``fit`` first builds the loss and optimizer state from a distributed batch
    reduced with ``strategy.reduce``, which this strategy cannot do for a tuple of tensors; only the
    batch's shapes and dtypes are used, so the first local replica's batch is taken instead (no
    communication). Then each step's logs (scalars) are averaged over the workers with
    ``strategy.reduce("MEAN", v, axis=0)``, which needs an axis 0: the train step returns them as
    shape (1,), and that reduction gives back the same scalar mean over the replicas.
    """
    keras, tf = import_keras(), import_tf()

    def symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = keras.tree.map_structure(lambda v: strategy.experimental_local_results(v)[0], next(it))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    train_step = model.train_step

    def train_step_1d(data):
        return keras.tree.map_structure(lambda v: tf.reshape(v, [1]), train_step(data))

    if hasattr(model, "_symbolic_build"):  # a Keras without this private method builds another way: leave it
        model._maybe_symbolic_build = symbolic_build
    model.train_step = train_step_1d
