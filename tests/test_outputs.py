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
