"""Crash-safe outputs: the rules every verb follows when it writes a file.

Provides :func:`check_output` (never overwrite without ``force``; the folder must exist),
:func:`publish`, :func:`publish_all` and :func:`publish_dir` (move a finished temporary file or folder
into place, refusing a target that appeared while it was being written unless ``force``),
:func:`write_json` (a temporary file beside the target, then publish), :func:`temp_file` /
:func:`temp_dir` (the temporary name beside an output, with the mode the umask gives, as ``open`` and
``os.mkdir`` would: ``tempfile``'s 0600/0700 would stay on the published output), :func:`utc_now` (the
``created`` stamp of every seqcnn output) and :func:`parse_shard` / :func:`shard_range` (``--shard K/N``:
the contiguous part of an input a cluster job writes, so the parts' outputs concatenate). No TensorFlow,
no h5py.

Why publishing refuses: a verb checks its output at the start, but two commands started together
with the same ``-o`` both pass that check; a plain rename at the end would let the later one replace
the other's file without ``--force``. A hard link is an atomic create-if-absent, so exactly one wins.
"""

import errno
import json
import os
import shutil
import tempfile

import numpy as np

from .errors import OutputExistsError, SeqcnnError


def _umask_from_proc():
    """The process umask from ``/proc/self/status`` (Linux 4.7+), or None: reading it there changes nothing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_by_setting():
    """The umask read the only portable way, by setting it and setting it back at once.

    Called once, at import (``seqcnn`` is imported before any of its threads start), because in between the
    two calls a file created by another thread would get the wrong mode.
    """
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


_UMASK_AT_IMPORT = _umask_from_proc()
if _UMASK_AT_IMPORT is None:
    _UMASK_AT_IMPORT = _umask_by_setting()


def umask():
    """The process umask now; where ``/proc`` cannot tell it, the umask when ``seqcnn.outputs`` was imported."""
    mask = _umask_from_proc()
    return _UMASK_AT_IMPORT if mask is None else mask


def temp_file(path, suffix=".tmp"):
    """Create an empty temporary file beside ``path``, mode ``0o666 & ~umask``; returns its path.

    ``tempfile.mkstemp`` makes files 0600, private whatever the umask; a published output would keep that
    mode, unlike every file a plain ``open`` writes. So the mode is set here as ``open`` would have set it.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(os.fspath(path))}.", suffix=suffix,
                               dir=os.path.dirname(os.path.abspath(os.fspath(path))))
    try:
        os.fchmod(fd, 0o666 & ~umask())
    finally:
        os.close(fd)
    return tmp


def temp_dir(path, prefix=None):
    """Create a temporary folder beside ``path``, mode ``0o777 & ~umask`` (as ``os.mkdir``); returns its path.

    ``tempfile.mkdtemp`` makes folders 0700, which a published output folder would keep.
    """
    path = os.fspath(path).rstrip("/")
    tmp = tempfile.mkdtemp(prefix=prefix or f".{os.path.basename(path)}.",
                           dir=os.path.dirname(os.path.abspath(path)))
    os.chmod(tmp, 0o777 & ~umask())
    return tmp


def check_output(path, force=False):
    """Refuse to overwrite an existing output unless ``force``."""
    if os.path.exists(path) and not force:
        raise OutputExistsError("already exists", path=path, hint="pass --force to overwrite it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise SeqcnnError("output folder does not exist", path=parent, hint="create it first")


def check_output_dir(path, force=False):
    """Refuse an existing output folder unless ``force``, and a folder whose parent does not exist; returns the
    path without a trailing slash and its parent."""
    path = str(path).rstrip("/")
    if os.path.exists(path) and not force:
        raise OutputExistsError("already exists", path=path, hint="pass --force to replace it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise SeqcnnError("output folder's parent does not exist", path=parent, hint="create it first")
    return path, parent


def _appeared(path):
    return OutputExistsError("appeared while this command was writing it (another command writing the same "
                             "output?)", path=path, hint="pass --force to replace it, or choose another output name")


def publish(tmp, path, force=False):
    """Move the finished file ``tmp`` to ``path``; without ``force`` a ``path`` that exists now is refused.

    ``tmp`` must be on the same filesystem (a temporary name beside ``path``). On success ``tmp`` is gone;
    on refusal it is left for the caller's clean-up and ``path`` is untouched.

    Raises
    ------
    OutputExistsError — ``path`` exists and ``force`` is false.
    """
    tmp, path = os.fspath(tmp), os.fspath(path)
    if force:
        os.replace(tmp, path)
        return path
    try:
        os.link(tmp, path)  # atomic: fails if path exists, whoever created it
    except FileExistsError:
        raise _appeared(path) from None
    except OSError:
        # A filesystem without hard links: check, then rename (the window is the rename itself).
        if os.path.lexists(path):
            raise _appeared(path) from None
        os.replace(tmp, path)
        return path
    os.unlink(tmp)
    return path


def publish_all(pairs, force=False):
    """:func:`publish` several ``(tmp, path)`` pairs, all or none: on a refusal the ones published go again."""
    done = []
    try:
        for tmp, path in pairs:
            publish(tmp, path, force)
            done.append(path)
    except OutputExistsError:
        if not force:
            for path in done:
                os.remove(path)  # published by this call a moment ago: ours to take back
        raise
    return [p for _, p in pairs]


def publish_dir(tmp_dir, path, force=False):
    """Move the finished folder ``tmp_dir`` to ``path``; with ``force`` an existing ``path`` is replaced last.

    Raises
    ------
    OutputExistsError — ``path`` exists (a file, or a folder that is not empty) and ``force`` is false.
    """
    tmp_dir, path = os.fspath(tmp_dir), os.fspath(path)
    if force and os.path.lexists(path):
        trash = f"{path}.old-{os.getpid()}"
        os.replace(path, trash)
        os.replace(tmp_dir, path)
        if os.path.isdir(trash) and not os.path.islink(trash):
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.remove(trash)
        return path
    if os.path.lexists(path):
        raise _appeared(path)
    try:
        os.rename(tmp_dir, path)  # a non-empty folder or a file in the way fails: never merged or replaced
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise _appeared(path) from None
        raise
    return path


def write_json(obj, path, force=True):
    """Write JSON atomically: a temporary file beside ``path``, then :func:`publish`.

    ``force=True`` (the default) replaces an existing file, for files seqcnn keeps rewriting (a run's
    checkpoint state); a verb's user-named output passes the user's ``--force``.
    """
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=2, default=_json_default)
            fh.write("\n")
        publish(tmp, path, force)
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


def parse_shard(text):
    """``'K/N'`` → (K, N), 1 <= K <= N: shard K of N (``--shard``)."""
    if text is None:
        return None
    try:
        k, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise SeqcnnError(f"--shard {text!r} is not K/N with 1 <= K <= N", hint="e.g. --shard 3/10 for the third "
                                                                              "of ten shards")
    return k, n


def shard_range(n_records, shard):
    """The input records ``[lo, hi)`` of shard (K, N): contiguous, in order, so the shards' outputs concatenate."""
    if shard is None:
        return 0, n_records
    k, n = shard
    # Rounded up: shard 1 (the one writing the header) holds a record whenever the input does.
    return -(-n_records * (k - 1) // n), -(-n_records * k // n)
