"""Studies on a real LocalCluster of 2 worker processes, tracked in MLflow."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from distributed import Client
from optuna.trial import TrialState

from workbench import ConfigurationError, DataError, WorkbenchError
from workbench._settings import resolve_settings
from workbench.tuning import (
    Family,
    Tuner,
    TuningDashboard,
    TuningJob,
    available_families,
    compare_runs,
    family_figure,
    local_cluster,
    param_figure,
    study_figures,
    tune,
)
from workbench.tuning import _study as study_module

from ..conftest import running_mlflow_server, stop_mlflow_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two worker processes, one thread each: the cluster every test here shares."""
    with local_cluster(2) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "region": rng.choice(["n", "c", "s"], n),
        }
    )
    frame["y"] = 3 * frame["x1"] - frame["x2"] + frame["region"].map({"n": 1, "c": 0, "s": -1})
    frame["y"] += rng.normal(scale=0.3, size=n)
    frame.loc[::17, "x2"] = np.nan  # preprocessing must cope
    return frame


def _states(result_or_study: object) -> dict[str, int]:
    study = result_or_study.study() if hasattr(result_or_study, "study") else result_or_study
    trials = study.get_trials(deepcopy=False)  # type: ignore[attr-defined]
    return {s.name: sum(t.state == s for t in trials) for s in TrialState}


def test_a_study_compares_families_and_tracks_every_trial(
    client: Client, data: pd.DataFrame
) -> None:
    import mlflow

    result = tune(
        data,
        "y",
        families=["ridge", "lasso", "random_forest", "lightgbm"],
        n_trials=8,
        cv=3,
        cluster=client,
        study_name="families",
        pruner=None,
        progress=False,
    )
    assert result.n_complete == 8 and _states(result)["RUNNING"] == 0
    assert result.best_family in {"ridge", "lasso", "random_forest", "lightgbm"}
    assert result.best_value < 1.0  # the signal is linear with noise 0.3
    assert result.trials.loc[result.trials["state"] == "COMPLETE", "worker"].notna().all()
    predictions = result.best_model.predict(data.drop(columns="y"))
    assert np.sqrt(np.mean((predictions - data["y"]) ** 2)) < 1.0

    tracker = mlflow.MlflowClient()
    children = tracker.search_runs(
        [tracker.get_run(result.parent_run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.parent_run_id}'",
    )
    assert len(children) == 8
    for run in children:
        assert run.data.params["family"] == run.data.tags["family"]
        assert run.info.status == "FINISHED"
        assert {"rmse", "duration_s", "cv_rmse"} <= set(run.data.metrics)
        assert len(tracker.get_metric_history(run.info.run_id, "cv_rmse")) == 3  # one per fold
        assert run.data.tags["worker"]
    parent = tracker.get_run(result.parent_run_id)
    assert parent.data.metrics["best_rmse"] == pytest.approx(result.best_value)
    assert parent.data.tags["best_family"] == result.best_family
    logged = mlflow.search_logged_models(
        experiment_ids=[tracker.get_run(result.parent_run_id).info.experiment_id],
        filter_string=f"source_run_id = '{result.parent_run_id}'",
        output_format="list",
    )
    assert [m.name for m in logged] == ["best_model"]
    loaded = mlflow.pyfunc.load_model(f"runs:/{result.parent_run_id}/best_model")
    assert len(loaded.predict(data.drop(columns="y").head(3))) == 3

    runs = compare_runs(study="families")
    assert len(runs[runs["tags.workbench.role"] != "study"]) == 8
    assert family_figure(runs, "rmse").data
    assert param_figure(runs, "ridge.alpha", "rmse").layout.title.text == "ridge.alpha vs rmse"
    with pytest.raises(ConfigurationError, match="No metric 'nope'"):
        family_figure(runs, "nope")


def test_a_study_resumes_where_it_stopped(client: Client, data: pd.DataFrame) -> None:
    first = tune(
        data,
        "y",
        families=["ridge"],
        n_trials=3,
        cv=3,
        cluster=client,
        study_name="resume",
        refit=False,
        progress=False,
    )
    assert first.n_complete == 3
    second = tune(
        data,
        "y",
        families=["ridge"],
        n_trials=5,
        cv=3,
        cluster=client,
        study_name="resume",
        refit=False,
        progress=False,
    )
    assert second.n_complete == 5 and len(second.trials) == 5  # two more, not five
    assert second.parent_run_id == first.parent_run_id  # the same MLflow parent run


def test_an_objective_that_raises_fails_its_trial_and_the_study_goes_on(
    client: Client, data: pd.DataFrame
) -> None:
    def flaky(trial: optuna.Trial, frame: pd.DataFrame) -> float:
        x = trial.suggest_float("x", -1, 1)
        if trial.number % 3 == 1:
            raise ValueError(f"broken input at trial {trial.number}")
        return x**2

    result = tune(
        data, "y", objective=flaky, n_trials=4, cluster=client, study_name="flaky", progress=False
    )
    states = _states(result)
    assert states["COMPLETE"] == 4 and states["FAIL"] >= 1 and states["RUNNING"] == 0
    errors = result.trials.loc[result.trials["state"] == "FAIL", "error"]
    assert errors.str.startswith("ValueError: broken input").all()


def test_a_killed_worker_leaves_no_trial_running(
    client: Client, data: pd.DataFrame, tmp_path: Path
) -> None:
    marker = tmp_path / "pid"

    def slow_once(trial: optuna.Trial, frame: pd.DataFrame) -> float:
        x = trial.suggest_float("x", -1, 1)
        if trial.number == 0 and not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(60)  # killed here
        return x**2

    def kill_when_started() -> None:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(int(marker.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    result = tune(
        data,
        "y",
        objective=slow_once,
        n_trials=4,
        cluster=client,
        study_name="killed",
        progress=False,
    )
    killer.join()
    states = _states(result)
    assert states["COMPLETE"] == 4 and states["RUNNING"] == 0
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the worker


def test_stale_trials_of_a_crashed_run_are_retried(
    client: Client, data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(study_module, "GRACE_S", 2)
    url = resolve_settings().optuna_storage
    storage = study_module._storage(url)
    study = optuna.create_study(study_name="crashed", storage=storage)
    orphan = study.ask({"x": optuna.distributions.FloatDistribution(-1, 1)})
    storage.record_heartbeat(orphan._trial_id)  # then its process "died"
    time.sleep(3)

    def square(trial: optuna.Trial, frame: pd.DataFrame) -> float:
        return trial.suggest_float("x", -1, 1) ** 2

    result = tune(
        data,
        "y",
        objective=square,
        n_trials=3,
        cluster=client,
        study_name="crashed",
        progress=False,
    )
    states = _states(result)
    assert (states["COMPLETE"], states["RUNNING"], states["FAIL"]) == (3, 0, 1)
    retried = result.trials[result.trials["retried_from"] == orphan.number]
    assert len(retried) == 1  # its parameters were run again


def test_pruner_uses_folds_as_steps(client: Client, data: pd.DataFrame) -> None:
    pruner = optuna.pruners.ThresholdPruner(upper=0.5)  # prune bad first folds at once
    result = tune(
        data,
        "y",
        families=["ridge", "lasso"],
        n_trials=4,
        cv=4,
        cluster=client,
        pruner=pruner,
        study_name="pruned",
        refit=False,
        progress=False,
    )
    study = result.study()
    for trial in study.get_trials(states=(TrialState.PRUNED,)):
        assert min(trial.intermediate_values) == 0 and trial.intermediate_values[0] > 0.5
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        assert sorted(trial.intermediate_values) == [0, 1, 2, 3]


def test_tuner_estimator_and_classification(client: Client) -> None:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    tuner = Tuner(
        task="classification",
        metric="roc_auc",
        families=["logistic", "xgboost"],
        n_trials=3,
        cv=3,
        cluster=client,
        study_name="cancer",
        progress=False,
    )
    tuner.fit(x, y)
    assert tuner.result_.best_value > 0.95 and tuner.result_.direction == "maximize"
    assert (tuner.predict(x.head(5)) == tuner.best_estimator_.predict(x.head(5))).all()
    assert tuner.predict_proba(x.head(2)).shape == (2, 2)


def test_gradient_boosting_libraries_have_spaces(client: Client, data: pd.DataFrame) -> None:
    assert {"xgboost", "lightgbm", "catboost"} <= set(available_families("regression"))
    result = tune(
        data,
        "y",
        families=["xgboost", "lightgbm", "catboost"],
        n_trials=3,
        cv=2,
        cluster=client,
        study_name="boosters",
        pruner=None,
        refit=False,
        progress=False,
    )
    assert result.n_complete == 3 and result.trials["family"].notna().all()


def test_custom_family(client: Client, data: pd.DataFrame) -> None:
    def suggest(trial: optuna.Trial) -> dict[str, float]:
        return {"n_neighbors": trial.suggest_int("knn.n_neighbors", 2, 20)}

    def build(params: dict[str, float], device: str, seed: int) -> object:
        from sklearn.neighbors import KNeighborsRegressor

        return KNeighborsRegressor(**params)

    knn = Family("knn", "regression", suggest, build, scale=True)
    result = tune(
        data,
        "y",
        families=[knn, "ridge"],
        n_trials=3,
        cv=2,
        cluster=client,
        study_name="custom-family",
        progress=False,
    )
    assert result.n_complete == 3


def test_background_job_and_dashboard(client: Client, data: pd.DataFrame) -> None:
    job = TuningJob(
        data,
        "y",
        families=["ridge", "lasso"],
        n_trials=4,
        cv=2,
        cluster=client,
        study_name="live",
        refit=False,
    )
    dashboard = TuningDashboard(job, interval=0.2)  # returns at once: the kernel is free
    result = job.result(timeout=120)
    time.sleep(0.5)  # its last refresh
    dashboard.refresh()
    assert dashboard.progress.value == dashboard.progress.max == 4
    assert "best" in dashboard.best.value and f"{result.best_value:.6g}" in dashboard.best.value
    for name in ("history", "parallel", "families"):
        assert dashboard.figures[name].outputs, name
    assert "<table" in dashboard.table.outputs[0]["data"]["text/html"]
    assert len(job.outcomes) >= 4
    figures = study_figures(result.study())  # the same figures from a finished study
    assert {"history", "parallel", "families"} <= set(figures)


def test_clear_errors(client: Client, data: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"lacks columns \['nope'\]"):
        tune(data, "nope", cluster=client, progress=False)
    with pytest.raises(ConfigurationError, match="No regression family 'svm'"):
        tune(data, "y", families=["svm"], cluster=client, progress=False)
    with pytest.raises(ConfigurationError, match="No regression metric 'auc'"):
        tune(data, "y", metric="auc", cluster=client, progress=False)
    with pytest.raises(ConfigurationError, match="cluster must be"):
        tune(data, "y", cluster="nowhere", progress=False)
    with pytest.raises(DataError, match="2 missing values"):
        tune(data.assign(y=data["y"].where(data.index > 1)), "y", cluster=client)

    def always(trial: optuna.Trial, frame: pd.DataFrame) -> float:
        raise RuntimeError("no luck")

    with pytest.raises(WorkbenchError, match="No trial of study 'hopeless' completed"):
        tune(
            data,
            "y",
            objective=always,
            n_trials=2,
            cluster=client,
            study_name="hopeless",
            progress=False,
        )


def test_cuda_without_a_gpu_is_a_clear_error(data: pd.DataFrame) -> None:
    if study_module._gpu_count():  # on a GPU machine, benchmarks/gpu_check.sh covers it
        assert study_module._gpu_count() > 0
        return
    with pytest.raises(ConfigurationError, match="cluster='cuda' needs NVIDIA GPUs"):
        tune(data, "y", cluster="cuda", progress=False)


def test_a_real_mlflow_server(client: Client, data: pd.DataFrame, tmp_path: Path) -> None:
    import dataclasses

    import mlflow

    with running_mlflow_server(tmp_path) as url:
        settings = dataclasses.replace(resolve_settings(), tracking_uri=url)
        result = tune(
            data,
            "y",
            families=["ridge"],
            n_trials=3,
            cv=2,
            cluster=client,
            study_name="served",
            settings=settings,
            progress=False,
        )
        tracker = mlflow.MlflowClient(url)
        parent = tracker.get_run(result.parent_run_id)
        # artifacts go to the server's store, which every machine reaches, not to this disk
        experiment = tracker.get_experiment(parent.info.experiment_id)
        assert experiment.artifact_location.startswith("mlflow-artifacts:")
        children = tracker.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{result.parent_run_id}'",
        )
        assert len(children) == 3 and all(r.info.status == "FINISHED" for r in children)
        model = mlflow.pyfunc.load_model(f"runs:/{result.parent_run_id}/best_model")
        assert len(model.predict(data.drop(columns="y").head(2))) == 2


def test_timeout_stops_new_trials_and_leaves_none_running(
    client: Client, data: pd.DataFrame
) -> None:
    def slowish(trial: optuna.Trial, frame: pd.DataFrame) -> float:
        time.sleep(0.5)
        return trial.suggest_float("x", -1, 1) ** 2

    started = time.monotonic()
    result = tune(
        data,
        "y",
        objective=slowish,
        n_trials=100,
        timeout=1.0,
        cluster=client,
        study_name="timed",
        progress=False,
    )
    assert time.monotonic() - started < 30
    states = _states(result)
    assert 1 <= states["COMPLETE"] < 100 and states["RUNNING"] == 0 and states["WAITING"] == 0


def test_review_edge_cases(data: pd.DataFrame, tmp_path: Path) -> None:
    """A single worker killed (its data lost with it), a resumed study with the other
    direction, a multiclass log loss with a class missing from some folds, a numpy X."""
    marker = tmp_path / "killed"

    def dies_once(trial: optuna.Trial, frame: pd.DataFrame) -> float:
        x = trial.suggest_float("x", -1, 1)
        if not marker.exists():
            marker.write_text("")
            os.kill(os.getpid(), signal.SIGKILL)
        return x**2

    with local_cluster(1) as cluster, Client(cluster) as one:
        result = tune(
            data,
            "y",
            objective=dies_once,
            n_trials=3,
            cluster=one,
            study_name="alone",
            progress=False,
        )
        states = _states(result)
        assert states["COMPLETE"] == 3 and states["RUNNING"] == 0
        with pytest.raises(ConfigurationError, match="minimizes its objective; 'r2' must be"):
            tune(
                data,
                "y",
                metric="r2",
                families=["ridge"],
                n_trials=1,
                cluster=one,
                study_name="alone",
                progress=False,
            )

        rng = np.random.default_rng(1)
        x = rng.normal(size=(120, 3))
        y = np.where(x[:, 0] > 0, "up", "down").astype(object)
        y[:3] = "rare"  # absent from most test folds
        tuner = Tuner(
            task="classification",
            metric="log_loss",
            families=["logistic"],
            n_trials=2,
            cv=5,
            cluster=one,
            study_name="rare",
            progress=False,
        )
        tuner.fit(x, pd.Series(y, name="label"))  # numpy X: integer column labels
        assert tuner.result_.n_complete == 2 and tuner.result_.n_failed == 0


def test_string_labels_and_mixed_categories(client: Client) -> None:
    """XGBoost takes labels 0..k-1 only, and OneHotEncoder refuses a column mixing text and
    numbers: both arrive from real exports, and tuning handles them."""
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "code": pd.Series(rng.choice(["A1", "B2", "7"], n), dtype=object),
        }
    )
    frame.loc[frame.index % 5 == 0, "code"] = 7  # the same code read as a number
    frame.loc[frame.index % 17 == 0, "code"] = None
    frame["label"] = np.where(frame["x"] + (frame["code"] == "A1") > 0.3, "churned", "stayed")
    tuner = Tuner(
        task="classification",
        metric="accuracy",
        families=["xgboost"],
        categorical=["code"],
        n_trials=2,
        cv=2,
        cluster=client,
        study_name="labels",
        progress=False,
    )
    tuner.fit(frame[["x", "code"]], frame["label"])
    assert tuner.result_.n_complete == 2 and tuner.result_.n_failed == 0
    assert set(tuner.predict(frame[["x", "code"]].head(20))) <= {"churned", "stayed"}
    assert list(tuner.best_estimator_.classes_) == ["churned", "stayed"]
    assert tuner.predict_proba(frame[["x", "code"]].head(3)).shape == (3, 2)


class _PruneEverything(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return True


def test_a_pruner_that_prunes_everything_stops_the_study(
    client: Client, data: pd.DataFrame
) -> None:
    began = time.monotonic()
    # 4 pruned stop new trials; the ones already in flight (at most workers + 1) finish
    with pytest.raises(WorkbenchError, match=r"No trial .* completed \(0 failed, [4-6] pruned\)"):
        tune(
            data,
            "y",
            families=["ridge"],
            n_trials=2,
            cv=3,
            max_pruned=4,
            pruner=_PruneEverything(),
            cluster=client,
            study_name="prune-all",
            progress=False,
        )
    assert time.monotonic() - began < 120  # stopped by max_pruned, not by a timeout


def test_mlflow_unreachable_mid_study_loses_no_trial(
    client: Client, data: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tracking server goes away after the first trial: the study still completes in
    the Optuna storage, tune says how many trials MLflow lacks, and sync_to_mlflow logs
    exactly those once the server is back (the same store, another port)."""
    import dataclasses

    import mlflow

    from workbench.tuning import sync_to_mlflow

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    base = resolve_settings()
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    stops: list[object] = []
    with pytest.raises(WorkbenchError) as caught, running_mlflow_server(tmp_path) as url:
        settings = dataclasses.replace(base, tracking_uri=url)

        def stop_after_first(outcome: dict[str, object]) -> None:
            if not stops:
                stops.append(outcome)
                stop_mlflow_server(url)

        tune(
            data,
            "y",
            families=["ridge"],
            n_trials=5,
            cv=2,
            pruner=None,
            cluster=client,
            study_name="outage",
            storage=storage,
            refit=False,
            settings=settings,
            progress=False,
            on_trial=stop_after_first,
        )
    message = str(caught.value)
    assert "could not be logged to MLflow" in message
    assert "kept in the Optuna storage" in message and "sync_to_mlflow('outage')" in message
    study = optuna.load_study(study_name="outage", storage=storage)
    assert _states(study)["COMPLETE"] == 5 and _states(study)["RUNNING"] == 0

    with running_mlflow_server(tmp_path) as url:  # the same backend store, back again
        settings = dataclasses.replace(base, tracking_uri=url)
        synced = sync_to_mlflow("outage", storage=storage, settings=settings)
        assert synced >= 3  # the first trials may have been logged before the outage
        assert sync_to_mlflow("outage", storage=storage, settings=settings) == 0
        tracker = mlflow.MlflowClient(url)
        experiment = tracker.get_experiment_by_name(settings.experiment_name)
        runs = tracker.search_runs(
            [experiment.experiment_id], filter_string="tags.`optuna.study` = 'outage'"
        )
        trials = sorted(
            int(r.data.tags["optuna.trial"]) for r in runs if "optuna.trial" in r.data.tags
        )
        assert trials == [0, 1, 2, 3, 4]  # each trial exactly once
        values = {
            int(r.data.tags["optuna.trial"]): r.data.metrics["rmse"]
            for r in runs
            if "optuna.trial" in r.data.tags
        }
        assert values == {t.number: pytest.approx(t.value) for t in study.trials}
        assert all(r.info.status == "FINISHED" for r in runs if "optuna.trial" in r.data.tags)
