"""Tests of seqcnn.outputs: never overwrite without force, atomic JSON with numpy values, the created stamp."""

import json
import os
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
