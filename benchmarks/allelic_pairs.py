"""Real allelic pairs: does a run rank the stronger-bound allele above the weaker one, better than the motif's PWM?

For pairs of allele sequences with the same ids (``--ref`` / ``--alt`` FASTA), scores ``delta_logit`` (alt − ref)
with ``seqcnn.variant_effects`` for each ``--run`` (several runs: also their mean, an ensemble), and the JASPAR
PWM baseline: the difference of the log-sum-exp of the PWM's log-odds over both strands and every offset (the
score the shared data's README uses). With ``--labels`` (a CSV with ``id`` and ``direction``: +1 where alt is
the stronger allele, -1 where ref is) it reports AUROC of each score for direction > 0, on all pairs and on the
pairs of ``--subset-column`` == ``--subset-value`` (e.g. the single-SNP ones). Without labels, alt is taken as
the stronger allele of every pair and it reports the fraction of pairs each score orders correctly.

The runs see each pair through ``seqcnn.variant_io.pair_windows`` (the model's length, one start in both
alleles, centred on the bases that differ); pairs it skips (identical, or differing over more than the window)
have no model score. ``--pwm-on windows`` (the default) scores the PWM on those same windows, so the two
compete on the same bases and the same pairs; ``--pwm-on alleles`` scores the whole alleles (the data README's
baseline). ``--anchor allele`` centres the windows on the reference allele instead (moved only as far as
needed to hold the differing bases); ``--anchor independent`` crops or pads each allele around its own centre,
as the verb did before issue 25 (every pair scored, a change outside the window scoring 0; the PWM then on
those windows, and an extra column over the pairs the aligned windows score). Every AUROC is over the pairs every run scored (their number in the
header); the PWM on the whole alleles over all pairs is printed as a last line for reference. ``--shifts K``
(several values: one table each) averages every run's delta over the aligned window moved -K..+K bases
(``variant_effects(..., shifts=K)``: only starts that keep the differing bases inside and add no padding), and
the PWM's on the same windows likewise (its unshifted-window line is kept beside it).

Usage:
  python benchmarks/allelic_pairs.py --run RUN [--run RUN2 ...] --ref ref.fa --alt alt.fa [--labels labels.csv]
      [--subset-column variant_kind --subset-value 1_mismatch] [--motif MA0139.1] [--pwm-on windows|alleles]
      [--anchor block|allele|independent] [--shifts 0,5,10]
"""

import argparse

import numpy as np
import pandas as pd


_MOTIFS = {}


def pwm_delta(ref_seqs, alt_seqs, motif_id, release="JASPAR2024"):
    """LSE(PWM log-odds over both strands, all offsets) of alt minus that of ref, per pair."""
    from pyjaspar import jaspardb

    if (motif_id, release) not in _MOTIFS:
        _MOTIFS[motif_id, release] = jaspardb(release=release).fetch_motif_by_id(motif_id)
    m = _MOTIFS[motif_id, release]
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


def pwm_shift_delta(w, motif_id):
    """:func:`pwm_delta` averaged over each pair's valid shifted windows (``pair_windows(..., shifts=K)``)."""
    pair, j = np.nonzero(w["shift_valid"])
    d = pwm_delta(*([x.tobytes().decode() for x in w[key][pair, j]] for key in ("shift_ref", "shift_alt")), motif_id)
    return np.bincount(pair, d, len(w["rows"])) / w["shift_valid"].sum(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", required=True)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--alt", required=True)
    ap.add_argument("--labels")
    ap.add_argument("--subset-column")
    ap.add_argument("--subset-value")
    ap.add_argument("--motif", default="MA0139.1")
    ap.add_argument("--anchor", choices=("block", "allele", "independent"), default="block",
                    help="where each pair's window is centred: on the differing bases (the verb's default), on "
                         "the reference allele's centre, moved only as far as needed to hold them, or "
                         "(independent) each allele cropped/padded to its own centre, as the verb did before "
                         "issue 25 (every pair scored, a difference outside the window scores 0)")
    ap.add_argument("--pwm-on", choices=("windows", "alleles"), default="windows",
                    help="score the PWM on the windows the runs see (default) or on the whole alleles")
    ap.add_argument("--shifts", default="0",
                    help="comma-separated K values: one table each, every run's (and the PWM's on the same "
                         "windows) delta averaged over the aligned window moved -K..+K (variant_effects(..., "
                         "shifts=K)); not with --anchor independent")
    ap.add_argument("--deltas-out", metavar="PREFIX",
                    help="also write every score per pair to PREFIX_shifts<K>.csv (id, one column per score)")
    args = ap.parse_args()
    from seqcnn.readers import read_fasta

    shifts = [int(k) for k in args.shifts.split(",")]
    if args.anchor == "independent" and shifts != [0]:
        raise SystemExit("--shifts needs aligned windows (--anchor block or allele)")
    ids, ref = read_fasta(args.ref)
    alt = dict(zip(*read_fasta(args.alt)))
    alt = [alt[i] for i in ids]
    for k in shifts:
        if len(shifts) > 1:
            print(f"\n### --shifts {k}\n")
        report(args, ids, ref, alt, k)


def report(args, ids, ref, alt, shifts):
    """Score every run (and the PWM) with one ``shifts`` and print the AUROC (or order) table."""
    from sklearn.metrics import roc_auc_score

    from seqcnn.rundir import load_config
    from seqcnn.variant_io import pair_windows
    from seqcnn.variants import variant_effects

    scores, lengths, old_windows = {}, set(), None
    for run in args.run:
        L = load_config(run)["model"]["input_length"]
        lengths.add(L)
        if args.anchor == "independent":
            from seqcnn.encoding import decode, encode_block
            from seqcnn.rundir import load_run
            from seqcnn.variants import score_pairs

            x_ref, _ = encode_block(ref, length=L, allow_iupac=True)
            x_alt, _ = encode_block(alt, length=L, allow_iupac=True)
            old_windows = decode(x_ref), decode(x_alt)
            r, a, _ = score_pairs(load_run(run)[0], x_ref, x_alt)
            scores[run] = (a - r)[:, 0]
            continue
        t = variant_effects(run, ref_fasta=args.ref, alt_fasta=args.alt, pair_anchor=args.anchor, shifts=shifts)
        scores[run] = t.set_index("id").delta_logit.reindex(ids).to_numpy()
    if len(args.run) > 1:
        scores[f"mean of {len(args.run)} runs"] = np.mean([scores[r] for r in args.run], axis=0)
    pwm = f"JASPAR {args.motif} PWM"
    whole = pwm_delta(ref, alt, args.motif)
    if args.pwm_on == "windows":
        if len(lengths) != 1:
            raise SystemExit(f"--pwm-on windows needs runs of one input length, not {sorted(lengths)}")
        if args.anchor == "independent":
            on_windows = pwm_delta(*old_windows, args.motif)
        else:
            w = pair_windows(ref, alt, lengths.pop(), anchor=args.anchor, shifts=shifts)
            on_windows = np.full(len(ids), np.nan)
            on_windows[w["rows"]] = pwm_delta([x.tobytes().decode() for x in w["ref"]],
                                              [x.tobytes().decode() for x in w["alt"]], args.motif)
            if shifts:
                scores[f"{pwm} on the unshifted windows"] = on_windows
                on_windows = np.full(len(ids), np.nan)
                on_windows[w["rows"]] = pwm_shift_delta(w, args.motif)
        scores[f"{pwm} on the same windows"] = on_windows
        scores[f"{pwm} on the whole alleles"] = whole
    else:
        scores[f"{pwm} on the whole alleles"] = whole
    scored = np.all([np.isfinite(d) for name, d in scores.items() if "PWM" not in name], axis=0)
    if args.deltas_out:
        pd.DataFrame({"id": ids, **scores}).to_csv(f"{args.deltas_out}_shifts{shifts}.csv", index=False)
    if args.labels:
        lab = pd.read_csv(args.labels).set_index("id").reindex(ids)
        y = (lab["direction"] > 0).to_numpy().astype(int)
        sub = (lab[args.subset_column].astype(str) == args.subset_value).to_numpy() if args.subset_column else None
        print(f"{scored.sum()} of {len(ids)} pairs scored by the runs (the others skipped: "
              f"identical alleles, or differing over more than the window)")
        # With --anchor independent every pair has a score: also over the pairs the aligned windows can score.
        aligned = (np.equal(pair_windows(ref, alt, L)["skip"], None) if args.anchor == "independent"
                   else None)
        head = f"| score | AUROC scored {scored.sum()} |" + (
            f" AUROC {args.subset_value} ({(sub & scored).sum()}) |" if sub is not None else "") + (
            f" AUROC the {aligned.sum()} pairs aligned windows score |" if aligned is not None else "")
        print(head)
        print("|---|---|" + ("---|" if sub is not None else "") + ("---|" if aligned is not None else ""))
        for name, d in scores.items():
            row = f"| {name} | {roc_auc_score(y[scored], d[scored]):.3f} |"
            if sub is not None:
                row += f" {roc_auc_score(y[sub & scored], d[sub & scored]):.3f} |"
            if aligned is not None:
                row += f" {roc_auc_score(y[aligned], d[aligned]):.3f} |"
            print(row)
        row = f"| {pwm} on the whole alleles, all {len(ids)} pairs | {roc_auc_score(y, whole):.3f} |"
        print(row + (f" {roc_auc_score(y[sub], whole[sub]):.3f} ({sub.sum()}) |" if sub is not None else ""))
    else:
        print(f"| score | pairs ordered correctly (alt > ref), of the {scored.sum()} of {len(ids)} scored | ties |")
        print("|---|---|---|")
        for name, d in scores.items():
            print(f"| {name} | {(d[scored] > 0).mean():.3f} | {(d[scored] == 0).mean():.3f} |")


if __name__ == "__main__":
    main()
