"""Shift (jitter) augmentation of genome-mode data: ``seqcnn encode --jitter J`` stores ``L + 2J`` bases around the
same centre, every reader returns the centred window, training crops a random window each epoch (a pure function of
seed, epoch and record), and validation and evaluation score the centred window."""

from types import SimpleNamespace

import numpy as np
import pytest

from conftest import TINY, interrupt_after
from numerics import assert_close
from seqcnn import feeding, losses, training
from seqcnn.encoding import decode
from seqcnn.errors import SeqcnnError
from seqcnn.genome_encode import encode_intervals
from seqcnn.intervals import IntervalIndex
from seqcnn.store import open_dataset

L, J = 100, 20
QUICK = dict(params=TINY, lr=0.01, epochs=3, batch_size=64, quiet=True, n_boot=50, plots=False)


def _revcomp(s):
    return s[::-1].translate(str.maketrans("ACGTacgt", "TGCAtgca"))


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    """A simulated 3 x 300 kb genome with CTCF peaks, encoded at L bp without and with --jitter J (seed 1 both)."""
    from seqcnn.simulate import write_genome_simulation

    d = tmp_path_factory.mktemp("jitter")
    rep = write_genome_simulation(str(d / "sim"), n_chroms=3, chrom_length=300_000, motifs=["MA0139.1"],
                                  n_peaks=200, seed=3)
    text = (d / "sim.fa").read_text().split(">")[1:]
    chroms = {t.split("\n", 1)[0]: t.split("\n", 1)[1].replace("\n", "").upper() for t in text}
    plain = encode_intervals([rep["peaks"]["CTCF"]], rep["fasta"], d / "plain.h5", length=L, seed=1, plots=False)
    wide = encode_intervals([rep["peaks"]["CTCF"]], rep["fasta"], d / "wide.h5", length=L, seed=1, plots=False,
                            jitter=J)
    return SimpleNamespace(d=d, fa=rep["fasta"], bed=rep["peaks"]["CTCF"], chroms=chroms, plain=d / "plain.h5",
                           wide=d / "wide.h5", rep_plain=plain, rep_wide=wide)


def test_encode_stores_the_widened_window_whose_centre_is_the_plain_window(gen):
    with open_dataset(gen.plain) as p, open_dataset(gen.wide) as w:
        assert (p.length, p.jitter, p.stored_length) == (L, 0, L)
        assert (w.length, w.jitter, w.stored_length) == (L, J, L + 2 * J)
        assert "jitter" not in p.attrs and p.attrs["schema_version"] == 2
        assert w.attrs["jitter"] == J and w.attrs["length"] == L and w.attrs["schema_version"] == 3
        assert w.h5["x"].shape == (w.n, L + 2 * J, 4) and (w.lengths == L).all()
        full, centred = w.read_x(full=True), w.read_x()
        assert centred.shape == (w.n, L, 4) and np.array_equal(centred, full[:, J:J + L])
        c = w.coords()
        assert (c["end"] - c["start"] == L).all()
        # the stored rows are the genome around the centred window (reverse-complemented on '-')
        for seq, ch, s, e, st in zip(decode(full), c["chrom"], c["start"], c["end"], c["strand"]):
            want = gen.chroms[ch][s - J:e + J]
            assert seq == (_revcomp(want) if st == "-" else want)
        # the peaks both files keep: the same ids, coordinates, labels and split, and the same centred rows
        pids, wids = list(p.ids), list(w.ids)
        common = [i for i in pids if i in set(wids)]
        assert len(common) >= 0.9 * (p.y == 1).sum()
        pi = np.array([pids.index(i) for i in common])
        wi = np.array([wids.index(i) for i in common])
        pc = p.coords(pi)
        for k in ("chrom", "start", "end", "strand"):
            assert np.array_equal(pc[k], c[k][wi])
        assert np.array_equal(p.y[pi], w.y[wi]) and np.array_equal(p.split[pi], w.split[wi])
        assert np.array_equal(p.read_x(pi), w.read_x(wi))
        # row hashes (leakage checks) hash the centred window: equal to the plain file's for the same window
        assert np.array_equal(p.row_hashes()[pi], w.row_hashes()[wi])
        # the chunk readers agree with read_x, centred by default
        assert np.array_equal(w.read_chunk(0), centred[:w.chunk_records])
        assert np.array_equal(w.read_chunk(0, full=True), full[:w.chunk_records])
        xs, _, rows = next(w.iter_chunks("train"))
        assert np.array_equal(xs, centred[rows])
        xs, _, rows = next(w.iter_chunks("train", full=True))
        assert np.array_equal(xs, full[rows])
        # made negatives keep their whole stored span off the peaks and on the chromosome
        neg = c["origin"] != "peak"
        peaks = np.loadtxt(gen.bed, dtype=str, usecols=(0, 1, 2))
        avoid = IntervalIndex(peaks[:, 0].astype(object), peaks[:, 1].astype(np.int64), peaks[:, 2].astype(np.int64))
        assert neg.sum() and not avoid.overlaps(c["chrom"][neg], c["start"][neg] - J, c["end"][neg] + J).any()
    rp, rw = gen.rep_plain, gen.rep_wide
    assert rw["records_read"] == rw["read_written"] + sum(rw["dropped"].values())
    assert (rw["jitter"], rw["stored_length"], rw["length"]) == (J, L + 2 * J, L)
    # a peak whose widened span runs off its chromosome is dropped, counted as past the end
    assert rw["dropped"]["past chromosome end"] >= rp["dropped"]["past chromosome end"]


def test_crop_offsets_are_a_pure_function_within_the_stored_flank():
    rec = np.arange(5000)
    a = feeding.crop_offsets(rec, 0, 1, J, J)
    assert a.min() == 0 and a.max() == 2 * J  # every shift in [0, 2J] is drawn
    assert np.array_equal(a, feeding.crop_offsets(rec, 0, 1, J, J))  # recomputed (resume): the same
    assert np.array_equal(a[::-1], feeding.crop_offsets(rec[::-1], 0, 1, J, J))  # keyed by record, not place
    assert (a != feeding.crop_offsets(rec, 0, 2, J, J)).mean() > 0.9  # another epoch
    assert (a != feeding.crop_offsets(rec, 1, 1, J, J)).mean() > 0.9  # another seed
    counts = np.bincount(a, minlength=2 * J + 1)
    assert counts.min() > 0.5 * len(rec) / (2 * J + 1)  # about uniform
    b = feeding.crop_offsets(rec, 0, 1, 5, J)  # a smaller shift than stored: around the centre J
    assert b.min() == J - 5 and b.max() == J + 5


@pytest.mark.parametrize("rc", [False, True])
def test_training_batches_are_crops_of_the_stored_rows_in_memory_and_streamed(gen, rc):
    """Each training row is stored[off:off + L] (then reverse-complemented if flipped), off = crop_offsets(...), in
    both pipelines, bit for bit; without jitter a full source is refused."""
    with open_dataset(gen.wide) as ds:
        idx = ds.indices("train")
        targets, w = losses.targets(ds.task, ds.y), np.ones(ds.n, np.float32)
        full = ds.read_x(full=True)
        mem = feeding.Source(ds, np.concatenate([idx, ds.indices("val")]), in_memory=True, full=True)
        stream = feeding.Source(ds, in_memory=False, full=True)
        got = {}
        for name, src in (("mem", mem), ("stream", stream)):
            got[name] = np.concatenate([x for x, _, _ in feeding.training_dataset(
                src, idx, targets, w, 64, 7, 2, rc, 1, 3, jitter=J).as_numpy_iterator()])
        assert np.array_equal(got["mem"], got["stream"])
        want, offs = [], []
        for epoch in (1, 2):
            order, flips = feeding._epoch_plan(idx, ds.chunk_records, 2, 7, epoch, rc)
            off = feeding.crop_offsets(order, 7, epoch, J, J)
            assert off.min() >= 0 and off.max() <= 2 * J
            x = np.stack([full[r, o:o + L] for r, o in zip(order, off)]).astype(np.float32)
            x[flips] = x[flips][:, ::-1, ::-1]
            want.append(x)
            offs.append(off)
        assert np.array_equal(got["mem"], np.concatenate(want))
        assert (offs[0] != J).mean() > 0.8  # most crops are off centre
        with pytest.raises(ValueError, match="full source"):
            feeding.training_dataset(stream, idx, targets, w, 64, 7, 2, rc, 1, 3)
        with pytest.raises(ValueError, match="jitter >= 21"):
            feeding.training_dataset(stream, idx, targets, w, 64, 7, 2, rc, 1, 3, jitter=J + 1)
        # inference reads the centred window, also from a full source
        assert np.array_equal(np.concatenate(list(stream.ordered(idx, 50))), ds.read_x(idx))


@pytest.mark.slow
@pytest.mark.numerics
def test_validation_and_evaluation_score_the_centred_window(gen, tmp_path):
    from seqcnn import scoring
    from seqcnn.rundir import load_run

    r = training.train(gen.wide, tmp_path / "run", **QUICK)
    assert r["config"]["data"]["jitter"] == {"stored": J, "used": J}
    assert r["config"]["model"]["input_length"] == L
    model, _ = load_run(tmp_path / "run")
    with open_dataset(gen.wide) as ds:
        for split in ("val", "test"):
            sel = ds.indices(split)
            logits = model(ds.read_x(sel).astype(np.float32), training=False).numpy()
            want = losses.loss_numpy(ds.task, ds.y[sel], logits)
            assert_close(r["metrics"][split]["loss"], want, ops=len(sel) * 64)
        test = ds.indices("test")
        logits = model(ds.read_x(test).astype(np.float32), training=False).numpy()
        # off-centre windows score otherwise: the check above can tell a centred pass from a shifted one
        shifted = model(ds.read_x(test, full=True)[:, :L].astype(np.float32), training=False).numpy()
        assert np.abs(shifted - logits).max() > 1e-3
    ev = scoring.evaluate(tmp_path / "run", gen.wide, split="test", n_boot=0)
    from seqcnn.metrics import compute_metrics, link

    with open_dataset(gen.wide) as ds:
        want = compute_metrics(ds.task, ds.y[test], link(ds.task, logits), n_boot=0)
    assert_close(ev["auroc"], want["auroc"], ops=len(test))
    assert_close(ev["auprc"], want["auprc"], ops=len(test))


@pytest.mark.slow
def test_jittered_run_resumes_exactly_streamed_equals_in_memory_and_off_replays(gen, tmp_path):
    full = training.train(gen.wide, tmp_path / "full", **QUICK)

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        training.train(gen.wide, out, callbacks=[interrupt_after(1)], **QUICK)
    with pytest.raises(SeqcnnError, match="interrupted run trained with jitter 20"):
        training.train(gen.wide, out, resume=True, jitter="off", quiet=True)
    resumed = training.train(gen.wide, out, resume=True, quiet=True, n_boot=50, plots=False)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    assert resumed["metrics"]["test"] == full["metrics"]["test"]
    streamed = training.train(gen.wide, tmp_path / "stream", memory_budget_mb=0, **QUICK)
    assert not streamed["in_memory"] and full["in_memory"]
    assert [h["loss"] for h in streamed["history"]] == [h["loss"] for h in full["history"]]
    # off: the centred windows only, another trajectory; recorded, and a replay of the config replays it
    off = training.train(gen.wide, tmp_path / "off", jitter="off", **QUICK)
    assert off["config"]["data"]["jitter"] == {"stored": J, "used": 0}
    assert [h["loss"] for h in off["history"]] != [h["loss"] for h in full["history"]]
    again = training.train(gen.wide, tmp_path / "again", config=tmp_path / "off" / "config.json", **QUICK)
    assert again["config"]["data"]["jitter"]["used"] == 0
    assert [h["loss"] for h in again["history"]] == [h["loss"] for h in off["history"]]
    half = training.train(gen.wide, tmp_path / "half", jitter=5, **{**QUICK, "epochs": 1})
    assert half["config"]["data"]["jitter"] == {"stored": J, "used": 5}
    with pytest.raises(SeqcnnError, match="stores 20 bases"):
        training.train(gen.wide, tmp_path / "x", jitter=J + 1, **QUICK)
    # a plain dataset records nothing of jitter and trains as before
    plain = training.train(gen.plain, tmp_path / "plain", **{**QUICK, "epochs": 1})
    assert "jitter" not in plain["config"]["data"]


def test_cli_refuses_jitter_without_a_genome_and_a_negative_jitter(cli, gen, tmp_path):
    from conftest import write_fasta

    from conftest import one_line_error as one_line

    fa = write_fasta(tmp_path / "s.fa", [("a", "ACGT" * 25), ("b", "TTGA" * 25)])
    (tmp_path / "l.csv").write_text("id,label\na,1\nb,0\n")
    out = tmp_path / "o.h5"
    one_line(cli("encode", fa, "-l", tmp_path / "l.csv", "-o", out, "--jitter", "10"), "--jitter applies to genome",
             "--bed REGIONS --genome")
    one_line(cli("encode", "--bed", gen.bed, "--genome", gen.fa, "--length", L, "-o", out, "--jitter", "-1"),
             "--jitter must be an integer >= 0")
    assert not out.exists() and not list(tmp_path.glob(".o*"))
    r = cli("encode", "--bed", gen.bed, "--genome", gen.fa, "--length", L, "-o", out, "--jitter", J, "--no-plots")
    assert r.exit_code == 0, r.stderr
    assert f"x {L} bp (stored {L + 2 * J} bp: {J} bp of jitter flank on each side)" in r.stdout
    info = cli("info", out)
    assert info.exit_code == 0 and f"stored {L + 2 * J} bp" in info.stdout
    one_line(cli("train", out, "-o", tmp_path / "run", "--jitter", str(J + 1)), "stores 20 bases")
    one_line(cli("train", out, "-o", tmp_path / "run", "--jitter", "sideways"), "--jitter must be auto, off")
    one_line(cli("train", out, "-o", tmp_path / "run", "--jitter", "5", "--no-jitter"), "disagree")
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_a_jitter_attribute_that_does_not_fit_x_is_refused(gen, tmp_path):
    import shutil

    import h5py

    from seqcnn.errors import InputFormatError

    for attrs, words in (({"jitter": 999}, "jitter 999 does not fit x of width 140"),
                         ({"jitter": -1}, "jitter -1 does not fit"),
                         ({"length": 120}, "length 120 and jitter 20 do not describe x of width 140")):
        bad = tmp_path / "bad.h5"
        shutil.copy(gen.wide, bad)
        with h5py.File(bad, "a") as f:
            f.attrs.update(attrs)
        with pytest.raises(InputFormatError, match=words):
            open_dataset(bad)


def test_replica_slices_of_jittered_batches_are_the_whole_batches_crops(gen):
    """tf.distribute's per-replica input (the generator path) crops as the single-device pipeline does."""
    with open_dataset(gen.wide) as ds:
        idx = ds.indices("train")
        targets, w = losses.targets(ds.task, ds.y), np.ones(ds.n, np.float32)
        src = feeding.Source(ds, idx, in_memory=True, full=True)

        def batches(replicas=None):
            return list(feeding.training_dataset(src, idx, targets, w, 50, 4, 16, True, 0, 1, replicas=replicas,
                                                 jitter=J).as_numpy_iterator())

        whole = batches()
        parts = [batches((r, 1, 2)) for r in range(2)]
    assert len(whole) == len(parts[0]) == len(parts[1])
    for (x, _, _), (x0, _, _), (x1, _, _) in zip(whole, *parts):
        assert np.array_equal(np.concatenate([x0, x1])[:len(x)], x)


def test_shuffle_negatives_keep_their_positive_centred_window_composition(gen):
    """With --negatives shuffle, a negative's centred window is a shuffle of its positive's centred window."""
    out = gen.d / "shuf.h5"
    encode_intervals([gen.bed], gen.fa, out, length=L, seed=1, plots=False, jitter=J, negatives="shuffle")
    with open_dataset(out) as ds:
        ids, x = list(ds.ids), ds.read_x()
        full = ds.read_x(full=True)
        pos = {i: k for k, i in enumerate(ids) if ds.y[k] == 1}
        neg = [(k, i.rsplit("_shuffle", 1)[0]) for k, i in enumerate(ids) if "_shuffle" in i]
        assert len(neg) >= 0.9 * len(pos)
        for k, src in neg:
            # base counts of the centred window and of each flank are those of the source positive's
            assert np.array_equal(x[k].sum(0), x[pos[src]].sum(0)), ids[k]
            for sl in (slice(0, J), slice(J + L, None)):
                assert np.array_equal(full[k, sl].sum(0), full[pos[src], sl].sum(0)), ids[k]


def test_recorded_jitter_against_a_plain_dataset_and_malformed_records():
    """A config recording a shift the data cannot give names the config's value and --jitter off; junk is refused."""
    from seqcnn.errors import InputFormatError

    plain = SimpleNamespace(jitter=0, path="plain.h5")
    with pytest.raises(SeqcnnError, match="config records jitter 5") as e:
        training._jitter_setting(None, {"seqcnn_run": "1", "data": {"jitter": {"stored": 5, "used": 5}}}, plain, False)
    assert "--jitter off" in e.value.hint
    assert training._jitter_setting("off", {"seqcnn_run": "1", "data": {"jitter": {"used": 5}}}, plain, False) == 0
    for bad in ("auto", -1, 2.5, True):
        with pytest.raises(InputFormatError, match="data.jitter.used"):
            training._jitter_setting(None, {"data": {"jitter": {"used": bad}}}, plain, False)
