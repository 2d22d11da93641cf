"""Trailing-window features computed as of each event time, with no look-ahead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench._exceptions import DataError
from workbench.features._renamed import renamed_keywords

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AGGREGATIONS", "add_trailing", "add_trailing_mean"]

#: Aggregations a trailing window can compute.
AGGREGATIONS = ("mean", "sum", "min", "max", "count")


@renamed_keywords(time="time_column")
def add_trailing(
    frame: pd.DataFrame,
    *,
    entity: str | Sequence[str],
    time_column: str,
    value: str,
    days: int = 30,
    agg: str = "mean",
    name: str | None = None,
) -> pd.DataFrame:
    """Add ``agg`` of ``value`` over the ``days`` days strictly before each row's time.

    The window for a row at time ``t`` is ``[t - days, t)``: the row's own value and
    anything later never enter it, so the feature is what was known on the morning of
    ``t``. Missing days (closed factories, quarantined readings) simply contribute
    nothing. A row with no earlier value in the window gets NaN for ``mean``, ``min``
    and ``max``, and 0 for ``sum`` and ``count``.

    Args:
        frame: Rows of several entities.
        entity: Entity key column(s) (one series per entity).
        time_column: Datetime column (``time=`` is its old name, accepted with a
            DeprecationWarning).
        value: Column to aggregate.
        days: Window length in days.
        agg: One of :data:`AGGREGATIONS`.
        name: New column's name (default ``<value>_<days>d_<agg>``).

    Returns:
        A copy of ``frame`` (same row order) with the new column.

    Raises:
        DataError: A named column is absent, ``days`` < 1, or ``agg`` is unknown.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"id": ["a"] * 3, "t": pd.date_range("2024-01-01", periods=3),
        ...                   "v": [1.0, 2.0, 4.0]})
        >>> out = add_trailing(f, entity="id", time_column="t", value="v", days=2, agg="sum")
        >>> out["v_2d_sum"].tolist()
        [0.0, 1.0, 3.0]
    """
    keys = [entity] if isinstance(entity, str) else list(entity)
    absent = [c for c in (*keys, time_column, value) if c not in frame.columns]
    if absent:
        raise DataError(f"Columns {absent} are absent. Columns: {list(frame.columns)}.")
    if days < 1:
        raise DataError(f"The 'days' parameter must be at least 1. Got {days!r}.")
    if agg not in AGGREGATIONS:
        raise DataError(f"The 'agg' parameter must be one of {AGGREGATIONS}. Got {agg!r}.")
    column = name or f"{value}_{days}d_{agg}"
    order = frame.sort_values([*keys, time_column], kind="stable")
    rolling = (
        order.set_index(time_column)
        .groupby(keys if len(keys) > 1 else keys[0], observed=True, sort=False)[value]
        .rolling(f"{days}D", closed="left")
    )
    rolled = getattr(rolling, agg)().to_numpy(dtype="float64")
    out = frame.copy()
    out[column] = 0.0
    out.loc[order.index, column] = rolled
    if agg in ("sum", "count"):
        out[column] = out[column].fillna(0.0)
    return out


@renamed_keywords(time="time_column")
def add_trailing_mean(
    frame: pd.DataFrame,
    *,
    entity: str,
    time_column: str,
    value: str,
    days: int = 30,
    name: str | None = None,
) -> pd.DataFrame:
    """Add the mean of ``value`` over the ``days`` days strictly before each row's time.

    The same as :func:`add_trailing` with ``agg="mean"``; a row with no earlier value in
    the window gets NaN. ``time=`` is the old name of ``time_column``, accepted with a
    DeprecationWarning.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"id": ["a"] * 3, "t": pd.date_range("2024-01-01", periods=3),
        ...                   "v": [1.0, 2.0, 4.0]})
        >>> out = add_trailing_mean(f, entity="id", time_column="t", value="v", days=2)
        >>> out["v_2d_mean"].tolist()
        [nan, 1.0, 1.5]
    """
    return add_trailing(
        frame,
        entity=entity,
        time_column=time_column,
        value=value,
        days=days,
        agg="mean",
        name=name or f"{value}_{days}d_mean",
    )
