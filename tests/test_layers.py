"""``seqcnn.layers``: strand-averaged models open in plain Keras; run directories of earlier versions still load."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from numerics import assert_close

pytestmark = pytest.mark.slow  # trains the session's binary_run


def _x(sim_binary, n=40):
    from seqcnn.store import open_dataset

    with open_dataset(sim_binary) as ds:
        return ds.read_x(np.arange(n)).astype(np.float32)


def _fresh_python(code, tmp_path):
    """Run ``code`` in a fresh isolated interpreter (``-I``: no PYTHONPATH, no cwd on sys.path) in ``tmp_path``."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    res = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def _model_config(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


def test_strand_average_holds_only_builtin_keras_objects():
    from seqcnn.models import build_model, strand_inner

    model = build_model("primer", 30, strands="average", filters=4, kernel_size=5, dense_units=4)
    inner = strand_inner(model)
    assert inner is not None and inner.name == "primer_strand"
    assert sorted(type(op).__name__ for op in model.operations) == ["Average", "Flip", "Flip", "Functional",
                                                                     "InputLayer"]
    assert strand_inner(build_model("primer", 30, filters=4, kernel_size=5, dense_units=4)) is None


def test_reverse_complement_is_exact():
    import keras

    from seqcnn.encoding import one_hot, reverse_complement
    from seqcnn.layers import ReverseComplement, reverse_complement as rc_ops

    x = one_hot(["ACGTNAAC", "GGGTTACN"]).astype(np.float32)
    inp = keras.Input((8, 4))
    np.testing.assert_array_equal(keras.Model(inp, rc_ops(inp)).predict(x, verbose=0), reverse_complement(x))
    np.testing.assert_array_equal(ReverseComplement()(x).numpy(), reverse_complement(x))


def test_trained_run_opens_in_plain_keras(binary_run, sim_binary, tmp_path):
    """A fresh interpreter that imports nothing from seqcnn loads model.keras and predicts as seqcnn does."""
    from seqcnn.models import strand_inner
    from seqcnn.rundir import load_run

    _, run = binary_run
    model, _ = load_run(run)
    assert strand_inner(model) is not None  # the default, strand-averaged model
    x = _x(sim_binary)
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, numpy as np, keras\n"
        f"m = keras.models.load_model({str(run / 'model.keras')!r}, compile=False)\n"
        "np.save('p.npy', m.predict(np.load('x.npy'), verbose=0))\n"
        "assert not [k for k in sys.modules if k.split('.')[0] == 'seqcnn'], 'seqcnn was imported'\n")
    _fresh_python(code, tmp_path)
    assert_close(np.load(tmp_path / "p.npy"), model.predict(x, verbose=0))


def _old_style_run(run, dest):
    """A copy of ``run`` whose model.keras is what seqcnn wrote before ``seqcnn.layers``: the same weights behind a
    ``ReverseComplement`` layer, its config naming the module ``seqcnn.models`` as the old code's did."""
    import keras

    from seqcnn.layers import ReverseComplement
    from seqcnn.models import strand_inner
    from seqcnn.rundir import load_run

    shutil.copytree(run, dest)
    model, _ = load_run(run)
    inner = strand_inner(model)
    inp = keras.Input(model.inputs[0].shape[1:], name="sequence")
    rc = ReverseComplement(name="reverse_complement")(inp)   # the old strand_average, layer for layer
    old = keras.Model(inp, keras.layers.Average(name="strand_average")([inner(inp), inner(rc)]), name=model.name)
    old.save(dest / "model.keras")
    with zipfile.ZipFile(dest / "model.keras") as z:
        entries = {name: z.read(name) for name in z.namelist()}
    cfg = json.loads(entries["config.json"])
    layer = next(la for la in cfg["config"]["layers"] if la["class_name"] == "ReverseComplement")
    assert (layer["module"], layer["registered_name"]) == ("seqcnn.layers", "seqcnn>ReverseComplement")
    layer["module"] = "seqcnn.models"  # where the old code defined the class (inside a function)
    entries["config.json"] = json.dumps(cfg).encode()
    with zipfile.ZipFile(dest / "model.keras", "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return model


def test_old_run_directory_still_loads(binary_run, sim_binary, tmp_path):
    _, run = binary_run
    model = _old_style_run(run, tmp_path / "old")
    x = _x(sim_binary)
    np.save(tmp_path / "x.npy", x)
    # Fresh interpreters, so the layer is not already registered by this process: through seqcnn.load_run, and
    # through plain Keras after importing seqcnn.layers.
    code = (
        "import numpy as np, seqcnn\n"
        "from seqcnn.models import strand_inner\n"
        "m, cfg = seqcnn.load_run('old')\n"
        "assert strand_inner(m) is not None and 'ReverseComplement' in [type(la).__name__ for la in m.layers]\n"
        "np.save('p_seqcnn.npy', m.predict(np.load('x.npy'), verbose=0))\n")
    _fresh_python(code, tmp_path)
    code = (
        "import numpy as np, keras, seqcnn.layers\n"
        "m = keras.models.load_model('old/model.keras', compile=False)\n"
        "np.save('p_keras.npy', m.predict(np.load('x.npy'), verbose=0))\n")
    _fresh_python(code, tmp_path)
    want = model.predict(x, verbose=0)
    assert_close(np.load(tmp_path / "p_seqcnn.npy"), want)
    assert_close(np.load(tmp_path / "p_keras.npy"), want)


def test_custom_objects_name_the_old_layer():
    from seqcnn import layers, models

    assert models.custom_objects() == layers.custom_objects()
    assert models.custom_objects()["seqcnn>ReverseComplement"] is layers.ReverseComplement
