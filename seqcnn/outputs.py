"""Crash-safe outputs: the rules every verb follows when it writes a file.

Provides :func:`check_output` (never overwrite without ``force``; the folder must exist),
:func:`write_json` (a temporary file beside the target, then an atomic rename) and
:func:`utc_now` (the ``created`` stamp of every seqcnn output). No TensorFlow, no h5py.
"""

import json
import os

import numpy as np

from .errors import OutputExistsError, SeqcnnError


def check_output(path, force=False):
    """Refuse to overwrite an existing output unless ``force``."""
    if os.path.exists(path) and not force:
        raise OutputExistsError("already exists", path=path, hint="pass --force to overwrite it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise SeqcnnError("output folder does not exist", path=parent, hint="create it first")


def write_json(obj, path):
    """Write JSON atomically: a temporary file beside ``path``, then rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=2, default=_json_default)
            fh.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def utc_now():
    """The current UTC time, ISO 8601 to the second: the ``created`` stamp of every seqcnn output."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")
