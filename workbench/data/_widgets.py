"""The quality report widget: where a validation failed, drawn and browsable (masked)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench._display import figure_output
from workbench._imports import require
from workbench.data._figures import quality_figure

if TYPE_CHECKING:
    from workbench.data._validate import ValidationResult

__all__ = ["QualityReport"]


def _table(frame: Any) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    style = "border-collapse:collapse;font-size:12px"
    return f"<table style='{style}'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


class QualityReport:
    """Summary of failing checks by column and rule, drill-down to example rows, a plot.

    Personal columns of the contract are masked in everything it shows.

    Args:
        result: A :class:`ValidationResult`.
        examples: Rows shown for the chosen check.
    """

    def __init__(self, result: ValidationResult, examples: int = 10):
        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self.result = result
        self.examples = examples
        summary = result.summary()
        self.summary = summary
        choices = [f"{c}: {k}" for c, k in zip(summary["column"], summary["check"], strict=True)]
        status = "passed" if result.ok else "failed"
        notes = "".join(f"<li>{html.escape(m)}</li>" for m in (*result.errors, *result.warnings))
        self.header = widgets.HTML(
            f"<b>{html.escape(result.source)}</b>: {status} — {len(result.valid):,} valid, "
            f"{len(result.quarantine):,} quarantined of {result.n_input:,} rows"
            + (f"<ul>{notes}</ul>" if notes else "")
        )
        self.table = widgets.HTML(_table(summary) if len(summary) else "<i>no failing checks</i>")
        self.plot = widgets.Output(layout=widgets.Layout(width="100%"))
        figure_output(self.plot, quality_figure(result))
        self.picker = widgets.Dropdown(
            options=choices, value=choices[0] if choices else None, description="check"
        )
        self.rows = widgets.HTML()
        self.picker.observe(self._show_rows, names="value")
        self._show_rows({"new": self.picker.value})
        self.widget = widgets.VBox([self.header, self.table, self.plot, self.picker, self.rows])

    def _show_rows(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            self.rows.value = ""
            return
        column, _, check = str(change["new"]).partition(": ")
        failures = self.result.failures
        picked = failures[(failures["column"] == column) & (failures["check"] == check)]
        rows = picked["row"].drop_duplicates().head(self.examples)
        # validate() already masked personal columns in the quarantine: show it as is, so
        # the pseudonyms here match those in the failure table
        shown = self.result.quarantine.set_index("_row").loc[rows].reset_index()
        self.rows.value = _table(shown)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
