"""Motif files: MEME minimal, JASPAR and TRANSFAC writers (the only place seqcnn writes motif files).

Provides :func:`write_meme` (frequencies and background, read by the MEME suite, Tomtom and
``Bio.motifs``), :func:`write_jaspar` and :func:`write_transfac` (raw counts). Each takes
``(name, alt_name, matrix [K, 4], nsites)`` rows, columns in the order A, C, G, T.
"""

import numpy as np

from .encoding import ALPHABET


def _rows(items):
    return [(str(name), str(alt or ""), np.asarray(m, float), int(n)) for name, alt, m, n in items]


def write_meme(path, motifs, background=(0.25, 0.25, 0.25, 0.25), strands="+ -"):
    """MEME minimal motif format (read by the MEME suite, Tomtom and ``Bio.motifs.parse(fh, 'minimal')``).

    Parameters
    ----------
    motifs : iterable of (name, alt_name, pfm [K, 4] rows summing to 1, nsites)
    background : 4 frequencies A, C, G, T.
    """
    bg = np.asarray(background, float)
    with open(path, "w") as fh:
        fh.write("MEME version 4\n\nALPHABET= ACGT\n\n")
        fh.write(f"strands: {strands}\n\nBackground letter frequencies\n")
        fh.write(" ".join(f"{b} {v:.4f}" for b, v in zip(ALPHABET, bg)) + "\n\n")
        for name, alt, pfm, nsites in _rows(motifs):
            fh.write(f"MOTIF {name}{' ' + alt if alt else ''}\n")
            # nsites is the number of sites the matrix was built from (never the width).
            fh.write(f"letter-probability matrix: alength= 4 w= {len(pfm)} nsites= {nsites} E= 0\n")
            for row in pfm:
                fh.write(" " + "  ".join(f"{v:.6f}" for v in row) + "\n")
            fh.write("\n")
    return str(path)


def write_jaspar(path, motifs):
    """JASPAR PFM format (counts), one ``>name alt`` header and A/C/G/T rows per motif.

    Parameters
    ----------
    motifs : iterable of (name, alt_name, counts [K, 4], nsites)
    """
    with open(path, "w") as fh:
        for name, alt, counts, _ in _rows(motifs):
            fh.write(f">{name}\t{alt or name}\n")
            for b, col in zip(ALPHABET, counts.T):
                fh.write(f"{b} [ " + " ".join(_num(v) for v in col) + " ]\n")
    return str(path)


def write_transfac(path, motifs):
    """TRANSFAC matrix format (counts): AC/ID/DE, a P0 table, ``//`` between motifs.

    Parameters
    ----------
    motifs : iterable of (name, alt_name, counts [K, 4], nsites)
    """
    with open(path, "w") as fh:
        for name, alt, counts, nsites in _rows(motifs):
            fh.write(f"AC  {name}\nXX\nID  {name}\nXX\n")
            fh.write(f"DE  {alt or name} (seqcnn first-layer filter; {nsites} sites)\n")
            fh.write("P0      A      C      G      T\n")
            for i, row in enumerate(counts, start=1):
                cons = ALPHABET[int(np.argmax(row))] if row.sum() else "N"
                fh.write(f"{i:02d} " + " ".join(f"{_num(v):>6}" for v in row) + f"      {cons}\n")
            fh.write(f"XX\nBA  {nsites} sites\nXX\n//\n")
    return str(path)


def _num(v):
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.3f}"
