"""Training throughput: seqcnn's data pipeline (in memory and streamed from HDF5) vs ``model.fit`` on numpy.

Same model (same architecture, hyper-parameters and initial weights), same data, same process,
same batch size; the three are run in turn for several rounds (the machine is shared, so
interleaving spreads any background load evenly) and each epoch after the first (tracing) is
timed. Reports training sequences per second and the ratio to in-memory numpy ``model.fit``.

    python benchmarks/bench_train.py --data ../shared/data/janggu_oct4_vs_mafk --arch deepbind --epochs 3
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/janggu_oct4_vs_mafk",
                    help="folder with train.fa + train_labels.csv, or an encoded .h5")
    ap.add_argument("--arch", default=None)
    ap.add_argument("--param", action="append", default=[], help="name=value hyper-parameter")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per timing (the first is not timed)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None, help="default: seqcnn train's default")
    args = ap.parse_args(argv)

    from seqcnn import feeding, losses, models, rundir, training
    from seqcnn._tf import import_keras
    from seqcnn.ingest import encode_fasta
    from seqcnn.store import open_dataset

    keras = import_keras()
    tmp = tempfile.mkdtemp(prefix="seqcnn-bench-train-")
    if args.data.endswith(".h5"):
        h5 = args.data
    else:
        h5 = os.path.join(tmp, "train.h5")
        encode_fasta([os.path.join(args.data, "train.fa")], h5, labels=os.path.join(args.data, "train_labels.csv"),
                     split="1,0,0", seed=0)
    arch = args.arch or models.DEFAULT_ARCH
    hp = {k: models.coerce_param(arch, k, v) for k, v in (p.split("=", 1) for p in args.param)}
    ds = open_dataset(h5)
    idx = ds.indices("train")
    x_u8 = ds.read_x(idx)
    x_f32 = x_u8.astype(np.float32)
    targets = losses.targets(ds.task, ds.y)
    y = targets[idx]
    w = np.ones(ds.n, np.float32)
    bs = args.batch_size or rundir.TRAIN_DEFAULTS["batch_size"]
    steps = int(np.ceil(len(idx) / bs))
    training.set_determinism(0)
    init = models.build_model(arch, ds.length, ds.task, ds.n_outputs, **hp).get_weights()

    class Timer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t)

    def fresh():
        m = models.build_model(arch, ds.length, ds.task, ds.n_outputs, **hp)
        m.set_weights(init)
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses.keras_loss(ds.task), jit_compile=False)
        return m

    def run(kind):
        m, timer = fresh(), Timer()
        if kind == "numpy model.fit (in memory)":
            m.fit(x_f32, y, batch_size=bs, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[timer])
        else:
            src = feeding.Source(ds, idx, in_memory=kind.startswith("seqcnn in memory"))
            data = feeding.training_dataset(src, idx, targets, w, bs, 0, rundir.TRAIN_DEFAULTS["buffer_chunks"],
                                             True, 0, args.epochs)
            m.fit(data, epochs=args.epochs, steps_per_epoch=steps, verbose=0, callbacks=[timer], shuffle=False)
        return timer.times[1:]

    kinds = ["numpy model.fit (in memory)", "seqcnn in memory", "seqcnn streamed from HDF5"]
    times = {k: [] for k in kinds}
    for r in range(args.rounds):
        for k in (kinds if r % 2 == 0 else kinds[::-1]):
            times[k].extend(run(k))
    base = len(idx) / np.median(times[kinds[0]])
    print(f"data {h5}: {len(idx)} training sequences x {ds.length} bp; arch {arch} {hp or ''}; batch {bs}; "
          f"{args.rounds} rounds x {args.epochs - 1} timed epochs; {os.cpu_count()} CPUs")
    print("| pipeline | sequences/s (median epoch) | vs numpy model.fit |")
    print("|---|---|---|")
    for k in kinds:
        rate = len(idx) / np.median(times[k])
        print(f"| {k} | {rate:,.0f} | {rate / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
