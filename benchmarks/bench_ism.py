"""In-silico mutagenesis speed: per-sequence naive, batched naive and seqcnn's exact fast ISM, in one run.

For each factory architecture (default hyper-parameters) at L = 200 and 1,000 on random one-hot sequences:

- per-sequence naive: for each sequence, its 3·L single-base mutants are built in numpy and run through
  the model in one compiled call (what most toolkits do);
- batched naive: mutants of several sequences built inside one compiled ``tf.function`` and run together;
- seqcnn: ``seqcnn.ism`` (method chosen automatically; XLA where it helps).

Each contender is warmed up first (compilation excluded; seqcnn's compile time is reported on its own),
then the three take turns for ``--rounds`` rounds of at least ``--seconds`` each (or 64 / 512 sequences):
on a shared machine the speed of everything changes within seconds, so each ratio is formed within a
round and the medians over rounds are reported, by wall clock and by process CPU time. The maximum
absolute difference between seqcnn and batched naive is reported too.

    .venv/bin/python benchmarks/bench_ism.py [--lengths 200,1000] [--archs primer,deepbind,basset,zeng]
        [--seconds 4] [--rounds 3]
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from seqcnn._tf import import_keras, import_tf  # noqa: E402

tf = import_tf()
keras = import_keras()

from seqcnn import exact_ism  # noqa: E402
from seqcnn.models import build_model, coerce_param  # noqa: E402


def per_sequence_naive(model, L):
    fwd = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([3 * L, L, 4], tf.float32)])
    ref_fwd = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([1, L, 4], tf.float32)])

    def run(x):
        out = np.zeros((len(x), L, 4), np.float32)
        for n in range(len(x)):
            ref = ref_fwd(x[n:n + 1].astype(np.float32)).numpy()[0, 0]
            base = x[n].argmax(1)
            alt = (base[:, None] + np.arange(1, 4)[None, :]) % 4               # [L, 3]
            mut = np.repeat(x[n][None].astype(np.float32), 3 * L, 0).reshape(L, 3, L, 4)
            mut[np.arange(L), :, np.arange(L), :] = np.eye(4, dtype=np.float32)[alt]
            pred = fwd(mut.reshape(3 * L, L, 4)).numpy()[:, 0].reshape(L, 3)
            out[n, np.arange(L)[:, None], alt] = pred - ref
        return out
    return run


def batched_naive(model, L, seqs_per_call, max_mutants=1200):
    total = seqs_per_call * 3 * L
    bounds = list(range(0, total, max_mutants)) + [total]

    @tf.function(input_signature=[tf.TensorSpec([seqs_per_call, L, 4], tf.float32)])
    def fn(x):
        n = seqs_per_call
        base = tf.argmax(x, -1, output_type=tf.int32)                          # [n, L]
        alt = (base[:, :, None] + tf.range(1, 4)[None, None]) % 4              # [n, L, 3]
        at = tf.eye(L)[None, :, None, :, None]                                  # [1, L(i), 1, L, 1]
        rows = tf.one_hot(alt, 4)[:, :, :, None, :]                            # [n, L(i), 3, 1, 4]
        mut = tf.reshape(x[:, None, None] * (1.0 - at) + at * rows, [n * L * 3, L, 4])
        # the model runs on slices of at most max_mutants (memory), all inside the one compiled function
        pred = tf.concat([model(mut[a:b], training=False)[:, 0] for a, b in zip(bounds[:-1], bounds[1:])], 0)
        ref = model(x, training=False)[:, 0]
        return tf.reshape(pred, [n, L, 3]) - ref[:, None, None], alt

    def run(x):
        out = np.zeros((len(x), L, 4), np.float32)
        for i in range(0, len(x), seqs_per_call):
            xb = x[i:i + seqs_per_call].astype(np.float32)
            real = len(xb)
            if real < seqs_per_call:
                xb = np.concatenate([xb, np.repeat(xb[:1], seqs_per_call - real, 0)])
            d, alt = fn(xb)
            d, alt = d.numpy()[:real], alt.numpy()[:real]
            nn, ll, _ = np.indices(alt.shape)
            out[i + nn, ll, alt] = d
        return out
    return run


def timed(fn, x, seconds, max_seqs, min_seqs=1):
    """Throughput of ``fn`` over ``x`` in calls of ``min_seqs`` sequences: (seq/s wall, seq/CPU-s, outputs)."""
    done, t0, c0, outs = 0, time.perf_counter(), time.process_time(), []
    while done < max_seqs and (time.perf_counter() - t0 < seconds or done < min_seqs):
        step = min(min_seqs, max_seqs - done)
        outs.append(fn(x[done:done + step]))
        done += step
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return done / dt, done / max(cpu, 1e-9), np.concatenate(outs)


def interleaved(contenders, x, seconds, rounds):
    """Time each contender ``(name, fn, max_seqs, min_seqs)`` in ``rounds`` alternating rounds.

    Other jobs on a shared machine change the speed of everything within seconds, so the contenders take
    turns and each ratio is formed within a round; medians over rounds are reported. Returns
    ``{name: {"wall": [...], "cpu": [...], "out": first round's outputs}}``.
    """
    res = {name: {"wall": [], "cpu": []} for name, *_ in contenders}
    for name, fn, _, min_seqs in contenders:
        fn(x[:min_seqs])  # warm-up / compile
    for r in range(rounds):
        for name, fn, max_seqs, min_seqs in (contenders if r % 2 == 0 else contenders[::-1]):
            wall, cpu, out = timed(fn, x, seconds / rounds, max_seqs, min_seqs)
            res[name]["wall"].append(wall)
            res[name]["cpu"].append(cpu)
            res[name].setdefault("out", out)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="200,1000")
    ap.add_argument("--archs", default="primer,deepbind,basset,zeng,deepbind:kernel_size=24+global_average=false",
                    help="factory architectures, optionally name:key=value+key=value for tuned variants")
    ap.add_argument("--seconds", type=float, default=4.0, help="minimum time per contender per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians are reported)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "bench_ism.json"))
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}, "
          f"Keras {keras.__version__}", flush=True)
    print("| arch | L | method | per-seq naive seq/s | batched naive seq/s | seqcnn seq/s | × batched "
          "| × batched (CPU s) | × per-seq | seqcnn compile s | max abs diff | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for L in (int(v) for v in args.lengths.split(",")):
        x = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (512, L))]
        for arch in args.archs.split(","):
            # "name:key=value+key=value" benchmarks a tuned variant (e.g. the reference DeepBind model)
            name, _, spec = arch.partition(":")
            hp = dict(kv.split("=", 1) for kv in spec.split("+") if kv)
            model = build_model(name, L, "binary", 1, **{k: coerce_param(name, k, v) for k, v in hp.items()})
            per_call = max(1, 2400 // (3 * L))  # ~2,400 mutants per compiled call, as seqcnn's naive path uses
            kern = exact_ism.kernels(model)
            nb = kern.seq_batch()
            t0 = time.perf_counter()
            exact_ism.ism(model, x[:nb])
            compile_s = time.perf_counter() - t0

            def fast(xb):
                return exact_ism.ism(model, xb)[0]

            res = interleaved([("per_seq", per_sequence_naive(model, L), 64, 1),
                               ("batched", batched_naive(model, L, per_call), 64, per_call),
                               ("seqcnn", fast, 512, nb)], x, args.seconds * args.rounds, args.rounds)
            med = {k: float(np.median(v["wall"])) for k, v in res.items()}
            ratio = float(np.median(np.divide(res["seqcnn"]["wall"], res["batched"]["wall"])))
            ratio_cpu = float(np.median(np.divide(res["seqcnn"]["cpu"], res["batched"]["cpu"])))
            ratio_ps = float(np.median(np.divide(res["seqcnn"]["wall"], res["per_seq"]["wall"])))
            got, ref = res["seqcnn"]["out"], res["batched"]["out"]
            m = min(len(got), len(ref))
            diff = float(np.abs(got[:m] - ref[:m]).max())
            row = {"arch": arch, "L": L, "method": kern.method, "per_seq_naive": med["per_seq"],
                   "batched_naive": med["batched"], "seqcnn": med["seqcnn"], "speedup_vs_batched": ratio,
                   "speedup_vs_batched_cpu": ratio_cpu, "speedup_vs_per_seq": ratio_ps,
                   "speedup_rounds": list(np.divide(res["seqcnn"]["wall"], res["batched"]["wall"])),
                   "compile_s": compile_s, "max_abs_diff": diff, "batch": nb, "load": os.getloadavg()[0]}
            rows.append(row)
            print(f"| {arch} | {L} | {kern.method} | {med['per_seq']:.1f} | {med['batched']:.1f} | "
                  f"{med['seqcnn']:.0f} | {ratio:.1f} | {ratio_cpu:.1f} | {ratio_ps:.0f} | {compile_s:.1f} | "
                  f"{diff:.1e} | {os.getloadavg()[0]:.1f} |", flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
