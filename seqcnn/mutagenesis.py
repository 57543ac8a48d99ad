"""In-silico mutagenesis (ISM): exact, batched and fast; saliency summaries; the ISM HDF5 file.

Definition (logit space, one model output ``t``)::

    delta[n, i, b, t] = f_t(x_n with position i set to base b) - f_t(x_n)

zero at the reference base. ``f`` is the model's logit (models from ``seqcnn.models``
output logits). Summaries: per-position ``importance[n, i] = -mean_b delta[n, i, b]``
over the alternative bases (three for an A/C/G/T position, four for an ``N`` row), and
the reference attribution ``attribution[n, i, b] = x[n, i, b] * importance[n, i]``
(the letter heights of an importance logo).

Why it is fast. A substitution at position ``i`` changes the first (valid, undilated)
convolution only at the ``kernel_size`` output positions whose window covers ``i``.
So the first layer is never re-run: its change is ``W[i - p, b] - W[i - p] · x_i`` on
that window. What follows is propagated as far as the architecture allows:

- ``global``: conv → global max (+ global average) → anything. The new global max is
  ``max(max over the window's new activations, max of the untouched positions)``, the
  latter from prefix/suffix maxima of the reference activations; the average moves by
  the window's change / P. Only the small dense head runs per mutant. With a relu convolution
  (DeepBind, Zeng) the window loop is a numba kernel (the three non-reference bases only);
  other activations run it as one XLA program.
- ``local``: conv → MaxPool1D(s, stride s) → Flatten → Dense → anything. A mutation
  changes at most ``(K - 1) // s + 2`` pooled outputs, so the Dense layer's
  pre-activation changes by ``W1 · Δ`` over those few features.
- ``naive`` (batched full forward passes): anything else (e.g. Basset's BatchNorm and
  deeper convolutions) and any Keras model with a one-hot input: the 3·L mutants of a group
  of sequences are built inside one compiled function and run through the whole model in
  equal memory-budgeted slices, returning delta directly (an ``N`` row's fourth
  substitution, to A, runs apart).
- ``window`` (on request only): the mutants' first-layer outputs are built from the
  reference output plus the window change and only the rest of the network runs; measured
  slower than ``naive`` on Basset, so ``auto`` does not pick it.

All paths are exact (float32 round-off, ~1e-6 on logits); the tests compare each with
a plainly written naive ISM on every factory architecture.
"""

import json
import os
import tempfile
import threading

import numpy as np

from ._version import __version__
from .errors import InputFormatError, ModelMismatchError, SeqcnnError
from .store import utc_now

METHODS = ("auto", "global", "local", "window", "naive")
DEFINITION = ("delta[n, i, b] = f(x_n with position i set to base b) - f(x_n), f = the model's logit for the "
              "output; 0 at the reference base. importance[n, i] = -mean of delta over the alternative bases; "
              "attribution[n, i, b] = x[n, i, b] * importance[n, i]")
ISM_FORMAT = "seqcnn-ism"
# Elements of the largest intermediate tensor per batch (float32: 4 bytes each). 2**24 keeps each
# batch's working set near 64-200 MB while leaving batches large enough to amortise call overhead.
_BUDGET = 1 << 24


def _tf():
    from ._tf import import_tf

    return import_tf()


def _keras():
    from ._tf import import_keras

    return import_keras()


# ----------------------------------------------------------------------------------------------------------------
# model analysis: which exact shortcut applies


def _inbound_layers(layer):
    """Layers feeding ``layer`` (its first call), in input order."""
    node = layer._inbound_nodes[0]
    return [t._keras_history.operation for t in node.input_tensors]


def _consumers(model, layer):
    return [other for other in model.layers if other is not layer and other._inbound_nodes
            and any(src is layer for src in _inbound_layers(other))]


def first_conv(model):
    """The model's first layer if it is a Conv1D usable for window arithmetic, else ``None``.

    Usable: the model's only input, of shape (L, 4), feeds exactly this Conv1D with
    ``padding='valid'``, stride 1, dilation 1, one group, channels last.
    """
    keras = _keras()
    if len(model.inputs) != 1 or tuple(model.inputs[0].shape[1:]) [-1:] != (4,):
        return None
    inp_layer = model.inputs[0]._keras_history.operation
    consumers = _consumers(model, inp_layer)
    if len(consumers) != 1 or not isinstance(consumers[0], keras.layers.Conv1D):
        return None
    conv = consumers[0]
    if (conv.padding != "valid" or tuple(conv.strides) != (1,) or tuple(conv.dilation_rate) != (1,)
            or getattr(conv, "groups", 1) != 1 or conv.data_format != "channels_last"):
        return None
    return conv


def _plan(model):
    """Decide the fastest exact method for ``model``: a dict with ``method`` and what it needs."""
    keras = _keras()
    L = int(model.inputs[0].shape[1])
    conv = first_conv(model)
    if conv is None:
        return {"method": "naive", "L": L}
    base = {"conv": conv, "L": L, "K": int(conv.kernel_size[0]), "F": int(conv.filters)}
    base["P"] = L - base["K"] + 1
    consumers = _consumers(model, conv)
    kinds = sorted(type(c).__name__ for c in consumers)
    if kinds in (["GlobalMaxPooling1D"], ["GlobalAveragePooling1D", "GlobalMaxPooling1D"]):
        gmax = next(c for c in consumers if isinstance(c, keras.layers.GlobalMaxPooling1D))
        gavg = next((c for c in consumers if isinstance(c, keras.layers.GlobalAveragePooling1D)), None)
        ok = all(getattr(c, "data_format", "channels_last") == "channels_last" and not getattr(c, "keepdims", False)
                 for c in consumers)
        if gavg is None and ok:
            return {**base, "method": "global", "head_from": gmax, "order": ["max"]}
        if ok:
            # Both must feed one Concatenate (DeepBind's max+avg) on the last axis.
            cm, ca = _consumers(model, gmax), _consumers(model, gavg)
            if (len(cm) == 1 and len(ca) == 1 and cm[0] is ca[0] and isinstance(cm[0], keras.layers.Concatenate)
                    and cm[0].axis in (-1, 1) and len(_inbound_layers(cm[0])) == 2):
                order = ["max" if src is gmax else "avg" for src in _inbound_layers(cm[0])]
                return {**base, "method": "global", "head_from": cm[0], "order": order}
    if len(consumers) == 1 and isinstance(consumers[0], keras.layers.MaxPooling1D):
        pool = consumers[0]
        s = int(pool.pool_size[0])
        stride = int(pool.strides[0]) if pool.strides is not None else s
        nxt = _consumers(model, pool)
        if (pool.padding == "valid" and stride == s and pool.data_format == "channels_last" and base["P"] >= s
                and len(nxt) == 1 and isinstance(nxt[0], keras.layers.Flatten)):
            dense = _consumers(model, nxt[0])
            if len(dense) == 1 and isinstance(dense[0], keras.layers.Dense):
                return {**base, "method": "local", "s": s, "J": base["P"] // s, "dense": dense[0]}
    # Only the first layer could be skipped here ('window'), but measured on Basset it was slower than
    # running the whole model on the mutants (the first layer is ~10% of the work and the window
    # gathers cost more), so 'auto' runs the batched full forward pass; method='window' still exists.
    return {**base, "method": "naive", "window_ok": True}


def ism_method(model):
    """Name of the exact method :func:`ism` uses for ``model``: 'global', 'local', 'window' or 'naive'."""
    return _plan(model)["method"]


def _submodel(model, layer):
    """The part of ``model`` from ``layer``'s output to the logits, as a Keras model."""
    return _keras().Model(layer.output, model.output)


# ----------------------------------------------------------------------------------------------------------------
# the compiled kernels


_MONOTONE = ("linear", "relu", "relu6", "elu", "selu", "softplus", "sigmoid", "hard_sigmoid", "tanh",
             "exponential", "leaky_relu", "softsign")


# Activations that are exactly 0 far below zero (f(-1e30) = 0).
_ZERO_AT_NEG_INF = ("relu", "relu6", "sigmoid", "hard_sigmoid", "softplus", "exponential")


def _is_monotone(act):
    """True for activations that never decrease (then max and activation commute)."""
    return getattr(act, "__name__", "") in _MONOTONE


def _cummax(tf, a, reverse=False):
    """Inclusive running maximum along axis 1 of ``a`` [n, P, F] (log2(P) doubling steps; TF has no cummax)."""
    P = a.shape[1]
    s = 1
    while s < P:
        pad = tf.fill(tf.concat([tf.shape(a)[:1], [s], tf.shape(a)[2:]], 0), tf.constant(-np.inf, a.dtype))
        shifted = tf.concat([a[:, s:], pad], 1) if reverse else tf.concat([pad, a[:, :-s]], 1)
        a = tf.maximum(a, shifted)
        s *= 2
    return a


def _base_index(tf, x):
    """Base index of each row of one-hot ``x`` [n, L, 4] → int32 [n, L]: 0-3, or 4 for an all-zero (N) row."""
    return tf.where(tf.reduce_sum(x, -1) > 0, tf.argmax(x, -1, output_type=tf.int32), 4)


def _base_change_table(tf, W):
    """``D[k, a, b] = W[k, b] - W[k, a]`` for a kernel ``W`` [K, 4, F] → [K, 5, 4, F] (a = 4: an N row, W[k, a] = 0).

    A substitution a → b at input position i changes conv output i - k by ``D[k, a, b]``.
    """
    K, _, F = W.shape
    W5 = tf.concat([W, tf.zeros([K, 1, F], W.dtype)], 1)                   # [K, 5, F]
    return W[:, None, :, :] - W5[:, :, None, :]


# ---- 'global' with a relu convolution: the window loop in numba ----
# XLA's fused loops over [n, L, 4, F] (running max, running sum) measured ~2x slower than this loop for
# max + average (1.3-1.6x for max only), which keeps one base's [F] accumulators in L1 and skips the
# reference base (3 of 4 rows).
# Compiled on first use (numba.njit(cache=True): NUMBA_CACHE_DIR is honoured); ``_prange`` becomes
# numba.prange then.
_prange = range
_OTHER_BASES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2], [0, 1, 2]], np.int32)  # a = 4: N row
_NUMBA_FNS = {}


def _relu_window_py(W5, bias, a, D, mo, ao, out, extra, nrow, refmax, refavg):  # pragma: no cover - compiled
    """Features of every substitution for relu activations (numba-compiled; see :func:`_relu_window`).

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


def _relu_window():
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


class _Kernels:
    """Compiled ISM functions for one model (built once, reused for every batch)."""

    def __init__(self, model, method="auto", jit_compile=None):
        tf = _tf()
        self.model = model
        plan = _plan(model)
        if method != "auto":
            if method not in METHODS:
                raise SeqcnnError(f"unknown ISM method {method!r}", hint=f"use one of {', '.join(METHODS)}")
            if method != "naive" and method != plan["method"] and not (method == "window" and "conv" in plan):
                # 'window' needs only a usable first convolution
                raise SeqcnnError(f"ISM method {method!r} does not apply to this model (it supports "
                                  f"{plan['method']!r})")
            plan = {**plan, "method": method}
        self.plan = plan
        self.method = plan["method"]
        self.L = plan["L"]
        self.T = int(model.outputs[0].shape[-1])
        # XLA fuses the window arithmetic (measured ~4x on the global-max path); the mutant-list paths
        # run ordinary convolutions, where XLA on CPU was not faster.
        jit = self.method in ("global", "local") if jit_compile is None else bool(jit_compile)
        self.jit = jit
        self.fixed_batch = self.method in ("global", "local")  # one compiled XLA shape: pad short batches
        L = self.L
        spec_x = tf.TensorSpec([None, L, 4], tf.float32)
        self.forward = tf.function(lambda x: model(x, training=False), input_signature=[spec_x])
        if self.method in ("global", "local", "window"):
            conv = plan["conv"]
            K, F, P = plan["K"], plan["F"], plan["P"]
            W = tf.convert_to_tensor(conv.kernel)  # [K, 4, F]
            b = tf.convert_to_tensor(conv.bias) if conv.use_bias else tf.zeros([F])
            act = conv.activation
            Wt = tf.transpose(W, [1, 0, 2])  # [4, K, F]: W[k, base, f] at [base, k]
            # The reference convolution as an ordinary TF op (oneDNN): XLA's own CPU convolution measured
            # several times slower, so the shortcut paths compile everything after it as one XLA program.
            conv_ref = tf.function(lambda x: tf.nn.conv1d(x, W, 1, "VALID") + b, input_signature=[spec_x])
        if self.method == "global":
            head = _submodel(model, plan["head_from"])
            order = plan["order"]
            monotone = _is_monotone(act)
            # valid[k][i]: conv position i - k exists (0 <= i - k < P).
            valid = tf.constant(((np.arange(L)[None, :] - np.arange(K)[:, None] >= 0)
                                 & (np.arange(L)[None, :] - np.arange(K)[:, None] < P))[:, None, :, None, None])
            left = tf.constant(np.clip(np.arange(L) - K + 1, 0, P).astype(np.int32))  # exclusive prefix index
            right = tf.constant(np.clip(np.arange(L) + 1, 0, P).astype(np.int32))   # suffix-from index
            neg = tf.constant(-np.inf, tf.float32)
            far = tf.constant(-1e30, tf.float32)
            zero_far = getattr(act, "__name__", "") in _ZERO_AT_NEG_INF
            Dk = _base_change_table(tf, W)                                  # [K, 5, 4, F]

            def window(x, Z):
                n = tf.shape(Z)[0]
                a = _base_index(tf, x)                                      # [n, L], 4 at an N row
                A = act(Z)
                negrow = tf.fill(tf.stack([n, 1, F]), neg)
                pre = tf.concat([negrow, _cummax(tf, A)], 1)                # pre[j] = max over p < j
                suf = tf.concat([_cummax(tf, A, reverse=True), negrow], 1)  # suf[j] = max over p >= j
                outside = tf.maximum(tf.gather(pre, left, axis=1), tf.gather(suf, right, axis=1))  # [n, L, F]
                amean = tf.reduce_mean(A, axis=1)
                ref_feats = {"max": tf.reduce_max(A, axis=1), "avg": amean}
                ref = head(tf.concat([ref_feats[k] for k in order], -1), training=False)   # the reference logits
                pad = tf.fill(tf.stack([n, K - 1, F]), far)
                Zp = tf.concat([pad, Z, pad], 1)                            # Zp[K-1+p] = Z[p]; far outside
                # Loop over kernel rows k: position i changes conv output i - k by W[k, b] - W[k, x_i]; a
                # running max (and sum) over k keeps the working set at [n, L, 4, F] and XLA fuses the loop.
                acc = None
                change = None
                ref_sum = None
                for k in range(K):
                    zk = Zp[:, K - 1 - k:K - 1 - k + L]                     # Z[i - k], [n, L, F]
                    if "avg" in order:
                        # New pre-activation for every base b: Z[i - k] - W[k, x_i] + W[k, b], a broadcast
                        # add of the kernel row (x_i · W[k]: one small matmul per k, 0 at an N row); with
                        # the running sum this measured ~1.3x faster than the table lookup below (deepbind).
                        v = (zk - tf.einsum("nlc,cf->nlf", x, W[k]))[:, :, None] + W[k][None, None]
                    else:
                        # Max only: the lookup keeps the loop one XLA fusion (the matmuls measured 1.7x
                        # slower on zeng); D[k, a_i, b] = W[k, b] - W[k, a_i] is one gathered row.
                        v = zk[:, :, None] + tf.gather(Dk[k], a)            # [n, L, 4, F]
                    if "avg" in order:
                        if zero_far:
                            # act(far) = 0: windows hanging off the sequence add nothing, no mask needed.
                            change = act(v) if change is None else change + act(v)
                            ref_sum = act(zk) if ref_sum is None else ref_sum + act(zk)
                        else:
                            d = tf.where(valid[k], act(v) - act(zk)[:, :, None], 0.0)
                            change = d if change is None else change + d
                    if not monotone:
                        v = tf.where(valid[k], act(v), neg)
                    acc = v if acc is None else tf.maximum(acc, v)
                if ref_sum is not None:
                    change = change - ref_sum[:, :, None]
                # max commutes with a non-decreasing activation, so it is applied once, after the max.
                wmax = act(acc) if monotone else acc                        # [n, L, 4, F]
                feats = {"max": tf.maximum(outside[:, :, None], wmax)}
                if "avg" in order:
                    feats["avg"] = amean[:, None, None] + change / P
                g = tf.concat([feats[k] for k in order], -1) if len(order) > 1 else feats["max"]
                out = head(tf.reshape(g, [n * L * 4, -1]), training=False)
                return tf.reshape(out, [n, L, 4, self.T]) - ref[:, None, None, :], ref

            self.step = self._after_conv(conv_ref, window, jit)
            self.per_seq = 4 * L * 4 * F  # a few [L, 4, F] temporaries
            # relu: the window loop in numba (measured 2-2.8x the XLA program on DeepBind's max + average,
            # 1.3-1.6x on max only); the head stays TF. Other activations, or an explicit jit_compile,
            # keep the XLA program above.
            relu_window = (_relu_window() if getattr(act, "__name__", "") == "relu"
                           and jit_compile is None else None)
            if relu_window is not None:
                self.step = self._numba_step(relu_window, W, b, head, Dk, order)
                self.fixed_batch = False
        elif self.method == "local":
            s, J, dense = plan["s"], plan["J"], plan["dense"]
            head = _submodel(model, dense)
            U_units = int(dense.units)
            monotone = _is_monotone(act)
            Tt = s + K - 1          # input offsets t = i - j·s (0 <= t < s + K - 1) through which i reaches pool j
            Jb = -(-L // s)         # blocks of s input positions covering the sequence
            W1 = tf.reshape(tf.convert_to_tensor(dense.kernel), [J, F, U_units])  # Flatten order: j * F + f
            b1 = tf.convert_to_tensor(dense.bias) if dense.use_bias else tf.zeros([U_units])
            act1 = dense.activation
            Dk = _base_change_table(tf, W)                                  # [K, 5, 4, F]

            def local(x, Z):
                # Pool j covers conv positions j·s + r (0 <= r < s); substituting input position i = j·s + t
                # changes position j·s + r by D[t - r] when 0 <= t - r < K. Indexed by (t, r) every operand
                # is a strided slice of Z or of the base indices (no gathers by position), and the
                # touched pools' change reaches the Dense layer as W1[j] · Δ (one einsum over all t).
                n = tf.shape(Z)[0]
                a = _base_index(tf, x)                                      # [n, L]
                span = (J - 1) * s + 1
                Zr = [Z[:, r:r + span:s] for r in range(s)]                 # conv position j·s + r, [n, J, F]
                Ar = [act(z) for z in Zr]
                pooled = Ar[0]
                for z in Ar[1:]:
                    pooled = tf.maximum(pooled, z)                          # [n, J, F]
                H = tf.matmul(tf.reshape(pooled, [n, J * F]), tf.reshape(W1, [J * F, U_units])) + b1
                ref = head(act1(H), training=False)                          # the reference logits
                dpool = []
                for t in range(Tt):
                    at = a[:, t:t + span:s]                                 # base at i = j·s + t, [n, J]
                    acc = None
                    for r in range(s):
                        if 0 <= t - r < K:
                            v = Zr[r][:, :, None] + tf.gather(Dk[t - r], at)   # [n, J, 4, F]
                            if not monotone:
                                v = act(v)
                        else:
                            v = (Zr[r] if monotone else Ar[r])[:, :, None]  # outside i's window: unchanged
                        acc = v if acc is None else tf.maximum(acc, v)
                    # max commutes with a non-decreasing activation, so it is applied once, after the max.
                    dpool.append((act(acc) if monotone else acc) - pooled[:, :, None])
                dE = tf.einsum("ntjbf,jfu->ntjbu", tf.stack(dpool, 1), W1)  # [n, Tt, J, 4, U]
                # Input position i = j·s + t = (j + t // s)·s + t % s: shift each t's rows into s-wide blocks.
                blocks = [None] * s
                for t in range(Tt):
                    q, rho = divmod(t, s)
                    e = tf.pad(dE[:, t], [[0, 0], [q, Jb - J - q], [0, 0], [0, 0]])   # [n, Jb, 4, U]
                    blocks[rho] = e if blocks[rho] is None else blocks[rho] + e
                dH = tf.reshape(tf.stack(blocks, 2), [n, Jb * s, 4, U_units])[:, :L]   # [n, L, 4, U]
                h = act1(H[:, None, None] + dH)
                out = head(tf.reshape(h, [n * L * 4, U_units]), training=False)
                return tf.reshape(out, [n, L, 4, self.T]) - ref[:, None, None, :], ref

            self.step = self._after_conv(conv_ref, local, jit)
            self.per_seq = Tt * J * 4 * max(F, U_units)
        elif self.method == "window":
            rest = _submodel(model, conv)
            spec_i = tf.TensorSpec([None], tf.int32)

            def chunk(Z, x, n_idx, l_idx, b_idx):
                xrow = tf.gather_nd(x, tf.stack([n_idx, l_idx], 1))        # [m, 4] current rows
                D = tf.gather(Wt, b_idx) - tf.einsum("mc,kcf->mkf", xrow, W)  # window change by kernel row [m, K, F]
                k = l_idx[:, None] - tf.range(P)[None, :]                   # kernel row at each conv position
                inside = (k >= 0) & (k < K)
                Dg = tf.gather(D, tf.clip_by_value(k, 0, K - 1), batch_dims=1)  # [m, P, F]
                Zm = tf.gather(Z, n_idx) + tf.where(inside[:, :, None], Dg, 0.0)
                return rest(act(Zm), training=False)

            self.conv_ref = conv_ref
            self.chunk = tf.function(chunk, input_signature=[tf.TensorSpec([None, P, F], tf.float32), spec_x,
                                                             spec_i, spec_i, spec_i], jit_compile=jit)
            self.per_mutant = _activation_size(model)
        else:
            spec_i = tf.TensorSpec([None], tf.int32)
            T = self.T

            def chunk(x, n_idx, l_idx, b_idx):
                xm = tf.gather(x, n_idx)                                     # [m, L, 4]
                at = tf.one_hot(l_idx, L)[:, :, None]                        # [m, L, 1]
                xm = xm * (1.0 - at) + at * tf.one_hot(b_idx, 4)[:, None, :]
                return model(xm, training=False)

            # N rows' fourth substitution (to A) only: a short mutant list, rare.
            self.chunk = tf.function(chunk, input_signature=[spec_x, spec_i, spec_i, spec_i], jit_compile=jit)
            self.per_mutant = _activation_size(model)
            self._groups = {}

    def _after_conv(self, conv_ref, fn, jit):
        """One batch step: the reference convolution, then ``fn(x, Z)`` compiled (XLA with ``jit``)."""
        fn_c = _tf().function(fn, jit_compile=jit)

        def step(x):
            return fn_c(x, conv_ref(x))

        return step

    def _numba_step(self, relu_window, W, b, head, Dk, order):
        """ISM of one batch through :func:`_relu_window`: x [n, L, 4] → (delta [n, L, 4, T], ref [n, T])."""
        tf = _tf()
        L, T = self.L, self.T
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
            relu_window(W5, bias, a, D, mo, ao, out, extra, nrow, refmax, refavg)
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

    def group_fn(self, nb):
        """The compiled naive-ISM function for groups of ``nb`` sequences (cached per slice size).

        x float32 [n, L, 4] (n <= nb best) → (delta [n, L, 4, T] with the A column of N rows unset, ref [n, T]).
        The slice size divides nb·3L into equal slices of at most :meth:`mutant_batch` mutants, so a full
        group computes no padded mutant.
        """
        tf = _tf()
        model, L, T = self.model, self.L, self.T
        total = max(int(nb), 1) * 3 * L
        S = -(-total // -(-total // self.mutant_batch()))
        fn = self._groups.get(S)
        if fn is None:
            def group(x):
                # The 3·L mutants of every sequence in x, built and run inside this one compiled function
                # (no host work per chunk): mutant m is sequence m // 3L, position (m // 3) % L, base
                # (a + m % 3 + 1) % 4 (a = the reference base; 0 at an N row, whose A is done apart).
                # Slices of S mutants run in a loop (bounded memory); the slice count follows len(x), so one
                # trace serves every group size and at most S - 1 padded mutants are computed per call.
                n = tf.shape(x)[0]
                a = tf.argmax(x, -1, output_type=tf.int32)                   # [n, L]
                total = n * 3 * L
                ns = (total + S - 1) // S
                idx = tf.reshape(tf.minimum(tf.range(ns * S), total - 1), [ns, S])

                def body(m):
                    seq = m // (3 * L)
                    pos = (m // 3) % L
                    alt = (tf.gather_nd(a, tf.stack([seq, pos], 1)) + m % 3 + 1) % 4
                    at = tf.one_hot(pos, L)[:, :, None]                      # [S, L, 1]
                    xm = tf.gather(x, seq) * (1.0 - at) + at * tf.one_hot(alt, 4)[:, None, :]
                    return model(xm, training=False)                         # [S, T]

                out = tf.map_fn(body, idx, fn_output_signature=tf.TensorSpec([S, T], tf.float32))
                ref = model(x, training=False)                               # [n, T]
                d = tf.reshape(tf.reshape(out, [-1, T])[:total], [n, L, 3, T]) - ref[:, None, None, :]
                alt = tf.one_hot((a[:, :, None] + tf.range(1, 4)[None, None]) % 4, 4)   # [n, L, 3, 4]
                return tf.einsum("nljb,nljt->nlbt", alt, d), ref             # [n, L, 4, T]

            fn = self._groups[S] = tf.function(group, input_signature=[tf.TensorSpec([None, L, 4], tf.float32)],
                                               jit_compile=self.jit)
        return fn

    def seq_batch(self, batch_size=None):
        """Sequences per compiled call."""
        if batch_size:
            return int(batch_size)
        if self.method in ("global", "local"):
            return int(np.clip(_BUDGET // self.per_seq, 1, 512))
        return int(np.clip(4 * self.mutant_batch() // (3 * self.L), 1, 256))

    def mutant_batch(self):
        # Inference keeps only a few layer outputs alive at once, so ~4x the budget in total activations
        # is still bounded memory; larger calls amortise per-call overhead.
        return int(np.clip((_BUDGET * 4) // max(self.per_mutant, 1), 64, 4096))

    def run(self, x, nb=None):
        """ISM of one batch: x float32 [n, L, 4] → (delta [n, L, 4, T], reference [n, T]) as numpy.

        ``nb``: the nominal batch size (the naive path sizes its compiled slices for it); default len(x).
        """
        if self.method in ("global", "local"):
            # These paths look the current base up by index (a table of weight changes), so rows must be
            # one-hot or all zero (N), as ISM's "set position i to base b" presumes.
            if not (((x == 0) | (x == 1)).all() and (x.sum(-1) <= 1).all()):
                raise SeqcnnError("in-silico mutagenesis needs one-hot sequences (rows of 0/1 with at most one 1)",
                                  hint="encode the sequences with seqcnn encode / seqcnn.encoding.one_hot")
            delta, ref = self.step(x)
            if not isinstance(delta, np.ndarray):
                delta = delta.numpy()
        elif self.method == "naive":
            delta, ref = self.group_fn(nb or len(x))(x)
            delta, ref = delta.numpy(), ref.numpy()
            n_idx, l_idx = (v.astype(np.int32) for v in np.nonzero(x.sum(-1) == 0))
            mb = self.mutant_batch()
            for start in range(0, len(n_idx), mb):
                # An N row has four substitutions; the group function did C, G and T, this does A.
                cn, cl = n_idx[start:start + mb], l_idx[start:start + mb]
                out = self.chunk(x, cn, cl, np.zeros_like(cn)).numpy()
                delta[cn, cl, 0] = out - ref[cn]
        else:
            delta, ref = self._run_mutants(x)
        # Exactly zero at the reference base (the shortcut paths compute it, up to round-off).
        delta *= (1.0 - x)[..., None]
        return delta, np.asarray(ref)

    def _run_mutants(self, x):
        tf = _tf()
        n, L = x.shape[:2]
        # Every real substitution: positions where x is 0 (three per A/C/G/T row, four per N row).
        n_idx, l_idx, b_idx = np.nonzero(x == 0)
        n_idx, l_idx, b_idx = (a.astype(np.int32) for a in (n_idx, l_idx, b_idx))
        xt = tf.constant(x)
        ref = self.forward(xt).numpy()
        Z = self.conv_ref(xt) if self.method == "window" else None
        delta = np.zeros((n, L, 4, self.T), np.float32)
        mb = self.mutant_batch()
        for start in range(0, len(n_idx), mb):
            sl = slice(start, start + mb)
            cn, cl, cb = n_idx[sl], l_idx[sl], b_idx[sl]
            real = len(cn)
            if real < mb and len(n_idx) > mb:
                # Pad the last chunk to the compiled shape (one trace); padded rows are discarded.
                pad = mb - real
                cn, cl, cb = (np.concatenate([a, np.repeat(a[:1], pad)]) for a in (cn, cl, cb))
            if self.method == "window":
                out = self.chunk(Z, xt, cn, cl, cb).numpy()[:real]
            else:
                out = self.chunk(xt, cn, cl, cb).numpy()[:real]
            delta[n_idx[sl], l_idx[sl], b_idx[sl]] = out - ref[n_idx[sl]]
        return delta, ref


def _activation_size(model):
    """Float elements of all layer outputs for one example (memory per mutant in the mutant-list paths)."""
    total = 0
    for layer in model.layers:
        for t in (layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]):
            shape = [d for d in t.shape[1:] if d is not None]
            total += int(np.prod(shape)) if shape else 1
    return total


_KERNEL_CACHE = {}


def _kernels(model, method="auto", jit_compile=None):
    key = (id(model), method, jit_compile)
    hit = _KERNEL_CACHE.get(key)
    if hit is None or hit.model is not model:
        hit = _KERNEL_CACHE[key] = _Kernels(model, method, jit_compile)
    return hit


# ----------------------------------------------------------------------------------------------------------------
# in-memory API


def _output_index(output, n_outputs, names=None):
    """Resolve ``output`` (None, an index or a class/label name) to None or an int."""
    if output is None:
        return None
    if isinstance(output, (int, np.integer)) or (isinstance(output, str) and output.lstrip("-").isdigit()
                                                 and not (names and output in names)):
        k = int(output)
        if not 0 <= k < n_outputs:
            raise SeqcnnError(f"output {k} does not exist: the model has {n_outputs} output(s)",
                              hint=f"use 0..{n_outputs - 1}" + (f" or a name ({', '.join(names)})" if names else ""))
        return k
    if names and output in names:
        return list(names).index(output)
    raise SeqcnnError(f"unknown output {output!r}",
                      hint=f"use an index 0..{n_outputs - 1}" + (f" or one of {', '.join(names)}" if names else ""))


def ism(model, x, output=None, batch_size=None, method="auto", jit_compile=None, progress=False):
    """Exact in-silico mutagenesis of one-hot sequences.

    Parameters
    ----------
    model : keras.Model — input shape=(batch, L, 4), logit outputs shape=(batch, T).
    x : np.ndarray, shape=(N, L, 4) — one-hot (uint8 or float); all-zero rows (N) allowed.
    output : int, optional — keep only this output; default all outputs.
    batch_size : int, optional — sequences per compiled call (default: chosen from a memory budget).
    method : {'auto', 'global', 'local', 'window', 'naive'} — 'auto' picks the fastest exact method.
    jit_compile : bool, optional — XLA; default on for the 'global' and 'local' methods.
    progress : bool — tqdm progress bar over sequences.

    Returns
    -------
    delta : np.ndarray, float32, shape=(N, L, 4) when ``output`` is given or T == 1, else (N, L, 4, T).
    reference : np.ndarray, float32, shape=(N,) or (N, T) — the logits of the unmutated sequences.
    """
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != 4:
        raise SeqcnnError(f"expected one-hot sequences of shape (N, L, 4), got {x.shape}")
    kern = _kernels(model, method, jit_compile)
    if x.shape[1] != kern.L:
        raise ModelMismatchError(f"the model takes {kern.L} bp sequences but these are {x.shape[1]} bp")
    k = _output_index(output, kern.T)
    deltas, refs = [], []
    for d, r in iter_ism(kern, x, batch_size=batch_size, progress=progress):
        deltas.append(d)
        refs.append(r)
    delta = np.concatenate(deltas) if deltas else np.zeros((0, kern.L, 4, kern.T), np.float32)
    ref = np.concatenate(refs) if refs else np.zeros((0, kern.T), np.float32)
    if k is not None:
        return delta[..., k], ref[:, k]
    if kern.T == 1:
        return delta[..., 0], ref[:, 0]
    return delta, ref


def iter_ism(kern, x, batch_size=None, progress=False, desc="mutagenesis"):
    """Yield ``(delta [n, L, 4, T], reference [n, T])`` for consecutive batches of ``x`` (numpy)."""
    from tqdm import tqdm

    nb = kern.seq_batch(batch_size)
    if kern.method not in ("global", "local"):
        nb = min(nb, max(len(x), 1))
    # 'global' and 'local' always run nb sequences per call (a short batch is padded): one compiled XLA
    # program per model. Compiling another shape for a short last batch costs ~1 s, far more than the
    # padding rows.
    bar = tqdm(total=len(x), desc=desc, unit="seq", disable=not progress, leave=False)
    try:
        for start in range(0, len(x), nb):
            xb = np.asarray(x[start:start + nb], np.float32)
            real = len(xb)
            if real < nb and kern.fixed_batch:
                # A fixed batch shape keeps one compiled (XLA) program; the padding rows are dropped.
                xb = np.concatenate([xb, np.zeros((nb - real,) + xb.shape[1:], np.float32)])
            d, r = kern.run(xb, nb)
            bar.update(real)
            yield d[:real], r[:real]
    finally:
        bar.close()


def naive_ism(model, x, batch_size=256):
    """Reference ISM by brute force: every mutant through the whole model (float32 [N, L, 4, T]).

    Slow; for checks and benchmarks. ``ism(..., method='naive')`` is the batched, compiled equivalent.
    """
    x = np.asarray(x, np.float32)
    N, L, _ = x.shape
    ref = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    out = np.zeros((N, L, 4, ref.shape[-1]), np.float32)
    for n in range(N):
        mut = np.repeat(x[n][None], L * 4, axis=0).reshape(L, 4, L, 4)
        mut[np.arange(L), :, np.arange(L), :] = np.eye(4, dtype=np.float32)[None]
        pred = np.asarray(model.predict(mut.reshape(L * 4, L, 4), batch_size=batch_size, verbose=0))
        out[n] = pred.reshape(L, 4, -1) - ref[n]
    out *= (1 - x)[..., None]
    return out


def importance(delta, x):
    """Per-position importance: minus the mean delta over the alternative bases.

    Parameters
    ----------
    delta : np.ndarray, shape=(N, L, 4) or (N, L, 4, T)
    x : np.ndarray, shape=(N, L, 4) — the one-hot sequences (alternatives are bases where x == 0).

    Returns
    -------
    np.ndarray, float32, shape=(N, L) or (N, L, T).
    """
    x = np.asarray(x, np.float32)
    alt = 1.0 - x
    n_alt = alt.sum(-1)
    if delta.ndim == 4:
        alt, n_alt = alt[..., None], n_alt[..., None]
    return (-(delta * alt).sum(2) / np.maximum(n_alt, 1)).astype(np.float32)


def attribution(imp, x):
    """Reference attribution ``x * importance``: shape=(N, L, 4) (or (N, L, 4, T)), the heights of an importance logo."""
    x = np.asarray(x, np.float32)
    if imp.ndim == 3:
        return (x[..., None] * imp[:, :, None, :]).astype(np.float32)
    return (x * imp[..., None]).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------
# file to file: a run directory + sequences → an ISM HDF5 file (+ figures)


def output_names(cfg):
    """Names of a run's outputs: the positive class (binary), classes (multiclass) or labels (multilabel)."""
    d, task = cfg.get("data", {}), cfg.get("model", {}).get("task", "binary")
    if task == "binary":
        names = d.get("class_names") or ["0", "1"]
        return [str(names[-1])]
    return [str(v) for v in (d.get("class_names") if task == "multiclass" else d.get("label_names")) or []]


def _read_ids_file(path):
    if not os.path.exists(path):
        raise InputFormatError("ids file not found", path=path)
    with open(path) as fh:
        ids = [line.split()[0] for line in fh if line.strip() and not line.startswith("#")]
    if not ids:
        raise SeqcnnError("no ids in the file", path=path, hint="one id per line")
    return ids


class _Source:
    """Sequences to mutate: an encoded HDF5 dataset or a FASTA file (encoded with the run's length policy)."""

    def __init__(self, path, cfg, run_dir):
        import h5py

        self.path = str(path)
        if not os.path.exists(self.path):
            raise InputFormatError("file not found", path=self.path, hint="give an encoded .h5 or a FASTA file")
        L = int(cfg["model"]["input_length"])
        d = cfg.get("data", {})
        self.ds = None
        if h5py.is_hdf5(self.path):
            from .store import open_dataset
            from .training import _check_fits

            self.ds = open_dataset(self.path)
            try:
                _check_fits(cfg, self.ds, run_dir)
            except SeqcnnError:
                self.ds.close()
                raise
            self.ids = None  # read when needed: every id for --ids lookups, the selected rows' for the output
            self.y = self.ds.y
            self.n = self.ds.n
        else:
            from .encoding import encode_block
            from .readers import read_fasta

            ids, seqs = read_fasta(self.path)
            if not ids:
                raise SeqcnnError("no sequences in the FASTA file", path=self.path)
            # Bases first (as predict): an empty record or a stray character is the problem, not its length.
            self._x, lens = encode_block(seqs, length=L, pad_mode=d.get("pad_mode", "center"),
                                         allow_iupac=d.get("allow_iupac", False), ids=ids, path=self.path)
            if not d.get("length_given") and (lens != L).any():
                k = int(np.argmax(lens != L))
                raise ModelMismatchError(
                    f"sequence of {lens[k]} bp, but the model takes {L} bp and its training data were encoded "
                    f"without --length (no padding/trimming policy)", path=self.path, record=ids[k],
                    hint=f"give {L} bp sequences")
            if len(set(ids)) < len(ids):
                seen = set()
                dup = next(i for i in ids if i in seen or seen.add(i))
                raise SeqcnnError("duplicate record id", path=self.path, record=dup,
                                  hint="ids (first word of headers) must be unique")
            self.ids = np.asarray(ids, dtype=object)
            self.y = None
            self.n = len(ids)

    def all_ids(self):
        """Every record id, np.ndarray of str (object), shape=(n,)."""
        return self.ds.ids if self.ds is not None else self.ids

    def read_ids(self, rows):
        """Ids of ``rows``, np.ndarray of str (object), shape=(len(rows),); an HDF5 input reads only their chunks."""
        return self.ds.read_ids(rows) if self.ds is not None else self.ids[np.asarray(rows, dtype=np.int64)]

    def read_x(self, idx):
        return self.ds.read_x(idx) if self.ds is not None else self._x[np.asarray(idx, dtype=np.int64)]

    def close(self):
        if self.ds is not None:
            self.ds.close()


def select(source, kern, ids=None, split=None, top=None, by="score", output=None, task="binary"):
    """Rows of ``source`` to mutate, in output order.

    ``ids`` keeps those records (in the order given); ``split`` keeps a split of an HDF5 input;
    ``top`` keeps the K highest-scoring of what remains (model logit of ``output``), and with
    ``by='label'`` only the positives (label 1, the class ``output``, or label ``output`` set).
    """
    rows = np.arange(source.n)
    if split is not None:
        if source.ds is None:
            raise SeqcnnError("--split needs an encoded HDF5 input (a FASTA file has no splits)", path=source.path)
        rows = source.ds.indices(split)
        if len(rows) == 0:
            raise SeqcnnError(f"split {split!r} is empty", path=source.path, hint="pick another split")
    if ids is not None:
        pos = {rid: i for i, rid in enumerate(source.all_ids())}
        missing = [i for i in ids if i not in pos]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            hint = "ids are the first word of each FASTA header; see 'seqcnn info'"
            near = [rid for rid in pos if rid.lower() == missing[0].strip().lower()]
            if near:  # as encode does: the usual cause is a case (or stray space) difference
                hint = f"the input has {near[0]!r}, which differs only in case or whitespace; ids must match exactly"
            raise SeqcnnError(f"unknown id {missing[0]!r}{more}", path=source.path, hint=hint)
        wanted = np.array([pos[i] for i in dict.fromkeys(ids)], dtype=np.int64)
        if split is not None:
            wanted = wanted[np.isin(wanted, rows)]
            if len(wanted) == 0:
                raise SeqcnnError(f"none of the given ids is in split {split!r}", path=source.path)
        rows = wanted
    if top is not None:
        if top < 1:
            raise SeqcnnError(f"--top must be at least 1, got {top}")
        if by not in ("score", "label"):
            raise SeqcnnError(f"unknown --by {by!r}", hint="use score or label")
        if kern.T > 1 and output is None:
            raise SeqcnnError("--top on a model with several outputs needs --output (which logit to rank by)")
        k = 0 if output is None else output
        if by == "label":
            if source.y is None:
                raise SeqcnnError("--by label needs labels: give an encoded HDF5 input", path=source.path)
            y = source.y[rows]
            positive = (y == 1) if task == "binary" else (y == k) if task == "multiclass" else (y[:, k] == 1)
            rows = rows[np.asarray(positive).reshape(-1)]
            if len(rows) == 0:
                raise SeqcnnError("no positives among the selected records", path=source.path)
        scores = np.concatenate([kern.forward(np.asarray(source.read_x(rows[i:i + 1024]), np.float32)).numpy()[:, k]
                                 for i in range(0, len(rows), 1024)])
        order = np.argsort(-scores, kind="stable")[:top]
        rows = rows[order]
    return rows


def run_mutagenesis(run_dir, input, out, *, ids=None, ids_file=None, split=None, top=None, by="score",
                    output=None, batch_size=None, method="auto", plots=True, plot_max=10, force=False,
                    progress=False, command=None):
    """In-silico mutagenesis of selected sequences with a trained run, streamed to an HDF5 file.

    Parameters
    ----------
    run_dir : str — a run directory written by ``seqcnn train``.
    input : str — encoded HDF5 dataset, or FASTA (encoded with the run's length policy).
    out : str — output HDF5 (written to a temporary file, renamed when complete).
    ids, ids_file, split, top, by : selection, see :func:`select` (default: every record).
    output : int or str, optional — one output (index or class/label name); default all
        outputs (a single-output model gives ``[N, L, 4]`` either way).
    plots : bool — figures for the first ``plot_max`` sequences in ``<out stem>_plots/``.

    Returns
    -------
    dict — ``out``, ``n`` (records written), ``records_read`` (records in the input), ``length``, ``outputs``
    (names), ``method``, ``seconds``, ``seq_per_s``, ``plots``.
    """
    import time

    import h5py

    from .store import check_output
    from .training import load_run

    out = str(out)
    check_output(out, force)
    plot_dir = os.path.splitext(out)[0] + "_plots"
    if plots and os.path.exists(plot_dir) and not force:
        from .errors import OutputExistsError

        raise OutputExistsError("already exists", path=plot_dir, hint="pass --force to overwrite it, or --no-plots")
    if ids is not None and ids_file is not None:
        raise SeqcnnError("give --ids or --ids-file, not both")
    if ids_file is not None:
        ids = _read_ids_file(ids_file)
    if isinstance(ids, str):
        ids = [i.strip() for i in ids.split(",") if i.strip()]
    if plot_max < 0:
        raise SeqcnnError(f"--plot-max must be >= 0, got {plot_max}")
    model, cfg = load_run(run_dir)
    kern = _kernels(model, method)
    names = output_names(cfg)
    k = _output_index(output, kern.T, names)
    task = cfg["model"]["task"]
    source = _Source(input, cfg, run_dir)
    try:
        rows = select(source, kern, ids=ids, split=split, top=top, by=by, output=k, task=task)
        if len(rows) == 0:
            raise SeqcnnError("no sequences selected", path=input)
        N, L = len(rows), kern.L
        T_out = 1 if (k is not None or kern.T == 1) else kern.T
        tail = () if T_out == 1 else (T_out,)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(out)}.", suffix=".tmp",
                                   dir=os.path.dirname(os.path.abspath(out)))
        os.close(fd)
        t0 = time.time()
        try:
            with h5py.File(tmp, "w") as h5:
                ch = min(N, 64)
                dsets = {
                    "delta": h5.create_dataset("delta", (N, L, 4) + tail, np.float32, chunks=(ch, L, 4) + tail),
                    "attribution": h5.create_dataset("attribution", (N, L, 4) + tail, np.float32,
                                                     chunks=(ch, L, 4) + tail),
                    "importance": h5.create_dataset("importance", (N, L) + tail, np.float32, chunks=(ch, L) + tail),
                    "reference_score": h5.create_dataset("reference_score", (N,) + tail, np.float32),
                    "x": h5.create_dataset("x", (N, L, 4), np.uint8, chunks=(ch, L, 4), compression="gzip",
                                           compression_opts=1),
                }
                h5.create_dataset("ids", data=source.read_ids(rows), dtype=h5py.string_dtype("utf-8"))
                h5.create_dataset("index", data=rows.astype(np.int64))
                if source.y is not None:
                    h5.create_dataset("label", data=source.y[rows])
                from tqdm import tqdm

                bar = tqdm(total=N, desc="mutagenesis", unit="seq", disable=not progress)
                block = 4096
                done = 0
                for start in range(0, N, block):
                    x = source.read_x(rows[start:start + block])
                    pos = start
                    for d, r in iter_ism(kern, x[:], batch_size=batch_size):
                        xb = x[pos - start:pos - start + len(d)]
                        if k is not None:
                            d, r = d[..., k], r[:, k]
                        elif kern.T == 1:
                            d, r = d[..., 0], r[:, 0]
                        imp = importance(d, xb)
                        sl = slice(pos, pos + len(d))
                        dsets["delta"][sl] = d
                        dsets["importance"][sl] = imp
                        dsets["attribution"][sl] = attribution(imp, xb)
                        dsets["reference_score"][sl] = r
                        dsets["x"][sl] = xb
                        pos += len(d)
                        bar.update(len(d))
                    done = pos
                bar.close()
                seconds = time.time() - t0
                attrs = {"format": ISM_FORMAT, "schema_version": 1, "seqcnn_version": __version__,
                         "run": os.path.abspath(str(run_dir)), "input": os.path.abspath(str(input)),
                         "output": -1 if T_out > 1 else (k if k is not None else 0),
                         "output_names": json.dumps(names if T_out > 1 else [names[k if k is not None else 0]]
                                                    if names else []),
                         "definition": DEFINITION, "method": kern.method, "length": L, "alphabet": "ACGT",
                         "task": task, "created": utc_now(), "command": command or ""}
                for key, value in attrs.items():
                    h5.attrs[key] = value
                h5.attrs["complete"] = True
            figs = []
            if plots and plot_max:
                figs = _write_plots(tmp, plot_dir, plot_max, force)
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    finally:
        source.close()
    return {"out": out, "n": int(done), "records_read": int(source.n), "length": L,
            "outputs": json.loads(attrs["output_names"]),
            "method": kern.method, "seconds": seconds, "seq_per_s": done / max(seconds, 1e-9),
            "plots": figs, "plot_dir": plot_dir if figs else None}


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))[:60]


def _write_plots(h5_path, plot_dir, plot_max, force):
    """One PNG per sequence (and output): delta heatmap over an importance logo; the folder appears atomically."""
    import shutil

    import h5py

    from . import plots as plotting

    tmp_dir = tempfile.mkdtemp(prefix=f".{os.path.basename(plot_dir)}.", dir=os.path.dirname(os.path.abspath(plot_dir)))
    try:
        files = []
        with h5py.File(h5_path, "r") as h5:
            n = min(plot_max, h5["delta"].shape[0])
            names = json.loads(h5.attrs["output_names"]) or ["output"]
            ids = h5["ids"].asstr()[:n]
            delta, attr, ref = h5["delta"][:n], h5["attribution"][:n], h5["reference_score"][:n]
        multi = delta.ndim == 4
        for i in range(n):
            for t in range(delta.shape[-1] if multi else 1):
                d = delta[i, ..., t] if multi else delta[i]
                a = attr[i, ..., t] if multi else attr[i]
                r = ref[i, t] if multi else ref[i]
                suffix = f"_{_safe(names[t])}" if multi else ""
                fname = f"{i + 1:03d}_{_safe(ids[i])}{suffix}.png"
                name = names[t] if multi else names[0]
                plotting.ism_figure(d, a, os.path.join(tmp_dir, fname),
                                    title=f"{ids[i]} — output {name}, reference logit {r:.2f}")
                files.append(os.path.join(plot_dir, fname))
        if os.path.exists(plot_dir):
            if not force:
                raise SeqcnnError("already exists", path=plot_dir, hint="pass --force")
            shutil.rmtree(plot_dir)
        os.replace(tmp_dir, plot_dir)
        return files
    finally:
        if os.path.exists(tmp_dir):
            shutil.rmtree(tmp_dir)


def read_ism(path):
    """Read an ISM file written by :func:`run_mutagenesis`: a dict of arrays plus ``attrs``."""
    import h5py

    if not os.path.exists(path):
        raise InputFormatError("file not found", path=path)
    try:
        with h5py.File(path, "r") as h5:
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}
            if attrs.get("format") != ISM_FORMAT or not attrs.get("complete"):
                raise InputFormatError("not a complete seqcnn ISM file", path=path)
            out = {name: h5[name][:] for name in h5 if name != "ids"}
            out["ids"] = h5["ids"].asstr()[:]
    except OSError:
        raise InputFormatError("not a readable HDF5 file", path=path) from None
    attrs["output_names"] = json.loads(attrs.get("output_names", "[]"))
    out["attrs"] = attrs
    return out

