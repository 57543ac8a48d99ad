"""The ``seqcnn variants`` verb: how SNVs and indels change a trained model's predictions.

Provides :func:`score_pairs` (logits of reference and alternative one-hot windows, averaged over both strands
by default; every window by batched forward passes, the default, or with ``snv='kernel'`` single-base
substitutions through the exact single-substitution kernel of :mod:`seqcnn.exact_ism`, measured slower on
CPU), :func:`variant_effects` (variants from a VCF/BCF, a table or allele-pair FASTA files → a DataFrame of
effects) and :func:`run_variants` (the verb: the effects table as TSV, CSV or HDF5, the skipped rows beside it
with their reasons, and the summary counts).

Scores per model output: ``ref_logit``, ``alt_logit``, ``delta_logit`` (alt − ref: a log odds ratio),
``ref_prob``, ``alt_prob``, ``delta_prob``. Windows are cut by the rules of :mod:`seqcnn.variant_io`
(:func:`~seqcnn.variant_io.variant_windows` from a genome, :func:`~seqcnn.variant_io.pair_windows` for allele
pairs, aligned on the bases that differ); the table says where those bases lie in each window.
"""

import os

import numpy as np

from .errors import SeqcnnError
from .outputs import check_output, parse_shard, publish, publish_dir, shard_range, temp_dir

STRANDS = ("both", "forward")
SCORES = ("ref_logit", "alt_logit", "delta_logit", "ref_prob", "alt_prob", "delta_prob")


def _snv_rows(x_ref, x_alt):
    """Rows where the alternative differs from the reference at one position, with a one-hot base there.

    Returns (rows int64 [k], position int32 [k], base int32 [k]).
    """
    diff = (x_ref != x_alt).any(-1)                                    # [m, L]
    single = diff.sum(1) == 1
    pos = np.argmax(diff, axis=1)
    alt_rows = x_alt[np.arange(len(x_alt)), pos]                       # [m, 4]
    single &= alt_rows.sum(-1) == 1                                    # to N (all-zero) is not a substitution
    rows = np.flatnonzero(single)
    return rows, pos[rows].astype(np.int32), np.argmax(alt_rows[rows], -1).astype(np.int32)


_FORWARD = {}


def score_pairs(model, x_ref, x_alt, strands="both", batch_size=512, snv="forward", keys=None):
    """Logits of reference and alternative windows.

    Parameters
    ----------
    model : keras.Model — logit outputs shape=(batch, T).
    x_ref, x_alt : np.ndarray, uint8, shape=(m, L, 4) — one-hot windows.
    strands : {'both', 'forward'} — ``both`` averages each window's logits with its reverse complement's.
    snv : {'forward', 'kernel'} — how single-base substitutions are scored: two forward passes (the default:
        measured faster on CPU, ``benchmarks/bench_variants.py``) or ``exact_ism.single_substitutions`` (the
        first convolution once; exact, tested, and for global-pool models the path to make faster).
    keys : np.ndarray of int, shape=(m,), optional — a stable place per row (its record in the whole input):
        forward passes put each row at batch row ``keys % batch_size``, so a shard or block scores a row to the
        same bits as the whole input (``feeding.Forward.fixed``). The kernel path makes no such claim.

    Returns
    -------
    ref, alt : np.ndarray, float64, shape=(m, T); path : np.ndarray of str, shape=(m,) — ``snv`` (the
    single-substitution kernel, with ``snv='kernel'``) or ``forward`` (two forward passes).
    """
    from .exact_ism import single_substitutions
    from .feeding import Forward

    if strands not in STRANDS:
        raise SeqcnnError(f"unknown --strands {strands!r}", hint=f"use one of {', '.join(STRANDS)}")
    x_ref, x_alt = np.asarray(x_ref, np.uint8), np.asarray(x_alt, np.uint8)
    m, L = x_ref.shape[:2]
    T = int(model.outputs[0].shape[-1])
    ref, alt = np.zeros((m, T)), np.zeros((m, T))
    path = np.full(m, "forward", dtype=object)
    if snv not in ("forward", "kernel"):
        raise SeqcnnError(f"unknown snv scoring {snv!r}", hint="use 'forward' or 'kernel'")
    rows, pos, base = _snv_rows(x_ref, x_alt)
    if snv == "forward":
        rows, pos, base = rows[:0], pos[:0], base[:0]
    other = np.setdiff1d(np.arange(m), rows)
    path[rows] = "snv"
    views = [(x_ref, x_alt, pos, base)]
    if strands == "both":
        # The reverse complement: positions mirrored, bases complemented (A<->T, C<->G is index 3 - b).
        views.append((x_ref[:, ::-1, ::-1], x_alt[:, ::-1, ::-1], L - 1 - pos, 3 - base))
    # One traced function per model: score_pairs runs once per block (and per --null chunk).
    fwd = _FORWARD.get(id(model))
    if fwd is None or fwd.model is not model:
        fwd = _FORWARD[id(model)] = Forward(model, L)
    for xr, xa, p, b in views:
        if len(rows):
            r, a = single_substitutions(model, xr[rows], p, b, batch_size=batch_size)
            ref[rows] += r
            alt[rows] += a
        if len(other):
            for target, x in ((ref, xr), (alt, xa)):
                target[other] += fwd.fixed(x[other], batch_size, slots=None if keys is None else keys[other])
    ref /= len(views)
    alt /= len(views)
    return ref, alt, path


def null_deltas(model, x_ref, x_alt, eligible, n_null, keys, strands="both", batch_size=512, seed=0):
    """Delta logits of each variant applied to ``n_null`` dinucleotide-shuffled copies of its reference window.

    The alternative of a shuffled copy carries the variant's bases where the alternative window differs from
    the reference one, so only same-length changes (SNVs, MNPs) are ``eligible``; the others get NaN. Each
    variant's shuffles are seeded by ``(seed, keys[i])``, so a variant gets the same null in any shard.

    Returns
    -------
    np.ndarray, float64, shape=(m, n_null, T).
    """
    from .encoding import encode_windows
    from .negatives import dinucleotide_shuffle

    m, L = x_ref.shape[:2]
    T = int(model.outputs[0].shape[-1])
    out = np.full((m, n_null, T), np.nan)
    rows = np.flatnonzero(eligible)
    if not len(rows) or n_null < 1:
        return out
    letters = np.frombuffer(b"ACGTN", np.uint8)
    for s in range(0, len(rows), max(1, 4096 // n_null)):
        part = rows[s:s + max(1, 4096 // n_null)]
        xr = x_ref[part]
        u8 = letters[np.where(xr.sum(-1) == 0, 4, xr.argmax(-1))]                  # [k, L] bytes
        shuffled = encode_windows(np.concatenate([
            dinucleotide_shuffle(np.repeat(u8[j:j + 1], n_null, axis=0), np.random.default_rng([seed, int(keys[i])]))
            for j, i in enumerate(part)]), allow_iupac=True)
        changed = np.repeat((x_ref[part] != x_alt[part]).any(-1), n_null, axis=0)  # [k * n_null, L]
        alt = shuffled.copy()
        alt[changed] = np.repeat(x_alt[part], n_null, axis=0)[changed]
        r, a, _ = score_pairs(model, shuffled, alt, strands=strands, batch_size=batch_size)
        out[part] = (a - r).reshape(len(part), n_null, T)
    return out


BLOCK_COLUMNS = ("ref_block_start", "ref_block_end", "alt_block_start", "alt_block_end")


def _fit(cropped, padded):
    """The ``window_fit`` column: whether each scored window pair lost bases (cropped) or holds N padding."""
    fit = np.full(len(cropped), "whole", dtype=object)
    fit[cropped] = "cropped"
    fit[padded] = "padded"
    fit[cropped & padded] = "cropped+padded"
    return fit


def _block_columns(frame, ref_block, alt_block, cropped, padded):
    """Add the differing blocks' coordinates and ``window_fit`` to ``frame``, in place; returns the figure spans."""
    for col, values in zip(BLOCK_COLUMNS, (ref_block[:, 0], ref_block[:, 1], alt_block[:, 0], alt_block[:, 1])):
        frame[col] = values
    frame["window_fit"] = _fit(cropped, padded)
    return [((int(a), int(b)), (int(c), int(e))) for (a, b), (c, e) in zip(ref_block, alt_block)]


def _pairs_block(ref_fasta, alt_fasta, cfg, shard=None, anchor="block", shifts=0):
    """Allele pairs (held in memory: two FASTA files matched by id) as one block, windows aligned on the change.

    The windows are :func:`seqcnn.variant_io.pair_windows`'s (the same left flank in both alleles, centred on
    the differing block); identical alleles and blocks longer than the window are skipped with the reason.
    With ``shifts`` > 0 the block also carries the shifted windows (``shift``: one-hot [m, S, L, 4] of ref and
    alt, and the valid mask [m, S]) that :func:`_score` averages over.
    """
    import pandas as pd

    from .encoding import _as_bytes, check_bases, encode_windows
    from .errors import SequenceError
    from .variant_io import pair_windows, read_allele_pairs

    d, L = cfg["data"], cfg["model"]["input_length"]
    ids, seq_r, seq_a = read_allele_pairs(ref_fasta, alt_fasta)
    lo, hi = shard_range(len(ids), shard)
    ids, seq_r, seq_a = ids[lo:hi], seq_r[lo:hi], seq_a[lo:hi]
    # Whole alleles checked first, so a bad base is named by its record and position in the allele.
    for path, seqs in ((ref_fasta, seq_r), (alt_fasta, seq_a)):
        buf, lengths = _as_bytes(list(seqs))
        if len(lengths) and lengths.min() == 0:
            raise SequenceError("empty sequence", path=path, record=ids[int(np.argmin(lengths))],
                                hint="remove the pair or give the allele its bases")
        check_bases(buf, lengths, ids=ids, path=path, allow_iupac=d.get("allow_iupac", False))
    w = pair_windows(seq_r, seq_a, L, anchor=anchor, shifts=shifts)
    rows = w["rows"]
    len_r = np.array([len(s) for s in seq_r], np.int64)
    len_a = np.array([len(s) for s in seq_a], np.int64)
    diff = [sum(a != b for a, b in zip(r.upper(), s.upper())) if len(r) == len(s) else None
            for r, s in zip(seq_r, seq_a)]
    kind = np.array(["snv" if k == 1 else "identical" if k == 0 else "substitutions" if k is not None else "indel"
                     for k in diff], dtype=object)
    kept = [ids[k] for k in rows]
    x_ref = encode_windows(w["ref"], allow_iupac=True, ids=kept, path=ref_fasta)  # the N padding encodes as zeros
    x_alt = encode_windows(w["alt"], allow_iupac=True, ids=kept, path=alt_fasta)
    frame = pd.DataFrame({"id": kept, "ref_length": len_r[rows], "alt_length": len_a[rows], "kind": kind[rows],
                          "window_start": w["window_start"]})
    spans = _block_columns(frame, w["ref_block"], w["alt_block"], w["cropped"], w["padded"])
    shift = None
    if shifts:
        S, valid = 2 * shifts + 1, w["shift_valid"]
        many = [i for i in kept for _ in range(S)]
        shift = tuple(encode_windows(w[key].reshape(-1, L), allow_iupac=True, ids=many, path=path).reshape(
            len(kept), S, L, 4) for key, path in (("shift_ref", ref_fasta), ("shift_alt", alt_fasta))) + (valid,)
        frame["shifts_used"] = valid.sum(1)
    sk = np.flatnonzero(np.not_equal(w["skip"], None))
    skipped = pd.DataFrame({"id": [ids[k] for k in sk], "ref_length": len_r[sk], "alt_length": len_a[sk],
                            "ref_block_length": w["block_length"][sk, 0], "alt_block_length": w["block_length"][sk, 1],
                            "reason": w["skip"][sk]})
    return {"frame": frame, "x_ref": x_ref, "x_alt": x_alt, "records": len(ids), "skipped": skipped,
            "checked": 0, "mismatched": 0, "shifted": {1: 0, -1: 0}, "first_mismatch": None,
            "cropped": int(w["cropped"].sum()), "padded": int(w["padded"].sum()),
            "same": np.array([k in ("snv", "substitutions") for k in kind[rows]], bool),
            "keys": np.arange(lo, hi)[rows], "slots": np.arange(lo, hi)[rows], "spans": spans, "shift": shift}


def _genome_block(variants, genome, cfg, offset, ref_mismatch):
    """One block of variants (:class:`seqcnn.variant_io.Variants`) → windows, table columns, skipped rows."""
    import pandas as pd

    from .encoding import encode_windows
    from .variant_io import variant_windows

    L = cfg["model"]["input_length"]
    w = variant_windows(genome, variants, L, offset=offset, ref_mismatch=ref_mismatch)
    rows = w["rows"]
    ids = [f"{variants.chrom[k]}:{variants.pos[k]}:{variants.ref[k]}>{variants.alt[k]}" for k in rows]
    x_ref = encode_windows(w["ref"], allow_iupac=True, ids=ids, path=genome.path)
    x_alt = encode_windows(w["alt"], allow_iupac=True, ids=ids, path=genome.path)
    frame = pd.DataFrame({"chrom": variants.chrom[rows], "pos": variants.pos[rows],
                          "id": [i if i is not None else "." for i in variants.id[rows]],
                          "ref": variants.ref[rows], "alt": variants.alt[rows], "ref_match": w["ref_match"][rows]})
    # Genome windows are never padded (a window off the chromosome is skipped); an insertion's is cropped.
    spans = _block_columns(frame, w["ref_block"], w["alt_block"], w["cropped"], np.zeros(len(rows), bool))
    sk = np.flatnonzero(np.not_equal(w["skip"], None))
    skipped = pd.DataFrame({"chrom": variants.chrom[sk], "pos": variants.pos[sk],
                            "id": [i if i is not None else "." for i in variants.id[sk]], "ref": variants.ref[sk],
                            "alt": [a if a is not None else "." for a in variants.alt[sk]],
                            "line": variants.line[sk], "reason": w["skip"][sk]})
    checked = w["checked"]
    bad = np.flatnonzero(checked & ~w["ref_match"])
    first = (f"line {variants.line[bad[0]]}, REF {variants.ref[bad[0]]} at {variants.chrom[bad[0]]}:"
             f"{variants.pos[bad[0]]}" if len(bad) else None)
    # A stable key per output row whatever the shard or block: its input record and its place among the ALTs.
    allele = np.zeros(len(variants), np.int64)
    for k in range(1, len(variants)):
        if variants.record[k] == variants.record[k - 1]:
            allele[k] = allele[k - 1] + 1
    return {"frame": frame, "x_ref": x_ref, "x_alt": x_alt, "records": variants.records_read, "skipped": skipped,
            "checked": int(checked.sum()), "mismatched": len(bad), "first_mismatch": first,
            "shifted": {s: int(m[bad].sum()) for s, m in w["shift_match"].items()},
            "cropped": int(w["cropped"].sum()), "padded": 0,
            "same": np.array([len(variants.ref[k]) == len(variants.alt[k]) for k in rows], bool),
            "keys": variants.record[rows] * 1024 + allele[rows],
            # the batch row of each scored row: its record plus its place among the ALTs (feeding.Forward.fixed)
            "slots": variants.record[rows] + allele[rows],
            "spans": spans}


def _genome_blocks(path, is_vcf, genome, cfg, offset, ref_mismatch, shard, block_records):
    """Blocks of a VCF or table, scored one at a time (memory bounded by ``block_records``)."""
    from .genome import Genome
    from .variant_io import iter_variant_table, iter_vcf

    read = iter_vcf if is_vcf else iter_variant_table
    lo, hi = 0, None
    if shard is not None:
        # The shards' parts need the number of records: one pass over the file that keeps nothing.
        lo, hi = shard_range(sum(b.records_read for b in read(path, block_records)), shard)
    with Genome(genome) as g:
        first = 0
        for v in read(path, block_records):
            span = (first, first + v.records_read)
            first += v.records_read
            if hi is not None:
                if span[1] <= lo:
                    continue
                if span[0] >= hi:
                    break
                v = v.subset(np.flatnonzero((v.record >= lo) & (v.record < hi)))
                v.records_read = min(span[1], hi) - max(span[0], lo)
            yield _genome_block(v, g, cfg, offset, ref_mismatch)


def _score(block, model, cfg, names, strands, batch_size, snv, null, seed):
    """Add the score columns (and --null's) to a block's frame, in place; returns the frame."""
    from .metrics import link

    frame = block["frame"]
    if block.get("shift") is not None:
        ref, alt, path = _shift_mean(model, block, strands, batch_size, snv)
    else:
        ref, alt, path = score_pairs(model, block["x_ref"], block["x_alt"], strands=strands, batch_size=batch_size,
                                     snv=snv, keys=block["slots"])
    task = cfg["model"]["task"]
    p_ref, p_alt = link(task, ref), link(task, alt)
    for t, name in enumerate(names):
        suffix = f"_{name}" if len(names) > 1 else ""
        for col, values in zip(SCORES, (ref[:, t], alt[:, t], alt[:, t] - ref[:, t], p_ref[:, t], p_alt[:, t],
                                        p_alt[:, t] - p_ref[:, t])):
            frame[col + suffix] = values
    if null:
        same = block["same"]
        nd = null_deltas(model, block["x_ref"], block["x_alt"], same, int(null), block["keys"], strands=strands,
                         batch_size=batch_size, seed=seed)
        delta = alt - ref
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (delta - nd.mean(1)) / nd.std(1, ddof=1)
            p_emp = (1 + (np.abs(nd) >= np.abs(delta)[:, None]).sum(1)) / (null + 1)
        p_emp[~same] = np.nan
        for t, name in enumerate(names):
            suffix = f"_{name}" if len(names) > 1 else ""
            frame["delta_logit_z" + suffix] = z[:, t]
            frame["delta_logit_p" + suffix] = p_emp[:, t]
    frame["path"] = path
    return frame


def _shift_mean(model, block, strands, batch_size, snv):
    """Logits of each pair averaged over its valid shifted windows (test-time shift averaging).

    Returns (ref, alt float64 [m, T], path object [m]: the unshifted window's path).
    """
    x_ref, x_alt, valid = block["shift"]
    S = valid.shape[1]
    pair, j = np.nonzero(valid)                                     # row-major: each pair's windows together
    # A stable batch slot per window (its pair's slot times S plus its shift), as the unshifted rows have.
    ref, alt, path = score_pairs(model, x_ref[pair, j], x_alt[pair, j], strands=strands, batch_size=batch_size,
                                 snv=snv, keys=block["slots"][pair] * S + j)
    count = valid.sum(1)
    first = np.r_[0, np.cumsum(count)[:-1]]                          # each pair's first window (count >= 1)
    centre = np.flatnonzero(j == S // 2)                             # the unshifted window is always valid
    return (np.add.reduceat(ref, first) / count[:, None], np.add.reduceat(alt, first) / count[:, None],
            path[centre])


def _scored_blocks(run_dir, *, vcf=None, table=None, genome=None, ref_fasta=None, alt_fasta=None, offset=None,
                   ref_mismatch="check", strands="both", batch_size=512, snv="forward", shard=None, null=0, seed=0,
                   block_records=None, pair_anchor="block", shifts=0):
    """(model, output names, generator of scored blocks): the streaming core of :func:`run_variants`.

    Parameters
    ----------
    run_dir : str — a finished ``seqcnn train`` run.
    offset : int, optional — window index of the variant's first base (default: the centre, ``L // 2``).
    ref_mismatch : {'check', 'skip', 'error', 'use-vcf'} — what a REF that differs from the genome does:
        ``check`` (default) skips and counts such rows, but stops the run (exit 2, nothing written) when more than
        5 % of the REF alleles checked, and at least 3, differ (``variant_io.MISMATCH_STOP_FRACTION``,
        ``MISMATCH_STOP_MIN``): that many says another assembly or 0-based positions, and the message says
        which when a one-base shift makes most of them match; ``skip`` skips and counts them whatever their
        number; ``error`` stops at the first; ``use-vcf`` scores the file's REF in place of the genome's bases.
    strands : {'both', 'forward'}
    snv : {'forward', 'kernel'} — see :func:`score_pairs`: every row through two forward passes (the default,
        ``path`` ``forward``), or single-base substitutions through the exact single-substitution kernel
        (``path`` ``snv``).
    shard : str or (int, int), optional — ``'K/N'``: only the K-th of N contiguous parts of the input records.
    null : int — with N > 0, each substitution is also scored on N dinucleotide-shuffled copies of its window
        (seeded by ``seed`` and its place in the input), giving ``delta_logit_z`` (z-score against them) and
        ``delta_logit_p`` (empirical two-sided p-value, (1 + #|null| >= |delta|) / (N + 1)); NaN for indels.
    block_records : int, optional — input records per block (default ``variant_io.BLOCK_RECORDS``).
    pair_anchor : {'block', 'allele'} — allele pairs: centre each window on the bases that differ (default), or
        on the reference allele's centre, moved only as far as needed to hold them (``variant_io.pair_windows``;
        compared on real CTCF pairs in ``benchmarks/RESULTS.md``).
    shifts : int — allele pairs: average each pair's logits over the windows started ``-shifts .. +shifts``
        bases from its aligned window, those that keep the whole differing block inside and add no N padding
        (``variant_io.pair_windows``); the table's ``shifts_used`` says how many each pair got. 0 (the
        default): the aligned window alone.
    """
    from .rundir import load_run
    from .scoring import output_columns
    from .variant_io import BLOCK_RECORDS

    given = [k for k, v in (("--vcf", vcf), ("--table", table), ("--ref-fasta", ref_fasta)) if v is not None]
    if len(given) != 1:
        raise SeqcnnError("give one input: --vcf or --table (with --genome), or --ref-fasta with --alt-fasta"
                          if not given else f"give one input, not {' and '.join(given)}")
    if ref_fasta is not None and alt_fasta is None or alt_fasta is not None and ref_fasta is None:
        raise SeqcnnError("--ref-fasta and --alt-fasta go together", hint="give both, with the same ids")
    if (vcf is not None or table is not None) and genome is None:
        raise SeqcnnError(f"{given[0]} needs --genome", hint="the reference FASTA the variants were called on")
    if null and null < 2:
        raise SeqcnnError(f"--null {null}: a z-score needs at least 2 shuffled copies", hint="e.g. --null 100")
    if shifts:
        if ref_fasta is None:
            raise SeqcnnError("--shifts averages the windows of allele pairs (--ref-fasta/--alt-fasta)",
                              hint="leave --shifts out for --vcf/--table input, or move the window with --offset")
        if null:
            raise SeqcnnError("--null scores the unshifted window only: give it without --shifts",
                              hint="run --null and --shifts as two separate runs")
    if shifts < 0:
        raise SeqcnnError(f"--shifts {shifts} is negative", hint="give 0 (one window per pair) or e.g. 10")
    if isinstance(shard, str):
        shard = parse_shard(shard)
    model, cfg = load_run(run_dir)
    names = [c[len("prob_"):] for c in output_columns(cfg)]
    if ref_fasta is not None:
        blocks = iter([_pairs_block(ref_fasta, alt_fasta, cfg, shard, pair_anchor, shifts)])
    else:
        blocks = _genome_blocks(vcf if vcf is not None else table, vcf is not None, genome, cfg, offset,
                                ref_mismatch, shard, block_records or BLOCK_RECORDS)

    def scored():
        for block in blocks:
            _score(block, model, cfg, names, strands, batch_size, snv, null, seed)
            yield block

    return model, names, scored()


def _mismatch_note(checked, mismatched):
    if checked and mismatched / checked > 0.05:
        return [f"{mismatched} of {checked} REF alleles differ from the genome: another assembly, or 0-based "
                f"positions (VCF is 1-based)?"]
    return []


class _Tally:
    """The counts of a run summed over its blocks: records, REF checks, windows cropped and padded.

    ``--ref-mismatch check`` is applied as soon as ``EARLY_CHECK`` REF alleles have been compared (so a 0-based
    or wrong-assembly VCF of millions of rows stops after its first block, not after scoring them all), and
    again at the end for smaller inputs.
    """

    EARLY_CHECK = 1000

    def __init__(self, kw):
        self.records = self.checked = self.mismatched = self.cropped = self.padded = 0
        self.shifted, self.first = {1: 0, -1: 0}, None
        self.check = kw.get("ref_mismatch", "check") == "check"
        self.path = kw.get("vcf") if kw.get("vcf") is not None else kw.get("table")

    def add(self, block):
        self.records += block["records"]
        self.checked += block["checked"]
        self.mismatched += block["mismatched"]
        self.cropped += block["cropped"]
        self.padded += block["padded"]
        self.shifted = {s: v + block["shifted"][s] for s, v in self.shifted.items()}
        self.first = self.first or block["first_mismatch"]
        if self.checked >= self.EARLY_CHECK:
            self._check()

    def _check(self):
        from .variant_io import check_ref_mismatch

        if self.check:
            check_ref_mismatch(self.path, self.checked, self.mismatched, self.shifted, self.first)

    def finish(self):
        """Apply ``--ref-mismatch check`` (raises :class:`SeqcnnError`) once every block is in; returns the notes."""
        self._check()
        return _mismatch_note(self.checked, self.mismatched)


def variant_effects(run_dir, **kw):
    """Score variants with a trained run: a DataFrame of effects, one row per scored variant, in input order.

    Give ``vcf`` or ``table`` with ``genome``, or ``ref_fasta`` with ``alt_fasta``; the other keywords are
    those of ``seqcnn variants`` (see :func:`_scored_blocks`). The whole table is held in memory; the verb
    (:func:`run_variants`) streams it to disk instead.

    Returns
    -------
    pandas.DataFrame — columns ``chrom, pos, id, ref, alt, ref_match`` (genome input) or ``id, ref_length,
    alt_length, kind, window_start`` (allele pairs: ``window_start`` is the 0-based start of the window in both
    alleles, negative where it begins with N padding), then ``ref_block_start, ref_block_end, alt_block_start,
    alt_block_end`` (each allele's differing bases in its window, 0-based half-open; an empty block marks the
    junction of a pure insertion or deletion) and ``window_fit`` (``whole``, ``cropped``: bases of an allele
    lie outside the window, ``padded``: the window holds N beyond an allele's end, or ``cropped+padded``), with
    ``shifts`` > 0 then ``shifts_used`` (the valid windows averaged, 1 .. 2K + 1), then the scores (``SCORES``;
    per output, suffixed ``_<name>``, when the model has several), then ``path``
    (``snv`` or ``forward``). ``.attrs`` holds ``skipped`` (a DataFrame with the reason per row),
    ``records_read``, ``cropped`` and ``padded`` (scored rows), ``notes`` and ``outputs``.

    Raises
    ------
    SeqcnnError — besides bad input, ``ref_mismatch='check'`` (the default) when the REF alleles that differ
    from the genome say the coordinates are wrong (:func:`seqcnn.variant_io.check_ref_mismatch`).
    """
    import pandas as pd

    _, names, blocks = _scored_blocks(run_dir, **kw)
    frames, skipped, tally = [], [], _Tally(kw)
    for b in blocks:
        frames.append(b["frame"])
        skipped.append(b["skipped"])
        tally.add(b)
    notes = tally.finish()
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame.attrs.update({"skipped": pd.concat(skipped, ignore_index=True) if skipped else pd.DataFrame(),
                        "records_read": tally.records, "cropped": tally.cropped, "padded": tally.padded,
                        "notes": notes, "outputs": names})
    return frame


class _TableOut:
    """A table written block by block to a temporary file beside ``path``, moved into place by ``publish``.

    TSV or CSV by extension (the header only when ``header``), or HDF5 (``.h5``: one resizable dataset per
    column, strings as UTF-8).
    """

    def __init__(self, path, header=True):
        self.path, self.header = str(path), header
        self.tmp = f"{self.path}.tmp-{os.getpid()}"
        self.h5 = self.path.endswith((".h5", ".hdf5"))
        self.rows, self._fh, self.started = 0, None, False
        if not self.h5:
            self._fh = open(self.tmp, "w", newline="")

    def write(self, frame):
        if self.h5:
            import h5py

            mode = "a" if self.started else "w"
            with h5py.File(self.tmp, mode) as h5:
                for col in frame.columns:
                    values = frame[col].to_numpy()
                    if values.dtype == object:
                        values = values.astype(str).astype(object)
                    if col not in h5:
                        kind = h5py.string_dtype("utf-8") if values.dtype == object else values.dtype
                        h5.create_dataset(col, shape=(0,), maxshape=(None,), dtype=kind, chunks=(16384,))
                    ds = h5[col]
                    ds.resize(self.rows + len(values), axis=0)
                    ds[self.rows:] = values
                h5.attrs["columns"] = list(frame.columns)
        else:
            sep = "," if self.path.endswith(".csv") else "\t"
            frame.to_csv(self._fh, sep=sep, index=False, float_format="%.6g", header=self.header and not self.started)
        self.rows += len(frame)
        self.started = True

    def publish(self, force):
        if self._fh is not None:
            self._fh.close()
        if self.h5 and not os.path.exists(self.tmp):
            import h5py

            h5py.File(self.tmp, "w").close()
        publish(self.tmp, self.path, force)

    def abort(self):
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)


def skipped_path(out):
    """Where the skipped rows of ``out`` go: ``<out stem>.skipped.tsv``."""
    stem = str(out)
    for ext in (".tsv", ".csv", ".h5", ".hdf5", ".txt"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    return f"{stem}.skipped.tsv"


class _TopK:
    """The ``k`` rows of largest |delta_logit| (first output) seen so far, with their windows: for the figures."""

    def __init__(self, k):
        self.k, self.rows = k, []

    def add(self, block):
        frame = block["frame"]
        if not self.k or not len(frame):
            return
        col = [c for c in frame.columns if c.startswith("delta_logit") and not c.startswith(("delta_logit_z",
                                                                                           "delta_logit_p"))][0]
        d = np.abs(frame[col].to_numpy())
        for i in np.argsort(-d, kind="stable")[:self.k]:
            self.rows.append((float(d[i]), len(self.rows), frame.iloc[i], frame[col].iloc[i], block["x_ref"][i],
                              block["x_alt"][i], block["spans"][i]))
        self.rows = sorted(self.rows, key=lambda r: (-r[0], r[1]))[:self.k]


def _plot_targets(run_dir, jaspar, release, collection, motif_db):
    """The motifs the figures name sites by, ``(targets or None, label, database)``: the verb's JASPAR options,
    else the group the run recorded (``seqcnn train --jaspar``), so a yeast run's figures name yeast factors.
    """
    from .motif_compare import run_targets
    from .rundir import load_config

    targets, group, database = run_targets(jaspar, load_config(run_dir), release, collection, motif_db)
    label = os.path.basename(str(motif_db)) if motif_db is not None else f"JASPAR {group}"
    return targets, label, database


def _variant_plots(top, model, plot_dir, targets=None, source="JASPAR"):
    """Figures of the kept variants (:class:`_TopK`) into ``plot_dir``: list of paths.

    ``targets`` (:func:`seqcnn.motif_compare.load_targets`) name the site each variant changes most in the title,
    as ``source`` (e.g. 'JASPAR fungi') ``id name``; None: no motif in the titles.
    """
    from . import plots as plotting
    from .exact_ism import ism
    from .motif_compare import best_hit
    from .mutagenesis import attribution, importance

    if not top.rows:
        return []
    x_ref = np.stack([r[4] for r in top.rows])
    x_alt = np.stack([r[5] for r in top.rows])
    x = np.concatenate([x_ref, x_alt])
    delta, _ = ism(model, x, output=0)
    attr = attribution(importance(delta, x), x)
    paths, n = [], len(top.rows)
    for rank, (_, _, row, d, xr, xa, (ref_block, alt_block)) in enumerate(top.rows):
        # Sites over each allele's own differing block: after an indel the two blocks differ in place and length.
        hit = best_hit(xr, xa, ref_block[0], targets, blocks=(ref_block, alt_block)) if targets else None
        label = f"{row['chrom']}:{row['pos']} {row['ref']}>{row['alt']}" if "chrom" in row.index else str(row["id"])
        motif = ("" if targets is None else
                 f"; {source} {hit['id']} {hit['name']} site p {hit['ref_p']:.1g} → {hit['alt_p']:.1g}" if hit
                 else f"; no {source} site (p ≤ 1e-4) changed")
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)[:80]
        paths.append(plotting.variant_figure(attr[rank], attr[n + rank], ref_block, alt_block,
                                             os.path.join(plot_dir, f"{rank + 1:02d}_{name}.png"),
                                             title=f"{label}  Δ logit {d:+.3f}{motif}"))
    return paths


def run_variants(run_dir, out, *, force=False, shard=None, plots=True, plot_top=10, jaspar=None,
                 jaspar_release="JASPAR2024", jaspar_collection="CORE", motif_db=None, **kw):
    """The ``seqcnn variants`` verb: score block by block, stream the effects table and its skipped rows to disk.

    Parameters are those of :func:`variant_effects`, plus ``out`` (``.tsv``, ``.csv`` or ``.h5``), ``force``,
    ``plots``, ``plot_top`` and the motifs the figures name sites by (``jaspar``: a JASPAR taxonomic group, None
    for the run's, 'none' for no motifs; ``jaspar_release``, ``jaspar_collection``, or ``motif_db``, a MEME file).
    With ``shard`` 'K/N' only shard 1 writes the header lines, so ``cat`` of the N
    shards' tables (and of their skipped tables) in order is byte for byte the table of an unsharded run.
    Memory is bounded by one block of windows (``variant_io.BLOCK_RECORDS`` input records), whatever the
    number of variants (allele pairs are read whole).

    Returns
    -------
    dict — ``out``, ``skipped_out`` (None when nothing was skipped), ``records_read``, ``scored``, ``skipped``
    (reason → count), ``rows`` (output rows: one per ALT), ``cropped`` and ``padded`` (scored rows whose
    windows lost bases or hold N padding, ``window_fit``), ``snv`` (rows through the SNV kernel), ``notes``,
    ``outputs``, ``plot_dir``, ``figures``, ``database`` (the figures' motifs, e.g. 'JASPAR2024 CORE fungi').
    """
    import shutil
    from collections import Counter

    out = str(out)
    check_output(out, force)
    skip_out = skipped_path(out)
    check_output(skip_out, force)
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    if shard is not None and out.endswith((".h5", ".hdf5")):
        raise SeqcnnError("--shard writes tables that concatenate: give a .tsv or .csv output",
                          hint="convert the concatenated table to HDF5 afterwards if needed")
    header = shard is None or shard[0] == 1
    plot_dir = f"{skip_out[:-len('.skipped.tsv')]}_plots" if plots and plot_top > 0 else None
    if plot_dir:
        check_output(plot_dir, force)
    if motif_db is None:
        from .motif_compare import check_jaspar

        check_jaspar(jaspar or "all", jaspar_release, jaspar_collection)   # a wrong name fails before any reading
    model, names, blocks = _scored_blocks(run_dir, shard=shard, **kw)
    targets, source, database = (_plot_targets(run_dir, jaspar, jaspar_release, jaspar_collection, motif_db)
                                 if plot_dir else (None, None, None))
    table, skipped = _TableOut(out, header), _TableOut(skip_out, header)
    top = _TopK(plot_top if plot_dir else 0)
    reasons, snv, tally = Counter(), 0, _Tally(kw)
    plot_tmp, written = None, []
    try:
        for b in blocks:
            table.write(b["frame"])
            if len(b["skipped"]) or not skipped.started:
                skipped.write(b["skipped"])
            tally.add(b)
            reasons.update(b["skipped"]["reason"].tolist() if len(b["skipped"]) else [])
            snv += int((b["frame"]["path"] == "snv").sum()) if len(b["frame"]) else 0
            top.add(b)
        notes = tally.finish()  # --ref-mismatch check: wrong coordinates stop the run before anything is published
        if table.rows == 0 and shard is None:  # a shard may hold only skipped rows: its empty table concatenates
            raise SeqcnnError("no variant could be scored", hint="skipped: " + ", ".join(
                f"{k} {v}" for k, v in reasons.items()))
        figures = []
        if plot_dir:
            plot_tmp = temp_dir(out, prefix=".variant_plots-")
            figures = [os.path.join(plot_dir, os.path.basename(p))
                       for p in _variant_plots(top, model, plot_tmp, targets, source)]
        table.publish(force)
        written.append(out)
        if skipped.rows or shard is not None:
            skipped.publish(force)
            written.append(skip_out)
        if plot_tmp:
            publish_dir(plot_tmp, plot_dir, force)
    except BaseException:
        table.abort()
        skipped.abort()
        for path in written:  # the output is the table, its skipped rows and its figures, or nothing
            os.remove(path)
        raise
    finally:
        skipped.abort()
        if plot_tmp and os.path.isdir(plot_tmp):
            shutil.rmtree(plot_tmp, ignore_errors=True)
    return {"out": out, "skipped_out": skip_out if skipped.rows or shard is not None else None,
            "records_read": tally.records, "rows": int(table.rows + skipped.rows), "scored": int(table.rows),
            "skipped": dict(reasons), "cropped": tally.cropped, "padded": tally.padded, "snv": snv, "notes": notes,
            "outputs": names,
            "plot_dir": plot_dir if figures else None, "figures": figures, "database": database}
