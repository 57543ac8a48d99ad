"""The ``seqcnn motifs`` verb: first-layer filters → motifs (PFM/PWM, information content, influence), matched.

For each filter of the first convolution, the sites are the input windows (width
``kernel_size``) where the filter's activation exceeds a threshold — by default Basset's
rule, ``mean + 0.5 · (max − mean)`` of that filter's activations over the chosen
sequences. With ``strands='both'`` (default) the reverse complement of every sequence is
scanned too, and a site found there is counted as the window *of the reverse
complement*, i.e. in the filter's own orientation (the forward window at the mirrored
place would be the motif backwards). ``nsites`` is the true number of such windows.

Counts → frequencies: ``pfm = (counts + pseudocount · background) / (sites + pseudocount)``
per column (all-zero padding rows contribute nothing to a column). JASPAR and TRANSFAC
files hold the raw counts; the MEME file holds the frequencies and the background.

The motif files are written by :mod:`seqcnn.motif_files`; the comparison with JASPAR is
:mod:`seqcnn.motif_compare`.
"""

import json
import os
import shutil
from dataclasses import dataclass, field

import numpy as np

from ._tf import import_keras, import_tf
from .encoding import ALPHABET, reverse_complement
from .errors import ModelMismatchError, SeqcnnError
from .motif_compare import DEFAULT_RELEASE, check_jaspar, compare_jaspar, run_targets
from .motif_files import write_jaspar, write_meme, write_transfac
from .models import ensemble_members, strand_inner
from .outputs import publish_dir, temp_dir


# ----------------------------------------------------------------------------------------------------------------
# the first layer's activations


def activation_layer(model):
    """The first convolution and the layer whose output is its activation.

    The activation is the first convolution's output when it has a non-linearity; otherwise
    (Basset: linear conv → BatchNorm → ReLU) the output of the first ``Activation`` after
    it, through BatchNormalization layers.

    Returns
    -------
    (conv, layer) — Keras layers.

    Raises
    ------
    ModelMismatchError — when the first layer is not a 'valid', undilated Conv1D on the one-hot input.
    """
    from .graph import consumers, first_conv

    keras = import_keras()
    model = (ensemble_members(model) or [model])[0]   # a replicate ensemble's filters: its first member's
    model = strand_inner(model) or model    # a strand-averaged model's filters are its single-strand model's
    conv = first_conv(model)
    if conv is None:
        raise ModelMismatchError("the model's first layer is not a Conv1D (valid padding, stride 1, undilated) "
                                 "on the one-hot input, so it has no motif detectors to export",
                                 hint="motifs need a model from 'seqcnn train' or one starting with such a Conv1D")
    layer = conv
    if getattr(conv.activation, "__name__", "") == "linear":
        cur = conv
        while True:
            nxt = consumers(model, cur)
            if len(nxt) != 1 or not isinstance(nxt[0], (keras.layers.BatchNormalization, keras.layers.Activation,
                                                         keras.layers.ReLU)):
                break
            cur = nxt[0]
            if not isinstance(cur, keras.layers.BatchNormalization):
                layer = cur
                break
    return conv, layer


class _Activations:
    """Compiled ``x (uint8/float [n, L, 4]) → activations [n, P, F]`` and ``activations → logits``."""

    def __init__(self, model):
        tf = import_tf()
        keras = import_keras()
        model = (ensemble_members(model) or [model])[0]   # an ensemble: its first member (run_motifs says so)
        inner = strand_inner(model)
        # A strand-averaged model's logits are the mean of the single-strand model on x and rc(x) (``logits``).
        self.both = inner is not None
        model = inner or model
        self.conv, self.layer = activation_layer(model)
        self.K = int(self.conv.kernel_size[0])
        self.F = int(self.conv.filters)
        self.L = int(model.inputs[0].shape[1])
        sub = keras.Model(model.inputs[0], self.layer.output)
        rest = keras.Model(self.layer.output, model.output)
        self.fn = tf.function(lambda x: sub(tf.cast(x, tf.float32), training=False),
                              input_signature=[tf.TensorSpec([None, self.L, 4], tf.uint8)])
        self.rest = tf.function(lambda a, keep: rest(a * keep, training=False),
                                input_signature=[tf.TensorSpec([None, self.L - self.K + 1, self.F], tf.float32),
                                                 tf.TensorSpec([self.F], tf.float32)])

    def __call__(self, x):
        return self.fn(np.asarray(x, np.uint8)).numpy()

    def logits(self, x, keep):
        """Logits of ``x`` (uint8 [n, L, 4]) with the activations scaled by ``keep`` [F] (both strands if averaged)."""
        x = np.asarray(x, np.uint8)
        out = self.rest(self.fn(x), keep).numpy()
        if self.both:
            out = 0.5 * (out + self.rest(self.fn(np.ascontiguousarray(reverse_complement(x))), keep).numpy())
        return out


# ----------------------------------------------------------------------------------------------------------------
# filters → counts, PFMs, information content


@dataclass
class FilterMotifs:
    """Motifs of a model's first-layer filters.

    Attributes
    ----------
    counts : np.ndarray, shape=(F, K, 4) — site counts per position and base (both strands when scanned).
    nsites : np.ndarray, shape=(F,) — number of sites (windows above the threshold).
    threshold : np.ndarray, shape=(F,) — the activation threshold used per filter.
    background : np.ndarray, shape=(4,) — base frequencies of the scanned sequences.
    pseudocount : float
    min_sites : int
    strands : str — 'both' or 'forward'.
    n_sequences : int
    influence : np.ndarray, shape=(F,), optional — validation loss increase when the filter is zeroed.
    """

    counts: np.ndarray
    nsites: np.ndarray
    threshold: np.ndarray
    background: np.ndarray
    pseudocount: float = 1.0
    min_sites: int = 10
    strands: str = "both"
    n_sequences: int = 0
    rule: str = ""
    influence: np.ndarray = field(default=None)

    @property
    def pfm(self):
        """Frequencies with the pseudocount, shape=(F, K, 4); every row sums to 1."""
        tot = self.counts.sum(-1, keepdims=True) + self.pseudocount
        # a column without sites and without pseudocount carries no information: the background
        safe = np.where(tot > 0, tot, 1.0)
        return np.where(tot > 0, (self.counts + self.pseudocount * self.background) / safe, self.background)

    @property
    def kept(self):
        """Filters with at least ``min_sites`` sites (the others are reported, not written)."""
        return self.nsites >= self.min_sites

    @property
    def ic(self):
        """Information content of each filter's PFM in bits (relative entropy to the background), shape=(F,)."""
        return information_content(self.pfm, self.background).sum(-1)

    def pwm(self):
        """Log-odds PWMs log2(pfm / background), shape=(F, K, 4)."""
        return np.log2(self.pfm / self.background)

    def consensus(self, f):
        """Consensus string of filter ``f`` (lower case where the column's IC < 0.5 bit)."""
        p = self.pfm[f]
        ic = information_content(p, self.background)
        return "".join(ALPHABET[b] if c >= 0.5 else ALPHABET[b].lower() for b, c in zip(p.argmax(1), ic))


def information_content(pfm, background=None):
    """Per-position information content in bits: sum_b p log2(p / bg), shape=pfm.shape[:-1]."""
    pfm = np.asarray(pfm, float)
    bg = np.full(4, 0.25) if background is None else np.asarray(background, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pfm > 0, pfm * np.log2(pfm / bg), 0.0)
    return terms.sum(-1)


def _windows(x, K):
    """Sliding windows of one-hot sequences: [n, L, 4] → [n, P, K*4] (a view, no copy)."""
    from numpy.lib.stride_tricks import sliding_window_view

    w = sliding_window_view(x, K, axis=1)           # [n, P, 4, K]
    return w.transpose(0, 1, 3, 2).reshape(x.shape[0], x.shape[1] - K + 1, K * 4)


def _blocks(x, block):
    if isinstance(x, np.ndarray):
        for i in range(0, len(x), block):
            yield x[i:i + block]
    else:
        yield from x


def filter_motifs(model, x, threshold=None, strands="both", min_sites=10, pseudocount=1.0, block=256,
                  progress=False):
    """Build each first-layer filter's PFM from the sequence windows that activate it.

    Parameters
    ----------
    model : keras.Model — first layer a valid Conv1D on one-hot input.
    x : np.ndarray, shape=(N, L, 4), uint8 — or a callable returning a fresh iterator of such blocks
        (read twice: once for the threshold statistics, once for the counts).
    threshold : float, optional — activation threshold for every filter; default Basset's rule
        ``mean + 0.5 · (max − mean)`` per filter over all positions of ``x`` (both strands).
    strands : {'both', 'forward'} — also scan reverse complements (sites in the filter's orientation).
    min_sites : int — filters with fewer sites are marked as not kept.
    pseudocount : float — pseudo-sites per column, spread by the background, added to the frequencies.

    Returns
    -------
    FilterMotifs
    """
    from tqdm import tqdm

    if strands not in ("both", "forward"):
        raise SeqcnnError(f"unknown strands {strands!r}", hint="use both or forward")
    if pseudocount < 0:
        raise SeqcnnError(f"pseudocount must be >= 0, got {pseudocount}")
    if min_sites < 0:
        raise SeqcnnError(f"min-sites must be >= 0, got {min_sites}")
    acts = _Activations(model)
    K, F = acts.K, acts.F

    def source():
        return _blocks(x, block) if isinstance(x, np.ndarray) else x()

    def strand_views(xb):
        xb = np.asarray(xb, np.uint8)
        if xb.ndim != 3 or xb.shape[1:] != (acts.L, 4):
            raise ModelMismatchError(f"the model takes {acts.L} bp sequences but the data are "
                                     f"{xb.shape[1] if xb.ndim == 3 else '?'} bp")
        yield xb
        if strands == "both":
            yield np.ascontiguousarray(xb[:, ::-1, ::-1])

    n_seq = 0
    base = np.zeros(4)
    if threshold is None:
        total = np.zeros(F)
        count = 0
        amax = np.full(F, -np.inf)
        for xb in tqdm(source(), desc="motifs: thresholds", unit="block", disable=not progress, leave=False):
            for xs in strand_views(xb):
                a = acts(xs)
                total += a.sum((0, 1), dtype=np.float64)
                count += a.shape[0] * a.shape[1]
                amax = np.maximum(amax, a.max((0, 1)))
        if count == 0:
            raise SeqcnnError("no sequences to scan")
        mean = total / count
        thr = mean + 0.5 * (amax - mean)
        rule = "basset: mean + 0.5 * (max - mean) of the filter's activations"
    else:
        thr = np.full(F, float(threshold))
        rule = f"fixed activation threshold {float(threshold):g}"
    counts = np.zeros((F, K * 4))
    nsites = np.zeros(F, np.int64)
    for xb in tqdm(source(), desc="motifs: sites", unit="block", disable=not progress, leave=False):
        n_seq += len(xb)
        for xs in strand_views(xb):
            a = acts(xs)                                          # [n, P, F]
            hit = a > thr                                          # sites: windows above the filter's threshold
            nsites += hit.sum((0, 1))
            w = _windows(xs, K).reshape(-1, K * 4).astype(np.float32)
            counts += hit.reshape(-1, F).T.astype(np.float32) @ w   # [F, K*4], one matmul per block
            base += xs.sum((0, 1))
    if n_seq == 0:
        raise SeqcnnError("no sequences to scan")
    bg = base / base.sum() if base.sum() else np.full(4, 0.25)
    return FilterMotifs(counts=counts.reshape(F, K, 4), nsites=nsites, threshold=thr, background=bg,
                        pseudocount=float(pseudocount), min_sites=int(min_sites), strands=strands,
                        n_sequences=n_seq, rule=rule)


def filter_influence(model, x, y, task, block=256, progress=False):
    """Basset's filter influence: increase of the mean loss when a filter's activation is set to zero.

    Parameters
    ----------
    x : np.ndarray, shape=(N, L, 4), uint8 ; y : labels as stored (shape=(N,) or (N, T)).
    task : {'binary', 'multiclass', 'multilabel'}

    Returns
    -------
    np.ndarray, shape=(F,) — loss(filter zeroed) − loss(full model); positive = the filter helps.
    """
    from tqdm import tqdm

    from .losses import loss_numpy

    acts = _Activations(model)
    F = acts.F
    logits_full = []
    logits_off = [[] for _ in range(F)]
    ones = np.ones(F, np.float32)
    for i in tqdm(range(0, len(x), block), desc="motifs: influence", unit="block", disable=not progress,
                  leave=False):
        xb = np.asarray(x[i:i + block], np.uint8)
        logits_full.append(acts.logits(xb, ones))
        for f in range(F):
            keep = ones.copy()
            keep[f] = 0.0
            logits_off[f].append(acts.logits(xb, keep))
    base = loss_numpy(task, y, np.concatenate(logits_full))
    return np.array([loss_numpy(task, y, np.concatenate(lo)) - base for lo in logits_off])


# ----------------------------------------------------------------------------------------------------------------
# file to directory: a run + an encoded dataset → OUT_DIR


def run_motifs(run_dir, data, out_dir, *, split="train", threshold=None, strands="both", min_sites=10,
               pseudocount=1.0, influence=True, influence_split="val", jaspar=None,
               jaspar_release=DEFAULT_RELEASE, jaspar_collection="CORE", motif_db=None, q_threshold=0.05,
               plots=True, force=False, progress=False, command=None):
    """Export a run's first-layer filters as motifs, compare them with JASPAR, write ``out_dir``.

    Writes ``filters.meme``, ``filters.jaspar``, ``filters.transfac`` (filters with at least
    ``min_sites`` sites), ``filters.csv`` (every filter: filter, nsites, ic, influence,
    best_match_id, best_match_name, pvalue, qvalue, offset, strand, consensus, threshold, status),
    ``matches.csv`` (every comparison with q < ``q_threshold``), ``summary.json`` and
    ``logos/filter_NNN.png``. The folder is built beside ``out_dir`` and renamed when complete.
    Filters are compared with JASPAR ``jaspar_release`` ``jaspar_collection`` motifs of the taxonomic group
    ``jaspar`` (None: the run's, recorded by ``seqcnn train --jaspar``; 'none': no comparison), or ``motif_db``.

    Returns
    -------
    dict — ``out_dir``, ``n_filters``, ``n_kept``, ``skipped`` (filter indices), ``table`` (DataFrame),
    ``matched`` (filters with a match at q < q_threshold), ``database`` and ``tax_group`` (what was compared
    with; None and 'none' without a comparison).
    """
    import pandas as pd

    from .store import open_dataset
    from .rundir import check_fits, load_run

    from .outputs import check_output_dir

    out_dir, _ = check_output_dir(out_dir, force)  # the temporary folder goes beside it
    if motif_db is None:
        check_jaspar(jaspar or "all", jaspar_release, jaspar_collection)   # before loading anything
    model, cfg = load_run(run_dir)
    members = ensemble_members(model)
    notes = [f"the run is an ensemble of {len(members)} replicates: these are the filters (and influence) of its "
             f"first member, {members[0].name} (run motifs on members/<name> of the run for another's)"
             ] if members else []
    activation_layer(model)  # fail early, before reading data, for models without a conv first layer
    targets, group, database = run_targets(jaspar, cfg, jaspar_release, jaspar_collection, motif_db)
    with open_dataset(data) as ds:
        check_fits(cfg, ds, run_dir)
        rows = ds.indices(split)
        n_records = int(ds.n)
        if len(rows) == 0:
            raise SeqcnnError(f"split {split!r} is empty", path=ds.path, hint="pick another with --split")
        chunk = 4096

        def blocks():
            for i in range(0, len(rows), chunk):
                yield ds.read_x(rows[i:i + chunk])

        fm = filter_motifs(model, blocks, threshold=threshold, strands=strands, min_sites=min_sites,
                           pseudocount=pseudocount, progress=progress)
        infl_rows = ds.indices(influence_split) if influence else np.array([], np.int64)
        infl_note = influence_split
        if influence and len(infl_rows) == 0:
            infl_rows, infl_note = rows, split  # no validation records: measured on the scanned split
        if influence:
            fm.influence = filter_influence(model, ds.read_x(infl_rows), ds.y[infl_rows], ds.task,
                                            progress=progress)
        task = ds.task
    F = len(fm.nsites)
    kept = np.flatnonzero(fm.kept)
    names = [f"filter{f}" for f in range(F)]
    pfm = fm.pfm
    matches = None
    if targets is not None:
        matches = compare_jaspar([(names[f], pfm[f]) for f in kept], targets)
    table = pd.DataFrame({"filter": np.arange(F), "nsites": fm.nsites, "ic": np.round(fm.ic, 4),
                          "influence": fm.influence if fm.influence is not None else np.nan})
    for col in ("best_match_id", "best_match_name"):
        table[col] = ""
    for col in ("pvalue", "qvalue"):
        table[col] = np.nan
    table["offset"] = pd.array([pd.NA] * F, dtype="Int64")
    table["strand"] = ""
    if matches is not None and len(matches):
        best = matches.groupby("query", sort=False).head(1).set_index("query")
        for f in kept:
            b = best.loc[names[f]]
            table.loc[f, ["best_match_id", "best_match_name", "pvalue", "qvalue", "strand"]] = [
                b.target_id, b.target_name, b.pvalue, b.qvalue, b.strand]
            table.loc[f, "offset"] = int(b.offset)
    table["consensus"] = [fm.consensus(f) if fm.nsites[f] else "" for f in range(F)]
    table["threshold"] = np.round(fm.threshold, 6)
    table["status"] = ["ok" if fm.kept[f] else f"skipped: {fm.nsites[f]} sites < min-sites {min_sites}"
                       for f in range(F)]
    alt = {f: (table.loc[f, "best_match_name"] if matches is not None and table.loc[f, "qvalue"] < q_threshold
               else table.loc[f, "consensus"]) for f in kept}
    tmp = temp_dir(out_dir)
    try:
        write_meme(os.path.join(tmp, "filters.meme"),
                   [(names[f], alt[f], pfm[f], fm.nsites[f]) for f in kept], background=fm.background,
                   strands="+ -" if strands == "both" else "+")
        write_jaspar(os.path.join(tmp, "filters.jaspar"), [(names[f], alt[f], fm.counts[f], fm.nsites[f])
                                                           for f in kept])
        write_transfac(os.path.join(tmp, "filters.transfac"), [(names[f], alt[f], fm.counts[f], fm.nsites[f])
                                                               for f in kept])
        table.to_csv(os.path.join(tmp, "filters.csv"), index=False, float_format="%.6g")
        if matches is not None:
            sig = matches[matches.qvalue < q_threshold]
            sig.to_csv(os.path.join(tmp, "matches.csv"), index=False, float_format="%.6g")
        if plots:
            from . import plots as plotting

            os.makedirs(os.path.join(tmp, "logos"))
            for f in kept:
                label = f"{names[f]}  {fm.nsites[f]} sites, IC {fm.ic[f]:.1f} bits"
                if matches is not None and table.loc[f, "qvalue"] < q_threshold:
                    label += f"  ~ {table.loc[f, 'best_match_name']} (q={table.loc[f, 'qvalue']:.1e})"
                plotting.filter_logo(pfm[f], os.path.join(tmp, "logos", f"filter_{f:03d}.png"),
                                     background=fm.background, title=label)
        summary = {
            "run": os.path.abspath(str(run_dir)), "data": os.path.abspath(str(data)), "split": split,
            "n_sequences": fm.n_sequences, "strands": strands, "threshold_rule": fm.rule,
            "pseudocount": fm.pseudocount, "pseudocount_rule": "pfm = (counts + pseudocount * background) / "
                                                               "(sites + pseudocount), per column",
            "background": dict(zip(ALPHABET, np.round(fm.background, 6).tolist())), "min_sites": min_sites,
            "n_filters": F, "n_kept": int(len(kept)), "skipped": [int(f) for f in np.flatnonzero(~fm.kept)],
            "influence": (f"mean loss with the filter's activation zeroed minus mean loss, on split {infl_note}"
                          if influence else None), "task": task,
            "comparison": (None if matches is None else
                           {"database": database, "tax_group": group,
                            "n_targets": int(matches.target_id.nunique()) if len(matches) else 0,
                            "method": "memelite tomtom (complete score, both strands); q-values "
                                      "Benjamini-Hochberg over all comparisons",
                            "q_threshold": q_threshold}),
            "command": command or "",
        }
        with open(os.path.join(tmp, "summary.json"), "w") as fh:
            json.dump(summary, fh, indent=2)
        publish_dir(tmp, out_dir, force)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    matched = [] if matches is None else [int(f) for f in kept if table.loc[f, "qvalue"] < q_threshold]
    return {"out_dir": out_dir, "n_filters": F, "n_kept": int(len(kept)), "records_read": n_records,
            "records_used": int(len(rows)),
            "skipped": [int(f) for f in np.flatnonzero(~fm.kept)], "table": table, "matched": matched,
            "compared": matches is not None, "database": database, "tax_group": group, "notes": notes}
