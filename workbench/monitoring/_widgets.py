"""The monitoring widgets: controls wired to the figures, no computation of their own.

:class:`DriftExplorer` shows one drift snapshot; :class:`MonitoringDashboard` a served
model's log (:func:`open_dashboard`) for a date range that adds up the log's periods
again (:mod:`workbench.monitoring._collect`), no log read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._display import figure_output
from workbench._imports import require
from workbench.monitoring._alerts import performance_alerts
from workbench.monitoring._collect import LogOverview, dashboard_inputs
from workbench.monitoring._drift import DriftSnapshot
from workbench.monitoring._figures import (
    distribution_figure,
    drift_table_figure,
    kpi_cards,
    metric_figure,
)
from workbench.monitoring._periods import renamed_window

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings

__all__ = ["DriftExplorer", "MonitoringDashboard", "open_dashboard"]


def _kpis(snapshot: DriftSnapshot) -> str:
    meta = snapshot.metadata
    model = meta.get("model_name", "-")
    version = meta.get("model_version", "-")
    drifted = len(snapshot.drifted_columns)
    color = "#d62728" if snapshot.dataset_drift else ("#ff7f0e" if drifted else "#2ca02c")
    return kpi_cards(
        [
            ("model", f"{model} v{version}", None),
            ("rows scored", f"{snapshot.current_rows:,}", None),
            ("reference rows", f"{snapshot.reference_rows:,}", None),
            (
                "drifted features",
                f"<span style='color:{color}'>{drifted} / {len(snapshot.columns)}</span>",
                None,
            ),
            ("computed", snapshot.created_at, None),
        ]
    )


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


class MonitoringDashboard:
    """KPIs, drift, performance, errors and alerts of a served model, for a date range.

    Everything is computed once from the log's summaries (:func:`collect`); moving the
    date range adds up periods again, no log is read. Display with
    ``display(dashboard.widget)`` (JupyterLab or Voilà).

    Args:
        overview: From :func:`collect`.
        performance: Realized metrics per period (``performance_over_time``), if actuals.
        estimated: Estimated metrics per period (``CBPE.estimate_over_time``), if any.
        errors: Errors per period (``errors_over_time``).
        thresholds: ``{"mae": ("max", 4.0)}``: drawn, and alerted on.
        metric: The performance metric drawn first.
    """

    def __init__(
        self,
        overview: LogOverview,
        *,
        performance: pd.DataFrame | None = None,
        estimated: pd.DataFrame | None = None,
        errors: pd.DataFrame | None = None,
        thresholds: dict[str, tuple[str, float]] | None = None,
        metric: str | None = None,
    ):
        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self._widgets, self._show = widgets, figure_output
        self.overview = overview
        self.performance = performance
        self.estimated = estimated
        self.errors = errors
        self.thresholds, self.alerts = performance_alerts(performance, estimated, thresholds)
        starts = overview.starts
        daily = all(getattr(s, "hour", 0) == 0 and getattr(s, "minute", 0) == 0 for s in starts)
        labels = [str(s)[:10] if daily else str(s)[:16] for s in starts]
        self.range = widgets.SelectionRangeSlider(
            options=list(zip(labels, starts, strict=True)),
            index=(0, len(starts) - 1),
            description="dates",
            layout=widgets.Layout(width="90%"),
            style={"description_width": "initial"},
            continuous_update=False,
        )
        self.kpis = widgets.HTML()
        self.table = widgets.Output(layout=widgets.Layout(width="100%"))
        self.picker = widgets.Dropdown(description="feature")
        self.distribution = widgets.Output(layout=widgets.Layout(width="100%"))
        self.snapshot = overview.drift()
        names = [c.column for c in self.snapshot.columns]
        self.picker.options = names
        self.picker.value = (self.snapshot.drifted_columns or names)[0]
        self.figure = distribution_figure(self.snapshot, self.picker.value)
        tabs = [
            widgets.VBox([self.table, self.picker, self.distribution]),
        ]
        titles = ["Drift"]
        self.metric_output = widgets.Output(layout=widgets.Layout(width="100%"))
        metrics = _metrics(performance) + [
            m for m in _metrics(estimated) if m not in _metrics(performance)
        ]
        if metrics:
            first = metric if metric in metrics else metrics[0]
            self.metric_picker = widgets.Dropdown(
                options=metrics, value=first, description="metric"
            )
            self.metric_picker.observe(lambda _: self._draw_metric(), names="value")
            self._draw_metric()
            tabs.append(widgets.VBox([self.metric_picker, self.metric_output]))
            titles.append("Performance" if performance is not None else "Performance (estimated)")
        self.errors_output = widgets.Output(layout=widgets.Layout(width="100%"))
        if errors is not None and len(errors):
            self._show(
                self.errors_output,
                metric_figure(errors, "errors", title="refused or failed requests"),
            )
            tabs.append(self.errors_output)
            titles.append("Errors")
        self.integrity = widgets.HTML()
        tabs.append(self.integrity)
        titles.append("Integrity")
        alert_rows = "".join(f"<li>{a.reason}</li>" for a in self.alerts) or "<li>none</li>"
        tabs.append(widgets.HTML(f"<ul>{alert_rows}</ul>"))
        titles.append(f"Alerts ({len(self.alerts)})")
        self.tabs = widgets.Tab(children=tabs)
        for i, title in enumerate(titles):
            self.tabs.set_title(i, title)
        self.picker.observe(self._redraw_distribution, names="value")
        self.range.observe(self._redraw_range, names="value")
        self._draw()
        self.widget = widgets.VBox([self.kpis, self.range, self.tabs])

    def _draw_metric(self) -> None:
        name = self.metric_picker.value
        threshold = self.thresholds.get(name)
        estimated = self.estimated if name in _metrics(self.estimated) else None
        if name in _metrics(self.performance):
            self.metric_figure = metric_figure(
                self.performance, name, threshold=threshold, estimated=estimated
            )
        else:  # no labels yet: the estimate alone, its periods past the bound in red
            self.metric_figure = metric_figure(
                estimated, name, threshold=threshold, title=f"{name} (estimated, no labels yet)"
            )
        self._show(self.metric_output, self.metric_figure)

    def _draw(self) -> None:
        first, last = self.range.value
        self.snapshot = self.overview.drift(first, last)
        kpis = self.overview.kpis(first, last)
        drifted = len(self.snapshot.drifted_columns)
        color = "#d62728" if self.snapshot.dataset_drift else ("#ff7f0e" if drifted else "#2ca02c")
        errors = 0
        if self.errors is not None and len(self.errors):
            inside = (self.errors["window"] >= first) & (self.errors["window"] <= last)
            errors = int(self.errors.loc[inside, "errors"].sum())
        meta = self.snapshot.metadata
        self.kpis.value = kpi_cards(
            [
                (
                    "model",
                    f"{meta.get('model_name', '-')} v{meta.get('model_version', '-')}",
                    "#222",
                ),
                ("requests", f"{kpis['requests']:,}", "#222"),
                ("rows scored", f"{kpis['rows']:,}", "#222"),
                ("errors", f"{errors:,}", "#d62728" if errors else "#2ca02c"),
                (
                    "latency p50 / p95",
                    f"{kpis['latency_p50_ms']:.3g} / {kpis['latency_p95_ms']:.3g} ms",
                    "#222",
                ),
                ("drifted features", f"{drifted} / {len(self.snapshot.columns)}", color),
                ("alerts", f"{len(self.alerts)}", "#d62728" if self.alerts else "#2ca02c"),
            ]
        )
        broken = self.overview.integrity(first, last)
        self.integrity.value = (
            "<p>No logged row breaks the data contract in these dates.</p>"
            if broken.empty
            else "<p>Rows the model received that break the data contract:</p>"
            + broken.to_html(index=False, float_format=lambda v: f"{v:.2%}")
        )
        self._show(self.table, drift_table_figure(self.snapshot))
        self._redraw_distribution({"new": self.picker.value})

    def _redraw_range(self, change: dict[str, Any]) -> None:
        self._draw()

    def _redraw_distribution(self, change: dict[str, Any]) -> None:
        self.figure = distribution_figure(self.snapshot, change["new"])
        self._show(self.distribution, self.figure)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _metrics(frame: pd.DataFrame | None) -> list[str]:
    """The metric columns of a per-period frame that have a value somewhere."""
    if frame is None or not len(frame):
        return []
    return [
        c
        for c in frame.columns
        if c not in ("window", "rows", "labelled") and frame[c].notna().any()
    ]


def open_dashboard(
    model_name: str,
    *,
    alias: str = "champion",
    log_dir: str | Path | None = None,
    period: str = "1D",
    thresholds: dict[str, tuple[str, float]] | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    window: str | None = None,
) -> MonitoringDashboard:
    """The dashboard of ``model_name@alias`` over its inference log, per ``period``: drift
    from the reference profile stored with the version, realized performance where
    actuals were recorded (``log_actuals``), for a classifier the performance estimated
    from the logged class probabilities before labels (:func:`estimate_from_log`), errors
    from the server's error log (all computed by ``dashboard_inputs``). ``window=`` is
    deprecated: the old name of ``period``."""
    period = renamed_window(period, window, default="1D", caller="open_dashboard")
    inputs = dashboard_inputs(
        model_name,
        alias=alias,
        log_dir=log_dir,
        period=period,
        settings=settings,
        progress=progress,
    )
    return MonitoringDashboard(
        inputs.overview,
        performance=inputs.performance,
        estimated=inputs.estimated,
        errors=inputs.errors,
        thresholds=thresholds,
    )
