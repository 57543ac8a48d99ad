"""Execute notebooks/analysis.ipynb top to bottom (FAST = True) and check what it reports."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "analysis.ipynb"


def _text(nb):
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if "text" in o:
                out.append(o["text"])
            elif "data" in o and "text/plain" in o["data"]:
                out.append(o["data"]["text/plain"])
    return "\n".join(out)


@pytest.mark.slow
def test_notebook_runs_and_finds_the_planted_motif(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "FAST = False" in params[0].source
    params[0].source = f"FAST = True\nWORK = {str(tmp_path / 'work')!r}"
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()  # raises on any cell error
    text = _text(nb)
    auroc = float(re.search(r"Test auROC ([0-9.]+)", text).group(1))
    assert auroc > 0.7, text[-2000:]
    ratio = float(re.search(r"inside planted CTCF sites / elsewhere: ([0-9.]+)x", text).group(1))
    assert ratio > 1.5
    assert "CTCF" in re.search(r"The most significant filter match is ([^(]+)", text).group(1)
    assert (tmp_path / "work" / "motifs" / "filters.meme").exists()
    found = re.search(r"(\d+) pattern\(s\) from (\d+) seqlets", text)
    assert found and int(found.group(2)) > 0, text[-2000:]
    assert (tmp_path / "work" / "discover" / "patterns.csv").exists()
    page = re.search(r"wrote (\S+report\.html) \(([0-9.]+) MB\): ([a-z, ]+)", text)
    assert page and "performance" in page.group(3) and "motifs" in page.group(3) and "discover" in page.group(3)
    assert (tmp_path / "work" / "report.html").stat().st_size > 100_000
    links = [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert any('href="' in h and "report.html" in h for h in links)   # the notebook links to its report


def test_committed_notebook_has_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # Committed executed, so it reads well on a code host; no stored errors.
    assert all(c.get("execution_count") for c in code)
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs)
