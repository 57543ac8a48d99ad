"""A reference genome, read through its index (pysam ``FastaFile``): chromosome sizes, regions, many windows.

Provides :class:`Genome`: opens a plain or bgzip-compressed FASTA (``samtools faidx`` layout), builds the
``.fai`` (and ``.gzi``) index when it is missing, reads plain gzip through a bgzip copy it makes once
(:func:`bgzip_copy`: beside the file, else in :func:`cache_dir`), checks that the file is FASTA, and reads
windows (:meth:`Genome.windows`: many windows at once, read in slabs of at
most ``SLAB_BASES`` and cut with numpy, ``-`` strand windows reverse-complemented) and regions
(:meth:`Genome.region`) without ever holding a whole chromosome. :meth:`Genome.check_chroms` turns a chromosome naming mismatch (``chr1`` against ``1``) into
one error that says so. Soft-masked lower case is kept as it is (the encoder accepts it).

pysam was chosen over pyfaidx by ``benchmarks/bench_genome.py`` (RESULTS "Genome reader"): it reads whole
chromosomes 2-4.5x faster and builds the index 1.5-3x faster, and the windows seqcnn cuts per chromosome
come out 1.8-4x faster; pyfaidx is faster only for one small fetch at a time, which seqcnn does not do.
"""

import os
import sys

import numpy as np

from .errors import InputFormatError, SeqcnnError
from .readers import compression, sha256_file

# Bases read at once by Genome.windows: memory stays flat however long a chromosome is.
SLAB_BASES = 10_000_000
# Byte → its complement (A<->T, C<->G, either case; N and anything else unchanged), for '-' strand windows.
_COMPLEMENT = np.arange(256, dtype=np.uint8)
for _a, _b in ("AT", "CG", "at", "cg"):
    _COMPLEMENT[ord(_a)], _COMPLEMENT[ord(_b)] = ord(_b), ord(_a)


def _pysam():
    import pysam

    pysam.set_verbosity(0)  # htslib's own error lines on stderr would break the one-line error rule
    return pysam


def _sniff(path):
    """Refuse what is not a plain or gzip FASTA, before htslib sees it: 'plain', 'bgzip' or 'gzip' (plain gzip)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    kind = compression(head)
    if kind != "plain":
        import gzip
        import zlib

        try:
            with gzip.open(path, "rb") as gz:
                head = gz.read(1 << 12)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFormatError(f"damaged {kind} file ({exc})", path=path, hint="re-download it") from None
    if not head.lstrip()[:1] == b">":
        raise InputFormatError("not a FASTA file (it does not start with a '>' header)", path=path,
                               hint="give the reference genome in FASTA format (e.g. hg38.fa or hg38.fa.gz)")
    return kind


def cache_dir():
    """Where bgzip copies of plain-gzip genomes go when the genome's own folder is not writable.

    ``$XDG_CACHE_HOME/seqcnn/genomes`` (``~/.cache/seqcnn/genomes`` when the variable is unset).
    """
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "seqcnn", "genomes")


def _copy_places(path):
    """The bgzip copy's two possible paths for a plain-gzip ``path``: beside it, then in :func:`cache_dir`.

    ``hg38.fa.gz`` → ``hg38.bgz.fa.gz``; in the cache the name also carries a hash of the source's absolute
    path, so two genomes of one name in different folders never share a copy.
    """
    import hashlib

    src = os.path.abspath(path)
    base = os.path.basename(src)
    stem = base[:-3] if base.endswith(".gz") else base
    root, ext = os.path.splitext(stem)
    if ext.lower() not in (".fa", ".fasta", ".fna", ".fas"):
        root, ext = stem, ".fa"
    tag = hashlib.sha1(src.encode()).hexdigest()[:10]
    return [os.path.join(os.path.dirname(src), f"{root}.bgz{ext}.gz"),
            os.path.join(cache_dir(), f"{root}-{tag}.bgz{ext}.gz")]


def _source_record(path):
    st = os.stat(path)
    return {"source": os.path.abspath(path), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def _reusable(copy, path):
    """Whether ``copy`` is a finished bgzip copy of ``path`` as it is now (same size and mtime, made after it)."""
    import json

    if not all(os.path.exists(copy + ext) for ext in ("", ".fai", ".gzi", ".source.json")):
        return False
    try:
        with open(copy + ".source.json") as fh:
            recorded = json.load(fh)
    except (OSError, ValueError):
        return False
    return recorded == _source_record(path) and os.stat(copy).st_mtime_ns >= os.stat(path).st_mtime_ns


def bgzip_copy(path):
    """A bgzip copy of the plain-gzip FASTA ``path``, indexed, made once and reused: (copy path, made now).

    Plain gzip cannot be read by position, and ``bgzip`` (htslib) is often not installed, so seqcnn makes the
    copy itself: ``path`` is decompressed as a stream (Python ``gzip``) into pysam's ``BGZFile`` and indexed
    (``.fai`` + ``.gzi``). The copy goes beside ``path`` (``hg38.fa.gz`` → ``hg38.bgz.fa.gz``) when that folder is
    writable, else into :func:`cache_dir`. ``<copy>.source.json`` records the source's path, size and mtime;
    the copy is reused while they match and the copy is newer than the source, and made again otherwise. It is
    written under a temporary name and moved into place complete, so an interrupted copy is never reused.

    Raises
    ------
    InputFormatError — damaged gzip, or no writable place for the copy.
    """
    import gzip
    import json
    import zlib

    places = _copy_places(path)
    for copy in places:
        if _reusable(copy, path):
            return copy, False
    try:  # a source that cannot be read is said as such, not as 'no place for the copy'
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputFormatError(f"cannot read the genome ({exc.strerror})", path=path,
                               hint="check the file's permissions") from None
    pysam = _pysam()
    last = None
    for copy in places:
        folder = os.path.dirname(copy)
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            last = exc
            continue
        if not os.access(folder, os.W_OK):
            continue
        if os.path.exists(copy) and not os.path.exists(copy + ".source.json"):
            continue  # a file of that name that seqcnn did not write: never overwritten, the next place is tried
        tmp = f"{copy}.tmp-{os.getpid()}"
        try:
            with gzip.open(path, "rb") as src, pysam.BGZFile(tmp, "wb") as dst:
                # 16 MB at a time: a 3 GB genome never sits in memory.
                for block in iter(lambda: src.read(1 << 24), b""):
                    dst.write(block)
            pysam.faidx(tmp)
            for ext in (".fai", ".gzi"):
                os.replace(tmp + ext, copy + ext)
            os.replace(tmp, copy)
            with open(tmp + ".json", "w") as fh:
                json.dump(_source_record(path), fh)
            os.replace(tmp + ".json", copy + ".source.json")  # last: its presence marks a finished copy
            return copy, True
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputFormatError(f"damaged gzip file ({exc})", path=path, hint="re-download it") from None
        except (OSError, pysam.SamtoolsError) as exc:
            last = exc
            continue  # e.g. the disk filled up: try the next place
        finally:
            for ext in ("", ".fai", ".gzi", ".json"):
                if os.path.exists(tmp + ext):
                    os.remove(tmp + ext)
    raise InputFormatError(f"plain gzip cannot be read by position, and no bgzip copy could be written beside it or "
                           f"in {cache_dir()}" + (f" (last error: {last})" if last else ""), path=path,
                           hint=f"recompress it with bgzip (gunzip -c {os.path.basename(path)} | bgzip > "
                                f"genome.fa.gz; bgzip comes with htslib/samtools), decompress it, or set "
                                f"XDG_CACHE_HOME to a writable folder with room for it")


def by_chrom(chrom):
    """Record indices grouped by chromosome, hash-based (a million records in ~0.05 s, 20x np.unique on str).

    Parameters
    ----------
    chrom : array of str, shape=(n,)

    Returns
    -------
    list of (str, np.ndarray of int64) — each distinct chromosome in order of first appearance, with the
    indices of its records in increasing order.
    """
    import pandas as pd

    codes, names = pd.factorize(np.asarray(chrom, dtype=object))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return [(str(names[k]), order[bounds[k]:bounds[k + 1]]) for k in range(len(names))]


class Genome:
    """An indexed reference genome.

    Parameters
    ----------
    path : str — ``genome.fa`` or bgzip ``genome.fa.gz``; ``path.fai`` (and ``path.gzi``) are built
        beside it when missing. Plain gzip is read through :func:`bgzip_copy` (one ``seqcnn: note:`` line on
        stderr says where the copy is).

    Attributes
    ----------
    lengths : dict — chromosome name → length in bp, in file order.
    path : str — the file read (the bgzip copy for a plain-gzip genome); ``source`` — the path given.
    note : str or None — the line said about a bgzip copy.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise InputFormatError("genome file not found", path=self.path, hint="check the path")
        if os.path.isdir(self.path):
            raise InputFormatError("is a directory, not a genome FASTA file", path=self.path)
        self.source, self.note = self.path, None
        if _sniff(self.path) == "gzip":
            self.path, made = bgzip_copy(self.source)
            self.note = (f"{self.source} is plain gzip, which cannot be read by position: wrote a bgzip copy "
                         f"{self.path} (indexed; reused while the original is unchanged; delete it to free the space)"
                         if made else f"reading {self.path}, the bgzip copy of the plain-gzip {self.source}")
            # Said here, once, for every verb that takes --genome: where a genome-sized file appeared matters.
            print(f"seqcnn: note: {self.note}", file=sys.stderr)
        pysam = _pysam()
        if not os.path.exists(self.path + ".fai"):
            try:
                pysam.faidx(self.path)
            except (OSError, pysam.SamtoolsError) as exc:
                writable = os.access(os.path.dirname(os.path.abspath(self.path)), os.W_OK)
                why = "its folder is not writable" if not writable else " ".join(str(exc).split())[:160]
                raise InputFormatError(f"cannot build the index {os.path.basename(self.path)}.fai ({why})",
                                       path=self.path, hint="index it where you can write: samtools faidx "
                                                            "GENOME, or copy the genome to a writable folder"
                                       ) from None
        try:
            self._fa = pysam.FastaFile(self.path)
        except (OSError, ValueError) as exc:
            raise InputFormatError(f"cannot open the genome ({' '.join(str(exc).split())[:160]})", path=self.path,
                                   hint="a damaged or stale index: delete the .fai (and .gzi) to rebuild it"
                                   ) from None
        self.lengths = dict(zip(self._fa.references, map(int, self._fa.lengths)))
        if not self.lengths:
            raise InputFormatError("the genome has no sequences", path=self.path)

    @property
    def size(self):
        """Total length in bp."""
        return int(sum(self.lengths.values()))

    def index_sha256(self):
        """sha256 of the ``.fai`` index: identifies the assembly's names and lengths without hashing gigabytes."""
        return sha256_file(self.path + ".fai")

    def check_chroms(self, names, path=None, line=None):
        """Raise when chromosomes of an input are not in the genome; name a ``chr`` prefix mismatch as such.

        Parameters
        ----------
        names : iterable of str — the input's chromosome names.
        path : str, optional — the input file, for the message.
        line : dict, optional — name → line number of its first use, for the message.

        Returns
        -------
        set of str — the names that are not in the genome (empty when every name is; raises instead when
        none is, since then the naming differs).
        """
        names = set(map(str, names))
        missing = names - set(self.lengths)
        if not missing:
            return missing
        if len(missing) == len(names):
            first = sorted(missing)[0]
            where = f" (line {line[first]})" if line and first in line else ""
            flipped = {n[3:] if n.startswith("chr") else f"chr{n}" for n in missing}
            if flipped & set(self.lengths):
                style = "'chr1'" if sorted(missing)[0].startswith("chr") else "'1'"
                other = "'1'" if style == "'chr1'" else "'chr1'"
                raise SeqcnnError(f"chromosome names differ from the genome's: {first!r}{where} is named like "
                                  f"{style}, the genome {os.path.basename(self.path)} like {other}", path=path,
                                  hint="use the genome of the same naming (UCSC chr1 vs Ensembl 1), or rename "
                                       "the chromosomes of one file (e.g. sed 's/^chr//' peaks.bed)")
            raise SeqcnnError(f"none of the chromosomes is in the genome (e.g. {first!r}{where}; the genome has "
                              f"{', '.join(list(self.lengths)[:4])}...)", path=path,
                              hint="give the genome assembly these intervals were called on")
        return missing

    def sizes(self, chrom):
        """Each record's chromosome length (-1 where the genome lacks it): chrom [n] → int64 [n]."""
        size = np.full(len(chrom), -1, np.int64)
        for c, sel in by_chrom(chrom):
            size[sel] = self.lengths.get(c, -1)
        return size

    def region(self, chrom, start, end):
        """The bases of ``[start, end)`` on ``chrom`` as uint8 bytes, shape=(end - start,) (forward strand)."""
        return np.frombuffer(self._fa.fetch(chrom, int(start), int(end)).encode("ascii", "replace"), np.uint8)

    def fetch(self, chrom, start, end, strand="+"):
        """The sequence of ``[start, end)`` on ``chrom`` (0-based), reverse-complemented for ``strand='-'``: str."""
        start, end = int(start), int(end)
        if chrom not in self.lengths or start < 0 or end > self.lengths[chrom] or end < start:
            raise SeqcnnError(f"{chrom}:{start}-{end} is not within the genome", path=self.path)
        seq = self._fa.fetch(chrom, start, end)
        if strand == "-":
            seq = _COMPLEMENT[np.frombuffer(seq.encode("ascii", "replace"), np.uint8)[::-1]].tobytes().decode()
        return seq

    def windows(self, chrom, start, length, strand=None):
        """Many windows of one length, read a slab at a time: uint8 bytes, shape=(n, length), in input order.

        Parameters
        ----------
        chrom : array of str, shape=(n,)
        start : array of int, shape=(n,) — 0-based; every window must lie within its chromosome.
        length : int
        strand : array of str, shape=(n,), optional — ``-`` windows come reverse-complemented.
        """
        chrom = np.asarray(chrom, dtype=object)
        start = np.asarray(start, np.int64)
        out = np.empty((len(start), int(length)), np.uint8)
        offsets = np.arange(int(length), dtype=np.int64)
        for c, sel in by_chrom(chrom):
            sel = sel[np.argsort(start[sel], kind="stable")]
            s = start[sel]
            if c not in self.lengths or s[0] < 0 or s[-1] + length > self.lengths[c]:
                raise SeqcnnError(f"a window on {c} runs off the chromosome or the genome", path=self.path)
            # Slabs of at most SLAB_BASES: a 250 Mbp chromosome read whole would be ~0.5 GB as str + bytes.
            cuts = np.flatnonzero(np.diff(s // SLAB_BASES)) + 1
            for part in np.split(np.arange(len(s)), cuts):
                lo = int(s[part[0]])
                span = self.region(c, lo, int(s[part[-1]]) + int(length))
                out[sel[part]] = span[(s[part] - lo)[:, None] + offsets]
        if strand is not None:
            minus = np.flatnonzero(np.asarray(strand, dtype=object) == "-")
            out[minus] = _COMPLEMENT[out[minus, ::-1]]
        return out

    def close(self):
        self._fa.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
