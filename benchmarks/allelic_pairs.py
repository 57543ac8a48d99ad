"""Real allelic pairs: does a run rank the stronger-bound allele above the weaker one, better than the motif's PWM?

For pairs of allele sequences with the same ids (``--ref`` / ``--alt`` FASTA), scores ``delta_logit`` (alt − ref)
with ``seqcnn.variant_effects`` for each ``--run`` (several runs: also their mean, an ensemble), and the JASPAR
PWM baseline: the difference of the log-sum-exp of the PWM's log-odds over both strands and every offset (the
score the shared data's README uses). With ``--labels`` (a CSV with ``id`` and ``direction``: +1 where alt is
the stronger allele, -1 where ref is) it reports AUROC of each score for direction > 0, on all pairs and on the
pairs of ``--subset-column`` == ``--subset-value`` (e.g. the single-SNP ones). Without labels, alt is taken as
the stronger allele of every pair and it reports the fraction of pairs each score orders correctly.

Usage:
  python benchmarks/allelic_pairs.py --run RUN [--run RUN2 ...] --ref ref.fa --alt alt.fa [--labels labels.csv]
      [--subset-column variant_kind --subset-value 1_mismatch] [--motif MA0139.1]
"""

import argparse

import numpy as np
import pandas as pd


def pwm_delta(ref_seqs, alt_seqs, motif_id, release="JASPAR2024"):
    """LSE(PWM log-odds over both strands, all offsets) of alt minus that of ref, per pair."""
    from pyjaspar import jaspardb

    m = jaspardb(release=release).fetch_motif_by_id(motif_id)
    counts = np.array([m.counts[b] for b in "ACGT"], float).T
    pfm = (counts + 0.25) / (counts + 0.25).sum(1, keepdims=True)
    pwm = np.log2(pfm / 0.25)

    def score(seq):
        from seqcnn.encoding import one_hot

        x = one_hot(seq.upper()).astype(float)
        K = len(pwm)
        if len(x) < K:
            return -np.inf
        idx = np.arange(len(x) - K + 1)[:, None] + np.arange(K)
        win = x[idx]
        s = np.concatenate([np.einsum("skb,kb->s", win, pwm), np.einsum("skb,kb->s", win[:, ::-1, ::-1], pwm)])
        return float(np.log(np.exp(s * np.log(2)).sum()))

    return np.array([score(a) - score(r) for r, a in zip(ref_seqs, alt_seqs)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", required=True)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--alt", required=True)
    ap.add_argument("--labels")
    ap.add_argument("--subset-column")
    ap.add_argument("--subset-value")
    ap.add_argument("--motif", default="MA0139.1")
    args = ap.parse_args()
    from sklearn.metrics import roc_auc_score

    from seqcnn.readers import read_fasta
    from seqcnn.variants import variant_effects

    ids, ref = read_fasta(args.ref)
    alt = dict(zip(*read_fasta(args.alt)))
    scores = {}
    for run in args.run:
        t = variant_effects(run, ref_fasta=args.ref, alt_fasta=args.alt)
        scores[run] = t.set_index("id").delta_logit.reindex(ids).to_numpy()
    if len(args.run) > 1:
        scores[f"mean of {len(args.run)} runs"] = np.mean([scores[r] for r in args.run], axis=0)
    scores[f"JASPAR {args.motif} PWM"] = pwm_delta(ref, [alt[i] for i in ids], args.motif)
    if args.labels:
        lab = pd.read_csv(args.labels).set_index("id").reindex(ids)
        y = (lab["direction"] > 0).to_numpy().astype(int)
        sub = (lab[args.subset_column].astype(str) == args.subset_value).to_numpy() if args.subset_column else None
        head = f"| score | AUROC all {len(ids)} |" + (f" AUROC {args.subset_value} ({sub.sum()}) |" if sub is not None
                                                     else "")
        print(head)
        print("|---|---|" + ("---|" if sub is not None else ""))
        for name, d in scores.items():
            row = f"| {name} | {roc_auc_score(y, d):.3f} |"
            if sub is not None:
                row += f" {roc_auc_score(y[sub], d[sub]):.3f} |"
            print(row)
    else:
        print(f"| score | pairs ordered correctly (alt > ref), of {len(ids)} | ties |")
        print("|---|---|---|")
        for name, d in scores.items():
            print(f"| {name} | {(d > 0).mean():.3f} | {(d == 0).mean():.3f} |")


if __name__ == "__main__":
    main()
