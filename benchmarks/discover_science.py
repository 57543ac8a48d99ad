"""Science checks of ``seqcnn discover``: does TF-MoDISco on exact-ISM attributions find the motifs it should?

For each data set a default ``seqcnn train`` run is made (seed 0; reused when ``WORK/<set>/run`` exists), then
``seqcnn discover`` (default settings) and ``seqcnn motifs`` (default settings) are run on it, and compared:

- ``sim``: the shipped ``data/ctcf_binary`` set (CTCF planted in half of 1,500 × 200 bp). The seqlets of the top
  pattern are checked against ``data/ctcf_binary_sites.csv``: precision (seqlet cores overlapping a planted site)
  and recall (positives whose site has a seqlet).
- ``oct4``: Oct4 (1) vs Mafk (0) ChIP-seq peaks (``../shared/data/janggu_oct4_vs_mafk/train.fa``), discovery on
  the positives and, separately, on the negatives (Mafk), where a MAF motif lowers the Oct4 logit.
- ``bpanel-<TF>``: the DeepBind B panel (ENCODE peaks vs shuffled), discovery on every positive (``--split all``).

Per set it prints the patterns with their best JASPAR matches, and the distinct known motifs each method recovers
at q < 0.05 (``motifs``: filters with a match; ``discover``: patterns with a match), with the best q of the
expected motif.

Usage: python benchmarks/discover_science.py [--work DIR] [--sets sim,oct4,bpanel]
"""

import argparse
import json
import os
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
EXPECTED = {"sim": ["CTCF"], "oct4": ["Pou5f1::Sox2", "POU5F1", "Pou5f1"], "oct4-negatives": ["MAF"],
            "CTCF": ["CTCF"], "YY1": ["YY1"], "TEAD4": ["TEAD"], "ZNF143": ["ZNF143"], "GATA3": ["GATA"]}


def _encode(name, work):
    from seqcnn.ingest import encode_fasta

    h5 = os.path.join(work, name, "data.h5")
    if os.path.exists(h5):
        return h5
    os.makedirs(os.path.dirname(h5), exist_ok=True)
    if name == "sim":
        fa, lab, split = [os.path.join(ROOT, "data", "ctcf_binary.fa")], os.path.join(ROOT, "data",
                                                                                   "ctcf_binary_labels.csv"), None
    elif name == "oct4":
        d = os.path.join(SHARED, "janggu_oct4_vs_mafk")
        fa, lab, split = [os.path.join(d, "train.fa")], os.path.join(d, "train_labels.csv"), "0.9,0.1,0"
    else:
        d = os.path.join(SHARED, "deepbind_B_panel")
        tf = name.split("-", 1)[1]
        fa, lab, split = [os.path.join(d, f"{tf}.fa")], os.path.join(d, f"{tf}_labels.csv"), None
    kw = {"split": split} if split else {}
    encode_fasta(fa, h5, labels=lab, seed=0, **kw)
    return h5


def _train(name, work, h5):
    from seqcnn import training

    run = os.path.join(work, name, "run")
    if not os.path.exists(run):
        training.train(h5, run, seed=0, quiet=True, plots=False, n_boot=0)
    return run


def _matched(table, col_name, col_q, q=0.05):
    hit = table[table[col_q] < q]
    return sorted(set(hit[col_name]))


def _expected(out_dir, words):
    """Best q of the expected motif over every significant comparison (matches.csv), and its rank in its query."""
    path = os.path.join(out_dir, "matches.csv")
    m = pd.read_csv(path) if os.path.exists(path) else pd.DataFrame(columns=["query", "target_name", "qvalue"])
    m = m.assign(rank=m.groupby("query").cumcount() + 1)
    hit = m[[any(w.lower() in str(n).lower() for w in words) for n in m.target_name]]
    if not len(hit):
        return float("nan"), None
    best = hit.sort_values("qvalue").iloc[0]
    return float(best.qvalue), int(best["rank"])


def _precision_recall(out, n_used):
    sites = pd.read_csv(os.path.join(ROOT, "data", "ctcf_binary_sites.csv"))
    seqlets = pd.read_csv(os.path.join(out, "seqlets.csv"))
    table = pd.read_csv(os.path.join(out, "patterns.csv"))
    if not len(table):
        return float("nan"), float("nan")
    mine = seqlets[seqlets.pattern == table.pattern.iloc[0]]
    site = {r.id: (r.start, r.end) for r in sites.itertuples()}
    hit = np.array([r.record in site and r.start < site[r.record][1] and site[r.record][0] < r.end
                    for r in mine.itertuples()], bool)
    return float(hit.mean()), len(set(mine.record[hit])) / n_used


def one(name, work, rows):
    from seqcnn.discover import run_discover
    from seqcnn.motifs import run_motifs

    os.makedirs(os.path.join(work, name), exist_ok=True)
    h5 = _encode(name.replace("-negatives", ""), work)
    run = _train(name.replace("-negatives", ""), work, h5)
    key = name.split("-", 1)[1] if name.startswith("bpanel") else name
    split = "all" if name.startswith("bpanel") or name == "sim" else "train,val"
    records = "negatives" if name.endswith("negatives") else "positives"
    t = time.time()
    d = run_discover(run, h5, os.path.join(work, name, "discover"), split=split, records=records, force=True)
    seconds = time.time() - t
    table = d["table"]
    print(f"\n### {name}: {d['records_used']} sequences, {len(table)} patterns, {d['n_seqlets']} seqlets, "
          f"{seconds:.0f} s (ISM {d['seconds']['attributions']:.1f} s, TF-MoDISco {d['seconds']['modisco']:.0f} s, "
          f"Tomtom {d['seconds']['tomtom']:.1f} s)")
    print(table[["pattern", "sign", "n_seqlets", "best_match_id", "best_match_name", "qvalue", "consensus"]]
          .head(8).to_string(index=False))
    row = {"set": name, "n": d["records_used"], "patterns": len(table),
           "top": ", ".join(f"{r.pattern} {r.best_match_name if r.qvalue < 0.05 else '(none)'} "
                            f"({r.n_seqlets})" for r in table.head(3).itertuples()),
           "discover_known": _matched(table, "best_match_name", "qvalue"),
           "discover_q": _expected(os.path.join(work, name, "discover"), EXPECTED[key]),
           "seconds": round(seconds, 1)}
    if name == "sim":
        row["precision"], row["recall"] = _precision_recall(os.path.join(work, name, "discover"), d["records_used"])
    if not name.endswith("negatives"):
        m = run_motifs(run, h5, os.path.join(work, name, "motifs"), split="train", force=True, plots=False)
        mt = m["table"]
        row["motifs_known"] = _matched(mt, "best_match_name", "qvalue")
        row["motifs_q"] = _expected(os.path.join(work, name, "motifs"), EXPECTED[key])
    rows.append(row)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="benchmarks/out/discover")
    ap.add_argument("--sets", default="sim,oct4,bpanel")
    args = ap.parse_args()
    names = []
    for s in args.sets.split(","):
        if s == "bpanel":
            names += [f"bpanel-{tf}" for tf in ("CTCF", "YY1", "TEAD4", "ZNF143", "GATA3")]
        elif s == "oct4":
            names += ["oct4", "oct4-negatives"]
        else:
            names.append(s)
    rows = []
    for name in names:
        one(name, args.work, rows)
    print("\n| set | sequences | top patterns (best match, seqlets) | expected motif q: discover | motifs | "
          "distinct known motifs (q < 0.05): discover | motifs |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        def fmt(qr):
            q, rank = qr
            return "—" if q != q else f"{q:.1g} (rank {rank})"

        print(f"| {r['set']} | {r['n']} | {r['top']} | {fmt(r['discover_q'])} | "
              f"{fmt(r['motifs_q']) if 'motifs_q' in r else '—'} | "
              f"{len(r['discover_known'])} | {len(r['motifs_known']) if 'motifs_known' in r else '—'} |")
    for r in rows:
        if "precision" in r:
            print(f"\n{r['set']}: seqlets of the top pattern on planted sites: precision {r['precision']:.3f}, "
                  f"recall {r['recall']:.3f}")
    with open(os.path.join(args.work, "science.json"), "w") as fh:
        json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
