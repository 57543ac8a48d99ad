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


def _resolve_all(motifs, release):
    """Motifs → ``{name: pfm}``; a repeated name gets a suffix (CTCF, CTCF_2)."""
    pfms = {}
    for motif in motifs:
        name, pfm = _resolve(motif, release)
        base, k = name, 2
        while name in pfms:
            name, k = f"{base}_{k}", k + 1
        pfms[name] = pfm
    return pfms


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
    pfms = _resolve_all(motifs, release)
    names = list(pfms)
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


# GC content of the genome simulator's domains (isochore-like: GC-poor, average, GC-rich), how often each
# occurs, and how much more often peaks fall in each (TF peaks are GC-rich, so random windows are not GC-matched).
GENOME_GC = (0.36, 0.42, 0.54)
GENOME_GC_SHARE = (0.35, 0.40, 0.25)
GENOME_PEAK_WEIGHT = (0.3, 1.0, 4.0)


def _tilted(transitions, gc):
    """``transitions`` with its C and G columns scaled so the chain's stationary GC content is ``gc``."""
    def stationary_gc(f):
        t = transitions * np.array([1.0, f, f, 1.0])
        t = t / t.sum(1, keepdims=True)
        vals, vecs = np.linalg.eig(t.T)
        pi = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
        pi = pi / pi.sum()
        return pi[1] + pi[2], t

    lo, hi = 0.05, 20.0
    for _ in range(60):  # bisection on the scale: stationary GC grows with it
        mid = (lo * hi) ** 0.5
        if stationary_gc(mid)[0] < gc:
            lo = mid
        else:
            hi = mid
    return stationary_gc(lo)[1]


@dataclass
class SimulatedGenome:
    """A simulated genome with planted motif sites and ChIP-seq-like peaks around them.

    Attributes
    ----------
    chroms : dict — chromosome name → sequence (str: A/C/G/T, soft-masked lower case, N gaps).
    peaks : dict — motif name → pandas.DataFrame of narrowPeak columns (chrom, start, end, name, score,
        strand, signal, p, q, summit), sorted by position.
    sites : pandas.DataFrame — chrom, start, end, strand, motif, peak of every planted site (0-based).
    motifs : dict — motif name → PFM, shape=(K, 4).
    variants : pandas.DataFrame — chrom, pos (1-based), id, ref, alt, kind, expected, motif: one SNV per site
        at its most informative position, to the base the motif likes least (``disrupt``, expected sign -1),
        and as many SNVs at random positions 2 kb or more from every peak (``neutral``, expected 0).
    """

    chroms: dict
    peaks: dict
    sites: object
    motifs: dict
    variants: object = None

    def write(self, fasta_path, peak_paths, sites_path, variants_path=None):
        """Write the genome (FASTA, 60 bases a line), one narrowPeak per motif, the sites CSV and the VCF."""
        with open(fasta_path, "w") as fh:
            for name, seq in self.chroms.items():
                fh.write(f">{name}\n")
                fh.write("".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)))
        for name, path in peak_paths.items():
            self.peaks[name].to_csv(path, sep="\t", header=False, index=False)
        self.sites.to_csv(sites_path, index=False)
        if variants_path is not None:
            from .variant_io import write_vcf

            write_vcf(self.variants, variants_path, {c: len(q) for c, q in self.chroms.items()},
                      info=("kind", "expected", "motif"), source="seqcnn simulate --genome")


def simulate_genome(n_chroms=4, chrom_length=2_000_000, motifs=("MA0139.1",), n_peaks=500, seed=0,
                    release="JASPAR2024", domain=20_000, gap=10_000):
    """Simulate a multi-chromosome genome with planted motif sites and a narrowPeak file of peaks around them.

    The background is the human-like dinucleotide chain, tilted per ``domain`` bp to the GC contents of
    ``GENOME_GC``; peaks prefer GC-rich domains (``GENOME_PEAK_WEIGHT``), so uniformly random windows are
    *not* GC-matched to the peaks. Each chromosome starts with a ``gap`` of N (a telomere-like gap), about
    10 % of the bases are soft-masked (lower case) in 300 bp stretches, and each peak (200-600 bp) carries
    one site of its motif, on a random strand, centred on its summit, which lies off the peak's centre.

    Parameters
    ----------
    n_chroms, chrom_length : int — chromosomes ``chr1`` .. ``chrN`` of this length.
    motifs : sequence of JASPAR ids, (name, pfm) pairs or pfm arrays — one peak set each.
    n_peaks : int — peaks per motif (non-overlapping within a motif; peaks of different motifs may overlap).

    Returns
    -------
    SimulatedGenome
    """
    import pandas as pd

    pfms = _resolve_all(motifs, release)
    names = list(pfms)
    if n_chroms < 1 or chrom_length < 4 * gap or n_peaks < 1:
        raise SeqcnnError(f"a genome needs at least 1 chromosome of at least {4 * gap} bp and 1 peak per motif, "
                          f"got {n_chroms} x {chrom_length} bp and {n_peaks} peaks",
                          hint="e.g. --chroms 4 --chrom-length 2000000 --peaks 500")
    rng = np.random.default_rng(seed)
    n_dom = -(-chrom_length // domain)
    level = rng.choice(len(GENOME_GC), size=(n_chroms, n_dom), p=GENOME_GC_SHARE)
    cum = np.cumsum(np.stack([_tilted(HUMAN_DINUCLEOTIDE, g) for g in GENOME_GC]), axis=2)  # [levels, 4, 4]
    # Every domain is one row of a vectorised Markov chain: the loop runs over the domain's positions only.
    rows = level.reshape(-1)
    codes = np.empty((len(rows), domain), np.uint8)
    codes[:, 0] = rng.integers(0, 4, len(rows))
    for i in range(1, domain):
        u = rng.random(len(rows))
        codes[:, i] = np.minimum((u[:, None] > cum[rows, codes[:, i - 1]]).sum(1), 3)
    codes = codes.reshape(n_chroms, n_dom * domain)[:, :chrom_length]
    # Peaks: a domain drawn by weight, a centre uniform in it, away from the gap and the chromosome's end.
    weight = np.asarray(GENOME_PEAK_WEIGHT)[level].reshape(-1)
    weight = weight / weight.sum()
    peak_rows, site_rows = {}, []
    for name in names:
        pfm = pfms[name]
        k = pfm.shape[0]
        taken = {c: [] for c in range(n_chroms)}
        rows_out = []
        for _try in range(50 * n_peaks):
            if len(rows_out) == n_peaks:
                break
            d = int(rng.choice(len(weight), p=weight))
            c, j = divmod(d, n_dom)
            width = int(rng.integers(200, 601))
            start = int(j * domain + rng.integers(0, domain)) - width // 2
            if start < gap + 1000 or start + width > chrom_length - 1000:
                continue
            if any(start < b + 200 and a < start + width + 200 for a, b in taken[c]):
                continue
            taken[c].append((start, start + width))
            summit = int(rng.integers(int(0.2 * width), int(0.8 * width)))
            site = _sample_codes(pfm, 1, rng)[0]
            minus = bool(rng.random() < 0.5)
            if minus:
                site = 3 - site[::-1]
            s0 = start + summit - k // 2
            codes[c, s0:s0 + k] = site
            pname = f"{name}_peak{len(rows_out) + 1}"
            signal = float(np.round(rng.gamma(4, 5), 2))
            rows_out.append((f"chr{c + 1}", start, start + width, pname, int(min(1000, signal * 20)), ".", signal,
                             float(np.round(signal * 1.5, 2)), float(np.round(signal * 1.2, 2)), summit))
            site_rows.append((f"chr{c + 1}", s0, s0 + k, "-" if minus else "+", name, pname))
        if len(rows_out) < n_peaks:
            raise SeqcnnError(f"only {len(rows_out)} of {n_peaks} {name} peaks fit the genome without overlapping",
                              hint="ask for fewer peaks or a larger genome (--chroms, --chrom-length)")
        frame = pd.DataFrame(rows_out, columns=["chrom", "start", "end", "name", "score", "strand", "signal", "p",
                                                "q", "summit"])
        frame["_c"] = frame.chrom.str[3:].astype(int)
        peak_rows[name] = frame.sort_values(["_c", "start"]).drop(columns="_c").reset_index(drop=True)
    letters = _LETTERS[codes]
    # Soft-masking: lower case for ~10 % of the bases, in 300 bp stretches; then the N gap at each start.
    n_mask = int(0.1 * chrom_length / 300)
    for c in range(n_chroms):
        for s0 in rng.integers(0, chrom_length - 300, n_mask):
            letters[c, s0:s0 + 300] |= 0x20
        letters[c, :gap] = ord("N")
    chroms = {f"chr{c + 1}": letters[c].tobytes().decode("ascii") for c in range(n_chroms)}
    sites = pd.DataFrame(site_rows, columns=["chrom", "start", "end", "strand", "motif", "peak"])
    variants = _site_variants(letters, sites, pfms, peak_rows, gap, np.random.default_rng([seed, 1]))
    return SimulatedGenome(chroms=chroms, peaks=peak_rows, sites=sites, motifs=pfms, variants=variants)


def _site_variants(letters, sites, pfms, peaks, gap, rng):
    """SNVs with known expected effects on the planted sites (see ``SimulatedGenome.variants``).

    A separate generator, so the genome and peaks stay those of earlier versions for the same seed.
    """
    import pandas as pd

    upper = np.frombuffer(bytes(range(256)).upper(), np.uint8)
    rows = []
    for site in sites.itertuples(index=False):
        pfm = pfms[site.motif]
        k = len(pfm)
        ic = 2 + (pfm * np.log2(np.maximum(pfm, 1e-9))).sum(1)          # information per motif position
        m = int(np.argmax(ic))
        j = m if site.strand == "+" else k - 1 - m                       # its offset in the genome's orientation
        c = int(site.chrom[3:]) - 1
        ref = chr(upper[letters[c, site.start + j]])
        worst = int(np.argmin(pfm[m]))
        alt = "ACGT"[worst] if site.strand == "+" else "TGCA"[worst]
        if alt != ref:
            rows.append((site.chrom, site.start + j + 1, f"disrupt_{site.peak}", ref, alt, "disrupt", -1, site.motif))
    n_neutral = len(rows)
    spans = pd.concat(list(peaks.values()))
    n_chroms, length = letters.shape
    while n_neutral:
        c = int(rng.integers(0, n_chroms))
        p0 = int(rng.integers(gap + 1000, length - 1000))
        on = spans[spans.chrom == f"chr{c + 1}"]
        if ((on.start - 2000 <= p0) & (p0 < on.end + 2000)).any():
            continue
        ref = chr(upper[letters[c, p0]])
        alt = "ACGT"[("ACGT".index(ref) + int(rng.integers(1, 4))) % 4]
        rows.append((f"chr{c + 1}", p0 + 1, f"neutral_{len(rows) + 1}", ref, alt, "neutral", 0, "."))
        n_neutral -= 1
    frame = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt", "kind", "expected", "motif"])
    frame["_c"] = frame.chrom.str[3:].astype(int)
    return frame.sort_values(["_c", "pos"]).drop(columns="_c").reset_index(drop=True)


def _file_safe(name):
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def write_genome_simulation(prefix, force=False, **kwargs):
    """Simulate a genome and write ``PREFIX.fa``, ``PREFIX_<motif>.narrowPeak`` and ``PREFIX_sites.csv`` atomically.

    Returns
    -------
    dict — ``fasta``, ``peaks`` (motif name → path), ``sites``, ``motifs``, ``chroms`` (name → length),
    ``n_peaks`` (motif name → count).
    """
    import os

    from .outputs import check_output, publish_all

    names = _resolve_all(kwargs.get("motifs", ("MA0139.1",)), kwargs.get("release", "JASPAR2024"))
    paths = {"fasta": f"{prefix}.fa", "sites": f"{prefix}_sites.csv", "variants": f"{prefix}_variants.vcf"}
    peak_paths = {name: f"{prefix}_{_file_safe(name)}.narrowPeak" for name in names}
    for p in list(paths.values()) + list(peak_paths.values()):
        check_output(p, force)
    sim = simulate_genome(**kwargs)
    pairs = [(f"{p}.tmp{os.getpid()}", p) for p in [paths["fasta"], *peak_paths.values(), paths["sites"],
                                                     paths["variants"]]]
    tmp = dict((p, t) for t, p in pairs)
    try:
        sim.write(tmp[paths["fasta"]], {n: tmp[p] for n, p in peak_paths.items()}, tmp[paths["sites"]],
                  tmp[paths["variants"]])
        publish_all(pairs, force)
    finally:
        for t, _ in pairs:
            if os.path.exists(t):
                os.remove(t)
    return {**paths, "peaks": peak_paths, "motifs": list(sim.motifs),
            "chroms": {c: len(s) for c, s in sim.chroms.items()}, "n_peaks": {n: len(f) for n, f in sim.peaks.items()},
            "n_variants": int(len(sim.variants))}


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
