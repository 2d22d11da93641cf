"""Comparing the runs of an experiment: a table, and the plots people look at."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._exceptions import ConfigurationError
from workbench._settings import Settings, get_settings
from workbench._tracking import mlflow_for

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["compare_runs", "family_figure", "param_figure"]


def compare_runs(
    experiment: str | None = None,
    *,
    study: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The runs of an experiment as a DataFrame: one row per run, columns ``metrics.*``,
    ``params.*`` and ``tags.*`` as MLflow names them, plus ``family`` and ``study``.

    Args:
        experiment: Experiment name (default: the ``experiment_name`` setting).
        study: Keep only the trials of this Optuna study.
        settings: Settings (default: the process-wide ones).

    Raises:
        ConfigurationError: The experiment does not exist.
    """
    import pandas as pd

    s = settings or get_settings()
    mlflow = mlflow_for(s)
    name = experiment or s.experiment_name
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        raise ConfigurationError(f"No MLflow experiment named {name!r} at {s.tracking_uri}.")
    filters = f"tags.`optuna.study` = '{study}'" if study else ""
    runs = mlflow.search_runs([found.experiment_id], filter_string=filters, output_format="pandas")
    assert isinstance(runs, pd.DataFrame)
    runs = runs.copy()
    runs["family"] = runs.get("tags.family", pd.Series(index=runs.index, dtype=object))
    runs["study"] = runs.get("tags.optuna.study", pd.Series(index=runs.index, dtype=object))
    return runs


def family_figure(runs: pd.DataFrame, metric: str) -> go.Figure:
    """Each trial's ``metric`` by model family (a box per family, every run a point)."""
    import plotly.express as px

    column = f"metrics.{metric}"
    if column not in runs:
        raise ConfigurationError(f"No metric {metric!r} in these runs. Metrics: {_metrics(runs)}.")
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
            f"No column {missing[0]!r} in these runs. Metrics: {_metrics(runs)}; "
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


def _metrics(runs: pd.DataFrame) -> list[str]:
    return sorted(str(c)[8:] for c in runs if str(c).startswith("metrics."))
