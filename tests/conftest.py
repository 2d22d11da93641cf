"""Shared fixtures: an isolated settings environment and one small demo project.

The demo project (the whole lifecycle run once at a small size) is session-scoped: the
end-to-end, serving, notebook and browser tests all read what it left.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's own WORKBENCH_* or MLFLOW_* variables."""
    for name in list(os.environ):
        if name.startswith(("WORKBENCH_", "MLFLOW_")):
            monkeypatch.delenv(name)
    workbench.reset_settings()
    yield
    workbench.reset_settings()


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Run the demo at a small size in a fresh project folder, once per session."""
    from workbench._demo import run_demo

    project = tmp_path_factory.mktemp("demo-project")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo-project"\nversion = "0"\n\n'
        '[tool.workbench]\nmodel_name = "test-electricity"\n'
    )
    lines: list[str] = []
    result = run_demo(project, n_factories=4, seed=1, echo=lines.append)
    result.log_lines = lines  # type: ignore[attr-defined]
    return result


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep things a person may want to look at (screenshots)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
