"""The ``seqcnn export`` verb: a run's model as a TensorFlow SavedModel that needs no seqcnn to run.

``export_run(RUN, DIR)`` writes ``DIR`` as one folder::

    DIR/saved_model.pb, DIR/variables/, DIR/assets/, DIR/fingerprint.pb
                              the SavedModel: ``tf.saved_model.load(DIR)``; its ``serving_default`` signature
                              takes ``sequence`` (float32 one-hot [batch, L, 4], channels A, C, G, T) and
                              returns ``{"logits": float32 [batch, n_outputs]}``
    DIR/seqcnn_model.json     the input contract (:data:`CONTRACT_FILE`): alphabet, length, length policy,
                              strands, outputs and their link, provenance
    DIR/model.onnx            with ``onnx=True`` only: the same function in ONNX (input ``sequence``)

The strand average of a strand-averaged run is inside the exported function (both strands are scored by
one call); outputs are logits, as everywhere in seqcnn, and the JSON names the link (sigmoid or softmax)
that turns them into ``seqcnn predict``'s probabilities. ONNX goes through Keras's own exporter
(``model.export(..., format="onnx")``), which needs ``tf2onnx`` (the ``onnx`` extra, not a requirement).
"""

import os
import shutil
import warnings

from . import models
from ._tf import import_keras, import_tf
from ._version import __version__
from .encoding import ALPHABET
from .errors import SeqcnnError
from .outputs import check_output_dir, publish_dir, temp_dir, utc_now, write_json
from .readers import sha256_file
from .rundir import CONFIG_FILE, MODEL_FILE, load_run
from .scoring import output_columns

CONTRACT_FILE = "seqcnn_model.json"
ONNX_FILE = "model.onnx"
SIGNATURE, INPUT_NAME, OUTPUT_NAME = "serving_default", "sequence", "logits"


def _onnx_module():
    """``tf2onnx`` and ``onnx``, or a :class:`SeqcnnError` saying how to install them (checked before any work)."""
    import_tf()  # tf2onnx imports TensorFlow: through _tf first, so its start-up lines stay quiet
    try:
        import onnx
        import tf2onnx
    except ImportError:
        raise SeqcnnError("--onnx needs the tf2onnx package (not installed)",
                          hint="pip install 'seqcnn[onnx]' (tf2onnx), or export without --onnx") from None
    return tf2onnx, onnx


def contract(cfg, strand_averaged, run_dir):
    """The input contract of an exported run: what ``seqcnn_model.json`` holds.

    Parameters
    ----------
    cfg : dict — the run's config.json.
    strand_averaged : bool — whether the model averages both strands inside.
    run_dir : str — the run directory (for the provenance fields).

    Returns
    -------
    dict — ``format``, ``seqcnn_version``, ``input`` (dtype, shape, alphabet, length, encoding rules and the
    run's length policy), ``strands``, ``output`` (logits, task, link, names, predict's column names),
    ``saved_model`` (signature, input and output names) and ``run`` (path, config/model/data sha256, command).
    """
    m, d = cfg["model"], cfg["data"]
    L, task = m["input_length"], m["task"]
    columns = output_columns(cfg)
    link = "softmax" if task == "multiclass" else "sigmoid"
    meaning = {"binary": f"P({columns[0][5:]}) = sigmoid(logit)",
               "multilabel": "P(label k) = sigmoid(logit k), each label on its own",
               "multiclass": "P(class k) = softmax(logits)[k] over the classes"}[task]
    return {
        "format": "seqcnn-export", "format_version": 1, "seqcnn_version": __version__, "created": utc_now(),
        "saved_model": {"load": "tf.saved_model.load(DIR)", "signature": SIGNATURE, "input": INPUT_NAME,
                        "output": OUTPUT_NAME},
        "input": {"dtype": "float32", "shape": [None, L, 4], "length": L, "alphabet": list(ALPHABET),
                  "encoding": "one-hot: position i, column ALPHABET.index(base) is 1; lower case as upper case; N "
                              "(and, when allow_iupac, other IUPAC codes) an all-zero row",
                  "allow_iupac": bool(d.get("allow_iupac", False)),
                  "length_policy": ({"pad_mode": d.get("pad_mode", "center"),
                                     "rule": f"sequences of another length are trimmed or N-padded to {L} bp "
                                             f"({d.get('pad_mode', 'center')}) as seqcnn encode --length does"}
                                    if d.get("length_given") else
                                    {"pad_mode": None, "rule": f"sequences must be exactly {L} bp"})},
        "strands": {"averaged_inside": bool(strand_averaged),
                    "rule": ("the model returns (f(x) + f(reverse_complement(x))) / 2: give one strand"
                             if strand_averaged else "single-strand model: scores the given strand only")},
        "output": {"kind": "logits", "task": task, "n_outputs": m["n_outputs"], "link": link,
                   "probabilities": meaning, "names": [c[5:] for c in columns], "predict_columns": columns},
        "run": {"path": os.path.abspath(str(run_dir)), "arch": cfg.get("arch"),
                "config_sha256": sha256_file(os.path.join(str(run_dir), CONFIG_FILE)),
                "model_sha256": sha256_file(os.path.join(str(run_dir), MODEL_FILE)),
                "data_sha256": d.get("sha256"), "command": cfg.get("command", "")},
    }


def export_run(run_dir, out_dir, force=False, onnx=False, command=None):
    """Write a run's model as a TensorFlow SavedModel folder with its input contract (and ONNX on request).

    Parameters
    ----------
    run_dir : str — a run directory written by ``seqcnn train``.
    out_dir : str — the folder to create (refused when it exists, unless ``force``).
    force : bool — replace an existing ``out_dir`` (at the final move, after everything is written).
    onnx : bool — also write ``model.onnx`` (needs ``tf2onnx``; checked before any work).
    command : str — the command line, recorded in the contract.

    Returns
    -------
    dict — ``out_dir``, ``files`` (names written in it), ``contract`` (the JSON's content), ``onnx_output``
    (the ONNX output name, or None).
    """
    out_dir, parent = check_output_dir(out_dir, force)
    onnx_mods = _onnx_module() if onnx else None
    model, cfg = load_run(run_dir)
    tf, keras = import_tf(), import_keras()
    L = cfg["model"]["input_length"]
    spec = tf.TensorSpec((None, L, 4), tf.float32, name=INPUT_NAME)
    info = contract(cfg, models.strand_inner(model) is not None, run_dir)
    info["command"] = command or ""
    info["exported_with"] = {"tensorflow": tf.__version__, "keras": keras.__version__}
    tmp = temp_dir(out_dir)  # the umask's mode, not mkdtemp's 0700: collaborators read exported models
    onnx_output = None
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        # A named output (a dict) so the signature says what it returns; the first endpoint is also
        # registered as 'serving_default' by Keras.
        archive.add_endpoint(name="serve", fn=lambda sequence: {OUTPUT_NAME: model(sequence, training=False)},
                             input_signature=[spec])
        archive.write_out(tmp, verbose=False)
        if onnx_mods is not None:
            with warnings.catch_warnings():
                # Keras's tf2onnx shim probes np.object (removed in numpy 2), and numpy warns about the probe.
                warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
                model.export(os.path.join(tmp, ONNX_FILE), format="onnx", input_signature=[spec], verbose=False)
            onnx_output = [o.name for o in onnx_mods[1].load(os.path.join(tmp, ONNX_FILE)).graph.output][0]
            info["onnx"] = {"file": ONNX_FILE, "input": INPUT_NAME, "output": onnx_output,
                            "load": "onnxruntime.InferenceSession(DIR/model.onnx)"}
        else:
            info["onnx"] = None
        write_json(info, os.path.join(tmp, CONTRACT_FILE))
        files = sorted(os.listdir(tmp))
        publish_dir(tmp, out_dir, force)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    return {"out_dir": out_dir, "files": files, "contract": info, "onnx_output": onnx_output}
