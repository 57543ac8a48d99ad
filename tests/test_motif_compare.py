"""Tests of seqcnn.motif_compare: Benjamini–Hochberg q-values (Tomtom matching is tested in test_motifs)."""

import numpy as np


def test_bh_qvalues():
    from seqcnn.motif_compare import bh_qvalues

    p = np.array([0.01, 0.04, 0.03, 0.5])
    # by hand: sorted 0.01, 0.03, 0.04, 0.5 → p*n/rank = 0.04, 0.06, 0.0533, 0.5 → cumulative min from the top
    np.testing.assert_allclose(bh_qvalues(p), [0.04, 0.0533333, 0.0533333, 0.5], rtol=1e-5)
