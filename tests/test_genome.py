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


def test_plain_gzip_is_read_through_a_bgzip_copy_made_once(tmp_path, monkeypatch, capsys):
    """No bgzip on the machine: seqcnn writes the copy itself, beside the genome or in the cache, and reuses it."""
    import os

    from seqcnn import genome as genome_mod

    plain = _write(tmp_path / "g.fa")
    src = tmp_path / "g.fa.gz"
    src.write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setenv("PATH", "")  # no bgzip, no samtools
    with Genome(src) as g:
        assert g.path == str(tmp_path / "g.bgz.fa.gz") and g.source == str(src)
        assert g.lengths == {k: len(v) for k, v in CHROMS.items()}
        assert g.fetch("chr2", 3, 20, "-") == _revcomp(CHROMS["chr2"][3:20])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "wrote a bgzip copy" in err[0] and str(tmp_path / "g.bgz.fa.gz") in err[0]
    made = os.stat(tmp_path / "g.bgz.fa.gz").st_mtime_ns
    with Genome(src) as g:  # reused: same file, not rewritten
        assert g.path == str(tmp_path / "g.bgz.fa.gz")
    assert os.stat(tmp_path / "g.bgz.fa.gz").st_mtime_ns == made and "reading" in capsys.readouterr().err
    # The original changed (another size): the copy is made again.
    src.write_bytes(gzip.compress(_write(tmp_path / "g3.fa", {"chrA": "ACGT" * 30}).read_bytes()))
    with Genome(src) as g:
        assert g.lengths == {"chrA": 120}
    assert "wrote a bgzip copy" in capsys.readouterr().err
    # The genome's folder is not writable: the copy goes to $XDG_CACHE_HOME/seqcnn/genomes.
    other = tmp_path / "ro"
    other.mkdir()
    (other / "h.fa.gz").write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(other) else real(p, mode))
    with Genome(other / "h.fa.gz") as g:
        assert os.path.dirname(g.path) == str(tmp_path / "cache" / "seqcnn" / "genomes")
        assert os.path.basename(g.path).startswith("h-") and g.path.endswith(".bgz.fa.gz")
        assert g.lengths["chr1"] == len(CHROMS["chr1"])
    assert not list(other.glob("*.bgz*")) and "wrote a bgzip copy" in capsys.readouterr().err
    # Nowhere to write: the bgzip fix, on one line.
    (other / "k.fa.gz").write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    with pytest.raises(SeqcnnError, match="no bgzip copy could be written") as err:
        Genome(other / "k.fa.gz")
    assert "recompress it with bgzip" in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setattr(os, "access", real)
    (other / "bad.fa.gz").write_bytes(gzip.compress(plain.read_bytes())[:-30] + b"\x00" * 10)
    with pytest.raises(SeqcnnError, match="damaged gzip"):
        genome_mod.bgzip_copy(str(other / "bad.fa.gz"))
    assert not list(other.glob("bad.bgz*")) and not list(other.glob("*.tmp-*"))
    # A file of the copy's name that seqcnn did not write (no .source.json) is never overwritten: the cache
    (other / "u.fa.gz").write_bytes(gzip.compress(plain.read_bytes()))
    (other / "u.bgz.fa.gz").write_bytes(b"the user's own file")
    copy, made = genome_mod.bgzip_copy(str(other / "u.fa.gz"))
    assert made and os.path.dirname(copy) == str(tmp_path / "cache" / "seqcnn" / "genomes")
    assert (other / "u.bgz.fa.gz").read_bytes() == b"the user's own file"


def test_not_fasta_missing_and_unindexable_are_refused(tmp_path, monkeypatch):
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
