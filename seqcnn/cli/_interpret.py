"""``seqcnn attribute``, ``mutagenesis``, ``motifs``, ``discover`` and ``report``: interpretation."""

import click

from . import main, _command_line, _jaspar_target_options, _notes, _progress, _say


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
    """The motif-comparison options of the verbs that name motifs by Tomtom matches (motifs, discover)."""
    fn = click.option("--q-threshold", type=float, default=0.05, show_default=True,
                      help="q-value that counts as a match.")(fn)
    return _jaspar_target_options(fn)


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
    from ..gradients import run_attribute

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
    from ..mutagenesis import run_mutagenesis

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
    from ..motif_compare import no_match_text
    from ..motifs import run_motifs

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
        if rep["matched"]:
            _say(quiet, f"{len(rep['matched'])} filter(s) match {rep['database']} at q < {q_threshold}")
        else:
            _say(quiet, no_match_text(q_threshold, rep["database"], rep["tax_group"]))
        top = t.loc[rep["matched"]].sort_values("qvalue").head(10)
        for _, r in top.iterrows():
            _say(quiet, f"  filter{r['filter']:<4d} {r['best_match_id']:<10s} {r['best_match_name']:<16s} "
                        f"q={r['qvalue']:.2g}  {r['nsites']} sites  {r['consensus']}")
    _notes(rep)


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
@click.option("--quiet", "-q", is_flag=True, help="No stage lines or summary.")
def discover(run_dir, data, out_dir, attributions, split, records, top, model_output, window, flank, max_seqlets,
             fdr, leiden_runs, jaspar, jaspar_release, jaspar_collection, motif_db, q_threshold, no_plots, force,
             quiet):
    """Motifs the model uses: TF-MoDISco on exact-ISM attributions, patterns named by JASPAR (Tomtom)."""
    from ..discover import run_discover
    from ..motif_compare import no_match_text

    r = run_discover(run_dir, data, out_dir, attributions=attributions, split=split, records=records, top=top,
                     output=model_output, window=window, flank=flank, max_seqlets=max_seqlets, fdr=fdr,
                     leiden_runs=leiden_runs, jaspar=jaspar, jaspar_release=jaspar_release,
                     jaspar_collection=jaspar_collection, motif_db=motif_db, q_threshold=q_threshold,
                     plots=not no_plots, force=force, command=_command_line(), log=_stage_lines(quiet, "discover"))
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
    if r["compared"] and len(t) and not (t.qvalue < r["q_threshold"]).any():
        _say(quiet, f"patterns: {no_match_text(r['q_threshold'], r['database'], r['tax_group'])}")


def _stage_lines(quiet, verb):
    """A function printing ``verb: <stage> [N s]`` on stderr as each stage of a long verb starts (not with -q):
    minutes without a line look like a hang. Plain lines, unlike progress bars, read well in logs too."""
    import time

    t0 = time.time()

    def say(text):
        if not quiet:
            click.echo(f"{verb}: {text} [{time.time() - t0:.0f} s]", err=True)

    return say


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
@click.option("--scan", type=click.Path(dir_okay=False),
              help="A track of 'seqcnn scan' (bigWig/bedGraph): the genome-wide section's locus figures.")
@click.option("--genomewide", type=click.Path(dir_okay=False),
              help="The JSON of 'seqcnn evaluate RUN --genome': the PR curve, its numbers, the best/worst regions.")
@click.option("--peaks", type=click.Path(dir_okay=False),
              help="Peaks (BED) drawn under the track. [default: the --genomewide JSON's]")
@click.option("--sites", type=click.Path(dir_okay=False),
              help="Called sites (the BED of 'seqcnn scan --sites') drawn under the track.")
@click.option("--max-examples", type=int, default=5, show_default=True,
              help="ISM examples and variant figures embedded.")
@click.option("--max-rows", type=int, default=100, show_default=True, help="Variant table rows shown.")
@click.option("--force", is_flag=True, help="Replace the report.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def report(run_dir, out, data, ism, motifs, discover_dir, variants, scan, genomewide, peaks, sites, max_examples,
           max_rows, force, quiet):
    """One self-contained HTML page of a run: data, model, training, performance, interpretation, provenance."""
    from ..report import build_report

    r = build_report(run_dir, out, data=data, ism=ism, motifs=motifs, discover=discover_dir, variants=variants,
                     scan=scan, genomewide=genomewide, peaks=peaks, sites=sites, max_examples=max_examples,
                     max_rows=max_rows, force=force, command=_command_line())
    _notes(r)
    _say(quiet, f"wrote {r['out']} ({r['bytes'] / 2**20:.1f} MB; sections: {', '.join(r['sections'])})")
    dropped = sum(r["dropped"].values())
    reasons = ", ".join(r["dropped"]) or "none"
    _say(quiet, f"records read {r['records_read']} = shown {r['shown']} + dropped {dropped} ({reasons}); "
                f"{r['data_records']} dataset records summarised")
