"""The layering rule, enforced: compute modules never import figures or widgets.

Inside each stage, compute (pure functions → result records) comes first; figures
(``_figures.py``) and widgets (``_widgets.py`` …) sit on top of it, and on the
presentation kit. A compute module that imports plotly, ipywidgets, anywidget or
IPython — at module level or inside a function, directly, through ``require()`` or
``importlib`` — or that imports a presentation module, breaks the floors: the record
can no longer be computed where no display stack is installed (a scheduled
``workbench monitor``, a Dask worker, a scoring server). The scan reads the source
(AST), so it also sees imports that only run on some paths.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "workbench"
FORBIDDEN = ("plotly", "ipywidgets", "anywidget", "IPython")
#: Modules that present: a stage's figures and widgets, the kit, the display helpers.
PRESENTATION_NAMES = {
    "_figures", "_widgets", "_widget", "_viewer", "_report", "_dashboard", "_experiments",
    "_compare",
}  # fmt: skip
PRESENTATION_MODULES = ("workbench._display", "workbench.presentation")
#: The top floor (the command line, the demo it runs, notebooks and Voilà apps) may
#: call presentation: nothing below calls up to it.
TOP_FLOOR = ("workbench._cli", "workbench.__main__", "workbench._demo", "workbench._notebooks",
             "workbench._jupyter")  # fmt: skip

# Today's violators, each cleared by the architecture step (issue 25); an entry that no
# longer violates fails the test below, so the list only shrinks. Empty: the last one
# (explore's Profile.to_html importing explore._figures) went in issue 25's explore step,
# the record now draws through a renderer that explore._figures registers.
ALLOWED: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_presentation(module: str) -> bool:
    return module.startswith(PRESENTATION_MODULES) or any(
        part in PRESENTATION_NAMES for part in module.split(".")
    )


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(source: str, module: str = "workbench.x") -> list[tuple[int, str]]:
    """Every module ``source`` imports when it runs (line, dotted name): ``import``,
    ``from … import``, ``require("…")``, ``importlib.import_module("…")`` and
    ``__import__("…")``; not those under ``if TYPE_CHECKING:``, which never run."""
    found: list[tuple[int, str]] = []
    package = module.rsplit(".", 1)[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ._figures import y
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{a.name}") for a in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = node.args[0]
            known = name in ("require", "import_module", "__import__")
            if known and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((node.lineno, first.value))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def violations(source: str, module: str) -> list[tuple[int, str]]:
    """The imports of ``source`` (the module ``module``) that break the rule."""
    return [
        (line, name)
        for line, name in imports(source, module)
        if name.split(".")[0] in FORBIDDEN or is_presentation(name)
    ]


def compute_modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        if is_presentation(name) or name.startswith(TOP_FLOOR):
            continue
        found.append((name, path))
    return found


def _found() -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for name, path in compute_modules():
        source = path.read_text(encoding="utf-8")
        for line, imported in violations(source, name):
            # a subpackage's __init__ re-exports its figures and widgets: allowed, as long
            # as it imports no display package itself
            if path.name == "__init__.py" and imported.split(".")[0] not in FORBIDDEN:
                continue
            found.setdefault((name, _owner(imported)), line)
    return found


def _owner(imported: str) -> str:
    """The module an imported name belongs to (``a.b._figures.f`` → ``a.b._figures``,
    ``plotly.graph_objects`` → ``plotly``)."""
    parts = imported.split(".")
    if parts[0] in FORBIDDEN:
        return parts[0]
    for i in range(1, len(parts) + 1):
        if is_presentation(".".join(parts[:i])):
            return ".".join(parts[:i])
    return imported


def test_compute_modules_import_no_figures_and_no_widgets() -> None:
    found = _found()
    new = {k: v for k, v in found.items() if k not in ALLOWED}
    assert new == {}, "\n".join(
        f"{module} (line {line}) imports {what}: move the drawing into the stage's "
        "_figures.py or _widgets.py"
        for (module, what), line in sorted(new.items())
    )


def test_allow_list_holds_only_current_violations() -> None:
    assert ALLOWED - set(_found()) == set(), "cleared: remove these from ALLOWED"


def test_the_scan_is_not_empty() -> None:
    names = {name for name, _ in compute_modules()}
    assert {"workbench.monitoring._drift", "workbench.explore._profile",
            "workbench.explore._records", "workbench.explore._stats",
            "workbench.serving._app", "workbench._settings"} <= names  # fmt: skip
    assert not {"workbench.monitoring._figures", "workbench.presentation._tables",
                "workbench._display", "workbench._cli"} & names  # fmt: skip


def test_the_scan_covers_every_compute_module_of_data() -> None:
    """Data's compute (load, contract, coerce, infer, validate, mask) is scanned; its
    figure and widget (``_figures.py``, ``_widgets.py``) are the presentation it may
    not import."""
    data = PACKAGE / "data"
    compute = {name for name, path in compute_modules() if path.parent == data}
    on_disk = {_module_name(p) for p in data.glob("*.py") if p.stem not in ("_figures", "_widgets")}
    assert compute == on_disk
    assert {"workbench.data._validate", "workbench.data._load", "workbench.data._contract"} <= (
        compute
    )
    assert is_presentation("workbench.data._figures") and is_presentation("workbench.data._widgets")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import plotly.graph_objects as go", ["plotly.graph_objects"]),
        ("from ipywidgets import HTML", ["ipywidgets", "ipywidgets.HTML"]),
        ("def f():\n    import anywidget", ["anywidget"]),
        ("def f():\n    from IPython.display import display", ["IPython.display",
                                                               "IPython.display.display"]),
        ("x = require('plotly.express', feature='f')", ["plotly.express"]),
        ("import importlib\nm = importlib.import_module('ipywidgets')", ["ipywidgets"]),
        ("from workbench.presentation import table_html", ["workbench.presentation",
                                                            "workbench.presentation.table_html"]),
        ("from ._figures import metric_figure", ["workbench.stage._figures",
                                                 "workbench.stage._figures.metric_figure"]),
        ("from . import _widgets", ["workbench.stage._widgets"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import plotly", []),
        ("import pandas\nfrom workbench._metrics import f1_macro", []),
    ],
)  # fmt: skip
def test_the_scan_sees_every_way_of_importing(source: str, expected: list[str]) -> None:
    assert [name for _, name in violations(source, "workbench.stage._drift")] == expected
