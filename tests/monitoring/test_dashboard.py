"""The monitoring dashboard's data (one pass, periods that add up) and its widget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import MonitoringError
from workbench.monitoring import (
    MonitoringDashboard,
    ReferenceProfile,
    collect,
    compute_drift,
    performance_over_time,
)
from workbench.serving import InferenceLogWriter, read_inference_log
from workbench.serving._log import LoggedRequest

DAY_NS = 86_400 * 10**9
START = pd.Timestamp("2024-07-01", tz="UTC").value


def _write_log(folder: Path, days: int = 6, per_day: int = 50, rows: int = 4) -> None:
    """Requests of ``rows`` rows; ``x`` moves from day 3 on; latency grows with the day."""
    rng = np.random.default_rng(0)
    writer = InferenceLogWriter(folder, flush_seconds=3600)
    for day in range(days):
        for i in range(per_day):
            shift = 2.0 if day >= 3 else 0.0
            writer.append(
                LoggedRequest(
                    request_id=f"d{day}-r{i}",
                    timestamp_ns=START + day * DAY_NS + i * 10**9,
                    model_name="m",
                    model_version="1",
                    latency_ms=1.0 + day,
                    inputs={
                        "x": rng.normal(shift, 1, rows),
                        "kind": np.array(rng.choice(["a", "b"], rows), dtype=object),
                    },
                    rows=rows,
                    predictions=rng.normal(0, 1, rows),
                )
            )
        writer.flush()  # a segment a day, several partitions for Dask
    writer.close()


@pytest.fixture
def logged(tmp_path: Path) -> tuple[Path, ReferenceProfile]:
    _write_log(tmp_path)
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 3000), "kind": rng.choice(["a", "b"], 3000)})
    return tmp_path, ReferenceProfile.from_frame(reference)


def test_one_pass_gives_periods_that_add_up_to_the_whole_log(logged) -> None:  # type: ignore[no-untyped-def]
    folder, profile = logged
    overview = collect(folder, profile, period="1D", progress=False)
    assert len(overview.starts) == 6
    assert overview.kpis() == {
        "rows": 1200,
        "requests": 300,
        "latency_p50_ms": pytest.approx(3.0, rel=0.06),  # the 150th of 300: day 2, 3 ms
        "latency_p95_ms": pytest.approx(6.0, rel=0.06),
    }
    log = read_inference_log(folder)
    whole = compute_drift(profile, log[["x", "kind"]])
    assert overview.drift().column("x").statistic == pytest.approx(
        whole.column("x").statistic, rel=1e-12
    )
    first_days = overview.drift(overview.starts[0], overview.starts[2])
    assert first_days.drifted_columns == [] and overview.drift().drifted_columns == ["x"]
    assert overview.between(overview.starts[3]).rows == 600
    with pytest.raises(MonitoringError, match="No period"):
        overview.between(pd.Timestamp("2030-01-01", tz="UTC"))
    with pytest.raises(MonitoringError, match="No inference log segments"):
        collect(folder / "nowhere", profile, progress=False)


def test_the_widget_redraws_for_a_date_range_and_a_feature(logged) -> None:  # type: ignore[no-untyped-def]
    folder, profile = logged
    overview = collect(folder, profile, period="1D", model_name="m", model_version="1")
    log = read_inference_log(folder)
    log["actual"] = log["prediction"] + np.where(log["timestamp"].dt.day >= 4, 3.0, 0.1)
    performance = performance_over_time(log, task="regression", period="1D")
    errors = pd.DataFrame(
        {"window": overview.starts[:2], "errors": [2, 5], "client_errors": [2, 5]}
    )
    board = MonitoringDashboard(
        overview, performance=performance, errors=errors, thresholds={"mae": ("max", 1.0)}
    )
    assert [board.tabs.get_title(i) for i in range(5)] == [
        "Drift",
        "Performance",
        "Errors",
        "Integrity",
        "Alerts (3)",
    ]
    assert "No logged row breaks the data contract" in board.integrity.value
    assert "1,200" in board.kpis.value and "7" in board.kpis.value  # rows, errors
    assert board.snapshot.drifted_columns == ["x"]
    assert board.metric_figure.data[0].y[-1] == pytest.approx(3.0)
    # drift per day (red cells: 1): each day's verdict as that day's rows alone give it
    heat = board.over_time_figure.data[0]
    cells = dict(zip(heat.y, heat.z, strict=True))
    log["day"] = log["timestamp"].dt.floor("1D")
    for column in ("x", "kind"):
        alone = [
            int(compute_drift(profile, rows[["x", "kind"]]).column(column).drifted)
            for _, rows in log.groupby("day", sort=True)
        ]
        assert list(cells[column]) == alone, column
    assert list(cells["x"])[3:] == [1, 1, 1]  # x moves from day 4 on
    assert "1 Jul 2024 – 6 Jul 2024" in board.when.value and "arrival time" in board.when.value
    board.range.value = (overview.starts[0], overview.starts[2])  # the first three days
    assert board.snapshot.drifted_columns == []
    assert "600" in board.kpis.value and "3 of 6 days" in board.when.value
    assert len(board.over_time_figure.data[0].x) == 3
    assert board.metric_figure.data[0].y[-1] == pytest.approx(0.1)  # the range's periods
    board.picker.value = "kind"
    assert board.figure.layout.title.text and "kind" in board.figure.layout.title.text


def test_rows_breaking_the_contract_are_counted_per_period(logged) -> None:  # type: ignore[no-untyped-def]
    from workbench.data import ColumnContract, Contract

    folder, profile = logged
    contract = Contract(
        columns=[
            ColumnContract("x", "float", min=-1.0, max=3.0),
            ColumnContract("kind", "category", categories=("a",)),
        ]
    )
    overview = collect(folder, profile, period="1D", contract=contract, progress=False)
    log = read_inference_log(folder)
    table = overview.integrity().set_index(["column", "problem"])
    assert table.loc[("x", "out of range"), "rows"] == ((log["x"] < -1) | (log["x"] > 3)).sum()
    assert table.loc[("kind", "unknown category"), "rows"] == (log["kind"] == "b").sum()
    first_day = overview.integrity(overview.starts[0], overview.starts[0])
    day = log[log["timestamp"] < pd.Timestamp("2024-07-02", tz="UTC")]
    assert (
        first_day.set_index(["column", "problem"]).loc[("x", "out of range"), "rows"]
        == ((day["x"] < -1) | (day["x"] > 3)).sum()
    )
    board = MonitoringDashboard(overview)
    assert "unknown category" in board.integrity.value and "out of range" in board.integrity.value


def test_the_dashboard_counts_integrity_as_the_data_stage_checks_it(tmp_path: Path) -> None:
    from workbench.data import ColumnContract, Contract
    from workbench.monitoring import check_integrity

    rng = np.random.default_rng(3)
    spellings = np.array(["male", "female", "M", " F ", "FEMALE", "other", None], dtype=object)
    writer = InferenceLogWriter(tmp_path, flush_seconds=3600)
    for day in range(2):
        for i in range(40):
            writer.append(
                LoggedRequest(
                    request_id=f"d{day}-r{i}",
                    timestamp_ns=START + day * DAY_NS + i * 10**9,
                    model_name="m",
                    model_version="1",
                    latency_ms=1.0,
                    inputs={
                        "sex": spellings[rng.integers(0, len(spellings), 4)],
                        "kwh": rng.normal(5, 4, 4),
                        "units": rng.choice([1.0, 2.0, 2.5, -1.0, np.nan], 4),
                        "owner": np.array(rng.choice(["anna", "bruno"], 4), dtype=object),
                    },
                    rows=4,
                    predictions=rng.normal(0, 1, 4),
                    personal=("owner",),
                )
            )
        writer.flush()
    writer.close()
    rules = [
        ColumnContract(
            "sex", "category", categories=("male", "female"), aliases={"M": "male", "F": "female"}
        ),
        ColumnContract("kwh", "float", min=0),
        ColumnContract("units", "int", nullable=False, min=0),
    ]
    personal = ColumnContract("owner", "category", categories=("anna", "bruno"), pii=True)
    contract = Contract(columns=[*rules, personal], no_duplicate_rows=False)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"kwh": rng.normal(5, 4, 500)}))
    overview = collect(tmp_path, profile, period="1D", contract=contract, progress=False)
    ours = {(r["column"], r["problem"]): r["rows"] for r in overview.integrity().to_dict("records")}
    log = read_inference_log(tmp_path)
    report = check_integrity(log, Contract(columns=rules, no_duplicate_rows=False))
    theirs = {(r["column"], r["problem"]): r["count"] for r in report.violations.to_dict("records")}
    assert ours == theirs  # one implementation: the contract's own checks, aliases included
    spelled = log["sex"].str.strip().str.casefold()
    assert ours[("sex", "unknown category")] == (spelled == "other").sum()  # "M", " F " are fine
    assert ours[("units", "type error")] == (log["units"] == 2.5).sum()
    assert {"missing value", "out of range"} <= {p for c, p in ours if c == "units"}
    assert not any(column == "owner" for column, _ in ours)  # pseudonyms are not categories


@pytest.mark.slow
def test_performance_is_estimated_before_labels_and_realized_after(tmp_path: Path) -> None:
    """A classifier packaged with a holdout, served for real: before any label the dashboard
    shows the CBPE estimate from the logged class probabilities (and alerts on it); once
    actuals are logged, the realized accuracy is drawn beside the estimate, and close to it."""
    import httpx
    from sklearn.ensemble import HistGradientBoostingClassifier

    from workbench._settings import resolve_settings
    from workbench.monitoring import open_dashboard
    from workbench.packaging import package_model
    from workbench.serving import ScoringServer, log_actuals

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n')
    settings = resolve_settings(project)
    rng = np.random.default_rng(7)

    def rows(n: int) -> pd.DataFrame:
        frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
        frame["churn"] = np.where(frame["a"] + rng.normal(0, 0.7, n) > 0, "yes", "no")
        return frame

    train, holdout, served = rows(3000), rows(2000), rows(600)
    model = HistGradientBoostingClassifier(max_iter=40).fit(train[["a", "b"]], train["churn"])
    packaged = package_model(
        model,
        train,
        "churn",
        target="churn",
        holdout=holdout,
        measure_cost=False,
        progress=False,
        settings=settings,
    )
    from workbench._tracking import mlflow_for

    tags = mlflow_for(settings).MlflowClient().get_model_version("churn", packaged.version).tags
    assert tags["reference_scores"].endswith("reference_scores.parquet")
    log_dir = tmp_path / "log"
    ids: list[str] = []
    with (
        ScoringServer("models:/churn@challenger", log_dir=log_dir, project_dir=project) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        for start in range(0, len(served), 20):
            part = served.iloc[start : start + 20][["a", "b"]]
            r = client.post("/invocations", json={"dataframe_records": part.to_dict("records")})
            assert r.status_code == 200, r.text
            ids.append(r.headers["x-request-id"])
    logged = read_inference_log(log_dir)
    assert {"proba_no", "proba_yes"} <= set(logged.columns)
    np.testing.assert_allclose(
        logged["proba_yes"].sort_values().to_numpy(),
        np.sort(model.predict_proba(served[["a", "b"]])[:, 1]),
    )

    before = open_dashboard(
        "churn",
        alias="challenger",
        log_dir=log_dir,
        thresholds={"accuracy": ("min", 0.999)},
        settings=settings,
        progress=False,
    )
    assert before.performance is None and before.estimated is not None
    estimate = float(before.estimated["accuracy"].iloc[0])
    assert 0.6 < estimate < 0.99
    assert [a.metric for a in before.alerts] == ["estimated accuracy"]
    assert "Performance (estimated)" in [
        before.tabs.get_title(i) for i in range(len(before.tabs.children))
    ]
    assert "estimated, no labels yet" in before.metric_figure.layout.title.text

    log_actuals(
        log_dir,
        [i for i in ids for _ in range(20)],
        served["churn"].tolist(),
        rows=[r for _ in ids for r in range(20)],
    )
    after = open_dashboard(
        "churn", alias="challenger", log_dir=log_dir, settings=settings, progress=False
    )
    assert after.performance is not None and after.estimated is not None
    realized = float(after.performance["accuracy"].iloc[0])
    assert realized == pytest.approx((model.predict(served[["a", "b"]]) == served["churn"]).mean())
    assert abs(realized - estimate) < 0.06
    assert [t.name for t in after.metric_figure.data] == [
        "accuracy (realized)",
        "accuracy (estimated)",
    ]
