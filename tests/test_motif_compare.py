"""Tests of seqcnn.motif_compare: Benjamini–Hochberg q-values (Tomtom matching is tested in test_motifs)."""

import numpy as np


def test_bh_qvalues():
    from seqcnn.motif_compare import bh_qvalues

    p = np.array([0.01, 0.04, 0.03, 0.5])
    # by hand: sorted 0.01, 0.03, 0.04, 0.5 → p*n/rank = 0.04, 0.06, 0.0533, 0.5 → cumulative min from the top
    np.testing.assert_allclose(bh_qvalues(p), [0.04, 0.0533333, 0.0533333, 0.5], rtol=1e-5)


def test_score_pvalue_equals_enumeration():
    import itertools

    from seqcnn.motif_compare import score_pvalue

    rng = np.random.default_rng(1)
    pwm = np.log2((rng.dirichlet(np.ones(4) * 0.6, 6) + 0.01) / 1.04 / 0.25)
    every = np.array([pwm[np.arange(6), list(seq)].sum() for seq in itertools.product(range(4), repeat=6)])
    for s in np.quantile(every, [0.0, 0.5, 0.9, 0.99, 1.0]):
        exact = (every >= s - 1e-9).mean()
        # the grid rounds each position's score to 0.05 bit: within a few grid steps of the exact tail
        assert (every >= s + 0.2).mean() - 1e-12 <= score_pvalue(pwm, [s])[0] <= (every >= s - 0.2).mean() + 1e-12
        assert abs(score_pvalue(pwm, [s])[0] - exact) < 0.05


def test_best_hit_names_the_motif_a_variant_breaks():
    from seqcnn.encoding import one_hot
    from seqcnn.motif_compare import best_hit

    rng = np.random.default_rng(2)
    ctcf = rng.dirichlet(np.ones(4) * 0.2, 15)           # a sharp 15 bp motif
    other = rng.dirichlet(np.ones(4) * 0.2, 8)
    site = "".join("ACGT"[i] for i in ctcf.argmax(1))
    flank = "".join(rng.choice(list("ACGT"), 40))
    ref = flank[:20] + site + flank[20:]
    m = int(np.argmax(ctcf.max(1)))                        # its most informative position
    worst = "ACGT"[int(np.argmin(ctcf[m]))]
    alt = ref[:20 + m] + worst + ref[21 + m:]
    hit = best_hit(one_hot(ref), one_hot(alt), 20 + m, [("M1", "sharp", ctcf), ("M2", "other", other)])
    assert hit["id"] == "M1" and hit["alt_p"] > hit["ref_p"] * 10 and hit["change"] < -1
    assert best_hit(one_hot(ref), one_hot(ref), 20 + m, [("M1", "sharp", ctcf)]) is None  # nothing changed


def test_best_hit_scans_each_alleles_block_after_an_indel():
    """A site inserted in the alternative allele lies over its block (30..45), not over the reference's junction
    position alone: with blocks, each allele is scanned over its own; with position 30 only, the site is missed."""
    from seqcnn.encoding import one_hot
    from seqcnn.motif_compare import best_hit

    rng = np.random.default_rng(4)
    ctcf = rng.dirichlet(np.ones(4) * 0.2, 15)
    site = "".join("ACGT"[i] for i in ctcf.argmax(1))
    flank = "".join(rng.choice(list("ACGT"), 75))
    ref, alt = flank[:60], flank[:30] + site + flank[30:45]      # windows of 60; alt's bases 30..45 are new
    blocks = ((30, 30), (30, 45))
    hit = best_hit(one_hot(ref), one_hot(alt), 30, [("M1", "sharp", ctcf)], blocks=blocks)
    assert hit is not None and hit["id"] == "M1" and hit["alt_p"] < hit["ref_p"] / 10 and hit["change"] > 1
    # a site that covers position 44 only in alt is past position 30: the old single-position scan misses it
    late = flank[:30] + "A" * 15 + site                        # the site at 45..60, an insertion of 30
    assert best_hit(one_hot(ref), one_hot(late), 30, [("M1", "sharp", ctcf)]) is None
    assert best_hit(one_hot(ref), one_hot(late), 30, [("M1", "sharp", ctcf)], blocks=((30, 30), (30, 60))) is not None


def test_wrong_jaspar_names_fail_on_one_line_listing_the_valid_ones_without_warnings(recwarn, capfd):
    import pytest

    from seqcnn.errors import SeqcnnError
    from seqcnn.motif_compare import check_jaspar, jaspar_names, load_targets

    names = jaspar_names("JASPAR2024")   # read from pyjaspar's database, not a list kept here
    assert {"vertebrates", "fungi", "plants", "insects", "nematodes", "urochordates"} <= set(names["tax_groups"])
    assert "CORE" in names["collections"] and "JASPAR2024" in names["releases"]
    for kw, words in [({"tax_group": "yeast"}, ["'yeast'", "fungi", "plants", "vertebrates", "none"]),
                      ({"tax_group": "fungi", "collection": "COREX"}, ["'COREX'", "CORE", "UNVALIDATED"]),
                      ({"tax_group": "fungi", "release": "JASPAR1999"}, ["'JASPAR1999'", "JASPAR2024"]),
                      ({"tax_group": "cnidaria", "release": "JASPAR2014"}, ["'cnidaria'", "fungi"])]:
        with pytest.raises(SeqcnnError) as err:
            load_targets(**{"release": "JASPAR2024", "collection": "CORE", **kw})
        assert "\n" not in str(err.value) and all(w in str(err.value) for w in words), str(err.value)
    out, errs = capfd.readouterr()
    assert out == "" and errs == "" and not [w for w in recwarn if "motif" in str(w.message).lower()]
    assert len(load_targets(tax_group="fungi")) > 100 and check_jaspar("all") == "all"


def test_a_verb_takes_its_option_else_the_runs_group_else_vertebrates():
    from seqcnn.motif_compare import database_name, no_match_text, run_targets, run_tax_group

    fungi_run = {"training": {"jaspar": "fungi"}}
    assert run_tax_group(None, fungi_run) == "fungi" and run_tax_group("plants", fungi_run) == "plants"
    assert run_tax_group(None, {"seqcnn_run": 1}) == "vertebrates"   # recorded before train --jaspar
    assert run_targets("none", fungi_run) == (None, "none", None)
    targets, group, database = run_targets(None, fungi_run)
    assert group == "fungi" and database == "JASPAR2024 CORE fungi" and len(targets) > 100
    text = no_match_text(0.05, database_name(), "vertebrates")
    assert text.startswith("no match at q < 0.05 in JASPAR2024 CORE vertebrates (another organism? --jaspar fungi|")
    assert "vertebrates|" not in text
