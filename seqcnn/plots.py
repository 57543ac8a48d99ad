"""Every figure seqcnn draws: training curves, ROC/PR/calibration curves, confusion matrices, ISM maps,
sequence logos, the data figures (GC and length histograms) and the genome-wide ones (the PR curve at the
true class balance, the locus figure of a track with its peaks and called sites).

Functions take arrays and a path, write a PNG, and return the path. matplotlib runs
with the non-interactive Agg backend, so plotting works on servers without a display.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.collections as mcoll  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.path import Path  # noqa: E402
from matplotlib.textpath import TextPath  # noqa: E402
from matplotlib.transforms import Affine2D  # noqa: E402


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


# --- training figures (training curves, ROC, PR) ---


def training_curves(history, path, monitor=None):
    """Loss (train and validation) and validation metrics per epoch, two panels side by side.

    Parameters
    ----------
    history : list of dict — one per epoch, keys ``epoch``, ``loss`` and optionally ``val_loss``,
        ``val_auroc``, ``val_auprc``, ``val_accuracy``, ``val_mcc``.
    monitor : str, optional — the early-stopping metric; its best epoch is marked.
    """
    epochs = np.array([h["epoch"] for h in history])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))

    def col(key):
        return np.array([np.nan if h.get(key) is None else h[key] for h in history], dtype=float)

    ax1.plot(epochs, col("loss"), "o-", label="train loss", ms=3)
    if any("val_loss" in h for h in history):
        ax1.plot(epochs, col("val_loss"), "o-", label="val loss", ms=3)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.legend(frameon=False)
    for key in ("val_auroc", "val_auprc", "val_accuracy", "val_mcc"):
        if any(h.get(key) is not None for h in history):
            ax2.plot(epochs, col(key), "o-", label=key[4:], ms=3)
    if monitor and any(h.get(monitor) is not None for h in history):
        values = col(monitor)
        best = np.nanargmin(values) if monitor == "val_loss" else np.nanargmax(values)
        for ax in (ax1, ax2):
            ax.axvline(epochs[best], color="grey", ls=":", lw=1)
        ax2.set_title(f"best epoch {epochs[best]} ({monitor})", fontsize=9)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation metric")
    if ax2.lines:
        ax2.legend(frameon=False, fontsize=8)
    return _save(fig, path)


def _curves(sets, path, draw, title, xlabel, ylabel, legend_loc):
    """One panel of per-output curves: ``draw(ax, name, y, score)`` for every set with both classes."""
    fig, ax = plt.subplots(figsize=(4.2, 4))
    for name, y, s in sets:
        if len(np.unique(y)) >= 2:
            draw(ax, name, y, s)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8, loc=legend_loc)
    return _save(fig, path)


def roc_curves(sets, path, title="ROC"):
    """ROC curves, one per output, with auROC in the legend.

    Parameters
    ----------
    sets : list of (name, y_true, score) — y_true shape=(n,) 0/1, score shape=(n,).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    def draw(ax, name, y, s):
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} auROC {roc_auc_score(y, s):.3f}".strip())
        ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)

    return _curves(sets, path, draw, title, "false positive rate", "true positive rate", "lower right")


def pr_curves(sets, path, title="Precision-recall"):
    """Precision-recall curves, one per output, with auPRC (average precision) and the chance level.

    Parameters
    ----------
    sets : list of (name, y_true, score) — y_true shape=(n,) 0/1, score shape=(n,).
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    def draw(ax, name, y, s):
        precision, recall, _ = precision_recall_curve(y, s)
        line, = ax.step(recall, precision, where="post",
                        label=f"{name} auPRC {average_precision_score(y, s):.3f}".strip())
        ax.axhline(np.mean(y), color=line.get_color(), ls=":", lw=1)
        ax.set_ylim(0, 1.02)

    return _curves(sets, path, draw, title, "recall", "precision", "lower left")


def calibration_curve(sets, path, title="Calibration", bins=10):
    """Reliability diagram: mean predicted probability against the observed fraction of positives, per output.

    Bins are quantiles of the scores (equal counts), so sparse extremes do not give noisy points; marker size
    follows the bin's count.

    Parameters
    ----------
    sets : list of (name, y_true, probability) — y_true shape=(n,) 0/1, probability shape=(n,) in [0, 1].
    bins : int — bins per output (fewer when there are fewer distinct scores).
    """
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfectly calibrated")
    for name, y, p in sets:
        y, p = np.asarray(y, float), np.asarray(p, float)
        if len(y) < 2:
            continue
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
        which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
        counts = np.bincount(which, minlength=max(len(edges) - 1, 1))
        keep = counts > 0
        mean_p = np.bincount(which, weights=p, minlength=len(counts))[keep] / counts[keep]
        frac = np.bincount(which, weights=y, minlength=len(counts))[keep] / counts[keep]
        ax.plot(mean_p, frac, "-", lw=1.2)
        ax.scatter(mean_p, frac, s=12 + 60 * counts[keep] / counts.max(), zorder=3,
                   label=f"{name} (n={len(y):,})".strip())
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("fraction positive")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return _save(fig, path)


def confusion_matrix(matrix, names, path, title="Confusion matrix"):
    """A confusion matrix as a heatmap with counts and row percentages.

    Parameters
    ----------
    matrix : array, shape=(C, C) — rows true classes, columns predicted classes (counts).
    names : list of str — the C class names.
    """
    m = np.asarray(matrix, float)
    rows = m.sum(1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    size = 1.2 + 0.7 * len(m)
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(m)):
        for j in range(len(m)):
            ax.text(j, i, f"{int(m[i, j]):,}\n{100 * share[i, j]:.0f}%", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(m)), names, rotation=30 if max(map(len, names)) > 4 else 0)
    ax.set_yticks(range(len(m)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return _save(fig, path)


def class_histograms(values, path, xlabel, title="", bins=30, integer=False):
    """Overlaid density histograms of one quantity per class (outlines), with each class's median.

    Parameters
    ----------
    values : dict — class name → np.ndarray, shape=(n,) (NaN ignored).
    integer : bool — integer values (lengths): bins of whole units when the range is small.
    """
    arrays = {k: np.asarray(v, float)[np.isfinite(np.asarray(v, float))] for k, v in values.items()}
    finite = np.concatenate([a for a in arrays.values()] or [np.zeros(0)])
    fig, ax = plt.subplots(figsize=(5, 3.2))
    if len(finite):
        lo, hi = float(finite.min()), float(finite.max())
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = (np.arange(np.floor(lo), np.ceil(hi) + 2) - 0.5 if integer and hi - lo <= bins
                 else np.linspace(lo, hi, bins + 1))
        for name, a in arrays.items():
            if len(a) == 0:
                continue
            _, _, patches = ax.hist(a, bins=edges, density=True, histtype="step", lw=1.6,
                                    label=f"{name} (n={len(a):,}, median {np.median(a):.3g})")
            ax.axvline(np.median(a), color=patches[0].get_edgecolor(), lw=1, ls="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_ylim(0, (ax.get_ylim()[1] or 1) * 1.35)
    ax.set_title(title, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    return _save(fig, path)


# --- interpretation figures (ISM heatmaps, importance logos, filter logos) ---


_BASES = "ACGT"
# logomaker's "classic" colours, by column: A green, C blue, G orange, T red.
_BASE_COLORS = ([0, 0.5, 0], [0, 0, 1], [1, 0.65, 0], [1, 0, 0])
_GLYPH_WIDTH = 0.95  # of a position's width, as logomaker
_GLYPHS = {}


def _glyph(letter, flip):
    """(outline of ``letter`` at size 1 with its bounding box's lower-left corner at the origin, width, height).

    The outline is built once per letter and process: building a font outline per drawn letter cost 7 ms, which
    for the motifs verb's ~100 filter logos was most of its run (a logo is one outline per base and position).
    """
    key = (letter, flip)
    if key not in _GLYPHS:
        path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
        if flip:
            path = Affine2D().scale(1, -1).transform_path(path)
        box = path.get_extents()
        _GLYPHS[key] = (Affine2D().translate(-box.xmin, -box.ymin).transform_path(path), box.width, box.height)
    return _GLYPHS[key]


def _logo(matrix, ax, ylabel):
    """Draw a [L, 4] matrix (columns A, C, G, T) as a sequence logo on ``ax``.

    The letters of a position are stacked by value, the largest on top, positive ones from 0 upwards and negative
    ones, upside down, from 0 downwards; each letter is stretched to its value's height and to 0.95 of the
    position's width (no wider than an "E"). This is logomaker's ``Logo(df, color_scheme="classic")`` drawing,
    with each letter's outline built once (``_glyph``) and placed by array arithmetic: one compound path per base
    and orientation, every letter of it a copy of the outline scaled and moved.
    """
    m = np.asarray(matrix, float)
    order = np.argsort(m, axis=1, kind="stable")
    ordered = np.take_along_axis(m, order, axis=1)
    # Each letter's floor: below zero the negatives' sum, then each letter sits on the one before it.
    floors = np.clip(ordered, None, 0).sum(1, keepdims=True) + np.concatenate(
        [np.zeros((len(m), 1)), np.cumsum(np.abs(ordered), axis=1)[:, :-1]], axis=1)
    _, e_width, _ = _glyph("E", False)
    for base in range(4):
        paths = []
        for flip in (False, True):
            shown = (order == base) & (ordered < 0 if flip else ordered > 0)
            if not shown.any():
                continue
            outline, w, h = _glyph(_BASES[base], flip)
            sx = min(_GLYPH_WIDTH / w, _GLYPH_WIDTH / e_width)
            position = np.nonzero(shown)[0]
            scale = np.stack([np.full(len(position), sx), np.abs(ordered[shown]) / h], axis=1)  # (n, 2)
            offset = np.stack([position - _GLYPH_WIDTH / 2 + (_GLYPH_WIDTH - sx * w) / 2, floors[shown]], axis=1)
            vertices = outline.vertices[None] * scale[:, None] + offset[:, None]  # (n, V, 2)
            paths.append(Path(vertices.reshape(-1, 2), np.tile(outline.codes, len(position))))
        if paths:
            ax.add_collection(mcoll.PathCollection(paths, facecolors=[_BASE_COLORS[base]], edgecolors="none",
                                                   linewidths=0), autolim=False)
    ax.axhline(0, color="black", linewidth=0.5, zorder=-1)
    lo, hi = float(floors.min(initial=0.0)), float((floors + np.abs(ordered)).max(initial=0.0))
    if hi > lo:
        ax.set_ylim(lo, hi)
    ax.set_ylabel(ylabel)
    ax.set_xlim(-0.5, len(m) - 0.5)


def ism_figure(delta, attribution, path, title=""):
    """In-silico mutagenesis of one sequence: a 4 × L heatmap of delta over an importance logo.

    Parameters
    ----------
    delta : array, shape=(L, 4) — logit change per position and substituted base (0 at the reference).
    attribution : array, shape=(L, 4) — reference base × importance (the logo's letter heights).
    """
    delta = np.asarray(delta, float)
    L = delta.shape[0]
    width = float(np.clip(L / 12, 8, 40))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(width, 4.2), sharex=True,
                                   gridspec_kw={"height_ratios": [1.1, 1]})
    lim = float(np.abs(delta).max()) or 1.0
    im = ax1.imshow(delta.T, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest",
                    extent=(-0.5, L - 0.5, 3.5, -0.5))
    ax1.set_yticks(range(4), list("ACGT"))
    ax1.set_title(title)
    fig.colorbar(im, ax=[ax1], pad=0.01, fraction=0.02, label="Δ logit")
    _logo(attribution, ax2, "importance")
    ax2.set_xlabel("position")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def variant_figure(ref_attribution, alt_attribution, ref_block, alt_block, path, title="", flank=30):
    """A variant's effect: the reference and alternative windows' importance logos (ISM), one above the other.

    Parameters
    ----------
    ref_attribution, alt_attribution : array, shape=(L, 4) — each window's bases × importance (logo heights).
    ref_block, alt_block : (int, int) — each allele's differing bases in its window (start, end; 0-based
        half-open), shaded in its own panel; an empty block (a pure insertion's or deletion's junction) is a line.
        The windows share their left flank, so the two panels line up up to the blocks' start.
    flank : int — bases shown either side of the blocks (the letters of a whole 1 kb window are unreadable).
    """
    ref_attribution = np.asarray(ref_attribution, float)
    L = ref_attribution.shape[0]
    blocks = [tuple(int(v) for v in b) for b in (ref_block, alt_block)]
    lo = max(0, min(a for a, _ in blocks) - flank)
    hi = min(L, max(max(b, a + 1) for a, b in blocks) + flank)
    fig, axes = plt.subplots(2, 1, figsize=(float(np.clip((hi - lo) / 6, 8, 30)), 3.8), sharex=True, sharey=True)
    for ax, matrix, label, (a, b) in zip(axes, (ref_attribution, alt_attribution), ("reference", "alternative"),
                                         blocks):
        _logo(np.asarray(matrix, float)[lo:hi], ax, f"{label}\nimportance")
        if b > a:
            ax.axvspan(a - lo - 0.5, b - lo - 0.5, color="gold", alpha=0.35, zorder=-1)
        else:  # nothing of this allele differs: the other allele's bases go (or went) in between these two
            ax.axvline(a - lo - 0.5, color="darkorange", lw=2, zorder=-1)
        ax.axhline(0, color="0.6", lw=0.5)
    # One y range for both panels, from the letters shown in either (each logo alone fits only its own).
    shown = np.concatenate([np.asarray(m, float)[lo:hi] for m in (ref_attribution, alt_attribution)])
    top, bottom = max(float(np.clip(shown, 0, None).sum(1).max()), 0.0), min(float(np.clip(shown, None, 0).sum(1).min()), 0.0)
    span = (top - bottom) or 1.0
    axes[0].set_ylim(bottom - 0.05 * span, top + 0.05 * span)
    ticks = np.arange(0, hi - lo, 10)
    axes[1].set_xticks(ticks, [str(t + lo) for t in ticks])
    axes[0].set_title(title, fontsize=10)
    axes[1].set_xlabel(f"position in the {L} bp window (shaded: the bases that differ; line: an indel's junction)")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def filter_logo(pfm, path, background=None, title=""):
    """Information-content logo of a position frequency matrix, shape=(K, 4), rows summing to 1."""
    pfm = np.asarray(pfm, float)
    bg = np.full(4, 0.25) if background is None else np.asarray(background, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ic = np.where(pfm > 0, pfm * np.log2(pfm / bg), 0.0).sum(1, keepdims=True)
    heights = pfm * np.maximum(ic, 0)
    fig, ax = plt.subplots(figsize=(max(3.0, 0.35 * len(pfm)), 2.2))
    _logo(heights, ax, "bits")
    ax.set_ylim(0, 2)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def pattern_logo(cwm, pfm, path, title=""):
    """A discovered pattern: its contribution weight matrix logo over its information-content (PFM) logo.

    Parameters
    ----------
    cwm : array, shape=(W, 4) — mean contribution of each base (x · hypothetical, logit units); negative
        letters are drawn below the axis.
    pfm : array, shape=(W, 4) — base frequencies of the pattern's seqlets, rows summing to 1.
    """
    cwm, pfm = np.asarray(cwm, float), np.asarray(pfm, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ic = np.where(pfm > 0, pfm * np.log2(pfm / 0.25), 0.0).sum(1, keepdims=True)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6.5, 0.4 * len(cwm)), 3.6), sharex=True)
    _logo(cwm, ax1, "contribution\n(Δ logit)")
    ax1.axhline(0, color="0.6", lw=0.5)
    _logo(pfm * np.maximum(ic, 0), ax2, "bits")
    ax2.set_ylim(0, 2)
    ax2.set_xlabel("position in the pattern")
    ax1.set_title(title, fontsize=9)
    return _save(fig, path)


# --- data figures (genome mode) ---


def gc_histogram(positive_gc, negative_gc, path, title="", negative_label="negatives"):
    """GC content of the peaks' windows against the negatives': overlaid histograms (bins of 0.02) with medians.

    Parameters
    ----------
    positive_gc, negative_gc : np.ndarray, shape=(n,) and (m,) — GC fractions (NaN ignored).
    negative_label : str — e.g. the negative method, for the legend.
    """
    fig, ax = plt.subplots(figsize=(5, 3.2))
    bins = np.arange(0, 1.0001, 0.02)
    # Peaks filled, negatives as an outline: a good match shows the outline hugging the filled shape.
    for values, label, color, style in ((positive_gc, "peaks", "#e6a04a", {"alpha": 0.6}),
                                        (negative_gc, negative_label, "#1f4e9c", {"histtype": "step", "lw": 1.8})):
        v = np.asarray(values, float)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            continue
        ax.hist(v, bins=bins, density=True, color=color, label=f"{label} (n={len(v):,}, median {np.median(v):.2f})",
                **style)
        ax.axvline(np.median(v), color=color, lw=1.2, ls="--")
    finite = np.concatenate([np.asarray(a, float)[np.isfinite(a)] for a in (positive_gc, negative_gc)])
    if len(finite):
        lo, hi = np.quantile(finite, [0.002, 0.998])
        ax.set_xlim(max(0, lo - 0.05), min(1, hi + 0.05))
    ax.set_xlabel("GC content of the window")
    ax.set_ylabel("density")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)  # room for the legend above the bars
    ax.set_title(title, fontsize=9)
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    return _save(fig, path)


# --- hyper-parameter search ---


def tune_history(values, states, monitor, maximise, path, importance=None):
    """A search at a glance: each trial's best validation value and the best so far; beside it, which parameters
    mattered.

    Parameters
    ----------
    values : array of float, shape=(n_trials,) — each trial's objective (NaN where none); pruned trials are
        crosses at the value they reached.
    states : list of str — 'complete', 'pruned', 'fail' or 'running' per trial.
    importance : dict, optional — parameter name → importance (summing to 1), drawn as bars; ``None`` leaves a
        note that the study has too few complete trials (or none that differ) for one.
    """
    values = np.asarray(values, float)
    x = np.arange(len(values))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.4, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    done = np.array([s == "complete" for s in states], bool)
    if done.any():
        ax.scatter(x[done], values[done], color="tab:blue", s=28, label="complete", zorder=3)
        run = np.where(done, values, -np.inf if maximise else np.inf)
        best = np.maximum.accumulate(run) if maximise else np.minimum.accumulate(run)
        first = int(np.argmax(done))
        ax.step(x[first:], best[first:], where="post", color="tab:orange", label="best so far")
    pruned = np.array([s == "pruned" for s in states], bool)
    if pruned.any():
        ax.scatter(x[pruned], values[pruned], marker="x", color="grey", label="pruned (stopped early)")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"best {monitor} (validation)")
    ax.set_title(f"{len(values)} trials, {int(done.sum())} complete, {int(pruned.sum())} pruned")
    if len(values):
        ax.set_xticks(x if len(x) <= 20 else x[:: max(1, len(x) // 10)])
    ax.legend(loc="lower right" if maximise else "upper right", fontsize=8)
    if importance:
        names = sorted(importance, key=importance.get)  # the most important on top
        ax2.barh(names, [importance[k] for k in names], color="tab:green")
        ax2.set_xlim(0, 1)
        ax2.set_xlabel("importance (fANOVA, share of variance)")
        ax2.set_title("which parameters mattered")
    else:
        ax2.axis("off")
        ax2.text(0.5, 0.5, "parameter importance needs at least\n3 complete trials that differ", ha="center",
                 va="center", fontsize=10, color="grey", transform=ax2.transAxes)
    return _save(fig, path)


# --- genome-wide figures (seqcnn evaluate --genome, the report's genome-wide section) ---


def genome_pr_curve(recall, precision, positive_fraction, path, auprc=None, recall_at_fdr=None, title=""):
    """The precision-recall curve of every window of held-out chromosomes, at the true class balance.

    Parameters
    ----------
    recall, precision : array, shape=(m,) — the curve's points, thresholds from high to low.
    positive_fraction : float — the share of positive windows: the chance precision, drawn as a line.
    auprc : float, optional — shown in the legend.
    recall_at_fdr : dict, optional — FDR → recall: each marked at precision 1 - FDR.
    """
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    recall, precision = np.asarray(recall, float), np.asarray(precision, float)
    ax.step(np.r_[0.0, recall], np.r_[precision[:1], precision], where="post", color="#1f4e79",
            label="model" + (f" auPRC {auprc:.3f}" if auprc is not None else ""))
    ax.axhline(positive_fraction, color="grey", ls=":", lw=1,
               label=f"chance (positive fraction {positive_fraction:.4f})")
    for fdr, r in sorted((recall_at_fdr or {}).items()):
        if r:   # 0: no threshold reaches that precision, nothing to mark
            ax.plot([r], [1 - fdr], "o", ms=5, color="#c0392b" if fdr < 0.3 else "#e67e22",
                    label=f"recall {r:.3f} at {fdr:.0%} FDR")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title, fontsize=9)
    ax.legend(frameon=False, fontsize=7, loc="best")
    return _save(fig, path)


def locus_figure(values, chrom, start, peaks, sites, path, title="", ylabel="track"):
    """A locus: the track as a filled line, the peaks and the called sites as boxes below it.

    Parameters
    ----------
    values : np.ndarray, shape=(n,) — per-base track values from ``start``; NaN = no value (gaps).
    chrom : str; start : int — the locus's first base (0-based).
    peaks, sites : (starts, ends) — int arrays of intervals, genome coordinates, drawn clipped to the locus.
    """
    values = np.asarray(values, float)
    x = start + np.arange(len(values))
    end = start + len(values)
    fig, (ax, lanes) = plt.subplots(2, 1, figsize=(11, 3.4), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.fill_between(x, np.where(np.isfinite(values), values, np.nan), color="#7fa7cf", step="mid", lw=0)
    ax.plot(x, values, color="#1f4e79", lw=0.6)
    # Bases without a value (N-rich windows, chromosome ends): shaded, so a gap is not read as a low score.
    gap = ~np.isfinite(values)
    edges = np.flatnonzero(np.diff(np.r_[0, gap.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2]):
        ax.axvspan(start + a, start + b, color="#d5dae1", lw=0, label="no value" if a == edges[0] else None)
    if gap.any():
        ax.legend(frameon=False, fontsize=7, loc="upper right")
    finite = values[np.isfinite(values)]
    if len(finite) and 0 <= finite.min() and finite.max() <= 1:
        ax.set_ylim(0, 1.02)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    for row, (label, (s, e), colour) in enumerate((("peaks", peaks, "#c0392b"), ("sites", sites, "#27ae60"))):
        s, e = np.clip(np.asarray(s, np.int64), start, end), np.clip(np.asarray(e, np.int64), start, end)
        # at least 1/400 of the locus wide: a 25-bp ChIP-exo peak in a 50-kbp locus would be under one pixel
        keep = e > s  # intervals outside the locus clip to nothing: not drawn
        s, w = s[keep], np.maximum(e[keep] - s[keep], len(values) / 400)
        lanes.broken_barh(list(zip(s, w)), (1 - row - 0.35, 0.7), facecolors=colour)
    lanes.set_yticks([1, 0], ["peaks", "sites"])
    lanes.set_ylim(-0.6, 1.6)
    lanes.set_xlim(start, end)
    lanes.set_xlabel(f"{chrom} position (bp)")
    lanes.ticklabel_format(axis="x", style="plain", useOffset=False)
    return _save(fig, path)
