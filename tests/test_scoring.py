"""Tests of seqcnn.scoring: evaluate reproduces training's metrics; predict applies the link and the length policy."""

import json

import numpy as np
import pandas as pd
import pytest

from seqcnn import rundir, scoring, training
from seqcnn.errors import ModelMismatchError, OutputExistsError, SeqcnnError

from conftest import TINY, write_fasta
from numerics import assert_close


def test_evaluate_reproduces_training_metrics_and_writes_json(binary_run, sim_binary, tmp_path):
    r, out = binary_run
    m = scoring.evaluate(out, sim_binary, split="test", out=tmp_path / "m.json", n_boot=200)
    assert m["auroc"] == pytest.approx(r["metrics"]["test"]["auroc"])
    assert m["auroc_ci"] == r["metrics"]["test"]["auroc_ci"]  # same bootstrap seed
    assert json.loads((tmp_path / "m.json").read_text())["auprc"] == pytest.approx(m["auprc"])
    assert (tmp_path / "m_roc.png").exists() and (tmp_path / "m_pr.png").exists()
    with pytest.raises(OutputExistsError):
        scoring.evaluate(out, sim_binary, out=tmp_path / "m.json")


def test_predict_applies_the_link_and_the_length_policy(binary_run, sim_binary, tmp_path):
    from seqcnn.encoding import decode
    from seqcnn.store import open_dataset

    _, out = binary_run
    with open_dataset(sim_binary) as ds:
        sel = ds.indices("test")[:20]
        x, ids = ds.read_x(sel), list(ds.ids[sel])
    fa = write_fasta(tmp_path / "s.fa", list(zip(ids, decode(x))))
    res = scoring.predict(out, fa, tmp_path / "p.csv")
    df = pd.read_csv(tmp_path / "p.csv")
    assert list(df.columns) == ["id", "prob_1"] and list(df.id) == ids and res["n"] == 20
    model, cfg = rundir.load_run(out)
    logits = np.asarray(model(x.astype("float32"), training=False))[:, 0]
    assert_close(df.prob_1, 1 / (1 + np.exp(-logits)))  # numpy's sigmoid of TF's logits, 6 digits in the CSV
    # the training data had one length and no --length: other lengths are refused, nothing written
    write_fasta(tmp_path / "short.fa", [("a", "ACGT" * 10)])
    with pytest.raises(ModelMismatchError, match="model takes 100 bp"):
        scoring.predict(out, tmp_path / "short.fa", tmp_path / "q.csv")
    write_fasta(tmp_path / "bad.fa", [("a", "ACGT" * 24 + "ACGTX")])
    with pytest.raises(SeqcnnError, match="'a'"):
        scoring.predict(out, tmp_path / "bad.fa", tmp_path / "q.csv")
    assert not (tmp_path / "q.csv").exists() and not list(tmp_path.glob("q.csv*"))


def test_predict_shards_concatenate_to_the_unsharded_csv(binary_run, sim_binary, cli, tmp_path):
    from seqcnn.encoding import decode
    from seqcnn.store import open_dataset

    _, out = binary_run
    with open_dataset(sim_binary) as ds:
        sel = ds.indices("test")[:25]
        x, ids = ds.read_x(sel), list(ds.ids[sel])
    fa = write_fasta(tmp_path / "s.fa", list(zip(ids, decode(x))))
    assert cli("predict", out, fa, "-o", tmp_path / "all.csv", "--batch-size", "8").exit_code == 0
    for n in (2, 4, 30):
        parts = [tmp_path / f"p{n}_{k}.csv" for k in range(1, n + 1)]
        for k, part in enumerate(parts, 1):
            res = cli("predict", out, fa, "-o", part, "--shard", f"{k}/{n}", "--batch-size", "8")
            assert res.exit_code == 0, res.output
        assert b"".join(p.read_bytes() for p in parts) == (tmp_path / "all.csv").read_bytes()
    res = cli("predict", out, fa, "-o", tmp_path / "x.csv", "--shard", "0/2")
    assert res.exit_code == 2 and "is not K/N" in res.output


def test_length_mismatch_is_a_clear_error(binary_run, tmp_path):
    from seqcnn.store import write_dataset

    _, out = binary_run
    h5 = write_dataset(tmp_path / "l80.h5", np.zeros((4, 80, 4), np.uint8), np.array([0, 1, 0, 1], np.uint8),
                       list("abcd"), split=np.full(4, 2, np.uint8), attrs={"task": "binary", "class_names": ["0", "1"]})
    with pytest.raises(ModelMismatchError, match="trained on 100 bp sequences but the data are 80 bp"):
        scoring.evaluate(out, h5)


def test_predict_pads_and_trims_like_the_training_encoding(sim_binary, tmp_path):
    """Training data encoded with --length: predict pads/trims other lengths with the same pad mode."""
    from seqcnn.encoding import decode
    from seqcnn.ingest import encode_fasta
    from seqcnn.store import open_dataset

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
    res = scoring.predict(tmp_path / "run", tmp_path / "q.fa", tmp_path / "p.csv")
    assert (res["padded"], res["trimmed"]) == (1, 1)
    p = pd.read_csv(tmp_path / "p.csv").set_index("id").prob_1
    assert_close(p["long"], p["full"])  # centre-trimmed back to the same 100 bp (another row of the batch)
    model, _ = rundir.load_run(tmp_path / "run")
    from seqcnn.encoding import one_hot

    padded = one_hot([s[10:90]], length=100, pad_mode="center")
    assert_close(p["short"], scoring.predict_onehot(model, padded, "binary")[0, 0])  # another batch shape
