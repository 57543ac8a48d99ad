"""Tests of seqcnn.jaspar_db: the JASPAR names come from pyjaspar's databases; a wrong one is one line listing them."""

import pytest

from seqcnn.errors import SeqcnnError
from seqcnn.jaspar_db import check_jaspar, group_hint, jaspar_names


def test_names_are_read_from_the_bundled_databases():
    every, old = jaspar_names(), jaspar_names("JASPAR2014")
    assert {"vertebrates", "fungi", "plants", "insects", "nematodes", "urochordates", "diatoms"} <= set(
        every["tax_groups"])
    assert "diatoms" not in old["tax_groups"] and "fungi" in old["tax_groups"]   # groups differ by release
    assert "CORE" in every["collections"] and {"JASPAR2014", "JASPAR2024"} <= set(every["releases"])


@pytest.mark.parametrize("kw,words", [
    ({"tax_group": "yeast"}, ["'yeast'", "fungi", "plants", "vertebrates", "all, or none"]),
    ({"tax_group": "diatoms", "release": "JASPAR2014"}, ["'diatoms' in JASPAR2014", "fungi"]),
    ({"tax_group": "fungi", "release": "JASPAR2024", "collection": "COREX"}, ["'COREX'", "CORE", "UNVALIDATED"]),
    ({"tax_group": "fungi", "release": "JASPAR1999"}, ["'JASPAR1999'", "JASPAR2024"]),
])
def test_a_wrong_name_is_one_line_listing_the_valid_ones_and_nothing_else_is_printed(kw, words, capfd):
    with pytest.raises(SeqcnnError) as err:
        check_jaspar(**kw)
    assert "\n" not in str(err.value) and all(w in str(err.value) for w in words), str(err.value)
    assert capfd.readouterr() == ("", "")


def test_valid_names_pass_and_the_hint_leaves_out_the_group_searched():
    assert check_jaspar("fungi", "JASPAR2024", "CORE") == "fungi"
    assert check_jaspar("all") == "all" and check_jaspar("none") == "none"
    assert group_hint("fungi").startswith("plants|insects|") and group_hint().endswith("|…")
