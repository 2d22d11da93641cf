"""One column's profile, from its merged value counts: exact statistics and warnings.

Numbers get their moments, quantiles, histogram and outliers over finite values (±inf
counted apart), datetimes their cadence on the calendar of their time zone (steps,
coverage, longest gaps), every column its most frequent values and plain-language
warnings.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import numpy as np

from workbench.data._mask import mask_value
from workbench.explore._records import ColumnProfile
from workbench.explore._stats import (
    EXACT_FLOAT,
    NUMBER_FAMILIES,
    Counts,
    Spec,
    category_label,
    offset,
    quantile,
)

__all__ = ["QUANTILES", "column_profile", "dtype_label"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _kind(family: str, counts: Counts, max_categories: int) -> str:
    if family == "bool":
        return "boolean"
    if family == "datetime":
        return "datetime"
    if family in NUMBER_FAMILIES:
        n = int(counts.counts.sum())
        exact = family != "float" and n > 1 and len(counts.values) == n
        return "identifier" if exact else "numeric"  # distinct integers name rows
    n = int(counts.counts.sum())
    distinct = len(counts.values)
    if distinct <= max_categories:
        return "categorical"
    if distinct == n and n > 1:
        return "identifier"
    return "text"


def _iso(value: int, unit: str, tz: str | None) -> str:
    import pandas as pd

    stamp = pd.Timestamp(np.datetime64(int(value), cast(Any, unit)))
    return (stamp.tz_localize("UTC").tz_convert(tz) if tz else stamp).isoformat()


def dtype_label(dtype: Any) -> str:
    """The dtype as shown: every text dtype is ``str`` (pandas 3 says ``str``, Dask's
    pyarrow strings ``string``; the values are the same)."""
    import pandas as pd

    return "str" if isinstance(dtype, pd.StringDtype) else str(dtype)


def column_profile(
    spec: Spec,
    dtype: str,
    counts: Counts,
    max_categories: int,
    pii: bool,
    tz: str | None,
    top_n: int,
) -> ColumnProfile:
    family = spec.family
    n = int(counts.counts.sum())
    kind = _kind(family, counts, max_categories)
    warnings: list[str] = []
    distinct = len(counts.values)
    total = n + counts.missing
    if n == 0:
        warnings.append("all values missing")
    elif counts.missing / total > 0.5:
        warnings.append(f"mostly missing ({counts.missing / total:.0%})")
    if n > 0 and distinct == 1:
        warnings.append("constant")
    if len(counts.types) > 1:
        warnings.append(f"mixed types ({', '.join(sorted(counts.types))})")
    order = _top(counts.counts, top_n)
    top = tuple(
        (mask_value(v) if pii else _plain(v, family, counts.unit, tz), int(c))
        for v, c in zip(counts.values[order], counts.counts[order], strict=True)
    )
    base: dict[str, Any] = {
        "name": spec.name,
        "kind": kind,
        "dtype": dtype,
        "count": n,
        "missing": counts.missing,
        "distinct": distinct,
        "top": top,
        "pii": pii,
    }
    if kind in ("categorical", "boolean") and n:
        share = counts.counts.max() / n
        if distinct > 1 and share >= 0.9:
            warnings.append(f"imbalanced: the most frequent value is {share:.0%} of rows")
    if kind == "text" and distinct > max_categories:
        warnings.append(f"high cardinality ({distinct:,} distinct values)")
    if family in NUMBER_FAMILIES:
        return _number_column(base, counts, pii, warnings)
    if family == "datetime" and n:
        v = counts.values
        frequency, coverage, gaps = _cadence(v, counts.unit, tz)
        if coverage is not None and coverage < 0.9:
            warnings.append(f"gaps: {coverage:.0%} of {frequency} steps have data")
        return ColumnProfile(
            **base,
            min=_iso(v[0], counts.unit, tz),
            max=_iso(v[-1], counts.unit, tz),
            frequency=frequency,
            coverage=coverage,
            gaps=gaps,
            warnings=tuple(warnings),
        )
    return ColumnProfile(**base, warnings=tuple(warnings))


def _number_column(
    base: dict[str, Any], counts: Counts, pii: bool, warnings: list[str]
) -> ColumnProfile:
    """Statistics of a number over its finite values (±inf are counted apart)."""
    values, tally = counts.finite()
    n = int(tally.sum())
    infinite = int(counts.counts.sum()) - n
    if infinite:
        warnings.append(f"{infinite:,} infinite values (±inf), left out of the statistics")
    if n == 0:
        return ColumnProfile(**base, infinite=infinite, warnings=tuple(warnings))
    # Integers beyond 2**53 lose digits as floats: work on exact differences from the
    # smallest value, and add it back to what is reported.
    big = values.dtype.kind in "iu" and max(abs(int(values[0])), abs(int(values[-1]))) > EXACT_FLOAT
    origin: Any = values[0].item() if big else 0
    v = offset(values, origin) if big else values.astype(np.float64, copy=False)
    cum = np.cumsum(tally)

    def below(x: float, side: Literal["left", "right"] = "left") -> int:
        """How many values are < x (``left``) or <= x (``right``)."""
        at = int(np.searchsorted(v, x, side=side))
        return int(cum[at - 1]) if at else 0

    weights = None if len(v) == n else tally.astype("float64")
    mean = float(np.average(v, weights=weights))
    centred = v - mean
    squared = centred * centred
    m2 = float(np.dot(squared, weights) if weights is not None else squared.sum())
    cubed = squared * centred
    m3 = float(np.dot(cubed, weights) if weights is not None else cubed.sum())
    std = float(np.sqrt(m2 / (n - 1))) if n > 1 else float("nan")
    skew = float("nan")
    if n > 2 and m2 > 0:
        g1 = (m3 / n) / (m2 / n) ** 1.5
        skew = float(g1 * np.sqrt(n * (n - 1)) / (n - 2))
    if np.isfinite(skew) and abs(skew) > 2:
        warnings.append(f"skewed (skew {skew:.1f})")
    q = {f"{int(p * 100)}%": quantile(v, tally, p, cum) for p in QUANTILES}
    iqr = q["75%"] - q["25%"]
    low, high = q["25%"] - 1.5 * iqr, q["75%"] + 1.5 * iqr
    outliers = below(low) + n - below(high, "right")
    edges = np.linspace(v[0], v[-1] if v[-1] > v[0] else v[0] + 1.0, 31)
    # numpy's bins: [e_i, e_i+1), the last one closed
    cuts = [0, *(below(e) for e in edges[1:-1]), n]
    hist = np.diff(cuts)
    zeros = int(tally[values == 0].sum())
    shift = float(origin)
    return ColumnProfile(
        **base,
        min=None if pii else values[0].item(),
        max=None if pii else values[-1].item(),
        mean=None if pii else shift + mean,
        std=std,
        skew=skew,
        quantiles={} if pii else {k: shift + x for k, x in q.items()},
        histogram=((), ())
        if pii
        else (tuple(shift + float(e) for e in edges), tuple(hist.tolist())),
        zeros=zeros,
        outliers=outliers,
        infinite=infinite,
        warnings=tuple(warnings),
    )


def _cadence(
    v: np.ndarray, unit: str, tz: str | None
) -> tuple[str | None, float | None, tuple[tuple[str, str, int], ...]]:
    """The step between a datetime's distinct values, how many of the steps between its
    first and last value have data, and its longest gaps: ``(from, to, steps missing)``.

    Steps of a day or more are taken on the calendar of the column's time zone, so a
    yearly series has no gap in leap years, a monthly one none in 31-day months, a daily
    one none where daylight saving time makes a day 23 or 25 hours long, and one on
    business days none over weekends.
    """
    import pandas as pd

    if len(v) < 2:
        return None, None, ()
    steps = np.diff(v)
    values, tally = np.unique(steps, return_counts=True)
    modal = int(values[np.argmax(tally)])
    day = int(np.array(1, dtype="m8[D]").astype(f"m8[{unit}]").astype(np.int64))
    grid, step, label = v, modal, str(pd.Timedelta(np.timedelta64(modal, cast(Any, unit))))
    if modal >= day - day // 24:  # a day or more, give or take an hour of DST
        stamps = pd.DatetimeIndex(v.view(f"datetime64[{unit}]"))
        wall = stamps if not tz else stamps.tz_localize("UTC").tz_convert(tz).tz_localize(None)
        calendar = _calendar(wall, day)
        if calendar is not None:
            grid, label_of = calendar
            grid_steps = np.diff(grid)
            if (grid_steps > 0).all():
                counted, times = np.unique(grid_steps, return_counts=True)
                step = int(counted[np.argmax(times)])
                label = label_of(step)
            else:
                grid = v
    grid_steps = np.diff(grid)
    expected = int((grid[-1] - grid[0]) // step) + 1
    coverage = float(min(len(v) / expected, 1.0))
    # a gap: at least one step with no data (a longer, off-grid step is not one)
    big = np.flatnonzero(grid_steps >= 2 * step)
    longest = big[np.argsort(-grid_steps[big], kind="stable")][:5]
    gaps = tuple(
        (_iso(v[i], unit, tz), _iso(v[i + 1], unit, tz), int(grid_steps[i] // step) - 1)
        for i in longest
    )
    return label, coverage, gaps


def _calendar(wall: Any, day: int) -> tuple[np.ndarray, Any] | None:
    """Positions of wall-clock stamps on a calendar (months, business days or days) and
    how to name a step there; ``None`` when they keep no calendar."""
    import pandas as pd

    ticks = wall.asi8
    time_of_day = ticks % day
    if (time_of_day != time_of_day[0]).any():
        return None
    days = ticks // day
    if (wall.day == wall.day[0]).all() or wall.is_month_end.all():
        months = (wall.year * 12 + wall.month - 1).to_numpy(dtype=np.int64)
        if (np.diff(months) >= 1).all():

            def months_label(step: int) -> str:
                if step % 12 == 0:
                    years = step // 12
                    return f"{years} year" + ("s" if years > 1 else "")
                return f"{step} month" + ("s" if step > 1 else "")

            return months, months_label
    dates = days.astype("datetime64[D]")
    weekdays = ((days + 3) % 7) < 5  # 1970-01-01 was a Thursday
    if weekdays.all() and days[-1] - days[0] >= 14:
        business = np.busday_count(dates[0], dates)

        def business_label(step: int) -> str:
            return f"{step} business day" + ("s" if step > 1 else "")

        if np.unique(np.diff(days)).size > 1:  # Fridays to Mondays: business days
            return business.astype(np.int64), business_label

    def days_label(step: int) -> str:
        return str(pd.Timedelta(days=step))

    return days.astype(np.int64), days_label


def _top(counts: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` largest counts, ties in value order (as a stable sort gives),
    without sorting all of them: a column of distinct floats has as many counts as rows."""
    if len(counts) <= n:
        return np.argsort(-counts, kind="stable")
    threshold = -np.partition(-counts, n - 1)[n - 1]
    candidates = np.flatnonzero(counts >= threshold)
    ordered: np.ndarray = candidates[np.argsort(-counts[candidates], kind="stable")][:n]
    return ordered


def _plain(value: Any, family: str, unit: str, tz: str | None) -> Any:
    if family == "datetime":
        return _iso(int(value), unit, tz)
    if family in ("object", "bool"):
        return category_label(value)
    return value.item() if hasattr(value, "item") else value
