"""HTML reports of executed notebooks that open offline and show every figure.

nbconvert's own HTML export fetches require.js and MathJax from public CDNs, renders
widgets with a script from unpkg, and drops plotly's MIME type, so the figures of a
workbench notebook come out blank and the page calls out to the internet. Here:

- every widget output is replaced by a static rendering of the state the executed
  notebook saved (:mod:`workbench.presentation._static`);
- a figure shown only as plotly JSON gets its ``text/html`` rendering;
- plotly.js (the copy installed with plotly) is inlined exactly once, in the head, and
  any copy a figure carried is removed;
- the template (``workbench_report``, nbconvert's lab template) loads nothing from a
  CDN.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from workbench._imports import require

__all__ = ["TEMPLATES", "prepare_report", "report_html", "write_report"]

#: The folder holding the ``workbench_report`` nbconvert template.
TEMPLATES = Path(__file__).parent / "templates"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _plotlyjs_pattern() -> re.Pattern[str]:
    from workbench._display import PLOTLYJS_MARK

    # plotly.js contains no "</script": the first one closes the tag
    return re.compile(rf"<script[^>]*\b{PLOTLYJS_MARK}\b[^>]*>.*?</script>", re.S)


def prepare_report(notebook: Any) -> tuple[Any, bool]:
    """A copy of ``notebook`` (an nbformat node) ready for a static page: widget
    outputs rendered from its saved widget state, plotly-only outputs given their
    ``text/html``, plotly.js taken out of every output, the widget state dropped.

    Returns:
        The prepared copy, and whether any output draws a plotly figure.
    """
    from workbench._display import PLOTLY_MIME, figure_html
    from workbench.presentation._static import WIDGET_VIEW_MIME, output_html

    prepared = copy.deepcopy(notebook)
    saved = prepared.metadata.get("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    strip = _plotlyjs_pattern()
    plotted = False
    for cell in prepared.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is None:
                continue
            if WIDGET_VIEW_MIME in data:
                model = data[WIDGET_VIEW_MIME].get("model_id", "")
                rendered = (
                    output_html(
                        {
                            "output_type": "display_data",
                            "data": {WIDGET_VIEW_MIME: data[WIDGET_VIEW_MIME]},
                        },
                        saved,
                    )
                    if model in saved
                    else ""
                )
                if rendered or "text/html" not in data:
                    data["text/html"] = rendered or (
                        "<p style='color:#59636E'>(An interactive view: open the notebook or "
                        "its app to use it.)</p>"
                    )
                del data[WIDGET_VIEW_MIME]
                data.pop("text/plain", None)  # "VBox(children=…)" says nothing to a reader
            elif PLOTLY_MIME in data and "text/html" not in data:
                data["text/html"] = figure_html(dict(data[PLOTLY_MIME]))
            if "text/html" in data:
                text = data["text/html"]
                text = "".join(text) if isinstance(text, list) else str(text)
                text = strip.sub("", text)
                data["text/html"] = text
                plotted = plotted or "plotly-graph-div" in text
            data.pop(PLOTLY_MIME, None)
    prepared.metadata.pop("widgets", None)
    return prepared, plotted


def report_html(notebook: Any, *, exclude_input: bool = False) -> str:
    """An executed notebook (a path or an nbformat node) as one HTML page that opens
    offline: every figure and widget shown, plotly.js inlined once, nothing fetched.

    Args:
        notebook: The executed notebook.
        exclude_input: Leave the code cells' input out (a page for stakeholders).

    Example:
        >>> # workbench run-notebooks writes these; by hand:
        >>> # Path("report.html").write_text(report_html("build/apps/monitoring.ipynb"))
    """
    nbconvert = require("nbconvert", feature="HTML reports of notebooks")
    nbformat = require("nbformat", feature="HTML reports of notebooks")
    from workbench._display import plotlyjs_script

    node = (
        nbformat.read(str(notebook), as_version=4) if isinstance(notebook, str | Path) else notebook
    )
    prepared, plotted = prepare_report(node)
    exporter = nbconvert.HTMLExporter(
        template_name="workbench_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=exclude_input,
        exclude_input_prompt=exclude_input,
        exclude_output_prompt=exclude_input,
    )
    resources: dict[str, Any] = {"workbench_plotlyjs": plotlyjs_script() if plotted else ""}
    if isinstance(notebook, str | Path):
        resources["metadata"] = {"name": Path(notebook).stem}
    body: str = exporter.from_notebook_node(prepared, resources=resources)[0]
    return body


def write_report(notebook: str | Path, target: str | Path | None = None, **options: Any) -> Path:
    """:func:`report_html` of the notebook at ``notebook``, written to ``target``
    (default: beside it, with ``.html``)."""
    out = Path(target) if target is not None else Path(notebook).with_suffix(".html")
    out.write_text(report_html(notebook, **options), encoding="utf-8")
    return out
