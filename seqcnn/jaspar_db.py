"""The names pyjaspar's bundled JASPAR databases know: releases, collections and taxonomic groups.

Provides :data:`DEFAULT_TAX_GROUP`, :func:`jaspar_names` (read from the SQLite files themselves),
:func:`check_jaspar` (one line listing the valid names, before any heavy work, nothing printed by pyjaspar or
Biopython) and :func:`group_hint`. A shared helper: ``seqcnn train --jaspar`` checks the group it records
(``rundir``) and the motif verbs check theirs (``motif_compare``). pyjaspar is imported on first use.
"""

from .errors import SeqcnnError

#: The taxonomic group of a run that recorded none (its config.json predates ``seqcnn train --jaspar``).
DEFAULT_TAX_GROUP = "vertebrates"


def _jaspar_db(release):
    """A read-only connection to pyjaspar's bundled SQLite file of ``release`` (None when pyjaspar lacks it)."""
    import sqlite3

    import pyjaspar
    from pyjaspar.utils import get_jaspardb_path

    name = pyjaspar.jaspar_releases.get(release)
    return None if name is None else sqlite3.connect(f"file:{get_jaspardb_path(name)}?mode=ro", uri=True)


def jaspar_names(release=None):
    """The names pyjaspar's bundled databases know: ``{'releases', 'collections', 'tax_groups'}``, sorted lists.

    Read from the SQLite files themselves, so a newer pyjaspar's groups are known without a change here.
    ``release`` None: the collections and groups of every release (what a run may record before a release is
    chosen); else those of that release.
    """
    import pyjaspar

    releases = list(pyjaspar.jaspar_releases)
    collections, groups = set(), set()
    for r in ([release] if release else releases):
        conn = _jaspar_db(r)
        if conn is None:
            continue
        try:
            collections.update(v for (v,) in conn.execute("SELECT DISTINCT COLLECTION FROM MATRIX"))
            groups.update(v for (v,) in conn.execute(
                "SELECT DISTINCT VAL FROM MATRIX_ANNOTATION WHERE TAG = 'tax_group'"))
        finally:
            conn.close()
    return {"releases": sorted(releases), "collections": sorted(collections), "tax_groups": sorted(groups)}


def group_hint(exclude=None):
    """``fungi|plants|insects|…``: the other JASPAR groups worth trying, for messages."""
    common = ["fungi", "plants", "insects", "nematodes", "vertebrates", "urochordates"]
    return "|".join([g for g in common if g != exclude][:4]) + "|…"


def check_jaspar(tax_group=DEFAULT_TAX_GROUP, release=None, collection=None):
    """Raise :class:`SeqcnnError` (one line, listing the valid names) unless pyjaspar knows these names.

    ``tax_group`` may also be 'all' (every group) or 'none' (no comparison); ``release`` and ``collection`` None
    are not checked (a group is then checked against every release's groups). Cheap (a few SQLite queries), so
    verbs call it before any heavy work, and it prints nothing: pyjaspar itself would print a message, or warn
    through Biopython, and fail later.
    """
    names = jaspar_names(None)
    if release is not None and release not in names["releases"]:
        raise SeqcnnError(f"unknown JASPAR release {release!r}", hint=f"pyjaspar ships {', '.join(names['releases'])}")
    if release is not None:
        names = jaspar_names(release)
    if collection is not None and collection not in names["collections"]:
        raise SeqcnnError(f"unknown JASPAR collection {collection!r}"
                          + (f" in {release}" if release else ""),
                          hint=f"--jaspar-collection is one of {', '.join(names['collections'])}")
    if tax_group not in ("all", "none") and tax_group not in names["tax_groups"]:
        raise SeqcnnError(f"unknown JASPAR taxonomic group {tax_group!r}" + (f" in {release}" if release else ""),
                          hint=f"--jaspar is one of {', '.join(names['tax_groups'])}, all, or none")
    return tax_group
