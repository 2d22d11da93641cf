"""Propose a contract from good reference data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench._exceptions import ConfigurationError, DataError
from workbench.data._contract import ColumnContract, Contract

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MIN_DATE_MARGIN_DAYS", "infer_contract"]

#: The least an inferred date range reaches beyond the dates seen (about ten years): a
#: contract inferred from a month of data still takes next year's rows, while a year
#: 2200 or a 1900-01-01 placeholder is caught.
MIN_DATE_MARGIN_DAYS = 3653


def _outward(value: float, step: float, up: bool) -> float:
    """``value`` rounded away from the range to a multiple of ``step`` (no float noise:
    a bound reads ``8.43``, not ``8.420300000000001``)."""
    digits = max(0, -math.floor(math.log10(step)))
    multiple = math.ceil(value / step) if up else math.floor(value / step)
    return round(multiple * step, digits)


def _number_range(present: pd.Series, margin: float, whole: bool) -> dict[str, Any]:
    """Hard bounds (the range seen, widened by ``margin`` of its width on each side; a
    column never negative stays non-negative) and soft ones (the range seen)."""
    low, high = float(present.min()), float(present.max())
    width = high - low or abs(high) or 1.0  # one distinct value: a width of its size
    step = 1.0 if whole else 10.0 ** (math.floor(math.log10(width)) - 2)
    hard_low = _outward(low - margin * width, step, up=False)
    hard_high = _outward(high + margin * width, step, up=True)
    if low >= 0:  # a sign change is a fault, not a new extreme
        hard_low = max(hard_low, 0.0)
    bounds = {"min": hard_low, "max": hard_high, "warn_min": low, "warn_max": high}
    return {k: int(v) for k, v in bounds.items()} if whole else bounds


def _date_range(present: pd.Series, margin: float) -> dict[str, Any]:
    """Hard bounds: the dates seen, widened by ``margin`` of their span on each side, at
    least :data:`MIN_DATE_MARGIN_DAYS`, within what pandas holds (1677 to 2262); soft:
    nothing before the first date seen (later dates are the normal course of a record,
    so no ``warn_max``)."""
    import datetime as dt

    import pandas as pd

    low, high = present.min(), present.max()
    first, last = low.to_pydatetime(), high.to_pydatetime()
    reach = max((last - first) * margin, dt.timedelta(days=MIN_DATE_MARGIN_DAYS))
    floor = pd.Timestamp("1677-09-22").to_pydatetime()
    ceiling = pd.Timestamp("2262-04-10").to_pydatetime()
    if first.tzinfo is not None:
        floor, ceiling = floor.replace(tzinfo=dt.UTC), ceiling.replace(tzinfo=dt.UTC)
    hard_low = first - reach if first - floor > reach else floor
    hard_high = last + reach if ceiling - last > reach else ceiling
    return {"min": hard_low, "max": hard_high, "warn_min": low}


def infer_contract(
    reference: pd.DataFrame,
    *,
    key: Sequence[str] = (),
    target: str | None = None,
    min_class_share: float | None = None,
    pii: Sequence[str] = (),
    max_categories: int = 50,
    margin: float = 1.0,
    name: str = "",
) -> Contract:
    """Propose a contract that ``reference`` satisfies: edit it, save it, reuse it.

    Per column: the type (text columns with at most ``max_categories`` distinct values
    become categories), nullability (nullable only if the reference has missing values),
    the categories, uniqueness of integer and text identifiers that never repeat, and a
    range for numbers and dates.

    A range seen in the reference is an observation, not a law: later data go a little
    beyond it (a wetter day, a colder one). So each inferred range is marked
    ``bounds="inferred"`` and kept at two levels: a value beyond the range seen
    (``warn_min``/``warn_max``) stays valid and is reported as a warning; only a value
    beyond the range widened by ``margin`` times its width on each side (``min``/
    ``max``) is quarantined, such as a sign flip, a unit error or a placeholder like
    ``-999``. A column that was never negative keeps ``min`` at 0 or above (a sign
    flip is a fault; for a quantity of either sign that happened to stay positive, such
    as temperatures in °C, lower ``min`` by hand). Dates widen by at least
    :data:`MIN_DATE_MARGIN_DAYS` and warn only before the first date seen. Number
    columns of the ``key`` (identifiers) get no range. Edit any bound to declare it.

    Args:
        reference: Data known to be good, in its proper types.
        key: Columns that identify a row.
        target: Label column, for the class-balance check.
        min_class_share: Class-balance threshold for ``target``.
        pii: Columns to mark personal.
        max_categories: Most distinct values for a text column to become a category.
        margin: How far beyond the range seen values are still accepted, as a share of
            the range's width on each side (``0``: the range seen is the hard bound).
        name: The dataset's name.

    Raises:
        DataError: ``reference`` is empty or a named column is absent.
        ConfigurationError: ``margin`` is negative.

    Example:
        >>> import pandas as pd
        >>> c = infer_contract(pd.DataFrame({"x": [1.0, 2.5], "g": ["a", "b"]}))
        >>> x = c.column("x")
        >>> (x.min, x.max), (x.warn_min, x.warn_max), x.bounds
        ((0.0, 4.0), (1.0, 2.5), 'inferred')
        >>> c.column("g").categories
        ('a', 'b')
    """
    import pandas as pd

    if reference.empty:
        raise DataError("infer_contract needs reference rows; the frame is empty.")
    if not margin >= 0:
        raise ConfigurationError(f"The 'margin' parameter must be >= 0. Got {margin!r}.")
    absent = [c for c in [*key, *pii, *([target] if target else [])] if c not in reference]
    if absent:
        raise DataError(f"Columns {absent} are not in the reference frame.")
    columns = []
    for column in reference.columns:
        s = reference[column]
        name_ = str(column)
        nullable = bool(s.isna().any())
        common: dict[str, Any] = {"name": name_, "nullable": nullable, "pii": name_ in pii}
        present = s.dropna()
        ranged = len(present) > 0 and name_ not in key  # an identifier has no range
        if pd.api.types.is_bool_dtype(s.dtype):
            columns.append(ColumnContract(dtype="bool", **common))
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):  # in a key too: a time
            bounds = _date_range(present, margin) if len(present) else {}
            columns.append(
                ColumnContract(
                    dtype="datetime",
                    bounds="inferred" if bounds else "declared",
                    **bounds,
                    **common,
                )
            )
        elif pd.api.types.is_numeric_dtype(s.dtype):
            whole = pd.api.types.is_integer_dtype(s.dtype)
            unique = whole and bool(present.is_unique) and name_ in key and len(key) == 1
            bounds = _number_range(present, margin, whole) if ranged else {}
            columns.append(
                ColumnContract(
                    dtype="int" if whole else "float",
                    unique=unique,
                    bounds="inferred" if bounds else "declared",
                    **bounds,
                    **common,
                )
            )
        else:
            values = present.astype(str)
            distinct = values.nunique()
            if 0 < distinct <= max_categories and name_ not in pii and name_ not in key:
                columns.append(
                    ColumnContract(
                        dtype="category", categories=tuple(sorted(values.unique())), **common
                    )
                )
            else:
                unique = bool(values.is_unique) and name_ in key and len(key) == 1
                columns.append(ColumnContract(dtype="str", unique=unique, **common))
    return Contract(
        columns=tuple(columns),
        key=tuple(key),
        target=target,
        min_class_share=min_class_share,
        name=name,
    )
