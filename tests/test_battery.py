"""One table of bad inputs fed to every verb.

Each error case must exit 2 with exactly one line (``seqcnn: error: ...``) naming the file (and record) and a
fix, no traceback, no partial output, and, run again with ``--force`` over a pre-existing output, must leave that
output byte-identical. Accept cases (Windows line endings, padded label ids) must give what the clean input gives.
Count cases check that the "records read = written + dropped" line adds up and matches the output. Everything
shares one small encoded set and one tiny trained run, built once per module.
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import traceback
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import write_fasta

L = 40
TINY = ["--param", "filters=4", "--param", "kernel_size=7", "--param", "dense_units=4"]


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """Inputs of every case: a 120 × 40 bp encoded set, a 1-epoch run, and damaged copies of each."""
    from seqcnn import training
    from seqcnn.simulate import simulate
    from seqcnn.ingest import encode_fasta
    from seqcnn.store import open_dataset, write_dataset

    d = tmp_path_factory.mktemp("battery")
    sim = simulate(120, L, ["MA0139.1"], design="binary", seed=5)
    sim.write(d / "seqs.fa", d / "labels.csv")
    encode_fasta([d / "seqs.fa"], d / "data.h5", labels=d / "labels.csv", split="0.6,0.2,0.2", seed=0)
    training.train(d / "data.h5", d / "run", params={"filters": 4, "kernel_size": 7, "dense_units": 4}, epochs=1,
                   batch_size=64, n_boot=0, plots=False, quiet=True)
    with open_dataset(d / "data.h5") as ds:
        n_test = len(ds.indices("test"))
    fa_text = (d / "seqs.fa").read_text()
    lab_text = (d / "labels.csv").read_text()
    recs = [(r.split("\n", 1)[0], r.split("\n", 1)[1].replace("\n", "")) for r in fa_text.split(">")[1:]]
    ids = [i for i, _ in recs]

    def fasta(name, records):
        return write_fasta(d / name, records)

    # FASTA and gzip variants
    (d / "no_header.fa").write_text("\n".join(s for _, s in recs) + "\n")
    fasta("empty_seq.fa", [(i, "" if k == 1 else s) for k, (i, s) in enumerate(recs)])
    fasta("digits.fa", [(i, s[:5] + "7" + s[6:] if k == 2 else s) for k, (i, s) in enumerate(recs)])
    (d / "spaces.fa").write_text(fa_text.replace(recs[3][1], recs[3][1][:10] + " " + recs[3][1][10:]))
    (d / "crlf.fa").write_bytes(fa_text.replace("\n", "\r\n").encode())
    (d / "crlf_labels.csv").write_bytes(lab_text.replace("\n", "\r\n").encode())
    (d / "not_gzip.fa.gz").write_bytes(bytes(range(1, 256)) * 4)  # neither gzip nor FASTA
    (d / "corrupt_gzip.fa.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)  # gzip magic, garbage after
    gz = gzip.compress(fa_text.encode())
    (d / "truncated.fa.gz").write_bytes(gz[:len(gz) // 2])
    fasta("short.fa", [("a", recs[0][1][:30])])
    # allele pairs for `variants`: seqs.fa with one base changed in each record (identical alleles are skipped)
    fasta("alt.fa", [(i, s[:20] + {"A": "C", "C": "G", "G": "T", "T": "A"}.get(s[20].upper(), "A") + s[21:])
                     for i, s in recs])
    # label tables
    (d / "missing_col.csv").write_text(lab_text.replace("id,label", "id,lbl", 1))
    rows = [line.split(",") for line in lab_text.splitlines()[1:]]
    (d / "nonnumeric.csv").write_text("id,label\n" + "".join(
        f"{i},{'x' if k == 3 else v}\n" for k, (i, v) in enumerate(rows)))
    (d / "nonnumeric_ml.csv").write_text("id,a,b\n" + "".join(
        f"{i},{v},{'bound' if k == 3 else 0}\n" for k, (i, v) in enumerate(rows)))
    (d / "nan.csv").write_text("id,label\n" + "".join(
        f"{i},{'NaN' if k == 3 else v}\n" for k, (i, v) in enumerate(rows)))
    (d / "ragged.csv").write_text(lab_text + f"{ids[0]},1,extra\n")
    (d / "upper_ids.csv").write_text("id,label\n" + "".join(f"{i.upper()},{v}\n" for i, v in rows))
    (d / "padded_ids.tsv").write_text("id\tlabel\n" + "".join(f"  {i} \t{v}\n" for i, v in rows))
    (d / "partial_labels.csv").write_text("id,label\n" + "".join(f"{i},{v}\n" for i, v in rows[:100]))
    # HDF5 files that seqcnn must refuse
    with h5py.File(d / "foreign.h5", "w") as f:
        f["x"] = np.zeros((3, 4))
    shutil.copy(d / "data.h5", d / "newer.h5")
    with h5py.File(d / "newer.h5", "a") as f:
        f.attrs["schema_version"] = 99
    (d / "junk.h5").write_text("this is not HDF5\n")
    raw = (d / "data.h5").read_bytes()
    (d / "truncated.h5").write_bytes(raw[:len(raw) // 2])
    attrs = {"task": "binary", "class_names": ["0", "1"]}
    write_dataset(d / "short.h5", np.eye(4, dtype=np.uint8)[np.zeros((4, 30), int)], np.array([0, 1, 0, 1], np.uint8),
                  list("abcd"), split=np.full(4, 2, np.uint8), attrs=attrs)
    write_dataset(d / "multiclass.h5", np.eye(4, dtype=np.uint8)[np.zeros((6, L), int)],
                  np.array([0, 1, 2, 0, 1, 2], np.int32), list("abcdef"), split=np.full(6, 2, np.uint8),
                  attrs={"task": "multiclass", "class_names": ["a", "b", "c"], "label_names": ["class"]})
    # damaged run directories
    for name in ("run_no_model", "run_garbage", "run_bad_json", "run_keys"):
        shutil.copytree(d / "run", d / name)
    os.remove(d / "run_no_model" / "model.keras")
    (d / "run_garbage" / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    (d / "run_bad_json" / "config.json").write_text('{"arch": "deepbind", ')
    cfg = json.loads((d / "run" / "config.json").read_text())
    (d / "run_keys" / "config.json").write_text(json.dumps({**cfg, "model": {"output": "logits"}}))
    (d / "run_file").write_text("a file, not a run\n")
    # training configurations
    (d / "cfg_unknown.json").write_text(json.dumps({"arch": "deepbind", "hparams": {"depth": 3}}))
    (d / "cfg_type.json").write_text(json.dumps({"hparams": {"filters": "many"}}))
    (d / "cfg_list.json").write_text(json.dumps({"hparams": [4, 7]}))
    # genome mode: a 3 x 5 kb genome and peak files with a header line, repeated names, overlapping peaks
    rng = np.random.default_rng(2)
    (d / "g.fa").write_text("".join(f">chr{c}\n{''.join(rng.choice(list('ACGT'), 5000))}\n" for c in "ABC"))
    (d / "bed_header.bed").write_text("chrom\tstart\tend\nchrA\t1000\t1040\n")
    (d / "bed_dupnames.bed").write_text("chrA\t1000\t1040\t32\nchrB\t1000\t1040\t5\nchrC\t1000\t1040\t32\n")
    (d / "bed_overlap.bed").write_text("track name=p\nchrA\t1000\t1040\ta\nchrA\t1010\t1050\tb\nchrB\t2000\t2040\tc\n"
                                       "chrC\t3000\t3040\td\n")
    # scan: a region past chrA's end (5000 bp)
    (d / "bed_far.bed").write_text("chrA\t100\t200\nchrA\t4000\t6000\n")
    return SimpleNamespace(d=d, fa=d / "seqs.fa", lab=d / "labels.csv", h5=d / "data.h5", run=d / "run", ids=ids,
                           n=len(ids), n_test=n_test, cfg=cfg)


# ------------------------------------------------------------------------------------------------- verbs and cases


def encode(fa="seqs.fa", lab="labels.csv", *extra):
    """``seqcnn encode`` of input files named in the module folder; output o.h5."""
    return lambda w, o: ["encode", w.d / fa, "-l", w.d / lab, "-o", o / "o.h5", *extra]


def info(h5):
    """``seqcnn info`` of a file in the module folder."""
    return lambda w, o: ["info", w.d / h5]


def train(h5="data.h5", *extra, config=None):
    """``seqcnn train`` for one tiny epoch; output folder r (and r.partial while it runs)."""
    return lambda w, o: ["train", w.d / h5, "-o", o / "r", "--epochs", "1", "--no-plots", "--bootstrap", "0", *TINY,
                         *extra, *(["--config", w.d / config] if config else [])]


def evaluate(run="run", h5="data.h5", *extra):
    """``seqcnn evaluate``; output m.json (and m_roc.png, m_pr.png)."""
    return lambda w, o: ["evaluate", w.d / run, w.d / h5, "-o", o / "m.json", "--bootstrap", "0", *extra]


def predict(run="run", fa="seqs.fa", *extra):
    """``seqcnn predict``; output p.csv."""
    return lambda w, o: ["predict", w.d / run, w.d / fa, "-o", o / "p.csv", *extra]


def variants(run="run", ref="seqs.fa", alt="alt.fa", *extra):
    """``seqcnn variants`` on allele pairs without figures; output v.tsv."""
    return lambda w, o: ["variants", w.d / run, "--ref-fasta", w.d / ref, "--alt-fasta", w.d / alt, "-o",
                         o / "v.tsv", "--no-plots", *extra]


def mutagenesis(run="run", inp="data.h5", *extra):
    """``seqcnn mutagenesis`` without figures; output m.h5."""
    return lambda w, o: ["mutagenesis", w.d / run, w.d / inp, "-o", o / "m.h5", "--no-plots", *extra]


def motifs(run="run", h5="data.h5", *extra):
    """``seqcnn motifs`` without JASPAR, influence or logos (fast); output folder mo."""
    return lambda w, o: ["motifs", w.d / run, w.d / h5, "-o", o / "mo", "--jaspar", "none", "--no-influence",
                         "--no-plots", *extra]


def discover(run="run", h5="data.h5", *extra):
    """``seqcnn discover`` without JASPAR or logos; output folder di."""
    return lambda w, o: ["discover", w.d / run, w.d / h5, "-o", o / "di", "--jaspar", "none", "--no-plots", *extra]


def report(run="run", data=None):
    """``seqcnn report`` of the run alone (or with the dataset ``data``); output rep.html."""
    return lambda w, o: ["report", w.d / run, "-o", o / "rep.html"] + (["--data", w.d / data] if data else [])


def export(run="run", *extra):
    """``seqcnn export``; output folder ex."""
    return lambda w, o: ["export", w.d / run, "-o", o / "ex", *extra]


def encode_genome(bed, *extra):
    """``seqcnn encode`` in genome mode: a peak file of the module folder on its 3 x 5 kb genome; output o.h5."""
    return lambda w, o: ["encode", "--bed", w.d / bed, "--genome", w.d / "g.fa", "--length", str(L), "-o",
                         o / "o.h5", "--no-plots", *extra]


def scan(run="run", *extra, out="t.bw"):
    """``seqcnn scan`` of the module run over the 3 x 5 kb genome; output t.bw (and t.bw.json)."""
    return lambda w, o: ["scan", w.d / run, "--genome", w.d / "g.fa", "-o", o / out, *extra]


def simulate(*extra):
    """``seqcnn simulate`` of 20 sequences; outputs s.fa, s_labels.csv, s_sites.csv."""
    return lambda w, o: ["simulate", "-o", o / "s", "-n", "20", "--length", str(L), *extra]


# What each verb writes (relative to the case's output folder), and whether it is a folder.
OUTPUT = {"encode": ("o.h5", False), "train": ("r", True), "evaluate": ("m.json", False),
          "predict": ("p.csv", False), "mutagenesis": ("m.h5", False), "motifs": ("mo", True),
          "simulate": ("s.fa", False), "info": (None, False), "variants": ("v.tsv", False),
          "discover": ("di", True), "report": ("rep.html", False), "export": ("ex", True),
          "scan": ("t.bw", False)}


@dataclass
class Case:
    """One row of the table: a command, what its one error line must contain, or how to check acceptance."""

    args: Callable
    words: tuple = ()
    expect: str = "error"   # error | accept (same output as `same`) | counts (read, written, dropped)
    same: Callable = None
    counts: tuple = None
    setup: Callable = None  # makes files in the output folder before the run (they must survive it unchanged)
    force_too: bool = True  # also run with --force over a pre-existing output
    read: Callable = None   # output → comparable value (accept) or number of records (counts)


def _sentinel(path, is_dir):
    """A pre-existing output (a file, or a folder with a file) whose bytes must survive a failing call."""
    if is_dir:
        path.mkdir()
        (path / "sentinel.txt").write_text("precious\n")
    else:
        path.write_text("precious\n")


def _partial_with_damaged_checkpoint(w, o):
    """An interrupted run r.partial whose checkpoint state.json is cut short."""
    ck = o / "r.partial" / "checkpoint"
    ck.mkdir(parents=True)
    (ck / "state.json").write_text('{"epoch": 0, ')
    (o / "r.partial" / "config.json").write_text(json.dumps(w.cfg))


def _exists(verb):
    """Setup that pre-creates the verb's output."""
    return lambda w, o: _sentinel(o / OUTPUT[verb][0], OUTPUT[verb][1])


def _bigwig_intervals(p):
    """How many intervals (values) a bigWig holds, over all its chromosomes."""
    import pyBigWig

    bw = pyBigWig.open(str(p))
    try:
        return sum(len(bw.intervals(c) or ()) for c in bw.chroms())
    finally:
        bw.close()


def _read_h5(p):
    """An encoded dataset as comparable bytes: x, ids, y, split."""
    from seqcnn.store import open_dataset

    with open_dataset(p) as ds:
        return ds.read_x().tobytes(), list(ds.ids), ds.y.tobytes(), ds.split.tobytes()


def _read_ism(p):
    """An ISM file as comparable values: delta and ids."""
    with h5py.File(p) as f:
        return f["delta"][:].tobytes(), list(f["ids"].asstr()[:])


def _rows_h5(p):
    """Records in an HDF5 output (its ids)."""
    with h5py.File(p) as f:
        return len(f["ids"])


RUN_DAMAGE = {
    "run_no_model": ("run_no_model", "no model.keras", "seqcnn train"),
    "run_garbage_model": ("run_garbage", "not a Keras model file", "re-train"),
    "run_broken_config": ("config.json", "not valid JSON", "re-train"),
    "run_config_missing_keys": ("run_keys", "'model' section", "re-train"),
    "run_missing": ("no_such_run", "run directory not found", "seqcnn train"),
    "run_is_a_file": ("run_file", "not a run directory", "seqcnn train"),
}
RUN_DIR_OF = {"run_no_model": "run_no_model", "run_garbage_model": "run_garbage", "run_broken_config": "run_bad_json",
              "run_config_missing_keys": "run_keys", "run_missing": "no_such_run", "run_is_a_file": "run_file"}
H5_BAD = {
    "h5_foreign": ("foreign.h5", "not a seqcnn dataset", "seqcnn encode"),
    "h5_newer_schema": ("newer.h5", "schema 99", "upgrade seqcnn"),
    "h5_not_hdf5": ("junk.h5", "not a readable HDF5", "seqcnn encode"),
    "h5_truncated": ("truncated.h5", "not a readable HDF5", "seqcnn encode"),
}

CASES = {
    # FASTA: malformed records, for every verb that reads FASTA
    "encode/no_header": Case(encode("no_header.fa"), ("no_header.fa", "not a FASTA file", "'>id' header")),
    "predict/no_header": Case(predict(fa="no_header.fa"), ("no_header.fa", "not a FASTA file", "'>id' header")),
    "mutagenesis/no_header": Case(mutagenesis(inp="no_header.fa"), ("no_header.fa", "not a FASTA file", "'>id'")),
    "encode/empty_seq": Case(encode("empty_seq.fa"), ("empty_seq.fa", "record 'seq000001'", "empty sequence",
                                                      "remove the record")),
    "predict/empty_seq": Case(predict(fa="empty_seq.fa"), ("empty_seq.fa", "record 'seq000001'", "empty sequence",
                                                           "remove the record")),
    "mutagenesis/empty_seq": Case(mutagenesis(inp="empty_seq.fa"), ("empty_seq.fa", "record 'seq000001'",
                                                                    "empty sequence", "remove the record")),
    "encode/spaces": Case(encode("spaces.fa"), ("spaces.fa", "space inside a sequence on line 8", "remove the spaces")),
    "predict/spaces": Case(predict(fa="spaces.fa"), ("spaces.fa", "space inside a sequence", "remove the spaces")),
    "encode/digits": Case(encode("digits.fa"), ("digits.fa", "record 'seq000002'", "'7' at position 6",
                                                "only A, C, G, T")),
    "predict/digits": Case(predict(fa="digits.fa"), ("digits.fa", "record 'seq000002'", "'7' at position 6",
                                                     "only A, C, G, T")),
    "mutagenesis/digits": Case(mutagenesis(inp="digits.fa"), ("digits.fa", "record 'seq000002'", "'7'",
                                                              "only A, C, G, T")),
    "encode/crlf": Case(encode("crlf.fa", "crlf_labels.csv"), expect="accept", same=encode(), read=_read_h5),
    "predict/crlf": Case(predict(fa="crlf.fa"), expect="accept", same=predict(), read=lambda p: p.read_bytes()),
    "mutagenesis/crlf": Case(mutagenesis("run", "crlf.fa", "--ids", "seq000000,seq000007"), expect="accept",
                             same=mutagenesis("run", "seqs.fa", "--ids", "seq000000,seq000007"), read=_read_ism),
    "encode/not_gzip": Case(encode("not_gzip.fa.gz"),
                            ("not_gzip.fa.gz", "not a FASTA file: it is binary data", "gzip-compressed FASTA")),
    "predict/not_gzip": Case(predict(fa="not_gzip.fa.gz"),
                            ("not_gzip.fa.gz", "not a FASTA file: it is binary data", "gzip-compressed FASTA")),
    "encode/corrupt_gzip": Case(encode("corrupt_gzip.fa.gz"), ("corrupt_gzip.fa.gz", "corrupt gzip", "re-compress")),
    "predict/corrupt_gzip": Case(predict(fa="corrupt_gzip.fa.gz"), ("corrupt_gzip.fa.gz", "corrupt gzip",
                                                                    "re-compress")),
    "encode/truncated_gzip": Case(encode("truncated.fa.gz"), ("truncated.fa.gz", "truncated", "fetch it again")),
    "predict/truncated_gzip": Case(predict(fa="truncated.fa.gz"), ("truncated.fa.gz", "truncated", "fetch it again")),
    "mutagenesis/truncated_gzip": Case(mutagenesis(inp="truncated.fa.gz"), ("truncated.fa.gz", "truncated",
                                                                            "fetch it again")),
    # label tables
    "encode/labels_missing_column": Case(encode(lab="missing_col.csv"), ("missing_col.csv", "missing column(s) 'label'",
                                                                         "--label-column")),
    "encode/labels_non_numeric": Case(encode("seqs.fa", "nonnumeric.csv", "--task", "binary"),
                                      ("nonnumeric.csv", "record 'seq000003'", "'x'", "not 0 or 1", "--task")),
    "encode/labels_non_numeric_multilabel": Case(
        encode("seqs.fa", "nonnumeric_ml.csv", "--label-column", "a", "--label-column", "b"),
        ("nonnumeric_ml.csv", "record 'seq000003'", "'bound'", "not 0 or 1")),
    "encode/labels_nan": Case(encode(lab="nan.csv"), ("nan.csv", "record 'seq000003'", "missing label",
                                                      "--drop-unlabelled")),
    "encode/labels_ragged": Case(encode(lab="ragged.csv"), ("ragged.csv", "not a readable CSV/TSV",
                                                            "check the delimiter")),
    "encode/ids_differ_in_case": Case(encode(lab="upper_ids.csv"), ("seqs.fa", "record 'seq000000'", "upper_ids.csv",
                                                                    "differs only in case")),
    "encode/ids_differ_in_whitespace": Case(encode(lab="padded_ids.tsv"), expect="accept", same=encode(),
                                            read=_read_h5),
    "mutagenesis/ids_differ_in_case": Case(mutagenesis("run", "data.h5", "--ids", "SEQ000004"),
                                           ("data.h5", "unknown id 'SEQ000004'", "differs only in case")),
    # --split fractions
    "encode/split_out_of_range": Case(encode("seqs.fa", "labels.csv", "--split", "1.5,-0.5,0"),
                                      ("--split '1.5,-0.5,0'", "between 0 and 1", "e.g. --split")),
    "encode/split_sum": Case(encode("seqs.fa", "labels.csv", "--split", "0.7,0.7,0.1"),
                             ("sums to 1.5", "e.g. --split")),
    "encode/split_nan": Case(encode("seqs.fa", "labels.csv", "--split", "nan,0.5,0.5"),
                             ("between 0 and 1", "e.g. --split")),
    # models and data that do not fit each other
    "evaluate/length_mismatch": Case(evaluate(h5="short.h5"), ("short.h5", "40 bp", "30 bp", "--length 40")),
    "motifs/length_mismatch": Case(motifs(h5="short.h5"), ("short.h5", "40 bp", "30 bp", "--length 40")),
    "mutagenesis/length_mismatch": Case(mutagenesis(inp="short.h5"), ("short.h5", "40 bp", "30 bp", "--length 40")),
    "predict/length_mismatch": Case(predict(fa="short.fa"), ("short.fa", "record 'a'", "takes 40 bp", "give 40 bp")),
    "evaluate/task_mismatch": Case(evaluate(h5="multiclass.h5"), ("multiclass.h5", "binary", "multiclass",
                                                                  "use data like")),
    "mutagenesis/task_mismatch": Case(mutagenesis(inp="multiclass.h5"), ("multiclass.h5", "multiclass",
                                                                         "use data like")),
    "motifs/task_mismatch": Case(motifs(h5="multiclass.h5"), ("multiclass.h5", "multiclass", "use data like")),
    # JASPAR names pyjaspar does not know: the valid ones listed, before anything is loaded or trained
    "train/unknown_jaspar_group": Case(train("data.h5", "--jaspar", "yeast"), ("'yeast'", "fungi", "vertebrates")),
    "motifs/unknown_jaspar_group": Case(motifs("run", "data.h5", "--jaspar", "yeast"), ("'yeast'", "fungi", "plants")),
    "discover/unknown_jaspar_collection": Case(discover("run", "data.h5", "--jaspar-collection", "COREX"),
                                               ("'COREX'", "CORE", "UNVALIDATED")),
    "variants/unknown_jaspar_release": Case(variants("run", "seqs.fa", "alt.fa", "--jaspar-release", "JASPAR1999"),
                                            ("'JASPAR1999'", "JASPAR2024")),
    # architectures and training configurations
    "train/unknown_param": Case(train("data.h5", "--param", "depth=3"), ("no parameter 'depth'",
                                                                         "its parameters are")),
    "train/unknown_arch": Case(train("data.h5", "--arch", "resnet"), ("unknown architecture 'resnet'",
                                                                      "choose one of")),
    "train/param_out_of_range": Case(train("data.h5", "--param", "filters=-3"), ("invalid hyper-parameter", "filters",
                                                                                "seqcnn models")),
    "train/dropout_out_of_range": Case(train("data.h5", "--param", "dropout=2"), ("invalid hyper-parameter",
                                                                                 "seqcnn models")),
    "train/kernel_longer_than_data": Case(train("data.h5", "--param", "kernel_size=41"),
                                          ("kernel_size 41", "(40 bp)", "lower --param kernel_size")),
    "train/config_unknown_param": Case(train(config="cfg_unknown.json"),
                                       ("cfg_unknown.json", "'depth'", "its parameters are")),
    "train/config_wrong_type": Case(train(config="cfg_type.json"),
                                    ("cfg_type.json", "filters='many'", "default is 128")),
    "train/config_not_an_object": Case(train(config="cfg_list.json"),
                                       ("cfg_list.json", "'hparams' must be a JSON object", "e.g.")),
    "train/config_broken_json": Case(train(config="run_bad_json"),
                                     ("config.json", "not valid JSON", "repair the file")),
    "train/resume_damaged_checkpoint": Case(train("data.h5", "--resume"), ("r.partial", "damaged checkpoint",
                                                                           "--force"),
                                            setup=_partial_with_damaged_checkpoint),
    # simulate
    "simulate/positive_fraction": Case(simulate("--positive-fraction", "1.5"), ("(1.5)", "between 0 and 1",
                                                                                "--positive-fraction 0.5")),
    "simulate/negative_sites": Case(simulate("--sites", "-1"), ("--sites", "got -1", "1 plants one site")),
    "simulate/unknown_motif": Case(simulate("--motif", "MA9999.1"), ("MA9999.1", "not found", "check the matrix id")),
    # scan: the grid, the outputs, the sites, regions and chromosomes
    "scan/stride_zero": Case(scan("run", "--stride", "0"), ("--stride 0", "between 1 and the model's window length 40",
                                                             "e.g. --stride 10")),
    "scan/stride_over_window": Case(scan("run", "--stride", "41"), ("--stride 41", "window length 40")),
    "scan/unknown_extension": Case(scan("run", out="t.wig"), ("t.wig", "unknown track extension", ".bw")),
    "scan/region_outside_chromosome": Case(lambda w, o: scan()(w, o) + ["--regions", w.d / "bed_far.bed"], (
        "bed_far.bed", "line 2", "chrA:4000-6000", "ends past the chromosome's end (5000 bp)", "0-based")),
    "scan/unknown_chrom": Case(scan("run", "--chroms", "chrA,chrZ"), ("g.fa", "chrZ", "not in the genome",
                                                                      "FASTA headers")),
    "scan/chroms_chr_prefix": Case(scan("run", "--chroms", "A,B"), ("g.fa", "named like", "UCSC chr1 vs Ensembl 1")),
    "scan/threshold_out_of_range": Case(scan("run", "--sites", "s.bed", "--threshold", "1.5"),
                                        ("--threshold 1.5", "strictly between 0 and 1", "e.g. --threshold 0.9")),
    "scan/sites_without_probability": Case(scan("run", "--sites", "s.bed", "--value", "logit"),
                                           ("--sites needs a probability track", "drop --value logit")),
    "scan/max_n_out_of_range": Case(scan("run", "--max-n", "1.5"), ("--max-n 1.5", "between 0 and 1")),
    "scan/unknown_output_name": Case(scan("run", "--output-name", "CTCF"), ("'CTCF'", "not one of the model's outputs",
                                                                           "give one of those names")),
    "scan/chroms_and_regions": Case(lambda w, o: scan("run", "--chroms", "chrA")(w, o) + ["--regions",
                                                                                         w.d / "bed_far.bed"],
                                    ("--chroms or --regions, not both",)),
    "scan/bad_shard": Case(scan("run", "--shard", "4/3"), ("--shard '4/3'", "K/N", "--shard 3/10")),
    "scan/merge_missing_part": Case(lambda w, o: ["scan", "--merge", w.d / "no_such.bw", "-o", o / "t.bw"],
                                    ("no_such.bw", "shard track not found", "check the path")),
    "scan/counts": Case(scan(), expect="counts", counts=(1500, 1488, 12), read=_bigwig_intervals),
    # outputs that exist: refused without --force, left as they were
    **{f"{verb}/exists_no_force": Case(args, ("already exists", "--force"), setup=_exists(verb), force_too=False)
       for verb, args in [("encode", encode()), ("train", train()), ("evaluate", evaluate()), ("predict", predict()),
                          ("mutagenesis", mutagenesis()), ("motifs", motifs()), ("simulate", simulate()),
                          ("variants", variants()), ("discover", discover()), ("report", report()),
                          ("export", export()), ("scan", scan())]},
    "evaluate/figure_exists_no_force": Case(evaluate(), ("m_roc.png", "already exists", "--force"), force_too=False,
                                            setup=lambda w, o: (o / "m_roc.png").write_text("precious\n")),
    "mutagenesis/plots_exist_no_force": Case(lambda w, o: [a for a in mutagenesis()(w, o) if a != "--no-plots"],
                                             ("m_plots", "already exists", "--force"), force_too=False,
                                             setup=lambda w, o: _sentinel(o / "m_plots", True)),
    "train/interrupted_run_no_resume": Case(train(), ("r.partial", "interrupted run", "--resume"), force_too=False,
                                            setup=_partial_with_damaged_checkpoint),
    # records read = written + dropped
    "encode/counts": Case(encode("seqs.fa", "partial_labels.csv", "--drop-unlabelled"), expect="counts",
                          counts=(120, 100, 20), read=_rows_h5),
    "predict/counts": Case(predict(), expect="counts", counts=(120, 120, 0),
                           read=lambda p: len(pd.read_csv(p))),
    "mutagenesis/counts": Case(mutagenesis("run", "data.h5", "--split", "test"), expect="counts",
                               counts=(120, "n_test", "n_rest"), read=_rows_h5),
    "train/counts": Case(train(), expect="counts", counts=(120, 120, 0)),
    "evaluate/counts": Case(evaluate(), expect="counts", counts=(120, "n_test", "n_rest"),
                            read=lambda p: json.loads(p.read_text())["n"]),
    "motifs/counts": Case(motifs("run", "data.h5", "--split", "test"), expect="counts",
                          counts=(120, "n_test", "n_rest")),
    "discover/counts": Case(discover("run", "data.h5", "--split", "test", "--records", "all"), expect="counts",
                            counts=(120, "n_test", "n_rest")),
    # genome mode: BED files as users write them
    "encode/bed_header": Case(encode_genome("bed_header.bed"), ("bed_header.bed", "line 1: looks like a header line",
                                                                "prefix it with '#'")),
    "encode/bed_duplicate_names": Case(encode_genome("bed_dupnames.bed"), (
        "bed_dupnames.bed", "line 1: name '32' (column 4) is used again on line 3", "must be unique",
        "put '.' in column 4")),
    "encode/bed_overlaps": Case(encode_genome("bed_overlap.bed"), expect="counts", counts=(4, 3, 1)),
}
for _name, (_file, *_words) in H5_BAD.items():
    for _verb, _args in [("info", info(_file)), ("train", train(_file)), ("evaluate", evaluate(h5=_file)),
                         ("mutagenesis", mutagenesis(inp=_file)), ("motifs", motifs(h5=_file)),
                         ("discover", discover(h5=_file)), ("report", report(data=_file))]:
        if _name == "h5_not_hdf5" and _verb == "mutagenesis":
            # mutagenesis also reads FASTA, so a file that is not HDF5 is judged as FASTA
            CASES[f"{_verb}/{_name}"] = Case(_args, (_file, "not a FASTA file", "'>id' header"))
        else:
            CASES[f"{_verb}/{_name}"] = Case(_args, (_file, *_words))
for _name, (_file, *_words) in RUN_DAMAGE.items():
    _run = RUN_DIR_OF[_name]
    for _verb, _args in [("evaluate", evaluate(run=_run)), ("predict", predict(run=_run)),
                         ("mutagenesis", mutagenesis(run=_run)), ("motifs", motifs(run=_run)),
                         ("variants", variants(run=_run)), ("discover", discover(run=_run)),
                         ("report", report(run=_run)), ("export", export(run=_run)), ("scan", scan(run=_run))]:
        CASES[f"{_verb}/{_name}"] = Case(_args, (_file, *_words))


# ------------------------------------------------------------------------------------------------- the checks


def _invoke(args):
    """Run the CLI in-process, catching exceptions so a traceback is reported, not raised."""
    from click.testing import CliRunner

    from seqcnn.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def _snapshot(folder):
    """Every path under ``folder`` with its content hash (folders as None): what a failing call must not change."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            out[os.path.relpath(os.path.join(root, name), folder)] = None
        for name in files:
            p = os.path.join(root, name)
            out[os.path.relpath(p, folder)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def _check_error(res, words, args):
    """Exit 2, nothing on stdout, one ``seqcnn: error:`` line on stderr containing every word, no traceback."""
    where = f"$ seqcnn {' '.join(map(str, args))}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        where += "\n" + "".join(traceback.format_exception(*res.exc_info))
    assert res.exit_code == 2, where
    assert "Traceback" not in res.stdout + res.stderr, where
    assert res.stdout == "", where
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqcnn: error: "), where
    for word in words:
        assert word in lines[0], (word, lines[0])


def _counts(stdout):
    """``(read, written, dropped)`` from a "records read N = written|used|scored|scanned M + dropped K" line."""
    m = re.search(r"records read (\d+) = (?:written|used|scored|scanned) (\d+)(?: \([^)]*\))? \+ dropped (\d+)",
                  stdout)
    assert m, stdout
    return tuple(int(v) for v in m.groups())


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_battery(case_id, w, tmp_path):
    """Run one row of the table: error, accept or counts (see the module docstring)."""
    case = CASES[case_id]
    verb = case_id.split("/")[0]
    o = tmp_path / "out"
    o.mkdir()
    args = case.args(w, o)
    if case.expect == "accept":
        ref = tmp_path / "ref"
        ref.mkdir()
        a, b = _invoke(args), _invoke(case.same(w, ref))
        assert a.exit_code == 0 and b.exit_code == 0, (a.stderr, b.stderr)
        name = OUTPUT[verb][0]
        assert case.read(o / name) == case.read(ref / name)
        return
    if case.expect == "counts":
        res = _invoke(args)
        assert res.exit_code == 0, res.stderr
        read, written, dropped = _counts(res.stdout)
        want = tuple({"n_test": w.n_test, "n_rest": w.n - w.n_test}.get(v, v) for v in case.counts)
        assert (read, written, dropped) == want and read == written + dropped
        if case.read is not None:
            assert case.read(o / OUTPUT[verb][0]) == written  # the file holds what the line says
        return
    if case.setup:
        case.setup(w, o)
    before = _snapshot(o)
    _check_error(_invoke(args), case.words, args)
    assert _snapshot(o) == before  # no partial output, nothing touched
    name, is_dir = OUTPUT[verb]
    if case.force_too and name is not None:
        # A failing run with --force must not destroy what was there: outputs are replaced only when complete.
        _sentinel(o / name, is_dir)
        before = _snapshot(o)
        forced = args + ["--force"]
        _check_error(_invoke(forced), case.words, forced)
        assert _snapshot(o) == before


# ------------------------------------------------------------------------------ the same output written twice at once

# Where each verb moves its finished output into place (module, function), and its plain invocation.
PUBLISHERS = {"encode": ("store", "publish"), "train": ("training", "publish_dir"),
              "evaluate": ("scoring", "publish_all"), "predict": ("scoring", "publish"),
              "mutagenesis": ("mutagenesis", "publish"), "motifs": ("motifs", "publish_dir"),
              "simulate": ("outputs", "publish_all"), "variants": ("variants", "publish"),
              "discover": ("outputs", "publish_dir"), "report": ("report", "publish"),
              "export": ("export", "publish_dir"), "scan": ("scan", "publish_all")}
PLAIN = {"encode": encode(), "train": train("data.h5", "--quiet"), "evaluate": evaluate(), "predict": predict(),
         "mutagenesis": mutagenesis(), "motifs": motifs(), "simulate": simulate(), "variants": variants(),
         # discover's stage lines (stderr) come before an error at the final move: -q leaves the error alone
         "discover": discover("run", "data.h5", "-q"), "report": report(), "export": export(), "scan": scan()}


@pytest.mark.parametrize("verb", sorted(PLAIN))
def test_an_output_that_appears_while_the_verb_runs_is_not_replaced(verb, w, tmp_path, monkeypatch):
    """Two commands with the same -o both pass the start-up check; the later final move must not replace the
    other's output without --force: one line, exit 2, the other output intact, nothing of this run left."""
    import importlib

    o = tmp_path / "out"
    o.mkdir()
    name, is_dir = OUTPUT[verb]
    module, function = PUBLISHERS[verb]
    mod = importlib.import_module(f"seqcnn.{module}")
    real = getattr(mod, function)

    def other_command_finishes_first(*args, **kwargs):
        if not (o / name).exists():
            _sentinel(o / name, is_dir)
        return real(*args, **kwargs)

    monkeypatch.setattr(mod, function, other_command_finishes_first)
    args = PLAIN[verb](w, o)
    _check_error(_invoke(args), ("appeared while this", "--force"), args)
    planted = o / name
    assert (planted / "sentinel.txt" if is_dir else planted).read_text() == "precious\n"
    left = sorted(p.name for p in o.iterdir())
    # a finished training is kept (and named in the message) rather than thrown away, and can replace it
    assert left == ([name, f"{name}.partial"] if verb == "train" else [name]), left
    if verb == "train":
        monkeypatch.setattr(mod, function, real)
        res = _invoke(args + ["--resume", "--force"])
        assert res.exit_code == 0, res.stderr
        assert (o / name / "model.keras").exists() and sorted(p.name for p in o.iterdir()) == [name]


def test_two_encodes_started_together_one_wins(w, tmp_path):
    """As a user would: two `seqcnn encode ... -o same.h5` at once; exactly one writes it, the other exits 2."""
    import subprocess
    import sys

    recs = [(f"r{i}", "ACGT" * 50) for i in range(60_000)]
    fa = write_fasta(tmp_path / "big.fa", recs)
    (tmp_path / "big.csv").write_text("id,label\n" + "".join(f"r{i},{i % 2}\n" for i in range(len(recs))))
    cmd = [sys.executable, "-m", "seqcnn", "encode", str(fa), "-l", str(tmp_path / "big.csv"), "-o",
           str(tmp_path / "same.h5"), "-q"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    err = next(e for rc, e in results if rc == 2).strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seqcnn: error: ") and "same.h5" in err[0], err
    from seqcnn.store import open_dataset

    with open_dataset(tmp_path / "same.h5") as ds:
        assert ds.n == len(recs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "big.fa", "same.h5"]  # no temporary left
