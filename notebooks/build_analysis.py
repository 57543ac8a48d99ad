"""Build ``analysis.ipynb`` from the cells below and execute it so it is committed with outputs.

Usage (from the repository root): ``.venv/bin/python notebooks/build_analysis.py [--fast]``.
The test suite executes the committed notebook itself with ``FAST = True``.
"""

import argparse
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

CELLS = [
    ("md", """# seqcnn analysis: from FASTA to an explained CNN

This notebook walks a whole seqcnn analysis with the Python API on the example data shipped in `data/`:
1,500 sequences of 200 bp, half of which carry a CTCF site (JASPAR MA0139.1) planted in a human-like
dinucleotide background (see `data/README.md`). Because the truth is known — the planted sites are listed in
`data/ctcf_binary_sites.csv` — every explanation the model gives can be checked.

Steps: encode → inspect → train → curves and test metrics → a k-mer baseline → in-silico mutagenesis →
first-layer filters as motifs, matched against JASPAR → what the model learned.

`FAST = True` (used by the test suite) trains briefly; the committed outputs come from `FAST = False`."""),
    ("code", """# Parameters
FAST = False
WORK = "analysis_work"   # where the notebook writes its files (git-ignored)"""),
    ("code", """from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, display

import seqcnn
from seqcnn import plots
from seqcnn.mutagenesis import attribution

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
DATA = ROOT / "data"
WORK = Path(WORK)
WORK.mkdir(parents=True, exist_ok=True)
print("seqcnn", seqcnn.__version__)"""),
    ("md", """## 1. Encode FASTA + labels into one-hot HDF5

`encode_fasta` validates every record, one-hot encodes (A, C, G, T; `N` → zeros), and records a stratified
train/validation/test split in the file, so every later step agrees on what "test" means."""),
    ("code", """h5 = WORK / "ctcf.h5"
report = seqcnn.encode_fasta([DATA / "ctcf_binary.fa"], h5, labels=DATA / "ctcf_binary_labels.csv",
                             split="0.7,0.15,0.15", seed=0, force=True)
ds = seqcnn.open_dataset(h5)
print(f"{ds.n} sequences x {ds.length} bp, task {ds.task}; read {report['records_read']}, "
      f"written {report['records_written']}, dropped {report['dropped']}")
pd.DataFrame(ds.summary()["splits"]).T.rename(columns={"0": "negatives", "1": "positives"})"""),
    ("md", """## 2. Train a DeepBind-like CNN

`train` fits on the training split, stops early on the validation auPRC, restores the best weights and writes
a run directory (`model.keras`, `config.json`, `history.csv`, `metrics.json`, `plots/`)."""),
    ("code", """run = WORK / "run"
result = seqcnn.train(h5, run, arch="deepbind", epochs=4 if FAST else 30, seed=0, force=True, quiet=True)
history = result["history"]
print(f"best epoch {result['best_epoch']} of {len(history)}, {result['seconds']:.0f} s")
display(Image(plots.training_curves(history, WORK / "curves.png", monitor="val_auprc")))"""),
    ("md", """## 3. Test metrics, ROC and precision-recall

Metrics come from scikit-learn on the untouched test split, with 95 % bootstrap intervals."""),
    ("code", """metrics = seqcnn.evaluate(run, h5, split="test", out=WORK / "test_metrics.json", force=True)
print({k: metrics[k] for k in ("n", "auroc", "auroc_ci", "auprc", "auprc_ci", "accuracy", "mcc")})
display(Image(WORK / "test_metrics_roc.png"), Image(WORK / "test_metrics_pr.png"))"""),
    ("md", """## 4. Baseline: 5-mer counts + logistic regression

A strong, simple baseline: counts of every 5-mer, L2-regularised logistic regression on the same training
split. A CNN that cannot beat it has not learned more than k-mer composition."""),
    ("code", """from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

seqs = np.array(seqcnn.decode(ds.read_x()))
train_idx, test_idx = ds.indices("train"), ds.indices("test")
vectorizer = CountVectorizer(analyzer="char", ngram_range=(5, 5), lowercase=False)
kmers = vectorizer.fit_transform(seqs)
baseline = LogisticRegression(max_iter=3000, C=0.1).fit(kmers[train_idx], ds.y[train_idx])
auroc_kmer = roc_auc_score(ds.y[test_idx], baseline.predict_proba(kmers[test_idx])[:, 1])
comparison = pd.DataFrame({"model": ["seqcnn deepbind", "5-mer logistic regression"],
                           "test auROC": [metrics["auroc"], auroc_kmer]})
comparison"""),
    ("md", """## 5. In-silico mutagenesis: which bases matter

For each test positive, `ism` computes exactly `delta[n, i, b] = f(x with position i set to b) − f(x)` in logit
space, for every position and base, in a few batched passes. Importance is minus the mean of the three
alternative deltas; the logo shows it on the reference bases. The planted CTCF site should light up."""),
    ("code", """model, config = seqcnn.load_run(run)
pos = test_idx[ds.y[test_idx] == 1]
x = ds.read_x(pos)
delta, reference = seqcnn.ism(model, x)
imp = seqcnn.importance(delta, x)
att = attribution(imp, x)
top = np.argsort(-reference)[:2 if FAST else 3]
for k in top:
    rid = ds.ids[pos[k]]
    display(Image(plots.ism_figure(delta[k], att[k], WORK / f"ism_{rid}.png", title=f"{rid} (logit {reference[k]:.2f})")))"""),
    ("md", """Because the planted sites are known, we can measure how much of the importance falls on them."""),
    ("code", """sites = pd.read_csv(DATA / "ctcf_binary_sites.csv").set_index("id")
in_site = np.zeros(imp.shape, dtype=bool)
for row, n in enumerate(pos):
    s = sites.loc[[ds.ids[n]]]
    for start, end in zip(s["start"], s["end"]):
        in_site[row, start:end] = True
ratio = np.abs(imp[in_site]).mean() / np.abs(imp[~in_site]).mean()
print(f"mean |importance| inside planted CTCF sites / elsewhere: {ratio:.1f}x "
      f"({in_site.sum()} site positions, {(~in_site).sum()} others)")"""),
    ("md", """## 6. What motifs did the filters learn?

`run_motifs` turns each first-layer filter into a position frequency matrix from the windows that activate it
(Basset's threshold rule, both strands), ranks filters by influence (validation-loss increase when the filter
is silenced), writes MEME/JASPAR/TRANSFAC files and compares every filter with JASPAR 2024 vertebrate motifs
(Tomtom, q-values by Benjamini–Hochberg)."""),
    ("code", """motifs = seqcnn.run_motifs(run, h5, WORK / "motifs", split="train", force=True)
table = motifs["table"].sort_values("influence", ascending=False)
print(f"{motifs['n_kept']} of {motifs['n_filters']} filters had enough sites; "
      f"{len(motifs['matched'])} match a JASPAR motif at q < 0.05")
table[["filter", "nsites", "ic", "influence", "best_match_id", "best_match_name", "qvalue"]].head(8)"""),
    ("code", """for f in table["filter"].head(3):
    print(f"filter {f}:", table.set_index("filter").loc[f, ["best_match_name", "qvalue"]].to_dict())
    display(Image(WORK / "motifs" / "logos" / f"filter_{int(f):03d}.png"))"""),
    ("md", """## 7. Which motifs drive the predictions? Discovery from attributions

Filters are a weak answer for deeper models and often split one motif into halves. `seqcnn.discover` runs
TF-MoDISco on the exact-ISM hypothetical contributions of the training and validation positives: it cuts
high-contribution subsequences (seqlets), clusters them into patterns (contribution weight matrices), and names
each pattern by its best JASPAR match (Tomtom). Because the planted sites are known, we can check the seqlets
against them."""),
    ("code", """disc = seqcnn.discover(run, h5, WORK / "discover", force=True)
patterns = disc["table"]
print(f"{len(patterns)} pattern(s) from {disc['n_seqlets']} seqlets of {disc['records_used']} positives "
      f"(TF-MoDISco {disc['seconds']['modisco']:.0f} s)")
patterns[["pattern", "sign", "n_seqlets", "best_match_id", "best_match_name", "qvalue", "consensus"]]"""),
    ("code", """seqlets = pd.read_csv(WORK / "discover" / "seqlets.csv")
top_pattern = patterns.iloc[0]["pattern"] if len(patterns) else None
mine = seqlets[seqlets["pattern"] == top_pattern]
site_of = {i: (s, e) for i, s, e in zip(sites.index, sites["start"], sites["end"])}
hits = np.array([r in site_of and s < site_of[r][1] and site_of[r][0] < e
                 for r, s, e in zip(mine["record"], mine["start"], mine["end"])], bool)
precision = float(hits.mean()) if len(hits) else 0.0
recall = len(set(mine["record"][hits])) / disc["records_used"]   # each positive carries one planted site
print(f"seqlets of {top_pattern} on a planted site: precision {precision:.2f}; "
      f"positives whose planted site has a seqlet: recall {recall:.2f}")
if top_pattern:
    display(Image(WORK / "discover" / "logos" / f"{top_pattern}.png"))"""),
    ("md", """## 8. One page for the whole analysis: the HTML report

`build_report` (the `seqcnn report` verb) gathers the data, the model and its training, the performance per
split (with calibration and confusion matrices), the filters and the discovered patterns into one HTML file with
every figure embedded, so it opens offline and can be mailed as it is. `make demo` writes one for the Oct4/Mafk
peaks, `demo/report.html`."""),
    ("code", """import os

from IPython.display import HTML

page = seqcnn.build_report(run, WORK / "report.html", data=[h5], motifs=WORK / "motifs",
                           discover=WORK / "discover", force=True)
print(f"wrote {page['out']} ({page['bytes'] / 2**20:.1f} MB): {', '.join(page['sections'])}")
link = os.path.relpath(page["out"])   # relative to the notebook, so the link works where the notebook is opened
display(HTML(f'<a href="{link}" target="_blank">open the report ({link})</a>'))"""),
    ("md", """## 9. Reading the results

The printout below is computed from the run above, not written by hand."""),
    ("code", """best = table.dropna(subset=["best_match_name"]).sort_values("qvalue").head(1)
lines = [f"Test auROC {metrics['auroc']:.3f} (95% CI {metrics['auroc_ci'][0]:.3f}-{metrics['auroc_ci'][1]:.3f}) "
         f"against {auroc_kmer:.3f} for the 5-mer baseline."]
if len(best):
    b = best.iloc[0]
    lines.append(f"The most significant filter match is {b['best_match_name']} ({b['best_match_id']}, "
                 f"q = {b['qvalue']:.2g}); the planted motif was CTCF (MA0139.1).")
if len(patterns):
    p = patterns.iloc[0]
    lines.append(f"TF-MoDISco's top pattern ({p['n_seqlets']} seqlets) matches {p['best_match_name']} "
                 f"({p['best_match_id']}, q = {p['qvalue']:.2g}); {precision:.0%} of its seqlets lie on planted sites.")
lines.append(f"Mutagenesis puts {ratio:.1f}x more importance (mean |importance| per base) on the planted sites "
             "than on the rest of the sequence.")
print("\\n".join(lines))"""),
    ("md", """In short: the network separates CTCF-carrying sequences from background, its mutagenesis maps point at
the planted sites, and its filters, read as PWMs, are recognised by Tomtom as CTCF — the model learned the
motif it was shown, which is what to check before trusting a model on real ChIP-seq data (`make demo` runs the
same analysis on Oct4 vs Mafk peaks)."""),
]


def build():
    """The notebook object with the cells above."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source in CELLS:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        if source.startswith("# Parameters"):
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    return nb


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="execute with FAST = True")
    ap.add_argument("--no-execute", action="store_true")
    args = ap.parse_args()
    nb = build()
    if args.fast:
        nb.cells[1].source = nb.cells[1].source.replace("FAST = False", "FAST = True")
    if not args.no_execute:
        NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
        if args.fast:
            nb.cells[1].source = nb.cells[1].source.replace("FAST = True", "FAST = False")
    nbformat.write(nb, HERE / "analysis.ipynb")
    print(f"wrote {HERE / 'analysis.ipynb'}")


if __name__ == "__main__":
    main()
