"""Figures drawn from a :class:`ModelCard` (pure: card in, plotly figure out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench._imports import require

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.packaging._card import ModelCard

__all__ = ["cost_figure", "metrics_figure"]


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
