"""Exact ISM side by side with tangermeme (PyTorch): the same weights, sequences, CPU and threads, in one run.

seqcnn's ``deepbind`` and ``basset`` models (default hyper-parameters, random weights and batch-norm statistics)
are copied into equivalent PyTorch modules. The outputs are checked to agree within 1e-4 on the same input. Then
three ISMs are timed in turns (``--rounds``, the median reported):

- tangermeme ``saturation_mutagenesis(fast=True)`` (its fastISM path through ``torch.export``);
- tangermeme ``saturation_mutagenesis(fast=False)`` (batched full forward passes);
- ``seqcnn.ism`` (method chosen automatically).

tangermeme skips its fast path when it estimates that the naive job takes under 30 s (``_FAST_MIN_SECONDS``).
This script sets that threshold to 0, so the fast path is always attempted. When tangermeme refuses it (it
checks the fast path against ``fast=False`` and its time), the warning is reported as the result.

Needs torch and tangermeme, which seqcnn never depends on: ``make bench-peers`` builds ``.venv-bench`` with
both and runs this script there.

    .venv-bench/bin/python benchmarks/bench_ism_peers.py [--lengths 200,1000] [--n 64,8] [--rounds 3] [--threads 2]
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tangermeme import saturation_mutagenesis as tm_module  # noqa: E402

from seqcnn._tf import import_keras, import_tf  # noqa: E402
from seqcnn.exact_ism import ism, ism_method  # noqa: E402
from seqcnn.models import build_model  # noqa: E402

tf = import_tf()
keras = import_keras()


def randomize(model, seed):
    """Random weights, biases and batch-norm statistics (trained-model-like scales), so every path is exercised."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 2.0, w.shape).astype("float32"))
        elif "moving_mean" in w.path or "bias" in w.path or "beta" in w.path:
            w.assign(rng.normal(0.0, 0.1, w.shape).astype("float32"))
        elif "gamma" in w.path:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
        else:
            fan_in = int(np.prod(w.shape[:-1]))
            w.assign(rng.normal(0.0, 1.0 / np.sqrt(fan_in), w.shape).astype("float32"))
    return model


def _t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float32)


class TorchDeepBind(torch.nn.Module):
    """seqcnn ``deepbind``: Conv1d relu → [global max, global average] → Dense relu → logits (dropout: eval)."""

    def __init__(self, model):
        super().__init__()
        conv, d1, out = model.get_layer("conv1"), model.get_layer("dense1"), model.get_layer("logits")
        self.conv = torch.nn.Conv1d(4, conv.filters, conv.kernel_size[0])
        self.conv.weight.data = _t(conv.kernel.numpy().transpose(2, 1, 0))    # [K, in, out] → [out, in, K]
        self.conv.bias.data = _t(conv.bias.numpy())
        self.dense = torch.nn.Linear(*d1.kernel.shape)
        self.dense.weight.data, self.dense.bias.data = _t(d1.kernel.numpy().T), _t(d1.bias.numpy())
        self.out = torch.nn.Linear(*out.kernel.shape)
        self.out.weight.data, self.out.bias.data = _t(out.kernel.numpy().T), _t(out.bias.numpy())

    def forward(self, x):                                      # x [n, 4, L]
        h = torch.relu(self.conv(x))
        h = torch.cat([h.max(dim=-1).values, h.mean(dim=-1)], 1)
        return self.out(torch.relu(self.dense(h)))


def _same_pad(L_in, size, stride):
    """TensorFlow's 'same' padding (left, right) of a window ``size`` with ``stride`` on ``L_in`` positions."""
    L_out = -(-L_in // stride)
    total = max((L_out - 1) * stride + size - L_in, 0)
    return total // 2, total - total // 2


class TorchBasset(torch.nn.Module):
    """seqcnn ``basset``: [Conv1d → BatchNorm1d → ReLU → MaxPool1d('same')] × 3 → Flatten → Dense × 2 → logits."""

    def __init__(self, model):
        super().__init__()
        self.convs, self.bns, self.pools = torch.nn.ModuleList(), torch.nn.ModuleList(), []
        L = int(model.inputs[0].shape[1])
        i = 1
        while True:
            try:
                conv = model.get_layer(f"conv{i}")
            except ValueError:
                break
            bn, pool = model.get_layer(f"bn{i}"), model.get_layer(f"pool{i}")
            K = conv.kernel_size[0]
            c = torch.nn.Conv1d(conv.kernel.shape[1], conv.filters, K)
            c.weight.data, c.bias.data = _t(conv.kernel.numpy().transpose(2, 1, 0)), _t(conv.bias.numpy())
            pad = (0, 0) if conv.padding == "valid" else ((K - 1) // 2, K - 1 - (K - 1) // 2)
            L = L - K + 1 if conv.padding == "valid" else L
            b = torch.nn.BatchNorm1d(conv.filters, eps=bn.epsilon)
            b.weight.data, b.bias.data = _t(bn.gamma.numpy()), _t(bn.beta.numpy())
            b.running_mean.data, b.running_var.data = _t(bn.moving_mean.numpy()), _t(bn.moving_variance.numpy())
            P = pool.pool_size[0]
            ppad = _same_pad(L, P, P)
            L = -(-L // P)
            self.convs.append(c)
            self.bns.append(b)
            self.pools.append((pad, P, ppad))
            i += 1
        self.L_last, self.C_last = L, self.convs[-1].out_channels
        self.dense = torch.nn.ModuleList()
        j = 1
        while True:
            try:
                d = model.get_layer(f"dense{j}")
            except ValueError:
                break
            lin = torch.nn.Linear(*d.kernel.shape)
            W = d.kernel.numpy()
            if j == 1:   # Keras flattens [L, C] position-major; torch's [C, L] is channel-major
                W = W.reshape(self.L_last, self.C_last, -1).transpose(1, 0, 2).reshape(self.L_last * self.C_last, -1)
            lin.weight.data, lin.bias.data = _t(W.T), _t(d.bias.numpy())
            self.dense.append(lin)
            j += 1
        out = model.get_layer("logits")
        self.out = torch.nn.Linear(*out.kernel.shape)
        self.out.weight.data, self.out.bias.data = _t(out.kernel.numpy().T), _t(out.bias.numpy())

    def forward(self, x):
        h = x
        for conv, bn, (pad, P, ppad) in zip(self.convs, self.bns, self.pools):
            h = torch.relu(bn(conv(F.pad(h, pad))))
            h = F.max_pool1d(F.pad(h, ppad, value=float("-inf")), P)
        h = torch.flatten(h, 1)
        for lin in self.dense:
            h = torch.relu(lin(h))
        return self.out(h)


def _tangermeme(module, X, fast, batch_size):
    """(delta [n, L, 4] as numpy, seconds, the warnings tangermeme raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        y0, y_hat = tm_module.saturation_mutagenesis(module, X, raw_outputs=True, fast=fast, batch_size=batch_size,
                                                     device="cpu")
        seconds = time.perf_counter() - t0
    y0, y_hat = np.asarray(y0), np.asarray(y_hat)
    # y_hat [n, 4, L, T] (the prediction with base b at position i); delta relative to the reference
    d = y_hat[..., 0] - y0[:, 0][:, None, None]
    return d.transpose(0, 2, 1), seconds, [str(w.message).split("\n")[0] for w in caught]


def bench(arch, L, n, rounds, batch_size):
    model = randomize(build_model(arch, L, "binary", 1), seed=L)
    module = (TorchDeepBind if arch == "deepbind" else TorchBasset)(model).eval()
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, L))]
    X = torch.tensor(x.transpose(0, 2, 1))
    with torch.no_grad():
        out_torch = module(X).numpy()
    out_keras = model(x, training=False).numpy()
    port = float(np.abs(out_torch - out_keras).max())
    assert port < 1e-4, f"{arch} port differs by {port}"
    ism(model, x[:2])                                               # compile seqcnn's path once
    times = {"tm_fast": [], "tm_slow": [], "seqcnn": []}
    notes = set()
    deltas = {}
    with torch.no_grad():
        for _ in range(rounds):
            for name in times:
                if name == "seqcnn":
                    t0 = time.perf_counter()
                    d, _ = ism(model, x)
                    times[name].append(time.perf_counter() - t0)
                    deltas[name] = d * (1 - x)
                else:
                    d, s, caught = _tangermeme(module, X, name == "tm_fast", batch_size)
                    times[name].append(s)
                    deltas[name] = d * (1 - x)
                    notes.update(c for c in caught if name == "tm_fast")
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"arch": arch, "L": L, "n": n, "seqcnn_method": ism_method(model), "port_max_abs_diff": port,
            "seq_per_s": {k: n / v for k, v in med.items()},
            "seqcnn_vs_tm_fast": med["tm_fast"] / med["seqcnn"], "seqcnn_vs_tm_slow": med["tm_slow"] / med["seqcnn"],
            "tm_fast_vs_tm_slow": med["tm_slow"] / med["tm_fast"],
            "max_abs_diff": {"seqcnn_vs_tm_fast": float(np.abs(deltas["seqcnn"] - deltas["tm_fast"]).max()),
                             "seqcnn_vs_tm_slow": float(np.abs(deltas["seqcnn"] - deltas["tm_slow"]).max()),
                             "tm_fast_vs_tm_slow": float(np.abs(deltas["tm_fast"] - deltas["tm_slow"]).max())},
            "tangermeme_notes": sorted(notes)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="200,1000")
    ap.add_argument("--archs", default="deepbind,basset")
    ap.add_argument("--n", default="64,8", help="sequences per length (same order as --lengths)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256, help="tangermeme's batch of edits")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tm_module._FAST_MIN_SECONDS = 0.0   # always try tangermeme's fast path (see the module docstring)
    import tangermeme

    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, {args.threads} threads each; torch {torch.__version__}, "
          f"tangermeme {tangermeme.__version__}, TF {tf.__version__}")
    print("| arch | L | n | seqcnn path | tangermeme fast seq/s | tangermeme naive seq/s | seqcnn seq/s | seqcnn / tm fast "
          "| seqcnn / tm naive | tm fast / tm naive | max abs diff seqcnn–tm fast | seqcnn–tm naive | port diff | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    results = []
    for L, n in zip((int(v) for v in args.lengths.split(",")), (int(v) for v in args.n.split(","))):
        for arch in args.archs.split(","):
            r = bench(arch, L, n, args.rounds, args.batch_size)
            results.append(r)
            s, d = r["seq_per_s"], r["max_abs_diff"]
            print(f"| {arch} | {L} | {n} | {r['seqcnn_method']} | {s['tm_fast']:.2f} | {s['tm_slow']:.2f} | "
                  f"{s['seqcnn']:.1f} | {r['seqcnn_vs_tm_fast']:.1f}× | {r['seqcnn_vs_tm_slow']:.1f}× | "
                  f"{r['tm_fast_vs_tm_slow']:.1f}× | {d['seqcnn_vs_tm_fast']:.1e} | {d['seqcnn_vs_tm_slow']:.1e} | "
                  f"{r['port_max_abs_diff']:.1e} | {'; '.join(r['tangermeme_notes']) or '—'} |", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
