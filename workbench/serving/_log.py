"""The inference log: Parquet segment files written by a background, batched writer.

Layout: ``<folder>/segment-<UTC time>-<random>.parquet``, each written to a hidden
temporary name and renamed into place, so a reader never sees half a file. pandas, DuckDB
(``read_parquet('<folder>/segment-*.parquet')``) and Dask read the folder as one table.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from workbench._exceptions import ServingError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LOG_COLUMNS", "InferenceLogWriter", "read_inference_log"]

_log = logging.getLogger(__name__)

#: Columns the server adds to each logged row; the model's inputs keep their own names.
LOG_COLUMNS = (
    "request_id",
    "row_in_request",
    "timestamp",
    "model_name",
    "model_version",
    "latency_ms",
    "prediction",
)


def write_segment(frame: pd.DataFrame, folder: Path, prefix: str) -> Path:
    """``frame`` as ``<folder>/<prefix>-<UTC time>-<random>.parquet``, written under a hidden
    name and renamed into place, so a reader never sees half a file."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"{prefix}-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = folder / f".{name}.tmp"
    frame.to_parquet(tmp, index=False)
    return tmp.replace(folder / name)


class InferenceLogWriter:
    """Collects logged rows in memory and writes them as Parquet segments.

    A background thread flushes every ``flush_seconds`` or as soon as ``max_rows`` rows
    are pending; :meth:`close` flushes whatever is left. Rows appended before ``close``
    returns are on disk after it.

    Args:
        folder: Where segments go (created if absent).
        max_rows: Pending rows that trigger a flush.
        flush_seconds: Longest time a row waits in memory.
    """

    def __init__(self, folder: str | Path, *, max_rows: int = 10_000, flush_seconds: float = 1.0):
        self.folder = Path(folder)
        self.max_rows = max_rows
        self.flush_seconds = flush_seconds
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ServingError(
                f"The inference log folder {self.folder} cannot be created: {exc.strerror}."
            ) from exc
        self._pending: list[pd.DataFrame] = []
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self.rows_written = 0
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    def append(self, rows: pd.DataFrame) -> None:
        """Queue rows for the next segment."""
        if self._closed.is_set():
            raise ServingError("The inference log writer is closed; rows cannot be appended.")
        with self._lock:
            self._pending.append(rows)
            self._pending_rows += len(rows)
            full = self._pending_rows >= self.max_rows
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write pending rows now; returns how many were written."""
        import pandas as pd

        with self._lock:
            batch, self._pending, self._pending_rows = self._pending, [], 0
        if not batch:
            return 0
        frame = pd.concat(batch, ignore_index=True)
        write_segment(frame, self.folder, "segment")
        self.rows_written += len(frame)
        return len(frame)

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep serving; the rows stay counted as lost in the log
                _log.exception("writing an inference log segment failed")

    def close(self) -> None:
        """Stop the background thread and write every pending row."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._wake.set()
        self._thread.join()
        self.flush()


def read_inference_log(folder: str | Path) -> pd.DataFrame:
    """Read every segment of an inference log into one frame, oldest first.

    Raises:
        ServingError: The folder does not exist.
    """
    import pandas as pd

    path = Path(folder)
    if not path.is_dir():
        raise ServingError(f"No inference log at {path}: the folder does not exist.")
    segments = sorted(path.glob("segment-*.parquet"))
    if not segments:
        empty: pd.DataFrame = pd.DataFrame(columns=list(LOG_COLUMNS))
        return empty
    frame: pd.DataFrame = pd.concat([pd.read_parquet(p) for p in segments], ignore_index=True)
    return frame.sort_values(["timestamp", "row_in_request"], kind="stable").reset_index(drop=True)
