"""Replicate ensembles: K training runs of one configuration (seeds s, s+1, ...), saved as one model.

``seqcnn train --replicates K`` trains K members with :func:`seqcnn.training.train`, each a complete run
directory, and saves one Keras model whose logits are the mean of the members' logits
(:func:`seqcnn.models.replicate_average`: built-in layers only, so plain ``keras.models.load_model`` opens it
and every verb that loads ``model.keras`` through :func:`seqcnn.rundir.load_run` works on it unchanged)::

    OUT/model.keras         the ensemble: the members called on one input, their logits averaged
    OUT/config.json         the members' configuration (arch, hparams, training with the first seed, model with
                            the ensemble's parameter count, data) and an ``ensemble`` section: replicates, seeds,
                            member paths (relative to OUT)
    OUT/metrics.json        the ensemble's metrics per split, as a single run records them; ``best_epoch`` and
                            ``epochs_run`` list the members'
    OUT/plots/              the ensemble's ROC and PR curves per split
    OUT/members/seed_<s>/   member s: a complete run directory (history.csv, its own metrics and plots)

Built as ``OUT.partial`` (its config.json holds the plan until the end) and moved into place when complete.
``resume=True`` keeps the finished members, resumes the interrupted one from its checkpoint and trains the rest.
Exact ISM and window scoring of an ensemble run each member's fast path and average
(:mod:`seqcnn.exact_ism`, :mod:`seqcnn.scan_exact`).

Provides :func:`train_replicates`, :func:`resolve_replicates` (how many members a ``train`` call means:
the option, else the replayed config's or the interrupted ensemble's) and :data:`MEMBERS_DIR`.
"""

import json
import os
import shutil
import sys
import time

import numpy as np

from . import rundir
from .errors import InputFormatError, OutputExistsError, SeqcnnError
from .outputs import publish_dir, utc_now, write_json
from .rundir import CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE, MODEL_FILE, PLOTS_DIR
from .splits import SPLIT_NAMES as SPLITS

MEMBERS_DIR = "members"
STATE = os.path.join(CHECKPOINT_DIR, "state.json")   # a member's first finished epoch writes it


def _check_replicates(replicates):
    if not isinstance(replicates, (int, np.integer)) or isinstance(replicates, bool) or replicates < 1:
        raise SeqcnnError(f"--replicates must be a positive integer, got {replicates!r}",
                          hint="give the number of models to train and average, e.g. --replicates 5 (1: one model)")
    return int(replicates)


def _plan_of(path):
    """The ``ensemble`` section of a config.json (or run directory), or None (absent, or not an ensemble)."""
    if path is None:
        return None
    if isinstance(path, dict):
        return path.get("ensemble")
    cfg_path = os.path.join(str(path), CONFIG_FILE) if os.path.isdir(str(path)) else str(path)
    if not os.path.exists(cfg_path):
        return None
    return rundir.load_config(cfg_path).get("ensemble")


def resolve_replicates(replicates=None, config=None, out=None, resume=False):
    """How many members a ``train`` call trains: ``replicates`` if given, else the recorded number, else 1.

    Parameters
    ----------
    replicates : int, optional — the ``--replicates`` option.
    config : str or dict, optional — a replayed run's config.json (or its directory): an ensemble's records its K.
    out : str, optional — the output run directory; with ``resume``, an interrupted ensemble there
        (``out.partial``) gives its K, which another ``replicates`` may not change.
    resume : bool

    Returns
    -------
    int >= 1
    """
    if replicates is not None:
        replicates = _check_replicates(replicates)
    if resume and out is not None:
        plan = _plan_of(os.path.abspath(str(out).rstrip("/")) + ".partial")
        if plan is not None:
            if replicates is not None and replicates != plan["replicates"]:
                raise SeqcnnError(f"the interrupted run is an ensemble of {plan['replicates']} replicates, not "
                                  f"{replicates}", path=str(out).rstrip("/") + ".partial",
                                  hint=f"resume with --replicates {plan['replicates']} (or without it), or start "
                                       "again with --force")
            return int(plan["replicates"])
    if replicates is not None:
        return replicates
    plan = _plan_of(config)
    return int(plan["replicates"]) if plan else 1


def _base_seed(seed, config):
    """The first member's seed: ``seed``, else the config's training seed, else the default."""
    if seed is not None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise SeqcnnError(f"--seed must be an integer, got {seed!r}")
        return int(seed)
    if config is not None:
        cfg = dict(config) if isinstance(config, dict) else rundir.load_config(config)
        s = (cfg.get("training") or {}).get("seed")
        if s is not None:
            return int(s)
    return int(rundir.TRAIN_DEFAULTS["seed"])


def _finished(run_dir):
    """Whether ``run_dir`` is a complete run directory (what training.train moves into place last)."""
    return all(os.path.exists(os.path.join(run_dir, f)) for f in (CONFIG_FILE, MODEL_FILE, METRICS_FILE))


def train_replicates(data, out, replicates, seed=None, force=False, resume=False, config=None, quiet=False,
                     plots=True, n_boot=1000, command=None, **train_kwargs):
    """Train ``replicates`` models with seeds ``seed, seed + 1, ...`` and write their ensemble as run directory ``out``.

    Parameters
    ----------
    data : str — encoded HDF5 dataset (``seqcnn encode``).
    out : str — run directory to create (built as ``out.partial``; layout in the module docstring).
    replicates : int — K >= 1; 1 is a plain :func:`seqcnn.training.train` run (no members folder).
    seed : int, optional — the first member's seed [default: the config's, else 0].
    force : bool — replace an existing ``out`` (and an interrupted ``out.partial``).
    resume : bool — continue ``out.partial``: finished members are kept, an interrupted one resumes.
    config : str or dict, optional — a previous run's config.json: every member reproduces it but for the seed.
    quiet, plots, n_boot, command — as :func:`seqcnn.training.train` (given to every member; ``plots`` and
        ``n_boot`` also for the ensemble's own metrics and curves).
    **train_kwargs — the other options of :func:`seqcnn.training.train` (arch, params, epochs, ...), the same for
        every member.

    Returns
    -------
    dict — ``out``, ``config``, ``metrics`` (per split, the ensemble's), ``members`` (per member: ``seed``,
    ``path``, ``best_epoch``, ``epochs_run``, ``kept``: finished before this call), ``seconds``,
    ``records_read``, ``notes``, ``chief`` (True).
    """
    from . import models, training
    from .readers import sha256_file
    from .store import open_dataset

    t0 = time.time()
    replicates = _check_replicates(replicates)
    if replicates == 1:
        return training.train(data, out, config=config, seed=seed, force=force, resume=resume, quiet=quiet,
                              plots=plots, n_boot=n_boot, command=command, **train_kwargs)
    if train_kwargs.get("strategy") == "multiworker":
        raise SeqcnnError("--replicates does not combine with --strategy multiworker",
                          hint="train the replicates with --strategy none or mirrored")
    open_dataset(data).close()    # a missing or damaged data file: said before anything is written
    out = os.path.abspath(str(out).rstrip("/"))
    partial = out + ".partial"
    base = _base_seed(seed, config)
    seeds = [base + i for i in range(replicates)]
    names = [f"seed_{s}" for s in seeds]
    if resume:
        if os.path.exists(out) and not force:
            raise OutputExistsError("already exists", path=out, hint="pass --force to replace it")
        plan = _plan_of(partial) if os.path.isdir(partial) else None
        if plan is None:
            raise SeqcnnError("nothing to resume: no interrupted ensemble found", path=partial,
                              hint="start the run without --resume")
        if plan["replicates"] != replicates or (seed is not None and plan["seeds"] != seeds):
            raise SeqcnnError(f"the interrupted ensemble trains {plan['replicates']} replicates with seeds "
                              f"{plan['seeds']}", path=partial,
                              hint="resume with the same --replicates and --seed, or start again with --force")
        seeds, names = list(plan["seeds"]), [f"seed_{s}" for s in plan["seeds"]]
    else:
        rundir.prepare_out(out, force, False)   # the same refusals as a single run, before anything is written
        if os.path.exists(partial):
            shutil.rmtree(partial)               # prepare_out allowed it: --force
        os.mkdir(partial)
        os.mkdir(os.path.join(partial, MEMBERS_DIR))
    rel = [os.path.join(MEMBERS_DIR, n) for n in names]
    section = {"replicates": replicates, "seeds": seeds, "members": rel,
               "combine": "mean of the members' logits (keras Average)"}
    if not resume:
        # the plan: what --resume continues (and a later train --resume without --replicates recognises)
        write_json({"ensemble": section, "command": command or "", "created": utc_now()},
                   os.path.join(partial, CONFIG_FILE))

    sha = sha256_file(str(data))
    results, notes = [], []
    try:
        _train_members(data, partial, seeds, rel, sha, config, quiet, plots, n_boot, command, train_kwargs,
                       results, notes)
    except SeqcnnError:
        if not resume and not any(os.path.exists(os.path.join(partial, r + x, f)) for r in rel
                                  for x, f in (("", MODEL_FILE), (".partial", STATE))):
            shutil.rmtree(partial, ignore_errors=True)    # bad input, nothing trained: no partial output left
        raise

    loaded = [rundir.load_run(os.path.join(partial, r)) for r in rel]
    cfgs = [c for _, c in loaded]
    def fit(c):
        # the jitter a member trained with belongs here too: a resumed ensemble must not mix shifted members
        return (c["model"]["input_length"], c["model"]["task"], c["model"]["n_outputs"], c["data"]["sha256"],
                (c["data"].get("jitter") or {}).get("used", 0))

    for r, c in zip(rel[1:], cfgs[1:]):
        if fit(c) != fit(cfgs[0]):
            raise InputFormatError(f"member {r} does not fit member {rel[0]} (length, task, outputs, data or "
                                   "jitter)",
                                   path=partial, hint="start again with --force")
    ens = models.replicate_average([m for m, _ in loaded], names=names)
    cfg = {k: v for k, v in cfgs[0].items() if k not in ("ensemble",)}
    cfg["model"] = {**cfg["model"], "n_params": int(ens.count_params())}
    cfg["ensemble"] = section
    cfg["created"] = utc_now()
    cfg["command"] = command or ""

    metrics, ds = _ensemble_metrics(ens, cfg, data, n_boot, os.path.join(partial, PLOTS_DIR) if plots else None)
    metrics["best_epoch"] = [r["best_epoch"] for r in results]
    metrics["epochs_run"] = [r["epochs_run"] for r in results]
    metrics["monitor"] = _read_metrics(os.path.join(partial, rel[0])).get("monitor")
    write_json(metrics, os.path.join(partial, METRICS_FILE))
    ens.save(os.path.join(partial, MODEL_FILE))
    write_json(cfg, os.path.join(partial, CONFIG_FILE))   # last: the plan becomes the finished run's config
    try:
        publish_dir(partial, out, force)
    except OutputExistsError:
        raise OutputExistsError(f"appeared while this ensemble was training (another command wrote it); the "
                                f"finished ensemble is kept in {os.path.basename(partial)}", path=out,
                                hint="move the folder by hand, or rerun with --force") from None
    if any(r["kept"] for r in results):
        notes.append(f"kept {sum(r['kept'] for r in results)} replicate(s) finished before the interruption")
    return {"out": out, "config": cfg, "metrics": metrics, "members": results, "seconds": round(time.time() - t0, 1),
            "records_read": ds["n"], "notes": notes, "chief": True, "best_epoch": metrics["best_epoch"],
            "in_memory": None}


def _train_members(data, partial, seeds, rel, sha, config, quiet, plots, n_boot, command, train_kwargs, results,
                   notes):
    """Train, keep (finished) or resume (checkpointed) each member in ``partial``; append to ``results``, ``notes``."""
    from . import training

    replicates = len(seeds)
    for i, (s, r) in enumerate(zip(seeds, rel)):
        member = os.path.join(partial, r)
        kept = _finished(member)
        if kept:
            cfg_m = rundir.load_config(member)
            if cfg_m["data"]["sha256"] != sha:
                raise SeqcnnError(f"finished member {r} was trained on another data file", path=str(data),
                                  hint="resume with the same data, or start again with --force")
            if train_kwargs.get("jitter") is None:
                # The members still to train crop as the finished ones did (resumed without --jitter).
                train_kwargs = {**train_kwargs, "jitter": int((cfg_m["data"].get("jitter") or {}).get("used", 0))}
            if not quiet:
                print(f"seqcnn: replicate {i + 1}/{replicates} (seed {s}): finished earlier, kept", file=sys.stderr)
            m = _read_metrics(member)
            results.append({"seed": s, "path": r, "best_epoch": m.get("best_epoch"),
                            "epochs_run": m.get("epochs_run"), "kept": True})
            continue
        again = rundir.checkpointed_epochs(member) > 0
        if not quiet:
            print(f"seqcnn: replicate {i + 1}/{replicates} (seed {s}): "
                  + ("resuming its interrupted training" if again else "training"), file=sys.stderr)
        # A member interrupted before its first checkpoint has nothing to resume: it starts again (force).
        res = training.train(data, member, config=None if again else config, seed=s, resume=again,
                             force=not again and os.path.exists(member + ".partial"), quiet=quiet, plots=plots,
                             n_boot=n_boot, command=command, **train_kwargs)
        notes += [n for n in res.get("notes", ()) if n not in notes]   # the data's advice, said once
        results.append({"seed": s, "path": r, "best_epoch": res["best_epoch"],
                        "epochs_run": res["metrics"]["epochs_run"], "kept": False})


def _read_metrics(run_dir):
    """A finished run directory's metrics.json."""
    with open(os.path.join(run_dir, METRICS_FILE)) as fh:
        return json.load(fh)


def _ensemble_metrics(model, cfg, data, n_boot, plot_dir):
    """The ensemble's metrics on every non-empty split (as a single run records them), and its curves to ``plot_dir``.

    Returns
    -------
    (metrics dict per split, {"n": records in the file})
    """
    from . import losses
    from .feeding import Forward, Source
    from .metrics import compute_metrics, curve_sets, link
    from .store import open_dataset

    tr = cfg["training"]
    with open_dataset(data) as ds:
        task = ds.task
        names = ds.class_names if task == "multiclass" else ds.label_names
        idx = {s: ds.indices(s) for s in SPLITS}
        # the weighted loss of the members' training, as training.train records it
        weights = losses.class_weights(task, ds.y[idx["train"]]) if tr.get("class_weight") == "balanced" else {}
        fwd = Forward(model, ds.length)
        metrics, curves = {}, {}
        for split in SPLITS:
            sel = idx[split]
            if len(sel) == 0:
                continue
            logits = fwd(Source(ds).ordered(sel, 1024))
            prob = link(task, logits)
            metrics[split] = compute_metrics(task, ds.y[sel], prob, names=names, n_boot=n_boot, seed=tr["seed"])
            metrics[split]["loss"] = losses.loss_numpy(task, ds.y[sel], logits, weights.get("pos_weight"))
            curves[split] = (ds.y[sel], prob)
        n = int(ds.n)
    if plot_dir is not None:
        from . import plots

        os.makedirs(plot_dir, exist_ok=True)
        for split, (y, prob) in curves.items():
            sets = curve_sets(task, y, prob, names)
            plots.roc_curves(sets, os.path.join(plot_dir, f"roc_{split}.png"), title=f"ROC ({split}, ensemble)")
            plots.pr_curves(sets, os.path.join(plot_dir, f"pr_{split}.png"),
                            title=f"Precision-recall ({split}, ensemble)")
    return metrics, {"n": n}
