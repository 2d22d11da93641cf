"""The Explorer's state, driven without a browser."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest

from workbench.data import ColumnContract, Contract, validate
from workbench.explore import Explorer, profile

MIME = "application/vnd.plotly.v1+json"


def _title(output) -> str:  # type: ignore[no-untyped-def]
    return str(output.outputs[0]["data"][MIME]["layout"]["title"]["text"])


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 500
    return pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=n, freq="D"),
            "kwh": rng.normal(100, 10, n),
            "temp": rng.normal(15, 5, n),
            "region": rng.choice(["Nord", "Sud"], n),
        }
    )


def test_tabs_and_overview(frame: pd.DataFrame) -> None:
    explorer = Explorer(frame, target="kwh")
    titles = [explorer.tabs.get_title(i) for i in range(len(explorer.tabs.children))]
    assert titles == ["Overview", "Column", "Correlations", "Missing values", "Time", "Quality"]
    overview = explorer.tabs.children[0].value
    assert ">500<" in overview and ">4<" in overview and "region" in overview  # key figures
    assert "numeric · target" in overview and "<svg" in overview  # a small chart per column
    assert "1 Jan 2024 – 14 May 2025" in overview  # dates as people write them
    assert ">None<" not in overview and "T00:00:00" not in overview
    assert explorer.column.value == "kwh"  # the target first


def test_the_column_tab_opens_on_a_number_not_the_date(frame: pd.DataFrame) -> None:
    explorer = Explorer(frame)
    assert explorer.column.value == "kwh"  # the first numeric column; "day" comes first
    assert "Pass quality" not in explorer.tabs.children[5].value
    assert "No data contract has checked these rows" in explorer.tabs.children[5].value


def test_column_picker_redraws_distribution_stats_and_target_plot(frame: pd.DataFrame) -> None:
    explorer = Explorer(frame, target="kwh")
    explorer.column.value = "temp"
    assert _title(explorer.column_plot).startswith("temp — numeric")
    assert "mean" in explorer.column_stats.value
    assert _title(explorer.versus_target).startswith("kwh vs temp")
    explorer.column.value = "region"
    assert _title(explorer.column_plot).startswith("region — categorical")
    assert _title(explorer.versus_target).startswith("kwh vs region")  # box plot
    explorer.column.value = "kwh"
    assert explorer.versus_target.outputs == ()


def test_a_heatmap_click_shows_the_pair(frame: pd.DataFrame) -> None:
    explorer = Explorer(frame)
    trace = explorer.heatmap.data[0]
    assert list(trace.x) == ["kwh", "temp"]

    class Points:  # what plotly passes to on_click
        xs, ys = ["temp"], ["kwh"]

    explorer._clicked(trace, Points(), None)
    assert (explorer.pair_x.value, explorer.pair_y.value) == ("temp", "kwh")
    assert _title(explorer.pair_plot).startswith("kwh vs temp")
    explorer.method.value = "spearman"
    assert explorer.heatmap.layout.title.text == "spearman"


def test_time_tab_resamples_exactly(frame: pd.DataFrame) -> None:
    explorer = Explorer(frame)
    explorer.freq.value = "W"
    y = explorer.time_plot.outputs[0]["data"][MIME]["data"][0]["y"]
    shown = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])  # plotly typed array
    weekly = frame.groupby(frame["day"].dt.to_period("W").dt.start_time)["kwh"].mean()
    assert shown.tolist() == pytest.approx(weekly.tolist())


def test_quality_tab_and_a_precomputed_profile(frame: pd.DataFrame) -> None:
    contract = Contract((ColumnContract("kwh", "float", min=95),), no_duplicate_rows=False)
    quality = validate(frame[["kwh"]], contract, quarantine_dir=False)
    result = profile(frame, progress=False)
    explorer = Explorer(frame, profile_result=result, quality=quality)
    assert explorer.profile is result
    report = explorer.tabs.children[5]
    assert "quarantined" in report.children[0].value


def test_explorer_on_a_dask_frame(frame: pd.DataFrame) -> None:
    import dask.dataframe as dd

    explorer = Explorer(dd.from_pandas(frame, npartitions=3), target="kwh")
    assert explorer.profile.rows == len(frame)
    explorer.freq.value = "M"
    y = explorer.time_plot.outputs[0]["data"][MIME]["data"][0]["y"]
    shown = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
    monthly = frame.groupby(frame["day"].dt.to_period("M").dt.start_time)["kwh"].mean()
    assert shown.tolist() == pytest.approx(monthly.tolist())
    explorer.select_pair("region", "kwh")
    assert _title(explorer.pair_plot).startswith("kwh vs region")


def test_labels_that_are_not_text_and_infinite_values_reach_every_tab() -> None:
    rng = np.random.default_rng(2)
    n = 300
    frame = pd.DataFrame(
        {
            0: np.where(rng.random(n) < 0.1, np.inf, rng.normal(size=n)),
            1: rng.choice(["a", "b"], n),
            2: pd.date_range("2300-01-01", periods=n, freq="D"),
        }
    )
    explorer = Explorer(frame, target="0")
    assert explorer.profile.names == ["0", "1", "2"]
    explorer.column.value = "0"
    assert "±inf (left out)" in explorer.column_stats.value
    explorer.column.value = "1"
    assert _title(explorer.versus_target).startswith("0 vs 1")
    explorer.select_pair("0", "1")
    assert _title(explorer.pair_plot).startswith("1 vs 0")
    explorer.freq.value = "M"
    assert _title(explorer.time_plot) == "mean 0 per period of 2"
