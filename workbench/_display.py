"""Showing plotly figures and widgets the same way in JupyterLab, Voilà and a report.

A figure goes out as a bundle of two renderings: plotly's own MIME type, which
JupyterLab and Voilà draw with plotly's renderer, and ``text/html`` (a ``<div>`` and a
script calling ``Plotly.newPlot``), which is what an HTML export of the executed
notebook keeps (nbconvert drops ``application/vnd.plotly.v1+json``). plotly.js itself
is inlined once per kernel, in the first top-level display that needs it, so a report
opens offline; later figures use it. Under Voilà, where nothing is exported, the
``text/html`` rendering is left out (it would only make the page heavier).

A widget's bundle (:func:`widget_bundle`) likewise carries a static ``text/html``
rendering of what it shows (its figures, tables, texts and the values of its controls).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from workbench._imports import require

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "PLOTLYJS_MARK",
    "PLOTLY_MIME",
    "figure_bundle",
    "figure_html",
    "figure_output",
    "html_fallback_wanted",
    "plotlyjs_once",
    "plotlyjs_script",
    "show_figure",
    "widget_bundle",
]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: The attribute marking the ``<script>`` that holds plotly.js (reports keep exactly one).
PLOTLYJS_MARK = "data-workbench-plotlyjs"
_CONFIG = {"responsive": True, "displaylogo": False}
_sent = {"plotlyjs": False}  # per kernel: has a displayed bundle carried plotly.js yet?


def html_fallback_wanted() -> bool:
    """Whether bundles should carry ``text/html``: everywhere but in a Voilà kernel."""
    return not any(k in os.environ for k in ("VOILA_BASE_URL", "VOILA_PREHEAT", "VOILA_APP_PORT"))


def plotlyjs_script() -> str:
    """plotly.js (the copy installed with plotly, no network) as one marked
    ``<script>`` tag."""
    offline = require("plotly.offline", feature="figures")
    version = offline.get_plotlyjs_version()
    return (
        f'<script type="text/javascript" {PLOTLYJS_MARK}="{version}">'
        "window.PlotlyConfig = {MathJaxConfig: 'local'};\n"
        f"{offline.get_plotlyjs()}</script>"
    )


def plotlyjs_once() -> str:
    """:func:`plotlyjs_script` the first time in this kernel, ``""`` after."""
    if _sent["plotlyjs"]:
        return ""
    _sent["plotlyjs"] = True
    return plotlyjs_script()


def _height(figure: go.Figure) -> int:
    """The figure's height: its own, its template's, else plotly's default (450)."""
    height = figure.layout.height
    if height is None:
        height = figure.layout.template.layout.height
    return int(height) if height is not None else 450


def figure_html(figure: go.Figure | dict[str, Any], *, include_plotlyjs: bool = False) -> str:
    """``figure`` as a ``<div>`` and the script that draws it with ``window.Plotly``,
    full width and at the figure's height (``include_plotlyjs``: plotly.js first)."""
    if isinstance(figure, dict):
        go_: Any = require("plotly.graph_objects", feature="figures")
        figure = go_.Figure(figure)
    height = _height(figure)
    div: str = figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        config=_CONFIG,
        default_width="100%",
        default_height=f"{height}px",
    )
    return (plotlyjs_script() if include_plotlyjs else "") + div


def _plain(figure: go.Figure) -> str:
    title = figure.layout.title.text
    return f"Figure: {title}" if title else "Figure"


def figure_bundle(
    figure: go.Figure, *, html: bool | None = None, include_plotlyjs: bool | None = None
) -> dict[str, Any]:
    """The MIME bundle of ``figure``: plotly's JSON, ``text/html`` and ``text/plain``.

    Args:
        figure: A plotly figure.
        html: Add the ``text/html`` rendering (default: :func:`html_fallback_wanted`).
        include_plotlyjs: Put plotly.js in the ``text/html`` (default: the first time in
            this kernel, :func:`plotlyjs_once`).
    """
    # plotly's JSON as plotly's own renderer gets it: no "config" (responsive: true there
    # made a top-level figure collapse to no height when a Voilà window was resized)
    bundle: dict[str, Any] = {
        PLOTLY_MIME: json.loads(figure.to_json()),
        "text/plain": _plain(figure),
    }
    if html if html is not None else html_fallback_wanted():
        script = (
            plotlyjs_once()
            if include_plotlyjs is None
            else (plotlyjs_script() if include_plotlyjs else "")
        )
        bundle["text/html"] = script + figure_html(figure)
    return bundle


def show_figure(figure: go.Figure) -> None:
    """Display ``figure`` in the notebook (or Voilà page) as :func:`figure_bundle`."""
    display = require("IPython.display", feature="showing figures").display
    display(figure_bundle(figure), raw=True)


def figure_output(output: Any, figure: go.Figure) -> None:
    """Show ``figure`` in an ``ipywidgets.Output``, replacing what it showed before.

    The figure goes in as plotly's own MIME bundle, so JupyterLab and Voilà draw it with
    plotly's renderer; this path is sturdier under Voilà than ``FigureWidget``'s
    incremental sync, and it works without a kernel (the state can be checked in tests).
    Outside Voilà the bundle also holds the ``text/html`` rendering, without plotly.js
    (a report carries plotly.js once: :func:`widget_bundle`, ``report_html``).
    """
    bundle = figure_bundle(figure, include_plotlyjs=False)
    output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)


def widget_bundle(widget: Any, **kwargs: Any) -> Any:
    """``widget``'s own MIME bundle plus a static ``text/html`` rendering of what it
    shows, for a stage's ``_repr_mimebundle_``: JupyterLab and Voilà draw the live
    widget; an HTML export keeps the static one (with plotly.js, the first time).
    """
    shown = widget._repr_mimebundle_(**kwargs)
    data, metadata = shown if isinstance(shown, tuple) else (shown, None)
    if data is not None and html_fallback_wanted():
        from workbench.presentation._static import widget_html

        static = widget_html(widget)
        script = plotlyjs_once() if "plotly-graph-div" in static else ""
        data = {**data, "text/html": script + static}
    return (data, metadata) if metadata is not None else data
