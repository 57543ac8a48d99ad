"""The one rule for comparing two float32 computations of the same quantity in the tests: :func:`assert_close`.

Two computations of one quantity in float32 (another batch size, path, shard or strand order; XLA or not; exact
or naive ISM; a saved or a loaded model; numpy or TensorFlow) agree only to rounding, and the rounding depends on
the machine: oneDNN picks kernels and summation orders by batch shape and CPU features, XLA fuses differently,
threads split reductions differently. A fixed absolute tolerance is either too tight elsewhere (one of a millionth
failed at 2.1e-6 on an AVX2/FMA EPYC: ISM deltas of a batch-2 and a batch-1 run) or meaninglessly loose for
large values. So the tolerance is derived from float32's machine epsilon and the magnitude compared::

    atol = ulps * eps32 * scale * sqrt(ops)

``scale``
    The largest ``|value|`` of both arrays, or the ``scale`` given when that is larger: where the values compared
    are differences of larger ones (an ISM delta is the difference of two logits) their rounding error is that of
    the larger values, so the caller passes their magnitude (the logits').
``ulps`` (default :data:`ULPS`, 256)
    Float32 units in the last place of ``scale``: each layer of a network rounds its outputs (half an ulp per
    operation) and the next layers' weights carry and amplify those errors. The most any comparison used on
    this project's 2-core AMD EPYC was 6.3 ulps (exact vs naive ISM of a local-pool model), in both
    configurations of ``make test``; 256 leaves 40x for other CPUs and kernels while a wrong result (an ISM
    delta at the wrong position, a wrong strand) is off by far more. ``SEQCNN_NUMERICS_LOG=FILE`` appends each
    comparison's ulps used to FILE, to measure it again.
``ops`` (default 1)
    The length of the longest reduction feeding the values where it is long (a dense layer's fan-in, a
    convolution's kernel width x channels, a mean over a sequence): the rounding of a sum of n terms computed in
    two orders differs by about ``sqrt(n)`` ulps of its magnitude.

Comparisons that claim bit-identity (fixed batch shapes through ``feeding.Forward.fixed``, shards concatenating
byte for byte) are not of this kind: they use ``np.testing.assert_array_equal``. Neither are float64 computations
(compared at float64's own precision) nor statistical tolerances (a simulated frequency near its expectation).
"""

import os

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)
ULPS = 256


def tolerance(*arrays, ulps=ULPS, scale=None, ops=1):
    """The absolute tolerance of :func:`assert_close` for ``arrays`` (see the module docstring for the rule).

    NaN and infinities (e.g. the z-score of an indel) are left out of the magnitude; ``assert_close`` requires
    them at the same places.
    """
    finite = [np.abs(a[np.isfinite(a)]) for a in map(np.asarray, arrays)]
    largest = max((float(f.max()) for f in finite if f.size), default=0.0)
    magnitude = max(largest, float(scale or 0.0), float(np.finfo(np.float32).tiny))
    return ulps * EPS32 * magnitude * np.sqrt(max(float(ops), 1.0))


def assert_close(actual, desired, *, ulps=ULPS, scale=None, ops=1, err_msg=""):
    """Assert two float32 computations of the same quantity agree to float32 rounding.

    Parameters
    ----------
    actual, desired : array_like
        Broadcastable arrays (or scalars) of the quantity computed two ways.
    ulps : float
        Float32 ulps of ``scale`` allowed (:data:`ULPS` unless a test has a reason).
    scale : float, optional
        The magnitude the values were computed from, when larger than the values themselves (differences).
    ops : int
        The longest reduction behind the values, when long.
    err_msg : str
        Added to the failure message.
    """
    a = np.asarray(actual, np.float64)
    d = np.asarray(desired, np.float64)
    atol = tolerance(a, d, ulps=ulps, scale=scale, ops=ops)
    log = os.environ.get("SEQCNN_NUMERICS_LOG")
    if log and a.size and d.size:
        # How much of the tolerance a comparison used (ulps of its magnitude): the data behind ULPS.
        diff = np.abs(a - d)
        used = float(np.max(diff[np.isfinite(diff)], initial=0.0)) / (atol / ulps)
        with open(log, "a") as fh:
            fh.write(f"{os.environ.get('PYTEST_CURRENT_TEST', '?').split(' ')[0]}\t{used:.2f}\n")
    np.testing.assert_allclose(a, d, rtol=0, atol=atol, err_msg=(
        f"float32 tolerance {atol:.3g} = {ulps} ulps x magnitude {atol / ulps / EPS32 / np.sqrt(max(ops, 1)):.3g}"
        f" x sqrt({ops} ops) {err_msg}").strip())


def batch_sizes(default=(2,)):
    """Batch sizes for the tests that take one: ``SEQCNN_TEST_BATCH`` (e.g. '1,7', the second numerics pass of
    ``make test``), else ``default``. Results must not depend on them beyond :func:`assert_close`."""
    text = os.environ.get("SEQCNN_TEST_BATCH", "")
    return [int(b) for b in text.split(",") if b.strip()] or list(default)
