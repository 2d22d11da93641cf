"""A tutorial run with its defaults leaves the project it is opened in as it was: its data,
stores and registered models stay the project's, the tutorial works in a folder and under
a model name of its own.

The notebook's own parameter and settings cells run in a real kernel, started in a project
as JupyterLab would be (``tests/test_notebooks.py`` runs the whole notebook).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill
import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = REPO / "notebooks" / "00_lifecycle.ipynb"


def test_the_lifecycle_tutorial_works_in_a_folder_and_model_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "energy"\n\n[tool.workbench]\nmodel_name = "energy"\n'
    )
    nb = nbformat.read(TUTORIAL, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    # every later cell writes through the `settings` and `model_name` these two cells set
    later = "\n".join(c.source for c in code[2:])
    assert "settings.model_name" not in later and "resolve_settings(" not in later
    assert "project_dir" not in later.replace("project_dir=settings.project_dir", "")
    report = nbformat.v4.new_code_cell(
        "import json\n"
        "print(json.dumps({'project_dir': str(settings.project_dir), 'home': str(settings.home),"
        " 'data_dir': str(settings.data_dir), 'tracking_uri': settings.tracking_uri,"
        " 'model_name': model_name}))"
    )
    nb.cells = [*code[:2], report]
    opened = project / "notebooks" / "00_lifecycle.ipynb"
    nbformat.write(nb, opened)

    # the kernel finds the project from its folder, as in a JupyterLab started in a shell
    monkeypatch.delenv("WORKBENCH_PROJECT_DIR")
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(opened), str(out), cwd=str(project / "notebooks"), progress_bar=False
    )
    printed = nbformat.read(out, as_version=4).cells[-1].outputs[0]["text"]
    where = json.loads(printed)
    own = project / ".workbench" / "tutorials" / "00_lifecycle"
    assert Path(where["project_dir"]) == own
    for key in ("home", "data_dir"):
        assert Path(where[key]).is_relative_to(own), (key, where[key])
    assert str(own) in where["tracking_uri"]
    assert where["model_name"] not in ("energy", "electricity-consumption")
    # the project itself: nothing written but the tutorial's folder
    written = sorted(
        p.relative_to(project).as_posix() for p in project.rglob("*") if not p.is_relative_to(own)
    )
    assert written == [
        ".workbench",
        ".workbench/tutorials",
        "notebooks",
        "notebooks/00_lifecycle.ipynb",
        "pyproject.toml",
    ]
