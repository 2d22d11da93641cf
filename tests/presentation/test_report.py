"""An executed notebook exported to HTML: every figure there, plotly.js once, offline.

The notebook is run for real (nbclient, a fresh kernel) and holds each way a figure
reaches a page: a top-level figure, kit cards and tables, a figure inside an
``ipywidgets.Output`` inside tabs, a plotly ``FigureWidget`` and a bare plotly MIME
bundle. nbconvert's own export is the reference this is measured against.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright import sync_api

from tests.presentation import pagecheck
from workbench._display import PLOTLY_MIME, PLOTLYJS_MARK
from workbench.presentation import report_html

pytestmark = pytest.mark.slow

CELLS = [
    "import pandas as pd, plotly.graph_objects as go, ipywidgets as w\n"
    "from IPython.display import display\n"
    "from workbench.presentation import *",
    "fig = apply_theme(go.Figure(go.Bar(x=['mon', 'tue', 'wed'], y=[3, 1, 2])))\n"
    "fig.update_layout(title='A figure shown on its own')\n"
    "show_figure(fig)",
    "kpi_row([kpi_card('requests', 12345, delta=0.12, delta_format='percent'),\n"
    "         kpi_card('latency p95', 4618.658, unit='ms', status='warn')])",
    "table_html(pd.DataFrame({'column': ['age', 'income'], 'share': [0.1234, None]}),\n"
    "           formats={'share': 'percent'})",
    "out = w.Output()\n"
    "inner = apply_theme(go.Figure(go.Scatter(x=[1, 2, 3], y=[2, 1, 3])))\n"
    "inner.update_layout(title='A figure in a widget')\n"
    "figure_output(out, inner)\n"
    "tabs = w.Tab(children=[w.VBox([w.Dropdown(options=['age', 'income'],\n"
    "                                          description='feature'), out]),\n"
    "                       w.HTML(empty_state('No alert yet', 'Run `make demo`.'))])\n"
    "tabs.set_title(0, 'Drift'); tabs.set_title(1, 'Alerts')\n"
    "w.VBox([w.HTML(kpi_row([kpi_card('rows', 10)])), tabs])",
    "heat = go.FigureWidget(go.Heatmap(z=[[1, 2], [3, 4]]))\nheat",
    "bare = go.Figure(go.Scatter(x=[1, 2], y=[1, 4]))\n"
    f"display({{{PLOTLY_MIME!r}: bare.to_plotly_json(), 'text/plain': 'a figure'}}, raw=True)",
]
FIGURES = 4  # on its own, in the widget, the FigureWidget, the bare bundle


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}  # fmt: skip
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
    with sync_api.sync_playwright() as p:
        browser = pagecheck.launch(p)
        try:
            for width in pagecheck.WIDTHS:
                view = browser.new_page(viewport={"width": width, "height": 900})
                refused = pagecheck.block_outside(view)
                errors: list[str] = []
                view.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                view.goto(target.as_uri(), wait_until="load")
                view.wait_for_function(
                    "Array.from(document.querySelectorAll('.plotly-graph-div'))"
                    ".every(d => d.querySelector('.main-svg'))",
                    timeout=20_000,
                )
                view.screenshot(path=str(artifacts_dir / f"presentation-report-{width}.png"),
                                full_page=True)  # fmt: skip
                assert pagecheck.figure_count(view) == FIGURES, width
                assert pagecheck.empty_figures(view) == [], width
                assert pagecheck.overflowing(view) == [], width
                assert pagecheck.text_problems(view) == [], width
                assert refused == [], width
                assert errors == [], width
                view.close()
        finally:
            browser.close()
