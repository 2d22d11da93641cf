"""Reference profiles, and the summary of current data against one.

A :class:`ReferenceProfile` is computed once from the training data and stored with the
model (JSON, a few hundred KB): per numeric column, up to ``max_points`` cut points (every
distinct value when there are that few, else quantiles) with the reference's counts
below and at each; per categorical column, the counts of each category. Datetime columns
are not profiled (Evidently leaves them out of drift too); the profile names them in
``skipped``. Current data is summarised against it (:func:`summarize`, or one summary per
period with ``workbench.monitoring.summarize_by_period``) into the mergeable counts of
:mod:`workbench._summaries`.

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

__all__ = ["DATETIME_SKIPPED", "ReferenceProfile", "summarize"]

#: Why a column is left out of drift (``ReferenceProfile.skipped``, ``DriftSnapshot.skipped``).
DATETIME_SKIPPED = "datetime column: not drift-tested (as Evidently)"


@dataclasses.dataclass
class ReferenceProfile:
    """What drift needs to know about the reference, computed once (see module doc).

    Attributes:
        edges: Cut points per numeric column (sorted, distinct).
        distinct: Distinct reference values per column (capped at ``MAX_POINTS + 1``).
        summary: The reference's own counts.
        exact: Numeric columns whose cut points are every distinct reference value.
        skipped: Columns left out of drift, with the reason (datetime columns).
    """

    edges: dict[str, np.ndarray]
    distinct: dict[str, int]
    summary: Summary
    exact: dict[str, bool]
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)

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
    ) -> ReferenceProfile:
        """Profile ``columns`` of ``frame`` (default: all). Datetime columns are not
        profiled: they are named in ``skipped`` (Evidently leaves them out of drift).

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
        return cls(edges, distinct, Summary(counts), exact, skipped)

    def merged(self, other: ReferenceProfile) -> ReferenceProfile:
        """This profile and ``other``'s columns together (``other`` wins a name clash)."""
        return ReferenceProfile(
            {**self.edges, **other.edges},
            {**self.distinct, **other.distinct},
            Summary({**self.summary.columns, **other.summary.columns}),
            {**self.exact, **other.exact},
            {**self.skipped, **other.skipped},
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
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        try:
            return cls(
                {k: np.asarray(v, dtype=float) for k, v in data["edges"].items()},
                {k: int(v) for k, v in data["distinct"].items()},
                Summary.from_dict(data["summary"]),
                {k: bool(v) for k, v in data["exact"].items()},
                {str(k): str(v) for k, v in data.get("skipped", {}).items()},
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
