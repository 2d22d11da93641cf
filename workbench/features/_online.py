"""The online store: the latest row per entity key of each view, in SQLite.

One table per view version (``<view>__v<version>``), keyed by the entity's join keys,
holding the event time (ns since the epoch, UTC) and the features. A new table is filled
beside the old one and swapped in by one transaction, so readers never see it half
written. Reads honour the view's TTL: a value older than ``ttl`` at the time asked
about comes back as null.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OnlineTable", "latest_rows", "write_table"]

EVENT = "__event_ns"
_BINDABLE = (type(None), int, float, str, bytes)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def latest_rows(frame: pd.DataFrame, keys: Sequence[str], time: str) -> pd.DataFrame:
    """One row per key: the one with the latest event time."""
    ordered = frame.sort_values([*keys, time], kind="stable")
    return ordered.drop_duplicates(list(keys), keep="last")


def write_table(path: Path, table: str, frame: pd.DataFrame, keys: Sequence[str], time: str) -> int:
    """Replace ``table`` with ``frame``'s rows (keys, event time, features) atomically."""
    import pandas as pd

    features = [c for c in frame.columns if c not in (*keys, time)]
    rows = pd.DataFrame({k: frame[k] for k in keys})
    rows[EVENT] = frame[time].to_numpy().astype("datetime64[ns]").astype(np.int64)
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
            rows[column] = rows[column].map(lambda v: v if isinstance(v, _BINDABLE) else str(v))
    columns = ", ".join(_quote(c) for c in rows.columns)
    marks = ", ".join("?" for _ in rows.columns)
    staging = f"{table}__staging"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"DROP TABLE IF EXISTS {_quote(staging)}")
        con.execute(
            f"CREATE TABLE {_quote(staging)} ({columns}, "
            f"PRIMARY KEY ({', '.join(_quote(k) for k in keys)})) WITHOUT ROWID"
        )
        con.executemany(
            f"INSERT INTO {_quote(staging)} VALUES ({marks})",
            rows.itertuples(index=False, name=None),
        )
        con.execute(f"DROP TABLE IF EXISTS {_quote(table)}")
        con.execute(f"ALTER TABLE {_quote(staging)} RENAME TO {_quote(table)}")
    return len(rows)


class OnlineTable:
    """Reads of one online table: a prepared statement per request size."""

    def __init__(
        self,
        path: Path,
        table: str,
        keys: Sequence[str],
        features: Sequence[str],
        ttl_ns: int | None,
        booleans: Sequence[str] = (),
        datetimes: Sequence[str] = (),
    ):
        self.keys = tuple(keys)
        self.features = tuple(features)
        self.ttl_ns = ttl_ns
        self.booleans = {i for i, f in enumerate(self.features) if f in set(booleans)}
        self.datetimes = {i for i, f in enumerate(self.features) if f in set(datetimes)}
        self._local = threading.local()
        self._path = path
        self._select = (
            f"SELECT {', '.join(_quote(c) for c in (*self.keys, EVENT, *self.features))} "
            f"FROM {_quote(table)} WHERE "
        )

    def _connection(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True)
            self._local.con = con
        return con

    def read(self, ids: Sequence[tuple[Any, ...]], at_ns: int) -> list[tuple[Any, ...] | None]:
        """Feature values per requested key: None when the key is absent, when its value
        is older than the TTL at ``at_ns``, or when it was recorded after ``at_ns``."""
        if len(self.keys) == 1:
            where = f"{_quote(self.keys[0])} IN ({', '.join('?' * len(ids))})"
            params: list[Any] = [i[0] for i in ids]
        else:
            one = "(" + ", ".join("?" * len(self.keys)) + ")"
            where = (
                f"({', '.join(_quote(k) for k in self.keys)}) IN "
                f"(VALUES {', '.join([one] * len(ids))})"
            )
            params = [v for i in ids for v in i]
        n = len(self.keys)
        found: dict[tuple[Any, ...], tuple[Any, ...] | None] = {}
        for row in self._connection().execute(self._select + where, params):
            age = at_ns - row[n]
            if age < 0 or (self.ttl_ns is not None and age > self.ttl_ns):
                found[row[:n]] = None
                continue
            values = row[n + 1 :]
            if self.booleans or self.datetimes:
                values = tuple(self._restore(i, v) for i, v in enumerate(values))
            found[row[:n]] = values
        return [found.get(i) for i in ids]

    def _restore(self, position: int, value: Any) -> Any:
        if value is None:
            return None
        if position in self.booleans:
            return bool(value)
        if position in self.datetimes:
            import pandas as pd

            return pd.Timestamp(value)
        return value
