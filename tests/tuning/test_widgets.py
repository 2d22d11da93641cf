"""The experiments view on the runs of an experiment, and the compute it shows."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import ConfigurationError, get_settings
from workbench._tracking import ensure_experiment, mlflow_for
from workbench.tuning import ExperimentsView, compare_runs, family_figure, param_figure
from workbench.tuning._runs import best_runs, run_metrics

RUNS = [  # family, alpha, rmse, r2
    ("ridge", 0.1, 3.0, 0.70),
    ("ridge", 1.0, 2.0, 0.80),
    ("lasso", 0.5, 4.0, 0.60),
    ("lasso", 2.0, 1.5, 0.90),
]


@pytest.fixture
def experiment() -> str:
    settings = get_settings()
    experiment_id = ensure_experiment("compare", settings)
    tracker = mlflow_for(settings).MlflowClient()
    for family, alpha, rmse, r2 in RUNS:
        run = tracker.create_run(
            experiment_id, tags={"family": family, "optuna.study": "s1"}
        ).info.run_id
        tracker.log_param(run, f"{family}.alpha", alpha)
        tracker.log_metric(run, "rmse", rmse)
        tracker.log_metric(run, "r2", r2)
        tracker.set_terminated(run)
    return "compare"


def test_runs_compare_as_a_frame_and_the_best_come_first(experiment: str) -> None:
    runs = compare_runs(experiment)
    assert len(runs) == 4 and set(runs["study"]) == {"s1"}
    assert run_metrics(runs) == ["r2", "rmse"]
    # the reference: pandas' own sort, lowest error first and highest score first
    expected = runs.sort_values("metrics.rmse")["run_id"].head(3).tolist()
    assert best_runs(runs, "rmse", n=3)["run_id"].tolist() == expected
    assert best_runs(runs, "r2")["metrics.r2"].tolist() == [0.9, 0.8, 0.7, 0.6]
    assert list(best_runs(runs, "r2").columns) == [
        "run_id",
        "tags.mlflow.runName",
        "family",
        "study",
        "metrics.r2",
    ]
    by_family = family_figure(runs, "rmse")  # a box per family, best family first
    assert [trace.name for trace in by_family.data] == ["Ridge", "Lasso"]
    assert sorted(by_family.data[1].y) == [1.5, 4.0]
    figure = param_figure(runs, "ridge.alpha", "rmse")
    assert figure.layout.title.text == "alpha (Ridge) vs RMSE"  # names as people say them
    assert sorted(figure.data[0].x) == [0.1, 1.0]  # numbers, not the text MLflow stores
    shared = param_figure(runs, "alpha", "rmse")  # one name two families share: both
    assert shared.layout.title.text == "alpha (Lasso, Ridge) vs RMSE"
    assert sorted(x for trace in shared.data for x in trace.x) == [0.1, 0.5, 1.0, 2.0]
    with pytest.raises(ConfigurationError, match=r"No metric 'mae' in these runs"):
        family_figure(runs, "mae")
    with pytest.raises(ConfigurationError, match=r"No experiment|No MLflow experiment"):
        compare_runs("absent")


def test_the_experiments_view_draws_what_compute_returns(experiment: str) -> None:
    view = ExperimentsView(experiment, metric="r2")
    assert view.metric.value == "r2" and view.study.options[1] == ("s1", "s1")
    assert view.by_family.outputs and view.by_param.outputs
    assert [value for _, value in view.param.options] == ["alpha"]  # Lasso's and Ridge's
    assert view.param.options[0][0] == "alpha (Lasso, Ridge)"
    _assert_in_order(view.best.value, best_runs(view.runs, "r2")["tags.mlflow.runName"])
    view.metric.value = "rmse"  # the controls redraw
    assert "Best runs by RMSE" in view.best.value
    assert "metrics.rmse" not in view.best.value and "tags.mlflow" not in view.best.value
    _assert_in_order(view.best.value, best_runs(view.runs, "rmse")["tags.mlflow.runName"])


def _assert_in_order(html: str, names: pd.Series) -> None:
    positions = [html.index(f">{name}<") for name in names]
    assert len(positions) == 4 and positions == sorted(positions)
