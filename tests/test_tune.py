"""Tests of seqcnn.tune and ``seqcnn tune``: a tiny search space on the small simulated set."""

import json
import os
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from seqcnn import tune
from seqcnn.errors import OutputExistsError, SeqcnnError

TINY_SPACE = {"filters": ("cat", [4, 8]), "kernel_size": ("int", 7, 11, 2), "dense_units": ("cat", [0, 8])}


@pytest.fixture(autouse=True)
def tiny_space(monkeypatch):
    monkeypatch.setitem(tune.SPACES, "deepbind", TINY_SPACE)
    monkeypatch.setattr(tune, "TRAINING_SPACE", {"lr": ("log", 3e-3, 3e-2)})


def _run(data, out, **kw):
    kw = {"n_trials": 3, "epochs": 3, "quiet": True, "pruning": False, **kw}
    return tune.tune(data, out, **kw)


def test_study_writes_trials_and_a_best_run_directory(sim_binary, tmp_path):
    from seqcnn import rundir

    r = _run(sim_binary, tmp_path / "t")
    table = pd.read_csv(tmp_path / "t" / "trials.csv")
    assert list(table["number"]) == [0, 1, 2] and set(table["state"]) == {"complete"}
    assert table["param_filters"].isin([4, 8]).all() and table["param_kernel_size"].isin([7, 9, 11]).all()
    # the best trial is the one with the highest validation auPRC, and 'best' is its run directory
    best = int(table["value"].idxmax())
    assert os.readlink(tmp_path / "t" / "best") == f"trials/{best:03d}"
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["best"]["number"] == best and summary["monitor"] == "val_auprc"
    assert summary["trials"] == {"complete": 3, "pruned": 0, "fail": 0}
    model, cfg = rundir.load_run(tmp_path / "t" / "best")
    assert cfg["hparams"]["filters"] == table.loc[best, "param_filters"]
    assert cfg["training"]["lr"] == pytest.approx(table.loc[best, "param_lr"])
    # the objective is the best validation value the run's own history records
    hist = pd.read_csv(tmp_path / "t" / f"trials/{best:03d}" / "history.csv")
    assert hist["val_auprc"].max() == pytest.approx(table.loc[best, "value"])
    assert (tmp_path / "t" / "plots" / "tune_history.png").stat().st_size > 5000
    # importance: every parameter that varied across the three trials, shares summing to 1
    varied = {c[len("param_"):] for c in table if c.startswith("param_") and table[c].nunique() > 1}
    assert set(summary["importance"]) == varied and sum(summary["importance"].values()) == pytest.approx(1)
    assert r["best"] == str(tmp_path / "t" / f"trials/{best:03d}")


def test_importance_needs_three_complete_trials_and_a_varying_parameter():
    import optuna

    def study(values, params):
        s = optuna.create_study(direction="maximize")
        for v, p in zip(values, params):
            s.add_trial(optuna.trial.create_trial(
                params=p, distributions={k: optuna.distributions.FloatDistribution(0, 1) for k in p}, value=v))
        return s

    assert tune.importance(study([0.5, 0.6], [{"a": 0.1}, {"a": 0.2}])) is None
    assert tune.importance(study([0.5, 0.6, 0.7], [{"a": 0.1}] * 3)) is None  # nothing varied
    assert tune.importance(study([0.5] * 3, [{"a": 0.1}, {"a": 0.2}, {"a": 0.3}])) is None  # the value never moved
    imp = tune.importance(study([0.1, 0.5, 0.9, 0.2], [{"a": 0.1, "b": 0.5}, {"a": 0.5, "b": 0.5},
                                                        {"a": 0.9, "b": 0.5}, {"a": 0.2, "b": 0.5}]))
    assert imp == {"a": pytest.approx(1.0)}  # b never varied: not assessed


def test_test_split_labels_do_not_change_the_study(sim_binary, tmp_path):
    """Scrambled test labels, same study: the test split is never used to choose."""
    other = tmp_path / "scrambled.h5"
    shutil.copy(sim_binary, other)
    with h5py.File(other, "r+") as h:
        test = np.flatnonzero(h["split"][:] == 2)
        y = h["y"][:]
        y[test] = 1 - y[test]
        h["y"][:] = y
    a = _run(sim_binary, tmp_path / "a", n_trials=2, sampler="random")["trials"]
    b = _run(other, tmp_path / "b", n_trials=2, sampler="random")["trials"]
    np.testing.assert_allclose(a["value"], b["value"])
    assert list(a["param_filters"]) == list(b["param_filters"])


def test_an_interrupted_study_resumes(sim_binary, tmp_path):
    def interrupt(epoch, logs):
        if len(os.listdir(tmp_path / "t" / "trials")) >= 2 and epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(sim_binary, tmp_path / "t", callback=interrupt)
    with pytest.raises(OutputExistsError, match="--resume"):
        _run(sim_binary, tmp_path / "t")
    r = _run(sim_binary, tmp_path / "t", resume=True)
    states = list(r["trials"]["state"])
    # trial 1 was running when interrupted: failed, its partial folder removed; two more complete the three
    assert states == ["complete", "fail", "complete", "complete"]
    assert not (tmp_path / "t" / "trials" / "001.partial").exists()
    again = _run(sim_binary, tmp_path / "t", resume=True, n_trials=4)  # one more trial, not four
    assert len(again["trials"]) == 5


def test_pruned_trials_stop_early(sim_binary, tmp_path, monkeypatch):
    import optuna

    class PruneLater(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number >= 1 and trial.last_step is not None and trial.last_step >= 0

    monkeypatch.setattr(tune, "_pruner", lambda pruning: PruneLater())
    r = _run(sim_binary, tmp_path / "t", n_trials=2, epochs=4, pruning=True)
    t = r["trials"]
    assert list(t["state"]) == ["complete", "pruned"]
    assert t.loc[0, "epochs_run"] == 4 and t.loc[1, "epochs_run"] == 1 and t.loc[1, "pruned_at_epoch"] == 1
    assert r["summary"]["best"]["number"] == 0


def test_bad_requests_write_nothing(sim_binary, tmp_path):
    from seqcnn.ingest import encode_fasta
    from seqcnn.simulate import simulate

    with pytest.raises(SeqcnnError, match="unknown architecture"):
        _run(sim_binary, tmp_path / "x", archs=["nope"])
    with pytest.raises(SeqcnnError, match="unknown sampler"):
        _run(sim_binary, tmp_path / "x", sampler="grid")
    with pytest.raises(SeqcnnError, match="no study to resume"):
        _run(sim_binary, tmp_path / "x", resume=True)
    s = simulate(80, 40, ["MA0139.1"], seed=0)
    s.write(tmp_path / "s.fa", tmp_path / "s.csv")
    encode_fasta([tmp_path / "s.fa"], tmp_path / "noval.h5", labels=tmp_path / "s.csv", split="0.8,0,0.2", seed=0)
    with pytest.raises(SeqcnnError, match="validation split"):
        _run(tmp_path / "noval.h5", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_kernel_sizes_are_capped_by_short_sequences():
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        t = study.ask()
        arch, hp, opts = tune.suggest(t, ("deepbind",), length=14)
        assert 1 <= hp["kernel_size"] <= 7 and 3e-3 <= opts["lr"] <= 3e-2
        study.tell(t, 0.5)
    t = study.ask()
    assert tune.suggest(t, ("deepbind",), length=200)[1]["kernel_size"] in (7, 9, 11)
