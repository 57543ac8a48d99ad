"""Tests of seqcnn.readers: FASTA parsing edge cases and label tables."""

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqcnn.errors import InputFormatError, LabelError, SeqcnnError
from seqcnn.readers import FastaReader, chrom_from_id, read_fasta, read_labels, sha256_file

from conftest import write_fasta


def test_read_fasta_multiline_and_first_word(tmp_path):
    p = tmp_path / "a.fa"
    p.write_text(">r1 some description\nACGT\nacgt\n>r2\nNNNN\n")
    ids, seqs = read_fasta(p)
    assert ids == ["r1", "r2"]
    assert seqs == ["ACGTacgt", "NNNN"]


def test_trailing_whitespace_is_accepted(tmp_path):
    p = tmp_path / "t.fa"
    p.write_text(">a  \nACGT  \nAC\t\n")
    assert read_fasta(p) == (["a"], ["ACGTAC"])


def test_windows_line_endings_are_accepted(tmp_path):
    p = write_fasta(tmp_path / "w.fa", [("a", "ACGT"), ("b", "GGCC")], newline="\r\n")
    assert read_fasta(p) == (["a", "b"], ["ACGT", "GGCC"])


def test_gzip_detected_by_content_and_hashed(tmp_path):
    p = tmp_path / "a.fa.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(">x\nACGT\n")
    reader = FastaReader(p)
    assert [b for b in reader] == [(["x"], ["ACGT"])]
    assert reader.sha256 == sha256_file(p)
    # A plain file named .gz still reads: the name is not trusted, the bytes are.
    q = tmp_path / "plain.fa.gz"
    q.write_text(">y\nAC\n")
    assert read_fasta(q) == (["y"], ["AC"])


def test_truncated_gzip(tmp_path):
    p = tmp_path / "t.fa.gz"
    data = gzip.compress((">x\n" + "ACGT" * 5000 + "\n").encode())
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFormatError, match="truncated"):
        read_fasta(p)


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "c.fa.gz"
    p.write_bytes(b"\x1f\x8b" + b"garbage" * 20)
    with pytest.raises(InputFormatError, match="gzip"):
        read_fasta(p)


@pytest.mark.parametrize("text,match", [
    ("", "empty file"),
    ("\n\n", "empty file"),
    ("ACGT\n>x\nACGT\n", "not a FASTA file"),
    ("id,label\nx,1\n", "not a FASTA file"),
    (">\nACGT\n", "header without an id"),
    (">a\nAC GT\n", "space inside a sequence on line 2"),
])
def test_bad_fasta(tmp_path, text, match):
    p = tmp_path / "bad.fa"
    p.write_text(text)
    with pytest.raises(InputFormatError, match=match):
        read_fasta(p)


@pytest.mark.parametrize("data,match", [
    (b"\x89HDF\r\n\x1a\n\x00\x00", "it is an HDF5 file.*DATA.h5"),
    (b"BZh91AY&SY\x01", "it is bzip2-compressed.*decompress"),
    (b"PK\x03\x04\x14\x00", "it is a zip archive"),
    (b"\x01\x02\x03abc\n", "it is binary data"),
])
def test_binary_files_are_named_not_quoted(tmp_path, data, match):
    p = tmp_path / "bin.fa"
    p.write_bytes(data)
    with pytest.raises(InputFormatError, match=match):
        read_fasta(p)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputFormatError, match="not found"):
        read_fasta(tmp_path / "nope.fa")
    with pytest.raises(InputFormatError, match="directory"):
        read_fasta(tmp_path)


def test_blocks_bound_memory(tmp_path):
    p = write_fasta(tmp_path / "m.fa", [(f"r{i}", "ACGT" * 25) for i in range(100)])
    blocks = list(FastaReader(p, block_bases=1000))
    assert sum(len(ids) for ids, _ in blocks) == 100
    # After the first block the reader sizes blocks to ~block_bases bases.
    assert all(sum(map(len, seqs)) <= 1000 for _, seqs in blocks[1:])
    assert len(blocks) >= 9


def test_labels_binary_csv_and_tsv(tmp_path):
    (tmp_path / "l.csv").write_text("id,label\na,1\n b ,0\n")
    t = read_labels(tmp_path / "l.csv")
    assert t.task == "binary" and list(t.ids) == ["a", "b"]
    np.testing.assert_array_equal(t.y, [1, 0])
    (tmp_path / "l.tsv").write_text("name\tbound\na\t0\nb\t1\n")
    t = read_labels(tmp_path / "l.tsv", id_column="name", label_columns=["bound"])
    np.testing.assert_array_equal(t.y, [0, 1])


def test_labels_true_false_and_yes_no_are_binary(tmp_path):
    """Spreadsheets and pandas write booleans as TRUE/False: one such column is binary, not two classes."""
    (tmp_path / "b.csv").write_text("id,label\na,True\nb,false\nc, TRUE \nd,False\n")
    t = read_labels(tmp_path / "b.csv")
    assert t.task == "binary" and t.class_names == ["0", "1"]
    np.testing.assert_array_equal(t.y, [1, 0, 1, 0])
    (tmp_path / "y.csv").write_text("id,bound,open\na,yes,1\nb,No,0\nc,YES,true\n")
    t = read_labels(tmp_path / "y.csv", label_columns=["bound", "open"])
    assert t.task == "multilabel"
    np.testing.assert_array_equal(t.y, [[1, 1], [0, 0], [1, 1]])
    (tmp_path / "m.csv").write_text("id,label\na,yes\nb,no\nc,maybe\n")  # a third value: classes
    t = read_labels(tmp_path / "m.csv")
    assert t.task == "multiclass" and t.class_names == ["maybe", "no", "yes"]


def test_labels_multiclass_names_sorted_numerically(tmp_path):
    (tmp_path / "l.csv").write_text("id,label\na,10\nb,2\nc,2\nd,1\n")
    t = read_labels(tmp_path / "l.csv")
    assert t.task == "multiclass" and t.class_names == ["1", "2", "10"]
    np.testing.assert_array_equal(t.y, [2, 1, 1, 0])
    (tmp_path / "n.csv").write_text("id,label\na,GATA\nb,CTCF\nc,YY1\n")
    t = read_labels(tmp_path / "n.csv")
    assert t.class_names == ["CTCF", "GATA", "YY1"]
    np.testing.assert_array_equal(t.y, [1, 0, 2])


def test_labels_multilabel(tmp_path):
    (tmp_path / "l.csv").write_text("id,ctcf,gata\na,1,0\nb,1,1\n")
    t = read_labels(tmp_path / "l.csv", label_columns=["ctcf", "gata"])
    assert t.task == "multilabel" and t.class_names == ["ctcf", "gata"]
    np.testing.assert_array_equal(t.y, [[1, 0], [1, 1]])


@pytest.mark.parametrize("text,kwargs,match", [
    ("id,lab\na,1\n", {}, "missing column"),
    ("id,label\na,1\na,0\n", {}, "duplicate id"),
    ("id,label\na,1\nb,\n", {}, "missing label"),
    ("id,label\na,1\nb,NaN\n", {}, "missing label"),
    ("id,label\na,1\nb,bound\n", {"task": "binary"}, "not 0 or 1"),
    ("id,label\na,1\nb,1\n", {"task": "multiclass"}, "single class"),
    ("id,x,y\na,1,2\n", {"label_columns": ["x", "y"]}, "not 0 or 1"),
    ("id,label\n", {}, "no rows"),
    ("", {}, "empty label table"),
])
def test_bad_labels(tmp_path, text, kwargs, match):
    p = tmp_path / "l.csv"
    p.write_text(text)
    with pytest.raises(SeqcnnError, match=match):
        read_labels(p, **kwargs)


def test_chrom_from_id():
    assert chrom_from_id("chr1:100-300") == "chr1"
    assert chrom_from_id("chrX:1,000-2,000(+)") == "chrX"
    assert chrom_from_id("oct4_peak_17") is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_fasta_reader_fuzz_only_raises_seqcnn_errors(tmp_path, data):
    p = tmp_path / "fuzz.fa"
    p.write_bytes(data)
    try:
        read_fasta(p)
    except SeqcnnError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=">ACGTN acgt\t\n\r\x0bx", max_size=300), st.sampled_from([1, 5, 16, 1 << 22]))
def test_fasta_reader_equals_biopython(tmp_path, text, block_bases):
    """Wherever the reader accepts a file, it yields what Biopython's SimpleFastaParser does (ids: the first
    word of the title), whatever the block size cuts records at; where it refuses one, it says why."""
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    p = tmp_path / "eq.fa"
    p.write_bytes(text.encode())
    try:
        got = [r for ids, seqs in FastaReader(p, block_bases=block_bases) for r in zip(ids, seqs)]
    except InputFormatError as exc:
        assert any(w in str(exc) for w in ("empty file", "not a FASTA", "header without an id", "space inside"))
        return
    with open(p, newline=None) as fh:
        want = [(title.split()[0], seq) for title, seq in SimpleFastaParser(fh)]
    assert got == want


def test_space_inside_a_sequence_names_the_file_line(tmp_path):
    p = tmp_path / "s.fa"
    p.write_text("\n\n>a desc\nACGT\n>b\nAC\nA CG\n")
    with pytest.raises(InputFormatError, match="space inside a sequence on line 7"):
        read_fasta(p)
    # Far into a file read in small blocks: the line number counts every line before it.
    text = "".join(f">r{i}\nACGT\nAC\n" for i in range(200)) + ">bad\nAC\nA C\n"
    p.write_text(text)
    for block in (8, 100, 1 << 22):
        with pytest.raises(InputFormatError, match="space inside a sequence on line 603"):
            list(FastaReader(p, block_bases=block))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_label_reader_fuzz_only_raises_seqcnn_errors(tmp_path, text):
    p = tmp_path / "fuzz.csv"
    p.write_text(text, encoding="utf-8", errors="replace")
    try:
        read_labels(p)
    except SeqcnnError:
        pass
