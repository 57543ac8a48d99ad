"""Tests of seqcnn.outputs: never overwrite without force, atomic JSON with numpy values, the created stamp."""

import json
import os
import stat
from datetime import datetime

import numpy as np
import pytest

from seqcnn.errors import OutputExistsError, SeqcnnError
from seqcnn.outputs import check_output, utc_now, write_json


def test_check_output_refuses_existing_without_force_and_missing_folders(tmp_path):
    target = tmp_path / "out.json"
    check_output(target)  # absent: fine
    target.write_text("mine")
    with pytest.raises(OutputExistsError, match="pass --force"):
        check_output(target)
    check_output(target, force=True)
    with pytest.raises(SeqcnnError, match="output folder does not exist") as err:
        check_output(tmp_path / "no_dir" / "out.json", force=True)
    assert str(tmp_path / "no_dir") in str(err.value)
    assert target.read_text() == "mine"  # checking never touches the file


def test_write_json_converts_numpy_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "m.json"
    write_json({"n": np.int64(3), "auc": np.float32(0.5), "cm": np.array([[1, 2], [3, 4]]), "t": (1, 2)}, path)
    assert json.loads(path.read_text()) == {"n": 3, "auc": 0.5, "cm": [[1, 2], [3, 4]], "t": [1, 2]}
    before = path.read_text()
    with pytest.raises(TypeError, match="not JSON serialisable"):
        write_json({"bad": object()}, path)
    assert path.read_text() == before and os.listdir(tmp_path) == ["m.json"]  # old file intact, no .tmp left


def test_utc_now_is_iso_8601_utc_to_the_second():
    stamp = utc_now()
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset().total_seconds() == 0 and parsed.microsecond == 0 and stamp.endswith("+00:00")


def test_publish_refuses_a_target_that_appeared_and_force_replaces_it(tmp_path):
    from seqcnn.outputs import publish

    tmp, target = tmp_path / "t.tmp", tmp_path / "out.csv"
    tmp.write_text("new")
    assert publish(tmp, target) == str(target) and target.read_text() == "new" and not tmp.exists()
    tmp.write_text("newer")
    with pytest.raises(OutputExistsError, match="appeared while this command was writing it"):
        publish(tmp, target)  # another command's file is there now
    assert target.read_text() == "new" and tmp.read_text() == "newer"  # untouched; tmp left for the caller
    publish(tmp, target, force=True)
    assert target.read_text() == "newer" and not tmp.exists()


def test_publish_all_is_all_or_nothing(tmp_path):
    from seqcnn.outputs import publish_all

    pairs = [(tmp_path / f"{k}.tmp", tmp_path / f"{k}.txt") for k in "abc"]
    for t, _ in pairs:
        t.write_text(t.name)
    (tmp_path / "c.txt").write_text("theirs")
    with pytest.raises(OutputExistsError, match="c.txt"):
        publish_all(pairs)
    # a and b were published, then taken back: no partial output; c's temporary file is the caller's to remove
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tmp", "c.txt"]
    assert (tmp_path / "c.txt").read_text() == "theirs"
    for t, _ in pairs[:2]:
        t.write_text(t.name)
    publish_all(pairs, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "c.txt"]
    assert (tmp_path / "c.txt").read_text() == "c.tmp"


def test_publish_dir_never_merges_into_or_replaces_a_folder_without_force(tmp_path):
    from seqcnn.outputs import publish_dir

    def made(name, content):
        d = tmp_path / name
        d.mkdir()
        (d / "f.txt").write_text(content)
        return d

    target = tmp_path / "out"
    publish_dir(made("t1", "one"), target)
    assert (target / "f.txt").read_text() == "one" and not (tmp_path / "t1").exists()
    t2 = made("t2", "two")
    with pytest.raises(OutputExistsError, match="appeared"):
        publish_dir(t2, target)
    assert (target / "f.txt").read_text() == "one" and t2.exists()
    (tmp_path / "file_out").write_text("a file")
    with pytest.raises(OutputExistsError):
        publish_dir(t2, tmp_path / "file_out")
    publish_dir(t2, target, force=True)
    assert (target / "f.txt").read_text() == "two" and sorted(p.name for p in tmp_path.iterdir()) == [
        "file_out", "out"]


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o027, 0o002], ids=lambda m: f"umask{m:03o}")
def umask(request):
    """Run the test under this umask (set back afterwards): outputs must follow it, as ``open`` does."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_temporary_outputs_follow_the_umask(tmp_path, umask):
    from seqcnn import outputs

    assert outputs.umask() == umask
    f = outputs.temp_file(tmp_path / "out.h5")
    d = outputs.temp_dir(tmp_path / "plots")
    assert os.path.basename(f).startswith(".out.h5.") and os.path.basename(d).startswith(".plots.")
    # tempfile's 0600/0700 would stay on the published output: the mode a plain open/mkdir gives instead
    assert _mode(f) == 0o666 & ~umask and _mode(d) == 0o777 & ~umask
    outputs.publish(f, tmp_path / "out.h5")
    outputs.publish_dir(d, tmp_path / "plots")
    assert _mode(tmp_path / "out.h5") == 0o666 & ~umask and _mode(tmp_path / "plots") == 0o777 & ~umask


def test_dataset_file_follows_the_umask(tmp_path, umask):
    from seqcnn.store import write_dataset

    x = np.eye(4, dtype=np.uint8)[np.zeros((3, 5), int)]
    write_dataset(tmp_path / "d.h5", x, np.zeros(3), ["a", "b", "c"], attrs={"task": "binary",
                                                                            "class_names": ["0", "1"]})
    assert _mode(tmp_path / "d.h5") == 0o666 & ~umask


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_cli_outputs_follow_the_umask(cli, tmp_path, umask022):
    """encode's dataset file, mutagenesis' ISM file and figure folder, export's folder: 0644 and 0755 (umask 022)."""
    from conftest import write_fasta
    from interpret_helpers import make_run, randomize
    from seqcnn.models import build_model

    rng = np.random.default_rng(0)
    for name in ("pos", "neg"):
        write_fasta(tmp_path / f"{name}.fa", [(f"{name}{i}", "".join(rng.choice(list("ACGT"), 40)))
                                              for i in range(20)])
    data = tmp_path / "d.h5"
    r = cli("encode", tmp_path / "pos.fa", tmp_path / "neg.fa", "--class-per-file", "-o", data, "-q")
    assert r.exit_code == 0, r.stderr
    assert _mode(data) == 0o644
    model = randomize(build_model("deepbind", 40, "binary", 1, filters=4, kernel_size=5, dense_units=3), seed=1)
    run = make_run(tmp_path / "run", model, data)
    r = cli("mutagenesis", run, data, "-o", tmp_path / "ism.h5", "--top", "2", "--plot-max", "1", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert _mode(tmp_path / "ism.h5") == 0o644 and _mode(tmp_path / "ism_plots") == 0o755
    r = cli("export", run, "-o", tmp_path / "exported", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert _mode(tmp_path / "exported") == 0o755 and _mode(tmp_path / "exported" / "seqcnn_model.json") == 0o644


def test_train_run_directory_follows_the_umask(binary_run):
    from seqcnn.outputs import umask

    _, run = binary_run
    assert _mode(run) == 0o777 & ~umask() and _mode(run / "config.json") == 0o666 & ~umask()
