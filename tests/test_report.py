"""seqcnn.report: the HTML report of a run, its sections, its numbers, its refusals, and a real browser opening it."""

import json
import os
import re
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analysis(binary_run, sim_binary, tmp_path_factory):
    """Every input a report takes, made with the session's trained binary run: ISM, motifs, discover, variants."""
    from seqcnn.discover import run_discover
    from seqcnn.ingest import encode_fasta
    from seqcnn.motifs import run_motifs
    from seqcnn.mutagenesis import run_mutagenesis
    from seqcnn.store import open_dataset
    from seqcnn.variants import run_variants

    _, run = binary_run
    d = tmp_path_factory.mktemp("report")
    run_mutagenesis(run, sim_binary, d / "ism.h5", split="test", top=12, by="label", plot_max=0)
    run_motifs(run, sim_binary, d / "motifs", split="val")
    run_discover(run, sim_binary, d / "discover", split="all", records="positives", jaspar="none")
    # 30 allele pairs: a random SNV in each of the first test sequences
    with open_dataset(sim_binary) as ds:
        rows = ds.indices("test")[:30]
        x = ds.read_x(rows)
        ids = ds.read_ids(rows)
    seqs = ["".join("ACGT"[b] for b in s.argmax(1)) for s in x]
    rng = np.random.default_rng(0)
    with open(d / "ref.fa", "w") as ref, open(d / "alt.fa", "w") as alt:
        for rid, s in zip(ids, seqs):
            i = int(rng.integers(len(s)))
            b = "ACGT"[("ACGT".index(s[i]) + 1 + int(rng.integers(3))) % 4]
            ref.write(f">{rid}\n{s}\n")
            alt.write(f">{rid}\n{s[:i]}{b}{s[i + 1:]}\n")
    run_variants(run, d / "effects.tsv", ref_fasta=d / "ref.fa", alt_fasta=d / "alt.fa", plot_top=3)
    # a held-out file of the same task: the report computes its metrics, as 'seqcnn evaluate' does
    fasta = d / "held_out.fa"
    with open(fasta, "w") as fh:
        for rid, s in zip(ids, seqs):
            fh.write(f">{rid}\n{s}\n")
    with open_dataset(sim_binary) as ds:
        labels = pd.DataFrame({"id": ids, "label": ds.y[rows]})
    labels.to_csv(d / "held_out.csv", index=False)
    encode_fasta([fasta], d / "held_out.h5", labels=d / "held_out.csv", split="0,0,1")
    return SimpleNamespace(d=d, run=run, data=sim_binary, ism=d / "ism.h5", motifs=d / "motifs",
                           discover=d / "discover", variants=d / "effects.tsv", held_out=d / "held_out.h5")


@pytest.fixture(scope="module")
def full(analysis, tmp_path_factory):
    """The report with every input, written once: (html text, path, the CLI result)."""
    from click.testing import CliRunner

    from seqcnn.cli import main

    out = tmp_path_factory.mktemp("full") / "report.html"
    a = analysis
    res = CliRunner().invoke(main, [str(v) for v in (
        "report", a.run, "-o", out, "--data", a.data, "--data", a.held_out, "--ism", a.ism, "--motifs", a.motifs,
        "--discover", a.discover, "--variants", a.variants, "--max-examples", 3, "--max-rows", 20)],
        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out.read_text(), out, res


def _section_ids(html):
    return re.findall(r'<section id="([a-z]+)"', html)


def _headline(html, split):
    """The auROC/auPRC/accuracy/MCC cells of a split's row in the headline table."""
    row = re.search(rf'<tr data-split="{re.escape(split)}">(.*?)</tr>', html, re.S).group(1)
    return dict(re.findall(r'data-metric="(\w+)">([^<]*)<', row))


def test_the_full_report_has_every_section_and_embeds_every_figure(full, analysis):
    html, out, res = full
    assert _section_ids(html) == ["data", "model", "training", "performance", "ism", "motifs", "discover",
                                  "variants", "provenance"]
    images = re.findall(r'<img[^>]*src="([^"]*)"', html)
    assert len(images) > 20 and all(src.startswith("data:image/png;base64,") for src in images)
    # nothing refers outside the page: no external script, style sheet, font or link
    assert not re.search(r'(src|href)="(?!data:|#)', html) and "<link" not in html and "@import" not in html
    assert os.path.getsize(out) < 5 * 2**20
    # the ISM section shows the --max-examples highest reference logits of the file
    from seqcnn.mutagenesis import read_ism

    ism = read_ism(str(analysis.ism))
    top = [ism["ids"][i] for i in np.argsort(-ism["reference_score"], kind="stable")[:3]]
    shown = re.findall(r'<img class="wide" src="[^"]*" alt="ISM of ([^"]+)"', html)
    assert shown == top
    # the filter table has a row and a logo per filter of filters.csv, most influential first
    filters = pd.read_csv(analysis.motifs / "filters.csv")
    table = re.search(r'<table class="sortable" id="filters">(.*?)</table>', html, re.S).group(1)
    assert table.count('alt="filter ') == len(filters)
    first = int(re.search(r'<tbody>\s*<tr><td class="num">(\d+)</td>', table).group(1))
    assert first == int(filters.sort_values("influence", ascending=False).iloc[0]["filter"])
    # patterns: one row per pattern of patterns.csv (possibly none, then modisco's note is shown)
    patterns = pd.read_csv(analysis.discover / "patterns.csv")
    assert len(re.findall(r'alt="(?:pos|neg)_\d+ logo"', html)) == len(patterns)
    # variants: the 20 largest |delta logit| of 30, largest first
    effects = pd.read_csv(analysis.variants, sep="\t")
    vt = re.search(r'id="variant-table">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr><td>([^<]+)</td>", vt)
    assert len(rows) == 20 and rows[0] == effects.loc[effects.delta_logit.abs().idxmax(), "id"]
    # model and provenance: the parameter count and best epoch of the run; every input's sha256 and command
    from seqcnn.readers import sha256_file

    cfg = json.loads((analysis.run / "config.json").read_text())
    metrics = json.loads((analysis.run / "metrics.json").read_text())
    assert f"<td>parameters</td><td>{cfg['model']['n_params']:,}</td>" in html
    assert f"<td>best epoch</td><td>{metrics['best_epoch']} of {metrics['epochs_run']} run" in html
    for path in (analysis.run / "model.keras", analysis.data, analysis.held_out, analysis.ism, analysis.variants):
        assert sha256_file(path) in html, path
    assert "seqcnn report " in html and f"<td>seed</td><td>{cfg['training']['seed']}</td>" in html
    # records read = shown + dropped: ISM 12 (3 shown), every filter and pattern, variants 30 (20 shown)
    n = 12 + len(filters) + len(patterns) + 30
    assert f"records read {n} = shown {n - 9 - 10} + dropped {9 + 10}" in res.output, res.output


def test_numbers_on_the_page_equal_metrics_json(full, analysis):
    html, _, _ = full
    metrics = json.loads((analysis.run / "metrics.json").read_text())
    for split in ("train", "val", "test"):
        cells = _headline(html, split)
        for key in ("auroc", "auprc", "accuracy", "mcc"):
            assert cells[key] == f"{metrics[split][key]:.3f}", (split, key)
        lo, hi = metrics[split]["auroc_ci"]
        assert f"{lo:.3f}–{hi:.3f}" in html


def test_a_dataset_not_the_runs_own_is_scored_as_evaluate_scores_it(full, analysis):
    """held_out.h5's test split is labelled by file (the run has its own test split) and equals evaluate's."""
    from seqcnn.scoring import evaluate

    html, _, _ = full
    m = evaluate(analysis.run, analysis.held_out, split="test")
    cells = _headline(html, "test (held_out.h5)")
    assert cells["auroc"] == f"{m['auroc']:.3f}" and cells["auprc"] == f"{m['auprc']:.3f}"
    assert f"{m['auprc_ci'][0]:.3f}–{m['auprc_ci'][1]:.3f}" in html
    assert "computed by seqcnn report on held_out.h5" in html


def test_sections_follow_the_inputs_given(analysis, tmp_path):
    from seqcnn.report import build_report

    r = build_report(analysis.run, tmp_path / "bare.html")
    html = (tmp_path / "bare.html").read_text()
    assert r["sections"] == _section_ids(html) == ["data", "model", "training", "performance", "provenance"]
    assert "No dataset was given" in html and "calibration needs the sequences" in html
    # the run's own ROC/PR figures and its confusion matrices stand in for the curves
    assert len(re.findall(r'<img class="perf"', html)) == 3 * 3
    r = build_report(analysis.run, tmp_path / "motifs.html", motifs=analysis.motifs)
    assert r["sections"] == ["data", "model", "training", "performance", "motifs", "provenance"]
    html = (tmp_path / "motifs.html").read_text()
    assert "motifs folder" in html and "(filters.csv)" in html   # its row and key file in the provenance


@pytest.fixture(scope="module")
def other_run(analysis, tmp_path_factory):
    """A second run with the same configuration but other weights, and its own ISM file and motifs folder."""
    from seqcnn._tf import import_keras
    from seqcnn.motifs import run_motifs
    from seqcnn.mutagenesis import run_mutagenesis

    from interpret_helpers import randomize

    d = tmp_path_factory.mktemp("other")
    shutil.copytree(analysis.run, d / "run")
    model = import_keras().models.load_model(d / "run" / "model.keras")
    randomize(model, seed=5, scale=0.3)
    model.save(d / "run" / "model.keras")
    run_mutagenesis(d / "run", analysis.data, d / "ism.h5", split="test", top=5, by="label", plot_max=0)
    run_motifs(d / "run", analysis.data, d / "motifs", split="val", jaspar="none", influence=False, plots=False)
    return SimpleNamespace(run=d / "run", ism=d / "ism.h5", motifs=d / "motifs")


@pytest.mark.parametrize("case", ["ism", "motifs", "classes", "variants", "exists", "not-a-run"])
def test_inputs_that_do_not_belong_to_the_run_are_refused(case, analysis, other_run, sim_multiclass, cli, tmp_path):
    out = tmp_path / "report.html"
    args = {"ism": ["--ism", other_run.ism], "motifs": ["--motifs", other_run.motifs],
            "classes": ["--data", sim_multiclass], "variants": ["--variants", tmp_path / "bad.tsv"],
            "exists": [], "not-a-run": []}[case]
    run = analysis.run if case != "not-a-run" else analysis.motifs
    if case == "variants":   # a table of a three-output model
        pd.DataFrame({"id": ["a"], "delta_logit_A": [0.1], "delta_logit_B": [0.2]}).to_csv(
            tmp_path / "bad.tsv", sep="\t", index=False)
    if case == "exists":
        out.write_text("mine")
    res = cli("report", run, "-o", out, *args)
    assert res.exit_code == 2, res.output
    message = res.output.strip().splitlines()[-1]
    assert message.startswith("seqcnn: error:") and len(res.output.strip().splitlines()) == 1
    expect = {"ism": "another model", "motifs": "another run", "classes": "binary", "variants": "do not match",
              "exists": "--force", "not-a-run": "not a seqcnn run directory"}[case]
    assert expect in message, message
    if case == "exists":
        assert out.read_text() == "mine"
        assert cli("report", run, "-o", out, "--force", "-q").exit_code == 0
        assert out.read_text().startswith("<!DOCTYPE html>")
    else:
        assert not out.exists() and not list(tmp_path.glob("report.html*"))


def _chromium():
    """The system Chromium's path, or None."""
    for name in (os.environ.get("SEQCNN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def test_a_real_browser_opens_the_report_offline_and_sorts_its_tables(full, tmp_path):
    """Headless Chromium: no console error, no request off the page, every image decoded, sorting reorders rows."""
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium in CI: .ci/run installs Debian's chromium package")
        pytest.skip("no Chromium found (apt-get install chromium, or set SEQCNN_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    _, out, _ = full
    url = out.resolve().as_uri()
    # As root in a sandbox Chromium needs --no-sandbox; the networking flags keep its own background requests off.
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-quic"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors, requests = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            assert errors == []
            assert [u for u in requests if u != url and not u.startswith("data:")] == []
            widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
            assert len(widths) > 20 and min(widths) > 0
            # sort the filter table by its 'sites' column: ascending, then descending
            column = "#filters tbody tr td:nth-child(3)"
            before = [int(t.replace(",", "")) for t in page.locator(column).all_inner_texts()]
            page.locator("#filters thead th", has_text="sites").click()
            up = [int(t.replace(",", "")) for t in page.locator(column).all_inner_texts()]
            page.locator("#filters thead th", has_text="sites").click()
            down = [int(t.replace(",", "")) for t in page.locator(column).all_inner_texts()]
            assert up == sorted(before) and down == sorted(before, reverse=True)
            assert len(set(before)) > 1 and before != up   # the rows really moved
            # and the variant table by |delta logit| column text (numbers with a sign)
            page.locator("#variant-table thead th", has_text="delta_logit").first.click()
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            assert (tmp_path / "report.png").stat().st_size > 50_000
            target = os.environ.get("SEQCNN_REPORT_SCREENSHOT")
            if target:   # the README's screenshot: the top of the page, downscaled and quantised to stay small
                from PIL import Image

                page.evaluate("window.scrollTo(0, 0)")   # the sticky navigation bar back at the top
                page.screenshot(path=str(tmp_path / "top.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 1700},
                                full_page=True)
                with Image.open(tmp_path / "top.png") as im:
                    im.convert("RGB").resize((800, 1062), Image.LANCZOS).quantize(128).save(target, optimize=True)
        finally:
            browser.close()
    assert not errors


def test_genome_mode_data_shows_the_gc_match_and_the_chromosomes_of_each_split(tmp_path, monkeypatch):
    from seqcnn import plots, training
    from seqcnn.genome_encode import encode_intervals
    from seqcnn.report import build_report
    from seqcnn.simulate import write_genome_simulation
    from seqcnn.store import open_dataset

    sim = write_genome_simulation(str(tmp_path / "sim"), n_chroms=4, chrom_length=300_000, motifs=["MA0139.1"],
                                  n_peaks=80, seed=3)
    h5 = tmp_path / "peaks.h5"
    encode_intervals([sim["peaks"]["CTCF"]], sim["fasta"], h5, length=100, seed=1, plots=False)
    training.train(h5, tmp_path / "run", params={"filters": 4, "kernel_size": 9, "dense_units": 4}, epochs=2,
                   batch_size=64, quiet=True, n_boot=50, plots=False)
    labels, draw = [], plots.gc_histogram

    def spy(*args, negative_label="negatives", **kw):
        labels.append(negative_label)
        return draw(*args, negative_label=negative_label, **kw)

    monkeypatch.setattr(plots, "gc_histogram", spy)
    r = build_report(tmp_path / "run", tmp_path / "r.html", data=[h5])
    html = (tmp_path / "r.html").read_text()
    assert labels == ["negatives (gc-matched)"]   # the legend names the method, not a boolean mask
    assert "performance" in r["sections"] and "Genome mode: negatives <b>gc-matched (ratio 1.0, seed 1)</b>" in html
    assert 'alt="GC match of the negatives"' in html
    with open_dataset(h5) as ds:
        chrom, split = np.asarray(ds.coords()["chrom"]).astype(str), ds.split
        ks = ds.attrs["gc_match"]["ks"]
    assert f"KS statistic {ks}" in html
    for code, name in enumerate(("train", "val", "test")):
        chroms = sorted(set(chrom[split == code]))
        if chroms:   # each split's row lists exactly its chromosomes, with counts
            row = re.search(rf"<td>{name} chromosomes</td><td>([^<]*)</td>", html).group(1)
            assert re.findall(r"(chr\d+) \(", row) == chroms


def test_multiclass_runs_get_per_class_rows_and_a_full_confusion_matrix(sim_multiclass, tmp_path):
    from conftest import FAST

    from seqcnn import training
    from seqcnn.report import build_report

    training.train(sim_multiclass, tmp_path / "run", **dict(FAST, epochs=2), plots=False)
    build_report(tmp_path / "run", tmp_path / "r.html", data=[sim_multiclass])
    html = (tmp_path / "r.html").read_text()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    names = metrics["test"]["class_names"]
    # one per-class table per split, each with a row per class whose auROC is the per_class value
    for split in ("train", "val", "test"):
        for name in names:
            want = f"{metrics[split]['per_class'][name]['auroc']:.3f}"
            assert re.search(rf"<tr><td>{re.escape(name)}</td><td class=\"num\">{want}</td>", html), (split, name)
    assert "macro, one-vs-rest averages" in html
    assert _headline(html, "test")["auroc"] == f"{metrics['test']['auroc']:.3f}"


def test_chromosomes_in_genome_order_not_string_order(shared_data):
    """Yeast's I ... XVI and chr1 ... chr22, X, Y in their order (string order put IX before V, chr10 before chr2);
    the genome's own order when its .fai is where the dataset recorded it."""
    from seqcnn.report import chrom_order

    assert chrom_order(["IV", "IX", "V", "X", "XVI", "I", "Mito", "II"]) == ["I", "II", "IV", "V", "IX", "X", "XVI",
                                                                               "Mito"]
    assert chrom_order(["chr10", "chrY", "chr2", "chrM", "chrX", "chr1", "chrUn_gl000220"]) == [
        "chr1", "chr2", "chr10", "chrX", "chrY", "chrM", "chrUn_gl000220"]
    assert chrom_order(["X", "2", "1"]) == ["1", "2", "X"]   # no other Roman numeral: X is the sex chromosome
    genome = {"path": str(shared_data / "yeast_r64" / "genome.fa.gz")}
    assert chrom_order(["Mito", "IX", "V", "IV"], genome) == ["IV", "V", "IX", "Mito"]


def test_a_long_filter_table_folds_and_counts_read_in_english(binary_run, tmp_path):
    """128 filters: the 20 most influential and every matched one open, the rest in a closed <details>; '1 pattern'
    (not '1 patterns'); nothing matched: where it looked and which --jaspar to try; a folder compared with another
    group than the run's is noted."""
    from seqcnn.report import FILTERS_SHOWN, build_report

    _, run = binary_run
    rng = np.random.default_rng(0)
    motifs, disc = tmp_path / "motifs", tmp_path / "discover"
    motifs.mkdir()
    disc.mkdir()
    n = 128
    influence = rng.permutation(n) / 1000.0
    matched = [int(i) for i in np.argsort(influence)[:3]]   # the three least influential filters match a motif
    q = np.full(n, 0.6)
    q[matched] = 0.001
    pd.DataFrame({"filter": np.arange(n), "nsites": rng.integers(10, 500, n), "ic": rng.uniform(2, 12, n),
                  "influence": influence, "best_match_id": "MA0001.1", "best_match_name": "X", "qvalue": q,
                  "consensus": "ACGT", "status": "ok"}).to_csv(motifs / "filters.csv", index=False)
    (motifs / "summary.json").write_text(json.dumps({
        "run": str(run), "split": "val", "n_sequences": 90, "n_filters": n, "influence": "loss change",
        "comparison": {"database": "JASPAR2024 CORE vertebrates", "tax_group": "vertebrates", "q_threshold": 0.05}}))
    pd.DataFrame([{"pattern": "pos_0", "sign": "positive", "n_seqlets": 41, "width": 12, "best_match_id": "MA0002.1",
                   "best_match_name": "Y", "qvalue": 0.4, "other_matches": "", "consensus": "ACGTACGTACGT"}]).to_csv(
        disc / "patterns.csv", index=False)
    (disc / "summary.json").write_text(json.dumps({
        "run": str(run), "n_seqlets": 41, "output_name": "label", "length": 100, "n_sequences": 1,
        "comparison": {"database": "JASPAR2024 CORE fungi", "tax_group": "fungi", "q_threshold": 0.05}}))
    r = build_report(run, tmp_path / "r.html", motifs=motifs, discover=disc)
    html = (tmp_path / "r.html").read_text()
    open_table = re.search(r'<table class="sortable" id="filters">(.*?)</table>', html, re.S).group(1)
    shown = [int(f) for f in re.findall(r'<tr><td class="num">(\d+)</td>', open_table)]
    top = [int(f) for f in np.argsort(-influence, kind="stable")[:FILTERS_SHOWN]]
    assert shown == top + sorted(matched, key=lambda f: -influence[f])
    folded = re.search(r'<details id="more-filters">(.*?)</details>', html, re.S).group(1)
    assert "the other 105 filters" in folded and folded.count('<tr><td class="num">') == n - len(shown)
    assert "128 filters from" in html and "3 filters with a match in JASPAR2024 CORE vertebrates" in html
    assert "1 pattern from 41 seqlets" in html and "1 patterns" not in html and "1 sequence)" in html
    assert ("no match at q &lt; 0.05 in JASPAR2024 CORE fungi (another organism? --jaspar plants|insects|"
            in html)
    assert any("discover folder compared with JASPAR fungi motifs, but the run records vertebrates" in note
               for note in r["notes"]), r["notes"]
