"""Tuning's figures: pure functions from a study or a frame of runs to plotly figures."""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError
from workbench.presentation import (
    PALETTE,
    Html,
    apply_theme,
    empty_state,
    family_label,
    fmt_count,
    metric_label,
    param_label,
    register_template,
    table_html,
)
from workbench.tuning._runs import _HIGHER_IS_BETTER, best_runs, run_metrics
from workbench.tuning._study import trials_frame

if TYPE_CHECKING:
    import optuna
    import pandas as pd
    import plotly.graph_objects as go

__all__ = [
    "best_runs_table",
    "family_figure",
    "param_figure",
    "param_label_of",
    "param_values",
    "run_params",
    "study_figures",
]


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
        apply_theme(figure, height=380)
        figure.update_layout(margin={"t": 56, "l": 48, "r": 20, "b": 44})
        if not figure.layout.title.text:
            figure.update_layout(title=name)
    return figures


#: Above this many runs a family's box shows no dot per run (they would hide it).
_MAX_POINTS = 300


def _metric_column(runs: pd.DataFrame, metric: str) -> str:
    column = f"metrics.{metric}"
    if column not in runs:
        raise ConfigurationError(
            f"No metric {metric!r} in these runs. Metrics: {run_metrics(runs)}."
        )
    return column


def _families(runs: pd.DataFrame) -> pd.Series:
    """Each run's family as people say it; a run without one (a baseline) by its name."""
    import pandas as pd

    family = runs["family"] if "family" in runs else pd.Series(index=runs.index, dtype=object)
    named = runs.get("tags.mlflow.runName", pd.Series(index=runs.index, dtype=object))
    return family.map(lambda f: family_label(str(f)), na_action="ignore").fillna(
        named.fillna("other runs")
    )


def _colors(runs: pd.DataFrame) -> dict[str, str]:
    """One colour per family, the same in every figure of these runs."""
    names = sorted(set(_families(runs).dropna()), key=str.lower)
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def family_figure(runs: pd.DataFrame, metric: str) -> go.Figure:
    """Each run's ``metric`` by model family: a box per family and, up to 300 runs, a dot
    per run (hover names the run); families ordered best first."""
    import plotly.express as px

    column = _metric_column(runs, metric)
    data = runs.dropna(subset=[column]).assign(family_shown=_families)
    data = data.dropna(subset=["family_shown"])
    higher = any(k in metric for k in _HIGHER_IS_BETTER)
    order = data.groupby("family_shown")[column].median().sort_values(ascending=not higher).index
    label = metric_label(metric)
    names = data.get("tags.mlflow.runName", data["run_id"])
    fig = px.box(
        data.assign(run=names),
        x="family_shown",
        y=column,
        color="family_shown",
        points="all" if len(data) <= _MAX_POINTS else False,
        hover_data={"run": True, "family_shown": False},
        category_orders={"family_shown": list(order)},
        color_discrete_map=_colors(runs),
        labels={column: label, "family_shown": "model family"},
        title=f"{label} by model family ({fmt_count(len(data), 'run', compact=False)})",
        template=register_template(),
    )
    # each family's dots on its box, not beside it
    fig.update_traces(pointpos=0, jitter=0.35, marker={"size": 7, "opacity": 0.75})
    apply_theme(fig, height=380)
    fig.update_layout(
        showlegend=False, boxmode="overlay", margin={"l": 56, "r": 16, "t": 56, "b": 44}
    )
    return fig


def param_values(runs: pd.DataFrame, param: str) -> pd.Series:
    """A hyperparameter's value per run: ``ridge.alpha`` as logged, or a name shared by
    several families (``alpha``: Ridge's and Lasso's), numbers as numbers."""
    import pandas as pd

    exact = f"params.{param}"
    if exact in runs:
        values = runs[exact]
    else:
        columns = [c for c in runs if str(c).startswith("params.") and str(c).endswith(f".{param}")]
        if not columns:
            raise ConfigurationError(
                f"No parameter {param!r} in these runs. Parameters: {run_params(runs)}."
            )
        values = runs[columns].bfill(axis=1).iloc[:, 0]
    numeric = pd.to_numeric(values, errors="coerce")
    return numeric if numeric.notna().sum() == values.notna().sum() else values


def run_params(runs: pd.DataFrame) -> list[str]:
    """The hyperparameters a view offers: each family's (``ridge.alpha``), and a name
    several families share once (``alpha``), numeric ones that vary first."""
    import pandas as pd

    logged = [str(c)[7:] for c in runs if str(c).startswith("params.") and runs[c].notna().any()]
    shared: dict[str, list[str]] = {}
    for name in logged:
        family, _, short = name.rpartition(".")
        if family:
            shared.setdefault(short, []).append(name)
    names = [
        n for n in logged if n.rpartition(".")[0] == "" or len(shared[n.rpartition(".")[2]]) == 1
    ]
    names += [short for short, full in shared.items() if len(full) > 1]

    def rank(name: str) -> tuple[int, int, str]:
        values = param_values(runs, name).dropna()
        numeric = pd.api.types.is_numeric_dtype(values)
        return (0 if numeric and values.nunique() > 1 else 1 if numeric else 2, -len(values), name)

    return sorted(names, key=rank)


def param_label_of(runs: pd.DataFrame, param: str) -> str:
    """``alpha (Lasso, Ridge)`` for a shared name, else :func:`param_label`."""
    if f"params.{param}" in runs:
        return param_label(param)
    families = sorted(
        family_label(str(c)[7:].rpartition(".")[0])
        for c in runs
        if str(c).startswith("params.") and str(c).endswith(f".{param}")
    )
    return f"{param_label(param)} ({', '.join(families)})"


def param_figure(runs: pd.DataFrame, param: str, metric: str) -> go.Figure:
    """A hyperparameter against a metric, one point per run, coloured by family; a
    logarithmic axis where the values span more than two decades."""
    import plotly.express as px

    column = _metric_column(runs, metric)
    data = runs.assign(value=param_values(runs, param), family_shown=_families)
    data = data.dropna(subset=["value", column])
    names = data.get("tags.mlflow.runName", data["run_id"])
    label, shown = param_label_of(runs, param), metric_label(metric)
    fig = px.scatter(
        data.assign(run=names),
        x="value",
        y=column,
        color="family_shown",
        hover_data={"run": True},
        color_discrete_map=_colors(runs),
        title=f"{label} vs {shown}",
        labels={"value": label, column: shown, "family_shown": "model family"},
        template=register_template(),
    )
    numbers = data["value"]
    if (
        len(numbers)
        and numbers.dtype.kind in "fi"
        and float(numbers.min()) > 0
        and float(numbers.max()) / float(numbers.min()) > 100
    ):
        fig.update_xaxes(type="log", dtick=1)  # a label per decade, none between
    fig.update_traces(marker={"size": 9 if len(data) <= _MAX_POINTS else 5, "opacity": 0.8})
    apply_theme(fig, height=380)
    fig.update_layout(margin={"l": 56, "r": 16, "t": 76, "b": 44})
    return fig


def best_runs_table(runs: pd.DataFrame, metric: str, n: int = 10) -> Html:
    """The ``n`` best runs by ``metric`` as a table a person reads: the run's name,
    family, study, the score with its spread over folds, how long it took, when."""
    import pandas as pd

    column = _metric_column(runs, metric)
    top = best_runs(runs, metric, n)
    full = runs.loc[top.index]
    spread = full.get(f"metrics.{metric}_std", pd.Series(index=full.index, dtype=float))
    duration = full.get("metrics.duration_s", pd.Series(index=full.index, dtype=float))

    def known(value: Any) -> bool:
        return not (value is None or (isinstance(value, float) and value != value))

    names = full.get("tags.mlflow.runName", pd.Series(index=full.index, dtype=object))
    rows = [
        {
            "rank": rank,
            "run": names[i] if known(names[i]) else str(full.at[i, "run_id"])[:8],
            "family": family_label(str(full.at[i, "family"]))
            if known(full.at[i, "family"])
            else None,
            "study": full.at[i, "study"],
            metric_label(metric): full.at[i, column],
            "± over folds": spread.get(i),
            "took": duration.get(i),
            "started": full.at[i, "start_time"] if "start_time" in full else None,
        }
        for rank, i in enumerate(top.index, start=1)
    ]
    if not rows:
        return empty_state(
            f"No run of this choice has {metric_label(metric)} yet.",
            "Pick another metric or study, or run one with `workbench.tuning.tune`.",
        )
    return table_html(
        rows,
        formats={"took": "duration", "started": "when"},
        caption=f"Best runs by {metric_label(metric)}",
        max_height=None,
        empty="No run has this metric yet.",
    )
