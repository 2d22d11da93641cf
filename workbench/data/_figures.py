"""The quality figure: where a validation failed, per column and check (pure: record → figure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench._imports import require
from workbench.data._validate import ValidationResult

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["quality_figure"]


def quality_figure(result: ValidationResult) -> go.Figure:
    """Failed rows per column (bars), stacked by the check that failed."""
    go_: Any = require("plotly.graph_objects", feature="quality figures")
    summary = result.summary()
    fig = go_.Figure()
    for check, group in summary.groupby("check", sort=False):
        fig.add_bar(x=group["column"].tolist(), y=group["rows"].tolist(), name=str(check))
    fig.update_layout(
        barmode="stack",
        title=(
            f"{len(result.quarantine):,} of {result.n_input:,} rows quarantined ({result.source})"
        ),
        xaxis_title="column",
        yaxis_title="rows failing",
        legend_title="check",
        height=380,
        margin={"l": 50, "r": 10, "t": 50, "b": 40},
    )
    return fig
