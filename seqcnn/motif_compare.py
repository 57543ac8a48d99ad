"""Comparing motifs with known ones: JASPAR (pyjaspar, offline) or any MEME file, with memelite's Tomtom.

Provides :func:`load_targets` (the target motifs), :func:`compare_jaspar` (p-values of every
query–target pair, Benjamini–Hochberg q-values over all comparisons) and :func:`bh_qvalues`.
"""

import os

import numpy as np

from .encoding import ALPHABET
from .errors import InputFormatError, SeqcnnError

DEFAULT_RELEASE = "JASPAR2024"


def load_targets(release=DEFAULT_RELEASE, collection="CORE", tax_group="vertebrates", motif_db=None):
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
    from pyjaspar import jaspardb

    releases = jaspardb().get_releases()
    if release not in releases:
        # pyjaspar itself only prints a message and fails later on an unknown release
        raise SeqcnnError(f"unknown JASPAR release {release!r}", hint=f"pyjaspar ships {', '.join(releases)}")
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
