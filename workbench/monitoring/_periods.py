"""Periods: the buckets of time (or of rows) that monitoring counts and tests in.

A period is a pandas frequency on the event-time column (``"1h"``, ``"1D"``, ``"1W"``),
keyed by its start, or an int for consecutive blocks of that many rows in time order,
keyed by the first row's number. Every "per period" result of monitoring (drift,
performance, estimates, errors, the dashboard's summaries) is cut here, so they line up.

Monitoring called a period a "window" before (a feature's window is a trailing window);
the old ``window=`` keyword and :func:`windows` still work, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from workbench._exceptions import MonitoringError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["period_keys", "periods", "renamed_window", "windows"]

P = TypeVar("P")


def renamed_window(period: P, window: P | None, *, default: P, caller: str) -> P:
    """The period a caller asked for: ``period``, or the old keyword ``window`` (with a
    ``DeprecationWarning`` naming the new one).

    Raises:
        MonitoringError: Both were given (``period`` other than its ``default``).
    """
    if window is None:
        return period
    if period != default:
        raise MonitoringError(
            f"{caller}() got period={period!r} and window={window!r}; 'window' is the old "
            "name of 'period': pass period= alone."
        )
    warnings.warn(
        f"{caller}(window=...) is deprecated; say period={window!r} (a monitoring bucket "
        "of time is a 'period').",
        DeprecationWarning,
        stacklevel=3,
    )
    return window


def period_keys(frame: pd.DataFrame, period: str, time_column: str) -> pd.Series:
    """The start of the time period (a pandas frequency) of each row of ``frame``."""
    import pandas as pd

    times = pd.to_datetime(frame[time_column], utc=True)
    offset = pd.tseries.frequencies.to_offset(period)
    if isinstance(offset, pd.offsets.Tick):
        return times.dt.floor(offset)
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive.dt.to_period(period).dt.start_time.dt.tz_localize("UTC")


def periods(frame: pd.DataFrame, period: str | int, *, time_column: str = "timestamp") -> Any:
    """Group ``frame`` by period: a pandas frequency (``"1h"``, ``"1D"``, ``"1W"``) on
    ``time_column``, or an int for consecutive blocks of that many rows (in time order).

    Returns:
        A pandas GroupBy whose keys (named ``window``) are the periods' start (a time, or
        a row number).

    Raises:
        MonitoringError: The time column is missing or the period is not valid.
    """
    import pandas as pd

    if time_column not in frame.columns:
        raise MonitoringError(
            f"Periods need the time column {time_column!r}; the frame has {list(frame.columns)}."
        )
    ordered = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    if isinstance(period, int) and not isinstance(period, bool):
        if period < 1:
            raise MonitoringError(f"A count period needs at least 1 row; got {period}.")
        start = (np.arange(len(ordered)) // period) * period
        return ordered.groupby(pd.Series(start, name="window"), sort=True)
    try:
        pd.tseries.frequencies.to_offset(str(period))
    except ValueError as exc:
        raise MonitoringError(
            f"Period {period!r} is neither a row count nor a pandas frequency such as "
            f"'1h', '1D' or '1W': {exc}"
        ) from exc
    keys = period_keys(ordered, str(period), time_column)
    return ordered.groupby(keys.rename("window"), sort=True)


def windows(frame: pd.DataFrame, window: str | int, *, time_column: str = "timestamp") -> Any:
    """Deprecated: the old name of :func:`periods`."""
    warnings.warn(
        "windows() is deprecated; say periods() (a monitoring bucket of time is a 'period').",
        DeprecationWarning,
        stacklevel=2,
    )
    return periods(frame, window, time_column=time_column)
