#!/usr/bin/env bash
# Run every benchmark with the commands recorded in benchmarks/RESULTS.md; outputs go to benchmarks/out/.
# Expect about an hour on a 2-core machine (the accuracy benchmark trains every architecture on every data set).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/out
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}"
run() { local name=$1; shift; echo "== $*"; "$@" | tee "benchmarks/out/$name.txt"; }
run encode python benchmarks/bench_encode.py
run scale python benchmarks/bench_scale.py --n 100000,1000000,10000000
run ism python benchmarks/bench_ism.py
run train python benchmarks/bench_train.py --data ../shared/data/janggu_oct4_vs_mafk --epochs 4 --rounds 2
run accuracy python -W ignore benchmarks/bench_accuracy.py --out benchmarks/out/accuracy.json
run interpret python benchmarks/bench_interpret.py
echo "== done: outputs in benchmarks/out/; copy tables into benchmarks/RESULTS.md with their commands"
