"""An executed notebook exported to HTML: every figure there, plotly.js once, offline.

The notebook (:mod:`tests.presentation.samples`) is run for real (nbclient, a fresh
kernel) and holds each way a figure reaches a page: a top-level figure, kit cards and
tables, a figure inside an ``ipywidgets.Output`` inside tabs, a plotly ``FigureWidget``
and a bare plotly MIME bundle. nbconvert's own export is the reference this is measured
against.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.presentation import pagecheck
from tests.presentation.samples import FIGURES, kit_notebook
from workbench._display import PLOTLY_MIME, PLOTLYJS_MARK
from workbench.presentation import report_html

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = kit_notebook()
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    path = tmp_path_factory.mktemp("report") / "sample.ipynb"
    nbformat.write(notebook, str(path))
    return path


def test_kernel_inlines_plotlyjs_once_and_every_figure_leaves_html(executed: Path) -> None:
    import nbformat

    notebook = nbformat.read(str(executed), as_version=4)
    outputs = [o for c in notebook.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = executed.read_text()
    assert text.count(f"{PLOTLYJS_MARK}=") == 1  # the first figure's, none after
    shown = [o["data"] for o in outputs if PLOTLY_MIME in o.get("data", {})]
    assert "text/html" in shown[0] and "plotly-graph-div" in shown[0]["text/html"]
    state = notebook.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    inside = [
        o["data"]
        for m in state.values()
        if m["model_name"] == "OutputModel"
        for o in m["state"]["outputs"]
    ]
    assert PLOTLY_MIME in inside[0] and "plotly-graph-div" in inside[0]["text/html"]


def test_nbconvert_alone_calls_cdns_and_loses_figures(executed: Path) -> None:
    """The reference: what nbconvert's own HTML export makes of the same notebook."""
    import nbconvert

    body, _ = nbconvert.HTMLExporter().from_notebook_node(
        __import__("nbformat").read(str(executed), as_version=4)
    )
    assert re.search(r"<script src=\"https://", body)  # require.js, MathJax
    assert "unpkg.com" in body  # the widget renderer
    assert body.count("plotly-graph-div") < FIGURES  # the bare bundle is dropped


def test_report_shows_every_figure_offline(
    executed: Path, tmp_path: Path, artifacts_dir: Path
) -> None:
    page = report_html(executed)
    assert page.count(f"{PLOTLYJS_MARK}=") == 1
    assert page.index(f"{PLOTLYJS_MARK}=") < page.index("<body")  # in the head
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert "application/vnd.jupyter.widget-state+json" not in page
    assert "VBox(children" not in page
    target = tmp_path / "report.html"
    target.write_text(page, encoding="utf-8")
    for visit in pagecheck.offline_visits(target.as_uri(), figures=FIGURES):
        visit.page.screenshot(
            path=str(artifacts_dir / f"presentation-report-{visit.width}.png"), full_page=True
        )
        assert pagecheck.figure_count(visit.page) == FIGURES, visit.width
        assert visit.problems() == {}, visit.width
