"""One-hot encoding of DNA: alphabet, ``one_hot``, ``decode``, reverse complements.

Everything is vectorised over bytes with lookup tables (no per-base Python
loops). Alphabet order is ``A C G T`` as in JASPAR and MEME; lower case is
accepted (soft-masked genomes); ``N`` encodes as an all-zero row; the other
IUPAC ambiguity codes are an error unless ``allow_iupac=True``, when they are
all-zero rows too.
"""

import numpy as np

from .errors import SequenceError

ALPHABET = "ACGT"
PAD_MODES = ("center", "left", "right")
IUPAC_AMBIGUOUS = "RYSWKMBDHV"

# A uint32 per byte, viewed as 4 uint8: one table lookup writes a whole one-hot
# row (measured ~3x faster than indexing a [256, 4] table). Little-endian on
# purpose so byte k of the word is column k on every platform.
_WORDS = np.zeros(256, dtype="<u4")
for _k, _base in enumerate(ALPHABET):
    _WORDS[ord(_base)] = _WORDS[ord(_base.lower())] = 1 << (8 * _k)

# Status of each byte: 0 base, 1 N (zero row), 2 other IUPAC code, 3 invalid.
_STATUS = np.full(256, 3, dtype=np.uint8)
for _c in ALPHABET:
    _STATUS[ord(_c)] = _STATUS[ord(_c.lower())] = 0
_STATUS[ord("N")] = _STATUS[ord("n")] = 1
for _c in IUPAC_AMBIGUOUS:
    _STATUS[ord(_c)] = _STATUS[ord(_c.lower())] = 2

_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)


def _as_bytes(seqs):
    """Concatenate sequences into one uint8 buffer; return it with per-sequence lengths."""
    if seqs and isinstance(seqs[0], (bytes, bytearray)):
        joined = b"".join(seqs)
    else:
        # 'replace' keeps one byte per character, so error positions stay right.
        joined = "".join(seqs).encode("ascii", errors="replace")
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    return np.frombuffer(joined, dtype=np.uint8), lengths


def check_bases(buf, lengths, ids=None, path=None, allow_iupac=False):
    """Raise ``SequenceError`` naming the first record and 1-based position with a character outside the alphabet.

    Parameters
    ----------
    buf : np.ndarray, shape=(total,), uint8
        Concatenated sequence bytes.
    lengths : np.ndarray, shape=(n,)
        Length of each sequence in ``buf``.
    """
    if len(buf) == 0:
        return
    status = _STATUS[buf]
    limit = 3 if allow_iupac else 2
    if status.max() < limit:
        return
    first = int(np.argmax(status >= limit))
    ends = np.cumsum(lengths)
    k = int(np.searchsorted(ends, first, side="right"))
    pos = first - (int(ends[k]) - int(lengths[k])) + 1
    char = chr(buf[first])
    record = ids[k] if ids is not None else k
    what = "an IUPAC ambiguity code" if status[first] == 2 else "not a DNA base"
    hint = ("pass --allow-iupac to encode ambiguity codes as all-zero rows"
            if status[first] == 2 else "sequences may contain only A, C, G, T and N (any case)")
    raise SequenceError(f"character {char!r} at position {pos} is {what}", path=path, record=record, hint=hint)


def encode_block(seqs, length=None, pad_mode="center", allow_iupac=False, ids=None, path=None):
    """One-hot encode a block of sequences into a fixed-length uint8 tensor.

    Parameters
    ----------
    seqs : list of str or bytes
    length : int, optional
        Output length ``L``. Required unless all sequences have the same length.
    pad_mode : {'center', 'left', 'right'}
        Where sequences are anchored when padded with all-zero rows or trimmed:
        'center' keeps the middle, 'left' keeps the start (pads/trims the 3' end),
        'right' keeps the end.
    ids, path : optional
        Used only in error messages.

    Returns
    -------
    x : np.ndarray, shape=(n, L, 4), uint8
    lengths : np.ndarray, shape=(n,), int64 — original lengths.
    """
    if pad_mode not in PAD_MODES:
        raise SequenceError(f"unknown pad mode {pad_mode!r}", hint=f"use one of {', '.join(PAD_MODES)}")
    n = len(seqs)
    buf, lengths = _as_bytes(list(seqs))
    if n and lengths.min() == 0:
        k = int(np.argmin(lengths))
        raise SequenceError("empty sequence", path=path, record=ids[k] if ids is not None else k,
                            hint="remove the record or give it bases")
    check_bases(buf, lengths, ids=ids, path=path, allow_iupac=allow_iupac)
    if length is None:
        if n == 0:
            raise SequenceError("no sequences to encode and no length given", path=path)
        if (lengths != lengths[0]).any():
            k = int(np.argmax(lengths != lengths[0]))
            raise SequenceError(
                f"sequences differ in length ({lengths[0]} and {lengths[k]})", path=path,
                record=ids[k] if ids is not None else k,
                hint="pass --length N (and --pad-mode) to pad or trim them to one length")
        length = int(lengths[0])
    length = int(length)
    if length <= 0:
        raise SequenceError(f"length must be positive, got {length}")
    words = _WORDS[buf]
    if n and (lengths == length).all():
        return words.view(np.uint8).reshape(n, length, 4), lengths
    # Variable lengths: scatter each sequence's kept part into its padded row, all at once.
    keep = np.minimum(lengths, length)
    excess = np.maximum(lengths - length, 0)
    room = np.maximum(length - lengths, 0)
    if pad_mode == "center":
        src_start, dst_start = excess // 2, room // 2
    elif pad_mode == "left":
        src_start, dst_start = np.zeros_like(excess), np.zeros_like(room)
    else:
        src_start, dst_start = excess, room
    starts = np.cumsum(lengths) - lengths
    total = int(keep.sum())
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(keep) - keep, keep)
    src = np.repeat(starts + src_start, keep) + within
    dst = np.repeat(np.arange(n, dtype=np.int64) * length + dst_start, keep) + within
    out = np.zeros(n * length, dtype="<u4")
    out[dst] = words[src]
    return out.view(np.uint8).reshape(n, length, 4), lengths


def encode_windows(u8, allow_iupac=False, ids=None, path=None):
    """One-hot encode windows of one length given as bytes: uint8 [n, L] → uint8 [n, L, 4] (bases checked).

    The fast path for sequences cut from a genome: no per-sequence Python objects, one table lookup.
    """
    u8 = np.ascontiguousarray(u8, np.uint8)
    n, length = u8.shape
    check_bases(u8.reshape(-1), np.full(n, length, np.int64), ids=ids, path=path, allow_iupac=allow_iupac)
    return _WORDS[u8].view(np.uint8).reshape(n, length, 4)


def one_hot(seqs, length=None, pad_mode="center", allow_iupac=False):
    """One-hot encode a sequence or a list of sequences.

    Parameters
    ----------
    seqs : str or list of str
    length : int, optional
        Pad (all-zero rows) or trim to this length; required for sequences of different lengths.

    Returns
    -------
    np.ndarray, uint8, shape=(L, 4) for one sequence, shape=(n, L, 4) for a list.
    """
    single = isinstance(seqs, (str, bytes))
    x, _ = encode_block([seqs] if single else list(seqs), length=length, pad_mode=pad_mode,
                        allow_iupac=allow_iupac)
    return x[0] if single else x


def decode(x):
    """Turn one-hot rows back into sequences; all-zero rows become ``N``.

    Parameters
    ----------
    x : array, shape=(L, 4) or (n, L, 4)

    Returns
    -------
    str for one sequence, list of str otherwise.
    """
    x = np.asarray(x)
    if x.shape[-1] != 4 or x.ndim not in (2, 3):
        raise SequenceError(f"expected shape (L, 4) or (n, L, 4), got {x.shape}")
    codes = np.where(x.any(axis=-1), np.argmax(x, axis=-1), 4)
    letters = _LETTERS[codes]
    if x.ndim == 2:
        return letters.tobytes().decode("ascii")
    return [row.tobytes().decode("ascii") for row in letters]


def reverse_complement(x):
    """Reverse complement of one-hot sequences, shape=(..., L, 4).

    With alphabet order A C G T the complement is the reversed alphabet, so this
    is a flip of the last two axes (a view, no copy).
    """
    return np.asarray(x)[..., ::-1, ::-1]


_COMPLEMENT = str.maketrans("ACGTNacgtnRYSWKMBDHVryswkmbdhv", "TGCANtgcanYRSWMKVHDByrswmkvhdb")


def reverse_complement_seq(seq):
    """Reverse complement of a DNA string (IUPAC codes and case preserved)."""
    return seq.translate(_COMPLEMENT)[::-1]
