"""The numba window loop of exact ISM for a relu convolution followed by global max (+ average) pooling.

XLA's fused loops over [n, L, 4, F] (running max, running sum) measured ~2x slower than this
loop for max + average (1.3-1.6x for max only), which keeps one base's [F] accumulators in L1
and skips the reference base (3 of 4 rows). Provides :func:`relu_window` (the compiled kernel,
or ``None`` without numba) and :func:`relu_window_step` (one ISM batch through it, the dense
head run by TensorFlow). Compiled on first use (``numba.njit(cache=True)``:
``NUMBA_CACHE_DIR`` is honoured); ``_prange`` becomes ``numba.prange`` then.
"""

import threading

import numpy as np

from ._tf import import_tf


# numba.prange once the kernel is compiled (plain range keeps _relu_window_py runnable as Python).
_prange = range
_OTHER_BASES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2], [0, 1, 2]], np.int32)  # a = 4: N row
_NUMBA_FNS = {}


def _relu_window_py(W5, bias, a, D, mo, ao, out, extra, nrow, refmax, refavg):  # pragma: no cover - compiled
    """Features of every substitution for relu activations (numba-compiled; see :func:`relu_window`).

    W5 [K, 5, F] the kernel with a zero row for N; bias [F]; a [n, L] base index (4 = N); D [K, 5, 4, F] weight changes;
    out [n, L, 3, G] the three non-reference substitutions (other = _OTHER_BASES[a]); extra [m, G]:
    an N row's fourth substitution (T) at row nrow[n, i]; refmax / refavg [n, F]: reference features.
    Features: max at [mo, mo + F), average at [ao, ao + F); ao < 0: global max pooling only (G = F).
    """
    K, _, F = W5.shape
    n, L = a.shape
    P = L - K + 1
    zero = np.float32(0)
    Pf = np.float32(P)
    for s in _prange(n):
        # The convolution of a one-hot sequence: the bias plus one kernel row per window position.
        Zs = np.empty((P, F), np.float32)
        for p in range(P):
            zr = Zs[p]
            for f in range(F):
                zr[f] = bias[f]
            for k in range(K):
                wr = W5[k, a[s, p + k]]
                for f in range(F):
                    zr[f] += wr[f]
        A = np.empty((P, F), np.float32)
        pre = np.empty((P + 1, F), np.float32)      # pre[j] = max over p < j of A[p]
        suf = np.empty((P + 1, F), np.float32)      # suf[j] = max over p >= j
        mean64 = np.zeros(F, np.float64)
        amean = np.empty(F, np.float32)
        mx = np.empty(F, np.float32)
        sm = np.empty(F, np.float32)
        rs = np.empty(F, np.float32)
        ot = np.empty(F, np.float32)
        for p in range(P):
            zr = Zs[p]
            ar = A[p]
            for f in range(F):
                v = zr[f]
                ar[f] = v if v > zero else zero
        for f in range(F):
            pre[0, f] = -np.inf
            suf[P, f] = -np.inf
        for p in range(P):
            r0 = pre[p]
            r1 = pre[p + 1]
            ar = A[p]
            for f in range(F):
                u = ar[f]
                w = r0[f]
                r1[f] = u if u > w else w
                mean64[f] += u
        for p in range(P - 1, -1, -1):
            r0 = suf[p + 1]
            r1 = suf[p]
            ar = A[p]
            for f in range(F):
                u = ar[f]
                w = r0[f]
                r1[f] = u if u > w else w
        for f in range(F):
            amean[f] = np.float32(mean64[f] / P)
            refmax[s, f] = pre[P, f]
            refavg[s, f] = amean[f]
        for i in range(L):
            ai = a[s, i]
            lo = max(i - K + 1, 0)      # conv positions lo <= p < hi see position i
            hi = min(i + 1, P)
            pl = pre[lo]
            sh = suf[hi]
            for f in range(F):
                u = pl[f]
                w = sh[f]
                ot[f] = u if u > w else w
                rs[f] = zero
            for p in range(lo, hi):
                ar = A[p]
                for f in range(F):
                    rs[f] += ar[f]
            nb = 4 if ai == 4 else 3
            for q in range(nb):
                if q < 3:
                    bq = q + 1 if (ai != 4 and q >= ai) else q
                    o = out[s, i, q]
                else:
                    bq = 3
                    o = extra[nrow[s, i]]
                for f in range(F):
                    mx[f] = -np.inf
                    sm[f] = zero
                for p in range(lo, hi):
                    zr = Zs[p]
                    dr = D[i - p, ai, bq]
                    if ao >= 0:
                        for f in range(F):
                            v = zr[f] + dr[f]
                            u = mx[f]
                            mx[f] = v if v > u else u
                            sm[f] += v if v > zero else zero
                    else:
                        for f in range(F):
                            v = zr[f] + dr[f]
                            u = mx[f]
                            mx[f] = v if v > u else u
                for f in range(F):
                    u = mx[f]
                    u = u if u > zero else zero
                    w = ot[f]
                    o[mo + f] = u if u > w else w
                if ao >= 0:
                    for f in range(F):
                        o[ao + f] = amean[f] + (sm[f] - rs[f]) / Pf


def _aligned_empty(shape, align=64):
    """An uninitialised float32 array whose data starts on an ``align``-byte boundary."""
    nbytes = int(np.prod(shape)) * 4
    raw = np.empty(nbytes + align, np.uint8)
    off = -raw.ctypes.data % align
    return raw[off:off + nbytes].view(np.float32).reshape(shape)


def _as_tensor(tf, arr):
    """A TF tensor sharing ``arr``'s memory (DLPack; a copy where that is unavailable)."""
    try:
        return tf.experimental.dlpack.from_dlpack(arr.__dlpack__())
    except Exception:  # pragma: no cover - older TF / numpy
        return tf.convert_to_tensor(arr)


def relu_window():
    """The compiled :func:`_relu_window_py`, or None where numba is unavailable."""
    global _prange
    if "relu" not in _NUMBA_FNS:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is a dependency
            _NUMBA_FNS["relu"] = None
        else:
            _prange = numba.prange
            _NUMBA_FNS["relu"] = numba.njit(parallel=True, cache=True, fastmath=False, nogil=True)(_relu_window_py)
    return _NUMBA_FNS["relu"]


def relu_window_step(kernel, W, b, head, Dk, order, L, T):
    """The ISM batch function of the numba path: x [n, L, 4] → (delta [n, L, 4, T], ref [n, T]).

    Parameters
    ----------
    kernel : the compiled :func:`relu_window`.
    W, b : tf.Tensor — the first convolution's kernel [K, 4, F] and bias [F].
    head : keras.Model — from the pooled features (max, or max and average in ``order``) to the logits.
    Dk : tf.Tensor, shape=(K, 5, 4, F) — weight changes ``W[k, b] - W[k, a]`` (a = 4: an N row).
    order : list of {'max', 'avg'} — the order of the pooled features in the head's input.
    L, T : int — input length and number of outputs.
    """
    tf = import_tf()
    K, _, F = W.shape
    W5 = np.ascontiguousarray(np.concatenate([W.numpy(), np.zeros((K, 1, F))], 1), np.float32)  # row 4: N
    bias = np.ascontiguousarray(b.numpy(), np.float32)
    D = np.ascontiguousarray(Dk.numpy(), np.float32)
    G = F * len(order)                  # head input: the max features (+ the average ones)
    mo = 0 if order[0] == "max" else F
    ao = -1 if len(order) == 1 else (F if order[0] == "max" else 0)
    head_f = tf.function(lambda g: head(g, training=False), input_signature=[tf.TensorSpec([None, G],
                                                                                             tf.float32)])

    bufs = {}
    lock = threading.Lock()

    def step(x):
        n = len(x)
        # The [n, L, 3, 2F] feature buffer is kept between calls (fresh pages cost ~25% here) and
        # 64-byte aligned, so TF takes it without a copy. A concurrent call gets its own.
        mine = lock.acquire(blocking=False)
        try:
            out = bufs.get(n) if mine else None
            if out is None:
                out = _aligned_empty((n, L, 3, G))
                if mine:
                    bufs.clear()
                    bufs[n] = out
            return _step(x, out)
        finally:
            if mine:
                lock.release()

    def _step(x, out):
        n = len(x)
        a = np.where(x.sum(-1) > 0, x.argmax(-1), 4).astype(np.int32)           # [n, L], 4 at an N row
        is_n = a == 4
        nrow = np.where(is_n, np.cumsum(is_n).reshape(n, L) - 1, 0).astype(np.int32)
        m = int(is_n.sum())
        extra = np.empty((max(m, 1), G), np.float32)
        refmax = np.empty((n, F), np.float32)
        refavg = np.empty((n, F), np.float32)
        kernel(W5, bias, a, D, mo, ao, out, extra, nrow, refmax, refavg)
        ref_feats = (refmax if ao < 0 else
                     np.concatenate([refmax, refavg] if mo == 0 else [refavg, refmax], -1))
        ref = head_f(ref_feats).numpy()                                          # [n, T]
        # DLPack hands TF the buffer without a copy (tf.constant copies numpy arrays, ~20% here).
        d3 = head_f(_as_tensor(tf, out.reshape(n * L * 3, G))).numpy().reshape(n, L, 3, T)
        d3 -= ref[:, None, None]
        delta = np.zeros((n, L, 4, T), np.float32)
        np.put_along_axis(delta, _OTHER_BASES[a][..., None], d3, axis=2)
        if m:
            sn, si = np.nonzero(is_n)                                            # row order = nrow
            delta[sn, si, 3] = head_f(extra[:m]).numpy() - ref[sn]
        return delta, ref

    return step
