"""Science check of interpretation on real ChIP-seq data: do the filters and ISM find the known motifs?

Oct4 vs Mafk (``../shared/data/janggu_oct4_vs_mafk``): encode, ``seqcnn train`` with defaults,
``seqcnn motifs`` (train split, JASPAR2024 CORE vertebrates) and ``seqcnn mutagenesis`` of every
test positive. Reports the filters matching Oct4/Sox2 motifs (MA0142 Pou5f1::Sox2, MA1115 POU5F1,
MA0143 Sox2) and MAFK (MA0496) at q < 0.05, and the ratio of ISM importance at Pou5f1::Sox2 sites
(best MA0142.1 hit per test positive with relative score ≥ 0.8, either strand) to importance elsewhere.

B panel (``../shared/data/deepbind_B_panel``): per TF, encode (0.8/0.1/0.1, seed 0), train with
defaults, motifs; reports whether the TF's own JASPAR motif (by name) is among the q < 0.05 matches.

Every step runs the ``seqcnn`` command line, as a user would; outputs go to ``--workdir``.

    .venv/bin/python benchmarks/bench_interpret.py [--sets oct4,bpanel] [--workdir benchmarks/out/interpret]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
OCT4_SOX2 = ("MA0142", "MA1115", "MA0143")  # Pou5f1::Sox2, POU5F1, Sox2
MAFK = ("MA0496",)
BPANEL = {"CTCF": ["CTCF"], "GATA3": ["GATA3"], "YY1": ["YY1"], "TEAD4": ["TEAD4"], "ZNF143": ["ZNF143"]}


REUSE = False


def seqcnn(*args, log=None):
    out = str(args[args.index("-o") + 1]) if "-o" in args else None
    if REUSE and out and os.path.exists(out):
        print(f"(reusing {os.path.relpath(out, ROOT)})", flush=True)
        return ""
    cmd = [sys.executable, "-m", "seqcnn.cli", *map(str, args)]
    t0 = time.time()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "NUMBA_CACHE_DIR": os.environ.get(
                             "NUMBA_CACHE_DIR", os.path.join(ROOT, ".cache", "numba"))})
    dt = time.time() - t0
    line = "seqcnn " + " ".join(os.path.relpath(a, ROOT) if os.path.isabs(str(a)) else str(a) for a in args)
    print(f"$ {line}   [{dt:.0f} s]", flush=True)
    if res.returncode != 0:
        print(res.stdout, res.stderr, file=sys.stderr)
        raise SystemExit(f"failed: {line}")
    if log is not None:
        log.append({"command": line, "seconds": round(dt, 1)})
    return res.stdout


def significant(motif_dir, prefixes=None, names=None):
    m = pd.read_csv(os.path.join(motif_dir, "matches.csv"))
    keep = np.zeros(len(m), bool)
    for p in prefixes or ():
        keep |= m.target_id.str.startswith(p)
    for n in names or ():
        keep |= m.target_name.str.upper().str.split("::").apply(lambda parts: n.upper() in parts)
    return m[keep].sort_values("qvalue")


def site_ratio(ism_path, pfm, rel=0.8):
    """Mean |importance| inside the best PWM hit (relative score ≥ rel, either strand) over elsewhere."""
    from seqcnn.mutagenesis import read_ism

    d = read_ism(ism_path)
    x, imp = d["x"].astype(float), d["importance"]
    pwm = np.log2((pfm + 0.01) / (1 + 0.04) / 0.25)
    K = len(pwm)
    lo, hi = pwm.min(1).sum(), pwm.max(1).sum()
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(x, K, axis=1).transpose(0, 1, 3, 2)          # [N, P, K, 4]
    fwd = np.einsum("npkc,kc->np", win, pwm)
    rev = np.einsum("npkc,kc->np", win, pwm[::-1, ::-1])
    score = np.maximum(fwd, rev)
    best = score.argmax(1)
    ok = (score.max(1) - lo) / (hi - lo) >= rel
    inside = np.zeros(imp.shape, bool)
    for n in np.flatnonzero(ok):
        inside[n, best[n]:best[n] + K] = True
    rows = ok
    a = np.abs(imp[rows])
    signed_in, signed_out = imp[rows][inside[rows]].mean(), imp[rows][~inside[rows]].mean()
    return {"sequences_with_site": int(ok.sum()), "of": int(len(ok)),
            "mean_abs_importance_in_site": float(a[inside[rows]].mean()),
            "mean_abs_importance_elsewhere": float(a[~inside[rows]].mean()),
            "ratio_abs": float(a[inside[rows]].mean() / a[~inside[rows]].mean()),
            "mean_importance_in_site": float(signed_in), "mean_importance_elsewhere": float(signed_out)}


def oct4(work, log):
    src = os.path.join(DATA, "janggu_oct4_vs_mafk")
    tr, te = os.path.join(work, "oct4_train.h5"), os.path.join(work, "oct4_test.h5")
    run, mot, ism = (os.path.join(work, n) for n in ("oct4_run", "oct4_motifs", "oct4_ism.h5"))
    seqcnn("encode", f"{src}/train.fa", "--labels", f"{src}/train_labels.csv", "--split", "0.9,0.1,0", "--seed",
           "1", "-o", tr, "--force", "--quiet", log=log)
    seqcnn("encode", f"{src}/test.fa", "--labels", f"{src}/test_labels.csv", "--split", "0,0,1", "-o", te,
           "--force", "--quiet", log=log)
    seqcnn("train", tr, "-o", run, "--force", "--quiet", log=log)
    seqcnn("evaluate", run, te, "--split", "test", "-o", os.path.join(work, "oct4_test_metrics.json"), "--force",
           "--quiet", log=log)
    out = seqcnn("motifs", run, tr, "-o", mot, "--force", "--quiet", log=log)
    seqcnn("mutagenesis", run, te, "-o", ism, "--split", "test", "--top", "100", "--by", "label", "--force",
           "--quiet", "--plot-max", "5", log=log)
    from seqcnn.simulate import jaspar_pfm

    filters = pd.read_csv(os.path.join(mot, "filters.csv"))
    with open(os.path.join(work, "oct4_test_metrics.json")) as fh:
        metrics = json.load(fh)
    o = significant(mot, prefixes=OCT4_SOX2)
    m = significant(mot, prefixes=MAFK)
    res = {
        "test_auroc": metrics.get("auroc"),
        "filters": int(len(filters)), "kept": int((filters.status == "ok").sum()),
        "filters_best_match_oct4_sox2": filters[filters.best_match_id.fillna("").str.startswith(OCT4_SOX2)
                                                & (filters.qvalue < 0.05)]["filter"].tolist(),
        "filters_best_match_mafk": filters[filters.best_match_id.fillna("").str.startswith(MAFK)
                                           & (filters.qvalue < 0.05)]["filter"].tolist(),
        "filters_any_match_oct4_sox2": sorted(set(o["query"])), "best_oct4_sox2": o.head(3).to_dict("records"),
        "filters_any_match_mafk": sorted(set(m["query"])), "best_mafk": m.head(3).to_dict("records"),
        "ism_at_pou5f1_sox2_sites": site_ratio(ism, jaspar_pfm("MA0142.1")[1]),
    }
    print(out)
    return res


def bpanel(work, log):
    src = os.path.join(DATA, "deepbind_B_panel")
    res = {}
    for tf, names in BPANEL.items():
        h5, run, mot = (os.path.join(work, f"{tf}{s}") for s in (".h5", "_run", "_motifs"))
        seqcnn("encode", f"{src}/{tf}.fa", "--labels", f"{src}/{tf}_labels.csv", "--split", "0.8,0.1,0.1",
               "--seed", "0", "-o", h5, "--force", "--quiet", log=log)
        seqcnn("train", h5, "-o", run, "--force", "--quiet", log=log)
        seqcnn("motifs", run, h5, "-o", mot, "--force", "--quiet", "--no-plots", log=log)
        hits = significant(mot, names=names)
        filters = pd.read_csv(os.path.join(mot, "filters.csv"))
        best = filters[(filters.qvalue < 0.05)].best_match_name.value_counts().head(5).to_dict()
        res[tf] = {"recovered": bool(len(hits)), "n_filters_matching": len(set(hits["query"])),
                   "best_q": float(hits.qvalue.min()) if len(hits) else None,
                   "best_id": hits.target_id.iloc[0] if len(hits) else None,
                   "kept_filters": int((filters.status == "ok").sum()),
                   "most_common_best_matches": best}
        print(tf, res[tf], flush=True)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="oct4,bpanel")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "benchmarks", "out", "interpret"))
    ap.add_argument("--reuse", action="store_true", help="skip steps whose output already exists")
    args = ap.parse_args(argv)
    global REUSE
    REUSE = args.reuse
    os.makedirs(args.workdir, exist_ok=True)
    log, results = [], {}
    t0 = time.time()
    if "oct4" in args.sets:
        results["oct4_vs_mafk"] = oct4(args.workdir, log)
    if "bpanel" in args.sets:
        results["deepbind_B_panel"] = bpanel(args.workdir, log)
    results["commands"] = log
    results["seconds"] = round(time.time() - t0)
    with open(os.path.join(args.workdir, "results.json"), "w") as fh:
        json.dump(results, fh, indent=2, default=str)
    print(json.dumps({k: v for k, v in results.items() if k != "commands"}, indent=2, default=str))


if __name__ == "__main__":
    main()
