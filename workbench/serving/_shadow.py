"""The shadow challenger: every answered request predicted again off the request path,
and logged under the challenger's version, never returned.

What a request pays is one list append under a lock (:meth:`Shadow.offer`): no future,
no callback, no second parse (the champion's parsed columns are reused). A thread of
its own wakes every ``linger`` seconds, merges what was offered meanwhile into one model
call, and appends the whole batch to the shadow log as one Arrow table, so that the
shadow's cost per request is a small share of the champion's even when the server is
saturated. It shares the interpreter with the champion, so it is kept from taking more
than ``cpu_share`` of it: after a batch that used ``t`` seconds of CPU it rests
``t * (1 / cpu_share - 1)``; requests offered while it is too far behind
(``max_rows`` queued) are not mirrored but counted (``skipped``), so that a slow or
overloaded challenger costs the champion neither time nor memory. A challenger that
fails is counted (``failures``) and said in the log; the champion never sees it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.serving._log import requests_table
from workbench.serving._payload import Columns

if TYPE_CHECKING:
    from workbench.serving._batch import Loaded, Predicted
    from workbench.serving._log import InferenceLogWriter

__all__ = ["Shadow"]

_log = logging.getLogger(__name__)

#: The most rows queued for the shadow at once; a request beyond is not mirrored.
SHADOW_BACKLOG_ROWS = 100_000
#: Seconds the shadow collects requests before predicting them in one call: a model
#: call and a log table cost about 3 ms each time, whatever the rows (a one-row
#: HistGradientBoosting, a pandas frame), so many requests share them.
SHADOW_LINGER = 0.5
#: The largest share of the interpreter's time the shadow's thread may take.
SHADOW_CPU_SHARE = 0.1


@dataclass
class _Mirrored:
    request_id: str
    data: Any  # the champion's parsed input: Columns, or what MLflow's parser returned
    inputs: dict[str, np.ndarray]  # what the champion logged (with the event time)
    rows: int
    timestamp_ns: int
    queued: float  # perf_counter when offered


class Shadow:
    """The challenger's thread and its counters.

    Args:
        loaded: The challenger's version (``loaded`` is swapped whole when its alias
            moves; a batch reads it once).
        writer: The shadow's inference log (``<log>/shadow/``).
        model_name: The registered model, for the log's ``model_name``.
        max_rows: Most rows queued; beyond, requests are skipped.
        linger: Seconds between batches.
        cpu_share: Largest share of the interpreter's time the thread takes.

    Attributes:
        mirrored: Requests predicted and logged.
        skipped: Requests not mirrored: the shadow too far behind (or stopping). While
            the alias is unset nothing is offered, and nothing counted.
        failures: Requests the challenger failed on.
    """

    def __init__(
        self,
        loaded: Loaded,
        writer: InferenceLogWriter,
        *,
        model_name: str,
        max_rows: int = SHADOW_BACKLOG_ROWS,
        linger: float = SHADOW_LINGER,
        cpu_share: float = SHADOW_CPU_SHARE,
    ) -> None:
        self.loaded: Loaded | None = loaded
        self.writer = writer
        self.model_name = model_name
        self.max_rows = max_rows
        self.linger = linger
        self.cpu_share = cpu_share
        self.mirrored = 0
        self.skipped = 0
        self.failures = 0
        self._pending: list[_Mirrored] = []
        self._rows = 0  # offered and not yet predicted
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    @property
    def version(self) -> str | None:
        """The challenger's version, None while its alias is unset (nothing mirrored)."""
        loaded = self.loaded
        return loaded.version if loaded is not None else None

    @property
    def queued_rows(self) -> int:
        return self._rows

    def offer(self, request_id: str, data: Any, inputs: dict[str, Any], rows: int) -> None:
        """Queue an answered request for the challenger; returns at once."""
        if self.loaded is None:  # its alias is unset: nothing to compare, nothing owed
            return
        with self._lock:
            if self._stop.is_set() or self._rows + rows > self.max_rows:
                self.skipped += 1
                return
            self._rows += rows
            self._pending.append(
                _Mirrored(request_id, data, inputs, rows, time.time_ns(), time.perf_counter())
            )

    def close(self) -> None:
        """Predict and log what is queued, then stop the thread (the writer is the
        caller's to close)."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.linger)
            with self._lock:
                batch, self._pending = self._pending, []
            if batch:
                began = time.thread_time()
                try:
                    self._predict(batch)
                except Exception:  # a bug of ours: the shadow goes on with the next batch
                    _log.exception("the shadow failed on a batch of %d requests", len(batch))
                    self.failures += len(batch)
                finally:
                    with self._lock:
                        self._rows -= sum(m.rows for m in batch)
                busy = time.thread_time() - began
                if not stopping and busy > 0:  # never more than cpu_share of the interpreter
                    self._stop.wait(busy * (1.0 / self.cpu_share - 1.0))
            if stopping:
                with self._lock:
                    if not self._pending:
                        return

    def _predict(self, batch: list[_Mirrored]) -> None:
        loaded = self.loaded
        if loaded is None:  # the alias was removed meanwhile
            self.skipped += len(batch)
            return
        groups: dict[tuple[str, ...], list[_Mirrored]] = {}
        for m in batch:  # requests parsed alike (a reload of the champion may change it)
            key = (
                (*m.data.arrays, "", *m.inputs)
                if isinstance(m.data, Columns)
                else ("", "", m.request_id)
            )
            groups.setdefault(key, []).append(m)
        for group in groups.values():
            if len(group) > 1:
                # the inputs merged once, for the model and the log alike
                inputs = {n: np.concatenate([m.inputs[n] for m in group]) for n in group[0].inputs}
                merged = Columns(
                    {n: inputs[n] for n in group[0].data.arrays}, sum(m.rows for m in group)
                )
                try:
                    answer = loaded.predict_scored(merged)
                except Exception:
                    pass  # one request the challenger cannot take: each alone, below
                else:
                    self._logged(loaded, group, inputs, answer)
                    continue
            for m in group:
                try:
                    answer = loaded.predict_scored(m.data)
                except Exception as exc:
                    self._failed(loaded, exc)
                else:
                    self._logged(loaded, [m], m.inputs, answer)

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

    def _logged(
        self,
        loaded: Loaded,
        group: list[_Mirrored],
        inputs: dict[str, np.ndarray],
        answer: Predicted,
    ) -> None:
        now = time.perf_counter()
        self.writer.append(
            requests_table(
                request_ids=[m.request_id for m in group],
                counts=np.fromiter((m.rows for m in group), np.int64, len(group)),
                timestamps_ns=[m.timestamp_ns for m in group],
                model_name=self.model_name,
                model_version=loaded.version,
                latency_ms=[(now - m.queued) * 1000.0 for m in group],
                inputs=inputs,
                predictions=[answer.predictions],
                personal=loaded.personal,
                scores=answer.scores,
                classes=loaded.classes,
            )
        )
        self.mirrored += len(group)
