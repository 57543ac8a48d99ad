"""The ``seqcnn report`` verb: one self-contained HTML page of an analysis.

Provides :func:`build_report` (a run directory and, optionally, its dataset files, ISM file, ``seqcnn motifs``
folder, ``seqcnn discover`` folder and variant effects table → one HTML file), the section builders behind it,
and :func:`png_data_uri` (a PNG downscaled and embedded as a ``data:`` URI).

The page opens offline: every figure is a base64 PNG inside it, the style sheet and the few lines of JavaScript
that sort the tables are inline, and nothing is loaded from anywhere. Jinja2 renders it from the package's
``templates/report.html``. Sections for inputs that are not given are left out.

Each optional input must belong to the run: a dataset must fit the model (:func:`seqcnn.rundir.check_fits`),
an ISM file's stored reference scores must equal the model's logits on its sequences, and a motifs or discovery
folder must have been made from this run directory (or, when the directory it names no longer exists because
the run was moved, from a model with the same first layer / outputs). Anything else is refused before a byte
is written.
"""

import base64
import io
import json
import os
import shutil
import tempfile

import numpy as np

from ._version import __version__
from .errors import InputFormatError, ModelMismatchError, SeqcnnError
from .outputs import check_output, publish, utc_now
from .readers import sha256_file
from .splits import SPLIT_NAMES

#: Pixel widths the page's figures are downscaled to (the browser shows them at most this wide).
WIDTHS = {"figure": 560, "wide": 1100, "logo": 360, "pattern": 520}
#: Filters listed in the open table of the filter section (by influence; matched ones are listed too).
FILTERS_SHOWN = 20
#: GC content is computed on at most this many records per dataset (an even sample), to bound the reading.
GC_SAMPLE = 20000
SIZE_WARNING = 5 * 1024 * 1024


def png_data_uri(path, max_width):
    """A PNG file as a ``data:image/png;base64,...`` URI, downscaled to ``max_width`` pixels and quantised.

    256 colours are plenty for plots and logos and make the embedded file 2-4 times smaller.
    """
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        if im.width > max_width:
            im = im.resize((max_width, max(1, round(im.height * max_width / im.width))), Image.LANCZOS)
        im = im.quantize(256)
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class _Figures:
    """A temporary folder for the figures drawn for the page; ``add(fn, *args, width=...)`` returns a data URI."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="seqcnn-report-")
        self.n = 0

    def add(self, draw, *args, width="figure", **kw):
        self.n += 1
        path = draw(*args, path=os.path.join(self.dir, f"{self.n:04d}.png"), **kw)
        return png_data_uri(path, WIDTHS[width])

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _fmt(v, digits=3):
    """A number for the page: fixed decimals, '—' for missing."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{digits}f}"
    return str(v)


def _count(n, noun):
    """'1 pattern', '3 patterns': a count and its noun, in the plural unless one."""
    return f"{_fmt(n)} {noun}{'' if n == 1 else 's'}"


def _ci(v):
    return "—" if not v else f"{v[0]:.3f}–{v[1]:.3f}"


def _read_json(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise InputFormatError("file not found", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"not valid JSON ({exc})", path=path) from None


def _file_time(path):
    import datetime

    return datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc).isoformat(
        timespec="seconds") + " (file time)"


def _output_names(cfg):
    """The run's output names, in the model's order (one name for a binary model)."""
    d, task = cfg["data"], cfg["model"]["task"]
    if task == "multiclass":
        return list(d.get("class_names") or [])
    if task == "multilabel":
        return list(d.get("label_names") or [])
    return [(d.get("label_names") or ["label"])[0]]


# --- the run: model, training, metrics.json ---


def _run_section(run_dir):
    """metrics.json and history.csv of a run that :func:`seqcnn.rundir.load_run` has already checked."""
    import pandas as pd

    from .rundir import HISTORY_FILE, METRICS_FILE

    run_dir = str(run_dir)
    if not os.path.exists(os.path.join(run_dir, METRICS_FILE)):
        raise InputFormatError(f"not a finished seqcnn run directory (no {METRICS_FILE})", path=run_dir,
                               hint="give the directory written by 'seqcnn train'")
    metrics = _read_json(os.path.join(run_dir, METRICS_FILE))
    history = []
    hpath = os.path.join(run_dir, HISTORY_FILE)
    if os.path.exists(hpath):
        try:
            frame = pd.read_csv(hpath)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputFormatError(f"unreadable history ({' '.join(str(exc).split())})", path=hpath) from None
        history = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
                   for row in frame.to_dict(orient="records")]
    return metrics, history


def _model_rows(cfg, metrics):
    """(name, value) rows of the model section: architecture, sizes, every hyper-parameter and option."""
    m, tr = cfg["model"], cfg.get("training", {})
    rows = [("architecture", cfg.get("arch")), ("task", m.get("task")), ("outputs", ", ".join(_output_names(cfg))),
            ("input length", f"{m.get('input_length')} bp"), ("parameters", _fmt(m.get("n_params"))),
            ("output", f"{m.get('output', 'logits')} ({m.get('link', '')})"),
            ("best epoch", f"{metrics.get('best_epoch')} of {metrics.get('epochs_run')} run "
                           f"(monitor {metrics.get('monitor') or 'none: no validation split'})")]
    hparams = [(f"{k}", json.dumps(v) if isinstance(v, (list, dict)) else _fmt(v, 6) if isinstance(v, float)
                else str(v)) for k, v in (cfg.get("hparams") or {}).items()]
    training = [(k, json.dumps(v) if isinstance(v, (list, dict)) else str(v)) for k, v in tr.items()]
    dist = cfg.get("distribute") or {}
    if dist:
        training.append(("distribute", ", ".join(f"{k} {v}" for k, v in dist.items())))
    return {"rows": rows, "hparams": hparams, "training": training}


def _training_section(history, metrics, figs):
    from . import plots

    if not history:
        return None
    return {"figure": figs.add(plots.training_curves, history, monitor=metrics.get("monitor"), width="wide"),
            "epochs": len(history)}


# --- data ---


def _groups(task, y, names):
    """(name, mask) per class (binary, multiclass) or per label's positives (multilabel)."""
    y = np.asarray(y)
    if task == "multilabel":
        return [(n, y[:, j] == 1) for j, n in enumerate(names)]
    return [(n, y == c) for c, n in enumerate(names)]


def _gc(x):
    """GC fraction of each one-hot sequence over its A/C/G/T bases, shape=(n,) (NaN for all-N rows)."""
    acgt = x.sum(axis=(1, 2), dtype=np.int64)
    gc = x[:, :, 1:3].sum(axis=(1, 2), dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(acgt > 0, gc / np.maximum(acgt, 1), np.nan)


def _data_section(ds, cfg, figs):
    """Counts per split and class, length and GC histograms per class; genome mode: GC match and chromosomes."""
    from . import plots

    summary = ds.summary()
    names = ds.class_names if ds.task != "multilabel" else ds.label_names
    if ds.task == "binary" and len(names) != 2:
        names = ["0", "1"]
    splits = summary["splits"]
    columns = ["n"] + [c for c in next(iter(splits.values())).keys() if c != "n"]
    counts = [[name] + [splits[name].get(c, 0) for c in columns] for name in SPLIT_NAMES] + [
        ["all"] + [sum(splits[s].get(c, 0) for s in SPLIT_NAMES) for c in columns]]
    groups = _groups(ds.task, ds.y, names)
    lengths = {n: ds.lengths[mask] for n, mask in groups}
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(ds.n, GC_SAMPLE, replace=False)) if ds.n > GC_SAMPLE else np.arange(ds.n)
    gc = _gc(ds.read_x(sample))
    gc_by = {n: gc[mask[sample]] for n, mask in groups}
    section = {
        "name": os.path.basename(ds.path), "path": os.path.abspath(ds.path), "records": ds.n, "length": ds.length,
        "task": ds.task, "count_columns": columns, "counts": counts, "gc_sampled": len(sample) < ds.n,
        "gc_n": len(sample),
        # One length for every record (fixed-width windows, genome mode) makes an empty figure: say it instead.
        "length_figure": None if ds.lengths.min() == ds.lengths.max() else figs.add(
            plots.class_histograms, lengths, xlabel="sequence length before padding/trimming (bp)",
            title="original lengths per class", integer=True),
        "lengths_all": int(ds.lengths[0]) if ds.n else 0,
        "gc_figure": figs.add(plots.class_histograms, gc_by, xlabel="GC content", title="GC content per class", bins=40),
        "pad_mode": summary["lengths"].get("pad_mode"), "genome": None,
    }
    if ds.has_coords:
        coords = ds.coords()
        origin = np.asarray(coords["origin"]).astype(str)
        gm = ds.attrs.get("gc_match") or {}
        recorded = ds.attrs.get("negatives")
        method, described = recorded, recorded
        if isinstance(recorded, dict):   # the recorded options: method, ratio, ...
            method = recorded.get("method")
            described = f"{method} (ratio {recorded.get('ratio')}, seed {recorded.get('seed')})"
        genome = {"negatives": described, "ks": gm.get("ks"),
                  "origins": {o: int((origin == o).sum()) for o in sorted(set(origin))}, "gc_figure": None,
                  "chroms": []}
        is_pos, is_neg = origin[sample] == "peak", origin[sample] != "peak"
        if is_pos.any() and is_neg.any():
            genome["gc_figure"] = figs.add(plots.gc_histogram, gc[is_pos], gc[is_neg],
                                           title=f"GC match of the negatives (KS {gm.get('ks')})",
                                           negative_label=f"negatives ({method})" if method else "negatives")
        chrom = np.asarray(coords["chrom"]).astype(str)
        order = chrom_order(np.unique(chrom), ds.attrs.get("genome"))
        for code, sname in enumerate(SPLIT_NAMES):
            mask = ds.split == code
            if mask.any():
                uniq, cnt = np.unique(chrom[mask], return_counts=True)
                counts = dict(zip(uniq, cnt))
                genome["chroms"].append((sname, ", ".join(f"{c} ({counts[c]:,})" for c in order if c in counts)))
        section["genome"] = genome
    return section


_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def _roman(text):
    """The value of an upper-case Roman numeral up to C (yeast's I ... XVI), else None."""
    if not text or any(ch not in _ROMAN for ch in text):
        return None
    values = [_ROMAN[ch] for ch in text]
    total = sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))
    return total if total > 0 else None


def chrom_order(names, genome=None):
    """Chromosome names in genome order: the reference's own order when its ``.fai`` index is still beside the
    genome the dataset recorded (``genome`` attribute: ``path``, ``bgzip_copy``), else a natural order — numbers
    and Roman numerals by value (chr2 before chr10, IV before IX before X), then X, Y, W, Z, the mitochondrion,
    then the rest (unplaced contigs) by name. String order puts IX before V and chr10 before chr2.
    """
    import re

    names = [str(n) for n in names]
    for path in [(genome or {}).get(k) for k in ("path", "bgzip_copy")]:
        fai = f"{path}.fai" if path else None
        if fai and os.path.exists(fai):
            with open(fai) as fh:
                rank = {line.split("\t", 1)[0]: i for i, line in enumerate(fh)}
            if all(n in rank for n in names):
                return sorted(names, key=rank.__getitem__)
    core = {n: re.sub(r"^(chromosome|chrom|chr)_?", "", n, flags=re.I) for n in names}
    # 'X' is ten in yeast (I ... XVI) and a sex chromosome elsewhere: Roman only where other numerals occur.
    roman = any(_roman(c) is not None and c not in ("X",) for c in core.values())

    def key(n):
        c = core[n]
        if c.isdigit():
            return (0, int(c), [])
        if roman and _roman(c) is not None:
            return (0, _roman(c), [])
        special = {"X": 1, "Y": 2, "W": 3, "Z": 4, "M": 5, "MT": 5, "MITO": 5}.get(c.upper())
        if special is not None:
            return (1, special, [])
        return (2, 0, [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", c) if t])

    return sorted(names, key=key)


# --- performance ---


def _metric_rows(m):
    """Per-class or per-label rows of a multi-output metrics block."""
    per = m.get("per_class") or m.get("per_label") or {}
    return [[name, _fmt(b.get("auroc")), _fmt(b.get("auprc")), _fmt(b.get("accuracy")), _fmt(b.get("mcc")),
             _fmt(b.get("n_pos"))] for name, b in per.items()]


def _performance(key, m, source, task, names, figs, curves=None, run_plots=None):
    """One split's block: the headline numbers, per-class rows, ROC/PR/calibration curves, confusion matrix."""
    from . import plots

    block = {"key": key, "source": source, "n": _fmt(m.get("n")), "auroc": _fmt(m.get("auroc")),
             "auprc": _fmt(m.get("auprc")), "auroc_ci": _ci(m.get("auroc_ci")), "auprc_ci": _ci(m.get("auprc_ci")),
             "accuracy": _fmt(m.get("accuracy")), "mcc": _fmt(m.get("mcc")), "loss": _fmt(m.get("loss")),
             "average": m.get("average"), "per_class": _metric_rows(m), "figures": [], "notes": []}
    if curves is not None:
        from .metrics import curve_sets

        y, prob = curves
        sets = curve_sets(task, y, prob, names)
        block["figures"] += [figs.add(plots.roc_curves, sets, title=f"ROC ({key})"),
                             figs.add(plots.pr_curves, sets, title=f"Precision-recall ({key})"),
                             figs.add(plots.calibration_curve, sets, title=f"Calibration ({key})")]
    else:
        for name in ("roc", "pr"):
            path = os.path.join(run_plots, f"{name}_{key}.png") if run_plots else None
            if path and os.path.exists(path):
                block["figures"].append(png_data_uri(path, WIDTHS["figure"]))
        block["notes"].append("calibration needs the sequences: give this split's dataset with --data")
    if m.get("confusion_matrix"):
        cm_names = m.get("class_names") or (["0", "1"] if task == "binary" else [str(i) for i in
                                                                                 range(len(m["confusion_matrix"]))])
        title = f"Confusion ({key}" + (f", threshold {m['threshold']})" if task == "binary" else ")")
        block["figures"].append(figs.add(plots.confusion_matrix, m["confusion_matrix"], cm_names, title=title))
    return block


def _predict(fwd, ds, sel):
    """Logits of the records ``sel`` of ``ds`` through one traced forward pass (``feeding.Forward``)."""
    from .feeding import Source

    return fwd(Source(ds, in_memory=False).ordered(sel, 1024))


def _performance_sections(run_dir, cfg, metrics, datasets, fwd, figs, n_boot):
    """Every split of metrics.json, plus every non-empty split of the given datasets that is not the run's own."""
    from . import losses
    from .metrics import compute_metrics, link

    task = cfg["model"]["task"]
    blocks, seen, notes = [], set(), []
    for path, ds, _, same in datasets:
        names = ds.class_names if task == "multiclass" else ds.label_names
        for split in SPLIT_NAMES:
            sel = ds.indices(split)
            if not len(sel):
                continue
            logits = _predict(fwd, ds, sel)
            prob = link(task, logits)
            y = ds.y[sel]
            if same and split in metrics:
                m, source = metrics[split], "metrics.json of the run (curves from the model on the dataset)"
                check = compute_metrics(task, y, prob, names=names, n_boot=0)
                if m.get("auroc") is not None and check["auroc"] is not None and abs(
                        check["auroc"] - m["auroc"]) > 1e-4:
                    notes.append(f"{split}: auROC recomputed from the model ({check['auroc']:.4f}) differs from "
                                 f"metrics.json ({m['auroc']:.4f}): was model.keras replaced?")
                key = split
            else:
                m = compute_metrics(task, y, prob, names=names, n_boot=n_boot, seed=0)
                m["loss"] = losses.loss_numpy(task, y, logits)   # unweighted, as a reader compares splits
                source = f"computed by seqcnn report on {os.path.basename(path)} (as 'seqcnn evaluate' does)"
                key = split if split not in metrics and split not in seen else f"{split} ({os.path.basename(path)})"
            seen.add(key)
            blocks.append(_performance(key, m, source, task, names, figs, curves=(y, prob)))
    from .rundir import PLOTS_DIR

    for split in SPLIT_NAMES:
        if split in metrics and split not in seen:
            names = _output_names(cfg) if task != "binary" else None
            blocks.append(_performance(split, metrics[split], "metrics.json of the run", task, names, figs,
                                       run_plots=os.path.join(str(run_dir), PLOTS_DIR)))
    order = {s: i for i, s in enumerate(SPLIT_NAMES)}
    blocks.sort(key=lambda b: (order.get(b["key"].split(" ")[0], 9), b["key"]))
    return blocks, notes


# --- interpretation ---


def _ism_section(path, cfg, fwd, figs, max_examples):
    """The top ISM examples (by reference score) as heatmap + importance-logo figures; checked against the model."""
    from . import plots
    from .mutagenesis import read_ism

    d = read_ism(path)
    a = d["attrs"]
    L = cfg["model"]["input_length"]
    if d["x"].shape[1] != L:
        raise ModelMismatchError(f"ISM of {d['x'].shape[1]} bp sequences, but the run's model takes {L} bp",
                                 path=path, hint="give the ISM file 'seqcnn mutagenesis' wrote with this run")
    names = _output_names(cfg)
    ref = np.asarray(d["reference_score"], float)
    n = len(ref)
    if n:
        x = np.asarray(d["x"][:64], np.uint8)
        logits = fwd([x[i:i + 256] for i in range(0, len(x), 256)])
        k = int(a.get("output", 0))
        want = logits if k < 0 else logits[:, k]
        want = want.reshape(ref[:64].shape) if want.size == ref[:64].size else None
        if want is None or not np.allclose(want, ref[:64], rtol=1e-3, atol=1e-3):
            raise ModelMismatchError("its reference scores differ from this run's model on the same sequences: "
                                     f"the ISM was computed with another model ({a.get('run')})", path=path,
                                     hint="run 'seqcnn mutagenesis' with this run, or report the run it names")
    multi = d["delta"].ndim == 4
    score = ref.max(axis=1) if multi else ref
    order = np.argsort(-score, kind="stable")[:max_examples]
    examples = []
    for i in order:
        t = int(np.argmax(ref[i])) if multi else None
        delta = d["delta"][i, ..., t] if multi else d["delta"][i]
        attr = d["attribution"][i, ..., t] if multi else d["attribution"][i]
        out_name = (a["output_names"][t] if multi else (a["output_names"] or ["output"])[0])
        where = ""
        if "chrom" in d:
            where = f"{d['chrom'][i]}:{int(d['start'][i]):,}-{int(d['end'][i]):,} ({d['strand'][i]})"
        title = f"{d['ids'][i]} — output {out_name}, reference logit {score[i]:.2f}"
        examples.append({"id": d["ids"][i], "where": where, "score": _fmt(float(score[i])),
                         "figure": figs.add(plots.ism_figure, delta, attr, title=title, width="wide")})
    return {"path": os.path.abspath(path), "n": n, "shown": len(examples), "method": a.get("method"),
            "definition": a.get("definition"), "examples": examples, "outputs": names, "created": a.get("created"),
            "command": a.get("command")}, n, len(examples)


def _same_run(recorded, run_dir, path, what, fallback):
    """Refuse an output made with another run: its recorded run must be ``run_dir`` (or be gone and ``fallback()``)."""
    if not recorded:
        raise InputFormatError(f"its summary.json names no run: not a seqcnn {what} folder", path=path)
    if os.path.realpath(recorded) == os.path.realpath(str(run_dir)):
        return
    if os.path.exists(recorded):
        raise ModelMismatchError(f"made with another run ({recorded}), not {run_dir}", path=path,
                                 hint=f"give the {what} folder of this run, or report {recorded}")
    problem = fallback()
    if problem:
        raise ModelMismatchError(f"made with run {recorded} (no longer there) whose model differs from this one: "
                                 f"{problem}", path=path, hint=f"run 'seqcnn {what}' with this run")


def _made(folder, summary):
    """When and by which command a motifs/discover folder was made (its summary.json, else the file's time)."""
    return {"created": summary.get("created") or _file_time(os.path.join(folder, "summary.json")),
            "command": summary.get("command")}


def _folder_json(folder, what):
    folder = str(folder)
    if not os.path.isdir(folder):
        raise InputFormatError(f"not a folder (expected the output folder of 'seqcnn {what}')", path=folder)
    return _read_json(os.path.join(folder, "summary.json"))


def _read_csv(path):
    import pandas as pd

    if not os.path.exists(path):
        raise InputFormatError("file not found", path=path)
    try:
        return pd.read_csv(path, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"unreadable table ({' '.join(str(exc).split())})", path=path) from None


def _match_cells(r, q_max):
    """The best-match cells of a filters.csv or patterns.csv row: ``match`` text, ``q`` and ``significant``."""
    q = float(r.qvalue) if np.isfinite(r.qvalue) else None
    return {"match": f"{r.best_match_id} {r.best_match_name}" if isinstance(r.best_match_id, str) else "",
            "q": q, "significant": q is not None and q < q_max}


def _comparison(summary, n_matched):
    """What a motifs/discover folder was compared with: ``database``, ``tax_group`` and, when nothing matched,
    ``no_match`` (where it looked and the option to change: the first hour on a yeast genome named no motif)."""
    from .motif_compare import no_match_text

    comparison = summary.get("comparison") or {}
    database = comparison.get("database")
    # folders written before tax_group was recorded: their database reads "JASPAR2024 CORE vertebrates"
    group = comparison.get("tax_group", database.split()[-1] if database and database.startswith("JASPAR") else None)
    no_match = (no_match_text(comparison.get("q_threshold", 0.05), database, group)
                if database and n_matched == 0 else None)
    return {"database": database, "tax_group": group, "no_match": no_match}


def _logo_uri(path, width):
    """A logo PNG written by motifs/discover as a data URI, or None when the folder has no logos (--no-plots)."""
    return png_data_uri(path, WIDTHS[width]) if os.path.exists(path) else None


def _motifs_section(folder, run_dir, model):
    """The filter table: logo, sites, information content, influence, best JASPAR match and its q-value."""
    summary = _folder_json(folder, "motifs")
    table = _read_csv(os.path.join(folder, "filters.csv"))
    need = {"filter", "nsites", "ic", "influence", "best_match_id", "best_match_name", "qvalue", "consensus"}
    if not need <= set(table.columns):
        raise InputFormatError(f"filters.csv lacks columns {sorted(need - set(table.columns))}",
                               path=os.path.join(folder, "filters.csv"), hint="re-run 'seqcnn motifs'")

    def fallback():
        from .motifs import activation_layer

        filters = int(activation_layer(model)[0].filters) if model is not None else None
        n = int(summary.get("n_filters", len(table)))
        return None if filters in (None, n) else f"{n} filters in the folder, {filters} in conv1"

    _same_run(summary.get("run"), run_dir, folder, "motifs", fallback)
    q_max = (summary.get("comparison") or {}).get("q_threshold", 0.05)
    rows = []
    for r in table.itertuples():
        rows.append({"filter": int(r.filter), "nsites": int(r.nsites), "ic": float(r.ic),
                     "logo": _logo_uri(os.path.join(folder, "logos", f"filter_{int(r.filter):03d}.png"), "logo"),
                     "influence": float(r.influence) if np.isfinite(r.influence) else None,
                     "consensus": r.consensus if isinstance(r.consensus, str) else "",
                     "status": getattr(r, "status", "ok"), **_match_cells(r, q_max)})
    rows.sort(key=lambda r: -(r["influence"] if r["influence"] is not None else -np.inf))
    # 128 filters with logos made a 21,000 px page: the most influential and the matched ones stay in view,
    # the rest are one click away (folded, still sortable and searchable)
    top = [r for i, r in enumerate(rows) if i < FILTERS_SHOWN or r["significant"]]
    more = [r for i, r in enumerate(rows) if not (i < FILTERS_SHOWN or r["significant"])]
    n_matched = sum(r["significant"] for r in rows)
    return {"path": os.path.abspath(folder), "rows": rows, "top": top, "more": more, "q_threshold": q_max,
            "split": summary.get("split"), "n_sequences": summary.get("n_sequences"),
            "influence": summary.get("influence"), **_comparison(summary, n_matched), "n_matched": n_matched,
            **_made(folder, summary)}, len(table), len(rows)


def _discover_section(folder, run_dir, cfg):
    """The discovered patterns: CWM/PFM logo, seqlets, consensus, best and other JASPAR matches."""
    summary = _folder_json(folder, "discover")
    if not os.path.exists(os.path.join(folder, "patterns.csv")):
        raise InputFormatError("no patterns.csv: not a complete 'seqcnn discover' folder", path=folder)
    table = _read_csv(os.path.join(folder, "patterns.csv"))

    def fallback():
        name, length = summary.get("output_name"), summary.get("length")
        if length is not None and int(length) != int(cfg["model"]["input_length"]):
            return f"{length} bp sequences, the model takes {cfg['model']['input_length']} bp"
        return None if name in _output_names(cfg) + [None] else f"output {name!r} is not one of this run's"

    _same_run(summary.get("run"), run_dir, folder, "discover", fallback)
    q_max = (summary.get("comparison") or {}).get("q_threshold", 0.05)
    rows = []
    for r in table.itertuples():
        rows.append({"pattern": r.pattern, "sign": r.sign, "n_seqlets": int(r.n_seqlets), "width": int(r.width),
                     "logo": _logo_uri(os.path.join(folder, "logos", f"{r.pattern}.png"), "pattern"),
                     "consensus": r.consensus, "other": r.other_matches if isinstance(r.other_matches, str) else "",
                     **_match_cells(r, q_max)})
    return {"path": os.path.abspath(folder), "rows": rows, "q_threshold": q_max, "n_seqlets": summary.get("n_seqlets"),
            "output": summary.get("output_name"), "notes": summary.get("notes") or [],
            "selection": summary.get("selection"), "n_sequences": summary.get("n_sequences"),
            **_comparison(summary, sum(r["significant"] for r in rows) if rows else None),
            **_made(folder, summary)}, len(table), len(rows)


def _read_effects(path):
    """A variant effects table written by ``seqcnn variants`` (TSV, CSV or HDF5) as a DataFrame."""
    import pandas as pd

    path = str(path)
    if not os.path.exists(path):
        raise InputFormatError("file not found", path=path)
    if path.endswith((".h5", ".hdf5")):
        import h5py

        try:
            with h5py.File(path, "r") as h5:
                cols = list(h5.attrs.get("columns", list(h5.keys())))
                return pd.DataFrame({c: (h5[c].asstr()[:] if h5py.check_string_dtype(h5[c].dtype) else h5[c][:])
                                     for c in cols})
        except (OSError, KeyError) as exc:
            raise InputFormatError(f"not a readable variant effects HDF5 file ({exc})", path=path) from None
    try:
        return pd.read_csv(path, sep="," if path.endswith(".csv") else "\t")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"not a readable variant effects table ({' '.join(str(exc).split())})",
                               path=path) from None


def _variants_section(path, cfg, figs, max_rows, max_examples):
    """The variants with the largest |Δ logit|, the distribution of effects, and the variant figures if present."""
    from . import plots
    from .variants import skipped_path

    frame = _read_effects(path)
    names = _output_names(cfg)
    if len(names) == 1:
        cols = ["delta_logit"] if "delta_logit" in frame.columns else []
    else:
        cols = [f"delta_logit_{n}" for n in names if f"delta_logit_{n}" in frame.columns]
    if len(cols) != len(names):
        found = sorted(c for c in frame.columns if c.startswith("delta_logit"))
        raise ModelMismatchError(f"its effect columns {found or 'none'} do not match this run's outputs {names}",
                                 path=path, hint="give the table 'seqcnn variants' wrote with this run")
    if not len(frame):
        raise InputFormatError("the variant table has no rows", path=path)
    effect = frame[cols].to_numpy(float)
    strongest = np.abs(effect).max(axis=1)
    top = frame.iloc[np.argsort(-strongest, kind="stable")[:max_rows]]
    ident = [c for c in ("chrom", "pos", "id", "ref", "alt", "kind", "ref_match") if c in frame.columns]
    shown = ident + [c for c in frame.columns if c not in ident and c not in ("ref_length", "alt_length")]
    rows = [[(v if isinstance(v, str) else _fmt(v, 4)) for v in r] for r in top[shown].itertuples(index=False)]
    hist = figs.add(plots.class_histograms, {n: effect[:, j] for j, n in enumerate(names)},
                    xlabel="Δ logit (alternative − reference)", title="variant effects", bins=50)
    skipped = 0
    skip_path = skipped_path(path)
    if os.path.exists(skip_path):
        with open(skip_path) as fh:
            skipped = max(0, sum(1 for _ in fh) - 1)
    plot_dir = f"{skip_path[:-len('.skipped.tsv')]}_plots"
    example_figs = []
    if os.path.isdir(plot_dir):
        example_figs = [png_data_uri(os.path.join(plot_dir, f), WIDTHS["wide"])
                        for f in sorted(os.listdir(plot_dir)) if f.endswith(".png")][:max_examples]
    return {"path": os.path.abspath(path), "n": len(frame), "skipped": skipped, "columns": shown, "rows": rows,
            "histogram": hist, "figures": example_figs, "shown": len(rows)}, len(frame), len(rows)


# --- provenance ---


def _provenance(run_dir, cfg, datasets, inputs):
    from ._tf import import_keras, import_tf

    rows = [{"what": "run", "path": os.path.abspath(str(run_dir)),
             "sha256": sha256_file(os.path.join(str(run_dir), "model.keras")) + " (model.keras)",
             "created": cfg.get("created"), "command": cfg.get("command") or "not recorded",
             "seed": (cfg.get("training") or {}).get("seed")}]
    for path, ds, sha, same in datasets:
        rows.append({"what": "dataset" + (" (the run's training data)" if same else ""), "path": os.path.abspath(path),
                     "sha256": sha, "created": ds.attrs.get("created"),
                     "command": ds.attrs.get("command") or "not recorded", "seed": ds.attrs.get("split_seed")})
    rows += inputs
    versions = dict(cfg.get("versions") or {})
    now = {"seqcnn": __version__, "tensorflow": import_tf().__version__, "keras": import_keras().__version__}
    return {"rows": rows, "trained_with": versions, "reported_with": now}


# --- the verb ---


def build_report(run_dir, out, *, data=(), ism=None, motifs=None, discover=None, variants=None, scan=None,
                 genomewide=None, peaks=None, sites=None, max_examples=5, max_rows=100, n_boot=1000, force=False,
                 command=None):
    """Write one self-contained HTML report of a run and the analyses made with it.

    Parameters
    ----------
    run_dir : str — a finished run directory.
    out : str — the HTML file to write (refused if it exists, unless ``force``).
    data : sequence of str — dataset files of the run's length and task; each adds a data section and the
        performance of its splits (the run's own data file: numbers from metrics.json, curves from the model).
    ism : str, optional — an ISM file of ``seqcnn mutagenesis`` made with this run.
    motifs, discover : str, optional — the folders of ``seqcnn motifs`` and ``seqcnn discover`` for this run.
    variants : str, optional — an effects table of ``seqcnn variants`` (TSV, CSV or HDF5).
    scan, genomewide, peaks, sites : str, optional — the genome-wide section
        (:func:`seqcnn.genomewide.report_section`): a track of ``seqcnn scan``, the JSON of ``seqcnn evaluate
        --genome``, and BED files of peaks and called sites.
    max_examples : int — ISM examples and variant figures embedded.
    max_rows : int — variant table rows shown (the largest |Δ logit| first).
    n_boot : int — bootstrap resamples for splits whose metrics the report computes.

    Returns
    -------
    dict — ``out``, ``bytes``, ``sections`` (names present, in page order), ``records_read``, ``shown``,
    ``dropped`` ({reason: count}), ``notes``.
    """
    from jinja2 import Environment, PackageLoader, select_autoescape

    from .rundir import check_fits, load_run
    from .store import open_dataset

    out = str(out)
    check_output(out, force)
    if max_examples < 0 or max_rows < 0:
        raise SeqcnnError("--max-examples and --max-rows must be ≥ 0")
    from .feeding import Forward

    model, cfg = load_run(run_dir)
    metrics, history = _run_section(run_dir)
    fwd = Forward(model, cfg["model"]["input_length"])   # traced once, for every split and the ISM check
    opened, figs = [], _Figures()
    notes, sections = [], {}
    read = shown = 0
    try:
        for path in data:
            ds = open_dataset(path)
            opened.append(ds)
            check_fits(cfg, ds, run_dir)
        hashes = [sha256_file(str(p)) for p in data]   # read once: provenance and the run's-own-data test
        datasets = [(str(p), ds, sha, sha == cfg["data"].get("sha256")) for p, ds, sha in zip(data, opened, hashes)]
        # Validate every optional input before drawing anything: a bad one fails fast and leaves nothing.
        inputs = []
        if ism is not None:
            sections["ism"], n, k = _ism_section(str(ism), cfg, fwd, figs, max_examples)
            read, shown = read + n, shown + k
            inputs.append({"what": "ISM file", "path": os.path.abspath(str(ism)), "sha256": sha256_file(str(ism)),
                           "created": sections["ism"]["created"],
                           "command": sections["ism"]["command"] or "not recorded", "seed": None})
        for kind, folder, builder, key_file in (("motifs", motifs, _motifs_section, "filters.csv"),
                                                ("discover", discover, _discover_section, "patterns.csv")):
            if folder is None:
                continue
            arg = model if kind == "motifs" else cfg
            sections[kind], n, k = builder(str(folder), run_dir, arg)
            read, shown = read + n, shown + k
            inputs.append({"what": f"{kind} folder", "path": os.path.abspath(str(folder)),
                           "sha256": sha256_file(os.path.join(str(folder), key_file)) + f" ({key_file})",
                           "created": sections[kind]["created"],
                           "command": sections[kind]["command"] or "not recorded", "seed": None})
        if variants is not None:
            sections["variants"], n, k = _variants_section(str(variants), cfg, figs, max_rows, max_examples)
            read, shown = read + n, shown + k
            inputs.append({"what": "variant effects", "path": os.path.abspath(str(variants)),
                           "sha256": sha256_file(str(variants)), "created": _file_time(str(variants)),
                           "command": "not recorded in the table", "seed": None})
        if scan is not None or genomewide is not None:
            from .genomewide import report_section

            sections["genomewide"], gw_notes, gw_inputs = report_section(
                run_dir, figs, scan=scan, genomewide=genomewide, peaks=peaks, sites=sites)
            notes += gw_notes
            inputs += gw_inputs
        elif peaks is not None or sites is not None:
            raise SeqcnnError("--peaks and --sites draw the genome-wide section: give --scan or --genomewide too")
        page = {
            "title": f"seqcnn report: {os.path.basename(os.path.abspath(str(run_dir)))}",
            "created": utc_now(), "version": __version__, "command": command or "", "out": os.path.abspath(out),
            "run": os.path.abspath(str(run_dir)), "cfg": cfg,
            "data": [_data_section(ds, cfg, figs) for _, ds, _, _ in datasets],
            "data_config": cfg["data"],
            "model": _model_rows(cfg, metrics), "training": _training_section(history, metrics, figs),
        }
        page["performance"], perf_notes = _performance_sections(run_dir, cfg, metrics, datasets, fwd, figs, n_boot)
        notes += perf_notes
        page.update(sections)
        from .motif_compare import run_tax_group

        group = run_tax_group(None, cfg)
        for kind in ("motifs", "discover"):
            other = (sections.get(kind) or {}).get("tax_group")
            if other not in (None, "all", group):
                notes.append(f"the {kind} folder compared with JASPAR {other} motifs, but the run records "
                             f"{group} (seqcnn train --jaspar): re-run 'seqcnn {kind}' without --jaspar to use "
                             f"the run's")
        page["provenance"] = _provenance(run_dir, cfg, datasets, inputs)
        page["notes"] = notes
        order = ["data", "model", "training", "performance", "ism", "motifs", "discover", "variants", "genomewide",
                 "provenance"]
        present = [s for s in order if page.get(s) or s in ("data", "model", "provenance")]
        page["sections"] = present
        env = Environment(loader=PackageLoader("seqcnn", "templates"), autoescape=select_autoescape(["html"]))
        env.filters["fmt"] = _fmt
        env.filters["count"] = _count
        html = env.get_template("report.html").render(**page)
    finally:
        for ds in opened:
            ds.close()
        figs.close()
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(html)
        publish(tmp, out, force)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    size = os.path.getsize(out)
    if size > SIZE_WARNING:
        notes.append(f"the report is {size / 2**20:.1f} MB; lower --max-examples to shrink it")
    dropped = {"not shown: beyond --max-examples / --max-rows": read - shown} if read > shown else {}
    return {"out": out, "bytes": size, "sections": present, "records_read": read, "shown": shown,
            "dropped": dropped, "notes": notes, "data_records": sum(ds.n for ds in opened)}
