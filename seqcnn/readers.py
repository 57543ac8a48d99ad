"""Readers: FASTA files and label tables (pandas) → validated records.

FASTA may be gzip-compressed (detected from the magic bytes, not the name) and
is read in blocks so memory stays bounded. Every file's sha256 is computed in
the same pass, for provenance. Label tables are CSV or TSV; the task (binary,
multiclass, multilabel) is inferred or given, and class names are fixed here
once so later stages never guess them again.
"""

import gzip
import hashlib
import io
import os
import re
import zlib
from dataclasses import dataclass, field

import numpy as np

from .errors import InputFormatError, LabelError

TASKS = ("binary", "multiclass", "multilabel")
_GZIP_MAGIC = b"\x1f\x8b"


def compression(head):
    """'plain', 'bgzip' or 'gzip' (plain gzip) from a file's first bytes (at least 14 for BGZF).

    BGZF is gzip whose first member carries an extra field (FLG bit 2) with the subfield 'BC' (RFC 1952 and the
    SAM spec); htslib can seek in it, not in plain gzip.
    """
    if head[:2] != _GZIP_MAGIC:
        return "plain"
    return "bgzip" if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC" else "gzip"

# Whitespace other than newlines (what str.rstrip strips in ASCII): a record holding any takes the line path.
_ODD_SPACE = " \t\x0b\x0c\x1c\x1d\x1e\x1f"


class _HashingRaw(io.RawIOBase):
    """A raw binary stream that feeds every byte it reads into a sha256."""

    def __init__(self, fh):
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self):
        return True

    def readinto(self, b):
        n = self._fh.readinto(b)
        if n:
            self.sha256.update(memoryview(b)[:n])
            self.bytes_read += n
        return n

    def close(self):
        self._fh.close()
        super().close()


def sha256_file(path, chunk=1 << 20):
    """The sha256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _open_binary(path):
    if not os.path.exists(path):
        raise InputFormatError("file not found", path=path, hint="check the path")
    if os.path.isdir(path):
        raise InputFormatError("is a directory, not a file", path=path)
    try:
        return open(path, "rb", buffering=0)
    except OSError as exc:
        raise InputFormatError(f"cannot be read ({exc.strerror})", path=path) from None


# Magic bytes of files that users give by mistake, decoded as the reader decodes (ASCII, errors replaced).
_PACKED = "decompress it, or give a plain or gzip-compressed FASTA file"
_MAGIC = tuple((magic.decode("ascii", "replace"), name, hint) for magic, name, hint in (
    (b"\x89HDF", "an HDF5 file", "an encoded file goes where a command asks for DATA.h5; here give FASTA"),
    (b"PK\x03\x04", "a zip archive", _PACKED), (b"BZh", "bzip2-compressed", _PACKED),
    (b"\xfd7zXZ", "xz-compressed", _PACKED)))


class FastaReader:
    """Stream a FASTA (or gzip FASTA) file as blocks of ``(ids, sequences)``.

    Parameters
    ----------
    path : str
    block_bases : int
        Approximate number of bases per block; bounds memory.

    Attributes
    ----------
    sha256 : str
        Digest of the file as stored (compressed bytes for .gz), valid once fully read.
    n_records : int
        Records yielded so far.
    """

    def __init__(self, path, block_bases=1 << 22):
        self.path = str(path)
        self.block_bases = int(block_bases)
        self.n_records = 0
        self._raw = None

    @property
    def sha256(self):
        return self._raw.sha256.hexdigest() if self._raw is not None else None

    def _text_handle(self):
        raw = _HashingRaw(_open_binary(self.path))
        self._raw = raw
        buffered = io.BufferedReader(raw, buffer_size=1 << 20)
        if buffered.peek(2)[:2] == _GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=buffered, mode="rb")
        else:
            stream = buffered
        # Universal newlines: Windows line endings are accepted. Non-ASCII bytes
        # become '?', which the encoder then reports with record and position.
        return io.TextIOWrapper(stream, encoding="ascii", errors="replace", newline=None)

    def _first_record(self, handle):
        """Skip blank lines; check the file starts like FASTA. Returns (first line, lines skipped before it)."""
        skipped = 0
        for line in iter(handle.readline, ""):
            if line.strip():
                break
            skipped += 1
        else:
            raise InputFormatError("empty file: no FASTA records", path=self.path,
                                   hint="give a FASTA file with at least one '>' record")
        if not line.startswith(">"):
            head = line[:20].rstrip()
            if not head.isprintable() or "\ufffd" in head:
                # Quoting binary bytes helps nobody; name the format where its magic bytes say it.
                kind, hint = next(((name, hint) for magic, name, hint in _MAGIC if line.startswith(magic)),
                                  ("binary data", "give a plain or gzip-compressed FASTA file"))
                raise InputFormatError(f"not a FASTA file: it is {kind}", path=self.path, hint=hint)
            raise InputFormatError(f"not a FASTA file: the first line starts with {head!r}, not '>'",
                                   path=self.path, hint="FASTA records start with a '>id' header line")
        return line, skipped

    def _sequence(self, body, first_line):
        """A record's sequence from its lines (``body``: the text after the header line).

        As Biopython's ``SimpleFastaParser``: each line right-stripped, the lines joined, spaces removed. But
        a space inside a sequence line is refused (Biopython would drop it silently). ``first_line``: the
        file line number of the body's first line, for that message.
        """
        lines = body.split("\n")
        for k, line in enumerate(lines):
            if " " in line.strip():
                raise InputFormatError(f"space inside a sequence on line {first_line + k}", path=self.path,
                                       hint="sequence lines may hold only bases; remove the spaces")
        return "".join(line.rstrip() for line in lines).replace(" ", "")

    def __iter__(self):
        """Yield ``(ids, seqs)`` blocks (lists of str) of about ``block_bases`` characters of the file each.

        The text is read in large pieces and cut into records at newline + '>' by string methods, with the
        semantics of Biopython's ``SimpleFastaParser`` (which costs ~5 µs per record in Python line loops; this
        costs about one). A record longer than a piece is read on until it ends.
        """
        handle = self._text_handle()
        try:
            first, line_no = self._first_record(handle)
            line_no += 1  # the file line on which ``buf`` starts
            buf, eof = first, False
            while not eof:
                want = self.block_bases - len(buf) if len(buf) < self.block_bases // 2 else max(len(buf),
                                                                                              self.block_bases)
                piece = handle.read(want)
                eof = not piece
                buf += piece
                parts = buf[1:].split("\n>")
                rest = ""
                if not eof:
                    if len(parts) == 1:  # no record ends in this piece: read on
                        continue
                    rest = ">" + parts.pop()
                if not parts:
                    break
                lines_here = buf.count("\n", 0, len(buf) - len(rest))  # the lines of the records in parts
                buf = rest
                heads = [part.partition("\n") for part in parts]
                try:
                    ids = [title.split(None, 1)[0] for title, _, _ in heads]
                except IndexError:
                    k = next(i for i, (title, _, _) in enumerate(heads) if not title.split())
                    raise InputFormatError(f"header without an id after record {self.n_records + k}",
                                           path=self.path, hint="every '>' line needs an id") from None
                seqs = [body.replace("\n", "") for _, _, body in heads]
                # One search per block: a space or tab in any sequence line sends the block through the line path.
                joined = "".join(seqs)
                if any(c in joined for c in _ODD_SPACE):  # str.find per character: 15x faster than a regex
                    first = line_no
                    for k, (part, (_, _, body)) in enumerate(zip(parts, heads)):
                        seqs[k] = self._sequence(body, first + 1)
                        first += part.count("\n") + 1
                line_no += lines_here
                self.n_records += len(ids)
                yield ids, seqs
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise InputFormatError(f"corrupt gzip data ({exc})", path=self.path,
                                   hint="re-download or re-compress the file") from None
        except EOFError:
            raise InputFormatError("gzip file is truncated", path=self.path,
                                   hint="the download or copy was cut short; fetch it again") from None
        except OSError as exc:
            raise InputFormatError(f"read failed ({exc})", path=self.path) from None
        finally:
            handle.close()


def read_fasta(path):
    """Read a whole FASTA file.

    Returns
    -------
    ids : list of str
        First word of each header.
    seqs : list of str
    """
    ids, seqs = [], []
    for block_ids, block_seqs in FastaReader(path):
        ids.extend(block_ids)
        seqs.extend(block_seqs)
    return ids, seqs


@dataclass
class LabelTable:
    """Labels read from a table, indexed by record id.

    Attributes
    ----------
    ids : pandas.Index of str
    y : np.ndarray — shape=(n,) for binary/multiclass, shape=(n, T) for multilabel.
    task : str
    class_names : list of str — names of classes (binary: ['0', '1']).
    label_names : list of str — the label column(s).
    split : np.ndarray of str or None — values of ``split_column``.
    chrom : np.ndarray of str or None — values of a ``chrom`` column, if any.
    """

    path: str
    ids: object
    y: np.ndarray
    task: str
    class_names: list
    label_names: list
    split: object = None
    chrom: object = None
    extra: dict = field(default_factory=dict)


def _read_table(path):
    import pandas as pd

    lower = str(path).lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    sep = "\t" if lower.endswith((".tsv", ".tab", ".txt")) else ("," if lower.endswith(".csv") else None)
    _open_binary(path).close()
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                         engine="python" if sep is None else "c", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputFormatError("empty label table", path=path, hint="give a CSV/TSV with a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, EOFError) as exc:
        msg = " ".join(str(exc).split())
        raise InputFormatError(f"not a readable CSV/TSV table ({msg})", path=path,
                               hint="every row needs as many fields as the header; check the delimiter") from None
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise InputFormatError("label table has a header but no rows", path=path)
    return df


# Spellings of a binary label (compared in lower case): spreadsheets and pandas write booleans as True/False.
BINARY_VALUES = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1, "no": 0, "yes": 1}


def _binary_codes(values):
    """Each value as 0/1 where it spells one (``BINARY_VALUES``), else -1: int8, shape=(n,).

    Worked out on the distinct values (a label column holds few), then mapped back.
    """
    import pandas as pd

    codes, uniq = pd.factorize(np.asarray(values, dtype=object))
    mapped = np.array([BINARY_VALUES.get(str(u).strip().lower(), -1) for u in uniq] + [-1], np.int8)
    return mapped[codes]


def is_binary(values):
    """True when every value spells 0 or 1 (``BINARY_VALUES``: 0/1, true/false, yes/no in any case)."""
    return bool((_binary_codes(values) >= 0).all())


def _parse_binary(values, ids, path, column):
    y = _binary_codes(values)
    if (y < 0).any():
        k = int(np.argmax(y < 0))
        raise LabelError(f"label {values[k]!r} in column {column!r} is not 0 or 1", path=path, record=ids[k],
                         hint="binary labels are 0/1 (or true/false, yes/no); use --task multiclass for named "
                              "classes")
    return y.astype(np.uint8)


def _stripped(column):
    """A table column's values without surrounding spaces: object array, shape=(n,).

    A list comprehension of str.strip: 5x faster than pandas' .str.strip on a million values.
    """
    return np.array([v.strip() for v in column.to_numpy(dtype=object).tolist()], dtype=object)


def read_labels(path, id_column="id", label_columns=("label",), task=None, split_column=None,
                chrom_column="chrom"):
    """Read a CSV/TSV label table.

    Parameters
    ----------
    path : str
        ``.csv``, ``.tsv`` (optionally ``.gz``); other names are sniffed.
    id_column : str
    label_columns : sequence of str
        One column (binary or multiclass) or several 0/1 columns (multilabel).
    task : {'binary', 'multiclass', 'multilabel'}, optional
        Inferred when not given: one 0/1 column → binary; one column of other
        values → multiclass (classes sorted, numerically when numeric); several
        0/1 columns → multilabel. True/false and yes/no (any case) are read as 1/0.
    split_column : str, optional
        Column with train/val/test per record.
    chrom_column : str
        Column naming each record's chromosome, used by ``--holdout-chrom`` when present.

    Returns
    -------
    LabelTable
    """
    import pandas as pd

    path = str(path)
    df = _read_table(path)
    label_columns = list(label_columns)
    if len(set(label_columns)) != len(label_columns):
        raise LabelError(f"label column(s) given twice: {', '.join(label_columns)}", path=path,
                         hint="name each --label-column once")
    if id_column in label_columns:
        raise LabelError(f"column {id_column!r} cannot be both the id and a label", path=path)
    wanted = [id_column] + label_columns + ([split_column] if split_column else [])
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise LabelError(f"missing column(s) {', '.join(map(repr, missing))}; columns are "
                         f"{', '.join(map(repr, df.columns))}", path=path,
                         hint="choose columns with --id-column / --label-column / --split-column")
    if task is not None and task not in TASKS:
        raise LabelError(f"unknown task {task!r}", hint=f"use one of {', '.join(TASKS)}")
    # Surrounding spaces in a table are formatting, not part of an id.
    ids = _stripped(df[id_column])
    empty = ids == ""
    if empty.any():
        raise LabelError(f"empty id in row {int(np.argmax(empty)) + 2}", path=path, hint="every row needs an id")
    index = pd.Index(ids)
    dup = index.duplicated()
    if dup.any():
        raise LabelError("duplicate id in the label table", path=path, record=ids[int(np.argmax(dup))],
                         hint="each id may appear once")
    values = {}
    for col in label_columns:
        vals = _stripped(df[col])
        bad = np.isin(vals, ["", "NA", "NaN", "nan", "N/A", "na", "null", "None"])
        if bad.any():
            k = int(np.argmax(bad))
            raise LabelError(f"missing label ({df[col].iloc[k]!r}) in column {col!r}", path=path, record=ids[k],
                             hint="give every record a label, or remove the row and use --drop-unlabelled")
        values[col] = vals

    if task is None:
        if len(label_columns) > 1:
            task = "multilabel"
        else:
            task = "binary" if is_binary(values[label_columns[0]]) else "multiclass"
    if task == "binary":
        if len(label_columns) != 1:
            raise LabelError("a binary task takes one label column", path=path,
                             hint="use --task multilabel for several 0/1 columns")
        y = _parse_binary(values[label_columns[0]], ids, path, label_columns[0])
        class_names = ["0", "1"]
    elif task == "multiclass":
        if len(label_columns) != 1:
            raise LabelError("a multiclass task takes one label column", path=path)
        v = values[label_columns[0]].astype(str)
        uniq = list(pd.unique(v))
        numeric = pd.to_numeric(pd.Series(uniq), errors="coerce")
        if numeric.notna().all():
            uniq = [u for _, u in sorted(zip(numeric.tolist(), uniq))]
        else:
            uniq = sorted(uniq)
        if len(uniq) < 2:
            raise LabelError(f"column {label_columns[0]!r} has a single class {uniq[0]!r}", path=path,
                             hint="a classifier needs at least two classes")
        lookup = {u: i for i, u in enumerate(uniq)}
        y = np.fromiter((lookup[s] for s in v), dtype=np.int32, count=len(v))
        class_names = [str(u) for u in uniq]
    else:
        y = np.stack([_parse_binary(values[c], ids, path, c) for c in label_columns], axis=1)
        class_names = list(label_columns)

    split = np.array([v.lower() for v in _stripped(df[split_column])], dtype=object) if split_column else None
    chrom = (_stripped(df[chrom_column])
             if chrom_column and chrom_column in df.columns else None)
    return LabelTable(path=path, ids=index, y=y, task=task, class_names=class_names,
                      label_names=list(label_columns), split=split, chrom=chrom)


_CHROM_RE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)")


def chrom_from_id(record_id):
    """Chromosome named by an id like ``chr1:100-300`` (optionally with a suffix), or None."""
    m = _CHROM_RE.match(record_id)
    return m.group("chrom") if m else None
