"""The inference log: Parquet segment files written by a background, batched writer. It
is one job, the log's one format: the writer, the folder layout and the readers that must
agree on it are kept together.

Layout: ``<folder>/segment-<UTC time>-<random>.parquet``, each written to a hidden
temporary name and renamed into place, so a reader never sees half a file. pandas, DuckDB
(``read_parquet('<folder>/segment-*.parquet')``) and Dask read the folder as one table.

The writing thread shares the interpreter lock with the event loop and the prediction
thread, so a batch of answered requests goes to an Arrow table column by column (no
pandas frame on the way: a third of the time, and held in shorter stretches).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._exceptions import ServingError
from workbench._imports import require
from workbench._versions import score_column
from workbench.data._mask import mask_value
from workbench.serving._journal import Journal, recover

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "ERROR_COLUMNS",
    "LOG_COLUMNS",
    "InferenceLogWriter",
    "LogFolder",
    "LoggedError",
    "LoggedRequest",
    "read_errors",
    "read_inference_log",
    "requests_table",
]

_log = logging.getLogger(__name__)

#: Columns the server adds to each logged row; the model's inputs keep their own names.
#: ``client`` (the name of the caller's token, never the token) only where the server
#: requires tokens.
LOG_COLUMNS = (
    "request_id",
    "row_in_request",
    "timestamp",
    "model_name",
    "model_version",
    "latency_ms",
    "prediction",
    "client",
)


class LogFolder:
    """Where segments live: a local folder (atomic rename) or any fsspec URL.

    On object stores (``s3://``, ``gs://``, ``memory://`` ...) a segment is written to its
    final name in one upload, which is atomic there; locally it is written under a hidden
    name and renamed into place.
    """

    def __init__(self, location: str | Path):
        text = str(location)
        self.url = text
        self.local = "://" not in text or text.startswith("file://")
        if self.local:
            self.path = Path(text.removeprefix("file://"))
            self.fs: Any = None
        else:
            fsspec = require("fsspec", feature="an inference log at a URL")
            self.fs, root = fsspec.core.url_to_fs(text)
            self.path = Path(root)

    def __str__(self) -> str:
        return self.url

    def child(self, name: str) -> LogFolder:
        return LogFolder(self.url.rstrip("/") + "/" + name)

    def exists(self) -> bool:
        return self.path.is_dir() if self.local else bool(self.fs.isdir(str(self.path)))

    def mkdir(self) -> None:
        if self.local:
            self.path.mkdir(parents=True, exist_ok=True)
        else:
            self.fs.makedirs(str(self.path), exist_ok=True)

    def glob(self, pattern: str) -> list[str]:
        if self.local:
            return sorted(str(p) for p in self.path.glob(pattern))
        return sorted(self.fs.glob(f"{self.path}/{pattern}"))

    def read(self, file: str, columns: list[str] | None = None) -> pd.DataFrame:
        import pandas as pd

        if self.local:
            return pd.read_parquet(file, columns=columns)
        with self.fs.open(file, "rb") as handle:
            return pd.read_parquet(handle, columns=columns)

    def read_table(self, file: str, columns: list[str]) -> pa.Table:
        """``columns`` of one file as an Arrow table (no pandas frame on the way)."""
        import pyarrow.parquet as pq

        if self.local:
            return pq.read_table(file, columns=columns)
        with self.fs.open(file, "rb") as handle:
            return pq.read_table(handle, columns=columns)

    def write(self, frame: pd.DataFrame | pa.Table, prefix: str) -> str:
        """``frame`` (or an Arrow table) as ``<prefix>-<UTC time>-<random>.parquet``; a
        reader never sees half."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{prefix}-{stamp}-{uuid.uuid4().hex[:8]}.parquet"

        def put(where: Any) -> None:
            if hasattr(frame, "to_parquet"):
                frame.to_parquet(where, index=False)
            else:
                import pyarrow.parquet as pq

                pq.write_table(frame, where)

        if not self.local:
            target = f"{self.path}/{name}"
            with self.fs.open(target, "wb") as handle:
                put(handle)
            return target
        tmp = self.path / f".{name}.tmp"
        try:
            put(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return str(tmp.replace(self.path / name))


def write_segment(frame: pd.DataFrame, folder: str | Path | LogFolder, prefix: str) -> str:
    """``frame`` as ``<folder>/<prefix>-<UTC time>-<random>.parquet``, written atomically."""
    place = folder if isinstance(folder, LogFolder) else LogFolder(folder)
    return place.write(frame, prefix)


@dataclass
class LoggedRequest:
    """One answered request, as the server hands it to the writer (no DataFrame built)."""

    request_id: str
    timestamp_ns: int
    model_name: str
    model_version: str
    latency_ms: float
    inputs: dict[str, np.ndarray]
    rows: int
    predictions: Any
    personal: tuple[str, ...] = ()
    #: A classifier's class probabilities (one column per class in ``classes``), logged
    #: as ``proba_<class>`` columns for performance estimation before labels.
    scores: np.ndarray | None = None
    classes: tuple[Any, ...] = ()
    #: The caller's name (its token's), where the server requires tokens.
    client: str | None = None


@dataclass
class LoggedError:
    """One refused (4xx) or failed (5xx) request, as the server hands it to the errors
    log: a record, not a DataFrame, so that a refusal costs the event loop nothing."""

    request_id: str
    timestamp_ns: int
    status: int
    error_code: str
    message: str
    model_version: str
    rows: int = 1


def _row_count(item: Any) -> int:
    return item.rows if isinstance(item, LoggedRequest | LoggedError) else len(item)


def _errors_table(errors: list[LoggedError]) -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            "request_id": pa.array([e.request_id for e in errors], pa.string()),
            "timestamp": pa.array([e.timestamp_ns for e in errors], pa.timestamp("ns", tz="UTC")),
            "status": pa.array([e.status for e in errors], pa.int64()),
            "error_code": pa.array([e.error_code for e in errors], pa.string()),
            "message": pa.array([e.message for e in errors], pa.string()),
            "model_version": pa.array([e.model_version for e in errors], pa.string()),
        }
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _prediction_column(parts: list[Any]) -> Any:
    """The predictions of consecutive requests (or one merged call) as one column."""
    arrays = [p.to_numpy() if hasattr(p, "to_numpy") else np.asarray(p) for p in parts]
    if all(p.ndim == 1 for p in arrays):
        return np.concatenate(arrays)
    return [row for p in arrays for row in (p if p.ndim > 1 else p[:, None])]


def _arrow(values: Any) -> pa.Array:
    """A column as Arrow stores it from pandas (a NaN or None is a null)."""
    import pyarrow as pa

    return pa.array(values, from_pandas=True)


def requests_table(
    *,
    request_ids: list[str],
    counts: np.ndarray,
    timestamps_ns: list[int],
    model_name: str,
    model_version: str | list[str],
    latency_ms: list[float],
    inputs: dict[str, np.ndarray],
    predictions: list[Any],
    personal: tuple[str, ...] = (),
    scores: np.ndarray | None = None,
    classes: tuple[Any, ...] = (),
    clients: list[str | None] | None = None,
) -> pa.Table:
    """The log rows of consecutive requests of one version whose inputs are already
    merged (each column ``counts.sum()`` long): what the writer makes of a run of
    :class:`LoggedRequest`, and what the shadow appends for a whole batch at once.

    Args:
        request_ids: Each request's id; ``counts`` its rows, ``timestamps_ns`` and
            ``latency_ms`` its time and latency (one each per request).
        model_version: The version of every row, or of each request (a canary's
            requests and the champion's may follow one another).
        inputs: The inputs of all the rows, a column each; ``personal`` ones are masked.
        predictions: The predictions, in parts (one per request, or one for all).
        scores: The class probabilities of all the rows (one column per class).
        clients: Each request's caller (None: the column is left out).
    """
    import pyarrow as pa

    def each(values: list[Any], dtype: Any = None) -> np.ndarray:
        return np.repeat(np.asarray(values, dtype=dtype), counts)

    data: dict[str, Any] = {}
    for name, column in inputs.items():
        if name in personal:  # stable pseudonyms, never the values (the contract's pii)
            column = np.array([mask_value(v) for v in column], dtype=object)
        data[name] = column
    data["prediction"] = _prediction_column(predictions)
    if scores is not None:
        for i, label in enumerate(classes):
            data[score_column(label)] = scores[:, i]
    total = int(counts.sum())
    data["request_id"] = each(request_ids)
    data["row_in_request"] = np.arange(total, dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    data["timestamp"] = each(timestamps_ns, np.int64)
    data["model_name"] = np.full(total, model_name, dtype=object)
    data["model_version"] = (
        np.full(total, model_version, dtype=object)
        if isinstance(model_version, str)
        else each(model_version)
    )
    data["latency_ms"] = each(latency_ms, np.float64)
    if clients is not None:
        data["client"] = each(clients)
    utc = pa.timestamp("ns", tz="UTC")
    return pa.table(
        {
            name: pa.array(values, type=utc) if name == "timestamp" else _arrow(values)
            for name, values in data.items()
        }
    )


def _table_of(requests: list[LoggedRequest]) -> pa.Table:
    """The log rows of consecutive requests with the same inputs and personal columns."""
    first = requests[0]
    scored = [r.scores for r in requests if r.scores is not None]
    return requests_table(
        request_ids=[r.request_id for r in requests],
        counts=np.fromiter((r.rows for r in requests), np.int64, len(requests)),
        timestamps_ns=[r.timestamp_ns for r in requests],
        model_name=first.model_name,
        model_version=[r.model_version for r in requests],
        latency_ms=[r.latency_ms for r in requests],
        inputs={n: np.concatenate([r.inputs[n] for r in requests]) for n in first.inputs},
        predictions=[r.predictions for r in requests],
        personal=first.personal,
        scores=np.concatenate(scored) if first.scores is not None else None,
        classes=first.classes,
        clients=[r.client for r in requests] if first.client is not None else None,
    )


def _shape(request: LoggedRequest) -> tuple[Any, ...]:
    """Requests with the same shape become one frame."""
    scored = request.scores is not None
    named = request.client is not None
    return list(request.inputs), request.personal, scored, request.classes if scored else (), named


def _table(batch: list[Any]) -> pa.Table:
    """One table of a batch: runs of same-shaped requests, and frames and Arrow tables
    appended as such."""
    import pyarrow as pa

    tables: list[pa.Table] = []
    run: list[LoggedRequest] = []
    errors = [item for item in batch if isinstance(item, LoggedError)]
    for item in batch:
        if isinstance(item, LoggedError):
            continue
        if isinstance(item, LoggedRequest) and (not run or _shape(item) == _shape(run[0])):
            run.append(item)
            continue
        if run:
            tables.append(_table_of(run))
            run = []
        if isinstance(item, LoggedRequest):
            run = [item]
        elif isinstance(item, pa.Table):  # made whole by its sender (the shadow's batch)
            tables.append(item)
        else:
            tables.append(pa.Table.from_pandas(item, preserve_index=False))
    if run:
        tables.append(_table_of(run))
    if errors:
        tables.append(_errors_table(errors))
    if len(tables) == 1:
        return tables[0]
    if all(t.schema.remove_metadata() == tables[0].schema.remove_metadata() for t in tables):
        return pa.concat_tables([t.replace_schema_metadata(None) for t in tables])
    import pandas as pd  # different columns (a reload changed the inputs): pandas' union

    union = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    return pa.Table.from_pandas(union, preserve_index=False)


class InferenceLogWriter:
    """Collects logged rows in memory and writes them as Parquet segments.

    A background thread flushes every ``flush_seconds`` or as soon as ``max_rows`` rows
    are pending; :meth:`close` flushes whatever is left. Rows appended before ``close``
    returns are on disk after it. A segment that cannot be written (disk full, store
    unreachable) keeps its rows pending for the next try; ``close`` then raises, saying
    how many rows are unwritten. Rows that no Parquet file can hold are set aside as JSON
    under ``rejected/`` with the reason (:meth:`flush`).

    With ``journal`` (local folders), each answered request is noted in
    ``<folder>/.journal/`` as it is appended, so that if the process is killed before
    writing its last batch, the next writer on the folder records what was lost under
    ``lost/`` (see :mod:`workbench.serving._journal`); ``recovered`` holds those records.
    :meth:`append` is all a request pays: a lock, a list append and the journal's note
    (a copy into a mapped file); files are created and written by the writing thread.

    Args:
        folder: Where segments go (created if absent): a folder or an fsspec URL.
        max_rows: Pending rows that trigger a flush.
        flush_seconds: Longest time a row waits in memory.
        prefix: File name prefix of the segments (``segment``; ``errors`` for the log of
            refused requests).
        journal: Keep the journal of acknowledged requests (local folders only).
        on_write: Called with each segment's path and Arrow table once it is written
            (from the writing thread); what it raises is logged, never the writer's
            failure.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        max_rows: int = 10_000,
        flush_seconds: float = 1.0,
        prefix: str = "segment",
        journal: bool = False,
        on_write: Callable[[str, pa.Table], None] | None = None,
    ):
        self.folder = LogFolder(folder)
        self.prefix = prefix
        self.max_rows = max_rows
        self.flush_seconds = flush_seconds
        self.on_write = on_write
        try:
            self.folder.mkdir()
        except OSError as exc:
            raise ServingError(
                f"The inference log folder {self.folder} cannot be created: {exc.strerror or exc}."
            ) from exc
        self.journal: Journal | None = None
        self.recovered: list[dict[str, Any]] = []
        if self.folder.local:  # refused now, not at the first flush
            try:
                probe = self.folder.path / f".probe-{uuid.uuid4().hex}"
                probe.write_bytes(b"")
                probe.unlink()
                if journal:
                    self.recovered = recover(self.folder)
                    self.journal = Journal(self.folder.path / ".journal")
            except OSError as exc:
                raise ServingError(
                    f"The inference log folder {self.folder} is not writable: "
                    f"{exc.strerror or exc}."
                ) from exc
        self._pending: list[Any] = []
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self.rows_written = 0
        self.rows_rejected = 0
        self.failed_writes = 0
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    def append(self, rows: pd.DataFrame | pa.Table | LoggedRequest | LoggedError) -> None:
        """Queue rows (a frame, an Arrow table of log rows such as :func:`requests_table`
        makes, one answered request or one refused) for the next segment."""
        if self._closed.is_set():
            raise ServingError("The inference log writer is closed; rows cannot be appended.")
        with self._lock:
            if self.journal is not None and isinstance(rows, LoggedRequest):
                try:
                    self.journal.note(rows.request_id, rows.rows, rows.timestamp_ns)
                except OSError as exc:  # a full disk: the rows still go to the log
                    self._journal_stopped(exc)
            self._pending.append(rows)
            self._pending_rows += _row_count(rows)
            full = self._pending_rows >= self.max_rows
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write pending rows now; returns how many were written.

        Rows the store cannot take (a disk full, an unreachable bucket) stay pending for
        the next try. Rows that cannot be stored at all (text that is not valid Unicode,
        say) are found by halving the batch and set aside under ``rejected/`` as JSON
        with the reason; the others are written.

        Raises:
            ServingError: The store failed; the rows not yet written stay pending.
        """
        with self._write_lock:
            self._prepare_journal()  # the file rotate takes is made here, not under the lock
            with self._lock:
                batch, self._pending, self._pending_rows = self._pending, [], 0
                if batch and self.journal is not None:
                    try:
                        self.journal.rotate()  # the file rotated out names this batch
                    except OSError as exc:
                        self._journal_stopped(exc)
            written = 0
            parts = [batch] if batch else []
            while parts:
                items = parts.pop()
                try:
                    table = _table(items)
                    path = self.folder.write(table, self.prefix)
                except OSError as exc:  # the store: all not yet written waits for the next try
                    unwritten = [item for part in (items, *reversed(parts)) for item in part]
                    with self._lock:
                        self._pending[:0] = unwritten
                        self._pending_rows += sum(map(_row_count, unwritten))
                    self.failed_writes += 1
                    self.rows_written += written
                    raise ServingError(
                        f"Writing an inference log segment to {self.folder} failed "
                        f"({type(exc).__name__}: {exc}); {self._pending_rows:,} rows stay "
                        f"pending."
                    ) from exc
                except Exception as exc:
                    if len(items) == 1:
                        self._reject(items[0], exc)
                    else:
                        half = len(items) // 2
                        parts += [items[half:], items[:half]]
                    continue
                written += table.num_rows
                self._written(path, table)
            self.rows_written += written
            if self.journal is not None:
                self.journal.settle()  # every row it named is stored or set aside
                self._prepare_journal()
            return written

    def _written(self, path: str, table: pa.Table) -> None:
        if self.on_write is not None:
            try:
                self.on_write(path, table)
            except Exception:
                _log.exception("on_write failed for the inference log segment %s", path)

    def _prepare_journal(self) -> None:
        if self.journal is not None:
            try:
                self.journal.prepare()
            except OSError as exc:  # a note then makes the file itself, or stops the journal
                _log.warning("the journal's next file could not be made: %s", exc)

    def _journal_stopped(self, exc: OSError) -> None:
        _log.error("the journal of acknowledged requests stopped: %s", exc)
        self.journal = None

    def _reject(self, item: Any, exc: Exception) -> None:
        import json

        record = (
            vars(item)
            if isinstance(item, LoggedRequest | LoggedError)
            else {"rows": item.to_pydict() if hasattr(item, "to_pydict") else item.to_dict("list")}
        )
        text = json.dumps(
            {"reason": f"{type(exc).__name__}: {exc}", **record}, default=_jsonable
        )  # ensure_ascii: lone surrogates are escaped, not lost
        place = self.folder.child("rejected")
        place.mkdir()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        target = f"{place.path}/rejected-{stamp}-{uuid.uuid4().hex[:8]}.json"
        if place.local:
            Path(target).write_text(text)
        else:
            with place.fs.open(target, "w") as handle:
                handle.write(text)
        self.rows_rejected += _row_count(item)
        _log.error("inference log rows set aside in %s: %s", target, exc)

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except ServingError:  # keep serving; the rows wait for the next try
                _log.exception("the inference log could not be written")

    def close(self) -> None:
        """Stop the background thread and write every pending row.

        Raises:
            ServingError: Pending rows could not be written (the message says how many).
        """
        if self._closed.is_set():
            return
        self._closed.set()
        self._wake.set()
        self._thread.join()
        self.flush()
        if self.journal is not None:
            self.journal.close()


ERROR_COLUMNS = ("request_id", "timestamp", "status", "error_code", "message", "model_version")


def read_errors(folder: str | Path) -> pd.DataFrame:
    """The requests the server refused (4xx) or failed (5xx), from ``<folder>/errors/``:
    ``request_id``, ``timestamp``, ``status``, ``error_code``, ``message``,
    ``model_version``; oldest first, empty when there were none."""
    import pandas as pd

    place = LogFolder(folder).child("errors")
    files = place.glob("errors-*.parquet") if place.exists() else []
    if not files:
        return pd.DataFrame(columns=list(ERROR_COLUMNS))
    frame = pd.concat([place.read(f) for f in files], ignore_index=True)
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def read_inference_log(folder: str | Path) -> pd.DataFrame:
    """Read every segment of an inference log (a folder or an fsspec URL) into one frame,
    oldest first.

    Raises:
        ServingError: The folder does not exist.
    """
    import pandas as pd

    place = LogFolder(folder)
    if not place.exists():
        raise ServingError(f"No inference log at {place}: the folder does not exist.")
    segments = place.glob("segment-*.parquet")
    if not segments:
        empty: pd.DataFrame = pd.DataFrame(columns=list(LOG_COLUMNS))
        return empty
    frame: pd.DataFrame = pd.concat([place.read(p) for p in segments], ignore_index=True)
    return frame.sort_values(["timestamp", "row_in_request"], kind="stable").reset_index(drop=True)
