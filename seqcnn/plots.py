"""Every figure seqcnn draws: training curves, ROC/PR curves, ISM maps, sequence logos.

Functions take arrays and a path, write a PNG, and return the path. matplotlib runs
with the non-interactive Agg backend, so plotting works on servers without a display.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


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


def roc_curves(sets, path, title="ROC"):
    """ROC curves, one per output, with auROC in the legend.

    Parameters
    ----------
    sets : list of (name, y_true, score) — y_true shape=(n,) 0/1, score shape=(n,).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(4.2, 4))
    for name, y, s in sets:
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} auROC {roc_auc_score(y, s):.3f}".strip())
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    return _save(fig, path)


def pr_curves(sets, path, title="Precision-recall"):
    """Precision-recall curves, one per output, with auPRC (average precision) and the chance level.

    Parameters
    ----------
    sets : list of (name, y_true, score) — y_true shape=(n,) 0/1, score shape=(n,).
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = plt.subplots(figsize=(4.2, 4))
    for name, y, s in sets:
        if len(np.unique(y)) < 2:
            continue
        precision, recall, _ = precision_recall_curve(y, s)
        line, = ax.step(recall, precision, where="post",
                        label=f"{name} auPRC {average_precision_score(y, s):.3f}".strip())
        ax.axhline(np.mean(y), color=line.get_color(), ls=":", lw=1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8, loc="lower left")
    return _save(fig, path)


# --- interpretation figures (ISM heatmaps, importance logos, filter logos) ---
