"""Every notebook in notebooks/ and apps/ runs top to bottom under papermill."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*REPO.glob("notebooks/*.ipynb"), *REPO.glob("apps/*.ipynb")])
#: Where `make docs` reads the executed tutorials (the suite's own runs, not run twice in CI).
DOCS_NOTEBOOKS = REPO / "build" / "docs" / "notebooks" / "notebooks"

pytestmark = pytest.mark.slow


def test_there_are_notebooks_and_apps() -> None:
    names = [p.relative_to(REPO).as_posix() for p in NOTEBOOKS]
    assert "apps/monitoring.ipynb" in names
    assert any(n.startswith("notebooks/") for n in names)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_committed_without_outputs_and_with_a_parameters_cell(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert any("parameters" in c.metadata.get("tags", []) for c in code)


RUNS = [
    *[(n, "") for n in NOTEBOOKS],
    (REPO / "apps" / "monitoring.ipynb", "snapshot"),  # the app on one saved snapshot
]


@pytest.mark.parametrize(
    ("notebook", "variant"),
    RUNS,
    ids=lambda v: v.relative_to(REPO).as_posix() if isinstance(v, Path) else v or "default",
)
def test_notebook_executes(notebook: Path, variant: str, demo_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    features = demo_project.settings.data_dir / "processed" / "electricity_features.parquet"
    project = str(demo_project.settings.project_dir)
    apps = {
        ("monitoring", ""): {"project_dir": project, "model_name": "test-electricity"},
        ("monitoring", "snapshot"): {"snapshot_path": str(demo_project.snapshot_path)},
        ("explore", ""): {"data_path": str(features)},
        ("model_card", ""): {"project_dir": project, "model_name": "test-electricity"},
        ("experiments", ""): {"project_dir": project},
    }
    if notebook.parent.name == "apps":
        parameters = apps[(notebook.stem, variant)]
    else:
        project = tmp_path / "project"
        project.mkdir()
        parameters = {"project_dir": str(project)}
    out = tmp_path / notebook.name
    papermill.execute_notebook(
        str(notebook),
        str(out),
        parameters=parameters,
        cwd=str(tmp_path),
        progress_bar=False,
        kernel_name="python3",
    )
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    if notebook.stem == "00_lifecycle":
        _shows_the_study(out)
    if notebook.parent.name == "notebooks":  # the docs site shows this execution (make docs)
        DOCS_NOTEBOOKS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, DOCS_NOTEBOOKS / notebook.name)


def _shows_the_study(executed: Path) -> None:
    """The lifecycle notebook runs the demo's short study (Lasso, Ridge, gradient
    boosting on a local cluster), shows its trials, and the packaged model's card names
    it; the notebook's HTML report keeps those figures."""
    from workbench.presentation import write_report

    nb = nbformat.read(executed, as_version=4)
    html = [
        o["data"]["text/html"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "text/html" in o.get("data", {})
    ]
    trials = next(h for h in html if "by model family" in h)  # the experiments view
    for family in ("Lasso", "Ridge", "gradient boosting"):
        assert family in trials, family
    card = next(h for h in html if "Tuning study" in h)  # the card viewer
    assert "tutorial-lifecycle-families-0" in card and "3 complete" in card
    assert "SQLite file .workbench/optuna.db in the project folder" in card
    # tables a person can read (the kit's: formatted, scrolling in their own box, a missing
    # value blank), not pandas' raw frames with None and NaN wider than the page
    assert not [h for h in html if 'class="dataframe' in h]
    for caption in ("Quarantined rows", "Feature views", "Online features", "inference log"):
        assert any(caption in h and "wb-table" in h for h in html), caption
    cells = {c.strip() for h in html for c in re.findall(r"<td[^>]*>([^<]*)</td>", h)}
    assert not {"None", "nan", "NaN", "NaT", "<NA>"} & cells
    printed = [o.get("text", "") for c in nb.cells for o in c.get("outputs", [])]
    assert not [t for t in printed if "Warning:" in t or str(REPO) in t]  # nothing for a dev
    target = write_report(executed, executed.with_suffix(".report.html"))
    report = target.read_text()
    assert "RMSE by model family" in report and "Tuning study" in report
    _looks_right_in_a_browser(target)


def _looks_right_in_a_browser(report: Path) -> None:
    """The report as a reader opens it, offline, at each width: every figure drawn with
    marks (none left to WebGL), nothing wider than its box (a table's sparklines and
    bars inside their cells), no None/nan/traceback/warning text, no outside request."""
    from tests.presentation import pagecheck

    for visit in pagecheck.offline_visits(report.as_uri(), figures=10):
        assert visit.problems() == {}, visit.width


def test_the_monitoring_report_stands_alone(
    demo_project, tmp_path: Path, artifacts_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """`workbench run-notebooks` on the monitoring app: the executed notebook keeps a
    static rendering of the dashboard, and its HTML report shows every figure at 1280
    and 800 px with plotly.js inlined once and no request leaving the machine."""
    from tests.presentation import pagecheck
    from workbench._display import PLOTLYJS_MARK
    from workbench._notebooks import run_notebooks

    [run] = run_notebooks(
        [REPO / "apps" / "monitoring.ipynb"],
        tmp_path,
        root=REPO,
        parameters={
            "project_dir": str(demo_project.settings.project_dir),
            "model_name": "test-electricity",
        },
        echo=lambda _: None,
    )
    assert run.ok, run.error
    shown = [
        o["data"]
        for c in nbformat.read(run.executed, as_version=4).cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert shown and "plotly-graph-div" in shown[0]["text/html"]  # the widget's static copy
    assert run.report is not None
    page_text = run.report.read_text(encoding="utf-8")
    assert page_text.count(f"{PLOTLYJS_MARK}=") == 1
    assert "wb-drift-table" in page_text and "Drift: " in page_text  # the table, as HTML
    # no require.js, MathJax or widget manager from a CDN: nothing with an outside source
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", page_text)
    assert "unpkg.com" not in page_text and "cdnjs.cloudflare.com" not in page_text
    for visit in pagecheck.offline_visits(run.report.as_uri(), figures=3, height=1000):
        # per week, a feature, performance (the drift table is HTML)
        visit.page.screenshot(
            path=str(artifacts_dir / f"monitoring-report-{visit.width}.png"), full_page=True
        )
        assert visit.problems() == {}, visit.width
        assert [u for u in visit.requests if not u.startswith(("file:", "data:"))] == []
