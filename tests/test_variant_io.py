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


def test_plain_gzip_vcf_reads_like_plain_and_bgzip(tmp_path):
    """`gzip calls.vcf` (not bgzip) made pysam raise NotImplementedError (seek); now it reads through a copy."""
    import pysam

    p = _vcf(tmp_path, [("chr1", 10, "rs1", "A", "G,T"), ("chr1", 20, ".", "AC", "A")])
    with open(p, "rb") as src, gzip.open(tmp_path / "plain.vcf.gz", "wb") as dst:
        dst.write(src.read())
    pysam.tabix_compress(str(p), str(tmp_path / "bgzip.vcf.gz"))
    want = read_vcf(p)
    for name in ("plain.vcf.gz", "bgzip.vcf.gz"):
        v = read_vcf(tmp_path / name)
        assert v.path == str(tmp_path / name)  # skipped rows and messages name the user's file, not a copy
        assert list(v.pos) == list(want.pos) and list(v.alt) == list(want.alt) and list(v.line) == list(want.line)
    # a bad line of a plain-gzip VCF is named by its line and the user's file
    with gzip.open(tmp_path / "bad.vcf.gz", "wt") as fh:
        fh.write(HEADER + "chr1\tx\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(SeqcnnError) as err:
        read_vcf(tmp_path / "bad.vcf.gz")
    assert str(err.value).startswith(str(tmp_path / "bad.vcf.gz")) and "line 5" in str(err.value)


def test_windows_give_each_alleles_block_and_count_crops(tmp_path, genome):
    """The block columns of VCF rows: REF and ALT less their shared anchor base, where each lies in its window."""
    path, seqs = genome
    s1 = seqs["chr1"]
    rows = [("chr1", 100, s1[99], "ACGT"[("ACGT".index(s1[99]) + 1) % 4]),   # SNV
            ("chr1", 140, s1[139:145], s1[139]),                              # deletion of 5 (anchor base first)
            ("chr1", 160, s1[159], s1[159] + "TTTTTTT")]                      # insertion of 7
    v = read_vcf(_vcf(tmp_path, [(c, pos, ".", r, a) for c, pos, r, a in rows]))
    with Genome(path) as g:
        w = variant_windows(g, v, 40)
    o = 20
    assert w["ref_block"].tolist() == [[o, o + 1], [o + 1, o + 6], [o + 1, o + 1]]
    assert w["alt_block"].tolist() == [[o, o + 1], [o + 1, o + 1], [o - 3 + 1, o - 3 + 8]]  # 7 // 2 trimmed left
    assert w["cropped"].tolist() == [False, False, True]
    alt = w["alt"][2].tobytes().decode().upper()
    assert alt[o - 2:o + 5] == "TTTTTTT" and alt[o - 3] == s1[159]
    # an insertion near the window's start: the trim around the centre cuts into it, so the block holds the part
    # inside the window (never outside [0, L]), and the row is counted as cropped
    v = read_vcf(_vcf(tmp_path, [("chr1", 160, ".", s1[159], s1[159] + "T" * 18)]))
    with Genome(path) as g:
        w = variant_windows(g, v, 40, offset=1)
    assert w["alt_block"].tolist() == [[0, 1 - 9 + 19]] and w["cropped"].tolist() == [True]
    assert w["alt"][0].tobytes().decode().upper()[:10] == "T" * 10


def test_shifted_ref_check_finds_0_based_positions(tmp_path, genome):
    """A table written with 0-based positions: most REF alleles miss the genome, and match one base right."""
    from seqcnn.variant_io import check_ref_mismatch

    path, seqs = genome
    s1 = seqs["chr1"]
    p0 = np.arange(100, 300, 10)
    (tmp_path / "t0.tsv").write_text("chrom\tpos\tref\talt\n" + "".join(
        f"chr1\t{p}\t{s1[p]}\t{'A' if s1[p] != 'A' else 'C'}\n" for p in p0))  # pos written 0-based
    v = read_variant_table(tmp_path / "t0.tsv")
    with Genome(path) as g:
        w = variant_windows(g, v, 40)
    bad = w["checked"] & ~w["ref_match"]
    assert w["checked"].all() and bad.sum() >= 10
    assert w["shift_match"][1][bad].all() and list(w["skip"][bad]) == ["REF does not match the genome"] * bad.sum()
    shifted = {s: int(m[bad].sum()) for s, m in w["shift_match"].items()}
    with pytest.raises(SeqcnnError) as err:
        check_ref_mismatch(str(tmp_path / "t0.tsv"), len(v), int(bad.sum()), shifted, "line 2")
    msg = str(err.value)
    assert msg.startswith(str(tmp_path / "t0.tsv")) and f"{bad.sum()} of {len(v)} REF alleles" in msg
    assert "0-based" in msg and "add 1 to every position" in msg and "--ref-mismatch skip" in msg and "\n" not in msg
    # another assembly: no shift helps, the message says so
    with pytest.raises(SeqcnnError, match="another assembly"):
        check_ref_mismatch("x.vcf", 100, 40, {1: 10, -1: 9})
    # a handful of real mismatches passes: at most 5 %, or fewer than 3
    check_ref_mismatch("x.vcf", 100, 5, {1: 5, -1: 0})
    check_ref_mismatch("x.vcf", 10, 2, {1: 2, -1: 0})


def test_pair_windows_align_on_the_differing_block():
    """One window start in both alleles, centred on the block; identical and too-long blocks are skipped."""
    from seqcnn.variant_io import pair_windows

    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 200))
    L = 41
    flip = {b: "ACGT"[("ACGT".index(b) + 1) % 4] for b in "ACGT"}
    ref = [seq,                                          # an SNV at 10, far from the centre (the old window missed it)
           seq,                                          # a 3 bp deletion at 120
           seq[:150],                                    # an insertion of 4 at 60, alleles of different length
           seq,                                          # identical
           seq,                                          # differences at 20 and 180: a 161 bp block
           seq[:30]]                                     # shorter than the window: padded
    alt = [seq[:10] + flip[seq[10]] + seq[11:],
           seq[:120] + seq[123:],
           seq[:60] + "GATT" + seq[60:150],
           seq.lower(),
           seq[:20] + flip[seq[20]] + seq[21:180] + flip[seq[180]] + seq[181:],
           seq[:15] + flip[seq[15]] + seq[16:30]]
    w = pair_windows(ref, alt, L)
    assert list(w["skip"]) == [None, None, None, "identical alleles", "differing block longer than the window", None]
    assert list(w["rows"]) == [0, 1, 2, 5] and w["block_length"][4].tolist() == [161, 161]
    for j, k in enumerate(w["rows"]):
        s, (a, b), (c, d) = int(w["window_start"][j]), w["ref_block"][j], w["alt_block"][j]
        r, x = w["ref"][j].tobytes().decode(), w["alt"][j].tobytes().decode()
        assert r[:a] == x[:c] and a == c  # the same left flank: the windows are aligned on the change
        assert (b - a, d - c) == tuple(w["block_length"][k])
        for allele, win in ((ref[k], r), (alt[k], x)):  # each window is the allele's bases from the one start
            real = "".join(allele[i] if 0 <= i < len(allele) else "N" for i in range(s, s + L))
            assert win == real
    # the SNV at 10: moved inward to the allele's start rather than padded (the allele is long enough)
    assert w["window_start"][0] == 0 and w["ref_block"][0].tolist() == [10, 11] and w["alt"][0][10] != w["ref"][0][10]
    # the deletion, centred: its 3 bp in ref, the junction in alt; the right flanks are each allele's own
    assert w["ref_block"][1].tolist() == [19, 22] and w["alt_block"][1].tolist() == [19, 19]
    assert w["window_start"][1] == 120 - (L - 3) // 2
    assert w["ref_block"][2].tolist() == [w["ref_block"][2][0]] * 2 and w["alt_block"][2][1] - w["alt_block"][2][0] == 4
    # cropped: alleles longer than the window; padded: the 30 bp pair, 11 N in all, its block inside
    assert w["cropped"].tolist() == [True, True, True, False] and w["padded"].tolist() == [False, False, False, True]
    assert w["ref"][3].tobytes().count(b"N") == L - 30 and w["ref_block"][3].tolist() == [15 - w["window_start"][3],
                                                                                       16 - w["window_start"][3]]
