"""The monitoring widgets: controls wired to the figures, no computation of their own.

:class:`DriftExplorer` shows one drift snapshot; :class:`MonitoringDashboard` a served
model's log (:func:`open_dashboard`) for a date range that adds up the log's periods
again (:mod:`workbench.monitoring._collect`), no log read.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._display import figure_output, widget_bundle
from workbench._imports import require
from workbench.monitoring._alerts import (
    Alert,
    Bound,
    Threshold,
    as_threshold,
    performance_alerts,
)
from workbench.monitoring._collect import LogOverview, dashboard_inputs
from workbench.monitoring._compare import PromoteButton, comparison_html
from workbench.monitoring._drift import DriftSnapshot
from workbench.monitoring._figures import (
    distribution_figure,
    drift_over_time_figure,
    drift_table_html,
    kpi_cards,
    metric_figure,
    versions_note,
)
from workbench.monitoring._periods import renamed_window
from workbench.presentation import metric_label

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings
    from workbench.packaging import Promotion

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
        self.table = widgets.HTML(
            drift_table_html(snapshot), layout=widgets.Layout(width="100%", margin="0")
        )
        self.picker = widgets.Dropdown(options=names, value=first, description="feature")
        self.distribution = widgets.Output(layout=widgets.Layout(width="100%", margin="0"))
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
        return widget_bundle(self.widget, **kwargs)


class MonitoringDashboard:
    """KPIs, drift, performance, errors and alerts of a served model, for a date range.

    Everything is computed once from the log's summaries (:func:`collect`); moving the
    date range adds up periods again, no log is read. The periods follow the data's
    event time where the model's data has one (else the requests' arrival time); the
    line under the KPIs says which, and the dates chosen. Display with
    ``display(dashboard)`` (JupyterLab or Voilà; an HTML report keeps a static copy).

    Args:
        overview: From :func:`collect`.
        performance: Realized metrics per period (``performance_over_time``), if actuals.
        estimated: Estimated metrics per period (``CBPE.estimate_over_time``), if any.
        errors: Errors per period of arrival (``errors_over_time``).
        thresholds: ``{"mae": ("max", 4.0)}``: drawn, and alerted on; on top of
            ``defaults`` (a metric given here replaces its default).
        defaults: Bounds derived from the version's validation metrics
            (:func:`~workbench.monitoring._alerts.thresholds_from_metrics`).
        metric: The performance metric drawn first.
        comparison: Champion and shadow challenger on the same requests
            (:func:`~workbench.monitoring.compare_shadow`): a "Challenger" tab, if given.
        promote: With ``comparison``: a Promote button on that tab, which calls this with
            the signed-in user's name (:func:`~workbench.monitoring.promote_shadowed`,
            bound to the model and its log). It is enabled only for a person the
            dashboard's login names (:func:`workbench._visitors.current_visitor`), and
            asks before it moves ``@champion``.
    """

    def __init__(
        self,
        overview: LogOverview,
        *,
        performance: pd.DataFrame | None = None,
        estimated: pd.DataFrame | None = None,
        errors: pd.DataFrame | None = None,
        thresholds: Mapping[str, Bound] | None = None,
        defaults: dict[str, Threshold] | None = None,
        metric: str | None = None,
        comparison: pd.DataFrame | None = None,
        promote: Callable[[str], Promotion] | None = None,
    ):
        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self._widgets, self._show = widgets, figure_output
        self.overview = overview
        self.performance = performance
        self.estimated = estimated
        self.errors = errors
        chosen = {**(defaults or {}), **(thresholds or {})}
        self.thresholds, self.alerts = performance_alerts(performance, estimated, chosen)
        starts = overview.starts
        labels = _period_labels(starts)
        self.range = widgets.SelectionRangeSlider(
            options=list(zip(labels, starts, strict=True)),
            index=(0, len(starts) - 1),
            description="dates",
            readout=False,  # a readout is cut at the slider's end: the line above says it
            layout=widgets.Layout(width="100%", max_width="100%"),
            style={"description_width": "initial"},
            continuous_update=False,
        )
        self.kpis = widgets.HTML()
        self.when = widgets.HTML()
        self.table = widgets.HTML(layout=widgets.Layout(width="100%", margin="0"))
        self.over_time = widgets.Output(layout=widgets.Layout(width="100%", margin="0"))
        self.over_time_note = widgets.HTML()
        self.picker = widgets.Dropdown(description="feature")
        self.distribution = widgets.Output(layout=widgets.Layout(width="100%", margin="0"))
        self.snapshot = overview.drift()
        names = [c.column for c in self.snapshot.columns]
        self.picker.options = names
        self.picker.value = (self.snapshot.drifted_columns or names)[0]
        self.figure = distribution_figure(self.snapshot, self.picker.value)
        # what each period is compared with: the same calendar days of the reference
        # (where its profile has them) or the whole of it
        self.compare = widgets.ToggleButtons(
            options=[
                ("same days of the reference year", "seasonal"),
                ("whole reference", "whole"),
            ],
            value="seasonal" if overview.seasonal else "whole",
            description="compare each period with",
            tooltips=[
                "each period against the reference rows of the same calendar days",
                "each period against all the reference rows",
            ],
            style={"description_width": "initial", "button_width": "auto"},
            layout=widgets.Layout(
                max_width="100%",
                display=None if any(p.calendar for p in overview.references) else "none",
            ),
        )
        overview.compare_with = self.compare.value
        self.compare.observe(self._redraw_range, names="value")
        tabs = [
            widgets.VBox(
                [
                    self.compare,
                    self.over_time,
                    self.over_time_note,
                    self.table,
                    self.picker,
                    self.distribution,
                ]
            ),
        ]
        titles = ["Drift"]
        self.metric_output = widgets.Output(layout=widgets.Layout(width="100%", margin="0"))
        metrics = _metrics(performance) + [
            m for m in _metrics(estimated) if m not in _metrics(performance)
        ]
        if metrics:
            first = metric if metric in metrics else metrics[0]
            self.metric_picker = widgets.Dropdown(
                options=[(metric_label(m), m) for m in metrics], value=first, description="metric"
            )
            self.metric_picker.observe(lambda _: self._draw_metric(), names="value")
            tabs.append(widgets.VBox([self.metric_picker, self.metric_output]))
            titles.append("Performance" if performance is not None else "Performance (estimated)")
        self.errors_output = widgets.Output(layout=widgets.Layout(width="100%", margin="0"))
        if errors is not None and len(errors):
            self._show(
                self.errors_output,
                metric_figure(
                    errors,
                    "errors",
                    title="Refused or failed requests, by the day they arrived",
                ),
            )
            tabs.append(self.errors_output)
            titles.append("Errors")
        self.promotion: PromoteButton | None = None
        if comparison is not None:
            self.comparison = widgets.HTML(comparison_html(comparison))
            challenger_tab = [self.comparison]
            if promote is not None:
                model = str(overview.drift().metadata.get("model_name", "the model"))
                self.promotion = PromoteButton(model, comparison, promote)
                challenger_tab.append(self.promotion.widget)
            tabs.append(widgets.VBox(challenger_tab, layout=widgets.Layout(width="100%")))
            titles.append("Challenger")
        self.integrity = widgets.HTML()
        tabs.append(self.integrity)
        titles.append("Integrity")
        self.alerts_view = widgets.HTML()
        tabs.append(self.alerts_view)
        titles.append(f"Alerts ({len(self.alerts)})")
        self._alerts_tab = len(tabs) - 1
        self.tabs = widgets.Tab(children=tabs)
        for i, title in enumerate(titles):
            self.tabs.set_title(i, title)
        self.picker.observe(self._redraw_distribution, names="value")
        self.range.observe(self._redraw_range, names="value")
        self._draw()
        self.widget = widgets.VBox(
            [self.kpis, self.when, self.range, self.tabs],
            layout=widgets.Layout(width="100%", max_width="100%"),
        )

    def _draw_metric(self) -> None:
        name = self.metric_picker.value
        threshold = self.thresholds.get(name)
        first, last = self.range.value
        estimated = self.estimated if name in _metrics(self.estimated) else None
        if name in _metrics(self.performance):
            self.metric_figure = metric_figure(
                _inside(self.performance, first, last),
                name,
                threshold=threshold,
                estimated=_inside(estimated, first, last),
                title=f"{metric_label(name)} per {_unit(self.overview.period)}",
            )
        else:  # no labels yet: the estimate alone, its periods past the bound in red
            self.metric_figure = metric_figure(
                _inside(estimated, first, last),
                name,
                threshold=threshold,
                title=(
                    f"{metric_label(name)} per {_unit(self.overview.period)}"
                    " (estimated, no labels yet)"
                ),
            )
        unit = _unit(self.overview.period)
        self.metric_figure.update_xaxes(title_text=f"{unit}s by {self.overview.basis.label}")
        self._show(self.metric_output, self.metric_figure)

    def _draw(self) -> None:
        from workbench.presentation import kpi_card, kpi_row

        self.overview.compare_with = self.compare.value
        first, last = self.range.value
        self.snapshot = self.overview.drift(first, last)
        stats = self.overview.between(first, last)
        kpis = self.overview.kpis(first, last)
        drifted = len(self.snapshot.drifted_columns)
        errors = 0
        if self.errors is not None and len(self.errors):
            # errors are counted by arrival: on event time, every one counts
            inside = (
                (self.errors["window"] >= first) & (self.errors["window"] <= last)
                if not self.overview.basis.is_event_time
                else self.errors["window"].notna()
            )
            errors = int(self.errors.loc[inside, "errors"].sum())
        chosen = self.range.index[1] - self.range.index[0] + 1
        unit = _unit(self.overview.period)
        in_range = [a for a in self.alerts if _within(a.window, first, last)]
        self.kpis.value = kpi_row(
            [
                kpi_card("model", self._served(first, last)),
                kpi_card("requests", kpis["requests"]),
                kpi_card("rows scored", kpis["rows"]),
                kpi_card(
                    "errors" if not self.overview.basis.is_event_time else "errors (all dates)",
                    errors,
                    status="alert" if errors else "ok",
                ),
                kpi_card(
                    "latency p50 / p95",
                    f"{kpis['latency_p50_ms']:.3g} / {kpis['latency_p95_ms']:.3g}",
                    unit="ms",
                ),
                kpi_card(
                    "drifted features",
                    f"{drifted} / {len(self.snapshot.columns)}",
                    status="alert" if self.snapshot.dataset_drift else "warn" if drifted else "ok",
                ),
                kpi_card(
                    "alerts",
                    len(in_range),
                    status="alert" if in_range else "ok",
                    note=f"in {len({a.window for a in in_range})} of {chosen} {unit}s"
                    if in_range
                    else None,
                ),
            ]
        )
        self.when.value = (
            "<div class='wb-when' style='font-size:13px;color:#1F2328;margin:4px 0;"
            "overflow-wrap:anywhere'><b>"
            + _dates(stats.first, stats.last, self.overview.starts)
            + f"</b> · {chosen} of {len(self.overview.starts)} {unit}{'s' * (chosen != 1)}"
            + f" · periods by <b>{self.overview.basis.label}</b>"
            + (
                ""
                if self.overview.basis.is_event_time
                else " (the data names no event time: requests are dated when they arrived)"
            )
            + "</div>"
        )
        self.alerts_view.value = _alerts_html(self.thresholds, in_range)
        if hasattr(self, "tabs"):
            self.tabs.set_title(self._alerts_tab, f"Alerts ({len(in_range)})")
        broken = self.overview.integrity(first, last)
        self.integrity.value = (
            "<p>No logged row breaks the data contract in these dates.</p>"
            if broken.empty
            else "<p>Rows the model received that break the data contract:</p>"
            + broken.to_html(index=False, float_format=lambda v: f"{v:.2%}")
        )
        self._draw_over_time()
        self.table.value = drift_table_html(self.snapshot)
        self._redraw_distribution({"new": self.picker.value})
        if hasattr(self, "metric_picker"):
            self._draw_metric()

    def _served(self, first: Any, last: Any) -> str:
        """The model and the versions that answered the range (each compared with its
        own reference), or the version the drift is about."""
        meta = self.snapshot.metadata
        versions = self.overview.versions_between(first, last) if self.overview.per_version else []
        said = " · ".join(f"v{v}" for v in versions) or f"v{meta.get('model_version', '-')}"
        return f"{meta.get('model_name', '-')} {said}"

    def _draw_over_time(self) -> None:
        first, last = self.range.value
        starts, snapshots = self.overview.drift_in_steps(first, last)
        unit = _unit(self.overview.period)
        count = self.range.index[1] - self.range.index[0] + 1
        if len(starts) < count:  # runs of periods added up (over 104 of them)
            unit = f"{math.ceil(count / 104)} {unit}s"
        self.over_time_figure = drift_over_time_figure(
            snapshots, starts, basis=self.overview.basis.label, unit=unit
        )
        self._show(self.over_time, self.over_time_figure)
        always = [
            c.column
            for c in (snapshots[0].columns if len(snapshots) > 1 else ())
            if all(s.column(c.column).drifted for s in snapshots)
        ]
        style = "font-size:12px;color:#59636E;margin:0 0 8px;overflow-wrap:anywhere"
        if self.overview.seasonal:
            note = (
                f"Each {unit} is compared with the reference rows of the same calendar days "
                f"(a few days around added where they are too few), so an input with a "
                f"season (the weather, holidays) turns red only when it changes; the table "
                f"below compares the chosen dates the same way."
            )
        elif always:
            note = (
                f"Each {unit} is compared with the whole reference. Red in every {unit}: "
                f"{', '.join(always)}: an input with a season (the weather, holidays) looks "
                f"drifted in any single {unit} against a year of reference data"
                + (
                    "; compare with the same days of the reference year instead"
                    if any(p.seasonal_ready for p in self.overview.references)
                    else ""
                )
                + ". The table below compares the whole range."
            )
        else:
            note = ""
        if self.overview.per_version:
            said = versions_note(snapshots, unit, seasonal=self.overview.seasonal)
            note += f"{' ' if note and said else ''}{said}"
        self.over_time_note.value = f"<div style='{style}'>{note}</div>" if note else ""

    def _redraw_range(self, change: dict[str, Any]) -> None:
        with self.widget.hold_sync():
            self._draw()

    def _redraw_distribution(self, change: dict[str, Any]) -> None:
        self.figure = distribution_figure(self.snapshot, change["new"])
        self._show(self.distribution, self.figure)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return widget_bundle(self.widget, **kwargs)


def _period_labels(starts: list[Any]) -> list[str]:
    """The slider's option labels: dates, with the time of day only where it varies."""
    daily = all(getattr(s, "hour", 0) == 0 and getattr(s, "minute", 0) == 0 for s in starts)
    return [str(s)[:10] if daily else str(s)[:16] for s in starts]


def _dates(first: Any, last: Any, starts: list[Any]) -> str:
    """The data's first to last time in the range: days where the periods are days or
    longer, else to the minute."""
    from workbench.presentation import fmt_date_range

    if first is None or last is None:
        return fmt_date_range(starts[0], starts[-1])
    daily = all(getattr(s, "hour", 0) == 0 and getattr(s, "minute", 0) == 0 for s in starts)
    if daily and hasattr(first, "date"):
        return fmt_date_range(first.date(), last.date())
    return (
        fmt_date_range(first.floor("min"), last.floor("min"))
        if hasattr(first, "floor")
        else (fmt_date_range(first, last))
    )


def _unit(period: str) -> str:
    """``week`` for ``1W``, ``day`` for ``1D``, ``hour`` for ``1h``; else ``period``."""
    words = {"1W": "week", "W": "week", "1D": "day", "D": "day", "1h": "hour", "h": "hour",
             "1H": "hour", "1MS": "month", "1ME": "month", "1M": "month"}  # fmt: skip
    return words.get(str(period), "period")


def _within(window: Any, first: Any, last: Any) -> bool:
    try:
        return bool(first <= window <= last)
    except TypeError:
        return True


def _inside(frame: pd.DataFrame | None, first: Any, last: Any) -> pd.DataFrame | None:
    """The rows of a per-period frame from ``first`` to ``last``."""
    if frame is None or not len(frame):
        return frame
    try:
        chosen = frame[(frame["window"] >= first) & (frame["window"] <= last)]
    except TypeError:  # periods of rows, not of time
        return frame
    return chosen if len(chosen) else frame


#: Alerts listed by reason on the Alerts tab, the earliest first.
_LISTED = 20


def _alerts_html(thresholds: dict[str, Threshold], alerts: list[Alert]) -> str:
    """The bounds in force (and where each came from), then each alert's reason."""
    bounds = (
        "".join(
            f"<li><b>{html.escape(name)}</b> {html.escape(t.describe(name))}</li>"
            for name, t in sorted(thresholds.items())
        )
        or "<li>none: pass thresholds, or package the model with validation metrics</li>"
    )
    ordered = sorted(alerts, key=lambda a: (str(a.window), a.metric))
    rows = "".join(f"<li>{html.escape(a.reason)}</li>" for a in ordered[:_LISTED]) or (
        "<li>none</li>"
    )
    if len(ordered) > _LISTED:  # the first ones say when it began; the rest is the same
        rows += f"<li>… and {len(ordered) - _LISTED:,} more (narrow the dates to see them)</li>"
    return (
        "<div style='font-size:13px;overflow-wrap:anywhere'>"
        f"<p><b>Thresholds</b></p><ul>{bounds}</ul>"
        f"<p><b>Alerts</b> ({len(alerts)})</p><ul>{rows}</ul></div>"
    )


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
    thresholds: Mapping[str, Bound] | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    window: str | None = None,
    time: str = "auto",
    compare_with: str = "auto",
) -> MonitoringDashboard:
    """The dashboard of ``model_name@alias`` over its inference log, per ``period``: drift
    from the reference profile stored with the version, realized performance where
    actuals were recorded (``log_actuals``), for a classifier the performance estimated
    from the logged class probabilities before labels (:func:`estimate_from_log`), errors
    from the server's error log (all computed by ``dashboard_inputs``). Periods follow
    the data's event time where the model's data contract names one and the log has it
    (``time``: ``"auto"``, ``"event"`` or ``"arrival"``). Alert bounds default to the
    version's validation metrics (1.5× an error, 0.9× a score); ``thresholds`` replace
    them metric by metric. Each period's drift is against the same calendar days of the
    reference where its profile spans a year of the same event time (``compare_with``:
    ``"auto"``, ``"seasonal"``, ``"whole"``; a control on the page switches it).
    ``window=`` is deprecated: the old name of ``period``."""
    from workbench._settings import get_settings

    period = renamed_window(period, window, default="1D", caller="open_dashboard")
    s = settings or get_settings()
    inputs = dashboard_inputs(
        model_name,
        alias=alias,
        log_dir=log_dir,
        period=period,
        settings=settings,
        progress=progress,
        time=time,
    )
    inputs.overview.compare_with = compare_with
    return MonitoringDashboard(
        inputs.overview,
        performance=inputs.performance,
        estimated=inputs.estimated,
        errors=inputs.errors,
        thresholds={k: as_threshold(v) for k, v in (thresholds or {}).items()},
        defaults=inputs.thresholds,
        comparison=inputs.comparison,
        promote=functools.partial(
            _promote_shadowed,
            model_name,
            str(log_dir) if log_dir is not None else str(s.inference_log_dir),
            settings=s,
        )
        if inputs.comparison is not None
        else None,
    )


def _promote_shadowed(
    model_name: str, log_dir: str, user: str, *, settings: Settings | None
) -> Promotion:
    from workbench.monitoring._shadow import promote_shadowed

    return promote_shadowed(model_name, log_dir, promoted_by=user, settings=settings)
