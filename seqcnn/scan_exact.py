"""Exact logits of every window of a genome slab, the first layer computed once per slab.

The obvious way to score windows ``slab[w:w + L]`` at many starts ``w`` is to cut each and run the model
(:func:`cut_logits`): a whole window of work per start. Overlapping windows share almost all of their
first-layer activations, so :class:`WindowScorer` computes them once per slab and finishes each window from
them (the idea exact ISM uses with its reference pass, :mod:`seqcnn.exact_ism`). Paths (``method``):

- ``global``: input → valid stride-1 Conv1D → element-wise layers (batch norm, activations, dropout) →
  GlobalMaxPooling1D and/or GlobalAveragePooling1D → anything (DeepBind, Zeng ``pooling='global'``). The
  convolution and its element-wise followers run once over the slab (A [S - K + 1, F]); each window's global
  max and mean over ``A[w:w + P]`` (P = L - K + 1) come from van Herk / Gil-Werman blocks of P positions: the
  window is a suffix of one block and a prefix of the next, so the running maxima (and float64 running sums)
  of those two blocks answer every start in the block, O(1) per position and start. Only the small head (a
  Keras model from the pooling outputs to the logits) runs per window.
- ``local``: input → valid Conv1D → element-wise → MaxPooling1D(p, stride q, 'valid') → anything (primer,
  Zeng ``pooling='local'``). The sliding maximum of width p is computed once over the slab; window ``w``'s
  pooled rows are its values at ``w + j·q`` (j < J), gathered, and the head from the pooling output runs
  per window (its Flatten → Dense is the only per-window arithmetic).
- ``chain``: deeper stacks (Basset-like), :func:`seqcnn.scan_chain.plan` (a separate module; unsupported
  while it is absent or declines the model).
- ``batched``: anything else (unknown first layers, a 'same' first convolution, several inputs):
  :func:`cut_logits` on the model itself.

All paths are exact up to float32 round-off: the same convolution of the same bases, a max is a max, the
mean is a float64 sum divided by P. A window never reads the genome outside itself: windows are cut from
the slab, and a convolution's padding inside the window (the 'same' layers of a chain) stays padding.

A strand-averaged model (:func:`seqcnn.models.strand_average`) runs the path of its single-strand model on
the slab and on the slab's reverse complement (mirrored starts ``S - w - L``) and averages the logits as its
``Average`` layer does. A replicate ensemble (:func:`seqcnn.models.replicate_average`) is the mean of its
members' scorers, each on its own path. Memory is bounded whatever the slab: starts are processed in chunks
covering at most :data:`SPAN` slab positions, and the head runs in sub-batches of at most :data:`HEAD_BUDGET`
features.

Provides :class:`WindowScorer`, :func:`cut_logits`, :func:`scan_method` and :data:`METHODS`.
"""

import threading

import numpy as np

from ._tf import import_keras, import_tf
from .errors import ModelMismatchError, SeqcnnError
from .graph import consumers, first_conv, inbound_layers
from .ism_numba import _aligned_empty, _as_tensor
from .ism_stack import _elementwise_ok
from .models import ensemble_members, strand_inner

METHODS = ("auto", "global", "local", "chain", "batched")

# Slab positions per chunk: the chunk's activations A [SPAN, F] (32 MB at 128 filters) and the pooling
# kernel's per-thread blocks stay small; each chunk recomputes the L - 1 positions it shares with the next
# (0.3 % at L = 200).
SPAN = 1 << 16
# Floats of head input per head call (16 MB): a local-pooling head reads J·F features per window. DeepBind's
# head took 71 ms of CPU per 65,536 windows in calls of 16,384 windows, 89 ms in calls of 4,096, 173 ms in
# calls of 1,024 (XLA: 63 ms, but it compiles every new call size anew).
HEAD_BUDGET = 1 << 22
# Convolution outputs per row of the batch the first layer runs on.
ROW = 4096

_prange = range
_NUMBA = {}


def _global_pool_py(A, starts, bounds, P, do_avg, omax, oavg):  # pragma: no cover - compiled by numba
    """Max (and mean) of ``A[s:s + P]`` for every start ``s``: van Herk / Gil-Werman blocks of P rows.

    A [T, F] float32; starts [n] ascending with s + P <= T; bounds [nb + 1]: the starts in block b
    (rows bP .. bP + P - 1) are ``starts[bounds[b]:bounds[b + 1]]``. With u = s - bP the window is rows u..P-1
    of block b (``hs[u]``: suffix max) and rows 0..u-1 of block b + 1 (``gx[u]``: exclusive prefix max).
    omax [n, F] float32, oavg [n, F] float32 (mean from float64 sums; written when ``do_avg``).
    """
    F = A.shape[1]
    nb = len(bounds) - 1
    for b in _prange(nb):
        i0 = bounds[b]
        i1 = bounds[b + 1]
        if i0 == i1:
            continue
        base = b * P
        umin = starts[i0] - base
        umax = starts[i1 - 1] - base
        hs = np.empty((P, F), np.float32)
        gx = np.empty((P, F), np.float32)
        for f in range(F):
            hs[P - 1, f] = A[base + P - 1, f]
            gx[0, f] = -np.inf
        for u in range(P - 2, umin - 1, -1):
            for f in range(F):
                v = A[base + u, f]
                w = hs[u + 1, f]
                hs[u, f] = v if v > w else w
        for u in range(1, umax + 1):
            for f in range(F):
                v = A[base + P + u - 1, f]
                w = gx[u - 1, f]
                gx[u, f] = v if v > w else w
        for i in range(i0, i1):
            u = starts[i] - base
            for f in range(F):
                v = hs[u, f]
                w = gx[u, f]
                omax[i, f] = v if v > w else w
        if do_avg:
            hsum = np.empty((P, F), np.float64)
            gsum = np.empty((P, F), np.float64)
            for f in range(F):
                hsum[P - 1, f] = A[base + P - 1, f]
                gsum[0, f] = 0.0
            for u in range(P - 2, umin - 1, -1):
                for f in range(F):
                    hsum[u, f] = hsum[u + 1, f] + A[base + u, f]
            for u in range(1, umax + 1):
                for f in range(F):
                    gsum[u, f] = gsum[u - 1, f] + A[base + P + u - 1, f]
            for i in range(i0, i1):
                u = starts[i] - base
                for f in range(F):
                    oavg[i, f] = np.float32((hsum[u, f] + gsum[u, f]) / P)


def _pool_kernel():
    """The numba-compiled :func:`_global_pool_py` (compiled on first use, cached on disk)."""
    global _prange
    if "pool" not in _NUMBA:
        import numba

        _prange = numba.prange
        _NUMBA["pool"] = numba.njit(parallel=True, cache=True, nogil=True)(_global_pool_py)
    return _NUMBA["pool"]


def _window_pool(A, starts, P, omax, oavg=None):
    """Sliding max (and mean) of width P of ``A`` [T, F] at ``starts`` [n], written to ``omax`` (``oavg``) [n, F].

    ``omax`` and ``oavg`` may be column blocks of one feature array (the head's input, no concatenation).
    """
    n = len(starts)
    starts = np.ascontiguousarray(starts, np.int64)
    nb = (int(starts[-1]) // P + 1) if n else 0
    bounds = np.searchsorted(starts, np.arange(nb + 1, dtype=np.int64) * P).astype(np.int64)
    if n:
        _pool_kernel()(np.ascontiguousarray(A, np.float32), starts, bounds, int(P), oavg is not None, omax,
                       omax if oavg is None else oavg)


def _check(slab, starts, L):
    """Validated ``slab`` (uint8/float [S, 4]) and ``starts`` (int64 [n], ascending, windows inside the slab)."""
    slab = np.asarray(slab)
    if slab.ndim != 2 or slab.shape[1] != 4:
        raise SeqcnnError(f"expected a one-hot slab of shape (S, 4), got {slab.shape}",
                          hint="encode the genome with seqcnn.genome_encode / seqcnn.encoding.one_hot")
    starts = np.asarray(starts)
    if starts.ndim != 1 or (starts.size and not np.issubdtype(starts.dtype, np.integer)):
        raise SeqcnnError(f"window starts must be a 1-D integer array, got {starts.dtype} {starts.shape}")
    starts = starts.astype(np.int64)
    if starts.size:
        if starts[0] < 0 or starts[-1] + L > len(slab):
            raise SeqcnnError(f"window starts must lie in 0..{len(slab) - L} for {L} bp windows of a "
                              f"{len(slab)} bp slab, got {starts.min()}..{starts.max()}")
        if np.any(np.diff(starts) < 0):
            raise SeqcnnError("window starts must be in ascending order", hint="sort them (np.sort)")
    return slab, starts


def _model_shape(model):
    """(L, T) of a one-input, one-output model with input (L, 4)."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelMismatchError("scanning needs a model with one one-hot input and one output")
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 2 or shape[1] != 4 or shape[0] is None:
        raise ModelMismatchError(f"scanning needs a model of fixed-length one-hot input (L, 4), not {shape}")
    return int(shape[0]), int(model.outputs[0].shape[-1])


_FORWARD = {}


def _forward(model):
    """The model's compiled inference function on float32 [n, L, 4] (cached per model)."""
    hit = _FORWARD.get(id(model))
    if hit is None or hit[0] is not model:
        tf = import_tf()
        L = int(model.inputs[0].shape[1])
        fn = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, L, 4], tf.float32)])
        hit = _FORWARD[id(model)] = (model, fn)
    return hit[1]


def cut_logits(model, slab, starts, batch_size=256):
    """Logits of windows cut from a slab, by running the model on each: the obvious method (and the test oracle).

    Parameters
    ----------
    model : keras.Model — input shape=(batch, L, 4), logits shape=(batch, T).
    slab : np.ndarray, shape=(S, 4) — one-hot (uint8); N = all-zero rows.
    starts : np.ndarray of int, shape=(n,) — window starts, ascending, ``0 <= start <= S - L``.
    batch_size : int — windows per model call.

    Returns
    -------
    np.ndarray, float32, shape=(n, T) — the logits of ``slab[start:start + L]`` for each start.
    """
    L, T = _model_shape(model)
    slab, starts = _check(slab, starts, L)
    out = np.empty((len(starts), T), np.float32)
    if not len(starts):
        return out
    windows = np.lib.stride_tricks.sliding_window_view(slab, L, axis=0)   # [S - L + 1, 4, L], a view
    fwd = _forward(model)
    for i in range(0, len(starts), int(batch_size)):
        x = np.ascontiguousarray(windows[starts[i:i + batch_size]].transpose(0, 2, 1), np.float32)
        out[i:i + batch_size] = fwd(x).numpy()
    return out


def _plan(model):
    """The fast path for a single-strand model: dict with ``method`` ('global', 'local') and its parts, or None."""
    keras = import_keras()
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    conv = first_conv(model)
    if conv is None:
        return None
    L = int(model.inputs[0].shape[1])
    K = int(conv.kernel_size[0])
    chain, last = [conv], conv
    while True:
        users = consumers(model, last)
        if len(users) == 1 and len(inbound_layers(users[0])) == 1 and _elementwise_ok(users[0]):
            last = users[0]
            chain.append(last)
        else:
            break
    base = {"L": L, "K": K, "P": L - K + 1, "F": int(conv.filters), "chain": chain}
    if not users:
        return None
    gpools = (keras.layers.GlobalMaxPooling1D, keras.layers.GlobalAveragePooling1D)
    if all(isinstance(u, gpools) and getattr(u, "data_format", "channels_last") == "channels_last"
           and not getattr(u, "keepdims", False) for u in users):
        kinds = ["max" if isinstance(u, keras.layers.GlobalMaxPooling1D) else "avg" for u in users]
        nxt = [consumers(model, u) for u in users]
        if (len(users) == 2 and set(kinds) == {"max", "avg"} and all(len(c) == 1 for c in nxt)
                and nxt[0][0] is nxt[1][0] and isinstance(nxt[0][0], keras.layers.Concatenate)
                and nxt[0][0].axis in (-1, 1) and len(inbound_layers(nxt[0][0])) == 2):
            # DeepBind's max + average into one Concatenate: the pooling writes the concatenated features.
            cat = nxt[0][0]
            kinds = ["max" if src is users[kinds.index("max")] else "avg" for src in inbound_layers(cat)]
            return {**base, "method": "global", "kinds": kinds, "joined": True,
                    "head": keras.Model(cat.output, model.outputs[0])}
        head = keras.Model([u.output for u in users], model.outputs[0])
        return {**base, "method": "global", "kinds": kinds, "joined": False, "head": head}
    if len(users) == 1 and isinstance(users[0], keras.layers.MaxPooling1D):
        pool = users[0]
        p = int(pool.pool_size[0])
        q = int(pool.strides[0]) if pool.strides is not None else p
        if pool.padding == "valid" and pool.data_format == "channels_last" and base["P"] >= p:
            J = (base["P"] - p) // q + 1
            head = keras.Model(pool.output, model.outputs[0])
            return {**base, "method": "local", "p": p, "q": q, "J": J, "head": head}
    return None


def _chain_plan(model):
    """``seqcnn.scan_chain.plan(model)`` (a ChainScorer), or None where that module is absent or declines."""
    try:
        from . import scan_chain
    except ImportError:
        return None
    return scan_chain.plan(model)


def _pack(starts, L, span):
    """Chunks of windows whose slab pieces, packed end to end, cover at most ``span`` positions.

    Windows closer than L share positions and stay on one contiguous piece; a gap of L or more starts a new
    piece right after the previous window (the positions between are never computed).

    Returns
    -------
    packed : int64 [n] — each window's start in the packed coordinates (within a piece, packed and slab
        coordinates differ by a constant).
    chunks : list of (i0, i1) — window index ranges, each needing ``packed[i1 - 1] + L - packed[i0] <= span``
        positions (or one window).
    """
    n = len(starts)
    if not n:
        return np.zeros(0, np.int64), []
    packed = np.concatenate([[0], np.cumsum(np.minimum(np.diff(starts), L))]).astype(np.int64)
    chunks = []
    i = 0
    while i < n:
        j = max(int(np.searchsorted(packed, packed[i] + span - L, side="right")), i + 1)
        chunks.append((i, j))
        i = j
    return packed, chunks


def _chunk_input(slab, starts, packed, i0, i1, L):
    """The packed slab positions of windows i0..i1 as float32 [m, 4] and the windows' local starts [i1 - i0]."""
    st, pk = starts[i0:i1], packed[i0:i1]
    local = pk - pk[0]
    m = int(local[-1]) + L
    if st[-1] - st[0] == local[-1]:
        # One contiguous piece (every scan at a stride below L): a slice.
        return np.asarray(slab[st[0]:st[0] + m], np.float32), local
    # Position t of the packed chunk belongs to the last window starting at or before it.
    t = np.arange(m, dtype=np.int64)
    k = np.searchsorted(local, t, side="right") - 1
    return np.asarray(slab[st[k] + (t - local[k])], np.float32), local


class _FastPath:
    """The compiled parts of the 'global' or 'local' path for one single-strand model."""

    def __init__(self, model, plan):
        tf = import_tf()
        self.model, self.plan = model, plan
        self.method = plan["method"]
        self.L, self.T = _model_shape(model)
        chain, head = plan["chain"], plan["head"]

        K, F = plan["K"], plan["F"]

        def acts(x):
            # Rows of ROW outputs (overlapping by K - 1 inputs) make a batch: oneDNN ran the convolution of
            # one 65 kbp sequence 2x slower than the same positions as 16 rows of 4 kbp.
            n_out = tf.shape(x)[0] - K + 1
            row = tf.minimum(ROW, n_out)
            n_rows = (n_out + row - 1) // row
            xp = tf.pad(x, [[0, n_rows * row + K - 1 - tf.shape(x)[0]], [0, 0]])
            z = tf.signal.frame(xp, row + K - 1, row, axis=0)              # [n_rows, row + K - 1, 4]
            for layer in chain:
                z = layer(z, training=False)
            return tf.reshape(z, [-1, F])[:n_out]

        # The convolution as an ordinary TF op (oneDNN); the pooling is the numba kernel.
        self.acts = tf.function(acts, input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        if self.method == "global":
            F = plan["F"]
            if plan["joined"]:
                self.head = tf.function(lambda f: head(f, training=False),
                                        input_signature=[tf.TensorSpec([None, 2 * F], tf.float32)])
            else:
                spec = [tf.TensorSpec([None, F], tf.float32) for _ in plan["kinds"]]
                self.head = tf.function(lambda *f: head(list(f) if len(f) > 1 else f[0], training=False),
                                        input_signature=spec)
            self.per_window = F * len(plan["kinds"])
        else:
            J, F = plan["J"], plan["F"]
            self.head = tf.function(lambda f: head(f, training=False),
                                    input_signature=[tf.TensorSpec([None, J, F], tf.float32)])
            self.per_window = J * F

        self._buf = None
        self._lock = threading.Lock()

    def logits(self, slab, starts):
        """Logits [n, T] of the windows at ``starts`` (validated, ascending) of ``slab`` [S, 4]."""
        # The head's input buffer is kept between chunks and calls (fresh pages cost time) and 64-byte
        # aligned, so TF takes it without a copy; a concurrent call gets its own.
        mine = self._lock.acquire(blocking=False)
        try:
            return self._logits(slab, starts, mine)
        finally:
            if mine:
                self._lock.release()

    def _buffer(self, size, mine):
        """A float32 buffer of at least ``size`` elements, 64-byte aligned (reused when ``mine``)."""
        if not mine:
            return _aligned_empty((size,))
        if self._buf is None or len(self._buf) < size:
            self._buf = None
            self._buf = _aligned_empty((size,))
        return self._buf

    def _logits(self, slab, starts, mine):
        tf = import_tf()
        plan, L = self.plan, self.L
        out = np.empty((len(starts), self.T), np.float32)
        packed, chunks = _pack(starts, L, SPAN)
        # Sub-batches of a multiple of 16 windows keep every slice of the buffer 64-byte aligned.
        sub = max(16, HEAD_BUDGET // self.per_window // 16 * 16)
        for i0, i1 in chunks:
            x, local = _chunk_input(slab, starts, packed, i0, i1, L)
            A = self.acts(x).numpy()                                    # [m - K + 1, F]
            if self.method == "global":
                kinds, F, n = plan["kinds"], plan["F"], i1 - i0
                feats = self._buffer(n * F * len(kinds), mine)[:n * F * len(kinds)].reshape(n, -1)   # side by side
                cols = {k: feats[:, j * F:(j + 1) * F] for j, k in enumerate(kinds)}
                _window_pool(A, local, plan["P"], cols["max"] if "max" in cols else np.empty((n, F), np.float32),
                             cols.get("avg"))
                for s in range(0, n, sub):
                    e = min(s + sub, n)
                    if plan["joined"]:
                        out[i0 + s:i0 + e] = self.head(_as_tensor(tf, feats[s:e])).numpy()
                    else:
                        out[i0 + s:i0 + e] = self.head(*[cols[k][s:e] for k in kinds]).numpy()
            else:
                p, q, J = plan["p"], plan["q"], plan["J"]
                # M[t] = max(A[t:t + p]) at every position a window's pool can start (van Herk, width p).
                M = np.empty((len(A) - p + 1, A.shape[1]), np.float32)
                _window_pool(A, np.arange(len(M), dtype=np.int64), p, M)
                offs = q * np.arange(J, dtype=np.int64)
                buf = self._buffer(min(sub, i1 - i0) * J * M.shape[1], mine)
                for s in range(0, i1 - i0, sub):
                    e = min(s + sub, i1 - i0)
                    rows = local[s:e, None] + offs[None, :]             # [b, J]: window w's pool j is M[w + jq]
                    pooled = buf[:rows.size * M.shape[1]].reshape(e - s, J, M.shape[1])
                    np.take(M, rows, axis=0, out=pooled)
                    out[i0 + s:i0 + e] = self.head(_as_tensor(tf, pooled)).numpy()
        return out


class _ChainPath:
    """The 'chain' path: a :mod:`seqcnn.scan_chain` scorer of a single-strand model."""

    method = "chain"

    def __init__(self, model, scorer):
        self.model, self.scorer = model, scorer

    def logits(self, slab, starts):
        return np.asarray(self.scorer.logits(slab, starts), np.float32)


class _BatchedPath:
    """The 'batched' path: :func:`cut_logits` on the model."""

    method = "batched"

    def __init__(self, model):
        self.model = model

    def logits(self, slab, starts):
        return cut_logits(self.model, slab, starts)


_CACHE = {}


def _path(model, method):
    """The path object of a single-strand ``model`` for ``method`` (built once per model, then cached)."""
    if method not in METHODS:
        raise SeqcnnError(f"unknown scan method {method!r}", hint=f"use one of {', '.join(METHODS)}")
    key = (id(model), method)
    hit = _CACHE.get(key)
    if hit is not None and hit.model is model:
        return hit
    path = None
    if method in ("auto", "global", "local"):
        plan = _plan(model)
        if plan is not None and method in ("auto", plan["method"]):
            path = _FastPath(model, plan)
    if path is None and method in ("auto", "chain"):
        scorer = _chain_plan(model)
        if scorer is not None:
            path = _ChainPath(model, scorer)
    if path is None and method in ("auto", "batched"):
        path = _BatchedPath(model)
    if path is None:
        raise SeqcnnError(f"scan method {method!r} does not apply to this model (it supports "
                          f"{scan_method(model)!r})", hint="use method='auto'")
    _CACHE[key] = path
    return path


def scan_method(model):
    """Name of the path :class:`WindowScorer` takes for ``model`` with ``method='auto'`` (an ensemble: its members')."""
    members = ensemble_members(model)
    if members is not None:
        return "+".join(dict.fromkeys(scan_method(m) for m in members))
    return _path(strand_inner(model) or model, "auto").method


class WindowScorer:
    """Exact logits of many windows of one genome slab, the first layer computed once per slab.

    Parameters
    ----------
    model : keras.Model — input shape=(batch, L, 4), logits shape=(batch, T); a strand-averaged model
        (:func:`seqcnn.models.strand_average`) is scored as the mean of its single-strand model on both strands,
        a replicate ensemble (:func:`seqcnn.models.replicate_average`) as the mean of its members' scorers.
    method : {'auto', 'global', 'local', 'chain', 'batched'} — 'auto' takes the first that applies, in this
        order; a named method that does not apply raises :class:`SeqcnnError`.

    Attributes
    ----------
    method : str — the path that runs (an ensemble: its members', distinct ones joined by '+').
    length : int — the window length L.
    n_outputs : int — T.
    """

    def __init__(self, model, method="auto"):
        self.model = model
        self.length, self.n_outputs = _model_shape(model)
        self.inner = strand_inner(model)
        if method not in METHODS:
            raise SeqcnnError(f"unknown scan method {method!r}", hint=f"use one of {', '.join(METHODS)}")
        members = ensemble_members(model)
        self._members = None
        if members is not None:
            # each member on its own fast path; the ensemble's Average is their mean
            self._members = [WindowScorer(m, method) for m in members]
            self.method = "+".join(dict.fromkeys(s.method for s in self._members))
            return
        core = self.inner if self.inner is not None else model
        path = _path(core, method)
        if path.method == "batched":
            # Cutting windows runs the model as saved, strand average included.
            path = _path(model, "batched")
        self._path = path
        self.method = path.method

    def logits(self, slab, starts):
        """Logits of the windows ``slab[s:s + L]`` for each start ``s``.

        Parameters
        ----------
        slab : np.ndarray, uint8, shape=(S, 4) — one-hot; N and other non-ACGT bases are all-zero rows.
        starts : np.ndarray of int, shape=(n,) — ascending, ``0 <= s <= S - L``.

        Returns
        -------
        np.ndarray, float32, shape=(n, T) — equal to :func:`cut_logits` within float32 round-off.
        """
        L = self.length
        slab, starts = _check(slab, starts, L)
        if self._members is not None:
            out = self._members[0].logits(slab, starts)
            for scorer in self._members[1:]:
                out = out + scorer.logits(slab, starts)
            return out / np.float32(len(self._members))    # keras Average: the sum in member order, divided by K
        fwd = self._path.logits(slab, starts)
        if self.inner is None or self.method == "batched":
            return fwd
        # The wrapper's f(rc x): window [s, s + L) of the slab is window [S - s - L, S - s) of its reverse
        # complement; mirrored starts descend, so they run reversed and the rows are turned back.
        rc = np.ascontiguousarray(slab[::-1, ::-1])
        rev = self._path.logits(rc, (len(slab) - L - starts)[::-1].copy())[::-1]
        return (fwd + rev) / np.float32(2)      # keras Average: the sum over the two inputs, divided by 2
