"""``python -m seqcnn``: the same command line as the ``seqcnn`` console script."""

from .cli import main

if __name__ == "__main__":
    main()
