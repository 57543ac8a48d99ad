"""Shared fixtures: paths to real data, a CLI runner, and small synthetic sets."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()
JANGGU = SHARED_DATA / "janggu_oct4_vs_mafk"
BPANEL = SHARED_DATA / "deepbind_B_panel"
# A small deepbind and fast training options: the runs of the training, run-directory and scoring tests.
TINY = {"filters": 8, "kernel_size": 15, "dense_units": 8}
FAST = dict(params=TINY, lr=0.01, epochs=8, batch_size=128, quiet=True, n_boot=200)


@pytest.fixture(scope="session")
def shared_data():
    """The real data folder ``../shared/data`` (skips the test when it is absent)."""
    if not JANGGU.exists():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def cli():
    """Run the seqcnn CLI in-process: ``cli(args...)`` → click Result with exit_code, stdout, stderr."""
    from click.testing import CliRunner

    from seqcnn.cli import main

    def run(*args):
        runner = CliRunner()
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


def write_fasta(path, records, newline="\n"):
    """Write ``[(id, seq), ...]`` as FASTA."""
    with open(path, "w", newline="") as fh:
        for rid, seq in records:
            fh.write(f">{rid}{newline}{seq}{newline}")
    return path


def _encoded_simulation(tmp_path_factory, name, motifs, design, seed):
    """Simulate 600 × 100 bp with ``motifs`` planted, write FASTA + labels, encode (0.7/0.15/0.15)."""
    from seqcnn.simulate import simulate
    from seqcnn.ingest import encode_fasta

    d = tmp_path_factory.mktemp(name)
    s = simulate(600, 100, motifs, design=design, seed=seed)
    s.write(d / "seqs.fa", d / "labels.csv")
    encode_fasta([d / "seqs.fa"], d / "data.h5", labels=d / "labels.csv", label_columns=list(s.labels.columns[1:]),
                 split="0.7,0.15,0.15", seed=0)
    return d / "data.h5"


@pytest.fixture(scope="session")
def sim_binary(tmp_path_factory):
    """A small simulated binary set (CTCF planted in half of 600 × 100 bp), encoded: returns the HDF5 path."""
    return _encoded_simulation(tmp_path_factory, "sim_binary", ["MA0139.1"], "binary", 1)


@pytest.fixture(scope="session")
def sim_multiclass(tmp_path_factory):
    """A small simulated 3-class set (CTCF / GATA3 / YY1 motifs, 600 × 100 bp), encoded."""
    return _encoded_simulation(tmp_path_factory, "sim_multiclass", ["MA0139.1", "MA0037.4", "MA0095.3"],
                               "multiclass", 2)


@pytest.fixture(scope="session")
def sim_multilabel(tmp_path_factory):
    """A small simulated multilabel set (two motifs, each present with probability 0.5), encoded."""
    return _encoded_simulation(tmp_path_factory, "sim_multilabel", ["MA0139.1", "MA0037.4"], "multilabel", 3)


@pytest.fixture(scope="session")
def binary_run(sim_binary, tmp_path_factory):
    """``(result, run_dir)`` of ``seqcnn.train`` with ``FAST`` on ``sim_binary``, trained once for the session.

    test_mutagenesis.py defines its own ``binary_run`` (a run directory around random weights).
    """
    from seqcnn import training

    out = tmp_path_factory.mktemp("runs") / "binary"
    return training.train(sim_binary, out, **FAST), out


def one_line_error(result, *words):
    """Assert a CLI result is exit 2 with one ``seqcnn: error:`` line holding every word; returns the line."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqcnn: error: "), result.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def interrupt_after(epoch):
    """A Keras callback that raises KeyboardInterrupt at the end of 0-based ``epoch`` (Ctrl-C mid-training)."""
    from seqcnn._tf import import_keras

    class Interrupt(import_keras().callbacks.Callback):
        def on_epoch_end(self, e, logs=None):
            if e == epoch:
                raise KeyboardInterrupt

    return Interrupt()
