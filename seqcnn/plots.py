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


# --- interpretation figures (ISM heatmaps, importance logos, filter logos) ---
