"""The acknowledged-request journal: what a killed server owed its inference log.

Rows wait in memory for up to ``flush_seconds`` before a segment holds them, so a server
killed with SIGKILL (or by the out-of-memory killer) loses that last batch. The journal
bounds and reports the loss: before each answer, the request's id, row count and time
are copied into a small file under ``<log>/.journal/`` (no personal value goes in). The
file is mapped into memory (``MAP_SHARED``), so a note is a copy into memory, not a
system call on the request path; the operating system owns those pages and keeps them
when the process is killed. The files are created, sized and faulted in ahead of use by
the writing thread, never by a request. A journal file is deleted once every row it
names is in a segment (or set aside under ``rejected/``). At the next start, a journal
whose owner is gone (its lock is free) is compared with the segments written since it
was opened: requests it names that no segment holds are recorded under ``<log>/lost/``
(:func:`read_lost`) and logged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import mmap
import os
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LOST_COLUMNS", "Journal", "read_lost", "recover"]

_log = logging.getLogger("workbench.serving")

LOST_COLUMNS = ("request_id", "rows", "timestamp", "journal", "found_at")

#: Bytes of a journal file at least (about 1,200 notes) and at most (about 75,000; a
#: flush comes at 10,000 rows). Each file is made twice the size the last batch needed:
#: faulting in pages nobody writes to would cost the writing thread for nothing.
PAGE_BYTES = 1 << 16
MAX_PAGE_BYTES = 1 << 22


def _fault_in(view: mmap.mmap) -> None:
    """Make every page of ``view`` present and writable now, so that a note never
    faults (a fault may wait on the file system's journal). Read from /dev/zero into
    it: the kernel takes the faults inside the system call, with the interpreter lock
    let go; a store per page, holding it, only where /dev/zero cannot be read."""
    try:
        with Path("/dev/zero").open("rb", buffering=0) as zeros:
            if zeros.readinto(view) == len(view):
                return
    except OSError:
        pass
    for offset in range(0, len(view), mmap.PAGESIZE):
        view[offset] = 0


class _Page:
    """One journal file, locked while its writer lives and mapped into memory."""

    def __init__(self, folder: Path, size: int):
        name = f"{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # made under a name recover() does not look at, and named *.ids only once locked:
        # another replica starting on the same log never takes it for a dead server's
        made, path = folder / f".{name}.new", folder / f"{name}.ids"
        fd = os.open(made, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours while we live
            # blocks allocated now: a full disk is an error here, never a SIGBUS at a note
            os.posix_fallocate(fd, 0, size)
            view = mmap.mmap(fd, size)  # MAP_SHARED: the pages outlive the process
            _fault_in(view)
            made.rename(path)
        except BaseException:
            os.close(fd)
            made.unlink(missing_ok=True)
            raise
        self.fd, self.path, self.view, self.size, self.used = fd, path, view, size, 0

    def put(self, line: bytes) -> bool:
        """Copy one note in (without its newline); False when it does not fit."""
        end = self.used + len(line)
        if end >= self.size:
            return False
        self.view[self.used : end] = line
        self.view[end] = 0x0A  # the newline last: a note is whole once it ends with one
        self.used = end + 1
        return True

    def drop(self) -> None:
        """Unmap, delete and unlock (the rows it named are stored)."""
        with contextlib.suppress(OSError, ValueError):
            self.view.close()
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.close(self.fd)


class Journal:
    """The journal of one writer: one mapped file at a time, rotated with each batch.

    :meth:`note` and :meth:`rotate` run under the writer's lock and do no I/O when a
    spare file is ready; :meth:`prepare` (the writing thread, outside that lock) makes one,
    twice as large as the last batch needed. Only when traffic outgrows the spare too
    does a note make a file itself (twice the size, so that happens rarely).
    """

    def __init__(self, folder: Path, page_bytes: int | None = None):
        self.folder = folder
        self.least_bytes = page_bytes or PAGE_BYTES
        self.page_bytes = self.least_bytes  # the size of the next file made
        folder.mkdir(parents=True, exist_ok=True)
        self._page = _Page(folder, self.page_bytes)
        self._full: list[_Page] = []  # filled files of the batch being collected
        self._rotated: list[_Page] = []  # files of the batch being written
        self._spare: _Page | None = None
        self._spare_lock = threading.Lock()
        self.prepare()

    def prepare(self) -> None:
        """Have a spare file ready for the next rotation (or a full one)."""
        with self._spare_lock:
            if self._spare is not None:
                return
        page = _Page(self.folder, self.page_bytes)
        with self._spare_lock:
            if self._spare is None:
                self._spare, page = page, None  # type: ignore[assignment]
        if page is not None:
            page.drop()

    def _take(self) -> _Page:
        with self._spare_lock:
            page, self._spare = self._spare, None
        return page if page is not None else _Page(self.folder, self.page_bytes)

    def note(self, request_id: str, rows: int, timestamp_ns: int) -> None:
        """One acknowledged request (called before its answer is sent)."""
        line = f"{request_id} {rows} {timestamp_ns}".encode()
        if not self._page.put(line):
            self.page_bytes = min(2 * self._page.size, MAX_PAGE_BYTES)  # traffic grew
            fresh = self._take()  # a spare, made by the writing thread
            self._full.append(self._page)
            self._page = fresh
            self._page.put(line)

    def rotate(self) -> None:
        """Start a new file: those rotated out name exactly the batch being written."""
        fresh = self._take()  # first: if it fails, nothing has moved
        batch = [*self._full, self._page]
        needed = 2 * sum(page.used for page in batch)
        pages = -(-needed // mmap.PAGESIZE) * mmap.PAGESIZE
        self.page_bytes = max(self.least_bytes, min(pages, MAX_PAGE_BYTES))
        self._rotated += batch
        self._full = []
        self._page = fresh

    def settle(self) -> None:
        """Every rotated file's rows are stored: delete those files."""
        for page in self._rotated:
            page.drop()
        self._rotated = []

    def close(self) -> None:
        """Everything is stored (the writer closed cleanly): no journal is left."""
        self._rotated += [*self._full, self._page]
        self._full = []
        self.settle()
        with self._spare_lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.drop()


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
            try:
                if path.stat().st_ino != os.fstat(fd).st_ino:
                    continue
            except FileNotFoundError:
                continue  # another replica starting beside this one checked it first
            noted = _read(path)
            if noted:
                missing = _missing(log, noted, int(path.name.split("-")[0]))
                if missing:
                    reports.append(_record(log, path.name, missing))
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    for path in folder.glob(".*.new"):  # a server killed as it made a journal: nothing noted
        with contextlib.suppress(OSError):
            if time.time() - path.stat().st_mtime > 60:
                path.unlink()
    return reports


def _read(path: Path) -> dict[str, tuple[int, int]]:
    """The whole notes of a journal file: lines ending in a newline, before the unused
    (zero) rest of the file; a note cut short by a kill has no newline yet."""
    data = path.read_bytes()
    data = data[: data.find(b"\0")] if b"\0" in data else data
    noted: dict[str, tuple[int, int]] = {}
    for line in data.decode(errors="replace").split("\n")[:-1]:
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
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
