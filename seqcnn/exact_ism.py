"""Exact in-silico mutagenesis (ISM) of one-hot sequences for any Keras model, fast where the architecture allows.

Definition (logit space, one model output ``t``)::

    delta[n, i, b, t] = f_t(x_n with position i set to base b) - f_t(x_n)

zero at the reference base. ``f`` is the model's logit (models from ``seqcnn.models``
output logits).

Why it is fast. A substitution at position ``i`` changes the first (valid, undilated)
convolution only at the ``kernel_size`` output positions whose window covers ``i``.
So the first layer is never re-run: its change is ``W[i - p, b] - W[i - p] · x_i`` on
that window. What follows is propagated as far as the architecture allows:

- ``global``: conv → global max (+ global average) → anything. The new global max is
  ``max(max over the window's new activations, max of the untouched positions)``, the
  latter from prefix/suffix maxima of the reference activations; the average moves by
  the window's change / P. Only the small dense head runs per mutant. With a relu convolution
  (DeepBind, Zeng) the window loop is a numba kernel (:mod:`seqcnn.ism_numba`, the three
  non-reference bases only); other activations run it as one XLA program.
- ``local``: conv → MaxPool1D(s, stride s) → Flatten → Dense → anything. A mutation
  changes at most ``(K - 1) // s + 2`` pooled outputs, so the Dense layer's
  pre-activation changes by ``W1 · Δ`` over those few features.
- ``naive`` (batched full forward passes): anything else (a chain too short to save work,
  unknown layers right after the input) and any Keras model with a one-hot input: the 3·L mutants of a group
  of sequences are built inside one compiled function and run through the whole model in
  equal memory-budgeted slices, returning delta directly (an ``N`` row's fourth
  substitution, to A, runs apart).
- ``window``: a chain of known layers after the input (convolutions of any padding and
  dilation, batch norm, activations, max/average pooling; :mod:`seqcnn.ism_stack`) is recomputed
  only on the window each substitution reaches, layer by layer, and the rest of the model (flatten,
  dense, global pooling, unknown layers) runs on the chain's reference output with the window patched
  in: the fastISM idea. ``auto`` picks it when it needs at most ``WINDOW_SHARE`` of a full
  pass's multiply-adds (Basset-like stacks at 200 bp and longer).

All paths are exact (float32 round-off, ~1e-6 on logits); the tests compare each with
a plainly written naive ISM on every factory architecture.

Wrapped models are planned through their parts: a strand-averaged model runs its single-strand model's path on
both strands, mirrored (``_StrandKernels``); a replicate ensemble (``seqcnn train --replicates``) runs each
member's path and averages the deltas (``_EnsembleKernels``: ISM is linear in the model).

Provides :func:`ism` (in memory), :func:`iter_ism` (batch by batch, for streaming),
:func:`ism_method`, :func:`kernels` (the compiled functions of one model, cached) and
:func:`naive_ism` (brute force, for checks). The ``seqcnn mutagenesis`` verb around them
(selection, the ISM file, figures) is :mod:`seqcnn.mutagenesis`.
"""

import numpy as np

from ._tf import import_keras, import_tf
from .encoding import reverse_complement
from .errors import ModelMismatchError, SeqcnnError
from .graph import consumers, first_conv, inbound_layers, submodel
from .ism_numba import relu_window, relu_window_step
from .ism_stack import ChainISM, plan_chain
from .models import ensemble_members, strand_inner


METHODS = ("auto", "global", "local", "window", "naive")


# Elements of the largest intermediate tensor per batch (float32: 4 bytes each). 2**24 keeps each
# batch's working set near 64-200 MB while leaving batches large enough to amortise call overhead.
_BUDGET = 1 << 24


def _plan(model):
    """Decide the fastest exact method for ``model``: a dict with ``method`` and what it needs."""
    keras = import_keras()
    L = int(model.inputs[0].shape[1])
    conv = first_conv(model)
    if conv is None:
        return _stack_or_naive(model, {"L": L})
    base = {"conv": conv, "L": L, "K": int(conv.kernel_size[0]), "F": int(conv.filters)}
    base["P"] = L - base["K"] + 1
    users = consumers(model, conv)
    kinds = sorted(type(c).__name__ for c in users)
    if kinds in (["GlobalMaxPooling1D"], ["GlobalAveragePooling1D", "GlobalMaxPooling1D"]):
        gmax = next(c for c in users if isinstance(c, keras.layers.GlobalMaxPooling1D))
        gavg = next((c for c in users if isinstance(c, keras.layers.GlobalAveragePooling1D)), None)
        ok = all(getattr(c, "data_format", "channels_last") == "channels_last" and not getattr(c, "keepdims", False)
                 for c in users)
        if gavg is None and ok:
            return {**base, "method": "global", "head_from": gmax, "order": ["max"]}
        if ok:
            # Both must feed one Concatenate (DeepBind's max+avg) on the last axis.
            cm, ca = consumers(model, gmax), consumers(model, gavg)
            if (len(cm) == 1 and len(ca) == 1 and cm[0] is ca[0] and isinstance(cm[0], keras.layers.Concatenate)
                    and cm[0].axis in (-1, 1) and len(inbound_layers(cm[0])) == 2):
                order = ["max" if src is gmax else "avg" for src in inbound_layers(cm[0])]
                return {**base, "method": "global", "head_from": cm[0], "order": order}
    if len(users) == 1 and isinstance(users[0], keras.layers.MaxPooling1D):
        pool = users[0]
        s = int(pool.pool_size[0])
        stride = int(pool.strides[0]) if pool.strides is not None else s
        nxt = consumers(model, pool)
        if (pool.padding == "valid" and stride == s and pool.data_format == "channels_last" and base["P"] >= s
                and len(nxt) == 1 and isinstance(nxt[0], keras.layers.Flatten)):
            dense = consumers(model, nxt[0])
            if len(dense) == 1 and isinstance(dense[0], keras.layers.Dense):
                return {**base, "method": "local", "s": s, "J": base["P"] // s, "dense": dense[0]}
    return _stack_or_naive(model, base)


# 'auto' takes the windowed path when it needs at most this share of a full forward pass's multiply-adds:
# below that its gathers and the per-layer slicing cost more than the arithmetic saved.
WINDOW_SHARE = 0.4
# ... and when a full pass is heavy enough: on small models the per-call overhead of the window gathers
# dominates (a 6-filter Basset at 101 bp ran at 0.6x naive). From WINDOW_XLA_MACS on, the window function is
# compiled with XLA, which fuses the gathers, masks and element-wise layers around the convolutions: measured
# 1.5x faster for Basset at 200 bp (41 against 28 seq/s, batches of ~1,300 mutants) and 1.4x at 1,000 bp.
WINDOW_MIN_MACS = 1_000_000
WINDOW_XLA_MACS = 1_000_000


def _stack_or_naive(model, base):
    """The ``window`` plan (:mod:`seqcnn.ism_stack`) when it saves enough work, else ``naive``."""
    chain = plan_chain(model)
    if chain is None:
        return {**base, "method": "naive"}
    plan = {**base, "chain": chain}
    worth = (chain["deep"] and chain["window_macs"] <= WINDOW_SHARE * chain["full_macs"]
             and chain["full_macs"] >= WINDOW_MIN_MACS)
    return {**plan, "method": "window" if worth else "naive"}


def ism_method(model):
    """Name of the exact method :func:`ism` uses for ``model``: 'global', 'local', 'window' or 'naive'.

    For a strand-averaged model (:func:`seqcnn.models.strand_average`) it is the method of the single-strand
    model inside, which runs once per strand; for a replicate ensemble (:func:`seqcnn.models.replicate_average`)
    the members' method (their distinct methods joined by '+' where they differ), each member planned alone.
    """
    members = ensemble_members(model)
    if members is not None:
        return _joined([ism_method(m) for m in members])
    return _plan(strand_inner(model) or model)["method"]


def _joined(methods):
    """One method name for several members: the name they share, else their distinct names joined by '+'."""
    return "+".join(dict.fromkeys(methods))


def _rc(x):
    """Reverse complement of one-hot ``[n, L, 4]``, contiguous (the ISM kernels take it as a new batch)."""
    return np.ascontiguousarray(reverse_complement(x))


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


class _Kernels:
    """Compiled ISM functions for one model (built once, reused for every batch)."""

    def __init__(self, model, method="auto", jit_compile=None):
        tf = import_tf()
        self.model = model
        plan = _plan(model)
        if method != "auto":
            if method not in METHODS:
                raise SeqcnnError(f"unknown ISM method {method!r}", hint=f"use one of {', '.join(METHODS)}")
            if method == "window" and "chain" not in plan:   # the shortcut paths' plans name no chain
                chain = plan_chain(model)
                plan = {**plan, "chain": chain} if chain is not None else plan
            if method != "naive" and method != plan["method"] and not (method == "window" and "chain" in plan):
                # 'window' needs only a chain of known layers after the input
                raise SeqcnnError(f"ISM method {method!r} does not apply to this model (it supports "
                                  f"{plan['method']!r})")
            plan = {**plan, "method": method}
        self.plan = plan
        self.method = plan["method"]
        self.L = plan["L"]
        self.T = int(model.outputs[0].shape[-1])
        # XLA fuses the window arithmetic (measured ~4x on the global-max path); the mutant-list paths
        # run ordinary convolutions, where XLA on CPU was not faster.
        if jit_compile is None:
            jit = self.method in ("global", "local") or (
                self.method == "window" and plan["chain"]["full_macs"] >= WINDOW_XLA_MACS)
        else:
            jit = bool(jit_compile)
        self.jit = jit
        self.fixed_batch = self.method in ("global", "local")  # one compiled XLA shape: pad short batches
        L = self.L
        spec_x = tf.TensorSpec([None, L, 4], tf.float32)
        self.forward = tf.function(lambda x: model(x, training=False), input_signature=[spec_x])
        if self.method in ("global", "local"):
            conv = plan["conv"]
            K, F, P = plan["K"], plan["F"], plan["P"]
            W = tf.convert_to_tensor(conv.kernel)  # [K, 4, F]
            b = tf.convert_to_tensor(conv.bias) if conv.use_bias else tf.zeros([F])
            act = conv.activation
            # The reference convolution as an ordinary TF op (oneDNN): XLA's own CPU convolution measured
            # several times slower, so the shortcut paths compile everything after it as one XLA program.
            conv_ref = tf.function(lambda x: tf.nn.conv1d(x, W, 1, "VALID") + b, input_signature=[spec_x])
        if self.method == "global":
            head = submodel(model, plan["head_from"])
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
            kernel = relu_window() if getattr(act, "__name__", "") == "relu" and jit_compile is None else None
            if kernel is not None:
                self.step = relu_window_step(kernel, W, b, head, Dk, order, self.L, self.T)
                self.fixed_batch = False
        elif self.method == "local":
            s, J, dense = plan["s"], plan["J"], plan["dense"]
            head = submodel(model, dense)
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
            self.stack = ChainISM(model, plan["chain"], jit_compile=jit)
            self.per_mutant = self.stack.per_mutant
        else:
            spec_i = tf.TensorSpec([None], tf.int32)

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
        fn_c = import_tf().function(fn, jit_compile=jit)

        def step(x):
            return fn_c(x, conv_ref(x))

        return step

    def group_fn(self, nb):
        """The compiled naive-ISM function for groups of ``nb`` sequences (cached per slice size).

        x float32 [n, L, 4] (n <= nb best) → (delta [n, L, 4, T] with the A column of N rows unset, ref [n, T]).
        The slice size divides nb·3L into equal slices of at most :meth:`mutant_batch` mutants, so a full
        group computes no padded mutant.
        """
        tf = import_tf()
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
        # The window path's per-mutant estimate counts every slice at its widest; twice the budget there gave
        # batches of ~1,300 basset mutants at 200 bp, measured 1.1x the speed of ~640 (alternating, 3 rounds).
        budget = _BUDGET * (8 if self.method == "window" else 4)
        return int(np.clip(budget // max(self.per_mutant, 1), 64, 4096))

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
        tf = import_tf()
        n, L = x.shape[:2]
        # Every real substitution: positions where x is 0 (three per A/C/G/T row, four per N row).
        n_idx, l_idx, b_idx = np.nonzero(x == 0)
        n_idx, l_idx, b_idx = (a.astype(np.int32) for a in (n_idx, l_idx, b_idx))
        xt = tf.constant(x)
        ref = self.forward(xt).numpy()
        refs = self.stack.refs(xt) if self.method == "window" else None
        delta = np.zeros((n, L, 4, self.T), np.float32)
        mb = self.mutant_batch()
        for start in range(0, len(n_idx), mb):
            sl = slice(start, start + mb)
            cn, cl, cb = n_idx[sl], l_idx[sl], b_idx[sl]
            real = len(cn)
            target = mb if len(n_idx) > mb else real
            if self.jit and real < mb:
                # XLA compiles each chunk size anew (~1 s): round a short chunk up to a power of two, so a
                # run sees a few sizes at most
                target = min(mb, 1 << int(np.ceil(np.log2(max(real, 1)))))
            if real < target:
                # Pad the chunk to the compiled shape (one trace); padded rows are discarded.
                pad = target - real
                cn, cl, cb = (np.concatenate([a, np.repeat(a[:1], pad)]) for a in (cn, cl, cb))
            if self.method == "window":
                out = self.stack.chunk(xt, refs, cn, cl, cb).numpy()[:real]
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


class _StrandKernels:
    """ISM of a strand-averaged model ``g(x) = (f(x) + f(rc x)) / 2`` from the exact ISM of ``f`` on both strands.

    Substituting base ``b`` at position ``i`` of ``x`` substitutes ``3 - b`` at ``L - 1 - i`` of ``rc(x)``, so
    ``delta_g[i, b] = (delta_f(x)[i, b] + delta_f(rc x)[L - 1 - i, 3 - b]) / 2``: exact, at twice the cost
    of ``f``'s fastest path.
    """

    def __init__(self, model, inner_kernels):
        tf = import_tf()
        self.model, self.inner = model, inner_kernels
        for name in ("method", "plan", "L", "T", "jit", "fixed_batch"):
            setattr(self, name, getattr(inner_kernels, name))
        spec_x = tf.TensorSpec([None, self.L, 4], tf.float32)
        self.forward = tf.function(lambda x: model(x, training=False), input_signature=[spec_x])

    def seq_batch(self, batch_size=None):
        return self.inner.seq_batch(batch_size)

    def mutant_batch(self):
        return self.inner.mutant_batch()

    def run(self, x, nb=None):
        """ISM of one batch: x float32 [n, L, 4] → (delta [n, L, 4, T], reference [n, T]) as numpy."""
        d_f, r_f = self.inner.run(x, nb)
        d_r, r_r = self.inner.run(_rc(x), nb)
        return 0.5 * (d_f + d_r[:, ::-1, ::-1]), 0.5 * (r_f + r_r)


class _EnsembleKernels:
    """ISM of a replicate ensemble ``g(x) = (f_1(x) + ... + f_K(x)) / K`` as the mean of its members' exact ISMs.

    ISM is linear in the model: ``delta_g = (delta_f1 + ... + delta_fK) / K``, each member on its own fastest
    exact path (a strand-averaged member by :class:`_StrandKernels`), never the naive path on the averaged graph.
    """

    def __init__(self, model, member_kernels):
        tf = import_tf()
        self.model, self.members = model, member_kernels
        first = member_kernels[0]
        self.L, self.T = first.L, first.T
        self.method = _joined([k.method for k in member_kernels])
        self.plan = first.plan
        self.jit = any(k.jit for k in member_kernels)
        # one member on a fixed compiled shape (global, local) makes iter_ism pad every batch to it
        self.fixed_batch = any(k.fixed_batch for k in member_kernels)
        spec_x = tf.TensorSpec([None, self.L, 4], tf.float32)
        self.forward = tf.function(lambda x: model(x, training=False), input_signature=[spec_x])

    def seq_batch(self, batch_size=None):
        return min(k.seq_batch(batch_size) for k in self.members)

    def mutant_batch(self):
        return min(k.mutant_batch() for k in self.members)

    def run(self, x, nb=None):
        """ISM of one batch: x float32 [n, L, 4] → (delta [n, L, 4, T], reference [n, T]) as numpy."""
        delta, ref = self.members[0].run(x, nb)
        delta, ref = np.array(delta, np.float32), np.array(ref, np.float32)
        for k in self.members[1:]:
            d, r = k.run(x, nb)
            delta += d
            ref += r
        # as keras's Average: the sum in member order, divided by K
        K = np.float32(len(self.members))
        return delta / K, ref / K


_KERNEL_CACHE = {}


def kernels(model, method="auto", jit_compile=None):
    """The compiled ISM functions of ``model`` for ``method`` (built on first use, then cached per model)."""
    key = (id(model), method, jit_compile)
    hit = _KERNEL_CACHE.get(key)
    if hit is None or hit.model is not model:
        members = ensemble_members(model)
        if members is not None:
            # each member planned alone (its strand average mirrored), their deltas averaged
            hit = _EnsembleKernels(model, [kernels(m, method, jit_compile) for m in members])
        else:
            inner = strand_inner(model)
            hit = (_Kernels(model, method, jit_compile) if inner is None else
                   _StrandKernels(model, kernels(inner, method, jit_compile)))
        _KERNEL_CACHE[key] = hit
    return hit


def output_index(output, n_outputs, names=None):
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


def single_output(output, n_outputs, names=None):
    """The one output a verb works on: ``output`` resolved, or 0 for a single-output model; several need it."""
    k = output_index(output, n_outputs, names)
    if k is None:
        if n_outputs > 1:
            raise SeqcnnError(f"the model has {n_outputs} outputs: choose one with --output",
                              hint=f"an index 0..{n_outputs - 1}" + (f" or a name ({', '.join(names)})"
                                                                    if names else ""))
        k = 0
    return k


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
    kern = kernels(model, method, jit_compile)
    if x.shape[1] != kern.L:
        raise ModelMismatchError(f"the model takes {kern.L} bp sequences but these are {x.shape[1]} bp")
    k = output_index(output, kern.T)
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


class _SingleKernels:
    """Compiled logits of sequences and of one substitution in each (for scoring SNVs), for one model."""

    def __init__(self, model):
        tf = import_tf()
        plan = _plan(model)
        self.model, self.L, self.T = model, plan["L"], int(model.outputs[0].shape[-1])
        L = self.L
        spec = [tf.TensorSpec([None, L, 4], tf.float32), tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32)]
        if plan["method"] == "global":
            # The first convolution runs once, on the reference (oneDNN, as in ``_after_conv``). The mutant
            # differs only at the K conv positions whose window covers the substitution: its global max is
            # the larger of the reference's max outside them and the K new values, its average moves by their
            # change / P. Then the small head runs on both feature vectors; all after the conv is one XLA
            # program. (The general form, the whole network after the conv on the mutant's conv output,
            # measured 0.4-0.7x two forward passes.)
            conv, K, P, order = plan["conv"], plan["K"], plan["P"], plan["order"]
            W = tf.convert_to_tensor(conv.kernel)                          # [K, 4, F]
            b = tf.convert_to_tensor(conv.bias) if conv.use_bias else tf.zeros([plan["F"]])
            Wt = tf.transpose(W, [1, 0, 2])                                # [4, K, F]
            act, head = conv.activation, submodel(model, plan["head_from"])
            conv_ref = tf.function(lambda x: tf.nn.conv1d(x, W, 1, "VALID") + b, input_signature=spec[:1])
            self.method = "global"

            def after(x, Z, pos, base):
                n = tf.shape(x)[0]
                A = act(Z)                                                 # [n, P, F]
                xrow = tf.gather(x, pos, batch_dims=1)                     # [n, 4]: 0 at an N row
                D = tf.gather(Wt, base) - tf.einsum("nc,kcf->nkf", xrow, W)   # change by kernel row [n, K, F]
                p = pos[:, None] - tf.range(K)[None, :]                    # conv position of kernel row j [n, K]
                valid = (p >= 0) & (p < P)
                Zw = tf.gather(Z, tf.clip_by_value(p, 0, P - 1), batch_dims=1)   # [n, K, F]
                Aw, Aw_new = act(Zw), act(Zw + D)
                r = tf.range(P)[None, :]
                window = (r > pos[:, None] - K) & (r <= pos[:, None])          # the K changed conv positions [n, P]
                neg = tf.constant(-np.inf, tf.float32)
                outside = tf.reduce_max(tf.where(window[:, :, None], neg, A), axis=1)          # [n, F]
                ref_feats = {"max": tf.reduce_max(A, axis=1), "avg": tf.reduce_mean(A, axis=1)}
                alt_feats = {"max": tf.maximum(outside, tf.reduce_max(tf.where(valid[:, :, None], Aw_new, neg), 1)),
                             "avg": ref_feats["avg"] + tf.reduce_sum(
                                 tf.where(valid[:, :, None], Aw_new - Aw, 0.0), 1) / P}
                feats = [tf.concat([f[k] for k in order], -1) for f in (ref_feats, alt_feats)]
                out = head(tf.concat(feats, 0), training=False)
                return out[:n], out[n:]

            after_c = tf.function(after, jit_compile=True)

            def fn(x, pos, base):
                return after_c(x, conv_ref(x), pos, base)
        else:
            # Other architectures: the mutant through the whole model (measured no faster any other way).
            self.method = "forward"

            def fn(x, pos, base):
                n = tf.shape(x)[0]
                at = tf.one_hot(pos, L)[:, :, None]                        # [n, L, 1]
                xm = x * (1.0 - at) + at * tf.one_hot(base, 4)[:, None, :]
                out = model(tf.concat([x, xm], 0), training=False)
                return out[:n], out[n:]

        self.fn = fn if self.method == "global" else tf.function(fn, input_signature=spec)


_SINGLE_CACHE = {}


def single_substitutions(model, x, pos, base, batch_size=512):
    """Logits of sequences and of each with one base substituted: exact, the first convolution run once.

    Parameters
    ----------
    model : keras.Model — input shape=(batch, L, 4), logit outputs shape=(batch, T).
    x : np.ndarray, shape=(n, L, 4) — one-hot reference sequences (all-zero rows for N allowed).
    pos : np.ndarray of int, shape=(n,) — the substituted position in each sequence.
    base : np.ndarray of int, shape=(n,) — the new base there (0..3 for A, C, G, T).

    Returns
    -------
    ref, alt : np.ndarray, float32, shape=(n, T) — logits of x and of the substituted sequences.
    """
    members = ensemble_members(model)
    if members is not None:
        # a replicate ensemble: the mean of its members' logits, each member on its own fast path
        parts = [single_substitutions(m, x, pos, base, batch_size) for m in members]
        K = np.float32(len(parts))
        return sum(p[0] for p in parts) / K, sum(p[1] for p in parts) / K
    inner = strand_inner(model)
    if inner is not None:
        # g = (f(x) + f(rc x)) / 2, and the substitution (pos, base) of x is (L - 1 - pos, 3 - base) of rc(x).
        x = np.asarray(x)
        r_f, a_f = single_substitutions(inner, x, pos, base, batch_size)  # checks x's shape first
        r_r, a_r = single_substitutions(inner, _rc(x), x.shape[1] - 1 - np.asarray(pos), 3 - np.asarray(base),
                                        batch_size)
        return 0.5 * (r_f + r_r), 0.5 * (a_f + a_r)
    key = id(model)
    kern = _SINGLE_CACHE.get(key)
    if kern is None or kern.model is not model:
        kern = _SINGLE_CACHE[key] = _SingleKernels(model)
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1:] != (kern.L, 4):
        raise ModelMismatchError(f"the model takes ({kern.L}, 4) one-hot sequences, not {x.shape[1:]}")
    pos, base = np.asarray(pos, np.int32), np.asarray(base, np.int32)
    refs, alts = [], []
    for s in range(0, len(x), batch_size):
        r, a = kern.fn(np.asarray(x[s:s + batch_size], np.float32), pos[s:s + batch_size], base[s:s + batch_size])
        refs.append(r.numpy())
        alts.append(a.numpy())
    if not refs:
        return np.zeros((0, kern.T), np.float32), np.zeros((0, kern.T), np.float32)
    return np.concatenate(refs), np.concatenate(alts)


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
