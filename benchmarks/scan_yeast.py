"""Genome-wide validation on real data: yeast Rap1 (ChIP-exo peaks, R64 genome), ENCODE-DREAM's protocol.

1. ``seqcnn encode --bed rap1_peaks.bed --genome genome.fa.gz --length L`` (genome mode: GC-matched genomic
   negatives, the default chromosome split: test XV,XVI, validation XIII,XIV at 200 bp) and ``seqcnn train``
   (defaults: deepbind, strand average), both through the command line, skipped when ``--workdir`` holds them.
2. Every window of the held-out (test-split) chromosomes on the ``--stride`` grid (centres ``c`` with
   ``c % stride == stride // 2``, as ``seqcnn scan`` and ``seqcnn evaluate --genome`` place them), labelled by
   ``seqcnn.genomewide.label_windows`` with ``--min-overlap`` (default 1 bp: the Rap1 ChIP-exo peaks are 3-77 bp
   long, so the verb's default of L/2 shared bases would label no window positive) and scored by
   (a) the seqcnn run (``seqcnn.scan.iter_scores`` with ``WindowScorer``: the windows and the N filter of the
   evaluate verb);
   (b) a 5-mer logistic regression (``bench_accuracy.kmer_lr``: counts of the 1,024 5-mers → LogisticRegressionCV)
   trained on the same training and validation windows as the run, scored over the same genome windows;
   (c) a PWM scan of JASPAR2024's fungal Rap1 matrices (MA0359.3, the current version, and MA0359.1, the one
   ``../shared/data/README.md`` names): the maximum log2-odds (uniform background, frequencies mixed with 1 %
   uniform) over both strands and every offset of the window.
   Same windows, same labels; ``seqcnn.genomewide.genome_metrics`` gives auPRC, auROC, the positive fraction and
   recall at 10 % and 50 % FDR for each. ``seqcnn evaluate RUN --genome --peaks --chroms`` runs too (its JSON's
   numbers must equal row (a)).
3. ``seqcnn scan RUN --genome G --chroms TEST --stride 10 -o track.bw --sites sites.bed --threshold 0.9``:
   how many sites, how many overlap a peak, how many hold a peak in the window of their summit (the best
   window: L bp around the summit), the same by the site's best probability (0.95, 0.99, 0.995), how many
   held-out peaks a site touches, and the track along the two strongest held-out peaks and the two strongest
   internal (not telomeric) ones against 1-5 kb around them and the whole track's quantiles (a flat track, or
   one high everywhere, is a bug).

    .venv/bin/python benchmarks/scan_yeast.py [--length 200] [--stride 50] [--workdir /tmp/scanbench/yeast200]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "yeast_r64"))
PWMS = ("MA0359.3", "MA0359.1")


def sh(cmd, log=None):
    """Run a seqcnn command line (``python -m seqcnn ...``) niced; return its wall seconds and output."""
    t0 = time.perf_counter()
    p = subprocess.run(["nice", sys.executable, "-m", "seqcnn"] + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    out = p.stdout + p.stderr
    print(f"$ seqcnn {' '.join(cmd)}   # {wall:.0f} s", flush=True)
    print("\n".join("    " + x for x in out.strip().splitlines()[-6:] if "step -" not in x), flush=True)
    if p.returncode:
        raise SystemExit(f"failed ({p.returncode}): seqcnn {' '.join(cmd)}\n{out[-3000:]}")
    return wall, out


def pwm_logodds(pfm, mix=0.01):
    """log2-odds ``[K, 4]`` of a frequency matrix against a uniform background (mixed with ``mix`` uniform)."""
    p = (1 - mix) * np.asarray(pfm, float) + mix * 0.25
    return np.log2(p / 0.25)


def pwm_position_scores(x, lo):
    """Best-strand log-odds of the motif starting at each position of a one-hot chromosome ``x`` ``[C, 4]``.

    Returns float32 ``[C - K + 1]``: ``max(forward, reverse complement)``; N (all-zero rows) add 0. The loop runs
    over the K motif columns; each step is one vectorised product over all positions.
    """
    K = len(lo)
    n = len(x) - K + 1
    fwd = np.zeros(n, np.float32)
    rev = np.zeros(n, np.float32)
    lo_rc = lo[::-1, ::-1]  # the reverse complement motif (ACGT order: complement = reversed columns)
    xf = x.astype(np.float32)
    for j in range(K):
        fwd += xf[j:j + n] @ lo[j].astype(np.float32)
        rev += xf[j:j + n] @ lo_rc[j].astype(np.float32)
    return np.maximum(fwd, rev)


def window_max(pos_scores, starts, L, K):
    """The maximum of ``pos_scores`` over each window's motif offsets ``[s, s + L - K]``."""
    from numpy.lib.stride_tricks import sliding_window_view

    view = sliding_window_view(pos_scores, L - K + 1)
    return view[starts].max(axis=1)


def onehot(text):
    from bench_scan import onehot_text

    return onehot_text(text)


def training_windows(h5):
    """Training+validation windows of a genome-mode dataset (the run's fitted and selection data): (seqs, y)."""
    from seqcnn.encoding import decode
    from seqcnn.store import open_dataset

    with open_dataset(h5) as ds:
        idx = np.flatnonzero(np.isin(np.asarray(ds.split), [0, 1]))
        x = ds.read_x(idx)
        y = np.asarray(ds.y)[idx].reshape(len(idx), -1)[:, 0]
        chrom = ds.coords()["chrom"]
        test = sorted(set(map(str, chrom[np.asarray(ds.split) == 2])))
    return decode(x), y.astype(np.uint8), test


def scan_windows(run, genome_path, chroms, stride, max_n=0.1):
    """Every kept window of ``chroms`` on the stride grid, scored by the run: (chrom, centres, logits, seconds)."""
    from seqcnn.genome import Genome
    from seqcnn.rundir import load_run
    from seqcnn.scan import iter_scores
    from seqcnn.scan_exact import WindowScorer

    model, cfg = load_run(run)
    scorer = WindowScorer(model)
    cs, ps, ls = [], [], []
    t0 = time.perf_counter()
    with Genome(genome_path) as g:
        for c in chroms:
            for slab in iter_scores(scorer, g, c, 0, g.lengths[c], stride, max_n):
                kept = slab.kept
                centre = np.asarray(slab.centres, np.int64)[kept]
                ps.append(centre)
                ls.append(np.asarray(slab.logits)[kept, 0].astype(np.float32))
                cs.append(np.full(len(centre), c, dtype=object))
    return np.concatenate(cs), np.concatenate(ps), np.concatenate(ls), time.perf_counter() - t0, scorer.method


def metrics_row(name, y, score, seconds):
    from seqcnn.genomewide import genome_metrics

    m = genome_metrics(y, score)
    return {"method": name, "auprc": m["auprc"], "auroc": m["auroc"], "positive_fraction": m["positive_fraction"],
            "recall_10": m["recall_at_fdr"]["0.1"], "recall_50": m["recall_at_fdr"]["0.5"], "n": m["n"],
            "n_pos": m["n_pos"], "seconds": seconds}


def overlaps(a_chrom, a_start, a_end, iv):
    """Which intervals ``a`` overlap at least one interval of ``iv`` (bool per interval of ``a``)."""
    from seqcnn.intervals import IntervalIndex

    index = IntervalIndex(iv.chrom, iv.start, iv.end)
    return index.overlap(np.asarray(a_chrom, dtype=object), np.asarray(a_start, np.int64),
                         np.asarray(a_end, np.int64)) > 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--stride", type=int, default=50, help="genome-wide evaluation stride")
    ap.add_argument("--scan-stride", type=int, default=10, help="stride of the track and sites scan")
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--min-overlap", type=int, default=1,
                    help="bases a window shares with a peak to be positive (the peaks are 3-77 bp: the verb's "
                         "default L/2 would label no window)")
    ap.add_argument("--arch", default="deepbind")
    ap.add_argument("--workdir", help="default: /tmp/scanbench/yeast<L>")
    ap.add_argument("--out", help="JSON of the results (default: WORKDIR/scan_yeast.json)")
    args = ap.parse_args(argv)
    work = args.workdir or f"/tmp/scanbench/yeast{args.length}"
    os.makedirs(work, exist_ok=True)
    genome = os.path.join(args.data, "genome.fa.gz")
    peaks = os.path.join(args.data, "rap1_peaks.bed")
    h5, run = os.path.join(work, "rap1.h5"), os.path.join(work, "run")
    print(f"$ {' '.join([os.path.relpath(sys.argv[0])] + sys.argv[1:])}", flush=True)
    t_start = time.time()
    walls = {}
    if not os.path.exists(h5):
        walls["encode"], _ = sh(["encode", "--bed", peaks, "--genome", genome, "--length", str(args.length),
                                 "-o", h5])
    if not os.path.exists(run):
        walls["train"], _ = sh(["train", h5, "-o", run, "--arch", args.arch])

    from seqcnn.genome import Genome
    from seqcnn.genomewide import label_windows
    from seqcnn.intervals import IntervalIndex, read_bed
    from seqcnn.simulate import jaspar_pfm

    import bench_accuracy as acc

    train_seqs, train_y, test_chroms = training_windows(h5)
    L = args.length
    print(f"held-out chromosomes {','.join(test_chroms)}; LR training windows {len(train_y)} "
          f"({int(train_y.sum())} peaks)", flush=True)

    # (a) the seqcnn run over every window of the held-out chromosomes
    chrom, centre, logit, scan_s, method = scan_windows(run, genome, test_chroms, args.stride)
    start = centre - L // 2
    iv = read_bed(peaks)
    on = np.isin(iv.chrom, test_chroms)
    y = label_windows(IntervalIndex(iv.chrom[on], iv.start[on], iv.end[on]), chrom, start, L, args.min_overlap)
    rows = [metrics_row(f"seqcnn {args.arch} ({method})", y, logit, scan_s)]

    # the same windows' sequences, for the baselines
    t0 = time.perf_counter()
    seqs, pwm_scores = [], {m: [] for m in PWMS}
    pfms = {m: jaspar_pfm(m, "JASPAR2024")[1] for m in PWMS}
    with Genome(genome) as g:
        for c in test_chroms:
            sel = chrom == c
            text = g.fetch(c, 0, g.lengths[c]).upper()
            seqs.extend(text[s:s + L] for s in start[sel])
            x = onehot(text)
            for m, pfm in pfms.items():
                lo = pwm_logodds(pfm)
                pwm_scores[m].append(window_max(pwm_position_scores(x, lo), start[sel], L, len(lo)))
    pwm_s = time.perf_counter() - t0
    for m in PWMS:
        rows.append(metrics_row(f"PWM {m} (JASPAR2024 fungi, max log-odds)", y, np.concatenate(pwm_scores[m]),
                                pwm_s / len(PWMS)))
    # (b) 5-mer LR on the run's training+validation windows
    t0 = time.perf_counter()
    p = acc.kmer_lr(train_seqs, train_y, seqs)
    rows.insert(1, metrics_row("5-mer LR (train+val windows)", y, p, time.perf_counter() - t0))

    # the evaluate verb on the same chromosomes: its numbers must be row (a)'s
    gw = os.path.join(work, "genomewide.json")
    walls["evaluate"], _ = sh(["evaluate", run, "--genome", genome, "--peaks", peaks, "--chroms",
                               ",".join(test_chroms), "--stride", str(args.stride), "--min-overlap",
                               str(args.min_overlap), "-o", gw, "--force"])
    with open(gw) as fh:
        ev = json.load(fh)

    print(f"\nRap1 (Rhee & Pugh 2011 ChIP-exo, {len(iv)} peaks), window {L} bp, held-out {','.join(test_chroms)}, "
          f"stride {args.stride}, positive = at least {args.min_overlap} bp shared with a peak: "
          f"{rows[0]['n']:,} windows, {rows[0]['n_pos']:,} positive ({100 * rows[0]['positive_fraction']:.2f} %)\n")
    print("| method | auPRC | auROC | recall at 10 % FDR | recall at 50 % FDR | seconds |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['auprc']:.3f} | {r['auroc']:.3f} | {r['recall_10']:.3f} | {r['recall_50']:.3f} "
              f"| {r['seconds']:.1f} |")
    print(f"\nseqcnn evaluate --genome: auPRC {ev['auprc']:.4f}, auROC {ev['auroc']:.4f}, recall@10% "
          f"{ev['recall_at_fdr']['0.1']:.4f}, n {ev['n']}, positives {ev['n_pos']}, method {ev['method']}, "
          f"{ev['seconds']:.1f} s scoring (row (a): auPRC {rows[0]['auprc']:.4f}, n {rows[0]['n']})", flush=True)

    # the track and the called sites
    track, sites = os.path.join(work, "track.bw"), os.path.join(work, "sites.bed")
    walls["scan"], scan_out = sh(["scan", run, "--genome", genome, "--chroms", ",".join(test_chroms), "--stride",
                                  str(args.scan_stride), "-o", track, "--sites", sites, "--threshold",
                                  str(args.threshold), "--force"])
    pk = iv.chrom[on], iv.start[on], iv.end[on]
    if os.path.getsize(sites):
        siv = read_bed(sites)
        hit, found = overlaps(siv.chrom, siv.start, siv.end, iv), overlaps(*pk, siv)
        # the summit's window (the best window of the site, L wide) holding a peak base
        summit = siv.start + np.where(siv.summit >= 0, siv.summit, (siv.end - siv.start) // 2)
        in_window = overlaps(siv.chrom, summit - L // 2, summit - L // 2 + L, iv)
    else:  # no site called: read_bed refuses an empty file
        siv = None
        hit, found, in_window = np.zeros(0, bool), np.zeros(len(pk[0]), bool), np.zeros(0, bool)
    site = {"n": int(len(hit)), "overlap_peak": int(hit.sum()), "summit_window_peak": int(in_window.sum()),
            "peaks_held_out": int(on.sum()), "peaks_touched": int(found.sum()),
            "bp": int((siv.end - siv.start).sum()) if siv is not None else 0, "by_max_probability": {}}
    print(f"\nsites (threshold {args.threshold}, stride {args.scan_stride}): {site['n']} on "
          f"{','.join(test_chroms)} ({site['bp']:,} bp), {site['overlap_peak']} overlap a Rap1 peak "
          f"({100 * site['overlap_peak'] / max(site['n'], 1):.0f} %), {site['summit_window_peak']} hold a peak in "
          f"their summit's window ({100 * site['summit_window_peak'] / max(site['n'], 1):.0f} %); "
          f"they touch {site['peaks_touched']} of the "
          f"{site['peaks_held_out']} held-out peaks", flush=True)
    for t in (0.95, 0.99, 0.995):
        k = siv.strength >= t if siv is not None else np.zeros(0, bool)
        site["by_max_probability"][t] = (int(k.sum()), int(in_window[k].sum()))
        print(f"  sites whose best window reaches {t}: {k.sum()}, {in_window[k].sum()} with a peak in the summit's "
              f"window", flush=True)

    # the track along the strongest held-out peaks against the background
    from seqcnn.scan import read_track

    # the two strongest held-out peaks, and the two strongest not named telomeric (internal sites)
    ranked = [int(i) for i in np.argsort(-np.nan_to_num(iv.strength, nan=-1.0), kind="stable") if on[i]]
    inner = [i for i in ranked if "elomer" not in str(iv.name[i])]
    order = list(dict.fromkeys(ranked[:2] + inner[:2]))
    loci = []
    sizes = Genome(genome).lengths
    for i in order:
        c, mid = str(iv.chrom[i]), int((iv.start[i] + iv.end[i]) // 2)
        a, b = max(0, mid - 5000), min(sizes[c], mid + 5000)
        v = np.asarray(read_track(track, c, a, b), float)
        ok = ~np.isnan(v)
        near = ok & (np.abs(np.arange(a, b) - mid) <= 100)
        far = ok & (np.abs(np.arange(a, b) - mid) > 1000)
        loci.append({"peak": str(iv.name[i]), "chrom": c, "mid": mid,
                     "max_near": float(v[near].max()) if near.any() else None,
                     "median_far": float(np.median(v[far])) if far.any() else None,
                     "q95_far": float(np.quantile(v[far], 0.95)) if far.any() else None})
        f = {k: "none" if v is None else f"{v:.3f}" for k, v in loci[-1].items() if k in ("max_near", "median_far",
                                                                                           "q95_far")}
        print(f"  locus {c}:{a:,}-{b:,} (peak {loci[-1]['peak']} at {mid:,}): max within 100 bp of the peak "
              f"{f['max_near']}; 1-5 kb away median {f['median_far']}, 95th percentile {f['q95_far']}", flush=True)
    whole = []
    with Genome(genome) as g:
        for c in test_chroms:
            v = np.asarray(read_track(track, c, 0, g.lengths[c]), float)
            whole.append(v[~np.isnan(v)])
    whole = np.concatenate(whole)
    q = np.quantile(whole, [0.05, 0.5, 0.95, 0.99, 0.999])
    print(f"  whole track ({len(whole):,} bases with a value): quantiles 5/50/95/99/99.9 % "
          f"{' / '.join(f'{v:.3f}' for v in q)}; above {args.threshold}: {100 * np.mean(whole > args.threshold):.3f} %")

    print(f"\nwall times: {', '.join(f'{k} {v:.0f} s' for k, v in walls.items())}; total {time.time() - t_start:.0f} s")
    out = args.out or os.path.join(work, "scan_yeast.json")
    with open(out, "w") as fh:
        json.dump({"argv": sys.argv, "rows": rows, "evaluate": {k: ev[k] for k in ("auprc", "auroc", "n", "n_pos",
                                                                                   "recall_at_fdr", "method")},
                   "sites": site, "loci": loci, "track_quantiles": q.tolist(), "walls": walls}, fh, indent=1,
                  default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
