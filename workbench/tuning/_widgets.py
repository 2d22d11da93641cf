"""Tuning's widgets: a study's dashboard, live while it runs, and an experiment's runs.

:class:`TuningDashboard` draws from the study in its storage (any process may be
running it), so the same widget follows a running :class:`TuningJob` or shows a
finished study. :class:`ExperimentsView` compares the runs of an experiment, in a
notebook or under Voilà.
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING, Any

from workbench._display import figure_output, widget_bundle
from workbench._exceptions import ConfigurationError
from workbench._imports import require
from workbench.presentation import (
    family_label,
    fmt_count,
    kpi_card,
    kpi_row,
    metric_label,
    param_label,
    table_html,
)
from workbench.tuning._figures import (
    best_runs_table,
    family_figure,
    param_figure,
    param_label_of,
    run_params,
    study_figures,
)
from workbench.tuning._runs import compare_runs, run_metrics
from workbench.tuning._study import trials_frame

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from workbench._settings import Settings

__all__ = ["ExperimentsView", "TuningDashboard"]


class TuningDashboard:
    """Progress, best so far, figures and the trials table of a study.

    Args:
        source: A :class:`TuningJob` (followed live, without blocking the kernel), an
            ``optuna.Study``, or a :class:`TuningResult`.
        interval: Seconds between refreshes while a job runs.

    Display it with ``display(dashboard.widget)``; ``refresh()`` redraws on demand.
    """

    def __init__(self, source: Any, interval: float = 2.0):
        widgets: Any = require("ipywidgets", feature="notebook widgets")
        self._source = source
        self.n_trials = int(getattr(source, "n_trials", 0)) or None
        self.progress = widgets.IntProgress(
            value=0, min=0, max=self.n_trials or 1, description="complete"
        )
        self.best = widgets.HTML()
        self.figures = {
            name: widgets.Output(layout=widgets.Layout(width="100%"))
            for name in ("history", "parallel", "importance", "families")
        }
        self.table = widgets.Output(layout=widgets.Layout(width="100%"))
        tabs = widgets.Tab(children=[*self.figures.values(), self.table])
        for i, title in enumerate(
            ["History", "Parallel coordinates", "Importances", "Families", "Trials"]
        ):
            tabs.set_title(i, title)
        self.widget = widgets.VBox([widgets.HBox([self.progress, self.best]), tabs])
        self.refresh()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if hasattr(source, "done") and not source.done():
            self._thread = threading.Thread(target=self._follow, args=(interval,), daemon=True)
            self._thread.start()

    def _study(self) -> optuna.Study:
        source = self._source
        study = source.study() if callable(getattr(source, "study", None)) else source
        return study  # type: ignore[no-any-return]

    def _follow(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.refresh()
            if self._source.done():
                break
        self.refresh()

    def _warnings(self) -> tuple[str, ...]:
        """The finished study's warnings (it stopped short of ``n_trials``), if any."""
        source = self._source
        if hasattr(source, "done"):  # a job: its result, once it has one
            if not source.done():
                return ()
            try:
                source = source.result(timeout=0)
            except BaseException:  # the job failed: its error is the job's to raise
                return ()
        return tuple(getattr(source, "warnings", ()))

    def stop(self) -> None:
        """Stop following the job (the study itself goes on)."""
        self._stop.set()

    def refresh(self) -> None:
        """Redraw everything from the study's current state."""
        from optuna.trial import TrialState

        try:
            study = self._study()
        except KeyError:  # the job has not created its study yet
            self.best.value = "starting…"
            return
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        running = sum(t.state == TrialState.RUNNING for t in trials)
        failed = sum(t.state == TrialState.FAIL for t in trials)
        pruned = sum(t.state == TrialState.PRUNED for t in trials)
        self.progress.max = max(self.n_trials or len(complete), 1)
        self.progress.value = min(len(complete), self.progress.max)
        if complete:
            best = study.best_trial
            family = best.params.get("family", "")
            self.best.value = (
                f"<b>best {best.value:.6g}</b> (trial {best.number} {family}) · "
                f"{len(complete)} complete, {running} running, {pruned} pruned, {failed} failed"
            )
        else:
            self.best.value = f"no complete trial yet · {running} running, {failed} failed"
        for warning in self._warnings():
            self.best.value += f"<br><b>warning</b>: {html.escape(warning)}"
        for name, figure in study_figures(study).items():
            figure_output(self.figures[name], figure)
        table = trials_frame(study)
        shown = table.dropna(axis=1, how="all")  # no column of dashes (device, gpu, error)
        labels = {str(c): param_label(str(c)[6:]) for c in shown if str(c).startswith("param.")}
        self.table.outputs = (
            {
                "output_type": "display_data",
                "data": {
                    "text/html": str(
                        table_html(
                            shown.assign(
                                family=shown["family"].map(family_label, na_action="ignore")
                            )
                            if "family" in shown
                            else shown,
                            labels={**labels, "duration_s": "took", "value": "score"},
                            formats={"duration_s": "duration"} if "duration_s" in shown else {},
                            max_rows=500,
                            empty="No trial yet.",
                        )
                    ),
                    "text/plain": table.to_string(max_rows=50),
                },
                "metadata": {},
            },
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


class ExperimentsView:
    """An experiment's runs: key figures, a metric by model family, a hyperparameter
    against the metric, and the best runs as a table, every name as people say it.

    Readable from one run to thousands: each family's box drops its dots past 300 runs,
    and the table shows the best ten.

    Args:
        experiment: Experiment name (default: the ``experiment_name`` setting).
        metric: The metric shown first (default: the quality metric most runs have).
        settings: Settings (default: the process-wide ones).
        runs: The runs to show, as :func:`compare_runs` returns them (default: read
            from MLflow).

    Raises:
        ConfigurationError: The experiment has no run with a metric.
    """

    def __init__(
        self,
        experiment: str | None = None,
        *,
        metric: str | None = None,
        settings: Settings | None = None,
        runs: pd.DataFrame | None = None,
    ):
        widgets: Any = require("ipywidgets", feature="notebook widgets")
        picker = widgets.Layout(width="min(100%, 340px)")
        every = compare_runs(experiment, settings=settings) if runs is None else runs
        # a study's own run summarizes its trials: it is not one more point among them
        role = every.get("tags.workbench.role")
        self.runs = every[role != "study"] if role is not None else every
        metrics = run_metrics(self.runs)
        metrics = [m for m in metrics if self.runs[f"metrics.{m}"].notna().any()]
        if not metrics:
            raise ConfigurationError(
                f"The experiment {experiment or '(default)'} has no run with a metric yet."
            )
        studies = sorted(s for s in self.runs["study"].dropna().unique())
        self.study = widgets.Dropdown(
            options=[("all runs", "")] + [(s, s) for s in studies],
            description="study",
            layout=picker,
        )
        quality = [
            m
            for m in metrics
            if "seconds" not in m
            and not m.startswith(("n_", "duration"))
            and not m.endswith("_std")
        ]
        # the metric most runs have; a trial's mean over folds before its per-fold one
        by_count = sorted(
            quality or metrics,
            key=lambda m: (-self.runs[f"metrics.{m}"].count(), m.startswith("cv_"), m),
        )
        first = metric if metric in metrics else by_count[0]
        self.metric = widgets.Dropdown(
            options=[(metric_label(m), m) for m in metrics],
            value=first,
            description="metric",
            layout=picker,
        )
        self.param = widgets.Dropdown(description="parameter", layout=picker)
        self._quiet = False
        flush = widgets.Layout(width="100%", margin="0")  # the widgets' 2 px margin: 4 px out
        self.summary = widgets.HTML()
        self.by_family = widgets.Output(layout=flush)
        self.by_param = widgets.Output(layout=flush)
        self.best = widgets.HTML()
        for control in (self.study, self.metric):
            control.observe(lambda _: self._draw(), names="value")
        self.param.observe(lambda _: self._draw_param(), names="value")
        self._draw()
        controls = widgets.HBox(
            [self.study, self.metric, self.param], layout=widgets.Layout(flex_flow="row wrap")
        )
        self.widget = widgets.VBox(
            [controls, self.summary, self.by_family, self.by_param, self.best]
        )

    def _chosen(self) -> Any:
        if not self.study.value:
            return self.runs
        return self.runs[self.runs["study"] == self.study.value]

    def _draw(self) -> None:
        runs = self._chosen()
        metric = self.metric.value
        with_metric = runs.dropna(subset=[f"metrics.{metric}"])
        self.summary.value = _summary_html(runs, with_metric, metric)
        self.family_figure = family_figure(runs, metric) if len(with_metric) else None
        if self.family_figure is not None:
            figure_output(self.by_family, self.family_figure)
        else:
            self.by_family.outputs = ()
        params = run_params(with_metric) if len(with_metric) else []
        options = [(param_label_of(with_metric, p), p) for p in params]
        kept = self.param.value if self.param.value in params else None
        self._quiet = True  # new options pick their first value: one redraw, below
        try:
            self.param.options = options
            self.param.value = kept if kept is not None else (params[0] if params else None)
        finally:
            self._quiet = False
        self._draw_param()
        self.best.value = best_runs_table(runs, metric)

    def _draw_param(self) -> None:
        if self._quiet:
            return
        runs = self._chosen()
        if self.param.value and self.metric.value:
            self.param_figure = param_figure(runs, self.param.value, self.metric.value)
            figure_output(self.by_param, self.param_figure)
        else:
            self.by_param.outputs = ()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return widget_bundle(self.widget, **kwargs)


def _summary_html(runs: pd.DataFrame, with_metric: pd.DataFrame, metric: str) -> str:
    """Key figures of the runs shown: how many, in how many studies and families, and the
    best score with the run that made it."""
    from workbench.tuning._runs import best_runs

    families = runs["family"].dropna().nunique()
    studies = runs["study"].dropna().nunique()
    cards = [
        kpi_card(
            "runs",
            fmt_count(len(runs), compact=False),
            note=(
                f"{fmt_count(len(with_metric), compact=False)} with {metric_label(metric)}"
                if len(with_metric) != len(runs)
                else None
            ),
        ),
        kpi_card("studies", studies),
        kpi_card("model families", families),
    ]
    top = best_runs(runs, metric, 1)
    if len(top):
        row = top.iloc[0]
        name = row.get("tags.mlflow.runName") or str(row["run_id"])[:8]
        family = row.get("family")
        note = f"{name}" + (f" · {family_label(str(family))}" if isinstance(family, str) else "")
        cards.append(kpi_card(f"best {metric_label(metric)}", row[f"metrics.{metric}"], note=note))
    else:
        cards.append(kpi_card(f"best {metric_label(metric)}", None, note="no run has it yet"))
    return str(kpi_row(cards))
