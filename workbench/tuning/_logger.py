"""The MLflow runs of a study's trials, logged by a process of their own.

Logging one trial's run (a run created, its parameters and metrics, its end: three store
calls through SQLAlchemy) costs the driver about as much CPU as everything else it does
for the trial. In a thread of the driver it holds the interpreter lock that the driver's
bookkeeping and its Dask client need to keep the workers fed, so every trial waits for
it. A child process logs them instead: started (spawned) at the first study of this
process and kept for the next ones, so MLflow is imported there once; it ignores Ctrl-C,
so an interrupt of the driver never cuts a run off (the driver logs the trials it fails,
then waits for the child). The driver's MLflow environment (``MLFLOW_*``) goes with each
call, so the child logs as the driver would.

Where the child cannot start or dies (a script without a ``__main__`` guard, a sandbox
that forbids processes), the runs it did not log are logged by a thread of the driver:
slower, never lost.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import logging
import os
import signal
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from workbench.tuning._runs import log_trial

__all__ = ["TrialLogger"]

_log = logging.getLogger(__name__)
_POOL: concurrent.futures.ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
#: Steps of ``nice`` the logging child runs below the driver.
NICENESS = 10


def _ignore_interrupts() -> None:
    """The child's initializer: Ctrl-C in a terminal reaches the whole process group; and
    the runs are bookkeeping, so where cores are short the trials' processes go first."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(NICENESS)


def _pool() -> concurrent.futures.ProcessPoolExecutor | None:
    """This process's logging child (started on first use), ``None`` where none starts."""
    global _POOL
    import multiprocessing

    with _POOL_LOCK:
        if _POOL is None:
            try:
                _POOL = concurrent.futures.ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_ignore_interrupts,
                )
            except (OSError, ValueError, NotImplementedError) as exc:
                _log.warning("MLflow runs are logged by a thread: no process starts (%s)", exc)
                return None
        return _POOL


def _forget_pool(broken: concurrent.futures.ProcessPoolExecutor) -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is broken:
            _POOL = None
    broken.shutdown(wait=False, cancel_futures=True)


def _client(uri: str) -> Any:
    """The child's MLflow client of ``uri``, its SQLite file (if one) with cheap commits
    as the driver opens it, and a new client when that file is a new one (the project's
    store was deleted: a client kept would write into the deleted file)."""
    identity = None
    if uri.startswith("sqlite:///"):
        with contextlib.suppress(OSError):
            st = Path(uri.removeprefix("sqlite:///").split("?", 1)[0]).stat()
            identity = (st.st_dev, st.st_ino)
    return _client_of(uri, identity)


@functools.lru_cache(maxsize=4)
def _client_of(uri: str, identity: tuple[int, int] | None) -> Any:
    import mlflow

    from workbench._sqlite import fast_sqlite

    fast_sqlite(uri)
    return mlflow.MlflowClient(tracking_uri=uri)


def log_in_child(uri: str, env: dict[str, str], *args: Any) -> str:
    """:func:`~workbench.tuning._runs.log_trial` in the logging child, with the driver's
    MLflow environment."""
    for name in [k for k in os.environ if k.startswith("MLFLOW_") and k not in env]:
        del os.environ[name]
    os.environ.update(env)
    return log_trial(_client(uri), *args)


class TrialLogger:
    """Logs the runs of one study's trials (see the module's docstring).

    Args:
        tracker: The driver's ``MlflowClient`` (for the thread fallback).
        uri: Its tracking URI (for the child).
        in_process: Log in a thread of this process instead (no child).
    """

    def __init__(self, tracker: Any, uri: str, *, in_process: bool = False) -> None:
        self._tracker, self._uri = tracker, uri
        self._env = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mlflow-trials")
        self._child = None if in_process else _pool()
        self._sent: list[tuple[Future[str], tuple[Any, ...]]] = []

    def submit(self, *args: Any) -> Future[str]:
        """Log one trial: ``args`` are :func:`log_trial`'s after its client."""
        if self._child is not None:
            try:
                future = self._child.submit(log_in_child, self._uri, self._env, *args)
            except (RuntimeError, concurrent.futures.BrokenExecutor):  # died, or shut down
                self._lost(self._child)
            else:
                self._sent.append((future, args))
                return future
        future = self._thread.submit(log_trial, self._tracker, *args)
        self._sent.append((future, args))
        return future

    def _lost(self, child: concurrent.futures.ProcessPoolExecutor) -> None:
        _log.warning("The MLflow logging process stopped; the driver logs the trials' runs.")
        _forget_pool(child)
        self._child = None

    def close(self) -> tuple[int, list[BaseException]]:
        """Wait until every run is logged (a run the child could not log because it died
        is logged here); return how many were sent, and the errors of those that failed."""
        errors: list[BaseException] = []
        for future, args in self._sent:
            try:
                future.result()
            except (concurrent.futures.BrokenExecutor, concurrent.futures.CancelledError):
                if self._child is not None:
                    self._lost(self._child)
                try:
                    log_trial(self._tracker, *args)
                except Exception as exc:
                    errors.append(exc)
            except Exception as exc:
                errors.append(exc)
        self._thread.shutdown(wait=True)
        return len(self._sent), errors
