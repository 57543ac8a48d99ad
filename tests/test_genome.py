"""Tests of seqcnn.genome: index building, plain and bgzip FASTA, refusals, windows against plain slicing."""

import gzip

import numpy as np
import pytest

from seqcnn.errors import SeqcnnError
from seqcnn.genome import Genome

CHROMS = {"chr1": "ACGTacgtNNACGGTTAACCGGTTAAACCCGGGTTTAAAACCCCGGGGTTTT" * 3, "chr2": "TTTTGGGGccccAAAA" * 5}


def _write(path, chroms=CHROMS, width=17):
    with open(path, "w") as fh:
        for name, seq in chroms.items():
            fh.write(f">{name} some description\n")
            fh.write("".join(seq[i:i + width] + "\n" for i in range(0, len(seq), width)))
    return path


def _revcomp(s):
    return s[::-1].translate(str.maketrans("ACGTacgt", "TGCAtgca"))


@pytest.mark.parametrize("bgzip", [False, True])
def test_windows_equal_plain_slicing_on_both_strands(tmp_path, bgzip):
    path = _write(tmp_path / "g.fa")
    if bgzip:
        import pysam

        pysam.tabix_compress(str(path), str(tmp_path / "g.fa.gz"))
        path = tmp_path / "g.fa.gz"
    with Genome(path) as g:
        assert g.lengths == {k: len(v) for k, v in CHROMS.items()} and g.size == sum(map(len, CHROMS.values()))
        assert (tmp_path / f"{path.name}.fai").exists()  # built on first use
        rng = np.random.default_rng(0)
        chrom = rng.choice(list(CHROMS), 50).astype(object)
        start = np.array([rng.integers(0, len(CHROMS[c]) - 12 + 1) for c in chrom])
        strand = rng.choice(["+", "-", "."], 50).astype(object)
        got = g.windows(chrom, start, 12, strand)
        for k in range(50):
            want = CHROMS[chrom[k]][start[k]:start[k] + 12]
            want = _revcomp(want) if strand[k] == "-" else want
            assert got[k].tobytes().decode() == want  # soft-masked case kept, N kept
            assert g.fetch(chrom[k], start[k], start[k] + 12, strand[k]) == want
            assert g.region(chrom[k], start[k], start[k] + 12).tobytes().decode() == CHROMS[chrom[k]][
                start[k]:start[k] + 12]
        assert len(g.index_sha256()) == 64
        with pytest.raises(SeqcnnError, match="runs off"):
            g.windows(np.array(["chr2"], object), [75], 12)
        with pytest.raises(SeqcnnError, match="not within the genome"):
            g.fetch("chr2", 70, 90)


def test_plain_gzip_not_fasta_missing_and_unindexable_are_refused(tmp_path, monkeypatch):
    plain = _write(tmp_path / "g.fa")
    (tmp_path / "g.fa.gz").write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(SeqcnnError, match="plain gzip") as err:
        Genome(tmp_path / "g.fa.gz")
    assert "bgzip" in str(err.value)
    (tmp_path / "notes.fa").write_text("hello\n")
    with pytest.raises(SeqcnnError, match="not a FASTA file"):
        Genome(tmp_path / "notes.fa")
    with pytest.raises(SeqcnnError, match="genome file not found"):
        Genome(tmp_path / "nope.fa")
    import pysam

    def cannot(*args):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(pysam, "faidx", cannot)
    with pytest.raises(SeqcnnError, match="cannot build the index g2.fa.fai") as err:
        Genome(_write(tmp_path / "g2.fa"))
    assert "samtools faidx" in str(err.value) and "\n" not in str(err.value)


def test_check_chroms_names_a_chr_prefix_mismatch(tmp_path):
    with Genome(_write(tmp_path / "g.fa")) as g:
        assert g.check_chroms(["chr1", "chr2"]) == set()
        assert g.check_chroms(["chr1", "chrUn_x"]) == {"chrUn_x"}  # some missing: the caller drops and counts
        with pytest.raises(SeqcnnError, match="named like '1'") as err:
            g.check_chroms(["1", "2"], path="peaks.bed", line={"1": 3})
        assert "line 3" in str(err.value) and "peaks.bed" in str(err.value)
        with pytest.raises(SeqcnnError, match="none of the chromosomes"):
            g.check_chroms(["scaffold_9"])
