#!/usr/bin/env bash
# Run every benchmark with the commands recorded in benchmarks/RESULTS.md; outputs go to benchmarks/out/.
# Expect about an hour and a half on a 2-core machine (the accuracy benchmark trains every architecture on every
# data set; bench_scale encodes 10 M records, trains two 1 M-record epochs and mutates 100,000 sequences twice).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/out
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}"
run() { local name=$1; shift; echo "== $*"; "$@" | tee "benchmarks/out/$name.txt"; }
run encode python benchmarks/bench_encode.py
run import python benchmarks/bench_import.py
run genome python benchmarks/bench_genome.py
run genome-windows python benchmarks/bench_genome_encode.py windows
run genome-gc python benchmarks/bench_genome_encode.py gc
run scale python benchmarks/bench_scale.py encode --n 100000,1000000,10000000
run scale-train python benchmarks/bench_scale.py train --n 1000000 --budget-mb 100
run scale-train-200k python benchmarks/bench_scale.py train --n 200000 --budget-mb 100
run scale-ism python benchmarks/bench_scale.py ism --n 1000,3000,10000,100000
run scale-open python benchmarks/bench_scale.py open --n 2000000
run scale-dedup python benchmarks/bench_scale.py dedup --n 10000000
run ism python benchmarks/bench_ism.py
run train python benchmarks/bench_train.py --data ../shared/data/janggu_oct4_vs_mafk --epochs 4 --rounds 2
run accuracy python -W ignore benchmarks/bench_accuracy.py --out benchmarks/out/accuracy.json
run train-time python -W ignore benchmarks/bench_train_time.py --sets oct4,CTCF,GATA3,long --rounds 3
run train-time-1kb python -W ignore benchmarks/bench_train_time.py --sets long --fold 1 --rounds 3
run checkpoint python benchmarks/bench_checkpoint.py --archs deepbind,basset --rounds 20
run interpret python benchmarks/bench_interpret.py
run bigwig python benchmarks/bench_bigwig.py --rounds 3
run logo python benchmarks/bench_logo.py --rounds 3
run scan-yeast python -W ignore benchmarks/scan_yeast.py
run scan python benchmarks/bench_scan.py --rss --e2e-run /tmp/scanbench/yeast200/run
echo "== done: outputs in benchmarks/out/; copy tables into benchmarks/RESULTS.md with their commands"
