"""``seqcnn models``, ``train``, ``tune``, ``evaluate``, ``predict`` and ``export``."""

import json
import os
import sys
from functools import partial

import click

from ..errors import SeqcnnError
from . import Terminated, main, _command_line, _is_chief, _metrics_line, _notes, _parse_params, _progress, _say


@main.command("models")
@click.option("--length", type=int, default=200, show_default=True, help="Sequence length for the parameter counts.")
@click.option("--outputs", type=int, default=1, show_default=True, help="Model outputs (1 = binary).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def models_cmd(length, outputs, as_json):
    """List the architectures, their hyper-parameters (with defaults) and parameter counts."""
    from ..models import describe

    if length < 1 or outputs < 1:
        raise SeqcnnError("--length and --outputs must be positive")
    rows = describe(length, outputs)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=list))
        return
    click.echo(f"architectures (parameter counts for {length} bp, {outputs} output(s)):")
    for r in rows:
        n = f"{r['n_params']:,}" if isinstance(r["n_params"], int) else r["n_params"]
        click.echo(f"  {r['name']}{' (default)' if r['default'] else ''}: {n} parameters — {r['summary']}")
        hp = ", ".join(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in r["hparams"].items())
        click.echo(f"      {hp}")
    click.echo("set hyper-parameters with: seqcnn train DATA.h5 -o RUN --arch NAME --param NAME=VALUE ...")


@main.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Run directory to create.")
@click.option("--arch", help="Architecture (see 'seqcnn models'). [default: deepbind, or the --config's]")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Architecture hyper-parameter; repeat, e.g. --param filters=64 --param kernel_size=19.")
@click.option("--config", "config", type=click.Path(dir_okay=True),
              help="A run's config.json (or its run directory): reproduce it; other options override it.")
@click.option("--epochs", type=int, help="Maximum epochs. [default: 50]")
@click.option("--batch-size", type=int,
              help="Global batch size: each step's batch, split over the --strategy replicas. [default: from the n "
                   "training records, the largest power of two <= n/100 (n/50 with --strands single or "
                   "--strand-fit posthoc: one strand per sequence and step), clipped to 32..128]")
@click.option("--lr", type=float, help="Adam learning rate. [default: 0.003 for deepbind on inputs up to 500 bp, "
              "otherwise 0.001]")
@click.option("--lr-schedule", type=click.Choice(["plateau", "constant"]),
              help="plateau: halve the rate after 3 epochs without improvement (down to lr/64). [default: plateau]")
@click.option("--strands", type=click.Choice(["average", "single"]),
              help="average: the saved model averages its logits over the sequence and its reverse complement, "
                   "so every verb scores both strands. [default: average]")
@click.option("--strand-fit", type=click.Choice(["joint", "posthoc"]),
              help="How an --strands average model is fitted: joint: steps on the average itself; posthoc: steps on "
                   "the single-strand model (a random strand per sequence, --rc-augment), half the cost per step "
                   "but less stable on long inputs. Validation and the saved model average both strands either "
                   "way. [default: joint]")
@click.option("--patience", type=int, help="Stop after this many epochs without progress. [default: 6]")
@click.option("--stopping", type=click.Choice(["monitor+loss", "monitor"]),
              help="What counts as progress: monitor+loss: the monitored metric or a new lowest validation loss "
                   "(ties of the metric go to the lower loss); monitor: the metric only. [default: monitor+loss]")
@click.option("--monitor", type=click.Choice(["val_auprc", "val_auroc", "val_accuracy", "val_mcc", "val_loss"]),
              help="Early-stopping metric on split 1. [default: val_auprc (binary), val_auroc otherwise]")
@click.option("--seed", type=int, help="Seed of weights, batch order and augmentation. [default: 0]")
@click.option("--class-weight", type=click.Choice(["balanced"]), help="Reweight classes (or label positives).")
@click.option("--rc-augment/--no-rc-augment", default=None,
              help="Reverse-complement a random half of each training batch. [default: on]")
@click.option("--memory-budget", type=float, default=1024, show_default=True,
              help="MB: load train+val into memory when they fit, else stream chunks (same result).")
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Resamples for metric intervals.")
@click.option("--strategy", type=click.Choice(["none", "mirrored", "multiworker"]),
              help="tf.distribute: none (one device), mirrored (this machine's GPUs), multiworker (the cluster "
                   "in TF_CONFIG; only the chief writes OUTPUT). [default: none, or the interrupted run's]")
@click.option("--jaspar", metavar="GROUP",
              help="The organism's JASPAR taxonomic group (vertebrates, fungi, plants, insects, ...), recorded in "
                   "config.json: motifs, discover, variants and report name motifs from it. [default: vertebrates, "
                   "or the --config's]")
@click.option("--replicates", type=int,
              help="Train K models (seeds --seed, --seed+1, ...; each a run directory in OUTPUT/members/) and save "
                   "one model whose logits are their mean; every verb uses it as it is. [default: 1, or the "
                   "--config's / interrupted run's]")
@click.option("--xla/--no-xla", "jit_compile", default=None,
              help="Compile the train step with XLA (dropout then draws other masks; not faster on CPU here). "
                   "[default: off, or the interrupted run's]")
@click.option("--jitter", metavar="auto|off|N",
              help="Shift augmentation on data encoded with --jitter J: each epoch every training window is cropped "
                   "at a random shift of up to N bases (auto: J) from the centre; validation, test and every other "
                   "verb use the centred window. off: the centred window only. [default: auto, or the --config's / "
                   "interrupted run's]")
@click.option("--no-jitter", is_flag=True, help="The same as --jitter off.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (OUTPUT.partial) from its last epoch.")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--no-plots", is_flag=True, help="Do not draw plots/.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary.")
def train(data, output, arch, params, config, epochs, batch_size, lr, lr_schedule, strands, strand_fit, patience,
          stopping, monitor, seed, class_weight, rc_augment, memory_budget, bootstrap, strategy, jaspar, replicates,
          jit_compile, jitter, no_jitter, resume, force, no_plots, quiet):
    """Train a classifier on split 0 of DATA.h5, early-stopping on split 1; write a run directory."""
    from ..ensemble import resolve_replicates, train_replicates
    from ..training import train as train_one

    if no_jitter and jitter not in (None, "off"):
        raise SeqcnnError(f"--no-jitter and --jitter {jitter} disagree", hint="give one of them")
    jitter = "off" if no_jitter else (int(jitter) if jitter is not None and jitter.isdigit() else jitter)
    k = resolve_replicates(replicates, config, output, resume)
    train_run = partial(train_replicates, replicates=k) if k > 1 else train_one
    try:
        r = train_run(data, output, arch=arch, params=_parse_params(params), config=config, epochs=epochs,
                      batch_size=batch_size, lr=lr, patience=patience, seed=seed, class_weight=class_weight,
                      rc_augment=rc_augment, monitor=monitor, memory_budget_mb=memory_budget, resume=resume,
                      force=force, quiet=quiet, plots=not no_plots, n_boot=bootstrap, command=_command_line(),
                      strategy=strategy, lr_schedule=lr_schedule, strands=strands, stopping=stopping,
                      strand_fit=strand_fit, jaspar=jaspar, jit_compile=jit_compile, jitter=jitter)
    except KeyboardInterrupt as exc:
        term = isinstance(exc, Terminated)
        if strategy == "multiworker" and not _is_chief():
            # Only the chief checkpoints; a worker's temporary folder is already gone.
            click.echo(f"seqcnn: {'stopped by SIGTERM' if term else 'interrupted'}; this worker keeps no "
                       f"checkpoint (the chief's is in {output.rstrip('/')}.partial); stop the other workers, then "
                       f"rerun all with --resume", err=True)
        elif k > 1:
            click.echo(f"seqcnn train: {'stopped by SIGTERM' if term else 'interrupted'}; finished replicates and "
                       f"the current one's epochs are kept in {output.rstrip('/')}.partial (continue with --resume, "
                       "or start again with --force)", err=True)
        elif term:
            # A batch scheduler's stop (time limit, preemption): the job log gets where it stopped and what to run.
            from ..rundir import checkpointed_epochs

            done = checkpointed_epochs(output)
            click.echo("seqcnn train: stopped by SIGTERM " + (
                f"after epoch {done} (checkpointed in {output.rstrip('/')}.partial); resume with --resume" if done
                else "before the first epoch finished: nothing to resume; start again with --force"), err=True)
        else:
            click.echo(f"seqcnn: interrupted; finished epochs are checkpointed in {output.rstrip('/')}.partial "
                       "(continue with --resume, or start again with --force)", err=True)
        sys.exit(143 if term else 130)
    cfg, m = r["config"], r["metrics"]
    d = cfg["distribute"]
    if not r["chief"]:
        _say(quiet, f"done: non-chief worker of {d['workers']} ({d['replicas']} replicas); the chief writes {output}")
        return
    if k > 1:
        e = cfg["ensemble"]
        _say(quiet, f"wrote {output}: ensemble of {e['replicates']} {cfg['arch']} replicates (seeds "
                    f"{', '.join(map(str, e['seeds']))}; {cfg['model']['n_params']:,} parameters in all), best epochs "
                    f"{', '.join(map(str, m['best_epoch']))} of {', '.join(map(str, m['epochs_run']))}"
                    + (f" by {m['monitor']}" if m["monitor"] else "") + f", {r['seconds']:.0f} s; members in "
                    f"{os.path.join(output, 'members')}")
    else:
        _say(quiet, f"wrote {output}: {cfg['arch']} ({cfg['model']['n_params']:,} parameters), "
                    + (f"{d['replicas']} replicas ({d['strategy']}), " if d["strategy"] != "none" else "")
                    + f"best epoch {r['best_epoch']} of {m['epochs_run']}"
                    + (f" by {m['monitor']}" if m["monitor"] else "")
                    + f", {r['seconds']:.0f} s, data {'in memory' if r['in_memory'] else 'streamed'}"
                    + (f", training windows shifted by up to {j['used']} bp (centred for validation and test)"
                       if (j := cfg["data"].get("jitter") or {}).get("used") else ""))
    for split in ("train", "val", "test"):
        if split in m:
            _say(quiet, "  " + _metrics_line(split, m[split]))
    sizes = cfg["data"]["splits"]  # the file's recorded split sizes, as config.json keeps them
    used = sum(sizes.values())
    parts = ", ".join(f"{k} {sizes.get(k, 0)}" for k in ("train", "val", "test"))
    _say(quiet, f"records read {r['records_read']} = used {used} ({parts}) + dropped {r['records_read'] - used} "
                "(in no split)")
    _notes(r)


@main.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Tune folder to write (study.db, trials/, best).")
@click.option("--arch", default="deepbind", show_default=True,
              help="Architecture(s) to search, comma-separated: several make the architecture a parameter.")
@click.option("--trials", "n_trials", type=int, default=20, show_default=True,
              help="Finished trials the study should hold (a resumed study runs the rest).")
@click.option("--timeout", type=float, help="Seconds after which no new trial starts.")
@click.option("--epochs", type=int, help="Each trial's epoch limit. [default: train's, 50]")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampler and training seed.")
@click.option("--sampler", type=click.Choice(["tpe", "random"]), default="tpe", show_default=True,
              help="Optuna's TPE sampler, or random search.")
@click.option("--no-pruning", is_flag=True, help="Train every trial to its early stop.")
@click.option("--resume", is_flag=True, help="Continue the study in OUTPUT.")
@click.option("--force", is_flag=True, help="Replace an existing OUTPUT.")
@click.option("--quiet", "-q", is_flag=True, help="No per-trial lines.")
def tune(data, output, arch, n_trials, timeout, epochs, seed, sampler, no_pruning, resume, force, quiet):
    """Search hyper-parameters on the validation split of DATA.h5 (Optuna TPE); the best trial is a run directory."""
    from ..tune import tune as tune_run

    try:
        r = tune_run(data, output, archs=[a.strip() for a in arch.split(",") if a.strip()], n_trials=n_trials,
                     timeout=timeout, epochs=epochs, seed=seed, resume=resume, force=force, quiet=quiet,
                     pruning=not no_pruning, sampler=sampler)
    except KeyboardInterrupt as exc:
        term = isinstance(exc, Terminated)
        click.echo(f"seqcnn: {'stopped by SIGTERM' if term else 'interrupted'}; the study is kept in "
                   f"{output.rstrip('/')}/study.db (continue with --resume)", err=True)
        sys.exit(143 if term else 130)
    s = r["summary"]
    c = s["trials"]
    _say(quiet, f"wrote {output}: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed trials, "
                f"{s['seconds']:.0f} s")
    if s["best"]:
        _say(quiet, f"  best: trial {s['best']['number']}, {s['monitor']} {s['best']['value']:.4f} (validation) "
                    f"{json.dumps(s['best']['params'])}; run directory {os.path.join(output, 'best')}")
    if s["importance"]:
        _say(quiet, "  importance (fANOVA): " + ", ".join(f"{k} {v:.2f}" for k, v in s["importance"].items()))
    n = s["records"]
    _say(quiet, f"records: train {n['train']} (fitted), val {n['val']} (selection), test {n['test']} (not used for "
                "selection: evaluate the best run on it)")


def _evaluate_genome(run_dir, data, genome, peaks, chroms, stride, min_overlap, max_n, output_name,
                     allow_train_chroms, output, as_json, force, no_plots, quiet):
    """``evaluate --genome``: the options checked, :func:`seqcnn.genomewide.evaluate_genome`, its summary."""
    from ..genomewide import evaluate_genome

    if data is not None:
        raise SeqcnnError(f"give DATA ({data}) or --genome, not both",
                          hint="DATA scores a dataset's split; --genome --peaks --chroms scores whole chromosomes")
    if genome is None or peaks is None or not chroms:
        raise SeqcnnError("genome-wide evaluation needs --genome, --peaks and --chroms together",
                          hint="e.g. seqcnn evaluate RUN --genome genome.fa --peaks peaks.bed --chroms XV,XVI")
    m = evaluate_genome(run_dir, genome, peaks, [c.strip() for c in chroms.split(",") if c.strip()], stride=stride,
                        min_overlap=min_overlap, max_n=max_n, out=output, force=force,
                        allow_train_chroms=allow_train_chroms, plots=not no_plots, output=output_name,
                        progress=_progress(quiet), command=_command_line())
    _notes(m)
    if as_json:
        click.echo(json.dumps(m, indent=2))
        return
    r = m["recall_at_fdr"]
    _say(quiet, f"{', '.join(m['chroms'])} (stride {m['stride']}, output {m['output']}"
                f"{f' ({lab})' if (lab := m.get('label')) not in (None, m['output']) else ''}, method {m['method']}, "
                f"{m['seconds']:.1f} s): auROC {_num(m['auroc'])}, auPRC {_num(m['auprc'])}, positive fraction "
                f"{m['positive_fraction']:.4f} ({m['n_pos']} of {m['n']} windows), recall at 10% FDR "
                f"{_num(r['0.1'])}, at 50% FDR {_num(r['0.5'])}")
    w = m["windows"]
    dropped = sum(w["dropped"].values())
    reasons = ", ".join(f"{k} {v}" for k, v in w["dropped"].items() if v) or "none"
    _say(quiet, f"windows read {w['read']} = scored {w['scored']} + dropped {dropped} ({reasons})")
    if output:
        _say(quiet, f"wrote {output}" + (f" and {m['figure']}" if m.get("figure") else ""))


def _num(v):
    return "n/a" if v is None else f"{v:.3f}"


@main.command()
@click.argument("run_dir", type=click.Path())
@click.argument("data", required=False, type=click.Path(dir_okay=False))
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "val", "test", "all"]),
              help="Which records of DATA to score.")
@click.option("--genome", type=click.Path(dir_okay=False),
              help="Genome-wide instead of DATA: score every window of --chroms of this FASTA against --peaks.")
@click.option("--peaks", type=click.Path(dir_okay=False), help="With --genome: BED/narrowPeak of the bound regions.")
@click.option("--chroms", help="With --genome: comma-separated chromosomes to evaluate (held out from training).")
@click.option("--stride", type=int, default=50, show_default=True, help="With --genome: bases between window centres.")
@click.option("--min-overlap", type=int,
              help="With --genome: bases a window must share with a peak to be positive (as genome-mode encode); for "
                   "peaks narrower than that (ChIP-exo, footprints) use 1. [default: length // 2]")
@click.option("--max-n", type=float, default=0.1, show_default=True,
              help="With --genome: windows with a larger fraction of N are dropped (counted).")
@click.option("--output-name", help="With --genome: the output of a multi-output run (name or index).")
@click.option("--allow-train-chroms", is_flag=True,
              help="With --genome: score chromosomes the run trained on (refused by default).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the metrics as JSON (plus OUTPUT-stem_roc.png and _pr.png; with --genome, _pr.png only).")
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Resamples for the 95% intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics JSON to stdout.")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("--no-plots", is_flag=True, help="No ROC/PR figures.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def evaluate(run_dir, data, split, genome, peaks, chroms, stride, min_overlap, max_n, output_name, allow_train_chroms,
             output, bootstrap, seed, as_json, force, no_plots, quiet):
    """Score a trained run on a split of DATA.h5: auROC, auPRC (95% bootstrap CIs), accuracy, MCC, confusion.

    With --genome G --peaks P --chroms C1,C2 instead of DATA: every window of the chromosomes on the --stride
    grid, labelled by overlap with the peaks: auROC, auPRC, the positive fraction, recall at 10% and 50% FDR.
    """
    if genome is not None or peaks is not None:
        return _evaluate_genome(run_dir, data, genome, peaks, chroms, stride, min_overlap, max_n, output_name,
                                allow_train_chroms, output, as_json, force, no_plots, quiet)
    if data is None:
        raise SeqcnnError("give DATA (a dataset file) or --genome G --peaks P --chroms C (genome-wide)")
    from ..scoring import evaluate as evaluate_run

    if bootstrap < 0:
        raise SeqcnnError("--bootstrap must be >= 0")
    m = evaluate_run(run_dir, data, split=split, out=output, force=force, plots=not no_plots, n_boot=bootstrap,
                     seed=seed)
    if as_json:
        click.echo(json.dumps(m, indent=2))
        return
    _say(quiet, _metrics_line(f"{data} ({split})", m))
    _say(quiet, f"records read {m['records_in_file']} = scored {m['n']} + dropped {m['records_in_file'] - m['n']} "
                f"(not in split {split})")
    if "confusion_matrix" in m:
        _say(quiet, f"confusion matrix (rows true, columns predicted): {m['confusion_matrix']}")
    if output:
        _say(quiet, f"wrote {output}")


@main.command()
@click.argument("run_dir", type=click.Path())
@click.argument("fasta", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output CSV.")
@click.option("--bed", type=click.Path(dir_okay=False),
              help="Genome mode: regions to score (BED/narrowPeak), cut from --genome like seqcnn encode does.")
@click.option("--genome", type=click.Path(dir_okay=False), help="Genome mode: reference FASTA (plain or bgzip).")
@click.option("--center", type=click.Choice(["summit", "midpoint"]), default="summit", show_default=True,
              help="Genome mode: centre windows on the narrowPeak summit (midpoint when there is none).")
@click.option("--batch-size", type=int, default=1024, show_default=True, help="Sequences per forward pass.")
@click.option("--shard", help="K/N (FASTA input): score only the K-th of N contiguous parts of the records "
                              "(cluster array jobs); the N CSVs concatenate, in order, to the unsharded CSV.")
@click.option("--force", is_flag=True, help="Overwrite the output.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def predict(run_dir, fasta, output, bed, genome, center, batch_size, shard, force, quiet):
    """Predict FASTA sequences (or --bed regions of a --genome) with a trained run: CSV of probabilities."""
    from ..scoring import predict as predict_run, predict_intervals

    if batch_size < 1:
        raise SeqcnnError("--batch-size must be positive")
    if bed or genome:
        if shard:
            raise SeqcnnError("--shard applies to FASTA input", hint="split the BED file instead (split -n l/N)")
        if not bed or not genome or fasta:
            raise SeqcnnError("give FASTA, or --bed REGIONS with --genome GENOME.fa (not both)")
        r = predict_intervals(run_dir, bed, genome, output, center=center, force=force, batch_size=batch_size)
        dropped = r["dropped"]
        reasons = ", ".join(f"{k} {v}" for k, v in dropped.items() if v) or "none"
        _say(quiet, f"wrote {r['out']}: {r['n']} windows, columns id, chrom, start, end, strand, "
                    f"{', '.join(r['columns'])}")
        _say(quiet, f"records read {r['records_read']} = written {r['n']} + dropped {sum(dropped.values())} "
                    f"({reasons})")
        return
    if not fasta:
        raise SeqcnnError("no input: give FASTA, or --bed REGIONS --genome GENOME.fa", hint="see 'seqcnn predict -h'")
    from ..outputs import parse_shard

    r = predict_run(run_dir, fasta, output, force=force, batch_size=batch_size, shard=parse_shard(shard))
    extra = f" (padded {r['padded']}, trimmed {r['trimmed']})" if r["padded"] or r["trimmed"] else ""
    _say(quiet, f"wrote {r['out']}: {r['n']} sequences, columns id, {', '.join(r['columns'])}{extra}")
    # predict never drops a record (bad ones are errors); the line matches encode's so logs can be checked alike.
    _say(quiet, f"records read {r['records_read']} = written {r['n']} + dropped {r['records_read'] - r['n']}")


@main.command("export")
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder to create: a TensorFlow SavedModel plus seqcnn_model.json (the input contract).")
@click.option("--onnx", is_flag=True, help="Also write model.onnx (needs tf2onnx: pip install 'seqcnn[onnx]').")
@click.option("--force", is_flag=True, help="Replace an existing OUTPUT.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def export_cmd(run_dir, output, onnx, force, quiet):
    """Export a run's model for TensorFlow without seqcnn: one-hot [batch, L, 4] (ACGT) in, logits out."""
    from ..export import export_run

    r = export_run(run_dir, output, force=force, onnx=onnx, command=_command_line())
    c = r["contract"]
    i, o = c["input"], c["output"]
    _say(quiet, f"wrote {r['out_dir']}: TensorFlow SavedModel, signature {c['saved_model']['signature']}: "
                f"{c['saved_model']['input']} float32 [batch, {i['length']}, 4] ({''.join(i['alphabet'])} one-hot) → "
                f"{c['saved_model']['output']} [batch, {o['n_outputs']}]; {o['link']} of the logits gives "
                f"{', '.join(o['predict_columns'])}"
                + ("; strand average inside" if c["strands"]["averaged_inside"] else ""))
    _say(quiet, f"  files: {', '.join(r['files'])}")
    if not onnx:
        _say(quiet, "  ONNX: not written (pass --onnx; needs tf2onnx)")
    _say(quiet, f"records read 1 run = written 1 export ({len(r['files'])} entries in {r['out_dir']})")
