"""``seqcnn encode``, ``info`` and ``simulate``: data in."""

import json

import click

from ..errors import SeqcnnError
from . import main, _command_line, _notes, _progress, _say


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
@click.option("--keep-overlaps", is_flag=True,
              help="Genome mode: keep peaks whose windows overlap another's of the same file by more than half "
                   "(default: merged into the strongest; see README).")
@click.option("--jitter", type=int, default=0, show_default=True, metavar="J",
              help="Genome mode: store each window J bases wider on both sides (--length + 2J around the same centre); "
                   "train then crops a random --length window each epoch (shift augmentation), every other verb "
                   "the centred one.")
@click.option("--no-plots", is_flag=True, help="Genome mode: no GC-content figure.")
@click.option("--force", is_flag=True, help="Overwrite the output if it exists.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary.")
@click.pass_context
def encode(ctx, fasta, labels, output, class_per_file, id_column, label_columns, task, length, pad_mode, allow_iupac,
           split, split_column, holdout_chrom, seed, drop_unlabelled, compression, compression_level, beds, genome,
           center, negatives, negative_ratio, negatives_bed, exclude, chroms, max_n, flank_distance, label_names,
           min_overlap, val_chrom, keep_overlaps, jitter, no_plots, force, quiet):
    """Encode FASTA (+.gz) and labels, or peaks (--bed) from a --genome, into a one-hot HDF5 dataset with a split."""
    from click.core import ParameterSource

    given = {name for name in ctx.params if ctx.get_parameter_source(name) != ParameterSource.DEFAULT}
    genome_only = {"beds", "genome", "center", "negatives", "negative_ratio", "negatives_bed", "exclude", "chroms",
                   "max_n", "flank_distance", "label_names", "min_overlap", "val_chrom", "keep_overlaps", "jitter"}
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
                                   "(--holdout-chrom, --val-chrom), or by position blocks when the peaks lie on "
                                   "too few chromosomes; a random --split would put overlapping windows in train "
                                   "and test")
        _encode_genome(output, list(beds), genome, length, center, negatives, negative_ratio, negatives_bed,
                       list(exclude), commas(chroms), max_n, flank_distance, commas(label_names), min_overlap,
                       commas(holdout_chrom), commas(val_chrom), seed, compression, compression_level, no_plots,
                       force, quiet, keep_overlaps, jitter)
        return
    if not fasta:
        raise SeqcnnError("no input: give FASTA file(s) with --labels, or --bed PEAKS --genome GENOME.fa",
                          hint="see 'seqcnn encode -h'")
    if "jitter" in given:
        raise SeqcnnError("--jitter applies to genome mode: a FASTA record has no genomic flank to store",
                          hint="encode the regions with --bed REGIONS --genome GENOME.fa --length L --jitter J, or "
                               "drop --jitter")
    wrong = sorted(given & genome_only)
    if wrong:
        raise SeqcnnError(f"--{wrong[0].replace('_', '-')} applies to genome mode (--bed and --genome)",
                          hint="give --bed PEAKS --genome GENOME.fa, or drop the option")
    from ..ingest import encode_fasta

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
                   compression_level, no_plots, force, quiet, keep_overlaps=False, jitter=0):
    """``seqcnn encode --bed ... --genome ...``: call the library, print its summary."""
    from ..genome_encode import encode_intervals

    report = encode_intervals(
        beds, genome, output, length=length, center=center, negatives=negatives, negative_ratio=negative_ratio,
        negatives_bed=negatives_bed, exclude=exclude, chroms=chroms, max_n=max_n, flank_distance=flank_distance,
        label_names=label_names, min_overlap=min_overlap, holdout_chrom=holdout_chrom, val_chrom=val_chrom,
        seed=seed, compression=compression, compression_level=compression_level, plots=not no_plots, force=force,
        progress=_progress(quiet), command=_command_line(), keep_overlaps=keep_overlaps, jitter=jitter)
    splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items())
    if report.get("split_blocks"):
        plan = report["split_blocks"]
        chosen = (f"by position blocks ({plan['n_blocks']} blocks; {plan['why']}): test "
                  f"{'+'.join(plan['regions']['test'])}; val {'+'.join(plan['regions']['val'])}")
    else:
        chosen = "by chromosome: " + "; ".join(f"{k} {','.join(v)}" for k, v in report["split_chroms"].items())
    stored = (f" (stored {report['stored_length']} bp: {report['jitter']} bp of jitter flank on each side)"
              if report.get("jitter") else "")
    _say(quiet, f"wrote {report['path']}: {report['records_written']} records x {report['length']} bp{stored} "
                f"({report['task']}; {splits}; {chosen})")
    dropped = report["dropped"]
    reasons = ", ".join(f"{k} {v}" for k, v in dropped.items() if v) or "none"
    _say(quiet, f"records read {report['records_read']} = written {report['read_written']} + dropped "
                f"{sum(dropped.values())} ({reasons}); negatives made {report['negatives_made']} "
                f"({report['negatives_method']})" + (f"; {report['skipped_lines']} track/browser/# line(s) skipped"
                                                     if report.get("skipped_lines") else ""))
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
    from ..store import open_dataset

    with open_dataset(dataset) as ds:
        summary = ds.summary(leakage=True)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    stored = (f" (stored {summary['stored_length']} bp: {summary['jitter']} bp of jitter flank on each side; train "
              f"crops a random {summary['length']} bp window, every other verb the centred one)"
              if summary.get("jitter") else "")
    click.echo(f"{summary['path']}: {summary['records']} records x {summary['length']} bp{stored}, task "
               f"{summary['task']}")
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
    elif gm and gm.get("split_blocks"):
        plan = gm["split_blocks"]
        where = "; ".join(f"{k} {', '.join(plan['regions'][k])}" for k in ("train", "val", "test"))
        click.echo(f"split: position blocks on {', '.join(plan['chroms'])} ({plan['why']}; {plan['n_blocks']} "
                   f"blocks, seed {plan['seed']}, each window in the block of its centre, windows crossing into "
                   f"another split's block dropped): {where}")
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
                   f"{str(g.get('index_sha256'))[:12]}...)" + (f", read through its bgzip copy {g['bgzip_copy']}"
                                                              if g.get("bgzip_copy") else ""))
        if neg.get("overlaps"):
            click.echo(f"overlapping peak windows of one file: {neg['overlaps']}" + (
                " (the strongest peak kept, by signalValue or score, else the first)" if neg["overlaps"] == "merged"
                else " (--keep-overlaps)"))
        if gm.get("dropped"):
            click.echo("dropped at encode: " + (", ".join(f"{k} {v}" for k, v in gm["dropped"].items() if v) or "none"))
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

    from ..simulate import write_genome_simulation, write_simulation

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
