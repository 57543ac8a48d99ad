"""End-to-end CLI tests of ``seqcnn models``, ``train``, ``evaluate``, ``predict`` and ``tune``: options, outputs, bad input."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from conftest import interrupt_after, one_line_error, write_fasta

TINY = ["--param", "filters=8", "--param", "kernel_size=15", "--param", "dense_units=8", "--lr", "0.01"]


@pytest.fixture(scope="module")
def run_dir(sim_binary, tmp_path_factory):
    """A run trained through the CLI with most options set."""
    from click.testing import CliRunner

    from seqcnn.cli import main

    out = tmp_path_factory.mktemp("cli") / "run"
    args = ["train", str(sim_binary), "-o", str(out), "--arch", "deepbind", *TINY, "--epochs", "6", "--batch-size",
            "64", "--patience", "3", "--monitor", "val_auroc", "--seed", "3", "--class-weight", "balanced",
            "--no-rc-augment", "--memory-budget", "0", "--bootstrap", "100", "--jaspar", "fungi"]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    return out, res


def test_train_options_reach_the_config_and_summary(run_dir):
    out, res = run_dir
    cfg = json.loads((out / "config.json").read_text())
    t = cfg["training"]
    assert (t["epochs"], t["batch_size"], t["patience"], t["monitor"], t["seed"], t["class_weight"],
            t["rc_augment"], t["lr"]) == (6, 64, 3, "val_auroc", 3, "balanced", False, 0.01)
    assert t["jaspar"] == "fungi"   # the organism's JASPAR group, for the verbs that name motifs later
    assert cfg["hparams"]["filters"] == 8 and cfg["hparams"]["kernel_size"] == 15
    assert cfg["command"].startswith("seqcnn train")
    # progress (Keras) and the summary go to stdout; the summary names the run, best epoch and test metrics
    assert "Epoch 1/6" in res.stdout and f"wrote {out}" in res.stdout and "data streamed" in res.stdout
    assert "test: n 90, auROC" in res.stdout
    m = json.loads((out / "metrics.json").read_text())
    assert m["test"]["n_boot"] == 100 and m["monitor"] == "val_auroc"
    assert os.path.exists(out / "plots" / "roc_test.png")


def test_train_quiet_no_plots_force_and_config(cli, run_dir, sim_binary, tmp_path):
    out, _ = run_dir
    res = cli("train", sim_binary, "-o", tmp_path / "r", "--config", out / "config.json", "--epochs", "2",
              "--quiet", "--no-plots", "--bootstrap", "0")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""
    assert sorted(os.listdir(tmp_path / "r")) == ["config.json", "history.csv", "metrics.json", "model.keras"]
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["training"]["epochs"] == 2 and cfg["training"]["seed"] == 3 and cfg["hparams"]["filters"] == 8
    assert cfg["training"]["jaspar"] == "fungi"   # replayed from --config
    one_line_error(cli("train", sim_binary, "-o", tmp_path / "r", "--quiet"), "already exists", "--force")
    res = cli("train", sim_binary, "-o", tmp_path / "r", *TINY, "--epochs", "1", "--quiet", "--force",
              "--rc-augment")
    assert res.exit_code == 0 and json.loads((tmp_path / "r" / "config.json").read_text())["training"]["rc_augment"]


def test_train_config_reproduces_metrics(cli, run_dir, sim_binary, tmp_path):
    out, _ = run_dir
    res = cli("train", sim_binary, "-o", tmp_path / "again", "--config", out, "--quiet", "--memory-budget", "1000",
              "--bootstrap", "100")
    assert res.exit_code == 0, res.stderr
    a = json.loads((out / "metrics.json").read_text())
    b = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert a["test"] == b["test"] and a["best_epoch"] == b["best_epoch"]


def test_train_resume(cli, sim_binary, tmp_path):
    from seqcnn import training

    with pytest.raises(KeyboardInterrupt):
        training.train(sim_binary, tmp_path / "r", params={"filters": 8}, epochs=4, quiet=True,
                       callbacks=[interrupt_after(1)])
    one_line_error(cli("train", sim_binary, "-o", tmp_path / "r"), "interrupted run", "--resume")
    res = cli("train", sim_binary, "-o", tmp_path / "r", "--resume")
    assert res.exit_code == 0, res.stderr
    assert "Epoch 3/4" in res.stdout and "Epoch 1/4" not in res.stdout  # continued, did not restart
    assert len(pd.read_csv(tmp_path / "r" / "history.csv")) == 4
    assert not (tmp_path / "r.partial").exists()


def test_evaluate_options(cli, run_dir, sim_binary, tmp_path):
    out, _ = run_dir
    res = cli("evaluate", out, sim_binary, "--split", "val", "-o", tmp_path / "m.json", "--bootstrap", "50",
              "--seed", "1")
    assert res.exit_code == 0, res.stderr
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["split"] == "val" and m["n"] == 90 and m["n_boot"] == 50
    for key in ("auroc", "auprc", "accuracy", "mcc", "auroc_ci", "auprc_ci", "confusion_matrix"):
        assert key in m
    assert "auROC" in res.stdout and f"wrote {tmp_path / 'm.json'}" in res.stdout
    assert (tmp_path / "m_roc.png").exists() and (tmp_path / "m_pr.png").exists()
    one_line_error(cli("evaluate", out, sim_binary, "-o", tmp_path / "m.json"), "already exists")
    res = cli("evaluate", out, sim_binary, "-o", tmp_path / "m.json", "--force", "--no-plots", "--split", "all",
              "--quiet")
    assert res.exit_code == 0 and res.stdout == ""
    assert json.loads((tmp_path / "m.json").read_text())["n"] == 600
    res = cli("evaluate", out, sim_binary, "--json", "--bootstrap", "0")
    assert json.loads(res.stdout)["split"] == "test" and json.loads(res.stdout)["auroc_ci"] is None
    assert not (tmp_path / "n_roc.png").exists()


def test_predict_options(cli, run_dir, sim_binary, tmp_path):
    from seqcnn.encoding import decode
    from seqcnn.store import open_dataset

    out, _ = run_dir
    with open_dataset(sim_binary) as ds:
        x, ids = ds.read_x(np.arange(30)), list(ds.ids[:30])
    fa = write_fasta(tmp_path / "s.fa", list(zip(ids, decode(x))))
    res = cli("predict", out, fa, "-o", tmp_path / "p.csv", "--batch-size", "7")
    assert res.exit_code == 0, res.stderr
    assert "wrote" in res.stdout and "30 sequences" in res.stdout
    a = pd.read_csv(tmp_path / "p.csv")
    assert list(a.columns) == ["id", "prob_1"] and list(a.id) == ids and a.prob_1.between(0, 1).all()
    one_line_error(cli("predict", out, fa, "-o", tmp_path / "p.csv"), "already exists")
    res = cli("predict", out, fa, "-o", tmp_path / "p.csv", "--force", "--quiet", "--batch-size", "1000")
    assert res.exit_code == 0 and res.stdout == ""
    b = pd.read_csv(tmp_path / "p.csv")
    from numerics import assert_close

    assert_close(a.prob_1, b.prob_1)  # batch size changes predictions by rounding only


def test_models_command(cli):
    res = cli("models", "--length", "101")
    assert res.exit_code == 0
    for name in ("primer", "deepbind", "basset", "zeng", "(default)", "kernel_size=", "parameters"):
        assert name in res.stdout
    rows = json.loads(cli("models", "--json", "--length", "300", "--outputs", "3").stdout)
    from seqcnn import models

    assert {r["name"]: r["n_params"] for r in rows}["primer"] == models.build_model(
        "primer", 300, "multiclass", 3).count_params()
    one_line_error(cli("models", "--length", "0"), "positive")


def test_bad_inputs_exit_2_one_line_no_output(cli, run_dir, sim_binary, sim_multiclass, tmp_path):
    out, _ = run_dir
    o = tmp_path / "r"
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    cases = [
        (["train", tmp_path / "missing.h5", "-o", o], ["missing.h5", "not found"]),
        (["train", junk, "-o", o], ["not a readable HDF5"]),
        (["train", sim_binary, "-o", o, "--arch", "resnet"], ["unknown architecture"]),
        (["train", sim_binary, "-o", o, "--param", "filters"], ["NAME=VALUE"]),
        (["train", sim_binary, "-o", o, "--param", "depth=3"], ["no parameter 'depth'"]),
        (["train", sim_binary, "-o", o, "--param", "filters=many"], ["not a valid int"]),
        (["train", sim_binary, "-o", o, "--param", "kernel_size=150"], ["longer than the sequences"]),
        (["train", sim_binary, "-o", o, "--epochs", "0"], ["--epochs"]),
        (["train", sim_binary, "-o", o, "--jaspar", "yeast"], ["'yeast'", "fungi", "plants", "vertebrates"]),
        (["train", sim_binary, "-o", o, "--config", bad_json], ["not valid JSON"]),
        (["train", sim_binary, "-o", o, "--config", tmp_path / "nope.json"], ["not found"]),
        (["train", sim_binary, "-o", o, "--resume"], ["nothing to resume"]),
        (["train", sim_binary, "-o", tmp_path / "no" / "such" / "dir"], ["output folder does not exist"]),
        (["evaluate", tmp_path / "norun", sim_binary], ["run directory not found"]),
        (["evaluate", tmp_path, sim_binary], ["not a seqcnn run directory"]),
        (["evaluate", out, sim_multiclass], ["multiclass"]),
        (["evaluate", out, junk], ["not a readable HDF5"]),
        (["predict", out, tmp_path / "none.fa", "-o", tmp_path / "p.csv"], ["none.fa", "not found"]),
    ]
    for args, words in cases:
        one_line_error(cli(*args), *words)
        assert not o.exists() and not (tmp_path / "r.partial").exists() and not (tmp_path / "p.csv").exists()
    # a model trained on 100 bp and data of another length
    from seqcnn.store import write_dataset

    h5 = write_dataset(tmp_path / "l80.h5", np.zeros((4, 80, 4), np.uint8), np.array([0, 1, 0, 1], np.uint8),
                       list("abcd"), split=np.full(4, 2, np.uint8), attrs={"task": "binary", "class_names": ["0", "1"]})
    one_line_error(cli("evaluate", out, h5, "-o", tmp_path / "m.json"), "100 bp", "80 bp", "--length 100")
    assert not (tmp_path / "m.json").exists()
    one_line_error(cli("evaluate", out, h5, "--split", "val"), "100 bp")
    # sequences predict cannot encode
    write_fasta(tmp_path / "bad.fa", [("ok", "A" * 100), ("weird", "ACGT" * 24 + "ACGJ")])
    one_line_error(cli("predict", out, tmp_path / "bad.fa", "-o", tmp_path / "p.csv"), "weird")
    write_fasta(tmp_path / "len.fa", [("short", "ACGT" * 10)])
    one_line_error(cli("predict", out, tmp_path / "len.fa", "-o", tmp_path / "p.csv"), "short", "100 bp")
    (tmp_path / "empty.fa").write_text("")
    one_line_error(cli("predict", out, tmp_path / "empty.fa", "-o", tmp_path / "p.csv"))
    assert not list(tmp_path.glob("p.csv*"))


def test_train_notes_imbalance(cli, tmp_path):
    """An unweighted imbalanced training set ends with one 'seqcnn: note:' line; --class-weight balanced has none."""
    sim = tmp_path / "imb"
    assert cli("simulate", "-o", sim, "-n", "200", "--length", "60", "--positive-fraction", "0.1",
               "--seed", "2").exit_code == 0
    assert cli("encode", f"{sim}.fa", "-l", f"{sim}_labels.csv", "-o", tmp_path / "imb.h5", "-q").exit_code == 0
    args = ["train", tmp_path / "imb.h5", *TINY, "--epochs", "1", "--no-plots", "--bootstrap", "0"]
    res = cli(*args, "-o", tmp_path / "r1")
    assert res.exit_code == 0, res.stderr
    notes = [line for line in res.stderr.splitlines() if line.startswith("seqcnn: note:")]
    assert len(notes) == 1 and "imbalanced" in notes[0] and "--class-weight balanced" in notes[0]
    res = cli(*args, "-o", tmp_path / "r2", "--class-weight", "balanced")
    assert res.exit_code == 0 and "seqcnn: note:" not in res.stderr


def test_tune_end_to_end(cli, sim_binary, tmp_path, monkeypatch):
    from seqcnn import tune

    monkeypatch.setitem(tune.SPACES, "deepbind", {"filters": ("cat", [4, 8]), "kernel_size": ("int", 7, 11, 2)})
    out = tmp_path / "tune"
    r = cli("tune", sim_binary, "-o", out, "--trials", "2", "--epochs", "2")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("trial 0: complete, val_auprc") and lines[1].startswith("trial 1: complete")
    assert "2 complete, 0 pruned, 0 failed trials" in r.stdout and "run directory" in r.stdout
    assert "test 90 (not used for selection" in r.stdout
    assert len(pd.read_csv(out / "trials.csv")) == 2 and "importance" not in r.stdout  # too few trials for one
    # the best trial is a run directory every other verb takes
    ev = cli("evaluate", out / "best", sim_binary)
    assert ev.exit_code == 0, ev.stderr
    one_line_error(cli("tune", sim_binary, "-o", out, "--trials", "2"), "already exists", "--resume")
    more = cli("tune", sim_binary, "-o", out, "--trials", "3", "--epochs", "2", "--resume", "-q")
    assert more.exit_code == 0 and more.stdout == "" and len(pd.read_csv(out / "trials.csv")) == 3
    # three complete trials: the learning rate (always searched) has an importance, and the figure shows it
    importance = json.loads((out / "summary.json").read_text())["importance"]
    assert "lr" in importance and set(importance) <= {"lr", "filters", "kernel_size"}
    one_line_error(cli("tune", sim_binary, "-o", tmp_path / "u", "--arch", "deepbind,nope"), "nope")
    one_line_error(cli("tune", sim_binary, "-o", tmp_path / "u", "--trials", "0"), "--trials")
    one_line_error(cli("tune", tmp_path / "missing.h5", "-o", tmp_path / "u"), "missing.h5")
    assert not (tmp_path / "u").exists()


def test_train_help_states_the_auto_batch_rule(cli):
    """The default batch the help describes is the one ``rundir.auto_batch`` picks (it counts strands)."""
    from seqcnn.rundir import auto_batch

    text = " ".join(cli("train", "--help").stdout.split())
    assert "the largest power of two <= n/100 (n/50 with --strands single or --strand-fit posthoc" in text
    assert "clipped to 32..128" in text

    def stated(n, divisor):
        return int(min(max(2 ** np.floor(np.log2(n / divisor)), 32), 128))

    for n in (7000, 5000, 800):
        assert stated(n, 100) == auto_batch(n, 2)   # the default: a strand average fitted jointly
        assert stated(n, 50) == auto_batch(n, 1)    # single strand, or posthoc
    assert auto_batch(7000, 2) == 64 and auto_batch(5000, 1) == 64   # sizes where n/50 and n/100 disagree


def test_export_end_to_end(cli, run_dir, sim_binary, tmp_path):
    from seqcnn.encoding import decode
    from seqcnn.metrics import link
    from seqcnn.store import open_dataset
    from numerics import assert_close
    from test_export import SERVE, run_without_seqcnn

    out, _ = run_dir
    exp = tmp_path / "exported"
    res = cli("export", out, "-o", exp)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith(f"wrote {exp}: TensorFlow SavedModel, signature serving_default: sequence float32 "
                                 "[batch, 100, 4] (ACGT one-hot) → logits [batch, 1]; sigmoid of the logits gives "
                                 "prob_1; strand average inside")
    assert "seqcnn_model.json" in res.stdout and "ONNX: not written" in res.stdout and "records read 1" in res.stdout
    one_line_error(cli("export", out, "-o", exp), "already exists", "--force")
    res = cli("export", out, "-o", exp, "--force", "-q")
    assert res.exit_code == 0 and res.stdout == ""
    one_line_error(cli("export", tmp_path / "nope", "-o", tmp_path / "e2"), "run directory not found")
    assert not (tmp_path / "e2").exists()
    with open_dataset(sim_binary) as ds:
        x, ids = ds.read_x(np.arange(40)), list(ds.ids[:40])
    fa = write_fasta(tmp_path / "s.fa", list(zip(ids, decode(x))))
    assert cli("predict", out, fa, "-o", tmp_path / "p.csv").exit_code == 0
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    run_without_seqcnn(SERVE.format(d=exp), tmp_path)   # TensorFlow alone, seqcnn not importable
    probs = link("binary", np.load(tmp_path / "logits.npy"))[:, 0]
    assert_close(probs, pd.read_csv(tmp_path / "p.csv").prob_1.to_numpy())
