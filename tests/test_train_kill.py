"""Crash safety of ``seqcnn train`` under real signals.

A training process is killed with SIGKILL (no chance to clean up) in the middle of its second epoch and the same
command is run again with ``--resume``; that resumed process gets SIGINT (the Ctrl-C path) in the middle of epoch 3
and is resumed once more. The result must equal an uninterrupted run with the same seed: same history, same
metrics.json. SIGTERM (a batch scheduler's stop) ends a run with one line and exit 143, resumable like Ctrl-C.
Each signal is timed by the checkpoint the previous epoch leaves in ``RUN.partial/checkpoint/state.json``, and
checked afterwards to have landed before the next epoch's checkpoint.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

EPOCHS = 3
# Batch 8 on 3,200 training records: 400 steps per epoch. Since batches are gathered in the graph an epoch can
# take as little as 0.2 s on a quiet fast machine (2 s on a loaded one), so a signal is sent as soon as the
# checkpoint is seen (polled every 5 ms), never after a fixed sleep: a CI run's 0.3 s sleep outlasted the last
# epoch and the run had finished (exit 0) before its SIGINT.
OPTIONS = ["--epochs", str(EPOCHS), "--batch-size", "8", "--seed", "4", "--param", "filters=16", "--param",
           "kernel_size=11", "--param", "dense_units=8", "--bootstrap", "50", "--no-plots", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """4,000 × 100 bp simulated sequences (CTCF planted in half), encoded 0.8/0.1/0.1."""
    from seqcnn.simulate import simulate
    from seqcnn.ingest import encode_fasta

    d = tmp_path_factory.mktemp("kill")
    sim = simulate(4000, 100, ["MA0139.1"], seed=3)
    sim.write(d / "k.fa", d / "k.csv")
    return encode_fasta([d / "k.fa"], d / "k.h5", labels=d / "k.csv", split="0.8,0.1,0.1", seed=0)["path"]


def _train(data, out, *extra):
    """Start ``seqcnn train`` as its own process (as a user would), output in ``out``."""
    cmd = [sys.executable, "-m", "seqcnn.cli", "train", str(data), "-o", str(out), *OPTIONS, *extra]
    # A shell's background jobs ignore SIGINT and children inherit that (Python then installs no Ctrl-C
    # handler): restore the default so the signal means what it means in a terminal. SIGTERM likewise: seqcnn
    # catches it only over the default action.
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT,
                                                                                          signal.SIGTERM)])


def _state(partial):
    """The checkpoint state of an interrupted run (``epoch`` is the last finished one, 0-based)."""
    with open(partial / "checkpoint" / "state.json") as fh:
        return json.load(fh)


def _close(a, b, path="metrics"):
    """Equal JSON trees, floats to 1e-9 relative (the resumed run repeats the same float operations)."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _interrupt(data, out, sig, done, *extra):
    """Start a run, wait for the checkpoint of epoch ``done`` (1-based), signal it at once (in the next epoch)."""
    partial = out.parent / (out.name + ".partial")
    proc = _train(data, out, *extra)
    deadline = time.time() + 180
    while not (partial / "checkpoint" / "state.json").exists() or _state(partial)["epoch"] < done - 1:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"epoch {done} did not finish in 180 s"
        time.sleep(0.005)
    assert _state(partial)["epoch"] == done - 1  # epoch `done` is checkpointed, the next one is under way
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL, err
    elif sig == signal.SIGTERM:
        # a scheduler's stop: one line saying where it stopped and how to go on, exit 128 + 15
        assert proc.returncode == 143, err
        assert err.strip() == (f"seqcnn train: stopped by SIGTERM after epoch {done} (checkpointed in "
                               f"{out}.partial); resume with --resume"), err
    else:
        assert proc.returncode == 130, err
        assert "interrupted" in err and "--resume" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
    # Killed inside the next epoch: its checkpoint was never written, the run directory never appeared.
    assert not out.exists()
    assert _state(partial)["epoch"] == done - 1, "the signal came after the epoch finished; lengthen the epochs"
    assert len(pd.read_csv(partial / "history.csv")) == done


@pytest.mark.slow
def test_killed_mid_epoch_then_resumed_equals_uninterrupted(data, tmp_path):
    """SIGKILL in epoch 2, resume; SIGINT (Ctrl-C) in epoch 3 of the resumed run, resume: as if never stopped."""
    reference = _train(data, tmp_path / "ref")  # trains meanwhile
    out = tmp_path / "run"
    _interrupt(data, out, signal.SIGKILL, 1)
    _interrupt(data, out, signal.SIGINT, 2, "--resume")
    res = subprocess.run([sys.executable, "-m", "seqcnn.cli", "train", str(data), "-o", str(out), *OPTIONS,
                          "--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert out.exists() and not (tmp_path / "run.partial").exists()
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err

    ref = tmp_path / "ref"
    a, b = (pd.read_csv(d / "history.csv").drop(columns="seconds") for d in (out, ref))
    assert len(a) == EPOCHS
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    _close(json.loads((out / "metrics.json").read_text()), json.loads((ref / "metrics.json").read_text()))
    # Resuming leaves no traces (checkpoint, temporary files) that a later run could trip over.
    assert sorted(os.listdir(out)) == ["config.json", "history.csv", "metrics.json", "model.keras"]


@pytest.mark.slow
def test_sigterm_says_where_it_stopped_and_resume_finishes(data, tmp_path):
    """SIGTERM in epoch 2 (a batch scheduler's stop): exit 143 with one line, the checkpoint kept; --resume ends."""
    out = tmp_path / "run"
    _interrupt(data, out, signal.SIGTERM, 1)
    res = subprocess.run([sys.executable, "-m", "seqcnn.cli", "train", str(data), "-o", str(out), *OPTIONS,
                          "--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert len(pd.read_csv(out / "history.csv")) == EPOCHS and not (tmp_path / "run.partial").exists()
