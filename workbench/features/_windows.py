"""Trailing-window features computed as of each event time, with no look-ahead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_trailing_mean"]


def add_trailing_mean(
    frame: pd.DataFrame,
    *,
    entity: str,
    time: str,
    value: str,
    days: int = 30,
    name: str | None = None,
) -> pd.DataFrame:
    """Add the mean of ``value`` over the ``days`` days strictly before each row's time.

    The window for a row at time ``t`` is ``[t - days, t)``: the row's own value and
    anything later never enter it, so the feature is what was known on the morning of
    ``t``. Missing days (closed factories, quarantined readings) simply contribute
    nothing; a row with no earlier value in the window gets NaN.

    Args:
        frame: Rows of several entities.
        entity: Entity id column (one series per entity).
        time: Datetime column.
        value: Column to average.
        days: Window length in days.
        name: New column's name (default ``<value>_<days>d_mean``).

    Returns:
        A copy of ``frame`` (same row order) with the new column.

    Raises:
        DataError: A named column is absent.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"id": ["a"] * 3, "t": pd.date_range("2024-01-01", periods=3),
        ...                   "v": [1.0, 2.0, 4.0]})
        >>> add_trailing_mean(f, entity="id", time="t", value="v", days=2)["v_2d_mean"].tolist()
        [nan, 1.0, 1.5]
    """
    absent = [c for c in (entity, time, value) if c not in frame.columns]
    if absent:
        raise DataError(f"Columns {absent} are absent. Columns: {list(frame.columns)}.")
    if days < 1:
        raise DataError(f"The 'days' parameter must be at least 1. Got {days!r}.")
    column = name or f"{value}_{days}d_mean"
    order = frame.sort_values([entity, time], kind="stable")
    rolled = (
        order.set_index(time)
        .groupby(entity, observed=True, sort=False)[value]
        .rolling(f"{days}D", closed="left")
        .mean()
    )
    out = frame.copy()
    out.loc[order.index, column] = rolled.to_numpy()
    return out.astype({column: "float64"})
