"""The feature store's modules: one job each, and imports only down the map in
``workbench/features/__init__.py`` (definitions apart from sources, transformations,
the engine and the stores)."""

from __future__ import annotations

import ast
from pathlib import Path

import workbench.features

FOLDER = Path(workbench.features.__file__).parent
#: Lowest first: a module imports only modules before it.
ORDER = [
    "_times",
    "_sql",
    "_renamed",
    "_fingerprints",
    "_calendar",
    "_windows",
    "_sources",
    "_transformations",
    "_definitions",
    "_keys",
    "_engine",
    "_records",
    "_registry",
    "_references",
    "_offline",
    "_online",
    "_store",
    "__init__",
]
#: ``FeatureView.compute`` is kept for callers: it hands the view to the engine, at call
#: time (the one import up the map).
UPWARD = {("_definitions", "_engine")}


def _imports(path: Path) -> set[str]:
    """The feature modules a module imports, at the top, under TYPE_CHECKING or in a
    function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["workbench", "features"] and len(parts) > 2:
                found.add(parts[2])
    return found


def test_every_module_is_on_the_map_and_imports_only_below_it() -> None:
    modules = sorted(p.stem for p in FOLDER.glob("*.py"))
    assert modules == sorted(ORDER)
    doc = workbench.features.__doc__ or ""
    assert all(f"``{m}``" in doc for m in ORDER if m != "__init__")  # the map names each
    for module in ORDER:
        for imported in _imports(FOLDER / f"{module}.py") - {module}:
            below = ORDER.index(imported) < ORDER.index(module)
            assert below or (module, imported) in UPWARD, f"{module} imports {imported}"


def test_modules_have_one_job_and_say_it() -> None:
    for path in FOLDER.glob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.name} does not say what it is for"
        lines = len(path.read_text().splitlines())
        assert lines <= 600, f"{path.name} has {lines} lines"
