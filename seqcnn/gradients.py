"""Attribution maps from gradients (saliency, integrated gradients) or exact ISM, and the ``seqcnn attribute`` verb.

Provides :func:`saliency`, :func:`integrated_gradients` (both batched, compiled, for any Keras model with a
one-hot input), :func:`attribute_x` (any method on arrays) and :func:`run_attribute` (the verb: the sequences
of a run's input, chosen as ``seqcnn mutagenesis`` chooses them, → an attribution file).

Every method gives *hypothetical contributions* ``hypothetical[n, i, b]`` (per position centred over the
four bases) and the actual ``attribution[n, i, b] = x[n, i, b] * hypothetical[n, i, b]``:

- ``ism``: the ISM deltas centred per position (:func:`seqcnn.mutagenesis.hypothetical`).
- ``saliency``: the gradient of the logit with respect to the one-hot input, minus its mean over the four bases
  at each position (the correction of Majdandzic et al. 2023, which removes the off-simplex component).
- ``integrated-gradients``: the gradient averaged along straight paths from ``references`` dinucleotide-
  shuffled copies of each sequence to the sequence (``steps`` midpoints each), centred per position. Its
  classic attribution ``(x - r) * mean gradient``, averaged over the references, is kept as ``ig``; it sums to
  ``f(x) - mean f(r)`` (completeness, tested).
"""

import os

import numpy as np

from ._tf import import_tf
from .errors import SeqcnnError

METHODS = ("ism", "saliency", "integrated-gradients")
ATTRIBUTION_FORMAT = "seqcnn-attribution"
DEFINITIONS = {
    "ism": "hypothetical[n, i, b] = delta[n, i, b] - mean_c delta[n, i, c] (exact ISM, logits); "
           "attribution = x * hypothetical",
    "saliency": "hypothetical[n, i, b] = g[n, i, b] - mean_c g[n, i, c], g = d logit / d x; "
                "attribution = x * hypothetical",
    "integrated-gradients": "hypothetical[n, i, b] = G[n, i, b] - mean_c G[n, i, c], G = the gradient averaged over "
                            "steps midpoints of the paths from dinucleotide-shuffled references r to x; "
                            "attribution = x * hypothetical; ig = mean over r of (x - r) * G_r",
}

_GRAD_CACHE = {}


def _grad_fn(model, output):
    """Compiled d logit[:, output] / d x for ``model``: float32 [n, L, 4] → [n, L, 4] (cached per model/output)."""
    key = (id(model), int(output))
    hit = _GRAD_CACHE.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]
    tf = import_tf()
    L = int(model.inputs[0].shape[1])

    @tf.function(input_signature=[tf.TensorSpec([None, L, 4], tf.float32)])
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model(x, training=False)[:, output]
        return tape.gradient(y, x)

    _GRAD_CACHE[key] = (model, grad)
    return grad


def _centred(g):
    return (g - g.mean(axis=-1, keepdims=True)).astype(np.float32)


def saliency(model, x, output=0, batch_size=256):
    """Saliency, corrected: the logit's gradient minus its per-position mean over bases: float32 [N, L, 4].

    Parameters
    ----------
    model : keras.Model — one-hot input shape=(batch, L, 4), logit outputs.
    x : np.ndarray, shape=(N, L, 4) — one-hot sequences.
    output : int — which logit.
    """
    grad = _grad_fn(model, output)
    x = np.asarray(x, np.float32)
    out = [grad(x[i:i + batch_size]).numpy() for i in range(0, len(x), batch_size)]
    return _centred(np.concatenate(out)) if out else np.zeros(x.shape, np.float32)


def integrated_gradients(model, x, output=0, references=10, steps=20, seed=0, batch_size=2048):
    """Integrated gradients from dinucleotide-shuffled references.

    Parameters
    ----------
    x : np.ndarray, shape=(N, L, 4) — one-hot sequences.
    references : int — shuffled references per sequence (seeded by ``seed`` and the row).
    steps : int — path points per reference (midpoints of ``steps`` equal segments).
    batch_size : int — path points per compiled call.

    Returns
    -------
    hypothetical : float32 [N, L, 4] — the path-averaged gradient (over all references), centred per position.
    ig : float32 [N, L, 4] — the classic attribution, mean over references of (x − r) · mean path gradient.
    """
    from .encoding import encode_windows
    from .negatives import dinucleotide_shuffle

    if references < 1 or steps < 1:
        raise SeqcnnError(f"--references ({references}) and --steps ({steps}) must be at least 1")
    grad = _grad_fn(model, output)
    x = np.asarray(x, np.float32)
    N, L, _ = x.shape
    letters = np.frombuffer(b"ACGTN", np.uint8)
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32)
    hyp = np.zeros((N, L, 4), np.float32)
    ig = np.zeros((N, L, 4), np.float32)
    for n in range(N):
        u8 = letters[np.where(x[n].sum(-1) == 0, 4, x[n].argmax(-1))]
        refs = encode_windows(dinucleotide_shuffle(np.repeat(u8[None], references, axis=0),
                                                   np.random.default_rng([seed, n])), allow_iupac=True)
        refs = refs.astype(np.float32)                                          # [R, L, 4]
        path = refs[:, None] + alphas[None, :, None, None] * (x[n] - refs)[:, None]   # [R, S, L, 4]
        flat = path.reshape(-1, L, 4)
        g = np.concatenate([grad(flat[i:i + batch_size]).numpy() for i in range(0, len(flat), batch_size)])
        g = g.reshape(references, steps, L, 4).mean(1)                          # [R, L, 4]
        hyp[n] = _centred(g.mean(0))
        ig[n] = ((x[n] - refs) * g).mean(0)
    return hyp, ig


def attribute_x(model, x, method="ism", output=0, references=10, steps=20, seed=0, batch_size=None):
    """Hypothetical contributions of one-hot sequences by ``method``: (hypothetical [N, L, 4], extra dict)."""
    if method not in METHODS:
        raise SeqcnnError(f"unknown --method {method!r}", hint=f"use one of {', '.join(METHODS)}")
    if method == "ism":
        from .exact_ism import ism
        from .mutagenesis import hypothetical

        delta, _ = ism(model, x, output=output, batch_size=batch_size)
        return hypothetical(delta), {}
    if method == "saliency":
        return saliency(model, x, output=output, batch_size=batch_size or 256), {}
    hyp, ig = integrated_gradients(model, x, output=output, references=references, steps=steps, seed=seed)
    return hyp, {"ig": ig}


def run_attribute(run_dir, input, out, *, method="ism", ids=None, ids_file=None, split=None, top=None, by="score",
                  output=None, references=10, steps=20, seed=0, batch_size=None, force=False, genome=None,
                  center="summit", command=None):
    """Attribution maps of selected sequences with a trained run → an HDF5 file (the ISM file's layout).

    The input and selection are those of :func:`seqcnn.mutagenesis.run_mutagenesis` (encoded HDF5, FASTA, or a
    BED with ``genome``; ``ids``/``ids_file``, ``split``, ``top``/``by``). Datasets: ``hypothetical``,
    ``attribution`` (x · hypothetical), ``x``, ``ids``, ``index``, ``reference_score`` (the logit), ``label``
    where known, genome coordinates where known, ``ig`` for integrated gradients.

    Returns
    -------
    dict — ``out``, ``n``, ``records_read``, ``method``, ``output`` (name), ``seconds``, ``seq_per_s``.
    """
    import time

    import h5py

    from ._version import __version__
    from .exact_ism import kernels, single_output
    from .mutagenesis import _read_ids_file, _Source, output_names, select
    from .outputs import check_output, publish, utc_now
    from .rundir import load_run

    out = str(out)
    check_output(out, force)
    if method not in METHODS:
        raise SeqcnnError(f"unknown --method {method!r}", hint=f"use one of {', '.join(METHODS)}")
    if ids is not None and ids_file is not None:
        raise SeqcnnError("give --ids or --ids-file, not both")
    model, cfg = load_run(run_dir)
    names = output_names(cfg)
    T = int(model.outputs[0].shape[-1])
    k = single_output(output, T, names)
    source = _Source(input, cfg, run_dir, genome=genome, center=center)
    try:
        wanted = _read_ids_file(ids_file) if ids_file else ([i.strip() for i in ids.split(",")] if ids else None)
        kern = kernels(model, "auto")
        rows = select(source, kern, ids=wanted, split=split, top=top, by=by, output=k, task=cfg["model"]["task"])
        x = np.asarray(source.read_x(rows))
        t0 = time.time()
        hyp, extra = attribute_x(model, x, method=method, output=k, references=references, steps=steps, seed=seed,
                                 batch_size=batch_size)
        seconds = time.time() - t0
        ref = np.concatenate([kern.forward(x[i:i + 1024].astype(np.float32)).numpy()[:, k]
                              for i in range(0, len(x), 1024)]) if len(x) else np.zeros(0, np.float32)
        tmp = f"{out}.tmp-{os.getpid()}"
        try:
            with h5py.File(tmp, "w") as h5:
                h5.create_dataset("hypothetical", data=hyp)
                h5.create_dataset("attribution", data=(x * hyp).astype(np.float32))
                for name, values in extra.items():
                    h5.create_dataset(name, data=values)
                h5.create_dataset("x", data=x.astype(np.uint8), compression="gzip", compression_opts=1)
                h5.create_dataset("reference_score", data=ref.astype(np.float32))
                source.write_rows(h5, rows)
                attrs = {"format": ATTRIBUTION_FORMAT, "schema_version": 1, "seqcnn_version": __version__,
                         "run": os.path.abspath(str(run_dir)), "input": os.path.abspath(str(input)),
                         "method": method, "definition": DEFINITIONS[method], "output": k,
                         "output_name": names[k] if names else str(k), "references": int(references),
                         "steps": int(steps), "seed": int(seed), "length": int(x.shape[1]) if len(x) else 0,
                         "alphabet": "ACGT", "created": utc_now(), "command": command or ""}
                for key, value in attrs.items():
                    h5.attrs[key] = value
                h5.attrs["complete"] = True
            publish(tmp, out, force)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    finally:
        source.close()
    n_read = getattr(source, "records_read", source.n)
    return {"out": out, "n": int(len(rows)), "records_read": int(n_read), "method": method,
            "output": names[k] if names else str(k), "seconds": seconds,
            "seq_per_s": len(rows) / seconds if seconds > 0 else float("inf"), "dropped": source.dropped}


attribute = run_attribute  # seqcnn.attribute: the verb from Python
