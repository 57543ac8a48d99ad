"""Start-up cost of ``import seqcnn`` and ``seqcnn encode --help``: this tree against an earlier commit, in one run.

The encode side imports no TensorFlow, so both commands must stay fast; this measures them, and checks that
neither loads TensorFlow or Keras. Each measurement is a fresh ``python`` process (a cold interpreter, warm
file cache) with ``PYTHONPATH`` pointing at one of the two source trees; the trees alternate in every round,
and the table gives medians and the ratio this tree / the other, so machine load affects both alike.

Usage: python benchmarks/bench_import.py [--before REV] [--rounds 15]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What each command does, run with `python -c`; it prints the TF check and the module count as JSON.
PROBES = {
    "import seqcnn": "import seqcnn",
    "seqcnn encode --help": ("import sys; from seqcnn.cli import main\n"
                             "try:\n    main(['encode', '--help'])\nexcept SystemExit:\n    pass"),
}
REPORT = ("\nimport json, sys, seqcnn\n"
          "print(json.dumps({'tf': 'tensorflow' in sys.modules or 'keras' in sys.modules, "
          "'modules': len(sys.modules), 'package': seqcnn.__file__}))")


def export_tree(rev, dest):
    """The ``seqcnn/`` package of commit ``rev``, written under ``dest``."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "seqcnn"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


def once(tree, code, cwd):
    """Seconds of one fresh process running ``code`` with ``tree`` first on the path, and its report.

    ``cwd`` is a neutral folder: ``python -c`` puts the working directory first on the path, which
    would load the package there instead of ``tree``.
    """
    env = {**os.environ, "PYTHONPATH": tree}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code + REPORT], env=env, cwd=cwd, check=True, capture_output=True,
                         text=True).stdout
    seconds = time.perf_counter() - t
    return seconds, json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="HEAD", help="the commit to compare with (default HEAD)")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as cwd:
        trees = {"this tree": ROOT, args.before: export_tree(args.before, tmp)}
        times = {(t, p): [] for t in trees for p in PROBES}
        reports = {}
        for probe in PROBES:  # one untimed run each: byte-compile both trees
            for name, tree in trees.items():
                _, rep = once(tree, PROBES[probe], cwd)
                # The package must come from the tree asked for (not an installed or editable copy).
                assert os.path.samefile(os.path.dirname(os.path.dirname(rep["package"])), tree), rep
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for probe, code in PROBES.items():
                for name in order:
                    seconds, rep = once(trees[name], code, cwd)
                    times[name, probe].append(seconds)
                    reports[name, probe] = rep
    print(f"{' '.join(sys.argv)}  (load {os.getloadavg()[0]:.1f}; median of {args.rounds} alternating rounds)\n")
    print(f"| command | this tree (s) | {args.before} (s) | ratio | modules loaded | TensorFlow loaded |")
    print("|---|---|---|---|---|---|")
    for probe in PROBES:
        a, b = (statistics.median(times[t, probe]) for t in trees)
        mods = " / ".join(str(reports[t, probe]["modules"]) for t in trees)
        tf = " / ".join("yes" if reports[t, probe]["tf"] else "no" for t in trees)
        print(f"| `{probe}` | {a:.3f} | {b:.3f} | {a / b:.2f} | {mods} | {tf} |")


if __name__ == "__main__":
    main()
