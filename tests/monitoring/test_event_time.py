"""Time that means something: periods by the data's event time, bounds from the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import ConfigurationError, MonitoringError
from workbench.data import ColumnContract, Contract
from workbench.monitoring import (
    ReferenceProfile,
    Threshold,
    check_thresholds,
    collect,
    thresholds_from_metrics,
)
from workbench.monitoring._periods import time_basis
from workbench.serving import InferenceLogWriter, read_inference_log
from workbench.serving._log import LoggedRequest
from workbench.serving._payload import InputSpec

DAY_NS = 86_400 * 10**9
ARRIVED = pd.Timestamp("2026-12-06 10:00", tz="UTC").value  # a year of days sent in seconds


def test_default_bounds_come_from_the_versions_validation_metrics() -> None:
    card = {
        "valid_mae": {"value": 130.2, "std": None, "source": "run"},
        "holdout_mae": {"value": 140.0, "source": "holdout"},
        "holdout_rmse": {"value": 192.9, "source": "holdout"},
        "valid_r2": {"value": 0.98, "source": "run"},
        "fit_seconds": {"value": 3.0, "source": "run"},
    }
    bounds = thresholds_from_metrics(card, "regression", version=3)
    assert set(bounds) == {"mae", "rmse"}  # R² of a period depends on its own spread
    assert bounds["mae"] == ("max", pytest.approx(1.5 * 130.2), bounds["mae"].source)
    assert bounds["mae"].source == "1.5 × validation mae of v3, 130.2"  # the run's first
    assert bounds["rmse"].source.startswith("1.5 × holdout rmse")
    assert bounds["mae"].describe() == "max 195.3 (1.5 × validation mae of v3, 130.2)"
    scores = thresholds_from_metrics({"holdout_accuracy": 0.9, "roc_auc": 0.8}, "classification")
    assert scores["accuracy"][:2] == ("min", pytest.approx(0.81))
    assert scores["roc_auc"][:2] == ("min", pytest.approx(0.72))
    # nothing usable: no bound rather than a made-up one
    assert thresholds_from_metrics({"valid_mae": None, "valid_rmse": -1.0}, "regression") == {}
    frame = pd.DataFrame({"window": [1, 2], "mae": [100.0, 300.0]})
    [alert] = check_thresholds(frame, {"mae": Threshold("max", 195.3, "from v3")})
    assert alert.window == 2 and "above the maximum 195.3" in alert.reason
    with pytest.raises(MonitoringError, match=r"\('max' or 'min', a number\)"):
        check_thresholds(frame, {"mae": "max 4"})  # type: ignore[dict-item]


def test_the_time_basis_is_event_time_where_the_log_has_it() -> None:
    assert time_basis("date", ["x", "date", "timestamp"]).label == "event time (date)"
    assert time_basis("date", ["x", "timestamp"]).column == "timestamp"
    assert time_basis("date", ["x", "date"], "arrival").label == "arrival time"
    with pytest.raises(MonitoringError, match="no column 'date': send it with each request"):
        time_basis("date", ["x"], "event")
    with pytest.raises(MonitoringError, match="names no event_time column"):
        time_basis(None, ["x"], "event")
    with pytest.raises(MonitoringError, match="'auto', 'event' or 'arrival'; got 'wall'"):
        time_basis(None, ["x"], "wall")


def test_the_contract_names_its_event_time(tmp_path: Path) -> None:
    columns = (ColumnContract("date", "datetime"), ColumnContract("x", "float"))
    contract = Contract(columns=columns, event_time="date")
    assert Contract.load(contract.save(tmp_path / "c.yaml")).event_time == "date"
    with pytest.raises(ConfigurationError, match="event_time 'when' is not among"):
        Contract(columns=columns, event_time="when")
    with pytest.raises(ConfigurationError, match="must be a datetime column; it is 'float'"):
        Contract(columns=columns, event_time="x")


def test_the_server_keeps_the_event_time_beside_the_inputs() -> None:
    spec = InputSpec((("x", "double", True),), True, extra=("date",))
    split = spec.parse_json(
        {"dataframe_split": {"columns": ["x", "date"], "data": [[1.0, "2024-07-01"]] * 2}}
    )
    assert list(split.arrays) == ["x"]  # the model gets its signature's columns only
    assert split.extra["date"].tolist() == ["2024-07-01", "2024-07-01"]
    records = spec.parse_json({"dataframe_records": [{"x": 1.0, "date": "2024-07-02"}]})
    assert records.extra["date"].tolist() == ["2024-07-02"]
    csv = spec.parse_csv("x,date\n1.5,2024-07-03\n")
    assert csv.extra["date"].tolist() == ["2024-07-03"] and csv.arrays["x"].tolist() == [1.5]
    assert spec.parse_json({"dataframe_records": [{"x": 1.0}]}).extra == {}
    assert InputSpec((("x", "double", True),), True).parse_csv("x,date\n1,2\n").extra == {}


def _log(folder: Path) -> pd.DataFrame:
    """A year of days replayed within seconds: one request a day; the first five
    requests (an older client) send no date."""
    rng = np.random.default_rng(0)
    writer = InferenceLogWriter(folder, flush_seconds=3600)
    days = pd.date_range("2024-06-03", "2025-06-30", freq="D")
    for i, day in enumerate(days):
        inputs = {"x": rng.normal(0.0 if day < pd.Timestamp("2024-07-01") else 3.0, 1, 100)}
        if i >= 5:
            inputs["date"] = np.array([day.isoformat()] * 100, dtype=object)
        writer.append(
            LoggedRequest(
                request_id=f"r{i}",
                timestamp_ns=ARRIVED + i * 10**7,
                model_name="m",
                model_version="1",
                latency_ms=1.0,
                inputs=inputs,
                rows=100,
                predictions=rng.normal(0, 1, 100),
            )
        )
        if i in (4, 200):
            writer.flush()  # segments with and without the date
    writer.close()
    return read_inference_log(folder)


def test_periods_follow_the_data_dates_not_the_arrival(tmp_path: Path) -> None:
    log = _log(tmp_path)
    contract = Contract(
        columns=(ColumnContract("date", "datetime"), ColumnContract("x", "float")),
        event_time="date",
    )
    profile = ReferenceProfile.from_frame(
        pd.DataFrame({"x": np.random.default_rng(1).normal(0, 1, 2000)})
    )
    by_event = collect(tmp_path, profile, period="1W", contract=contract, progress=False)
    assert by_event.basis.label == "event time (date)"
    # the outside answer: pandas' weeks of each row's date, its arrival where none
    when = pd.to_datetime(log["date"], utc=True).fillna(log["timestamp"])
    weeks = when.dt.tz_localize(None).dt.to_period("W").dt.start_time.dt.tz_localize("UTC")
    expected = log.groupby(weeks).size()
    assert {k: v.rows for k, v in by_event.periods.items()} == expected.to_dict()
    assert str(min(by_event.starts).date()) == "2024-06-03"
    dated = [s for s in by_event.starts if s.year == 2024 and s.month == 7]
    assert not by_event.drift(None, pd.Timestamp("2024-06-24", tz="UTC")).drifted_columns
    assert by_event.drift(dated[0], dated[-1]).drifted_columns == ["x"]  # 1 July on its date
    drifted = [s.column("x").drifted for s in by_event.drift_by_period()]
    assert drifted[:4] == [False] * 4 and all(drifted[4:-1])  # the last: the five old rows
    by_arrival = collect(tmp_path, profile, period="1W", time="arrival", progress=False)
    assert by_arrival.basis.label == "arrival time" and len(by_arrival.starts) == 1
