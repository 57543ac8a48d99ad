"""Tests of seqcnn.encoding: exact arrays, errors, and round-trip properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqcnn.encoding import decode, encode_block, one_hot, reverse_complement, reverse_complement_seq
from seqcnn.errors import SequenceError

A, C, G, T, Z = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]


def test_one_hot_exact_with_lower_case_and_n():
    x = one_hot("ACgtNa")
    assert x.dtype == np.uint8
    np.testing.assert_array_equal(x, [A, C, G, T, Z, A])


def test_one_hot_list_shape():
    x = one_hot(["ACGT", "TTTT"])
    assert x.shape == (2, 4, 4)
    np.testing.assert_array_equal(x[1], [T, T, T, T])


def test_invalid_character_names_record_and_position():
    with pytest.raises(SequenceError, match=r"record 'r2'.*'X' at position 3"):
        encode_block(["ACGT", "ACXT"], ids=["r1", "r2"], path="f.fa")


def test_digit_and_space_are_invalid():
    with pytest.raises(SequenceError, match="position 2"):
        one_hot("A1GT")
    with pytest.raises(SequenceError, match="position 2"):
        one_hot("A GT")


def test_iupac_needs_flag():
    with pytest.raises(SequenceError, match="allow-iupac"):
        one_hot("ACRT")
    np.testing.assert_array_equal(one_hot("ACRT", allow_iupac=True), [A, C, Z, T])


def test_non_ascii_is_reported_at_its_position():
    with pytest.raises(SequenceError, match="position 3"):
        one_hot("ACéT")


def test_empty_sequence_is_an_error():
    with pytest.raises(SequenceError, match="empty sequence"):
        encode_block(["ACGT", ""], ids=["a", "b"])


def test_varying_lengths_need_length():
    with pytest.raises(SequenceError, match="--length"):
        encode_block(["ACGT", "ACG"])


@pytest.mark.parametrize("mode,expected", [
    ("center", [[Z, A, C, G, Z], [C, G, T, A, C]]),
    ("left", [[A, C, G, Z, Z], [A, C, G, T, A]]),
    ("right", [[Z, Z, A, C, G], [G, T, A, C, G]]),
])
def test_pad_and_trim_modes(mode, expected):
    x, lengths = encode_block(["ACG", "ACGTACG"], length=5, pad_mode=mode)
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(lengths, [3, 7])


def test_center_odd_padding_puts_extra_on_the_right():
    x, _ = encode_block(["AC"], length=5, pad_mode="center")
    np.testing.assert_array_equal(x[0], [Z, A, C, Z, Z])


def test_decode_exact():
    assert decode(np.array([A, Z, T], dtype=np.uint8)) == "ANT"
    assert decode(one_hot(["ACGT", "NNAA"])) == ["ACGT", "NNAA"]


def test_reverse_complement_exact():
    assert decode(reverse_complement(one_hot("AACGN"))) == "NCGTT"
    assert reverse_complement_seq("AACGn") == "nCGTT"


dna = st.text(alphabet="ACGTN", min_size=1, max_size=300)


@settings(max_examples=200, deadline=None)
@given(dna)
def test_decode_inverts_one_hot(s):
    assert decode(one_hot(s)) == s


@settings(max_examples=200, deadline=None)
@given(dna)
def test_reverse_complement_twice_is_identity_and_matches_strings(s):
    x = one_hot(s)
    np.testing.assert_array_equal(reverse_complement(reverse_complement(x)), x)
    np.testing.assert_array_equal(reverse_complement(x), one_hot(reverse_complement_seq(s)))


@settings(max_examples=100, deadline=None)
@given(st.lists(dna, min_size=1, max_size=20), st.integers(1, 100), st.sampled_from(["center", "left", "right"]))
def test_padded_block_matches_one_at_a_time(seqs, length, mode):
    x, lengths = encode_block(seqs, length=length, pad_mode=mode)
    assert x.shape == (len(seqs), length, 4)
    for row, s in zip(x, seqs):
        # Independent definition of the pad/trim policy, written plainly.
        if len(s) >= length:
            start = {"center": (len(s) - length) // 2, "left": 0, "right": len(s) - length}[mode]
            expected = s[start:start + length]
        else:
            room = length - len(s)
            left = {"center": room // 2, "left": 0, "right": room}[mode]
            expected = "N" * left + s + "N" * (room - left)
        assert decode(row) == expected


def test_encode_windows_equals_encode_block_and_checks_bases():
    from seqcnn.encoding import encode_block, encode_windows
    from seqcnn.errors import SequenceError

    seqs = ["ACGTNacgtn", "TTTTGGGGCC"]
    u8 = np.frombuffer("".join(seqs).encode(), np.uint8).reshape(2, 10)
    np.testing.assert_array_equal(encode_windows(u8), encode_block(seqs)[0])
    bad = u8.copy()
    bad[1, 3] = ord("R")
    with pytest.raises(SequenceError, match="record 'w2'.*position 4.*IUPAC"):
        encode_windows(bad, ids=["w1", "w2"])
    assert encode_windows(bad, allow_iupac=True)[1, 3].sum() == 0
