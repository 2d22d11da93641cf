"""Retraining on the demo's data in a small project: three factories, a year before the
1 July 2024 regime change and three months after it.

The champion is trained as the demo trains it (the recipe's point-in-time training set,
``fit_baseline``); ``retrain`` rebuilds the training set from the feature store up to a
date, refits the champion's pipeline and packages it as ``@challenger``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench._exceptions import DataError
from workbench._settings import resolve_settings
from workbench.datasets import (
    ELECTRICITY_CONTRACT,
    ELECTRICITY_FEATURES,
    ELECTRICITY_TARGET,
    electricity_feature_view,
    electricity_training_set,
    make_electricity,
)
from workbench.features import FeatureStore
from workbench.packaging import package_model, promote, retrain
from workbench.tuning import fit_baseline, time_split


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A project whose champion was trained before the change; the valid label rows."""
    project = tmp_path_factory.mktemp("retrain-project")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\n\n[tool.workbench]\nmodel_name = "elec"\n'
    )
    settings = resolve_settings(project, environ={})
    data = make_electricity(3, "2023-07-01", "2024-10-31", "2024-07-01", seed=3)
    rows = data.truth.astype({"region": "str", "date": "datetime64[ns]"})
    source = project / "valid.parquet"
    rows.to_parquet(source, index=False)
    store = FeatureStore([electricity_feature_view(source)], settings=settings)
    store.materialize("factory_daily", progress=False)
    features = electricity_training_set(store, rows[rows["date"] < "2024-07-01"], progress=False)
    train, holdout = time_split(features, "date", "2024-05-01", "2024-07-01")
    fit = fit_baseline(
        train,
        holdout,
        features=ELECTRICITY_FEATURES,
        target=ELECTRICITY_TARGET,
        categorical=["region"],
        settings=settings,
    )
    package_model(
        fit.model,
        fit.train,
        target=ELECTRICITY_TARGET,
        run_id=fit.run_id,
        contract=ELECTRICITY_CONTRACT,
        lineage=features.attrs["lineage"],
        measure_cost=False,
        progress=False,
        settings=settings,
    )
    promote("elec", holdout, target=ELECTRICITY_TARGET, settings=settings)
    return project, rows


def test_retrain_refits_the_champions_pipeline_on_the_store_up_to_a_date(
    demo: tuple[Path, pd.DataFrame],
) -> None:
    import mlflow.sklearn
    from sklearn.metrics import mean_squared_error

    project, rows = demo
    settings = resolve_settings(project, environ={})
    done = retrain(
        labels=rows,
        until="2024-10-01",
        since="2024-07-01",
        backtest_days=14,
        measure_cost=False,
        settings=settings,
    )
    assert done.model.version == 2 and done.champion_version == 1
    assert done.model.alias == "challenger"
    # the training set, point-in-time, as the recipe builds it for the same label rows
    wanted = rows[(rows["date"] >= "2024-07-01") & (rows["date"] < "2024-09-17")]
    expected = electricity_training_set(
        FeatureStore(settings=settings), wanted.reset_index(drop=True), progress=False
    )
    got = done.train.sort_values(["date", "factory_id"]).reset_index(drop=True)
    expected = expected.sort_values(["date", "factory_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got[["date", "factory_id", *ELECTRICITY_FEATURES, ELECTRICITY_TARGET]],
        expected[["date", "factory_id", *ELECTRICITY_FEATURES, ELECTRICITY_TARGET]],
        check_dtype=False,
    )
    assert done.backtest["date"].min() == pd.Timestamp("2024-09-17")
    assert done.backtest["date"].max() == pd.Timestamp("2024-09-30")
    # the champion's configuration, refitted
    old = mlflow.sklearn.load_model("models:/elec/1")
    new = mlflow.sklearn.load_model("models:/elec@challenger")
    assert type(new) is type(old)
    assert {k: repr(v) for k, v in new.get_params(deep=False).items() if k != "steps"} == {
        k: repr(v) for k, v in old.get_params(deep=False).items() if k != "steps"
    }
    assert repr(new[-1].get_params()) == repr(old[-1].get_params())
    np.testing.assert_allclose(
        new.predict(done.backtest[list(ELECTRICITY_FEATURES)]),
        done.backtest["prediction_challenger"],
    )
    # the backtest, against scikit-learn
    truth = done.backtest[ELECTRICITY_TARGET]
    for who in ("challenger", "champion"):
        rmse = mean_squared_error(truth, done.backtest[f"prediction_{who}"]) ** 0.5
        assert done.scores.loc[who, "rmse"] == pytest.approx(rmse)
    # the regime change broke the champion; the refit on post-change data is better
    assert (
        done.better and done.scores.loc["challenger", "rmse"] < done.scores.loc["champion", "rmse"]
    )
    assert "not worse" in done.summary()
    # its card and lineage
    card = done.model.card
    assert card.params["retrained_from"] == "v1" and card.params["retrained_until"] == "2024-10-01"
    assert "factory_daily" in str(card.to_dict())
    # promotion on the backtest rows agrees
    promoted = promote("elec", done.backtest, target=ELECTRICITY_TARGET, settings=settings)
    assert promoted.version == 2 and promoted.previous == 1


def test_retrain_says_what_is_missing(demo: tuple[Path, pd.DataFrame]) -> None:
    project, rows = demo
    settings = resolve_settings(project, environ={})
    with pytest.raises(DataError, match="no column 'consumption_kwh'"):
        retrain(labels=rows.drop(columns=ELECTRICITY_TARGET), until="2024-10-01", settings=settings)
    with pytest.raises(DataError, match="label rows before 2024-10-17"):
        retrain(labels=rows, until="2024-10-31", since="2024-10-20", settings=settings)
    with pytest.raises(DataError, match="does not exist"):
        retrain(labels=project / "nope.parquet", until="2024-10-01", settings=settings)


def test_the_retrain_command_names_what_is_wrong(
    demo: tuple[Path, pd.DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench._cli import main

    project, _ = demo
    code = main(
        ["retrain", "--project-dir", str(project), "--labels", "x.parquet", "--until", "2024-10-01"]
    )
    assert code == 2
    assert "The labels file x.parquet does not exist." in capsys.readouterr().err


def test_retrain_with_a_short_re_tune_packages_the_studys_best_as_challenger(
    demo: tuple[Path, pd.DataFrame],
) -> None:
    """``tune=2``: a real Optuna study of two trials on a local Dask cluster, over the
    champion's family (it was not tuned by a study), on the rebuilt rows before the
    backtest days; its best pipeline is backtested and packaged with the study linked."""
    import mlflow.sklearn
    from sklearn.metrics import mean_squared_error

    from workbench._tracking import mlflow_for
    from workbench._versions import VersionArtifacts
    from workbench.packaging._retrain import study_space

    project, rows = demo
    settings = resolve_settings(project, environ={})
    before = VersionArtifacts.of("elec", alias="champion", settings=settings).version
    done = retrain(
        labels=rows,
        until="2024-10-01",
        since="2024-07-01",
        backtest_days=14,
        measure_cost=False,
        tune=2,
        n_workers=1,
        tags={"requested_by": "test"},
        settings=settings,
    )
    study = done.tuning
    assert study is not None and study.n_complete == 2
    assert study.best_family == "hist_gradient_boosting"  # the champion's family
    assert done.champion_version == before and done.model.alias == "challenger"
    client = mlflow_for(settings).MlflowClient()
    parent = client.get_run(study.parent_run_id)
    assert parent.data.params["families"] == "hist_gradient_boosting"
    assert parent.data.params["metric"] == "rmse"
    # the study saw the rebuilt rows before the backtest days, nothing later
    assert done.train["date"].max() == pd.Timestamp("2024-09-16")
    # the packaged challenger is the study's best pipeline, with the best trial's values
    new = mlflow.sklearn.load_model(f"models:/elec/{done.model.version}")
    features = list(ELECTRICITY_FEATURES)
    np.testing.assert_allclose(
        new.predict(done.backtest[features]), study.best_model.predict(done.backtest[features])
    )
    drawn = {k.split(".", 1)[1]: v for k, v in study.best_params.items() if "." in k}
    assert drawn and all(new[-1].get_params()[k] == v for k, v in drawn.items())
    truth = done.backtest[ELECTRICITY_TARGET]
    for who in ("challenger", "champion"):
        rmse = mean_squared_error(truth, done.backtest[f"prediction_{who}"]) ** 0.5
        assert done.scores.loc[who, "rmse"] == pytest.approx(rmse)
    card = done.model.card
    assert card.tuning is not None and card.tuning["study"] == study.study_name
    assert card.params["retuned"] == f"2 trials of study {study.study_name}"
    assert "re-tuned (2 trials, hist_gradient_boosting)" in done.summary()
    tags = client.get_model_version("elec", str(done.model.version)).tags
    assert tags["requested_by"] == "test" and tags["retrained_from"] == str(before)
    # a re-tune of this challenger would search what its own study searched
    space = study_space(
        VersionArtifacts.of("elec", version=done.model.version, settings=settings), settings
    )
    assert space == {
        "families": ["hist_gradient_boosting"],
        "study": study.study_name,
        "metric": "rmse",
        "cv": 5,
    }
    old = VersionArtifacts.of("elec", version=1, settings=settings)
    assert study_space(old, settings) is None  # the baseline had no study


def test_retrain_names_a_wrong_number_of_trials(
    demo: tuple[Path, pd.DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench._cli import main
    from workbench._exceptions import ConfigurationError
    from workbench.packaging._retrain import family_of

    project, rows = demo
    settings = resolve_settings(project, environ={})
    with pytest.raises(ConfigurationError, match="tune is the number of re-tuning trials"):
        retrain(labels=rows, until="2024-10-01", tune=-1, settings=settings)
    with pytest.raises(SystemExit):
        main(["retrain", "--labels", "x.parquet", "--until", "2024-10-01", "--tune", "two"])
    assert "--tune takes a number of trials (0 or more); got 'two'" in capsys.readouterr().err
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline

    assert family_of(make_pipeline(Ridge()), "regression") == "ridge"
    with pytest.raises(ConfigurationError, match="KNeighborsRegressor is none of the ready-made"):
        family_of(make_pipeline(KNeighborsRegressor()), "regression")


def test_an_alert_rule_retrains_and_promotes_when_its_alert_fires(
    demo: tuple[Path, pd.DataFrame],
) -> None:
    """The loop closed by an alert rule: September's served rows and their actuals
    reach the scheduled monitor, the champion's error crosses its bound, and the rule's
    action retrains it on the rows since the change up to the end of the period that
    fired, packages the challenger, promotes it (not worse on the backtest) and tells
    the receiver; the next run retrains nothing."""
    import mlflow.sklearn

    from workbench._tracking import mlflow_for
    from workbench._versions import VersionArtifacts
    from workbench.monitoring import AlertAction, AlertInbox, Notifier, WebhookReceiver, run_monitor
    from workbench.serving import InferenceLogWriter, log_actuals

    project, rows = demo
    settings = resolve_settings(
        project, environ={"WORKBENCH_MONITORING_DIR": str(project / "alert-monitor")}
    )
    champion = VersionArtifacts.of("elec", alias="champion", settings=settings).version
    served = rows[(rows["date"] >= "2024-09-01") & (rows["date"] < "2024-10-01")]
    features = electricity_training_set(
        FeatureStore(settings=settings), served.reset_index(drop=True), progress=False
    )
    model = mlflow.sklearn.load_model(f"models:/elec/{champion}")
    out = features[list(ELECTRICITY_FEATURES)].copy()
    out["prediction"] = model.predict(out)
    out["request_id"] = [f"r{i}" for i in range(len(out))]
    out["row_in_request"] = 0
    out["timestamp"] = pd.to_datetime(features["date"]).dt.tz_localize("UTC") + pd.Timedelta(
        hours=12
    )
    out["model_name"], out["model_version"], out["latency_ms"] = "elec", str(champion), 3.0
    log = project / "alert-log"
    writer = InferenceLogWriter(log)
    writer.append(out)
    writer.close()
    log_actuals(log, list(out["request_id"]), list(features[ELECTRICITY_TARGET]))
    rule = AlertAction(
        "mae",
        labels=str(project / "valid.parquet"),
        backtest_days=14,
        since_days=92,
        promote=True,
        measure_cost=False,
    )
    with AlertInbox() as inbox:

        def monitor() -> object:
            return run_monitor(
                "elec",
                log_dir=log,
                thresholds={"mae": ("max", 1.0)},  # a bound the champion crosses
                notifier=Notifier([WebhookReceiver(inbox.url)]),
                actions=[rule],
                settings=settings,
            )

        fired = monitor()
        assert [a.metric for a in fired.alerts if a.metric == "mae"] == ["mae"]
        (outcome,) = fired.actions
        assert outcome.state == "done" and outcome.promoted, outcome
        new = VersionArtifacts.of("elec", alias="champion", settings=settings)
        assert str(new.version) == outcome.version and new.version > champion
        assert outcome.window == "2024-09-30T00:00:00+00:00"
        assert f"refitted from v{champion}" in outcome.detail
        client = mlflow_for(settings).MlflowClient()
        tags = client.get_model_version("elec", str(new.version)).tags
        assert tags["retrained_because"].startswith("alert mae on 2024-09-30")
        assert tags["retrained_until"] == "2024-10-01"
        card = new.model_card_path.read_text()  # type: ignore[union-attr]
        assert '"retrained_since": "2024-07-01"' in card
        titles = inbox.titles()
        source = f"elec v{champion} (@champion)"
        assert f"[ALERT] {source}: mae" in titles
        assert titles[-1] == f"[RETRAINED] {source}: mae"
        assert "promoted to @champion" in inbox.messages[-1]["text"]
        experiment = client.get_experiment_by_name("monitoring/elec")
        (run,) = client.search_runs(
            [experiment.experiment_id], "tags.`workbench.monitor_run` = '1'"
        )
        assert '"state": "done"' in run.data.tags["workbench.actions"]
        versions = len(client.search_model_versions("name = 'elec'"))
        again = monitor()
        assert (
            again.actions == () and len(client.search_model_versions("name = 'elec'")) == versions
        )
