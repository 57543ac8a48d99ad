"""Hyper-parameter search for ``seqcnn train``: Optuna's TPE sampler and median pruner over an architecture's
hyper-parameters and the learning rate, every trial a normal run directory.

The objective is the best validation value of the monitored metric (split 1, as early stopping sees it);
the test split is never read for selection, so the best trial's test metrics stay an honest estimate.
The study lives in ``TUNE_DIR/study.db`` (SQLite): an interrupted search continues with ``resume=True``.

Layout of ``TUNE_DIR``::

    study.db          the Optuna study (every trial, its parameters, per-epoch values, state)
    trials/NNN/       each trial's run directory, as 'seqcnn train' writes it
    best -> trials/N  the best finished trial (a relative symlink): use it as any run directory
    trials.csv        one row per trial: number, state, value, best epoch, seconds, parameters
    summary.json      the search: data, monitor, direction, counts per state, the best trial
    plots/tune_history.png   objective per trial and the running best, beside each parameter's importance
"""

import os
import shutil
import time

from .errors import OutputExistsError, SeqcnnError
from .outputs import write_json

STUDY_FILE = "study.db"
SAMPLERS = ("tpe", "random")
# Random trials before TPE models the space: Optuna's default of 10 is half of a typical 20-trial budget (at 15
# trials on GATA3, TPE's best was one of its 10 random starts, the same trial random search found).
TPE_STARTUP = 5

# Per architecture: hyper-parameter → ("int", low, high, step) | ("log", low, high) | ("float", low, high)
# | ("cat", choices). Ranges around each architecture's published shape; the learning rate is searched for all.
SPACES = {
    "deepbind": {"filters": ("cat", [32, 64, 128, 256]), "kernel_size": ("int", 8, 28, 2),
                 "dense_units": ("cat", [0, 16, 32, 64]), "dropout": ("float", 0.0, 0.6),
                 "global_average": ("cat", [True, False])},
    "zeng": {"filters": ("cat", [32, 64, 128, 256]), "kernel_size": ("int", 8, 28, 2),
             "pooling": ("cat", ["global", "local"]), "dense_units": ("cat", [16, 32, 64]),
             "dropout": ("float", 0.0, 0.6)},
    "primer": {"filters": ("cat", [16, 32, 64, 128]), "kernel_size": ("int", 6, 24, 2),
               "pool_size": ("cat", [2, 4, 8]), "dense_units": ("cat", [16, 32, 64])},
    "basset": {"dropout": ("float", 0.0, 0.5)},
}
TRAINING_SPACE = {"lr": ("log", 3e-4, 1e-2)}


def _suggest(trial, name, spec):
    kind = spec[0]
    if kind == "int":
        return trial.suggest_int(name, spec[1], spec[2], step=spec[3])
    if kind == "log":
        return trial.suggest_float(name, spec[1], spec[2], log=True)
    if kind == "float":
        return trial.suggest_float(name, spec[1], spec[2])
    return trial.suggest_categorical(name, spec[1])


def suggest(trial, archs, length=None):
    """One trial's ``(arch, hparams, training options)`` from the search space of ``archs``.

    ``length`` (the sequence length) caps the kernel sizes searched: a kernel longer than the input cannot run.
    """
    arch = archs[0] if len(archs) == 1 else trial.suggest_categorical("arch", list(archs))
    # Parameter names carry the architecture when several are searched: TPE models each one's space apart.
    prefix = f"{arch}." if len(archs) > 1 else ""
    space = dict(SPACES[arch])
    spec = space.get("kernel_size")
    if length is not None and spec is not None and spec[0] == "int" and spec[2] > length // 2:
        low = min(spec[1], max(1, length // 2))
        space["kernel_size"] = ("int", low, max(low, length // 2), 1 if low == length // 2 else spec[3])
    hp = {k: _suggest(trial, prefix + k, spec) for k, spec in space.items()}
    opts = {k: _suggest(trial, k, spec) for k, spec in TRAINING_SPACE.items()}
    return arch, hp, opts


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _pruner(pruning):
    """Median pruning: a trial stops when its value at an epoch is below the median of earlier trials there.

    Not before 5 finished trials (the median needs them) nor before epoch 6 (early epochs rank models badly).
    """
    optuna = _optuna()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5) if pruning else optuna.pruners.NopPruner()


def _check(data, out, archs, n_trials, resume, force, sampler):
    """Refuse a bad request before anything is written; returns the split sizes, train's monitor and the length."""
    from .models import ARCHITECTURES
    from .rundir import resolve_config
    from .store import open_dataset

    unknown = [a for a in archs if a not in SPACES]
    if unknown:
        raise SeqcnnError(f"unknown architecture(s) {', '.join(unknown)} for tune",
                          hint=f"use one or more of {', '.join(a for a in ARCHITECTURES if a in SPACES)}")
    if n_trials < 1:
        raise SeqcnnError(f"--trials must be at least 1, got {n_trials}")
    if sampler not in SAMPLERS:
        raise SeqcnnError(f"unknown sampler {sampler!r}", hint=f"use one of {', '.join(SAMPLERS)}")
    with open_dataset(data) as ds:
        n = {s: len(ds.indices(s)) for s in ("train", "val", "test")}
        monitor, length = resolve_config(ds)["training"]["monitor"], ds.length  # train's default for the task
    if n["val"] == 0:
        raise SeqcnnError("tune selects by the validation split and this dataset has none", path=data,
                          hint="re-encode with a validation split, e.g. 'seqcnn encode ... --split 0.8,0.1,0.1'")
    if n["train"] == 0:
        raise SeqcnnError("the dataset has no training split", path=data, hint="re-encode with --split")
    exists = os.path.exists(os.path.join(out, STUDY_FILE))
    if os.path.exists(out) and not resume and not force:
        raise OutputExistsError("already exists", path=out,
                                hint="pass --resume to continue its study, or --force to start again")
    if resume and not exists:
        raise SeqcnnError("no study to resume", path=os.path.join(out, STUDY_FILE),
                          hint="start one without --resume")
    return n, monitor, length


def tune(data, out, archs=("deepbind",), n_trials=20, timeout=None, epochs=None, seed=0, resume=False, force=False,
         quiet=False, pruning=True, callback=None, sampler="tpe"):
    """Search hyper-parameters by training ``n_trials`` runs of ``seqcnn train`` on ``data``.

    Parameters
    ----------
    data : str — a seqcnn dataset with train (0) and validation (1) splits.
    out : str — the tune folder (layout in the module docstring).
    archs : sequence of str — architectures to search; more than one makes the architecture a parameter.
    n_trials : int — finished trials (complete or pruned) the study should hold; a resumed study runs the rest.
    timeout : float, optional — seconds after which no new trial starts.
    epochs : int, optional — each trial's epoch limit (``train``'s default otherwise).
    seed : int — the sampler's seed and every trial's training seed: the same call gives the same study.
    resume : bool — continue the study in ``out``; trials an interruption left running are marked failed.
    force : bool — replace an existing ``out``.
    pruning : bool — stop trials below the median of earlier trials at the same epoch (after 5 trials).
    callback : callable, optional — ``callback(epoch, logs)`` inside every trial (tests and notebooks).
    sampler : {'tpe', 'random'} — Optuna's TPE sampler, or random search (the baseline it is measured against).

    Returns
    -------
    dict — ``summary`` (as in summary.json), ``trials`` (pandas.DataFrame, as in trials.csv), ``best`` (the
    best trial's run directory).
    """
    from . import plots, training
    from ._tf import import_keras

    out = os.path.abspath(str(out).rstrip("/"))
    archs = tuple(archs)
    n, monitor, length = _check(data, out, archs, int(n_trials), resume, force, sampler)
    optuna = _optuna()
    if force and not resume and os.path.exists(out):
        shutil.rmtree(out) if os.path.isdir(out) and not os.path.islink(out) else os.remove(out)
    os.makedirs(os.path.join(out, "trials"), exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{os.path.join(out, STUDY_FILE)}")
    direction = "minimize" if monitor == "val_loss" else "maximize"
    chooser = (optuna.samplers.TPESampler(n_startup_trials=TPE_STARTUP, seed=seed) if sampler == "tpe"
               else optuna.samplers.RandomSampler(seed=seed))
    study = optuna.create_study(study_name="seqcnn", storage=storage, direction=direction, load_if_exists=resume,
                                sampler=chooser, pruner=_pruner(pruning))
    TrialState = optuna.trial.TrialState
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        # Left running by an interruption: its run never finished. Failed trials are not counted as done.
        storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
    for name in os.listdir(os.path.join(out, "trials")):
        if name.endswith(".partial"):  # an interrupted trial's checkpoint: the trial failed, a new one replaces it
            shutil.rmtree(os.path.join(out, "trials", name), ignore_errors=True)
    keras = import_keras()

    def objective(trial):
        arch, hp, opts = suggest(trial, archs, length)
        pruned = []

        class Report(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                if callback is not None:
                    callback(epoch, logs)
                value = logs.get(monitor)
                if value is None:
                    return
                trial.report(float(value), epoch)
                if trial.should_prune():
                    pruned.append(epoch + 1)
                    self.model.stop_training = True

        run = os.path.join(out, "trials", f"{trial.number:03d}")
        r = training.train(data, run, arch=arch, params=hp, epochs=epochs, seed=seed, force=True, quiet=True,
                           plots=False, n_boot=0, callbacks=[Report()], **opts)
        best = r["history"][r["best_epoch"] - 1]
        value = best.get(monitor)
        if value is None:  # one validation class: train selected by loss, and so does the study
            value = best["val_loss"] if direction == "minimize" else -best["val_loss"]
        trial.set_user_attr("run", os.path.relpath(run, out))
        trial.set_user_attr("best_epoch", r["best_epoch"])
        trial.set_user_attr("epochs_run", len(r["history"]))
        trial.set_user_attr("seconds", r["seconds"])
        trial.set_user_attr("arch", arch)
        trial.set_user_attr("best_value", float(value))  # for a pruned trial, the best it reached before it stopped
        if pruned:
            trial.set_user_attr("pruned_at_epoch", pruned[0])
            raise optuna.TrialPruned()
        return float(value)

    def done():
        return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))

    t0 = time.time()
    while done() < n_trials:
        left = None if timeout is None else timeout - (time.time() - t0)
        if left is not None and left <= 0:
            break
        study.optimize(objective, n_trials=1, catch=())
        if not quiet:
            t = study.trials[-1]
            print(f"trial {t.number}: {t.state.name.lower()}"
                  + (f", {monitor} {t.value:.4f}" if t.value is not None else "")
                  + f" ({t.user_attrs.get('seconds', 0):.0f} s) {t.params}", flush=True)
    return _write(study, out, data, monitor, direction, n, time.time() - t0, plots)


IMPORTANCE_MIN_TRIALS = 3


def importance(study):
    """Each parameter's share of the objective's variance over the complete trials (fANOVA, seeded), or ``None``.

    Parameters searched in only some trials (another architecture's, in a study over several) are left out:
    fANOVA needs every trial to have a value. ``None`` below ``IMPORTANCE_MIN_TRIALS`` complete trials, where
    every trial reached the same value, or where no parameter varies.

    Returns
    -------
    dict or None — parameter name → importance, summing to 1, largest first.
    """
    optuna = _optuna()
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < IMPORTANCE_MIN_TRIALS or len({t.value for t in complete}) < 2:
        return None  # too few trials, or an objective that never moved: no variance to share out
    shared = set.intersection(*(set(t.params) for t in complete))
    varying = sorted(k for k in shared if len({repr(t.params[k]) for t in complete}) > 1)
    if not varying:
        return None
    imp = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0), params=varying)
    return {k: float(v) for k, v in imp.items()}


def _write(study, out, data, monitor, direction, n, seconds, plots):
    import numpy as np
    import pandas as pd

    from optuna.trial import TrialState

    rows = []
    for t in study.trials:
        rows.append({"number": t.number, "state": t.state.name.lower(), "value": t.value,
                     "best_value": t.user_attrs.get("best_value"),
                     "arch": t.user_attrs.get("arch"), "best_epoch": t.user_attrs.get("best_epoch"),
                     "epochs_run": t.user_attrs.get("epochs_run"),
                     "pruned_at_epoch": t.user_attrs.get("pruned_at_epoch"),
                     "seconds": t.user_attrs.get("seconds"), "run": t.user_attrs.get("run"),
                     **{f"param_{k}": v for k, v in t.params.items()}})
    table = pd.DataFrame(rows)
    for col in ("best_epoch", "epochs_run", "pruned_at_epoch"):
        if col in table:
            table[col] = table[col].astype("Int64")  # integers, blank where a trial has none
    table.to_csv(os.path.join(out, "trials.csv.tmp"), index=False)
    os.replace(os.path.join(out, "trials.csv.tmp"), os.path.join(out, "trials.csv"))
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    counts = {s: int((table["state"] == s).sum()) if len(table) else 0 for s in ("complete", "pruned", "fail")}
    summary = {"data": os.path.abspath(data), "monitor": monitor, "direction": direction,
               "selection": "best validation value of the monitor (split 1); the test split is not used",
               "records": n, "trials": counts, "seconds": round(seconds, 1), "best": None}
    best_dir = None
    if complete:
        b = study.best_trial
        best_dir = os.path.join(out, b.user_attrs["run"])
        summary["best"] = {"number": b.number, "value": b.value, "params": b.params, "run": b.user_attrs["run"]}
        link = os.path.join(out, "best")
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(b.user_attrs["run"], link)
    summary["importance"] = importance(study)
    write_json(summary, os.path.join(out, "summary.json"))
    values = np.array([np.nan if v is None else v for v in table["best_value"]]) if len(table) else np.array([])
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    plots.tune_history(values, list(table["state"]) if len(table) else [], monitor, direction == "maximize",
                       os.path.join(out, "plots", "tune_history.png"), importance=summary["importance"])
    return {"summary": summary, "trials": table, "best": best_dir}
