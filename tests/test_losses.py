"""Tests of seqcnn.losses: balanced class weights and per-label positive weights."""

import numpy as np
import pytest

from seqcnn import losses


def test_class_weight_balanced_weights():
    w = losses.class_weights("binary", np.array([0, 0, 0, 1]))["class_weight"]
    assert w[1] == pytest.approx(3 * w[0]) and w[0] * 3 + w[1] == pytest.approx(4)
    pw = losses.class_weights("multilabel", np.array([[1, 0], [0, 0], [0, 1], [0, 1]]))["pos_weight"]
    assert pw == [3.0, 1.0]
