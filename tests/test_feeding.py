"""Tests of seqcnn.feeding: the epoch order, streamed vs in-memory batches, replica slices of a global batch."""

import numpy as np
import pytest

from seqcnn import feeding, losses, training

from conftest import FAST
from numerics import assert_close


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


def test_in_memory_batches_equal_the_streamed_generator_batch_for_batch(sim_binary):
    """The in-memory pipeline (rows gathered in the graph, Python once per epoch) yields the streamed pipeline's
    batches bit for bit: same rows, order, cuts (each epoch's short last batch), flips, targets and weights."""
    from seqcnn.store import open_dataset

    with open_dataset(sim_binary) as ds:
        idx = ds.indices("train")
        mem = feeding.Source(ds, np.concatenate([idx, ds.indices("val")]), in_memory=True)
        stream = feeding.Source(ds, in_memory=False)
        targets, w = losses.targets(ds.task, ds.y), np.linspace(0.5, 1.5, ds.n).astype(np.float32)

        def batches(src, rc):
            return list(feeding.training_dataset(src, idx, targets, w, 100, 3, 2, rc, 1, 4).as_numpy_iterator())

        for rc in (True, False):
            a, b = batches(mem, rc), batches(stream, rc)
            assert len(a) == len(b) == 3 * 5  # epochs 1..3 of 420 records: 4 x 100 + 20 each
            assert [len(x) for x, _, _ in a[:5]] == [100] * 4 + [20]
            for got, want in zip(a, b):
                for u, v in zip(got, want):
                    assert u.dtype == v.dtype
                    np.testing.assert_array_equal(u, v)
        flipped = [x for x, _, _ in batches(mem, True)]
        assert not np.array_equal(np.concatenate(flipped), np.concatenate([x for x, _, _ in a]))


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
        assert_close(np.concatenate([w0, w1[:real]]), sw * (2 * m / n))
        assert not x1[real:].any() and not w1[real:].any()  # zero rows with zero weight
        # each replica's mean loss, summed and divided by the replicas, is the global batch's weighted mean
        assert_close((w0.sum() + w1.sum()) / (2 * m), sw.sum() / n, ops=n)


@pytest.mark.numerics
def test_fixed_batches_score_a_row_the_same_in_any_shard():
    """``Forward.fixed``: bit-identical logits for a row whatever part of the input it is scored with.

    The claim behind ``predict --shard`` (the parts' files concatenate byte for byte to the whole's): every call
    has the same batch shape and each record takes the row of the batch its index in the input gives, so the
    kernels, their blocking and the row's summation order are the same; the other rows' values do not enter
    it. Without the offset a record's row moves with the shard's start, and its logits move by an ulp (seen on
    this project's 2-core AMD EPYC with oneDNN). Plain batches of another size are only close
    (``assert_close``); the fixed ones must be equal, in both configurations of ``make test``.
    """
    from interpret_helpers import randomize
    from seqcnn.models import build_model

    model = randomize(build_model("deepbind", 60, "multiclass", 3, filters=8, kernel_size=9, dense_units=6,
                                  strands="average"), seed=4)
    x = np.eye(4, dtype=np.uint8)[np.random.default_rng(2).integers(0, 4, (23, 60))]
    fwd = feeding.Forward(model, 60)
    whole = fwd.fixed(x, 8)
    for n in (2, 3, 5):  # shard boundaries that fall inside batches, and a last shard shorter than a batch
        bounds = [-(-len(x) * k // n) for k in range(n + 1)]
        parts = [fwd.fixed(x[lo:hi], 8, offset=lo) for lo, hi in zip(bounds[:-1], bounds[1:])]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
    # other neighbours (the even rows replaced), each row at its own place: the odd rows' bits do not move
    y = x.copy()
    y[::2] = np.eye(4, dtype=np.uint8)[np.random.default_rng(3).integers(0, 4, (len(y[::2]), 60))]
    np.testing.assert_array_equal(fwd.fixed(y, 8)[1::2], whole[1::2])
    assert_close(fwd([x[:7], x[7:]]), whole)  # batches of other sizes: the same logits up to rounding
    # stable keys with gaps and repeats (variants: skipped rows, several ALTs of one record): a row scores to
    # the bits of the whole input's row with the same key, in any subset
    keys = np.array([0, 1, 1, 2, 5, 6, 6, 6, 9, 10, 12, 13, 14, 15, 16, 17, 17, 18, 19, 20, 21, 22, 22])
    rows = [1, 4, 8, 9, 10, 15, 16, 21]
    part = fwd.fixed(x[rows], 8, slots=keys[rows])
    np.testing.assert_array_equal(part, fwd.fixed(x, 8, slots=keys)[rows])
    np.testing.assert_array_equal(fwd.fixed(x, 8, slots=np.arange(len(x))), whole)  # keys 0..n-1: the offset rule
    # repeated keys (a record with two ALTs: keys r, r+1 and r+1, r+2 ...) do not cut a batch each time: rows
    # that want the same place take successive batches, so the calls are as many as the most crowded place needs
    calls = []
    fn = fwd.fn
    fwd.fn = lambda b: calls.append(1) or fn(b)
    keys = np.arange(len(x)) // 2 + np.arange(len(x)) % 2  # 0, 1, 1, 2, 2, ...: 12 cuts in input order
    got = fwd.fixed(x, 8, slots=keys)
    fwd.fn = fn
    assert len(calls) == 4  # place 1 (keys 1, 1, 9, 9) is the most crowded
    np.testing.assert_array_equal(got[[0, 1, 3]], fwd.fixed(x[[0, 1, 3]], 8, slots=keys[[0, 1, 3]]))


def test_malloc_tuning_and_core_count(monkeypatch):
    """``_tf.tune_malloc`` applies on glibc unless the user set MALLOC_*; the cores respect a cgroup quota."""
    import os
    import sys

    from seqcnn import _tf

    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert _tf.tune_malloc() is False  # the user's malloc settings win
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    if sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION"):
        assert _tf.tune_malloc() is True
    mask = len(os.sched_getaffinity(0))
    monkeypatch.setattr(_tf, "_cgroup_quota", lambda: None)
    assert _tf.available_cores() == mask
    monkeypatch.setattr(_tf, "_cgroup_quota", lambda: 1)
    assert _tf.available_cores() == 1
    monkeypatch.setattr(_tf, "_cgroup_quota", lambda: mask + 8)
    assert _tf.available_cores() == mask
