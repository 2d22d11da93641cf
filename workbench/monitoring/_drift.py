"""Per-column drift with Evidently's default test choice, as a saveable snapshot.

The default test per column follows Evidently's documented rules, so verdicts compare:

* reference of at most 1000 rows: numeric columns (more than 5 distinct values) use the
  two-sample Kolmogorov–Smirnov test, others chi-square, or the two-proportion z-test
  when there are at most 2 values; drift when p < 0.05;
* larger reference: numeric columns use the Wasserstein distance normed by the
  reference's standard deviation, others the Jensen–Shannon distance; drift when the
  distance is at least 0.1.

Distinct values are counted in reference and current together, as Evidently does, so a
value the reference never had is evidence: the choice is made when the two meet, from the
stored reference profile and the current summary. Datetime columns are left out (as
Evidently does); the snapshot names them in ``skipped``.

The dataset drifts when at least half of the tested columns do.

Inputs with a season (the weather, holidays) differ between any one week and a whole
year even when nothing changed. Where the reference profile keeps the counts per
calendar day of its event time and spans a year (``ReferenceProfile.seasonal_ready``),
and the current periods follow that same event time, :func:`drift_of_period` compares a
period with the reference rows of the same calendar days (widened by a few days on each
side where they are fewer than 100), not with the whole reference: a January week with
the reference's January week. The test is then chosen, by Evidently's rules, for the
reference rows compared. ``compare_with="whole"`` compares with the whole reference always.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._exceptions import MonitoringError
from workbench._records import read_record, write_record
from workbench._summaries import NumericCounts, Summary, distinct_values
from workbench.monitoring._profile import ReferenceProfile, summarize
from workbench.monitoring._stats import TESTS, default_test, shares, tested_as_numeric

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "REFERENCES",
    "ColumnDrift",
    "DriftSnapshot",
    "compute_drift",
    "drift_of_period",
    "latest_snapshot",
    "seasonal_reference",
]

#: How a period's reference is chosen: ``auto`` (the same calendar days where the profile
#: allows it), ``seasonal`` (always the same calendar days), ``whole`` (all of it).
REFERENCES = ("auto", "seasonal", "whole")

#: What a page says a period was compared with, for the whole reference.
WHOLE_REFERENCE = "the whole reference"


@dataclasses.dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict and the summaries needed to draw it.

    Attributes:
        column: Column name.
        kind: ``numeric`` or ``categorical``.
        test: ``ks``, ``chisquare``, ``wasserstein`` or ``jensenshannon``.
        statistic: The test's value (a p-value for ``ks``/``chisquare``, else a distance).
        threshold: The bound the statistic is compared with.
        drifted: The verdict.
        bins: Bin labels: left edges for numeric columns, categories otherwise.
        reference: Share of reference rows per bin.
        current: Share of current rows per bin.
        reference_missing: Share of missing reference values.
        current_missing: Share of missing current values.
        reference_mean: Mean of the reference (numeric columns), else ``None``.
        current_mean: Mean of the current data (numeric columns), else ``None``.
        bin_width: Width of numeric bins, else ``None``.
    """

    column: str
    kind: str
    test: str
    statistic: float
    threshold: float
    drifted: bool
    bins: tuple[Any, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    reference_missing: float
    current_missing: float
    reference_mean: float | None = None
    current_mean: float | None = None
    bin_width: float | None = None


@dataclasses.dataclass(frozen=True)
class DriftSnapshot:
    """Drift of every monitored column between a reference and a current frame.

    Attributes:
        columns: One :class:`ColumnDrift` per column.
        reference_rows: Rows in the reference.
        current_rows: Rows in the current data.
        created_at: When it was computed (UTC, ISO 8601).
        drift_share: Share of columns that must drift for dataset drift.
        metadata: Free context (model name and version, period of the data, ...).
        skipped: Columns left out of the test, with the reason (datetime columns).
    """

    columns: tuple[ColumnDrift, ...]
    reference_rows: int
    current_rows: int
    created_at: str
    drift_share: float = 0.5
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    skipped: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the columns whose test says they drifted."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.share_drifted >= self.drift_share

    def column(self, name: str) -> ColumnDrift:
        """The result for one column."""
        for c in self.columns:
            if c.column == name:
                return c
        raise MonitoringError(
            f"The snapshot has no column {name!r}. Columns: {[c.column for c in self.columns]}."
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftSnapshot:
        try:
            columns = tuple(
                ColumnDrift(
                    **{
                        **c,
                        "bins": tuple(c["bins"]),
                        "reference": tuple(c["reference"]),
                        "current": tuple(c["current"]),
                    }
                )
                for c in data["columns"]
            )
            return cls(
                **{
                    **data,
                    "columns": columns,
                    "metadata": dict(data.get("metadata", {})),
                    "skipped": dict(data.get("skipped", {})),
                }
            )
        except (KeyError, TypeError) as exc:
            raise MonitoringError(f"Not a drift snapshot: {exc}") from exc

    def save(self, path: str | Path) -> Path:
        """Write the snapshot as JSON (creating folders) and return the path."""
        return write_record(path, self.to_dict(), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> DriftSnapshot:
        """Read a snapshot written by :meth:`save`.

        Raises:
            MonitoringError: The file is missing or is not a snapshot.
        """
        return cls.from_dict(read_record(path, "drift snapshot"))


def latest_snapshot(folder: str | Path) -> Path:
    """The newest ``drift-*.json`` in ``folder``.

    Raises:
        MonitoringError: There is none (run ``workbench demo`` or ``compute_drift`` first).
    """
    candidates = sorted(Path(folder).glob("drift-*.json"))
    if not candidates:
        raise MonitoringError(
            f"No drift snapshot in {folder}. Run `workbench demo`, or compute one with "
            f"workbench.monitoring.compute_drift(...).save(...)."
        )
    return candidates[-1]


def _column_result(
    name: str,
    profile: ReferenceProfile,
    summary: Summary,
    test_name: str | None,
    threshold: float | None,
) -> ColumnDrift:
    ref, cur = profile.summary.columns[name], summary.columns[name]
    if cur.rows - cur.missing == 0:
        raise MonitoringError(
            f"Column {name!r} has no values in the current data; drop it or fix it."
        )
    edges = profile.edges.get(name)
    # the choice needs the current's values too: a value the reference never had counts
    numeric = tested_as_numeric(ref, cur, edges)
    if test_name is None:
        test_name = default_test(profile.rows, numeric, distinct_values(ref, cur, edges))
    test = TESTS.get(test_name)
    if test is None:
        raise MonitoringError(
            f"No drift test {test_name!r} (column {name!r}). Tests: {sorted(TESTS)}."
        )
    if test.numeric_only and not numeric:
        raise MonitoringError(
            f"Column {name!r} is tested as categorical ({distinct_values(ref, cur, edges)} "
            f"distinct values in reference and current); {test_name!r} applies to numeric "
            f"columns only."
        )
    statistic = float(test.compute(ref, cur, edges))
    bound = test.threshold if threshold is None else float(threshold)
    keys, ref_share, cur_share = shares(ref, cur, edges)
    width = None
    bins: tuple[Any, ...] = tuple(keys)
    if numeric:
        bins = tuple(float(k) for k in keys)
        width = float(bins[1] - bins[0]) if len(bins) > 1 else 1.0
    means = (
        (ref.mean, cur.mean)
        if isinstance(ref, NumericCounts) and isinstance(cur, NumericCounts)
        else (None, None)
    )
    return ColumnDrift(
        column=name,
        kind="numeric" if numeric else "categorical",
        test=test_name,
        statistic=statistic,
        threshold=bound,
        drifted=test.drifted(statistic, bound),
        bins=bins,
        reference=tuple(float(v) for v in ref_share),
        current=tuple(float(v) for v in cur_share),
        reference_missing=ref.missing / max(ref.rows, 1),
        current_missing=cur.missing / max(cur.rows, 1),
        reference_mean=means[0],
        current_mean=means[1],
        bin_width=width,
    )


def compute_drift(
    reference: pd.DataFrame | ReferenceProfile,
    current: Any,
    columns: Sequence[str] | None = None,
    *,
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    metadata: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> DriftSnapshot:
    """Test every column of ``columns`` for drift from ``reference`` to ``current``.

    The test per column follows Evidently's default rules (module doc) unless ``tests``
    names another for that column; ``thresholds`` overrides the bound per column.

    Args:
        reference: The data the model was trained on, or its stored
            :class:`ReferenceProfile` (computed once, see ``ReferenceProfile.from_frame``).
        current: Production data: a pandas frame, a Dask frame (summarised partition by
            partition, never collected), or a :class:`Summary`.
        columns: Columns to test (default: every profiled column the current data has).
            Datetime columns are left out and named in the snapshot's ``skipped``.
        tests: Test per column, by name (``ks``, ``chisquare``, ``z``, ``wasserstein``,
            ``jensenshannon``, ``psi``, ``kl``, ``hellinger``).
        thresholds: Threshold per column (a p-value bound or a distance).
        drift_share: Share of drifted columns that makes the dataset drift, in (0, 1].
        metadata: Context stored with the snapshot.
        progress: Show a progress bar over a Dask frame's partitions.

    Returns:
        A :class:`DriftSnapshot`.

    Raises:
        MonitoringError: A column is missing or empty, a test is unknown or does not
            apply, or ``drift_share`` is out of range.

    Example:
        >>> import pandas as pd
        >>> ref = pd.DataFrame({"x": range(100)})
        >>> snap = compute_drift(ref, ref + 50)
        >>> snap.column("x").test, snap.drifted_columns
        ('ks', ['x'])
    """
    if not 0 < drift_share <= 1:
        raise MonitoringError(f"drift_share must be in (0, 1]. Got {drift_share!r} instead.")
    if isinstance(reference, ReferenceProfile):
        profile = reference
    else:
        shared = [
            c for c in reference.columns if c in getattr(current, "columns", reference.columns)
        ]
        profile = ReferenceProfile.from_frame(reference, columns if columns is not None else shared)
    names = list(columns) if columns is not None else profile.columns
    present = None if isinstance(current, Summary) else getattr(current, "columns", None)
    skipped = {
        k: v
        for k, v in profile.skipped.items()
        if (columns is None or k in columns) and (present is None or k in present)
    }
    profile = profile.subset(names)
    names = [n for n in names if n not in profile.skipped]
    if not names and skipped:
        raise MonitoringError(
            f"No column left to test: {sorted(skipped)} are left out of drift "
            f"({', '.join(sorted(set(skipped.values())))})."
        )
    if isinstance(current, Summary):
        summary = current
    else:
        if present is not None:
            absent = [c for c in names if c not in current.columns]
            if absent:
                raise MonitoringError(f"The current frame lacks columns {absent}.")
        if not hasattr(current, "to_delayed") and len(current) == 0:
            raise MonitoringError("The current frame is empty; drift needs rows on both sides.")
        summary = summarize(current[names], profile, progress=progress)
    chosen = dict(tests or {})
    bounds = dict(thresholds or {})
    stray = sorted((set(chosen) | set(bounds)) - set(names))
    if stray:
        why = [f"{c!r}: {skipped[c]}" for c in stray if c in skipped]
        raise MonitoringError(
            f"tests/thresholds name columns that are not tested: {stray}"
            + (f" ({'; '.join(why)})." if why else ".")
        )
    results = [
        _column_result(name, profile, summary, chosen.get(name), bounds.get(name)) for name in names
    ]
    return DriftSnapshot(
        columns=tuple(results),
        reference_rows=profile.rows,
        current_rows=summary.rows,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        drift_share=drift_share,
        metadata=dict(metadata or {}),
        skipped=skipped,
    )


def seasonal_reference(
    profile: ReferenceProfile, compare_with: str, time_column: str | None
) -> bool:
    """Whether periods cut by ``time_column`` are compared with the same calendar days of
    the reference (``True``) or with all of it, for ``compare_with`` (:data:`REFERENCES`).

    ``auto`` chooses the same days where the profile has a calendar spanning a year of
    the same event time the periods follow (``time_column``).

    Raises:
        MonitoringError: ``compare_with`` is not one of :data:`REFERENCES`.
    """
    if compare_with not in REFERENCES:
        raise MonitoringError(
            f"The 'compare_with' parameter (what a period is compared with) must be one of "
            f"{list(REFERENCES)}. Got {compare_with!r} instead."
        )
    if compare_with != "auto":
        return compare_with == "seasonal"
    calendar = profile.calendar
    return profile.seasonal_ready and calendar is not None and calendar.column == time_column


def drift_of_period(
    profile: ReferenceProfile,
    current: Summary,
    first: Any,
    last: Any,
    *,
    seasonal: bool,
    tolerance: int | None = None,
    columns: Sequence[str] | None = None,
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    metadata: Mapping[str, Any] | None = None,
) -> DriftSnapshot:
    """Drift of one period (its counts, ``current``, from ``first`` to ``last``): against
    the reference rows of the same calendar days when ``seasonal`` (see
    :meth:`ReferenceProfile.seasonal`), else against the whole reference. The snapshot's
    ``metadata["reference"]`` says which (``the same days of the reference year``).

    Raises:
        MonitoringError: As :func:`compute_drift`, or ``seasonal`` without a calendar.
    """
    label, chosen = WHOLE_REFERENCE, profile
    if seasonal:
        if first is None or last is None:
            raise MonitoringError(
                "A seasonal reference needs the period's first and last time; periods of "
                "rows have none: compare with the whole reference (compare_with='whole')."
            )
        picked = profile.seasonal(first, last, tolerance=tolerance)
        label, chosen = picked.label, picked.profile
    return compute_drift(
        chosen,
        current,
        columns,
        tests=tests,
        thresholds=thresholds,
        drift_share=drift_share,
        metadata={**(metadata or {}), "reference": label},
    )
