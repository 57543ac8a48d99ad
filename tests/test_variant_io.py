"""Tests of seqcnn.variant_io: VCF and table reading, skip reasons, the window rule against plain slicing."""

import gzip

import numpy as np
import pytest

from seqcnn.errors import SeqcnnError
from seqcnn.genome import Genome
from seqcnn.variant_io import read_allele_pairs, read_variant_table, read_vcf, variant_windows

from conftest import write_fasta

HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=400>\n##contig=<ID=chr2,length=300>\n"
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")


@pytest.fixture
def genome(tmp_path):
    """A random two-chromosome genome (chr1 400 bp with soft-masked lower case, chr2 300 bp) and its text."""
    rng = np.random.default_rng(5)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr1", 400), ("chr2", 300))}
    seqs["chr1"] = seqs["chr1"][:50] + seqs["chr1"][50:60].lower() + seqs["chr1"][60:]
    path = write_fasta(tmp_path / "g.fa", list(seqs.items()))
    return path, {c: s.upper() for c, s in seqs.items()}


def _vcf(tmp_path, lines, name="v.vcf"):
    p = tmp_path / name
    p.write_text(HEADER + "".join("\t".join(map(str, row)) + "\t.\t.\t.\n" for row in lines))
    return p


def test_vcf_rows_per_alt_and_skip_reasons(tmp_path):
    p = _vcf(tmp_path, [("chr1", 10, "rs1", "A", "G,T"), ("chr1", 20, ".", "AC", "A"), ("chr1", 30, ".", "A", "<DEL>"),
                        ("chr1", 40, ".", "A", "."), ("chr2", 50, ".", "A", "*")])
    v = read_vcf(p)
    assert v.records_read == 5 and len(v) == 6
    assert list(v.alt[:3]) == ["G", "T", "A"] and list(v.id[:2]) == ["rs1", "rs1"] and v.id[2] is None
    assert list(v.record) == [0, 0, 1, 2, 3, 4] and list(v.line) == [5, 5, 6, 7, 8, 9]
    assert list(v.skip) == [None, None, None, "symbolic ALT", "missing ALT", "symbolic ALT"]
    # bgzip-compressed VCF reads the same (pysam)
    import pysam

    pysam.tabix_compress(str(p), str(p) + ".gz")
    w = read_vcf(str(p) + ".gz")
    assert list(w.pos) == list(v.pos) and list(w.alt[:3]) == list(v.alt[:3])


@pytest.mark.parametrize("body,words", [
    ("chr1\tx\t.\tA\tC\t.\t.\t.\n", ["line 5", "cannot be parsed"]),
    ("chr1\t5\t.\tA\tC\t.\t.\t.\nchr1\t6\t.\tQ\tC\t.\t.\t.\n", ["line 6", "REF 'Q'"]),
    ("", ["no variants"]),
])
def test_bad_vcf_names_file_and_line(tmp_path, body, words):
    p = tmp_path / "bad.vcf"
    p.write_text(HEADER + body)
    with pytest.raises(SeqcnnError) as err:
        read_vcf(p)
    msg = str(err.value)
    assert msg.startswith(str(p)) and "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)
    (tmp_path / "x.vcf").write_text("chr1\t10\t.\tA\tG\n")
    with pytest.raises(SeqcnnError, match="not a VCF"):
        read_vcf(tmp_path / "x.vcf")


def test_variant_table(tmp_path):
    (tmp_path / "t.csv").write_text("chrom,pos,ref,alt,id\nchr1,10,A,\"G,T\",v1\nchr2,5,AC,A,\n")
    v = read_variant_table(tmp_path / "t.csv")
    assert list(v.alt) == ["G", "T", "A"] and list(v.id) == ["v1", "v1", None] and list(v.line) == [2, 2, 3]
    (tmp_path / "t.tsv").write_text("chrom\tpos\tref\talt\nchr1\t0\tA\tG\n")
    with pytest.raises(SeqcnnError, match="line 2: position '0'"):
        read_variant_table(tmp_path / "t.tsv")
    (tmp_path / "u.tsv").write_text("chrom\tposition\tref\talt\nchr1\t1\tA\tG\n")
    with pytest.raises(SeqcnnError, match="missing column.*pos"):
        read_variant_table(tmp_path / "u.tsv")


def _expected(seq, pos, ref, alt, L, o):
    """The window rule written plainly with string slicing (1-based pos)."""
    p0 = pos - 1
    left = p0 - o
    refw = seq[left:left + L]
    altw = seq[left:p0] + alt + seq[p0 + len(ref):]
    if len(alt) > len(ref):
        e = len(alt) - len(ref)
        altw = altw[: L + e][e // 2: e // 2 + L]
    else:
        altw = altw[:L]
    return refw, altw


def test_windows_equal_plain_slicing(tmp_path, genome):
    path, seqs = genome
    s1 = seqs["chr1"]
    rows = [("chr1", 100, s1[99], "ACGT"[("ACGT".index(s1[99]) + 1) % 4]),   # SNV
            ("chr1", 120, s1[119:122], "GGG"),                                # MNP
            ("chr1", 140, s1[139:145], s1[139]),                              # deletion of 5
            ("chr1", 160, s1[159], s1[159] + "TTTTTTT"),                      # insertion of 7 (odd)
            ("chr1", 180, s1[179], s1[179] + "CC"),                           # insertion of 2
            ("chr1", 55, s1[54], "A" if s1[54] != "A" else "C")]              # in soft-masked lower case
    p = _vcf(tmp_path, [(c, pos, ".", r, a) for c, pos, r, a in rows])
    v = read_vcf(p)
    for L, offset in ((40, None), (41, 5), (30, 3), (30, 23)):
        o = L // 2 if offset is None else offset
        with Genome(path) as g:
            w = variant_windows(g, v, L, offset=offset)
        assert list(w["rows"]) == list(range(len(rows))) and w["ref_match"].all()
        for j, (c, pos, r, a) in enumerate(rows):
            ref_exp, alt_exp = _expected(seqs[c], pos, r, a, L, o)
            assert w["ref"][j].tobytes().decode().upper() == ref_exp, (L, j)
            assert w["alt"][j].tobytes().decode().upper() == alt_exp, (L, j)
            assert len(alt_exp) == L


def test_windows_skip_off_chromosome_and_ref_mismatch(tmp_path, genome):
    path, seqs = genome
    s1 = seqs["chr1"]
    wrong = "A" if s1[199] != "A" else "C"
    p = _vcf(tmp_path, [("chr1", 3, ".", s1[2], "G"), ("chr1", 200, ".", wrong, "T"), ("chr1", 390, ".", s1[389], "G"),
                        ("chr1", 250, ".", s1[249], "G")])
    v = read_vcf(p)
    with Genome(path) as g:
        w = variant_windows(g, v, 40)
        assert list(w["skip"]) == ["window runs off the chromosome", "REF does not match the genome",
                                   "window runs off the chromosome", None]
        assert list(w["rows"]) == [3] and list(w["ref_match"]) == [False, False, False, True]
        with pytest.raises(SeqcnnError, match="line 6: REF .* but the genome has"):
            variant_windows(g, v, 40, ref_mismatch="error")
        u = variant_windows(g, v, 40, ref_mismatch="use-vcf")
        assert list(u["rows"]) == [1, 3]
        assert chr(u["ref"][0][20]) == wrong  # the VCF's REF in the reference window
        with pytest.raises(SeqcnnError, match="do not fit the model's 4 bp window"):
            variant_windows(g, read_vcf(_vcf(tmp_path, [("chr1", 100, ".", s1[99:106], "A")], "l.vcf")), 4)


def test_chromosome_naming_and_missing_chromosomes(tmp_path, genome):
    path, seqs = genome
    with Genome(path) as g:
        v = read_vcf(_vcf(tmp_path, [("1", 100, ".", "A", "G")], "n.vcf"))
        with pytest.raises(SeqcnnError, match="named like '1'"):
            variant_windows(g, v, 40)
        v = read_vcf(_vcf(tmp_path, [("chr1", 100, ".", seqs["chr1"][99], "G"), ("chrUn", 5, ".", "A", "G")], "m.vcf"))
        assert list(variant_windows(g, v, 40)["skip"]) == [None, "chromosome not in genome"]


def test_allele_pairs_need_the_same_ids(tmp_path):
    a = write_fasta(tmp_path / "ref.fa", [("x", "ACGT"), ("y", "GGCC")])
    b = write_fasta(tmp_path / "alt.fa", [("y", "GGCA"), ("x", "ACGA")])
    ids, r, s = read_allele_pairs(a, b)
    assert ids == ["x", "y"] and s == ["ACGA", "GGCA"]
    c = write_fasta(tmp_path / "alt2.fa", [("x", "ACGA"), ("z", "GG")])
    with pytest.raises(SeqcnnError, match="id 'y' of .*ref.fa is missing here"):
        read_allele_pairs(a, c)
    with gzip.open(tmp_path / "e.fa.gz", "wt") as fh:
        fh.write("")
    with pytest.raises(SeqcnnError, match="empty"):
        read_allele_pairs(a, tmp_path / "e.fa.gz")
