"""Tests of seqcnn.feeding: the epoch order, streamed vs in-memory batches, replica slices of a global batch."""

import numpy as np
import pytest

from seqcnn import feeding, losses, training

from conftest import FAST


def test_epoch_order_is_a_chunk_grouped_permutation():
    idx = np.sort(np.random.default_rng(0).choice(5000, 3000, replace=False))
    a = feeding.epoch_order(idx, 100, 4, seed=0, epoch=0)
    assert np.array_equal(np.sort(a), idx)
    assert np.array_equal(a, feeding.epoch_order(idx, 100, 4, seed=0, epoch=0))
    assert not np.array_equal(a, feeding.epoch_order(idx, 100, 4, seed=0, epoch=1))
    assert not np.array_equal(a, feeding.epoch_order(idx, 100, 4, seed=1, epoch=0))
    order, bounds = feeding.epoch_order(idx, 100, 4, 0, 0, return_groups=True)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        assert len(np.unique(order[lo:hi] // 100)) <= 4  # each group reads at most buffer_chunks chunks
    assert len(bounds) - 1 == int(np.ceil(len(np.unique(idx // 100)) / 4))


def test_streamed_and_in_memory_training_give_identical_models(sim_binary, tmp_path):
    a = training.train(sim_binary, tmp_path / "mem", memory_budget_mb=1e6, plots=False, **{**FAST, "epochs": 3})
    b = training.train(sim_binary, tmp_path / "stream", memory_budget_mb=0, plots=False, **{**FAST, "epochs": 3})
    assert a["in_memory"] and not b["in_memory"]
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert a["metrics"]["test"] == b["metrics"]["test"]


def test_replica_batches_split_pad_and_reweight_the_global_batch(sim_binary):
    from seqcnn.store import open_dataset

    with open_dataset(sim_binary) as ds:
        idx = ds.indices("train")
        src = feeding.Source(ds, idx, in_memory=True)
        targets, w = losses.targets(ds.task, ds.y), np.linspace(0.5, 1.5, ds.n).astype(np.float32)

        def batches(replicas=None):
            d = feeding.training_dataset(src, idx, targets, w, 45, 0, 16, True, 0, 1, replicas=replicas)
            return list(d.as_numpy_iterator())

        whole = batches()
        parts = [batches((r, 1, 2)) for r in range(2)]
    assert len(whole) == len(parts[0]) == len(parts[1]) == 10  # 420 records: 9 x 45 + 15
    for (x, y, sw), (x0, y0, w0), (x1, y1, w1) in zip(whole, *parts):
        n, m = len(x), -(-len(x) // 2)
        assert len(x0) == len(x1) == m
        real = n - m  # rows of replica 1 that are data; the rest is padding
        assert np.array_equal(np.concatenate([x0, x1[:real]]), x) and np.array_equal(
            np.concatenate([y0, y1[:real]]), y)
        assert np.allclose(np.concatenate([w0, w1[:real]]), sw * (2 * m / n))
        assert not x1[real:].any() and not w1[real:].any()  # zero rows with zero weight
        # each replica's mean loss, summed and divided by the replicas, is the global batch's weighted mean
        assert (w0.sum() + w1.sum()) / (2 * m) == pytest.approx(sw.sum() / n, rel=1e-6)
