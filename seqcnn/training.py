"""The fit loop: train a model on a dataset file and write its run directory.

Provides :func:`train` (build the model, feed it with :mod:`seqcnn.feeding`, early-stop
on the validation split, checkpoint every epoch for ``resume``, write metrics and figures,
move the finished run into place; layout in :mod:`seqcnn.rundir`) and
:func:`set_determinism`. Distribution over devices is :mod:`seqcnn.distribute`; metrics
are :mod:`seqcnn.metrics`; scoring a finished run is :mod:`seqcnn.scoring`.
"""

import json
import math
import os
import shutil
import sys
import time

import numpy as np

from . import feeding, losses, rundir
from ._tf import import_keras, import_tf
from .distribute import STRATEGIES, Distribution, cluster_role, multiworker_fit_fixes
from .errors import InputFormatError, OutputExistsError, SeqcnnError
from .metrics import compute_metrics, curve_sets, link
from .outputs import publish_dir, utc_now, write_json
from .rundir import CHECKPOINT_DIR, CONFIG_FILE, HISTORY_FILE, METRICS_FILE, MODEL_FILE, PLOTS_DIR
from .splits import SPLIT_NAMES as SPLITS


def set_determinism(seed):
    """Seed Python, NumPy, TensorFlow and Keras, and make TensorFlow ops deterministic (process-wide)."""
    keras, tf = import_keras(), import_tf()
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def train(data, out, arch=None, params=None, config=None, *, epochs=None, batch_size=None, lr=None, patience=None,
          seed=None, class_weight=None, rc_augment=None, monitor=None, buffer_chunks=None, memory_budget_mb=1024,
          resume=False, force=False, quiet=False, plots=True, n_boot=1000, callbacks=(), command=None,
          strategy=None, lr_schedule=None, strands=None, stopping=None, strand_fit=None, jaspar=None,
          jit_compile=None, jitter=None):
    """Train a model on split 0, early-stop on split 1, and write the run directory ``out``.

    Parameters
    ----------
    data : str — encoded HDF5 dataset (``seqcnn encode``).
    out : str — run directory to create (built as ``out.partial``, renamed when complete).
    arch : str, optional — architecture name (default ``models.DEFAULT_ARCH``, or the config's).
    params : dict, optional — hyper-parameters, e.g. ``{"filters": 64}`` (strings are converted).
    config : str or dict, optional — a previous run's ``config.json``: reproduces that run.
    epochs, batch_size, lr, patience, seed, class_weight, rc_augment, monitor, buffer_chunks, lr_schedule, strands,
    stopping, strand_fit
        Training options; ``None`` takes the config's value or the default in ``rundir.TRAIN_DEFAULTS``.
        ``batch_size`` is the global batch of each step, split over the replicas of ``strategy``.
        ``class_weight='balanced'`` reweights classes (binary/multiclass) or label positives (multilabel);
        ``rc_augment`` reverse-complements a random half of each training batch (labels unchanged; no effect
        on a strand-averaged model fitted jointly). ``strands='average'`` (default) trains and saves
        ``models.strand_average`` of the architecture, stepping on the average itself (``strand_fit='joint'``,
        default) or on the single-strand model inside (``'posthoc'``); ``lr_schedule='plateau'`` (default)
        halves the rate after ``rundir.PLATEAU_WAIT`` epochs without progress; ``stopping='monitor+loss'``
        (default) counts a new lowest validation loss as progress and breaks ties of the monitor by it
        (``rundir.STOPPINGS``).
        ``batch_size`` None: ``rundir.auto_batch``.
    jit_compile : bool, optional — compile the train step with XLA (recorded in config.json's ``distribute``
        section; ``None``: False, or with ``resume`` the interrupted run's setting, which another value may not
        change). Without dropout the step equals the default one up to float rounding (XLA fuses and orders
        sums differently); with dropout XLA also draws other dropout masks, so a run trains differently (not
        better or worse: on Oct4 no faster either, ``benchmarks/bench_train_time.py``).
    jitter : {None, 'auto', 'off'} or int, optional — shift augmentation on a dataset encoded with ``--jitter J``:
        each epoch every training record is cropped to the model's length at a random shift of up to ``jitter``
        bases either way from the centre (:func:`seqcnn.feeding.crop_offsets`); validation and the final metrics
        score the centred window. ``'auto'``: ``J`` (the whole stored flank); ``'off'`` or 0: the centred window
        only; ``None``: the config's recorded value (a recorded run that predates jitter: off), else ``'auto'``;
        with ``resume`` the interrupted run's, which another value may not change. Recorded in config.json's
        ``data`` section (``jitter``: the stored J and the shift used) when the dataset has J > 0; a dataset
        without jitter trains exactly as before.
    jaspar : str, optional — the organism's JASPAR taxonomic group (e.g. 'fungi'), recorded in config.json: the
        verbs that name motifs compare with it unless told otherwise. [default: the config's, or vertebrates]
    memory_budget_mb : float — load train+val into memory when their uint8 size fits, else stream chunks.
    resume : bool — continue ``out.partial`` from its last checkpoint.
    force : bool — replace an existing ``out``.
    quiet : bool — no progress output.
    plots : bool — write ``plots/``.
    n_boot : int — bootstrap resamples for the metric intervals.
    callbacks : list of keras.callbacks.Callback — extra callbacks (e.g. for notebooks).
    strategy : {'none', 'mirrored', 'multiworker'}, optional — tf.distribute strategy: one device
        (default), ``MirroredStrategy`` over the GPUs of this machine (or the logical CPUs of
        ``SEQCNN_CPU_DEVICES``), or ``MultiWorkerMirroredStrategy`` over the cluster in ``TF_CONFIG``,
        where only the chief writes ``out`` (the others work in a temporary folder they remove).
        With ``resume``, ``None`` takes the interrupted run's strategy; another one is refused.

    Returns
    -------
    dict — ``out``, ``config``, ``metrics`` (per split), ``history`` (list of per-epoch dicts), ``best_epoch``,
    ``in_memory``, ``seconds``, ``chief`` (False on the other workers of a multiworker run).
    """
    from . import models
    from .readers import sha256_file
    from .store import open_dataset

    t0 = time.time()
    recorded = None
    if resume:
        recorded = rundir.recorded_distribution(os.path.join(os.path.abspath(str(out).rstrip("/")) + ".partial",
                                                       CONFIG_FILE))
    strategy = strategy or (recorded["strategy"] if recorded else "none")
    if strategy not in STRATEGIES:
        raise SeqcnnError(f"unknown strategy {strategy!r}", hint=f"use one of {', '.join(STRATEGIES)}")
    # Read TF_CONFIG first: a bad one must stop the run before anything is written.
    dist = Distribution(strategy, cluster_role(os.environ.get("TF_CONFIG")) if strategy == "multiworker" else None)
    out, partial = rundir.prepare_out(out, force, resume) if dist.chief else rundir.worker_out(out, resume, dist)
    if recorded and recorded["strategy"] != strategy:
        raise SeqcnnError(f"the interrupted run trained with --strategy {recorded['strategy']}, not {strategy}",
                          path=partial, hint=f"resume with --strategy {recorded['strategy']} (or without "
                                             f"--strategy), or start again with --force")
    if resume and config is None:
        config = os.path.join(partial, CONFIG_FILE)
    ds = open_dataset(data)
    try:
        cfg = rundir.resolve_config(ds, arch, params, config, epochs=epochs, batch_size=batch_size, lr=lr,
                             patience=patience, seed=seed, class_weight=class_weight, rc_augment=rc_augment,
                             monitor=monitor, buffer_chunks=buffer_chunks, lr_schedule=lr_schedule, strands=strands,
                             stopping=stopping, strand_fit=strand_fit, jaspar=jaspar)
        tr = cfg["training"]
        jit = _jit_setting(jit_compile, recorded)
        # On resume the interrupted run's own record decides (a --config given with --resume is not that record).
        shift = _jitter_setting(jitter, os.path.join(partial, CONFIG_FILE) if resume else config, ds, resume)
        if ds.task not in models.TASKS:
            raise InputFormatError(f"unknown task {ds.task!r} in the dataset", path=ds.path)
        idx = {s: ds.indices(s) for s in SPLITS}
        if len(idx["train"]) == 0:
            raise SeqcnnError("the dataset has no training records (split 0)", path=ds.path,
                              hint="re-encode with a train fraction, e.g. --split 0.8,0.1,0.1, or use 'seqcnn split'")
        if len(idx["val"]) == 0 and tr["monitor"] != "val_loss" and not quiet:
            print("seqcnn: note: no validation records (split 1): no early stopping; the last epoch is kept",
                  file=sys.stderr)
        if ds.task == "binary" and len(np.unique(ds.y[idx["train"]])) < 2:
            raise SeqcnnError("the training split has a single class", path=ds.path,
                              hint="binary training needs positives and negatives")
        dist.start()
        if recorded and (recorded["replicas"], recorded["workers"]) != (dist.replicas, dist.workers):
            raise SeqcnnError(f"the interrupted run trained on {recorded['replicas']} replica(s) on "
                              f"{recorded['workers']} worker(s); {dist.replicas} on {dist.workers} are here",
                              path=partial, hint="resume on the same devices (GPUs, SEQCNN_CPU_DEVICES, TF_CONFIG "
                                                 "cluster), or start again with --force")
        set_determinism(tr["seed"])
        with dist.scope():
            model = models.build_model(cfg["arch"], ds.length, ds.task, ds.n_outputs, strands=tr["strands"],
                                       **cfg["hparams"])
        sha = sha256_file(ds.path)
        if resume:
            old = rundir.load_config(os.path.join(partial, CONFIG_FILE))
            if old["data"]["sha256"] != sha:
                raise SeqcnnError("the data file differs from the one the interrupted run used", path=ds.path,
                                  hint="resume with the same data, or start again with --force")
        # A jittered training set is held at its stored width (the crops are cut from it each epoch).
        nbytes = sum(len(idx[s]) for s in ("train", "val")) * (ds.stored_length if shift else ds.length) * 4
        in_memory = nbytes <= memory_budget_mb * 1e6
        cfg = {
            "seqcnn_run": 1,
            "arch": cfg["arch"], "hparams": cfg["hparams"], "training": tr,
            # jit_compile only when on: a default run's section stays as earlier versions wrote it (absent = off)
            "distribute": {**dist.record(), **({"jit_compile": True} if jit else {})},
            "model": {"input_length": ds.length, "task": ds.task, "n_outputs": ds.n_outputs,
                      "n_params": int(model.count_params()), "output": "logits",
                      "link": "softmax" if ds.task == "multiclass" else "sigmoid"},
            "data": {"path": os.path.abspath(ds.path), "sha256": sha, "length": ds.length,
                     "pad_mode": ds.attrs.get("pad_mode", "center"),
                     "length_given": int(ds.attrs.get("length_given", 0) or 0),
                     "allow_iupac": bool(ds.attrs.get("allow_iupac", False)), "task": ds.task,
                     "class_names": ds.class_names, "label_names": ds.label_names,
                     "splits": {s: int(len(idx[s])) for s in SPLITS},
                     # only for a jittered dataset: a plain one's section stays as earlier versions wrote it
                     **({"jitter": {"stored": ds.jitter, "used": shift}} if ds.jitter else {})},
            "versions": rundir.versions(),
            "created": utc_now(),
            "command": command or "",
        }
        # Non-chief workers run the same steps (saving can involve collective ops, so every worker must
        # save) but into a temporary folder of their own, removed at the end: only the chief writes `out`.
        work = partial if dist.chief else rundir.worker_dir(partial, resume, dist)
        try:
            with dist.scope():
                return _fit(ds, model, cfg, idx, out, work, in_memory, resume, force, quiet, plots and dist.chief,
                            n_boot, list(callbacks), t0, dist)
        finally:
            if not dist.chief:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        ds.close()


def _fit(ds, model, cfg, idx, out, partial, in_memory, resume, force, quiet, plots, n_boot, extra_callbacks, t0,
         dist=None):
    from . import models

    keras, tf = import_keras(), import_tf()
    tr = cfg["training"]
    task, L = ds.task, ds.length
    ckpt = os.path.join(partial, CHECKPOINT_DIR)
    if not resume:
        # prepare_out refused an existing RUN.partial without --force; one there now was made by another command
        # started at the same moment (a non-chief worker's folder is its own temporary one).
        if os.path.exists(partial) and (force or (dist is not None and not dist.chief)):
            shutil.rmtree(partial)
        try:
            os.mkdir(partial)
        except FileExistsError:
            raise OutputExistsError("appeared while this command was starting (another command training into the "
                                    "same output?)", path=partial, hint="let that one finish, or pass --force to "
                                                                        "start again") from None
        os.mkdir(ckpt)
    write_json(cfg, os.path.join(partial, CONFIG_FILE))

    train_idx, val_idx = idx["train"], idx["val"]
    y_train = ds.y[train_idx]
    weights = losses.class_weights(task, y_train) if tr["class_weight"] == "balanced" else {}
    cw = weights.get("class_weight")
    sample_w = np.ones(ds.n, np.float32)
    if cw:
        lookup = np.ones(int(ds.y.max()) + 1, np.float32)
        lookup[list(cw)] = list(cw.values())
        sample_w = lookup[ds.y.astype(np.int64)]
    targets = losses.targets(task, ds.y)
    shift = int((cfg["data"].get("jitter") or {}).get("used", 0))
    # A jittered run reads the stored rows (training crops them); validation reads their centred windows.
    source = feeding.Source(ds, np.concatenate([train_idx, val_idx]), in_memory=in_memory, full=shift > 0)
    bs = int(tr["batch_size"])
    steps = math.ceil(len(train_idx) / bs)

    state = {"epoch": -1, "best": None, "best_epoch": None, "wait": 0, "stopped": False, "history": [],
             "lr": float(tr["lr"])}
    # The model the optimizer steps on: the strand-averaged model itself, or (strand_fit 'posthoc') the
    # single-strand model inside it, which costs half per step; validation, checkpoints and the saved run are
    # always the averaged model.
    posthoc = tr["strands"] == "average" and tr["strand_fit"] == "posthoc"
    fitted = models.strand_inner(model) if posthoc else model
    fitted.compile(optimizer=keras.optimizers.Adam(tr["lr"]),
                   loss=losses.keras_loss(task, weights.get("pos_weight")), jit_compile=False)
    if cfg["distribute"].get("jit_compile"):
        # Keras refuses jit_compile=True while TensorFlow's op determinism is on (set_determinism), because some
        # XLA ops have no deterministic GPU kernel; this train step (convolutions, dense layers, pooling, their
        # gradients, Adam) runs the same on every call on CPU, where tests/test_training.py checks that an XLA
        # run resumes to the uninterrupted one. So the flag is set past that check.
        fitted._jit_compile = True
    # Built now, not by fit: a resumed run restores its slots (same variables, same order) before the first step.
    fitted.optimizer.build(fitted.trainable_variables)
    best_weights = None  # the monitored best epoch's weights, kept in memory and in every checkpoint
    if resume:
        with open(os.path.join(ckpt, "state.json")) as fh:
            state = json.load(fh)
        best_weights = _restore_checkpoint(os.path.join(ckpt, CHECKPOINT_FILE), model, fitted.optimizer)
        _seed_states(model, state.get("seed_states"))
        fitted.optimizer.learning_rate.assign(state.get("lr", tr["lr"]))
    start_epoch = state["epoch"] + 1

    dist = dist or Distribution("none")
    if dist.strategy is None:
        dataset = feeding.training_dataset(source, train_idx, targets, sample_w, bs, tr["seed"], tr["buffer_chunks"],
                                   tr["rc_augment"], start_epoch, tr["epochs"], jitter=shift)
    else:
        # Sharding by hand, per input pipeline (input_context): every worker runs the same generator (same
        # seed, same global batches) and keeps, of each global batch, the consecutive slices of its own
        # replicas, so each step trains on exactly the global batch of `--strategy none`. Auto-sharding does
        # not fit: FILE needs a file-based dataset and this is a from_generator; DATA has every worker run the
        # whole generator and shard its elements, which are global batches of a size tf.data cannot see
        # (None), leaving their split into per-replica batches to tf.distribute's guesswork.
        # distribute_datasets_from_function never auto-shards; OFF says so explicitly.
        def per_pipeline(ctx):
            local = ctx.num_replicas_in_sync // ctx.num_input_pipelines
            d = feeding.training_dataset(source, train_idx, targets, sample_w, bs, tr["seed"], tr["buffer_chunks"],
                                 tr["rc_augment"], start_epoch, tr["epochs"],
                                 replicas=(ctx.input_pipeline_id * local, local, ctx.num_replicas_in_sync),
                                 jitter=shift)
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
            return d.with_options(options)

        dataset = dist.strategy.distribute_datasets_from_function(per_pipeline)

    monitor = tr["monitor"]
    maximise = monitor != "val_loss"
    has_val = len(val_idx) > 0
    fwd = feeding.Forward(model, L)
    history_path = os.path.join(partial, HISTORY_FILE)

    class Monitor(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t_epoch = time.time()

        def on_epoch_end(self, epoch, logs=None):
            nonlocal best_weights
            logs = logs if logs is not None else {}
            row = {"epoch": epoch + 1, "loss": float(logs.get("loss", np.nan))}
            current = None
            if has_val:
                logits = fwd(source.ordered(val_idx, 1024))
                yv = ds.y[val_idx]
                row["val_loss"] = losses.loss_numpy(task, yv, logits, weights.get("pos_weight"))
                m = compute_metrics(task, yv, link(task, logits), n_boot=0)
                row.update({"val_auroc": m["auroc"], "val_auprc": m["auprc"], "val_accuracy": m["accuracy"],
                            "val_mcc": m["mcc"]})
                current, up = row[monitor], maximise
                if current is None:
                    # auROC/auPRC are undefined when the validation split has one class: fall back to its loss.
                    current, up = row["val_loss"], False
            row["seconds"] = round(time.time() - self.t_epoch, 2)
            row["lr"] = state["lr"]  # the rate this epoch trained with (a plateau decay applies from the next)
            for k, v in row.items():
                if k not in ("epoch", "seconds") and v is not None:
                    logs[k] = v
            with_loss = tr["stopping"] == "monitor+loss"
            improved = _improved(current, state["best"], up, row.get("val_loss") if with_loss else None,
                                 state.get("best_loss"))
            # Progress is either the monitored value or the validation loss improving: on small validation sets
            # auPRC can peak by chance in the first epochs while the loss still falls, and stopping or decaying
            # the rate there leaves the model undertrained. The best weights remain those of the monitor.
            loss = row.get("val_loss")
            new_low = _new_low(loss, state.get("min_loss"))
            if new_low:
                state["min_loss"] = loss
            progress = improved or (with_loss and new_low)
            if improved or not has_val:
                state["best"], state["best_epoch"], state["wait"] = current, epoch + 1, 0
                state["best_loss"] = row.get("val_loss")
                best_weights = model.get_weights()
            elif progress:
                state["wait"] = 0
            else:
                state["wait"] += 1
                state["stopped"] = state["wait"] >= tr["patience"]
                if tr["lr_schedule"] == "plateau" and state["wait"] % rundir.PLATEAU_WAIT == 0:
                    # Plateau decay: a smaller step where the monitored value stalls, never below lr / 64.
                    state["lr"] = max(state["lr"] * rundir.PLATEAU_FACTOR, tr["lr"] * rundir.PLATEAU_FLOOR)
                    self.model.optimizer.learning_rate.assign(state["lr"])
            state["epoch"] = epoch
            state["history"].append(row)
            rundir.write_history(state["history"], history_path)
            # The checkpoint (weights, optimizer state, best weights) makes an interrupted run resumable after
            # this epoch.
            _save_checkpoint(os.path.join(ckpt, CHECKPOINT_FILE), model, fitted.optimizer, best_weights)
            # Dropout's random stream is not part of the saved weights; keep it so a resumed run is identical.
            state["seed_states"] = _seed_states(model)
            write_json(state, os.path.join(ckpt, "state.json"))
            if state.get("stopped"):
                self.model.stop_training = True

    verbose = 0 if quiet else (1 if sys.stdout.isatty() else 2)
    if dist.name == "multiworker":
        multiworker_fit_fixes(fitted, dist.strategy)
    if start_epoch < tr["epochs"] and not state.get("stopped"):
        # steps_per_epoch with one generator over all epochs: Keras keeps one iterator, our order stays ours.
        fitted.fit(dataset, epochs=tr["epochs"], initial_epoch=start_epoch, steps_per_epoch=steps,
                   callbacks=[Monitor()] + extra_callbacks, verbose=verbose, shuffle=False)
    model.set_weights(best_weights)

    # Final metrics on every non-empty split, with bootstrap intervals.
    metrics, curves = {}, {}
    for split in SPLITS:
        sel = idx[split]
        if len(sel) == 0:
            continue
        src = source if split != "test" else feeding.Source(ds, in_memory=False)
        logits = fwd(src.ordered(sel, 1024))
        prob = link(task, logits)
        names = ds.class_names if task == "multiclass" else ds.label_names
        metrics[split] = compute_metrics(task, ds.y[sel], prob, names=names, n_boot=n_boot, seed=tr["seed"])
        metrics[split]["loss"] = losses.loss_numpy(task, ds.y[sel], logits, weights.get("pos_weight"))
        curves[split] = (ds.y[sel], prob)
    metrics["best_epoch"] = state["best_epoch"]
    metrics["monitor"] = monitor if has_val else None
    metrics["epochs_run"] = state["epoch"] + 1
    write_json(metrics, os.path.join(partial, METRICS_FILE))
    model.save(os.path.join(partial, MODEL_FILE))
    if plots:
        _training_plots(state["history"], curves, task, ds, os.path.join(partial, PLOTS_DIR), monitor)
    if dist.chief:
        # The finished run moves into place before its checkpoint goes: a kill in between leaves a complete
        # run with a stale checkpoint/ folder, not a finished .partial that only --force could clear.
        try:
            publish_dir(partial, out, force)
        except OutputExistsError:
            raise OutputExistsError(f"appeared while this run was training (another command wrote it); the finished "
                                    f"run is kept in {os.path.basename(partial)}", path=out,
                                    hint="rerun with --resume --force to replace it, or move the folder by hand"
                                    ) from None
        shutil.rmtree(os.path.join(out, CHECKPOINT_DIR), ignore_errors=True)
    else:
        shutil.rmtree(ckpt)
    return {"out": out, "config": cfg, "metrics": metrics, "history": state["history"],
            "best_epoch": state["best_epoch"], "in_memory": in_memory, "seconds": round(time.time() - t0, 1),
            "chief": dist.chief, "notes": _imbalance_notes(task, y_train, tr["class_weight"], ds),
            "records_read": int(ds.n)}


def _jit_setting(jit_compile, recorded):
    """Whether the train step is XLA-compiled: ``jit_compile`` if given, else the interrupted run's, else False.

    Recorded beside the strategy (config.json's ``distribute`` section: how the step runs, not what it fits).
    """
    before = bool((recorded or {}).get("jit_compile", False))
    if jit_compile is None:
        return before
    if not isinstance(jit_compile, (bool, np.bool_)):
        raise SeqcnnError(f"jit_compile must be True or False, got {jit_compile!r}")
    if recorded and bool(jit_compile) != before:
        # XLA draws other dropout masks: a run switched half-way would match neither setting's run
        raise SeqcnnError(f"the interrupted run trained with jit_compile={before}", hint="resume without "
                          "changing it (--xla/--no-xla), or start again with --force")
    return bool(jit_compile)


def _jitter_setting(jitter, config, ds, resume):
    """The shift (bases either way) a run crops its training windows by: ``jitter`` resolved against the dataset.

    ``None`` takes the config's recorded ``data.jitter.used`` (a recorded run without it trained unshifted: 0; a
    hand-written config or none: the dataset's whole stored flank ``ds.jitter``); with ``resume`` the interrupted
    run's, which another value may not change (its crops so far would match neither setting's run).
    """
    from .rundir import load_config

    base = (load_config(config) if isinstance(config, (str, os.PathLike)) else dict(config)) if config is not None \
        else {}
    rec = (base.get("data") or {}).get("jitter") if isinstance(base.get("data"), dict) else None
    if isinstance(rec, dict) and "used" in rec:
        recorded = rec["used"]
        if isinstance(recorded, bool) or not isinstance(recorded, int) or recorded < 0:
            raise InputFormatError(f"config data.jitter.used must be an integer >= 0, got {recorded!r}",
                                   path=str(config) if isinstance(config, (str, os.PathLike)) else None,
                                   hint="fix the config, or give --jitter auto|off|N")
    elif base.get("seqcnn_run"):
        recorded = 0  # a recorded run that predates jitter (or trained on a dataset without it) did not shift
    else:
        recorded = None
    if jitter is None:
        want = ds.jitter if recorded is None else recorded
    elif isinstance(jitter, str) and jitter in ("auto", "off"):
        want = ds.jitter if jitter == "auto" else 0
    elif isinstance(jitter, (int, np.integer)) and not isinstance(jitter, bool) and jitter >= 0:
        want = int(jitter)
    else:
        raise SeqcnnError(f"--jitter must be auto, off or an integer >= 0, got {jitter!r}",
                          hint="e.g. --jitter off (train on the centred window only)")
    if want > ds.jitter and jitter is None:
        raise SeqcnnError(f"the config records jitter {want}, but the dataset stores {ds.jitter} bases of flank on "
                          "each side", path=ds.path, hint=f"give --jitter off (or up to {ds.jitter}), or use data "
                                                         f"encoded with 'seqcnn encode ... --jitter {want}'")
    if want > ds.jitter:
        raise SeqcnnError(f"--jitter {want}: the dataset stores {ds.jitter} bases of flank on each side",
                          path=ds.path, hint=f"use --jitter {ds.jitter} or less (auto), or re-encode with "
                                             f"'seqcnn encode ... --jitter {want}'")
    if resume and jitter is not None and recorded is not None and want != recorded:
        raise SeqcnnError(f"the interrupted run trained with jitter {recorded}", hint="resume without changing "
                          "--jitter, or start again with --force")
    return int(want)


def _imbalance_notes(task, y, class_weight, ds):
    """Advice when the training classes are imbalanced (rarest < 1/3 of the commonest) and not reweighted.

    Unweighted training on, e.g., 1 bound : 10 unbound peaks ranks well (auROC/auPRC) but its 0.5-threshold
    calls (accuracy, MCC, predict's class column) lean to the majority, which users read as a broken model.
    """
    if class_weight is not None or task == "multilabel" or len(y) == 0:
        return []
    counts = np.bincount(np.asarray(y, np.int64))
    names = ds.class_names if task == "multiclass" else ["0", "1"]
    present = [(int(c), names[i] if i < len(names) else str(i)) for i, c in enumerate(counts) if c > 0]
    if len(present) < 2:
        return []
    (lo, lo_name), (hi, hi_name) = min(present), max(present)
    if lo * 3 >= hi:
        return []
    return [f"training classes are imbalanced ({lo_name}: {lo}, {hi_name}: {hi}); auROC/auPRC are unaffected, "
            "but 0.5-threshold calls (accuracy, MCC, predicted class) lean to the majority: consider "
            "--class-weight balanced"]


def _improved(current, best, up, loss=None, best_loss=None):
    """Whether an epoch's monitored value ``current`` beats ``best`` (higher if ``up``); ties go to the lower loss.

    A tie matters: auPRC or auROC reach 1.0 on small validation splits within a few epochs, and without the
    tie-break the first epoch at the ceiling is kept and training stops there, undertrained.
    """
    if current is None:
        return False
    if best is None or (current > best if up else current < best):
        return True
    return current == best and loss is not None and best_loss is not None and loss < best_loss


def _new_low(loss, min_loss):
    """Whether the validation ``loss`` is below every earlier one (``min_loss``, None before the first epoch)."""
    return loss is not None and (min_loss is None or loss < min_loss)


CHECKPOINT_FILE = "weights.npz"


def _save_checkpoint(path, model, optimizer, best):
    """Write the model's weights, the optimizer's variables and the ``best`` weights to one ``.npz`` (atomically).

    One uncompressed archive of plain arrays: 2 ms for the default deepbind where ``model.save`` of a ``.keras``
    file plus ``save_weights`` took 41 ms, a third of an 800-sequence epoch (``benchmarks/bench_checkpoint.py``).
    """
    arrays = {f"model/{i}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"optimizer/{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
    arrays.update({f"best/{i}": w for i, w in enumerate(best)})
    tmp = path[: -len(".npz")] + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # a kill mid-write leaves the previous epoch's checkpoint whole


def _restore_checkpoint(path, model, optimizer):
    """Load :func:`_save_checkpoint`'s file into ``model`` and the built ``optimizer``; return the best weights."""
    with np.load(path) as z:
        def part(name):
            return [z[f"{name}/{i}"] for i in range(sum(k.startswith(name + "/") for k in z.files))]

        model.set_weights(part("model"))
        for v, value in zip(optimizer.variables, part("optimizer"), strict=True):
            v.assign(value)
        return part("best")


def _seed_states(model, states=None):
    """Get (``states`` None) or set the states of the model's random seed generators (dropout), by layer name."""
    def walk(m):
        # recursive: a strand-averaged model's dropout lives in the single-strand model inside it
        for layer in m.layers:
            yield layer
            if hasattr(layer, "layers"):
                yield from walk(layer)

    gens = {f"{layer.name}/{i}": g for layer in walk(model)
            for i, g in enumerate(getattr(layer, "_seed_generators", None) or [])}
    if states is None:
        return {k: np.asarray(g.state.numpy()).tolist() for k, g in gens.items()}
    for k, v in states.items():
        if k in gens:
            gens[k].state.assign(np.asarray(v, dtype=gens[k].state.dtype))
    return states


def _training_plots(history, curves, task, ds, plot_dir, monitor):
    from . import plots

    os.makedirs(plot_dir, exist_ok=True)
    plots.training_curves(history, os.path.join(plot_dir, "training_curves.png"), monitor=monitor)
    names = ds.class_names if task == "multiclass" else ds.label_names
    for split, (y, prob) in curves.items():
        sets = curve_sets(task, y, prob, names)
        plots.roc_curves(sets, os.path.join(plot_dir, f"roc_{split}.png"), title=f"ROC ({split})")
        plots.pr_curves(sets, os.path.join(plot_dir, f"pr_{split}.png"), title=f"Precision-recall ({split})")
