"""Variants in: VCF/BCF files, variant tables and allele-pair FASTA files → validated arrays; ref/alt windows.

Provides :func:`read_vcf` (VCF, bgzip VCF or BCF through pysam's ``VariantFile``; one row per ALT of a
multi-allelic record), :func:`read_variant_table` (CSV/TSV ``chrom, pos, ref, alt[, id]``, 1-based like VCF),
:class:`Variants` (the arrays), :func:`variant_windows` (the reference and alternative windows of each variant,
cut from a genome by the rule below, with the REF check), :func:`read_allele_pairs` (``--ref-fasta`` /
``--alt-fasta`` with the same ids) and :func:`write_vcf` (simulated variants). Skipped variants are returned
with their reason, never dropped silently. Imports no TensorFlow.

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

SKIP_REASONS = ("symbolic ALT", "missing ALT", "chromosome not in genome", "window runs off the chromosome",
                "REF does not match the genome")
REF_MISMATCH = ("skip", "error", "use-vcf")
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


def read_vcf(path):
    """Read a whole VCF, bgzip VCF or BCF file into :class:`Variants` (see :func:`iter_vcf`)."""
    return concat(iter_vcf(path))


def iter_vcf(path, block_records=BLOCK_RECORDS):
    """Stream a VCF, bgzip VCF or BCF file as :class:`Variants` blocks, one row per ALT allele.

    Each block holds the rows of ``block_records`` input records (``record``: the index in the whole file).
    Symbolic alleles (``<DEL>``, ``*``, breakends) and missing ALT (``.``) are kept as rows marked with their
    skip reason, so they are counted and reported.

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


def variant_windows(genome, variants, length, offset=None, ref_mismatch="skip"):
    """The reference and alternative windows of each variant (the module's window rule), with the REF check.

    Parameters
    ----------
    genome : seqcnn.genome.Genome
    variants : Variants — rows already marked in ``skip`` are passed over.
    length : int — the model's input length ``L``.
    offset : int, optional — window index of the variant's first base (default ``L // 2``).
    ref_mismatch : {'skip', 'error', 'use-vcf'} — a REF that differs from the genome: the row is skipped,
        the call fails, or the reference window carries the VCF's REF.

    Returns
    -------
    dict — ``ref`` and ``alt`` (uint8 bytes [m, L] of the scorable rows), ``rows`` (their indices into
    ``variants``, int64 [m]), ``ref_match`` (bool [n]: REF equals the genome; False where unknown), ``skip``
    (object [n]: the reason per row, None for scored rows).

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
    for j, k in enumerate(ok):
        genome_ref = upper[refw[j, o:o + lref[k]]].tobytes().decode("ascii", "replace")
        ref_match[k] = genome_ref == variants.ref[k].upper()
    bad = ok[~ref_match[ok]]
    if len(bad) and ref_mismatch == "error":
        k = int(bad[0])
        j = int(np.searchsorted(ok, k))
        raise SeqcnnError(f"line {variants.line[k]}: REF {variants.ref[k]} at {variants.chrom[k]}:{variants.pos[k]} "
                          f"but the genome has {upper[refw[j, o:o + lref[k]]].tobytes().decode()}",
                          path=variants.path, hint="check the assembly and that positions are 1-based, or use "
                                                   "--ref-mismatch skip / use-vcf")
    if ref_mismatch == "skip":
        skip[bad] = "REF does not match the genome"
    keep = np.flatnonzero(np.isin(ok, np.flatnonzero(np.equal(skip, None))))
    rows, refw = ok[keep], refw[keep]
    altw = np.empty_like(refw)
    for j, k in enumerate(rows.tolist()):
        r, a = variants.ref[k].encode(), variants.alt[k].encode()
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
    return {"ref": refw, "alt": altw, "rows": rows, "ref_match": ref_match, "skip": skip, "offset": o}


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
