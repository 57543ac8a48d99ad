"""Tests of seqcnn.motifs: filters → PFMs (thresholds, strands, min-sites, pseudocounts), influence, Tomtom."""

import os
from pathlib import Path

import numpy as np
import pytest
from numerics import assert_close

# Share memelite's compiled Tomtom (numba, ~50 s cold) across runs: the repo's git-ignored cache.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))

L = 100


def _detector_model(pfm, n_filters=4, margin=14.0, dense=False):
    """deepbind whose filter 0 is the log-odds PWM of ``pfm`` (bias: fires within ``margin`` bits of the best
    score); the other filters are all zero; logit = filter 0's global max (no dense layer)."""
    from seqcnn.models import build_model

    K = len(pfm)
    model = build_model("deepbind", L, "binary", 1, filters=n_filters, kernel_size=K, dense_units=4 if dense else 0,
                        dropout=0.0, global_average=False)
    for w in model.weights:
        w.assign(np.zeros(w.shape, "float32"))
    pwm = np.log2((pfm + 0.01) / 1.04 / 0.25)
    W = np.zeros((K, 4, n_filters), "float32")
    W[:, :, 0] = pwm
    b = np.zeros(n_filters, "float32")
    b[0] = -(pwm.max(1).sum() - margin)
    model.get_layer("conv1").kernel.assign(W)
    model.get_layer("conv1").bias.assign(b)
    if not dense:
        k = np.zeros((n_filters, 1), "float32")
        k[0, 0] = 1.0
        model.get_layer("logits").kernel.assign(k)
        model.get_layer("logits").bias.assign([-3.0])
    return model


@pytest.fixture(scope="module")
def ctcf():
    from seqcnn.simulate import jaspar_pfm

    return jaspar_pfm("MA0139.1")[1]


def test_known_pwm_comes_back_and_tomtom_names_it(ctcf, sim_binary):
    from seqcnn.motif_compare import compare_jaspar
    from seqcnn.motifs import filter_motifs
    from seqcnn.store import open_dataset

    with open_dataset(sim_binary) as ds:
        x = ds.read_x()
    model = _detector_model(ctcf, margin=14.0)
    fm = filter_motifs(model, x, threshold=0.0, min_sites=10)
    np.testing.assert_allclose(fm.pfm.sum(-1), 1.0, atol=1e-9)  # every column sums to 1
    assert fm.nsites[0] >= 250  # ~300 planted sites (half of 600 sequences), found on either strand
    assert (fm.nsites[1:] == 0).all() and fm.kept.tolist() == [True, False, False, False]
    assert np.corrcoef(fm.pfm[0].ravel(), ctcf.ravel())[0, 1] > 0.95
    # the same filter scanned on the forward strand only finds about half the sites (they are planted on
    # a random strand), and the both-strand PFM is not a mixture of the motif and its reverse complement
    fwd = filter_motifs(model, x, threshold=0.0, strands="forward")
    assert 0.3 < fwd.nsites[0] / fm.nsites[0] < 0.7
    res = compare_jaspar([("filter0", fm.pfm[0])])
    best = res.iloc[0]
    assert best.target_name == "CTCF" and best.target_id.startswith("MA0139")
    assert best.qvalue < 1e-3 and best.strand == "+"
    assert (res.qvalue >= res.pvalue - 1e-15).all()


def test_reverse_strand_sites_counted_in_filter_orientation():
    """A motif planted only as its reverse complement: found only when scanning both strands, and the
    counts are exactly the motif (filter orientation), once per site."""
    from seqcnn.encoding import one_hot, reverse_complement_seq
    from seqcnn.motifs import filter_motifs

    motif = "GACCTAGTCA"  # not a palindrome
    pfm = one_hot(motif).astype(float) * 0.97 + 0.0075
    model = _detector_model(pfm, margin=1.0)
    rng = np.random.default_rng(0)
    seqs = []
    for i in range(30):
        s = list("".join(rng.choice(list("ACGT"), L)))
        p = 10 + 2 * i
        s[p:p + 10] = reverse_complement_seq(motif)
        seqs.append("".join(s))
    x = one_hot(seqs)
    both = filter_motifs(model, x, threshold=0.0, pseudocount=0.0)
    fwd = filter_motifs(model, x, threshold=0.0, strands="forward")
    assert fwd.nsites[0] == 0
    assert both.nsites[0] == 30
    np.testing.assert_array_equal(both.counts[0], one_hot(motif) * 30)
    np.testing.assert_allclose(both.pfm[0], one_hot(motif), atol=1e-12)  # pseudocount 0: exact
    np.testing.assert_allclose(both.background[[0, 1]], both.background[[3, 2]])  # both strands: A=T, C=G


def test_threshold_rule_nsites_and_min_sites():
    from seqcnn.graph import first_conv
    from seqcnn.models import build_model
    from seqcnn.motifs import filter_motifs

    from interpret_helpers import randomize

    model = randomize(build_model("deepbind", 40, "binary", 1, filters=5, kernel_size=6, dense_units=3), seed=2)
    rng = np.random.default_rng(1)
    x = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (50, 40))]
    conv = first_conv(model)
    act = np.maximum(np.asarray(conv(x.astype(np.float32))), 0)                        # [50, 35, 5]
    act_rc = np.maximum(np.asarray(conv(x[:, ::-1, ::-1].astype(np.float32))), 0)
    both = np.concatenate([act, act_rc])
    mean, mx = both.mean((0, 1)), both.max((0, 1))
    thr = mean + 0.5 * (mx - mean)
    fm = filter_motifs(model, x, min_sites=40, block=16)
    np.testing.assert_allclose(fm.threshold, thr, rtol=1e-5)
    np.testing.assert_array_equal(fm.nsites, (both > thr).sum((0, 1)))
    np.testing.assert_array_equal(fm.kept, fm.nsites >= 40)
    # the counts of each filter add up to its number of sites in every column (no padding here)
    np.testing.assert_allclose(fm.counts.sum(-1), np.repeat(fm.nsites[:, None], 6, 1))
    fixed = filter_motifs(model, x, threshold=1.0, strands="forward")
    np.testing.assert_array_equal(fixed.nsites, (act > 1.0).sum((0, 1)))
    assert fixed.nsites.sum() != fm.nsites.sum()


def test_pfm_pseudocount_and_ic():
    from seqcnn.motifs import FilterMotifs, information_content

    counts = np.array([[[10, 0, 0, 0], [0, 5, 5, 0]]], float)
    bg = np.array([0.3, 0.2, 0.2, 0.3])
    fm = FilterMotifs(counts=counts, nsites=np.array([10]), threshold=np.array([1.0]), background=bg,
                      pseudocount=2.0)
    np.testing.assert_allclose(fm.pfm[0, 0], (np.array([10, 0, 0, 0]) + 2 * bg) / 12)
    np.testing.assert_allclose(fm.pfm.sum(-1), 1)
    np.testing.assert_allclose(information_content(np.array([[1, 0, 0, 0.]])), [2.0])
    np.testing.assert_allclose(information_content(np.array([[0.25] * 4])), [0.0])
    assert fm.consensus(0)[0] == "A"


def test_influence(ctcf, sim_binary):
    from seqcnn.motifs import filter_influence
    from seqcnn.store import open_dataset

    with open_dataset(sim_binary) as ds:
        idx = ds.indices("val")
        x, y = ds.read_x(idx), ds.y[idx]
    model = _detector_model(ctcf)
    infl = filter_influence(model, x, y, "binary", block=32)
    np.testing.assert_allclose(infl[1:], 0.0, atol=1e-9)  # all-zero filters do not matter
    # by hand: logit = max activation of filter 0 - 3; zeroed: -3 for every sequence
    logit = np.asarray(model(x.astype(np.float32)))[:, 0].astype(np.float64)

    def bce(z):
        return np.mean(np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0) - z * y)

    assert_close(infl[0], bce(np.full_like(logit, -3.0)) - bce(logit))  # TF's float32 loss against numpy's
    assert infl[0] > 0  # the CTCF detector separates the classes


def test_model_without_conv_first_layer_is_refused():
    from seqcnn._tf import import_keras
    from seqcnn.errors import ModelMismatchError
    from seqcnn.motifs import filter_motifs

    keras = import_keras()
    inp = keras.Input((L, 4))
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(inp)))
    with pytest.raises(ModelMismatchError, match="not a Conv1D"):
        filter_motifs(model, np.zeros((2, L, 4), np.uint8))


def test_basset_activation_is_after_batchnorm_relu():
    from seqcnn.models import build_model
    from seqcnn.motifs import activation_layer

    conv, layer = activation_layer(build_model("basset", 60, "binary", 1, filters=(4, 4, 4),
                                               kernel_sizes=(5, 3, 3)))
    assert conv.name == "conv1" and layer.name == "relu1"
    conv, layer = activation_layer(build_model("primer", 60, "binary", 1))
    assert conv.name == layer.name == "conv1"
