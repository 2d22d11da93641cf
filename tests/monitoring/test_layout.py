"""The monitoring package keeps its floors: compute modules draw nothing (no plotly,
ipywidgets, anywidget or IPython, not even inside a function, and nothing of the
presentation floor), figures and widgets sit on top; no module past ~600 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import workbench.monitoring

PACKAGE = Path(workbench.monitoring.__file__).parent
PRESENTATION = {"_figures.py", "_widgets.py"}
DRAWING = ("plotly", "ipywidgets", "anywidget", "IPython")
UPPER = (
    "workbench.presentation",
    "workbench._display",
    "workbench.monitoring._figures",
    "workbench.monitoring._widgets",
)


def _imported(path: Path) -> list[str]:
    """Every module ``path`` imports, at the top or inside a function, and every one it
    loads by name through ``workbench._imports.require``."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "require"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.append(str(node.args[0].value))
    return names


def test_compute_modules_import_nothing_that_draws() -> None:
    compute = [p for p in sorted(PACKAGE.glob("*.py")) if p.name not in PRESENTATION]
    assert len(compute) >= 5
    offending = {
        p.name: bad
        for p in compute
        if p.name != "__init__.py"
        and (bad := [n for n in _imported(p) if n.split(".")[0] in DRAWING or n.startswith(UPPER)])
    }
    assert offending == {}


def test_every_module_stays_short_enough_to_read() -> None:
    lengths = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert {name: n for name, n in lengths.items() if n > 600} == {}
