"""Ground truth recorded after the fact, joined to the inference log by request id.

Layout: ``<log folder>/actuals/actuals-<UTC time>-<random>.parquet`` with ``request_id``,
``row_in_request``, ``actual`` and ``recorded_at``; written to a hidden name and renamed
into place like the log's segments. A later actual for the same row replaces an earlier
one when joined.

Whether the log holds a request is answered by a :class:`RequestIndex`: each segment is
read once (the scoring server adds its own segments as it writes them), not every
segment at every call.
"""

from __future__ import annotations

import logging
import math
import numbers
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import DataError, ServingError
from workbench.serving._log import LogFolder

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["RequestIndex", "join_actuals", "log_actuals", "parse_actuals", "read_actuals"]

_log = logging.getLogger(__name__)

ACTUALS = "actuals"
#: Request ids hashed per call: the GIL is let go between slices, so that a server's
#: event loop is never held for the whole of a large segment.
_SLICE = 65_536
#: Segments read (and indexed) together.
_FILES = 512


def _hashes(request_ids: Any) -> np.ndarray:
    """64-bit hashes of the ids (this process's string hash; the index lives in memory).

    ``request_ids``: anything sliced by position (a list, an array, a pandas ``.array``),
    converted to Python strings a slice at a time.
    """
    n = len(request_ids)
    out = np.empty(n, dtype=np.int64)
    for start in range(0, n, _SLICE):
        part = np.asarray(request_ids[start : start + _SLICE], dtype=object)
        out[start : start + len(part)] = np.fromiter(map(hash, part), np.int64, len(part))
    return out


def _reduce(hashes: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique hashes, each with the largest row count seen for it."""
    if not len(hashes):
        return hashes, counts
    order = np.argsort(hashes, kind="stable")
    hashes, counts = hashes[order], counts[order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    return hashes[starts], np.maximum.reduceat(counts, starts)


class RequestIndex:
    """Which requests (and how many rows of each) an inference log holds, in memory.

    Each request id is kept as a 64-bit hash with its row count (16 bytes a request),
    in sorted runs merged as they grow. :meth:`refresh` reads the segments it has not
    read yet (two columns each); :meth:`add` takes a segment the caller just wrote, so
    a server never reads back its own log. A request's rows are taken to be numbered
    ``0 .. n-1``, as the server writes them.

    Args:
        log_dir: The inference log folder (or fsspec URL).
        before_refresh: Called before a refresh that a lookup needs (the server: write
            the rows still waiting in memory, so that a request answered a moment ago
            counts).
    """

    def __init__(
        self, log_dir: str | Path, *, before_refresh: Callable[[], Any] | None = None
    ) -> None:
        self.folder = LogFolder(log_dir)
        self.before_refresh = before_refresh
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()  # the runs and the names seen
        self._reading = threading.Lock()  # one refresh at a time
        self.segments_read = 0

    def __len__(self) -> int:
        return sum(len(h) for h, _ in self._runs)

    def add(
        self, request_ids: Any, rows: Any, segment: str | None = None, segments: Sequence[str] = ()
    ) -> None:
        """Index rows (``request_id``, ``row_in_request``); ``segment`` (or ``segments``):
        the file(s) they come from, not to be read again."""
        counts = np.asarray(rows, dtype=np.int64) + 1
        run = _reduce(_hashes(request_ids), counts)
        with self._lock:
            for name in [segment] if segment is not None else segments:
                self._seen.add(Path(name).name)
            if len(run[0]):
                self._runs.append(run)
            # merge the newest runs while they are as large as the one before: few runs
            while len(self._runs) > 1 and len(self._runs[-1][0]) * 2 >= len(self._runs[-2][0]):
                (h1, c1), (h2, c2) = self._runs[-2], self._runs.pop()
                self._runs[-1] = _reduce(np.concatenate([h1, h2]), np.concatenate([c1, c2]))

    def refresh(self) -> int:
        """Read the segments not read yet; returns how many were read. A segment that
        cannot be read is logged and tried again at the next refresh."""
        with self._reading:
            try:
                names = self.folder.glob("segment-*.parquet") if self.folder.exists() else []
            except OSError as exc:
                _log.warning("the inference log at %s cannot be listed: %s", self.folder, exc)
                return 0
            with self._lock:
                new = [n for n in names if Path(n).name not in self._seen]
            for start in range(0, len(new), _FILES):
                chunk = new[start : start + _FILES]
                table, read = self._read(chunk)
                if read:  # many segments at once: one sort for all, not one per small file
                    rows = table.column("row_in_request").to_numpy()
                    self.add(table.column("request_id"), rows, segments=read)
                    self.segments_read += len(read)
                del table
            if new:  # what the scan took goes back, not kept in Arrow's pool
                import pyarrow as pa

                pa.default_memory_pool().release_unused()
            return len(new)

    def _read(self, names: list[str]) -> tuple[pa.Table, list[str]]:
        """The ids and rows of ``names``, and the names read: a local folder's files in
        one multi-threaded scan (the interpreter lock let go), one by one elsewhere or
        when one of them cannot be read."""
        import pyarrow as pa

        columns = ["request_id", "row_in_request"]
        if self.folder.local:
            import pyarrow.dataset as ds

            try:
                return ds.dataset(names, format="parquet").to_table(columns=columns), names
            except Exception:  # each file on its own below, to say which
                pass
        parts, read = [], []
        for name in names:
            try:
                parts.append(self.folder.read_table(name, columns))
            except Exception as exc:  # half-copied, foreign or vanished: not this call's
                _log.warning("inference log segment %s cannot be read: %s", name, exc)
            else:
                read.append(name)
        if not parts:
            return pa.table({c: [] for c in columns}), read
        return pa.concat_tables(parts, promote_options="permissive"), read

    def held(self, request_ids: Sequence[str], rows: Sequence[int]) -> np.ndarray:
        """For each (id, row): whether the index holds it (no refresh)."""
        hashes = _hashes(list(request_ids))
        wanted = np.asarray(rows, dtype=np.int64)
        found = np.zeros(len(hashes), dtype=bool)
        with self._lock:
            runs = list(self._runs)
        for run, counts in runs:
            at = np.minimum(np.searchsorted(run, hashes), len(run) - 1)
            found |= (run[at] == hashes) & (wanted < counts[at])
        return found

    def missing(self, request_ids: Sequence[str], rows: Sequence[int]) -> list[int]:
        """Positions of the (id, row) pairs the log does not hold, after reading what
        was written since the last look if any is missing."""
        found = self.held(request_ids, rows)
        if not found.all():
            if self.before_refresh is not None:
                self.before_refresh()
            self.refresh()
            found = self.held(request_ids, rows)
        return np.flatnonzero(~found).tolist()


def parse_actuals(body: bytes) -> tuple[list[str], list[Any], list[int]]:
    """The request ids, actuals and rows of a ``POST /actuals`` body,
    ``{"actuals": [{"request_id": ..., "actual": ..., "row": 0}, ...]}``.

    Raises:
        PayloadError: Not that shape, or an item that is not (the message names it).
    """
    from workbench.serving._payload import PayloadError, is_text, read_json

    payload = read_json(body)
    items = payload.get("actuals") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise PayloadError('The body must be {"actuals": [{"request_id": ..., "actual": ...}]}.')
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "request_id" not in item or "actual" not in item:
            raise PayloadError(f"actuals[{i}] needs a 'request_id' and an 'actual'.")
        row = item.get("row", 0)
        if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < 2**63:
            raise PayloadError(f"actuals[{i}].row must be a row number (an integer from 0).")
        actual = item["actual"]
        if isinstance(actual, dict | list):
            raise PayloadError(f"actuals[{i}].actual must be a single value.")
        if isinstance(actual, float) and not math.isfinite(actual):
            raise PayloadError(
                f"actuals[{i}].actual is {actual!r}: an actual must be a finite number, "
                f"text or true/false (null when not known)."
            )
        texts = [v for v in (item["request_id"], actual) if isinstance(v, str)]
        if not all(is_text(v) for v in texts):
            raise PayloadError(f"actuals[{i}] holds text that is not valid Unicode.")
    return (
        [str(item["request_id"]) for item in items],
        [item["actual"] for item in items],
        [int(item.get("row", 0)) for item in items],
    )


def log_actuals(
    log_dir: str | Path,
    request_ids: Sequence[str],
    values: Sequence[Any],
    *,
    rows: Sequence[int] | None = None,
    check: bool = True,
    index: RequestIndex | None = None,
) -> int:
    """Record the true outcome of logged predictions.

    Args:
        log_dir: The inference log folder the predictions were logged to.
        request_ids: The ``X-Request-ID`` of each prediction's request.
        values: The actual value for each: a finite number, text or true/false (None
            or NaN: not known).
        rows: The row within its request (default 0: single-row requests).
        check: Refuse request ids (or rows) the inference log does not hold.
        index: What the log holds, kept between calls (the server's); default: the
            segments are read for this call.

    Returns:
        How many actuals were recorded.

    Raises:
        DataError: Lengths differ, an id is empty, a value is infinite, a (request id,
            row) comes twice, or (with ``check``) an id is unknown; the message names the
            first offending ones. Nothing is written then.
        ServingError: The log folder does not exist.
    """
    import pandas as pd

    folder = LogFolder(log_dir)
    if not folder.exists():
        raise ServingError(f"No inference log at {folder}: the folder does not exist.")
    ids = [str(r) if r is not None else "" for r in request_ids]
    positions = list(rows) if rows is not None else [0] * len(ids)
    if not (len(ids) == len(values) == len(positions)):
        raise DataError(
            f"log_actuals needs one value and one row per request id; got {len(ids)} ids, "
            f"{len(values)} values and {len(positions)} rows."
        )
    empty = [i for i, r in enumerate(ids) if not r.strip()]
    if empty:
        raise DataError(f"Request ids at positions {empty[:5]} are empty.")
    infinite = [i for i, v in enumerate(values) if isinstance(v, float) and math.isinf(v)]
    if infinite:
        first = infinite[0]
        raise DataError(
            f"Actual {first} (request id {ids[first]!r}) is {values[first]!r}: an actual must "
            f"be a finite number, text or true/false (null when not known)."
        )
    seen: dict[tuple[str, int], int] = {}
    for i, key in enumerate(zip(ids, positions, strict=True)):
        if key in seen:
            raise DataError(
                f"Actuals {seen[key]} and {i} are both for request id {key[0]!r}, row "
                f"{key[1]}; send one actual per row (a later call corrects an earlier one)."
            )
        seen[key] = i
    kinds = {_kind(v) for v in values}
    if len(kinds - {"missing"}) > 1:
        first = next(i for i, v in enumerate(values) if _kind(v) != _kind(values[0]))
        raise DataError(
            f"Actuals must all be numbers, all text or all true/false; value {first} is "
            f"{values[first]!r} after {values[0]!r}."
        )
    frame = pd.DataFrame(
        {
            "request_id": ids,
            "row_in_request": pd.array(positions, dtype="int64"),
            "actual": list(values),
            "recorded_at": pd.Timestamp.now(tz="UTC"),
        }
    )
    if check and len(frame):
        holds = index if index is not None else RequestIndex(folder.url)
        unknown = [f"{ids[i]}#{positions[i]}" for i in holds.missing(ids, positions)]
        if unknown:
            raise DataError(
                f"{len(unknown)} of {len(ids)} actuals name a request id (#row) the inference "
                f"log at {folder} does not hold, e.g. {unknown[:5]}; nothing was recorded."
            )
    if frame.empty:
        return 0
    out = folder.child(ACTUALS)
    out.mkdir()
    out.write(frame, "actuals")
    return len(frame)


def _kind(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "missing"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, numbers.Real):
        return "number"
    return type(value).__name__


def read_actuals(log_dir: str | Path) -> pd.DataFrame:
    """Every recorded actual, the latest per (request id, row) only."""
    import pandas as pd

    place = LogFolder(log_dir).child(ACTUALS)
    files = place.glob("actuals-*.parquet") if place.exists() else []
    if not files:
        return pd.DataFrame(columns=["request_id", "row_in_request", "actual", "recorded_at"])
    frame = pd.concat([place.read(f) for f in files], ignore_index=True)
    frame = frame.sort_values("recorded_at", kind="stable")
    latest = frame.drop_duplicates(["request_id", "row_in_request"], keep="last")
    return latest.reset_index(drop=True)


def join_actuals(log: pd.DataFrame, log_dir: str | Path) -> pd.DataFrame:
    """``log`` with an ``actual`` column (missing where none was recorded yet)."""
    actuals = read_actuals(log_dir)[["request_id", "row_in_request", "actual"]]
    joined = log.merge(
        actuals.astype({"row_in_request": log["row_in_request"].dtype}),
        on=["request_id", "row_in_request"],
        how="left",
    )
    return joined
