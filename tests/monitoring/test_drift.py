from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from workbench import MonitoringError
from workbench.monitoring import DriftSnapshot, ReferenceProfile, compute_drift, latest_snapshot


def _frames(n_ref: int, n_cur: int, shift: float = 0.0, seed: int = 0) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)

    def make(n: int, s: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "x": rng.normal(10 + s, 2, n),
                "stable": rng.normal(0, 1, n),
                "color": rng.choice(
                    ["red", "green", "blue"], n, p=[0.5 - s / 10, 0.3, 0.2 + s / 10]
                ),
                "flag": rng.random(n) < 0.1,
                "level": rng.integers(0, 3, n),  # numeric with few values → categorical test
            }
        )

    return make(n_ref, 0.0), make(n_cur, shift)


def test_small_reference_uses_ks_and_chisquare_with_scipy_values() -> None:
    ref, cur = _frames(500, 400, shift=2.0, seed=1)  # seed 0 has a 5 % false alarm on "level"
    snap = compute_drift(ref, cur)
    x = snap.column("x")
    assert x.test == "ks" and x.threshold == 0.05
    assert x.statistic == pytest.approx(stats.ks_2samp(ref["x"], cur["x"]).pvalue)
    color = snap.column("color")
    assert color.test == "chisquare"
    counts = cur["color"].value_counts().reindex(["blue", "green", "red"]).to_numpy()
    shares = ref["color"].value_counts(normalize=True).reindex(["blue", "green", "red"])
    expected = shares.to_numpy() * counts.sum()
    assert color.statistic == pytest.approx(stats.chisquare(counts, expected).pvalue)
    assert snap.column("level").test == "chisquare"
    assert snap.column("flag").test == "z"  # two values: the proportions test
    assert set(snap.drifted_columns) == {"x", "color"}


def test_large_reference_uses_normed_wasserstein_and_jensen_shannon() -> None:
    ref, cur = _frames(5000, 3000, shift=2.0)
    snap = compute_drift(ref, cur)
    x = snap.column("x")
    assert x.test == "wasserstein" and x.threshold == 0.1
    normed = stats.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"])
    assert x.statistic == pytest.approx(normed, rel=0.01)  # on 1,000 cut points
    color = snap.column("color")
    assert color.test == "jensenshannon"
    p = ref["color"].value_counts(normalize=True).sort_index()
    q = cur["color"].value_counts(normalize=True).sort_index()
    assert color.statistic == pytest.approx(distance.jensenshannon(p, q))
    assert snap.drifted_columns == ["x", "color"]
    assert not snap.dataset_drift  # 2 of 5 < half
    assert snap.share_drifted == pytest.approx(0.4)


def test_no_drift_on_samples_of_one_distribution() -> None:
    for n in (500, 5000):
        ref, cur = _frames(n, n, shift=0.0, seed=n)
        assert compute_drift(ref, cur).drifted_columns == []


def test_dataset_drift_at_half_of_the_columns() -> None:
    ref, cur = _frames(2000, 2000, shift=3.0)
    snap = compute_drift(ref, cur, ["x", "color", "stable"], drift_share=0.5)
    assert snap.dataset_drift


def test_histograms_are_shares_that_sum_to_one() -> None:
    ref, cur = _frames(2000, 1000, shift=1.0)
    ref.loc[:99, "x"] = np.nan
    snap = compute_drift(ref, cur)
    x = snap.column("x")
    assert sum(x.reference) == pytest.approx(1.0) and sum(x.current) == pytest.approx(1.0)
    assert x.reference_missing == pytest.approx(0.05)
    assert x.reference_mean == pytest.approx(ref["x"].mean())
    assert snap.column("color").bins == ("blue", "green", "red")


def test_a_new_category_in_current_data_is_drift() -> None:
    ref = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500})
    cur = pd.DataFrame({"c": ["a"] * 300 + ["b"] * 300 + ["new"] * 400})
    assert compute_drift(ref, cur).column("c").drifted


def test_snapshot_round_trips_through_json(tmp_path: Path) -> None:
    ref, cur = _frames(1500, 800, shift=1.0)
    snap = compute_drift(ref, cur, metadata={"model_name": "m", "model_version": 3})
    path = snap.save(tmp_path / "monitoring" / "drift-20260101T000000.json")
    assert DriftSnapshot.load(path) == snap
    assert json.loads(path.read_text())["metadata"]["model_version"] == 3
    later = snap.save(tmp_path / "monitoring" / "drift-20260102T000000.json")
    assert latest_snapshot(tmp_path / "monitoring") == later


def test_errors_name_what_is_wrong(tmp_path: Path) -> None:
    ref, cur = _frames(100, 100)
    with pytest.raises(MonitoringError, match=r"current frame lacks columns \['x'\]"):
        compute_drift(ref, cur.drop(columns="x"), ["x"])
    with pytest.raises(MonitoringError, match="current frame is empty"):
        compute_drift(ref, cur.iloc[:0])
    with pytest.raises(MonitoringError, match=r"drift_share must be in \(0, 1\]. Got 1.5"):
        compute_drift(ref, cur, drift_share=1.5)
    with pytest.raises(MonitoringError, match="has no column 'nope'"):
        compute_drift(ref, cur).column("nope")
    with pytest.raises(MonitoringError, match="No drift snapshot in"):
        latest_snapshot(tmp_path)
    bad = tmp_path / "drift-x.json"
    bad.write_text("{}")
    with pytest.raises(MonitoringError, match="Not a drift snapshot"):
        DriftSnapshot.load(bad)


def test_datetime_columns_are_left_out_and_named_in_the_snapshot(tmp_path: Path) -> None:
    import pyarrow as pa

    ref, cur = _frames(5000, 3000, shift=2.0)  # "x" and "color" drift: 2 of 5
    ref["when"] = pd.date_range("2024-01-01", periods=len(ref), freq="h")
    cur["when"] = pd.date_range("2024-08-01", periods=len(cur), freq="h")
    snap = compute_drift(ref, cur)
    assert [c.column for c in snap.columns] == ["x", "stable", "color", "flag", "level"]
    assert set(snap.skipped) == {"when"} and "datetime" in snap.skipped["when"]
    assert snap.share_drifted == pytest.approx(0.4) and not snap.dataset_drift  # not 3 of 6
    assert DriftSnapshot.load(snap.save(tmp_path / "drift.json")).skipped == snap.skipped
    profile = ReferenceProfile.from_frame(ref)
    assert "when" not in profile.columns and "2024-01-01" not in json.dumps(profile.to_dict())
    stored = ReferenceProfile.load(profile.save(tmp_path / "profile.json"))
    assert compute_drift(stored, cur).skipped == snap.skipped
    # the other forms dates take: zoned, Arrow (as Dask reads Parquet), Python dates
    dates = pd.Series(pd.date_range("2024-01-01", periods=len(ref), freq="D"))
    forms = {
        "zoned": dates.dt.tz_localize("Europe/Rome"),
        "arrow": dates.astype(pd.ArrowDtype(pa.timestamp("us"))),
        "arrow_day": dates.dt.date.astype(pd.ArrowDtype(pa.date32())),
        "python_day": dates.dt.date.astype(object),
    }
    both = ref.assign(**forms)
    assert set(compute_drift(both, both.head(500)).skipped) == {"when", *forms}


def test_snapshots_saved_before_skipped_columns_load() -> None:
    ref, cur = _frames(200, 200)
    data = compute_drift(ref, cur).to_dict()
    del data["skipped"]
    assert DriftSnapshot.from_dict(data).skipped == {}


def test_the_calendar_of_a_profile_counts_each_day_as_a_profile_of_its_rows(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(4)
    days = np.repeat(pd.date_range("2023-01-01", "2023-12-31"), 10)
    frame = pd.DataFrame(
        {
            "date": days,
            "x": rng.normal(days.day_of_year / 30, 1.0).round(2),  # quantile cut points
            "k": rng.choice(["a", "b", "c"], len(days)),
        }
    )
    profile = ReferenceProfile.from_frame(frame, ["x", "k"], time_column="date")
    assert profile.calendar is not None and profile.seasonal_ready
    assert profile.skipped == {}  # the time column is read for the calendar, not profiled
    loaded = ReferenceProfile.load(profile.save(tmp_path / "profile.json"))
    picked = loaded.seasonal("2024-03-04", "2024-03-10", tolerance=0)
    assert picked.days == tuple(f"03-{d:02d}" for d in range(4, 11)) and picked.tolerance == 0
    rows = frame[frame["date"].between("2023-03-04", "2023-03-10")]
    direct = profile.summarize(rows)
    for name in ("x", "k"):
        got, want = picked.profile.summary.columns[name], direct.columns[name]
        if name == "x":
            np.testing.assert_array_equal(got.below, want.below)
            np.testing.assert_array_equal(got.at_or_below, want.at_or_below)
            np.testing.assert_allclose(got.inside, want.inside)
            assert got.std == pytest.approx(want.std)
        else:
            assert got.counts == want.counts
    # the whole reference's cut points, so current counts summarised once fit both
    np.testing.assert_array_equal(picked.profile.edges["x"], profile.edges["x"])
    # kept through subset and merge (the predictions' calendar beside the inputs')
    scored = ReferenceProfile.from_frame(
        frame.assign(prediction=frame["x"] * 2), ["prediction"], time_column="date"
    )
    both = profile.subset(["x"]).merged(scored)
    assert both.calendar is not None
    assert set(both.seasonal("2024-06-01", "2024-06-07").profile.columns) == {"x", "prediction"}
    assert profile.merged(ReferenceProfile.from_frame(frame, ["k"])).calendar is None
    # a day holds few values: only what is not zero is stored
    stored = json.loads((tmp_path / "profile.json").read_text())
    day = stored["calendar"]["days"]["03-04"]["x"]
    assert len(day["at"]) + len(day["within"]) <= 10


def test_a_profile_saved_before_calendars_loads_without_one(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(50.0)})
    data = ReferenceProfile.from_frame(frame).to_dict()
    assert "calendar" not in data
    loaded = ReferenceProfile.from_dict(data)
    assert loaded.calendar is None and not loaded.seasonal_ready
    with pytest.raises(MonitoringError, match="no time column 'when'"):
        ReferenceProfile.from_frame(frame, time_column="when")


def test_a_year_of_days_or_more_is_compared_with_every_reference_day() -> None:
    days = pd.date_range("2023-07-01", "2024-06-30")  # 29 February 2024 among them
    frame = pd.DataFrame({"date": days, "x": np.arange(len(days), dtype=float)})
    profile = ReferenceProfile.from_frame(frame, ["x"], time_column="date")
    # a year that has no 29 February still takes the reference's
    picked = profile.seasonal("2024-06-03", "2025-06-30")
    assert picked.profile.rows == profile.rows == 366 and len(picked.days) == 366
