"""Monitoring over time: periods, performance, CBPE, alerts, integrity, errors, MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench import MonitoringError
from workbench.monitoring import (
    CBPE,
    ReferenceProfile,
    check_integrity,
    check_thresholds,
    drift_over_time,
    errors_over_time,
    log_to_mlflow,
    metric_figure,
    performance_over_time,
    periods,
)


def _log(days: int = 6, per_day: int = 400, seed: int = 0) -> pd.DataFrame:
    """A regression log whose inputs drift and whose errors grow from day 3 on."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    day = np.repeat(np.arange(days), per_day)
    x = rng.normal(np.where(day >= 3, 2.0, 0.0), 1.0, n)
    actual = 3 * x + rng.normal(0, 1, n)
    noise = np.where(day >= 3, 4.0, 1.0)
    return pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2024-07-01", tz="UTC")
            + pd.to_timedelta(day * 24 * 3600 + rng.integers(0, 24 * 3600, n), unit="s"),
            "x": x,
            "stable": rng.normal(0, 1, n),
            "prediction": actual + rng.normal(0, noise, n),
            "actual": actual,
        }
    )


def test_periods_by_time_and_by_count() -> None:
    log = _log()
    assert [len(part) for _, part in periods(log, "1D")] == [400] * 6
    keys = [start for start, _ in periods(log, "1D")]
    assert keys[0] == pd.Timestamp("2024-07-01", tz="UTC")
    assert sum(len(p) for _, p in periods(log, "1h")) == len(log)
    assert [len(p) for _, p in periods(log, 1000)] == [1000, 1000, 400]
    with pytest.raises(MonitoringError, match="neither a row count nor a pandas frequency"):
        periods(log, "fortnightly")
    with pytest.raises(MonitoringError, match="time column 'when'"):
        periods(log, "1D", time_column="when")


def test_regression_metrics_per_period_and_alerts() -> None:
    from sklearn import metrics

    log = _log()
    log.loc[log.index % 5 == 0, "actual"] = np.nan  # actuals not in yet for some rows
    table = performance_over_time(log, task="regression", period="1D")
    assert list(table.columns) == ["window", "rows", "labelled", "mae", "rmse", "mape", "r2"]
    first = log[(log["timestamp"] < pd.Timestamp("2024-07-02", tz="UTC")) & log["actual"].notna()]
    assert table.loc[0, "labelled"] == len(first) == 320
    assert table.loc[0, "rmse"] == pytest.approx(
        np.sqrt(metrics.mean_squared_error(first["actual"], first["prediction"]))
    )
    r2 = metrics.r2_score(first["actual"], first["prediction"])
    assert table.loc[0, "r2"] == pytest.approx(r2)
    alerts = check_thresholds(table, {"rmse": ("max", 2.0), "r2": ("min", 0.5)})
    flagged = {(a.metric, a.window.day) for a in alerts}
    assert {("rmse", d) for d in (4, 5, 6)} <= flagged
    assert not any(day < 4 for _, day in flagged)
    assert "above the maximum 2" in next(a for a in alerts if a.metric == "rmse").reason
    fig = metric_figure(table, "rmse", threshold=("max", 2.0))
    assert fig.data[0].y[0] == pytest.approx(table.loc[0, "rmse"])
    assert fig.data[0].marker.color[-1] == "#d62728"  # the crossing periods in red


def test_classification_metrics_match_sklearn() -> None:
    from sklearn import metrics

    rng = np.random.default_rng(1)
    n = 900
    actual = rng.choice(["no", "yes"], n, p=[0.7, 0.3])
    score = np.clip((actual == "yes") * 0.5 + rng.normal(0.25, 0.25, n), 0, 1)
    log = pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(np.arange(n), "min"),
            "actual": actual,
            "prediction": np.where(score >= 0.5, "yes", "no"),
            "score": score,
        }
    )
    table = performance_over_time(log, task="classification", period=300, score="score")
    part = log.iloc[:300]
    assert table.loc[0, "f1_binary"] == pytest.approx(
        metrics.f1_score(part["actual"], part["prediction"], pos_label="yes")
    )
    assert table.loc[0, "roc_auc"] == pytest.approx(
        metrics.roc_auc_score(part["actual"] == "yes", part["score"])
    )
    with pytest.raises(MonitoringError, match=r"columns \['truth'\]"):
        performance_over_time(log, task="classification", actual="truth")


def test_cbpe_estimates_what_is_later_realized_under_covariate_shift() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)

    def sample(n: int, centre: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(centre, 1.0, (n, 2))
        p = 1 / (1 + np.exp(-(2 * x[:, 0] - x[:, 1])))
        return x, (rng.random(n) < p).astype(int)

    x_train, y_train = sample(5000, 0.0)
    model = LogisticRegression().fit(x_train, y_train)
    x_ref, y_ref = sample(5000, 0.0)
    cbpe = CBPE().fit(model.predict_proba(x_ref)[:, 1], y_ref, classes=model.classes_)
    for centre in (0.0, 0.6, 1.2):  # production drifts where the model is less sure
        x_cur, y_cur = sample(4000, centre)
        scores = model.predict_proba(x_cur)[:, 1]
        estimate = cbpe.estimate(scores)
        predicted = (scores >= 0.5).astype(int)
        realized = float((predicted == y_cur).mean())
        assert estimate["accuracy"] == pytest.approx(realized, abs=0.03)
        tp = ((predicted == 1) & (y_cur == 1)).sum()
        assert estimate["precision_binary"] == pytest.approx(tp / predicted.sum(), abs=0.04)
    frame = pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(np.arange(400), "h"),
            "score": model.predict_proba(sample(400, 0.0)[0])[:, 1],
        }
    )
    per_day = cbpe.estimate_over_time(frame, "score", period="1D")
    assert len(per_day) == 17 and per_day["accuracy"].between(0, 1).all()


def test_drift_per_period_pandas_and_dask_agree_and_alert(tmp_path: Path) -> None:
    import dask.dataframe as dd

    log = _log()
    earlier = _log(seed=9)
    before = earlier["timestamp"] < pd.Timestamp("2024-07-04", tz="UTC")
    reference = earlier.loc[before, ["x", "stable", "prediction"]]
    profile = ReferenceProfile.from_frame(reference)
    timeline = drift_over_time(profile, log, "1D", ["x", "stable", "prediction"])
    table = timeline.frame()
    assert len(table) == 6 and table["rows"].tolist() == [400] * 6
    assert table["dataset_drift"].tolist() == [False] * 3 + [True] * 3
    assert {a.window[:10] for a in timeline.alerts()} == {"2024-07-04", "2024-07-05", "2024-07-06"}
    assert "x" in timeline.alerts()[0].reason
    on_dask = drift_over_time(
        profile, dd.from_pandas(log, npartitions=5), "1D", ["x", "stable", "prediction"]
    ).frame()
    pd.testing.assert_frame_equal(on_dask, table, rtol=1e-12)
    by_count = drift_over_time(profile, log, 1200, ["x", "stable"]).frame()
    assert by_count["window"].tolist() == [0, 1200] and by_count["dataset_drift"].tolist() == [
        False,
        True,
    ]
    with pytest.raises(MonitoringError, match="Count periods need the rows in one order"):
        drift_over_time(profile, dd.from_pandas(log, npartitions=2), 100, ["x"])


def test_drift_per_period_leaves_datetime_columns_out_and_says_so() -> None:
    log = _log()
    log["ordered_at"] = log["timestamp"] - pd.Timedelta("3D")  # a date among the inputs
    earlier = _log(seed=9)
    earlier["ordered_at"] = earlier["timestamp"] - pd.Timedelta("3D")
    reference = earlier[earlier["timestamp"] < pd.Timestamp("2024-07-04", tz="UTC")]
    for ref in (reference, ReferenceProfile.from_frame(reference.drop(columns="timestamp"))):
        timeline = drift_over_time(ref, log, "1D")
        for snap in timeline.snapshots:
            assert [c.column for c in snap.columns] == ["x", "stable", "prediction", "actual"]
            assert list(snap.skipped) == ["ordered_at"]
        assert "ordered_at" not in timeline.frame().columns  # no statistic of dates


def test_integrity_names_type_range_category_and_missing_problems() -> None:
    from workbench.data import ColumnContract, Contract

    contract = Contract(
        columns=[
            ColumnContract("kwh", "float", min=0, max=1000),
            ColumnContract("region", "category", categories=("north", "south")),
            ColumnContract("meter", "str", nullable=True),
        ]
    )
    reference = ReferenceProfile.from_frame(
        pd.DataFrame(
            {
                "kwh": [10.0, 20.0, 30.0] * 10,
                "region": ["north", "south"] * 15,
                "meter": ["a", "b", "c"] * 10,
            }
        )
    )
    batch = pd.DataFrame(
        {
            "kwh": ["12.5", "lots", "-4", "5000", "7"],
            "region": ["north", "east", "south", "north", "north"],
            "meter": ["a", None, None, "z", None],
        }
    )
    report = check_integrity(batch, contract, reference, source="batch-7")
    problems = {(r["column"], r["problem"]): r for r in report.violations.to_dict("records")}
    assert problems[("kwh", "type error")]["examples"] == ["lots"]
    assert problems[("kwh", "out of range")]["count"] == 2
    assert problems[("region", "unknown category")]["examples"] == ["east"]
    assert problems[("meter", "missing-value surge")]["count"] == 3
    assert problems[("meter", "new category")]["examples"] == ["z"]
    assert report.quarantined == 3 and not report.ok
    assert any("kwh" in a.reason and "type error" in a.reason for a in report.alerts)


def test_errors_per_period_from_the_error_log(tmp_path: Path) -> None:
    from workbench.serving import InferenceLogWriter

    writer = InferenceLogWriter(tmp_path / "errors", prefix="errors", flush_seconds=60)
    times = pd.to_datetime(["2024-07-01 10:00", "2024-07-01 11:00", "2024-07-02 09:00"], utc=True)
    writer.append(
        pd.DataFrame(
            {
                "request_id": ["a", "b", "c"],
                "timestamp": times,
                "status": [400, 415, 500],
                "error_code": ["BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE", "INTERNAL_ERROR"],
                "message": ["x", "y", "z"],
                "model_version": ["1", "1", "1"],
            }
        )
    )
    writer.close()
    table = errors_over_time(tmp_path, "1D")
    assert table["errors"].tolist() == [2, 1]
    assert table["client_errors"].tolist() == [2, 0] and table["server_errors"].tolist() == [0, 1]
    assert table["415"].tolist() == [1, 0]
    assert errors_over_time(tmp_path / "elsewhere", "1D").empty


def test_results_are_recorded_in_mlflow(tmp_path: Path) -> None:
    import mlflow

    from workbench._settings import resolve_settings

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(tmp_path)
    log = _log()
    profile = ReferenceProfile.from_frame(log.head(1200)[["x", "stable"]])
    timeline = drift_over_time(profile, log, "1D", progress=False)
    table = performance_over_time(log, task="regression", period="1D")
    alerts = check_thresholds(table, {"rmse": ("max", 2.0)})
    run_id = log_to_mlflow(
        "daily check", timeline=timeline, performance=table, alerts=alerts, settings=settings
    )
    mlflow.set_tracking_uri(settings.tracking_uri)
    client = mlflow.MlflowClient()
    history = client.get_metric_history(run_id, "performance.rmse")
    assert [m.step for m in history] == list(range(6))
    assert [m.value for m in history] == pytest.approx(table["rmse"].tolist())
    assert len(client.get_metric_history(run_id, "drift.x")) == 6
    files = {f.path for f in client.list_artifacts(run_id)}
    assert {"alerts.json", "performance.json", "snapshots"} <= files


def test_the_profile_stored_with_the_model_feeds_prediction_drift(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    from workbench._settings import resolve_settings
    from workbench.monitoring import compute_drift, reference_profile_of
    from workbench.packaging import package_model

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(tmp_path)
    rng = np.random.default_rng(4)
    train = pd.DataFrame({"x": rng.normal(0, 1, 3000), "who": rng.choice(["ann", "bob"], 3000)})
    train["y"] = 2 * train["x"] + rng.normal(0, 0.1, 3000)
    model = Ridge().fit(train[["x"]], train["y"])
    package_model(
        model,
        train[["x", "y"]].assign(who=train["who"]),
        "profiled",
        target="y",
        personal=["who"],
        measure_cost=False,
        progress=False,
        settings=settings,
    )
    profile = reference_profile_of("profiled", alias="challenger", settings=settings)
    assert set(profile.columns) == {"x", "y", "prediction"}  # personal columns never stored
    later = pd.DataFrame({"x": rng.normal(1.5, 1, 2000)})
    later["prediction"] = model.predict(later[["x"]])
    later["actual"] = 2 * later["x"]  # recorded later, by request id
    # prediction drift, and target drift: the actuals against the reference's target
    snap = compute_drift(profile, later.rename(columns={"actual": "y"}), ["x", "prediction", "y"])
    assert snap.drifted_columns == ["x", "prediction", "y"]
    with pytest.raises(MonitoringError, match=r"No registered version profiled@champion"):
        reference_profile_of("profiled", alias="champion", settings=settings)


# -- seasonal references ------------------------------------------------------------------

_HOLIDAYS = {"01-01", "01-06", "04-25", "05-01", "08-15", "11-01", "12-08", "12-25", "12-26"}


def _seasonal(
    first: str, last: str, *, change: str | None = None, per_day: int = 20, seed: int = 0
) -> pd.DataFrame:
    """Daily rows of a year with a season: a temperature that follows the calendar,
    holidays on fixed calendar days, and a production volume that steps up by 40 % from
    ``change`` on (nothing changes without it)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(first, last, freq="D")
    day = np.repeat(days, per_day)
    doy = np.asarray(day.day_of_year)
    season = 15.0 + 9.0 * np.sin(2 * np.pi * (doy - 110) / 365.25)
    volume = rng.uniform(800, 1100, len(day))
    if change is not None:
        volume = np.where(day >= pd.Timestamp(change), volume * 1.4, volume)
    return pd.DataFrame(
        {
            "date": day,
            "temperature": (season + rng.normal(0, 2.5, len(day))).round(1),
            "volume": volume.round(0),
            "holiday": pd.Series(day.strftime("%m-%d")).isin(_HOLIDAYS).to_numpy(),
            "shift": rng.choice(["day", "night"], len(day)),
        }
    )


def _red(timeline: object, column: str, after: str | None = None) -> tuple[int, int]:
    """Red weeks of ``column`` and weeks in all (from ``after`` on, when given)."""
    snaps = [
        s
        for s in timeline.snapshots  # type: ignore[attr-defined]
        if after is None or pd.Timestamp(s.metadata["window"]) >= pd.Timestamp(after, tz="UTC")
    ]
    return sum(s.column(column).drifted for s in snaps), len(snaps)


@pytest.fixture(scope="module")
def year_profile() -> ReferenceProfile:
    reference = _seasonal("2023-01-01", "2023-12-31", seed=1)
    return ReferenceProfile.from_frame(
        reference, ["temperature", "volume", "holiday", "shift"], time_column="date"
    )


def test_a_season_without_change_stays_green_against_the_same_days_not_the_whole_year(
    year_profile: ReferenceProfile,
) -> None:
    current = _seasonal("2024-01-01", "2024-12-31", seed=2)
    seasonal = drift_over_time(year_profile, current, "1W", time_column="date", progress=False)
    whole = drift_over_time(
        year_profile, current, "1W", time_column="date", compare_with="whole", progress=False
    )
    assert seasonal.reference == "the same days of the reference year"  # chosen by itself
    assert whole.reference == "the whole reference"
    for column in ("temperature", "volume", "holiday", "shift"):
        red, weeks = _red(seasonal, column)
        assert weeks == 53 and red <= 5, (column, red)  # chance alone: 5 % of 53
    # against a whole year, a week of a season is "drifted" almost every week
    assert _red(whole, "temperature")[0] >= 45
    # a week is compared with the rows of its own seven calendar days of the reference
    # (six for the week of 29 February: 2023 has none)
    rows = {s.metadata["window"][:10]: s.reference_rows for s in seasonal.snapshots[1:-1]}
    assert rows.pop("2024-02-26") == 6 * 20 and set(rows.values()) == {7 * 20}
    assert {s.reference_rows for s in whole.snapshots} == {365 * 20}


def test_a_change_at_a_date_turns_red_from_that_date_on(year_profile: ReferenceProfile) -> None:
    current = _seasonal("2024-01-01", "2024-12-31", change="2024-07-01", seed=3)
    timeline = drift_over_time(year_profile, current, "1W", time_column="date", progress=False)
    red_after, weeks_after = _red(timeline, "volume", after="2024-07-01")
    assert red_after == weeks_after == 27
    before = [
        s.column("volume").drifted
        for s in timeline.snapshots
        if pd.Timestamp(s.metadata["window"]) < pd.Timestamp("2024-07-01", tz="UTC")
    ]
    assert sum(before) <= 2 and len(before) == 26
    assert _red(timeline, "temperature", after="2024-07-01")[0] <= 3  # the season: green


def test_seasonal_statistics_are_scipy_s_on_the_same_rows(year_profile: ReferenceProfile) -> None:
    from scipy import stats

    reference = _seasonal("2023-01-01", "2023-12-31", seed=1)
    current = _seasonal("2024-01-01", "2024-12-31", change="2024-07-01", seed=3)
    chosen = {"temperature": "wasserstein", "shift": "chisquare"}
    ks = drift_over_time(year_profile, current, "1W", time_column="date", progress=False)
    other = drift_over_time(
        year_profile, current, "1W", time_column="date", tests=chosen, progress=False
    )
    wide = drift_over_time(
        year_profile, current, "1W", time_column="date", tolerance=3, progress=False
    )
    calendar_day = reference["date"].dt.strftime("%m-%d")
    for index in (5, 30, 40):  # a winter week, and two after the change
        start = pd.Timestamp(ks.snapshots[index].metadata["window"]).tz_localize(None)
        end = start + pd.Timedelta(days=6)
        cur = current[current["date"].between(start, end)]
        for snaps, tolerance in ((ks, 0), (other, 0), (wide, 3)):
            days = pd.date_range(
                start - pd.Timedelta(days=tolerance), end + pd.Timedelta(days=tolerance)
            )
            ref = reference[calendar_day.isin(days.strftime("%m-%d"))]
            assert snaps.snapshots[index].reference_rows == len(ref)
        ref = reference[calendar_day.isin(pd.date_range(start, end).strftime("%m-%d"))]
        snap = ks.snapshots[index]
        for column in ("temperature", "volume"):
            assert snap.column(column).test == "ks"  # 140 reference rows: Evidently's rule
            expected = stats.ks_2samp(ref[column], cur[column]).pvalue
            assert snap.column(column).statistic == pytest.approx(expected, rel=1e-9)
        normed = stats.wasserstein_distance(ref["temperature"], cur["temperature"]) / max(
            float(np.std(ref["temperature"])), 0.001
        )
        assert other.snapshots[index].column("temperature").statistic == pytest.approx(normed)
        keys = ["day", "night"]
        observed = cur["shift"].value_counts().reindex(keys).to_numpy()
        shares = ref["shift"].value_counts(normalize=True).reindex(keys).to_numpy()
        chi = stats.chisquare(observed, shares * observed.sum()).pvalue
        assert other.snapshots[index].column("shift").statistic == pytest.approx(chi)
        wide_ref = reference[
            calendar_day.isin(
                pd.date_range(start - pd.Timedelta(days=3), end + pd.Timedelta(days=3)).strftime(
                    "%m-%d"
                )
            )
        ]
        assert wide.snapshots[index].column("volume").statistic == pytest.approx(
            stats.ks_2samp(wide_ref["volume"], cur["volume"]).pvalue, rel=1e-9
        )


def test_the_seasonal_reference_is_chosen_where_it_can_be_and_asked_for_plainly(
    year_profile: ReferenceProfile,
) -> None:
    current = _seasonal("2024-01-01", "2024-03-31", seed=4)
    # periods by another time than the reference's event time: the whole reference
    by_arrival = current.rename(columns={"date": "timestamp"})
    assert drift_over_time(year_profile, by_arrival, "1W", progress=False).reference == (
        "the whole reference"
    )
    # periods of rows have no calendar days
    assert drift_over_time(year_profile, current, 500, time_column="date").reference == (
        "the whole reference"
    )
    with pytest.raises(MonitoringError, match="periods of rows have none"):
        drift_over_time(year_profile, current, 500, time_column="date", compare_with="seasonal")
    # a reference of less than a year: the whole of it, unless asked
    half = ReferenceProfile.from_frame(
        _seasonal("2023-01-01", "2023-06-30"), ["temperature"], time_column="date"
    )
    assert not half.seasonal_ready
    assert drift_over_time(half, current, "1W", time_column="date").reference == (
        "the whole reference"
    )
    asked = drift_over_time(half, current, "1W", time_column="date", compare_with="seasonal")
    assert asked.reference == "the same days of the reference year"
    later = _seasonal("2024-09-01", "2024-09-30")
    with pytest.raises(MonitoringError, match="no row on the calendar days of 2024-08-26"):
        drift_over_time(half, later, "1W", time_column="date", compare_with="seasonal")
    # a profile without a calendar, and words that are no choice
    plain = ReferenceProfile.from_frame(_seasonal("2023-01-01", "2023-12-31"), ["temperature"])
    assert drift_over_time(plain, current, "1W", time_column="date").reference == (
        "the whole reference"
    )
    with pytest.raises(MonitoringError, match="profile it with time_column"):
        drift_over_time(plain, current, "1W", time_column="date", compare_with="seasonal")
    with pytest.raises(MonitoringError, match=r"'compare_with'.*Got 'yearly'"):
        drift_over_time(year_profile, current, "1W", time_column="date", compare_with="yearly")
    with pytest.raises(MonitoringError, match=r"at least 0\. Got -1"):
        drift_over_time(year_profile, current, "1W", time_column="date", tolerance=-1)


def test_few_rows_on_a_period_s_days_widen_them_until_there_are_enough(
    year_profile: ReferenceProfile,
) -> None:
    current = _seasonal("2024-03-10", "2024-03-19", seed=5)
    daily = drift_over_time(year_profile, current, "1D", time_column="date", progress=False)
    # 20 reference rows a day: two days on each side make the 100 wanted
    assert {s.reference_rows for s in daily.snapshots} == {100}
    assert {s.metadata["reference"] for s in daily.snapshots} == {
        "the same days of the reference year (± 2 days)"
    }


def test_a_model_packaged_with_its_event_time_is_monitored_against_the_same_days(
    tmp_path: Path,
) -> None:
    from workbench._settings import resolve_settings
    from workbench.monitoring import reference_profile_of

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(tmp_path)
    model = _package_a_seasonal_model(settings)
    profile = reference_profile_of("seasonal", alias="challenger", settings=settings)
    assert profile.seasonal_ready and profile.calendar is not None
    assert profile.calendar.column == "date"
    assert set(profile.calendar.days["07-01"].columns) == {
        "temperature",
        "volume",
        "y",
        "prediction",
    }
    later = _seasonal("2024-01-01", "2024-12-31", per_day=4, seed=7)
    later["prediction"] = model.predict(later[["temperature", "volume"]])
    columns = ["temperature", "prediction"]
    timeline = drift_over_time(profile, later, "1W", columns, time_column="date", progress=False)
    assert timeline.reference == "the same days of the reference year"
    assert _red(timeline, "prediction")[0] <= 5  # the season of the predictions: green
    whole = drift_over_time(
        profile, later, "1W", columns, time_column="date", compare_with="whole", progress=False
    )
    assert _red(whole, "prediction")[0] >= 40


def test_the_scheduled_monitor_compares_each_week_with_the_same_days_as_the_dashboard(
    tmp_path: Path,
) -> None:
    """``run_monitor`` (``workbench monitor``) computes a week's drift as the dashboard
    does: against the same days of the reference year where the version's profile has a
    year of the event time the log's periods follow, so a season alone raises no drift
    alert; the snapshots it writes for the dashboard say what they compared with."""
    import json

    from workbench._settings import resolve_settings
    from workbench.monitoring import run_monitor
    from workbench.serving import InferenceLogWriter

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(
        tmp_path, environ={"WORKBENCH_MONITORING_DIR": str(tmp_path / "monitoring")}
    )
    model = _package_a_seasonal_model(settings)
    later = _seasonal("2024-01-01", "2024-06-30", per_day=4, seed=7)
    logged = later[["date", "temperature", "volume"]].copy()
    logged["prediction"] = model.predict(later[["temperature", "volume"]])
    logged["request_id"] = [f"r{i}" for i in range(len(logged))]
    logged["row_in_request"] = 0
    logged["timestamp"] = pd.Timestamp("2024-07-01", tz="UTC")  # all arrived on one day
    logged["model_name"], logged["model_version"], logged["latency_ms"] = "seasonal", "1", 1.0
    log = tmp_path / "log"
    writer = InferenceLogWriter(log)
    writer.append(logged)
    writer.close()

    result = run_monitor(
        "seasonal", alias="challenger", log_dir=log, period="1W", thresholds={}, settings=settings
    )
    weeks = result.periods
    assert len(weeks) >= 26  # weeks of the event time, not the one day of arrival
    red = sum("temperature" in str(d) for d in weeks["drifted"])
    assert red <= 3, weeks[["window", "drifted"]]
    assert not any(a.metric == "drift" for a in result.alerts), result.alerts
    shown = [json.loads(Path(p).read_text())["metadata"] for p in result.snapshots]
    assert shown and all(
        m["reference"].startswith("the same days of the reference year") for m in shown
    )


def _package_a_seasonal_model(settings: Any) -> Any:
    """``seasonal`` v1 in the project of ``settings``: a ridge over a year of daily rows,
    packaged with a contract naming ``date`` its event time (so its profile keeps a
    calendar); the fitted model."""
    import dataclasses

    from sklearn.linear_model import Ridge

    from workbench.data import infer_contract
    from workbench.packaging import package_model

    year = _seasonal("2023-01-01", "2023-12-31", per_day=4, seed=6)
    year["y"] = 3 * year["temperature"] + year["volume"] / 100
    model = Ridge().fit(year[["temperature", "volume"]], year["y"])
    contract = dataclasses.replace(
        infer_contract(year[["date", "temperature", "volume", "y"]]), event_time="date"
    )
    package_model(
        model,
        year[["temperature", "volume", "y"]],
        "seasonal",
        target="y",
        reference=year[["date", "temperature", "volume", "y"]],
        contract=contract,
        measure_cost=False,
        progress=False,
        settings=settings,
    )
    return model
