"""Tests of seqcnn.ism_numba: the numba window loop equals plainly written naive ISM (and the XLA program)."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))

from interpret_helpers import plain_naive_ism, randomize
from numerics import assert_close

from test_exact_ism import _x


@pytest.mark.numerics
@pytest.mark.parametrize("global_average", [True, False])
def test_relu_window_loop_equals_plain_naive(global_average):
    """The numba window loop (relu convolution, max (+ average)): odd length, N rows at both ends, batches."""
    from seqcnn.models import build_model
    from seqcnn.exact_ism import ism, kernels

    n_len = 37
    model = randomize(build_model("deepbind", n_len, "multiclass", 2, filters=9, kernel_size=6, dense_units=4,
                                  global_average=global_average), seed=5)
    assert kernels(model).fixed_batch is False  # the numba path, not the XLA program
    x = _x(n=5, length=n_len, seed=3)
    x[0, :3] = 0
    x[4, -2:] = 0
    expected = plain_naive_ism(model, x)
    assert np.abs(expected).max() > 0.05
    for bs in (1, 2, 5):
        delta, ref = ism(model, x, batch_size=bs)
        assert_close(delta, expected, scale=np.abs(ref).max())  # differences of logits
        assert (delta[x.astype(bool)] == 0).all()
        assert_close(ref, np.asarray(model(x.astype(np.float32))))
    xla, _ = ism(model, x, jit_compile=True)  # the XLA program, still available on request
    assert_close(xla, delta, scale=np.abs(ref).max())
