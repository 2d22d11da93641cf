"""``workbench run-notebooks``: execute the lifecycle notebooks and the apps with papermill.

Each notebook runs in a fresh kernel with the parameters it declares (those given that
its ``parameters`` cell does not declare are left out), and leaves two files in the build
folder: the executed notebook and an HTML report of it. The report stands alone
(:func:`workbench.presentation.write_report`): every figure and the static rendering of
every widget, plotly.js inlined once, nothing fetched from the network when it is opened
(nbconvert's own export drops plotly's figures and loads require.js, MathJax and the
widget manager from public CDNs). A failing notebook does not stop the others; the
summary says which failed, in which cell, and why.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench._exceptions import ConfigurationError
from workbench._imports import require

__all__ = ["NotebookRun", "find_notebooks", "run_notebooks"]


@dataclasses.dataclass(frozen=True)
class NotebookRun:
    """How one notebook went."""

    source: Path
    executed: Path
    report: Path | None
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def find_notebooks(root: Path, patterns: Sequence[str] = ()) -> list[Path]:
    """``notebooks/*.ipynb`` then ``apps/*.ipynb`` under ``root``, in name order; with
    ``patterns`` (globs relative to ``root``, such as ``apps/model_*``), only those."""
    found = [p for folder in ("notebooks", "apps") for p in sorted((root / folder).glob("*.ipynb"))]
    if patterns:
        found = [
            p
            for p in found
            if any(p.relative_to(root).match(pattern) or p.match(pattern) for pattern in patterns)
        ]
    return found


def _declared(path: Path) -> set[str]:
    """The parameters ``path`` declares (none when its parameters cell cannot be read)."""
    nbformat = require("nbformat")
    import ast

    notebook = nbformat.read(str(path), as_version=4)
    names: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    return names


def run_notebooks(
    notebooks: Sequence[Path],
    out_dir: Path,
    *,
    root: Path,
    parameters: Mapping[str, Any] | None = None,
    timeout: float = 1800,
    echo: Callable[[str], None] = print,
) -> list[NotebookRun]:
    """Execute ``notebooks`` one after the other; see the module doc."""
    from workbench._jupyter._kernels import papermill_kernel_options
    from workbench.presentation import write_report

    papermill = require("papermill", feature="executing notebooks")
    kernel_options = papermill_kernel_options()  # encrypted transport: no TCP warning
    if not notebooks:
        raise ConfigurationError(f"No notebook to run under {root}/notebooks or {root}/apps.")
    results = []
    for source in notebooks:
        relative = source.relative_to(root) if source.is_relative_to(root) else Path(source.name)
        executed = out_dir / relative
        executed.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        error = None
        try:
            given = {k: v for k, v in (parameters or {}).items() if k in _declared(source)}
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters=given,
                cwd=str(source.parent),
                progress_bar=False,
                kernel_name="python3",
                language="python",
                execution_timeout=timeout,
                **kernel_options,
            )
        except papermill.PapermillExecutionError as exc:
            error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
        except Exception as exc:  # a kernel that died, a timeout: the next one still runs
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        report = None
        if executed.exists():
            report = write_report(executed)
        results.append(NotebookRun(source, executed, report, seconds, error))
        echo(
            f"{'ok    ' if error is None else 'FAILED'} {relative} ({seconds:.0f} s)"
            + (f": {error}" if error else "")
        )
    return results
