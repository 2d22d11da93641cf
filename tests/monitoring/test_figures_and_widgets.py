from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.monitoring import (
    DriftExplorer,
    compute_drift,
    distribution_figure,
    drift_table_figure,
    drift_table_html,
)
from workbench.monitoring._figures import GREEN, RED


@pytest.fixture(scope="module")
def snapshot():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    ref = pd.DataFrame(
        {
            "a": rng.normal(0, 1, 2000),
            "b": rng.normal(0, 1, 2000),
            "c": rng.choice(["x", "y"], 2000),
        }
    )
    cur = pd.DataFrame(
        {
            "a": rng.normal(1, 1, 1000),
            "b": rng.normal(0, 1, 1000),
            "c": rng.choice(["x", "y"], 1000),
        }
    )
    return compute_drift(ref, cur, metadata={"model_name": "m", "model_version": 1})


def test_drift_table_puts_drifted_columns_first_in_red(snapshot) -> None:  # type: ignore[no-untyped-def]
    table = drift_table_figure(snapshot).data[0]
    assert list(table.cells.values[0]) == ["a", "b", "c"]
    assert list(table.cells.font.color[1]) == [RED, GREEN, GREEN]
    assert "1 of 3 columns" in drift_table_figure(snapshot).layout.title.text


def test_drift_table_html_says_what_the_figure_says(snapshot) -> None:  # type: ignore[no-untyped-def]
    import re

    html = drift_table_html(snapshot)
    figure = drift_table_figure(snapshot).data[0]
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", html, flags=re.S)
    ]
    rows = [cells[i : i + 6] for i in range(0, len(cells), 6)]
    assert [r[0] for r in rows] == list(figure.cells.values[0]) == ["a", "b", "c"]
    assert [r[1] for r in rows] == ["✕drift", "✓stable", "✓stable"]
    assert [r[3] for r in rows] == [f"{float(v):.3g}" for v in figure.cells.values[3]]
    assert [r[4] for r in rows] == list(figure.cells.values[4])
    assert "Drift: 1 of 3 columns" in html
    assert "None" not in html and "nan" not in html


def test_distribution_figure_draws_reference_and_current(snapshot) -> None:  # type: ignore[no-untyped-def]
    fig = distribution_figure(snapshot, "a")
    assert [t.name for t in fig.data] == ["reference", "current"]
    assert sum(fig.data[0].y) == pytest.approx(1.0)
    assert "drift" in fig.layout.title.text
    categorical = distribution_figure(snapshot, "c")
    assert list(categorical.data[0].x) == ["x", "y"]


def _shown(output) -> dict:  # type: ignore[no-untyped-def]
    (item,) = output.outputs
    return item["data"]["application/vnd.plotly.v1+json"]  # type: ignore[no-any-return]


def test_explorer_redraws_when_another_feature_is_picked(snapshot) -> None:  # type: ignore[no-untyped-def]
    explorer = DriftExplorer(snapshot)
    assert explorer.picker.value == "a"  # the first drifted column
    assert _shown(explorer.distribution)["layout"]["title"]["text"].startswith("a:")
    assert "Drift: 1 of 3 columns" in explorer.table.value  # the kit's table, not a figure
    explorer.picker.value = "c"
    shown = _shown(explorer.distribution)
    assert shown["layout"]["title"]["text"].startswith("c:")
    assert shown["data"][1]["x"] == ["x", "y"]
    assert shown["data"][1]["y"] == pytest.approx(list(snapshot.column("c").current))
    assert explorer.figure.layout.title.text.startswith("c:")
    assert "1 / 3" in explorer.widget.children[0].value  # KPI: drifted features


def test_the_current_beyond_the_reference_is_drawn_as_it_is_not_as_a_flat_block() -> None:
    rng = np.random.default_rng(20)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 2000)})
    cur = pd.DataFrame({"x": rng.normal(3.5, 1.0, 20_000)})  # mostly above the reference
    snap = compute_drift(ref, cur)
    bars = distribution_figure(snap, "x").data[1]
    edges = np.append(np.asarray(bars.x), bars.x[-1] + snap.column("x").bin_width)
    expected = np.histogram(cur["x"], edges)[0] / len(cur)
    beyond = edges[:-1] >= ref["x"].max()
    assert beyond.sum() >= 5
    assert np.asarray(bars.y)[beyond] == pytest.approx(expected[beyond], abs=0.002)
    # one far outlier: the bins between the reference and it are empty, not shared out
    far = pd.DataFrame({"x": np.append(rng.normal(0, 1, 99_999), 1000.0)})
    shares = np.asarray(distribution_figure(compute_drift(ref, far), "x").data[1].y)
    assert shares[-1] == pytest.approx(1e-5) and shares[1:-1].sum() == pytest.approx(0.0)


def test_the_drift_table_names_the_columns_left_out() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"a": rng.normal(0, 1, 300)})
    ref["when"] = pd.date_range("2024-01-01", periods=300, freq="D")
    title = drift_table_figure(compute_drift(ref, ref)).layout.title.text
    assert "not tested: when (datetime column)" in title


def _seasonal_overview(calendar: bool = True):  # type: ignore[no-untyped-def]
    """A dashboard's log overview: a year of weekly periods (by event time) of an input
    with a season, against a reference year (with its calendar, or without)."""
    from workbench.monitoring import ReferenceProfile
    from workbench.monitoring._collect import LogOverview, _stats_of
    from workbench.monitoring._periods import TimeBasis

    rng = np.random.default_rng(0)

    def year(first: str, last: str) -> pd.DataFrame:
        day = np.repeat(pd.date_range(first, last), 20)
        season = 15 + 9 * np.sin(2 * np.pi * (np.asarray(day.day_of_year) - 110) / 365.25)
        return pd.DataFrame(
            {"date": day, "temperature": (season + rng.normal(0, 2.5, len(day))).round(1)}
        )

    profile = ReferenceProfile.from_frame(
        year("2023-01-01", "2023-12-31"),
        ["temperature"],
        time_column="date" if calendar else None,
    )
    log = year("2024-01-01", "2024-12-31")
    log["timestamp"] = pd.Timestamp("2026-12-06", tz="UTC")
    log["request_id"] = log["date"].dt.strftime("%Y-%m-%d")
    log["latency_ms"] = 5.0
    stats = _stats_of(log, profile, "1W", None, "date")
    return LogOverview(profile, stats, "m", "1", TimeBasis("date", "event time (date)"), "1W")


def test_drift_over_time_says_what_each_week_was_compared_with() -> None:
    from workbench.monitoring import drift_over_time_figure

    overview = _seasonal_overview()
    starts, seasonal = overview.drift_in_steps()
    fig = drift_over_time_figure(seasonal, starts, basis="event time (date)", unit="week")
    assert fig.layout.title.text == "Drift per week vs the same days of the reference year"
    assert sum(fig.data[0].z[0]) <= 5  # the season alone: green
    assert "140 rows vs 140 of the same days of the reference year" in fig.data[0].text[0][10]
    overview.compare_with = "whole"
    starts, whole = overview.drift_in_steps()
    fig = drift_over_time_figure(whole, starts, unit="week")
    assert fig.layout.title.text == "Drift per week vs the whole reference"
    assert sum(fig.data[0].z[0]) >= 45


def test_the_dashboard_compares_with_the_same_days_and_can_switch_to_the_whole_reference() -> None:
    from workbench.monitoring import MonitoringDashboard

    dashboard = MonitoringDashboard(_seasonal_overview())
    assert dashboard.compare.value == "seasonal" and dashboard.compare.layout.display is None
    title = dashboard.over_time_figure.layout.title.text
    assert title.endswith("the same days of the reference year")
    assert "same calendar days" in dashboard.over_time_note.value
    assert dashboard.snapshot.metadata["reference"] == "the same days of the reference year"
    seasonal_red = sum(dashboard.over_time_figure.data[0].z[0])
    dashboard.compare.value = "whole"  # the control redraws the grid, the note and the table
    assert dashboard.over_time_figure.layout.title.text.endswith("the whole reference")
    assert sum(dashboard.over_time_figure.data[0].z[0]) > seasonal_red + 30
    assert "compare with the same days of the reference year instead" in (
        dashboard.over_time_note.value
    )
    # a whole year of dates: the table's reference is all of it either way
    assert dashboard.snapshot.reference_rows == 365 * 20
    without = MonitoringDashboard(_seasonal_overview(calendar=False))
    assert without.compare.value == "whole" and without.compare.layout.display == "none"
