"""A monitoring bucket of time is a "period": ``period=``, ``periods()``, the words users
read; the old ``window=`` keyword, ``windows()``, ``summarize_by_window()`` and
``LogOverview.windows`` keep working with a DeprecationWarning that names the new name."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench import MonitoringError
from workbench.monitoring import (
    CBPE,
    DriftSnapshot,
    DriftTimeline,
    ReferenceProfile,
    check_thresholds,
    collect,
    drift_over_time,
    errors_over_time,
    estimate_from_log,
    metric_figure,
    open_dashboard,
    performance_over_time,
    periods,
    summarize_by_period,
    summarize_by_window,
    windows,
)
from workbench.serving import InferenceLogWriter
from workbench.serving._log import LoggedRequest

START = pd.Timestamp("2024-07-01", tz="UTC")


def _log(days: int = 4, per_day: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = days * per_day
    x = rng.normal(np.repeat(np.arange(days) * 0.5, per_day), 1.0, n)
    return pd.DataFrame(
        {
            "timestamp": START + pd.to_timedelta(np.arange(n) * (86_400 // per_day), unit="s"),
            "x": x,
            "prediction": x + rng.normal(0, 1, n),
            "actual": x,
            "score": rng.random(n),
        }
    )


def _same(old: Any, new: Any) -> None:
    if isinstance(new, pd.DataFrame):
        pd.testing.assert_frame_equal(old, new)
    elif isinstance(new, DriftTimeline):
        pd.testing.assert_frame_equal(old.frame(), new.frame())
    else:
        assert old == new


def _deprecated(call: Callable[[], Any], new_name: str) -> Any:
    """``call()``'s result; it warned once, from this file, naming ``new_name``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    ours = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert new_name in str(ours[0].message)
    assert ours[0].filename == __file__  # points at the caller's line, not ours
    return result


def test_the_old_window_keyword_still_works_and_says_period() -> None:
    log = _log()
    profile = ReferenceProfile.from_frame(log.head(60)[["x"]])
    cbpe = CBPE().fit(log["score"], (log["score"] > 0.5).astype(int), classes=[0, 1])
    calls: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
        (performance_over_time, (log,), {"task": "regression"}),
        (drift_over_time, (profile, log), {"progress": False}),
        (cbpe.estimate_over_time, (log, "score"), {}),
    ]
    for function, args, kwargs in calls:
        for period in ("1D", "12h", 60):
            new = function(*args, period=period, **kwargs)
            old = _deprecated(partial(function, *args, window=period, **kwargs), "period=")
            _same(old, new)
        with pytest.raises(MonitoringError, match=r"period='1W' and window='1D'.*period= alone"):
            function(*args, period="1W", window="1D", **kwargs)
    # the third argument of drift_over_time is the period, positionally as before
    _same(
        drift_over_time(profile, log, "12h", progress=False),
        drift_over_time(profile, log, period="12h", progress=False),
    )


def test_the_old_names_windows_and_summarize_by_window_still_work() -> None:
    log = _log()
    profile = ReferenceProfile.from_frame(log.head(60)[["x"]])
    for period in ("1D", 50):
        old = _deprecated(partial(windows, log, period), "periods()")
        old, new = list(old), list(periods(log, period))
        assert [k for k, _ in old] == [k for k, _ in new]
        for (_, a), (_, b) in zip(old, new, strict=True):
            pd.testing.assert_frame_equal(a, b)
    old_summaries = _deprecated(
        lambda: summarize_by_window(log, profile, "1D"), "summarize_by_period"
    )
    new_summaries = summarize_by_period(log, profile, "1D")
    assert {k: s.to_dict() for k, s in old_summaries.items()} == {
        k: s.to_dict() for k, s in new_summaries.items()
    }
    with pytest.raises(MonitoringError, match="Period 'fortnightly' is not a pandas frequency"):
        summarize_by_period(log, profile, "fortnightly")
    with pytest.raises(MonitoringError, match="Periods need the time column 'when'"):
        periods(log, "1D", time_column="when")


def _served(folder: Path) -> None:
    writer = InferenceLogWriter(folder, flush_seconds=3600)
    rng = np.random.default_rng(1)
    for day in range(3):
        for i in range(10):
            writer.append(
                LoggedRequest(
                    request_id=f"d{day}-r{i}",
                    timestamp_ns=START.value + day * 86_400 * 10**9 + i * 10**9,
                    model_name="m",
                    model_version="1",
                    latency_ms=1.0,
                    inputs={"x": rng.normal(day, 1, 2)},
                    rows=2,
                    predictions=rng.normal(0, 1, 2),
                )
            )
        writer.flush()
    writer.close()


def test_the_log_pass_and_the_error_log_take_period_and_the_old_window(tmp_path: Path) -> None:
    _served(tmp_path)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": np.linspace(-2, 2, 200)}))
    new = collect(tmp_path, profile, period="1D", progress=False)
    old = _deprecated(lambda: collect(tmp_path, profile, window="1D", progress=False), "period=")
    assert new.starts == old.starts and len(new.periods) == 3
    before = _deprecated(lambda: new.windows, "LogOverview.periods")
    assert before is new.periods
    with pytest.raises(MonitoringError, match="No period of the log between"):
        new.between(pd.Timestamp("2030-01-01", tz="UTC"))
    _same(
        _deprecated(lambda: errors_over_time(tmp_path, window="1D"), "period="),
        errors_over_time(tmp_path, period="1D"),
    )
    with pytest.raises(MonitoringError, match="period= alone"):
        open_dashboard("m", period="1W", window="1D")  # refused before the registry is read
    scores = pd.DataFrame({"label": [0, 1] * 50, "proba_0": 0.5, "proba_1": 0.5})
    assert estimate_from_log(tmp_path, scores, period="1D") is None  # no scores logged
    with pytest.raises(MonitoringError, match="period= alone"):
        estimate_from_log(tmp_path, scores, period="1W", window="1D")


def test_what_users_read_says_period() -> None:
    table = performance_over_time(_log(), task="regression", period="1D")
    alerts = check_thresholds(table, {"mae": ("max", 0.0)})
    assert alerts and all("in the period starting" in a.reason for a in alerts)
    assert metric_figure(table, "mae").layout.xaxis.title.text == "period"
    log = _log()
    timeline = drift_over_time(log.head(60)[["x"]], log, "1D", progress=False)
    assert all("in the period starting" in a.reason for a in timeline.alerts())
    assert timeline.alerts()  # the later days drift from the first


def test_saved_snapshots_keep_loading_with_their_period(tmp_path: Path) -> None:
    """A snapshot's period stays under ``metadata["window"]`` (the stored format), so
    snapshots saved before the rename load and line up in a timeline as they did."""
    log = _log()
    timeline = drift_over_time(log.head(60)[["x"]], log, "1D", progress=False)
    paths = [s.save(tmp_path / f"drift-{i}.json") for i, s in enumerate(timeline.snapshots)]
    loaded = DriftTimeline(tuple(DriftSnapshot.load(p) for p in paths))
    pd.testing.assert_frame_equal(loaded.frame(), timeline.frame())
    assert loaded.frame()["window"].tolist() == [START + pd.Timedelta(days=d) for d in range(4)]
    with pytest.raises(MonitoringError, match="No drift snapshot at"):
        DriftSnapshot.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(MonitoringError, match=r"bad\.json is not valid JSON"):
        ReferenceProfile.load(tmp_path / "bad.json")


def test_a_period_s_span_is_its_first_and_last_instant() -> None:
    from workbench.monitoring._periods import period_span

    monday = pd.Timestamp("2024-07-01", tz="UTC")
    first, last = period_span(monday, "1W")
    assert first == monday and last.floor("D") == pd.Timestamp("2024-07-07", tz="UTC")
    day_end = period_span(monday, "1D")[1]
    assert day_end.floor("D") == monday and day_end < monday + pd.Timedelta("1D")
    assert period_span(pd.Timestamp("2024-02-01"), "1MS")[1].date().isoformat() == "2024-02-29"
    with pytest.raises(MonitoringError, match="'fortnightly' is not a pandas frequency"):
        period_span(monday, "fortnightly")
