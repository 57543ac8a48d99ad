"""ARCHITECTURE.md matches the code: every module mapped, imports follow the flow, the house rules hold.

Read from the source with ``ast`` (nothing is imported), so a new module, a backward import or a stray
TensorFlow import fails here before it reaches main.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seqcnn"
# The map's module groups, in the order data flows; a module may import from its own group, earlier ones,
# and the shared helpers. plots.py is usable from every group; only __main__ imports the CLI.
GROUPS = ["Shared helpers", "Encode side", "Models and training", "Interpretation", "Figures and the command line"]


def _map_groups():
    """``{module: group index}`` from the tables of ARCHITECTURE.md's "Modules" section."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text.split("## Modules", 1)[1].split("\n## ", 1)[0]
    groups, current = {}, None
    for line in section.splitlines():
        bold = re.match(r"\*\*(.+?)\*\*", line)
        if bold:
            current = next(i for i, g in enumerate(GROUPS) if bold.group(1).startswith(g))
        row = re.match(r"\| `([\w]+)(?:\.py|/)` \|", line)  # a module, or a package (`cli/`)
        if row:
            assert current is not None, line
            groups[row.group(1)] = current
    return groups


def _modules():
    """seqcnn's modules and sub-packages (``cli``), by name."""
    return sorted([p.stem for p in PACKAGE.glob("*.py")]
                  + [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()])


def _files(name):
    """The source files of a module (one) or a sub-package (each of its modules)."""
    return sorted((PACKAGE / name).glob("*.py")) if (PACKAGE / name).is_dir() else [PACKAGE / f"{name}.py"]


def _imports(name):
    """``(seqcnn modules imported, anywhere in its files; external top-level names imported at module level)``."""
    inner, top = set(), set()
    for path in _files(name):
        tree = ast.parse(path.read_text())
        level = 2 if path.parent != PACKAGE else 1  # in a sub-package, `..x` is seqcnn's x (`.x` is its own)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == level:
                if node.module:
                    inner.add(node.module.split(".")[0])
                else:
                    inner.update(a.name for a in node.names)
        for node in tree.body:
            if isinstance(node, ast.Import):
                top.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                top.add(node.module.split(".")[0])
    return inner, top


def test_every_module_is_mapped_and_every_mapped_module_exists():
    mapped = set(_map_groups())
    assert mapped == set(_modules()), (f"in the code, not the map: {sorted(set(_modules()) - mapped)}; "
                                       f"in the map, not the code: {sorted(mapped - set(_modules()))}")


def test_imports_follow_the_flow_and_nothing_imports_the_cli():
    groups = _map_groups()
    shared, figures = GROUPS.index("Shared helpers"), GROUPS.index("Figures and the command line")
    backward = []
    for name in _modules():
        inner, _ = _imports(name)
        for dep in inner:
            if dep == "cli":
                assert name == "__main__", f"{name}.py imports cli.py"
            elif name not in ("__init__", "cli") and groups[dep] not in (shared, figures) \
                    and groups[dep] > groups[name]:
                backward.append(f"{name} ({GROUPS[groups[name]]}) imports {dep} ({GROUPS[groups[dep]]})")
    assert not backward, backward


def test_house_rules_no_module_level_tensorflow_figures_only_in_plots_and_docstrings():
    problems = []
    for name in _modules():
        for path in _files(name):
            text, where = path.read_text(), path.relative_to(PACKAGE)
            if not ast.get_docstring(ast.parse(text)):
                problems.append(f"{where} has no module docstring saying what it provides")
            if name != "plots" and re.search(r"^\s*(import|from) (matplotlib|logomaker)\b", text, re.M):
                problems.append(f"{where} draws figures itself (they belong in plots.py)")
        # TensorFlow is imported on first use through _tf.py, so `import seqcnn` and `seqcnn encode` stay fast.
        if _imports(name)[1] & {"tensorflow", "keras"}:
            problems.append(f"{name} imports TensorFlow/Keras at module level")
    assert not problems, problems
