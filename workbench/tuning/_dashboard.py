"""The tuning dashboard: a study's progress and figures, live while it runs.

Figures come from the study in its storage (any process may be running it), so the
same widget follows a running :class:`TuningJob` or shows a finished study.
"""

from __future__ import annotations

import contextlib
import html
import threading
import warnings
from typing import TYPE_CHECKING, Any

from workbench._display import figure_output
from workbench._imports import require

if TYPE_CHECKING:
    import optuna
    import plotly.graph_objects as go

__all__ = ["TuningDashboard", "study_figures"]


def study_figures(study: optuna.Study) -> dict[str, go.Figure]:
    """Optimization history, parallel coordinates, parameter importances, and the best
    value by model family; the figures that need more trials than exist are left out."""
    import plotly.express as px
    from optuna import visualization
    from optuna.trial import TrialState

    from workbench.tuning._study import trials_frame

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    figures: dict[str, go.Figure] = {}
    if complete:
        figures["history"] = visualization.plot_optimization_history(study)
        figures["parallel"] = visualization.plot_parallel_coordinate(study)
        table = trials_frame(study)
        done = table[table["state"] == "COMPLETE"]
        if "family" in done and done["family"].notna().any():
            figures["families"] = px.strip(
                done,
                x="family",
                y="value",
                hover_data=["number"],
                title="Trial scores by model family",
            )
    if len(complete) >= 2:
        # too few distinct parameter values yet raise; the figure comes later
        with contextlib.suppress(RuntimeError, ValueError), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "few trials per regime": early on
            figures["importance"] = visualization.plot_param_importances(study)
    for name, figure in figures.items():
        figure.update_layout(height=380, margin={"t": 50, "l": 40, "r": 20, "b": 40})
        if not figure.layout.title.text:
            figure.update_layout(title=name)
    return figures


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

        from workbench.tuning._study import trials_frame

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
        self.table.outputs = (
            {
                "output_type": "display_data",
                "data": {
                    "text/html": table.to_html(index=False, na_rep="", max_rows=500),
                    "text/plain": table.to_string(max_rows=50),
                },
                "metadata": {},
            },
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
