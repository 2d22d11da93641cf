"""Periods: the buckets of time (or of rows) that monitoring counts and tests in.

A period is a pandas frequency on the event-time column (``"1h"``, ``"1D"``, ``"1W"``),
keyed by its start, or an int for consecutive blocks of that many rows in time order,
keyed by the first row's number. Every "per period" result of monitoring (drift,
performance, estimates, errors, the dashboard's summaries) is cut here, so they line up.

Time is the data's **event time** when the model's data has one (the data contract's
``event_time`` column, which the server logs beside the inputs when a request carries
it), else the **arrival time** of the requests (the log's ``timestamp``):
:func:`time_basis` chooses, :func:`period_keys` reads a logged event time as ISO 8601
text and falls back to the arrival time for a row without one.

Monitoring called a period a "window" before (a feature's window is a trailing window);
the old ``window=`` keyword and :func:`windows` still work, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from workbench._exceptions import MonitoringError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ARRIVAL",
    "ARRIVAL_BASIS",
    "TimeBasis",
    "period_keys",
    "period_span",
    "periods",
    "renamed_window",
    "time_basis",
    "times_of",
    "windows",
]

#: The log's own column: when each request arrived at the server.
ARRIVAL = "timestamp"

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


@dataclasses.dataclass(frozen=True)
class TimeBasis:
    """Which time cuts a log into periods: ``column`` (the event-time column, or
    ``timestamp`` for arrival) and the words that say so (``label``)."""

    column: str
    label: str

    @property
    def is_event_time(self) -> bool:
        return self.column != ARRIVAL


#: Periods by the requests' arrival (the log's ``timestamp``).
ARRIVAL_BASIS = TimeBasis(ARRIVAL, "arrival time")


def time_basis(event_time: str | None, logged: Sequence[str], choice: str = "auto") -> TimeBasis:
    """The time a log's periods follow.

    Args:
        event_time: The event-time column the data contract names (``None``: none).
        logged: The columns of the inference log.
        choice: ``"auto"`` (event time where the log has it, else arrival), ``"event"``
            or ``"arrival"``.

    Raises:
        MonitoringError: ``choice`` is unknown, or ``"event"`` without an event time.
    """
    if choice not in ("auto", "event", "arrival"):
        raise MonitoringError(
            f"The time of monitoring periods must be 'auto', 'event' or 'arrival'; got {choice!r}."
        )
    has_event = event_time is not None and event_time in logged
    if choice == "event" and not has_event:
        where = (
            f"the inference log has no column {event_time!r}: send it with each request"
            if event_time
            else "the model's data contract names no event_time column"
        )
        raise MonitoringError(f"Periods by event time need one; {where}.")
    if has_event and choice != "arrival":
        return TimeBasis(str(event_time), f"event time ({event_time})")
    return ARRIVAL_BASIS


def times_of(frame: pd.DataFrame, time_column: str) -> pd.Series:
    """``frame[time_column]`` as UTC times: a logged event time is ISO 8601 text, and
    where a row has none (or none that reads) its arrival time stands in."""
    import pandas as pd

    column = frame[time_column]
    if time_column == ARRIVAL or pd.api.types.is_datetime64_any_dtype(column):
        return pd.to_datetime(column, utc=True)
    times = pd.to_datetime(column.astype("string"), utc=True, format="ISO8601", errors="coerce")
    if ARRIVAL in frame.columns and times.isna().any():
        times = times.fillna(pd.to_datetime(frame[ARRIVAL], utc=True))
    return times


def period_keys(frame: pd.DataFrame, period: str, time_column: str) -> pd.Series:
    """The start of the time period (a pandas frequency) of each row of ``frame``."""
    import pandas as pd

    times = times_of(frame, time_column)
    offset = pd.tseries.frequencies.to_offset(period)
    if isinstance(offset, pd.offsets.Tick):
        floored: pd.Series = times.dt.floor(offset)
        return floored
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    starts: pd.Series = naive.dt.to_period(period).dt.start_time.dt.tz_localize("UTC")
    return starts


def period_span(start: Any, period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last instant of the time period (a pandas frequency) that starts at
    ``start``, as :func:`period_keys` cuts them (a week from its Monday to its Sunday).

    Raises:
        MonitoringError: ``period`` is not a pandas frequency.
    """
    import pandas as pd

    try:
        offset = pd.tseries.frequencies.to_offset(period)
    except (ValueError, TypeError) as exc:
        raise MonitoringError(
            f"Period {period!r} is not a pandas frequency such as '1h', '1D' or '1W': {exc}"
        ) from exc
    first = pd.Timestamp(start)
    if isinstance(offset, pd.offsets.Tick):
        return first, first + pd.Timedelta(offset) - pd.Timedelta(1, "ns")
    naive = first.tz_convert("UTC").tz_localize(None) if first.tzinfo else first
    try:
        end = naive.to_period(period).end_time
    except ValueError:  # a frequency periods cannot take (month starts): to the next start
        end = naive + offset - pd.Timedelta(1, "us")
    return first, end.tz_localize("UTC") if first.tzinfo else end


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
