"""Genome scanning speed and memory: seqcnn's exact ``WindowScorer`` against cutting windows, in one run.

Speed (same run, same model, same chromosomes of the real yeast genome ``../shared/data/yeast_r64/genome.fa.gz``,
12.2 Mbp): for each configuration ``arch:L:stride`` a default strand-averaged model (random weights: the speed of
either method does not depend on them) scores every window start on the stride grid with

- ``seqcnn``: ``scan_exact.WindowScorer(model).logits(slab, starts)`` on one-hot chromosome slabs of
  ``--slab-bases`` window starts (plus the window's overlap), the chromosomes in file order;
- ``cut``: ``scan_exact.cut_logits(model, slab, starts)``, the obvious method (cut every window, call the model in
  batches of 256), on a subset: the windows starting in ``--naive-bases`` bp from the middle of chromosome
  ``--naive-chrom``
  (at stride 1 the whole genome would take days), in pieces of ``--naive-chunk`` windows.

Both get the same one-hot arrays (genome reading and one-hot encoding are outside the timing; end-to-end figures
with the reading are the ``--rss`` runs below). Each method is warmed up (compilation excluded), then the two
take turns for ``--rounds`` rounds of at least ``--seconds`` each: on a shared machine the speed of everything
changes within seconds, so each ratio is formed within a round and the medians over rounds are reported (wall
clock and process CPU time). Across the rounds ``seqcnn`` moves on through the genome (it covers as much of it
as the time allows, stated as "bases scanned"); ``cut`` cycles through its subset. bases/s = windows/s x stride
(the genome advanced per second). The maximum absolute logit difference between the two on the subset's first
windows is checked outside the timing.

Memory (``--rss``): ``seqcnn.scan.scan`` (what ``seqcnn scan RUN --genome G --stride S -o track.bw`` calls,
bigWig writing included) runs in a child process on the 12 Mbp yeast genome and on a simulated 1 Gbp genome
(four chromosomes of 200-300 Mbp, uniform random bases with N gaps, bgzip; written once to ``--big-genome`` by
:func:`simulate_genome` when it is missing), with the same run and stride; the child's peak RSS (``os.wait4``'s
rusage) and wall time are reported. The run (``--run``, default :func:`tiny_run`) is a 1 kb deepbind of 8 filters
and the stride 1000 (``--rss-stride``), so windows tile the genome: the slab reading and the scoring cover every
base while the 1 Gbp scan stays within minutes; ``--rss-method`` (default ``batched``: at a stride of one window
no work is shared, and cutting has the least overhead) names the scoring path, since the verb has no option for it.
With ``--e2e-run RUN`` the yeast genome is also scanned end to end at stride 10 with that run (the trained
default model of ``scan_yeast.py``, method auto): the bases per second a user sees, genome reading, one-hot,
link and bigWig writing included (and the child's start: importing TensorFlow, loading the run).

    .venv/bin/python benchmarks/bench_scan.py [--configs deepbind:200:1,deepbind:200:10,zeng:200:1,...]
        [--seconds 8] [--rounds 3] [--rss [--run RUN] [--big-genome /tmp/scanbench/sim1g.fa.gz]
        [--e2e-run /tmp/scanbench/yeast200/run]]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

YEAST = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "yeast_r64", "genome.fa.gz"))
CONFIGS = "deepbind:200:1,deepbind:200:10,zeng:200:1,zeng:200:10,basset:200:10,deepbind:1000:1,deepbind:1000:10"

# One uint32 per byte viewed as 4 uint8 (the encoder's trick): ACGT either case → a one-hot row, anything else zero.
_WORDS = np.zeros(256, dtype="<u4")
for _k, _b in enumerate("ACGT"):
    _WORDS[ord(_b)] = _WORDS[ord(_b.lower())] = 1 << (8 * _k)


def onehot_text(text):
    """Genome bases (str, or uint8 bytes as ``Genome.region`` gives) → uint8 one-hot ``[len, 4]`` (N: zero rows)."""
    u8 = np.frombuffer(text.encode("ascii"), np.uint8) if isinstance(text, str) else np.asarray(text, np.uint8)
    return _WORDS[u8].view(np.uint8).reshape(-1, 4)


def simulate_genome(path, sizes, seed=0, gap=50_000, gaps_per_chrom=8, chunk=10_000_020):
    """Write a random bgzip FASTA genome (``sim1``, ``sim2``, ... of ``sizes`` bp) with N gaps, and index it.

    Bases are uniform random ACGT (cheap: speed and memory of a scan do not depend on them); each chromosome
    starts and ends with ``gap`` N (telomere-like) and holds ``gaps_per_chrom`` more N runs of ``gap`` bp at
    random places. Written in pieces of ``chunk`` bases (a multiple of the 60-base line), so the writer's own
    memory stays small whatever the size; the ``.fai``/``.gzi`` index is built beside it.
    """
    import pysam
    from pysam.libcbgzf import BGZFile

    assert chunk % 60 == 0
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    tmp = path + ".part"
    with BGZFile(tmp, "wb") as fh:
        for k, size in enumerate(sizes):
            fh.write(f">sim{k + 1}\n".encode())
            starts = np.sort(rng.integers(gap, size - 2 * gap, gaps_per_chrom))
            for a in range(0, size, chunk):
                b = min(size, a + chunk)
                seq = letters[rng.integers(0, 4, b - a, dtype=np.uint8)]
                pos = np.arange(a, b)
                n = (pos < gap) | (pos >= size - gap)
                for s in starts:
                    n |= (pos >= s) & (pos < s + gap)
                seq[n] = ord("N")
                full = (b - a) // 60 * 60
                lines = np.empty((full // 60, 61), np.uint8)
                lines[:, :60] = seq[:full].reshape(-1, 60)
                lines[:, 60] = 10
                fh.write(lines.tobytes())
                if full < b - a:
                    fh.write(seq[full:].tobytes() + b"\n")
    os.replace(tmp, path)
    pysam.faidx(path)
    return path


def genome_slabs(genome, chroms, L, stride, slab_bases):
    """Every window start on the stride grid of ``chroms``, as ``(chrom, offset, slab, starts)`` pieces.

    Each piece holds the starts in ``slab_bases`` bp of one chromosome and the one-hot slab they need (the
    starts' span plus ``L - 1``); ``starts`` are relative to the slab, ``offset`` is the slab's genome position.
    """
    for chrom in chroms:
        size = genome.lengths[chrom]
        last = size - L  # the last window start
        for a in range(0, last + 1, slab_bases):
            b = min(last + 1, a + slab_bases)
            starts = np.arange(a - a % stride + (stride if a % stride else 0), b, stride, dtype=np.int64)
            if not len(starts):
                continue
            text = genome.region(chrom, a, b - 1 + L)
            yield chrom, a, onehot_text(text), starts - a


def run_for(fn, pieces, seconds, at):
    """Call ``fn(piece)`` on ``pieces[at], pieces[at + 1], ...`` (cycling) until ``seconds`` have passed.

    Returns ``(windows, wall_s, cpu_s, next_at)``.
    """
    done, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        piece = pieces[at % len(pieces)]
        fn(piece)
        done += len(piece[3])
        at += 1
        if time.perf_counter() - t0 >= seconds:
            break
    return done, time.perf_counter() - t0, time.process_time() - c0, at


def speed(args):
    """The speed table: one row per configuration ``arch:L:stride``."""
    from seqcnn import scan_exact
    from seqcnn._tf import import_keras, import_tf
    from seqcnn.genome import Genome
    from seqcnn.models import build_model

    tf, keras = import_tf(), import_keras()
    genome = Genome(args.genome)
    chroms = [c for c in (args.chroms.split(",") if args.chroms else genome.lengths) if c != "Mito"]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}, "
          f"Keras {keras.__version__}; genome {args.genome} ({', '.join(chroms)}: "
          f"{sum(genome.lengths[c] for c in chroms) / 1e6:.1f} Mbp)", flush=True)
    print("| arch | L | stride | method | seqcnn windows/s | seqcnn bases/s | cut windows/s | cut bases/s "
          "| × cut (wall) | × cut (CPU s) | bases scanned: seqcnn / cut | max abs diff | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for spec in args.configs.split(","):
        arch, L, stride = spec.split(":")
        L, stride = int(L), int(stride)
        keras.utils.set_random_seed(0)
        model = build_model(arch, L, "binary", 1, strands="average")
        scorer = scan_exact.WindowScorer(model)
        # the cut method's subset: windows starting in --naive-bases bp from the middle of --naive-chrom
        mid = genome.lengths[args.naive_chrom] // 2
        sub_slabs = []
        for a in range(mid, mid + args.naive_bases, args.naive_chunk * stride):
            b = min(mid + args.naive_bases, a + args.naive_chunk * stride)
            starts = np.arange(a, b, stride, dtype=np.int64)
            sub_slabs.append((args.naive_chrom, a, onehot_text(genome.region(args.naive_chrom, a, b - 1 + L)),
                              starts - a))
        # exactness on the subset's first piece, and the warm-up (compilation) of both methods
        t0 = time.perf_counter()
        got = scorer.logits(sub_slabs[0][2], sub_slabs[0][3])
        warm_fast = time.perf_counter() - t0
        ref = scan_exact.cut_logits(model, sub_slabs[0][2], sub_slabs[0][3])
        diff = float(np.abs(got - ref).max())
        pieces = list(genome_slabs(genome, chroms, L, stride, args.slab_bases))
        scorer.logits(pieces[0][2], pieces[0][3][: max(1, len(pieces[0][3]) // 50)])  # the slab shape's warm-up
        fast = lambda p: scorer.logits(p[2], p[3])  # noqa: E731
        cut = lambda p: scan_exact.cut_logits(model, p[2], p[3])  # noqa: E731
        res = {"seqcnn": {"n": [], "wall": [], "cpu": []}, "cut": {"n": [], "wall": [], "cpu": []}}
        at = {"seqcnn": 0, "cut": 0}
        for r in range(args.rounds):
            order = [("seqcnn", fast, pieces), ("cut", cut, sub_slabs)]
            for name, fn, ps in (order if r % 2 == 0 else order[::-1]):
                n, wall, cpu, at[name] = run_for(fn, ps, args.seconds, at[name])
                res[name]["n"].append(n)
                res[name]["wall"].append(n / wall)
                res[name]["cpu"].append(n / max(cpu, 1e-9))
        med = {k: float(np.median(v["wall"])) for k, v in res.items()}
        ratio = float(np.median(np.divide(res["seqcnn"]["wall"], res["cut"]["wall"])))
        ratio_cpu = float(np.median(np.divide(res["seqcnn"]["cpu"], res["cut"]["cpu"])))
        scanned = {k: sum(v["n"]) * stride for k, v in res.items()}
        row = {"arch": arch, "L": L, "stride": stride, "method": scorer.method, "seqcnn_windows_s": med["seqcnn"],
               "cut_windows_s": med["cut"], "speedup": ratio, "speedup_cpu": ratio_cpu,
               "speedup_rounds": list(np.divide(res["seqcnn"]["wall"], res["cut"]["wall"])),
               "bases_scanned": scanned, "max_abs_diff": diff, "seqcnn_first_call_s": warm_fast,
               "load": os.getloadavg()[0]}
        rows.append(row)
        print(f"| {arch} | {L} | {stride} | {scorer.method} | {med['seqcnn']:,.0f} | {med['seqcnn'] * stride:,.0f} | "
              f"{med['cut']:,.0f} | {med['cut'] * stride:,.0f} | {ratio:.1f} | {ratio_cpu:.1f} | "
              f"{scanned['seqcnn'] / 1e6:.1f} M / {scanned['cut'] / 1e6:.2f} M | {diff:.1e} | "
              f"{os.getloadavg()[0]:.1f} |", flush=True)
    return rows


# Runs a command and prints its peak RSS (KiB) as the last line. A child's ru_maxrss counts the memory of the
# process it was forked from until its exec (Linux keeps the old address space's high-water mark), so a child of
# this benchmark after the speed table would report this process's gigabyte or two: the command is started from
# this small launcher instead, whose own footprint (a bare interpreter) is what its child inherits.
_LAUNCHER = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, st, ru = os.wait4(p.pid, 0); "
             "print(f'peak_rss_kib {ru.ru_maxrss}'); sys.exit(os.waitstatus_to_exitcode(st))")


def child_rss(cmd):
    """Run ``cmd`` in a child process; return ``(rc, wall_s, peak RSS in MiB, its output)``.

    The peak RSS is the command's own (``os.wait4``'s rusage, ``ru_maxrss`` in KiB on Linux, taken by a bare
    launcher process: see ``_LAUNCHER``); output goes to a temporary file, so a chatty child never blocks on a full
    pipe.
    """
    import tempfile

    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _LAUNCHER] + list(cmd), stdout=log, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - t0
        log.seek(0)
        text = log.read().decode(errors="replace")
    lines = text.strip().splitlines()
    peak = next((int(x.split()[1]) for x in reversed(lines) if x.startswith("peak_rss_kib ")), 0)
    text = "\n".join(x for x in lines if not x.startswith("peak_rss_kib "))
    return proc.returncode, wall, peak / 1024, text


def tiny_run(workdir, length=1000, filters=8):
    """A small FASTA-mode run for the memory runs (made once with the command line; its path).

    ``seqcnn simulate`` (200 sequences of ``length`` bp, CTCF planted), ``encode``, ``train --epochs 1`` of a
    deepbind with ``filters`` filters: a window of 1 kb lets ``--stride 1000`` tile a genome, few filters keep a
    1 Gbp scan to minutes (peak RSS of the streaming does not depend on them), and a FASTA-mode dataset records
    no chromosome names, so any genome may be scanned with it.
    """
    run = os.path.join(workdir, f"tiny{length}-run")
    if os.path.exists(run):
        return run
    prefix = os.path.join(workdir, f"tiny{length}")
    for cmd in (["simulate", "-o", prefix, "-n", "200", "--length", str(length), "--seed", "1"],
                ["encode", prefix + ".fa", "--labels", prefix + "_labels.csv", "-o", prefix + ".h5", "--force"],
                ["train", prefix + ".h5", "-o", run, "--epochs", "1", "--param", f"filters={filters}", "--quiet"]):
        subprocess.run([sys.executable, "-m", "seqcnn"] + cmd, check=True, capture_output=True)
    return run


def rss(args):
    """Peak RSS of ``seqcnn scan`` in a child process on the yeast genome and on the simulated 1 Gbp genome."""
    args.run = args.run or tiny_run(args.workdir)
    if not os.path.exists(args.big_genome):
        t0 = time.perf_counter()
        simulate_genome(args.big_genome, [int(float(v) * 1e6) for v in args.big_sizes.split(",")])
        print(f"# wrote {args.big_genome} in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    print("| genome | run | size | stride | method | windows scored | wall s (child) | bases/s | peak RSS MiB | rc |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    from seqcnn.genome import Genome

    runs = {"small": (args.genome, args.rss_stride, args.run, args.rss_method),
            "big": (args.big_genome, args.rss_stride, args.run, args.rss_method)}
    if args.e2e_run:
        runs["e2e"] = (args.genome, 10, args.e2e_run, "auto")
    for genome, stride, run, method in (runs[k] for k in args.rss_runs.split(",") if k in runs):
        size = Genome(genome).size
        out = os.path.join(args.workdir, f"rss-{os.path.basename(genome).split('.')[0]}-{stride}.bw")
        # seqcnn scan's own function (what the verb calls), with the scoring path named: the command line
        # has no --method, and at a stride of one window 'batched' does the same arithmetic with less overhead.
        code = ("import sys, json; from seqcnn.scan import scan; "
                f"r = scan({run!r}, {genome!r}, {out!r}, stride={stride}, force=True, method={method!r}); "
                "print(json.dumps({k: r[k] for k in ('method', 'seconds', 'bases', 'windows')}))")
        cmd = [sys.executable, "-c", code]
        rc, wall, peak, text = child_rss(cmd)
        last = (text.strip().splitlines() or [""])[-1]
        info = json.loads(last) if rc == 0 else {}
        rows.append({"genome": genome, "run": run, "size": size, "stride": stride, "wall_s": wall,
                     "peak_rss_mib": peak, "rc": rc, "cmd": " ".join(cmd), "scan": info})
        name = "/".join(os.path.normpath(run).split(os.sep)[-2:])
        print(f"| {os.path.basename(genome)} | {name} | {size / 1e6:,.1f} Mbp | {stride} | {info.get('method')} | "
              f"{(info.get('windows') or {}).get('scored', 0):,} | {wall:.0f} | {size / wall:,.0f} | {peak:,.0f} | "
              f"{rc} |", flush=True)
        if rc:
            print(text[-2000:], file=sys.stderr)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genome", default=YEAST)
    ap.add_argument("--chroms", help="comma-separated chromosomes seqcnn scans (default: all but Mito)")
    ap.add_argument("--configs", default=CONFIGS, help="arch:L:stride, comma-separated ('' skips the speed table)")
    ap.add_argument("--slab-bases", type=int, default=1 << 16,
                    help="window starts per piece given to seqcnn (it works in chunks of scan_exact.SPAN anyway)")
    ap.add_argument("--naive-chrom", default="IV")
    ap.add_argument("--naive-bases", type=int, default=100_000, help="bp of window starts the cut method scores")
    ap.add_argument("--naive-chunk", type=int, default=2048, help="windows per cut_logits call")
    ap.add_argument("--seconds", type=float, default=8.0, help="minimum time per method per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rss", action="store_true", help="also the peak-RSS runs of seqcnn scan in a child process")
    ap.add_argument("--run", help="run directory the --rss scans use (default: tiny_run, made once in --workdir)")
    ap.add_argument("--big-genome", default="/tmp/scanbench/sim1g.fa.gz")
    ap.add_argument("--big-sizes", default="300,250,250,200", help="Mbp of the simulated genome's chromosomes")
    ap.add_argument("--rss-stride", type=int, default=1000)
    ap.add_argument("--rss-method", default="batched", help="WindowScorer method of the --rss scans")
    ap.add_argument("--rss-runs", default="small,big,e2e", help="which --rss scans: small (--genome), big "
                                                                 "(--big-genome), e2e (--e2e-run)")
    ap.add_argument("--e2e-run", help="also scan the --genome end to end at stride 10 with this run (e.g. the "
                                      "default model of scan_yeast.py, /tmp/scanbench/yeast200/run)")
    ap.add_argument("--workdir", default="/tmp/scanbench")
    ap.add_argument("--out", default=os.path.join(HERE, "out", "bench_scan.json"))
    args = ap.parse_args(argv)
    print(f"$ {' '.join([os.path.relpath(sys.argv[0])] + sys.argv[1:])}", flush=True)
    t0 = time.time()
    result = {"argv": sys.argv, "speed": speed(args) if args.configs else []}
    if args.rss:
        result["rss"] = rss(args)
    print(f"\ntotal {time.time() - t0:.0f} s on {os.cpu_count()} CPUs", flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
