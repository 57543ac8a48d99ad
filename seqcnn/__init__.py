"""seqcnn: convolutional neural networks for DNA sequence classification.

The public Python API. Functions that need TensorFlow are imported on first use,
so ``import seqcnn`` (and ``seqcnn encode``) stays fast.
"""

import importlib

from ._version import __version__
from .encoding import ALPHABET, decode, one_hot, reverse_complement, reverse_complement_seq
from .errors import SeqcnnError
from .readers import read_fasta, read_labels
from .splits import stratified_split
from .ingest import encode_fasta
from .store import open_dataset, write_dataset

# name -> module, for the lazily imported (TensorFlow-using) parts of the API.
_LAZY = {
    # models, training, scoring
    "build_model": "models",
    "train": "training",
    "train_replicates": "ensemble",
    "evaluate": "scoring",
    "predict": "scoring",
    "load_run": "rundir",
    "predict_onehot": "scoring",
    "export_run": "export",
    "compute_metrics": "metrics",
    # interpretation (the ISM function is ``ism``: ``seqcnn.mutagenesis`` is the module of the verb)
    "ism": "exact_ism",
    "ism_method": "exact_ism",
    "run_mutagenesis": "mutagenesis",
    "read_ism": "mutagenesis",
    "variant_effects": "variants",
    "score_pairs": "variants",
    "importance": "mutagenesis",
    "hypothetical": "mutagenesis",
    "attribute": "gradients",
    "saliency": "gradients",
    "integrated_gradients": "gradients",
    "discover": "discover",
    "filter_motifs": "motifs",
    "filter_influence": "motifs",
    "run_motifs": "motifs",
    # genome-wide (``scan`` is the module of the verb: its function is seqcnn.scan.scan)
    "WindowScorer": "scan_exact",
    "evaluate_genome": "genomewide",
    "compare_jaspar": "motif_compare",
    "load_targets": "motif_compare",
    "write_meme": "motif_files",
    "write_jaspar": "motif_files",
    "write_transfac": "motif_files",
    # the report
    "build_report": "report",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'seqcnn' has no attribute {name!r}")


__all__ = ["__version__", "ALPHABET", "SeqcnnError", "decode", "encode_fasta", "one_hot", "open_dataset",
           "read_fasta", "read_labels", "reverse_complement", "reverse_complement_seq", "stratified_split",
           "write_dataset"] + sorted(_LAZY)
