"""The acknowledged-request journal: what a killed server owed its inference log.

Rows wait in memory for up to ``flush_seconds`` before a segment holds them, so a server
killed with SIGKILL (or by the out-of-memory killer) loses that last batch. The journal
bounds and reports the loss: before each answer, the request's id, row count and time
are appended to a small file under ``<log>/.journal/`` with one ``write`` (the operating
system keeps it even when the process is killed; no personal value goes in). A journal
file is deleted once every row it names is in a segment (or set aside under
``rejected/``). At the next start, a journal whose owner is gone (its lock is free) is
compared with the segments written since it was opened: requests it names that no
segment holds are recorded under ``<log>/lost/`` (:func:`read_lost`) and logged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LOST_COLUMNS", "Journal", "read_lost", "recover"]

_log = logging.getLogger("workbench.serving")

LOST_COLUMNS = ("request_id", "rows", "timestamp", "journal", "found_at")


class Journal:
    """The journal of one writer: one open file at a time, rotated with each batch."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._fd, self._path = self._open()
        self._rotated: list[tuple[int, Path]] = []

    def _open(self) -> tuple[int, Path]:
        path = self.folder / f"{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.ids"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours while we live
        return fd, path

    def note(self, request_id: str, rows: int, timestamp_ns: int) -> None:
        """One acknowledged request (called before its answer is sent)."""
        os.write(self._fd, f"{request_id} {rows} {timestamp_ns}\n".encode())

    def rotate(self) -> None:
        """Start a new file: the current one names exactly the batch being written."""
        self._rotated.append((self._fd, self._path))
        self._fd, self._path = self._open()

    def settle(self) -> None:
        """Every rotated file's rows are stored: delete those files."""
        for fd, path in self._rotated:
            path.unlink(missing_ok=True)
            os.close(fd)
        self._rotated = []

    def close(self) -> None:
        """Everything is stored (the writer closed cleanly): no journal is left."""
        self.rotate()
        self.settle()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._path.unlink(missing_ok=True)


def _segment_time(name: str) -> int | None:
    """The UTC write time (ns) in a segment's name ``segment-YYYYmmddTHHMMSSffffff-...``."""
    try:
        stamp = dt.datetime.strptime(name.split("-")[1], "%Y%m%dT%H%M%S%f")
    except (IndexError, ValueError):
        return None
    return int(stamp.replace(tzinfo=dt.UTC).timestamp() * 1e9)


def recover(log: Any) -> list[dict[str, Any]]:
    """Check the journals that no live writer holds; record what they owed and was lost.

    Args:
        log: The ``LogFolder`` of the inference log (local).

    Returns:
        One record per journal that named requests missing from the log.
    """
    folder = Path(log.path) / ".journal"
    if not folder.is_dir():
        return []
    reports = []
    for path in sorted(folder.glob("*.ids")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a running server's
            noted = _read(path)
            if noted:
                missing = _missing(log, noted, int(path.name.split("-")[0]))
                if missing:
                    reports.append(_record(log, path.name, missing))
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return reports


def _read(path: Path) -> dict[str, tuple[int, int]]:
    noted: dict[str, tuple[int, int]] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():  # a torn last line
            noted[parts[0]] = (int(parts[1]), int(parts[2]))
    return noted


def _missing(
    log: Any, noted: dict[str, tuple[int, int]], born_ns: int
) -> dict[str, tuple[int, int]]:
    """The noted requests that no segment (nor set-aside file) written since ``born_ns``
    holds."""
    import pandas as pd

    slack = 5 * 10**9  # clocks of name stamps and of the journal's name differ slightly
    stored: set[str] = set()
    for file in log.glob("segment-*.parquet"):
        written = _segment_time(Path(file).name)
        if written is None or written >= born_ns - slack:
            ids = log.read(file, columns=["request_id"])["request_id"]
            stored.update(pd.unique(ids).tolist())
    rejected = log.child("rejected")
    if rejected.exists():
        for file in rejected.glob("rejected-*.json"):
            with contextlib.suppress(OSError, ValueError):
                record = json.loads(Path(file).read_text())
                stored.add(str(record.get("request_id")))
    return {k: v for k, v in noted.items() if k not in stored}


def _record(log: Any, journal: str, missing: dict[str, tuple[int, int]]) -> dict[str, Any]:
    found = dt.datetime.now(dt.UTC)
    times = [t for _, t in missing.values()]
    record = {
        "reason": "the server stopped (killed?) before writing these acknowledged requests",
        "journal": journal,
        "found_at": found.isoformat(),
        "requests": len(missing),
        "rows": sum(r for r, _ in missing.values()),
        "first_timestamp_ns": min(times),
        "last_timestamp_ns": max(times),
        "lost": [[k, r, t] for k, (r, t) in missing.items()],
    }
    place = log.child("lost")
    place.mkdir()
    target = Path(place.path) / f"lost-{found:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
    target.write_text(json.dumps(record))
    _log.warning(
        "inference log: %d acknowledged requests (%d rows) of a stopped server were never "
        "written; listed in %s",
        record["requests"],
        record["rows"],
        target,
    )
    return record


def read_lost(folder: str | Path) -> pd.DataFrame:
    """Requests a server acknowledged but was killed before logging (``<log>/lost/``):
    ``request_id``, ``rows``, ``timestamp``, ``journal``, ``found_at``; empty when none."""
    import pandas as pd

    place = Path(folder) / "lost"
    rows = []
    for file in sorted(place.glob("lost-*.json")) if place.is_dir() else []:
        record = json.loads(file.read_text())
        for request_id, count, stamp in record["lost"]:
            rows.append((request_id, count, stamp, record["journal"], record["found_at"]))
    frame = pd.DataFrame(rows, columns=list(LOST_COLUMNS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].astype("int64"), unit="ns", utc=True)
    return frame
