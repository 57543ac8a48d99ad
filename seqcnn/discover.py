"""The ``seqcnn discover`` verb: TF-MoDISco on a run's attributions → motifs (CWMs), named by JASPAR.

Provides :func:`modisco_settings` (TF-MoDISco's window, flank and seqlet limits chosen from the input length),
:func:`find_patterns` (TF-MoDISco on one-hot sequences and their hypothetical contributions),
:func:`pattern_table` (each pattern's trimmed CWM, PFM, consensus and best JASPAR matches) and
:func:`run_discover` (the verb: a run + its dataset → a folder of patterns, motif files, logos and seqlets).

The attributions are the exact-ISM hypothetical contributions of :func:`seqcnn.mutagenesis.hypothetical`
(``delta - mean over the four bases``, logit units), computed here, or read from a ``seqcnn mutagenesis`` or
``seqcnn attribute`` file. Clustering is modisco-lite (``modiscolite.tfmodisco.TFMoDISco``, version
:data:`MODISCO_TESTED`). Its defaults (21 bp windows, 10 bp flanks) are made for 1 kb inputs and find nothing in
~100 bp windows (tfmodisco-lite #68); :func:`modisco_settings` scales them down for short inputs.

A pattern's ``sequence`` (PFM: base frequencies of its seqlets), ``contrib_scores`` (CWM: mean actual
contribution x · hypothetical) and ``hypothetical_contribs`` (hCWM) are ``[W, 4]``. The motif files and logos hold
the *trimmed* pattern: from the first to the last position whose summed |CWM| reaches 0.3 of its maximum (the
trimming of modisco's own report). ``patterns.h5`` holds the untrimmed patterns in modisco-lite's layout
(``pos_patterns/pattern_0/...``), so modisco's own tools read it, plus each pattern's ``trim_start`` /
``trim_end`` attributes.
"""

import json
import os
import shutil
import time

import numpy as np

from ._version import __version__
from .encoding import ALPHABET
from .errors import InputFormatError, ModelMismatchError, SeqcnnError
from .motif_compare import DEFAULT_RELEASE

MODISCO_TESTED = "3.0.0"
TRIM_THRESHOLD = 0.3
RECORDS = ("positives", "negatives", "all")


def modisco_settings(length, **overrides):
    """TF-MoDISco parameters for ``length`` bp inputs: ``TFMoDISco`` keyword arguments.

    modisco-lite's defaults suit ~1 kb inputs: a 21 bp scanning window with 10 bp flanks (a 41 bp seqlet) and
    patterns trimmed to 30 bp and re-extended by 10 bp on each side. In a 100 bp window such seqlets cover
    most of the sequence, and every seqlet that the re-extension pushes past an end of its sequence is dropped,
    so little or nothing is found. From 400 bp up the defaults are kept. Below, the window, flanks and trimmed
    width shrink (window 15, flank 5, trim 20 from 150 bp; 11, 3, 15 below) and patterns are not re-extended:
    on the shipped 200 bp CTCF set that raised the planted sites found from 64 % to 89 % at the same precision
    (benchmarks/RESULTS.md). The seqlet FDR is 0.05, the seqlets per sign are capped at 5,000 (a 2-core
    machine clusters that many in minutes), and Leiden runs 10 seeds (modisco-lite: 50).

    Parameters
    ----------
    length : int — input length L.
    **overrides — any ``TFMoDISco`` keyword (None values are ignored).

    Returns
    -------
    dict
    """
    L = int(length)
    if L >= 400:
        window, flank, extend, trim = 21, 10, 10, 30
    elif L >= 150:
        window, flank, extend, trim = 15, 5, 0, 20
    else:
        window, flank, extend, trim = 11, 3, 0, 15
    settings = {"sliding_window_size": window, "flank_size": flank, "initial_flank_to_add": extend,
                "trim_to_window_size": trim, "target_seqlet_fdr": 0.05, "max_seqlets_per_metacluster": 5000,
                "n_leiden_runs": 10, "min_metacluster_size": 100, "final_min_cluster_size": 20}
    for key, value in overrides.items():
        if value is not None:
            settings[key] = value
    window, flank = settings["sliding_window_size"], settings["flank_size"]
    if window < 3 or flank < 0 or window + 2 * flank > L:
        raise SeqcnnError(f"--window {window} with --flank {flank} needs at least {window + 2 * flank} bp, "
                          f"but the inputs are {L} bp", hint="use a smaller --window or --flank")
    if settings["trim_to_window_size"] > window + 2 * flank:
        raise SeqcnnError(f"patterns are trimmed to {settings['trim_to_window_size']} bp, longer than a seqlet "
                          f"({window} + 2 x {flank} bp)", hint="use a larger --window or --flank")
    if settings["max_seqlets_per_metacluster"] < 1 or settings["n_leiden_runs"] < 1:
        raise SeqcnnError("--max-seqlets and --leiden-runs must be at least 1")
    if not 0 < settings["target_seqlet_fdr"] < 1:
        raise SeqcnnError(f"--fdr must be between 0 and 1, got {settings['target_seqlet_fdr']}")
    return settings


def find_patterns(x, hypothetical, settings):
    """TF-MoDISco on one-hot sequences and their hypothetical contributions.

    Parameters
    ----------
    x : np.ndarray, shape=(N, L, 4) — one-hot sequences.
    hypothetical : np.ndarray, shape=(N, L, 4) — hypothetical contributions (centred per position).
    settings : dict — :func:`modisco_settings`.

    Returns
    -------
    (pos_patterns, neg_patterns) — lists of modisco-lite ``SeqletSet`` (empty when too few seqlets).
    """
    from modiscolite.tfmodisco import TFMoDISco

    x = np.ascontiguousarray(x, np.float32)
    hyp = np.ascontiguousarray(hypothetical, np.float32)
    if not np.isfinite(hyp).all():
        raise SeqcnnError("the attributions hold NaN or infinite values")
    if not np.abs(hyp).max(initial=0) > 0:
        return [], []  # a constant model: no contribution anywhere, nothing to cluster
    try:
        pos, neg = TFMoDISco(x, hyp, verbose=False, **settings)
    except ValueError as exc:
        # With a handful of sequences modisco-lite's seqlet threshold fit (isotonic regression on the windows'
        # scores) fails with a ValueError: that is "too few seqlets", not bad input. Anything else is raised.
        import traceback

        if any(f.filename.endswith("extract_seqlets.py") for f in traceback.extract_tb(exc.__traceback__)):
            return [], []
        raise
    return list(pos or []), list(neg or [])


def trim_bounds(cwm, threshold=TRIM_THRESHOLD):
    """The informative core of a pattern: ``(start, end)`` of the positions whose summed |CWM| ≥ threshold · max."""
    score = np.abs(np.asarray(cwm, float)).sum(1)
    keep = np.flatnonzero(score >= threshold * score.max()) if score.max() > 0 else np.arange(len(score))
    return int(keep[0]), int(keep[-1]) + 1


def _patterns(pos, neg):
    """``[(name, sign, SeqletSet)]``: names as in modisco's files (``pos_patterns.pattern_0`` → ``pos_0``)."""
    return ([(f"pos_{i}", "positive", p) for i, p in enumerate(pos)]
            + [(f"neg_{i}", "negative", p) for i, p in enumerate(neg)])


def pattern_table(patterns, targets=None, q_threshold=0.05):
    """Each pattern's trimmed matrices, consensus and JASPAR matches.

    Parameters
    ----------
    patterns : list of (name, sign, SeqletSet) — :func:`_patterns`.
    targets : list of (id, name, pfm) or None — motifs to compare with (Tomtom through memelite).

    Returns
    -------
    (table, matrices, matches) — a DataFrame (pattern, sign, n_seqlets, width, trim_start, trim_end,
    best_match_id, best_match_name, pvalue, qvalue, strand, other_matches, consensus, ic), a dict
    ``name → {'pfm', 'cwm', 'hcwm'}`` of trimmed ``[W, 4]`` arrays, and every comparison (DataFrame or None).
    """
    import pandas as pd

    from .motif_compare import compare_jaspar
    from .motifs import information_content

    rows, matrices = [], {}
    for name, sign, p in patterns:
        s, e = trim_bounds(p.contrib_scores)
        pfm = np.asarray(p.sequence, float)[s:e]
        pfm = pfm / np.maximum(pfm.sum(1, keepdims=True), 1e-12)
        matrices[name] = {"pfm": pfm, "cwm": np.asarray(p.contrib_scores, float)[s:e],
                          "hcwm": np.asarray(p.hypothetical_contribs, float)[s:e]}
        ic = information_content(pfm)
        consensus = "".join(ALPHABET[b] if c >= 0.5 else ALPHABET[b].lower() for b, c in zip(pfm.argmax(1), ic))
        rows.append({"pattern": name, "sign": sign, "n_seqlets": len(p.seqlets), "width": e - s,
                     "trim_start": s, "trim_end": e, "consensus": consensus, "ic": round(float(ic.sum()), 3)})
    table = pd.DataFrame(rows, columns=["pattern", "sign", "n_seqlets", "width", "trim_start", "trim_end",
                                        "consensus", "ic"])
    for col in ("best_match_id", "best_match_name", "strand", "other_matches"):
        table[col] = ""
    for col in ("pvalue", "qvalue"):
        table[col] = np.nan
    matches = None
    if targets is not None and rows:
        matches = compare_jaspar([(name, m["pfm"]) for name, m in matrices.items()], targets)
        for i, name in enumerate(table.pattern):
            hits = matches[matches["query"] == name]
            if not len(hits):
                continue
            b = hits.iloc[0]
            table.loc[i, ["best_match_id", "best_match_name", "pvalue", "qvalue", "strand"]] = [
                b.target_id, b.target_name, b.pvalue, b.qvalue, b.strand]
            more = hits.iloc[1:3]
            more = more[more.qvalue < q_threshold]
            table.loc[i, "other_matches"] = "; ".join(f"{r.target_id} {r.target_name} q={r.qvalue:.2g}"
                                                      for r in more.itertuples())
    order = ["pattern", "sign", "n_seqlets", "width", "best_match_id", "best_match_name", "pvalue", "qvalue",
             "strand", "other_matches", "consensus", "ic", "trim_start", "trim_end"]
    return table[order], matrices, matches


def seqlet_table(patterns, bounds, rows, ids, x, hypothetical, coords=None):
    """Every seqlet of every pattern: record, position of the pattern's trimmed core, strand, contribution.

    Parameters
    ----------
    patterns : list of (name, sign, SeqletSet).
    bounds : dict name → (trim_start, trim_end).
    rows : np.ndarray of int, shape=(N,) — dataset rows of the sequences given to modisco.
    ids : np.ndarray of str, shape=(N,) — their record ids.
    x, hypothetical : np.ndarray, shape=(N, L, 4).
    coords : dict of ``chrom``, ``start``, ``end``, ``strand`` arrays, shape=(N,), or None.

    Returns
    -------
    pandas.DataFrame — pattern, record, index (dataset row), start, end (0-based, end exclusive, in the
    sequence), strand ('-': the pattern is the reverse complement there), contribution (sum of x · hypothetical
    over the core), seqlet_start, seqlet_end (the untrimmed seqlet); with ``coords`` also chrom,
    genome_start, genome_end, genome_strand.
    """
    import pandas as pd

    parts = []
    for name, _, p in patterns:
        s, e = bounds[name]
        ex = np.array([q.example_idx for q in p.seqlets], np.int64)
        st = np.array([q.start for q in p.seqlets], np.int64)
        en = np.array([q.end for q in p.seqlets], np.int64)
        rc = np.array([bool(q.is_revcomp) for q in p.seqlets])
        # a reverse-complement seqlet reads its pattern from its end backwards
        cs = np.where(rc, en - e, st + s)
        ce = np.where(rc, en - s, st + e)
        parts.append(pd.DataFrame({"pattern": name, "example": ex, "start": cs, "end": ce,
                                   "strand": np.where(rc, "-", "+"), "seqlet_start": st, "seqlet_end": en}))
    cols = ["pattern", "record", "index", "start", "end", "strand", "contribution", "seqlet_start", "seqlet_end"]
    if not parts:
        return pd.DataFrame(columns=cols + (["chrom", "genome_start", "genome_end", "genome_strand"] if coords else []))
    t = pd.concat(parts, ignore_index=True)
    L = x.shape[1]
    t["start"] = t.start.clip(0, L)
    t["end"] = t.end.clip(0, L)
    contrib = np.cumsum(np.concatenate([np.zeros((len(x), 1)), (x * hypothetical).sum(-1)], axis=1), axis=1)
    t["contribution"] = np.round(contrib[t.example, t.end] - contrib[t.example, t.start], 6)
    t["record"] = np.asarray(ids, dtype=object)[t.example]
    t["index"] = np.asarray(rows)[t.example]
    if coords is not None:
        c = {k: np.asarray(v)[t.example] for k, v in coords.items()}
        minus = c["strand"] == "-"
        # a row of a '-' window reads the genome backwards: column j is base end - 1 - j
        t["chrom"] = c["chrom"]
        t["genome_start"] = np.where(minus, c["end"] - t.end, c["start"] + t.start)
        t["genome_end"] = np.where(minus, c["end"] - t.start, c["start"] + t.end)
        t["genome_strand"] = np.where(minus, np.where(t.strand == "+", "-", "+"), t.strand)
        cols += ["chrom", "genome_start", "genome_end", "genome_strand"]
    return t.sort_values(["pattern", "index", "start"], kind="stable")[cols].reset_index(drop=True)


def _write_seqlet_bed(path, seqlets):
    """BED6 of the seqlets: genomic coordinates where known, else the record id as the sequence name."""
    if "chrom" in seqlets:
        cols = (seqlets.chrom, seqlets.genome_start, seqlets.genome_end, seqlets.genome_strand)
    else:
        cols = (seqlets.record, seqlets.start, seqlets.end, seqlets.strand)
    with open(path, "w") as fh:
        for chrom, s, e, name, strand in zip(cols[0], cols[1], cols[2], seqlets.pattern, cols[3]):
            fh.write(f"{chrom}\t{int(s)}\t{int(e)}\t{name}\t0\t{strand}\n")


def _select(ds, model_k, task, split, records, top, scores):
    """Dataset rows for discovery: the splits, then the records of ``records`` (by label), then the ``top``."""
    names = [s.strip() for s in (split or "all").split(",") if s.strip()]
    if "all" in names:
        rows = np.arange(ds.n)
    else:
        bad = [s for s in names if s not in ("train", "val", "test")]
        if bad:
            raise SeqcnnError(f"unknown split {bad[0]!r}", hint="use train, val, test, all, or a comma list")
        rows = np.sort(np.concatenate([ds.indices(s) for s in names]))
    if records not in RECORDS:
        raise SeqcnnError(f"unknown --records {records!r}", hint=f"use one of {', '.join(RECORDS)}")
    if records != "all":
        y = ds.y[rows]
        k = model_k
        positive = (y == 1) if task == "binary" else (y == k) if task == "multiclass" else (y[:, k] == 1)
        positive = np.asarray(positive).reshape(-1)
        rows = rows[positive if records == "positives" else ~positive]
    if len(rows) == 0:
        raise SeqcnnError(f"no {records if records != 'all' else 'records'} in split {split}", path=ds.path,
                          hint="choose other records with --split or --records")
    if top is not None:
        if top < 1:
            raise SeqcnnError(f"--top must be at least 1, got {top}")
        s = scores(rows)
        order = np.argsort(s if records == "negatives" else -s, kind="stable")[:top]
        rows = np.sort(rows[order])
    return rows


def _read_attributions(path, ds, k, T):
    """Rows, x and hypothetical contributions from an ISM or attribution file, checked against the dataset."""
    import h5py

    from .gradients import ATTRIBUTION_FORMAT
    from .mutagenesis import ISM_FORMAT

    if not os.path.exists(path):
        raise InputFormatError("attribution file not found", path=path)
    if not h5py.is_hdf5(path):
        raise InputFormatError("not an HDF5 file", path=path, hint="give a file of 'seqcnn mutagenesis' or "
                                                                   "'seqcnn attribute'")
    try:
        with h5py.File(path, "r") as h5:
            fmt = h5.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            if fmt not in (ISM_FORMAT, ATTRIBUTION_FORMAT) or not h5.attrs.get("complete"):
                raise InputFormatError("not a complete seqcnn ISM or attribution file", path=path,
                                       hint="write one with 'seqcnn mutagenesis' or 'seqcnn attribute'")
            for name in ("hypothetical", "x", "index", "reference_score"):
                if name not in h5:
                    raise InputFormatError(f"has no {name!r} dataset (written by an older seqcnn?)", path=path,
                                           hint="re-run 'seqcnn mutagenesis' or 'seqcnn attribute'")
            hyp, x = h5["hypothetical"][:], h5["x"][:]
            rows, ref = h5["index"][:].astype(np.int64), h5["reference_score"][:]
            file_output = int(h5.attrs.get("output", 0))
            method = h5.attrs.get("method", "")
    except OSError:
        raise InputFormatError("not a readable HDF5 file", path=path) from None
    if hyp.ndim == 4:  # every output of a multi-output model: keep the chosen one
        hyp, ref = hyp[..., k], ref[:, k]
    elif T > 1 and file_output != k:
        raise ModelMismatchError(f"the attributions are of output {file_output}, not of output {k}", path=path,
                                 hint=f"pass --output {file_output}, or recompute them for output {k}")
    if hyp.shape[1:] != (ds.length, 4):
        raise ModelMismatchError(f"attributions of {hyp.shape[1]} bp sequences, but the data are {ds.length} bp",
                                 path=path, hint="give the attributions of this dataset")
    if len(rows) == 0:
        raise SeqcnnError("the attribution file holds no sequences", path=path)
    if rows.min() < 0 or rows.max() >= ds.n or not np.array_equal(ds.read_x(rows), x):
        raise ModelMismatchError("the attribution file's sequences are not those of the dataset at its 'index' rows",
                                 path=path, hint="give the dataset the attributions were computed on")
    return rows, x, hyp.astype(np.float32), ref, str(method.decode() if isinstance(method, bytes) else method)


def run_discover(run_dir, data, out_dir, *, attributions=None, split="train,val", records="positives", top=None,
                 output=None, window=None, flank=None, max_seqlets=None, fdr=None, leiden_runs=None,
                 jaspar=None, jaspar_release=DEFAULT_RELEASE, jaspar_collection="CORE", motif_db=None,
                 q_threshold=0.05, plots=True, force=False, command=None, log=None):
    """TF-MoDISco on a run's attributions of a dataset's sequences → a folder of named motifs.

    Parameters
    ----------
    run_dir : str — a run of ``seqcnn train``.
    data : str — its encoded dataset (HDF5).
    out_dir : str — the folder to write (built beside it, renamed when complete).
    attributions : str, optional — an ISM file (``seqcnn mutagenesis``) or attribution file (``seqcnn
        attribute``) of ``data``'s sequences to use instead of computing exact ISM; its rows are used as given.
    split : str — comma-separated splits (or ``all``) to take sequences from.
    records : {'positives', 'negatives', 'all'} — by the label of ``output``.
    top : int, optional — keep the K highest-scoring (for negatives, the lowest-scoring) sequences.
    output : int or str, optional — the model output; needed when there are several.
    window, flank, max_seqlets, fdr, leiden_runs : override :func:`modisco_settings`.
    jaspar, jaspar_release, jaspar_collection, motif_db, q_threshold : what patterns are named by: JASPAR motifs
        of taxonomic group ``jaspar`` (None: the run's, recorded by ``seqcnn train --jaspar``; 'none': no
        comparison), or a MEME file; a match is q < ``q_threshold``.
    log : callable, optional — called with one line of text as each stage starts (attributions, TF-MoDISco,
        Tomtom, figures): the stages take seconds to minutes and print nothing themselves.

    Writes
    ------
    ``patterns.h5``, ``patterns.csv``, ``patterns_{pfm,cwm,hcwm}.{meme,jaspar}``, ``seqlets.csv``,
    ``seqlets.bed``, ``logos/<pattern>.png`` and ``summary.json``.

    Returns
    -------
    dict — ``out_dir``, ``table`` (patterns.csv), ``n_seqlets``, ``records_read``, ``records_used``,
    ``seconds`` (per stage), ``settings``, ``notes``, ``compared``, ``q_threshold``, ``database`` and
    ``tax_group`` (what patterns were compared with).
    """
    import h5py

    from .exact_ism import ism, kernels, single_output
    from .motif_compare import check_jaspar, run_targets
    from .motif_files import write_jaspar, write_meme
    from .mutagenesis import hypothetical, output_names
    from .outputs import check_output_dir, publish_dir, temp_dir, utc_now
    from .rundir import check_fits, load_run
    from .store import open_dataset

    _require_modisco()
    log = log or (lambda text: None)
    if motif_db is None:
        check_jaspar(jaspar or "all", jaspar_release, jaspar_collection)   # before loading anything
    out_dir, _ = check_output_dir(out_dir, force)  # the temporary folder goes beside it
    model, cfg = load_run(run_dir)
    names = output_names(cfg)
    T = int(model.outputs[0].shape[-1])
    k = single_output(output, T, names)
    targets, group, database = run_targets(jaspar, cfg, jaspar_release, jaspar_collection, motif_db)
    seconds = {}
    with open_dataset(data) as ds:
        check_fits(cfg, ds, run_dir)
        settings = modisco_settings(ds.length, sliding_window_size=window, flank_size=flank,
                                    max_seqlets_per_metacluster=max_seqlets, target_seqlet_fdr=fdr,
                                    n_leiden_runs=leiden_runs)
        kern = kernels(model, "auto")
        t0 = time.time()
        if attributions is not None:
            log(f"reading attributions from {attributions}")
            rows, x, hyp, _, method = _read_attributions(str(attributions), ds, k, T)
            source = {"attributions": os.path.abspath(str(attributions)), "method": method}
        else:
            def scores(r):
                return np.concatenate([kern.forward(np.asarray(ds.read_x(r[i:i + 1024]), np.float32)).numpy()[:, k]
                                       for i in range(0, len(r), 1024)])

            log(f"scoring the {split} records to select the {records}" + (f" (top {top})" if top else ""))
            rows = _select(ds, k, ds.task, split, records, top, scores)
            log(f"exact ISM of {len(rows)} sequences ({kern.method} path)")
            x = ds.read_x(rows)
            delta, _ = ism(model, x, output=k)
            hyp = hypothetical(delta)
            del delta
            source = {"attributions": None, "method": f"exact ISM ({kern.method})", "split": split,
                      "records": records, "top": top}
        seconds["attributions"] = time.time() - t0
        ids = np.asarray(ds.read_ids(rows), dtype=object)
        coords = None
        if ds.has_coords:
            c = ds.coords(rows)
            coords = {key: np.asarray(c[key]) for key in ("chrom", "start", "end", "strand")}
        n_records = int(ds.n)
    t0 = time.time()
    log(f"TF-MoDISco on {len(rows)} sequences: seqlets, then patterns (Leiden clustering)")
    pos, neg = find_patterns(x, hyp, settings)
    seconds["modisco"] = time.time() - t0
    patterns = _patterns(pos, neg)
    t0 = time.time()
    if targets is not None and patterns:
        # memelite's numba functions are cached after the first compilation: a minute once per installation
        log(f"Tomtom: {len(patterns)} pattern(s) against {len(targets)} motifs of {database} (the first run after "
            f"installation compiles it, about a minute)")
    table, matrices, matches = pattern_table(patterns, targets, q_threshold)
    seconds["tomtom"] = time.time() - t0
    bounds = {r.pattern: (int(r.trim_start), int(r.trim_end)) for r in table.itertuples()}
    seqlets = seqlet_table(patterns, bounds, rows, ids, np.asarray(x, np.float32), hyp, coords)
    notes = []
    if not patterns:
        notes.append(f"no pattern found in {len(rows)} sequences: TF-MoDISco needs more than "
                     f"{settings['min_metacluster_size']} seqlets of one sign; try more sequences (--split all, "
                     f"--records all) or a higher --fdr")
    label = {r.pattern: (r.best_match_name if targets is not None and r.qvalue < q_threshold else r.consensus)
             for r in table.itertuples()}
    nseq = {r.pattern: int(r.n_seqlets) for r in table.itertuples()}
    tmp = temp_dir(out_dir)
    try:
        from modiscolite.io import save_hdf5

        h5_path = os.path.join(tmp, "patterns.h5")
        save_hdf5(h5_path, pos or None, neg or None, settings["sliding_window_size"])
        with h5py.File(h5_path, "a") as h5:
            for name, _, _ in patterns:
                grp = h5[f"{'pos' if name.startswith('pos') else 'neg'}_patterns/pattern_{name.split('_')[1]}"]
                grp.attrs["trim_start"], grp.attrs["trim_end"] = bounds[name]
                grp.attrs["name"] = name
            h5.attrs["seqcnn_version"] = __version__
            h5.attrs["run"] = os.path.abspath(str(run_dir))
            h5.attrs["data"] = os.path.abspath(str(data))
            h5.attrs["created"] = utc_now()
        for kind in ("pfm", "cwm", "hcwm"):
            items = [(n, label[n], matrices[n][kind], nseq[n]) for n in matrices]
            write_meme(os.path.join(tmp, f"patterns_{kind}.meme"), items)
            # JASPAR files hold counts: the PFM times the seqlets; CWMs as they are (logit units)
            write_jaspar(os.path.join(tmp, f"patterns_{kind}.jaspar"),
                         [(n, a, m * nseq[n] if kind == "pfm" else m, s) for n, a, m, s in items])
        table.to_csv(os.path.join(tmp, "patterns.csv"), index=False, float_format="%.6g")
        if matches is not None:
            matches[matches.qvalue < q_threshold].to_csv(os.path.join(tmp, "matches.csv"), index=False,
                                                        float_format="%.6g")
        seqlets.to_csv(os.path.join(tmp, "seqlets.csv"), index=False, float_format="%.6g")
        _write_seqlet_bed(os.path.join(tmp, "seqlets.bed"), seqlets)
        if plots and patterns:
            from . import plots as plotting

            log(f"figures: {len(patterns)} logo(s)")
            os.makedirs(os.path.join(tmp, "logos"))
            for r in table.itertuples():
                title = f"{r.pattern} ({r.sign} contribution): {r.n_seqlets} seqlets"
                if targets is not None and r.qvalue < q_threshold:
                    title += f" ~ {r.best_match_name} {r.best_match_id} (q={r.qvalue:.1e})"
                plotting.pattern_logo(matrices[r.pattern]["cwm"], matrices[r.pattern]["pfm"],
                                      os.path.join(tmp, "logos", f"{r.pattern}.png"), title=title)
        summary = {
            "seqcnn_version": __version__, "modisco_lite_version": _modisco_version(),
            "modisco_lite_tested": MODISCO_TESTED, "run": os.path.abspath(str(run_dir)),
            "data": os.path.abspath(str(data)), "output": k, "output_name": names[k] if names else str(k),
            "length": int(x.shape[1]), "n_sequences": int(len(rows)), "selection": source,
            "attribution_definition": "hypothetical[n, i, b] = delta[n, i, b] - mean_c delta[n, i, c]; contribution "
                                      "= x * hypothetical (logit units)",
            "modisco": settings, "trim_threshold": TRIM_THRESHOLD,
            "trim_rule": "each pattern's files and logos span the first to the last position whose summed |CWM| "
                         "reaches trim_threshold of its maximum",
            "patterns": table.astype(object).where(table.notna(), None).to_dict(orient="records"), "n_seqlets": int(len(seqlets)),
            "comparison": (None if targets is None else
                           {"database": database, "tax_group": group,
                            "method": "memelite tomtom of the trimmed PFMs (both strands); q-values "
                                      "Benjamini-Hochberg over all comparisons", "q_threshold": q_threshold}),
            "seconds": {key: round(v, 2) for key, v in seconds.items()}, "notes": notes,
            "created": utc_now(), "command": command or "",
        }
        with open(os.path.join(tmp, "summary.json"), "w") as fh:
            json.dump(summary, fh, indent=2, default=_json_default)
        publish_dir(tmp, out_dir, force)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    return {"out_dir": out_dir, "table": table, "n_seqlets": int(len(seqlets)), "records_read": n_records,
            "records_used": int(len(rows)), "seconds": seconds, "settings": settings, "notes": notes,
            "compared": targets is not None, "q_threshold": q_threshold, "database": database, "tax_group": group}


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and v != v:
        return None
    raise TypeError(type(v))


def _require_modisco():
    try:
        import modiscolite  # noqa: F401
    except ImportError:
        raise SeqcnnError("seqcnn discover needs the modisco-lite package, which is not installed",
                          hint=f"pip install 'seqcnn[discover]' (modisco-lite=={MODISCO_TESTED})") from None


def _modisco_version():
    from importlib.metadata import version

    return version("modisco-lite")


discover = run_discover  # seqcnn.discover: the verb from Python
