"""``seqcnn variants``: how variants (VCF, table, or allele pairs) change a trained run's predictions."""

import click

from ..errors import SeqcnnError
from . import main, _jaspar_target_options, _notes, _say


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--vcf", type=click.Path(dir_okay=False),
              help="Variants: VCF (plain, gzip or bgzip) or BCF (with --genome).")
@click.option("--table", type=click.Path(dir_okay=False),
              help="Variants: CSV/TSV with chrom, pos (1-based), ref, alt[, id] (with --genome).")
@click.option("--genome", type=click.Path(dir_okay=False),
              help="Reference FASTA of the variants (plain, bgzip, or gzip: read through a bgzip copy).")
@click.option("--ref-fasta", type=click.Path(dir_okay=False), help="Allele pairs: reference sequences.")
@click.option("--alt-fasta", type=click.Path(dir_okay=False), help="Allele pairs: alternative sequences, same ids.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Effects table: .tsv, .csv or .h5; skipped rows go to <stem>.skipped.tsv.")
@click.option("--ref-mismatch", type=click.Choice(["check", "skip", "error", "use-vcf"]), default="check",
              show_default=True,
              help="A REF that differs from the genome. check: skip and count it, but stop (exit 2) when more than "
                   "5 % of REF alleles (and at least 3) differ, which means another assembly or 0-based "
                   "positions; skip: skip and count however many; error: stop at the first; use-vcf: score "
                   "with the file's REF.")
@click.option("--pair-anchor", type=click.Choice(["block", "allele"]), default="block", show_default=True,
              help="Allele pairs: centre the window on the bases that differ (block), or on the allele's centre, "
                   "moved only as far as needed to hold the block (allele; the peak's centre for peak-centred pairs).")
@click.option("--shifts", type=int, default=0, show_default=True,
              help="Allele pairs: average each pair's logits over its window moved -K..+K bases, where the whole "
                   "differing block stays inside and no N padding is added (the table's shifts_used).")
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
@_jaspar_target_options
@click.option("--no-plots", is_flag=True, help="No figures.")
@click.option("--force", is_flag=True, help="Overwrite the output (and its .skipped.tsv and _plots folder).")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
def variants(run_dir, vcf, table, genome, ref_fasta, alt_fasta, output, ref_mismatch, pair_anchor, shifts, offset,
             strands, batch_size, null, seed, shard, plot_top, jaspar, jaspar_release, jaspar_collection, motif_db,
             no_plots, force, quiet):
    """Score how variants change a trained run's predictions: delta_logit = alt - ref, per output.

    Reference and alternative windows of the model's length around each variant, every one scored by a forward
    pass (and its reverse complement; the table's path column says 'forward'); deletions are refilled from the
    genome, insertions trimmed around the centre. Allele pairs (--ref-fasta/--alt-fasta) are aligned on the
    bases that differ: one window start in both alleles, centred on that block (--pair-anchor); pairs identical or
    whose block exceeds the window are skipped. The table gives each allele's block in its window and whether
    the window was cropped or padded. (Python's seqcnn.score_pairs(..., snv='kernel') scores SNVs through the
    exact single-substitution kernel instead: the same numbers, slower on CPU.)
    """
    from ..variants import run_variants

    if batch_size < 1:
        raise SeqcnnError("--batch-size must be positive")
    r = run_variants(run_dir, output, force=force, vcf=vcf, table=table, genome=genome, ref_fasta=ref_fasta,
                     alt_fasta=alt_fasta, pair_anchor=pair_anchor, shifts=shifts, offset=offset,
                     ref_mismatch=ref_mismatch, strands=strands, batch_size=batch_size, shard=shard, null=null,
                     seed=seed, plots=not no_plots, plot_top=plot_top, jaspar=jaspar, jaspar_release=jaspar_release,
                     jaspar_collection=jaspar_collection, motif_db=motif_db)
    _notes(r)
    _say(quiet, f"wrote {r['out']}: {r['scored']} variants, output(s) "
                f"{', '.join(r['outputs'])}" + (f"; skipped rows in {r['skipped_out']}" if r["skipped_out"] else ""))
    skipped = sum(r["skipped"].values())
    reasons = ", ".join(f"{k} {v}" for k, v in r["skipped"].items()) or "none"
    alleles = f" ({r['rows']} alleles)" if r["rows"] != r["records_read"] else ""
    # As predict's: windows that lost bases or hold padding are counted, never silent.
    fit = ", ".join(f"{k} {r[k]}" for k in ("cropped", "padded") if r[k])
    _say(quiet, f"records read {r['records_read']}{alleles} = scored {r['scored']} + skipped {skipped} ({reasons})"
                + (f"; windows of the scored: {fit}" if fit else ""))
    if r["figures"]:
        _say(quiet, f"figures: {len(r['figures'])} PNG in {r['plot_dir']}/"
                    + (f" (sites from {r['database']})" if r["database"] else " (no motif sites: --jaspar none)"))
