"""Reference profiles, and the summary of current data against one.

A :class:`ReferenceProfile` is computed once from the training data and stored with the
model (JSON, a few hundred KB): per numeric column, up to ``max_points`` cut points (every
distinct value when there are that few, else quantiles) with the reference's counts
below and at each; per categorical column, the counts of each category. Datetime columns
are not profiled (Evidently leaves them out of drift too); the profile names them in
``skipped``. Current data is summarised against it (:func:`summarize`, or one summary per
period with ``workbench.monitoring.summarize_by_period``) into the mergeable counts of
:mod:`workbench._summaries`.

With the reference's event time (``time_column``), the profile also keeps a
:class:`Calendar`: the same counts per calendar day (``MM-DD``) of the reference, against
the same cut points. Inputs with a season (the weather, holidays) then compare like with
like: :meth:`ReferenceProfile.seasonal` adds up the reference rows of the same calendar
days as a current period (widened by a few days on each side where they are too few), so
a week of January is compared with the reference's January week, not with a whole year.

On the foundation floor because two stages share the record: packaging computes it from
the training data and stores it with a registered version, monitoring compares production
with it (``workbench.monitoring`` re-exports it, and summarises per period).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError
from workbench._records import read_record, write_record
from workbench._summaries import (
    FEW_DISTINCT,
    MAX_POINTS,
    CategoricalCounts,
    Counts,
    NumericCounts,
    Summary,
    distinct_values,
    kind_of,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DATETIME_SKIPPED", "Calendar", "ReferenceProfile", "SeasonalReference", "summarize"]

#: Why a column is left out of drift (``ReferenceProfile.skipped``, ``DriftSnapshot.skipped``).
DATETIME_SKIPPED = "datetime column: not drift-tested (as Evidently)"

#: Reference rows kept per calendar (a seeded sample beyond it), so a profile stays small.
CALENDAR_ROWS = 200_000
#: Fewest reference rows a seasonal comparison wants: the days around are added until then.
SEASONAL_MIN_ROWS = 100
#: Farthest the calendar days around a period are widened to (each side), in days.
SEASONAL_MAX_TOLERANCE = 28


@dataclasses.dataclass
class Calendar:
    """The reference's counts per calendar day of its event time, for seasonal drift.

    Attributes:
        column: The event-time column the days were read from.
        first: The reference's first day (ISO date).
        last: The reference's last day (ISO date).
        days: ``"MM-DD"`` → the counts of that day's reference rows (every year of the
            reference together), against the profile's cut points.
        sampled: Rows the calendar holds when the reference had more than
            ``CALENDAR_ROWS`` (a seeded sample), else ``None``.
    """

    column: str
    first: str
    last: str
    days: dict[str, Summary]
    sampled: int | None = None

    @property
    def covers_year(self) -> bool:
        """Whether the reference spans a full year of its event time (every season)."""
        import datetime as dt

        span = dt.date.fromisoformat(self.last) - dt.date.fromisoformat(self.first)
        return span.days >= 364

    def subset(self, columns: Sequence[str]) -> Calendar:
        return dataclasses.replace(
            self,
            days={
                day: Summary({k: v for k, v in s.columns.items() if k in columns})
                for day, s in self.days.items()
            },
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "first": self.first,
            "last": self.last,
            "sampled": self.sampled,
            "days": {
                day: {name: _sparse(c) for name, c in s.columns.items()}
                for day, s in self.days.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], edges: Mapping[str, np.ndarray]) -> Calendar:
        return cls(
            str(data["column"]),
            str(data["first"]),
            str(data["last"]),
            {
                day: Summary({name: _dense(c, edges.get(name)) for name, c in columns.items()})
                for day, columns in data["days"].items()
            },
            None if data.get("sampled") is None else int(data["sampled"]),
        )


@dataclasses.dataclass(frozen=True)
class SeasonalReference:
    """The reference rows a period is compared with: ``profile`` (their counts),
    ``days`` (the calendar days chosen, ``MM-DD``), ``tolerance`` (days added on each
    side of the period's own) and ``label`` (how a page says it)."""

    profile: ReferenceProfile
    days: tuple[str, ...]
    tolerance: int
    label: str


def _sparse(counts: Counts) -> dict[str, Any]:
    """A day's counts, only what is not zero: a day holds few of the reference's values."""
    if isinstance(counts, CategoricalCounts):
        return {"kind": "categorical", **counts.to_dict()}
    at = counts.at_or_below - counts.below
    within = counts.below[1:] - counts.at_or_below[:-1]
    inside = counts.inside if counts.inside is not None else np.zeros(len(within))
    on, between = np.flatnonzero(at), np.flatnonzero(within)
    return {
        "kind": "numeric",
        "rows": counts.rows,
        "missing": counts.missing,
        "total": counts.total,
        "total_sq": counts.total_sq,
        "low": counts.low,
        "high": counts.high,
        "at": [[int(k), int(at[k])] for k in on],
        "within": [[int(j), int(within[j]), float(inside[j])] for j in between],
    }


def _dense(data: Mapping[str, Any], edges: np.ndarray | None) -> Counts:
    """The counts :func:`_sparse` wrote (a reference's rows lie within its own cut points:
    nothing below the first, nothing above the last, no value it did not have)."""
    if data["kind"] == "categorical":
        return CategoricalCounts.from_dict(data)
    if edges is None:
        raise MonitoringError("Not a reference profile: a calendar column has no cut points.")
    size = len(edges)
    at = np.zeros(size, dtype=np.int64)
    within = np.zeros(max(size - 1, 0), dtype=np.int64)
    inside = np.zeros(max(size - 1, 0))
    for k, n in data["at"]:
        at[int(k)] = int(n)
    for j, n, offset in data["within"]:
        within[int(j)], inside[int(j)] = int(n), float(offset)
    below = np.concatenate([[0], np.cumsum(at[:-1] + within)]).astype(np.int64)
    return NumericCounts(
        below=below,
        at_or_below=below + at,
        rows=int(data["rows"]),
        missing=int(data["missing"]),
        total=float(data["total"]),
        total_sq=float(data["total_sq"]),
        low=float(data["low"]),
        high=float(data["high"]),
        inside=inside,
    )


def _add_columns(parts: Sequence[Summary], names: Sequence[str]) -> Summary:
    """The counts of ``parts`` added up, column by column (a day may lack a column)."""
    total: dict[str, Counts] = {}
    for part in parts:
        for name in names:
            counts = part.columns.get(name)
            if counts is not None:
                total[name] = total[name] + counts if name in total else counts  # type: ignore[operator]
    return Summary(total)


@dataclasses.dataclass
class ReferenceProfile:
    """What drift needs to know about the reference, computed once (see module doc).

    Attributes:
        edges: Cut points per numeric column (sorted, distinct).
        distinct: Distinct reference values per column (capped at ``MAX_POINTS + 1``).
        summary: The reference's own counts.
        exact: Numeric columns whose cut points are every distinct reference value.
        skipped: Columns left out of drift, with the reason (datetime columns).
        calendar: The reference's counts per calendar day of its event time
            (:class:`Calendar`), when profiled with a ``time_column``; else ``None``.
    """

    edges: dict[str, np.ndarray]
    distinct: dict[str, int]
    summary: Summary
    exact: dict[str, bool]
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    calendar: Calendar | None = None

    @property
    def seasonal_ready(self) -> bool:
        """Whether periods can be compared with the same calendar days of the reference:
        it has a calendar of its event time spanning at least a year."""
        return self.calendar is not None and self.calendar.covers_year

    @property
    def rows(self) -> int:
        return self.summary.rows

    @property
    def columns(self) -> list[str]:
        """The profiled columns (not the skipped ones)."""
        return list(self.summary.columns)

    def kind(self, column: str) -> str:
        return kind_of(self.summary.columns[column])

    def tested_as_numeric(self, column: str, current: Counts) -> bool:
        """Numeric with more than ``FEW_DISTINCT`` distinct values in the reference and
        ``current`` together (Evidently's rule: a value the reference never had counts)."""
        if self.kind(column) != "numeric":
            return False
        reference = self.summary.columns[column]
        return distinct_values(reference, current, self.edges.get(column)) > FEW_DISTINCT

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        columns: Sequence[str] | None = None,
        *,
        max_points: int = MAX_POINTS,
        time_column: str | None = None,
    ) -> ReferenceProfile:
        """Profile ``columns`` of ``frame`` (default: all). Datetime columns are not
        profiled: they are named in ``skipped`` (Evidently leaves them out of drift).

        Args:
            frame: The reference rows.
            columns: The columns to profile (default: all).
            max_points: Most cut points per numeric column.
            time_column: The reference's event time: with it, the profile keeps the
                counts per calendar day too (:class:`Calendar`, for seasonal drift).

        Raises:
            MonitoringError: A column is missing or has no values, or ``time_column`` is
                not a column of ``frame``.
        """
        names = list(columns) if columns is not None else [str(c) for c in frame.columns]
        absent = [c for c in names if c not in frame.columns]
        if absent:
            raise MonitoringError(f"The reference frame lacks columns {absent}.")
        if frame.empty:
            raise MonitoringError("The reference frame is empty; drift needs reference rows.")
        edges: dict[str, np.ndarray] = {}
        distinct: dict[str, int] = {}
        exact: dict[str, bool] = {}
        counts: dict[str, Counts] = {}
        skipped: dict[str, str] = {}
        for name in names:
            series = frame[name]
            if _is_datetime(series):
                skipped[name] = DATETIME_SKIPPED
                continue
            if series.dropna().empty:
                raise MonitoringError(
                    f"Column {name!r} has no values in the reference; drop it or fix it."
                )
            if _is_numeric(series):
                values = series.to_numpy(dtype=float, na_value=np.nan)
                present = values[np.isfinite(values)]
                if not len(present):
                    raise MonitoringError(
                        f"Column {name!r} has no finite values in the reference; drop it or fix it."
                    )
                unique = np.unique(present)
                exact[name] = len(unique) <= max_points
                cut = (
                    unique
                    if exact[name]
                    else np.unique(np.quantile(present, np.linspace(0, 1, max_points)))
                )
                edges[name] = cut
                distinct[name] = len(unique)
                counts[name] = NumericCounts.of(values, cut)
            else:
                counts[name] = CategoricalCounts.of(series)
                distinct[name] = len(counts[name].counts)  # type: ignore[union-attr]
        profile = cls(edges, distinct, Summary(counts), exact, skipped)
        if time_column is not None:
            profile.calendar = profile._calendar_of(frame, time_column)
        return profile

    def _calendar_of(self, frame: pd.DataFrame, time_column: str) -> Calendar | None:
        """The counts of ``frame``'s rows per calendar day of ``time_column`` (``None``
        when no row has a time)."""
        import pandas as pd

        if time_column not in frame.columns:
            raise MonitoringError(
                f"The reference frame has no time column {time_column!r}; it has "
                f"{list(frame.columns)}."
            )
        times = pd.to_datetime(frame[time_column], utc=True, errors="coerce")
        dated = frame[times.notna()]
        times = times[times.notna()]
        if dated.empty:
            return None
        sampled = None
        if len(dated) > CALENDAR_ROWS:  # a profile stays small: a seeded sample of rows
            dated = dated.sample(CALENDAR_ROWS, random_state=0)
            times = times.loc[dated.index]
            sampled = CALENDAR_ROWS
        keys = times.dt.strftime("%m-%d")
        days = {
            str(day): self.summarize(part)
            for day, part in dated[self.columns].groupby(keys.to_numpy(), sort=True)
        }
        return Calendar(
            time_column,
            str(times.min().date()),
            str(times.max().date()),
            days,
            sampled,
        )

    def seasonal(
        self,
        first: Any,
        last: Any,
        *,
        tolerance: int | None = None,
        min_rows: int = SEASONAL_MIN_ROWS,
    ) -> SeasonalReference:
        """The reference rows of the same calendar days as a period from ``first`` to
        ``last`` (times or dates; every year of the reference together).

        Args:
            first: The period's first time.
            last: The period's last time.
            tolerance: Days added on each side. Default: none, or as few as give at least
                ``min_rows`` reference rows (up to ``SEASONAL_MAX_TOLERANCE``).
            min_rows: Reference rows wanted when ``tolerance`` is chosen.

        Raises:
            MonitoringError: The profile has no calendar, ``tolerance`` is negative, or
                no reference row falls on those days.
        """
        import pandas as pd

        if self.calendar is None:
            raise MonitoringError(
                "The reference profile has no calendar of its event time: profile it with "
                "time_column=... (package_model does, where the data contract names an "
                "event_time), or compare with the whole reference (compare_with='whole')."
            )
        if tolerance is not None and tolerance < 0:
            raise MonitoringError(
                f"The 'tolerance' of a seasonal reference is days on each side, at least 0. "
                f"Got {tolerance!r} instead."
            )
        start = pd.Timestamp(first).normalize()
        end = pd.Timestamp(last).normalize()
        if end < start:
            start, end = end, start
        calendar = self.calendar
        steps = [tolerance] if tolerance is not None else range(SEASONAL_MAX_TOLERANCE + 1)
        chosen: list[str] = []
        width = 0
        for width in steps:
            span = pd.date_range(start - pd.Timedelta(days=width), end + pd.Timedelta(days=width))
            # a year of days or more is every calendar day (29 February too)
            wanted = set(span.strftime("%m-%d")) if len(span) < 365 else set(calendar.days)
            chosen = sorted(day for day in calendar.days if day in wanted)
            rows = sum(calendar.days[day].rows for day in chosen)
            if rows >= min_rows:
                break
        if not chosen:
            raise MonitoringError(
                f"The reference has no row on the calendar days of {start.date()} to "
                f"{end.date()} (± {width} days): it covers {calendar.first} to "
                f"{calendar.last}. Compare with the whole reference (compare_with='whole')."
            )
        summary = _add_columns([calendar.days[day] for day in chosen], self.columns)
        profile = ReferenceProfile(
            self.edges, self.distinct, summary, self.exact, self.skipped, calendar=None
        )
        label = "the same days of the reference year" + (
            f" (± {width} day{'s' * (width != 1)})" if width else ""
        )
        return SeasonalReference(profile, tuple(chosen), int(width), label)

    def merged(self, other: ReferenceProfile) -> ReferenceProfile:
        """This profile and ``other``'s columns together (``other`` wins a name clash)."""
        calendar = None
        if self.calendar is not None and other.calendar is not None:
            # a day's counts of both (predictions beside the inputs); a calendar of only
            # one side would leave the other's columns out of a seasonal comparison
            days = {
                day: Summary(
                    {
                        **self.calendar.days.get(day, Summary({})).columns,
                        **other.calendar.days.get(day, Summary({})).columns,
                    }
                )
                for day in sorted(set(self.calendar.days) | set(other.calendar.days))
            }
            calendar = dataclasses.replace(self.calendar, days=days)
        return ReferenceProfile(
            {**self.edges, **other.edges},
            {**self.distinct, **other.distinct},
            Summary({**self.summary.columns, **other.summary.columns}),
            {**self.exact, **other.exact},
            {**self.skipped, **other.skipped},
            calendar,
        )

    def subset(self, columns: Sequence[str]) -> ReferenceProfile:
        """The profile of ``columns`` only (skipped ones among them stay named as skipped).

        Raises:
            MonitoringError: A column is neither profiled nor skipped.
        """
        unknown = [c for c in columns if c not in self.summary.columns and c not in self.skipped]
        if unknown:
            raise MonitoringError(f"The reference lacks columns {unknown}; it has {self.columns}.")
        profiled = [c for c in columns if c in self.summary.columns]
        return ReferenceProfile(
            {k: v for k, v in self.edges.items() if k in profiled},
            {k: self.distinct[k] for k in profiled},
            Summary({k: self.summary.columns[k] for k in profiled}),
            {k: v for k, v in self.exact.items() if k in profiled},
            {k: v for k, v in self.skipped.items() if k in columns},
            None if self.calendar is None else self.calendar.subset(profiled),
        )

    def summarize(self, frame: pd.DataFrame) -> Summary:
        """Counts of ``frame`` (current rows) against this profile.

        Raises:
            MonitoringError: ``frame`` lacks a profiled column.
        """
        absent = [c for c in self.columns if c not in frame.columns]
        if absent:
            raise MonitoringError(f"The current data lacks the profiled columns {absent}.")
        counts: dict[str, Counts] = {}
        for name in self.columns:
            series = frame[name]
            if self.kind(name) == "numeric":
                try:
                    values = series.to_numpy(dtype=float, na_value=np.nan)
                except (TypeError, ValueError) as exc:
                    raise MonitoringError(
                        f"Column {name!r} is numeric in the reference but holds values that "
                        f"are not numbers in the current data: {exc}"
                    ) from exc
                counts[name] = NumericCounts.of(values, self.edges[name])
            else:
                counts[name] = CategoricalCounts.of(series)
        return Summary(counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": {k: v.tolist() for k, v in self.edges.items()},
            "distinct": self.distinct,
            "exact": self.exact,
            "skipped": self.skipped,
            "summary": self.summary.to_dict(),
            **({"calendar": self.calendar.to_dict()} if self.calendar is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        try:
            edges = {k: np.asarray(v, dtype=float) for k, v in data["edges"].items()}
            stored = data.get("calendar")  # profiles stored before calendars have none
            return cls(
                edges,
                {k: int(v) for k, v in data["distinct"].items()},
                Summary.from_dict(data["summary"]),
                {k: bool(v) for k, v in data["exact"].items()},
                {str(k): str(v) for k, v in data.get("skipped", {}).items()},
                None if stored is None else Calendar.from_dict(stored, edges),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MonitoringError(f"Not a reference profile: {exc!r}") from exc

    def save(self, path: str | Path) -> Path:
        return write_record(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        return cls.from_dict(read_record(path, "reference profile"))


def _is_datetime(series: pd.Series) -> bool:
    """Dates and times in any of pandas' forms: datetime64 (with or without a zone),
    periods, Arrow timestamps, dates and times, or Python ``date``/``datetime`` objects."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return True
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        kind = dtype.pyarrow_dtype
        return bool(pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_time(kind))
    if pd.api.types.is_object_dtype(dtype):
        return pd.api.types.infer_dtype(series, skipna=True) in ("datetime", "datetime64", "date")
    return False


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def summarize(current: Any, profile: ReferenceProfile, *, progress: bool = True) -> Summary:
    """Counts of ``current`` (a pandas or a Dask DataFrame) against ``profile``.

    A Dask frame is summarised partition by partition on its cluster (or the local
    scheduler) and the partial counts are added up: only counts travel, never rows.
    """
    if hasattr(current, "to_delayed"):  # a Dask DataFrame
        from dask.delayed import delayed

        from workbench._progress import compute_with_progress

        tasks = [delayed(profile.summarize)(part) for part in current.to_delayed()]
        if not tasks:
            raise MonitoringError("The current Dask frame has no partitions.")
        parts = compute_with_progress(tasks, desc="drift", show=progress)
        total: Summary = parts[0]
        for part in parts[1:]:
            total = total + part
        return total
    return profile.summarize(current)
