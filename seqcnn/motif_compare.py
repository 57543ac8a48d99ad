"""Comparing motifs with known ones: JASPAR (pyjaspar, offline) or any MEME file, with memelite's Tomtom.

Provides :func:`load_targets` (the target motifs), :func:`check_jaspar` / :func:`jaspar_names` (from
:mod:`seqcnn.jaspar_db`: the names pyjaspar knows), :func:`run_tax_group` / :func:`run_targets` (a
verb's group: its option, else the one the run recorded, else vertebrates), :func:`database_name` and
:func:`no_match_text` (what outputs say), :func:`compare_jaspar` (p-values of every query–target pair,
Benjamini–Hochberg q-values over all comparisons), :func:`bh_qvalues` and :func:`best_hit` (the best-scoring
target site over a variant, in its reference and alternative windows).
"""

import os

import numpy as np

from .encoding import ALPHABET
from .errors import InputFormatError, SeqcnnError
from .jaspar_db import DEFAULT_TAX_GROUP, check_jaspar, group_hint, jaspar_names  # noqa: F401 (re-exported)

DEFAULT_RELEASE = "JASPAR2024"


def run_tax_group(jaspar, cfg):
    """The taxonomic group a verb compares with: ``jaspar`` when given, else the run's, else vertebrates.

    ``cfg`` is a run's config.json (:func:`seqcnn.rundir.load_run`); a run trained before ``seqcnn train
    --jaspar`` existed records none and meant :data:`DEFAULT_TAX_GROUP`.
    """
    if jaspar is not None:
        return jaspar
    return ((cfg or {}).get("training") or {}).get("jaspar") or DEFAULT_TAX_GROUP


def run_targets(jaspar, cfg, release=DEFAULT_RELEASE, collection="CORE", motif_db=None):
    """The motifs a verb of a run compares with: ``(targets or None, tax_group, database)``.

    ``jaspar`` None takes the run's recorded group (:func:`run_tax_group`); 'none' (without ``motif_db``)
    means no comparison: ``(None, 'none', None)``; with ``motif_db`` the group is None. ``database`` is
    :func:`database_name`'s.
    """
    group = run_tax_group(jaspar, cfg)
    if motif_db is None and group == "none":
        return None, group, None
    return (load_targets(release, collection, group, motif_db), None if motif_db is not None else group,
            database_name(release, collection, group, motif_db))


def database_name(release=DEFAULT_RELEASE, collection="CORE", tax_group=DEFAULT_TAX_GROUP, motif_db=None):
    """How outputs name the motifs compared with: the MEME file, or e.g. ``JASPAR2024 CORE fungi``."""
    return str(motif_db) if motif_db is not None else f"{release} {collection} {tax_group}"


def no_match_text(q_threshold, database, tax_group=None):
    """``no match at q < 0.05 in JASPAR2024 CORE vertebrates (another organism? --jaspar fungi|…)``."""
    text = f"no match at q < {q_threshold:g} in {database}"
    if tax_group is not None and tax_group != "all":
        text += f" (another organism? --jaspar {group_hint(tax_group)})"
    return text


def load_targets(release=DEFAULT_RELEASE, collection="CORE", tax_group=DEFAULT_TAX_GROUP, motif_db=None):
    """Target motifs for comparison: ``[(id, name, pfm [K, 4])]``.

    From ``motif_db`` (a MEME file) when given, else JASPAR ``release`` from pyjaspar's bundled
    databases (offline), filtered by ``collection`` and ``tax_group`` ('all' for every group),
    latest version of each matrix.
    """
    if motif_db is not None:
        from memelite.io import read_meme

        if not os.path.exists(motif_db):
            raise InputFormatError("motif database not found", path=motif_db)
        try:
            raw = read_meme(motif_db)
        except (ValueError, AttributeError, IndexError) as exc:
            raise InputFormatError(f"not a readable MEME motif file ({exc})", path=motif_db) from None
        if not raw:
            raise InputFormatError("no motifs in the file", path=motif_db, hint="expected MEME format")
        out = []
        for key, pwm in raw.items():
            parts = key.split(None, 1)
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0], np.asarray(pwm, float).T))
        return out
    import warnings

    from pyjaspar import jaspardb

    # pyjaspar only prints a message (or Biopython warns) and fails later on a name it does not know
    check_jaspar(tax_group or "all", release, collection)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "Zero motifs returned": said below, once, with the fix
        db = jaspardb(release=release)
        motifs = db.fetch_motifs(collection=collection, tax_group=None if tax_group in (None, "all") else [tax_group],
                                 all_versions=False)
    if not motifs:
        raise SeqcnnError(f"no {release} motifs in collection {collection!r} for taxonomic group {tax_group!r}",
                          hint="check --jaspar-collection (e.g. CORE) and --jaspar (e.g. vertebrates)")
    out = []
    for m in motifs:
        c = np.array([m.counts[b] for b in ALPHABET], float).T
        out.append((m.matrix_id, m.name, c / c.sum(1, keepdims=True)))
    return out


def bh_qvalues(p):
    """Benjamini–Hochberg q-values of a flat array of p-values."""
    from scipy.stats import false_discovery_control

    p = np.asarray(p, float)
    return false_discovery_control(np.clip(p, 0, 1), method="bh") if p.size else p


def compare_jaspar(queries, targets=None, **target_kw):
    """Compare query PFMs with target motifs using Tomtom (memelite); q-values by BH over all comparisons.

    Parameters
    ----------
    queries : list of (name, pfm [K, 4])
    targets : list of (id, name, pfm [K, 4]), optional — default :func:`load_targets` (``**target_kw``).

    Returns
    -------
    pandas.DataFrame — one row per (query, target): query, target_id, target_name, pvalue, qvalue,
    offset, overlap, strand ('+' or '-' for the target's reverse complement), sorted by query then p-value.
    """
    import pandas as pd

    if targets is None:
        targets = load_targets(**target_kw)
    cols = ["query", "target_id", "target_name", "pvalue", "qvalue", "offset", "overlap", "strand"]
    if not queries:
        return pd.DataFrame(columns=cols)
    from memelite import tomtom

    # float64 (4, w) arrays always: memelite compiles one numba program per dtype/layout.
    Q = [np.ascontiguousarray(np.asarray(p, np.float64).T) for _, p in queries]
    T = [np.ascontiguousarray(np.asarray(p, np.float64).T) for _, _, p in targets]
    p, _, offsets, overlaps, strands = tomtom(Q, T)
    q = bh_qvalues(p.ravel()).reshape(p.shape)
    nq, nt = p.shape
    frame = pd.DataFrame({
        "query": np.repeat([name for name, _ in queries], nt),
        "target_id": np.tile([t[0] for t in targets], nq),
        "target_name": np.tile([t[1] for t in targets], nq),
        "pvalue": p.ravel(), "qvalue": q.ravel(),
        "offset": offsets.ravel().astype(int), "overlap": overlaps.ravel().astype(int),
        "strand": np.where(strands.ravel() > 0, "-", "+"),
    })
    return frame.sort_values(["query", "pvalue"], kind="stable").reset_index(drop=True)


_SF_CACHE = {}


def score_pvalue(pwm, scores, step=0.05):
    """P(score >= s) of a PWM's site score under a uniform background: exact on a ``step``-bit grid.

    The distribution of the sum of per-position scores is built by convolution, position by position (as
    FIMO's p-values are), once per matrix.

    Parameters
    ----------
    pwm : np.ndarray, shape=(K, 4) — log2 odds.
    scores : array of float — site scores.

    Returns
    -------
    np.ndarray of float, same shape as ``scores``.
    """
    pwm = np.asarray(pwm, float)
    key = (pwm.tobytes(), step)
    sf = _SF_CACHE.get(key)
    if sf is None:
        q = np.round(pwm / step).astype(np.int64)
        lo = q.min(1)
        dist = np.ones(1)
        for row, m in zip(q, lo):
            kernel = np.zeros(int(row.max() - m) + 1)
            np.add.at(kernel, row - m, 0.25)
            dist = np.convolve(dist, kernel)
        sf = (np.cumsum(dist[::-1])[::-1], int(lo.sum()))
        _SF_CACHE[key] = sf
    tail, offset = sf
    idx = np.clip(np.floor(np.asarray(scores, float) / step + 1e-9).astype(np.int64) - offset, 0, len(tail) - 1)
    return tail[idx]


def best_hit(x_ref, x_alt, position, targets, max_p=1e-4, min_change=1.0, blocks=None):
    """The motif site over ``position`` that the variant changes most: the JASPAR match of a variant.

    Each target's PWM (log2 odds against a uniform background, pseudocount 0.01) is scanned on both strands
    over the windows that cover ``position``, in both alleles. A target whose best site reaches p <= ``max_p``
    (:func:`score_pvalue`) in either allele, and whose best site's score the variant moves by at least
    ``min_change`` bits, is a hit; the hit whose p-value the variant moves most (|log10 p_alt − log10 p_ref|)
    is returned. p-values, not scores, because the scores of long and short motifs are not comparable.

    Parameters
    ----------
    x_ref, x_alt : np.ndarray, shape=(L, 4) — one-hot windows.
    position : int — the variant's first position in them.
    targets : list of (id, name, pfm [K, 4]) — e.g. :func:`load_targets`.
    blocks : ((int, int), (int, int)), optional — the differing block of each allele in its window (start, end,
        0-based half-open), in place of ``position``: each allele is scanned over the sites that overlap its own
        block (after an indel the blocks differ in place and length); an empty block ``(s, s)`` means the
        junction of a pure insertion/deletion, covered by the sites that span it (bases ``s - 1`` and ``s``).

    Returns
    -------
    dict or None — ``id``, ``name``, ``ref_score``, ``alt_score`` (log2 odds of the best site in each window),
    ``ref_p``, ``alt_p`` (their p-values), ``change`` (alt − ref score).
    """
    best = None
    for tid, name, pfm in targets:
        pwm = np.log2((np.asarray(pfm, float) + 0.01) / (1 + 0.04) / 0.25)
        K = len(pwm)
        # A site [i, i + K) overlaps the block [start, end) when start - K < i < end (for an empty block: spans it).
        spans = [(max(0, a - K + 1), min(b - 1, len(x) - K))
                 for x, (a, b) in zip((x_ref, x_alt), blocks or [(position, position + 1)] * 2)]
        if any(hi < lo for lo, hi in spans):
            continue
        scores = []
        for x, (lo, hi) in zip((x_ref, x_alt), spans):
            win = np.asarray(x, float)[np.arange(lo, hi + 1)[:, None] + np.arange(K)]    # [S, K, 4]
            fwd = np.einsum("skb,kb->s", win, pwm)
            rev = np.einsum("skb,kb->s", win[:, ::-1, ::-1], pwm)
            scores.append(float(max(fwd.max(), rev.max())))
        change = scores[1] - scores[0]
        if abs(change) < min_change:
            continue
        p_ref, p_alt = score_pvalue(pwm, scores)
        p = min(p_ref, p_alt)
        shift = abs(np.log10(max(p_alt, 1e-300)) - np.log10(max(p_ref, 1e-300)))
        if p <= max_p and (best is None or shift > best["shift"]):
            best = {"id": tid, "name": name, "ref_score": scores[0], "alt_score": scores[1], "ref_p": float(p_ref),
                    "alt_p": float(p_alt), "change": change, "p": float(p), "shift": float(shift)}
    return best
