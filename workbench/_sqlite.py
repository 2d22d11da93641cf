"""Embedded SQLite stores (MLflow's, Optuna's) tuned for many small commits.

Write-ahead logging lets readers (the MLflow UI, a dashboard) read while a study writes,
and ``synchronous=NORMAL`` makes a commit cost no fsync: the database stays consistent
if the process dies, and only the last commits could be lost if the *machine* loses
power. Without it, each of the dozen small commits of a tuning trial waits for the disk.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["fast_sqlite"]

_PATHS: set[str] = set()
_LOCK = threading.Lock()
_LISTENING = False


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    return None if not path or path == ":memory:" else Path(path)


def fast_sqlite(url: str) -> None:
    """WAL for the SQLite database of ``url`` (persistent), and NORMAL sync for every
    SQLAlchemy connection this process opens to it. Other URLs are left alone."""
    global _LISTENING
    path = _sqlite_path(url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    resolved = str(path.resolve())
    with _LOCK:
        if resolved in _PATHS:
            return
        with contextlib.closing(sqlite3.connect(resolved, timeout=60)) as con:
            con.execute("PRAGMA journal_mode=WAL")
        _PATHS.add(resolved)
        if not _LISTENING:
            from sqlalchemy import event
            from sqlalchemy.engine import Engine

            event.listen(Engine, "connect", _on_connect)
            _LISTENING = True


def _on_connect(connection: Any, record: Any) -> None:
    if not isinstance(connection, sqlite3.Connection):
        return
    with contextlib.suppress(sqlite3.Error):
        row = connection.execute("PRAGMA database_list").fetchone()
        if row and row[2] in _PATHS:
            connection.execute("PRAGMA synchronous=NORMAL")
