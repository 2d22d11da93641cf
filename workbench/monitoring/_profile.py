"""Summaries of current data against a reference profile, one per time period.

The profile itself (:class:`ReferenceProfile`, :func:`summarize`) sits on the foundation
floor (:mod:`workbench._reference_profile`), since packaging writes it; it is re-exported
here and from :mod:`workbench.monitoring`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from workbench._exceptions import MonitoringError
from workbench._reference_profile import DATETIME_SKIPPED, ReferenceProfile, summarize
from workbench._summaries import Summary
from workbench.monitoring._periods import period_keys

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATETIME_SKIPPED",
    "ReferenceProfile",
    "summarize",
    "summarize_by_period",
    "summarize_by_window",
]


def _summaries_of(
    frame: pd.DataFrame, profile: ReferenceProfile, period: str, time_column: str
) -> dict[Any, Summary]:
    keys = period_keys(frame, period, time_column)
    return {key: profile.summarize(part) for key, part in frame.groupby(keys, sort=True)}


def summarize_by_period(
    current: Any,
    profile: ReferenceProfile,
    period: str,
    *,
    time_column: str = "timestamp",
    progress: bool = True,
) -> dict[Any, Summary]:
    """One :class:`Summary` per time period (``"1h"``, ``"1D"``, ``"1W"``), keyed by the
    period's start; a Dask frame is summarised partition by partition and the periods
    that span partitions are merged.

    Raises:
        MonitoringError: The time column is missing or the period is not a frequency.
    """
    import pandas as pd

    if time_column not in current.columns:
        raise MonitoringError(
            f"Periods need the time column {time_column!r}; the data has {list(current.columns)}."
        )
    try:
        pd.tseries.frequencies.to_offset(period)
    except (ValueError, TypeError) as exc:
        raise MonitoringError(
            f"Period {period!r} is not a pandas frequency such as '1h', '1D' or '1W': {exc}"
        ) from exc
    if not hasattr(current, "to_delayed"):
        return _summaries_of(current, profile, period, time_column)
    from dask.delayed import delayed

    from workbench._progress import compute_with_progress

    tasks = [
        delayed(_summaries_of)(part, profile, period, time_column) for part in current.to_delayed()
    ]
    merged: dict[Any, Summary] = {}
    for partial in compute_with_progress(tasks, desc="drift by period", show=progress):
        for key, summary in partial.items():
            merged[key] = merged[key] + summary if key in merged else summary
    return dict(sorted(merged.items()))


def summarize_by_window(
    current: Any,
    profile: ReferenceProfile,
    window: str,
    *,
    time_column: str = "timestamp",
    progress: bool = True,
) -> dict[Any, Summary]:
    """Deprecated: the old name of :func:`summarize_by_period`."""
    warnings.warn(
        "summarize_by_window() is deprecated; say summarize_by_period() (a monitoring "
        "bucket of time is a 'period').",
        DeprecationWarning,
        stacklevel=2,
    )
    return summarize_by_period(current, profile, window, time_column=time_column, progress=progress)
