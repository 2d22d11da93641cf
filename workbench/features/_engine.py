"""The engine: a feature view's rows computed from its source rows.

:func:`compute_view` places the rows in time (UTC event times, rows without a key or a
time and superseded rows set apart with their reason) and runs the view's
transformations in order; :func:`compute` does the same on the ``dask_scheduler``
cluster when the settings name one, the rows split into buckets by their entity key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._exceptions import DataError
from workbench.features._keys import key_buckets
from workbench.features._times import as_utc_naive
from workbench.features._transformations import Custom

if TYPE_CHECKING:
    import pandas as pd

    from workbench._settings import Settings
    from workbench.features._definitions import FeatureView

__all__ = ["compute", "compute_view"]


def compute_view(
    view: FeatureView, rows: pd.DataFrame, country: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The view's feature rows from its source rows, and the rows it could not use.

    Rows without a key or an event time cannot be placed in time, and of several rows
    with one key and event time only the latest created one counts (a missing created
    time counts as oldest; without a created column, the last in source order): the
    others are returned apart with ``_reason``, before any transformation sees them.
    Transformations see every remaining row, so windows reach back before any
    materialization range; calendar features use the source's own time zone. Event
    times are then stored in UTC without a time zone, and categorical columns as
    plain values.

    Raises:
        DataError: A column the view names is absent, or the event time is not a
            date/time; the message names the view and the column.
    """
    import pandas as pd

    needed = [*view.keys, view.time_column, *view.features]
    if view.created_timestamp:
        needed.append(view.created_timestamp)
    absent = [c for c in needed if c not in rows.columns]
    if absent:
        raise DataError(
            f"Feature view {view.name!r}: columns {absent} are absent from its source "
            f"{view.source.identity()}. Columns: {list(rows.columns)}."
        )
    frame = rows.reset_index(drop=True)
    zones: dict[str, str] = {}
    for column in filter(None, (view.time_column, view.created_timestamp)):
        zone = getattr(getattr(frame[column], "dt", None), "tz", None)
        if zone is not None:
            zones[column] = str(zone)
        frame[column] = as_utc_naive(frame[column], f"{view.name}.{column}")
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(frame[column].cat.categories.dtype)
    no_time = frame[view.time_column].isna()
    no_key = frame[list(view.keys)].isna().any(axis=1)
    bad = (no_time | no_key).to_numpy()
    reasons = [
        f"no event time ({view.time_column} is empty)"
        if t
        else f"no entity key ({', '.join(view.keys)} empty)"
        for t in no_time[bad]
    ]
    rejected = rows.reset_index(drop=True)[bad].assign(_reason=reasons)
    frame = frame[~bad]
    order = [*view.keys, view.time_column]
    if view.created_timestamp:  # NaT first: an unknown created time is the oldest
        frame = frame.sort_values(view.created_timestamp, kind="stable", na_position="first")
    frame = frame.sort_values(order, kind="stable")
    latest = ~frame.duplicated(order, keep="last")
    if not latest.all():
        superseded = rows.reset_index(drop=True).loc[frame.index[~latest.to_numpy()]]
        superseded = superseded.assign(
            _reason=f"superseded: a later-{'created' if view.created_timestamp else 'listed'} "
            f"row has the same {', '.join(view.keys)} and {view.time_column}"
        )
        rejected = pd.concat([rejected, superseded])
        frame = frame[latest.to_numpy()]
    for step in view.transformations:
        frame = step.apply(frame, view.keys, view.time_column, country, zones=zones)
    columns = [*view.keys, view.time_column]
    if view.created_timestamp:
        columns.append(view.created_timestamp)
    frame = frame[columns + list(view.feature_names)].reset_index(drop=True)
    return frame, pd.DataFrame(rejected).reset_index(drop=True)


def compute(
    view: FeatureView, rows: pd.DataFrame, settings: Settings, progress: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`compute_view`: here, or with the ``dask_scheduler`` setting on that
    cluster's workers, the rows split by a hash of the entity key (lags, windows and
    calendar features look at one entity at a time, so the result is the same). A
    view with a :class:`Custom` step is computed here: its function may look across
    entities, and the workers may not be able to import it."""
    import pandas as pd
    from dask.delayed import delayed

    from workbench._progress import compute_with_progress, scheduler_client

    country = settings.country
    address = settings.dask_scheduler
    custom = any(isinstance(step, Custom) for step in view.transformations)
    if not address or custom or len(rows) < 2:
        return compute_view(view, rows, country)
    workers = max(len(scheduler_client(address).scheduler_info()["workers"]), 1)
    buckets = min(2 * workers, len(rows))
    keys = [k for k in view.keys if k in rows.columns]
    if not keys:  # compute raises the clear error about the absent columns
        return compute_view(view, rows, country)
    bucket = key_buckets(rows, keys, buckets)
    tasks = [
        delayed(compute_view)(view, rows[bucket == b], country)
        for b in range(buckets)
        if (bucket == b).any()
    ]
    parts = compute_with_progress(
        tasks,
        desc=f"computing {view.name}",
        unit="bucket",
        show=progress,
        scheduler=address,
    )
    order = [*view.keys, view.time_column]
    frame = pd.concat([f for f, _ in parts], ignore_index=True)
    frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
    rejected = pd.concat([r for _, r in parts], ignore_index=True)
    return frame, rejected
