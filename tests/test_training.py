"""Tests of seqcnn.training (the fit loop): determinism, resume, every task end to end, real data, fallbacks."""

import numpy as np
import pandas as pd
import pytest

from seqcnn import scoring, training
from seqcnn.errors import OutputExistsError, SeqcnnError

from conftest import FAST, JANGGU, TINY, interrupt_after, write_fasta
from numerics import assert_close


def test_deterministic_given_seed_and_different_across_seeds(sim_binary, tmp_path, binary_run):
    r, _ = binary_run
    again = training.train(sim_binary, tmp_path / "again", plots=False, **FAST)
    assert [h["loss"] for h in again["history"]] == [h["loss"] for h in r["history"]]
    assert again["metrics"]["test"] == r["metrics"]["test"]
    other = training.train(sim_binary, tmp_path / "seed1", seed=1, plots=False, **{**FAST, "epochs": 2})
    assert [h["loss"] for h in other["history"]] != [h["loss"] for h in r["history"][:2]]


def test_resume_after_interruption_equals_an_uninterrupted_run(sim_binary, tmp_path, binary_run):
    full, _ = binary_run

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        training.train(sim_binary, out, callbacks=[interrupt_after(2)], **FAST)
    assert not out.exists() and (tmp_path / "run.partial" / "checkpoint" / "weights.npz").exists()
    with pytest.raises(OutputExistsError, match="interrupted run"):
        training.train(sim_binary, out, **FAST)
    resumed = training.train(sim_binary, out, resume=True, quiet=True, n_boot=200)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    assert resumed["metrics"]["test"] == full["metrics"]["test"]
    assert out.exists() and not (tmp_path / "run.partial").exists()
    with pytest.raises(SeqcnnError, match="nothing to resume"):
        training.train(sim_binary, tmp_path / "never", resume=True)


def test_strand_fits_train_differently_save_a_strand_averaged_model_and_resume_exactly(sim_binary, tmp_path,
                                                                                         binary_run):
    """The strand_fit that binary_run (the defaults) did not use: its own trajectory, the same kind of model, and
    an interrupted run that resumes to the uninterrupted one (posthoc reloads the single-strand model it fits)."""
    from seqcnn import rundir
    from seqcnn.encoding import reverse_complement
    from seqcnn.models import strand_inner
    from seqcnn.store import open_dataset

    default_run, _ = binary_run
    other = {"joint": "posthoc", "posthoc": "joint"}[rundir.TRAIN_DEFAULTS["strand_fit"]]
    full = training.train(sim_binary, tmp_path / "full", strand_fit=other, plots=False, **FAST)
    assert full["config"]["training"]["strand_fit"] == other
    assert [h["loss"] for h in full["history"]] != [h["loss"] for h in default_run["history"]]
    model, _ = rundir.load_run(tmp_path / "full")
    assert strand_inner(model) is not None
    with open_dataset(sim_binary) as ds:
        x = ds.read_x(np.arange(64)).astype(np.float32)
    # the strand average of x and of its reverse complement: the same sum in the other order
    assert_close(model.predict(x, verbose=0), model.predict(reverse_complement(x), verbose=0))

    with pytest.raises(KeyboardInterrupt):
        training.train(sim_binary, tmp_path / "run", strand_fit=other, callbacks=[interrupt_after(2)], **FAST)
    resumed = training.train(sim_binary, tmp_path / "run", resume=True, quiet=True, n_boot=200)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    assert resumed["metrics"]["test"] == full["metrics"]["test"]


@pytest.mark.parametrize("fixture,task", [("sim_multiclass", "multiclass"), ("sim_multilabel", "multilabel")])
def test_multiclass_and_multilabel_end_to_end(fixture, task, request, tmp_path):
    h5 = request.getfixturevalue(fixture)
    r = training.train(h5, tmp_path / "run", class_weight="balanced", rc_augment=False, epochs=12, patience=12,
                       batch_size=128,
                       params={**TINY, "filters": 16, "dense_units": 16, "dropout": 0.1}, lr=0.01, quiet=True,
                       n_boot=200)
    m = r["metrics"]["test"]
    assert r["config"]["model"]["task"] == task and r["config"]["training"]["monitor"] == "val_auroc"
    assert m["auroc"] > 0.75, m  # well above chance (0.5) on planted motifs
    key = "per_class" if task == "multiclass" else "per_label"
    assert len(m[key]) == r["config"]["model"]["n_outputs"]
    ev = scoring.evaluate(tmp_path / "run", h5, n_boot=200)
    assert ev["auroc"] == pytest.approx(m["auroc"])
    fa = write_fasta(tmp_path / "one.fa", [("s1", "ACGT" * 25), ("s2", "TTGCA" * 20)])
    scoring.predict(tmp_path / "run", fa, tmp_path / "p.csv")
    df = pd.read_csv(tmp_path / "p.csv")
    assert df.shape == (2, 1 + r["config"]["model"]["n_outputs"])
    if task == "multiclass":
        assert np.allclose(df.iloc[:, 1:].sum(axis=1), 1, atol=1e-4)  # softmax
    else:
        assert ((df.iloc[:, 1:] > 0) & (df.iloc[:, 1:] < 1)).all().all()


def test_real_data_short_training_beats_chance(shared_data, tmp_path):
    """Three epochs of the default model on Oct4 vs Mafk peaks score the untouched test set well above chance."""
    from seqcnn.ingest import encode_fasta

    encode_fasta([JANGGU / "train.fa"], tmp_path / "train.h5", labels=JANGGU / "train_labels.csv",
                 split="0.9,0.1,0", seed=0)
    encode_fasta([JANGGU / "test.fa"], tmp_path / "test.h5", labels=JANGGU / "test_labels.csv", split="0,0,1")
    training.train(tmp_path / "train.h5", tmp_path / "run", epochs=3, lr=0.003, batch_size=128, quiet=True,
                   plots=False, n_boot=0)
    m = scoring.evaluate(tmp_path / "run", tmp_path / "test.h5", n_boot=500)
    assert m["n"] == 200
    assert m["auroc"] > 0.85 and m["auroc_ci"][0] > 0.75, m  # chance is 0.5; a 5-mer LR reaches 0.93


def test_single_class_validation_falls_back_to_val_loss(tmp_path):
    from seqcnn.store import write_dataset

    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (60, 30))]
    y = np.r_[np.zeros(30), np.ones(30)].astype(np.uint8)
    split = np.zeros(60, np.uint8)
    split[:6] = 1  # validation: negatives only → auPRC undefined
    h5 = write_dataset(tmp_path / "d.h5", x, y, [f"s{i}" for i in range(60)], split=split,
                       attrs={"task": "binary", "class_names": ["0", "1"]})
    r = training.train(h5, tmp_path / "run", params={"filters": 4, "kernel_size": 5, "dense_units": 4}, epochs=3,
                       quiet=True, plots=True, n_boot=10)
    assert r["history"][0]["val_auprc"] is None and r["best_epoch"] is not None
    assert r["metrics"]["val"]["auroc"] is None and (tmp_path / "run" / "model.keras").exists()


def test_imbalance_note():
    """Unweighted training on imbalanced classes gets advice; balanced data, reweighting, multilabel do not."""
    from types import SimpleNamespace

    from seqcnn.training import _imbalance_notes

    ds = SimpleNamespace(class_names=["CTCF", "GATA3", "YY1"])
    notes = _imbalance_notes("binary", np.array([1] * 40 + [0] * 400), None, ds)
    assert len(notes) == 1 and "1: 40, 0: 400" in notes[0] and "--class-weight balanced" in notes[0]
    assert _imbalance_notes("binary", np.array([1] * 40 + [0] * 400), "balanced", ds) == []
    assert _imbalance_notes("binary", np.array([1] * 200 + [0] * 400), None, ds) == []   # 1:2 is fine
    notes = _imbalance_notes("multiclass", np.array([0] * 300 + [1] * 300 + [2] * 50), None, ds)
    assert "YY1: 50" in notes[0] and ": 300" in notes[0]
    assert _imbalance_notes("multilabel", np.zeros((10, 2)), None, ds) == []


def test_a_partial_run_made_by_another_command_is_not_taken_over(sim_binary, tmp_path, monkeypatch):
    """Two trainings started together into one output: the second finds RUN.partial made after its check."""
    import os

    from seqcnn import rundir

    real = rundir.prepare_out

    def another_training_starts(out, force, resume):
        paths = real(out, force, resume)
        os.makedirs(os.path.join(paths[1], "checkpoint"))
        return paths

    monkeypatch.setattr(rundir, "prepare_out", another_training_starts)
    with pytest.raises(OutputExistsError, match="appeared while this command was starting"):
        training.train(sim_binary, tmp_path / "r", **FAST)
    assert os.listdir(tmp_path / "r.partial") == ["checkpoint"] and not (tmp_path / "r").exists()  # theirs


def test_a_tie_in_the_monitored_metric_goes_to_the_lower_validation_loss():
    assert training._improved(0.9, None, True)
    assert training._improved(0.95, 0.9, True) and not training._improved(0.85, 0.9, True)
    assert training._improved(0.2, 0.3, False) and not training._improved(0.4, 0.3, False)
    # auPRC 1.0 twice: the epoch with the lower loss wins, the one with the higher loss does not
    assert training._improved(1.0, 1.0, True, loss=0.10, best_loss=0.20)
    assert not training._improved(1.0, 1.0, True, loss=0.30, best_loss=0.20)
    assert not training._improved(1.0, 1.0, True)            # no loss recorded: a tie is not an improvement
    assert not training._improved(None, 0.5, True, loss=0.1, best_loss=0.2)
    # a new lowest validation loss is progress (patience and the plateau wait restart) even when auPRC is not
    assert training._new_low(0.4, None) and training._new_low(0.4, 0.5)
    assert not training._new_low(0.5, 0.5) and not training._new_low(None, 0.5)


@pytest.mark.slow
@pytest.mark.numerics
def test_xla_train_step_resumes_to_the_uninterrupted_run_and_differs_only_by_rounding(sim_binary, tmp_path):
    """``jit_compile=True``: recorded, kept on resume, and an interrupted XLA run resumes to the uninterrupted one.

    Without dropout the XLA step is the default step up to float rounding; with dropout XLA draws other dropout
    masks (its own random-number generator), so only the no-dropout comparison is one of rounding.
    """
    nodrop = {**FAST, "params": {**TINY, "dropout": 0.0}, "epochs": 2}
    plain = training.train(sim_binary, tmp_path / "plain", plots=False, **nodrop)
    xla = training.train(sim_binary, tmp_path / "xla1", plots=False, jit_compile=True, **nodrop)
    assert xla["config"]["distribute"]["jit_compile"] is True and "jit_compile" not in plain["config"]["distribute"]
    assert_close([h["loss"] for h in xla["history"]], [h["loss"] for h in plain["history"]], ops=128)

    opts = {**FAST, "epochs": 5}
    full = training.train(sim_binary, tmp_path / "full", plots=False, jit_compile=True, **opts)

    with pytest.raises(KeyboardInterrupt):
        training.train(sim_binary, tmp_path / "run", plots=False, jit_compile=True, callbacks=[interrupt_after(2)],
                       **opts)
    with pytest.raises(SeqcnnError, match="interrupted run trained with jit_compile=True"):
        training.train(sim_binary, tmp_path / "run", resume=True, jit_compile=False, **FAST)
    resumed = training.train(sim_binary, tmp_path / "run", resume=True, plots=False, quiet=True, n_boot=200)
    assert resumed["config"]["distribute"]["jit_compile"] is True  # taken from the interrupted run's config
    assert len(resumed["history"]) == len(full["history"]) == 5
    assert_close([h["loss"] for h in resumed["history"]], [h["loss"] for h in full["history"]], ops=128)
    assert_close(resumed["metrics"]["test"]["loss"], full["metrics"]["test"]["loss"], ops=128)
    with pytest.raises(SeqcnnError, match="jit_compile must be True or False"):
        training.train(sim_binary, tmp_path / "bad", jit_compile="yes", **FAST)
