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
