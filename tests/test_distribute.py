"""``seqcnn train --strategy none|mirrored|multiworker``: same training as one device, chief-only output, bad input.

TensorFlow fixes its devices, and MultiWorkerMirroredStrategy its collectives, when the process
first runs an operation, and this test process may already have done so: distributed runs go to
fresh ``python -m seqcnn.cli`` processes (two logical CPUs via ``SEQCNN_CPU_DEVICES`` for
``mirrored``; two local workers on 127.0.0.1 for ``multiworker``).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from seqcnn import distribute, rundir, scoring, training

from test_cli_train import one_line_error

# dropout=0: each replica draws its own dropout masks, so with dropout a distributed run is a different (equally
# valid) random draw, not the same computation. Batch 45 does not split evenly over 2 replicas (23 + 22 rows, and
# 15 = 8 + 7 at the end of each epoch): the padded, reweighted replica batches are part of what is compared.
OPTIONS = ["--param", "filters=8", "--param", "kernel_size=15", "--param", "dense_units=8", "--param", "dropout=0",
           "--lr", "0.02", "--epochs", "3", "--batch-size", "45", "--bootstrap", "0", "--quiet"]
# Tolerances, mirrored/multiworker vs none. Observed on the 2-core CPU machine: identical validation and final
# metrics, losses within 3e-9 (summation order). The logged training loss is an epoch mean weighted by replica
# batch rows, padding included, so it may differ slightly (observed 2.2e-4) while every step's gradient is the same.
METRIC_TOL = 1e-5
TRAIN_LOSS_TOL = 2e-3
WORKER_TIMEOUT = 300


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "SEQCNN_CPU_DEVICES")}
    env.update(extra)
    return env


def _start(args, **env):
    return subprocess.Popen([sys.executable, "-m", "seqcnn.cli", "train", *map(str, args)], env=_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(procs):
    """Wait for every process; kill them all if one hangs (a worker waits forever for a dead peer)."""
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=WORKER_TIMEOUT)
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return results


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _assert_same_training(run, reference):
    """``run`` trained as ``reference`` did: history and final metrics within the stated tolerances."""
    a, b = pd.read_csv(reference / "history.csv"), pd.read_csv(run / "history.csv")
    assert len(a) == len(b) == 3
    val = [c for c in a.columns if c.startswith("val_")]
    assert np.allclose(a[val], b[val], rtol=0, atol=METRIC_TOL), (a, b)
    assert np.allclose(a["loss"], b["loss"], rtol=0, atol=TRAIN_LOSS_TOL), (a, b)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (reference, run))
    assert ma["best_epoch"] == mb["best_epoch"]
    for split in ("train", "val", "test"):
        for key in ("auroc", "auprc", "accuracy", "mcc", "loss"):
            assert mb[split][key] == pytest.approx(ma[split][key], abs=METRIC_TOL), (split, key)
    assert ma["val"]["auroc"] > 0.9  # the comparison is between models that learned something


def _loads_without_strategy(run, data):
    """The run loads and evaluates in this process, with no strategy, to the metrics it recorded."""
    model, cfg = rundir.load_run(run)
    assert model.output_shape[-1] == 1 and cfg["model"]["task"] == "binary"
    m = scoring.evaluate(run, data, split="test", n_boot=0)
    assert m["auroc"] == pytest.approx(json.loads((run / "metrics.json").read_text())["test"]["auroc"], abs=1e-6)


@pytest.fixture(scope="module")
def none_run(sim_binary, tmp_path_factory):
    """The reference: OPTIONS with ``--strategy none`` (the default), run in this process."""
    out = tmp_path_factory.mktemp("distribute") / "none"
    training.train(sim_binary, out, params={"filters": 8, "kernel_size": 15, "dense_units": 8, "dropout": 0},
                   lr=0.02, epochs=3, batch_size=45, n_boot=0, quiet=True, strategy="none")
    return out


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_trains_as_one_device(sim_binary, none_run, tmp_path):
    out = tmp_path / "mirrored"
    (rc, stdout, stderr), = _finish([_start([sim_binary, "-o", out, "--strategy", "mirrored", *OPTIONS],
                                            SEQCNN_CPU_DEVICES="2")])
    assert rc == 0, stderr
    assert stdout == "" and stderr == ""
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["distribute"] == {"strategy": "mirrored", "replicas": 2, "workers": 1}
    assert cfg["training"]["batch_size"] == 45  # the global batch, as given
    assert json.loads((none_run / "config.json").read_text())["distribute"] == {
        "strategy": "none", "replicas": 1, "workers": 1}
    assert sorted(os.listdir(out)) == ["config.json", "history.csv", "metrics.json", "model.keras", "plots"]
    _assert_same_training(out, none_run)
    _loads_without_strategy(out, sim_binary)


@pytest.mark.slow
def test_multiworker_two_local_workers_chief_writes_the_run(sim_binary, none_run, tmp_path):
    out = tmp_path / "mw"
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    temps = [tmp_path / "tmp0", tmp_path / "tmp1"]  # each worker's TMPDIR: where a non-chief builds its copy
    procs = []
    for i, tmp in enumerate(temps):
        tmp.mkdir()
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        procs.append(_start([sim_binary, "-o", out, "--strategy", "multiworker", *OPTIONS], TF_CONFIG=tf_config,
                            TMPDIR=str(tmp)))
    (rc0, out0, err0), (rc1, out1, err1) = _finish(procs)
    assert rc0 == 0 and rc1 == 0, (err0, err1)
    assert sorted(os.listdir(out)) == ["config.json", "history.csv", "metrics.json", "model.keras", "plots"]
    assert sorted(os.listdir(out / "plots")) == sorted(os.listdir(none_run / "plots"))
    assert not (tmp_path / "mw.partial").exists()
    # the non-chief removed its temporary run folder (TensorFlow's own autograph files may stay in TMPDIR)
    assert [p for t in temps for p in t.iterdir() if p.name.startswith("seqcnn-")] == []
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["distribute"] == {"strategy": "multiworker", "replicas": 2, "workers": 2}
    _assert_same_training(out, none_run)
    _loads_without_strategy(out, sim_binary)


def test_cluster_role_follows_tensorflow_chief_rule():
    two = {"worker": ["h1:1", "h2:1"]}
    assert distribute.cluster_role(json.dumps({"cluster": two, "task": {"type": "worker", "index": 0}})) == {
        "worker": 0, "workers": 2, "chief": True, "task": "worker:0"}
    assert not distribute.cluster_role(json.dumps({"cluster": two, "task": {"type": "worker", "index": 1}}))["chief"]
    three = {"chief": ["h0:1"], "worker": ["h1:1", "h2:1"]}
    role = distribute.cluster_role(json.dumps({"cluster": three, "task": {"type": "worker", "index": 0}}))
    assert role == {"worker": 1, "workers": 3, "chief": False, "task": "worker:0"}
    assert distribute.cluster_role(json.dumps({"cluster": three, "task": {"type": "chief", "index": 0}}))["chief"]


def test_bad_tf_config_and_strategy_input_exit_2_one_line_no_output(cli, sim_binary, tmp_path, monkeypatch):
    o = tmp_path / "r"
    good_cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    cases = [
        (None, ["TF_CONFIG is not set", "--strategy multiworker", "TF_CONFIG='", "--strategy mirrored"]),
        ("", ["TF_CONFIG is not set"]),
        ("{cluster: 1", ["TF_CONFIG is not valid JSON"]),
        ("[1, 2]", ["TF_CONFIG must be a JSON object"]),
        (json.dumps({"task": {"type": "worker", "index": 0}}), ["TF_CONFIG has no 'cluster'"]),
        (json.dumps({"cluster": {"worker": "127.0.0.1:1"}, "task": {"type": "worker", "index": 0}}),
         ["TF_CONFIG cluster job 'worker'", "host:port"]),
        (json.dumps({"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}),
         ["host:port"]),
        (json.dumps({"cluster": {"ps": ["h:1"], "worker": ["h:2"]}, "task": {"type": "worker", "index": 0}}),
         ["'ps' job"]),
        (json.dumps({"cluster": good_cluster}), ["TF_CONFIG needs 'task'"]),
        (json.dumps({"cluster": good_cluster, "task": {"type": "chief", "index": 0}}), ["TF_CONFIG needs 'task'"]),
        (json.dumps({"cluster": good_cluster, "task": {"type": "worker", "index": 2}}),
         ["TF_CONFIG task index 2", "0 to 1"]),
        (json.dumps({"cluster": good_cluster, "task": {"type": "worker", "index": "0"}}), ["task index '0'"]),
    ]
    for value, words in cases:
        if value is None:
            monkeypatch.delenv("TF_CONFIG", raising=False)
        else:
            monkeypatch.setenv("TF_CONFIG", value)
        one_line_error(cli("train", sim_binary, "-o", o, "--strategy", "multiworker"), *words)
        assert list(tmp_path.iterdir()) == []
    monkeypatch.delenv("TF_CONFIG")
    res = cli("train", sim_binary, "-o", o, "--strategy", "ring")
    assert res.exit_code == 2 and "'ring' is not one of" in res.stderr and not o.exists()
    monkeypatch.setenv("SEQCNN_CPU_DEVICES", "two")
    one_line_error(cli("train", sim_binary, "-o", o, "--strategy", "mirrored"), "SEQCNN_CPU_DEVICES",
                   "positive integer")
    assert list(tmp_path.iterdir()) == []


def test_resume_keeps_the_strategy_or_refuses(cli, sim_binary, tmp_path):
    partial = tmp_path / "r.partial"
    (partial / "checkpoint").mkdir(parents=True)
    (partial / "checkpoint" / "state.json").write_text("{}")
    __import__("numpy").savez(partial / "checkpoint" / "weights.npz", x=[0])
    (partial / "config.json").write_text(json.dumps({"arch": "deepbind", "hparams": {"filters": 8}, "distribute": {
        "strategy": "mirrored", "replicas": 2, "workers": 1}}))
    before = sorted(p.name for p in partial.rglob("*"))
    one_line_error(cli("train", sim_binary, "-o", tmp_path / "r", "--resume", "--strategy", "none"),
                   "r.partial", "--strategy mirrored, not none", "--force")
    # without --strategy, resume takes the recorded one: mirrored, here on 1 CPU device instead of 2
    one_line_error(cli("train", sim_binary, "-o", tmp_path / "r", "--resume"),
                   "2 replica(s) on 1 worker(s); 1 on 1 are here", "SEQCNN_CPU_DEVICES")
    assert sorted(p.name for p in partial.rglob("*")) == before and not (tmp_path / "r").exists()


def test_is_chief_for_the_interrupt_message(monkeypatch):
    """Ctrl-C on a non-chief worker must not point at a checkpoint it does not have."""
    import json

    from seqcnn.cli import _is_chief

    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert _is_chief() is False
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert _is_chief() is True
    monkeypatch.delenv("TF_CONFIG")
    assert _is_chief() is True
