"""The sequence-logo drawing of seqcnn.plots: where each letter goes, and the figures that use it."""

import matplotlib.collections as mcoll
import matplotlib.pyplot as plt
from matplotlib.path import Path
import numpy as np
import pytest

from seqcnn import plots

EPS64 = float(np.finfo(float).eps)


def _glyphs(ax):
    """{base: [letter outline (a Path), ...]} drawn on ``ax``, in data units.

    ``_logo`` draws each base as compound paths of copies of one outline; a copy is as many vertices as it.
    """
    out = {}
    for coll in ax.collections:
        if isinstance(coll, mcoll.PathCollection):
            rgb = tuple(np.round(coll.get_facecolor()[0][:3], 3))
            base = {tuple(np.round(c, 3)): b for b, c in zip(plots._BASES, plots._BASE_COLORS)}[rgb]
            outline = plots._glyph(base, False)[0]
            n = len(outline.vertices)
            for path in coll.get_paths():
                assert len(path.vertices) % n == 0
                out.setdefault(base, []).extend(Path(path.vertices[i:i + n], outline.codes)
                                                for i in range(0, len(path.vertices), n))
    return out


def _letters(ax):
    """{base: [(xmin, xmax, ymin, ymax), ...]} of the letters drawn on ``ax``, in data units."""
    return {b: sorted((e.xmin, e.xmax, e.ymin, e.ymax) for e in (p.get_extents() for p in ps))
            for b, ps in _glyphs(ax).items()}


def test_logo_stacks_letters_by_value_and_flips_negatives_below_zero():
    m = np.array([[1.5, 0.25, -0.5, 0.0],     # A on C above zero, G below
                  [0.0, 0.0, 0.0, 2.0]])      # T alone
    fig, ax = plt.subplots()
    plots._logo(m, ax, "bits")
    letters = _letters(ax)
    tol = 8 * EPS64 * 4  # float64 rounding of a few affine steps on values of magnitude <= 4
    # Position 0: the smaller positive (C) sits on zero and A on top of it; the negative G hangs from zero.
    np.testing.assert_allclose(letters["C"][0][2:], [0.0, 0.25], atol=tol)
    np.testing.assert_allclose(letters["A"][0][2:], [0.25, 1.75], atol=tol)
    np.testing.assert_allclose(letters["G"][0][2:], [-0.5, 0.0], atol=tol)
    np.testing.assert_allclose(letters["T"][0][2:], [0.0, 2.0], atol=tol)
    # Zero values draw nothing: one letter each for A, C, G and T.
    assert {b: len(v) for b, v in letters.items()} == {"A": 1, "C": 1, "G": 1, "T": 1}
    # Each letter stays within 0.95 of its position's width, centred on it.
    for base, p in (("A", 0), ("C", 0), ("G", 0), ("T", 1)):
        xmin, xmax = letters[base][0][:2]
        assert p - 0.475 - tol <= xmin < xmax <= p + 0.475 + tol
        assert abs((xmin + xmax) / 2 - p) < 1e-9
    # The axes fit the letters: from the lowest floor to the highest top, one unit per position.
    np.testing.assert_allclose(ax.get_ylim(), (-0.5, 2.0), atol=tol)
    assert ax.get_xlim() == (-0.5, 1.5) and ax.get_ylabel() == "bits"
    plt.close(fig)


def test_logo_of_zeros_draws_no_letter_and_keeps_a_valid_axis():
    fig, ax = plt.subplots()
    plots._logo(np.zeros((5, 4)), ax, "importance")
    assert _letters(ax) == {}
    lo, hi = ax.get_ylim()
    assert hi > lo
    plt.close(fig)


def test_negative_letters_are_drawn_upside_down():
    # An "A" is wide at its feet and narrow at its apex; drawn below zero it hangs from the axis by its feet.
    fig, ax = plt.subplots()
    plots._logo(np.array([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]), ax, "x")
    up, down = _glyphs(ax)["A"]
    plt.close(fig)

    def width_near(path, y):
        v = path.vertices[np.abs(path.vertices[:, 1] - y) < 0.1]
        return np.ptp(v[:, 0]) if len(v) else 0.0

    assert width_near(up, 0.0) > width_near(up, 1.0)          # wide feet, narrow apex
    assert width_near(down, 0.0) > width_near(down, -1.0)     # flipped: feet on the axis, apex at the bottom
    assert width_near(down, -1.0) == pytest.approx(width_near(up, 1.0), abs=0.05)


@pytest.mark.parametrize("draw", ["filter_logo", "pattern_logo", "ism_figure", "variant_figure"])
def test_logo_figures_write_a_png(tmp_path, draw):
    rng = np.random.default_rng(0)
    pfm = rng.dirichlet(np.ones(4), size=10)
    args = {"filter_logo": (pfm,), "pattern_logo": (rng.normal(size=(10, 4)), pfm),
            "ism_figure": (rng.normal(size=(30, 4)), rng.normal(size=(30, 4))),
            "variant_figure": (rng.normal(size=(30, 4)), rng.normal(size=(30, 4)), (10, 11), (10, 11))}[draw]
    path = getattr(plots, draw)(*args, tmp_path / "f.png")
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > 100 and im.height > 100


def test_logo_of_a_random_matrix_places_every_letter_as_a_per_position_stacking_does():
    # logomaker's stacking written plainly, position by position, against the array arithmetic of _logo.
    rng = np.random.default_rng(3)
    m = rng.normal(size=(40, 4)) * (rng.random((40, 4)) > 0.2)
    expected = {b: [] for b in "ACGT"}
    for p, row in enumerate(m):
        floor = sum(v for v in row if v < 0)
        for j in np.argsort(row, kind="stable"):
            if row[j] != 0:
                expected["ACGT"[j]].append((p, floor, floor + abs(row[j])))
            floor += abs(row[j])
    fig, ax = plt.subplots()
    plots._logo(m, ax, "x")
    got = _letters(ax)
    plt.close(fig)
    tol = 8 * EPS64 * 8
    for b in "ACGT":
        assert len(got[b]) == len(expected[b])
        centres = [round((x0 + x1) / 2) for x0, x1, _, _ in got[b]]
        got_b = sorted(zip(centres, [g[2] for g in got[b]], [g[3] for g in got[b]]))
        np.testing.assert_allclose(np.array(got_b, float), np.array(sorted(expected[b]), float), atol=tol)
