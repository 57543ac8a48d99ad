"""Tests of seqcnn.store: the HDF5 contract, atomic writes, validation on open, chunked reads."""

import json

import h5py
import numpy as np
import pytest

from seqcnn.encoding import one_hot
from seqcnn.errors import InputFormatError, OutputExistsError, SeqcnnError
from seqcnn.store import SCHEMA_VERSION, DatasetWriter, open_dataset, write_dataset


def _small(tmp_path, n=1000, length=30, **kw):
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, length))]
    y = rng.integers(0, 2, n).astype(np.uint8)
    ids = [f"r{i}" for i in range(n)]
    split = rng.integers(0, 3, n).astype(np.uint8)
    path = tmp_path / "d.h5"
    write_dataset(path, x, y, ids, split, attrs={"task": "binary", "class_names": ["0", "1"]}, **kw)
    return path, x, y, ids, split


def test_roundtrip_and_layout(tmp_path):
    path, x, y, ids, split = _small(tmp_path)
    with h5py.File(path) as f:
        assert f["x"].dtype == np.uint8 and f["x"].shape == (1000, 30, 4)
        assert f["x"].chunks == (256, 30, 4) and f["x"].compression == "gzip"
        # schema 3 marks a jittered file (tests/test_jitter.py); a file without jitter stays schema 2
        assert SCHEMA_VERSION == 3 and f.attrs["schema_version"] == 2 and f.attrs["alphabet"] == "ACGT"
        assert json.loads(f.attrs["class_names"]) == ["0", "1"]
    with open_dataset(path) as ds:
        np.testing.assert_array_equal(ds.read_x(), x)
        np.testing.assert_array_equal(ds.y, y)
        assert list(ds.ids) == ids
        np.testing.assert_array_equal(ds.split, split)
        assert ds.n_outputs == 1 and ds.length == 30


def test_read_x_any_order(tmp_path):
    path, x, *_ = _small(tmp_path, n=5000)
    idx = np.random.default_rng(1).permutation(5000)[:700]
    with open_dataset(path) as ds:
        np.testing.assert_array_equal(ds.read_x(idx), x[idx])


def test_iter_chunks_covers_split_once(tmp_path):
    path, x, y, ids, split = _small(tmp_path, n=3000)
    with open_dataset(path) as ds:
        seen = []
        for xb, yb, rows in ds.iter_chunks("val", shuffle=True, seed=3):
            np.testing.assert_array_equal(xb, x[rows])
            np.testing.assert_array_equal(yb, y[rows])
            seen.extend(rows)
    assert sorted(seen) == list(np.flatnonzero(split == 1))


@pytest.mark.parametrize("level", [1, 6])
def test_threaded_gzip_chunks_read_back_exactly(tmp_path, level):
    """x is compressed by threads and written as stored chunks: h5py reads it back exactly, in odd-sized
    appends, a partial last chunk, and after ids were read back mid-stream (then h5py's filter writes)."""
    rng = np.random.default_rng(2)
    length, sizes = 17, [5, 300, 4096, 1, 700, 33]
    x = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (sum(sizes), length))]
    path = tmp_path / "t.h5"
    w = DatasetWriter(path, length, compression="gzip", compression_level=level, chunk_records=64)
    done = 0
    for k, m in enumerate(sizes):
        w.append(x[done:done + m], [f"r{i}" for i in range(done, done + m)])
        done += m
        if k == 3:
            assert w.read_ids([0, done - 1]) == ["r0", f"r{done - 1}"]
    n = len(x)
    w.finish(np.zeros(n, np.uint8), np.zeros(n, np.uint8), {"task": "binary", "class_names": ["0", "1"]})
    with h5py.File(path) as f:
        assert f["x"].compression == "gzip" and f["x"].compression_opts == level and f["x"].chunks == (64, 17, 4)
        np.testing.assert_array_equal(f["x"][:], x)
        assert f["x"].id.get_storage_size() < x.nbytes / 2  # compressed, not stored raw
    with open_dataset(path) as ds:
        np.testing.assert_array_equal(ds.read_x(np.arange(n)[::-7]), x[::-7])


@pytest.mark.parametrize("compression", ["lzf", "none"])
def test_compression_options(tmp_path, compression):
    path, x, *_ = _small(tmp_path, compression=compression)
    with h5py.File(path) as f:
        assert f["x"].compression == (None if compression == "none" else compression)


def test_never_overwrites_without_force(tmp_path):
    path, *_ = _small(tmp_path)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="--force"):
        _small(tmp_path)
    assert path.read_bytes() == before
    _small(tmp_path, force=True)


def test_error_mid_write_leaves_nothing(tmp_path):
    out = tmp_path / "o.h5"
    with pytest.raises(RuntimeError):
        with DatasetWriter(out, 4) as w:
            w.append(one_hot(["ACGT"] * 10))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_open_refuses_incomplete_newer_foreign_and_corrupt(tmp_path):
    path, *_ = _small(tmp_path)
    with h5py.File(path, "a") as f:
        del f.attrs["complete"]
    with pytest.raises(InputFormatError, match="incomplete"):
        open_dataset(path)
    path, *_ = _small(tmp_path, force=True)
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(InputFormatError, match="newer"):
        open_dataset(path)
    foreign = tmp_path / "other.h5"
    with h5py.File(foreign, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(InputFormatError, match="not a seqcnn dataset"):
        open_dataset(foreign)
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(InputFormatError):
        open_dataset(corrupt)
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(InputFormatError, match="not a readable HDF5"):
        open_dataset(text)
    with pytest.raises(InputFormatError, match="not found"):
        open_dataset(tmp_path / "missing.h5")


def test_open_refuses_inconsistent_arrays(tmp_path):
    path, *_ = _small(tmp_path)
    with h5py.File(path, "a") as f:
        del f["y"]
        f["y"] = np.zeros(10, np.uint8)
    with pytest.raises(InputFormatError, match="'y' has 10 entries"):
        open_dataset(path)


def test_open_refuses_ids_that_are_not_strings(tmp_path):
    path, *_ = _small(tmp_path)
    with h5py.File(path, "a") as f:
        del f["ids"]
        f["ids"] = np.arange(1000)
    with pytest.raises(InputFormatError, match="ids are not strings"):
        open_dataset(path)


def test_ids_not_read_on_open(tmp_path):
    path, x, y, ids, split = _small(tmp_path)
    with open_dataset(path) as ds:
        # Training, evaluation and motifs only read x, y and split: none of them loads the ids.
        np.testing.assert_array_equal(ds.read_chunk(1), x[256:512])
        for _ in ds.iter_chunks("train"):
            pass
        ds.summary()
        assert ds._ids is None
        assert list(ds.ids) == ids and ds._ids is not None
    with open_dataset(path) as ds:
        pass
    with pytest.raises(SeqcnnError, match="closed"):
        ds.ids


def test_read_ids_equals_ids_at_indices(tmp_path):
    # Chunks of 16 records put ids in chunks of 256, so the 1,000 ids span four of them.
    path, _, _, ids, split = _small(tmp_path, chunk_records=16)
    rng = np.random.default_rng(2)
    idx = rng.integers(-1000, 1000, 300)  # any order, repeats and negative indices
    with open_dataset(path) as ds:
        got = ds.read_ids(idx)
        assert ds._ids is None
        np.testing.assert_array_equal(got, np.asarray(ids, dtype=object)[idx])
        np.testing.assert_array_equal(ds.read_ids(split == 2), ds.ids[split == 2])
        np.testing.assert_array_equal(ds.read_ids(idx), ds.ids[idx])  # from the loaded ids
        assert ds.read_ids([]).shape == (0,) and list(ds.read_ids([999, 0])) == ["r999", "r0"]
        for bad in ([1000], [-1001], [0.5], np.ones(3, bool)):
            with pytest.raises(IndexError):
                ds.read_ids(bad)
