"""The experiments view from one run to a thousand: names as people say them, a family
chart that stays readable, a numeric parameter first, the best runs formatted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.tuning import ExperimentsView
from workbench.tuning._figures import best_runs_table, family_figure, run_params

FAMILIES = ("ridge", "lasso", "hist_gradient_boosting")


def _runs(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` trials as :func:`compare_runs` returns them (MLflow stores params as text)."""
    rng = np.random.default_rng(seed)
    family = [FAMILIES[i % 3] for i in range(n)]
    frame = pd.DataFrame(
        {
            "run_id": [f"{i:032x}" for i in range(n)],
            "start_time": pd.date_range("2026-01-01", periods=n, freq="min", tz="UTC"),
            "tags.mlflow.runName": [f"trial-{i}" for i in range(n)],
            "family": family,
            "study": "s1",
            "metrics.rmse": rng.uniform(100, 500, n),
            "metrics.rmse_std": rng.uniform(1, 50, n),
            "metrics.duration_s": rng.uniform(0.1, 20, n),
            "params.family": family,
        }
    )
    for name, param in (("ridge", "alpha"), ("lasso", "alpha"),
                        ("hist_gradient_boosting", "learning_rate")):  # fmt: skip
        mine = frame["family"] == name
        values = rng.uniform(0.001, 10, n).astype(str)
        frame[f"params.{name}.{param}"] = np.where(mine, values, None)
    frame["params.categorical"] = "region"  # text, the same in every run
    return frame


def test_one_run_is_drawn_and_tabled() -> None:
    view = ExperimentsView(runs=_runs(1))
    assert view.metric.value == "rmse"  # the quality metric, not the duration
    assert [label for label, _ in view.metric.options] == [
        "duration (s)", "RMSE", "RMSE, spread over folds"]  # fmt: skip
    assert view.family_figure.data and view.param_figure.data
    assert view.param.value == "ridge.alpha"  # the numeric one, not "categorical"
    assert "trial-0" in view.best.value and "metrics." not in view.best.value


def test_a_thousand_runs_stay_readable() -> None:
    runs = _runs(1000)
    figure = family_figure(runs, "rmse")
    assert len(figure.data) == 3  # a box per family
    assert all(trace.boxpoints is False for trace in figure.data)  # no 1,000 dots on them
    assert run_params(runs)[0] == "alpha"  # shared by Lasso and Ridge, numeric, varies
    table = best_runs_table(runs, "rmse")
    assert table.count("<tr>") == 11  # the header and the best ten
    best = runs.nsmallest(1, "metrics.rmse")["tags.mlflow.runName"].iloc[0]
    assert f">{best}<" in table
    view = ExperimentsView(runs=runs)
    assert ">1,000<" in view.summary.value  # runs, counted exactly
    assert view.param_figure.layout.xaxis.type == "log"  # alpha spans four decades


def test_a_metric_no_run_has_says_so() -> None:
    runs = _runs(3).assign(**{"metrics.r2": [np.nan, np.nan, np.nan]})
    with pytest.raises(Exception, match="No metric 'mae'"):
        family_figure(runs, "mae")
    assert "No run of this choice has R²" in best_runs_table(runs, "r2")


def test_the_run_count_says_how_many_have_the_metric_the_chart_draws() -> None:
    runs = _runs(6)
    refit = runs.iloc[[0]].assign(run_id="f" * 32, **{"metrics.rmse": np.nan, "family": None})
    view = ExperimentsView(runs=pd.concat([runs, refit], ignore_index=True))
    assert ">7<" in view.summary.value and "6 with RMSE" in view.summary.value
    assert "6 with" not in ExperimentsView(runs=runs).summary.value  # all have it: no note
