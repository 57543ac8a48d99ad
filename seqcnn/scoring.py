"""Scoring with a finished run: metrics of a dataset split, probabilities of new sequences.

Provides :func:`evaluate` (a split of an encoded file → metrics JSON + ROC/PR figures),
:func:`predict` (FASTA → CSV of probabilities, encoded with the training file's length
policy), :func:`predict_onehot` (one-hot arrays → probabilities) and
:func:`output_columns`.
"""

import os

import numpy as np

from .errors import ModelMismatchError, SeqcnnError
from .feeding import Forward, Source
from .metrics import compute_metrics, curve_sets, link
from .outputs import check_output, publish, publish_all, write_json
from .rundir import check_fits, load_run
from .splits import SPLIT_NAMES as SPLITS


def evaluate(run_dir, data, split="test", out=None, force=False, plots=True, n_boot=1000, seed=0):
    """Metrics of a trained run on one split of a dataset.

    Parameters
    ----------
    run_dir : str — a run directory written by :func:`train`.
    data : str — encoded HDF5 dataset of the same length and task.
    split : {'train', 'val', 'test', 'all'}
    out : str, optional — write the metrics as JSON here (atomically); figures ``<out stem>_roc.png``
        and ``<out stem>_pr.png`` go beside it unless ``plots=False``.

    Returns
    -------
    dict — see :func:`compute_metrics`, plus ``split``, ``data`` and ``run``.
    """
    from .store import open_dataset

    if split not in SPLITS + ("all",):
        raise SeqcnnError(f"unknown split {split!r}", hint="use train, val, test or all")
    figs = []
    if out is not None:
        check_output(out, force)
        stem = os.path.splitext(str(out))[0]
        figs = [f"{stem}_roc.png", f"{stem}_pr.png"] if plots else []
        for f in figs:
            check_output(f, force)
    model, cfg = load_run(run_dir)
    with open_dataset(data) as ds:
        check_fits(cfg, ds, run_dir)
        sel = ds.indices(split)
        if len(sel) == 0:
            raise SeqcnnError(f"split {split!r} is empty", path=ds.path,
                              hint="pick another with --split (train, val, test, all)")
        logits = Forward(model, ds.length)(Source(ds).ordered(sel, 1024))
        prob = link(ds.task, logits)
        names = ds.class_names if ds.task == "multiclass" else ds.label_names
        y = ds.y[sel]
        metrics = compute_metrics(ds.task, y, prob, names=names, n_boot=n_boot, seed=seed)
        metrics.update({"split": split, "data": os.path.abspath(ds.path), "run": os.path.abspath(str(run_dir)),
                        "records_in_file": int(ds.n)})
        task = ds.task
    if out is not None:
        tmp_figs = []
        tmp_json = f"{out}.tmp-{os.getpid()}.json"
        try:
            if figs:
                from . import plots as plotting

                sets = curve_sets(task, y, prob, names)
                tmp_figs = [f"{figs[0]}.tmp.png", f"{figs[1]}.tmp.png"]
                plotting.roc_curves(sets, tmp_figs[0], title=f"ROC ({split})")
                plotting.pr_curves(sets, tmp_figs[1], title=f"Precision-recall ({split})")
            write_json(metrics, tmp_json)
            publish_all([(tmp_json, str(out))] + list(zip(tmp_figs, figs)), force)
        finally:
            for t in [tmp_json] + tmp_figs:
                if os.path.exists(t):
                    os.remove(t)
    return metrics


def output_columns(cfg):
    """Column names of ``predict``'s probabilities, one per model output."""
    d, task = cfg["data"], cfg["model"]["task"]
    if task == "binary":
        names = d.get("class_names") or ["0", "1"]
        return [f"prob_{names[1]}"]
    names = d["class_names"] if task == "multiclass" else d["label_names"]
    return [f"prob_{n}" for n in names]


def predict_onehot(model, x, task, batch_size=1024):
    """Probabilities of one-hot sequences.

    Parameters
    ----------
    model : keras.Model — logit outputs.
    x : np.ndarray, shape=(n, L, 4), uint8 or float.
    task : {'binary', 'multiclass', 'multilabel'} — picks the link (sigmoid or softmax).

    Returns
    -------
    np.ndarray, shape=(n, n_outputs), float64.
    """
    x = np.asarray(x)
    fwd = Forward(model, x.shape[1])
    u8 = x.astype(np.uint8) if x.dtype != np.uint8 else x
    return link(task, fwd(u8[i:i + batch_size] for i in range(0, len(u8), batch_size)))


def predict_intervals(run_dir, bed, genome, out, center="summit", force=False, batch_size=1024):
    """Predict genomic windows with a trained run; write ``id``, coordinates and one probability column per output.

    Windows of the model's input length are cut from ``genome`` around each interval of ``bed``, as
    ``seqcnn encode --bed --genome`` cuts them (summit or midpoint, ``-`` strand reverse-complemented);
    windows past a chromosome end or on chromosomes the genome lacks are dropped and counted.

    Returns
    -------
    dict — ``out``, ``n`` (records written), ``records_read``, ``dropped`` (by reason), ``columns``.
    """
    import pandas as pd

    from .genome_encode import cut_regions

    check_output(out, force)
    model, cfg = load_run(run_dir)
    L = cfg["model"]["input_length"]
    cols = output_columns(cfg)
    regions = cut_regions(bed, genome, L, center)
    frame = pd.DataFrame({"id": regions["ids"], **regions["coords"]})
    x = regions["x"]
    prob = link(cfg["model"]["task"], Forward(model, L)(x[b:b + batch_size] for b in range(0, len(x), batch_size)))
    for name, column in zip(cols, prob.T):
        frame[name] = column
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        frame.to_csv(tmp, index=False, float_format="%.6g")
        publish(tmp, out, force)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return {"out": str(out), "n": len(frame), "records_read": regions["records_read"],
            "dropped": regions["dropped"], "columns": cols}


def predict(run_dir, fasta, out, force=False, batch_size=1024, quiet=True, shard=None):
    """Predict FASTA sequences with a trained run; write ``id`` + one probability column per output (CSV).

    Sequences are encoded with the training file's length policy: when it was encoded with
    ``--length`` they are padded/trimmed the same way (same pad mode); otherwise they must have
    the training length. Bases are checked by the same rules as ``seqcnn encode``. With ``shard`` (K, N) only
    the K-th of N contiguous parts of the records is scored, in fixed-size batches, and only shard 1 writes the
    header: the N files concatenate, in order, to the unsharded file.

    Returns
    -------
    dict — ``out``, ``n`` (records written), ``records_read``, ``columns``, ``padded``, ``trimmed``.
    """
    import pandas as pd

    from .encoding import encode_block
    from .readers import FastaReader

    check_output(out, force)
    model, cfg = load_run(run_dir)
    d, task = cfg["data"], cfg["model"]["task"]
    L = cfg["model"]["input_length"]
    cols = output_columns(cfg)
    fwd = Forward(model, L)
    lo, hi = 0, None
    if shard is not None:
        from .outputs import shard_range

        counter = FastaReader(fasta)
        for _ in counter:  # the parts need the number of records: one pass that keeps nothing
            pass
        lo, hi = shard_range(counter.n_records, shard)
    reader = FastaReader(fasta)
    tmp = f"{out}.tmp-{os.getpid()}"
    n = padded = trimmed = 0
    seen = set()
    try:
        with open(tmp, "w", newline="") as fh:
            if shard is None or shard[0] == 1:
                fh.write(",".join(["id"] + cols) + "\n")
            for ids, seqs in reader:
                if hi is not None:
                    first = reader.n_records - len(ids)
                    keep = slice(max(lo - first, 0), max(min(hi - first, len(ids)), 0))
                    ids, seqs = ids[keep], seqs[keep]
                    if not ids:
                        continue
                # Bases first: an empty record or a stray character (a tab, a digit) is the problem to report,
                # not the length it changes.
                x, lens = encode_block(seqs, length=L, pad_mode=d.get("pad_mode", "center"),
                                       allow_iupac=d.get("allow_iupac", False), ids=ids, path=fasta)
                if not d.get("length_given") and (lens != L).any():
                    k = int(np.argmax(lens != L))
                    raise ModelMismatchError(
                        f"sequence of {lens[k]} bp, but the model takes {L} bp and its training data were "
                        f"encoded without --length (no padding/trimming policy)", path=fasta, record=ids[k],
                        hint=f"give {L} bp sequences, or re-encode the training data with --length {L} and retrain")
                dup = seen.intersection(ids)
                if dup or len(set(ids)) < len(ids):
                    rid = next(iter(dup)) if dup else pd.Index(ids)[pd.Index(ids).duplicated()][0]
                    raise SeqcnnError("duplicate record id", path=fasta, record=rid,
                                      hint="ids (first word of headers) must be unique")
                seen.update(ids)
                # Fixed-size batches, each record at the row its index in the whole file gives: a record scores the
                # same bits whichever shard (or block) it falls in.
                frame = pd.DataFrame(link(task, fwd.fixed(x, batch_size, offset=lo + n)), columns=cols)
                frame.insert(0, "id", ids)
                frame.to_csv(fh, header=False, index=False, float_format="%.6g")
                n += len(ids)
                padded += int((lens < L).sum())
                trimmed += int((lens > L).sum())
        if n == 0 and shard is None:
            raise SeqcnnError("no sequences in the FASTA file", path=fasta)
        publish(tmp, out, force)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return {"out": str(out), "n": n, "records_read": reader.n_records if hi is None else hi - lo, "columns": cols,
            "padded": padded,
            "trimmed": trimmed}
