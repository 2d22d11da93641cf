"""The drift explorer widget: controls wired to the figures, no computation of its own."""

from __future__ import annotations

from typing import Any

from workbench._display import figure_output
from workbench._imports import require
from workbench.monitoring._drift import DriftSnapshot
from workbench.monitoring._figures import distribution_figure, drift_table_figure

__all__ = ["DriftExplorer"]


def _kpis(snapshot: DriftSnapshot) -> str:
    meta = snapshot.metadata
    model = meta.get("model_name", "-")
    version = meta.get("model_version", "-")
    drifted = len(snapshot.drifted_columns)
    color = "#d62728" if snapshot.dataset_drift else ("#ff7f0e" if drifted else "#2ca02c")
    cells = [
        ("model", f"{model} v{version}"),
        ("rows scored", f"{snapshot.current_rows:,}"),
        ("reference rows", f"{snapshot.reference_rows:,}"),
        (
            "drifted features",
            f"<span style='color:{color}'>{drifted} / {len(snapshot.columns)}</span>",
        ),
        ("computed", snapshot.created_at),
    ]
    boxes = "".join(
        f"<div style='padding:8px 16px;border:1px solid #ddd;border-radius:6px'>"
        f"<div style='font-size:11px;color:#666'>{label}</div>"
        f"<div style='font-size:18px'>{value}</div></div>"
        for label, value in cells
    )
    return f"<div style='display:flex;gap:12px;flex-wrap:wrap'>{boxes}</div>"


class DriftExplorer:
    """KPIs, the drift table and a feature picker that redraws the distribution plot.

    Works in JupyterLab and under Voilà. Display it with ``display(explorer.widget)``.

    Args:
        snapshot: A computed or loaded :class:`DriftSnapshot`.
        column: Column shown first (default: the first drifted one, else the first).

    Attributes:
        figure: The distribution figure on show now.
    """

    def __init__(self, snapshot: DriftSnapshot, column: str | None = None):
        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self.snapshot = snapshot
        names = [c.column for c in snapshot.columns]
        first = column or (snapshot.drifted_columns or names)[0]
        self.table = widgets.Output(layout=widgets.Layout(width="100%"))
        figure_output(self.table, drift_table_figure(snapshot))
        self.picker = widgets.Dropdown(options=names, value=first, description="feature")
        self.distribution = widgets.Output(layout=widgets.Layout(width="100%"))
        self.figure = distribution_figure(snapshot, first)
        figure_output(self.distribution, self.figure)
        self.picker.observe(self._redraw, names="value")
        self.widget = widgets.VBox(
            [widgets.HTML(_kpis(snapshot)), self.table, self.picker, self.distribution]
        )

    def _redraw(self, change: dict[str, Any]) -> None:
        self.figure = distribution_figure(self.snapshot, change["new"])
        figure_output(self.distribution, self.figure)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
