"""Attribution methods against exact ISM on a trained run: agreement (per-sequence Pearson r) and cost per sequence.

For N sequences of a dataset (the top-scoring positives of a split), each method of ``seqcnn attribute`` gives a
per-position contribution of the reference base (``x · hypothetical`` summed over bases); the Pearson r of that
track against exact ISM's, per sequence, summarises how well the method agrees with ISM. Every method runs once
to compile, then is timed.

Usage: python benchmarks/bench_attribution.py RUN DATA.h5 [--n 200] [--split test] [--references 10] [--steps 20]
"""

import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("data")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--split", default="test")
    ap.add_argument("--references", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    from seqcnn.gradients import attribute_x
    from seqcnn.rundir import load_run
    from seqcnn.store import open_dataset

    model, cfg = load_run(args.run)
    with open_dataset(args.data) as ds:
        rows = ds.indices(args.split)
        rows = rows[np.asarray(ds.y[rows]).reshape(-1) == 1]
        x = ds.read_x(rows)
    scores = np.asarray(model(x.astype(np.float32)))[:, 0]
    x = x[np.argsort(-scores)[:args.n]]
    tracks, cost = {}, {}
    for method in ("ism", "saliency", "integrated-gradients"):
        attribute_x(model, x[:2], method=method, references=args.references, steps=args.steps)  # compile
        t = time.perf_counter()
        hyp, _ = attribute_x(model, x, method=method, references=args.references, steps=args.steps)
        cost[method] = (time.perf_counter() - t) / len(x)
        tracks[method] = (x * hyp).sum(-1)
    print(f"{args.run} on {args.data} ({args.split} positives, top {len(x)} by score, {x.shape[1]} bp); "
          f"IG: {args.references} references x {args.steps} steps\n")
    print("| method | median Pearson r with ISM (IQR) | ms per sequence | cost vs ISM |")
    print("|---|---|---|---|")
    for method, track in tracks.items():
        r = np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(track, tracks["ism"])])
        q1, med, q3 = np.nanquantile(r, [0.25, 0.5, 0.75])
        print(f"| {method} | {med:.3f} ({q1:.3f}-{q3:.3f}) | {1000 * cost[method]:.2f} | "
              f"{cost[method] / cost['ism']:.2f}× |")


if __name__ == "__main__":
    main()
