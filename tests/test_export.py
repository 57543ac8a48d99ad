"""``seqcnn.export``: the SavedModel folder, its contract, and that it runs in TensorFlow without seqcnn."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import write_fasta
from numerics import assert_close

pytestmark = pytest.mark.slow  # trains the session's binary_run

# Run in a fresh isolated interpreter: seqcnn is made unimportable (its editable install is a meta-path finder,
# so -I alone would not hide it) and the script checks that it is, then loads the SavedModel with TensorFlow alone.
NO_SEQCNN = """
import sys
class _NoSeqcnn:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split('.')[0] == 'seqcnn':
            raise ModuleNotFoundError('seqcnn is not installed here')
sys.meta_path.insert(0, _NoSeqcnn)
try:
    import seqcnn
except ImportError:
    pass
else:
    raise SystemExit('seqcnn is importable')
"""


def run_without_seqcnn(code, cwd):
    """Run ``NO_SEQCNN`` + ``code`` in ``python -I`` with ``cwd``; the completed process."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    res = subprocess.run([sys.executable, "-I", "-c", NO_SEQCNN + code], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


SERVE = """
import json, numpy as np, tensorflow as tf
c = json.load(open('{d}/seqcnn_model.json'))
loaded = tf.saved_model.load('{d}')
fn = loaded.signatures[c['saved_model']['signature']]
out = fn(**{{c['saved_model']['input']: tf.constant(np.load('x.npy'), tf.float32)}})[c['saved_model']['output']]
np.save('logits.npy', out.numpy())
"""


def fasta_and_onehot(sim_binary, tmp_path, n=50):
    """The first ``n`` records of ``sim_binary`` as a FASTA file and as float32 one-hot ``[n, L, 4]``."""
    from seqcnn.encoding import decode
    from seqcnn.store import open_dataset

    with open_dataset(sim_binary) as ds:
        x, ids = ds.read_x(np.arange(n)), list(ds.ids[:n])
    return write_fasta(tmp_path / "s.fa", list(zip(ids, decode(x)))), x.astype(np.float32)


@pytest.fixture(scope="module")
def exported(binary_run, tmp_path_factory):
    from seqcnn.export import export_run

    out = tmp_path_factory.mktemp("export") / "model"
    return export_run(binary_run[1], out, command="test"), out


def test_export_writes_savedmodel_and_contract(exported, binary_run):
    from seqcnn import __version__
    from seqcnn.readers import sha256_file

    r, out = exported
    run = binary_run[1]
    assert r["files"] == sorted(os.listdir(out))
    assert {"saved_model.pb", "variables", "seqcnn_model.json"} <= set(r["files"]) and "model.onnx" not in r["files"]
    c = json.loads((out / "seqcnn_model.json").read_text())
    cfg = json.loads((run / "config.json").read_text())
    assert c["input"]["alphabet"] == ["A", "C", "G", "T"] and c["input"]["shape"] == [None, 100, 4]
    assert c["input"]["length"] == cfg["model"]["input_length"] == 100 and c["input"]["dtype"] == "float32"
    assert c["strands"]["averaged_inside"] is True
    assert c["output"] == {**c["output"], "kind": "logits", "task": "binary", "link": "sigmoid", "names": ["1"],
                           "predict_columns": ["prob_1"], "n_outputs": 1}
    assert c["seqcnn_version"] == __version__ and c["onnx"] is None and c["command"] == "test"
    assert c["run"]["config_sha256"] == sha256_file(run / "config.json")
    assert c["run"]["model_sha256"] == sha256_file(run / "model.keras")
    assert c["run"]["data_sha256"] == cfg["data"]["sha256"] and c["run"]["path"] == os.path.abspath(run)
    assert (c["saved_model"]["signature"], c["saved_model"]["input"], c["saved_model"]["output"]) == (
        "serving_default", "sequence", "logits")


def test_savedmodel_runs_without_seqcnn_as_predict_does(exported, binary_run, sim_binary, tmp_path):
    from seqcnn.metrics import link
    from seqcnn.rundir import load_run
    from seqcnn.scoring import predict

    _, out = exported
    fasta, x = fasta_and_onehot(sim_binary, tmp_path)
    np.save(tmp_path / "x.npy", x)
    run_without_seqcnn(SERVE.format(d=out), tmp_path)
    logits = np.load(tmp_path / "logits.npy")
    assert logits.shape == (50, 1) and logits.dtype == np.float32
    model, _ = load_run(binary_run[1])
    assert_close(logits, model.predict(x, verbose=0))
    predict(binary_run[1], fasta, tmp_path / "p.csv")
    # predict's CSV has 6 significant digits (rounding <= 5e-6 relative), inside the float32 tolerance.
    assert_close(link("binary", logits)[:, 0], pd.read_csv(tmp_path / "p.csv").prob_1.to_numpy())


def test_export_refuses_an_existing_folder_without_force(exported, binary_run, tmp_path):
    from seqcnn.errors import OutputExistsError, SeqcnnError
    from seqcnn.export import export_run

    r, out = exported
    before = sorted(os.listdir(out))
    with pytest.raises(OutputExistsError, match="already exists"):
        export_run(binary_run[1], out)
    assert sorted(os.listdir(out)) == before
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("x")
    export_run(binary_run[1], tmp_path / "taken", force=True)
    assert not (tmp_path / "taken" / "keep.txt").exists() and (tmp_path / "taken" / "saved_model.pb").exists()
    with pytest.raises(SeqcnnError, match="run directory not found"):
        export_run(tmp_path / "nope", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_onnx_needs_tf2onnx_and_says_so(binary_run, tmp_path, monkeypatch):
    from seqcnn.errors import SeqcnnError
    from seqcnn.export import export_run

    monkeypatch.setitem(sys.modules, "tf2onnx", None)   # an import of it now raises ImportError
    with pytest.raises(SeqcnnError, match="tf2onnx") as err:
        export_run(binary_run[1], tmp_path / "o", onnx=True)
    assert "seqcnn[onnx]" in str(err.value) and not (tmp_path / "o").exists()
    assert os.listdir(tmp_path) == []   # checked before any work: no temporary folder left either


def test_onnx_export_matches(binary_run, sim_binary, tmp_path):
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    from seqcnn.export import export_run
    from seqcnn.rundir import load_run

    r = export_run(binary_run[1], tmp_path / "m", onnx=True)
    assert "model.onnx" in r["files"] and r["contract"]["onnx"]["output"] == r["onnx_output"]
    _, x = fasta_and_onehot(sim_binary, tmp_path)
    session = ort.InferenceSession(str(tmp_path / "m" / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["sequence"]
    got = session.run([r["onnx_output"]], {"sequence": x})[0]
    assert_close(got, load_run(binary_run[1])[0].predict(x, verbose=0))


def test_contract_multiclass_names_softmax(tmp_path):
    from seqcnn.export import contract

    for name in ("config.json", "model.keras"):
        (tmp_path / name).write_text("{}")
    cfg = {"arch": "deepbind", "command": "", "model": {"input_length": 50, "task": "multiclass", "n_outputs": 3},
           "data": {"class_names": ["a", "b", "c"], "sha256": "x", "length_given": 1, "pad_mode": "left"}}
    c = contract(cfg, False, tmp_path)
    assert c["output"]["link"] == "softmax" and c["output"]["names"] == ["a", "b", "c"]
    assert c["output"]["predict_columns"] == ["prob_a", "prob_b", "prob_c"]
    assert c["strands"]["averaged_inside"] is False and c["input"]["length_policy"]["pad_mode"] == "left"
