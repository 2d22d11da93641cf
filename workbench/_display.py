"""Showing plotly figures inside ipywidgets, the same way in JupyterLab and Voilà."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["PLOTLY_MIME", "figure_output"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def figure_output(output: Any, figure: go.Figure) -> None:
    """Show ``figure`` in an ``ipywidgets.Output``, replacing what it showed before.

    The figure goes in as plotly's own MIME bundle, so JupyterLab and Voilà draw it with
    plotly's renderer. This path is sturdier under Voilà than ``FigureWidget``'s
    incremental sync, and it works without a kernel (the state can be checked in tests).
    """
    title = figure.layout.title.text
    bundle = {PLOTLY_MIME: json.loads(figure.to_json()), "text/plain": repr(title)}
    output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
