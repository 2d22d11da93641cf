"""Tuning's figures: pure functions from a study or a frame of runs to plotly figures."""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING

from workbench._exceptions import ConfigurationError
from workbench.tuning._runs import run_metrics
from workbench.tuning._study import trials_frame

if TYPE_CHECKING:
    import optuna
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["family_figure", "param_figure", "study_figures"]


def study_figures(study: optuna.Study) -> dict[str, go.Figure]:
    """Optimization history, parallel coordinates, parameter importances, and the best
    value by model family; the figures that need more trials than exist are left out."""
    import plotly.express as px
    from optuna import visualization
    from optuna.trial import TrialState

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


def family_figure(runs: pd.DataFrame, metric: str) -> go.Figure:
    """Each trial's ``metric`` by model family (a box per family, every run a point)."""
    import plotly.express as px

    column = f"metrics.{metric}"
    if column not in runs:
        raise ConfigurationError(
            f"No metric {metric!r} in these runs. Metrics: {run_metrics(runs)}."
        )
    data = runs.dropna(subset=[column, "family"])
    return px.box(
        data,
        x="family",
        y=column,
        points="all",
        hover_data=["run_id"],
        title=f"{metric} by model family ({len(data)} runs)",
        labels={column: metric},
    )


def param_figure(runs: pd.DataFrame, param: str, metric: str) -> go.Figure:
    """A parameter against a metric, one point per run, coloured by family."""
    import pandas as pd
    import plotly.express as px

    p, m = f"params.{param}", f"metrics.{metric}"
    missing = [c for c in (p, m) if c not in runs]
    if missing:
        raise ConfigurationError(
            f"No column {missing[0]!r} in these runs. Metrics: {run_metrics(runs)}; "
            f"params: {sorted(str(c)[7:] for c in runs if str(c).startswith('params.'))}."
        )
    data = runs.dropna(subset=[p, m]).copy()
    numeric = pd.to_numeric(data[p], errors="coerce")
    if numeric.notna().all():
        data[p] = numeric
    return px.scatter(
        data,
        x=p,
        y=m,
        color="family" if data["family"].notna().any() else None,
        hover_data=["run_id"],
        title=f"{param} vs {metric}",
        labels={p: param, m: metric},
    )
