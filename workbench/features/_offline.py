"""The offline store: monthly Parquet partitions and point-in-time joins.

Layout: ``<store>/offline/<view>/v<version>/YYYY-MM/part.parquet``, one row per
entity key and event time. Point-in-time rule, for each entity row at time ``t``: the
latest feature row of the same key with event time ``<= t`` and ``>= t - ttl`` (both
ends inclusive); nulls when none qualifies. Every entity row comes back, in its order,
duplicates included. Two engines give identical results: DuckDB (an ASOF join, the
default) and Dask (rows bucketed by key, then ``pandas.merge_asof`` per bucket) for
feature data larger than memory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import DataError
from workbench._imports import require
from workbench.features._keys import key_buckets
from workbench.features._sql import identifier, literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ENGINES", "partition_files", "point_in_time", "stored_dtypes", "write_partitions"]

ENGINES = ("duckdb", "dask")
ROW = "__row"
TS = "__ts"


def write_partitions(
    frame: pd.DataFrame,
    root: Path,
    *,
    keys: Sequence[str],
    time_column: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    progress: bool = True,
) -> dict[str, Any]:
    """Write the rows of ``frame`` with ``start <= time <= end`` into monthly partitions.

    ``frame`` holds one row per key and event time. Rows of the same months outside the
    range are kept; rows inside it are replaced, so running the same materialization
    twice changes nothing. One lock per version folder serializes concurrent runs, and
    every partition of a run is written with the same Parquet schema.

    Returns:
        What was written: rows and months.
    """
    import fcntl

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    times = frame[time_column]
    frame = frame[(times >= start) & (times <= end)]
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    months = frame[time_column].to_numpy().astype("datetime64[M]")
    labels = np.unique(months)
    written = 0
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for month in tqdm(labels, desc="materializing", unit="month", disable=not progress):
            part = frame[months == month]
            written += len(part)
            folder = root / str(month)[:7]
            path = folder / "part.parquet"
            if path.exists():
                old = pd.read_parquet(path)
                keep = (old[time_column] < start) | (old[time_column] > end)
                part = pd.concat([old[keep], part], ignore_index=True)
                part = part.sort_values([*keys, time_column], kind="stable")
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".part-{uuid.uuid4().hex}.parquet"
            table = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
            pq.write_table(table, tmp)
            tmp.replace(path)  # readers see the old file or the new one, never half
    return {"rows": written, "months": [str(m)[:7] for m in labels]}


def partition_files(
    root: Path, since: np.datetime64 | None = None, until: np.datetime64 | None = None
) -> list[str]:
    """The partition files of a view version whose months meet ``[since, until]``."""
    if not root.exists():
        return []
    files = []
    for folder in sorted(root.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]")):
        month = np.datetime64(folder.name, "M")
        if since is not None and month < since.astype("datetime64[M]"):
            continue
        if until is not None and month > until.astype("datetime64[M]"):
            continue
        if (folder / "part.parquet").exists():
            files.append(str(folder / "part.parquet"))
    return files


def stored_dtypes(root: Path) -> dict[str, Any]:
    """The dtype of each column as a view version's partitions store it (empty when
    nothing is stored)."""
    import pyarrow.parquet as pq

    files = partition_files(root)
    if not files:
        return {}
    empty = pq.read_schema(files[0]).empty_table().to_pandas()
    return dict(empty.dtypes.items())


def point_in_time(
    entity: pd.DataFrame,
    files: Sequence[str],
    *,
    keys: Sequence[str],
    time_column: str,
    features: Sequence[str],
    ttl: dt.timedelta | None,
    dtypes: dict[str, Any],
    engine: str = "duckdb",
    progress: bool = True,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """The features of each entity row as of its time, in the entity rows' order.

    Args:
        entity: Rows with ``keys`` (of the stored types) and a ``__ts`` column (UTC, no
            time zone), in order.
        files: The view version's partition files that can hold matches.
        keys: Join keys.
        time_column: The view's event-time column.
        features: Feature columns to return.
        ttl: Oldest a value may be relative to the entity row's time.
        dtypes: The stored dtype of each feature (results are cast back to it).
        engine: ``duckdb`` or ``dask``.
        progress: Show a progress bar (Dask engine).
        scheduler: Where the Dask engine computes: a scheduler address, ``"local"``
            (threads), or ``None`` for the ``dask_scheduler`` setting.

    Returns:
        One row per entity row (same order, a fresh RangeIndex), the ``features``; integer
        and boolean features with nulls as pandas' nullable types.
    """
    import pandas as pd

    if engine not in ENGINES:
        raise DataError(f"The engine must be one of {list(ENGINES)}. Got {engine!r}.")
    rows = len(entity)
    left = entity[[*keys, TS]].reset_index(drop=True)
    left.insert(0, ROW, np.arange(rows, dtype=np.int64))
    # a row without a key or a time matches nothing: it is not sent to the engines
    left = left[left[TS].notna() & left[list(keys)].notna().all(axis=1)]
    for key in keys:
        stored = dtypes.get(key)
        if stored is None:
            continue
        if pd.api.types.is_integer_dtype(stored) and pd.api.types.is_float_dtype(left[key]):
            left = left[left[key] == np.floor(left[key])]  # 1.5 matches no integer key
        with contextlib.suppress(ValueError, TypeError):
            left[key] = left[key].astype(stored)
    if not files or not len(left):
        found = pd.DataFrame({f: pd.Series([], dtype=object) for f in features})
    elif engine == "duckdb":
        found = _duckdb(left, files, keys, time_column, features, ttl)
    else:
        found = _dask(left, files, keys, time_column, features, ttl, progress, scheduler)
    out = found.reindex(pd.RangeIndex(rows))[list(features)]
    return _cast(out, dtypes)


def _cast(frame: pd.DataFrame, dtypes: dict[str, Any]) -> pd.DataFrame:
    """Stored dtypes back; integers and booleans with nulls become pandas' nullable ones."""
    import pandas as pd

    out = {}
    for column in frame.columns:
        dtype = dtypes.get(column)
        values = frame[column]
        if dtype is None:
            out[column] = values
            continue
        nulls = bool(values.isna().any())
        if pd.api.types.is_bool_dtype(dtype):
            out[column] = values.astype("boolean" if nulls else "bool")
        elif pd.api.types.is_integer_dtype(dtype):
            out[column] = values.astype("Int64" if nulls else dtype)
        elif pd.api.types.is_float_dtype(dtype):
            out[column] = values.astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            out[column] = pd.to_datetime(values).astype("datetime64[ns]")
        else:
            out[column] = values.astype(dtype)
    return pd.DataFrame(out, index=frame.index)


def _duckdb(
    left: pd.DataFrame,
    files: Sequence[str],
    keys: Sequence[str],
    time_column: str,
    features: Sequence[str],
    ttl: dt.timedelta | None,
) -> pd.DataFrame:
    duckdb = require("duckdb", feature="point-in-time joins")
    within = "TRUE"
    if ttl is not None:
        micros = int(ttl / dt.timedelta(microseconds=1))
        # as a difference of microseconds: `e.ts - INTERVAL ttl` leaves DuckDB's range
        # for an early entity time and a long TTL
        within = f"epoch_us(e.{TS}) - epoch_us(f.{identifier(time_column)}) <= {micros}"
    picked = ", ".join(
        f"CASE WHEN {within} THEN f.{identifier(c)} END AS {identifier(c)}" for c in features
    )
    on = " AND ".join(f"e.{identifier(k)} = f.{identifier(k)}" for k in keys)
    columns = ", ".join(identifier(c) for c in [*keys, time_column, *features])
    file_list = "[" + ", ".join(literal(f) for f in files) + "]"
    sql = (
        f"SELECT e.{ROW}, {picked} FROM entity_rows e "
        f"ASOF LEFT JOIN (SELECT {columns} FROM "
        f"read_parquet({file_list}, hive_partitioning = false, union_by_name = true)) f "
        f"ON {on} AND e.{TS} >= f.{identifier(time_column)}"
    )
    with duckdb.connect() as con:
        con.execute(f"SET threads TO {max(os.cpu_count() or 1, 1)}")
        con.register("entity_rows", left)
        table = con.sql(sql).to_arrow_table()
    frame: pd.DataFrame = table.to_pandas(types_mapper=_nullable)
    return frame.astype({ROW: "int64"}).set_index(ROW)


def _nullable(arrow_type: Any) -> Any:
    """Integers and booleans stay exact next to nulls (pandas' nullable types)."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def _bucketed(frame: pd.DataFrame, keys: Sequence[str], buckets: int) -> pd.DataFrame:
    return frame.assign(__bucket=key_buckets(frame, keys, buckets))


def _asof(
    left: pd.DataFrame,
    right: pd.DataFrame,
    keys: Sequence[str],
    time_column: str,
    features: Sequence[str],
    ttl: dt.timedelta | None,
) -> pd.DataFrame:
    import pandas as pd

    left = left.sort_values(TS, kind="stable")
    right = right.sort_values(time_column, kind="stable")
    for column in features:  # exact integers and booleans next to the nulls to come
        if pd.api.types.is_integer_dtype(right[column].dtype):
            right[column] = right[column].astype("Int64")
        elif pd.api.types.is_bool_dtype(right[column].dtype):
            right[column] = right[column].astype("boolean")
    merged = pd.merge_asof(
        left[[ROW, *keys, TS]],
        right[[*keys, time_column, *features]],
        left_on=TS,
        right_on=time_column,
        by=list(keys),
        direction="backward",
        allow_exact_matches=True,
        tolerance=None if ttl is None else pd.Timedelta(ttl),
    )
    return merged[[ROW, *features]]


def _dask(
    left: pd.DataFrame,
    files: Sequence[str],
    keys: Sequence[str],
    time_column: str,
    features: Sequence[str],
    ttl: dt.timedelta | None,
    progress: bool,
    scheduler: str | None = None,
) -> pd.DataFrame:
    import pandas as pd

    dd = require("dask.dataframe", feature="the Dask point-in-time engine")
    from workbench._progress import compute_with_progress

    right = dd.read_parquet(list(files), columns=[*keys, time_column, *features])
    buckets = max(right.npartitions, 1)
    right = right.map_partitions(_bucketed, keys, buckets)
    lazy = dd.from_pandas(_bucketed(left, keys, buckets), npartitions=min(buckets, len(left)))
    # Both sides split on the same bucket numbers: partition i holds the same keys.
    right = right.shuffle("__bucket", npartitions=buckets)
    lazy = lazy.shuffle("__bucket", npartitions=buckets)
    meta = _asof(lazy._meta, right._meta, keys, time_column, features, ttl)
    joined = dd.map_partitions(
        _asof, lazy, right, keys, time_column, features, ttl, meta=meta, align_dataframes=False
    )
    parts = compute_with_progress(
        joined.to_delayed(),
        desc="point-in-time join",
        unit="bucket",
        show=progress,
        scheduler=scheduler,
    )
    found: pd.DataFrame = pd.concat(parts, ignore_index=True).set_index(ROW)
    return found
