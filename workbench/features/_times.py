"""How the feature store holds times: UTC without a time zone, spans up to :data:`MAX_SPAN`.

Event times, entity-row times and the ``start``/``end``/``at`` a caller passes are all
brought to UTC and stored without a zone, so that rows from sources in different zones
compare as the instants they are.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from workbench._exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_SPAN", "as_utc_naive", "utc_timestamp"]

#: The longest span the store computes with: pandas' ``Timedelta.max`` (int64
#: nanoseconds, about 292 years) in whole days. A longer TTL or window cannot be
#: applied to a timestamp; ``ttl=None`` means no limit.
MAX_SPAN = dt.timedelta(days=106_751)


def as_utc_naive(series: pd.Series, where: str) -> pd.Series:
    """``series`` as ``datetime64[ns]`` in UTC without a zone (text parsed as ISO 8601).

    Raises:
        DataError: A value is not a date or time; the message names ``where``.
    """
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series, format="ISO8601")
        except (ValueError, TypeError) as exc:
            example = series.dropna().astype(str).head(1).tolist()
            raise DataError(
                f"{where} must hold dates or times; {example[:1]} is not one ({exc})."
            ) from None
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.astype("datetime64[ns]")


def utc_timestamp(value: Any, name: str) -> pd.Timestamp:
    """One date or time (the ``name`` parameter) as a UTC Timestamp without a zone.

    Raises:
        DataError: ``value`` is not a date or time.
    """
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{name} must be a date or time. Got {value!r} ({exc}).") from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp
