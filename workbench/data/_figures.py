"""Data's figures (pure: record → figure or table): where a validation failed, and what
a data contract asks of each column."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench._imports import require
from workbench.data._contract import Contract, show_bound
from workbench.data._validate import ValidationResult
from workbench.presentation import Html, apply_theme, table_html

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["contract_table", "quality_figure"]


def quality_figure(result: ValidationResult) -> go.Figure:
    """Failed rows per column (bars), stacked by the check that failed."""
    go_: Any = require("plotly.graph_objects", feature="quality figures")
    summary = result.summary()
    fig = go_.Figure()
    for check, group in summary.groupby("check", sort=False):
        fig.add_bar(x=group["column"].tolist(), y=group["rows"].tolist(), name=str(check))
    apply_theme(fig, height=380)
    fig.update_layout(
        barmode="stack",
        title=f"{len(result.quarantine):,} of {result.n_input:,} rows quarantined",
        xaxis_title="column",
        yaxis_title="rows failing",
        margin={"l": 56, "r": 16, "t": 76, "b": 44},
    )
    return fig


def _allowed(column: Any) -> str:
    """What a column's values may be, in a reader's words."""
    if column.categories:
        text = ", ".join(column.categories)
        if column.aliases:
            text += " (also " + ", ".join(f"{k} → {v}" for k, v in column.aliases.items()) + ")"
        return text
    low, high = column.min, column.max
    if low is not None and high is not None:
        return f"{show_bound(low)} to {show_bound(high)}"
    if low is not None:
        return f"≥ {show_bound(low)}"
    if high is not None:
        return f"≤ {show_bound(high)}"
    return "any"


def contract_table(contract: Contract, *, caption: str | None = None) -> Html:
    """A data contract as a table: per column its type, whether it may be missing, the
    values allowed, and whether it is unique, part of the key or personal; the key and the
    cross-column rules below it.

    Example:
        >>> from workbench.data import ColumnContract, Contract
        >>> html = contract_table(Contract((ColumnContract("age", "int", min=0),)))
        >>> "≥ 0" in html
        True
    """
    rows = [
        {
            "column": c.name,
            "type": c.dtype,
            "missing": "allowed" if c.nullable else "not allowed",
            "allowed values": _allowed(c),
            "notes": ", ".join(
                note
                for note, on in (
                    ("key", c.name in contract.key),
                    ("unique", c.unique),
                    ("personal (masked)", c.pii),
                    ("bounds inferred", c.bounds == "inferred"),
                )
                if on
            ),
            "description": c.description,
        }
        for c in contract.columns
    ]
    extra = []
    if contract.key:
        extra.append(f"Each row is identified by ({', '.join(contract.key)}).")
    extra += [f"Rule {r.name}: {r.expr}" for r in contract.rules]
    if contract.min_rows is not None or contract.max_rows is not None:
        extra.append(
            f"Rows: {contract.min_rows if contract.min_rows is not None else 0} to "
            f"{contract.max_rows if contract.max_rows is not None else 'any number'}."
        )
    if contract.strict:
        extra.append("Columns the contract does not name are errors.")
    notes = "".join(f"<li>{html.escape(text)}</li>" for text in extra)
    table = table_html(
        rows,
        caption=(
            caption
            if caption is not None
            else f"Data contract{f' {contract.name!r}' if contract.name else ''}"
        )
        or None,
        max_height=None,
        empty="The contract names no column.",
    )
    return Html(
        str(table)
        + (
            f"<ul style='margin:4px 0 0;padding-left:20px;font-size:13px'>{notes}</ul>"
            if notes
            else ""
        )
    )
