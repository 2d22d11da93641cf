from __future__ import annotations

import pandas as pd
import pytest

from workbench import ConfigurationError, DataError
from workbench.features import add_calendar_features


def test_day_of_week_and_italian_holidays() -> None:
    days = pd.to_datetime(["2024-12-25", "2024-12-27", "2024-08-15", "2025-04-21", "2025-04-22"])
    out = add_calendar_features(pd.DataFrame({"t": days}), "t")
    assert out["day_of_week"].tolist() == [2, 4, 3, 0, 1]
    assert out["is_holiday"].tolist() == [True, False, True, True, False]  # Pasquetta 2025


def test_times_within_a_day_count_as_that_day() -> None:
    out = add_calendar_features(pd.DataFrame({"t": pd.to_datetime(["2024-12-25 18:30"])}), "t")
    assert out["is_holiday"].tolist() == [True]


def test_errors_name_the_column_or_country() -> None:
    with pytest.raises(DataError, match="'t' is absent"):
        add_calendar_features(pd.DataFrame({"x": [1]}), "t")
    with pytest.raises(DataError, match="must be datetime"):
        add_calendar_features(pd.DataFrame({"t": ["2024-01-01"]}), "t")
    with pytest.raises(ConfigurationError, match="'XX'"):
        add_calendar_features(pd.DataFrame({"t": pd.to_datetime(["2024-01-01"])}), "t", "XX")
