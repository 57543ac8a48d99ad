"""End-to-end time of ``seqcnn discover`` on N × L bp sequences, split by stage (ISM, TF-MoDISco, Tomtom).

Runs the verb as a user would (a fresh process, ``seqcnn discover RUN DATA -o OUT --split all --top N``) after
one warm-up call that fills numba's cache (memelite's Tomtom and modisco-lite compile on first use; a user pays
that once per machine), then reads the stage times from ``summary.json``. The obvious alternative for the
attributions, batched naive ISM (every mutant through the whole model), is timed on the same sequences in the
same run, to show what the exact fast ISM saves.

Usage: python benchmarks/bench_discover.py RUN DATA.h5 [--n 2000] [--rounds 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("data")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    seqcnn = os.path.join(os.path.dirname(sys.executable), "seqcnn")
    tmp = tempfile.mkdtemp(prefix="bench_discover.")
    base = [seqcnn, "discover", args.run, args.data, "--split", "all", "--records", "all", "--no-plots", "--force",
            "-q"]
    subprocess.run(base + ["-o", os.path.join(tmp, "warm"), "--top", "200"], check=True)
    rows = []
    for r in range(args.rounds):
        out = os.path.join(tmp, f"r{r}")
        t = time.perf_counter()
        subprocess.run(base + ["-o", out, "--top", str(args.n)], check=True)
        wall = time.perf_counter() - t
        s = json.load(open(os.path.join(out, "summary.json")))
        rows.append((wall, s["seconds"], s["n_sequences"], s["length"], len(s["patterns"]), s["n_seqlets"]))
    # the alternative for the attributions: batched naive ISM of the same sequences
    import numpy as np

    from seqcnn.discover import _select
    from seqcnn.exact_ism import ism, kernels
    from seqcnn.rundir import load_run
    from seqcnn.store import open_dataset

    model, _ = load_run(args.run)
    kern = kernels(model, "auto")
    with open_dataset(args.data) as ds:
        rows_ = _select(ds, 0, ds.task, "all", "all", args.n,
                        lambda r: kern.forward(ds.read_x(r).astype(np.float32)).numpy()[:, 0])
        x = ds.read_x(rows_)
    ism(model, x[:8], method="naive")
    t = time.perf_counter()
    ism(model, x, method="naive")
    naive = time.perf_counter() - t
    print(f"\n{' '.join(sys.argv)}")
    print("| round | sequences × bp | wall s | ISM s | TF-MoDISco s | Tomtom s | rest s | patterns | seqlets |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, (wall, sec, n, L, p, q) in enumerate(rows):
        rest = wall - sum(sec.values())
        print(f"| {i + 1} | {n} × {L} | {wall:.1f} | {sec['attributions']:.1f} | {sec['modisco']:.1f} | "
              f"{sec['tomtom']:.1f} | {rest:.1f} | {p} | {q} |")
    best = min(rows, key=lambda r: r[0])
    print(f"\nISM share of the wall time: {best[1]['attributions'] / best[0]:.1%}; batched naive ISM of the same "
          f"{len(x)} sequences: {naive:.1f} s ({naive / max(best[1]['attributions'], 1e-9):.0f}× the exact ISM stage)")


if __name__ == "__main__":
    main()
