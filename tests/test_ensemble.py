"""Replicate ensembles (``seqcnn train --replicates K``, :mod:`seqcnn.ensemble`): the saved model is the mean of its
members' logits, and exact ISM, single substitutions and window scoring of it are the means of the members'."""

import json
import os

import numpy as np
import pytest

from numerics import assert_close

TINY = {"filters": 4, "kernel_size": 9, "dense_units": 4}
FAST = dict(params=TINY, lr=0.01, epochs=2, batch_size=128, quiet=True, n_boot=50)


@pytest.fixture(scope="module")
def ens_run(sim_binary, tmp_path_factory):
    """A 2-member ensemble (seeds 3, 4) trained for 2 epochs: ``(result, run_dir)``."""
    from seqcnn.ensemble import train_replicates

    out = tmp_path_factory.mktemp("ens") / "run"
    return train_replicates(sim_binary, out, 2, seed=3, plots=False, **FAST), out


@pytest.fixture(scope="module")
def loaded(ens_run):
    """``(ensemble model, [member models], config)``."""
    from seqcnn import models
    from seqcnn.rundir import load_run

    model, cfg = load_run(ens_run[1])
    return model, models.ensemble_members(model), cfg


def _onehot(path, n):
    from seqcnn.store import open_dataset

    with open_dataset(path) as ds:
        return ds.read_x(np.arange(n)).astype(np.float32)


def test_layout_and_config(ens_run, loaded):
    from seqcnn import models
    from seqcnn.rundir import load_run

    r, out = ens_run
    model, members, cfg = loaded
    e = cfg["ensemble"]
    assert e["replicates"] == 2 and e["seeds"] == [3, 4]
    assert e["members"] == ["members/seed_3", "members/seed_4"]
    assert cfg["training"]["seed"] == 3
    for rel, s in zip(e["members"], e["seeds"]):
        m, c = load_run(out / rel)          # each member is a usable run of its own
        assert c["training"]["seed"] == s and "ensemble" not in c
        assert models.ensemble_members(m) is None and models.strand_inner(m) is not None
    assert len(members) == 2 and all(models.strand_inner(m) is not None for m in members)
    assert cfg["model"]["n_params"] == sum(int(m.count_params()) for m in members)
    met = json.loads((out / "metrics.json").read_text())
    assert {"train", "val", "test"} <= set(met) and 0 <= met["test"]["auroc"] <= 1
    assert met["best_epoch"] == [m["best_epoch"] for m in r["members"]] and len(met["epochs_run"]) == 2
    assert not os.path.exists(str(out) + ".partial")
    assert models.ensemble_members(members[0]) is None      # a strand average is not an ensemble


@pytest.mark.slow
@pytest.mark.numerics
def test_predictions_are_the_mean_of_the_members(ens_run, sim_binary, loaded):
    from seqcnn.rundir import load_run

    model, members, cfg = loaded
    x = _onehot(sim_binary, 64)
    # the members as saved in their own run directories, not only the copies inside the ensemble
    own = [load_run(ens_run[1] / rel)[0] for rel in cfg["ensemble"]["members"]]
    mean = (np.asarray(own[0](x)) + np.asarray(own[1](x))) / np.float32(2)
    got = np.asarray(model(x))
    assert_close(got, mean)
    assert np.abs(np.asarray(own[0](x)) - np.asarray(own[1](x))).max() > 1e-4   # two different models


@pytest.mark.slow
@pytest.mark.numerics
def test_exact_ism_is_the_mean_of_the_members(sim_binary, loaded):
    from seqcnn.exact_ism import ism, ism_method, kernels, naive_ism, single_substitutions

    model, members, _ = loaded
    x = _onehot(sim_binary, 6)
    x[0, 10] = 0                               # an N row: four substitutions
    d, r = ism(model, x)
    parts = [ism(m, x) for m in members]
    scale = float(np.abs(r).max())
    assert_close(d, (parts[0][0] + parts[1][0]) / 2, scale=scale)
    assert_close(r, (parts[0][1] + parts[1][1]) / 2)
    naive = naive_ism(model, x[:3])[..., 0]
    assert_close(d[:3], naive, scale=scale)
    assert np.abs(d).max() > 1e-4
    # each member planned on its own fast path, never the naive path on the averaged graph
    assert ism_method(model) == ism_method(members[0]) == "global"
    assert kernels(model).method == "global"
    pos = np.array([5, 50, 99, 0, 7, 60])
    base = (np.argmax(x[np.arange(6), pos], -1) + 1) % 4
    ref, alt = single_substitutions(model, x, pos, base)
    assert_close(alt - ref, d[np.arange(6), pos, base][:, None], scale=scale)


@pytest.mark.slow
@pytest.mark.numerics
def test_window_scorer_equals_cut_logits(sim_binary, loaded):
    from seqcnn.scan_exact import WindowScorer, cut_logits, scan_method

    model, members, _ = loaded
    slab = _onehot(sim_binary, 8).reshape(-1, 4).astype(np.uint8)
    slab[37] = 0
    starts = np.arange(0, len(slab) - 100 + 1, 7)
    scorer = WindowScorer(model)
    assert scorer.method == scan_method(model) == scan_method(members[0]) == "global"
    want = cut_logits(model, slab, starts)
    assert_close(scorer.logits(slab, starts), want)
    assert np.ptp(want) > 1e-3


def test_plain_keras_opens_the_ensemble(ens_run, sim_binary, tmp_path):
    from test_export import run_without_seqcnn

    x = _onehot(sim_binary, 16)
    np.save(tmp_path / "x.npy", x)
    code = ("import numpy as np, keras\n"
            f"m = keras.models.load_model({str(ens_run[1] / 'model.keras')!r}, compile=False)\n"
            "np.save('out.npy', np.asarray(m(np.load('x.npy'))))\n")
    run_without_seqcnn(code, tmp_path)
    from seqcnn.rundir import load_run

    assert_close(np.load(tmp_path / "out.npy"), np.asarray(load_run(ens_run[1])[0](x)))


def test_verbs_run_on_an_ensemble(cli, ens_run, sim_binary, tmp_path):
    run = ens_run[1]
    res = cli("evaluate", run, sim_binary, "--split", "test", "-o", tmp_path / "m.json", "--no-plots")
    assert res.exit_code == 0, res.output
    met = json.loads((run / "metrics.json").read_text())
    assert json.loads((tmp_path / "m.json").read_text())["auroc"] == pytest.approx(met["test"]["auroc"], abs=1e-6)
    res = cli("mutagenesis", run, sim_binary, "-o", tmp_path / "ism.h5", "--split", "test", "--top", "4",
              "--no-plots")
    assert res.exit_code == 0, res.output


def test_resume_keeps_finished_members_and_resumes_the_interrupted_one(cli, sim_binary, tmp_path):
    """Interrupted after member 2's first epoch: --resume (no --replicates) keeps member 1, finishes member 2."""
    from seqcnn import ensemble
    from seqcnn._tf import import_keras

    keras = import_keras()

    class StopSecond(keras.callbacks.Callback):
        runs = 0

        def on_train_begin(self, logs=None):
            StopSecond.runs += 1

        def on_epoch_end(self, epoch, logs=None):
            if StopSecond.runs == 2:       # after the checkpoint of the second member's first epoch
                raise KeyboardInterrupt

    out = tmp_path / "ens"
    with pytest.raises(KeyboardInterrupt):
        ensemble.train_replicates(sim_binary, out, 2, plots=False, callbacks=[StopSecond()], **FAST)
    partial = tmp_path / "ens.partial"
    first = partial / "members" / "seed_0" / "model.keras"
    assert first.exists() and (partial / "members" / "seed_1.partial" / "checkpoint" / "state.json").exists()
    stamp = first.stat().st_mtime_ns
    assert ensemble.resolve_replicates(None, None, out, resume=True) == 2
    res = cli("train", sim_binary, "-o", out, "--resume", "--no-plots", "--bootstrap", "50")
    assert res.exit_code == 0, res.output
    assert "kept" in res.stderr and "resuming" in res.stderr and "ensemble of 2" in res.stdout
    assert (out / "members" / "seed_0" / "model.keras").stat().st_mtime_ns == stamp
    hist = (out / "members" / "seed_1" / "history.csv").read_text().splitlines()
    assert len(hist) == 3                  # header + epoch 1 (before the stop) + epoch 2 (resumed)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["ensemble"]["seeds"] == [0, 1]
    # a replay of the ensemble's config trains an ensemble again
    assert ensemble.resolve_replicates(None, str(out / "config.json")) == 2
    assert ensemble.resolve_replicates(1, str(out / "config.json")) == 1


def test_cli_replicates_end_to_end(cli, sim_binary, tmp_path):
    out = tmp_path / "run"
    res = cli("train", sim_binary, "-o", out, "--replicates", "2", "--seed", "5", "--epochs", "1", "--param",
              "filters=4", "--param", "kernel_size=9", "--param", "dense_units=4", "--no-plots", "--bootstrap", "20")
    assert res.exit_code == 0, res.output
    assert "ensemble of 2 deepbind replicates (seeds 5, 6" in res.stdout and "records read" in res.stdout
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["ensemble"]["replicates"] == 2 and sorted(os.listdir(out / "members")) == ["seed_5", "seed_6"]


def test_cli_refuses_bad_replicates(cli, sim_binary, tmp_path):
    for bad in ("0", "-2"):
        res = cli("train", sim_binary, "-o", tmp_path / "r", "--replicates", bad)
        assert res.exit_code == 2 and "--replicates must be a positive integer" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    res = cli("train", sim_binary, "-o", tmp_path / "r", "--replicates", "2", "--epochs", "0")
    assert res.exit_code == 2 and "--epochs must be a positive integer" in res.stderr
    assert not os.listdir(tmp_path)    # no partial ensemble left by bad input
    res = cli("train", sim_binary, "-o", tmp_path / "r", "--resume", "--replicates", "2")
    assert res.exit_code == 2 and "nothing to resume" in res.stderr
