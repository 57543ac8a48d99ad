"""Synthetic labelled sequence sets with planted motifs, for tests, examples and sanity checks.

Motifs are position frequency matrices (``[K, 4]``, rows sum to 1, order A C G T),
given as arrays or as JASPAR ids resolved offline with pyjaspar. Sites are sampled
from the matrix and planted on a random strand at a random position; the planted
sites are returned so tests can check what a model found.
"""

from dataclasses import dataclass

import numpy as np

from .errors import SeqcnnError

DESIGNS = ("binary", "multiclass", "multilabel")
_LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)


def jaspar_pfm(motif_id, release="JASPAR2024"):
    """A JASPAR motif as ``(name, pfm)`` with pfm shape=(K, 4), rows summing to 1 (from pyjaspar, offline)."""
    import warnings

    from pyjaspar import jaspardb

    with warnings.catch_warnings():
        # pyjaspar warns before returning None for an unknown id; the error below says it once, clearly.
        warnings.simplefilter("ignore")
        try:
            db = jaspardb(release=release)
        except Exception as exc:
            raise SeqcnnError(f"JASPAR release {release!r} is not available ({exc})",
                              hint="e.g. JASPAR2024") from None
        motif = db.fetch_motif_by_id(motif_id)
    if motif is None:
        raise SeqcnnError(f"JASPAR motif {motif_id!r} not found in {release}", hint="check the matrix id, e.g. MA0139.1")
    counts = np.array([motif.counts[b] for b in "ACGT"], dtype=float).T
    return motif.name, counts / counts.sum(axis=1, keepdims=True)


def _resolve(motif, release):
    if isinstance(motif, str):
        return jaspar_pfm(motif, release)
    if isinstance(motif, tuple) and len(motif) == 2 and isinstance(motif[0], str):
        name, pfm = motif
    else:
        name, pfm = "motif", motif
    pfm = np.asarray(pfm, dtype=float)
    if pfm.ndim != 2 or pfm.shape[1] != 4 or (pfm < 0).any():
        raise SeqcnnError(f"motif {name!r} must be a non-negative matrix of shape (K, 4), got {pfm.shape}")
    return name, pfm / pfm.sum(axis=1, keepdims=True)


def _sample_codes(probs, n, rng):
    """Sample base codes 0..3 from per-position probabilities, shape=(K, 4) → (n, K)."""
    cum = np.cumsum(probs, axis=-1)
    u = rng.random((n, probs.shape[0], 1))
    return np.minimum((u > cum[None]).sum(-1), 3).astype(np.uint8)


def background(n, length, rng, gc=0.41):
    """Independent random bases with the given GC content (human genome ~0.41), codes shape=(n, L)."""
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return _sample_codes(np.tile(p, (length, 1)), n, rng)


# First-order Markov transitions P(next | current), rows/columns A C G T, approximating human
# genome dinucleotide frequencies (CpG depleted: P(G | C) is ~0.05 rather than 0.25).
HUMAN_DINUCLEOTIDE = np.array([
    [0.33, 0.17, 0.24, 0.26],
    [0.35, 0.26, 0.05, 0.34],
    [0.29, 0.21, 0.26, 0.24],
    [0.22, 0.20, 0.25, 0.33],
])
BACKGROUNDS = ("iid", "dinucleotide")


def markov_background(n, length, rng, transitions=HUMAN_DINUCLEOTIDE):
    """Sequences from a first-order Markov chain (dinucleotide background), codes shape=(n, L).

    Vectorised over sequences; the loop runs over positions only.
    """
    transitions = np.asarray(transitions, dtype=float)
    transitions = transitions / transitions.sum(axis=1, keepdims=True)
    cum = np.cumsum(transitions, axis=1)
    # Start from the chain's stationary distribution.
    vals, vecs = np.linalg.eig(transitions.T)
    stationary = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
    stationary = stationary / stationary.sum()
    codes = np.empty((n, length), dtype=np.uint8)
    codes[:, 0] = np.minimum((rng.random((n, 1)) > np.cumsum(stationary)).sum(1), 3)
    u = rng.random((n, length))
    for i in range(1, length):
        codes[:, i] = np.minimum((u[:, i, None] > cum[codes[:, i - 1]]).sum(1), 3)
    return codes


@dataclass
class SimulatedSet:
    """A simulated data set.

    Attributes
    ----------
    ids : list of str
    seqs : list of str
    labels : pandas.DataFrame — ``id`` plus label column(s) as ``seqcnn encode`` reads them.
    sites : pandas.DataFrame — ``id, motif, start, end, strand`` of every planted site (0-based, end exclusive).
    motifs : dict — motif name → PFM, shape=(K, 4).
    """

    ids: list
    seqs: list
    labels: object
    sites: object
    motifs: dict

    def write(self, fasta_path, labels_path, sites_path=None):
        """Write the FASTA, the label table (CSV, or TSV when the name ends in .tsv) and optionally the sites."""
        with open(fasta_path, "w") as fh:
            for rid, seq in zip(self.ids, self.seqs):
                fh.write(f">{rid}\n{seq}\n")
        self.labels.to_csv(labels_path, index=False, sep="\t" if str(labels_path).endswith(".tsv") else ",")
        if sites_path is not None:
            self.sites.to_csv(sites_path, index=False)


def simulate(n=1000, length=200, motifs=("MA0139.1",), design="binary", positive_fraction=0.5, sites_per_seq=1,
             gc=0.41, background_model="iid", seed=0, release="JASPAR2024", id_prefix="seq"):
    """Simulate sequences with planted motifs.

    Parameters
    ----------
    n, length : int
    motifs : sequence of JASPAR ids, (name, pfm) pairs or pfm arrays.
    design : {'binary', 'multiclass', 'multilabel'}
        binary: positives (``positive_fraction``) carry motif 0, negatives none.
        multiclass: class k carries motif k; class names are the motif names (equal shares).
        multilabel: each motif is present in a sequence with probability ``positive_fraction``;
        one 0/1 column per motif.
    sites_per_seq : int — copies planted per carried motif.
    gc : float — GC content of the background (``background_model='iid'``).
    background_model : {'iid', 'dinucleotide'}
        Independent bases with GC content ``gc``, or a first-order Markov chain with
        human-like dinucleotide frequencies (CpG depleted), a harder and more realistic background.

    Returns
    -------
    SimulatedSet
    """
    import pandas as pd

    if design not in DESIGNS:
        raise SeqcnnError(f"unknown design {design!r}", hint=f"use one of {', '.join(DESIGNS)}")
    resolved = [_resolve(m, release) for m in motifs]
    names = []
    for name, _ in resolved:
        base, k = name, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    pfms = dict(zip(names, (p for _, p in resolved)))
    longest = max(p.shape[0] for p in pfms.values())
    if longest * sites_per_seq * (len(pfms) if design == "multilabel" else 1) > length:
        raise SeqcnnError(f"length {length} is too short to plant the motifs", hint="use longer sequences")
    if design == "multiclass" and len(pfms) < 2:
        raise SeqcnnError("a multiclass design needs at least two motifs")
    if background_model not in BACKGROUNDS:
        raise SeqcnnError(f"unknown background {background_model!r}", hint=f"use one of {', '.join(BACKGROUNDS)}")
    if not 0 <= positive_fraction <= 1 or not 0 <= gc <= 1:
        raise SeqcnnError(f"positive fraction ({positive_fraction}) and GC content ({gc}) must lie between 0 and 1",
                          hint="e.g. --positive-fraction 0.5 --gc 0.41")
    if n < 1 or length < 1:
        raise SeqcnnError("n and length must be positive")
    if sites_per_seq < 0:
        # range(-1) would plant nothing and write a set whose labels mean nothing, silently.
        raise SeqcnnError(f"--sites must be 0 or more, got {sites_per_seq}", hint="1 plants one site per motif")
    rng = np.random.default_rng(seed)
    codes = background(n, length, rng, gc) if background_model == "iid" else markov_background(n, length, rng)
    carries = np.zeros((n, len(names)), dtype=bool)
    if design == "binary":
        pos = rng.permutation(n)[: int(round(positive_fraction * n))]
        carries[pos, 0] = True
        label_df = {"label": carries[:, 0].astype(int)}
    elif design == "multiclass":
        cls = rng.permutation(np.arange(n) % len(names))
        carries[np.arange(n), cls] = True
        label_df = {"label": [names[c] for c in cls]}
    else:
        carries = rng.random((n, len(names))) < positive_fraction
        label_df = {name: carries[:, j].astype(int) for j, name in enumerate(names)}
    ids = [f"{id_prefix}{i:06d}" for i in range(n)]
    site_rows = []
    for j, name in enumerate(names):
        pfm = pfms[name]
        k = pfm.shape[0]
        rows = np.flatnonzero(carries[:, j])
        for _ in range(sites_per_seq):
            if len(rows) == 0:
                break
            site = _sample_codes(pfm, len(rows), rng)
            strand = rng.random(len(rows)) < 0.5
            site[strand] = 3 - site[strand, ::-1]  # reverse complement for minus-strand sites
            # Place sites without overlapping earlier ones in the same sequence.
            for r, s, minus in zip(rows, site, strand):
                taken = [(a, b) for (rid, _, a, b, _) in site_rows if rid == ids[r]]
                for _try in range(100):
                    start = int(rng.integers(0, length - k + 1))
                    if all(start + k <= a or start >= b for a, b in taken):
                        break
                codes[r, start:start + k] = s
                site_rows.append((ids[r], name, start, start + k, "-" if minus else "+"))
    seqs = [row.tobytes().decode("ascii") for row in _LETTERS[codes]]
    labels = pd.DataFrame({"id": ids, **label_df})
    sites = pd.DataFrame(site_rows, columns=["id", "motif", "start", "end", "strand"])
    return SimulatedSet(ids=ids, seqs=seqs, labels=labels, sites=sites, motifs=pfms)


def write_simulation(prefix, force=False, **kwargs):
    """Simulate and write ``PREFIX.fa``, ``PREFIX_labels.csv`` and ``PREFIX_sites.csv`` atomically.

    Parameters
    ----------
    prefix : str
    force : bool — overwrite existing outputs.
    **kwargs — passed to :func:`simulate`.

    Returns
    -------
    dict with the three paths and the motif names.
    """
    import os

    from .outputs import check_output, publish_all

    paths = {"fasta": f"{prefix}.fa", "labels": f"{prefix}_labels.csv", "sites": f"{prefix}_sites.csv"}
    for p in paths.values():
        check_output(p, force)
    sim = simulate(**kwargs)
    tmp = {k: f"{v}.tmp{os.getpid()}" for k, v in paths.items()}
    try:
        sim.write(tmp["fasta"], tmp["labels"], tmp["sites"])
        publish_all([(tmp[k], paths[k]) for k in paths], force)
    finally:
        for t in tmp.values():
            if os.path.exists(t):
                os.remove(t)
    return {**paths, "motifs": list(sim.motifs)}
