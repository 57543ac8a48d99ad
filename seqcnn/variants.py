"""The ``seqcnn variants`` verb: how SNVs and indels change a trained model's predictions.

Provides :func:`score_pairs` (logits of reference and alternative one-hot windows, averaged over both strands
by default: single-base substitutions through the exact single-substitution kernel of
:mod:`seqcnn.exact_ism`, everything else by batched forward passes), :func:`variant_effects` (variants from a
VCF/BCF, a table or allele-pair FASTA files → a DataFrame of effects) and :func:`run_variants` (the verb: the
effects table as TSV, CSV or HDF5, the skipped rows beside it with their reasons, and the summary counts).

Scores per model output: ``ref_logit``, ``alt_logit``, ``delta_logit`` (alt − ref: a log odds ratio),
``ref_prob``, ``alt_prob``, ``delta_prob``. Windows are cut by the rule of :mod:`seqcnn.variant_io`.
"""

import os

import numpy as np

from .errors import SeqcnnError
from .outputs import check_output, parse_shard, publish, publish_dir, shard_range

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


def score_pairs(model, x_ref, x_alt, strands="both", batch_size=512, snv="forward"):
    """Logits of reference and alternative windows.

    Parameters
    ----------
    model : keras.Model — logit outputs shape=(batch, T).
    x_ref, x_alt : np.ndarray, uint8, shape=(m, L, 4) — one-hot windows.
    strands : {'both', 'forward'} — ``both`` averages each window's logits with its reverse complement's.
    snv : {'forward', 'kernel'} — how single-base substitutions are scored: two forward passes (the default:
        measured faster on CPU, ``benchmarks/bench_variants.py``) or ``exact_ism.single_substitutions`` (the
        first convolution once; exact, tested, and for global-pool models the path to make faster).

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
                target[other] += fwd.fixed(x[other], batch_size)
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


def _spans_pairs(x_ref, x_alt):
    diff = (x_ref != x_alt).any(-1)
    return [(int(np.argmax(d)), int(d.sum())) if d.any() else (len(d) // 2, 0) for d in diff]


def _pairs_block(ref_fasta, alt_fasta, cfg, shard=None):
    """Allele pairs (held in memory: two FASTA files matched by id) as one block."""
    import pandas as pd

    from .encoding import encode_block
    from .variant_io import read_allele_pairs

    d, L = cfg["data"], cfg["model"]["input_length"]
    ids, seq_r, seq_a = read_allele_pairs(ref_fasta, alt_fasta)
    lo, hi = shard_range(len(ids), shard)
    ids, seq_r, seq_a = ids[lo:hi], seq_r[lo:hi], seq_a[lo:hi]
    kw = dict(length=L, pad_mode=d.get("pad_mode", "center"), allow_iupac=d.get("allow_iupac", False))
    x_ref, len_r = encode_block(seq_r, ids=ids, path=ref_fasta, **kw)
    x_alt, len_a = encode_block(seq_a, ids=ids, path=alt_fasta, **kw)
    diff = [sum(a != b for a, b in zip(r.upper(), s.upper())) if len(r) == len(s) else None
            for r, s in zip(seq_r, seq_a)]
    kind = ["snv" if k == 1 else "identical" if k == 0 else "substitutions" if k is not None else "indel"
            for k in diff]
    frame = pd.DataFrame({"id": ids, "ref_length": len_r, "alt_length": len_a, "kind": kind})
    return {"frame": frame, "x_ref": x_ref, "x_alt": x_alt, "records": len(ids),
            "skipped": pd.DataFrame(columns=["id", "reason"]), "checked": 0, "mismatched": 0,
            "same": np.array([k in ("snv", "substitutions") for k in kind], bool), "keys": np.arange(lo, hi),
            "spans": _spans_pairs(x_ref, x_alt)}


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
    sk = np.flatnonzero(np.not_equal(w["skip"], None))
    skipped = pd.DataFrame({"chrom": variants.chrom[sk], "pos": variants.pos[sk],
                            "id": [i if i is not None else "." for i in variants.id[sk]], "ref": variants.ref[sk],
                            "alt": [a if a is not None else "." for a in variants.alt[sk]],
                            "line": variants.line[sk], "reason": w["skip"][sk]})
    checked = np.isin(np.arange(len(variants)), rows) | (w["skip"] == "REF does not match the genome")
    # A stable key per output row whatever the shard or block: its input record and its place among the ALTs.
    allele = np.zeros(len(variants), np.int64)
    for k in range(1, len(variants)):
        if variants.record[k] == variants.record[k - 1]:
            allele[k] = allele[k - 1] + 1
    o = L // 2 if offset is None else int(offset)
    return {"frame": frame, "x_ref": x_ref, "x_alt": x_alt, "records": variants.records_read, "skipped": skipped,
            "checked": int(checked.sum()), "mismatched": int((checked & ~w["ref_match"]).sum()),
            "same": np.array([len(variants.ref[k]) == len(variants.alt[k]) for k in rows], bool),
            "keys": variants.record[rows] * 1024 + allele[rows],
            "spans": [(o, max(len(variants.ref[k]), len(variants.alt[k]))) for k in rows]}


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
    ref, alt, path = score_pairs(model, block["x_ref"], block["x_alt"], strands=strands, batch_size=batch_size,
                                 snv=snv)
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


def _scored_blocks(run_dir, *, vcf=None, table=None, genome=None, ref_fasta=None, alt_fasta=None, offset=None,
                   ref_mismatch="skip", strands="both", batch_size=512, snv="forward", shard=None, null=0, seed=0,
                   block_records=None):
    """(model, output names, generator of scored blocks): the streaming core of :func:`run_variants`.

    Parameters
    ----------
    run_dir : str — a finished ``seqcnn train`` run.
    offset : int, optional — window index of the variant's first base (default: the centre, ``L // 2``).
    ref_mismatch : {'skip', 'error', 'use-vcf'} — what a REF that differs from the genome does.
    strands : {'both', 'forward'}
    snv : {'forward', 'kernel'} — see :func:`score_pairs`.
    shard : str or (int, int), optional — ``'K/N'``: only the K-th of N contiguous parts of the input records.
    null : int — with N > 0, each substitution is also scored on N dinucleotide-shuffled copies of its window
        (seeded by ``seed`` and its place in the input), giving ``delta_logit_z`` (z-score against them) and
        ``delta_logit_p`` (empirical two-sided p-value, (1 + #|null| >= |delta|) / (N + 1)); NaN for indels.
    block_records : int, optional — input records per block (default ``variant_io.BLOCK_RECORDS``).
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
    if isinstance(shard, str):
        shard = parse_shard(shard)
    model, cfg = load_run(run_dir)
    names = [c[len("prob_"):] for c in output_columns(cfg)]
    if ref_fasta is not None:
        blocks = iter([_pairs_block(ref_fasta, alt_fasta, cfg, shard)])
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


def variant_effects(run_dir, **kw):
    """Score variants with a trained run: a DataFrame of effects, one row per scored variant, in input order.

    Give ``vcf`` or ``table`` with ``genome``, or ``ref_fasta`` with ``alt_fasta``; the other keywords are
    those of ``seqcnn variants`` (see :func:`_scored_blocks`). The whole table is held in memory; the verb
    (:func:`run_variants`) streams it to disk instead.

    Returns
    -------
    pandas.DataFrame — columns ``chrom, pos, id, ref, alt, ref_match`` (genome input) or ``id, ref_length,
    alt_length, kind`` (allele pairs), then the scores (``SCORES``; per output, suffixed ``_<name>``, when the
    model has several), then ``path`` (``snv`` or ``forward``). ``.attrs`` holds ``skipped`` (a DataFrame with
    the reason per row), ``records_read``, ``notes`` and ``outputs``.
    """
    import pandas as pd

    _, names, blocks = _scored_blocks(run_dir, **kw)
    frames, skipped, n, checked, mismatched = [], [], 0, 0, 0
    for b in blocks:
        frames.append(b["frame"])
        skipped.append(b["skipped"])
        n, checked, mismatched = n + b["records"], checked + b["checked"], mismatched + b["mismatched"]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame.attrs.update({"skipped": pd.concat(skipped, ignore_index=True) if skipped else pd.DataFrame(),
                        "records_read": n, "notes": _mismatch_note(checked, mismatched), "outputs": names})
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


def _variant_plots(top, model, plot_dir, jaspar=True):
    """Figures of the kept variants (:class:`_TopK`) into ``plot_dir``: list of paths."""
    from . import plots as plotting
    from .exact_ism import ism
    from .motif_compare import best_hit, load_targets
    from .mutagenesis import attribution, importance

    if not top.rows:
        return []
    x_ref = np.stack([r[4] for r in top.rows])
    x_alt = np.stack([r[5] for r in top.rows])
    x = np.concatenate([x_ref, x_alt])
    delta, _ = ism(model, x, output=0)
    attr = attribution(importance(delta, x), x)
    targets = load_targets() if jaspar else []
    paths, n = [], len(top.rows)
    for rank, (_, _, row, d, xr, xa, (start, width)) in enumerate(top.rows):
        hit = best_hit(xr, xa, start, targets) if targets else None
        label = f"{row['chrom']}:{row['pos']} {row['ref']}>{row['alt']}" if "chrom" in row.index else str(row["id"])
        motif = (f"; JASPAR {hit['id']} {hit['name']} site p {hit['ref_p']:.1g} → {hit['alt_p']:.1g}" if hit
                 else "; no JASPAR site (p ≤ 1e-4) changed")
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)[:80]
        paths.append(plotting.variant_figure(attr[rank], attr[n + rank], start, width,
                                             os.path.join(plot_dir, f"{rank + 1:02d}_{name}.png"),
                                             title=f"{label}  Δ logit {d:+.3f}{motif}"))
    return paths


def run_variants(run_dir, out, *, force=False, shard=None, plots=True, plot_top=10, **kw):
    """The ``seqcnn variants`` verb: score block by block, stream the effects table and its skipped rows to disk.

    Parameters are those of :func:`variant_effects`, plus ``out`` (``.tsv``, ``.csv`` or ``.h5``), ``force``,
    ``plots`` and ``plot_top``. With ``shard`` 'K/N' only shard 1 writes the header lines, so ``cat`` of the N
    shards' tables (and of their skipped tables) in order is byte for byte the table of an unsharded run.
    Memory is bounded by one block of windows (``variant_io.BLOCK_RECORDS`` input records), whatever the
    number of variants (allele pairs are read whole).

    Returns
    -------
    dict — ``out``, ``skipped_out`` (None when nothing was skipped), ``records_read``, ``scored``, ``skipped``
    (reason → count), ``rows`` (output rows: one per ALT), ``snv`` (rows through the SNV kernel), ``notes``,
    ``outputs``, ``plot_dir``, ``figures``.
    """
    import shutil
    import tempfile
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
    model, names, blocks = _scored_blocks(run_dir, shard=shard, **kw)
    table, skipped = _TableOut(out, header), _TableOut(skip_out, header)
    top = _TopK(plot_top if plot_dir else 0)
    n_read, reasons, snv, checked, mismatched = 0, Counter(), 0, 0, 0
    plot_tmp, written = None, []
    try:
        for b in blocks:
            table.write(b["frame"])
            if len(b["skipped"]) or not skipped.started:
                skipped.write(b["skipped"])
            n_read += b["records"]
            reasons.update(b["skipped"]["reason"].tolist() if len(b["skipped"]) else [])
            snv += int((b["frame"]["path"] == "snv").sum()) if len(b["frame"]) else 0
            checked, mismatched = checked + b["checked"], mismatched + b["mismatched"]
            top.add(b)
        if table.rows == 0 and shard is None:  # a shard may hold only skipped rows: its empty table concatenates
            raise SeqcnnError("no variant could be scored", hint="skipped: " + ", ".join(
                f"{k} {v}" for k, v in reasons.items()))
        figures = []
        if plot_dir:
            plot_tmp = tempfile.mkdtemp(prefix=".variant_plots-", dir=os.path.dirname(os.path.abspath(out)))
            figures = [os.path.join(plot_dir, os.path.basename(p)) for p in _variant_plots(top, model, plot_tmp)]
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
            "records_read": n_read, "rows": int(table.rows + skipped.rows), "scored": int(table.rows),
            "skipped": dict(reasons), "snv": snv, "notes": _mismatch_note(checked, mismatched), "outputs": names,
            "plot_dir": plot_dir if figures else None, "figures": figures}
