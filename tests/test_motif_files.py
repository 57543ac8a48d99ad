"""Tests of seqcnn.motif_files: the MEME, JASPAR and TRANSFAC files parse back with Biopython."""

import numpy as np
import pytest


def test_writers_parse_with_biopython(tmp_path):
    from Bio import motifs as bio

    from seqcnn.motif_files import write_jaspar, write_meme, write_transfac

    rng = np.random.default_rng(0)
    counts = [rng.integers(0, 20, (7, 4)).astype(float) + 1, rng.integers(0, 9, (5, 4)).astype(float) + 1]
    pfms = [c / c.sum(1, keepdims=True) for c in counts]
    bg = [0.3, 0.2, 0.2, 0.3]
    write_meme(tmp_path / "m.meme", [("filter0", "CTCF", pfms[0], 123), ("filter3", "", pfms[1], 45)], background=bg)
    with open(tmp_path / "m.meme") as fh:
        ms = bio.parse(fh, "minimal")
    assert [m.name for m in ms] == ["filter0", "filter3"] and [m.length for m in ms] == [7, 5]
    assert [m.num_occurrences for m in ms] == [123, 45]  # nsites is the number of sites, not the width
    got = np.array([ms[0].counts[b] for b in "ACGT"]).T
    # Biopython rebuilds counts as frequency × nsites, rounded: equal to 1/nsites
    np.testing.assert_allclose(got / got.sum(1, keepdims=True), pfms[0], atol=1.0 / 123)
    assert ms.background["A"] == pytest.approx(0.3, abs=0.5e-4)  # written with 4 decimals

    write_jaspar(tmp_path / "m.jaspar", [("filter0", "CTCF", counts[0], 1), ("filter3", "x", counts[1], 1)])
    with open(tmp_path / "m.jaspar") as fh:
        js = list(bio.parse(fh, "jaspar"))
    assert [m.matrix_id for m in js] == ["filter0", "filter3"] and js[0].name == "CTCF"
    np.testing.assert_array_equal(np.array([js[1].counts[b] for b in "ACGT"]).T, counts[1])

    write_transfac(tmp_path / "m.transfac", [("filter0", "CTCF", counts[0], 9), ("filter3", "x", counts[1], 4)])
    with open(tmp_path / "m.transfac") as fh:
        ts = list(bio.parse(fh, "transfac"))
    assert [t["ID"] for t in ts] == ["filter0", "filter3"]
    np.testing.assert_array_equal(np.array([ts[0].counts[b] for b in "ACGT"]).T, counts[0])
