"""End-to-end tests of ``seqcnn encode`` and ``seqcnn info``: every option and every bad input."""

import gzip
import json
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import JANGGU, write_fasta
from seqcnn.store import open_dataset


@pytest.fixture
def small(tmp_path):
    """Six 8-bp records and their labels."""
    recs = [(f"r{i}", s) for i, s in enumerate(["ACGTACGT", "acgtNNNN", "TTTTAAAA", "GGGGCCCC", "ACACACAC",
                                                 "GTGTGTGT"])]
    fa = write_fasta(tmp_path / "s.fa", recs)
    lab = tmp_path / "l.csv"
    lab.write_text("id,label,cls,split,chrom\n" + "\n".join(
        f"r{i},{i % 2},{'abc'[i % 3]},{['train', 'val', 'test'][i % 3]},chr{1 + i % 2}" for i in range(6)) + "\n")
    return tmp_path, fa, lab


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("seqcnn: error: ")
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    assert "Traceback" not in result.stderr


def test_encode_binary_and_info(cli, small):
    d, fa, lab = small
    r = cli("encode", fa, "--labels", lab, "-o", d / "o.h5", "--split", "0.5,0.5,0")
    assert r.exit_code == 0, r.stderr
    assert "6 records x 8 bp" in r.stdout and "records read 6 = written 6 + dropped 0" in r.stdout
    with open_dataset(d / "o.h5") as ds:
        assert ds.task == "binary" and list(ds.ids) == [f"r{i}" for i in range(6)]
        np.testing.assert_array_equal(ds.y, [0, 1, 0, 1, 0, 1])
        assert (ds.split != 2).all()
        assert ds.attrs["command"].startswith("seqcnn encode")
        assert len(ds.attrs["sources"]) == 2 and all(len(s["sha256"]) == 64 for s in ds.attrs["sources"])
    info = cli("info", d / "o.h5")
    assert info.exit_code == 0 and "task binary" in info.stdout and "stratified-random" in info.stdout
    js = json.loads(cli("info", d / "o.h5", "--json").stdout)
    assert js["records"] == 6 and js["splits"]["test"]["n"] == 0


def test_encode_multiclass_multilabel_and_task(cli, small):
    d, fa, lab = small
    assert cli("encode", fa, "-l", lab, "--label-column", "cls", "-o", d / "m.h5", "-q").exit_code == 0
    with open_dataset(d / "m.h5") as ds:
        assert ds.task == "multiclass" and ds.class_names == ["a", "b", "c"] and ds.n_outputs == 3
    assert cli("encode", fa, "-l", lab, "--label-column", "label", "--label-column", "label", "-o", d / "x.h5",
               "-q").exit_code == 2  # duplicate column names are not two labels
    lab2 = d / "ml.csv"
    lab2.write_text("id,p,q\n" + "\n".join(f"r{i},{i % 2},{(i // 2) % 2}" for i in range(6)) + "\n")
    assert cli("encode", fa, "-l", lab2, "--label-column", "p", "--label-column", "q", "-o", d / "ml.h5").exit_code == 0
    with open_dataset(d / "ml.h5") as ds:
        assert ds.task == "multilabel" and ds.y.shape == (6, 2) and ds.class_names == ["p", "q"]
    assert cli("encode", fa, "-l", lab, "--task", "multiclass", "-o", d / "t.h5").exit_code == 0
    with open_dataset(d / "t.h5") as ds:
        assert ds.task == "multiclass" and ds.class_names == ["0", "1"]


def test_split_column_and_holdout(cli, small):
    d, fa, lab = small
    assert cli("encode", fa, "-l", lab, "--split-column", "split", "-o", d / "c.h5").exit_code == 0
    with open_dataset(d / "c.h5") as ds:
        np.testing.assert_array_equal(ds.split, [0, 1, 2, 0, 1, 2])
        assert ds.attrs["split_method"] == "column:split"
    assert cli("encode", fa, "-l", lab, "--holdout-chrom", "chr2", "-o", d / "h.h5").exit_code == 0
    with open_dataset(d / "h.h5") as ds:
        np.testing.assert_array_equal(ds.split == 2, [False, True] * 3)
    # Chromosomes from ids like chr1:100-300 when there is no chrom column.
    fa2 = write_fasta(d / "loc.fa", [("chr1:1-9", "ACGT"), ("chr8:5-9", "ACGT"), ("chr1:20-29", "TTTT"),
                                     ("chr2:1-5", "GGGG")])
    lab3 = d / "loc.csv"
    lab3.write_text("id,label\nchr1:1-9,1\nchr8:5-9,0\nchr1:20-29,0\nchr2:1-5,1\n")
    assert cli("encode", fa2, "-l", lab3, "--holdout-chrom", "chr8", "-o", d / "loc.h5").exit_code == 0
    with open_dataset(d / "loc.h5") as ds:
        np.testing.assert_array_equal(ds.split == 2, [False, True, False, False])


def test_lengths_padding_and_report(cli, tmp_path):
    fa = write_fasta(tmp_path / "v.fa", [("a", "ACGTAC"), ("b", "ACG"), ("c", "ACGTACGTAC")])
    lab = tmp_path / "l.csv"
    lab.write_text("id,label\na,1\nb,0\nc,1\n")
    r = cli("encode", fa, "-l", lab, "-o", tmp_path / "o.h5")
    _one_line_error(r, "v.fa", "record 'b'", "--length")
    assert not (tmp_path / "o.h5").exists()
    r = cli("encode", fa, "-l", lab, "-o", tmp_path / "o.h5", "--length", "6", "--pad-mode", "left")
    assert r.exit_code == 0 and "padded 1, trimmed 1" in r.stdout
    with open_dataset(tmp_path / "o.h5") as ds:
        from seqcnn.encoding import decode
        assert decode(ds.read_x()) == ["ACGTAC", "ACGNNN", "ACGTAC"]
        np.testing.assert_array_equal(ds.lengths, [6, 3, 10])
        assert ds.attrs["pad_mode"] == "left"


def test_class_per_file(cli, tmp_path):
    pos = write_fasta(tmp_path / "pos.fa", [("p1", "ACGT"), ("p2", "ACGA")])
    neg = write_fasta(tmp_path / "neg.fa", [("n1", "TTGT"), ("n2", "TCGA"), ("n3", "TTTT")])
    third = write_fasta(tmp_path / "other.fa.gz", [])
    with gzip.open(third, "wt") as fh:
        fh.write(">o1\nGGGG\n")
    assert cli("encode", pos, neg, "--class-per-file", "-o", tmp_path / "b.h5").exit_code == 0
    with open_dataset(tmp_path / "b.h5") as ds:
        np.testing.assert_array_equal(ds.y, [1, 1, 0, 0, 0])
        assert ds.task == "binary"
    assert cli("encode", pos, neg, third, "--class-per-file", "-o", tmp_path / "m.h5").exit_code == 0
    with open_dataset(tmp_path / "m.h5") as ds:
        assert ds.class_names == ["pos", "neg", "other"]
        np.testing.assert_array_equal(ds.y, [0, 0, 1, 1, 1, 2])


def test_drop_unlabelled_counts(cli, small):
    d, fa, lab = small
    part = d / "part.csv"
    part.write_text("id,label\nr0,1\nr1,0\nr2,1\n")
    r = cli("encode", fa, "-l", part, "-o", d / "o.h5")
    _one_line_error(r, "s.fa", "record 'r3'", "no label", "--drop-unlabelled")
    r = cli("encode", fa, "-l", part, "-o", d / "o.h5", "--drop-unlabelled")
    assert r.exit_code == 0 and "records read 6 = written 3 + dropped 3" in r.stdout
    with open_dataset(d / "o.h5") as ds:
        assert ds.n == 3 and ds.attrs["dropped"] == {"unlabelled": 3}


def test_case_mismatch_hint(cli, small):
    d, fa, _ = small
    lab = d / "case.csv"
    lab.write_text("id,label\n" + "\n".join(f"R{i},1" for i in range(6)) + "\n")
    _one_line_error(cli("encode", fa, "-l", lab, "-o", d / "o.h5"), "differs only in case")


@pytest.mark.parametrize("compression", ["gzip", "lzf", "none"])
def test_compression(cli, small, compression):
    d, fa, lab = small
    assert cli("encode", fa, "-l", lab, "-o", d / "o.h5", "--compression", compression,
               "--compression-level", "4").exit_code == 0
    with h5py.File(d / "o.h5") as f:
        assert f["x"].compression == (None if compression == "none" else compression)


def test_force_and_never_overwrite(cli, small):
    d, fa, lab = small
    out = d / "o.h5"
    out.write_text("precious")
    _one_line_error(cli("encode", fa, "-l", lab, "-o", out), "already exists", "--force")
    assert out.read_text() == "precious"
    assert cli("encode", fa, "-l", lab, "-o", out, "--force", "-q").exit_code == 0
    assert h5py.is_hdf5(out)


def test_quiet(cli, small):
    d, fa, lab = small
    r = cli("encode", fa, "-l", lab, "-o", d / "o.h5", "--quiet")
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""


BAD_FASTA = {
    "no_header": ("ACGT\nACGT\n", "not a FASTA file"),
    "empty": ("", "empty file"),
    "empty_seq": (">r0\n>r1\nACGT\n", "empty sequence"),
    "bad_char": (">r0\nACGT\n>r1\nAC-T\n", "'-' at position 3"),
    "digits": (">r0\nAC1T\n>r1\nACGT\n", "'1' at position 3"),
    "iupac": (">r0\nACRT\n>r1\nACGT\n", "--allow-iupac"),
    "dup_ids": (">r0\nACGT\n>r0 again\nACGT\n>r1\nACGT\n", "duplicate record id"),
    "spaces": (">r0\nAC GT\n>r1\nACGT\n", "space inside a sequence"),
    "binary": ("\x00\x01\x02garbage", "not a FASTA file"),
}


@pytest.mark.parametrize("case", sorted(BAD_FASTA))
def test_bad_fasta_exit_2_one_line_no_output(cli, small, case):
    d, _, lab = small
    text, fragment = BAD_FASTA[case]
    fa = d / f"{case}.fa"
    fa.write_text(text)
    out = d / "o.h5"
    _one_line_error(cli("encode", fa, "-l", lab, "-o", out), f"{case}.fa", fragment)
    assert not out.exists()
    assert [p.name for p in d.iterdir() if p.name.startswith(".o.h5")] == []


BAD_LABELS = {
    "missing_col": ("id,lbl\nr0,1\n", [], "missing column"),
    "nan": ("id,label\nr0,1\nr1,nan\n", [], "missing label"),
    "text_for_binary": ("id,label\nr0,1\nr1,bound\n", ["--task", "binary"], "not 0 or 1"),
    "dup": ("id,label\nr0,1\nr0,0\n", [], "duplicate id"),
    "empty": ("", [], "empty label table"),
}


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
def test_bad_labels_exit_2(cli, small, case):
    d, fa, _ = small
    text, extra, fragment = BAD_LABELS[case]
    lab = d / f"{case}.csv"
    lab.write_text(text)
    _one_line_error(cli("encode", fa, "-l", lab, "-o", d / "o.h5", *extra), f"{case}.csv", fragment)
    assert not (d / "o.h5").exists()


@pytest.mark.parametrize("args,fragment", [
    (["--split", "0.7,0.7,0.1"], "sums to"),
    (["--split", "1,2"], "three fractions"),
    (["--length", "0"], "positive"),
    (["--class-per-file"], "not both"),
    (["--split-column", "nope"], "missing column"),
    (["--holdout-chrom", "chr22"], "no record lies on"),
    # click's own option checks, in the same one-line form
    (["--pad-mode", "middle"], "'middle' is not one of"),
    (["--seed", "abc"], "'abc' is not a valid integer"),
    (["--bogus"], "No such option '--bogus'"),
])
def test_bad_options_exit_2(cli, small, args, fragment):
    d, fa, lab = small
    _one_line_error(cli("encode", fa, "-l", lab, "-o", d / "o.h5", *args), fragment)
    assert not (d / "o.h5").exists()


def test_stray_label_note(cli, tmp_path):
    """A 0/1 column with one stray value is encoded as inferred (multiclass) but the user is told why and how."""
    recs = [(f"r{i}", "ACGT" * 5) for i in range(40)]
    fa = write_fasta(tmp_path / "s.fa", recs)
    lab = tmp_path / "l.csv"
    lab.write_text("id,label\n" + "".join(f"r{i},{2 if i == 7 else i % 2}\n" for i in range(40)))
    res = cli("encode", fa, "-l", lab, "-o", tmp_path / "o.h5")
    assert res.exit_code == 0, res.stderr
    assert "multiclass" in res.stdout
    note = [line for line in res.stderr.splitlines() if line.startswith("seqcnn: note:")]
    assert len(note) == 1 and "'2' (1 record)" in note[0] and "'r7'" in note[0] and "--task binary" in note[0]
    # the same for a True/False column with a typo, named as the table spells it
    spell = ["Ture" if i == 3 else ("True", "False")[i % 2] for i in range(40)]
    lab.write_text("id,label\n" + "".join(f"r{i},{v}\n" for i, v in enumerate(spell)))
    res = cli("encode", fa, "-l", lab, "-o", tmp_path / "o3.h5")
    note = [line for line in res.stderr.splitlines() if line.startswith("seqcnn: note:")]
    assert res.exit_code == 0 and len(note) == 1 and "is False/True except 'Ture' (1 record)" in note[0], res.stderr
    # a real multiclass column (no 0/1 majority) gets no note
    lab.write_text("id,label\n" + "".join(f"r{i},{'ABC'[i % 3]}\n" for i in range(40)))
    res = cli("encode", fa, "-l", lab, "-o", tmp_path / "o2.h5")
    assert res.exit_code == 0 and "note" not in res.stderr


def test_missing_inputs_exit_2(cli, small):
    d, fa, lab = small
    _one_line_error(cli("encode", d / "nope.fa", "-l", lab, "-o", d / "o.h5"), "nope.fa", "not found")
    _one_line_error(cli("encode", fa, "-o", d / "o.h5"), "no labels")
    _one_line_error(cli("encode", fa, "-l", lab), "Missing option '-o'", "see 'seqcnn encode -h'")
    _one_line_error(cli("frobnicate"), "No such command 'frobnicate'")
    # the natural first try, the label table as a second positional argument, is answered with the fix
    _one_line_error(cli("encode", fa, lab, "-o", d / "o.h5"), "looks like a label table", f"--labels {lab}")
    _one_line_error(cli("encode", fa, "-l", lab, "-o", d / "no_dir" / "o.h5"), "does not exist")
    _one_line_error(cli("info", d / "nope.h5"), "not found")
    (d / "junk.h5").write_text("junk")
    _one_line_error(cli("info", d / "junk.h5"), "junk.h5", "not a readable HDF5")


def test_encode_does_not_import_tensorflow(small):
    d, fa, lab = small
    code = ("import sys; from seqcnn.cli import main\n"
            f"try:\n main(['encode', {str(fa)!r}, '-l', {str(lab)!r}, '-o', {str(d / 'o.h5')!r}, '-q'])\n"
            "except SystemExit as e:\n assert e.code in (0, None)\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (d / "o.h5").exists()


def test_python_dash_m_seqcnn(small):
    """``python -m seqcnn`` runs the same CLI (for environments without the console script on PATH)."""
    d, fa, lab = small
    r = subprocess.run([sys.executable, "-m", "seqcnn", "encode", str(fa), "-l", str(lab), "-o", str(d / "m.h5"),
                        "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (d / "m.h5").exists()
    r = subprocess.run([sys.executable, "-m", "seqcnn", "info", str(d / "nope.h5")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("seqcnn: error: ")


def _big_fasta(path, n=400_000, length=200):
    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, (n, length))]
    with open(path, "wb") as fh:
        for i in range(0, n, 50_000):
            block = letters[i:i + 50_000]
            fh.write(b"".join(b">r%d\n%s\n" % (i + k, row.tobytes()) for k, row in enumerate(block)))
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_killed_encode_leaves_previous_output_intact(tmp_path, sig):
    fa = _big_fasta(tmp_path / "big.fa")
    out = tmp_path / "o.h5"
    out.write_text("previous")
    # A shell's background jobs (nohup, 'make test &', some CI runners) ignore SIGINT and children inherit that:
    # Python then installs no Ctrl-C handler, the signal is lost and the encode runs to its end, where the
    # duplicate ids of this input (the same file twice) stop it with exit 2. Restore the default, so the signal
    # means what Ctrl-C in a terminal means (as tests/test_train_kill.py does); SIGTERM too, which seqcnn catches
    # only over the default action.
    proc = subprocess.Popen([sys.executable, "-m", "seqcnn.cli", "encode", str(fa), "--class-per-file", str(fa),
                             "-o", str(out), "--force", "-q"], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT,
                                                                                          signal.SIGTERM)])
    # Wait until the temporary output exists, i.e. encoding is under way.
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".o.h5") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert out.read_text() == "previous"
    if sig != signal.SIGKILL:
        if sig == signal.SIGINT:
            assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, (proc.returncode, err)
        else:  # a scheduler's stop: the same clean-up as Ctrl-C, one line, 128 + 15
            assert proc.returncode == 143 and err == "seqcnn: stopped by SIGTERM; no output was written\n", (
                proc.returncode, err)
        # A clean interrupt also removes its temporary file.
        assert [p.name for p in tmp_path.iterdir()] == ["big.fa", "o.h5"] or \
            sorted(p.name for p in tmp_path.iterdir()) == ["big.fa", "o.h5"]


def test_real_janggu_matches_independent_encoding(cli, shared_data, tmp_path):
    out = tmp_path / "janggu.h5"
    r = cli("encode", JANGGU / "train.fa", "-l", JANGGU / "train_labels.csv", "-o", out, "--split", "0.9,0.1,0",
            "--seed", "7")
    assert r.exit_code == 0, r.stderr
    # Independent encoding: plain Python parse and a dict of one-hot rows.
    ids, seqs = [], []
    for line in open(JANGGU / "train.fa"):
        line = line.strip()
        if line.startswith(">"):
            ids.append(line[1:].split()[0])
            seqs.append("")
        elif line:
            seqs[-1] += line
    table = {"A": [1, 0, 0, 0], "C": [0, 1, 0, 0], "G": [0, 0, 1, 0], "T": [0, 0, 0, 1]}
    labels = pd.read_csv(JANGGU / "train_labels.csv").set_index("id")["label"]
    with open_dataset(out) as ds:
        assert ds.n == len(ids) == 7797 and ds.length == 200 and list(ds.ids) == ids
        np.testing.assert_array_equal(ds.y, labels.loc[ids].to_numpy())
        rows = np.random.default_rng(0).choice(ds.n, 300, replace=False)
        x = ds.read_x(rows)
        for k, i in enumerate(rows):
            expected = np.array([table.get(b.upper(), [0, 0, 0, 0]) for b in seqs[i]], dtype=np.uint8)
            np.testing.assert_array_equal(x[k], expected)
        counts = ds.summary()["splits"]
        assert counts["test"]["n"] == 0 and abs(counts["val"]["n"] - 780) <= 2
        # Stratified: class balance kept in validation.
        assert abs(counts["val"]["1"] - counts["val"]["0"]) <= 2


def test_genome_mode_on_real_yeast_chrI_plain_gzip_one_chromosome(cli, shared_data, tmp_path, monkeypatch):
    """Issue 25 on the real genome: S. cerevisiae chrI alone, as plain gzip, on a machine without bgzip, with the
    Rap1 ChIP-exo peaks of chrI: a bgzip copy is made and said, the split is by position blocks, info says so."""
    import pysam

    yeast = shared_data / "yeast_r64"
    seq = pysam.FastaFile(str(yeast / "genome.fa.gz")).fetch("I")
    genome = tmp_path / "chrI.fa.gz"
    with gzip.open(genome, "wt") as fh:  # plain gzip, as most downloads are
        fh.write(">I\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)))
    peaks = pd.read_csv(yeast / "rap1_peaks.bed", sep="\t", header=None)
    bed = tmp_path / "rap1_I.narrowPeak"
    peaks[peaks[0] == "I"].to_csv(bed, sep="\t", header=False, index=False)
    monkeypatch.setenv("PATH", "")  # no bgzip, no samtools
    out = tmp_path / "one.h5"
    r = cli("encode", "--bed", bed, "--genome", genome, "--length", "100", "-o", out, "--no-plots")
    assert r.exit_code == 0, r.stderr
    notes = r.stderr.strip().splitlines()
    assert len(notes) == 1 and f"wrote a bgzip copy {tmp_path / 'chrI.bgz.fa.gz'}" in notes[0]
    assert "by position blocks (10 blocks; 1 chromosome(s) hold the peaks" in r.stdout
    n = int((peaks[0] == "I").sum())
    assert f"records read {n} = written " in r.stdout
    info = cli("info", out)
    assert info.exit_code == 0, info.stderr
    assert "split: position blocks on I (1 chromosome(s)" in info.stdout and "; test I:" in info.stdout
    assert "0 window(s) overlapping a window of another split" in info.stdout
    assert f"read through its bgzip copy {tmp_path / 'chrI.bgz.fa.gz'}" in info.stdout
    with open_dataset(out) as ds:
        assert ds.attrs["genome"]["path"] == str(genome) and ds.attrs["split_method"] == "position-blocks"
    # the second time, the copy is reused
    r = cli("encode", "--bed", bed, "--genome", genome, "--length", "100", "-o", tmp_path / "two.h5", "--no-plots")
    assert r.exit_code == 0 and "reading " in r.stderr and "wrote a bgzip copy" not in r.stderr


def test_genome_mode_overlaps_headers_and_duplicate_names_end_to_end(cli, shared_data, tmp_path):
    """The real Rap1 peaks at 200 bp: overlapping windows of one file merged and counted, or kept; a header
    line and a BED4 with repeated names refused with the line and the fix."""
    yeast = shared_data / "yeast_r64"
    genome = yeast / "genome.fa.gz"
    bed = yeast / "rap1_peaks.bed"
    r = cli("encode", "--bed", bed, "--genome", genome, "--length", "200", "-o", tmp_path / "m.h5", "--no-plots")
    assert r.exit_code == 0, r.stderr
    assert "records read 574 = written 478 + dropped 96 (past chromosome end 25, merged overlap (same file) 71); " \
           "negatives made 478" in r.stdout
    info = cli("info", tmp_path / "m.h5")
    assert "dropped at encode: past chromosome end 25, merged overlap (same file) 71" in info.stdout
    assert "overlapping peak windows of one file: merged" in info.stdout
    r = cli("encode", "--bed", bed, "--genome", genome, "--length", "200", "-o", tmp_path / "k.h5", "--no-plots",
            "--keep-overlaps")
    assert r.exit_code == 0 and "records read 574 = written 549 + dropped 25 (past chromosome end 25)" in r.stdout
    head = tmp_path / "head.bed"
    head.write_text("chrom\tstart\tend\nI\t50000\t50100\n")
    _one_line_error(cli("encode", "--bed", head, "--genome", genome, "--length", "200", "-o", tmp_path / "h.h5"),
                    "head.bed: line 1: looks like a header line", "prefix it with '#'")
    head.write_text("track name=rap1\n# from a spreadsheet\nI\t50000\t50100\nII\t50000\t50100\nIII\t50000\t50100\n"
                    "IV\t50000\t50100\n")
    r = cli("encode", "--bed", head, "--genome", genome, "--length", "200", "-o", tmp_path / "h.h5", "--no-plots")
    assert r.exit_code == 0 and "; 2 track/browser/# line(s) skipped" in r.stdout
    dup = tmp_path / "bed4.bed"
    dup.write_text("I\t50000\t50100\t32\nII\t50000\t50100\t12\nIII\t50000\t50100\t32\n")
    _one_line_error(cli("encode", "--bed", dup, "--genome", genome, "--length", "200", "-o", tmp_path / "d.h5"),
                    "bed4.bed: line 1: name '32' (column 4) is used again on line 3", "must be unique")
    assert not (tmp_path / "d.h5").exists() and not (tmp_path / "h2.h5").exists()
    _one_line_error(cli("encode", "--bed", bed, "--genome", genome, "--length", "200", "-o", tmp_path / "s.h5",
                        "--split", "0.8,0.1,0.1"), "--split cannot be combined", "overlapping windows")
