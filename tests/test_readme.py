"""Every command the README shows as run (``$ ...`` lines in code blocks) is executed here, in order.

The commands run in a fresh folder holding a link to the repository's ``data/``, with the
installed ``seqcnn`` on PATH, exactly as a reader would type them after ``make demo``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    """The ``$ `` lines inside fenced code blocks of README.md, in order."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        commands += [line[2:].strip() for line in block.splitlines() if line.startswith("$ ")]
    return commands


def test_readme_shows_every_verb():
    verbs = {c.split()[1] for c in readme_commands() if c.startswith("seqcnn ")}
    assert {"simulate", "encode", "info", "models", "train", "evaluate", "predict", "mutagenesis",
            "motifs", "variants", "discover", "report", "export", "scan"} <= verbs


@pytest.mark.slow
def test_readme_commands_run(tmp_path):
    (tmp_path / "data").symlink_to(ROOT / "data")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    for command in readme_commands():
        res = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=900)
        assert res.returncode == 0, f"$ {command}\n{res.stdout}\n{res.stderr}"
        assert "Traceback" not in res.stderr, command
