"""Tests of seqcnn.rundir: what a run directory holds, configuration replay and validation, overwrite rules."""

import json
import os

import pandas as pd
import pytest

from seqcnn import training
from seqcnn.errors import OutputExistsError, SeqcnnError

from conftest import FAST


def test_run_directory_contents(binary_run, sim_binary):
    r, out = binary_run
    assert sorted(os.listdir(out)) == ["config.json", "history.csv", "metrics.json", "model.keras", "plots"]
    assert not os.path.exists(f"{out}.partial")
    assert sorted(os.listdir(out / "plots")) == sorted(
        ["training_curves.png"] + [f"{k}_{s}.png" for k in ("roc", "pr") for s in ("train", "val", "test")])
    cfg = json.loads((out / "config.json").read_text())
    from seqcnn.readers import sha256_file

    assert cfg["arch"] == "deepbind" and cfg["hparams"]["filters"] == 8 and cfg["hparams"]["dropout"] == 0.5
    assert cfg["data"]["sha256"] == sha256_file(sim_binary)
    assert cfg["data"]["splits"] == {"train": 420, "val": 90, "test": 90}
    assert cfg["data"]["length"] == 100 and cfg["data"]["pad_mode"] == "center"
    assert cfg["training"]["seed"] == 0 and cfg["training"]["monitor"] == "val_auprc"
    assert {"tensorflow", "keras", "numpy", "seqcnn", "scikit-learn"} <= set(cfg["versions"])
    hist = pd.read_csv(out / "history.csv")
    assert list(hist.epoch) == list(range(1, len(hist) + 1))
    assert {"loss", "val_loss", "val_auroc", "val_auprc"} <= set(hist.columns)
    m = json.loads((out / "metrics.json").read_text())
    assert set(m) >= {"train", "val", "test", "best_epoch"}
    assert m["best_epoch"] == hist.epoch[hist.val_auprc.idxmax()]  # early stopping restored the best epoch
    for key in ("auroc", "auprc", "accuracy", "mcc", "n", "auroc_ci", "auprc_ci", "confusion_matrix"):
        assert key in m["test"]
    assert m["test"]["n"] == 90
    assert m["test"]["auroc"] > 0.85  # planted CTCF sites are learnable in 8 epochs


def test_config_file_reproduces_the_run(binary_run, sim_binary, tmp_path):
    r, out = binary_run
    again = training.train(sim_binary, tmp_path / "from_config", config=out / "config.json", plots=False, n_boot=200,
                           quiet=True)
    assert again["config"]["hparams"] == r["config"]["hparams"]
    assert again["metrics"]["test"] == r["metrics"]["test"]
    # explicit options override the file
    short = training.train(sim_binary, tmp_path / "override", config=out, epochs=1, plots=False, quiet=True,
                           n_boot=0)
    assert short["config"]["training"]["epochs"] == 1 and short["config"]["hparams"]["filters"] == 8


def test_refuses_to_overwrite_and_force_replaces(binary_run, sim_binary, tmp_path):
    _, out = binary_run
    with pytest.raises(OutputExistsError):
        training.train(sim_binary, out, **FAST)
    target = tmp_path / "r"
    target.mkdir()
    (target / "old.txt").write_text("x")
    training.train(sim_binary, target, force=True, plots=False, **{**FAST, "epochs": 1})
    assert not (target / "old.txt").exists() and (target / "model.keras").exists()


def test_bad_options_are_refused_before_anything_is_written(sim_binary, tmp_path):
    for kw, msg in [({"epochs": 0}, "--epochs"), ({"lr": -1.0}, "--lr"), ({"monitor": "val_f1"}, "monitor"),
                    ({"class_weight": "inverse"}, "class-weight"), ({"strands": "both"}, "--strands"),
                    ({"lr_schedule": "cosine"}, "--lr-schedule"), ({"stopping": "loss"}, "--stopping"), ({"arch": "nope"}, "unknown architecture"),
                    ({"params": {"filters": "x"}}, "not a valid int"), ({"params": {"kernel_size": "500"}},
                                                                        "longer than the sequences")]:
        with pytest.raises(SeqcnnError, match=msg):
            training.train(sim_binary, tmp_path / "run", quiet=True, **kw)
        assert not os.listdir(tmp_path)


def test_a_recorded_run_without_the_newer_options_replays_as_it_was_trained(binary_run, sim_binary, tmp_path):
    """A config.json from before strands / lr_schedule / automatic batches replays single-strand, constant, 32."""
    from seqcnn import rundir
    from seqcnn.store import open_dataset

    r, out = binary_run
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["training"]["strands"] == "average" and cfg["training"]["lr_schedule"] == "plateau"
    for key in ("strands", "lr_schedule", "batch_size", "stopping", "strand_fit", "jaspar"):
        del cfg["training"][key]
    with open_dataset(sim_binary) as ds:
        old = rundir.resolve_config(ds, config=cfg)["training"]
        new = rundir.resolve_config(ds)["training"]
        n_train = len(ds.indices("train"))
    assert (old["strands"], old["lr_schedule"], old["batch_size"], old["stopping"]) == ("single", "constant", 32,
                                                                                         "monitor")
    assert old["strand_fit"] == "joint"  # a strand-averaged run recorded before strand_fit stepped on the average
    assert old["jaspar"] == new["jaspar"] == "vertebrates"   # before train --jaspar: vertebrate motifs
    assert new["strand_fit"] == rundir.TRAIN_DEFAULTS["strand_fit"]
    assert (new["strands"], new["lr_schedule"], new["stopping"]) == ("average", "plateau", "monitor+loss")
    assert new["batch_size"] == rundir.auto_batch(n_train, 2 if new["strand_fit"] == "joint" else 1)
    assert [rundir.auto_batch(n) for n in (10, 800, 3200, 7000, 10 ** 6)] == [32, 32, 64, 128, 128]
    # a jointly fitted strand-averaged model runs both strands per sequence: half the batch for the same cost
    assert [rundir.auto_batch(n, 2) for n in (10, 800, 3200, 7000, 10 ** 6)] == [32, 32, 32, 64, 128]


def test_the_learning_rate_follows_the_architecture_and_length_unless_given_or_recorded(sim_binary):
    from seqcnn import models, rundir
    from seqcnn.store import open_dataset

    with open_dataset(sim_binary) as ds:
        lr = {arch: rundir.resolve_config(ds, arch=arch)["training"]["lr"]
              for arch in ("deepbind", "zeng", "basset", "primer")}
        assert ds.length <= rundir.SHORT_INPUT
        assert lr == {"deepbind": 3e-3, "zeng": 1e-3, "basset": 1e-3, "primer": 1e-3}
        assert rundir.resolve_config(ds)["training"]["lr"] == lr[models.DEFAULT_ARCH]
        assert rundir.resolve_config(ds, lr=0.02)["training"]["lr"] == 0.02   # --lr wins
        # a recorded run (trained with 1e-3 before the per-architecture rate) replays at its own rate
        recorded = {"seqcnn_run": True, "arch": "deepbind", "training": {"lr": 1e-3}}
        assert rundir.resolve_config(ds, config=recorded)["training"]["lr"] == 1e-3
    # long inputs keep the slower rate (at 1 kb the faster one saved no epoch and cost accuracy)
    assert [rundir.default_lr("deepbind", n) for n in (101, 500, 501, 1000)] == [3e-3, 3e-3, 1e-3, 1e-3]
    assert rundir.default_lr("zeng", 200) == rundir.default_lr("zeng", 1000) == 1e-3


def test_strand_averaged_run_reloads_and_plateau_decay_is_recorded(sim_binary, tmp_path):
    from seqcnn import rundir
    from seqcnn.models import strand_inner

    r = training.train(sim_binary, tmp_path / "run", **{**FAST, "epochs": 12, "lr": 0.05, "patience": 12},
                       plots=False)
    model, cfg = rundir.load_run(tmp_path / "run")  # the strand average (its reverse complement) deserialises
    assert strand_inner(model) is not None
    lrs = [h["lr"] for h in r["history"]]
    assert lrs[0] == 0.05 and all(b <= a for a, b in zip(lrs, lrs[1:]))
    if r["best_epoch"] <= 12 - 3:  # three epochs without improvement halve the rate
        assert min(lrs) < 0.05
    single = training.train(sim_binary, tmp_path / "single", **FAST, strands="single", lr_schedule="constant",
                            plots=False)
    m1, _ = rundir.load_run(tmp_path / "single")
    assert strand_inner(m1) is None and {h["lr"] for h in single["history"]} == {FAST["lr"]}
