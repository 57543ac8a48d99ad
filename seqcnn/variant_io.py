"""Variants in: VCF/BCF files, variant tables and allele-pair FASTA files → validated arrays; ref/alt windows.

Provides :func:`read_vcf` (VCF, bgzip VCF or BCF through pysam's ``VariantFile``, a plain-gzip VCF through a
decompressed temporary copy; one row per ALT of a multi-allelic record), :func:`read_variant_table` (CSV/TSV
``chrom, pos, ref, alt[, id]``, 1-based like VCF), :class:`Variants` (the arrays), :func:`variant_windows` (the
reference and alternative windows of each variant, cut from a genome by the rule below, with the REF check and
each allele's differing block), :func:`check_ref_mismatch` (the rule that stops a run whose REF alleles say
"wrong coordinates"), :func:`read_allele_pairs` (``--ref-fasta`` / ``--alt-fasta`` with the same ids),
:func:`pair_windows` (allele pairs aligned on the bases that differ) and :func:`write_vcf` (simulated variants).
Skipped variants are returned with their reason, never dropped silently. Imports no TensorFlow.

The window rule (``L`` = the model's input length, ``o`` = the offset of the variant's first base in the
window, ``L // 2`` unless given; ``p`` = the 0-based position of the variant's first REF base):

- reference window: the genome's ``[p - o, p - o + L)``;
- alternative window: the same ``o`` bases left of the variant, then ALT, then the genome after REF. A
  substitution (``len(REF) == len(ALT)``) changes the bases in place. After a deletion the window is refilled
  from the genome downstream, so it stays ``L`` long. After an insertion it is ``L + e`` long (``e =
  len(ALT) - len(REF)``) and is trimmed back to ``L`` around its centre: ``e // 2`` bases off the left end and
  the rest off the right end.
"""

import gzip
import os
from dataclasses import dataclass

import numpy as np

from .errors import InputFormatError, SeqcnnError
from .genome import by_chrom
from .readers import compression

SKIP_REASONS = ("symbolic ALT", "missing ALT", "chromosome not in genome", "window runs off the chromosome",
                "REF does not match the genome")
REF_MISMATCH = ("check", "skip", "error", "use-vcf")
#: ``--ref-mismatch check`` (the default) stops a run in which more than this fraction of the REF alleles checked
#: differ from the genome, and at least ``MISMATCH_STOP_MIN`` of them: a VCF called on the same assembly has
#: none or a handful (reference patches, IUPAC codes), skipped and counted; a third or more means the wrong
#: assembly or 0-based positions, and every "scored" row would sit at the wrong place.
MISMATCH_STOP_FRACTION = 0.05
MISMATCH_STOP_MIN = 3
_BASES = set("ACGTNacgtn")


@dataclass
class Variants:
    """Variants as arrays of one length ``n``; positions 1-based as in VCF.

    Attributes
    ----------
    chrom, id, ref, alt : np.ndarray of str (object), shape=(n,) — ``id`` is ``.``-free: None where unnamed.
    pos : np.ndarray, int64, shape=(n,) — 1-based position of the first REF base.
    line : np.ndarray, int64, shape=(n,) — the input line (VCF: of the record), for messages.
    record : np.ndarray, int64, shape=(n,) — the input record each row came from (a multi-allelic record
        gives several rows).
    skip : np.ndarray of str or None (object), shape=(n,) — why a row cannot be scored (see ``SKIP_REASONS``).
    path : str
    """

    chrom: np.ndarray
    pos: np.ndarray
    id: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    line: np.ndarray
    record: np.ndarray
    skip: np.ndarray
    path: str
    records_read: int = 0

    def __len__(self):
        return len(self.pos)

    def subset(self, keep):
        """The rows selected by a boolean mask or index array, in that order."""
        return Variants(self.chrom[keep], self.pos[keep], self.id[keep], self.ref[keep], self.alt[keep],
                        self.line[keep], self.record[keep], self.skip[keep], self.path, self.records_read)


def _check_allele(path, line, allele, what):
    if not allele or not set(allele) <= _BASES:
        raise InputFormatError(f"line {line}: {what} {allele!r} is not a sequence of A, C, G, T or N", path=path,
                               hint="alleles are bases; symbolic alleles such as <DEL> belong in ALT only")


def _alt_skip(alt):
    """Why an ALT allele cannot be scored (None if it can)."""
    if alt is None or alt in (".", ""):
        return "missing ALT"
    if alt.startswith("<") or alt == "*" or "[" in alt or "]" in alt:
        return "symbolic ALT"
    return None


BLOCK_RECORDS = 50_000  # input records per block when streaming: ~80 MB of windows at 200 bp


def _make(rows, path, n_records):
    """Variants from row tuples (chrom, pos, id, ref, alt, line, record, skip); may be empty."""
    cols = list(zip(*rows)) if rows else [[]] * 8
    chrom, pos, vid, ref, alt, line, record, skip = cols
    return Variants(np.asarray(chrom, dtype=object), np.asarray(pos, np.int64), np.asarray(vid, dtype=object),
                    np.asarray(ref, dtype=object), np.asarray(alt, dtype=object), np.asarray(line, np.int64),
                    np.asarray(record, np.int64), np.asarray(skip, dtype=object), path, n_records)


def _empty(path):
    return InputFormatError("no variants in the file", path=path, hint="give at least one variant record")


def concat(blocks):
    """One :class:`Variants` from blocks of one file (records_read summed)."""
    blocks = list(blocks)
    first = blocks[0]
    arrays = [np.concatenate([getattr(b, f) for b in blocks]) for f in
              ("chrom", "pos", "id", "ref", "alt", "line", "record", "skip")]
    return Variants(*arrays, first.path, sum(b.records_read for b in blocks))


def _nth_line(path, number):
    """Line ``number`` (1-based) of a plain or gzip text file, shortened, for an error message; '' if unreadable."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rt", errors="replace") as fh:
            for k, text in enumerate(fh, 1):
                if k == number:
                    text = text.rstrip("\n")
                    return text if len(text) <= 60 else text[:57] + "..."
    except (OSError, EOFError):
        pass
    return ""


def _header_lines(path):
    """The number of '#' lines at the top of a plain or bgzip VCF (pysam's header text adds lines of its own)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    count = 0
    with opener(path, "rt", errors="replace") as fh:
        for text in fh:
            if not text.startswith("#"):
                break
            count += 1
    return count


def _plain_gzip(path):
    """True for a gzip file that is not BGZF (``gzip calls.vcf``): htslib cannot seek in it, so pysam fails."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    return compression(head) == "gzip"


def read_vcf(path):
    """Read a whole VCF, bgzip VCF or BCF file into :class:`Variants` (see :func:`iter_vcf`)."""
    return concat(iter_vcf(path))


def iter_vcf(path, block_records=BLOCK_RECORDS):
    """Stream a VCF, bgzip VCF, plain-gzip VCF or BCF file as :class:`Variants` blocks, one row per ALT allele.

    Each block holds the rows of ``block_records`` input records (``record``: the index in the whole file).
    Symbolic alleles (``<DEL>``, ``*``, breakends) and missing ALT (``.``) are kept as rows marked with their
    skip reason, so they are counted and reported.

    A plain-gzip VCF (``gzip``, not ``bgzip``) is decompressed by Python's gzip into a temporary file in the
    system's temporary folder (``TMPDIR``; it needs the VCF's uncompressed size), read from there by pysam, and
    removed when the stream ends: htslib opens such a file but cannot seek in it, so pysam fails on it at open
    or later depending on its version, while the decompressed copy always reads, with the same line numbers.
    ``bgzip`` the file to skip the copy.

    Raises
    ------
    InputFormatError — a file that is not VCF/BCF, a record that cannot be parsed (named by its line), a REF
    that is not bases, or a file without records.
    """
    import pysam

    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputFormatError("file not found", path=path, hint="check the path")
    pysam.set_verbosity(0)  # htslib's own warnings would go to the terminal beside our one-line errors
    if _plain_gzip(path):
        yield from _iter_plain_gzip_vcf(path, block_records)
        return
    try:
        vf = pysam.VariantFile(path)
    except (ValueError, OSError):
        raise InputFormatError("not a VCF or BCF file (no readable VCF header)", path=path,
                               hint="give a VCF (plain or bgzip) or BCF file starting with ##fileformat and "
                                    "a #CHROM header line") from None
    binary = vf.is_bcf if hasattr(vf, "is_bcf") else path.endswith(".bcf")
    first_line = 1 if binary else _header_lines(path) + 1
    rows, k, done, any_rows = [], -1, 0, False
    with vf:
        records = iter(vf)
        while True:
            try:
                rec = next(records, None)
            except (OSError, ValueError) as exc:
                line = first_line + k + 1
                where = f"record {k + 2}" if binary else f"line {line}"
                text = "" if binary else _nth_line(path, line)
                raise InputFormatError(f"{where} cannot be parsed as VCF ({exc})" + (f": {text!r}" if text else ""),
                                       path=path, hint="VCF data lines are CHROM POS ID REF ALT QUAL FILTER INFO, "
                                                       "tab-separated, POS a whole number") from None
            if rec is None or (k + 1 - done) == block_records:
                if rows:
                    yield _make(rows, path, k + 1 - done)
                    any_rows, rows, done = True, [], k + 1
                if rec is None:
                    break
            k += 1
            line = first_line + k
            ref = rec.ref
            _check_allele(path, line, ref, "REF")
            for alt in (rec.alts or (None,)):
                reason = _alt_skip(alt)
                if reason is None:
                    _check_allele(path, line, alt, "ALT")
                rows.append((rec.chrom, int(rec.pos), rec.id, ref, alt, line, k, reason))
    if not any_rows:
        raise _empty(path)


def _iter_plain_gzip_vcf(path, block_records):
    """:func:`iter_vcf` of a plain-gzip VCF through a decompressed temporary copy (see there); names ``path``."""
    import shutil
    import tempfile
    import zlib

    with tempfile.TemporaryDirectory(prefix="seqcnn-vcf-") as tmp:
        copy = os.path.join(tmp, os.path.basename(path)[:-3] if path.endswith(".gz") else "input.vcf")
        try:
            with gzip.open(path, "rb") as src, open(copy, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFormatError(f"not a readable gzip file ({exc})", path=path,
                                   hint="check the file (gzip -t), or give it uncompressed or bgzip-compressed"
                                   ) from None
        try:
            for block in iter_vcf(copy, block_records):
                block.path = path  # messages and skipped rows name the user's file, not the copy
                yield block
        except SeqcnnError as exc:
            raise type(exc)(str(exc).replace(copy, path)) from None


def read_variant_table(path):
    """Read a whole CSV/TSV table of variants into :class:`Variants` (see :func:`iter_variant_table`)."""
    return concat(iter_variant_table(path))


def iter_variant_table(path, block_records=BLOCK_RECORDS):
    """Stream a CSV/TSV table of variants, columns ``chrom, pos, ref, alt`` and optionally ``id``, in blocks.

    Positions are 1-based (as in VCF). An ALT of several alleles separated by commas gives one row each.

    Raises
    ------
    InputFormatError — a missing column, a position that is not a whole number >= 1, an allele that is not
    bases (line numbers counted with the header as line 1), or a table without rows.
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputFormatError("file not found", path=path, hint="check the path")
    lower = path.lower()[:-3] if path.lower().endswith(".gz") else path.lower()
    sep = "," if lower.endswith(".csv") else "\t"
    hint = "a CSV (.csv) or tab-separated table with a header row"
    try:
        chunks = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, chunksize=block_records)
        done = 0
        for df in chunks:
            df.columns = [str(c).strip().lower().lstrip("#") for c in df.columns]
            missing = [c for c in ("chrom", "pos", "ref", "alt") if c not in df.columns]
            if missing:
                raise InputFormatError(f"missing column(s) {', '.join(missing)}; columns are "
                                       f"{', '.join(df.columns)}", path=path,
                                       hint="a variant table has columns chrom, pos, ref, alt (1-based pos) and "
                                            "optionally id")
            rows = []
            ids = df["id"].tolist() if "id" in df.columns else [None] * len(df)
            for j, (c, p, r, a, i) in enumerate(zip(df["chrom"], df["pos"], df["ref"], df["alt"], ids)):
                k = done + j
                line = k + 2
                p = p.strip()
                if not p.isdigit() or int(p) < 1:
                    raise InputFormatError(f"line {line}: position {p!r} is not a whole number >= 1", path=path,
                                           hint="positions are 1-based, as in VCF")
                r = r.strip()
                _check_allele(path, line, r, "REF")
                for alt in a.strip().split(","):
                    alt = alt.strip()
                    reason = _alt_skip(alt)
                    if reason is None:
                        _check_allele(path, line, alt, "ALT")
                    rows.append((c.strip(), int(p), (i or "").strip() or None, r, alt, line, k, reason))
            done += len(df)
            if rows:
                yield _make(rows, path, len(df))
    except pd.errors.EmptyDataError:
        raise _empty(path) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputFormatError(f"not a readable table ({' '.join(str(exc).split())})", path=path,
                               hint=hint) from None
    if not done:
        raise _empty(path)


def variant_windows(genome, variants, length, offset=None, ref_mismatch="check"):
    """The reference and alternative windows of each variant (the module's window rule), with the REF check.

    Parameters
    ----------
    genome : seqcnn.genome.Genome
    variants : Variants — rows already marked in ``skip`` are passed over.
    length : int — the model's input length ``L``.
    offset : int, optional — window index of the variant's first base (default ``L // 2``).
    ref_mismatch : {'check', 'skip', 'error', 'use-vcf'} — a REF that differs from the genome: the row is
        skipped (``check`` and ``skip``: here the same; the caller applies ``check``'s rate rule over the whole
        input, :func:`check_ref_mismatch`), the call fails, or the reference window carries the VCF's REF.

    Returns
    -------
    dict — ``ref`` and ``alt`` (uint8 bytes [m, L] of the scorable rows), ``rows`` (their indices into
    ``variants``, int64 [m]), ``ref_match`` (bool [n]: REF equals the genome; False where unknown), ``skip``
    (object [n]: the reason per row, None for scored rows), ``checked`` (bool [n]: REF compared with the
    genome), ``shift_match`` (dict +1/-1 → bool [n]: a mismatching REF equals the genome one base right/left,
    as in a 0-based table), ``ref_block`` / ``alt_block`` (int64 [m, 2]: each allele's differing bases in its
    window, start and end, 0-based half-open, after the anchor bases REF and ALT share are trimmed; empty at
    the junction for a pure insertion/deletion), ``cropped`` (bool [m]: the alternative window was trimmed
    back to ``L`` after an insertion) and ``offset``.

    Raises
    ------
    SeqcnnError — an allele longer than the window, an offset outside it, or (``error``) a REF mismatch.
    """
    L = int(length)
    o = L // 2 if offset is None else int(offset)
    if not 0 <= o < L:
        raise SeqcnnError(f"--offset {o} lies outside the model's {L} bp window", hint=f"use 0..{L - 1}")
    if ref_mismatch not in REF_MISMATCH:
        raise SeqcnnError(f"unknown --ref-mismatch {ref_mismatch!r}", hint=f"use one of {', '.join(REF_MISMATCH)}")
    n = len(variants)
    skip = variants.skip.copy()
    ref_match = np.zeros(n, bool)
    ok = np.flatnonzero(np.equal(skip, None))
    lref = np.array([len(r) for r in variants.ref], np.int64)
    lalt = np.array([len(a) if a else 0 for a in variants.alt], np.int64)
    too_long = ok[(lref[ok] > L - o) | (lalt[ok] > L)]
    if len(too_long):
        k = int(too_long[0])
        raise SeqcnnError(f"line {variants.line[k]}: the variant's alleles ({lref[k]} and {lalt[k]} bp) do not fit "
                          f"the model's {L} bp window at offset {o}", path=variants.path,
                          hint="score it with a model of longer inputs, a smaller --offset, or leave it out")
    groups = by_chrom(variants.chrom)
    genome.check_chroms([c for c, _ in groups], path=variants.path,
                        line={c: int(variants.line[sel[0]]) for c, sel in groups})
    size = genome.sizes(variants.chrom)
    skip[ok[size[ok] < 0]] = "chromosome not in genome"
    ok = np.flatnonzero(np.equal(skip, None))
    p0 = variants.pos - 1
    left = p0 - o
    # The alternative window reads past the reference window after a deletion (the refill).
    need = left + L + np.maximum(lref - lalt, 0)
    off = ok[(left[ok] < 0) | (need[ok] > size[ok]) | (p0[ok] + lref[ok] > size[ok])]
    skip[off] = "window runs off the chromosome"
    ok = np.flatnonzero(np.equal(skip, None))
    refw = genome.windows(variants.chrom[ok], left[ok], L) if len(ok) else np.zeros((0, L), np.uint8)
    upper = np.frombuffer(bytes(range(256)).upper(), np.uint8)
    # REF check: the genome's bases under REF, compared in upper case (soft-masked lower case is a base too).
    # A mismatching REF is also compared one base to the right and left (inside the window already cut): when
    # most match there, the positions are 0-based (or 2-based), which the caller's message can say.
    shift_match = {1: np.zeros(n, bool), -1: np.zeros(n, bool)}
    for j, k in enumerate(ok):
        want = variants.ref[k].upper()
        genome_ref = upper[refw[j, o:o + lref[k]]].tobytes().decode("ascii", "replace")
        ref_match[k] = genome_ref == want
        if not ref_match[k]:
            for s in (1, -1):
                if 0 <= o + s and o + s + lref[k] <= L:
                    shifted = upper[refw[j, o + s:o + s + lref[k]]].tobytes().decode("ascii", "replace")
                    shift_match[s][k] = shifted == want
    checked = np.zeros(n, bool)
    checked[ok] = True
    bad = ok[~ref_match[ok]]
    if len(bad) and ref_mismatch == "error":
        k = int(bad[0])
        j = int(np.searchsorted(ok, k))
        raise SeqcnnError(f"line {variants.line[k]}: REF {variants.ref[k]} at {variants.chrom[k]}:{variants.pos[k]} "
                          f"but the genome has {upper[refw[j, o:o + lref[k]]].tobytes().decode()}",
                          path=variants.path, hint="check the assembly and that positions are 1-based, or use "
                                                   "--ref-mismatch skip / use-vcf")
    if ref_mismatch in ("skip", "check"):
        skip[bad] = "REF does not match the genome"
    keep = np.flatnonzero(np.isin(ok, np.flatnonzero(np.equal(skip, None))))
    rows, refw = ok[keep], refw[keep]
    altw = np.empty_like(refw)
    ref_block, alt_block = np.zeros((len(rows), 2), np.int64), np.zeros((len(rows), 2), np.int64)
    cropped = np.zeros(len(rows), bool)
    for j, k in enumerate(rows.tolist()):
        r, a = variants.ref[k].encode(), variants.alt[k].encode()
        # The differing block: REF and ALT less the bases they share at either end (VCF's anchor base).
        pre = len(os.path.commonprefix([r.upper(), a.upper()]))
        suf = len(os.path.commonprefix([r.upper()[pre:][::-1], a.upper()[pre:][::-1]]))
        ins = max(len(a) - len(r), 0)
        ref_block[j] = o + pre, o + len(r) - suf
        alt_block[j] = o - ins // 2 + pre, o - ins // 2 + len(a) - suf  # the insertion's trim moves ALT left
        cropped[j] = ins > 0
        if ref_mismatch == "use-vcf" and not ref_match[k]:
            refw[j, o:o + len(r)] = np.frombuffer(r, np.uint8)
        if len(r) == len(a):
            altw[j] = refw[j]
            altw[j, o:o + len(a)] = np.frombuffer(a, np.uint8)
            continue
        after = genome.region(variants.chrom[k], int(p0[k] + len(r)), int(left[k] + L + max(len(r) - len(a), 0)))
        full = np.concatenate([refw[j, :o], np.frombuffer(a, np.uint8), after])
        e = len(full) - L  # > 0 after an insertion: trimmed around the centre
        altw[j] = full[e // 2:e // 2 + L]
    # A long insertion (or a deletion reaching past the window's end) leaves part of its block outside the
    # window: the row is cropped, and the block columns hold the part inside (positions in the window).
    cropped |= (ref_block[:, 1] > L) | (alt_block[:, 0] < 0) | (alt_block[:, 1] > L)
    np.clip(ref_block, 0, L, out=ref_block)
    np.clip(alt_block, 0, L, out=alt_block)
    return {"ref": refw, "alt": altw, "rows": rows, "ref_match": ref_match, "skip": skip, "offset": o,
            "checked": checked, "shift_match": shift_match, "ref_block": ref_block, "alt_block": alt_block,
            "cropped": cropped}


def check_ref_mismatch(path, checked, mismatched, shifted, first=None):
    """``--ref-mismatch check``: stop when the REF alleles that differ from the genome say "wrong coordinates".

    Parameters
    ----------
    path : str — the variant file, for the message.
    checked, mismatched : int — REF alleles compared with the genome, and those that differ.
    shifted : dict — +1/-1 → how many of the differing ones match the genome one base right/left.
    first : str, optional — the first mismatch (``line 3, REF A at chr1:100``), for the message.

    Raises
    ------
    SeqcnnError — more than ``MISMATCH_STOP_FRACTION`` of ``checked`` and at least ``MISMATCH_STOP_MIN`` differ;
    the message names the count, the likely cause (positions 0-based when a one-base shift makes most of them
    match) and the fix.
    """
    if not checked or mismatched < MISMATCH_STOP_MIN or mismatched <= MISMATCH_STOP_FRACTION * checked:
        return
    s = max(shifted, key=lambda k: shifted[k])
    if shifted[s] > mismatched / 2:
        cause = (f"{shifted[s]} of them match the genome one base to the {'right' if s > 0 else 'left'}: the "
                 f"positions look {'0' if s > 0 else '2'}-based")
        fix = (f"{'add' if s > 0 else 'subtract'} 1 to every position (VCF and variant tables are 1-based), or "
               f"--ref-mismatch skip to score only the rows that match")
    else:
        cause = "another assembly than --genome?"
        fix = ("give the genome the variants were called on (or lift them over), or --ref-mismatch skip to score "
               "only the rows that match")
    raise SeqcnnError(f"{mismatched} of {checked} REF alleles ({100 * mismatched / checked:.0f} %) differ from "
                      f"the genome" + (f" (first: {first})" if first else "") + f"; {cause}", path=path, hint=fix)


def write_vcf(frame, path, contigs, info=(), source="seqcnn"):
    """Write variants as a VCF 4.2 file (sorted as given).

    Parameters
    ----------
    frame : pandas.DataFrame — columns chrom, pos (1-based), id, ref, alt, and the ``info`` columns.
    path : str
    contigs : dict — chromosome → length, for the ``##contig`` lines.
    info : sequence of str — columns written as INFO ``KEY=value`` (upper-case keys, declared as strings).
    """
    lines = ["##fileformat=VCFv4.2", f"##source={source}"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in contigs.items()]
    lines += [f'##INFO=<ID={k.upper()},Number=1,Type=String,Description="{k}">' for k in info]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    for row in frame.itertuples(index=False):
        fields = ";".join(f"{k.upper()}={getattr(row, k)}" for k in info) or "."
        lines.append(f"{row.chrom}\t{row.pos}\t{row.id}\t{row.ref}\t{row.alt}\t.\t.\t{fields}")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def read_allele_pairs(ref_fasta, alt_fasta):
    """Allele pairs from two FASTA files with the same ids: (ids, ref sequences, alt sequences), lists of str.

    Raises
    ------
    InputFormatError — an id of one file missing from the other (named), duplicate ids, or an empty file.
    """
    from .readers import read_fasta

    ids_r, seq_r = read_fasta(ref_fasta)
    ids_a, seq_a = read_fasta(alt_fasta)
    for path, ids in ((ref_fasta, ids_r), (alt_fasta, ids_a)):
        if len(set(ids)) != len(ids):
            seen = set()
            dup = next(i for i in ids if i in seen or seen.add(i))
            raise InputFormatError(f"id {dup!r} appears twice", path=path, hint="each allele pair needs one id")
    alt = dict(zip(ids_a, seq_a))
    missing = [i for i in ids_r if i not in alt]
    extra = sorted(set(ids_a) - set(ids_r))
    if missing or extra:
        path, other, i = (alt_fasta, ref_fasta, missing[0]) if missing else (ref_fasta, alt_fasta, extra[0])
        raise InputFormatError(f"id {i!r} of {other} is missing here ({len(missing)} of the reference ids "
                               f"lack an alternative, {len(extra)} alternatives lack a reference)", path=path,
                               hint="--ref-fasta and --alt-fasta must hold the same ids")
    return ids_r, seq_r, [alt[i] for i in ids_r]


PAIR_SKIP_REASONS = ("identical alleles", "differing block longer than the window")


def pair_windows(seq_ref, seq_alt, length, anchor="block", shifts=0):
    """Aligned windows of allele pairs: each pair's differing block, the same window start in both alleles.

    The differing block of a pair is what remains of each allele after the longest common prefix and the
    longest common suffix (not overlapping; compared in upper case): ``[p, len - s)`` in each allele, empty in
    one of them for a pure insertion or deletion. Both alleles share the ``p`` bases before it, so one window
    start ``w`` (an index into both alleles) gives windows with the same left flank, aligned on the change:
    ``w`` centres the window on the block (``p - (L - b) // 2``, ``b`` the longer block); where that window
    would run off an allele's end, it moves inward, keeping the block inside, to the start with the least
    padding (the closest such start to the centred one): an allele is then padded with N only as far as it is
    shorter than the window (or its block's place forces). Window bases past an allele's ends are N (all-zero
    rows after encoding).

    Parameters
    ----------
    seq_ref, seq_alt : list of str — the alleles, pair by pair.
    length : int — the model's input length ``L``.
    anchor : {'block', 'allele'} — where the window is centred before it is moved: on the block (the default,
        above), or on the reference allele's centre (``(len - L) // 2``; for peak-centred alleles, where the
        model saw its training sites), moved as far as needed to hold the block.
    shifts : int — also cut the windows started ``-shifts .. +shifts`` bases from ``w`` (test-time shift
        averaging); a shifted start is used only where the whole block stays inside the window and the two
        windows hold no more N padding than the unshifted ones (``shift_valid``).

    Returns
    -------
    dict — ``ref`` and ``alt`` (uint8 bytes [m, L] of the scorable pairs), ``rows`` (their indices, int64 [m]),
    ``skip`` (object [n]: ``PAIR_SKIP_REASONS`` entry or None), ``window_start`` (int64 [m]: ``w``, negative
    where the window starts with padding), ``ref_block`` / ``alt_block`` (int64 [m, 2]: start and end of each
    allele's block in its window, 0-based half-open), ``cropped`` and ``padded`` (bool [m]: either allele lost
    bases outside the window / either window holds padding), ``block_length`` (int64 [n, 2]: the blocks'
    lengths in ref and alt, for every pair). With ``shifts`` > 0 also ``shift_ref`` / ``shift_alt`` (uint8
    [m, 2 * shifts + 1, L]: the windows started ``w - shifts .. w + shifts``, the unshifted ones at index
    ``shifts``; an invalid start's windows are all N) and ``shift_valid`` (bool [m, 2 * shifts + 1]).
    """
    L = int(length)
    n = len(seq_ref)
    nr = np.array([len(s) for s in seq_ref], np.int64)
    na = np.array([len(s) for s in seq_alt], np.int64)
    pre, suf = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for k, (r, a) in enumerate(zip(seq_ref, seq_alt)):
        x = np.frombuffer(r.upper().encode(), np.uint8)
        y = np.frombuffer(a.upper().encode(), np.uint8)
        short = min(len(x), len(y))
        d = np.flatnonzero(x[:short] != y[:short])
        pre[k] = d[0] if len(d) else short
        rest = short - pre[k]  # the suffix may not reach into the prefix
        d = np.flatnonzero(x[len(x) - rest:][::-1] != y[len(y) - rest:][::-1])
        suf[k] = d[0] if len(d) else rest
    br, ba = nr - pre - suf, na - pre - suf
    big = np.maximum(br, ba)
    skip = np.full(n, None, dtype=object)
    skip[big == 0] = PAIR_SKIP_REASONS[0]
    skip[big > L] = PAIR_SKIP_REASONS[1]
    rows = np.flatnonzero(np.equal(skip, None))
    if anchor not in ("block", "allele"):
        raise SeqcnnError(f"unknown pair window anchor {anchor!r}", hint="use 'block' or 'allele'")
    centred = pre - (L - big) // 2 if anchor == "block" else (nr - L) // 2
    # Among the starts that keep the block inside the window ([blo, bhi]), the one with the least padding (N
    # bases over both windows), then the closest to the centred one. The padding is convex and piecewise linear
    # in the start, bending at 0 and len - L of each allele, so its minimum over the interval lies at one of these
    # candidates (the centred start among them, for ties).
    blo, bhi = pre + big - L, pre
    cand = np.clip(np.stack([centred, blo, bhi, np.zeros(n, np.int64), nr - L, na - L], 1), blo[:, None],
                   bhi[:, None])                                                   # [n, 6]
    pad = sum(np.maximum(0, -cand) + np.maximum(0, cand + L - m[:, None]) for m in (nr, na))
    dist = np.abs(cand - centred[:, None])
    cost = pad * (int(dist.max(initial=0)) + 1) + dist  # padding first, then the distance
    w = cand[np.arange(n), np.argmin(cost, 1)][rows]
    nr_, na_ = nr[rows], na[rows]
    cropped = (w > 0) | (w + L < nr_) | (w + L < na_)
    padded = (w < 0) | (w + L > nr_) | (w + L > na_)
    start = (pre[rows] - w)[:, None]
    out = {"ref": _cut(seq_ref, rows, w, L), "alt": _cut(seq_alt, rows, w, L), "rows": rows, "skip": skip,
           "window_start": w, "ref_block": np.hstack([start, start + br[rows, None]]),
           "alt_block": np.hstack([start, start + ba[rows, None]]),
           "cropped": cropped, "padded": padded, "block_length": np.stack([br, ba], 1)}
    K = int(shifts)
    if K < 0:
        raise SeqcnnError(f"shifts {K} is negative", hint="give 0 (one window per pair) or a positive number")
    if K:
        starts = w[:, None] + np.arange(-K, K + 1)                                   # [m, S]
        def pad_of(st):  # N bases over both windows started at st
            return sum(np.maximum(0, -st) + np.maximum(0, st + L - n_[:, None]) for n_ in (nr_, na_))

        # The block inside the window (blo <= start <= bhi), and no N beyond the unshifted windows' own: a
        # shift never shows the model padding it would not otherwise see.
        valid = ((starts >= blo[rows, None]) & (starts <= bhi[rows, None])
                 & (pad_of(starts) <= pad_of(w[:, None])))
        flat = np.where(valid, starts, -L).ravel()                                   # invalid: all N
        rep = np.repeat(rows, 2 * K + 1)
        out["shift_ref"] = _cut(seq_ref, rep, flat, L).reshape(len(rows), 2 * K + 1, L)
        out["shift_alt"] = _cut(seq_alt, rep, flat, L).reshape(len(rows), 2 * K + 1, L)
        out["shift_valid"] = valid
    return out


def _cut(seqs, rows, starts, L):
    """Windows ``[start, start + L)`` of ``seqs[rows]`` as uint8 bytes [len(rows), L], N beyond each end."""
    win = np.full((len(rows), L), ord("N"), np.uint8)
    for j, (k, w) in enumerate(zip(rows.tolist(), np.asarray(starts).tolist())):
        s = np.frombuffer(seqs[k].encode(), np.uint8)
        a, b = max(w, 0), min(w + L, len(s))
        if b > a:
            win[j, a - w:b - w] = s[a:b]
    return win
