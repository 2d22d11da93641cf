"""The shape of workbench.tuning (issue 25): compute apart from presentation, Optuna's
internals in one module, public names for what apps, notebooks and benchmarks use."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import workbench.tuning

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "workbench" / "tuning"
PRESENTATION = {"_figures.py", "_widgets.py"}
DRAWING = ("plotly", "ipywidgets", "anywidget", "IPython", "workbench._display")


def _imported(path: Path) -> set[str]:
    """Modules ``path`` imports, at the top or in a function, and what it ``require``s."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "require"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_compute_modules_draw_nothing() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in PRESENTATION or path.name == "__init__.py":
            continue
        drawing = sorted(n for n in _imported(path) if n.startswith(DRAWING))
        assert drawing == [], f"{path.name} is a compute module and imports {drawing}"
        presentation = sorted(
            n
            for n in _imported(path)
            if n.startswith(("workbench.tuning._figures", "workbench.tuning._widgets"))
        )
        assert presentation == [], f"{path.name} imports presentation: {presentation}"


def test_figures_are_pure_and_widgets_sit_on_figures_and_compute() -> None:
    figures = _imported(PACKAGE / "_figures.py")
    assert not [n for n in figures if n.startswith(("ipywidgets", "workbench.tuning._widgets"))]
    assert "workbench.tuning._figures" in _imported(PACKAGE / "_widgets.py")


def test_optunas_private_internals_are_used_in_one_module() -> None:
    private = re.compile(
        r"(?<!self)\._(study_id|trial_id|thread_local|get_trials|storage|cached_frozen_trial)\b"
        r"|optuna\.trial\.Trial\("
    )
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "_optuna.py":
            continue
        found = [m.group(0) for m in private.finditer(path.read_text())]
        assert found == [], f"{path.name} uses Optuna's internals {found}: see _optuna.py"


def test_apps_notebooks_and_benchmarks_use_public_tuning_names() -> None:
    used = re.compile(r"workbench\.tuning\._\w+|from workbench\.tuning import _\w+")
    mine = [
        REPO / "notebooks" / "03_tuning.ipynb",
        REPO / "apps" / "experiments.ipynb",
        REPO / "benchmarks" / "tuning.py",
        REPO / "benchmarks" / "gpu_check.sh",
    ]
    for path in mine:
        found = [m.group(0) for m in used.finditer(path.read_text())]
        assert found == [], f"{path.name} imports private tuning modules: {found}"
    for name in ("TuningSpec", "cross_validate", "metric_for", "resolve_families", "refit_best"):
        assert name in workbench.tuning.__all__
    assert "cuda_worker_count" in workbench.tuning.__all__
    assert all(getattr(workbench.tuning, name) is not None for name in workbench.tuning.__all__)


def test_no_module_is_long_without_saying_why() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        lines = path.read_text().count("\n")
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert lines <= 600 or "one job" in doc, f"{path.name}: {lines} lines"
