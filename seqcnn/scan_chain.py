"""The exact fast scan path for deep convolution stacks (Basset-like): a model over many overlapping windows.

Cutting every window of a genome slab and calling the model costs a whole window per step, although windows at
stride ``s`` share all but ``s`` bases. This module computes the shared layers once over a slab and finishes each
window from them, for a **single-strand** model whose input feeds a chain of known layers
(:func:`seqcnn.ism_stack.plan_chain`):

``shallow`` (first block shared)
    The first convolution (``padding='valid'``, stride 1) and its element-wise followers (BatchNormalization at
    inference, activations, dropout) run once over the slab; a window's activations are the slab's, sliced; the
    rest of the model (the *tail*, a Keras sub-model) runs per window.
``deep`` (shift-and-stitch through one pool and the next convolution)
    After a pool of size ``P`` and stride ``st``, the pooled grid of a window starting at ``s`` is the slab's
    stride-1 pooled sequence sampled every ``st`` from ``s - pad``. So the pool runs once over the slab at
    stride 1 (every phase at once) and the next convolution runs over that with its dilation multiplied by
    ``st``: the value at ``s + j * st`` is the window's output ``j`` wherever the convolution's receptive field
    lies on pooled positions whose pool window is inside the window. The few outputs near the window's edges see
    the window's own padding instead (the convolution's zeros, the 'same' pool's clipped edge window): they are
    the slab value plus a correction, ``sum_k W[k] (window input - slab input)``, over the taps whose inputs
    differ, one small matrix product per edge — exact arithmetic, float32 rounding only. That convolution's
    element-wise followers run on the slab, the tail per window.
``cut``
    Windows cut and the model called on them (isolated windows, where sharing does not pay).

Each chunk of window starts (bounded in windows and in slab bases, so memory is bounded whatever the slab) takes
the path with the least estimated multiply-adds per window. Provides :func:`plan` (the scorer of a model, or
None when the model is not such a chain) and :class:`ChainScorer`.
"""

import numpy as np

from ._tf import import_keras, import_tf
from .errors import SeqcnnError
from .graph import submodel
from .ism_stack import _macs, plan_chain

# bound on the float32 elements a chunk holds (slab activations + per-window tensors): 2**25 floats = 128 MiB
CHUNK_FLOATS = 1 << 25
MAX_WINDOWS = 1024
SPAN_STEP = 1024             # XLA: chunk slabs padded to a multiple of this (or of 1/8 of their octave)


def plan(model, jit_compile=True):
    """The fast scorer of a single-strand Keras model, or None when the model is not a chain this module knows.

    Parameters
    ----------
    model : keras.Model — one input (L, 4) whose first layer is a Conv1D with ``padding='valid'`` and stride 1.
    jit_compile : bool — compile the deep path with XLA (measured: 1.5x faster on CPU for the default basset).

    Returns
    -------
    ChainScorer or None.
    """
    keras = import_keras()
    if len(model.inputs) != 1 or len(model.outputs) != 1 or model.inputs[0].shape[1] is None:
        return None
    if len(model.outputs[0].shape) != 2:
        return None
    try:
        chain = plan_chain(model)
    except Exception:        # a graph that the chain walk cannot follow: no fast path, the caller cuts windows
        return None
    if chain is None:
        return None
    steps = chain["steps"]
    first = steps[0]
    if first["kind"] != "conv" or first["layer"].padding != "valid":
        return None
    if not isinstance(first["layer"], keras.layers.Conv1D):
        return None
    return ChainScorer(model, chain, jit_compile=jit_compile)


def _block_end(steps, i):
    """Index of the last element-wise step following step ``i``."""
    while i + 1 < len(steps) and steps[i + 1]["kind"] == "elementwise":
        i += 1
    return i


class ChainScorer:
    """Logits of many windows of one slab for a single-strand conv chain: shared layers computed once per chunk.

    Attributes
    ----------
    length : int — the window length L.
    n_outputs : int — T.
    shared : int — layers shared across windows on the deepest path available.
    deep : dict or None — the shift-and-stitch geometry (None: only the first block is shared).
    jit_compile : bool — the deep path runs compiled with XLA (chunks padded to few shapes).

    The scorer reads the model's weights when it runs, so it follows weights set after planning.
    """

    def __init__(self, model, chain, jit_compile=True):
        tf = import_tf()
        steps = chain["steps"]
        self.model = model
        self.length = int(chain["L"])
        self.n_outputs = int(model.outputs[0].shape[-1])
        self.full_macs = float(chain["full_macs"])
        a_end = _block_end(steps, 0)
        self._a_layers = [s["layer"] for s in steps[:a_end + 1]]
        conv1 = steps[0]
        self.S1 = conv1["S"]
        self.L_A, self.C_A = steps[a_end]["L_out"], steps[a_end]["C_out"]
        self._c1_per_pos = float(conv1["layer"].kernel_size[0] * conv1["C_in"] * conv1["C_out"])
        self._tail_a = submodel(model, steps[a_end]["layer"])
        self._tail_a_macs = float(_macs(self._tail_a))
        self.shared = a_end + 1
        self.deep = None
        if (a_end + 2 < len(steps) and steps[a_end + 1]["kind"] == "pool" and steps[a_end + 2]["kind"] == "conv"):
            self.deep = self._deep_geometry(model, steps, a_end)
        if self.deep is not None:
            self.shared = self.deep["end"] + 1
        spec_x = tf.TensorSpec([None, 4], tf.float32)
        spec_s = tf.TensorSpec([None], tf.int32)
        # autograph=False: the chunk functions have no tensor-dependent Python control flow, and AutoGraph would
        # try (and warn on the user's terminal) to convert every helper they call, import_tf's os.environ included
        self._fns = {"shallow": tf.function(self._shallow, input_signature=[spec_x, spec_s], autograph=False),
                     "cut": tf.function(self._cut, input_signature=[spec_x, spec_s], autograph=False)}
        if self.deep is not None:
            self._fns["deep"] = tf.function(self._deep, input_signature=[spec_x, spec_s], jit_compile=jit_compile,
                                            autograph=False)
        self.jit_compile = bool(jit_compile and self.deep is not None)

    # -- geometry ------------------------------------------------------------------------------------------------

    def _deep_geometry(self, model, steps, a_end):
        """The shift-and-stitch geometry of pool ``a_end + 1`` and conv ``a_end + 2``, or None where it does not pay."""
        pool, conv = steps[a_end + 1], steps[a_end + 2]
        P, st, pl, L_P = pool["P"], pool["st"], pool["pl"], pool["L_out"]
        L_A = self.L_A
        layer = conv["layer"]
        K, d = int(layer.kernel_size[0]), int(layer.dilation_rate[0])
        S2, pl2, L2 = conv["S"], conv["pl"], conv["L_out"]
        # pooled positions whose pool window lies inside the window: [j_lo, j_hi)
        j_lo = -(-pl // st)
        j_hi = min((L_A - P + pl) // st + 1, L_P)
        qmin, qmax = -pl2, L2 - 1 - pl2 + S2 - 1          # pooled positions the convolution's taps reach
        e_l = min(max(j_lo + pl2, 0), L2)                  # outputs [0, e_l) reach q < j_lo
        e_r = max(min(j_hi + pl2 - S2 + 1, L2), 0)         # outputs [e_r, L2) reach q >= j_hi
        if j_hi <= j_lo or e_l > e_r:
            return None
        ql = np.arange(qmin, j_lo)                          # differing pooled positions at each edge
        qr = np.arange(j_hi, qmax + 1)
        end = _block_end(steps, a_end + 2)
        C_in, C_out = int(layer.kernel.shape[1]), int(layer.kernel.shape[2])

        def edge_matrix(qs, js):
            # the taps of output j on input q: kernel[k] where q = j - pl2 + k d (gathered from the live kernel
            # in the compiled function, so a scorer follows its model's weights)
            k = (qs[:, None] - js[None, :] + pl2)
            ok = (k >= 0) & (k % d == 0) & (k // d < K)
            return np.clip(k // d, 0, K - 1).astype(np.int32), ok

        def edge_pool_index(qs):
            # window positions of the pool windows of the edge pooled positions that exist (0 <= q < L_P)
            qs = qs[(qs >= 0) & (qs < L_P)]
            pos = qs[:, None] * st - pl + np.arange(P)[None, :]
            return qs, pos, (pos >= 0) & (pos < L_A)

        left_pool, right_pool = edge_pool_index(ql), edge_pool_index(qr)
        tail = submodel(model, steps[end]["layer"])
        return {"P": P, "st": st, "pl": pl, "L_P": L_P, "op": pool["op"], "layer": layer, "K": K, "d": d,
                "S2": S2, "pl2": pl2, "L2": L2, "C_in": C_in, "C_out": C_out, "e_l": e_l, "e_r": e_r,
                "ql": ql, "qr": qr, "taps_l": edge_matrix(ql, np.arange(0, e_l)),
                "taps_r": edge_matrix(qr, np.arange(e_r, L2)),
                "left_pool": left_pool, "right_pool": right_pool, "qmax": qmax, "end": end,
                "post": [s["layer"] for s in steps[a_end + 3:end + 1]], "tail": tail,
                "tail_macs": float(_macs(tail)), "c2_per_pos": float(K * C_in * C_out),
                "edge_macs": float(len(ql) * e_l + len(qr) * (L2 - e_r)) * C_in * C_out}

    def describe(self):
        """One line: which layers are shared across windows on the deepest path."""
        names = [layer.name for layer in self._a_layers]
        if self.deep is not None:
            names += [self.deep["layer"].name] + [layer.name for layer in self.deep["post"]]
            g = self.deep
            how = (f"shift-and-stitch through the pool (stride {g['st']}), "
                   f"{g['e_l'] + g['L2'] - g['e_r']} of {g['L2']} edge outputs corrected")
        else:
            how = "first block only"
        return f"chain: {self.shared} layers shared across windows ({', '.join(names)}; {how})"

    # -- the compiled chunk functions (x: the chunk's slab [span, 4], rel: window starts in it [n]) ----------------

    def _slab_a(self, x):
        h = x[None]
        for layer in self._a_layers:
            h = layer(h, training=False)
        return h[0]                                                       # [span - S1 + 1, C_A]

    def _shallow(self, x, rel):
        tf = import_tf()
        a = self._slab_a(x)
        idx = rel[:, None] + tf.range(self.L_A)[None, :]
        return self._tail_a(tf.gather(a, idx), training=False)

    def _cut(self, x, rel):
        tf = import_tf()
        idx = rel[:, None] + tf.range(self.length)[None, :]
        return self.model(tf.gather(x, idx), training=False)

    def _deep(self, x, rel):
        tf = import_tf()
        g = self.deep
        P, st, pl, pl2, layer = g["P"], g["st"], g["pl"], g["pl2"], g["layer"]
        a = self._slab_a(x)                                               # [LA_slab, C]
        if g["op"] == "max":
            m = tf.nn.max_pool1d(a[None], P, 1, "VALID")[0]              # m[u] = pool of a[u:u+P]
        else:
            m = tf.nn.avg_pool1d(a[None], P, 1, "VALID")[0]
        # pooled position q of the window at rel sits at m[rel - pl + q st]; pad m so every tap exists
        pad_l = pl + pl2 * st
        # the last tap, rel[-1] - pl + qmax st, lies at most this far past m's end (rel[-1] <= span - L): a
        # static pad, so the compiled function has static shapes under XLA
        pad_r = max(g["qmax"] * st + P - pl - self.L_A, 0)
        mp = tf.pad(m, [[pad_l, pad_r], [0, 0]])
        z = tf.nn.conv1d(mp[None], layer.kernel, 1, "VALID", dilations=g["d"] * st)[0]
        if layer.use_bias:
            z = z + layer.bias
        # the window's output j is at z[rel + j st]

        def finish(v):
            v = layer.activation(v)
            for post in g["post"]:
                v = post(v, training=False)
            return v

        e = finish(z[None])[0]
        neg = tf.constant(-np.inf, tf.float32)

        def edge(qs, pool_geom, js, w):
            # the window's own values at the differing pooled positions minus the slab's, then the taps on them
            n = tf.shape(rel)[0]
            slab_vals = tf.gather(mp, rel[:, None] + (qs * st + pl2 * st)[None, :])      # [n, Q, C]
            own_q, pos, inside = pool_geom
            if len(own_q) == 0:                                           # only the convolution's zero padding
                diff = -slab_vals
            else:
                diff = own_diff(own_q, pos, inside, qs, slab_vals, n)
            kidx, ok = w
            taps = tf.where(ok[:, :, None, None], tf.gather(layer.kernel, kidx), 0.0)   # [Q, J, C_in, C_out]
            w = tf.reshape(tf.transpose(taps, [0, 2, 1, 3]), [len(qs) * g["C_in"], len(js) * g["C_out"]])
            corr = tf.matmul(tf.reshape(diff, [n, len(qs) * g["C_in"]]), w)
            zv = tf.gather(z, rel[:, None] + (js * st)[None, :]) + tf.reshape(corr, [n, len(js), g["C_out"]])
            return finish(zv)

        def own_diff(own_q, pos, inside, qs, slab_vals, n):
            own = tf.gather(a, rel[:, None, None] + np.clip(pos, 0, self.L_A - 1)[None])  # [n, Qo, P, C]
            if g["op"] == "max":
                own = tf.reduce_max(tf.where(inside[None, :, :, None], own, neg), axis=2)
            else:
                mask = tf.constant(inside[None, :, :, None], tf.float32)
                own = tf.reduce_sum(own * mask, axis=2) / tf.reduce_sum(mask, axis=2)
            # scatter the existing positions into the differing set (the others are the zero padding)
            where = np.searchsorted(qs, own_q).astype(np.int32)
            own_full = tf.scatter_nd(where[:, None], tf.transpose(own, [1, 0, 2]),
                                     tf.stack([len(qs), n, g["C_in"]]))
            return tf.transpose(own_full, [1, 0, 2]) - slab_vals

        parts = []
        if g["e_l"]:
            parts.append(edge(g["ql"], g["left_pool"], np.arange(0, g["e_l"]), g["taps_l"]))
        if g["e_r"] > g["e_l"]:
            parts.append(tf.gather(e, rel[:, None] + (np.arange(g["e_l"], g["e_r"]) * st)[None, :]))
        if g["e_r"] < g["L2"]:
            parts.append(edge(g["qr"], g["right_pool"], np.arange(g["e_r"], g["L2"]), g["taps_r"]))
        full = parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)
        return g["tail"](full, training=False)

    # -- chunking and the path per chunk -------------------------------------------------------------------------

    def _costs(self, span, n):
        """Estimated multiply-adds per window of each path for a chunk of ``n`` windows over ``span`` bases."""
        per = span / n
        costs = {"cut": self.full_macs, "shallow": self._c1_per_pos * per + self._tail_a_macs}
        if self.deep is not None:
            g = self.deep
            costs["deep"] = (self._c1_per_pos + g["c2_per_pos"]) * per + g["edge_macs"] + g["tail_macs"]
        return costs

    def _chunks(self, starts):
        """(first, stop) index ranges of ``starts``: bounded windows and bases, split where windows stop overlapping."""
        L = self.length
        width = max(self.C_A, self.deep["C_out"] if self.deep else 0)
        span_max = max(CHUNK_FLOATS // (4 * width), 4 * L)
        # per window: its gathered activations and the tail's (the deep path's, or the first block's slice)
        per_window = self.deep["L2"] * self.deep["C_out"] * 4 if self.deep else self.L_A * self.C_A * 3
        n_max = int(np.clip(CHUNK_FLOATS // per_window, 16, MAX_WINDOWS))
        breaks = np.flatnonzero(np.diff(starts) >= L) + 1                  # no shared bases across these
        out, i, n = [], 0, len(starts)
        while i < n:
            nb = breaks[np.searchsorted(breaks, i, side="right")] if np.any(breaks > i) else n
            stop = min(i + n_max, nb, int(np.searchsorted(starts, starts[i] + span_max - L, side="right")))
            stop = max(stop, i + 1)
            out.append((i, stop))
            i = stop
        return out

    def logits(self, slab, starts, path=None):
        """Logits of the windows ``slab[s:s+L]``, ``s`` in ``starts``: equal to cutting them and calling the model.

        Parameters
        ----------
        slab : np.ndarray uint8 [S, 4] — one-hot bases (N = all-zero rows).
        starts : np.ndarray int64 [n] — window starts, ascending, ``start + L <= S``.
        path : {None, 'deep', 'shallow', 'cut'} — force a path (tests, measurements); None picks per chunk.

        Returns
        -------
        np.ndarray float32 [n, T].
        """
        tf = import_tf()
        slab, starts = np.asarray(slab), np.asarray(starts, np.int64)
        if slab.ndim != 2 or slab.shape[1] != 4:
            raise SeqcnnError(f"expected a one-hot slab of shape (S, 4), got {slab.shape}",
                              hint="encode the genome with seqcnn.encoding.one_hot")
        if starts.ndim != 1 or (starts.size and (starts[0] < 0 or starts[-1] + self.length > len(slab)
                                                 or np.any(np.diff(starts) < 0))):
            raise SeqcnnError(f"window starts must be ascending in 0..{len(slab) - self.length} for "
                              f"{self.length} bp windows of a {len(slab)} bp slab",
                              hint="sort the starts and keep every window inside the slab")
        if path not in (None, "deep", "shallow", "cut"):
            raise SeqcnnError(f"unknown scan path {path!r}", hint="use 'deep', 'shallow', 'cut' or None")
        out = np.empty((len(starts), self.n_outputs), np.float32)
        if path == "deep" and self.deep is None:
            path = "shallow"
        for i, stop in self._chunks(starts):
            first, last = int(starts[i]), int(starts[stop - 1])
            span = last - first + self.length
            use = path or min((c, k) for k, c in self._costs(span, stop - i).items())[1]
            rel = starts[i:stop] - first
            if use == "deep" and self.jit_compile:
                # XLA compiles once per shape: windows padded to a power of two (the last start repeated) and
                # bases to one of 8 sizes per octave (zero rows after the last window, which no window reads)
                n_pad = max(16, 1 << (len(rel) - 1).bit_length())
                rel = np.r_[rel, np.full(n_pad - len(rel), rel[-1])]
                step = max(SPAN_STEP, 1 << max(span.bit_length() - 3, 0))
                x = np.zeros((-(-span // step) * step, 4), np.float32)
                x[:span] = slab[first:first + span]
            else:
                x = slab[first:first + span].astype(np.float32)
            res = self._fns[use](tf.constant(x), tf.constant(rel, tf.int32)).numpy()
            out[i:stop] = res[:stop - i]
        return out
