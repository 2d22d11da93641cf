"""The shadow challenger: every answered request predicted again off the request path,
in a process of its own, and logged under the challenger's version, never returned.

What a request pays is one list append under a lock (:meth:`Shadow.offer`): no future,
no callback, no second parse (the champion's parsed columns are reused). A thread of
the server wakes every ``linger`` seconds, merges what was offered meanwhile into one
set of columns per input layout and hands it to the shadow's process, which loads the
challenger itself, predicts the whole batch in one model call and appends it to the
shadow log as one Arrow table. The process runs ``niceness`` steps below the server's
priority: the challenger never holds the server's interpreter (its lock, its memory
collector), and when the cores are busy the operating system runs the champion first,
so that a saturated server loses to its shadow only the little it takes to hand the
batches over. Requests offered while the shadow is too far behind (``max_rows`` offered
and not yet predicted) are not mirrored but counted (``skipped``), so that a slow or
starved challenger costs the champion neither time nor memory. A challenger that fails
is counted (``failures``) and said in the log, and a batch it fails on is retried
request by request; the champion never sees it. A shadow process that dies is started
again and what it held is counted failed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.serving._payload import Columns

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection

    from workbench.serving._batch import Loaded, Predicted
    from workbench.serving._log import InferenceLogWriter

__all__ = ["SHADOW_START_SECONDS", "Shadow"]

_log = logging.getLogger(__name__)

#: The most rows offered to the shadow and not yet predicted; a request beyond is skipped.
SHADOW_BACKLOG_ROWS = 100_000
#: Seconds the shadow collects requests before predicting them in one call: a model
#: call and a log table cost about 3 ms each time, whatever the rows (a one-row
#: HistGradientBoosting, a pandas frame), so many requests share them.
SHADOW_LINGER = 0.5
#: How many steps of priority (``nice``) the shadow's process runs below the server.
SHADOW_NICENESS = 10
#: Seconds a stopping server gives the shadow to predict what it holds (Kubernetes
#: kills a pod 30 s after asking it to stop; the champion's log is flushed first).
SHADOW_CLOSE_SECONDS = 20.0
#: Seconds a starting server waits for the shadow's process to load the challenger.
SHADOW_START_SECONDS = 120.0
#: Seconds between two starts of the shadow's process after it died.
_RESTART_SECONDS = 5.0


@dataclass
class _Mirrored:
    request_id: str
    data: Any  # the champion's parsed input: Columns, or what MLflow's parser returned
    inputs: dict[str, np.ndarray]  # what the champion logged (with the event time)
    rows: int
    timestamp_ns: int
    queued: float  # time.monotonic() when offered (one clock for both processes)


@dataclass
class _Group:
    """Consecutive requests of one input layout, merged for one model call: ``names``,
    the columns the model takes (None: ``data`` is one request as MLflow's parser
    returned it), ``inputs`` every logged column, each ``counts.sum()`` long."""

    names: tuple[str, ...] | None
    data: Any
    inputs: dict[str, np.ndarray]
    request_ids: list[str]
    counts: np.ndarray
    timestamps_ns: list[int]
    queued: list[float]


def _pack(batch: list[_Mirrored]) -> list[_Group]:
    """What the server sends the shadow's process: each layout's requests merged once,
    so that a batch crosses as a few arrays, not thousands of small ones."""
    groups: dict[tuple[str, ...], list[_Mirrored]] = {}
    for m in batch:  # requests parsed alike (a reload of the champion may change it)
        key = (*m.data.arrays, "", *m.inputs) if isinstance(m.data, Columns) else ("", m.request_id)
        groups.setdefault(key, []).append(m)
    packed = []
    for group in groups.values():
        first = group[0]
        columns = isinstance(first.data, Columns)
        inputs = (
            {n: np.concatenate([m.inputs[n] for m in group]) for n in first.inputs}
            if len(group) > 1
            else first.inputs
        )
        packed.append(
            _Group(
                names=tuple(first.data.arrays) if columns else None,
                data=None if columns else first.data,
                inputs=inputs,
                request_ids=[m.request_id for m in group],
                counts=np.fromiter((m.rows for m in group), np.int64, len(group)),
                timestamps_ns=[m.timestamp_ns for m in group],
                queued=[m.queued for m in group],
            )
        )
    return packed


class Shadow:
    """The challenger's process, the server's thread that feeds it, and the counters.

    Args:
        load: Loads a version of the model in the shadow's process (picklable: it is
            sent there).
        version: The challenger's version now (None: its alias is unset).
        folder: The shadow's inference log (``<log>/shadow/``).
        model_name: The registered model, for the log's ``model_name``.
        max_rows: Most rows offered and not yet predicted; beyond, requests are skipped.
        linger: Seconds between batches.
        flush_seconds: The shadow log's flush interval.
        niceness: How far below the server's priority the process runs.

    Attributes:
        mirrored: Requests predicted and logged.
        skipped: Requests not mirrored: the shadow too far behind (or stopping). While
            the alias is unset nothing is offered, and nothing counted.
        failures: Requests the challenger failed on (or its process died holding).
    """

    def __init__(
        self,
        load: Callable[[str], Loaded],
        version: str | None,
        folder: str,
        *,
        model_name: str,
        max_rows: int = SHADOW_BACKLOG_ROWS,
        linger: float = SHADOW_LINGER,
        flush_seconds: float = 1.0,
        niceness: int = SHADOW_NICENESS,
    ) -> None:
        self.load = load
        self.folder = folder
        self.model_name = model_name
        self.max_rows = max_rows
        self.linger = linger
        self.flush_seconds = flush_seconds
        self.niceness = niceness
        self.mirrored = 0
        self.skipped = 0
        self.failures = 0
        self._version = version
        self._pending: list[_Mirrored] = []
        self._rows = 0  # offered and not yet predicted (or failed)
        self._sent: dict[int, tuple[int, int]] = {}  # batch -> (requests, rows) in the process
        self._batches = 0
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()  # the process has loaded (or failed to load) it
        self._started = 0.0
        self.process: Any = None
        self._conn: Connection | None = None
        self._reader: threading.Thread | None = None
        self._start_process()
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    @property
    def version(self) -> str | None:
        """The challenger's version, None while its alias is unset (nothing mirrored)."""
        return self._version

    @property
    def queued_rows(self) -> int:
        return self._rows

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the process has loaded the challenger (or failed to): a server
        starts answering with a shadow that mirrors its first request. False after
        ``timeout`` seconds (the requests are queued for it meanwhile)."""
        return self._ready.wait(timeout)

    def follow(self, version: str | None) -> None:
        """The challenger's alias moved (or was removed: None): the process loads the
        new version before the next batch."""
        if version == self._version:
            return
        self._version = version
        if version is not None:
            self._send(("load", version))

    def offer(self, request_id: str, data: Any, inputs: dict[str, Any], rows: int) -> None:
        """Queue an answered request for the challenger; returns at once."""
        if self._version is None:  # its alias is unset: nothing to compare, nothing owed
            return
        with self._lock:
            if self._stop.is_set() or self._rows + rows > self.max_rows:
                self.skipped += 1
                return
            self._rows += rows
            self._pending.append(
                _Mirrored(request_id, data, inputs, rows, time.time_ns(), time.monotonic())
            )

    def close(self, timeout: float = SHADOW_CLOSE_SECONDS) -> None:
        """Predict and log what is queued, then stop the process and the thread; what
        the process has not done within ``timeout`` seconds (it may still be loading the
        challenger) is counted skipped and said in the log."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._thread.join()
        self._send(("close",))
        if self._reader is not None:
            self._reader.join(max(0.0, deadline - time.monotonic()))
        if self.process is not None:
            self.process.join(max(0.0, deadline - time.monotonic()))
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        if self._reader is not None:
            self._reader.join()
        with self._lock:  # what the process never answered for
            left = sum(requests for requests, _ in self._sent.values())
            self.skipped += left
            for _, rows in self._sent.values():
                self._rows -= rows
            self._sent.clear()
        if left:
            _log.warning(
                "the shadow had not predicted %d request(s) %.0f s after the server began "
                "to stop: not mirrored (counted skipped)",
                left,
                timeout,
            )

    def _start_process(self) -> None:
        context = multiprocessing.get_context("spawn")  # the server has threads: no fork
        ours, theirs = context.Pipe()
        self._started = time.monotonic()
        self.process = context.Process(
            target=_serve,
            args=(
                theirs,
                self.load,
                self._version,
                self.folder,
                self.model_name,
                self.flush_seconds,
                self.niceness,
                logging.getLogger().level,
            ),
            name="workbench-shadow",
            daemon=True,
        )
        self.process.start()
        theirs.close()
        self._conn = ours
        self._reader = threading.Thread(
            target=self._read, args=(ours,), name="shadow-answers", daemon=True
        )
        self._reader.start()

    def _send(self, message: tuple[Any, ...]) -> bool:
        with self._send_lock:
            if self._conn is None:
                return False
            try:
                self._conn.send(message)
            except (OSError, ValueError):  # the process died: the reader says so
                return False
            return True

    def _read(self, conn: Connection) -> None:
        """The process's answers: each batch done, until it ends."""
        while True:
            try:
                answer = conn.recv()
            except (EOFError, OSError):
                break
            if answer[0] == "ready":
                self._ready.set()
            elif answer[0] == "done":
                _, batch, mirrored, failures = answer
                with self._lock:
                    _, rows = self._sent.pop(batch, (0, 0))
                    self._rows -= rows
                    self.mirrored += mirrored
                    self.failures += failures
        with self._send_lock:
            if self._conn is conn:
                self._conn = None
        conn.close()
        self._ready.set()  # nothing to wait for any more
        if self._stop.is_set():  # stopping: close() counts what was left
            return
        code = self.process.exitcode if self.process is not None else None
        _log.error(
            "the shadow's process ended (exit code %s); the champion unaffected; starting it again",
            code,
        )
        with self._lock:
            self._lost()

    def _lost(self) -> None:
        """What the process held when it ended, counted failed (the lock held)."""
        for requests, rows in self._sent.values():
            self.failures += requests
            self._rows -= rows
        self._sent.clear()

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.linger)
            if not stopping and self._conn is None:
                if time.monotonic() - self._started >= _RESTART_SECONDS:
                    self._start_process()
                continue
            with self._lock:
                batch, self._pending = self._pending, []
                if batch:
                    self._batches += 1
                    number = self._batches
                    self._sent[number] = (len(batch), sum(m.rows for m in batch))
            if batch:
                try:
                    groups = _pack(batch)
                except Exception:  # a bug of ours: the shadow goes on with the next batch
                    _log.exception("the shadow failed on a batch of %d requests", len(batch))
                    groups = None
                if groups is None or not self._send(("batch", number, groups)):
                    with self._lock:
                        requests, rows = self._sent.pop(number, (0, 0))
                        self.failures += requests
                        self._rows -= rows
            if stopping:
                with self._lock:
                    if not self._pending:
                        return


def _serve(
    conn: Connection,
    load: Callable[[str], Loaded],
    version: str | None,
    folder: str,
    model_name: str,
    flush_seconds: float,
    niceness: int,
    level: int,
) -> None:
    """The shadow's process: load the challenger, predict and log each batch it is sent,
    answer how it went, until told to close (or the server is gone)."""
    from workbench.serving._log import InferenceLogWriter

    os.nice(niceness)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = _Worker(load, model_name, InferenceLogWriter(folder, flush_seconds=flush_seconds))
    worker.switch(version)
    conn.send(("ready",))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "load":
                worker.switch(message[1])
            elif message[0] == "batch":
                _, number, groups = message
                counts = worker.predict(groups)
                conn.send(("done", number, *counts))
            else:
                break
    finally:
        worker.writer.close()
        conn.close()


class _Worker:
    """What the shadow's process does with a batch: one model call per group, each
    request alone if the merged call fails, one log table per call."""

    def __init__(self, load: Callable[[str], Loaded], model_name: str, writer: InferenceLogWriter):
        self.load, self.model_name, self.writer = load, model_name, writer
        self.loaded: Loaded | None = None
        self.failures = 0

    def switch(self, version: str | None) -> None:
        if version is None or (self.loaded is not None and self.loaded.version == version):
            return
        try:
            self.loaded = self.load(version)
        except Exception as exc:
            self.loaded = None
            _log.error(
                "the shadow could not load version %s, the champion unaffected: %s: %s",
                version,
                type(exc).__name__,
                exc,
            )

    def predict(self, groups: list[_Group]) -> tuple[int, int]:
        """Predict and log a batch; how many requests were mirrored, and failed."""
        loaded = self.loaded
        requests = sum(len(g.request_ids) for g in groups)
        if loaded is None:  # its version could not be loaded
            self.failures += requests
            return 0, requests
        mirrored = failed = 0
        for group in groups:
            try:
                self._logged(loaded, group, loaded.predict_scored(_data(group)))
                mirrored += len(group.request_ids)
                continue
            except Exception as exc:
                if len(group.request_ids) == 1:
                    self._failed(loaded, exc)
                    failed += 1
                    continue
            for one in _each(group):  # one request the challenger cannot take: each alone
                try:
                    self._logged(loaded, one, loaded.predict_scored(_data(one)))
                    mirrored += 1
                except Exception as exc:
                    self._failed(loaded, exc)
                    failed += 1
        return mirrored, failed

    def _failed(self, loaded: Loaded, exc: Exception) -> None:
        self.failures += 1
        if self.failures in (1, 10, 100, 1000) or self.failures % 10_000 == 0:
            _log.warning(
                "the shadow (version %s) failed %d time(s), the champion unaffected: %s: %s",
                loaded.version,
                self.failures,
                type(exc).__name__,
                exc,
            )

    def _logged(self, loaded: Loaded, group: _Group, answer: Predicted) -> None:
        from workbench.serving._log import requests_table

        now = time.monotonic()
        self.writer.append(
            requests_table(
                request_ids=group.request_ids,
                counts=group.counts,
                timestamps_ns=group.timestamps_ns,
                model_name=self.model_name,
                model_version=loaded.version,
                latency_ms=[(now - q) * 1000.0 for q in group.queued],
                inputs=group.inputs,
                predictions=[answer.predictions],
                personal=loaded.personal,
                scores=answer.scores,
                classes=loaded.classes,
            )
        )


def _data(group: _Group) -> Any:
    if group.names is None:
        return group.data
    return Columns({n: group.inputs[n] for n in group.names}, int(group.counts.sum()))


def _each(group: _Group) -> list[_Group]:
    """A merged group cut back into its requests."""
    ends = np.cumsum(group.counts)
    starts = ends - group.counts
    return [
        _Group(
            group.names,
            group.data,
            {n: a[s:e] for n, a in group.inputs.items()},
            [group.request_ids[i]],
            group.counts[i : i + 1],
            [group.timestamps_ns[i]],
            [group.queued[i]],
        )
        for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True))
    ]
