"""Train/validation/test assignment: stratified random, by chromosome, or from a column.

Splits are computed once (at encode time or by ``seqcnn split``) and stored in the
HDF5 file as ``split`` (0 = train, 1 = val, 2 = test), so every later stage agrees
on what "test" means.
"""

import numpy as np

from .errors import SeqcnnError

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "val", "test")
_ALIASES = {"train": TRAIN, "training": TRAIN, "val": VAL, "valid": VAL, "validation": VAL,
            "dev": VAL, "test": TEST, "testing": TEST}


def parse_fractions(text):
    """Parse ``"0.8,0.1,0.1"`` into three fractions that sum to 1.

    Raises
    ------
    SeqcnnError
        When there are not three numbers, any is negative, or they do not sum to 1.
    """
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",")]
    else:
        parts = list(text)
    try:
        fr = [float(p) for p in parts]
    except ValueError:
        raise SeqcnnError(f"--split {text!r} is not three numbers", hint="e.g. --split 0.8,0.1,0.1") from None
    if len(fr) != 3 or any(not np.isfinite(f) or f < 0 or f > 1 for f in fr):
        raise SeqcnnError(f"--split {text!r} needs three fractions between 0 and 1",
                          hint="e.g. --split 0.8,0.1,0.1 or --split 0,0,1")
    if abs(sum(fr) - 1) > 1e-6:
        raise SeqcnnError(f"--split {text!r} sums to {sum(fr):g}, not 1", hint="e.g. --split 0.8,0.1,0.1")
    return tuple(fr)


def split_name(code):
    """'train', 'val' or 'test' for a split code or name (validates names)."""
    if isinstance(code, str):
        return SPLIT_NAMES[split_code(code)]
    return SPLIT_NAMES[int(code)]


def split_code(name):
    """The integer code of a split name (train/val/test and common aliases)."""
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise SeqcnnError(f"unknown split {name!r}", hint="use train, val or test")
    return _ALIASES[key]


def _allocate(n, fractions):
    """Integer counts per split summing to n (largest remainder)."""
    raw = np.asarray(fractions, dtype=float) * n
    counts = np.floor(raw).astype(int)
    for k in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[k] += 1
    return counts


def strata_of(y):
    """A 1-D integer stratum per record: the class, or the label combination for multilabel."""
    y = np.asarray(y)
    if y.ndim == 1:
        return y.astype(np.int64)
    _, inverse = np.unique(y, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def stratified_split(y, fractions=(0.8, 0.1, 0.1), seed=0):
    """Random split stratified by label.

    Each stratum (class, or label combination for multilabel) is shuffled and cut
    by ``fractions``, so every split keeps the class balance to within one record
    per class.

    Parameters
    ----------
    y : np.ndarray, shape=(n,) or (n, T)
    fractions : tuple of 3 floats
    seed : int

    Returns
    -------
    np.ndarray, shape=(n,), uint8 with 0 = train, 1 = val, 2 = test.
    """
    strata = strata_of(y)
    rng = np.random.default_rng(seed)
    out = np.empty(len(strata), dtype=np.uint8)
    for s in np.unique(strata):
        members = np.flatnonzero(strata == s)
        rng.shuffle(members)
        counts = _allocate(len(members), fractions)
        out[members] = np.repeat(np.arange(3, dtype=np.uint8), counts)
    return out


def holdout_split(chroms, holdout, y, fractions=(0.8, 0.1, 0.1), seed=0):
    """Records on held-out chromosomes go to test; the rest are split train/val, stratified.

    Parameters
    ----------
    chroms : sequence of str or None
        Chromosome of each record (None when unknown).
    holdout : sequence of str
        Chromosomes whose records form the test set.
    fractions : tuple
        Train and val fractions are renormalised over the remaining records.
    """
    chroms = np.asarray(chroms, dtype=object)
    unknown = np.array([c is None for c in chroms])
    if unknown.any():
        raise SeqcnnError(f"{int(unknown.sum())} record(s) have no chromosome for --holdout-chrom",
                          hint="use ids like chr1:100-300 or a 'chrom' column in the label table")
    hold = np.isin(chroms.astype(str), list(holdout))
    if not hold.any():
        raise SeqcnnError(f"no record lies on {', '.join(holdout)}",
                          hint="check chromosome names (e.g. 'chr8' vs '8')")
    out = np.full(len(chroms), TEST, dtype=np.uint8)
    rest = np.flatnonzero(~hold)
    tv = fractions[0] + fractions[1]
    sub = (fractions[0] / tv, fractions[1] / tv, 0.0) if tv > 0 else (1.0, 0.0, 0.0)
    out[rest] = stratified_split(np.asarray(y)[rest], sub, seed)
    return out


def column_split(values, ids=None, path=None):
    """Split codes from a column of train/val/test names.

    Raises
    ------
    SeqcnnError
        Naming the first record whose value is not a split name.
    """
    out = np.empty(len(values), dtype=np.uint8)
    for k, v in enumerate(values):
        key = str(v).strip().lower()
        if key not in _ALIASES:
            raise SeqcnnError(f"split value {v!r} is not train, val or test", path=path,
                              record=ids[k] if ids is not None else k)
        out[k] = _ALIASES[key]
    return out


def split_counts(split, y=None, class_names=None):
    """Records per split (and per class within each split when ``y`` is 1-D)."""
    split = np.asarray(split)
    table = {}
    for code, name in enumerate(SPLIT_NAMES):
        mask = split == code
        row = {"n": int(mask.sum())}
        if y is not None:
            y_arr = np.asarray(y)
            if y_arr.ndim == 1:
                names = class_names or [str(c) for c in range(int(y_arr.max()) + 1)]
                for c, cname in enumerate(names):
                    row[cname] = int((y_arr[mask] == c).sum())
            else:
                names = class_names or [str(c) for c in range(y_arr.shape[1])]
                for c, cname in enumerate(names):
                    row[cname] = int(y_arr[mask, c].sum())
        table[name] = row
    return table


def leakage(split, row_hashes=None, coords=None):
    """What the splits share: exact duplicate sequences, and (genome mode) windows overlapping across splits.

    Parameters
    ----------
    split : np.ndarray, shape=(N,), uint8
    row_hashes : np.ndarray, uint64, shape=(N,), optional — a hash of each record's one-hot rows.
    coords : dict, optional — ``chrom``, ``start``, ``end`` arrays of shape=(N,).

    Returns
    -------
    dict — ``duplicates``: records whose exact sequence also occurs in another split (None without hashes);
    ``overlapping``: records whose window overlaps a window of another split (None without coordinates).
    """
    from .intervals import IntervalIndex

    split = np.asarray(split)
    out = {"duplicates": None, "overlapping": None}
    if row_hashes is not None:
        h = np.asarray(row_hashes, np.uint64)
        present = np.zeros(len(h), bool)
        codes = [c for c in range(len(SPLIT_NAMES)) if (split == c).any()]
        for c in codes:
            # A hash seen in the split itself and in any other split marks a shared sequence.
            others = np.unique(h[split != c])
            present |= (split == c) & np.isin(h, others)
        out["duplicates"] = int(present.sum())
    if coords is not None:
        hit = np.zeros(len(split), bool)
        for c in np.unique(split):
            mine = split == c
            other = IntervalIndex(coords["chrom"][~mine], coords["start"][~mine], coords["end"][~mine])
            hit[mine] = other.overlaps(coords["chrom"][mine], coords["start"][mine], coords["end"][mine])
        out["overlapping"] = int(hit.sum())
    return out
