"""The run directory: its layout, its configuration, and reading and writing it safely.

A training run is a directory::

    RUN/model.keras     the best model (logit outputs): keras.models.load_model(path, compile=False)
                        opens it without seqcnn (runs saved before seqcnn.layers: import seqcnn.layers first)
    RUN/config.json     everything needed to reproduce the run (architecture, hyper-parameters,
                        training options, data file sha256, split sizes, length policy, versions)
    RUN/history.csv     one row per epoch: training loss, validation loss and metrics
    RUN/metrics.json    metrics per split (train / val / test where non-empty)
    RUN/plots/          training curves, ROC and PR curves (PNG)

A replicate ensemble (``seqcnn train --replicates K``, :mod:`seqcnn.ensemble`) is a run directory of the same
contract whose ``model.keras`` averages the logits of K members, each a complete run directory in
``RUN/members/seed_<s>/``; its config.json adds an ``ensemble`` section (replicates, seeds, member paths) and it
has no history.csv of its own (each member has one).

While training, the directory is built as ``RUN.partial`` beside it (with a
``checkpoint/`` of the last epoch) and renamed to ``RUN`` only when complete, so an
error never leaves a half-written run, and an interrupted run can be continued with
``resume=True``.

Provides the file names, :data:`TRAIN_DEFAULTS` and :data:`MONITORS`; configuration
(:func:`load_config`, :func:`resolve_config`: defaults < config file < explicit options,
validated); the output folder rules (:func:`prepare_out` and, for non-chief workers,
:func:`worker_out` / :func:`worker_dir`; :func:`write_history`); and
loading (:func:`load_run`, :func:`check_fits`: does a run's model fit a dataset).
"""

import json
import os
import shutil

import numpy as np

from . import losses
from ._tf import import_keras, import_tf
from ._version import __version__
from .errors import InputFormatError, ModelMismatchError, OutputExistsError, SeqcnnError
from .models import STRANDS

MODEL_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE, PLOTS_DIR = (
    "model.keras", "config.json", "history.csv", "metrics.json", "plots")
CHECKPOINT_DIR = "checkpoint"


MONITORS = ("val_auprc", "val_auroc", "val_accuracy", "val_mcc", "val_loss")


# Chosen by benchmarks/bench_accuracy.py (README, "Why these defaults"). The batch follows the training set
# (``auto_batch``): on 800-sequence sets batch 128 gave too few optimizer steps (best epochs at the limit, early
# stops at epoch 1 on noisy 80-sequence validation sets), on 7,000 it is 4x the speed of batch 32 for the same
# accuracy (64 for a jointly fitted strand-averaged model, which runs two strands per sequence).
# ``strand_fit='joint'``: 'posthoc' halves the cost of a step, but one of five CTCF 1 kb folds stayed at chance
# with it (test auROC 0.55, stopped at epoch 16; 0.96 jointly). ``strands='average'``: the model averages its
# logits over both strands; ``lr_schedule='plateau'``: the learning rate halves after PLATEAU_WAIT epochs
# without progress; ``stopping='monitor+loss'``: a falling validation loss is progress too (on 80-sequence
# validation sets auPRC peaked by chance at epoch 4 and stopped TEAD4 runs undertrained: test auROC 0.934 /
# 0.943, 0.961 / 0.977 with the loss counted). ``patience=6`` (two plateau decays without progress): replayed on
# 28 full deepbind runs (benchmarks/bench_stopping.py: yeast Rap1 and footprints at 200 bp and 1 kb, Oct4, B-panel
# GATA3 and CTCF; both rates), every run kept the same epoch as at patience 10, 4 epochs sooner; at patience 5
# two of them kept an earlier one (RESULTS, "Patience, replayed").
TRAIN_DEFAULTS = {
    "epochs": 50,
    "batch_size": None,  # resolved from the training set size (auto_batch) and recorded as a number
    "lr": None,  # resolved by default_lr (architecture, input length) and recorded as a number
    "patience": 6,
    "seed": 0,
    "class_weight": None,
    "rc_augment": True,
    "monitor": None,  # resolved per task: val_auprc (binary), val_auroc (multiclass / multilabel)
    "buffer_chunks": 16,
    "strands": "average",
    "lr_schedule": "plateau",
    "stopping": "monitor+loss",
    "strand_fit": "joint",
    # The organism's JASPAR taxonomic group: not used in fitting; recorded so that the verbs that name motifs
    # (motifs, discover, variants' figures, report) compare with this organism's motifs without being told again.
    "jaspar": "vertebrates",
}
# Adam's rate when --lr is not given (``default_lr``). deepbind's 3e-3 on inputs up to SHORT_INPUT bp was measured
# (benchmarks/bench_stopping.py, RESULTS "Stopping and the learning rate"): against 1e-3 it kept test auROC within
# seed noise on real 200 bp genomic windows (yeast Rap1, footprints) and the 101 bp B panel and stopped after
# 20-34 epochs instead of 27-50, which is what brings training to plain Keras + RC's wall time. At 1 kb it saved
# no epoch (both ran 50 on Rap1) and cost 0.01 auROC on both real sets (on footprints the validation auPRC
# peaked by chance at epoch 3 and those weights were kept), so longer inputs keep 1e-3, as do the other
# architectures, which were measured with it.
DEFAULT_LR = 1e-3
ARCH_LR = {"deepbind": 3e-3}
SHORT_INPUT = 500


def default_lr(arch, length):
    """The learning rate ``arch`` trains at on ``length``-bp inputs when none is given."""
    return ARCH_LR.get(arch, DEFAULT_LR) if length <= SHORT_INPUT else DEFAULT_LR


# What a run directory's config.json meant by an option it does not record (it predates the option): a recorded
# run replays as it was trained, whatever today's defaults are.
LEGACY_TRAINING = {"strands": "single", "lr_schedule": "constant", "batch_size": 32, "stopping": "monitor",
                   "strand_fit": "joint", "jaspar": "vertebrates"}
LR_SCHEDULES = ("constant", "plateau")
# What counts as progress for patience and the plateau decay: 'monitor' only the monitored value (the first
# epoch at a tie kept); 'monitor+loss' also a new lowest validation loss, and ties go to the lower loss.
STOPPINGS = ("monitor", "monitor+loss")
# How a strand-averaged model is fitted: 'joint' steps on the gradient of the average itself; 'posthoc' steps on
# the single-strand model (each sequence on a random strand, rc_augment) and averages for validation and saving.
STRAND_FITS = ("joint", "posthoc")
PLATEAU_WAIT, PLATEAU_FACTOR, PLATEAU_FLOOR = 3, 0.5, 1 / 64


def auto_batch(n_train, strands_per_step=1):
    """The default batch for ``n_train`` training records: the largest power of two at most
    n / (50 * strands_per_step), clipped to 32..128 (``seqcnn train --help`` states this rule).

    ``strands_per_step`` is 2 for a strand-averaged model fitted jointly (each sequence goes through the model on
    both strands, so a batch of b costs what 2b single strands do): on Oct4/Mafk's 7,000 sequences it takes
    batch 64, the steps per epoch of plain Keras on reverse-complement-doubled data at 128, and 24-26 epochs
    where batch 128 needed 42-44 for the same test auROC (0.9971/0.9983 vs 0.9980/0.9965, seeds 0/1).
    """
    return int(np.clip(2 ** np.floor(np.log2(max(n_train, 1) / (50 * strands_per_step))), 32, 128))


def versions():
    """Versions of seqcnn, Python and the libraries a run depends on: the ``versions`` section of config.json."""
    import platform

    import h5py
    import sklearn

    tf, keras = import_tf(), import_keras()
    return {"seqcnn": __version__, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__, "h5py": h5py.__version__,
            "scikit-learn": sklearn.__version__}


def load_config(path):
    """Read a run configuration (a run directory's ``config.json``, or that file)."""
    path = str(path)
    if os.path.isdir(path):
        path = os.path.join(path, CONFIG_FILE)
    if not os.path.exists(path):
        raise InputFormatError("configuration file not found", path=path,
                               hint="give a run directory's config.json or a JSON file with 'arch' and 'hparams'")
    try:
        with open(path) as fh:
            cfg = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"not valid JSON ({exc})", path=path,
                               hint="repair the file, or re-train the run it belongs to") from None
    if not isinstance(cfg, dict):
        raise InputFormatError("a configuration must be a JSON object", path=path)
    unknown = sorted(set(cfg) - {"arch", "hparams", "training", "data", "versions", "created", "command",
                                 "seqcnn_run", "model", "pipeline", "result", "distribute", "ensemble"})
    if unknown:
        raise InputFormatError(f"unknown configuration key(s) {', '.join(unknown)}", path=path,
                               hint="expected keys: arch, hparams, training")
    for section in ("hparams", "training", "model", "data"):
        if cfg.get(section) is not None and not isinstance(cfg[section], dict):
            raise InputFormatError(f"'{section}' must be a JSON object, not {type(cfg[section]).__name__}",
                                   path=path, hint='e.g. {"hparams": {"filters": 64}}')
    training = cfg.get("training", {}) or {}
    bad = sorted(set(training) - set(TRAIN_DEFAULTS))
    if bad:
        raise InputFormatError(f"unknown training option(s) {', '.join(bad)}", path=path,
                               hint=f"training options are {', '.join(TRAIN_DEFAULTS)}")
    return cfg


def resolve_config(ds, arch=None, hparams=None, config=None, **options):
    """Merge defaults < ``config`` (a dict or file) < explicit arguments into one run configuration.

    Parameters
    ----------
    ds : SeqDataset — the training data (task, length, outputs).
    arch : str, optional
    hparams : dict, optional — architecture hyper-parameters; strings are converted with ``coerce_param``.
    config : dict or str, optional — a previous run's config.json (or a file with ``arch``/``hparams``/``training``).
    **options — training options (``TRAIN_DEFAULTS``); ``None`` means "from config or default".

    Returns
    -------
    dict with ``arch``, ``hparams`` (complete, defaults filled in) and ``training``.
    """
    from . import models

    base = {}
    cfg_path = str(config) if isinstance(config, (str, os.PathLike)) else None
    if config is not None:
        base = load_config(config) if cfg_path else dict(config)
    arch = arch or base.get("arch") or models.DEFAULT_ARCH
    defaults = models.hyperparameters(arch)
    hp = dict(defaults)
    if base.get("arch", arch) == arch:
        for k, v in (base.get("hparams") or {}).items():
            if k not in defaults:
                raise SeqcnnError(f"configuration sets {k!r}, which architecture {arch!r} does not have",
                                  path=cfg_path, hint=f"its parameters are {', '.join(defaults)}")
            try:
                hp[k] = models.coerce_param(arch, k, v)  # a hand-written file may hold "64" or 64.5: checked alike
            except SeqcnnError as exc:
                raise SeqcnnError(str(exc), path=cfg_path) from None
    for k, v in (hparams or {}).items():
        hp[k] = models.coerce_param(arch, k, v)
    unknown = sorted(set(options) - set(TRAIN_DEFAULTS))
    if unknown:
        raise SeqcnnError(f"unknown training option(s) {', '.join(unknown)}")
    training = dict(TRAIN_DEFAULTS)
    if base.get("seqcnn_run"):
        training.update(LEGACY_TRAINING)  # a recorded run: what it did not record, it did the old way
    training.update({k: v for k, v in (base.get("training") or {}).items() if k in TRAIN_DEFAULTS})
    training.update({k: v for k, v in options.items() if v is not None})
    if training["monitor"] is None:
        training["monitor"] = "val_auprc" if ds.task == "binary" else "val_auroc"
    if training["lr"] is None:
        training["lr"] = default_lr(arch, ds.length)
    if training["batch_size"] is None:
        joint = training["strands"] == "average" and training["strand_fit"] == "joint"
        training["batch_size"] = auto_batch(len(ds.indices("train")), 2 if joint else 1)
    _check_training(training, ds)
    return {"arch": arch, "hparams": hp, "training": training}


def _check_training(t, ds):
    for name in ("epochs", "batch_size", "buffer_chunks"):
        if not isinstance(t[name], (int, np.integer)) or isinstance(t[name], bool) or t[name] < 1:
            raise SeqcnnError(f"--{name.replace('_', '-')} must be a positive integer, got {t[name]!r}")
    if not isinstance(t["patience"], (int, np.integer)) or t["patience"] < 0:
        raise SeqcnnError(f"--patience must be an integer >= 0, got {t['patience']!r}")
    if not (isinstance(t["lr"], (int, float)) and 0 < t["lr"] < 10):
        raise SeqcnnError(f"--lr must be a positive number, got {t['lr']!r}")
    if t["class_weight"] not in (None, "balanced"):
        raise SeqcnnError(f"--class-weight must be 'balanced' (or omitted), got {t['class_weight']!r}")
    if t["monitor"] not in MONITORS:
        raise SeqcnnError(f"unknown --monitor {t['monitor']!r}", hint=f"use one of {', '.join(MONITORS)}")
    if t["strands"] not in STRANDS:
        raise SeqcnnError(f"unknown --strands {t['strands']!r}", hint=f"use one of {', '.join(STRANDS)}")
    if t["stopping"] not in STOPPINGS:
        raise SeqcnnError(f"unknown --stopping {t['stopping']!r}", hint=f"use one of {', '.join(STOPPINGS)}")
    if t["strand_fit"] not in STRAND_FITS:
        raise SeqcnnError(f"unknown --strand-fit {t['strand_fit']!r}", hint=f"use one of {', '.join(STRAND_FITS)}")
    if t["lr_schedule"] not in LR_SCHEDULES:
        raise SeqcnnError(f"unknown --lr-schedule {t['lr_schedule']!r}", hint=f"use one of {', '.join(LR_SCHEDULES)}")
    if not isinstance(t["seed"], (int, np.integer)):
        raise SeqcnnError(f"--seed must be an integer, got {t['seed']!r}")
    # A wrong group must stop the run now, not the first motif verb after hours of training.
    from .jaspar_db import check_jaspar

    if t["jaspar"] == "none":
        raise SeqcnnError("--jaspar none is an option of the motif verbs, not of train",
                          hint="give the organism's group (e.g. --jaspar fungi) or leave it out (vertebrates)")
    check_jaspar(t["jaspar"])


def recorded_distribution(config_path):
    """The ``distribute`` section of a run's config.json (runs before it existed trained with ``none``)."""
    cfg = load_config(config_path) if os.path.exists(config_path) else {}
    return cfg.get("distribute") or {"strategy": "none", "replicas": 1, "workers": 1}


def prepare_out(out, force, resume):
    """Check where a run may be written; return ``(out, out.partial)`` as absolute paths.

    Refuses an existing ``out`` without ``force``, an interrupted ``out.partial`` without ``resume`` or
    ``force``, and, with ``resume``, a missing or damaged checkpoint: all before anything is written.
    """
    out = os.path.abspath(str(out).rstrip("/"))
    partial = out + ".partial"
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise SeqcnnError("output folder does not exist", path=parent, hint="create it first")
    if os.path.exists(out) and not force:
        raise OutputExistsError("already exists", path=out, hint="pass --force to replace it")
    if os.path.exists(out) and not os.path.isdir(out):
        raise SeqcnnError("exists and is not a directory", path=out, hint="choose another output name")
    if resume:
        import zipfile

        state = os.path.join(partial, CHECKPOINT_DIR, "state.json")
        if not os.path.exists(state):
            raise SeqcnnError("nothing to resume: no interrupted run found", path=partial,
                              hint="start the run without --resume")
        # Checkpoint files are replaced atomically, so only outside hands damage them; say so before training.
        try:
            with open(state) as fh:
                json.load(fh)
        except (ValueError, UnicodeDecodeError):
            raise InputFormatError("damaged checkpoint: checkpoint/state.json is not valid JSON", path=partial,
                                   hint="start again with --force") from None
        if not zipfile.is_zipfile(os.path.join(partial, CHECKPOINT_DIR, "weights.npz")):
            raise InputFormatError("damaged checkpoint: checkpoint/weights.npz is missing or not a NumPy archive "
                                   "(or the run was interrupted under an older seqcnn, which wrote last.keras)",
                                   path=partial, hint="start again with --force")
    elif os.path.exists(partial):
        if not force:
            raise OutputExistsError("an interrupted run of this output exists", path=partial,
                                    hint="pass --resume to continue it, or --force to start again")
    return out, partial


def checkpointed_epochs(out):
    """The epochs an interrupted run of ``out`` has checkpointed in ``out.partial`` (0: none, or unreadable).

    What ``--resume`` would continue after; the CLI names it when a run is stopped.
    """
    state = os.path.join(os.path.abspath(str(out).rstrip("/")) + ".partial", CHECKPOINT_DIR, "state.json")
    try:
        with open(state) as fh:
            return int(json.load(fh)["epoch"]) + 1
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def worker_out(out, resume, dist):
    """``(out, out.partial)`` for a non-chief worker: it never writes there, so only resume needs checking."""
    out = os.path.abspath(str(out).rstrip("/"))
    partial = out + ".partial"
    if resume and not os.path.exists(os.path.join(partial, CHECKPOINT_DIR, "state.json")):
        raise SeqcnnError(f"worker {dist.task} cannot see the interrupted run's checkpoint", path=partial,
                          hint="resuming a multiworker run needs the run directory on a filesystem shared by "
                               "all workers")
    return out, partial


def worker_dir(partial, resume, dist):
    """A non-chief worker's temporary run folder; with ``resume``, a copy of the chief's checkpoint."""
    import tempfile

    work = tempfile.mkdtemp(prefix=f"seqcnn-worker{dist.worker}-")
    if resume:
        shutil.copytree(os.path.join(partial, CHECKPOINT_DIR), os.path.join(work, CHECKPOINT_DIR))
    return work


def write_history(rows, path):
    """Write the per-epoch rows as ``history.csv`` (atomically)."""
    import pandas as pd

    tmp = f"{path}.tmp"
    pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, path)


def load_run(run_dir):
    """Load a finished run: ``(model, config)``; the model outputs logits.

    Raises
    ------
    InputFormatError — when ``run_dir`` is not a complete seqcnn run directory.
    """
    run_dir = str(run_dir)
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise InputFormatError("is a file, not a run directory", path=run_dir,
                               hint="give the directory written by 'seqcnn train'")
    if not os.path.isdir(run_dir):
        hint = "train one with 'seqcnn train'"
        if os.path.isdir(run_dir.rstrip("/") + ".partial"):
            hint = "its training was interrupted; continue it with 'seqcnn train ... --resume'"
        raise InputFormatError("run directory not found", path=run_dir, hint=hint)
    for name in (CONFIG_FILE, MODEL_FILE):
        if not os.path.exists(os.path.join(run_dir, name)):
            raise InputFormatError(f"not a seqcnn run directory (no {name})", path=run_dir,
                                   hint="give the directory written by 'seqcnn train'")
    cfg = load_config(run_dir)
    if "model" not in cfg or "data" not in cfg:
        raise InputFormatError("config.json lacks the 'model' and 'data' sections of a finished run", path=run_dir)
    import zipfile

    m = cfg["model"]
    missing = [k for k in ("input_length", "task", "n_outputs") if k not in m]
    if missing or not isinstance(m["input_length"], int) or m["task"] not in ("binary", "multiclass", "multilabel"):
        # Every verb reads these; without this check a damaged file ends in a KeyError traceback.
        raise InputFormatError(f"config.json: the 'model' section lacks or garbles "
                               f"{', '.join(missing) or 'input_length/task'}", path=run_dir,
                               hint="the run directory is damaged; re-train it with 'seqcnn train'")
    model_path = os.path.join(run_dir, MODEL_FILE)
    if not zipfile.is_zipfile(model_path):
        # Keras would say "File not found" for a file that exists but is not a zip.
        raise InputFormatError("model.keras is not a Keras model file (damaged or truncated)", path=run_dir,
                               hint="re-train the run")
    from . import models

    keras = import_keras()
    losses.weighted_bce()  # registers the custom loss class before loading
    try:
        model = keras.models.load_model(model_path, compile=False, custom_objects=models.custom_objects())
    except Exception as exc:  # Keras raises many types for a damaged zip/HDF5
        raise InputFormatError(f"cannot load model.keras ({' '.join(str(exc).split())[:200]})", path=run_dir,
                               hint="re-train the run") from None
    return model, cfg


def check_fits(cfg, ds, run_dir):
    """Raise :class:`ModelMismatchError` unless the run's model (``cfg``) fits ``ds``: length, task, outputs, names."""
    m = cfg["model"]
    if ds.length != m["input_length"]:
        raise ModelMismatchError(f"the model was trained on {m['input_length']} bp sequences but the data are "
                                 f"{ds.length} bp", path=ds.path,
                                 hint=f"re-encode with --length {m['input_length']} (pad mode "
                                      f"{cfg['data'].get('pad_mode', 'center')}) or train on this length")
    if ds.task != m["task"] or ds.n_outputs != m["n_outputs"]:
        raise ModelMismatchError(f"the model predicts {m['task']} with {m['n_outputs']} output(s) but the data are "
                                 f"{ds.task} with {ds.n_outputs}", path=ds.path, hint=f"use data like {run_dir}'s")
    names_model = cfg["data"].get("class_names") if m["task"] == "multiclass" else cfg["data"].get("label_names")
    names_data = ds.class_names if ds.task == "multiclass" else ds.label_names
    if m["task"] != "binary" and names_model and list(names_model) != list(names_data):
        raise ModelMismatchError(f"class/label names differ: model {names_model}, data {names_data}", path=ds.path)
