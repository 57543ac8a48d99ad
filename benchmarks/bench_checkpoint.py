"""The per-epoch checkpoint of ``seqcnn train``: one ``.npz`` of arrays vs Keras' own ``.keras`` + ``.weights.h5``.

Each epoch a run writes what ``--resume`` needs: the weights, the optimizer's slots and the best epoch's weights.
``npz``: ``training._save_checkpoint`` (what train writes). ``keras``: ``model.save('last.keras')`` plus
``model.save_weights('best.weights.h5')``, what it wrote before (the obvious alternative). Same compiled,
strand-averaged model, same folder, the two in turn for several rounds (median); the round trip is checked: the
restored weights and optimizer slots equal the saved ones.

    python benchmarks/bench_checkpoint.py --archs deepbind,basset --rounds 20
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default="deepbind,basset")
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args(argv)

    from seqcnn import losses, models, training
    from seqcnn._tf import import_keras

    keras = import_keras()
    tmp = tempfile.mkdtemp(prefix="seqcnn-bench-ckpt-")
    print(f"{' '.join(sys.argv)}; L = {args.length}, {args.rounds} rounds, {os.cpu_count()} CPUs")
    print("| arch | parameters | npz ms | keras + h5 ms | keras / npz | npz MB | round trip |")
    print("|---|---|---|---|---|---|---|")
    for arch in args.archs.split(","):
        model = models.build_model(arch, args.length, "binary", 1, strands="average")
        model.compile(keras.optimizers.Adam(1e-3), loss=losses.keras_loss("binary"), jit_compile=False)
        model.optimizer.build(model.trainable_variables)
        x = np.random.default_rng(0).integers(0, 2, (64, args.length, 4)).astype(np.float32)
        model.fit(x, np.zeros((64, 1), np.float32), epochs=1, verbose=0)  # non-zero optimizer slots
        best = model.get_weights()
        npz, kfile, wfile = (os.path.join(tmp, f) for f in ("weights.npz", "last.keras", "best.weights.h5"))
        t_npz, t_keras = [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            training._save_checkpoint(npz, model, model.optimizer, best)
            t_npz.append(time.perf_counter() - t)
            t = time.perf_counter()
            model.save(kfile)
            model.save_weights(wfile)
            t_keras.append(time.perf_counter() - t)
        other = models.build_model(arch, args.length, "binary", 1, strands="average")
        other.compile(keras.optimizers.Adam(1e-3), loss=losses.keras_loss("binary"), jit_compile=False)
        other.optimizer.build(other.trainable_variables)
        restored_best = training._restore_checkpoint(npz, other, other.optimizer)
        same = (all(np.array_equal(a, b) for a, b in zip(model.get_weights(), other.get_weights()))
                and all(np.array_equal(np.asarray(a), np.asarray(b))
                        for a, b in zip(model.optimizer.variables, other.optimizer.variables))
                and all(np.array_equal(a, b) for a, b in zip(best, restored_best)))
        a, b = np.median(t_npz) * 1e3, np.median(t_keras) * 1e3
        print(f"| {arch} | {model.count_params():,} | {a:.1f} | {b:.1f} | {b / a:.0f}× | "
              f"{os.path.getsize(npz) / 1e6:.2f} | {'exact' if same else 'DIFFERS'} |", flush=True)


if __name__ == "__main__":
    main()
