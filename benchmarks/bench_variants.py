"""SNV scoring speed: seqcnn's single-substitution kernel against two batched forward passes, same run.

N random SNVs on a random genome of G Mbp; for each architecture (random weights, default hyper-parameters,
L bp inputs) the reference and alternative windows are cut once, then scored, alternating, by
  seqcnn     ``seqcnn.variants.score_pairs`` (SNVs through ``exact_ism.single_substitutions``: the first
             convolution runs on the reference only)
  baseline   two batched forward passes (reference windows, alternative windows), the same compiled
             inference function seqcnn uses for everything else
on the forward strand, and the largest difference between their delta logits is reported. Also timed: cutting
the windows from the genome and reading the VCF (``variant_windows``, ``read_vcf``).

Part ``--rss N1,N2,...``: peak RSS of ``seqcnn variants`` (a fresh process, forward strand, no figures) on
VCFs of N random SNVs, a random-weight deepbind run: flat when the blocks stream.

Usage: python benchmarks/bench_variants.py [--n 100000] [--mbp 1000] [--length 200] [--archs deepbind,primer]
       python benchmarks/bench_variants.py --rss 100000,400000 [--mbp 1000]
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def make_vcf(path, genome_path, sizes, n, seed=0):
    """n random SNVs (REF from the genome, ALT another base), sorted, as a VCF."""
    import pysam

    rng = np.random.default_rng(seed)
    names = list(sizes)
    weight = np.array([sizes[c] for c in names], float)
    chrom = rng.choice(len(names), n, p=weight / weight.sum())
    fa = pysam.FastaFile(genome_path)
    with open(path, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c},length={sizes[c]}>\n" for c in names)
                 + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for k, c in enumerate(names):
            pos = np.sort(rng.integers(1000, sizes[c] - 1000, int((chrom == k).sum())))
            for p in pos:
                ref = fa.fetch(c, int(p) - 1, int(p)).upper()
                alt = "ACGT"[("ACGT".index(ref) + 1 + int(rng.integers(0, 3))) % 4]
                fh.write(f"{c}\t{p}\t.\t{ref}\t{alt}\t.\t.\t.\n")


def make_run(run_dir, length):
    """A run directory around a random-weight deepbind (the layout ``seqcnn train`` writes)."""
    import json

    from seqcnn.models import build_model

    os.makedirs(run_dir, exist_ok=True)
    model = build_model("deepbind", length, "binary", 1)
    model.save(os.path.join(run_dir, "model.keras"))
    cfg = {"seqcnn_run": 1, "arch": "deepbind", "hparams": {},
           "model": {"input_length": length, "task": "binary", "n_outputs": 1, "output": "logits"},
           "data": {"pad_mode": "center", "length_given": 0, "allow_iupac": False, "task": "binary",
                    "class_names": ["0", "1"], "label_names": []}}
    with open(os.path.join(run_dir, "config.json"), "w") as fh:
        json.dump(cfg, fh)


def part_rss(args, tmp, genome, sizes):
    import subprocess

    run = os.path.join(tmp, "run")
    make_run(run, args.length)
    print("| SNVs | seconds | variants/s | peak RSS MiB |")
    print("|---|---|---|---|")
    for n in args.rss:
        vcf = os.path.join(tmp, f"v{n}.vcf")
        make_vcf(vcf, genome, sizes, n, seed=n)
        out = os.path.join(tmp, f"e{n}.tsv")
        t = time.perf_counter()
        res = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "seqcnn", "variants", run, "--vcf",
                              vcf, "--genome", genome, "-o", out, "--strands", "forward", "--no-plots", "-q"],
                             capture_output=True, text=True)
        seconds = time.perf_counter() - t
        if res.returncode:
            raise SystemExit(res.stderr)
        rss = int(res.stderr.strip().splitlines()[-1]) / 1024
        print(f"| {n:,} | {seconds:.1f} | {n / seconds:,.0f} | {rss:.0f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--mbp", type=float, default=1000)
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--archs", default="deepbind,primer")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tmpdir", default=None)
    ap.add_argument("--rss", type=lambda v: [int(x) for x in v.split(",")], default=None)
    args = ap.parse_args()
    print(f"{' '.join(sys.argv)}  (load {os.getloadavg()[0]:.1f})\n")
    from bench_genome_encode import make_genome

    from seqcnn.encoding import encode_windows
    from seqcnn.feeding import Forward
    from seqcnn.genome import Genome
    from seqcnn.models import build_model
    from seqcnn.variant_io import read_vcf, variant_windows
    from seqcnn.variants import score_pairs

    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        genome = os.path.join(tmp, "g.fa")
        sizes = make_genome(genome, args.mbp, seed=7)
        import pysam

        pysam.faidx(genome)
        if args.rss:
            return part_rss(args, tmp, genome, sizes)
        vcf = os.path.join(tmp, "v.vcf")
        make_vcf(vcf, genome, sizes, args.n)
        t = time.perf_counter()
        v = read_vcf(vcf)
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        with Genome(genome) as g:
            w = variant_windows(g, v, args.length)
        x_ref, x_alt = encode_windows(w["ref"]), encode_windows(w["alt"])
        t_cut = time.perf_counter() - t
        print(f"{args.n:,} SNVs, genome {args.mbp:g} Mbp, windows of {args.length} bp: read VCF {t_read:.1f} s, "
              f"cut + encode windows {t_cut:.1f} s\n")
        print("| architecture | seqcnn s | two forward passes s | speed-up | seqcnn variants/s | max abs diff of delta |")
        print("|---|---|---|---|---|---|")
        rng = np.random.default_rng(0)
        for arch in args.archs.split(","):
            model = build_model(arch, args.length, "binary", 1)
            for wgt in model.weights:  # random weights of the trained scale: a fair amount of work either way
                wgt.assign(rng.normal(0, 0.1, wgt.shape).astype("float32"))
            fwd = Forward(model, args.length)

            def baseline():
                b = 512
                r = fwd(x_ref[i:i + b] for i in range(0, len(x_ref), b))
                a = fwd(x_alt[i:i + b] for i in range(0, len(x_alt), b))
                return r, a

            def ours():
                r, a, _ = score_pairs(model, x_ref, x_alt, strands="forward", snv="kernel")
                return r, a

            ours(), baseline()  # compile both first
            times = {"seqcnn": [], "base": []}
            for k in range(args.rounds):
                for name, fn in ((("seqcnn", ours), ("base", baseline)) if k % 2 == 0
                                 else (("base", baseline), ("seqcnn", ours))):
                    t = time.perf_counter()
                    out = fn()
                    times[name].append(time.perf_counter() - t)
                    if name == "seqcnn":
                        d_ours = out[1] - out[0]
                    else:
                        d_base = out[1] - out[0]
            s, b = np.median(times["seqcnn"]), np.median(times["base"])
            diff = float(np.abs(d_ours - d_base).max())
            print(f"| {arch} | {s:.1f} | {b:.1f} | {b / s:.2f}× | {len(x_ref) / s:,.0f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
