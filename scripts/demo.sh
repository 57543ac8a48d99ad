#!/usr/bin/env bash
# The seqcnn demo on real ChIP-seq peaks: Oct4 (POU5F1) vs Mafk, from the janggu 0.10.2 wheel on PyPI.
# Downloads the wheel once into .cache/, extracts only the four FASTA files (checked by sha256),
# then runs the analysis into demo/. Re-running reuses the download and overwrites demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=.cache/seqcnn-demo
OUT=demo
mkdir -p "$CACHE" "$OUT"

fetch() {
  if [ ! -f "$CACHE/sample.fa" ] || [ ! -f "$CACHE/sample2_test.fa" ]; then
    echo "[demo] fetching janggu==0.10.2 from PyPI (data only; janggu is not installed)"
    if ! python -m pip download --quiet --no-deps --only-binary=:all: janggu==0.10.2 -d "$CACHE" 2>"$CACHE/pip.log"; then
      echo "seqcnn demo: error: could not download janggu==0.10.2 from PyPI (see $CACHE/pip.log); the demo needs network access to PyPI" >&2
      exit 2
    fi
    python - "$CACHE" <<'PY'
import glob, sys, zipfile
cache = sys.argv[1]
wheel = glob.glob(f"{cache}/janggu-0.10.2-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    for name in ("sample.fa", "sample2.fa", "sample_test.fa", "sample2_test.fa"):
        with open(f"{cache}/{name}", "wb") as fh:
            fh.write(z.read(f"janggu/resources/{name}"))
PY
  fi
  ( cd "$CACHE" && sha256sum --quiet -c - ) <<'SUMS' || { echo "seqcnn demo: error: janggu data files in $CACHE do not match their pinned sha256; delete $CACHE and re-run" >&2; exit 2; }
effef1417ad2ca12514d5a4fe72741aaada7b29c16553655c4ed84ad83640e82  sample.fa
0228f9e016bd91c642526136270b4efef75dc2916f906d47785fbe11c0fb94f8  sample2.fa
8972da4ec4dd2de58f52da113eb2d5c79d1584fb2662aa3a43349e78b0b23724  sample_test.fa
014cdfc16a3b57fc98f4bf8a7885dbbdf8f9e4a6b03a381365a8ddb415f27f5f  sample2_test.fa
SUMS
}

fetch
echo "[demo] encode: Oct4 peaks (label 1) vs Mafk peaks (label 0)"
seqcnn encode "$CACHE/sample.fa" "$CACHE/sample2.fa" --class-per-file --split 0.9,0.1,0 --seed 1 -o "$OUT/train.h5" --force
seqcnn encode "$CACHE/sample_test.fa" "$CACHE/sample2_test.fa" --class-per-file --split 0,0,1 -o "$OUT/test.h5" --force
seqcnn info "$OUT/train.h5"

echo
echo "[demo] train: default architecture, early stopping on validation auPRC (1-2 minutes on 2 CPU cores)"
seqcnn train "$OUT/train.h5" -o "$OUT/run" --force
echo
echo "[demo] evaluate on the untouched test peaks"
seqcnn evaluate "$OUT/run" "$OUT/test.h5" -o "$OUT/test_metrics.json" --force
echo
echo "[demo] predict the test FASTA sequences"
cat "$CACHE/sample_test.fa" "$CACHE/sample2_test.fa" > "$OUT/test_seqs.fa"
seqcnn predict "$OUT/run" "$OUT/test_seqs.fa" -o "$OUT/test_predictions.csv" --force
head -3 "$OUT/test_predictions.csv"

# memelite compiles Tomtom with numba once (~50 s); keep the compiled code in .cache/ so re-runs reuse it.
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}"
echo
echo "[demo] mutagenesis: exact in-silico mutagenesis of the 20 highest-scoring test positives (Oct4 peaks)"
seqcnn mutagenesis "$OUT/run" "$OUT/test.h5" -o "$OUT/ism.h5" --split test --top 20 --by label --plot-max 5 --force
echo
echo "[demo] motifs: first-layer filters as PWMs (sites from the validation peaks), compared with JASPAR2024 vertebrates"
seqcnn motifs "$OUT/run" "$OUT/train.h5" -o "$OUT/motifs" --split val --force
echo
echo "[demo] discover: TF-MoDISco on the exact-ISM contributions of the training and validation Oct4 peaks"
seqcnn discover "$OUT/run" "$OUT/train.h5" -o "$OUT/discover" --force
echo
echo "[demo] report: one self-contained HTML page of the whole analysis"
seqcnn report "$OUT/run" -o "$OUT/report.html" --data "$OUT/train.h5" --data "$OUT/test.h5" --ism "$OUT/ism.h5" \
  --motifs "$OUT/motifs" --discover "$OUT/discover" --force

echo
echo "[demo] summary"
python - "$OUT" <<'PY'
import json, sys
import pandas as pd
out = sys.argv[1]
m = json.load(open(f"{out}/test_metrics.json"))
print(f"  test peaks: n = {m['n']}, auROC {m['auroc']:.3f} (95% CI {m['auroc_ci'][0]:.3f}-{m['auroc_ci'][1]:.3f}), "
      f"auPRC {m['auprc']:.3f}, accuracy {m['accuracy']:.3f}")
t = pd.read_csv(f"{out}/motifs/filters.csv")
t = t[t["qvalue"] < 0.05].sort_values("influence", ascending=False).head(5)
print("  most influential filters with a JASPAR match (q < 0.05):")
for r in t.itertuples():
    print(f"    filter {r.filter:3d}  influence {r.influence:+.4f}  {r.best_match_id} {r.best_match_name}  q = {r.qvalue:.1e}")
PY

echo
echo "[demo] done. Results are in $OUT/:"
echo "  $OUT/train.h5, $OUT/test.h5  one-hot datasets (inspect with 'seqcnn info' or h5ls)"
echo "  $OUT/run/                   trained model: model.keras, config.json, history.csv, metrics.json, plots/*.png"
echo "  $OUT/test_metrics.json        test-set metrics (+ test_metrics_roc.png, test_metrics_pr.png)"
echo "  $OUT/test_predictions.csv     per-sequence probabilities of the test FASTA"
echo "  $OUT/ism.h5, $OUT/ism_plots/    ISM deltas and importance of 20 test positives; heatmap + logo PNGs"
echo "  $OUT/motifs/                  filters.meme/.jaspar/.transfac, filters.csv (best JASPAR matches), logos/"
echo "  $OUT/discover/                TF-MoDISco patterns (patterns.csv, patterns_*.meme, seqlets, logos/)"
echo
echo "[demo] open the report in a browser: $PWD/$OUT/report.html"
