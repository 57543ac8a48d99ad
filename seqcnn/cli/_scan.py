"""``seqcnn scan``: a trained model over a whole genome (tracks, sites, shards) and ``seqcnn scan --merge``."""

import click

from ..errors import SeqcnnError
from . import main, _command_line, _notes, _progress, _say


@main.command("scan")
@click.argument("inputs", nargs=-1, type=click.Path(), metavar="RUN | --merge PARTS...")
@click.option("--genome", type=click.Path(dir_okay=False), help="Reference FASTA (plain or bgzip).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The track: .bw/.bigwig (bigWig) or .bedgraph/.bg (bedGraph, optionally .gz). A model with "
                   "several outputs writes one file per output, its name before the extension (track.CTCF.bw), "
                   "unless --output-name picks one. OUTPUT.json records the run, genome, stride, value and counts.")
@click.option("--chroms", help="Only these chromosomes (comma-separated, e.g. XV,XVI).")
@click.option("--regions", type=click.Path(dir_okay=False),
              help="Only windows centred inside these regions (BED; overlapping regions are merged).")
@click.option("--stride", type=int, default=10, show_default=True,
              help="Grid step S (1 to the window length L): windows centred at positions c with c % S == S // 2, "
                   "window [c - L//2, c - L//2 + L), value written over the bin [c - S//2, c - S//2 + S).")
@click.option("--value", type=click.Choice(["probability", "logit"]), default="probability", show_default=True,
              help="What the track holds: the model's probability (sigmoid, or softmax for multiclass) or logit.")
@click.option("--output-name", help="Write only this model output (a label or class name of the run).")
@click.option("--max-n", type=float, default=0.1, show_default=True,
              help="Windows with a larger fraction of non-ACGT bases (N) get no value (counted as n_rich); windows "
                   "running off a chromosome end get none either (off_chromosome).")
@click.option("--sites", type=click.Path(dir_okay=False),
              help="Also write called sites (narrowPeak): windows with probability >= --threshold, adjacent bins "
                   "merged; score round(1000 x max probability), signalValue the max probability, pValue and "
                   "qValue -1, peak the best window's centre - start.")
@click.option("--threshold", type=float, default=0.9, show_default=True,
              help="Site threshold on the probability, in (0, 1).")
@click.option("--shard", help="K/N: scan only part K of N of the genome (nearly equal lengths, genome order, cut on "
                              "1 Mbp slab boundaries); join the N tracks with 'seqcnn scan --merge'.")
@click.option("--merge", "merge_parts", is_flag=True,
              help="Merge form: seqcnn scan --merge PART1 ... PARTN -o track.bw [--sites sites.bed] joins shard "
                   "tracks (given in shard order) into the unsharded track, and calls sites on it (shards' own "
                   "sites files would split a site crossing a shard edge).")
@click.option("--force", is_flag=True, help="Overwrite outputs.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def scan_cmd(inputs, genome, output, chroms, regions, stride, value, output_name, max_n, sites, threshold, shard,
             merge_parts, force, quiet):
    """Score every window of a genome with a run: a bigWig/bedGraph track, optionally called sites.

    \b
    seqcnn scan RUN --genome G.fa [--chroms XV,XVI | --regions loci.bed] [--stride 10] -o track.bw
    seqcnn scan RUN --genome G.fa -o track.bw --sites sites.bed --threshold 0.9
    seqcnn scan RUN --genome G.fa --shard 3/10 -o part3.bw
    seqcnn scan --merge part1.bw ... part10.bw -o track.bw [--sites sites.bed --threshold 0.9]

    Windows are read in slabs of 2^20 bp of each chromosome (memory flat in genome size); the first layer is computed
    once per slab where the model allows (the summary says which path ran: global, local, chain or batched).
    """
    from ..outputs import parse_shard
    from ..scan import merge, scan

    if merge_parts:
        if not inputs:
            raise SeqcnnError("--merge needs the shards' tracks", hint="seqcnn scan --merge p1.bw p2.bw -o track.bw")
        if genome or chroms or regions or shard or output_name:
            raise SeqcnnError("--merge takes only the parts, -o, --sites, --threshold and --force",
                              hint="drop --genome/--chroms/--regions/--shard/--output-name: the parts' summaries "
                                   "hold them")
        r = merge(inputs, output, force=force, sites=sites, threshold=threshold)
        if r.get("missing_shards"):
            _notes({"notes": [f"missing shards: {', '.join(map(str, r['missing_shards']))} (the merged track has "
                              f"no values there; merge all N parts of the scan)"]})
        _say(quiet, f"wrote {r['out']}: {len(inputs)} parts, {r['intervals']} intervals")
        if r.get("sites"):
            _say(quiet, f"sites: {r['sites']['file']} ({r['sites']['n']})")
        w = r["windows"]
        if w:
            reasons = ", ".join(f"{k} {v}" for k, v in w["dropped"].items())
            _say(quiet, f"windows: records read {w['considered']} = scored {w['scored']} + dropped "
                        f"{sum(w['dropped'].values())} ({reasons})")
        return
    if len(inputs) != 1:
        raise SeqcnnError("give one run directory (or --merge PARTS)", hint="seqcnn scan RUN --genome G.fa -o t.bw")
    if not genome:
        raise SeqcnnError("--genome is required", hint="seqcnn scan RUN --genome G.fa -o t.bw")
    r = scan(inputs[0], genome, output, chroms=chroms, regions=regions, stride=stride, value=value,
             output_name=output_name, max_n=max_n, sites=sites, threshold=threshold, shard=parse_shard(shard),
             force=force, progress=_progress(quiet), command=_command_line())
    _notes(r)
    w = r["windows"]
    reasons = ", ".join(f"{k} {v}" for k, v in w["dropped"].items())
    _say(quiet, f"wrote {', '.join(r['files'])} ({r['value']}, stride {r['stride']}, {r['bases']:,} bp, path "
                f"{r['method']}, {r['seconds']:.1f} s) and {r['summary']}")
    _say(quiet, f"windows: records read {w['considered']} = scored {w['scored']} + dropped "
                f"{sum(w['dropped'].values())} ({reasons})")
    if r["sites"]:
        _say(quiet, f"sites: {', '.join(f'{f} ({n})' for f, n in zip(r['sites']['files'], r['sites']['n']))}")
