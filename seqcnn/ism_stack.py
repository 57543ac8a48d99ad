"""Windowed exact ISM through stacks of convolutions: the fastISM idea for any chain of known layers.

A substitution at input position ``i`` changes only a window of each layer's output: the
positions whose receptive field covers ``i``. This module carries that window layer by layer,
from the one-hot input through a chain of known layers, recomputing each layer only on the
window (plus the reference values it needs around it), and then runs the rest of the model
(the *tail*: flatten, dense, global pooling, anything unknown) on the reference output of the
chain's last layer with the window patched in. The result is exact: every value it uses is
either recomputed or the reference value of a position the substitution cannot reach.

Known layers (the chain stops at the first other layer, or at a layer with several inputs or
consumers):

- ``Conv1D``: stride 1, any kernel size and dilation, padding ``valid``, ``same`` or ``causal``,
  one group, channels last, any activation;
- ``MaxPooling1D`` and ``AveragePooling1D``: any pool size and stride, padding ``valid`` or
  ``same`` (padding never enters a maximum; averages count only real positions, as TensorFlow does);
- element-wise layers: ``BatchNormalization`` (inference, on the channel axis), ``Activation``,
  ``ReLU``, ``LeakyReLU``, ``ELU``, ``PReLU`` (shared over positions), ``Dropout``,
  ``SpatialDropout1D``, ``GaussianNoise``, ``GaussianDropout`` (identities at inference).

Provides :func:`plan_chain` (the chain, each layer's window geometry, and the estimated work per
mutant against a full forward pass) and :class:`ChainISM` (the compiled mutant function).
:mod:`seqcnn.exact_ism` uses them as its ``window`` path and picks it when the estimate says it needs at
most ``WINDOW_SHARE`` (0.4) of a full pass's work, compiled with XLA (which fuses the gathers and masks
around the window convolutions).
"""

import numpy as np

from ._tf import import_keras, import_tf
from .graph import consumers, inbound_layers, submodel

_ELEMENTWISE = ("BatchNormalization", "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Dropout",
                "SpatialDropout1D", "GaussianNoise", "GaussianDropout")


def _conv_geometry(layer, L_in):
    """(span S, left padding, output length) of a Conv1D the chain accepts, or None."""
    if (tuple(layer.strides) != (1,) or getattr(layer, "groups", 1) != 1 or layer.data_format != "channels_last"
            or layer.padding not in ("valid", "same", "causal")):
        return None
    K, d = int(layer.kernel_size[0]), int(layer.dilation_rate[0])
    S = d * (K - 1) + 1
    if layer.padding == "valid":
        return (S, 0, L_in - S + 1) if L_in >= S else None
    return S, (S - 1) // 2 if layer.padding == "same" else S - 1, L_in


def _pool_geometry(layer, L_in):
    """(pool, stride, left padding, output length) of a 1-D pooling layer the chain accepts, or None."""
    if layer.data_format != "channels_last" or layer.padding not in ("valid", "same"):
        return None
    P = int(layer.pool_size[0])
    st = int(layer.strides[0]) if layer.strides is not None else P
    if layer.padding == "valid":
        if L_in < P:
            return None
        return P, st, 0, (L_in - P) // st + 1
    L_out = -(-L_in // st)
    return P, st, max((L_out - 1) * st + P - L_in, 0) // 2, L_out


def _elementwise_ok(layer):
    keras = import_keras()
    if isinstance(layer, keras.layers.BatchNormalization):
        axis = layer.axis[0] if isinstance(layer.axis, (list, tuple)) and len(layer.axis) == 1 else layer.axis
        return axis in (-1, 2)
    if isinstance(layer, keras.layers.PReLU):
        # one slope per channel, shared over positions, so it applies to any window length
        return tuple(getattr(layer, "shared_axes", None) or ()) == (1,)
    return type(layer).__name__ in _ELEMENTWISE


def plan_chain(model):
    """The chain of known layers after the input and the window each substitution reaches in every layer.

    Returns
    -------
    dict or None — None when the input does not feed one known layer. Otherwise ``steps`` (one dict per
    layer: ``layer``, ``kind`` ('conv', 'pool' or 'elementwise'), ``L_in``, ``L_out``, ``C_in``, ``C_out``,
    ``W`` (window width in its output) and ``start`` (int32 [L]: the window's first output position for a
    substitution at each input position), plus the geometry of its kind), ``tail_from`` (the last chain
    layer), ``window_macs`` and ``full_macs`` (estimated multiply-adds per mutant: windowed, and a full
    forward pass), and ``deep`` (the chain goes beyond the first layer's element-wise followers).
    """
    keras = import_keras()
    if len(model.inputs) != 1 or model.inputs[0].shape[-1] != 4:
        return None
    L = int(model.inputs[0].shape[1])
    layer = model.inputs[0]._keras_history.operation
    lo, hi = np.arange(L), np.arange(L) + 1          # changed window [lo, hi) in the current layer's output
    L_cur, C_cur = L, 4
    steps = []
    while True:
        users = consumers(model, layer)
        if len(users) != 1:
            break
        nxt = users[0]
        if len(inbound_layers(nxt)) != 1 or len(nxt._inbound_nodes) != 1:
            break
        step = {"layer": nxt, "L_in": L_cur, "C_in": C_cur}
        if isinstance(nxt, keras.layers.Conv1D) and not isinstance(nxt, keras.layers.Conv1DTranspose):
            g = _conv_geometry(nxt, L_cur)
            if g is None:
                break
            S, pl, L_out = g
            step.update(kind="conv", S=S, pl=pl, L_out=L_out, C_out=int(nxt.filters))
            lo, hi = lo + pl - S + 1, hi + pl
        elif isinstance(nxt, (keras.layers.MaxPooling1D, keras.layers.AveragePooling1D)):
            g = _pool_geometry(nxt, L_cur)
            if g is None:
                break
            P, st, pl, L_out = g
            step.update(kind="pool", P=P, st=st, pl=pl, L_out=L_out, C_out=C_cur,
                        op="max" if isinstance(nxt, keras.layers.MaxPooling1D) else "avg")
            lo, hi = -(-(lo + pl - P + 1) // st), (hi - 1 + pl) // st + 1
        elif _elementwise_ok(nxt):
            step.update(kind="elementwise", L_out=L_cur, C_out=C_cur)
        else:
            break
        lo, hi = np.clip(lo, 0, step["L_out"]), np.clip(hi, 0, step["L_out"])
        W = int(min(max(int((hi - lo).max()), 1), step["L_out"]))
        step["W"] = W
        step["start"] = np.clip(lo, 0, step["L_out"] - W).astype(np.int32)
        steps.append(step)
        layer, L_cur, C_cur = nxt, step["L_out"], step["C_out"]
    if not steps:
        return None
    window = sum(s["W"] * s["layer"].kernel_size[0] * s["C_in"] * s["C_out"] for s in steps if s["kind"] == "conv")
    tail = submodel(model, steps[-1]["layer"])
    tail_macs = _macs(tail)
    first_other = next((i for i, s in enumerate(steps) if s["kind"] != "elementwise" and i > 0), None)
    return {"steps": steps, "tail_from": steps[-1]["layer"], "tail": tail, "L": L,
            "window_macs": int(window + tail_macs), "full_macs": int(_macs(model)), "deep": first_other is not None}


def _macs(model):
    """Estimated multiply-adds of one forward pass: Conv1D and Dense layers (the rest is small beside them)."""
    keras = import_keras()
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv1D):
            out = layer.output.shape
            total += int(out[1]) * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            positions = int(np.prod([d for d in layer.input.shape[1:-1] if d is not None])) if len(
                layer.input.shape) > 2 else 1
            total += positions * int(np.prod(layer.kernel.shape))
    return total


class ChainISM:
    """The compiled windowed mutant function of one model: (x, mutants) → logits of the mutants.

    ``refs(x)`` runs the model's chain once per batch of sequences (the reference activations);
    ``chunk(x, refs, n_idx, l_idx, b_idx)`` returns the logits [m, T] of the mutants "sequence ``n_idx``
    with position ``l_idx`` set to base ``b_idx``".
    """

    def __init__(self, model, plan, jit_compile=False):
        tf, keras = import_tf(), import_keras()
        self.plan = plan
        steps = plan["steps"]
        self.refs_model = keras.Model(model.inputs, [s["layer"].output for s in steps])
        tail = plan["tail"]
        spec_x = tf.TensorSpec([None, plan["L"], 4], tf.float32)
        def refs(x):
            out = self.refs_model(x, training=False)
            return tuple(out) if isinstance(out, (list, tuple)) else (out,)   # a one-layer chain: one tensor

        self.refs = tf.function(refs, input_signature=[spec_x])
        starts = [tf.constant(s["start"]) for s in steps]
        neg = tf.constant(-np.inf, tf.float32)

        def chunk(x, refs, n_idx, l_idx, b_idx):
            new = tf.one_hot(b_idx, 4)[:, None, :]                           # [m, 1, 4]: the input window
            s, W, prev = l_idx, 1, x
            for step, ref_out, start in zip(steps, refs, starts):
                if step["kind"] == "elementwise":
                    new = step["layer"](new, training=False)
                    prev = ref_out
                    continue
                s_out, W_out = tf.gather(start, l_idx), step["W"]
                if step["kind"] == "conv":
                    r0, R = s_out - step["pl"], W_out + step["S"] - 1
                else:
                    r0, R = s_out * step["st"] - step["pl"], (W_out - 1) * step["st"] + step["P"]
                pos = r0[:, None] + tf.range(R)[None, :]                      # [m, R] input positions needed
                inside = (pos >= 0) & (pos < step["L_in"])
                idx = tf.stack([tf.broadcast_to(n_idx[:, None], tf.shape(pos)),
                                tf.clip_by_value(pos, 0, step["L_in"] - 1)], -1)
                refv = tf.gather_nd(prev, idx)                                # [m, R, C] reference values
                rel = pos - s[:, None]
                use = (rel >= 0) & (rel < W)                                  # inside the changed window
                newv = tf.gather(new, tf.clip_by_value(rel, 0, W - 1), batch_dims=1)
                vals = tf.where(use[..., None], newv, refv)
                layer = step["layer"]
                if step["kind"] == "conv":
                    # outside the sequence: the zeros of 'same'/'causal' padding
                    vals = tf.where(inside[..., None], vals, 0.0)
                    z = tf.nn.conv1d(vals, layer.kernel, 1, "VALID", dilations=int(layer.dilation_rate[0]))
                    if layer.use_bias:
                        z = z + layer.bias
                    new = layer.activation(z)
                elif step["op"] == "max":
                    vals = tf.where(inside[..., None], vals, neg)
                    new = tf.nn.max_pool1d(vals, step["P"], step["st"], "VALID")
                else:
                    mask = tf.cast(inside, tf.float32)[..., None]
                    total = tf.nn.avg_pool1d(vals * mask, step["P"], step["st"], "VALID")
                    count = tf.nn.avg_pool1d(tf.broadcast_to(mask, tf.shape(vals)), step["P"], step["st"], "VALID")
                    new = total / count
                s, W, prev = s_out, W_out, ref_out
            # the chain's last output in full: the reference with the window patched in, then the tail
            rel = tf.range(steps[-1]["L_out"])[None, :] - s[:, None]
            use = (rel >= 0) & (rel < W)
            full = tf.where(use[..., None], tf.gather(new, tf.clip_by_value(rel, 0, W - 1), batch_dims=1),
                            tf.gather(prev, n_idx))
            return tail(full, training=False)

        spec_i = tf.TensorSpec([None], tf.int32)
        spec_refs = tuple(tf.TensorSpec([None, s["L_out"], s["C_out"]], tf.float32) for s in steps)
        self.chunk = tf.function(chunk, input_signature=[spec_x, spec_refs, spec_i, spec_i, spec_i],
                                 jit_compile=jit_compile)
        # float elements per mutant: every window slice, the patched last output and the tail's activations
        self.per_mutant = int(sum((s["W"] + 2 * s.get("S", s.get("P", 1))) * max(s["C_in"], s["C_out"]) * 3
                                  for s in steps) + steps[-1]["L_out"] * steps[-1]["C_out"] * 2
                              + sum(int(np.prod([d for d in layer.output.shape[1:] if d is not None]))
                                    for layer in tail.layers))
