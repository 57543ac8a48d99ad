"""The ``seqcnn`` command line: a thin click shell over the library.

Each verb parses options, calls one library function and prints a short summary.
Bad input surfaces as ``SeqcnnError``: printed on one line, exit status 2.
"""

import json
import os
import shlex
import sys

import click

from ._version import __version__
from .errors import SeqcnnError


_ARGV = []


def _progress(quiet):
    """Show progress bars only on a terminal: in logs and pipes their redraws are noise."""
    return not quiet and sys.stderr.isatty()


def _is_chief():
    """Whether this process is the chief of the TF_CONFIG cluster (True when that cannot be read)."""
    from .distribute import cluster_role

    try:
        return cluster_role(os.environ.get("TF_CONFIG"))["chief"]
    except SeqcnnError:
        return True


def _command_line():
    """The command as the user typed it, recorded in outputs for provenance."""
    return " ".join(shlex.quote(str(a)) for a in ["seqcnn"] + _ARGV)


class _Group(click.Group):
    """A click group that turns ``SeqcnnError`` and usage mistakes into one line on stderr and exit code 2."""

    def main(self, args=None, *a, **kw):
        _ARGV[:] = list(sys.argv[1:] if args is None else args)
        return super().main(args, *a, **kw)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SeqcnnError as exc:
            click.echo(f"seqcnn: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:
            # Option and argument mistakes get the same one-line form as every other error (click would
            # print a usage block first); the help is one -h away.
            names, c = [], exc.ctx
            while c is not None and c.parent is not None:
                names.insert(0, c.info_name)
                c = c.parent
            where = " ".join(["seqcnn"] + names)
            click.echo(f"seqcnn: error: {exc.format_message()} (see '{where} -h')", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("seqcnn: interrupted; no output was written", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="seqcnn")
def main():
    """seqcnn: CNN classifiers of DNA sequences, with in-silico mutagenesis and motif export."""


def _notes(report):
    """Advice from a library call (``report['notes']``), one ``seqcnn: note:`` line each on stderr, even with -q."""
    for note in report.get("notes", ()):
        click.echo(f"seqcnn: note: {note}", err=True)


def _say(quiet, text):
    if not quiet:
        click.echo(text)


@main.command()
@click.argument("fasta", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--labels", "-l", type=click.Path(dir_okay=False), help="CSV/TSV label table (id + label columns).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output HDF5 file.")
@click.option("--class-per-file", is_flag=True,
              help="Each FASTA is one class (two files: first = 1, second = 0; more: multiclass).")
@click.option("--id-column", default="id", show_default=True, help="Id column of the label table.")
@click.option("--label-column", "label_columns", multiple=True,
              help="Label column(s); repeat for multilabel. [default: label]")
@click.option("--task", type=click.Choice(["binary", "multiclass", "multilabel"]),
              help="Task type; inferred from the labels when omitted.")
@click.option("--length", type=int, help="Pad (all-zero rows) or trim every sequence to this length.")
@click.option("--pad-mode", type=click.Choice(["center", "left", "right"]), default="center", show_default=True,
              help="Which part of a sequence is kept when padding/trimming.")
@click.option("--allow-iupac", is_flag=True, help="Encode IUPAC ambiguity codes (R, Y, ...) as all-zero rows.")
@click.option("--split", default="0.8,0.1,0.1", show_default=True, help="Train,val,test fractions (stratified).")
@click.option("--split-column", help="Take train/val/test from this column of the label table.")
@click.option("--holdout-chrom", help="Comma-separated chromosomes whose records form the test set.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random split.")
@click.option("--drop-unlabelled", is_flag=True, help="Skip (and count) FASTA records missing from the labels.")
@click.option("--compression", type=click.Choice(["gzip", "lzf", "none"]), default="gzip", show_default=True,
              help="HDF5 compression (lzf is faster but readable by h5py only).")
@click.option("--compression-level", type=int, default=1, show_default=True, help="gzip level 0-9.")
@click.option("--bed", "beds", multiple=True, type=click.Path(dir_okay=False),
              help="Genome mode: peaks (BED/narrowPeak, .gz ok); one file: binary, repeat for multilabel.")
@click.option("--genome", type=click.Path(dir_okay=False), help="Genome mode: reference FASTA (plain or bgzip).")
@click.option("--center", type=click.Choice(["summit", "midpoint"]), default="summit", show_default=True,
              help="Genome mode: centre windows on the narrowPeak summit (midpoint when there is none).")
@click.option("--negatives", type=click.Choice(["gc-matched", "shuffle", "flank", "none"]),
              help="Genome mode: how negatives are made. [default: gc-matched; none for several --bed]")
@click.option("--negative-ratio", type=float, default=1.0, show_default=True, help="Genome mode: negatives per peak.")
@click.option("--negatives-bed", type=click.Path(dir_okay=False),
              help="Genome mode: your own negative regions, extracted like the peaks.")
@click.option("--exclude", multiple=True, type=click.Path(dir_okay=False),
              help="Genome mode: regions no negative may overlap (e.g. a blacklist BED); repeatable.")
@click.option("--chroms", help="Genome mode: comma-separated chromosomes for gc-matched negatives. "
                               "[default: the peaks', without chrM, unplaced, random and alt contigs]")
@click.option("--max-n", type=float, default=0.1, show_default=True,
              help="Genome mode: drop windows with a larger fraction of N.")
@click.option("--flank-distance", type=int, help="Genome mode, flank negatives: bp between a peak window and its "
                                                 "flanks. [default: --length]")
@click.option("--label-names", help="Genome mode, several --bed: comma-separated label names [default: file names].")
@click.option("--min-overlap", type=int, help="Genome mode, several --bed: bp a window shares with a file's peak to "
                                              "carry its label. [default: half the length]")
@click.option("--val-chrom", help="Genome mode: comma-separated validation chromosomes (default rule: see README).")
@click.option("--no-plots", is_flag=True, help="Genome mode: no GC-content figure.")
@click.option("--force", is_flag=True, help="Overwrite the output if it exists.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary.")
@click.pass_context
def encode(ctx, fasta, labels, output, class_per_file, id_column, label_columns, task, length, pad_mode, allow_iupac,
           split, split_column, holdout_chrom, seed, drop_unlabelled, compression, compression_level, beds, genome,
           center, negatives, negative_ratio, negatives_bed, exclude, chroms, max_n, flank_distance, label_names,
           min_overlap, val_chrom, no_plots, force, quiet):
    """Encode FASTA (+.gz) and labels, or peaks (--bed) from a --genome, into a one-hot HDF5 dataset with a split."""
    from click.core import ParameterSource

    given = {name for name in ctx.params if ctx.get_parameter_source(name) != ParameterSource.DEFAULT}
    genome_only = {"beds", "genome", "center", "negatives", "negative_ratio", "negatives_bed", "exclude", "chroms",
                   "max_n", "flank_distance", "label_names", "min_overlap", "val_chrom"}
    fasta_only = {"labels", "class_per_file", "id_column", "label_columns", "task", "pad_mode", "allow_iupac",
                  "split", "split_column", "drop_unlabelled"}
    commas = lambda v: [c.strip() for c in v.split(",") if c.strip()] if v else None  # noqa: E731
    if beds or genome:
        if not beds or not genome:
            raise SeqcnnError("genome mode needs both --bed PEAKS and --genome GENOME.fa")
        wrong = sorted(given & fasta_only) + (["FASTA"] if fasta else [])
        if wrong:
            flag = "FASTA files" if wrong[0] == "FASTA" else f"--{wrong[0].replace('_', '-')}"
            raise SeqcnnError(f"{flag} cannot be combined with --bed/--genome (genome mode)",
                              hint="genome mode takes its labels from the peak files and splits by chromosome "
                                   "(--holdout-chrom, --val-chrom)")
        _encode_genome(output, list(beds), genome, length, center, negatives, negative_ratio, negatives_bed,
                       list(exclude), commas(chroms), max_n, flank_distance, commas(label_names), min_overlap,
                       commas(holdout_chrom), commas(val_chrom), seed, compression, compression_level, no_plots,
                       force, quiet)
        return
    if not fasta:
        raise SeqcnnError("no input: give FASTA file(s) with --labels, or --bed PEAKS --genome GENOME.fa",
                          hint="see 'seqcnn encode -h'")
    wrong = sorted(given & genome_only)
    if wrong:
        raise SeqcnnError(f"--{wrong[0].replace('_', '-')} applies to genome mode (--bed and --genome)",
                          hint="give --bed PEAKS --genome GENOME.fa, or drop the option")
    from .ingest import encode_fasta

    report = encode_fasta(
        list(fasta), output, labels, id_column=id_column, label_columns=label_columns or ("label",), task=task,
        class_per_file=class_per_file, length=length, pad_mode=pad_mode, allow_iupac=allow_iupac, split=split,
        split_column=split_column,
        holdout_chrom=[c.strip() for c in holdout_chrom.split(",") if c.strip()] if holdout_chrom else None,
        seed=seed, drop_unlabelled=drop_unlabelled, compression=compression, compression_level=compression_level,
        force=force, progress=_progress(quiet), command=_command_line())
    splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items())
    dropped = report["dropped"]["unlabelled"]
    _say(quiet, f"wrote {report['path']}: {report['records_written']} records x {report['length']} bp "
                f"({report['task']}; {splits})")
    _say(quiet, f"records read {report['records_read']} = written {report['records_written']} + dropped "
                f"{dropped} (unlabelled)" + (f"; padded {report['padded']}, trimmed {report['trimmed']}"
                                             if report["padded"] or report["trimmed"] else ""))
    _notes(report)


def _encode_genome(output, beds, genome, length, center, negatives, negative_ratio, negatives_bed, exclude, chroms,
                   max_n, flank_distance, label_names, min_overlap, holdout_chrom, val_chrom, seed, compression,
                   compression_level, no_plots, force, quiet):
    """``seqcnn encode --bed ... --genome ...``: call the library, print its summary."""
    from .genome_encode import encode_intervals

    report = encode_intervals(
        beds, genome, output, length=length, center=center, negatives=negatives, negative_ratio=negative_ratio,
        negatives_bed=negatives_bed, exclude=exclude, chroms=chroms, max_n=max_n, flank_distance=flank_distance,
        label_names=label_names, min_overlap=min_overlap, holdout_chrom=holdout_chrom, val_chrom=val_chrom,
        seed=seed, compression=compression, compression_level=compression_level, plots=not no_plots, force=force,
        progress=_progress(quiet), command=_command_line())
    splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items())
    chosen = "; ".join(f"{k} {','.join(v)}" for k, v in report["split_chroms"].items())
    _say(quiet, f"wrote {report['path']}: {report['records_written']} records x {report['length']} bp "
                f"({report['task']}; {splits}; by chromosome: {chosen})")
    dropped = report["dropped"]
    reasons = ", ".join(f"{k} {v}" for k, v in dropped.items() if v) or "none"
    _say(quiet, f"records read {report['records_read']} = written {report['read_written']} + dropped "
                f"{sum(dropped.values())} ({reasons}); negatives made {report['negatives_made']} "
                f"({report['negatives_method']})")
    gc = report["gc_match"]
    if gc["negatives"]:
        q = lambda v: "/".join(f"{x:.2f}" for x in v)  # noqa: E731
        _say(quiet, f"GC content (5/25/50/75/95 %): peaks {q(gc['positives'])}, negatives {q(gc['negatives'])}; "
                    f"KS {gc['ks']:.3f}")
    if report.get("figure"):
        _say(quiet, f"figure: {report['figure']}")
    _notes(report)


@main.command()
@click.argument("dataset", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info(dataset, as_json):
    """Describe an encoded HDF5 dataset: records, length, task, classes per split, provenance."""
    from .store import open_dataset

    with open_dataset(dataset) as ds:
        summary = ds.summary(leakage=True)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{summary['path']}: {summary['records']} records x {summary['length']} bp, task {summary['task']}")
    lens = summary["lengths"]
    click.echo(f"original lengths {lens['min']}-{lens['max']} (pad mode {lens['pad_mode']})")
    names = summary["class_names"] if summary["task"] != "binary" else ["0", "1"]
    if summary["task"] == "multilabel":
        names = summary["class_names"]
    header = ["split", "n"] + list(names)
    rows = [[name, str(row["n"])] + [str(row.get(c, "")) for c in names] for name, row in summary["splits"].items()]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        click.echo("  ".join(v.rjust(w) for v, w in zip(r, widths)))
    prov = summary["provenance"]
    gm = summary["genome_mode"]
    if gm and gm.get("split_chroms"):
        chosen = "; ".join(f"{k} {','.join(v)}" for k, v in gm["split_chroms"].items())
        click.echo(f"split: by chromosome ({chosen}; every other chromosome trains)")
    else:
        click.echo(f"split: {prov['split_method']} (fractions {prov['split_fractions']}, seed {prov['split_seed']})")
    leak = summary["leakage"]
    if leak:
        shared = [f"{leak['duplicates']} record(s) whose sequence occurs in another split"]
        if leak["overlapping"] is not None:
            shared.append(f"{leak['overlapping']} window(s) overlapping a window of another split")
        click.echo(f"shared across splits: {'; '.join(shared)}")
    if gm:
        g, neg = gm.get("genome") or {}, gm.get("negatives") or {}
        click.echo(f"genome {g.get('path')} ({g.get('size', 0):,} bp, {g.get('chromosomes')} sequences, index sha256 "
                   f"{str(g.get('index_sha256'))[:12]}...)")
        click.echo(f"negatives: {neg.get('method')} x {neg.get('ratio')} (max N {neg.get('max_n')}, seed "
                   f"{neg.get('seed')}, windows on the {neg.get('center')})")
        gc = gm.get("gc_match") or {}
        if gc.get("negatives"):
            q = lambda v: "/".join(f"{x:.2f}" for x in v)  # noqa: E731
            click.echo(f"GC content (5/25/50/75/95 %): peaks {q(gc['positives'])}, negatives {q(gc['negatives'])}; "
                       f"KS {gc['ks']}")
    click.echo(f"created {prov['created']} by seqcnn {prov['seqcnn_version']} (schema {prov['schema_version']})")
    for src in prov["sources"] or []:
        click.echo(f"source {src['path']} sha256 {src['sha256']}")
    if prov["command"]:
        click.echo(f"command: {prov['command']}")


# --- models / train / evaluate / predict commands ---


def _parse_params(params):
    out = {}
    for p in params:
        if "=" not in p:
            raise SeqcnnError(f"--param {p!r} is not NAME=VALUE", hint="e.g. --param filters=64")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _fmt(v, ci=None):
    if v is None:
        return "n/a"
    return f"{v:.4f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _metrics_line(name, m):
    return (f"{name}: n {m['n']}, auROC {_fmt(m['auroc'], m.get('auroc_ci'))}, "
            f"auPRC {_fmt(m['auprc'], m.get('auprc_ci'))}, accuracy {_fmt(m['accuracy'])}, MCC {_fmt(m['mcc'])}")


@main.command("models")
@click.option("--length", type=int, default=200, show_default=True, help="Sequence length for the parameter counts.")
@click.option("--outputs", type=int, default=1, show_default=True, help="Model outputs (1 = binary).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def models_cmd(length, outputs, as_json):
    """List the architectures, their hyper-parameters (with defaults) and parameter counts."""
    from .models import describe

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
              help="Global batch size: each step's batch, split over the --strategy replicas. [default: from the "
                   "training set, a power of two near n/50 between 32 and 128]")
@click.option("--lr", type=float, help="Adam learning rate. [default: 0.001]")
@click.option("--lr-schedule", type=click.Choice(["plateau", "constant"]),
              help="plateau: halve the rate after 3 epochs without improvement (down to lr/64). [default: plateau]")
@click.option("--strands", type=click.Choice(["average", "single"]),
              help="average: the saved model averages its logits over the sequence and its reverse complement, "
                   "so every verb scores both strands. [default: average]")
@click.option("--patience", type=int, help="Stop after this many epochs without progress. [default: 10]")
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
@click.option("--resume", is_flag=True, help="Continue an interrupted run (OUTPUT.partial) from its last epoch.")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--no-plots", is_flag=True, help="Do not draw plots/.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary.")
def train(data, output, arch, params, config, epochs, batch_size, lr, lr_schedule, strands, patience, stopping,
          monitor, seed, class_weight, rc_augment, memory_budget, bootstrap, strategy, resume, force, no_plots, quiet):
    """Train a classifier on split 0 of DATA.h5, early-stopping on split 1; write a run directory."""
    from .training import train as train_run

    try:
        r = train_run(data, output, arch=arch, params=_parse_params(params), config=config, epochs=epochs,
                      batch_size=batch_size, lr=lr, patience=patience, seed=seed, class_weight=class_weight,
                      rc_augment=rc_augment, monitor=monitor, memory_budget_mb=memory_budget, resume=resume,
                      force=force, quiet=quiet, plots=not no_plots, n_boot=bootstrap, command=_command_line(),
                      strategy=strategy, lr_schedule=lr_schedule, strands=strands, stopping=stopping)
    except KeyboardInterrupt:
        if strategy == "multiworker" and not _is_chief():
            # Only the chief checkpoints; a worker's temporary folder is already gone.
            click.echo(f"seqcnn: interrupted; this worker keeps no checkpoint (the chief's is in "
                       f"{output.rstrip('/')}.partial); stop the other workers, then rerun all with --resume",
                       err=True)
        else:
            click.echo(f"seqcnn: interrupted; finished epochs are checkpointed in {output.rstrip('/')}.partial "
                       "(continue with --resume, or start again with --force)", err=True)
        sys.exit(130)
    cfg, m = r["config"], r["metrics"]
    d = cfg["distribute"]
    if not r["chief"]:
        _say(quiet, f"done: non-chief worker of {d['workers']} ({d['replicas']} replicas); the chief writes {output}")
        return
    _say(quiet, f"wrote {output}: {cfg['arch']} ({cfg['model']['n_params']:,} parameters), "
                + (f"{d['replicas']} replicas ({d['strategy']}), " if d["strategy"] != "none" else "")
                + f"best epoch {r['best_epoch']} of {m['epochs_run']}"
                + (f" by {m['monitor']}" if m["monitor"] else "")
                + f", {r['seconds']:.0f} s, data {'in memory' if r['in_memory'] else 'streamed'}")
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
    from .tune import tune as tune_run

    try:
        r = tune_run(data, output, archs=[a.strip() for a in arch.split(",") if a.strip()], n_trials=n_trials,
                     timeout=timeout, epochs=epochs, seed=seed, resume=resume, force=force, quiet=quiet,
                     pruning=not no_pruning, sampler=sampler)
    except KeyboardInterrupt:
        click.echo(f"seqcnn: interrupted; the study is kept in {output.rstrip('/')}/study.db (continue with --resume)",
                   err=True)
        sys.exit(130)
    s = r["summary"]
    c = s["trials"]
    _say(quiet, f"wrote {output}: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed trials, "
                f"{s['seconds']:.0f} s")
    if s["best"]:
        _say(quiet, f"  best: trial {s['best']['number']}, {s['monitor']} {s['best']['value']:.4f} (validation) "
                    f"{json.dumps(s['best']['params'])}; run directory {os.path.join(output, 'best')}")
    n = s["records"]
    _say(quiet, f"records: train {n['train']} (fitted), val {n['val']} (selection), test {n['test']} (not used for "
                "selection: evaluate the best run on it)")


@main.command()
@click.argument("run_dir", type=click.Path())
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "val", "test", "all"]),
              help="Which records of DATA to score.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the metrics as JSON (plus OUTPUT-stem_roc.png and _pr.png).")
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Resamples for the 95% intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics JSON to stdout.")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("--no-plots", is_flag=True, help="No ROC/PR figures.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def evaluate(run_dir, data, split, output, bootstrap, seed, as_json, force, no_plots, quiet):
    """Score a trained run on a split of DATA.h5: auROC, auPRC (95% bootstrap CIs), accuracy, MCC, confusion."""
    from .scoring import evaluate as evaluate_run

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
    from .scoring import predict as predict_run, predict_intervals

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
    from .outputs import parse_shard

    r = predict_run(run_dir, fasta, output, force=force, batch_size=batch_size, shard=parse_shard(shard))
    extra = f" (padded {r['padded']}, trimmed {r['trimmed']})" if r["padded"] or r["trimmed"] else ""
    _say(quiet, f"wrote {r['out']}: {r['n']} sequences, columns id, {', '.join(r['columns'])}{extra}")
    # predict never drops a record (bad ones are errors); the line matches encode's so logs can be checked alike.
    _say(quiet, f"records read {r['records_read']} = written {r['n']} + dropped {r['records_read'] - r['n']}")


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--vcf", type=click.Path(dir_okay=False), help="Variants: VCF, bgzip VCF or BCF (with --genome).")
@click.option("--table", type=click.Path(dir_okay=False),
              help="Variants: CSV/TSV with chrom, pos (1-based), ref, alt[, id] (with --genome).")
@click.option("--genome", type=click.Path(dir_okay=False), help="Reference FASTA (plain or bgzip) of the variants.")
@click.option("--ref-fasta", type=click.Path(dir_okay=False), help="Allele pairs: reference sequences.")
@click.option("--alt-fasta", type=click.Path(dir_okay=False), help="Allele pairs: alternative sequences, same ids.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Effects table: .tsv, .csv or .h5; skipped rows go to <stem>.skipped.tsv.")
@click.option("--ref-mismatch", type=click.Choice(["skip", "error", "use-vcf"]), default="skip", show_default=True,
              help="A REF that differs from the genome: skip and count it, stop, or score with the VCF's REF.")
@click.option("--offset", type=int, help="Window index of the variant's first base (default: the centre).")
@click.option("--strands", type=click.Choice(["both", "forward"]), default="both", show_default=True,
              help="Average each window's logits with its reverse complement's, or the forward strand only.")
@click.option("--batch-size", type=int, default=512, show_default=True, help="Windows per compiled call.")
@click.option("--null", type=int, default=0, show_default=True,
              help="Also score each substitution on N dinucleotide-shuffled copies of its window: z-score and "
                   "empirical p-value of delta_logit.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --null shuffles.")
@click.option("--shard", help="K/N: score only the K-th of N contiguous parts of the input (cluster array jobs); "
                              "the N tables concatenate, in order, to the unsharded table.")
@click.option("--plot-top", type=int, default=10, show_default=True,
              help="Figures of the K variants of largest |delta_logit|: both alleles' ISM importance logos, the "
                   "variant shaded, the best JASPAR site over it in the title (in <stem>_plots/).")
@click.option("--no-plots", is_flag=True, help="No figures.")
@click.option("--force", is_flag=True, help="Overwrite the output (and its .skipped.tsv and _plots folder).")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def variants(run_dir, vcf, table, genome, ref_fasta, alt_fasta, output, ref_mismatch, offset, strands, batch_size,
             null, seed, shard, plot_top, no_plots, force, quiet):
    """Score how variants change a trained run's predictions: delta_logit = alt - ref, per output.

    Reference and alternative windows of the model's length around each variant, each scored by a forward pass
    (and its reverse complement); deletions are refilled from the genome, insertions trimmed around the centre.
    """
    from .variants import run_variants

    if batch_size < 1:
        raise SeqcnnError("--batch-size must be positive")
    r = run_variants(run_dir, output, force=force, vcf=vcf, table=table, genome=genome, ref_fasta=ref_fasta,
                     alt_fasta=alt_fasta, offset=offset, ref_mismatch=ref_mismatch, strands=strands,
                     batch_size=batch_size, shard=shard, null=null, seed=seed, plots=not no_plots,
                     plot_top=plot_top)
    _notes(r)
    _say(quiet, f"wrote {r['out']}: {r['scored']} variants, output(s) "
                f"{', '.join(r['outputs'])}" + (f"; skipped rows in {r['skipped_out']}" if r["skipped_out"] else ""))
    skipped = sum(r["skipped"].values())
    reasons = ", ".join(f"{k} {v}" for k, v in r["skipped"].items()) or "none"
    alleles = f" ({r['rows']} alleles)" if r["rows"] != r["records_read"] else ""
    _say(quiet, f"records read {r['records_read']}{alleles} = scored {r['scored']} + skipped {skipped} ({reasons})")
    if r["figures"]:
        _say(quiet, f"figures: {len(r['figures'])} PNG in {r['plot_dir']}/")


# --- mutagenesis / motifs commands ---


def _selection_options(fn):
    """The input and selection options of the verbs built on ``mutagenesis.select`` (mutagenesis, attribute)."""
    for option in reversed([
        click.option("--ids", help="Comma-separated record ids (in this order)."),
        click.option("--ids-file", type=click.Path(dir_okay=False), help="File with one record id per line."),
        click.option("--split", type=click.Choice(["train", "val", "test"]), help="Only this split (HDF5 input)."),
        click.option("--top", type=int, help="Keep the K highest-scoring records of the selection."),
        click.option("--by", type=click.Choice(["score", "label"]), default="score", show_default=True,
                     help="With --top: rank all (score) or only the positives of --output (label)."),
        click.option("--genome", type=click.Path(dir_okay=False),
                     help="INPUT is a BED of regions: cut them from this reference FASTA as seqcnn encode --bed does."),
        click.option("--center", type=click.Choice(["summit", "midpoint"]), default="summit", show_default=True,
                     help="With --genome: centre windows on the narrowPeak summit (midpoint when there is none)."),
    ]):
        fn = option(fn)
    return fn


def _jaspar_options(fn):
    """The motif-comparison options of the verbs that name motifs by JASPAR (motifs, discover)."""
    for option in reversed([
        click.option("--jaspar", default="vertebrates", show_default=True,
                     help="JASPAR taxonomic group to compare with (vertebrates, insects, plants, ..., all), or 'none'."),
        click.option("--jaspar-release", default="JASPAR2024", show_default=True, help="JASPAR2014 ... JASPAR2026."),
        click.option("--jaspar-collection", default="CORE", show_default=True, help="JASPAR collection."),
        click.option("--motif-db", type=click.Path(dir_okay=False), help="Compare with this MEME file instead of JASPAR."),
        click.option("--q-threshold", type=float, default=0.05, show_default=True,
                     help="q-value that counts as a match."),
    ]):
        fn = option(fn)
    return fn


def _selection_counts(quiet, r):
    """The records line of a selecting verb: read = written + dropped (not selected, and windows off the genome)."""
    off_genome = r["dropped"]
    reasons = ", ".join([f"not selected {r['records_read'] - r['n'] - sum(off_genome.values())}"]
                        + [f"{k} {v}" for k, v in off_genome.items()]) if off_genome else "not selected"
    _say(quiet, f"records read {r['records_read']} = written {r['n']} + dropped {r['records_read'] - r['n']} "
                f"({reasons})")


@main.command()
@click.argument("run_dir", type=click.Path())
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("-o", "--output-file", "out", required=True, type=click.Path(dir_okay=False),
              help="Output HDF5 (hypothetical, attribution, x, ids, index, reference_score).")
@click.option("--method", type=click.Choice(["ism", "saliency", "integrated-gradients"]), default="ism",
              show_default=True, help="Exact ISM, corrected saliency, or integrated gradients.")
@click.option("--references", type=int, default=10, show_default=True,
              help="Integrated gradients: dinucleotide-shuffled references per sequence.")
@click.option("--steps", type=int, default=20, show_default=True, help="Integrated gradients: points per path.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the references.")
@_selection_options
@click.option("--output", "model_output", help="Model output (index or class/label name); needed with several.")
@click.option("--force", is_flag=True, help="Overwrite the output.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def attribute(run_dir, input, out, method, references, steps, seed, ids, ids_file, split, top, by, model_output,
              genome, center, force, quiet):
    """Attribution maps (hypothetical contributions) of sequences with a trained run: ISM, saliency or IG."""
    from .gradients import run_attribute

    r = run_attribute(run_dir, input, out, method=method, ids=ids, ids_file=ids_file, split=split, top=top, by=by,
                      output=model_output, references=references, steps=steps, seed=seed, force=force,
                      genome=genome, center=center, command=_command_line())
    _say(quiet, f"wrote {r['out']}: {r['n']} sequences, method {r['method']}, output {r['output']} "
                f"({r['seconds']:.1f} s, {r['seq_per_s']:.0f} seq/s)")
    _selection_counts(quiet, r)


@main.command()
@click.argument("run_dir", type=click.Path())
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("-o", "--output-file", "out", required=True, type=click.Path(dir_okay=False),
              help="Output HDF5 (delta, importance, attribution, reference_score, ids).")
@_selection_options
@click.option("--output", "model_output", help="Model output (index or class/label name); default all outputs.")
@click.option("--batch-size", type=int, help="Sequences per compiled call (default: from a memory budget).")
@click.option("--method", type=click.Choice(["auto", "global", "local", "window", "naive"]), default="auto",
              show_default=True, help="Exact ISM method; auto picks the fastest that fits the architecture.")
@click.option("--plot-max", type=int, default=10, show_default=True, help="Figures for the first N sequences.")
@click.option("--no-plots", is_flag=True, help="No figures.")
@click.option("--force", is_flag=True, help="Overwrite the output (and its _plots folder).")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary.")
def mutagenesis(run_dir, input, out, ids, ids_file, split, top, by, model_output, batch_size, method, plot_max,
                genome, center, no_plots, force, quiet):
    """Exact, fast in-silico mutagenesis of sequences (encoded HDF5, FASTA, or BED with --genome) with a trained run.

    delta[n, i, b] = logit(x_n with position i set to base b) - logit(x_n), 0 at the reference base;
    importance[n, i] = -mean of the alternative deltas.
    """
    from .mutagenesis import run_mutagenesis

    report = run_mutagenesis(run_dir, input, out, ids=ids, ids_file=ids_file, split=split, top=top, by=by,
                             output=model_output, batch_size=batch_size, method=method, plots=not no_plots,
                             plot_max=plot_max, force=force, progress=_progress(quiet), command=_command_line(),
                             genome=genome, center=center)
    _say(quiet, f"wrote {report['out']}: {report['n']} sequences x {report['length']} bp x 4 bases, output(s) "
                f"{', '.join(report['outputs'])} (method {report['method']}; {report['seconds']:.1f} s including "
                f"compilation, {report['seq_per_s']:.0f} seq/s)")
    _selection_counts(quiet, report)
    if report["plots"]:
        _say(quiet, f"figures: {len(report['plots'])} PNG in {report['plot_dir']}/")


@main.command()
@click.argument("run_dir", type=click.Path())
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--split", type=click.Choice(["train", "val", "test", "all"]), default="train", show_default=True,
              help="Sequences scanned for filter sites.")
@click.option("--threshold", type=float,
              help="Activation threshold for every filter. [default: per filter, mean + 0.5 (max - mean)]")
@click.option("--strands", type=click.Choice(["both", "forward"]), default="both", show_default=True,
              help="Also scan reverse complements (sites counted in the filter's orientation).")
@click.option("--min-sites", type=int, default=10, show_default=True,
              help="Filters with fewer sites are reported in filters.csv and not written as motifs.")
@click.option("--pseudocount", type=float, default=1.0, show_default=True,
              help="Pseudo-sites per column (spread by the background) added to the frequencies.")
@click.option("--no-influence", is_flag=True, help="Skip filter influence (loss change when a filter is zeroed).")
@_jaspar_options
@click.option("--no-plots", is_flag=True, help="No logos.")
@click.option("--force", is_flag=True, help="Replace the output folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary.")
def motifs(run_dir, data, out_dir, split, threshold, strands, min_sites, pseudocount, no_influence, jaspar,
           jaspar_release, jaspar_collection, motif_db, q_threshold, no_plots, force, quiet):
    """First-layer filters as motifs (MEME, JASPAR, TRANSFAC, logos) and their best JASPAR matches."""
    from .motifs import run_motifs

    rep = run_motifs(run_dir, data, out_dir, split=split if split != "all" else None, threshold=threshold,
                     strands=strands, min_sites=min_sites, pseudocount=pseudocount, influence=not no_influence,
                     jaspar=jaspar, jaspar_release=jaspar_release, jaspar_collection=jaspar_collection,
                     motif_db=motif_db, q_threshold=q_threshold, plots=not no_plots, force=force,
                     progress=_progress(quiet), command=_command_line())
    _say(quiet, f"wrote {rep['out_dir']}/: {rep['n_kept']} of {rep['n_filters']} filters as motifs "
                f"(filters.meme, filters.jaspar, filters.transfac, filters.csv{', logos/' if not no_plots else ''})")
    _say(quiet, f"records read {rep['records_read']} = scanned {rep['records_used']} + dropped "
                f"{rep['records_read'] - rep['records_used']} (not in split {split})")
    if rep["skipped"]:
        _say(quiet, f"skipped {len(rep['skipped'])} filter(s) with fewer than {min_sites} sites: "
                    f"{', '.join(map(str, rep['skipped'][:20]))}{' ...' if len(rep['skipped']) > 20 else ''}")
    if rep["compared"]:
        t = rep["table"]
        _say(quiet, f"{len(rep['matched'])} filter(s) match a known motif at q < {q_threshold}")
        top = t.loc[rep["matched"]].sort_values("qvalue").head(10)
        for _, r in top.iterrows():
            _say(quiet, f"  filter{r['filter']:<4d} {r['best_match_id']:<10s} {r['best_match_name']:<16s} "
                        f"q={r['qvalue']:.2g}  {r['nsites']} sites  {r['consensus']}")



@main.command()
@click.argument("run_dir", type=click.Path())
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output-dir", "out_dir", required=True, type=click.Path(), help="Output folder.")
@click.option("--attributions", type=click.Path(dir_okay=False),
              help="Use this 'seqcnn mutagenesis' or 'seqcnn attribute' file of DATA instead of computing exact ISM.")
@click.option("--split", default="train,val", show_default=True,
              help="Splits to take sequences from: comma-separated train, val, test, or all.")
@click.option("--records", type=click.Choice(["positives", "negatives", "all"]), default="positives",
              show_default=True, help="Which records, by the label of --output.")
@click.option("--top", type=int, help="Keep the K highest-scoring sequences (for --records negatives, the lowest).")
@click.option("--output", "model_output", help="Model output (index or class/label name); needed with several.")
@click.option("--window", type=int, help="TF-MoDISco scanning window (bp). [default: from the input length]")
@click.option("--flank", type=int, help="TF-MoDISco seqlet flank (bp). [default: from the input length]")
@click.option("--max-seqlets", type=int, help="Seqlets per sign clustered at most. [default: 5000]")
@click.option("--fdr", type=float, help="Seqlet false discovery rate. [default: 0.05]")
@click.option("--leiden-runs", type=int, help="Leiden clustering seeds. [default: 10]")
@_jaspar_options
@click.option("--no-plots", is_flag=True, help="No logos.")
@click.option("--force", is_flag=True, help="Replace the output folder.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def discover(run_dir, data, out_dir, attributions, split, records, top, model_output, window, flank, max_seqlets,
             fdr, leiden_runs, jaspar, jaspar_release, jaspar_collection, motif_db, q_threshold, no_plots, force,
             quiet):
    """Motifs the model uses: TF-MoDISco on exact-ISM attributions, patterns named by JASPAR (Tomtom)."""
    from .discover import run_discover

    r = run_discover(run_dir, data, out_dir, attributions=attributions, split=split, records=records, top=top,
                     output=model_output, window=window, flank=flank, max_seqlets=max_seqlets, fdr=fdr,
                     leiden_runs=leiden_runs, jaspar=jaspar, jaspar_release=jaspar_release,
                     jaspar_collection=jaspar_collection, motif_db=motif_db, q_threshold=q_threshold,
                     plots=not no_plots, force=force, command=_command_line())
    _notes(r)
    t, s = r["table"], r["seconds"]
    _say(quiet, f"wrote {r['out_dir']}/: {len(t)} pattern(s) from {r['n_seqlets']} seqlets (patterns.h5, "
                f"patterns.csv, seqlets.csv/.bed, patterns_*.meme/.jaspar{', logos/' if not no_plots else ''}); "
                f"attributions {s['attributions']:.1f} s, TF-MoDISco {s['modisco']:.1f} s, Tomtom {s['tomtom']:.1f} s")
    _say(quiet, f"records read {r['records_read']} = used {r['records_used']} + dropped "
                f"{r['records_read'] - r['records_used']} (not selected)")
    for row in t.itertuples():
        match = ""
        if r["compared"] and row.qvalue < r["q_threshold"]:
            match = f"{row.best_match_id:<10s} {row.best_match_name:<16s} q={row.qvalue:.2g}"
        elif r["compared"]:
            match = f"{'no match at q < ' + str(r['q_threshold']):<27s}"
        _say(quiet, f"  {row.pattern:<7s} {row.sign:<8s} {row.n_seqlets:>6d} seqlets  {match}  {row.consensus}")


# --- report command ---


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="The HTML file to write.")
@click.option("--data", "data", multiple=True, type=click.Path(dir_okay=False),
              help="A dataset file of the run's length and task; repeat for several (e.g. train.h5 and test.h5).")
@click.option("--ism", type=click.Path(dir_okay=False), help="An ISM file of 'seqcnn mutagenesis' made with RUN_DIR.")
@click.option("--motifs", type=click.Path(file_okay=False), help="The folder of 'seqcnn motifs' for RUN_DIR.")
@click.option("--discover", "discover_dir", type=click.Path(file_okay=False),
              help="The folder of 'seqcnn discover' for RUN_DIR.")
@click.option("--variants", type=click.Path(dir_okay=False), help="An effects table of 'seqcnn variants'.")
@click.option("--max-examples", type=int, default=5, show_default=True,
              help="ISM examples and variant figures embedded.")
@click.option("--max-rows", type=int, default=100, show_default=True, help="Variant table rows shown.")
@click.option("--force", is_flag=True, help="Replace the report.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def report(run_dir, out, data, ism, motifs, discover_dir, variants, max_examples, max_rows, force, quiet):
    """One self-contained HTML page of a run: data, model, training, performance, interpretation, provenance."""
    from .report import build_report

    r = build_report(run_dir, out, data=data, ism=ism, motifs=motifs, discover=discover_dir, variants=variants,
                     max_examples=max_examples, max_rows=max_rows, force=force, command=_command_line())
    _notes(r)
    _say(quiet, f"wrote {r['out']} ({r['bytes'] / 2**20:.1f} MB; sections: {', '.join(r['sections'])})")
    dropped = sum(r["dropped"].values())
    reasons = ", ".join(r["dropped"]) or "none"
    _say(quiet, f"records read {r['records_read']} = shown {r['shown']} + dropped {dropped} ({reasons}); "
                f"{r['data_records']} dataset records summarised")


# --- simulate command ---


@main.command()
@click.option("-o", "--output", "prefix", required=True,
              help="Output prefix: writes PREFIX.fa, PREFIX_labels.csv and PREFIX_sites.csv (with --genome: "
                   "PREFIX.fa, PREFIX_<motif>.narrowPeak and PREFIX_sites.csv).")
@click.option("--motif", "motifs", multiple=True, default=["MA0139.1"], show_default=True,
              help="JASPAR matrix id to plant; repeat for several (multiclass/multilabel).")
@click.option("--design", type=click.Choice(["binary", "multiclass", "multilabel"]), default="binary",
              show_default=True, help="binary: positives carry motif 1; multiclass: class k carries motif k; "
                                      "multilabel: each motif present independently.")
@click.option("-n", "--n", "n", type=int, default=1000, show_default=True, help="Number of sequences.")
@click.option("--length", type=int, default=200, show_default=True, help="Sequence length.")
@click.option("--positive-fraction", type=float, default=0.5, show_default=True,
              help="Share of positives (binary) or of sequences carrying each motif (multilabel).")
@click.option("--sites", type=int, default=1, show_default=True, help="Sites planted per carried motif.")
@click.option("--background", type=click.Choice(["iid", "dinucleotide"]), default="iid", show_default=True,
              help="Independent bases with --gc, or human-like dinucleotide (Markov) background.")
@click.option("--gc", type=float, default=0.41, show_default=True, help="GC content of the iid background.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--jaspar-release", default="JASPAR2024", show_default=True, help="pyjaspar release of the motifs.")
@click.option("--genome", "genome", is_flag=True,
              help="Simulate a genome instead: chromosomes with GC-rich and GC-poor domains, N gaps and soft-masking, "
                   "and per motif a narrowPeak file of peaks around planted sites.")
@click.option("--chroms", type=int, default=4, show_default=True, help="With --genome: number of chromosomes.")
@click.option("--chrom-length", type=int, default=2_000_000, show_default=True,
              help="With --genome: length of each chromosome.")
@click.option("--peaks", type=int, default=500, show_default=True, help="With --genome: peaks per motif.")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("--quiet", "-q", is_flag=True)
@click.pass_context
def simulate(ctx, prefix, motifs, design, n, length, positive_fraction, sites, background, gc, seed, jaspar_release,
             genome, chroms, chrom_length, peaks, force, quiet):
    """Simulate labelled sequences (or, with --genome, a genome and peak files) with real JASPAR motifs planted."""
    from click.core import ParameterSource

    from .simulate import write_genome_simulation, write_simulation

    given = {name for name in ctx.params if ctx.get_parameter_source(name) != ParameterSource.DEFAULT}
    sequence_only = sorted(given & {"design", "n", "length", "positive_fraction", "sites", "background", "gc"})
    genome_only = sorted(given & {"chroms", "chrom_length", "peaks"})
    if genome and sequence_only:
        raise SeqcnnError(f"--{sequence_only[0].replace('_', '-')} applies to simulated sequence sets, not to "
                          f"--genome", hint="size a genome with --chroms, --chrom-length and --peaks")
    if not genome and genome_only:
        raise SeqcnnError(f"--{genome_only[0].replace('_', '-')} applies to --genome only",
                          hint="add --genome, or size a sequence set with -n and --length")
    if genome:
        report = write_genome_simulation(prefix, n_chroms=chroms, chrom_length=chrom_length, motifs=list(motifs),
                                         n_peaks=peaks, seed=seed, release=jaspar_release, force=force)
        files = ", ".join(f"{report['peaks'][m]} ({report['n_peaks'][m]} peaks)" for m in report["peaks"])
        _say(quiet, f"wrote {report['fasta']} ({len(report['chroms'])} chromosomes x {chrom_length:,} bp), {files}"
                    f", {report['sites']} and {report['variants']} ({report['n_variants']} SNVs: site-disrupting and "
                    f"neutral): motifs {', '.join(report['motifs'])}")
        return
    report = write_simulation(prefix, n=n, length=length, motifs=list(motifs), design=design,
                              positive_fraction=positive_fraction, sites_per_seq=sites, gc=gc,
                              background_model=background, seed=seed, release=jaspar_release, force=force)
    _say(quiet, f"wrote {report['fasta']}, {report['labels']} and {report['sites']}: {n} sequences x {length} bp, "
                f"{design}, motifs {', '.join(report['motifs'])}")


if __name__ == "__main__":
    main()
