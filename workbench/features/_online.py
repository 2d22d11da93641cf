"""The online store: the latest rows per entity key of each view, in SQLite.

One table per view version (``<view>__v<version>``) holding, per entity key, its
:data:`KEPT` latest rows (the event time in ns since the epoch, UTC, and the features)
and the time of the key's first row (``__first_ns``). A new table is filled beside the
old one and swapped in by one transaction, so readers never see it half written.

A read at time ``t`` serves, per key, the latest kept row with event time ``<= t``, as
the offline store's point-in-time rule does, and None when that row is older than the
TTL, when the key is unknown, or when its first row is after ``t``. The row before the
latest is kept so that a time just before the latest event (a request a little in the
past, or a row dated in the future) is still served right. A time so far back that the
valid row is older than every kept one is refused with an error, never answered with a
silent None.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import ConfigurationError, DataError
from workbench.features._sql import identifier

if TYPE_CHECKING:
    import pandas as pd

    from workbench.features._records import ViewVersion

__all__ = ["KEPT", "LAYOUT", "OnlineTable", "bindable", "load_table", "online_rows", "write_table"]

EVENT = "__event_ns"
FIRST = "__first_ns"
#: Rows kept per key: the latest and the one before it.
KEPT = 2
#: The table layout written here (1: one row per key and no first time; tables of that
#: layout are read, and refuse a time before their row).
LAYOUT = 2
_BINDABLE = (type(None), int, float, str, bytes)


def bindable(value: Any) -> Any:
    """A value sqlite3 can bind: numpy scalars become Python ones, and what sqlite3
    cannot bind (a Timestamp, a Decimal) its text, as :func:`write_table` stores it."""
    if type(value) in (int, str, float):  # the usual keys, as they are
        return value
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | bytes):
        value = item()
    return value if isinstance(value, _BINDABLE) else str(value)


def online_rows(frame: pd.DataFrame, keys: Sequence[str], time_column: str) -> pd.DataFrame:
    """The :data:`KEPT` latest rows of each key, with the key's first event time
    (``__first_ns``, a datetime here)."""
    ordered = frame.sort_values([*keys, time_column], kind="stable")
    first = ordered.groupby(list(keys), sort=False, dropna=False)[time_column].transform("min")
    kept = ordered.assign(**{FIRST: first})
    return kept.groupby(list(keys), sort=False, dropna=False).tail(KEPT)


def write_table(
    path: Path, table: str, frame: pd.DataFrame, keys: Sequence[str], time_column: str
) -> int:
    """Replace ``table`` with ``frame``'s rows (keys, event time, first time of the key,
    features) atomically; ``frame`` comes from :func:`online_rows`."""
    import pandas as pd

    features = [c for c in frame.columns if c not in (*keys, time_column, FIRST)]
    rows = pd.DataFrame({k: frame[k] for k in keys})
    rows[EVENT] = frame[time_column].to_numpy().astype("datetime64[ns]").astype(np.int64)
    rows[FIRST] = frame[FIRST].to_numpy().astype("datetime64[ns]").astype(np.int64)
    for column in features:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):  # as ns, restored on read
            stamps = values.astype("datetime64[ns]")
            ns = pd.Series(stamps.to_numpy().astype(np.int64), index=values.index)
            values = ns.astype(object).where(stamps.notna(), None)
        rows[column] = values
    rows = rows.astype(object).where(rows.notna(), None)
    for column in rows.columns:  # sqlite3 binds None, int, float, str and bytes only
        if rows[column].map(lambda v: not isinstance(v, _BINDABLE)).any():
            rows[column] = rows[column].map(bindable)
    columns = ", ".join(identifier(c) for c in rows.columns)
    marks = ", ".join("?" for _ in rows.columns)
    staging = f"{table}__staging"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"DROP TABLE IF EXISTS {identifier(staging)}")
        con.execute(
            f"CREATE TABLE {identifier(staging)} ({columns}, "
            f"PRIMARY KEY ({', '.join(identifier(k) for k in (*keys, EVENT))})) WITHOUT ROWID"
        )
        con.executemany(
            f"INSERT INTO {identifier(staging)} VALUES ({marks})",
            rows.itertuples(index=False, name=None),
        )
        con.execute(f"DROP TABLE IF EXISTS {identifier(table)}")
        con.execute(f"ALTER TABLE {identifier(staging)} RENAME TO {identifier(table)}")
    return int(frame[list(keys)].drop_duplicates().shape[0])


def load_table(path: Path, record: ViewVersion, frame: pd.DataFrame) -> dict[str, Any]:
    """Replace the online table of a view version with the latest rows per key of
    ``frame`` (the version's stored rows).

    Returns:
        What the registry keeps of the load (:class:`._records.OnlineLoad`, less when).
    """
    import pandas as pd

    keys, time_column = list(record.definition.join_keys), record.definition.time_column
    key_dtypes = {k: str(frame[k].dtype) for k in keys}
    created = record.definition.created_timestamp
    if created:
        frame = frame.drop(columns=created)
    booleans = [c for c in frame.columns if pd.api.types.is_bool_dtype(frame[c].dtype)]
    datetimes = [
        c
        for c in frame.columns
        if c != time_column and pd.api.types.is_datetime64_any_dtype(frame[c].dtype)
    ]
    frame = online_rows(frame, keys, time_column)
    table = f"{record.view}__v{record.version}"
    rows = write_table(path, table, frame, keys, time_column)
    return {
        "table": table,
        "rows": rows,
        "booleans": booleans,
        "datetimes": datetimes,
        "layout": LAYOUT,
        "key_dtypes": key_dtypes,
    }


class OnlineTable:
    """Reads of one online table: a prepared statement per request size.

    Args:
        path: The SQLite file.
        table: The table.
        keys: Join keys.
        features: Feature columns to read.
        ttl_ns: The view's TTL in ns (None: no limit).
        booleans: Features stored as 0/1, restored as bool.
        datetimes: Features stored as ns, restored as Timestamps.
        label: The view version, as errors name it (``"'shop_daily' version 2"``).
        layout: The table's :data:`LAYOUT`.
    """

    def __init__(
        self,
        path: Path,
        table: str,
        keys: Sequence[str],
        features: Sequence[str],
        ttl_ns: int | None,
        booleans: Sequence[str] = (),
        datetimes: Sequence[str] = (),
        label: str = "",
        layout: int = LAYOUT,
    ):
        self.keys = tuple(keys)
        self.features = tuple(features)
        self.ttl_ns = ttl_ns
        self.booleans = {i for i, f in enumerate(self.features) if f in set(booleans)}
        self.datetimes = {i for i, f in enumerate(self.features) if f in set(datetimes)}
        self.label = label or table
        self.layout = layout
        self._local = threading.local()
        self._path = path
        names = ", ".join(identifier(c) for c in self.keys)
        features_ = "".join(f", {identifier(c)}" for c in self.features)
        table_ = identifier(table)
        # SQLite takes the bare columns of a MAX/MIN aggregate from the row holding it:
        # one row per key, the latest at or before the time asked about
        self._valid = (
            f"SELECT {names}, MAX({EVENT}){features_} FROM {table_} WHERE {EVENT} <= ? AND "
        )
        first = FIRST if layout >= 2 else "NULL"
        self._kept = f"SELECT {names}, MIN({EVENT}), {first} FROM {table_} WHERE "
        self._group = f" GROUP BY {names}"

    @classmethod
    def for_version(cls, path: Path, record: ViewVersion, features: Sequence[str]) -> OnlineTable:
        """The table of a version loaded into the online store at ``path``, reading
        ``features``.

        Raises:
            ConfigurationError: The version is not in the online store.
        """
        online = record.online
        if online is None:
            raise ConfigurationError(
                f"Version {record.version} of {record.view!r} is not in the online store."
            )
        return cls(
            path,
            online.table,
            record.definition.join_keys,
            features,
            record.definition.ttl_ns,
            online.booleans,
            online.datetimes,
            label=f"{record.view!r} version {record.version}",
            layout=online.table_layout,
        )

    def _connection(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True)
            self._local.con = con
        return con

    def read(self, ids: Sequence[tuple[Any, ...]], at_ns: int) -> list[tuple[Any, ...] | None]:
        """Feature values per requested key, as of ``at_ns``: those of the key's latest
        row at or before it; None when the key is absent, its first row is after
        ``at_ns``, or that row is older than the TTL.

        Raises:
            DataError: For some key, the row valid at ``at_ns`` is older than every row
                the table keeps (ask the offline store for a time that far back).
        """
        if not ids:
            return []
        n = len(self.keys)
        valid: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        con = self._connection()
        for row in con.execute(
            self._valid + self._where(ids) + self._group, self._params(at_ns, ids)
        ):
            valid[row[:n]] = row
        unanswered = [i for i in ids if i not in valid]
        refused = []
        if unanswered:  # rows only after the time: the key's first row, or older ones?
            rows = con.execute(
                self._kept + self._where(unanswered) + self._group, self._params(None, unanswered)
            )
            for row in rows:
                kept, first = row[n], row[n + 1]
                if first is None or first <= at_ns:
                    refused.append((row[:n], (kept, first)))
        if refused:
            raise DataError(self._refusal(refused, at_ns))
        out: list[tuple[Any, ...] | None] = []
        for i in ids:
            row = valid.get(i)
            if row is None or (self.ttl_ns is not None and at_ns - row[n] > self.ttl_ns):
                out.append(None)
                continue
            values = row[n + 1 :]
            if self.booleans or self.datetimes:
                values = tuple(self._restore(p, v) for p, v in enumerate(values))
            out.append(values)
        return out

    def _where(self, ids: Sequence[tuple[Any, ...]]) -> str:
        if len(self.keys) == 1:
            return f"{identifier(self.keys[0])} IN ({', '.join('?' * len(ids))})"
        one = "(" + ", ".join("?" * len(self.keys)) + ")"
        names = ", ".join(identifier(k) for k in self.keys)
        return f"({names}) IN (VALUES {', '.join([one] * len(ids))})"

    @staticmethod
    def _params(at_ns: int | None, ids: Sequence[tuple[Any, ...]]) -> list[Any]:
        params: list[Any] = [] if at_ns is None else [at_ns]
        for i in ids:
            params.extend(i)
        return params

    def _refusal(
        self, refused: list[tuple[tuple[Any, ...], tuple[int, int | None]]], at: int
    ) -> str:
        import pandas as pd

        def named(key: tuple[Any, ...]) -> str:
            return ", ".join(f"{k}={v!r}" for k, v in zip(self.keys, key, strict=True))

        shown = "; ".join(
            f"{named(key)} (kept rows from {pd.Timestamp(kept, unit='ns')}"
            + (f", first row {pd.Timestamp(first, unit='ns')})" if first is not None else ")")
            for key, (kept, first) in refused[:3]
        )
        more = f" and {len(refused) - 3} more key(s)" if len(refused) > 3 else ""
        if self.layout < 2:
            fix = (
                "This table was loaded by an older workbench and keeps only the latest row: "
                "run FeatureStore.materialize_online again to keep the one before it too, or "
            )
        else:
            fix = f"The online store keeps the latest {KEPT} rows of each key: "
        return (
            f"The online store of {self.label} cannot answer for {pd.Timestamp(at, unit='ns')}: "
            f"for {shown}{more}, the row valid then is older than every row it keeps. "
            f"{fix}ask FeatureStore.get_historical_features for a time this far back."
        )

    def _restore(self, position: int, value: Any) -> Any:
        if value is None:
            return None
        if position in self.booleans:
            return bool(value)
        if position in self.datetimes:
            import pandas as pd

            return pd.Timestamp(value)
        return value
