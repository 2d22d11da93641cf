"""The model card of any registered version, in a notebook or under Voilà."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from workbench._display import figure_output
from workbench._imports import require

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench._settings import Settings
    from workbench.packaging._card import ModelCard

__all__ = ["CardViewer", "cost_figure", "metrics_figure"]


def metrics_figure(card: ModelCard) -> go.Figure:
    """The card's metrics as bars, with their spread over folds where recorded."""
    go_: Any = require("plotly.graph_objects", feature="model card figures")
    names = list(card.metrics)
    values = [float(card.metrics[n].get("value") or float("nan")) for n in names]
    spread = [float(card.metrics[n].get("std") or 0.0) for n in names]
    fig = go_.Figure(
        go_.Bar(
            x=names, y=values, error_y={"type": "data", "array": spread}, marker_color="#1f77b4"
        )
    )
    fig.update_layout(
        title=f"{card.name} v{card.version}: metrics", height=320, margin={"t": 50, "b": 40}
    )
    return fig


def cost_figure(card: ModelCard) -> go.Figure:
    """What the version costs to run, as measured when it was packaged."""
    go_: Any = require("plotly.graph_objects", feature="model card figures")
    labels = {
        "fit_seconds": "fit (s)",
        "load_seconds": "load (s)",
        "single_row_ms": "1 row (ms)",
        "batch_ms": "1,000 rows (ms)",
    }
    shown = [
        (text, float(value))
        for key, text in labels.items()
        if (value := card.cost.get(key)) is not None
    ]
    fig = go_.Figure(
        go_.Bar(
            x=[t for t, _ in shown],
            y=[v for _, v in shown],
            text=[f"{v:.3g}" for _, v in shown],
            marker_color="#ff7f0e",
        )
    )
    per_second = card.cost.get("predictions_per_second")
    subtitle = f" ({float(per_second):,.0f} predictions/s)" if per_second else ""
    fig.update_layout(
        title=f"cost{subtitle}", height=320, margin={"t": 50, "b": 40}, yaxis_type="log"
    )
    return fig


def _body(document: str) -> str:
    """The ``<body>`` of the card's HTML page, its style kept, for embedding."""
    style = re.search(r"<style>.*?</style>", document, re.S)
    body = re.search(r"<body>(.*)</body>", document, re.S)
    return (style.group(0) if style else "") + (body.group(1) if body else html.escape(document))


class CardViewer:
    """Pick a registered version of ``name``; its card, metrics and cost are drawn.

    Args:
        name: The registered model.
        alias: The version shown first.
        settings: Settings (default: the process-wide ones).
    """

    def __init__(self, name: str, *, alias: str = "champion", settings: Settings | None = None):
        from workbench._settings import get_settings
        from workbench._tracking import mlflow_for
        from workbench.packaging._register import card_of

        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self.settings = settings or get_settings()
        client = mlflow_for(self.settings).MlflowClient()
        found = client.search_model_versions(f"name = '{name}'")
        if not found:
            from workbench._exceptions import ModelError

            raise ModelError(f"No registered model {name!r} at {self.settings.tracking_uri}.")
        versions = sorted(found, key=lambda v: -int(v.version))
        options = [
            (f"v{v.version}" + (f" @{', @'.join(v.aliases)}" if v.aliases else ""), str(v.version))
            for v in versions
        ]
        first = next((str(v.version) for v in versions if alias in v.aliases), options[0][1])
        self.name, self._card_of = name, card_of
        self.picker = widgets.Dropdown(options=options, value=first, description="version")
        self.figures = widgets.Output(layout=widgets.Layout(width="100%"))
        self.costs = widgets.Output(layout=widgets.Layout(width="100%"))
        self.card_html = widgets.HTML()
        self.picker.observe(lambda change: self._draw(change["new"]), names="value")
        self._draw(first)
        self.widget = widgets.VBox([self.picker, self.figures, self.costs, self.card_html])

    def _draw(self, version: str) -> None:
        self.card = self._card_of(self.name, version, settings=self.settings)
        self.metrics_figure = metrics_figure(self.card)
        figure_output(self.figures, self.metrics_figure)
        figure_output(self.costs, cost_figure(self.card))
        self.card_html.value = _body(self.card.to_html())

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
