"""The dataset file (HDF5): write it (streaming, atomic), open and validate it, read it in chunks.

Only this module knows the layout (a public contract, documented in the README):

- ``x``        uint8 ``[N, L, 4]``, one-hot in order A, C, G, T (all-zero rows for N/padding)
- ``y``        ``[N]`` (binary: uint8 0/1; multiclass: int32 class index) or ``[N, T]`` uint8 (multilabel)
- ``ids``      UTF-8 strings ``[N]``
- ``split``    uint8 ``[N]``: 0 = train, 1 = val, 2 = test
- ``lengths``  int64 ``[N]``: original sequence lengths before padding/trimming
- genome mode only (schema 2): ``chrom`` (UTF-8 strings), ``start``, ``end`` (int64, 0-based half-open),
  ``strand`` (``+``/``-``/``.``) and ``origin`` (uint8, an index into the ``origins`` attribute: ``peak``,
  ``gc-matched``, ``shuffle``, ``given``) of every record
- genome mode with ``--jitter J`` (schema 3): ``x`` is ``[N, L + 2J, 4]``, each record's window widened by ``J``
  bases on both sides around the same centre (shift augmentation: training crops a random ``L`` window); the
  ``jitter`` attribute holds ``J``, ``length`` holds ``L``, and ``start``/``end``/``lengths`` describe the centred
  ``L`` window. Every reader returns the centred window unless asked for the stored one (``full=True``).

Root attributes: ``format`` ("seqcnn-dataset"), ``schema_version``, ``seqcnn_version``,
``alphabet``, ``task``, ``class_names`` and ``label_names`` (JSON lists), ``length``,
``pad_mode``, ``sources`` (JSON list of {path, sha256}), ``split_method``,
``split_fractions``, ``split_seed``, ``created``, ``command``, and ``complete`` (written
last; a file without it is refused). Chunks run along N (default 256 records, about
one training batch), so readers read whole chunks.
"""

import json
import os

import numpy as np

from ._version import __version__
from .errors import InputFormatError, SeqcnnError
from .outputs import check_output, publish, temp_file
from .splits import split_code

# 2: optional genome-mode coordinates (chrom, start, end, strand, origin); schema 1 files are read as before.
# 3: the jitter attribute (x stored J bases wider on each side); written only by a file with J > 0, so a file
# without jitter stays schema 2 (as earlier versions wrote it) and an earlier seqcnn refuses a jittered file
# ("upgrade seqcnn") instead of training on its widened windows.
SCHEMA_VERSION = 3
_SCHEMA_PLAIN = 2
FORMAT = "seqcnn-dataset"
COMPRESSIONS = ("gzip", "lzf", "none")
_JSON_ATTRS = ("class_names", "label_names", "sources", "split_fractions", "split_counts", "dropped", "origins",
               "genome", "negatives", "gc_match", "split_chroms", "split_blocks")
COORDS = ("chrom", "start", "end", "strand", "origin")


def compression_filters(compression, level):
    """h5py dataset keywords for ``compression`` (gzip, lzf or none) at ``level``; a bad choice raises SeqcnnError."""
    if compression not in COMPRESSIONS:
        raise SeqcnnError(f"unknown compression {compression!r}", hint=f"use one of {', '.join(COMPRESSIONS)}")
    if compression == "none":
        return {}
    if compression == "lzf":
        return {"compression": "lzf"}
    level = 1 if level is None else int(level)
    if not 0 <= level <= 9:
        raise SeqcnnError(f"gzip compression level {level} is not in 0..9")
    return {"compression": "gzip", "compression_opts": level}


class DatasetWriter:
    """Write a dataset to a temporary file beside ``path``; rename it into place on ``finish``.

    ``x``, ``ids`` and ``lengths`` are appended block by block, so memory stays
    bounded whatever the number of records; ``y`` and ``split`` (a few bytes per
    record) are written at the end. Used as a context manager, any exception (or
    Ctrl-C) removes the temporary file, so no partial output is ever left.

    Parameters
    ----------
    path : str
    length : int
        Sequence length ``L``.
    compression : {'gzip', 'lzf', 'none'}
        gzip (level 1 by default) is readable by every HDF5 tool; lzf is faster
        but h5py-only.
    chunk_records : int
        Records per chunk of ``x`` along N.
    """

    def __init__(self, path, length, force=False, compression="gzip", compression_level=1, chunk_records=256):
        import h5py

        self.path = str(path)
        self.force = bool(force)
        check_output(self.path, force)
        self.length = int(length)
        self.filters = compression_filters(compression, compression_level)
        self.chunk_records = int(chunk_records)
        self.tmp_path = temp_file(self.path)
        self.n = 0
        try:
            self.h5 = h5py.File(self.tmp_path, "w")
            self.x = self.h5.create_dataset("x", shape=(0, self.length, 4), maxshape=(None, self.length, 4),
                                            dtype=np.uint8, chunks=(self.chunk_records, self.length, 4),
                                            **self.filters)
            meta_chunk = (self.chunk_records * 16,)
            self.ids = self.h5.create_dataset("ids", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype("utf-8"),
                                              chunks=meta_chunk, **self.filters)
            self.lengths = self.h5.create_dataset("lengths", shape=(0,), maxshape=(None,), dtype=np.int64,
                                                  chunks=meta_chunk, **self.filters)
        except BaseException:
            self.abort()
            raise
        self._pending = []
        self._pending_n = 0
        # gzip chunks of x are compressed by worker threads (zlib releases the GIL) and written as stored
        # chunks: compression is most of an encode's time, and the threads overlap it with parsing and
        # encoding. The file is the same to any HDF5 reader as one written by h5py's deflate filter.
        self._level = self.filters.get("compression_opts") if self.filters.get("compression") == "gzip" else None
        self._pool = None
        self._inflight = []

    def _write_x(self, block):
        """Write whole chunks of x (the last may be partial, at the end) from record ``self.n`` on."""
        n1 = self.n + len(block)
        self.x.resize(n1, axis=0)
        if self._level is None or self.n % self.chunk_records:
            # Not on a chunk boundary (records were flushed early, e.g. to read ids back): h5py's own filter.
            self._drain()
            self.x[self.n:n1] = block
            return
        import zlib
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="seqcnn-gzip")
        c = self.chunk_records
        for b in range(0, len(block), c):
            chunk = block[b:b + c]
            if len(chunk) < c:  # an edge chunk is stored full size; HDF5 ignores the rows past the extent
                chunk = np.concatenate([chunk, np.zeros((c - len(chunk),) + chunk.shape[1:], np.uint8)])
            self._inflight.append((self.n + b, self._pool.submit(zlib.compress, np.ascontiguousarray(chunk),
                                                                 self._level)))
        # Two flushes' worth in flight at most: memory stays bounded, and the threads stay busy.
        self._drain(keep=2 * 16)

    def _drain(self, keep=0):
        """Write finished compressed chunks in order, leaving at most ``keep`` in flight."""
        while len(self._inflight) > keep:
            offset, future = self._inflight.pop(0)
            self.x.id.write_direct_chunk((offset, 0, 0), future.result())

    def _close_pool(self):
        if getattr(self, "_pool", None) is not None:
            for _, future in self._inflight:
                future.cancel()
            self._inflight = []
            self._pool.shutdown(wait=True)
            self._pool = None

    def append(self, x, ids=None, lengths=None):
        """Append a block of records.

        Parameters
        ----------
        x : np.ndarray, shape=(n, L, 4), uint8
        ids : sequence of str, shape=(n,), optional — default ``r{index}``.
        lengths : np.ndarray, shape=(n,), optional — default ``L``.
        """
        x = np.asarray(x, dtype=np.uint8)
        if x.ndim != 3 or x.shape[1:] != (self.length, 4):
            raise SeqcnnError(f"block of shape {x.shape} does not fit ({self.length}, 4)")
        start = self.n + self._pending_n
        ids = [f"r{start + i}" for i in range(len(x))] if ids is None else list(ids)
        lengths = np.full(len(x), self.length, np.int64) if lengths is None else np.asarray(lengths, np.int64)
        if len(ids) != len(x) or len(lengths) != len(x):
            raise SeqcnnError(f"block has {len(x)} sequences but {len(ids)} ids and {len(lengths)} lengths")
        # Buffer to whole chunks so each chunk is compressed once (h5py would otherwise
        # re-read and re-compress a partly written chunk on the next append).
        self._pending.append((x, ids, lengths))
        self._pending_n += len(x)
        if self._pending_n >= self.chunk_records * 16:
            self._flush(final=False)

    def _flush(self, final):
        if not self._pending:
            return
        xs, idss, lens = zip(*self._pending)
        block = np.concatenate(xs) if len(xs) > 1 else xs[0]
        ids = [i for part in idss for i in part]
        lengths = np.concatenate(lens)
        cut = len(block) if final else (len(block) // self.chunk_records) * self.chunk_records
        if cut:
            n1 = self.n + cut
            self._write_x(block[:cut])
            for ds, values in ((self.ids, np.asarray(ids[:cut], dtype=object)), (self.lengths, lengths[:cut])):
                ds.resize(n1, axis=0)
                ds[self.n:n1] = values
            self.n = n1
        rest = len(block) - cut
        self._pending = [(block[cut:], ids[cut:], lengths[cut:])] if rest else []
        self._pending_n = rest

    def read_ids(self, rows):
        """Ids already written at ``rows`` (used to confirm duplicate ids found by hashing)."""
        self._flush(final=True)
        self._drain()
        return [self.ids[int(r)].decode() if isinstance(self.ids[int(r)], bytes) else self.ids[int(r)]
                for r in rows]

    def finish(self, y, split, attrs, coords=None):
        """Write labels, split and attributes; mark complete; rename into place.

        Parameters
        ----------
        y : np.ndarray, shape=(N,) or (N, T)
        split : np.ndarray, shape=(N,), uint8
        attrs : dict
            Root attributes; lists/dicts are stored as JSON strings. ``jitter`` (int J > 0, genome mode): the
            appended rows are ``L + 2J`` wide around the centred ``L`` window (schema 3); 0 or absent: plain.
        coords : dict, optional
            Genome mode: ``chrom``, ``start``, ``end``, ``strand``, ``origin`` arrays of shape=(N,) (see ``COORDS``).
        """
        try:
            self._flush(final=True)
            self._drain()
            self._close_pool()
            n = self.n
            y = np.asarray(y)
            for name, arr in (("y", y), ("split", split)):
                if len(arr) != n:
                    raise SeqcnnError(f"{name} has {len(arr)} entries for {n} sequences")
            if n == 0:
                raise SeqcnnError("no records to write", path=self.path)
            small_chunk = (min(n, 1 << 14),)
            self.h5.create_dataset("y", data=y, chunks=small_chunk + y.shape[1:], **self.filters)
            self.h5.create_dataset("split", data=np.asarray(split, dtype=np.uint8), chunks=small_chunk,
                                   **self.filters)
            if coords is not None:
                import h5py

                for name in COORDS:
                    values = np.asarray(coords[name])
                    if len(values) != n:
                        raise SeqcnnError(f"{name} has {len(values)} entries for {n} sequences")
                    kind = {"chrom": h5py.string_dtype("utf-8"), "strand": h5py.string_dtype("utf-8"),
                            "origin": np.uint8}.get(name, np.int64)
                    data = values.astype(object) if name in ("chrom", "strand") else values.astype(kind)
                    self.h5.create_dataset(name, data=data, dtype=kind, chunks=small_chunk, **self.filters)
            jitter = int(attrs.get("jitter", 0) or 0)
            if jitter < 0 or self.length - 2 * jitter < 1:
                raise SeqcnnError(f"jitter {jitter} does not fit stored windows of {self.length} bp")
            base = {"format": FORMAT, "schema_version": SCHEMA_VERSION if jitter else _SCHEMA_PLAIN,
                    "seqcnn_version": __version__, "alphabet": "ACGT", "length": self.length - 2 * jitter}
            base.update(attrs)
            for key, value in base.items():
                if isinstance(value, (list, tuple, dict)) or value is None:
                    value = json.dumps(value)
                self.h5.attrs[key] = value
            # Written last: a file without it was interrupted and is refused by open_dataset.
            self.h5.attrs["complete"] = True
            self.h5.close()
            publish(self.tmp_path, self.path, self.force)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self):
        """Close and delete the temporary file."""
        try:
            self._close_pool()
            if getattr(self, "h5", None) is not None and self.h5.id.valid:
                self.h5.close()
        finally:
            if os.path.exists(self.tmp_path):
                os.remove(self.tmp_path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # Without finish() (an exception, or a forgotten call) nothing complete exists to keep.
        if os.path.exists(self.tmp_path):
            self.abort()
        return False


def write_dataset(path, x, y, ids, split=None, lengths=None, attrs=None, force=False, compression="gzip",
                  compression_level=1, chunk_records=256):
    """Write in-memory arrays as a seqcnn HDF5 dataset (atomically).

    Parameters
    ----------
    x : np.ndarray, shape=(N, L, 4), uint8
    y : np.ndarray, shape=(N,) or (N, T)
    ids : sequence of str
    split : np.ndarray, shape=(N,), optional — defaults to all train.
    lengths : np.ndarray, optional — defaults to L for every record.
    attrs : dict — must include ``task`` and ``class_names``.
    """
    x = np.asarray(x, dtype=np.uint8)
    n, length = x.shape[0], x.shape[1]
    attrs = dict(attrs or {})
    if "task" not in attrs or "class_names" not in attrs:
        raise SeqcnnError("write_dataset needs attrs['task'] and attrs['class_names']")
    split = np.zeros(n, np.uint8) if split is None else split
    lengths = np.full(n, length, np.int64) if lengths is None else lengths
    if len(ids) != n:
        raise SeqcnnError(f"{len(ids)} ids for {n} sequences")
    with DatasetWriter(path, length, force=force, compression=compression, compression_level=compression_level,
                       chunk_records=chunk_records) as writer:
        writer.append(x, ids, lengths)
        return writer.finish(y, split, attrs)


class SeqDataset:
    """An open seqcnn HDF5 dataset. Small per-record arrays are loaded; ``x`` and ``ids`` are read on demand.

    Attributes
    ----------
    path : str
    n, length : int
    task : str — 'binary', 'multiclass' or 'multilabel'
    class_names, label_names : list of str
    n_outputs : int — 1 for binary, number of classes or labels otherwise.
    ids : np.ndarray of str, shape=(N,) — read on first use (see :meth:`read_ids` for a few).
    y : np.ndarray, shape=(N,) or (N, T)
    split : np.ndarray, shape=(N,), uint8
    lengths : np.ndarray, shape=(N,)
    attrs : dict — root attributes, JSON values decoded.
    chunk_records : int
    jitter : int — J: bases stored on each side of the model's window (genome mode ``--jitter``; 0 otherwise).
    stored_length : int — the stored width ``length + 2 * jitter``; readers return ``length`` wide rows (the
        centred window) unless given ``full=True``.
    """

    def __init__(self, path):
        import h5py

        self.path = str(path)
        if not os.path.exists(self.path):
            raise InputFormatError("file not found", path=self.path, hint="check the path")
        try:
            self.h5 = h5py.File(self.path, "r")
        except OSError:
            raise InputFormatError("not a readable HDF5 file (corrupted or another format)", path=self.path,
                                   hint="re-create it with 'seqcnn encode'") from None
        try:
            self._load()
        except SeqcnnError:
            self.h5.close()
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            self.h5.close()
            raise InputFormatError(f"damaged seqcnn dataset ({' '.join(str(exc).split())})", path=self.path,
                                   hint="re-create it with 'seqcnn encode'") from None

    def _load(self):
        import h5py

        attrs = {}
        for key, value in self.h5.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if key in _JSON_ATTRS and isinstance(value, str):
                value = json.loads(value)
            if isinstance(value, np.generic):
                value = value.item()
            attrs[key] = value
        self.attrs = attrs
        if attrs.get("format") != FORMAT:
            raise InputFormatError("not a seqcnn dataset (no 'format' attribute)", path=self.path,
                                   hint="create datasets with 'seqcnn encode'")
        version = int(attrs.get("schema_version", 0))
        if version > SCHEMA_VERSION:
            raise InputFormatError(f"written with dataset schema {version}, newer than this seqcnn reads "
                                   f"({SCHEMA_VERSION})", path=self.path, hint="upgrade seqcnn")
        if not attrs.get("complete", False):
            raise InputFormatError("incomplete dataset: writing it was interrupted", path=self.path,
                                   hint="run 'seqcnn encode' again")
        for name in ("x", "y", "ids", "split", "lengths"):
            if name not in self.h5:
                raise InputFormatError(f"not a seqcnn dataset: no '{name}' array", path=self.path)
        self._x = self.h5["x"]
        if self._x.ndim != 3 or self._x.shape[2] != 4:
            raise InputFormatError(f"x has shape {self._x.shape}, expected (N, L, 4)", path=self.path)
        self.n, self.stored_length = int(self._x.shape[0]), int(self._x.shape[1])
        # Shift augmentation (genome mode, --jitter J): x holds J extra bases on each side of the model's window;
        # readers return the centred window of `length` unless asked for the stored rows (full=True).
        jitter = attrs.get("jitter", 0)
        if not isinstance(jitter, int) or isinstance(jitter, bool) or jitter < 0 or \
                self.stored_length - 2 * jitter < 1:
            raise InputFormatError(f"damaged seqcnn dataset: jitter {jitter!r} does not fit x of width "
                                   f"{self.stored_length}", path=self.path, hint="re-create it with 'seqcnn encode'")
        self.jitter = jitter
        self.length = self.stored_length - 2 * jitter
        if jitter and attrs.get("length") != self.length:
            raise InputFormatError(f"damaged seqcnn dataset: length {attrs.get('length')!r} and jitter {jitter} do "
                                   f"not describe x of width {self.stored_length}", path=self.path,
                                   hint="re-create it with 'seqcnn encode'")
        # Ids are read on first use: as Python str they take ~125 bytes per record, more than all the
        # other per-record arrays together, and training, evaluation and motifs never need them.
        self._ids = None
        self._ids_ds = self.h5["ids"]
        if self._ids_ds.ndim != 1 or h5py.check_string_dtype(self._ids_ds.dtype) is None:
            raise InputFormatError(f"damaged seqcnn dataset: ids are not strings (dtype {self._ids_ds.dtype})",
                                   path=self.path, hint="re-create it with 'seqcnn encode'")
        self.y = self.h5["y"][:]
        self.split = self.h5["split"][:]
        self.lengths = self.h5["lengths"][:]
        for name, arr in (("y", self.y), ("ids", self._ids_ds), ("split", self.split), ("lengths", self.lengths)):
            if len(arr) != self.n:
                raise InputFormatError(f"'{name}' has {len(arr)} entries but x has {self.n}", path=self.path)
        self.task = attrs.get("task")
        self.class_names = list(attrs.get("class_names") or [])
        self.label_names = list(attrs.get("label_names") or [])
        self.chunk_records = int(self._x.chunks[0]) if self._x.chunks else 256
        x = self._x
        # Plain gzip chunks can be fetched raw and inflated with zlib, which releases the GIL
        # (h5py's filter pipeline holds it), so a training loop keeps running meanwhile.
        self._gzip_direct = (x.compression == "gzip" and not x.shuffle and not x.fletcher32
                             and x.chunks is not None and x.chunks[1:] == x.shape[1:])

    @property
    def ids(self):
        """Every record id, np.ndarray of str (object), shape=(N,); read from the file on first use, then kept."""
        if self._ids is None:
            self._ids = self._ids_reader()[:].astype(object)
        return self._ids

    def read_ids(self, indices):
        """Ids of the records at ``indices``, np.ndarray of str (object), shape=(n,): equal to ``ids[indices]``.

        Reads only the chunks of ``ids`` that hold those records (unless all ids are already loaded),
        so a few ids of a large file cost a few chunk reads, not every id. ``indices`` are integers in
        any order, repeats and negative values allowed, or a boolean mask of shape ``(N,)``.
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (self.n,):
                raise IndexError(f"boolean mask of shape {idx.shape} for {self.n} records")
            idx = np.flatnonzero(idx)
        elif idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise IndexError(f"record indices must be integers, not {idx.dtype}")
        idx = idx.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < -self.n or idx.max() >= self.n):
            bad = idx[(idx < -self.n) | (idx >= self.n)][0]
            raise IndexError(f"index {bad} is out of bounds for {self.n} records")
        idx = np.where(idx < 0, idx + self.n, idx)
        if self._ids is not None:
            return self._ids[idx]
        out = np.empty(len(idx), dtype=object)
        if not len(idx):
            return out
        reader = self._ids_reader()
        step = self._ids_ds.chunks[0] if self._ids_ds.chunks else self.chunk_records * 16
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        for start in np.unique(sorted_idx // step) * step:
            lo, hi = np.searchsorted(sorted_idx, [start, start + step])
            block = reader[start:min(start + step, self.n)]
            out[order[lo:hi]] = block[sorted_idx[lo:hi] - start]
        return out

    def _ids_reader(self):
        """The ``ids`` array read as str; refused once the file is closed (ids are not kept from open)."""
        if not self.h5.id.valid:
            raise SeqcnnError("the dataset is closed, and its ids are read from the file on first use",
                              path=self.path, hint="read ds.ids (or ds.read_ids(rows)) before closing it")
        return self._ids_ds.asstr()

    @property
    def n_outputs(self):
        """Model outputs the task needs: 1 (binary), number of classes, or number of labels."""
        if self.task == "binary":
            return 1
        if self.task == "multilabel":
            return int(self.y.shape[1])
        return len(self.class_names)

    def indices(self, split=None):
        """Record indices of a split ('train', 'val', 'test', a code, or None for all)."""
        if split is None or split == "all":
            return np.arange(self.n)
        code = split if isinstance(split, (int, np.integer)) else split_code(split)
        return np.flatnonzero(self.split == code)

    def _crop(self, x, full):
        """The centred ``length`` columns of stored rows ``x`` [n, stored_length, 4] (a view), or ``x`` if ``full``."""
        if full or not self.jitter:
            return x
        return x[:, self.jitter:self.jitter + self.length]

    def read_x(self, indices=None, full=False):
        """Read one-hot sequences into memory, uint8 shape=(n, L, 4) (``full``: the stored (n, L + 2J, 4)).

        Reads whole chunks in order and selects rows from them, which is far faster
        than fancy indexing rows in HDF5. Without ``full`` a jittered file's rows are the centred windows.
        """
        width = self.stored_length if full else self.length
        if indices is None:
            return np.ascontiguousarray(self._crop(self._x[:], full))
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) == 0:
            return np.zeros((0, width, 4), np.uint8)
        order = np.argsort(indices, kind="stable")
        sorted_idx = indices[order]
        out = np.empty((len(indices), width, 4), np.uint8)
        step = self.chunk_records * 16
        starts = np.arange(sorted_idx[0] // step * step, sorted_idx[-1] + 1, step)
        for start in starts:
            lo, hi = np.searchsorted(sorted_idx, [start, start + step])
            if lo == hi:
                continue
            block = self._crop(self._x[start:min(start + step, self.n)], full)
            out[order[lo:hi]] = block[sorted_idx[lo:hi] - start]
        return out

    def read_chunk(self, c, full=False):
        """Chunk ``c`` of ``x`` (records ``c*chunk_records`` onwards), uint8 shape=(≤chunk_records, L, 4).

        A jittered file's rows come as the centred windows (a view of the stored chunk); ``full``: the stored rows,
        shape=(≤chunk_records, L + 2J, 4).
        """
        cr = self.chunk_records
        n = min(cr, self.n - c * cr)
        if self._gzip_direct:
            import zlib

            mask, raw = self._x.id.read_direct_chunk((c * cr, 0, 0))
            if mask == 0:
                return self._crop(np.frombuffer(zlib.decompress(raw), np.uint8).reshape(cr, self.stored_length,
                                                                                        4)[:n], full)
        return self._crop(self._x[c * cr:c * cr + n], full)

    def iter_chunks(self, split=None, shuffle=False, seed=None, records_per_read=None, full=False):
        """Yield ``(x, y, indices)`` blocks of whole chunks, restricted to a split.

        Parameters
        ----------
        split : str or int, optional
        shuffle : bool
            Visit chunk blocks in random order (rows within a block are not shuffled here).
        records_per_read : int, optional
            A multiple of the chunk size; defaults to the chunk size.
        full : bool
            A jittered file's stored rows (L + 2J wide) instead of the centred windows.
        """
        step = records_per_read or self.chunk_records
        starts = np.arange(0, self.n, step)
        if shuffle:
            np.random.default_rng(seed).shuffle(starts)
        mask = None if split is None else np.isin(np.arange(self.n), self.indices(split))
        for start in starts:
            stop = min(start + step, self.n)
            rows = np.arange(start, stop)
            if mask is not None:
                keep = mask[start:stop]
                if not keep.any():
                    continue
                x = self._crop(self._x[start:stop], full)[keep]
                rows = rows[keep]
            else:
                x = self._crop(self._x[start:stop], full)
            yield x, self.y[rows], rows

    def row_hashes(self):
        """A 64-bit hash of every record's one-hot rows, read chunk by chunk: np.ndarray uint64, shape=(N,).

        A jittered file hashes the centred windows (what the model scores, and what a file encoded without
        ``--jitter`` holds): two records whose windows agree but whose flanks differ count as duplicates.
        """
        out = np.empty(self.n, np.uint64)
        # Odd 64-bit multipliers per byte position; the dot product wraps modulo 2**64 (a polynomial hash).
        weights = None
        for c in range(-(-self.n // self.chunk_records)):
            x = self.read_chunk(c)
            rows = x.reshape(len(x), -1).astype(np.uint64)
            if weights is None:
                weights = np.random.default_rng(0).integers(1, 2**63, rows.shape[1], dtype=np.uint64) | np.uint64(1)
            with np.errstate(over="ignore"):
                out[c * self.chunk_records:c * self.chunk_records + len(x)] = rows @ weights
        return out

    @property
    def has_coords(self):
        """Whether the file holds genomic coordinates (genome mode)."""
        return "chrom" in self.h5

    def coords(self, indices=None):
        """Genomic coordinates of records ``indices`` (default all): dict of ``COORDS`` arrays, or None.

        ``chrom`` and ``strand`` come as str (object) arrays, ``start``/``end`` int64, ``origin`` as the
        names of the ``origins`` attribute.
        """
        if not self.has_coords:
            return None
        sel = slice(None) if indices is None else np.sort(np.asarray(indices, np.int64))
        out = {}
        for name in COORDS:
            ds = self.h5[name]
            values = ds.asstr()[sel] if name in ("chrom", "strand") else ds[sel]
            out[name] = np.asarray(values, dtype=object) if name in ("chrom", "strand") else values
        names = np.asarray(self.attrs.get("origins") or [], dtype=object)
        out["origin"] = names[out["origin"]] if len(names) else out["origin"]
        if indices is not None:
            back = np.argsort(np.argsort(np.asarray(indices, np.int64), kind="stable"), kind="stable")
            out = {k: v[back] for k, v in out.items()}
        return out

    def summary(self, leakage=False):
        """A dict with records, length, task, classes with counts per split, provenance and, genome mode, its record.

        With ``leakage``, also what the splits share (:func:`seqcnn.splits.leakage`: duplicate sequences, and
        overlapping windows in genome mode); this reads every record once.
        """
        from .splits import leakage as split_leakage, split_counts

        genome_mode = {k: self.attrs.get(k) for k in ("genome", "negatives", "gc_match", "split_chroms", "split_blocks",
                                                      "dropped")
                       if self.attrs.get(k) is not None} if self.has_coords else None
        return {
            "genome_mode": genome_mode,
            "leakage": split_leakage(self.split, self.row_hashes(), self.coords()) if leakage else None,
            "path": self.path, "records": self.n, "length": self.length, "jitter": self.jitter,
            "stored_length": self.stored_length, "task": self.task,
            "class_names": self.class_names, "label_names": self.label_names,
            "splits": split_counts(self.split, self.y, self.class_names if self.task != "binary" else None),
            "lengths": {"min": int(self.lengths.min()), "max": int(self.lengths.max()),
                        "pad_mode": self.attrs.get("pad_mode")},
            "provenance": {k: self.attrs.get(k) for k in ("seqcnn_version", "schema_version", "created",
                                                          "command", "sources", "split_method",
                                                          "split_fractions", "split_seed")},
        }

    def close(self):
        """Close the file."""
        if self.h5.id.valid:
            self.h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __len__(self):
        return self.n

    def __repr__(self):
        jitter = f", jitter={self.jitter}" if self.jitter else ""
        return f"SeqDataset({self.path!r}, n={self.n}, length={self.length}{jitter}, task={self.task!r})"


def open_dataset(path):
    """Open and validate a seqcnn HDF5 dataset.

    Raises
    ------
    InputFormatError
        If the file is missing, not HDF5, not seqcnn's, of a newer schema, or incomplete.
    """
    return SeqDataset(path)
