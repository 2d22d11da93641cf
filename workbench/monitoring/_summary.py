"""Reference profiles and mergeable summaries: drift without holding the data.

A :class:`ReferenceProfile` is computed once from the training data and stored with the
model (JSON, a few hundred KB): per numeric column, up to ``max_points`` cut points (every
distinct value when there are that few, else quantiles) with the reference's counts
below and at each; per categorical column, the counts of each category.

A :class:`Summary` of production data holds the same counts for the current rows. It is
computed per chunk (a pandas frame, or each partition of a Dask frame) and summaries
add up, so a log larger than memory is one pass of small arrays. Every drift test then
works on two summaries; with every distinct reference value as a cut point the
Kolmogorov–Smirnov statistic is exact, and the distances on numeric columns assume
values spread evenly inside each of the (at most ``max_points``) bins.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import MonitoringError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CategoricalCounts", "NumericCounts", "ReferenceProfile", "Summary", "summarize"]

#: Cut points per numeric column (all distinct values when there are at most this many).
MAX_POINTS = 1000
#: Numeric columns with at most this many distinct reference values are tested as
#: categories (Evidently's rule).
FEW_DISTINCT = 5


@dataclasses.dataclass
class NumericCounts:
    """Counts of one numeric column against fixed cut points ``edges``.

    ``below[k]`` values are < ``edges[k]``, ``at_or_below[k]`` are ≤ it; ``rows`` counts
    every row, ``missing`` the missing ones.
    """

    below: np.ndarray
    at_or_below: np.ndarray
    rows: int
    missing: int
    total: float
    total_sq: float
    low: float
    high: float

    @classmethod
    def of(cls, values: np.ndarray, edges: np.ndarray) -> NumericCounts:
        present = values[~np.isnan(values)]
        ordered = np.sort(present)
        return cls(
            below=np.searchsorted(ordered, edges, side="left").astype(np.int64),
            at_or_below=np.searchsorted(ordered, edges, side="right").astype(np.int64),
            rows=len(values),
            missing=len(values) - len(present),
            total=float(present.sum()),
            total_sq=float(np.square(present).sum()),
            low=float(ordered[0]) if len(ordered) else float("inf"),
            high=float(ordered[-1]) if len(ordered) else float("-inf"),
        )

    @property
    def present(self) -> int:
        return self.rows - self.missing

    @property
    def mean(self) -> float:
        return self.total / self.present if self.present else float("nan")

    @property
    def std(self) -> float:
        """Population standard deviation (ddof 0, as NumPy and Evidently)."""
        if not self.present:
            return float("nan")
        return float(np.sqrt(max(self.total_sq / self.present - self.mean**2, 0.0)))

    def __add__(self, other: NumericCounts) -> NumericCounts:
        return NumericCounts(
            self.below + other.below,
            self.at_or_below + other.at_or_below,
            self.rows + other.rows,
            self.missing + other.missing,
            self.total + other.total,
            self.total_sq + other.total_sq,
            min(self.low, other.low),
            max(self.high, other.high),
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["below"], data["at_or_below"] = self.below.tolist(), self.at_or_below.tolist()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericCounts:
        return cls(
            **{
                **data,
                "below": np.asarray(data["below"], dtype=np.int64),
                "at_or_below": np.asarray(data["at_or_below"], dtype=np.int64),
            }
        )


@dataclasses.dataclass
class CategoricalCounts:
    """Counts of each category of one column (values as text), and missing values."""

    counts: dict[str, int]
    rows: int
    missing: int

    @classmethod
    def of(cls, values: pd.Series) -> CategoricalCounts:
        present = values.dropna()
        counts = present.astype(str).value_counts()
        return cls(
            {str(k): int(v) for k, v in counts.items()}, len(values), len(values) - len(present)
        )

    def __add__(self, other: CategoricalCounts) -> CategoricalCounts:
        merged = dict(self.counts)
        for key, value in other.counts.items():
            merged[key] = merged.get(key, 0) + value
        return CategoricalCounts(merged, self.rows + other.rows, self.missing + other.missing)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalCounts:
        return cls(dict(data["counts"]), int(data["rows"]), int(data["missing"]))


Counts = NumericCounts | CategoricalCounts


@dataclasses.dataclass
class Summary:
    """Counts of every profiled column over some rows; ``a + b`` merges two."""

    columns: dict[str, Counts]

    @property
    def rows(self) -> int:
        return next(iter(self.columns.values())).rows if self.columns else 0

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            {name: self.columns[name] + other.columns[name] for name in self.columns}  # type: ignore[operator]
        )

    def to_dict(self) -> dict[str, Any]:
        return {name: {"kind": _kind_of(c), **c.to_dict()} for name, c in self.columns.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        columns: dict[str, Counts] = {}
        for name, item in data.items():
            body = {k: v for k, v in item.items() if k != "kind"}
            columns[name] = (
                NumericCounts.from_dict(body)
                if item["kind"] == "numeric"
                else CategoricalCounts.from_dict(body)
            )
        return cls(columns)


def _kind_of(counts: Counts) -> str:
    return "numeric" if isinstance(counts, NumericCounts) else "categorical"


@dataclasses.dataclass
class ReferenceProfile:
    """What drift needs to know about the reference, computed once (see module doc).

    Attributes:
        edges: Cut points per numeric column (sorted, distinct).
        distinct: Distinct reference values per column (capped at ``MAX_POINTS + 1``).
        summary: The reference's own counts.
        exact: Numeric columns whose cut points are every distinct reference value.
    """

    edges: dict[str, np.ndarray]
    distinct: dict[str, int]
    summary: Summary
    exact: dict[str, bool]

    @property
    def rows(self) -> int:
        return self.summary.rows

    @property
    def columns(self) -> list[str]:
        return list(self.summary.columns)

    def kind(self, column: str) -> str:
        return _kind_of(self.summary.columns[column])

    def tested_as_numeric(self, column: str) -> bool:
        """Numeric with more than ``FEW_DISTINCT`` distinct values (Evidently's rule)."""
        return self.kind(column) == "numeric" and self.distinct[column] > FEW_DISTINCT

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        columns: Sequence[str] | None = None,
        *,
        max_points: int = MAX_POINTS,
    ) -> ReferenceProfile:
        """Profile ``columns`` of ``frame`` (default: all).

        Raises:
            MonitoringError: A column is missing or has no values.
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
        for name in names:
            series = frame[name]
            if series.dropna().empty:
                raise MonitoringError(
                    f"Column {name!r} has no values in the reference; drop it or fix it."
                )
            if _is_numeric(series):
                values = series.to_numpy(dtype=float, na_value=np.nan)
                present = values[~np.isnan(values)]
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
        return cls(edges, distinct, Summary(counts), exact)

    def merged(self, other: ReferenceProfile) -> ReferenceProfile:
        """This profile and ``other``'s columns together (``other`` wins a name clash)."""
        return ReferenceProfile(
            {**self.edges, **other.edges},
            {**self.distinct, **other.distinct},
            Summary({**self.summary.columns, **other.summary.columns}),
            {**self.exact, **other.exact},
        )

    def subset(self, columns: Sequence[str]) -> ReferenceProfile:
        """The profile of ``columns`` only.

        Raises:
            MonitoringError: A column is not profiled.
        """
        unknown = [c for c in columns if c not in self.summary.columns]
        if unknown:
            raise MonitoringError(f"The reference lacks columns {unknown}; it has {self.columns}.")
        return ReferenceProfile(
            {k: v for k, v in self.edges.items() if k in columns},
            {k: self.distinct[k] for k in columns},
            Summary({k: self.summary.columns[k] for k in columns}),
            {k: v for k, v in self.exact.items() if k in columns},
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
            "summary": self.summary.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        try:
            return cls(
                {k: np.asarray(v, dtype=float) for k, v in data["edges"].items()},
                {k: int(v) for k, v in data["distinct"].items()},
                Summary.from_dict(data["summary"]),
                {k: bool(v) for k, v in data["exact"].items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MonitoringError(f"Not a reference profile: {exc!r}") from exc

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict()))
        return target

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        source = Path(path)
        if not source.is_file():
            raise MonitoringError(f"No reference profile at {source}.")
        try:
            return cls.from_dict(json.loads(source.read_text()))
        except json.JSONDecodeError as exc:
            raise MonitoringError(f"{source} is not valid JSON: {exc}.") from exc


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


def _window_keys(frame: pd.DataFrame, window: str, time_column: str) -> pd.Series:
    import pandas as pd

    times = pd.to_datetime(frame[time_column], utc=True)
    offset = pd.tseries.frequencies.to_offset(window)
    if isinstance(offset, pd.offsets.Tick):
        return times.dt.floor(offset)
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive.dt.to_period(window).dt.start_time.dt.tz_localize("UTC")


def _summaries_of(
    frame: pd.DataFrame, profile: ReferenceProfile, window: str, time_column: str
) -> dict[Any, Summary]:
    keys = _window_keys(frame, window, time_column)
    return {key: profile.summarize(part) for key, part in frame.groupby(keys, sort=True)}


def summarize_by_window(
    current: Any,
    profile: ReferenceProfile,
    window: str,
    *,
    time_column: str = "timestamp",
    progress: bool = True,
) -> dict[Any, Summary]:
    """One :class:`Summary` per time window (``"1h"``, ``"1D"``, ``"1W"``), keyed by the
    window's start; a Dask frame is summarised partition by partition and the windows
    that span partitions are merged.

    Raises:
        MonitoringError: The time column is missing or the window is not a frequency.
    """
    import pandas as pd

    if time_column not in current.columns:
        raise MonitoringError(
            f"Windows need the time column {time_column!r}; the data has {list(current.columns)}."
        )
    try:
        pd.tseries.frequencies.to_offset(window)
    except (ValueError, TypeError) as exc:
        raise MonitoringError(
            f"Window {window!r} is not a pandas frequency such as '1h', '1D' or '1W': {exc}"
        ) from exc
    if not hasattr(current, "to_delayed"):
        return _summaries_of(current, profile, window, time_column)
    from dask.delayed import delayed

    from workbench._progress import compute_with_progress

    tasks = [
        delayed(_summaries_of)(part, profile, window, time_column) for part in current.to_delayed()
    ]
    merged: dict[Any, Summary] = {}
    for partial in compute_with_progress(tasks, desc="drift by window", show=progress):
        for key, summary in partial.items():
            merged[key] = merged[key] + summary if key in merged else summary
    return dict(sorted(merged.items()))
