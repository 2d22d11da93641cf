"""The quality report widget: where a validation failed, drawn and browsable (masked)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench._display import figure_output, widget_bundle
from workbench._imports import require
from workbench.data._figures import quality_figure
from workbench.presentation import empty_state, fmt_count, table_html, traffic_light

if TYPE_CHECKING:
    from workbench.data._validate import ValidationResult

__all__ = ["QualityReport"]


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
        light = traffic_light("ok" if result.ok else "alert", "passed" if result.ok else "failed")
        notes = "".join(f"<li>{html.escape(m)}</li>" for m in (*result.errors, *result.warnings))
        self.header = widgets.HTML(
            f"<div style='margin:4px 0'>{light} <b>{html.escape(result.source)}</b>: "
            f"{fmt_count(len(result.valid), compact=False)} valid, "
            f"{fmt_count(len(result.quarantine), compact=False)} quarantined of "
            f"{fmt_count(result.n_input, 'row', compact=False)}</div>"
            + (f"<ul style='margin:4px 0;padding-left:20px'>{notes}</ul>" if notes else "")
        )
        self.table = widgets.HTML(
            table_html(summary, caption="Rows failing, by column and check", max_height=None)
            if len(summary)
            else empty_state("Every row meets the contract.")
        )
        # an Output box at width 100% with the widgets' 2 px margin would stick out by 4 px
        self.plot = widgets.Output(layout=widgets.Layout(width="100%", margin="0"))
        if len(summary):
            figure_output(self.plot, quality_figure(result))
        self.picker = widgets.Dropdown(
            options=choices,
            value=choices[0] if choices else None,
            description="check",
            layout=widgets.Layout(width="min(100%, 480px)"),
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
        self.rows.value = table_html(
            shown, caption=f"Rows failing {check} on {column} (first {self.examples})"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return widget_bundle(self.widget, **kwargs)
