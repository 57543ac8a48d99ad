"""Train/validation/test assignment: stratified random, by chromosome, from a column, or by position blocks.

Position blocks (:func:`block_plan`, :func:`block_split`, :func:`block_boundaries`) split a genome-mode set
whose records lie on too few chromosomes for a chromosome split (e.g. a one-chromosome genome).

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


# Position blocks of a genome split: used when the records' chromosomes are too few for a chromosome split.
SPLIT_BLOCKS = 10


def block_plan(sizes, centre_chrom, centre_pos, n_blocks=SPLIT_BLOCKS, seed=0, length=None):
    """Position blocks for a genome too small to split by chromosome (one chromosome, a bacterium, a test genome).

    The rule: the chromosomes of ``sizes`` are laid end to end (in the order given) and cut into ``n_blocks``
    contiguous blocks of equal length. The blocks are visited in a random order drawn from ``seed``; the first
    that holds a positive's centre is the test block, the next one the validation block; every other block
    trains. A record belongs to the block holding its window's centre base (``start + length // 2``), and a
    window that crosses a boundary between blocks of different splits is dropped by the caller (counted), so
    no training window overlaps a validation or test window (see :func:`block_split`).

    Parameters
    ----------
    sizes : dict — chromosome → length, in layout order.
    centre_chrom, centre_pos : arrays, shape=(n,) — the positives' window centres.
    n_blocks : int
    seed : int
    length : int, optional — the window length: only windows wholly inside one block count toward choosing the
        test and validation blocks (a window that crosses into another split's block is dropped later, so a
        block held only by such windows would end up with no positive).

    Returns
    -------
    dict — ``n_blocks``, ``seed``, ``chroms`` and ``sizes`` (the layout), ``edges`` (``n_blocks + 1`` block
    boundaries in layout coordinates), ``test`` and ``val`` (block indices), ``regions`` (split name →
    ``chrom:start-end`` strings, 0-based half-open), ``codes`` (each block's split code).

    Raises
    ------
    SeqcnnError — when fewer than two blocks hold a positive (too few peaks for a test and a validation split).
    """
    chroms = list(sizes)
    size = np.asarray([sizes[c] for c in chroms], np.int64)
    offset = np.r_[0, np.cumsum(size)]
    edges = np.round(np.linspace(0, offset[-1], n_blocks + 1)).astype(np.int64)
    plan = {"n_blocks": int(n_blocks), "seed": int(seed), "chroms": chroms, "sizes": size.tolist(),
            "edges": edges.tolist()}
    centre_pos = np.asarray(centre_pos, np.int64)
    block = _block_of(plan, centre_chrom, centre_pos)
    if length is not None:
        lo = centre_pos - length // 2
        inside = ((_block_of(plan, centre_chrom, lo) == block)
                  & (_block_of(plan, centre_chrom, lo + length - 1) == block))
        block = block[inside]
    held = np.bincount(block, minlength=n_blocks)
    order = np.random.default_rng(seed).permutation(n_blocks)
    pick = [int(b) for b in order if held[b] > 0][:2]
    if len(pick) < 2:
        raise SeqcnnError(f"the peaks' windows lie in {int((held > 0).sum())} of {n_blocks} position blocks, too few "
                          f"for a test and a validation block", hint="give more peaks, or a genome with more "
                                                                     "chromosomes")
    codes = np.full(n_blocks, TRAIN, np.uint8)
    codes[pick[0]], codes[pick[1]] = TEST, VAL
    plan.update(test=[pick[0]], val=[pick[1]], codes=codes.tolist())
    # Runs of neighbouring blocks of one split, as genome regions (what `seqcnn info` shows).
    run = np.r_[0, np.cumsum(codes[1:] != codes[:-1])]
    plan["regions"] = {name: [] for name in SPLIT_NAMES}
    for r in range(int(run[-1]) + 1):
        blocks = np.flatnonzero(run == r)
        plan["regions"][SPLIT_NAMES[codes[blocks[0]]]].append(_region(plan, blocks[0], blocks[-1] + 1))
    return plan


def _block_of(plan, chrom, pos):
    """Block index of positions (``pos`` on ``chrom``); -1 for chromosomes outside the layout."""
    off = dict(zip(plan["chroms"], np.r_[0, np.cumsum(plan["sizes"])].tolist()))
    chrom = np.asarray(chrom, dtype=object)
    at = np.asarray(pos, np.int64) + np.asarray([off.get(c, -1) for c in chrom.tolist()], np.int64)
    block = np.searchsorted(np.asarray(plan["edges"], np.int64), at, side="right") - 1
    block = np.clip(block, 0, plan["n_blocks"] - 1)
    known = np.isin(chrom, plan["chroms"]) if len(chrom) else np.zeros(0, bool)
    return np.where(known, block, -1)


def _region(plan, first, stop):
    """``chrom:start-end`` of blocks ``first`` to ``stop - 1`` (pieces joined by '+' where they run over a
    chromosome end)."""
    lo, hi = plan["edges"][first], plan["edges"][stop]
    pieces, off = [], 0
    for c, s in zip(plan["chroms"], plan["sizes"]):
        a, z = max(lo, off), min(hi, off + s)
        if a < z:
            pieces.append(f"{c}:{a - off}-{z - off}")
        off += s
    return "+".join(pieces)


def block_split(plan, chrom, start, end):
    """Split codes by position block (see :func:`block_plan`), and which windows cross a split boundary.

    Parameters
    ----------
    plan : dict — from :func:`block_plan`.
    chrom : array of str, shape=(n,)
    start, end : array of int, shape=(n,) — windows, 0-based half-open.

    Returns
    -------
    split : np.ndarray, uint8, shape=(n,) — by the block of the centre base (``start + (end - start) // 2``);
        records on chromosomes outside the layout train (another chromosome overlaps no held-out window).
    crosses : np.ndarray, bool, shape=(n,) — windows that reach into a block of another split: the caller
        drops them, since they would overlap windows of that split.
    """
    start, end = np.asarray(start, np.int64), np.asarray(end, np.int64)
    codes = np.asarray(plan["codes"], np.uint8)
    centre = _block_of(plan, chrom, start + (end - start) // 2)
    split = np.where(centre >= 0, codes[np.maximum(centre, 0)], TRAIN).astype(np.uint8)
    first, last = _block_of(plan, chrom, start), _block_of(plan, chrom, np.maximum(end - 1, start))
    # Split changes between consecutive blocks, cumulated: a window spans a change when the counts differ.
    change = np.r_[0, np.cumsum(codes[1:] != codes[:-1])]
    crosses = (first >= 0) & (change[np.maximum(last, 0)] != change[np.maximum(first, 0)])
    return split, crosses


def block_boundaries(plan):
    """The first base after each boundary between blocks of different splits: (chrom, start, end) arrays of
    1-bp intervals, for keeping made negatives off the boundaries (a window holding that base and the one before
    it crosses; one starting on it is kept out too, a negligible loss)."""
    codes = plan["codes"]
    off = np.r_[0, np.cumsum(plan["sizes"])]
    chrom, pos = [], []
    for i in range(1, plan["n_blocks"]):
        if codes[i] == codes[i - 1]:
            continue
        e = plan["edges"][i]
        k = int(np.searchsorted(off, e, side="right") - 1)
        if k < len(plan["chroms"]) and e - off[k] > 0:  # an edge on a chromosome start has nothing to cross
            chrom.append(plan["chroms"][k])
            pos.append(int(e - off[k]))
    pos = np.asarray(pos, np.int64)
    return np.asarray(chrom, dtype=object), pos, pos + 1
