"""Sequence-logo drawing: seqcnn's ``plots._logo`` (letter outlines built once) against ``logomaker.Logo``.

``seqcnn motifs`` draws one logo per filter (a 128-filter model: 128 figures), ``mutagenesis`` and ``variants``
one per sequence. logomaker builds each letter's font outline anew (two ``TextPath`` per letter), which was
most of ``seqcnn motifs``'s run on the README's demo (RESULTS, "Sequence logos"). Both draw the same matrices
on fresh axes, in turns; each figure is then saved as ``plots.filter_logo`` saves it (PNG, 120 dpi), so the
whole-figure ratio is what a user sees.

    .venv/bin/python benchmarks/bench_logo.py --rounds 3
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from seqcnn import plots  # noqa: E402  (sets the Agg backend)

import matplotlib.pyplot as plt  # noqa: E402


def logomaker_logo(matrix, ax):
    """The drawing ``plots._logo`` replaced (seqcnn up to 2026-12-05)."""
    import logomaker
    import pandas as pd

    logomaker.Logo(pd.DataFrame(matrix, columns=list("ACGT")), ax=ax, color_scheme="classic",
                   font_name="DejaVu Sans")
    ax.set_xlim(-0.5, len(matrix) - 0.5)


def seqcnn_logo(matrix, ax):
    plots._logo(matrix, ax, "")


def draw(fn, matrices, save_dir=None):
    """Seconds to draw every matrix on its own figure (and save it as a PNG when ``save_dir`` is given)."""
    t = time.perf_counter()
    for i, m in enumerate(matrices):
        fig, ax = plt.subplots(figsize=(max(3.0, 0.35 * len(m)), 2.2))
        fn(m, ax)
        if save_dir:
            plots._save(fig, os.path.join(save_dir, f"{i}.png"))
        else:
            plt.close(fig)
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=32, help="logos per kind and round")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    kinds = {
        # An information-content filter logo (width 14, all letters positive) and an importance logo of a
        # 200 bp window (one letter per position, either sign).
        "filter (14 x 4)": [rng.dirichlet(np.ones(4) * 0.3, size=14) * 2 for _ in range(args.n)],
        "importance (200 x 4)": [np.eye(4)[rng.integers(0, 4, 200)] * rng.normal(size=(200, 1))
                                 for _ in range(args.n)],
    }
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; {args.n} logos per kind, {args.rounds} rounds, "
          "medians in ms per logo")
    print("| logo | saved as PNG | logomaker | seqcnn | ratio (seqcnn / logomaker) |")
    print("|---|---|---|---|---|")
    for name, mats in kinds.items():
        for save in (False, True):
            times = {"logomaker": [], "seqcnn": []}
            with tempfile.TemporaryDirectory() as tmp:
                draw(seqcnn_logo, mats[:2], tmp if save else None)  # warm-up: imports and the letter outlines
                draw(logomaker_logo, mats[:2], tmp if save else None)
                for _ in range(args.rounds):
                    for label, fn in (("logomaker", logomaker_logo), ("seqcnn", seqcnn_logo)):
                        times[label].append(draw(fn, mats, tmp if save else None) / len(mats) * 1e3)
            a, b = statistics.median(times["logomaker"]), statistics.median(times["seqcnn"])
            print(f"| {name} | {'yes' if save else 'no'} | {a:.1f} | {b:.1f} | {b / a:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
