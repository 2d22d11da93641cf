"""Calendar features: day of week and national holidays."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._exceptions import ConfigurationError, DataError
from workbench._imports import require

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_calendar_features"]


def add_calendar_features(
    frame: pd.DataFrame, time_column: str, country: str = "IT"
) -> pd.DataFrame:
    """Add ``day_of_week`` (Monday = 0) and ``is_holiday`` (a national holiday).

    Args:
        frame: Rows with a datetime column.
        time_column: Name of that column.
        country: Country code known to the ``holidays`` package.

    Returns:
        A copy of ``frame`` with the two new columns.

    Raises:
        DataError: ``time_column`` is absent or not datetime.
        ConfigurationError: The country is unknown.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"day": pd.to_datetime(["2024-12-25", "2024-12-27"])})
        >>> add_calendar_features(f, "day")[["day_of_week", "is_holiday"]].values.tolist()
        [[2, True], [4, False]]
    """
    import pandas as pd

    holidays = require("holidays", feature="holiday calendars")
    if time_column not in frame.columns:
        raise DataError(
            f"The time column {time_column!r} is absent. Columns: {list(frame.columns)}."
        )
    times = frame[time_column]
    if not pd.api.types.is_datetime64_any_dtype(times):
        raise DataError(
            f"The time column {time_column!r} must be datetime. Got dtype {times.dtype}."
        )
    out = frame.copy()
    out["day_of_week"] = times.dt.dayofweek.astype("int64")
    years = range(int(times.dt.year.min()), int(times.dt.year.max()) + 1) if len(out) else []
    try:
        calendar = holidays.country_holidays(country, years=years)
    except NotImplementedError:
        raise ConfigurationError(
            f"The 'country' setting must be a country known to the holidays package. "
            f"Got {country!r}."
        ) from None
    days = pd.to_datetime(list(calendar.keys()))
    out["is_holiday"] = times.dt.normalize().isin(days).astype(bool)
    return out
