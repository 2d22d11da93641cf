"""Compare runs and studies of an experiment, in a notebook or under Voilà."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench._display import figure_output
from workbench._exceptions import ConfigurationError
from workbench._imports import require
from workbench.tuning._compare import _metrics, compare_runs, family_figure, param_figure

if TYPE_CHECKING:
    from workbench._settings import Settings

__all__ = ["ExperimentsView"]

_HIGHER_IS_BETTER = ("accuracy", "r2", "f1", "auc", "precision", "recall")


class ExperimentsView:
    """An experiment's runs: a study picker, a metric by model family, a parameter
    against the metric, and the best runs as a table.

    Args:
        experiment: Experiment name (default: the ``experiment_name`` setting).
        metric: The metric shown first (default: the first the runs have).
        settings: Settings (default: the process-wide ones).
    """

    def __init__(
        self,
        experiment: str | None = None,
        *,
        metric: str | None = None,
        settings: Settings | None = None,
    ):
        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self.runs = compare_runs(experiment, settings=settings)
        metrics = _metrics(self.runs)
        if not metrics:
            raise ConfigurationError(
                f"The experiment {experiment or '(default)'} has no run with a metric yet."
            )
        studies = sorted(s for s in self.runs["study"].dropna().unique())
        self.study = widgets.Dropdown(
            options=[("all runs", "")] + [(s, s) for s in studies], description="study"
        )
        quality = [m for m in metrics if "seconds" not in m and not m.startswith("n_")]
        first = metric if metric in metrics else (quality or metrics)[0]
        self.metric = widgets.Dropdown(options=metrics, value=first, description="metric")
        self.param = widgets.Dropdown(description="parameter")
        self.by_family = widgets.Output(layout=widgets.Layout(width="100%"))
        self.by_param = widgets.Output(layout=widgets.Layout(width="100%"))
        self.best = widgets.HTML()
        for control in (self.study, self.metric):
            control.observe(lambda _: self._draw(), names="value")
        self.param.observe(lambda _: self._draw_param(), names="value")
        self._draw()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.study, self.metric, self.param]),
                self.by_family,
                self.by_param,
                self.best,
            ]
        )

    def _chosen(self) -> Any:
        if not self.study.value:
            return self.runs
        return self.runs[self.runs["study"] == self.study.value]

    def _draw(self) -> None:
        runs = self._chosen()
        column = f"metrics.{self.metric.value}"
        with_metric = runs.dropna(subset=[column])
        params = sorted(
            str(c)[7:]
            for c in with_metric.columns
            if str(c).startswith("params.") and with_metric[c].notna().any()
        )
        if with_metric["family"].notna().any():
            self.family_figure = family_figure(runs, self.metric.value)
            figure_output(self.by_family, self.family_figure)
        self.param.options = params
        if params:
            self.param.value = params[0]
            self._draw_param()
        higher = any(k in self.metric.value for k in _HIGHER_IS_BETTER)
        top = with_metric.sort_values(column, ascending=not higher).head(10)
        shown = [
            c for c in ("run_id", "tags.mlflow.runName", "family", "study", column) if c in top
        ]
        self.best.value = (
            "<h4>Best runs by "
            + self.metric.value
            + "</h4>"
            + top[shown].to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}")
        )

    def _draw_param(self) -> None:
        if self.param.value:
            self.param_figure = param_figure(self._chosen(), self.param.value, self.metric.value)
            figure_output(self.by_param, self.param_figure)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
