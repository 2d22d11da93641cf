"""A tutorial run with its defaults leaves the project it is opened in as it was: its data,
stores and registered models stay the project's, the tutorial works in a folder and under
a model name of its own.

The notebook's own parameter and settings cells run in a real kernel, started in a project
as JupyterLab would be (``tests/test_notebooks.py`` runs the whole notebook).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import nbformat
import papermill
import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((REPO / "notebooks").glob("0*.ipynb"))
#: The tutorials that register a model: under a name of their own.
REGISTERING = {"00_lifecycle", "04_packaging", "05_serve_and_monitor", "06_closing_the_loop"}
#: The tutorials whose story needs an empty start (no earlier versions, checkpoint or alerts):
#: a new temporary folder at every run instead of .workbench/tutorials/<notebook>.
FRESH = {"06_closing_the_loop"}


def test_every_tutorial_is_checked() -> None:
    assert [p.stem for p in TUTORIALS] == [
        "00_lifecycle", "01_explore_and_validate", "02_features", "03_tuning",
        "04_packaging", "05_serve_and_monitor", "06_closing_the_loop",
    ]  # fmt: skip


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
def test_a_tutorial_works_in_a_folder_and_model_of_its_own(
    tutorial: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "energy"\n\n[tool.workbench]\nmodel_name = "energy"\n'
    )
    nb = nbformat.read(tutorial, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    # every later cell writes through the `settings` and `model_name` these two cells set
    later = "\n".join(c.source for c in code[2:])
    assert "settings.model_name" not in later and "resolve_settings(" not in later
    assert "project_dir" not in later.replace("project_dir=settings.project_dir", "")
    assert ("model_name" in code[0].source) == (tutorial.stem in REGISTERING)
    report = nbformat.v4.new_code_cell(
        "import json\n"
        "print(json.dumps({'project_dir': str(settings.project_dir), 'home': str(settings.home),"
        " 'data_dir': str(settings.data_dir), 'tracking_uri': settings.tracking_uri,"
        " 'model_name': globals().get('model_name')}))"
    )
    nb.cells = [*code[:2], report]
    opened = project / "notebooks" / tutorial.name
    nbformat.write(nb, opened)

    # the kernel finds the project from its folder, as in a JupyterLab started in a shell
    monkeypatch.delenv("WORKBENCH_PROJECT_DIR")
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(opened), str(out), cwd=str(project / "notebooks"), progress_bar=False
    )
    printed = nbformat.read(out, as_version=4).cells[-1].outputs[0]["text"]
    where = json.loads(printed)
    own = project / ".workbench" / "tutorials" / tutorial.stem
    if tutorial.stem in FRESH:  # a new folder under the system's temporary folder
        own = Path(where["project_dir"])
        assert own.parent == Path(tempfile.gettempdir()).resolve(), own
    assert Path(where["project_dir"]) == own
    for key in ("home", "data_dir"):
        assert Path(where[key]).is_relative_to(own), (key, where[key])
    assert str(own) in where["tracking_uri"]
    if tutorial.stem in REGISTERING:
        assert where["model_name"] not in ("energy", "electricity-consumption")
    # the project itself: nothing written but the tutorial's folder
    written = sorted(
        p.relative_to(project).as_posix() for p in project.rglob("*") if not p.is_relative_to(own)
    )
    assert written == [
        *([] if tutorial.stem in FRESH else [".workbench", ".workbench/tutorials"]),
        "notebooks",
        f"notebooks/{tutorial.name}",
        "pyproject.toml",
    ]
