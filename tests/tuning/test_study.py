"""Studies on a real LocalCluster of 2 worker processes, tracked in MLflow."""

from __future__ import annotations

import os
import signal
import threading
import time
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
    FAMILIES,
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
from workbench.tuning import _clusters as clusters_module
from workbench.tuning import _devices as devices_module
from workbench.tuning import _driver as driver_module
from workbench.tuning import _optuna as optuna_internals
from workbench.tuning import _storages as storages_module

from ..conftest import running_mlflow_server, stop_mlflow_server

pytestmark = pytest.mark.slow


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
    assert param_figure(runs, "ridge.alpha", "rmse").layout.title.text == "alpha (Ridge) vs RMSE"
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
    monkeypatch.setattr(storages_module, "GRACE_S", 2)
    url = resolve_settings().optuna_storage
    storage = storages_module.storage(url)
    study = optuna.create_study(study_name="crashed", storage=storage)
    orphan = study.ask({"x": optuna.distributions.FloatDistribution(-1, 1)})
    storage.record_heartbeat(optuna_internals.trial_id(orphan))  # then its process "died"
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
    runs = _runs_by_trial(result.parent_run_id)  # issue 22.5: the orphan has its run too
    assert runs == {
        t.number: ["FAILED" if t.number == orphan.number else "FINISHED"]
        for t in result.study().trials
    }


def test_a_finished_study_resumed_runs_the_retry_of_its_orphan(
    client: Client, data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22.4: a resume of a study that had its n_trials failed an earlier run's
    orphan as stale and left the retry WAITING, never run. A queued retry runs first."""
    monkeypatch.setattr(storages_module, "GRACE_S", 2)

    def square(trial: optuna.Trial, frame: pd.DataFrame) -> float:
        return trial.suggest_float("x", -1, 1) ** 2

    options = {"objective": square, "n_trials": 2, "cluster": client, "progress": False}
    first = tune(data, "y", study_name="drained", **options)  # type: ignore[arg-type]
    storage = storages_module.storage(resolve_settings().optuna_storage)
    orphan = optuna.load_study(study_name="drained", storage=storage).ask(
        {"x": optuna.distributions.FloatDistribution(-1, 1)}
    )
    storage.record_heartbeat(optuna_internals.trial_id(orphan))  # then its process "died"
    time.sleep(3)
    result = tune(data, "y", study_name="drained", **options)  # type: ignore[arg-type]
    states = _states(result)
    assert (states["COMPLETE"], states["FAIL"], states["WAITING"], states["RUNNING"]) == (
        3,
        1,
        0,
        0,
    )
    retry = result.trials[result.trials["retried_from"] == orphan.number]
    assert retry["state"].tolist() == ["COMPLETE"]
    assert _runs_by_trial(first.parent_run_id)[orphan.number] == ["FAILED"]


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

    with (
        pytest.raises(WorkbenchError, match="No trial of study 'hopeless' completed"),
        pytest.warns(UserWarning, match=r"0 of the 2 COMPLETE .*max_failures=2"),
    ):
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
    if devices_module.cuda_worker_count():  # on a GPU machine, benchmarks/gpu_check.sh
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
    with pytest.warns(UserWarning, match=r"of the 100 COMPLETE trials .*timeout=1.0 s passed"):
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
    assert result.warnings and "timeout" in result.warnings[0]


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
    with (
        pytest.raises(WorkbenchError, match=r"No trial .* completed \(0 failed, [4-6] pruned\)"),
        pytest.warns(UserWarning, match=r"stopped with 0 of the 2 COMPLETE .*max_pruned=4"),
    ):
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


# ---------------------------------------------------------------- issue 22 and 21


def _good_and_bad_families() -> list[Family]:
    """One family far better than three others: a linear model on a linear signal, and
    three that predict the mean. Each ``suggest`` notes how many finished trials the
    sampler's view of the study holds when the trial draws its parameters."""
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import Ridge

    def noting(name: str) -> object:
        def suggest(trial: optuna.Trial) -> dict[str, float]:
            finished = (TrialState.COMPLETE, TrialState.PRUNED)
            # what TPE reads: the study's per-thread view, refreshed by ask/tell
            view = trial.study._get_trials(deepcopy=False, states=finished, use_cache=True)
            trial.set_user_attr("view", len(view))
            return {"alpha": trial.suggest_float(f"{name}.alpha", 1e-3, 1e3, log=True)}

        return suggest

    good = Family("good", "regression", noting("good"), lambda p, d, s: Ridge(**p), scale=True)
    bad = [
        Family(n, "regression", noting(n), lambda p, d, s: DummyRegressor(), scale=True)
        for n in ("mean_a", "mean_b", "mean_c")
    ]
    return [good, *bad]


def test_workers_sample_with_tpe_over_every_finished_trial(
    client: Client, data: pd.DataFrame
) -> None:
    """Issue 22.1: each worker's sampler saw the history as it was at that worker's first
    trial, so TPE never left its random start-up. Against plain Optuna with the same
    families, ranges and folds: the later trials concentrate on the good family alike."""
    from workbench.tuning._objective import TuningSpec, cross_validate, metric_for

    families = _good_and_bad_families()
    result = tune(
        data,
        "y",
        families=families,
        n_trials=30,
        cv=2,
        pruner=None,
        cluster=client,
        study_name="tpe",
        refit=False,
        progress=False,
    )
    trials = result.study().get_trials(deepcopy=False)
    views = {t.number: t.user_attrs["view"] for t in trials}
    # trial k starts once all but the ones in flight (2 workers + 1 queued) have finished
    assert all(views[k] >= k - 3 for k in views), views
    ours = sum(t.params["family"] == "good" for t in trials if t.number >= 10)

    spec = TuningSpec(
        task="regression",
        target="y",
        features=("x1", "x2", "region"),
        categorical=("region",),
        families={f.name: f for f in families},
        metric=metric_for("regression", "rmse"),
        cv=2,
        seed=0,
    )
    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    plain.optimize(lambda t: cross_validate(t, spec, data, lambda *a: None, [], {}), n_trials=30)
    reference = sum(t.params["family"] == "good" for t in plain.trials if t.number >= 10)
    assert reference >= 15  # TPE after its 10 random start-up trials
    assert ours >= reference - 4, (ours, reference)  # random draws would give about 5 of 20


class _PruneAtStep(optuna.pruners.BasePruner):
    def __init__(self, step: int) -> None:
        self.step = step

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.last_step == self.step


def test_a_trial_that_ran_every_fold_is_never_pruned(client: Client, data: pd.DataFrame) -> None:
    """Issue 22.2: trials were pruned after their last fold, the work done and thrown away."""
    result = tune(
        data,
        "y",
        families=["ridge"],
        n_trials=3,
        cv=3,
        pruner=_PruneAtStep(2),  # would prune every trial after its third and last fold
        max_pruned=3,
        cluster=client,
        study_name="last-fold",
        refit=False,
        progress=False,
    )
    assert (result.n_complete, result.n_pruned) == (3, 0) and result.warnings == ()
    for trial in result.study().get_trials(deepcopy=False):
        assert sorted(trial.intermediate_values) == [0, 1, 2]


class _PruneLaterTrials(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number >= 2


def test_a_study_stopped_by_max_pruned_says_so(client: Client, data: pd.DataFrame) -> None:
    """Issue 22.2: max_pruned ended the study short of n_trials without a word."""
    options = {
        "families": ["ridge"],
        "n_trials": 6,
        "cv": 3,
        "pruner": _PruneLaterTrials(),
        "max_pruned": 3,
        "cluster": client,
        "refit": False,
        "progress": False,
    }
    with pytest.warns(UserWarning, match=r"stopped with 2 of the 6 COMPLETE .*max_pruned=3"):
        result = tune(data, "y", study_name="short", **options)  # type: ignore[arg-type]
    assert result.n_complete == 2 and len(result.warnings) == 1
    assert "max_pruned=3" in result.warnings[0]
    import mlflow

    parent = mlflow.MlflowClient().get_run(result.parent_run_id)
    assert parent.data.tags["warning"] == result.warnings[0]
    assert (
        "<b>warning</b>: The study &#x27;short&#x27; stopped" in TuningDashboard(result).best.value
    )
    with pytest.raises(WorkbenchError, match=r"stopped with 2 of the 6 .*strict=True"):
        tune(data, "y", study_name="short-strict", strict=True, **options)  # type: ignore[arg-type]


def test_default_names_never_collide_and_a_resume_keeps_its_space(
    client: Client, data: pd.DataFrame
) -> None:
    """Issue 22.3: two jobs started in the same second shared one study, and the second's
    families broke the first's trials; a resume with other families failed every trial."""
    jobs = [
        TuningJob(data, "y", families=fams, n_trials=2, cv=2, cluster=client, refit=False)
        for fams in (["ridge"], ["lasso", "random_forest"])
    ]
    results = [job.result(timeout=180) for job in jobs]
    assert results[0].study_name != results[1].study_name
    assert [r.n_complete for r in results] == [2, 2] and [r.n_failed for r in results] == [0, 0]
    assert set(results[1].trials["family"]) <= {"lasso", "random_forest"}

    name = results[1].study_name
    with pytest.raises(ConfigurationError) as refused:
        tune(data, "y", families=["lasso", "xgboost"], study_name=name, cluster=client)
    message = str(refused.value)
    assert "lasso(alpha float [0.0001, 10.0] log); random_forest(n_estimators int" in message
    assert "This call's: lasso(alpha float [0.0001, 10.0] log); xgboost(n_estimators" in message
    # the same families in another order: Optuna's categorical keeps the study's order
    again = tune(
        data,
        "y",
        families=["random_forest", "lasso"],
        n_trials=3,
        cv=2,
        study_name=name,
        cluster=client,
        refit=False,
        progress=False,
    )
    assert again.n_complete == 3 and again.n_failed == 0

    narrower = Family(
        "lasso",
        "regression",
        lambda t: {"alpha": t.suggest_float("lasso.alpha", 0.1, 1.0, log=True)},
        FAMILIES[("regression", "lasso")].build,
    )
    with pytest.raises(ConfigurationError, match=r"lasso\(alpha float \[0.1, 1.0\] log\)"):
        tune(data, "y", families=[narrower, "random_forest"], study_name=name, cluster=client)


def _runs_by_trial(parent_run_id: str) -> dict[int, list[str]]:
    import mlflow

    tracker = mlflow.MlflowClient()
    experiment = tracker.get_run(parent_run_id).info.experiment_id
    runs: dict[int, list[str]] = {}
    for run in tracker.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'"
    ):
        runs.setdefault(int(run.data.tags["optuna.trial"]), []).append(run.info.status)
    return runs


def _interrupt_once(original: object) -> object:
    """``original``, with a real Ctrl-C (SIGINT to this process) sent as it is called,
    once: the narrowest windows of the driver, hit on purpose."""
    sent: list[bool] = []

    def wrapper(*args: object, **kwargs: object) -> object:
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)  # type: ignore[operator]

    return wrapper


@pytest.mark.parametrize("window", ["submit", "finish"])
def test_an_interrupt_anywhere_leaves_no_trial_behind(
    client: Client, data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, window: str
) -> None:
    """Issue 22.4 and 22.5: a Ctrl-C between a trial's creation and its submission, or
    between its worker's result and its recording, left it RUNNING; the trials failed on
    an interrupt had no MLflow run. Then a resume completes, every trial with its run."""
    name = f"interrupted-{window}"
    options = {
        "families": ["ridge", "lasso"],
        "cv": 2,
        "pruner": None,
        "cluster": client,
        "study_name": name,
        "refit": False,
        "progress": False,
    }
    with monkeypatch.context() as patch:
        if window == "submit":  # the second trial's submission
            submit = client.submit
            calls: list[int] = []

            def second(*args: object, **kwargs: object) -> object:
                calls.append(1)
                call = _interrupt_once(submit) if len(calls) == 2 else submit
                return call(*args, **kwargs)  # type: ignore[operator]

            patch.setattr(client, "submit", second)
        else:  # the first trial's result, as it is recorded
            patch.setattr(driver_module, "_finish", _interrupt_once(driver_module._finish))
        with pytest.raises(KeyboardInterrupt):
            tune(data, "y", n_trials=6, **options)  # type: ignore[arg-type]
    study = optuna.load_study(study_name=name, storage=resolve_settings().optuna_storage)
    states = _states(study)
    assert states["RUNNING"] == 0 and states["WAITING"] == 0, states
    assert states["FAIL"] >= 1
    for trial in study.get_trials(states=(TrialState.FAIL,)):
        assert trial.user_attrs["error"].startswith("KeyboardInterrupt")

    result = tune(data, "y", n_trials=6, **options)  # type: ignore[arg-type]
    states = _states(result)
    assert states["COMPLETE"] == 6 and states["RUNNING"] == 0 and states["WAITING"] == 0
    runs = _runs_by_trial(result.parent_run_id)
    assert sorted(runs) == sorted(t.number for t in result.study().trials), runs
    assert all(len(statuses) == 1 for statuses in runs.values()), runs  # each exactly once


def test_the_device_recorded_is_the_one_the_library_trained_on(
    client: Client, data: pd.DataFrame
) -> None:
    """Issue 22.6: the ``gpu`` tag was the first entry of CUDA_VISIBLE_DEVICES, on CPU
    families too. On a cluster reached through a Client each worker decides from what it
    has (here: no GPU), and only a family that uses a device records one: XGBoost's own."""
    result = tune(
        data,
        "y",
        families=["xgboost", "ridge"],
        n_trials=4,
        cv=2,
        pruner=None,
        cluster=client,
        study_name="devices",
        refit=False,
        progress=False,
    )
    trials = result.trials
    assert set(trials.loc[trials["family"] == "xgboost", "device"]) <= {"cpu"}
    assert trials.loc[trials["family"] == "ridge", "device"].isna().all()
    assert trials["gpu"].isna().all()
    runs = {r.data.tags["optuna.trial"]: r for r in _child_runs(result.parent_run_id)}
    for trial in trials.itertuples():
        tags = runs[str(trial.number)].data.tags
        assert tags.get("device") == (trial.device if trial.family == "xgboost" else None)
        assert "gpu" not in tags


def _child_runs(parent_run_id: str) -> list[object]:
    import mlflow

    tracker = mlflow.MlflowClient()
    experiment = tracker.get_run(parent_run_id).info.experiment_id
    return list(
        tracker.search_runs(
            [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'"
        )
    )


def test_a_deleted_project_store_is_a_new_one_for_the_workers(
    client: Client, data: pd.DataFrame, tmp_path: Path
) -> None:
    """Issue 21: processes cached the storage per URL. With the project's .workbench
    deleted, the same process tuned into the deleted file (the study lost), and a new
    driver's trials all failed (UpdateFinishedTrialError) until the workers restarted."""
    import shutil
    import subprocess
    import sys

    options = {"families": ["ridge"], "n_trials": 3, "cv": 2, "refit": False, "progress": False}
    url = resolve_settings().optuna_storage
    first = tune(data, "y", cluster=client, study_name="again", **options)  # type: ignore[arg-type]
    assert first.n_complete == 3
    shutil.rmtree(tmp_path / ".workbench")
    second = tune(data, "y", cluster=client, study_name="again", **options)  # type: ignore[arg-type]
    assert (second.n_complete, second.n_failed, len(second.trials)) == (3, 0, 3)
    fresh = optuna.storages.RDBStorage(url)  # the file now at that path holds the study
    assert len(optuna.load_study(study_name="again", storage=fresh).trials) == 3
    fresh.engine.dispose()

    shutil.rmtree(tmp_path / ".workbench")  # and a new driver (a restarted kernel)
    data.to_parquet(tmp_path / "data.parquet")
    script = (
        "import pandas as pd; from workbench.tuning import tune\n"
        f"frame = pd.read_parquet({str(tmp_path / 'data.parquet')!r})\n"
        f"r = tune(frame, 'y', cluster={client.scheduler.address!r}, study_name='again', "
        f"**{options!r})\n"
        "print(r.n_complete, r.n_failed)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180
    )
    assert done.stdout.split()[-2:] == ["3", "0"], done.stderr[-3000:]


def test_cluster_local_is_this_machine_and_none_follows_the_setting(
    client: Client, data: pd.DataFrame
) -> None:
    """Issue 21: one meaning of cluster="local" (this machine, whatever the setting says),
    and the default (None) runs where the dask_scheduler setting points; the docstring
    says so (it said "local" used the setting)."""
    import dataclasses

    from distributed import get_task_stream

    settings = dataclasses.replace(resolve_settings(), dask_scheduler=client.scheduler.address)
    assert clusters_module.resolve_cluster("local", settings) == "local"
    assert clusters_module.resolve_cluster(None, settings) == client.scheduler.address
    assert clusters_module.resolve_cluster(None, resolve_settings()) == "local"
    with get_task_stream(client) as stream:
        tune(data, "y", families=["ridge"], n_trials=2, cv=2, refit=False, progress=False,
             settings=settings)  # fmt: skip
    assert any("trial-" in str(t["key"]) for t in stream.data)  # on the setting's cluster
    doc = " ".join((tune.__doc__ or "").split())
    assert "``None`` (default): the ``dask_scheduler`` setting when it is set" in doc
    assert '``"local"``: always a LocalCluster on this machine' in doc
