"""The Explorer widget: tabs of controls wired to the profile and the figures."""

from __future__ import annotations

from typing import Any

from workbench._display import figure_output, widget_bundle
from workbench._imports import require
from workbench.explore._figures import (
    column_figure,
    column_stats_html,
    correlation_figure,
    missing_figure,
    overview_html,
    pair_figure,
    time_figure,
    time_series,
)
from workbench.explore._profile import Profile, profile
from workbench.presentation import empty_state

__all__ = ["Explorer"]


class Explorer:
    """Overview, Column, Correlations, Missing values, Time and Quality tabs.

    Statistics come from :func:`profile` (computed once, or passed in); the widget holds
    none of its own. Works in JupyterLab and under Voilà.

    Args:
        data: A pandas or Dask DataFrame.
        target: Column to compare every other against.
        profile_result: A precomputed :class:`Profile` (else computed here).
        quality: A :class:`workbench.data.ValidationResult` for the Quality tab.
        contract: A data contract, for its personal columns.
    """

    def __init__(
        self,
        data: Any,
        target: str | None = None,
        *,
        profile_result: Profile | None = None,
        quality: Any = None,
        contract: Any = None,
    ):
        widgets: Any = require("ipywidgets", feature="notebook widgets")
        go_: Any = require("plotly.graph_objects", feature="exploration figures")
        self.data = data
        self.profile = profile_result or profile(data, target=target, contract=contract)
        p = self.profile
        self.target = target or p.target
        # widgets have a 2 px margin: a box at width 100% would stick out by 4 px
        width = widgets.Layout(width="100%", margin="0")

        overview = widgets.HTML(overview_html(p))

        # Column tab: the target first, else the first numeric column, else the first
        numeric = [c.name for c in p.columns if c.kind == "numeric"]
        first = self.target if self.target in p.names else next(iter(numeric or p.names), None)
        self.column = widgets.Dropdown(options=p.names, value=first, description="column")
        self.column_plot = widgets.Output(layout=width)
        self.column_stats = widgets.HTML()
        self.versus_target = widgets.Output(layout=width)
        self.column.observe(lambda change: self._show_column(change["new"]), names="value")
        self._show_column(self.column.value)
        column_tab = widgets.VBox(
            [self.column, self.column_plot, self.column_stats, self.versus_target]
        )

        # Correlations tab: a heatmap; clicking a cell (or picking x and y) shows the pair
        methods = [m for m, c in p.correlations.items() if c.columns]
        self.method = widgets.Dropdown(options=methods, description="method")
        self.heatmap = go_.FigureWidget(correlation_figure(p, methods[0]) if methods else None)
        self.pair_x = widgets.Dropdown(options=p.names, description="x")
        self.pair_y = widgets.Dropdown(options=p.names, description="y")
        self.pair_plot = widgets.Output(layout=width)
        self.method.observe(lambda change: self._show_method(change["new"]), names="value")
        if self.heatmap.data:
            self.heatmap.data[0].on_click(self._clicked)
        self.pair_x.observe(lambda _: self._show_pair(), names="value")
        self.pair_y.observe(lambda _: self._show_pair(), names="value")
        corr_tab = widgets.VBox(
            [self.method, self.heatmap, widgets.HBox([self.pair_x, self.pair_y]), self.pair_plot]
        )

        # Missing values
        self.missing_plot = widgets.Output(layout=width)
        figure_output(self.missing_plot, missing_figure(p))

        # Time
        times = [c.name for c in p.columns if c.kind == "datetime"]
        values = [c.name for c in p.columns if c.kind == "numeric"]
        self.time = widgets.Dropdown(options=times, description="time")
        self.value = widgets.Dropdown(
            options=values,
            value=self.target if self.target in values else next(iter(values), None),
            description="value",
        )
        self.freq = widgets.Dropdown(
            options=[("hour", "h"), ("day", "D"), ("week", "W"), ("month", "M")],
            value="W",  # a week: daily data of weekly rhythm reads as a trend, not spikes
            description="period",
        )
        self.time_plot = widgets.Output(layout=width)
        for control in (self.time, self.value, self.freq):
            control.observe(lambda _: self._show_time(), names="value")
        self._show_time()
        controls = widgets.HBox(
            [self.time, self.value, self.freq], layout=widgets.Layout(flex_flow="row wrap")
        )
        time_tab = widgets.VBox([controls, self.time_plot])

        # Quality
        if quality is not None:
            from workbench.data import QualityReport

            quality_tab = QualityReport(quality).widget
        else:
            quality_tab = widgets.HTML(
                empty_state(
                    "No data contract has checked these rows.",
                    "A contract says what each column must hold; rows that break it are set "
                    "aside with their reasons, and this tab shows where. Write one beside "
                    "the data (`infer_contract` proposes one from good rows).",
                )
            )

        self.tabs = widgets.Tab(
            children=[overview, column_tab, corr_tab, self.missing_plot, time_tab, quality_tab]
        )
        for i, title in enumerate(
            ["Overview", "Column", "Correlations", "Missing values", "Time", "Quality"]
        ):
            self.tabs.set_title(i, title)
        self.widget = self.tabs

    # the observers: read the controls, call pure functions, show the result
    def _show_column(self, name: str) -> None:
        figure_output(self.column_plot, column_figure(self.profile, name))
        self.column_stats.value = column_stats_html(self.profile, name)
        if self.target and name != self.target:
            figure_output(
                self.versus_target, pair_figure(self.data, name, self.target, self.profile)
            )
        else:
            self.versus_target.outputs = ()

    def _show_method(self, method: str) -> None:
        fresh = correlation_figure(self.profile, method)
        with self.heatmap.batch_update():
            self.heatmap.data[0].z = fresh.data[0].z
            self.heatmap.data[0].x = fresh.data[0].x
            self.heatmap.data[0].y = fresh.data[0].y
            self.heatmap.data[0].zmin = fresh.data[0].zmin
            self.heatmap.layout.title = fresh.layout.title

    def _clicked(self, trace: Any, points: Any, state: Any) -> None:
        if points.xs and points.ys:
            self.select_pair(str(points.xs[0]), str(points.ys[0]))

    def select_pair(self, x: str, y: str) -> None:
        """Show the pair ``x``, ``y`` (what a click on a heatmap cell does)."""
        with self.pair_x.hold_trait_notifications(), self.pair_y.hold_trait_notifications():
            self.pair_x.value, self.pair_y.value = x, y
        self._show_pair()

    def _show_pair(self) -> None:
        x, y = self.pair_x.value, self.pair_y.value
        if x and y:
            figure_output(self.pair_plot, pair_figure(self.data, x, y, self.profile))

    def _show_time(self) -> None:
        if self.time.value and self.value.value:
            series = time_series(self.data, self.time.value, self.value.value, self.freq.value)
            figure_output(self.time_plot, time_figure(series, self.time.value, self.value.value))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return widget_bundle(self.widget, **kwargs)
