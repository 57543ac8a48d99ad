"""The ``seqcnn encode`` pipeline: FASTA files + labels → one dataset file, streamed and atomic.

Provides :func:`encode_fasta`: reads FASTA records (:mod:`seqcnn.readers`), matches them
to the label table (or makes one class per file), checks and one-hot encodes them
(:mod:`seqcnn.encoding`), assigns the split (:mod:`seqcnn.splits`), checks that ids are
unique, and writes the file through :class:`seqcnn.store.DatasetWriter`, reporting
records read = written + dropped (reason) and notes on suspicious labels. Imports no
TensorFlow.
"""

import os

import numpy as np

from .encoding import PAD_MODES, encode_block
from .errors import SeqcnnError
from .outputs import check_output, utc_now
from .readers import BINARY_VALUES, FastaReader, chrom_from_id, read_labels, sha256_file
from .splits import column_split, holdout_split, parse_fractions, split_counts, stratified_split
from .store import DatasetWriter, compression_filters


def encode_fasta(fasta, out, labels=None, *, id_column="id", label_columns=("label",), task=None,
                 class_per_file=False, length=None, pad_mode="center", allow_iupac=False,
                 split="0.8,0.1,0.1", split_column=None, holdout_chrom=None, seed=0, drop_unlabelled=False,
                 compression="gzip", compression_level=1, chunk_records=256, force=False, progress=False,
                 command=None):
    """Encode FASTA file(s) and labels into a seqcnn HDF5 dataset, streaming and atomically.

    Parameters
    ----------
    fasta : str or list of str
        FASTA files, optionally gzip-compressed.
    out : str
        Output ``.h5`` path; never overwritten unless ``force``.
    labels : str, optional
        CSV/TSV label table (see :func:`seqcnn.readers.read_labels`).
    class_per_file : bool
        Each FASTA file is one class instead of a label table: with two files the
        first is class 1 (binary), with more each file is a class (multiclass).
    length : int, optional
        Pad/trim every sequence to this length; required when lengths differ.
    pad_mode : {'center', 'left', 'right'}
    split : str or tuple
        Train, val, test fractions for a label-stratified random split.
    split_column : str, optional
        Take the split from this column of the label table instead.
    holdout_chrom : list of str, optional
        Chromosomes whose records form the test set (from ids like ``chr1:100-300`` or a ``chrom`` column).
    seed : int
        Seed of the random split.
    drop_unlabelled : bool
        Skip FASTA records without a label (counted in the report) instead of failing.

    Returns
    -------
    dict
        Report: records read, written and dropped (with reasons), split counts, path.
    """
    import pandas as pd
    from tqdm import tqdm


    fastas = [fasta] if isinstance(fasta, (str, os.PathLike)) else list(fasta)
    if not fastas:
        raise SeqcnnError("no FASTA file given")
    out = str(out)
    check_output(out, force)
    if pad_mode not in PAD_MODES:
        raise SeqcnnError(f"unknown --pad-mode {pad_mode!r}", hint=f"use one of {', '.join(PAD_MODES)}")
    if length is not None and int(length) <= 0:
        raise SeqcnnError(f"--length must be positive, got {length}")
    fractions = parse_fractions(split) if split_column is None else None
    if split_column is None and holdout_chrom:
        fractions = parse_fractions(split)
    if labels is not None and class_per_file:
        raise SeqcnnError("give either --labels or --class-per-file, not both")
    if labels is None and not class_per_file:
        tables = [f for f in map(str, fastas) if f.lower().removesuffix(".gz").endswith((".csv", ".tsv", ".txt"))]
        if tables:
            # 'seqcnn encode seqs.fa labels.csv' is the natural first try: say what to change.
            raise SeqcnnError(f"no labels: {tables[0]} looks like a label table but was given as a FASTA file",
                              path=tables[0], hint=f"pass it with --labels {tables[0]}")
        raise SeqcnnError("no labels: give --labels TABLE, or --class-per-file with one FASTA per class")
    if class_per_file and len(fastas) < 2:
        raise SeqcnnError("--class-per-file needs at least two FASTA files (one per class)")
    compression_filters(compression, compression_level)

    table = None
    if labels is not None:
        if split_column and holdout_chrom:
            raise SeqcnnError("give either --split-column or --holdout-chrom, not both")
        table = read_labels(labels, id_column=id_column, label_columns=label_columns, task=task,
                            split_column=split_column)
        task_, class_names, label_names = table.task, table.class_names, table.label_names
    else:
        if split_column:
            raise SeqcnnError("--split-column needs a label table (--labels)")
        if len(fastas) == 2:
            task_, class_names = "binary", ["0", "1"]
            label_names = [f"{_file_label(fastas[0])} vs {_file_label(fastas[1])}"]
        else:
            task_ = "multiclass"
            class_names = [_file_label(f) for f in fastas]
            label_names = ["class"]

    # Per record only a few bytes stay in memory (label, id hash, split/chrom code); x, ids and
    # lengths stream to the file, so peak memory does not grow with the number of records.
    y_blocks, hash_blocks, split_blocks, chrom_blocks = [], [], [], []
    chrom_codes = {}
    dropped = {"unlabelled": 0}
    n_read = n_written = padded = trimmed = 0
    sources = []
    writer = None
    L = None if length is None else int(length)
    bar = tqdm(desc="encoding", unit=" rec", disable=not progress, mininterval=0.5, delay=1.0, leave=False)
    try:
        for file_index, path in enumerate(fastas):
            reader = FastaReader(path)
            for ids, seqs in reader:
                n_read += len(ids)
                if table is not None:
                    rows = table.ids.get_indexer(ids)
                    missing = rows < 0
                    if missing.any():
                        if not drop_unlabelled:
                            k = int(np.argmax(missing))
                            raise SeqcnnError(
                                f"no label in {table.path} ({int(missing.sum())} record(s) of this block lack one)",
                                path=path, record=ids[k], hint=_missing_id_hint(ids[k], table.ids))
                        dropped["unlabelled"] += int(missing.sum())
                        keep = np.flatnonzero(~missing)
                        ids = [ids[i] for i in keep]
                        seqs = [seqs[i] for i in keep]
                        rows = rows[keep]
                        if not ids:
                            continue
                    y_blocks.append(table.y[rows])
                    if split_column:
                        split_blocks.append(column_split(table.split[rows], ids=ids, path=table.path))
                else:
                    cls = (1 - file_index) if task_ == "binary" else file_index
                    y_blocks.append(np.full(len(ids), cls, dtype=np.uint8 if task_ == "binary" else np.int32))
                if holdout_chrom:
                    names = (table.chrom[rows] if table is not None and table.chrom is not None
                             else [chrom_from_id(i) for i in ids])
                    codes = np.empty(len(ids), dtype=np.int32)
                    for k, c in enumerate(names):
                        if c is None:
                            raise SeqcnnError("no chromosome for --holdout-chrom", path=path, record=ids[k],
                                              hint="use ids like chr1:100-300 or a 'chrom' column in the labels")
                        codes[k] = chrom_codes.setdefault(str(c), len(chrom_codes))
                    chrom_blocks.append(codes)
                lens = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
                if lens.min() == 0:
                    raise SeqcnnError("empty sequence", path=path, record=ids[int(np.argmin(lens))],
                                      hint="remove the record or give it bases")
                if L is None:
                    L = int(lens[0])
                if length is None and (lens != L).any():
                    k = int(np.argmax(lens != L))
                    raise SeqcnnError(f"length {lens[k]} differs from the first record's length {L}",
                                      path=path, record=ids[k],
                                      hint="pass --length N (and --pad-mode) to pad or trim to one length")
                x, lens = encode_block(seqs, length=L, pad_mode=pad_mode, allow_iupac=allow_iupac, ids=ids,
                                       path=path)
                if writer is None:
                    writer = DatasetWriter(out, L, force=force, compression=compression,
                                           compression_level=compression_level, chunk_records=chunk_records)
                writer.append(x, ids, lens)
                hash_blocks.append(pd.util.hash_array(np.asarray(ids, dtype=object)))
                n_written += len(ids)
                padded += int((lens < L).sum())
                trimmed += int((lens > L).sum())
                bar.update(len(ids))
            sources.append({"path": os.path.abspath(str(path)), "sha256": reader.sha256})
        if table is not None:
            sources.append({"path": os.path.abspath(table.path), "sha256": sha256_file(table.path)})
        if writer is None or n_written == 0:
            raise SeqcnnError("no records left to write" + (f" ({dropped['unlabelled']} unlabelled dropped)"
                                                           if dropped["unlabelled"] else ""),
                              path=fastas[0], hint="check that FASTA ids match the label table")
        check_unique_ids(hash_blocks, writer, fastas)  # empties hash_blocks
        y = np.concatenate(y_blocks)
        if split_column:
            split_arr = np.concatenate(split_blocks)
            method = f"column:{split_column}"
        elif holdout_chrom:
            names = np.array(sorted(chrom_codes, key=chrom_codes.get), dtype=object)
            split_arr = holdout_split(names[np.concatenate(chrom_blocks)], list(holdout_chrom), y, fractions, seed)
            method = f"holdout-chrom:{','.join(holdout_chrom)}"
        else:
            split_arr = stratified_split(y, fractions, seed)
            method = "stratified-random"
        counts = split_counts(split_arr)
        attrs = {
            "task": task_, "class_names": class_names, "label_names": label_names, "pad_mode": pad_mode,
            "length_given": int(length) if length is not None else 0, "allow_iupac": bool(allow_iupac),
            "sources": sources, "split_method": method, "split_fractions": list(fractions) if fractions else None,
            "split_seed": int(seed), "split_counts": {k: v["n"] for k, v in counts.items()},
            "dropped": dropped, "created": utc_now(), "command": command or "",
        }
        writer.finish(y, split_arr, attrs)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        bar.close()
    return {
        "path": out, "records_read": n_read, "records_written": n_written, "dropped": dropped,
        "labels_without_sequence": (len(table.ids) - n_written) if table is not None else 0,
        "length": L, "task": task_, "class_names": class_names, "splits": {k: v["n"] for k, v in counts.items()},
        "trimmed": trimmed, "padded": padded,
        "notes": _stray_label_notes(table, labels) if table is not None and task is None else [],
    }


def _stray_label_notes(table, path):
    """Advice when an inferred multiclass column is 0/1 but for a few records (likely typos, not classes).

    One mistyped '2' among 0/1 labels makes task inference read a three-class problem; that is the documented
    rule, so the file is encoded as read, but the user is told which records and how to refuse them.
    """
    if table.task != "multiclass":
        return []
    names = np.asarray(table.class_names)
    counts = np.bincount(table.y, minlength=len(names))
    binary = np.isin(np.char.lower(names.astype(str)), list(BINARY_VALUES))
    stray = ~binary
    if binary.sum() != 2 or counts[stray].sum() > max(5, 0.01 * len(table.y)):
        return []
    spelled = "/".join(names[binary])  # 0/1, or False/True as the table writes them
    first = table.ids[np.flatnonzero(stray[table.y])[0]]
    values = ", ".join(f"{str(v)!r} ({int(c)} record{'s' if c != 1 else ''})"
                       for v, c in zip(names[stray], counts[stray]))
    return [f"{os.fspath(path)}: column {table.label_names[0]!r} is {spelled} except {values} (first: id {first!r}), "
            f"so the task was inferred as multiclass with {len(names)} classes; if those are typos, fix them, or "
            "pass --task binary to have them refused"]


def check_unique_ids(hash_blocks, writer, fastas, what="FASTA input",
                     hint="ids (first word of headers) must be unique"):
    """Raise naming the first duplicated id; 64-bit hashes find candidates, the stored ids confirm them.

    ``hash_blocks`` (uint64 id hashes, a list of blocks in record order) is emptied as it is gathered.
    "First" is the duplicated id of smallest hash. Peak memory is about 17 bytes per record: the
    gathered hashes, one sorted copy and a boolean per record.
    """
    hashes = np.empty(sum(map(len, hash_blocks)), np.uint64)
    # Each block is dropped as soon as it is copied, so the blocks and their concatenation never
    # both exist in full (popping from the end of the reversed list keeps the record order).
    hash_blocks.reverse()
    start = 0
    while hash_blocks:
        block = hash_blocks.pop()
        hashes[start:start + len(block)] = block
        start += len(block)
    block = None
    # Repeated values come from an in-place sort of one copy (no argsort, no gathered copies); the
    # unsorted hashes are kept, since only they tell which records carry a repeated value.
    ordered = hashes.copy()
    ordered.sort()
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    for value in repeated:
        rows = np.flatnonzero(hashes == value)
        seen = set()
        # Equal hashes of different ids (a collision) are not duplicates: the stored ids decide.
        for rid in writer.read_ids(rows):
            if rid in seen:
                raise SeqcnnError(f"duplicate record id in the {what}", path=", ".join(map(str, fastas)),
                                  record=rid, hint=hint)
            seen.add(rid)


def _missing_id_hint(missing_id, label_ids):
    """Point at a label id equal to ``missing_id`` up to case/whitespace, if any."""
    key = missing_id.strip().lower()
    for lid in label_ids:
        if str(lid).strip().lower() == key:
            return f"the label table has {lid!r}, which differs only in case or whitespace; ids must match exactly"
    return "add it to the label table, or pass --drop-unlabelled to skip unlabelled records"


def _file_label(path):
    name = os.path.basename(str(path))
    for ext in (".gz", ".fa", ".fasta", ".fna", ".fas", ".txt"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    return name
