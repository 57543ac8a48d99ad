"""Tests of seqcnn.ingest (the encode pipeline): duplicate ids, found by hashing and confirmed by the stored ids."""

import numpy as np
import pytest

from seqcnn.errors import SeqcnnError
from seqcnn.ingest import encode_fasta


def _encode_with_duplicates(tmp_path, ids):
    fa, other = tmp_path / "a.fa", tmp_path / "b.fa"
    fa.write_text("".join(f">{i} extra words\nACGT\n" for i in ids))
    other.write_text(">z1\nACGT\n>z2\nACGT\n")
    with pytest.raises(SeqcnnError) as err:
        encode_fasta([fa, other], tmp_path / "o.h5", class_per_file=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fa", "b.fa"]  # no output, no temporary file
    return str(err.value), f"{fa}, {other}"


def test_duplicate_id_message(tmp_path):
    msg, where = _encode_with_duplicates(tmp_path, ["r0", "r1", "r0"])
    assert msg == f"{where}: record 'r0': duplicate record id in the FASTA input (ids (first word of headers) " \
                  "must be unique)"
    # Of several duplicated ids, the one of smallest hash is named (s7 here, as before the rewrite).
    msg, _ = _encode_with_duplicates(tmp_path, [f"s{i}" for i in range(50)] + ["s7", "s3", "s7", "s41"])
    assert "record 's7': duplicate record id" in msg


def test_hash_collision_is_not_a_duplicate(tmp_path, monkeypatch):
    import pandas as pd

    # Every id hashes to the same value: only the stored ids can tell duplicates from collisions.
    monkeypatch.setattr(pd.util, "hash_array", lambda a: np.zeros(len(a), np.uint64))
    fa, other = tmp_path / "a.fa", tmp_path / "b.fa"
    fa.write_text(">a\nACGT\n>b\nACGT\n>c\nACGT\n")
    other.write_text(">d\nACGT\n")
    report = encode_fasta([fa, other], tmp_path / "o.h5", class_per_file=True)
    assert report["records_written"] == 4
    fa.write_text(">a\nACGT\n>b\nACGT\n>c\nACGT\n>b\nACGT\n")
    with pytest.raises(SeqcnnError, match="record 'b': duplicate record id"):
        encode_fasta([fa, other], tmp_path / "o2.h5", class_per_file=True)
