"""``python -m seqcnn.cli``: the ``seqcnn`` command line."""

from . import main

if __name__ == "__main__":
    main()
