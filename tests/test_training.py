"""Training, evaluation and prediction (library level): run directory, determinism, pipelines, resume, metrics."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from seqcnn import training
from seqcnn.errors import ModelMismatchError, OutputExistsError, SeqcnnError

from conftest import JANGGU, write_fasta

TINY = {"filters": 8, "kernel_size": 15, "dense_units": 8}
FAST = dict(params=TINY, lr=0.01, epochs=8, batch_size=128, quiet=True, n_boot=200)


@pytest.fixture(scope="module")
def binary_run(sim_binary, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "binary"
    return training.train(sim_binary, out, **FAST), out


# ---------------------------------------------------------------------------------------------------- metrics


def test_bootstrap_auc_equals_sklearn_with_sample_weights():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.4
    s = np.round(rng.normal(size=300) + y, 1)  # rounding makes ties, which sklearn groups
    w = rng.multinomial(300, np.full(300, 1 / 300), size=5).astype(float)
    roc, pr = training._bootstrap_auc(y, s, w)
    for b in range(5):
        assert roc[b] == pytest.approx(roc_auc_score(y, s, sample_weight=w[b]), abs=1e-12)
        assert pr[b] == pytest.approx(average_precision_score(y, s, sample_weight=w[b]), abs=1e-12)
    roc, pr = training._bootstrap_auc(y, s, np.ones((1, 300)))
    assert roc[0] == pytest.approx(roc_auc_score(y, s)) and pr[0] == pytest.approx(average_precision_score(y, s))


def test_binary_metrics_keys_values_and_intervals():
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.5).astype(int)
    p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, 400), 0, 1)
    m = training.compute_metrics("binary", y, p, n_boot=300)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, p))
    assert m["auprc"] == pytest.approx(average_precision_score(y, p))
    assert m["n"] == 400 and m["n_pos"] == y.sum()
    assert m["auroc_ci"][0] < m["auroc"] < m["auroc_ci"][1] and m["auprc_ci"][0] < m["auprc"] < m["auprc_ci"][1]
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    assert tn + fp + fn + tp == 400 and tp == ((p >= 0.5) & (y == 1)).sum()
    assert m["accuracy"] == pytest.approx((tp + tn) / 400)
    # perfect scores → auROC 1 with a degenerate interval; single class → undefined (None), not a crash
    assert training.compute_metrics("binary", y, y.astype(float), n_boot=50)["auroc_ci"] == [1.0, 1.0]
    one = training.compute_metrics("binary", np.ones(5, int), np.linspace(0, 1, 5), n_boot=20)
    assert one["auroc"] is None and one["auroc_ci"] is None


def test_multiclass_and_multilabel_metrics():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300)
    prob = rng.dirichlet(np.ones(3), 300) + np.eye(3)[y] * 0.5
    prob /= prob.sum(1, keepdims=True)
    m = training.compute_metrics("multiclass", y, prob, names=["a", "b", "c"], n_boot=100)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, prob, multi_class="ovr", average="macro"))
    assert set(m["per_class"]) == {"a", "b", "c"} and np.array(m["confusion_matrix"]).sum() == 300
    assert m["accuracy"] == pytest.approx((prob.argmax(1) == y).mean()) and len(m["auroc_ci"]) == 2
    yl = (rng.random((300, 2)) < 0.5).astype(int)
    pl = np.clip(yl * 0.4 + rng.random((300, 2)) * 0.6, 0, 1)
    ml = training.compute_metrics("multilabel", yl, pl, names=["x", "y"], n_boot=100)
    assert ml["auroc"] == pytest.approx(roc_auc_score(yl, pl, average="macro"))
    assert ml["per_label"]["y"]["auroc"] == pytest.approx(roc_auc_score(yl[:, 1], pl[:, 1]))
    assert ml["subset_accuracy"] == pytest.approx(((pl >= 0.5) == yl).all(1).mean())


# ---------------------------------------------------------------------------------------------------- data pipeline


def test_epoch_order_is_a_chunk_grouped_permutation():
    idx = np.sort(np.random.default_rng(0).choice(5000, 3000, replace=False))
    a = training.epoch_order(idx, 100, 4, seed=0, epoch=0)
    assert np.array_equal(np.sort(a), idx)
    assert np.array_equal(a, training.epoch_order(idx, 100, 4, seed=0, epoch=0))
    assert not np.array_equal(a, training.epoch_order(idx, 100, 4, seed=0, epoch=1))
    assert not np.array_equal(a, training.epoch_order(idx, 100, 4, seed=1, epoch=0))
    order, bounds = training.epoch_order(idx, 100, 4, 0, 0, return_groups=True)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        assert len(np.unique(order[lo:hi] // 100)) <= 4  # each group reads at most buffer_chunks chunks
    assert len(bounds) - 1 == int(np.ceil(len(np.unique(idx // 100)) / 4))


def test_streamed_and_in_memory_training_give_identical_models(sim_binary, tmp_path):
    a = training.train(sim_binary, tmp_path / "mem", memory_budget_mb=1e6, plots=False, **{**FAST, "epochs": 3})
    b = training.train(sim_binary, tmp_path / "stream", memory_budget_mb=0, plots=False, **{**FAST, "epochs": 3})
    assert a["in_memory"] and not b["in_memory"]
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert a["metrics"]["test"] == b["metrics"]["test"]


def test_deterministic_given_seed_and_different_across_seeds(sim_binary, tmp_path, binary_run):
    r, _ = binary_run
    again = training.train(sim_binary, tmp_path / "again", plots=False, **FAST)
    assert [h["loss"] for h in again["history"]] == [h["loss"] for h in r["history"]]
    assert again["metrics"]["test"] == r["metrics"]["test"]
    other = training.train(sim_binary, tmp_path / "seed1", seed=1, plots=False, **{**FAST, "epochs": 2})
    assert [h["loss"] for h in other["history"]] != [h["loss"] for h in r["history"][:2]]


# ---------------------------------------------------------------------------------------------------- run directory


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


def test_evaluate_reproduces_training_metrics_and_writes_json(binary_run, sim_binary, tmp_path):
    r, out = binary_run
    m = training.evaluate(out, sim_binary, split="test", out=tmp_path / "m.json", n_boot=200)
    assert m["auroc"] == pytest.approx(r["metrics"]["test"]["auroc"])
    assert m["auroc_ci"] == r["metrics"]["test"]["auroc_ci"]  # same bootstrap seed
    assert json.loads((tmp_path / "m.json").read_text())["auprc"] == pytest.approx(m["auprc"])
    assert (tmp_path / "m_roc.png").exists() and (tmp_path / "m_pr.png").exists()
    with pytest.raises(OutputExistsError):
        training.evaluate(out, sim_binary, out=tmp_path / "m.json")


def test_predict_applies_the_link_and_the_length_policy(binary_run, sim_binary, tmp_path):
    from seqcnn.encoding import decode
    from seqcnn.store import open_dataset

    _, out = binary_run
    with open_dataset(sim_binary) as ds:
        sel = ds.indices("test")[:20]
        x, ids = ds.read_x(sel), list(ds.ids[sel])
    fa = write_fasta(tmp_path / "s.fa", list(zip(ids, decode(x))))
    res = training.predict(out, fa, tmp_path / "p.csv")
    df = pd.read_csv(tmp_path / "p.csv")
    assert list(df.columns) == ["id", "prob_1"] and list(df.id) == ids and res["n"] == 20
    model, cfg = training.load_run(out)
    logits = np.asarray(model(x.astype("float32"), training=False))[:, 0]
    assert np.allclose(df.prob_1, 1 / (1 + np.exp(-logits)), atol=1e-5)
    # the training data had one length and no --length: other lengths are refused, nothing written
    write_fasta(tmp_path / "short.fa", [("a", "ACGT" * 10)])
    with pytest.raises(ModelMismatchError, match="model takes 100 bp"):
        training.predict(out, tmp_path / "short.fa", tmp_path / "q.csv")
    write_fasta(tmp_path / "bad.fa", [("a", "ACGT" * 24 + "ACGTX")])
    with pytest.raises(SeqcnnError, match="'a'"):
        training.predict(out, tmp_path / "bad.fa", tmp_path / "q.csv")
    assert not (tmp_path / "q.csv").exists() and not list(tmp_path.glob("q.csv*"))


def test_length_mismatch_is_a_clear_error(binary_run, tmp_path):
    from seqcnn.store import write_dataset

    _, out = binary_run
    h5 = write_dataset(tmp_path / "l80.h5", np.zeros((4, 80, 4), np.uint8), np.array([0, 1, 0, 1], np.uint8),
                       list("abcd"), split=np.full(4, 2, np.uint8), attrs={"task": "binary", "class_names": ["0", "1"]})
    with pytest.raises(ModelMismatchError, match="trained on 100 bp sequences but the data are 80 bp"):
        training.evaluate(out, h5)


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


def test_resume_after_interruption_equals_an_uninterrupted_run(sim_binary, tmp_path, binary_run):
    from seqcnn._tf import import_keras

    keras = import_keras()
    full, _ = binary_run

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        training.train(sim_binary, out, callbacks=[Interrupt()], **FAST)
    assert not out.exists() and (tmp_path / "run.partial" / "checkpoint" / "last.keras").exists()
    with pytest.raises(OutputExistsError, match="interrupted run"):
        training.train(sim_binary, out, **FAST)
    resumed = training.train(sim_binary, out, resume=True, quiet=True, n_boot=200)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    assert resumed["metrics"]["test"] == full["metrics"]["test"]
    assert out.exists() and not (tmp_path / "run.partial").exists()
    with pytest.raises(SeqcnnError, match="nothing to resume"):
        training.train(sim_binary, tmp_path / "never", resume=True)


def test_refuses_to_overwrite_and_force_replaces(binary_run, sim_binary, tmp_path):
    _, out = binary_run
    with pytest.raises(OutputExistsError):
        training.train(sim_binary, out, **FAST)
    target = tmp_path / "r"
    target.mkdir()
    (target / "old.txt").write_text("x")
    training.train(sim_binary, target, force=True, plots=False, **{**FAST, "epochs": 1})
    assert not (target / "old.txt").exists() and (target / "model.keras").exists()


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
    ev = training.evaluate(tmp_path / "run", h5, n_boot=200)
    assert ev["auroc"] == pytest.approx(m["auroc"])
    fa = write_fasta(tmp_path / "one.fa", [("s1", "ACGT" * 25), ("s2", "TTGCA" * 20)])
    training.predict(tmp_path / "run", fa, tmp_path / "p.csv")
    df = pd.read_csv(tmp_path / "p.csv")
    assert df.shape == (2, 1 + r["config"]["model"]["n_outputs"])
    if task == "multiclass":
        assert np.allclose(df.iloc[:, 1:].sum(axis=1), 1, atol=1e-4)  # softmax
    else:
        assert ((df.iloc[:, 1:] > 0) & (df.iloc[:, 1:] < 1)).all().all()


def test_class_weight_balanced_weights():
    w = training._class_weights("binary", np.array([0, 0, 0, 1]))["class_weight"]
    assert w[1] == pytest.approx(3 * w[0]) and w[0] * 3 + w[1] == pytest.approx(4)
    pw = training._class_weights("multilabel", np.array([[1, 0], [0, 0], [0, 1], [0, 1]]))["pos_weight"]
    assert pw == [3.0, 1.0]


def test_bad_options_are_refused_before_anything_is_written(sim_binary, tmp_path):
    for kw, msg in [({"epochs": 0}, "--epochs"), ({"lr": -1.0}, "--lr"), ({"monitor": "val_f1"}, "monitor"),
                    ({"class_weight": "inverse"}, "class-weight"), ({"arch": "nope"}, "unknown architecture"),
                    ({"params": {"filters": "x"}}, "not a valid int"), ({"params": {"kernel_size": "500"}},
                                                                        "longer than the sequences")]:
        with pytest.raises(SeqcnnError, match=msg):
            training.train(sim_binary, tmp_path / "run", quiet=True, **kw)
        assert not os.listdir(tmp_path)


def test_real_data_short_training_beats_chance(shared_data, tmp_path):
    """Three epochs of the default model on Oct4 vs Mafk peaks score the untouched test set well above chance."""
    from seqcnn.store import encode_fasta

    encode_fasta([JANGGU / "train.fa"], tmp_path / "train.h5", labels=JANGGU / "train_labels.csv",
                 split="0.9,0.1,0", seed=0)
    encode_fasta([JANGGU / "test.fa"], tmp_path / "test.h5", labels=JANGGU / "test_labels.csv", split="0,0,1")
    training.train(tmp_path / "train.h5", tmp_path / "run", epochs=3, lr=0.003, batch_size=128, quiet=True,
                   plots=False, n_boot=0)
    m = training.evaluate(tmp_path / "run", tmp_path / "test.h5", n_boot=500)
    assert m["n"] == 200
    assert m["auroc"] > 0.85 and m["auroc_ci"][0] > 0.75, m  # chance is 0.5; a 5-mer LR reaches 0.93


def test_predict_pads_and_trims_like_the_training_encoding(sim_binary, tmp_path):
    """Training data encoded with --length: predict pads/trims other lengths with the same pad mode."""
    from seqcnn.encoding import decode
    from seqcnn.store import encode_fasta, open_dataset

    with open_dataset(sim_binary) as ds:
        seqs, ids = decode(ds.read_x(np.arange(ds.n))), list(ds.ids)
    fa = write_fasta(tmp_path / "all.fa", list(zip(ids, seqs)))
    labels = tmp_path / "labels.csv"
    with open_dataset(sim_binary) as ds:
        pd.DataFrame({"id": ids, "label": ds.y}).to_csv(labels, index=False)
    encode_fasta([fa], tmp_path / "l.h5", labels=labels, length=100, pad_mode="center", split="0.8,0.2,0")
    training.train(tmp_path / "l.h5", tmp_path / "run", epochs=1, params=TINY, quiet=True, plots=False, n_boot=0)
    s = seqs[0]
    write_fasta(tmp_path / "q.fa", [("full", s), ("long", "AAAAA" + s + "CCCCC"), ("short", s[10:90])])
    res = training.predict(tmp_path / "run", tmp_path / "q.fa", tmp_path / "p.csv")
    assert (res["padded"], res["trimmed"]) == (1, 1)
    p = pd.read_csv(tmp_path / "p.csv").set_index("id").prob_1
    assert p["long"] == pytest.approx(p["full"], abs=1e-6)  # centre-trimmed back to the same 100 bp
    model, _ = training.load_run(tmp_path / "run")
    from seqcnn.encoding import one_hot

    padded = one_hot([s[10:90]], length=100, pad_mode="center")
    assert p["short"] == pytest.approx(training.predict_onehot(model, padded, "binary")[0, 0], abs=1e-5)


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
