"""Feeding a model from a dataset file: the epoch order, chunk-wise reads, ``tf.data`` batches, inference.

The data pipeline reads the HDF5 file in whole chunks: each epoch visits the chunks
holding training records in a random order, in groups of ``buffer_chunks`` whose
records are shuffled together. The epoch's order is a function of (seed, epoch)
only, so a training set loaded into memory (when it fits ``memory_budget_mb``) and
one streamed from disk yield identical batches and identical models. Batches
travel as uint8 and are cast to float32 (and optionally reverse-complemented)
inside the TensorFlow graph. A training set in memory is batched without Python per batch (the epoch's
order drawn once per epoch, rows gathered in the graph); streamed or sliced for replicas, a Python generator
cuts the same batches.

Shift augmentation (a dataset encoded with ``--jitter J``, read through ``Source(..., full=True)``): each training
record of each epoch is cropped to the model's length at an offset given by :func:`crop_offsets`, a pure function
of (seed, epoch, record), so a resumed or distributed run crops alike; validation and inference read the centred
window. Offsets are drawn only when jitter is used: a run without it draws the same random numbers as before.

Provides :func:`epoch_order`, :func:`crop_offsets`, :class:`Source` (rows from memory or from chunks),
:func:`training_dataset` (the batches of all epochs, optionally cut into replica
slices for tf.distribute) and :class:`Forward` (a traced inference pass, uint8 in,
logits out). TensorFlow is imported on first use only.
"""

import numpy as np

from ._tf import import_tf


def epoch_order(indices, chunk_records, buffer_chunks, seed, epoch, return_groups=False):
    """The order in which one epoch visits the training records.

    Chunks (runs of ``chunk_records`` records on disk) come in a random order; each group
    of ``buffer_chunks`` consecutive chunks in that order is shuffled internally. A pure
    function of its arguments, so every pipeline (in memory or streamed) agrees.

    Parameters
    ----------
    indices : np.ndarray, shape=(n,) — record indices of the split, ascending.
    return_groups : bool — also return where each chunk group starts in the order.

    Returns
    -------
    order : np.ndarray, shape=(n,) — a permutation of ``indices``.
    bounds : np.ndarray, shape=(n_groups + 1,) — only with ``return_groups``: group g is
        ``order[bounds[g]:bounds[g+1]]``.
    """
    rng = np.random.default_rng([int(seed), int(epoch)])
    chunk_of = indices // chunk_records
    chunks = np.unique(chunk_of)
    rank = np.empty(chunks.max() + 1 if len(chunks) else 0, np.int64)
    rank[rng.permutation(chunks)] = np.arange(len(chunks))
    group = rank[chunk_of] // max(1, int(buffer_chunks))
    sort = np.lexsort((rng.random(len(indices)), group))
    if not return_groups:
        return indices[sort]
    bounds = np.r_[0, np.flatnonzero(np.diff(group[sort])) + 1, len(indices)]
    return indices[sort], bounds


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _splitmix(z):
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic): well-mixed bits from consecutive keys."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _MIX[1]
        z = (z ^ (z >> np.uint64(27))) * _MIX[2]
        return z ^ (z >> np.uint64(31))


def crop_offsets(records, seed, epoch, jitter, stored_jitter):
    """Where each training record's window starts in its stored row this epoch: a pure function of its arguments.

    Parameters
    ----------
    records : np.ndarray of int, shape=(n,) — record indices (of the file).
    seed, epoch : int
    jitter : int — j >= 1, the largest shift used (at most ``stored_jitter``).
    stored_jitter : int — J, the bases stored on each side of the centred window (``SeqDataset.jitter``).

    Returns
    -------
    np.ndarray, int64, shape=(n,) — offsets in ``[J - j, J + j]`` (uniform; ``J`` is the centred window), so
    ``stored[off:off + L]`` is the crop. Keyed by (seed, epoch, record), not by the record's place in the epoch's
    order: the same record gets the same crop whatever else the training set holds.
    """
    with np.errstate(over="ignore"):
        key = _splitmix(np.uint64(int(seed) % 2**64) * _MIX[0] + np.uint64(int(epoch) % 2**64))
        z = _splitmix((np.asarray(records, np.int64).astype(np.uint64) + np.uint64(1)) * _MIX[0] ^ key)
    span = np.uint64(2 * int(jitter) + 1)
    return (z % span).astype(np.int64) + (int(stored_jitter) - int(jitter))


def crop(x, offsets, length):
    """Rows ``x`` [n, W, 4] cropped to ``length`` from ``offsets`` [n] (numpy, one gather): uint8 [n, length, 4]."""
    return x[np.arange(len(x))[:, None], np.asarray(offsets, np.int64)[:, None] + np.arange(int(length))]


class Source:
    """Reads one-hot rows of a dataset: all in memory (``x`` given) or chunk-wise from HDF5.

    ``full``: a jittered dataset's stored rows (``L + 2J`` wide, for training crops); otherwise, and always in
    :meth:`ordered` (inference, validation), the centred ``L`` window.
    """

    def __init__(self, ds, indices=None, in_memory=False, full=False):
        self.ds = ds
        self.in_memory = in_memory
        self.full = bool(full) and ds.jitter > 0
        if in_memory:
            self.indices = np.sort(np.asarray(indices))
            self.x = ds.read_x(self.indices, full=self.full)

    def rows(self, idx):
        """Rows ``idx`` (global record indices), uint8 shape=(len(idx), W, 4), in that order: W is the stored width
        ``L + 2J`` of a ``full`` source, else ``L``."""
        if self.in_memory:
            return self.x[np.searchsorted(self.indices, idx)]
        cr = self.ds.chunk_records
        chunk_of = idx // cr
        chunks = np.unique(chunk_of)
        # Whole-chunk reads (one decompression each), then a gather: never record-at-a-time HDF5 access.
        blocks = np.concatenate([self.ds.read_chunk(c, full=self.full) for c in chunks])
        starts = np.zeros(chunks.max() + 1, np.int64)
        starts[chunks] = np.arange(len(chunks)) * cr
        return blocks[starts[chunk_of] + idx % cr]

    def ordered(self, idx, batch_size):
        """Yield uint8 batches of rows ``idx`` (ascending) in order, the centred ``L`` windows [b, L, 4] (also from a
        ``full`` source); reads the file a block of chunks at a time."""
        step = max(batch_size, self.ds.chunk_records * 16)
        pending = []
        J, L = self.ds.jitter, self.ds.length
        for start in range(0, len(idx), step):
            x = self.rows(idx[start:start + step])
            pending.append(x[:, J:J + L] if self.full else x)
            buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
            cut = len(buf) // batch_size * batch_size
            for b in range(0, cut, batch_size):
                yield buf[b:b + batch_size]
            pending = [buf[cut:]] if cut < len(buf) else []
        if pending and len(pending[0]):
            yield pending[0]


class Forward:
    """A traced, inference-mode forward pass: uint8 one-hot batches in, logits out."""

    def __init__(self, model, length):
        tf = import_tf()
        self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, length, 4], tf.uint8)], reduce_retracing=True)
        def fwd(x):
            return model(tf.cast(x, tf.float32), training=False)

        self.fn = fwd

    def __call__(self, batches):
        out = [self.fn(b).numpy() for b in batches]
        return np.concatenate(out) if out else np.zeros((0, self.model.output_shape[-1]), np.float32)

    def fixed(self, x, batch_size, offset=0, slots=None):
        """Logits of x [n, L, 4] in batches of exactly ``batch_size``, each row at a place fixed by its identity.

        Record ``offset + i`` of an input (``x[i]``) is scored at row ``(offset + i) % batch_size`` of a batch of
        exactly ``batch_size`` rows (padded with all-zero rows); with ``slots``, ``x[i]`` takes row
        ``slots[i] % batch_size`` instead (a stable key per record; gaps and repeats are allowed: rows that want
        the same place go to successive batches). Both matter for the last digits: CPU kernels pick their
        blocking by batch shape, and within one shape a row's logits move by an ulp with the row it takes (not
        with the other rows' values or the batch it is in). With both fixed by the record's identity, a shard or
        block of an input scores each record to the same bits as the whole input does.

        Parameters
        ----------
        x : np.ndarray, shape=(n, L, 4), uint8
        batch_size : int
        offset : int — the index of ``x[0]`` in the whole input (ignored with ``slots``).
        slots : np.ndarray of int, shape=(n,), optional — each row's stable key.

        Returns
        -------
        np.ndarray, shape=(n, T), float32
        """
        if len(x) == 0:
            return np.zeros((0, self.model.output_shape[-1]), np.float32)
        n = len(x)
        key = np.arange(n) + int(offset) if slots is None else np.asarray(slots, np.int64)
        place = key % batch_size
        # the k-th row (in input order) that wants place p goes to batch k: as few batches as the most crowded
        # place needs, and for keys offset..offset+n-1 the same batches as cutting the input every batch_size rows
        by_place = np.argsort(place, kind="stable")
        sorted_place = place[by_place]
        batch = np.empty(n, np.int64)
        batch[by_place] = np.arange(n) - np.searchsorted(sorted_place, sorted_place, side="left")
        by_batch = np.argsort(batch, kind="stable")
        bounds = np.searchsorted(batch[by_batch], np.arange(int(batch.max()) + 2))
        out = np.empty((n, self.model.output_shape[-1]), np.float32)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            sel = by_batch[lo:hi]
            b = np.zeros((batch_size,) + x.shape[1:], x.dtype)
            b[place[sel]] = x[sel]
            out[sel] = self.fn(b).numpy()[place[sel]]
        return out


def training_dataset(source, indices, targets, sample_weight, batch_size, seed, buffer_chunks, rc_augment,
                     start_epoch, epochs, replicas=None, jitter=0):
    """The training batches of epochs ``start_epoch .. epochs - 1`` as one ``tf.data.Dataset``.

    Each epoch follows :func:`epoch_order`; whole chunk groups are read at a time (from memory
    or HDF5) and cut into batches. Elements are ``(x float32 [b, L, 4], y, sample_weight [b])``;
    the uint8 → float32 cast and the random reverse complement (``rc_augment``, a pure function
    of seed and epoch) run inside the graph.

    Parameters
    ----------
    source : Source — where rows come from (in memory or streamed).
    indices : np.ndarray, shape=(n,) — the training records, ascending.
    targets : np.ndarray — per record of the file, shape=(N, 1) float (binary), (N,) int (multiclass), (N, T).
    sample_weight : np.ndarray, shape=(N,), float32
    batch_size : int — the global batch (all replicas of a step together).
    replicas : tuple of int, optional — ``(first, count, total)``: instead of whole batches, yield
        replica batches ``first .. first + count - 1`` of each global batch cut into ``total``
        consecutive slices of ``ceil(b / total)`` rows (the last ones padded with zero-weight rows,
        weights rescaled so the replicas' losses add up to the global batch's); ``None``: whole batches.
    jitter : int — j >= 1: each record is cropped to ``L`` at :func:`crop_offsets` (shifts up to ``j`` either way
        from the centre; needs ``source.full`` and ``j <= ds.jitter``), before the reverse complement; 0: the
        source's rows as they are (the centred window of a jittered file unless ``source.full``).
    """
    tf = import_tf()
    ds = source.ds
    L, bs = ds.length, int(batch_size)
    jitter = int(jitter)
    if jitter and (not source.full or jitter > ds.jitter):
        raise ValueError(f"jitter {jitter} needs a full source of a dataset stored with jitter >= {jitter} "
                         f"(this one: {ds.jitter}, full={source.full})")
    if not jitter and source.full:
        raise ValueError("a full source without jitter would feed rows of the stored width: use full=False")
    if source.in_memory and replicas is None:
        return _memory_dataset(source, indices, targets, sample_weight, bs, seed, buffer_chunks, rc_augment,
                               start_epoch, epochs, jitter)

    def batches():
        for epoch in range(start_epoch, epochs):
            order, bounds = epoch_order(indices, ds.chunk_records, buffer_chunks, seed, epoch, return_groups=True)
            flips = _epoch_plan(indices, ds.chunk_records, buffer_chunks, seed, epoch, rc_augment)[1]
            offsets = crop_offsets(order, seed, epoch, jitter, ds.jitter) if jitter else None
            pending = None
            # One read per chunk group: each chunk is read (decompressed) once per epoch.
            for start, stop in zip(bounds[:-1], bounds[1:]):
                x = source.rows(order[start:stop])
                if jitter:
                    x = crop(x, offsets[start:stop], L)  # each record's window this epoch, one gather per group
                if pending is not None:
                    x = np.concatenate([pending, x])
                base = start - (0 if pending is None else len(pending))
                # Batches may span two reads (carried as `pending`), so batch boundaries depend only on the order.
                cut = len(x) // bs * bs if stop < len(order) else len(x)
                for b in range(0, cut, bs):
                    sel = order[base + b:base + b + bs]
                    batch = x[b:b + bs], targets[sel], sample_weight[sel], flips[base + b:base + b + bs]
                    if replicas is None:
                        yield batch
                        continue
                    # Every replica gets m rows: its slice, padded with zero-weight rows when the batch does not
                    # split evenly (replica batches of one shape, as tf.distribute and Keras expect). Keras
                    # averages each replica's loss over its m rows and sums the replicas / total; weighting the
                    # rows by m * total / rows (1.0 when the batch splits evenly) makes that sum the loss of
                    # the global batch, the same as without a strategy.
                    first, count, total = replicas
                    n = len(sel)
                    m = -(-n // total)
                    scale = np.float32(m * total / n)
                    for r in range(first, first + count):
                        lo, hi = min(r * m, n), min((r + 1) * m, n)
                        part = [a[lo:hi] for a in batch]
                        part[2] = part[2] * scale
                        if hi - lo < m:
                            part = [np.concatenate([a, np.zeros((m - (hi - lo),) + a.shape[1:], a.dtype)])
                                    for a in part]
                        yield tuple(part)
                pending = x[cut:] if cut < len(x) else None

    multiclass = targets.ndim == 1
    sig = (tf.TensorSpec([None, L, 4], tf.uint8),
           tf.TensorSpec([None] if multiclass else [None, targets.shape[1]], tf.int32 if multiclass else tf.float32),
           tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.bool))

    def to_model(x, y, w, flip):
        # uint8 → float32 and the reverse complement (flip length and A C G T) happen in the graph, per batch.
        x = tf.cast(x, tf.float32)
        x = tf.where(flip[:, None, None], tf.reverse(x, axis=[1, 2]), x)
        return x, y, w

    return tf.data.Dataset.from_generator(batches, output_signature=sig).map(to_model).prefetch(4)


def _epoch_plan(indices, chunk_records, buffer_chunks, seed, epoch, rc_augment):
    """One epoch's record order (:func:`epoch_order`) and reverse-complement flags, as the generator draws them."""
    order = epoch_order(indices, chunk_records, buffer_chunks, seed, epoch)
    flips = np.random.default_rng([int(seed), int(epoch), 1]).random(len(order)) < 0.5
    return order, flips & bool(rc_augment)


def _memory_dataset(source, indices, targets, sample_weight, bs, seed, buffer_chunks, rc_augment, start_epoch,
                    epochs, jitter=0):
    """:func:`training_dataset` for a training set held in memory: the same batches, with no Python per batch.

    The streaming pipeline runs a Python generator per batch (a GIL hand-off between a ``tf.data`` thread and
    the training loop each step); here Python runs once per epoch, to draw the epoch's order and flips (the same
    function of seed and epoch as the generator, so the batches are identical by construction: the same rows, in
    the same order, cut at the same places), and the rows are gathered from one uint8 tensor inside the graph.
    With ``jitter``, each row's crop (:func:`crop_offsets`, drawn with the order) is gathered in the graph too.
    """
    tf = import_tf()
    ds = source.ds
    x = tf.constant(source.x)  # rows of source.indices (train + val), uint8: 1/4 of the float32 size
    targets_t = tf.constant(np.asarray(targets, np.int32 if targets.ndim == 1 else np.float32))
    weights_t = tf.constant(np.asarray(sample_weight, np.float32))
    window = tf.range(ds.length, dtype=tf.int64)

    def plans():
        for epoch in range(start_epoch, epochs):
            order, flips = _epoch_plan(indices, ds.chunk_records, buffer_chunks, seed, epoch, rc_augment)
            if not jitter:
                yield np.searchsorted(source.indices, order), order, flips
            else:
                yield np.searchsorted(source.indices, order), order, flips, crop_offsets(order, seed, epoch, jitter,
                                                                                       ds.jitter)

    sig = (tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.bool))
    if jitter:
        sig = sig + (tf.TensorSpec([None], tf.int64),)

    def batch(rows, records, flip, offset=None):
        xb = tf.gather(x, rows)
        if offset is not None:
            # the crop before the reverse complement, on uint8: positions offset .. offset + L - 1 of each row
            xb = tf.gather(xb, offset[:, None] + window[None, :], batch_dims=1)
        xb = tf.cast(xb, tf.float32)
        xb = tf.where(flip[:, None, None], tf.reverse(xb, axis=[1, 2]), xb)
        return xb, tf.gather(targets_t, records), tf.gather(weights_t, records)

    # Each epoch is batched on its own (its last batch may be short), as the generator cuts it.
    epochs_ds = tf.data.Dataset.from_generator(plans, output_signature=sig)
    return (epochs_ds.flat_map(lambda *p: tf.data.Dataset.from_tensor_slices(p).batch(bs))
            .map(batch).prefetch(2))
