"""The one way seqcnn reports bad input: ``SeqcnnError`` and a few subclasses.

Every message names the file (and record, where there is one) and says what to
do. The CLI prints it on one line and exits with status 2.
"""


class SeqcnnError(Exception):
    """Bad input or an impossible request; the message is meant for the user."""

    exit_code = 2

    def __init__(self, message, *, path=None, record=None, hint=None):
        parts = []
        if path is not None:
            parts.append(f"{path}")
        if record is not None:
            parts.append(f"record {record!r}")
        where = ": ".join(parts)
        text = f"{where}: {message}" if where else str(message)
        if hint:
            text = f"{text} ({hint})"
        # One line, always: tracebacks and multi-line messages scare users and break log parsing.
        text = " ".join(str(text).split())
        super().__init__(text)
        self.path = path
        self.record = record
        self.hint = hint


class InputFormatError(SeqcnnError):
    """A file is not in the format expected (FASTA, label table, HDF5, run directory)."""


class SequenceError(SeqcnnError):
    """A sequence cannot be encoded (unknown base, empty, wrong length)."""


class LabelError(SeqcnnError):
    """Labels are missing, duplicated or not parseable for the task."""


class OutputExistsError(SeqcnnError):
    """An output exists and ``--force`` was not given."""


class ModelMismatchError(SeqcnnError):
    """A model does not fit the data (length, alphabet, task or number of outputs)."""
