"""Figure and widget bundles (plotly MIME + ``text/html``), the static rendering of
widgets, and a report prepared from a saved notebook (no kernel, no browser)."""

from __future__ import annotations

import json
import re

import ipywidgets as widgets
import nbformat
import plotly.graph_objects as go
import pytest

from workbench import _display
from workbench._display import (
    PLOTLY_MIME,
    PLOTLYJS_MARK,
    figure_bundle,
    figure_output,
    widget_bundle,
)
from workbench.presentation import (
    apply_theme,
    empty_state,
    kpi_card,
    prepare_report,
    report_html,
    state_html,
    widget_html,
)
from workbench.presentation._static import widget_states

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def _fresh_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh kernel would: plotly.js not sent yet, not in Voilà."""
    monkeypatch.setitem(_display._sent, "plotlyjs", False)
    for name in ("VOILA_BASE_URL", "VOILA_PREHEAT", "VOILA_APP_PORT"):
        monkeypatch.delenv(name, raising=False)


def _figure(title: str | None = "drift of age") -> go.Figure:
    return apply_theme(go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout={"title": title}))


def test_figure_bundle_carries_plotly_json_html_and_plotlyjs_once() -> None:
    first, second = figure_bundle(_figure()), figure_bundle(_figure())
    assert first[PLOTLY_MIME]["data"][0]["type"] == "bar"
    assert "plotly-graph-div" in first["text/html"] and "Plotly.newPlot" in first["text/html"]
    assert first["text/html"].count(PLOTLYJS_MARK) == 1
    assert PLOTLYJS_MARK not in second["text/html"]  # later figures use the first's
    assert first["text/plain"] == "Figure: drift of age"
    assert "height:360px" in first["text/html"] and "width:100%" in first["text/html"]


def test_a_figure_without_title_is_not_called_none() -> None:
    # the old bundle's text/plain was repr(title): "None", which a report printed
    assert figure_bundle(_figure(None))["text/plain"] == "Figure"


def test_under_voila_no_html_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOILA_BASE_URL", "/")
    bundle = figure_bundle(_figure())
    assert set(bundle) == {PLOTLY_MIME, "text/plain"}
    assert _display._sent["plotlyjs"] is False  # still owed to the first exported figure


def test_figure_output_keeps_its_callers_and_adds_html_without_plotlyjs() -> None:
    output = widgets.Output()
    figure_output(output, _figure())
    (item,) = output.outputs
    assert item["output_type"] == "display_data"
    assert item["data"][PLOTLY_MIME]["layout"]["title"]["text"] == "drift of age"
    assert "plotly-graph-div" in item["data"]["text/html"]
    assert PLOTLYJS_MARK not in item["data"]["text/html"]
    figure_output(output, _figure("second"))
    assert len(output.outputs) == 1  # replaced, not appended


def _view() -> widgets.Widget:
    plot = widgets.Output()
    figure_output(plot, _figure())
    hidden = widgets.HTML("<b>secret</b>", layout=widgets.Layout(display="none"))
    picker = widgets.Dropdown(options=[("Age", "age"), ("Income", "income")], value="income",
                              description="feature")  # fmt: skip
    dates = widgets.SelectionRangeSlider(options=["1 Dec", "2 Dec", "3 Dec"], index=(0, 2),
                                         description="dates")  # fmt: skip
    tabs = widgets.Tab(
        children=[widgets.VBox([picker, plot]), widgets.HTML(empty_state("No alert yet"))]
    )
    tabs.set_title(0, "Drift")
    tabs.set_title(1, "Alerts")
    return widgets.VBox(
        [
            widgets.HTML(kpi_card("rows", 10)),
            widgets.HBox(
                [
                    widgets.Button(description="Refresh"),
                    widgets.IntProgress(value=3),
                    dates,
                    widgets.Label("as of today"),
                ]
            ),
            hidden,
            tabs,
        ]
    )


def test_widget_html_shows_what_the_widget_shows() -> None:
    page = widget_html(_view())
    assert "plotly-graph-div" in page  # the figure in the Output
    assert ">Drift<" in page and ">Alerts<" in page and "No alert yet" in page
    assert re.search(r"feature:</span> <b[^>]*>Income</b>", page)
    assert "1 Dec – 3 Dec" in page and "as of today" in page
    assert "Refresh" not in page and "progress" not in page.lower()  # no use on paper
    assert "secret" not in page  # hidden
    assert PLOTLYJS_MARK not in page


def test_saved_state_renders_like_the_live_widget() -> None:
    view = _view()
    states = json.loads(json.dumps(widget_states(view), default=str))  # as a notebook saves
    strip = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    assert strip.sub("", state_html(states, view.model_id)) == strip.sub("", widget_html(view))
    assert state_html(states, "no-such-model") == ""


def test_widget_bundle_adds_a_static_rendering() -> None:
    view = _view()
    data = widget_bundle(view)
    assert WIDGET_VIEW in data and "text/plain" in data
    assert data["text/html"].count(PLOTLYJS_MARK) == 1 and "plotly-graph-div" in data["text/html"]
    assert PLOTLYJS_MARK not in widget_bundle(view)["text/html"]
    assert PLOTLYJS_MARK not in widget_bundle(widgets.HTML("no figure"))["text/html"]


def _saved_notebook() -> nbformat.NotebookNode:
    """A notebook as nbclient leaves it: a widget output and its saved state, a bare
    plotly bundle, and two figures that each carried plotly.js (a re-run cell)."""
    view = _view()
    states = json.loads(json.dumps(widget_states(view), default=str))
    with_js = figure_bundle(_figure(), include_plotlyjs=True)
    cells = [
        nbformat.v4.new_code_cell("view", outputs=[nbformat.v4.new_output(
            "display_data", data={WIDGET_VIEW: {"model_id": view.model_id, "version_major": 2,
                                                "version_minor": 0},
                                  "text/plain": "VBox(children=(HTML(value=...)))"})]),
        nbformat.v4.new_code_cell("bare", outputs=[nbformat.v4.new_output(
            "display_data", data={PLOTLY_MIME: _figure("bare").to_plotly_json(),
                                  "text/plain": "Figure"})]),
        nbformat.v4.new_code_cell("twice", outputs=[
            nbformat.v4.new_output("display_data", data=with_js),
            nbformat.v4.new_output("display_data", data=with_js)]),
        nbformat.v4.new_code_cell("lost", outputs=[nbformat.v4.new_output(
            "display_data", data={WIDGET_VIEW: {"model_id": "gone"}, "text/plain": "Tab(...)"})]),
    ]  # fmt: skip
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "version_major": 2, "version_minor": 0, "state": states}
    }  # fmt: skip
    return notebook


def test_prepare_report_renders_widgets_and_strips_plotlyjs() -> None:
    notebook = _saved_notebook()
    prepared, plotted = prepare_report(notebook)
    assert plotted
    assert "widgets" not in prepared.metadata and "widgets" in notebook.metadata  # a copy
    outputs = [o["data"] for c in prepared.cells for o in c.outputs]
    assert all(WIDGET_VIEW not in d and PLOTLY_MIME not in d for d in outputs)
    assert "No alert yet" in outputs[0]["text/html"] and "text/plain" not in outputs[0]
    assert "plotly-graph-div" in outputs[1]["text/html"]
    assert not any(PLOTLYJS_MARK in d.get("text/html", "") for d in outputs)
    assert "interactive view" in outputs[-1]["text/html"]  # no saved state: said, not VBox(…)


def test_report_html_inlines_plotlyjs_once_in_the_head_and_fetches_nothing() -> None:
    page = report_html(_saved_notebook())
    assert page.count(f"{PLOTLYJS_MARK}=") == 1
    assert page.index(PLOTLYJS_MARK) < page.index("<body")
    assert page.count('class="plotly-graph-div"') == 4
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert 'import("http' not in page and "unpkg.com" not in page
    assert "VBox(children" not in page and "Tab(...)" not in page


def test_report_without_figures_carries_no_plotlyjs() -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Notes")])
    assert PLOTLYJS_MARK not in report_html(notebook)
