"""Genome-wide evaluation of a trained run (ENCODE-DREAM's protocol) and the report's genome-wide section.

Provides :func:`evaluate_genome` (``seqcnn evaluate RUN --genome G --peaks P.bed --chroms ...``: every window of
the chosen chromosomes on the stride grid scored, labelled by overlap with the peaks, auROC, auPRC, the positive
fraction and recall at 10 % and 50 % FDR → an atomic JSON and the PR curve at the true class balance), its parts
(:func:`label_windows`, :func:`pr_points`, :func:`genome_metrics`, :func:`recall_at_fdr`, :func:`region_table`,
:func:`training_chroms`) and :func:`report_section` (what ``seqcnn report --scan/--genomewide`` shows: the PR
curve and the locus figures of the best and worst held-out regions).

Regions (the locus figures): each evaluated chromosome is cut into tiles of ``REGION_BASES`` (50 kbp) from its
start; a tile with at least one positive and one negative window gets its own auPRC. The *best* region is the
tile of highest auPRC, the *worst* the tile of lowest (ties: the one with more positive windows), so the page
shows where the model finds the peaks and where it misses them.
"""

import os
import time

import numpy as np

from .errors import InputFormatError, ModelMismatchError, SeqcnnError
from .outputs import check_output, publish_all, utc_now, write_json

FDRS = (0.1, 0.5)
REGION_BASES = 50_000
CURVE_POINTS = 1000
DEFAULT_STRIDE = 50


# --- labels and metrics (numpy only) ---


def label_windows(index, chrom, start, length, min_overlap=None):
    """Label windows positive where they share at least ``min_overlap`` bases with a peak.

    The rule of genome-mode ``seqcnn encode``'s multilabel ``--min-overlap`` (default ``length // 2``, at least
    one base), on the union of the peaks (:class:`seqcnn.intervals.IntervalIndex`).

    Parameters
    ----------
    index : IntervalIndex — the peaks.
    chrom : str or array of str, shape=(n,)
    start : array of int, shape=(n,) — 0-based window starts.
    length : int — the window length L.
    min_overlap : int, optional

    Returns
    -------
    np.ndarray, bool, shape=(n,)
    """
    start = np.asarray(start, np.int64)
    chrom = np.full(len(start), chrom, dtype=object) if isinstance(chrom, str) else np.asarray(chrom, dtype=object)
    need = int(length) // 2 if min_overlap is None else int(min_overlap)
    return index.overlap(chrom, start, start + int(length)) >= max(need, 1)


def _pr(y, score):
    """Cumulative true and false positives at each distinct threshold, highest first: (tp, fp, thresholds)."""
    y = np.asarray(y, bool)
    score = np.asarray(score)
    order = np.argsort(-score, kind="mergesort")
    ys, ss = y[order], score[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]  # the last window of each group of tied scores
    tp = np.cumsum(ys, dtype=np.int64)[last]
    fp = last + 1 - tp
    return tp, fp, ss[last]


def _average_precision(tp, fp):
    """Average precision from :func:`_pr`'s counts: sum over thresholds of (recall step) x precision (sklearn's)."""
    return float(np.sum(np.diff(np.r_[0, tp]) / tp[-1] * (tp / (tp + fp))))


def recall_at_fdr(y, score, fdr):
    """The largest recall at a threshold whose precision is at least ``1 - fdr`` (0.0 when none reaches it).

    Parameters
    ----------
    y : array of bool/0-1, shape=(n,); score : array, shape=(n,) — higher = more positive.
    fdr : float — the false discovery rate allowed (ENCODE-DREAM: 0.1 and 0.5).
    """
    tp, fp, _ = _pr(y, score)
    return _recall_at_fdr(tp, fp, fdr)


def _recall_at_fdr(tp, fp, fdr):
    """:func:`recall_at_fdr` from the cumulative counts of :func:`_pr` (one sort serves every FDR)."""
    if len(tp) == 0 or tp[-1] == 0:
        return 0.0
    ok = tp >= (1.0 - fdr) * (tp + fp) - 1e-9 * (tp + fp)  # precision >= 1 - fdr, without a division's rounding
    return float(tp[ok].max() / tp[-1]) if ok.any() else 0.0


def genome_metrics(y, score):
    """auROC, auPRC (average precision, as scikit-learn's), the positive fraction and recall at each of ``FDRS``.

    Parameters
    ----------
    y : array of bool, shape=(n,); score : array, shape=(n,) — probability or logit (the ranking is what counts).

    Returns
    -------
    dict — ``n``, ``n_pos``, ``positive_fraction``, ``auroc``, ``auprc`` (None without both classes),
    ``recall_at_fdr`` ({'0.1': r, '0.5': r}), ``curve`` (:func:`pr_points`).
    """
    y = np.asarray(y, bool)
    n, n_pos = int(len(y)), int(y.sum())
    out = {"n": n, "n_pos": n_pos, "positive_fraction": n_pos / n if n else None, "auroc": None, "auprc": None,
           "recall_at_fdr": {str(f): None for f in FDRS}, "curve": None}
    if n_pos == 0 or n_pos == n:
        return out
    tp, fp, _ = _pr(y, score)
    recall = tp / n_pos
    precision = tp / (tp + fp)
    fpr = fp / (n - n_pos)
    out["auprc"] = _average_precision(tp, fp)
    out["auroc"] = float(np.trapezoid(np.r_[0.0, recall], np.r_[0.0, fpr]))
    out["recall_at_fdr"] = {str(f): _recall_at_fdr(tp, fp, f) for f in FDRS}
    out["curve"] = pr_points(recall, precision)
    return out


def pr_points(recall, precision, n_points=CURVE_POINTS):
    """A subsample of the precision-recall steps small enough for the JSON and faithful enough to redraw.

    Keeps the first threshold reaching each of ``n_points`` recall levels (and the last one): the step curve
    drawn through them differs from the full one by less than ``1 / n_points`` in recall.

    Returns
    -------
    dict — ``recall``, ``precision``: lists of float, same length (at most ``n_points + 1``).
    """
    recall, precision = np.asarray(recall, float), np.asarray(precision, float)
    levels = np.searchsorted(recall, np.linspace(0, 1, n_points + 1)[1:], side="left")
    keep = np.unique(np.r_[np.minimum(levels, len(recall) - 1), len(recall) - 1])
    return {"recall": [round(float(v), 6) for v in recall[keep]],
            "precision": [round(float(v), 6) for v in precision[keep]]}


def region_table(chrom, centre, y, score, size=REGION_BASES, lengths=None):
    """Tiles of ``size`` bases with their windows, positives and auPRC, the best and worst first and last.

    Parameters
    ----------
    chrom : array of str, shape=(n,); centre : array of int, shape=(n,) — window centres.
    y : array of bool, shape=(n,); score : array, shape=(n,)
    lengths : dict, optional — chromosome → length: a chromosome's last tile ends at its end.

    Returns
    -------
    list of dict — ``chrom``, ``start``, ``end``, ``n``, ``n_pos``, ``auprc``: the tiles with both classes,
    sorted by auPRC (highest first; ties: more positives first).
    """
    from .genome import by_chrom

    centre, y, score = np.asarray(centre, np.int64), np.asarray(y, bool), np.asarray(score)
    groups = [(chrom, np.arange(len(centre)))] if isinstance(chrom, str) else by_chrom(np.asarray(chrom, object))
    rows = []
    for c, sel in groups:
        tile = centre[sel] // size
        order = np.argsort(tile, kind="stable")
        # Windows of one tile are contiguous once sorted by tile: one metric call per tile, not per window.
        sel, tile = sel[order], tile[order]
        cuts = np.flatnonzero(np.diff(tile)) + 1
        for part in np.split(np.arange(len(sel)), cuts):
            yy = y[sel[part]]
            if yy.all() or not yy.any():
                continue
            tp, fp, _ = _pr(yy, score[sel[part]])
            t = int(tile[part[0]])
            end = min((t + 1) * size, (lengths or {}).get(c, (t + 1) * size))
            rows.append({"chrom": str(c), "start": t * size, "end": end, "n": int(len(yy)), "n_pos": int(tp[-1]),
                         "auprc": round(_average_precision(tp, fp), 6)})
    rows.sort(key=lambda r: (-r["auprc"], -r["n_pos"]))
    return rows


# --- which chromosomes the run trained on ---


def training_chroms(cfg, run_dir=None):
    """The chromosomes a run fitted or selected on, from its recorded dataset file.

    Returns
    -------
    (set of str or None, str or None, list of str) — the training and validation chromosomes (None when they
    cannot be known), a note saying why not (a FASTA-mode dataset has no coordinates), and the test regions of a
    dataset split by position blocks (``chrom:start-end``; empty for a split by chromosome).

    Raises
    ------
    InputFormatError — when the recorded dataset file is gone (it says how to proceed).
    """
    from .splits import SPLIT_NAMES
    from .store import open_dataset

    path = (cfg.get("data") or {}).get("path")
    if not path or not os.path.exists(path):
        raise InputFormatError(f"the run's dataset file {path or '(not recorded)'} is gone, so the chromosomes it "
                               f"trained on cannot be checked", path=str(run_dir) if run_dir else None,
                               hint="restore the file at that path, or pass --allow-train-chroms if you know "
                                    "the --chroms were held out")
    with open_dataset(path) as ds:
        if not ds.has_coords:
            return None, (f"the run was trained on a FASTA-mode dataset ({path}) with no coordinates: whether the "
                          f"evaluated chromosomes were held out cannot be checked"), []
        chrom = ds.coords()["chrom"]
        split = np.asarray(ds.split)
        fitted = np.isin(split, [SPLIT_NAMES.index("train"), SPLIT_NAMES.index("val")])
        blocks = ds.attrs.get("split_blocks") or {}
        return set(map(str, np.unique(chrom[fitted]))), None, list((blocks.get("regions") or {}).get("test") or [])


def check_held_out(cfg, chroms, run_dir=None, allow=False):
    """Refuse chromosomes the run trained or selected on, unless ``allow``; return the notes to print.

    Raises
    ------
    SeqcnnError — one line naming the chromosomes and the fix.
    """
    if allow:
        return []
    seen, note, test_regions = training_chroms(cfg, run_dir)
    if seen is None:
        return [note]
    bad = [c for c in chroms if c in seen]
    if bad:
        held = "held-out chromosomes are those of the dataset's test split"
        if test_regions:
            held = (f"the dataset split its chromosomes by position blocks; only {', '.join(test_regions[:3])} "
                    f"{'was' if len(test_regions) == 1 else 'were'} held out")
        raise SeqcnnError(f"the run trained or selected its model on {', '.join(bad)}: a genome-wide score there "
                          f"would be training performance", path=str(run_dir) if run_dir else None,
                          hint=f"choose other --chroms ({held}), or pass --allow-train-chroms to score them anyway")
    return []


# --- the verb ---


def _chroms(genome, chroms):
    if not chroms:
        raise SeqcnnError("give the chromosomes to evaluate with --chroms (e.g. the run's held-out ones)")
    missing = [c for c in chroms if c not in genome.lengths]
    if missing:
        raise SeqcnnError(f"chromosome {missing[0]!r} is not in the genome (it has "
                          f"{', '.join(list(genome.lengths)[:6])}{'...' if len(genome.lengths) > 6 else ''})",
                          path=genome.source, hint="name chromosomes of this genome in --chroms")
    return list(dict.fromkeys(chroms))


def evaluate_genome(run_dir, genome, peaks, chroms, stride=DEFAULT_STRIDE, min_overlap=None, max_n=0.1, out=None,
                    force=False, allow_train_chroms=False, plots=True, output=None, slab_bases=None, method="auto",
                    progress=False, command=None):
    """Score every window of ``chroms`` on the stride grid and measure it against the peaks (ENCODE-DREAM).

    Parameters
    ----------
    run_dir : str — a finished run.
    genome : str — reference FASTA (plain or bgzip).
    peaks : str — BED/narrowPeak of the bound regions on these chromosomes.
    chroms : list of str — chromosomes to evaluate (refused where the run trained, unless ``allow_train_chroms``).
    stride : int — bases between window centres (1 ≤ stride ≤ L).
    min_overlap : int, optional — bases a window must share with a peak to be positive (default L // 2).
    max_n : float — windows with a larger N fraction are dropped (counted).
    out : str, optional — the JSON (atomic); ``<out stem>_pr.png`` beside it unless ``plots=False``.
    output : int or str, optional — the output of a multi-output run (index or name).
    slab_bases : int, optional — bases per slab of :func:`seqcnn.scan.iter_scores` (its default if None).
    method : str — :class:`seqcnn.scan_exact.WindowScorer`'s method.

    Returns
    -------
    dict — the metrics of :func:`genome_metrics` plus ``windows`` (``read``, ``scored``, ``dropped`` by reason),
    ``chroms``, ``stride``, ``min_overlap``, ``length``, ``output``, ``method``, ``seconds``, ``regions`` (best and
    worst, :func:`region_table`), ``notes``, provenance (run, genome, peaks, created, command).

    Notes
    -----
    Memory: scoring streams slabs (``seqcnn scan``'s bound), but an exact auPRC ranks all windows at once, so
    every scored window's float32 score and bool label are held: 5 bytes per window (each chromosome's centres
    are dropped once it is labelled and tiled), and the metrics need about 80 bytes per window more while they
    are computed (measured with tracemalloc on 10 M windows: argsort indices, sorted copies, int64 cumulative
    counts, float64 precision/recall/FPR per distinct score). A human genome at stride 50 (62 M windows) needs
    about 0.3 GB held and 5 GB at the peak; at stride 10, five times that.
    """
    from .exact_ism import single_output
    from .genome import Genome
    from .intervals import IntervalIndex, read_bed
    from .rundir import load_run
    from .scan import check_run_chroms, check_stride
    from .scoring import output_columns

    figure = None
    if out is not None:
        out = str(out)
        check_output(out, force)
        if plots:
            figure = f"{os.path.splitext(out)[0]}_pr.png"
            check_output(figure, force)
    model, cfg = load_run(run_dir)
    length = int(cfg["model"]["input_length"])
    check_stride(stride, length)
    stride = int(stride)
    if min_overlap is not None and not 1 <= int(min_overlap) <= length:
        raise SeqcnnError(f"--min-overlap {min_overlap} must lie between 1 and the window length {length}")
    if not 0 <= max_n <= 1:
        raise SeqcnnError(f"--max-n ({max_n}) must lie between 0 and 1")
    names = [c[len("prob_"):] for c in output_columns(cfg)]
    k = single_output(output, int(cfg["model"]["n_outputs"]), names)
    iv = read_bed(peaks)
    with Genome(genome) as g:
        chroms = _chroms(g, chroms)
        from .genome_encode import check_names

        check_names(g, iv)   # peaks named like 'chr1' against a '1' genome: one line, before any scoring
        naming = check_run_chroms(cfg, g)   # a genome named unlike the run's data: one line
        notes = check_held_out(cfg, chroms, run_dir, allow_train_chroms)
        if naming and allow_train_chroms:
            notes.append(naming)
        on = np.isin(iv.chrom, chroms)
        if not on.any():
            raise SeqcnnError(f"no peak lies on {', '.join(chroms)}", path=os.fspath(peaks),
                              hint="give the peaks of these chromosomes, or evaluate the chromosomes they are on")
        index = IntervalIndex(iv.chrom[on], iv.start[on], iv.end[on])
        t0 = time.perf_counter()
        need = length // 2 if min_overlap is None else int(min_overlap)
        notes += _short_peak_note(iv.start[on], iv.end[on], need, chroms)
        scorer, y, score, regions, windows, bases = _score(model, g, chroms, stride, max_n, slab_bases, method, k,
                                                           progress, index, min_overlap)
        seconds = time.perf_counter() - t0
        genome_info = {"path": os.path.abspath(g.source), "fai_sha256": g.index_sha256()}
    if len(y) == 0:
        raise SeqcnnError(f"no window of {', '.join(chroms)} could be scored ({windows['dropped']})",
                          hint="check --max-n and the chromosomes' lengths against the window length")
    m = genome_metrics(y, score)
    if m["auprc"] is None:
        notes.append(f"every scored window is {'positive' if m['n_pos'] else 'negative'}: auROC and auPRC are "
                     f"undefined")
    m.update({
        "windows": windows, "chroms": chroms, "stride": stride, "length": length,
        "min_overlap": length // 2 if min_overlap is None else int(min_overlap), "max_n": float(max_n),
        "output": names[k], "output_index": k, "label": _label(cfg, k), "method": scorer.method,
        "seconds": round(seconds, 3),
        "bases": int(bases), "peaks": {"path": os.path.abspath(os.fspath(peaks)), "on_chroms": int(on.sum()),
                                       "read": int(len(iv))},
        "regions": {"size": REGION_BASES, "n": len(regions), "best": regions[0] if regions else None,
                    "worst": regions[-1] if regions else None},
        "allow_train_chroms": bool(allow_train_chroms), "notes": notes,
        "run": os.path.abspath(str(run_dir)), "genome": genome_info, "created": utc_now(), "command": command or "",
    })
    if out is not None:
        tmp_json, tmp_fig = f"{out}.tmp-{os.getpid()}.json", None
        try:
            if figure and m["curve"] is not None:
                tmp_fig = f"{figure}.tmp-{os.getpid()}.png"
                pr_figure(m, tmp_fig)
            write_json(m, tmp_json)
            publish_all([(tmp_json, out)] + ([(tmp_fig, figure)] if tmp_fig else []), force)
        finally:
            for t in (tmp_json, tmp_fig):
                if t and os.path.exists(t):
                    os.remove(t)
        m["figure"] = figure if tmp_fig else None
    return m


def pr_figure(m, path, title=None):
    """Draw the PR curve of a genome-wide evaluation (its JSON or dict ``m``) at the true class balance."""
    from . import plots

    return plots.genome_pr_curve(m["curve"]["recall"], m["curve"]["precision"], m["positive_fraction"], path,
                                 auprc=m["auprc"], recall_at_fdr={float(f): r for f, r in m["recall_at_fdr"].items()},
                                 title=title or f"{m.get('label') or m['output']} on {', '.join(m['chroms'])} "
                                                f"(stride {m['stride']})")


def _label(cfg, k):
    """What output ``k`` detects, for people: a binary run's label name (its output is named '1'), else its name."""
    d = cfg.get("data") or {}
    names = d.get("label_names") if cfg["model"]["task"] != "multiclass" else d.get("class_names")
    return str(names[k]) if names and k < len(names) else None


def _short_peak_note(start, end, need, chroms):
    """A note when peaks are shorter than ``need`` bases: alone, such a peak can label no window positive."""
    width = np.asarray(end, np.int64) - np.asarray(start, np.int64)
    short = int((width < need).sum())
    suggest = max(1, int(np.median(width)) // 2) if len(width) else need
    if not short or suggest >= need:   # a few narrow peaks among broad ones: the rule is the user's choice
        return []
    return [f"{short} of {len(width)} peaks on {', '.join(chroms)} are shorter than --min-overlap {need} bp "
            f"(median {int(np.median(width))} bp): alone they label no window positive; for narrow peaks (motif "
            f"sites, footprints) pass --min-overlap 1 (any shared base, as ENCODE-DREAM labels bins) or "
            f"--min-overlap {suggest} (half the median peak)"]


def _score(model, genome, chroms, stride, max_n, slab_bases, method, k, progress, index, min_overlap):
    """Score, label and tile every window of ``chroms``, keeping 5 bytes per window (its score and its label).

    The grid, the slabs and the drop rules are :func:`seqcnn.scan.iter_scores`'s, so these windows are those of a
    ``seqcnn scan`` track at the same stride. Each chromosome's windows are labelled (:func:`label_windows`) and
    tiled (:func:`region_table`) as soon as it is scored, so its centres (int64) are dropped then.

    Returns
    -------
    (scorer, y bool [n], score float32 [n] (logits of output ``k``), regions (list of dict, best first),
    windows {read, scored, dropped {reason: n}}, bases int) — n the scored windows, in genome order.
    """
    from .scan import SLAB_BASES, iter_scores
    from .scan_exact import WindowScorer

    scorer = WindowScorer(model, method=method)
    L = int(scorer.length)
    ys, scores, regions = [], [], []
    windows = {"read": 0, "scored": 0, "dropped": {}}
    total = sum(genome.lengths[c] for c in chroms)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="bp", unit_scale=True, desc="evaluate", leave=False)
    try:
        for c in chroms:
            cs, ls = [], []
            for slab in iter_scores(scorer, genome, c, 0, genome.lengths[c], stride, max_n,
                                    slab_bases or SLAB_BASES):
                windows["read"] += int(len(slab.centres))
                cs.append(slab.centres[slab.kept])
                ls.append(slab.logits[slab.kept, k])
                for reason, n in slab.dropped.items():
                    windows["dropped"][reason] = windows["dropped"].get(reason, 0) + int(n)
                if bar is not None:
                    bar.update(slab.bases)
            centre = np.concatenate(cs) if cs else np.zeros(0, np.int64)
            sc = np.concatenate(ls) if ls else np.zeros(0, np.float32)
            del cs, ls
            yc = label_windows(index, c, centre - L // 2, L, min_overlap)
            regions += region_table(c, centre, yc, sc, lengths={c: genome.lengths[c]})
            windows["scored"] += int(len(centre))
            ys.append(yc)
            scores.append(sc)
    finally:
        if bar is not None:
            bar.close()
    regions.sort(key=lambda r: (-r["auprc"], -r["n_pos"]))
    y = np.concatenate(ys) if ys else np.zeros(0, bool)
    score = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    return scorer, y, score, regions, windows, total


# --- the report's section ---


def _load_json(path):
    import json

    path = str(path)
    if not os.path.exists(path):
        raise InputFormatError("file not found", path=path, hint="give the JSON of 'seqcnn evaluate --genome'")
    try:
        with open(path) as fh:
            m = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"not valid JSON ({exc})", path=path) from None
    if not isinstance(m, dict) or not {"curve", "auprc", "recall_at_fdr", "chroms", "run"} <= set(m):
        raise InputFormatError("not the JSON of 'seqcnn evaluate --genome' (no curve/auprc/recall_at_fdr)", path=path,
                               hint="give the -o file of 'seqcnn evaluate RUN --genome G --peaks P'")
    return m


def _scan_summary(track):
    """The summary ``seqcnn scan`` wrote beside a track (``<track>.json``, or the multi-output form), or {}."""
    from .scan import _part_summary

    return _part_summary(str(track)) or {}


def _intervals_in(iv, chrom, start, end):
    """The intervals of ``iv`` that touch ``chrom:[start, end)``: (starts, ends) int64 arrays."""
    if iv is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    on = (iv.chrom == chrom) & (iv.end > start) & (iv.start < end)
    return iv.start[on], iv.end[on]


def _boxes(path):
    """The intervals of a BED file to draw, or None; a file of no intervals (no site called) draws none."""
    from .intervals import read_bed

    if path is None:
        return None
    try:
        return read_bed(path)
    except InputFormatError:
        with open(path) as fh:
            if any(line.strip() and not line.startswith(("#", "track", "browser")) for line in fh):
                raise
        return None


def report_section(run_dir, figs, scan=None, genomewide=None, peaks=None, sites=None):
    """The genome-wide section of ``seqcnn report``: the PR curve, the numbers and the best/worst locus figures.

    Parameters
    ----------
    run_dir : str — the report's run (the JSON must have been made with it).
    figs : report._Figures — draws and embeds figures (``figs.add(draw, *args, width=...)`` → data URI).
    scan : str, optional — the run's track (bigWig or bedGraph of ``seqcnn scan``), read by
        :func:`seqcnn.scan.read_track`.
    genomewide : str, optional — the JSON of :func:`evaluate_genome`: the numbers, the PR curve and the regions.
    peaks, sites : str, optional — BED files drawn as boxes under the track (peaks default to the JSON's).

    Returns
    -------
    (dict, list of str, list of dict) — the section for the template, notes, provenance rows of the inputs.
    """
    from . import plots
    from .readers import sha256_file

    m = _load_json(genomewide) if genomewide is not None else None
    notes, inputs, section = [], [], {"metrics": None, "pr": None, "loci": [], "scan": None}
    if m is not None:
        recorded = m.get("run")
        if recorded and os.path.realpath(recorded) != os.path.realpath(str(run_dir)):
            raise ModelMismatchError(f"made with another run ({recorded}), not {run_dir}", path=str(genomewide),
                                     hint="give the genome-wide JSON of this run")
        section["metrics"] = {k: m.get(k) for k in ("auroc", "auprc", "positive_fraction", "n", "n_pos", "chroms",
                                                    "stride", "min_overlap", "output", "label", "method", "seconds",
                                                    "windows", "regions", "allow_train_chroms")}
        section["metrics"]["recall_10"] = m["recall_at_fdr"].get("0.1")
        section["metrics"]["recall_50"] = m["recall_at_fdr"].get("0.5")
        section["metrics"]["peaks"] = (m.get("peaks") or {}).get("path")
        if m["curve"] is not None:
            section["pr"] = figs.add(pr_figure, m)
        inputs.append({"what": "genome-wide evaluation", "path": os.path.abspath(str(genomewide)),
                       "sha256": sha256_file(str(genomewide)), "created": m.get("created"),
                       "command": m.get("command") or "not recorded", "seed": None})
        if m.get("allow_train_chroms"):
            notes.append("the genome-wide evaluation scored chromosomes the run trained on (--allow-train-chroms): "
                         "its numbers are not held-out performance")
    if peaks is None and m is not None and os.path.exists((m.get("peaks") or {}).get("path") or ""):
        peaks = m["peaks"]["path"]
    piv, siv = _boxes(peaks), _boxes(sites)
    for what, path in (("peaks", peaks), ("called sites", sites)):
        if path is not None:
            inputs.append({"what": what, "path": os.path.abspath(str(path)), "sha256": sha256_file(str(path)),
                           "created": None, "command": "not recorded", "seed": None})
    if scan is not None:
        from .scan import read_track

        section["scan"] = os.path.abspath(str(scan))
        made = _scan_summary(scan)
        recorded = made.get("run")
        if recorded and os.path.realpath(recorded) != os.path.realpath(str(run_dir)):
            raise ModelMismatchError(f"scanned with another run ({recorded}), not {run_dir}", path=str(scan),
                                     hint="give the track 'seqcnn scan' wrote with this run")
        inputs.append({"what": "scan track", "path": os.path.abspath(str(scan)), "sha256": sha256_file(str(scan)),
                       "created": made.get("created"), "command": made.get("command") or "not recorded",
                       "seed": None})
        regions = (m or {}).get("regions") or {}
        picked = [(kind, regions.get(kind)) for kind in ("best", "worst") if regions.get(kind)]
        if len(picked) == 2 and picked[0][1] == picked[1][1]:
            picked = picked[:1]
        if not picked:
            notes.append("no locus figure: give --genomewide (the JSON of 'seqcnn evaluate --genome') to pick the "
                         "best and worst held-out regions")
        for kind, r in picked:
            values = read_track(str(scan), r["chrom"], r["start"], r["end"])
            label = f"{kind} region {r['chrom']}:{r['start']:,}-{r['end']:,} (auPRC {r['auprc']:.3f}, " \
                    f"{r['n_pos']} positive windows)"
            where = (r["chrom"], r["start"], r["end"])
            uri = figs.add(plots.locus_figure, values, r["chrom"], r["start"], _intervals_in(piv, *where),
                           _intervals_in(siv, *where), title=label, width="wide")
            section["loci"].append({"kind": kind, "label": label, "figure": uri, **r})
    elif m is not None:
        notes.append("no locus figure: give --scan (the run's track from 'seqcnn scan') to draw the best and worst "
                     "held-out regions")
    return section, notes, inputs
