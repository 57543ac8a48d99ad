"""The ``seqcnn mutagenesis`` verb: a trained run + sequences → an ISM HDF5 file and figures; ISM summaries.

The deltas come from exact ISM (:mod:`seqcnn.exact_ism`); this module chooses the
sequences (:func:`select`: ids, a split, the top-scoring, positives only), streams the
deltas with their summaries to the ISM file (:func:`run_mutagenesis`; it owns that format,
read back with :func:`read_ism`) and draws the figures through :mod:`seqcnn.plots`.

Summaries: per-position ``importance[n, i] = -mean_b delta[n, i, b]`` over the
alternative bases (three for an A/C/G/T position, four for an ``N`` row), the
reference attribution ``attribution[n, i, b] = x[n, i, b] * importance[n, i]`` (the
letter heights of an importance logo), and the hypothetical contributions
``hypothetical[n, i, b] = delta[n, i, b] - mean_c delta[n, i, c]`` (the four bases'
deltas, the reference's being 0, centred per position: the convention of tangermeme's
``saturation_mutagenesis(hypothetical=True)``, the input TF-MoDISco expects).
"""

import json
import os
import shutil

import numpy as np

from ._version import __version__
from .errors import InputFormatError, ModelMismatchError, OutputExistsError, SeqcnnError
from .exact_ism import iter_ism, kernels, output_index
from .outputs import check_output, publish, publish_dir, temp_dir, temp_file, utc_now
from .rundir import check_fits, load_run


DEFINITION = ("delta[n, i, b] = f(x_n with position i set to base b) - f(x_n), f = the model's logit for the "
              "output; 0 at the reference base. importance[n, i] = -mean of delta over the alternative bases; "
              "attribution[n, i, b] = x[n, i, b] * importance[n, i]; hypothetical[n, i, b] = delta[n, i, b] - "
              "mean over the four bases c of delta[n, i, c]")


ISM_FORMAT = "seqcnn-ism"


def importance(delta, x):
    """Per-position importance: minus the mean delta over the alternative bases.

    Parameters
    ----------
    delta : np.ndarray, shape=(N, L, 4) or (N, L, 4, T)
    x : np.ndarray, shape=(N, L, 4) — the one-hot sequences (alternatives are bases where x == 0).

    Returns
    -------
    np.ndarray, float32, shape=(N, L) or (N, L, T).
    """
    x = np.asarray(x, np.float32)
    alt = 1.0 - x
    n_alt = alt.sum(-1)
    if delta.ndim == 4:
        alt, n_alt = alt[..., None], n_alt[..., None]
    return (-(delta * alt).sum(2) / np.maximum(n_alt, 1)).astype(np.float32)


def hypothetical(delta):
    """Hypothetical contributions from ISM: each position's four deltas (reference = 0) minus their mean.

    Parameters
    ----------
    delta : np.ndarray, shape=(N, L, 4) or (N, L, 4, T) — ISM deltas, 0 at the reference base.

    Returns
    -------
    np.ndarray, float32, same shape — sums to 0 over the bases at every position; ``x * hypothetical`` is the
    actual contribution of each reference base (tangermeme's ``saturation_mutagenesis(hypothetical=True)``).
    """
    delta = np.asarray(delta, np.float32)
    return (delta - delta.mean(axis=2, keepdims=True)).astype(np.float32)


def attribution(imp, x):
    """Reference attribution ``x * importance``: shape=(N, L, 4) (or (N, L, 4, T)), the heights of an importance logo."""
    x = np.asarray(x, np.float32)
    if imp.ndim == 3:
        return (x[..., None] * imp[:, :, None, :]).astype(np.float32)
    return (x * imp[..., None]).astype(np.float32)


def output_names(cfg):
    """Names of a run's outputs: the positive class (binary), classes (multiclass) or labels (multilabel)."""
    d, task = cfg.get("data", {}), cfg.get("model", {}).get("task", "binary")
    if task == "binary":
        names = d.get("class_names") or ["0", "1"]
        return [str(names[-1])]
    return [str(v) for v in (d.get("class_names") if task == "multiclass" else d.get("label_names")) or []]


def _read_ids_file(path):
    if not os.path.exists(path):
        raise InputFormatError("ids file not found", path=path)
    with open(path) as fh:
        ids = [line.split()[0] for line in fh if line.strip() and not line.startswith("#")]
    if not ids:
        raise SeqcnnError("no ids in the file", path=path, hint="one id per line")
    return ids


class _Source:
    """Sequences to mutate: an encoded HDF5 dataset, a FASTA file (encoded with the run's length policy), or, with
    ``genome``, the regions of a BED file cut from that genome as ``seqcnn encode --bed --genome`` cuts them."""

    def __init__(self, path, cfg, run_dir, genome=None, center="summit"):
        import h5py

        self.path = str(path)
        if not os.path.exists(self.path):
            raise InputFormatError("file not found", path=self.path, hint="give an encoded .h5 or a FASTA file")
        L = int(cfg["model"]["input_length"])
        d = cfg.get("data", {})
        self.ds = None
        self._coords = None
        self.dropped = {}
        if genome is not None:
            self._from_genome(L, genome, center)
        elif h5py.is_hdf5(self.path):
            from .store import open_dataset

            self.ds = open_dataset(self.path)
            try:
                check_fits(cfg, self.ds, run_dir)
            except SeqcnnError:
                self.ds.close()
                raise
            self.ids = None  # read when needed: every id for --ids lookups, the selected rows' for the output
            self.y = self.ds.y
            self.n = self.ds.n
        else:
            from .encoding import encode_block
            from .readers import read_fasta

            ids, seqs = read_fasta(self.path)
            if not ids:
                raise SeqcnnError("no sequences in the FASTA file", path=self.path)
            # Bases first (as predict): an empty record or a stray character is the problem, not its length.
            self._x, lens = encode_block(seqs, length=L, pad_mode=d.get("pad_mode", "center"),
                                         allow_iupac=d.get("allow_iupac", False), ids=ids, path=self.path)
            if not d.get("length_given") and (lens != L).any():
                k = int(np.argmax(lens != L))
                raise ModelMismatchError(
                    f"sequence of {lens[k]} bp, but the model takes {L} bp and its training data were encoded "
                    f"without --length (no padding/trimming policy)", path=self.path, record=ids[k],
                    hint=f"give {L} bp sequences")
            if len(set(ids)) < len(ids):
                seen = set()
                dup = next(i for i in ids if i in seen or seen.add(i))
                raise SeqcnnError("duplicate record id", path=self.path, record=dup,
                                  hint="ids (first word of headers) must be unique")
            self.ids = np.asarray(ids, dtype=object)
            self.y = None
            self.n = len(ids)

    def _from_genome(self, L, genome, center):
        from .genome_encode import cut_regions

        regions = cut_regions(self.path, genome, L, center)
        ids = regions["ids"]
        if len(set(ids)) < len(ids):
            seen = set()
            dup = next(i for i in ids if i in seen or seen.add(i))
            raise SeqcnnError("duplicate record id", path=self.path, record=dup,
                              hint="ids are the BED name column, else chrom:start-end(strand); names must be unique")
        self._x, self._coords = regions["x"], regions["coords"]
        self.ids = np.asarray(ids, dtype=object)
        self.y = None
        self.n = len(ids)
        self.records_read = regions["records_read"]
        self.dropped = regions["dropped"]
        self.genome = {"path": os.path.abspath(genome), "center": center}

    def coords(self, rows):
        """Genomic coordinates of ``rows`` (``chrom``, ``start``, ``end``, ``strand`` arrays), or None."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._coords is not None:
            return {k: v[rows] for k, v in self._coords.items()}
        if self.ds is not None and self.ds.has_coords:
            c = self.ds.coords(rows)
            return {k: c[k] for k in ("chrom", "start", "end", "strand")}
        return None

    def all_ids(self):
        """Every record id, np.ndarray of str (object), shape=(n,)."""
        return self.ds.ids if self.ds is not None else self.ids

    def read_ids(self, rows):
        """Ids of ``rows``, np.ndarray of str (object), shape=(len(rows),); an HDF5 input reads only their chunks."""
        return self.ds.read_ids(rows) if self.ds is not None else self.ids[np.asarray(rows, dtype=np.int64)]

    def write_rows(self, h5, rows):
        """Write what identifies ``rows`` into an output HDF5: ``ids``, ``index``, ``label`` and genome coordinates
        where known (the ISM and attribution files share these)."""
        import h5py

        rows = np.asarray(rows, np.int64)
        h5.create_dataset("ids", data=np.asarray(self.read_ids(rows), dtype=object), dtype=h5py.string_dtype("utf-8"))
        h5.create_dataset("index", data=rows)
        coords = self.coords(rows)
        if coords is not None:
            # The genomic position of every row: row i, column j is base coords["start"][i] + j of the
            # forward strand, or coords["end"][i] - 1 - j when coords["strand"][i] is '-'.
            for name in ("chrom", "strand"):
                h5.create_dataset(name, data=coords[name].astype(object), dtype=h5py.string_dtype("utf-8"))
            for name in ("start", "end"):
                h5.create_dataset(name, data=np.asarray(coords[name], np.int64))
        if self.y is not None:
            h5.create_dataset("label", data=self.y[rows])

    def read_x(self, idx):
        return self.ds.read_x(idx) if self.ds is not None else self._x[np.asarray(idx, dtype=np.int64)]

    def close(self):
        if self.ds is not None:
            self.ds.close()


def select(source, kern, ids=None, split=None, top=None, by="score", output=None, task="binary"):
    """Rows of ``source`` to mutate, in output order.

    ``ids`` keeps those records (in the order given); ``split`` keeps a split of an HDF5 input;
    ``top`` keeps the K highest-scoring of what remains (model logit of ``output``), and with
    ``by='label'`` only the positives (label 1, the class ``output``, or label ``output`` set).
    """
    rows = np.arange(source.n)
    if split is not None:
        if source.ds is None:
            raise SeqcnnError("--split needs an encoded HDF5 input (a FASTA file has no splits)", path=source.path)
        rows = source.ds.indices(split)
        if len(rows) == 0:
            raise SeqcnnError(f"split {split!r} is empty", path=source.path, hint="pick another split")
    if ids is not None:
        pos = {rid: i for i, rid in enumerate(source.all_ids())}
        missing = [i for i in ids if i not in pos]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            hint = "ids are the first word of each FASTA header; see 'seqcnn info'"
            near = [rid for rid in pos if rid.lower() == missing[0].strip().lower()]
            if near:  # as encode does: the usual cause is a case (or stray space) difference
                hint = f"the input has {near[0]!r}, which differs only in case or whitespace; ids must match exactly"
            raise SeqcnnError(f"unknown id {missing[0]!r}{more}", path=source.path, hint=hint)
        wanted = np.array([pos[i] for i in dict.fromkeys(ids)], dtype=np.int64)
        if split is not None:
            wanted = wanted[np.isin(wanted, rows)]
            if len(wanted) == 0:
                raise SeqcnnError(f"none of the given ids is in split {split!r}", path=source.path)
        rows = wanted
    if top is not None:
        if top < 1:
            raise SeqcnnError(f"--top must be at least 1, got {top}")
        if by not in ("score", "label"):
            raise SeqcnnError(f"unknown --by {by!r}", hint="use score or label")
        if kern.T > 1 and output is None:
            raise SeqcnnError("--top on a model with several outputs needs --output (which logit to rank by)")
        k = 0 if output is None else output
        if by == "label":
            if source.y is None:
                raise SeqcnnError("--by label needs labels: give an encoded HDF5 input", path=source.path)
            y = source.y[rows]
            positive = (y == 1) if task == "binary" else (y == k) if task == "multiclass" else (y[:, k] == 1)
            rows = rows[np.asarray(positive).reshape(-1)]
            if len(rows) == 0:
                raise SeqcnnError("no positives among the selected records", path=source.path)
        scores = np.concatenate([kern.forward(np.asarray(source.read_x(rows[i:i + 1024]), np.float32)).numpy()[:, k]
                                 for i in range(0, len(rows), 1024)])
        order = np.argsort(-scores, kind="stable")[:top]
        rows = rows[order]
    return rows


def run_mutagenesis(run_dir, input, out, *, ids=None, ids_file=None, split=None, top=None, by="score",
                    output=None, batch_size=None, method="auto", plots=True, plot_max=10, force=False,
                    progress=False, command=None, genome=None, center="summit"):
    """In-silico mutagenesis of selected sequences with a trained run, streamed to an HDF5 file.

    Parameters
    ----------
    run_dir : str — a run directory written by ``seqcnn train``.
    input : str — encoded HDF5 dataset, FASTA (encoded with the run's length policy), or with ``genome`` a BED file.
    genome : str, optional — reference FASTA: ``input`` is then a BED of regions, cut as ``seqcnn encode`` cuts them
        (model length, ``center`` on the summit or midpoint, ``-`` strand reverse-complemented).
    out : str — output HDF5 (written to a temporary file, renamed when complete).
    ids, ids_file, split, top, by : selection, see :func:`select` (default: every record).
    output : int or str, optional — one output (index or class/label name); default all
        outputs (a single-output model gives ``[N, L, 4]`` either way).
    plots : bool — figures for the first ``plot_max`` sequences in ``<out stem>_plots/``.

    Returns
    -------
    dict — ``out``, ``n`` (records written), ``records_read`` (records in the input), ``length``, ``outputs``
    (names), ``method``, ``seconds``, ``seq_per_s``, ``plots``.
    """
    import time

    import h5py

    out = str(out)
    check_output(out, force)
    plot_dir = os.path.splitext(out)[0] + "_plots"
    if plots and os.path.exists(plot_dir) and not force:
        raise OutputExistsError("already exists", path=plot_dir, hint="pass --force to overwrite it, or --no-plots")
    if ids is not None and ids_file is not None:
        raise SeqcnnError("give --ids or --ids-file, not both")
    if ids_file is not None:
        ids = _read_ids_file(ids_file)
    if isinstance(ids, str):
        ids = [i.strip() for i in ids.split(",") if i.strip()]
    if plot_max < 0:
        raise SeqcnnError(f"--plot-max must be >= 0, got {plot_max}")
    model, cfg = load_run(run_dir)
    kern = kernels(model, method)
    names = output_names(cfg)
    k = output_index(output, kern.T, names)
    task = cfg["model"]["task"]
    source = _Source(input, cfg, run_dir, genome=genome, center=center)
    try:
        rows = select(source, kern, ids=ids, split=split, top=top, by=by, output=k, task=task)
        if len(rows) == 0:
            raise SeqcnnError("no sequences selected", path=input)
        N, L = len(rows), kern.L
        T_out = 1 if (k is not None or kern.T == 1) else kern.T
        tail = () if T_out == 1 else (T_out,)
        tmp = temp_file(out)
        plot_tmp = None
        t0 = time.time()
        try:
            with h5py.File(tmp, "w") as h5:
                ch = min(N, 64)
                dsets = {
                    "delta": h5.create_dataset("delta", (N, L, 4) + tail, np.float32, chunks=(ch, L, 4) + tail),
                    "attribution": h5.create_dataset("attribution", (N, L, 4) + tail, np.float32,
                                                     chunks=(ch, L, 4) + tail),
                    "importance": h5.create_dataset("importance", (N, L) + tail, np.float32, chunks=(ch, L) + tail),
                    "hypothetical": h5.create_dataset("hypothetical", (N, L, 4) + tail, np.float32,
                                                      chunks=(ch, L, 4) + tail),
                    "reference_score": h5.create_dataset("reference_score", (N,) + tail, np.float32),
                    "x": h5.create_dataset("x", (N, L, 4), np.uint8, chunks=(ch, L, 4), compression="gzip",
                                           compression_opts=1),
                }
                source.write_rows(h5, rows)
                from tqdm import tqdm

                bar = tqdm(total=N, desc="mutagenesis", unit="seq", disable=not progress)
                block = 4096
                done = 0
                for start in range(0, N, block):
                    x = source.read_x(rows[start:start + block])
                    pos = start
                    for d, r in iter_ism(kern, x[:], batch_size=batch_size):
                        xb = x[pos - start:pos - start + len(d)]
                        if k is not None:
                            d, r = d[..., k], r[:, k]
                        elif kern.T == 1:
                            d, r = d[..., 0], r[:, 0]
                        imp = importance(d, xb)
                        sl = slice(pos, pos + len(d))
                        dsets["delta"][sl] = d
                        dsets["importance"][sl] = imp
                        dsets["attribution"][sl] = attribution(imp, xb)
                        dsets["hypothetical"][sl] = hypothetical(d)
                        dsets["reference_score"][sl] = r
                        dsets["x"][sl] = xb
                        pos += len(d)
                        bar.update(len(d))
                    done = pos
                bar.close()
                seconds = time.time() - t0
                attrs = {"format": ISM_FORMAT, "schema_version": 1, "seqcnn_version": __version__,
                         "run": os.path.abspath(str(run_dir)), "input": os.path.abspath(str(input)),
                         "output": -1 if T_out > 1 else (k if k is not None else 0),
                         "output_names": json.dumps(names if T_out > 1 else [names[k if k is not None else 0]]
                                                    if names else []),
                         "definition": DEFINITION, "method": kern.method, "length": L, "alphabet": "ACGT",
                         "task": task, "created": utc_now(), "command": command or ""}
                if getattr(source, "genome", None):
                    attrs["genome"] = json.dumps(source.genome)
                for key, value in attrs.items():
                    h5.attrs[key] = value
                h5.attrs["complete"] = True
            figs = []
            if plots and plot_max:
                figs, plot_tmp = _write_plots(tmp, plot_dir, plot_max)
            publish(tmp, out, force)
            if plot_tmp is not None:
                try:
                    publish_dir(plot_tmp, plot_dir, force)
                except OutputExistsError:
                    os.remove(out)  # published a moment ago: the output is the file and its figures, or nothing
                    raise
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
            if plot_tmp is not None and os.path.exists(plot_tmp):
                shutil.rmtree(plot_tmp)
    finally:
        source.close()
    return {"out": out, "n": int(done), "records_read": int(getattr(source, "records_read", source.n)),
            "dropped": source.dropped, "length": L,
            "outputs": json.loads(attrs["output_names"]),
            "method": kern.method, "seconds": seconds, "seq_per_s": done / max(seconds, 1e-9),
            "plots": figs, "plot_dir": plot_dir if figs else None}


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))[:60]


def _write_plots(h5_path, plot_dir, plot_max):
    """One PNG per sequence (and output): delta heatmap over an importance logo, in a temporary folder.

    Returns ``(paths the files will have in plot_dir, the temporary folder)``; the caller publishes the folder.
    """
    import h5py

    from . import plots as plotting

    tmp_dir = temp_dir(plot_dir)
    try:
        files = []
        with h5py.File(h5_path, "r") as h5:
            n = min(plot_max, h5["delta"].shape[0])
            names = json.loads(h5.attrs["output_names"]) or ["output"]
            ids = h5["ids"].asstr()[:n]
            delta, attr, ref = h5["delta"][:n], h5["attribution"][:n], h5["reference_score"][:n]
        multi = delta.ndim == 4
        for i in range(n):
            for t in range(delta.shape[-1] if multi else 1):
                d = delta[i, ..., t] if multi else delta[i]
                a = attr[i, ..., t] if multi else attr[i]
                r = ref[i, t] if multi else ref[i]
                suffix = f"_{_safe(names[t])}" if multi else ""
                fname = f"{i + 1:03d}_{_safe(ids[i])}{suffix}.png"
                name = names[t] if multi else names[0]
                plotting.ism_figure(d, a, os.path.join(tmp_dir, fname),
                                    title=f"{ids[i]} — output {name}, reference logit {r:.2f}")
                files.append(os.path.join(plot_dir, fname))
        return files, tmp_dir
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise


def read_ism(path):
    """Read an ISM file written by :func:`run_mutagenesis`: a dict of arrays plus ``attrs``."""
    import h5py

    if not os.path.exists(path):
        raise InputFormatError("file not found", path=path)
    try:
        with h5py.File(path, "r") as h5:
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}
            if attrs.get("format") != ISM_FORMAT or not attrs.get("complete"):
                raise InputFormatError("not a complete seqcnn ISM file", path=path)
            out = {name: h5[name][:] for name in h5 if name not in ("ids", "chrom", "strand")}
            out["ids"] = h5["ids"].asstr()[:]
            for name in ("chrom", "strand"):
                if name in h5:
                    out[name] = h5[name].asstr()[:]
    except OSError:
        raise InputFormatError("not a readable HDF5 file", path=path) from None
    attrs["output_names"] = json.loads(attrs.get("output_names", "[]"))
    out["attrs"] = attrs
    return out
